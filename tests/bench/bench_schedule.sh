#!/usr/bin/env bash
# bench_schedule.sh - how well one worker holds its schedule (run by hand,
# never in CI): open loop against nginx on loopback at 1k, 10k and higher
# rates, printing achieved/offered and the p99/max of send lag (intended
# send time to the moment the worker handled the arrival).  The target from
# issue 3: lag p99 under 1 ms at 10k RPS on one worker.
#
#   tests/bench/bench_schedule.sh [KNEECAP]
# Env: SCHED_RATES (default "1000 10000 20000 40000 80000"), SCHED_SECS (5),
# SCHED_CONNS (32), SCHED_ARRIVAL (uniform), BENCH_CLIENT_CPU (0), BENCH_SERVER_CPU (1).
. "$(dirname "$0")/lib.sh" "${1:-}"
RATES=${SCHED_RATES:-"1000 10000 20000 40000 80000"}
SECS=${SCHED_SECS:-5}
C=${SCHED_CONNS:-32}
ARR=${SCHED_ARRIVAL:-uniform}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3

TMP=$(mktemp -d)
ngpid=
trap '[ -n "$ngpid" ] && kill $ngpid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$(free_port)
start_nginx "$SCPU" "$port"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); 1 worker on cpu $CCPU, nginx on cpu $SCPU; $ARR arrivals, $C connections, ${SECS}s"
printf "%10s %10s %9s %8s %12s %12s %10s %8s\n" offered achieved ratio errors lag_p99_ms lag_max_ms lat_p99_ms gen_cpu
for R in $RATES; do
	taskset -c "$CCPU" "$KNEECAP" run "http://127.0.0.1:$port/" --rate "$R" --threads 1 \
		--connections "$C" --duration "${SECS}s" --arrival "$ARR" --json --quiet >"$TMP/r.json"
	$PY - "$TMP/r.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
print("%10.0f %10.0f %9.4f %8d %12.3f %12.3f %10.3f %8.2f%s" % (s["offered"], s["achieved"],
      s["achieved"] / s["offered"], s["errors"], s["lag_ms"]["p99"], s["lag_ms"]["max"],
      s["latency_ms"]["p99"], s["gen_cpu"], "  generator-bound" if s["generator_bound"] else ""))
EOF
done
