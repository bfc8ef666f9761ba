#!/usr/bin/env bash
# bench_h2c.sh - kneecap's h2c unary path (src/engine/h2unary.c, nghttp2)
# side by side with h2load against one nghttpd --no-tls on loopback (run by
# hand, never in CI).
#
#   tests/bench/bench_h2c.sh [KNEECAP]     (default: builds build-bench, release)
#
# Closed loop with equal shape: h2load -t1 -cC -mM and kneecap --http h2c
# --concurrency C*M --threads 1 --connections C --streams M, each pinned with
# taskset to the same core (nghttpd, one thread, on another), several
# alternating rounds; prints requests/s of each, the ratio kneecap/h2load, and
# each client's CPU time (user+sys) per request in microseconds (when nghttpd
# is the bottleneck the rates match and the CPU cost tells the clients apart).
# Env: BENCH_CONNS (default 4), BENCH_STREAMS (8), BENCH_SECS (5),
# BENCH_ROUNDS (3), BENCH_CLIENT_CPU (0), BENCH_SERVER_CPU (1).
. "$(dirname "$0")/lib.sh" "${1:-}"
C=${BENCH_CONNS:-4}
M=${BENCH_STREAMS:-8}
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3
command -v h2load >/dev/null || { echo "h2load not installed (scripts/setup: nghttp2-client)"; exit 1; }
command -v nghttpd >/dev/null || { echo "nghttpd not installed (scripts/setup: nghttp2-server)"; exit 1; }

TMP=$(mktemp -d)
ngpid=
trap '[ -n "$ngpid" ] && kill $ngpid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/docs"
printf 'ok' >"$TMP/docs/index.html"
taskset -c "$SCPU" nghttpd --no-tls -a 127.0.0.1 -d "$TMP/docs" "$port" >/dev/null 2>&1 &
ngpid=$!
sleep 0.5
URL="http://127.0.0.1:$port/index.html"
N=$((C * M))
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); client cpu $CCPU, nghttpd cpu $SCPU"
echo "# $("$KNEECAP" --version), $(h2load --version 2>&1 | head -1)"

echo "== closed loop h2c, $C connections x $M streams ($N outstanding), ${SECS}s, $ROUNDS rounds (requests/s)"
sum_k=0 sum_h=0 sum_kc=0 sum_hc=0
cpu_us() { # TIMEFILE REQUESTS: user+sys microseconds per request
	$PY -c "import sys; u,s=map(float,open(sys.argv[1]).read().split()[-2:]); print((u+s)*1e6/max(float(sys.argv[2]),1))" "$1" "$2"
}
for r in $(seq "$ROUNDS"); do
	/usr/bin/time -f "%U %S" -o "$TMP/th" taskset -c "$CCPU" h2load -t1 -c"$C" -m"$M" -D"$SECS" \
		"$URL" >"$TMP/h2load.out" 2>/dev/null
	h=$(awk '/^finished in/ {print $4}' "$TMP/h2load.out")
	hn=$(awk '/^requests:/ {print $8}' "$TMP/h2load.out")
	/usr/bin/time -f "%U %S" -o "$TMP/tk" taskset -c "$CCPU" "$KNEECAP" run "$URL" --http h2c \
		--concurrency "$N" --threads 1 --connections "$C" --streams "$M" --duration "${SECS}s" \
		--json --quiet >"$TMP/k.json"
	read -r k kn < <($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["achieved"] if s["errors"] == 0 else 0, s["completed"])' "$TMP/k.json")
	hc=$(cpu_us "$TMP/th" "$hn"); kc=$(cpu_us "$TMP/tk" "$kn")
	printf "round %d: h2load %8.0f/s %5.1f us cpu/req   kneecap %8.0f/s %5.1f us cpu/req   ratio %.3f\n" \
		"$r" "$h" "$hc" "$k" "$kc" "$($PY -c "print($k/$h)")"
	sum_k=$($PY -c "print($sum_k+$k)"); sum_h=$($PY -c "print($sum_h+$h)")
	sum_kc=$($PY -c "print($sum_kc+$kc)"); sum_hc=$($PY -c "print($sum_hc+$hc)")
done
printf "mean:    h2load %8.0f/s %5.1f us cpu/req   kneecap %8.0f/s %5.1f us cpu/req   ratio kneecap/h2load %.3f\n" \
	"$($PY -c "print($sum_h/$ROUNDS)")" "$($PY -c "print($sum_hc/$ROUNDS)")" \
	"$($PY -c "print($sum_k/$ROUNDS)")" "$($PY -c "print($sum_kc/$ROUNDS)")" "$($PY -c "print($sum_k/$sum_h)")"
