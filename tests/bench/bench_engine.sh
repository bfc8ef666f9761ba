#!/usr/bin/env bash
# bench_engine.sh - kneecap's engine side by side with wrk against one nginx
# on loopback (run by hand, never in CI).
#
#   tests/bench/bench_engine.sh [KNEECAP]     (default: builds build-bench, release)
#
# 1. Closed loop, equal connections: wrk -t1 -cC and kneecap --concurrency C
#    --threads 1, each pinned with taskset to the same core (nginx, one
#    worker, on another), several alternating rounds; prints requests/s of
#    each and the ratio kneecap/wrk (target >= 0.75).
# 2. Open loop at a fixed rate (BENCH_RATE, default 20000): kneecap's CPU
#    microseconds per request (user+sys of a long run minus a 1 s run, per
#    extra request, so start-up cancels),
#    and whether the rate was held (achieved, send-lag p99).
# Env: BENCH_CONNS (default 16), BENCH_SECS (5), BENCH_ROUNDS (3),
# BENCH_CLIENT_CPU (0), BENCH_SERVER_CPU (1).
. "$(dirname "$0")/lib.sh" "${1:-}"
C=${BENCH_CONNS:-16}
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-20000}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3
command -v wrk >/dev/null || { echo "wrk not installed (scripts/setup)"; exit 1; }

TMP=$(mktemp -d)
ngpid=
trap '[ -n "$ngpid" ] && kill $ngpid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$(free_port)
start_nginx "$SCPU" "$port"
URL="http://127.0.0.1:$port/"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); client cpu $CCPU, nginx cpu $SCPU"
echo "# $("$KNEECAP" --version), $(wrk --version 2>&1 | head -1 | cut -c1-40)"

echo "== closed loop, $C connections, ${SECS}s, $ROUNDS rounds (requests/s)"
sum_k=0 sum_w=0
for r in $(seq "$ROUNDS"); do
	w=$(taskset -c "$CCPU" wrk -t1 -c"$C" -d"${SECS}s" "$URL" | awk '/Requests\/sec/ {print $2}')
	k=$(taskset -c "$CCPU" "$KNEECAP" run "$URL" --concurrency "$C" --threads 1 --connections "$C" \
		--duration "${SECS}s" --json --quiet | $PY -c 'import json,sys; print(json.load(sys.stdin)["steps"][0]["achieved"])')
	printf "round %d: wrk %10.0f   kneecap %10.0f   ratio %.3f\n" "$r" "$w" "$k" "$($PY -c "print($k/$w)")"
	sum_k=$($PY -c "print($sum_k+$k)"); sum_w=$($PY -c "print($sum_w+$w)")
done
printf "mean:    wrk %10.0f   kneecap %10.0f   ratio kneecap/wrk %.3f (target >= 0.75)\n" \
	"$($PY -c "print($sum_w/$ROUNDS)")" "$($PY -c "print($sum_k/$ROUNDS)")" "$($PY -c "print($sum_k/$sum_w)")"

echo "== open loop at $RATE rps, 1 thread, $C connections: ${SECS}s run minus a 1s run (start-up cancels)"
for d in 1 "$SECS"; do
	/usr/bin/time -f "%U %S" -o "$TMP/time.$d" taskset -c "$CCPU" "$KNEECAP" run "$URL" --rate "$RATE" \
		--threads 1 --connections "$C" --duration "${d}s" --json --quiet >"$TMP/open.$d.json"
done
$PY - "$TMP" "$SECS" <<'EOF'
import json, sys
d, secs = sys.argv[1], sys.argv[2]
def load(x):
    s = json.load(open("%s/open.%s.json" % (d, x)))["steps"][0]
    u, sy = map(float, open("%s/time.%s" % (d, x)).read().split()[-2:])
    return s, u + sy
s1, c1 = load("1")
s, c = load(secs)
print("achieved %.0f of %.0f rps (%.2f%%), errors %d, send lag p99 %.3f ms, max %.3f ms, generator_bound %s"
      % (s["achieved"], s["offered"], 100 * s["achieved"] / s["offered"], s["errors"],
         s["lag_ms"]["p99"], s["lag_ms"]["max"], s["generator_bound"]))
print("latency p50 %.3f ms p99 %.3f ms; service p99 %.3f ms" % (s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["service_ms"]["p99"]))
dn = s["completed"] - s1["completed"]
print("cpu (user+sys): %.2fs for %d requests, %.2fs for %d; difference: %.1f us/request"
      % (c, s["completed"], c1, s1["completed"], (c - c1) * 1e6 / max(dn, 1)))
EOF
