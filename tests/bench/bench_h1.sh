#!/usr/bin/env bash
# bench_h1.sh - kneecap's HTTP/1.1 clients (native, the default, and
# --client curl) side by side with wrk (closed loop) and h2load --h1 --rps
# (open loop) against one nginx worker on loopback (run by hand, never in CI).
#
#   tests/bench/bench_h1.sh [KNEECAP]     (default: builds build-bench, release)
#
# 1. Closed loop, BENCH_CONNS connections, one client thread: wrk -t1 and
#    kneecap --concurrency C --threads 1, each pinned to BENCH_CLIENT_CPU
#    (nginx on BENCH_SERVER_CPU), alternating rounds: requests/s, and CPU
#    (user+sys) per request of each client.
# 2. Open loop at BENCH_RATE (default 20000): kneecap (both clients) and
#    h2load --h1 --rps, and wrk2 -R when WRK2 names its binary (wrk2 is not
#    packaged: build it from its public source in /tmp); the native client
#    at its default (automatic) release slack and with --release-slack 0s:
#    CPU per request of a BENCH_SECS run minus a 1 s run, so start-up cancels.
# 3. TLS POST of one 200 KB JPEG (kneecap payload --size-kb 200) at 500 and
#    2,000 RPS (BENCH_TLS_RATES), HTTP/1.1 over TLS, BENCH_TLS_CONNS (8)
#    connections: CPU per request of kneecap (both clients) and h2load --h1
#    -d FILE --rps, and wrk2 -R with the JPEG as a Lua script's wrk.body.
# 4. With BENCH_CALLGRIND=1: instructions per request of each kneecap
#    client under callgrind (closed loop, a 3 s run minus a 1 s run), the
#    figure a shared, noisy machine cannot blur.
# Parts 2 and 3 alternate the tools within each of BENCH_ROUNDS rounds and
# print each figure's median and range; BENCH_PARTS picks parts ("2 3").
# Env: BENCH_CONNS (16), BENCH_SECS (5), BENCH_ROUNDS (3), BENCH_RATE (20000),
# BENCH_CLIENT_CPU (0), BENCH_SERVER_CPU (1), BENCH_CALLGRIND (0), WRK2 (unset).
. "$(dirname "$0")/lib.sh" "${1:-}"
C=${BENCH_CONNS:-16}
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-20000}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk not installed (scripts/setup)"; exit 1; }
command -v h2load >/dev/null || { echo "h2load not installed (nghttp2-client)"; exit 1; }

TMP=$(mktemp -d)
ngpid=
trap '[ -n "$ngpid" ] && kill $ngpid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$(free_port)
tport=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || exit 1
"$KNEECAP" payload --count 1 --size-kb 200 --out "$TMP/jpeg" >/dev/null || exit 1
JPEG=$(ls "$TMP"/jpeg/*.jpg | head -1)
start_nginx "$SCPU" "$port" "  client_max_body_size 10m;
  server { listen 127.0.0.1:$tport ssl; ssl_certificate $TMP/cert.pem;
           ssl_certificate_key $TMP/key.pem; location / { return 200 \"ok\"; } }"
URL="http://127.0.0.1:$port/"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); client cpu $CCPU, nginx cpu $SCPU"
echo "# $("$KNEECAP" --version), $(wrk --version 2>&1 | head -1 | cut -c1-24), $(h2load --version | head -1)"

# cpu_of FILE: user+sys seconds written by /usr/bin/time -f "%U %S"
cpu_of() { awk '{s=$1+$2} END {print s}' "$1"; }
# kc CLIENT SECS ARGS...: one pinned kneecap run; prints "completed cpu_s"
kc() {
	local client=$1 secs=$2; shift 2
	/usr/bin/time -f "%U %S" -o "$TMP/t" taskset -c "$CCPU" "$KNEECAP" run "$URL" --client "$client" \
		--threads 1 --connections "$C" --duration "${secs}s" --max-error-rate 1 --json --quiet "$@" >"$TMP/k.json" || return 1
	echo "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["completed"])' "$TMP/k.json") $(cpu_of "$TMP/t")"
}

# part N: whether BENCH_PARTS (default "1 2 3 4") names part N
part() { case " ${BENCH_PARTS:-1 2 3 4} " in *" $1 "*) return 0 ;; esac; return 1; }

part 1 && echo "== closed loop, $C connections, 1 thread, ${SECS}s, $ROUNDS rounds: requests/s and CPU us/request"
part 1 && for r in $(seq "$ROUNDS"); do
	/usr/bin/time -f "%U %S" -o "$TMP/tw" taskset -c "$CCPU" wrk -t1 -c"$C" -d"${SECS}s" "$URL" >"$TMP/w"
	wn=$(awk '/requests in/ {print $1}' "$TMP/w")
	read -r nn nc < <(kc native "$SECS" --concurrency "$C")
	read -r cn cc < <(kc curl "$SECS" --concurrency "$C")
	$PY - "$r" "$SECS" "$wn" "$(cpu_of "$TMP/tw")" "$nn" "$nc" "$cn" "$cc" <<'EOF'
import sys
r, secs, wn, wc, nn, nc, cn, cc = sys.argv[1], float(sys.argv[2]), *map(float, sys.argv[3:])
print("round %s: wrk %8.0f/s %5.1f us   native %8.0f/s %5.1f us   curl %8.0f/s %5.1f us   "
      "native/wrk %.2f (req/s) %.2f (CPU per request, wrk/native)"
      % (r, wn / secs, wc * 1e6 / wn, nn / secs, nc * 1e6 / nn, cn / secs, cc * 1e6 / cn,
         nn / wn, (wc / wn) / (nc / nn)))
EOF
done

# note LABEL VALUE: one round's figure, summarised (median, min-max) by summary
note() { echo "$1|$2" >>"$TMP/res"; }
summary() {
	$PY - "$TMP/res" <<'P'
import statistics, sys
vals = {}
for line in open(sys.argv[1]):
    k, v = line.rstrip("\n").split("|")
    vals.setdefault(k, []).append(float(v))
for k, v in vals.items():
    print("  %-58s median %7.2f  (min %.2f, max %.2f, n %d)" % (k, statistics.median(v), min(v), max(v), len(v)))
P
	rm -f "$TMP/res"
}
# wrk2_cpu LABEL RATE URL [ARGS]: CPU us/request of a SECS run minus a 1 s run
wrk2_cpu() {
	local label=$1 rate=$2 url=$3; shift 3
	for d in 1 "$SECS"; do
		/usr/bin/time -f "%U %S" -o "$TMP/tw2.$d" taskset -c "$CCPU" "$WRK2" -t1 -c"$C" \
			-d"${d}s" -R"$rate" "$@" "$url" >"$TMP/w2.$d" 2>&1
	done
	local w1n w5n
	w1n=$(awk '/requests in/ {print $1}' "$TMP/w2.1"); w5n=$(awk '/requests in/ {print $1}' "$TMP/w2.$SECS")
	note "$label" "$($PY -c "print(($(cpu_of "$TMP/tw2.$SECS")-$(cpu_of "$TMP/tw2.1"))*1e6/max($w5n-$w1n,1))")"
	note "$label: requests in ${SECS}s" "$w5n"
}
have_wrk2() { [ -n "${WRK2:-}" ] && [ -x "$WRK2" ]; }

part 2 && echo "== open loop at $RATE rps, $C connections, 1 thread: CPU us/request (${SECS}s run minus a 1s run), $ROUNDS alternating rounds"
# kneecap's default release slack at this rate is automatic (1 ms from
# 10,000/s per worker: arrivals leave in batches once the oldest has waited
# 1 ms); the --release-slack 0s variant releases each arrival at its time
part 2 && for r in $(seq "$ROUNDS"); do
	for variant in "native --release-slack 0s" native curl; do
		read -r client extra <<<"$variant"
		read -r n1 c1 < <(kc "$client" 1 --rate "$RATE" $extra)
		read -r n5 c5 < <(kc "$client" "$SECS" --rate "$RATE" $extra)
		note "kneecap $variant" "$($PY -c "print(($c5-$c1)*1e6/max($n5-$n1,1))")"
		note "kneecap $variant: send lag p99 ms" "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["lag_ms"]["p99"])' "$TMP/k.json")"
	done
	per=$((RATE / C))
	for d in 1 "$SECS"; do
		/usr/bin/time -f "%U %S" -o "$TMP/th.$d" taskset -c "$CCPU" h2load --h1 -t1 -c"$C" --rps "$per" \
			-D "$d" "$URL" >"$TMP/h.$d" 2>&1
	done
	h1n=$(awk '/^requests:/ {print $8}' "$TMP/h.1"); h5n=$(awk '/^requests:/ {print $8}' "$TMP/h.$SECS")
	note "h2load --h1 --rps $per x $C" "$($PY -c "print(($(cpu_of "$TMP/th.$SECS")-$(cpu_of "$TMP/th.1"))*1e6/max($h5n-$h1n,1))")"
	have_wrk2 && wrk2_cpu "wrk2 -R $RATE -c $C" "$RATE" "$URL"
	echo "  (round $r done, load $(cut -d' ' -f1 /proc/loadavg))"
done
part 2 && summary

TC=${BENCH_TLS_CONNS:-8}
TURL="https://127.0.0.1:$tport/"
# wrk2 posts the JPEG from a Lua script (wrk.body)
cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/jpeg"
local f = assert(io.open(os.getenv("KC_JPEG"), "rb"))
wrk.body = f:read("*a")
f:close()
LUA
part 3 && for trate in ${BENCH_TLS_RATES:-500 2000}; do
	echo "== TLS POST of a $(($(stat -c %s "$JPEG") / 1024)) KB JPEG at $trate rps, $TC connections: CPU us/request (${SECS}s minus 1s), $ROUNDS alternating rounds"
	for r in $(seq "$ROUNDS"); do
		for client in native curl; do
			for d in 1 "$SECS"; do
				/usr/bin/time -f "%U %S" -o "$TMP/tt.$d" taskset -c "$CCPU" "$KNEECAP" run "$TURL" \
					--client "$client" --cacert "$TMP/cert.pem" --body "$JPEG" --rate "$trate" \
					--threads 1 --connections "$TC" --duration "${d}s" --json --quiet >"$TMP/tk.$d.json"
			done
			note "kneecap $client" "$($PY - "$TMP" "$SECS" <<'P'
import json, sys
d, secs = sys.argv[1:]
def get(x):
    s = json.load(open("%s/tk.%s.json" % (d, x)))["steps"][0]
    u, sy = map(float, open("%s/tt.%s" % (d, x)).read().split()[-2:])
    return s, u + sy
s1, c1 = get("1")
s5, c5 = get(secs)
print((c5 - c1) * 1e6 / max(s5["completed"] - s1["completed"], 1))
P
)"
			note "kneecap $client: errors" "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["errors"])' "$TMP/tk.$SECS.json")"
		done
		per=$(( (trate + TC - 1) / TC ))
		for d in 1 "$SECS"; do
			/usr/bin/time -f "%U %S" -o "$TMP/tht.$d" taskset -c "$CCPU" h2load --h1 -t1 -c"$TC" \
				--rps "$per" -D "$d" -d "$JPEG" "$TURL" >"$TMP/ht.$d" 2>&1
		done
		h1n=$(awk '/^requests:/ {print $8}' "$TMP/ht.1"); h5n=$(awk '/^requests:/ {print $8}' "$TMP/ht.$SECS")
		note "h2load --h1 --rps $per x $TC" "$($PY -c "print(($(cpu_of "$TMP/tht.$SECS")-$(cpu_of "$TMP/tht.1"))*1e6/max($h5n-$h1n,1))")"
		have_wrk2 && C=$TC KC_JPEG=$JPEG wrk2_cpu "wrk2 -R $trate -c $TC -s post.lua" "$trate" "$TURL" -s "$TMP/post.lua"
		echo "  (round $r done, load $(cut -d' ' -f1 /proc/loadavg))"
	done
	summary
done

if part 4 && [ "${BENCH_CALLGRIND:-0}" = 1 ] && command -v valgrind >/dev/null; then
	echo "== callgrind, closed loop, $C connections: instructions per request (3 s run minus 1 s run)"
	for client in native curl; do
		for d in 1 3; do
			valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$client.$d" "$KNEECAP" run "$URL" \
				--client "$client" --threads 1 --connections "$C" --concurrency "$C" \
				--duration "${d}s" --json --quiet >"$TMP/cg.$client.$d.json" 2>/dev/null
		done
		$PY - "$TMP" "$client" <<'EOF'
import json, re, sys
d, client = sys.argv[1], sys.argv[2]
def get(x):
    n = json.load(open("%s/cg.%s.%s.json" % (d, client, x)))["steps"][0]["completed"]
    ir = 0
    for line in open("%s/cg.%s.%s" % (d, client, x)):
        m = re.match(r"^(summary|totals): (\d+)", line)
        if m:
            ir = int(m.group(2))
    return n, ir
n1, i1 = get(1)
n3, i3 = get(3)
print("kneecap %-6s %7.0f instructions/request (user space; %d and %d requests)"
      % (client, (i3 - i1) / max(n3 - n1, 1), n1, n3))
EOF
	done
fi
