#!/usr/bin/env bash
# bench_emulator.sh - is the emulator ever the bottleneck below 5,000 RPS?
#
# Runs `kneecap serve` pinned to ONE core (taskset) with a profile whose
# model capacity is far above the offered load (many slots, tiny service
# time, no CPU stage), drives it with wrk on the other core(s), and reports
# the RPS wrk achieved and the CPU the emulator used for it.  If the
# emulator keeps up with wrk at >= 5,000 RPS on one core, it is not the
# bottleneck below that.  Run by hand, never in CI:
#
#   tests/bench/bench_emulator.sh [KNEECAP] [SECONDS] [CONNECTIONS]
#
# Use a release build for figures: meson setup build-rel --buildtype=release.
set -u
KNEECAP=${1:-build-rel/kneecap}
SECS=${2:-10}
CONNS=${3:-64}
NCPU=$(nproc)
[ -x "$KNEECAP" ] || { echo "bench: no kneecap binary at $KNEECAP" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench: wrk not installed" >&2; exit 2; }
TMP=$(mktemp -d)
EPID=""
trap '[ -n "$EPID" ] && kill "$EPID" 2>/dev/null; rm -rf "$TMP"' EXIT

EMU_CPU=0
LOAD_CPUS=$([ "$NCPU" -gt 1 ] && echo "1-$((NCPU - 1))" || echo 0)

# 1,000 slots x 1 ms = 1,000,000 RPS nominal: the model never limits.
taskset -c "$EMU_CPU" "$KNEECAP" serve --listen 127.0.0.1:0 --slots 1000 \
	--service-time 1ms --input any --cpu-decode off --threads 1 \
	--max-connections 1024 >"$TMP/out" 2>"$TMP/err" &
EPID=$!
for _ in $(seq 100); do
	PORT=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/out" 2>/dev/null)
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "${PORT:-}" ] || { echo "bench: emulator did not start" >&2; cat "$TMP/err" >&2; exit 1; }

head -c 1024 /dev/urandom >"$TMP/body"
cat >"$TMP/post.lua" <<EOF
local f = io.open("$TMP/body", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
EOF

cpu_ticks() { awk '{print $14 + $15}' "/proc/$EPID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(cpu_ticks)
taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$TMP/post.lua" \
	"http://127.0.0.1:$PORT/endpoints/bench/invocations" >"$TMP/wrk"
t1=$(cpu_ticks)
rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wrk")
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s="$SECS" 'BEGIN{printf "%.1f", 100*(b-a)/hz/s}')
per_req=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v r="$rps" -v s="$SECS" \
	'BEGIN{ if (r > 0) printf "%.1f", 1e6*(b-a)/hz/(r*s); else print "n/a" }')
echo "machine: $NCPU CPUs; emulator on CPU $EMU_CPU, wrk on CPU(s) $LOAD_CPUS, $CONNS connections, ${SECS}s"
grep -E 'Latency|Non-2xx|Socket errors' "$TMP/wrk"
echo "achieved: $rps RPS"
echo "emulator CPU: $cpu% of one core ($per_req us of CPU per request)"
awk -v r="$rps" -v c="$cpu" 'BEGIN{
	if (r >= 5000) print "verdict: the emulator sustains >= 5,000 RPS on one core";
	else if (c < 90) print "verdict: below 5,000 RPS but the emulator core was not saturated (load generator limited)";
	else print "verdict: the emulator saturated its core below 5,000 RPS" }'
