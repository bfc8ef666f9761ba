#!/usr/bin/env bash
# bench_emulator_h2.sh - is the emulator's HTTP/2 face ever the bottleneck
# below 5,000 RPS?  The HTTP/2 sibling of bench_emulator.sh.
#
# Runs `kneecap serve --h2-listen` pinned to ONE core (taskset) with a
# profile whose model capacity is far above the offered load (1,000 slots,
# 1 us service, JPEG header parse only), drives its h2c port with h2load on
# the other core(s) POSTing a JPEG from `kneecap payload`, and reports the
# RPS h2load achieved and the CPU the emulator used for it.  Run by hand,
# never in CI:
#
#   tests/bench/bench_emulator_h2.sh [KNEECAP] [SECONDS] [CONNECTIONS] [STREAMS] [h2c|tls]
#
# Figures (2-CPU VM shared with other jobs, release build, 8 connections x
# 32 streams, 5.6 KiB JPEG): h2c 15,900-19,500 RPS (~50 us of CPU per
# request); TLS 15,100-21,600 RPS (~65 us per request).
#
# Use a release build for figures: meson setup build-rel --buildtype=release.
set -u
KNEECAP=${1:-build-rel/kneecap}
SECS=${2:-10}
CONNS=${3:-8}
STREAMS=${4:-32}
MODE=${5:-h2c}
case "$MODE" in h2c) SCHEME=http;; tls) SCHEME=https;; *) echo "bench: mode h2c or tls" >&2; exit 2;; esac
NCPU=$(nproc)
[ -x "$KNEECAP" ] || { echo "bench: no kneecap binary at $KNEECAP" >&2; exit 2; }
command -v h2load >/dev/null || { echo "bench: h2load (nghttp2-client) not installed" >&2; exit 2; }
TMP=$(mktemp -d)
EPID=""
trap '[ -n "$EPID" ] && kill "$EPID" 2>/dev/null; rm -rf "$TMP"' EXIT

EMU_CPU=0
LOAD_CPUS=$([ "$NCPU" -gt 1 ] && echo "1-$((NCPU - 1))" || echo 0)

"$KNEECAP" payload --count 1 --out "$TMP/pl" --width 256 --height 192 >/dev/null || exit 1
taskset -c "$EMU_CPU" "$KNEECAP" serve --listen 127.0.0.1:0 --h2-listen 127.0.0.1:0 \
	--h2-mode "$MODE" --slots 1000 --service-time 1us --cpu-decode header --threads 1 \
	>"$TMP/out" 2>"$TMP/err" &
EPID=$!
for _ in $(seq 100); do
	PORT=$(sed -n 's/^HTTP\/2 .* on https\{0,1\}:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/out" 2>/dev/null)
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "${PORT:-}" ] || { echo "bench: emulator did not start" >&2; cat "$TMP/err" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$EPID/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(cpu_ticks)
taskset -c "$LOAD_CPUS" h2load -D "$SECS" -c "$CONNS" -m "$STREAMS" -t 1 \
	-d "$TMP/pl/img-0000.jpg" "$SCHEME://127.0.0.1:$PORT/endpoints/bench/invocations" >"$TMP/h2load"
t1=$(cpu_ticks)
rps=$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' "$TMP/h2load")
cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s="$SECS" 'BEGIN{printf "%.1f", 100*(b-a)/hz/s}')
per_req=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v r="$rps" -v s="$SECS" \
	'BEGIN{ if (r > 0) printf "%.1f", 1e6*(b-a)/hz/(r*s); else print "n/a" }')
echo "machine: $NCPU CPUs; emulator on CPU $EMU_CPU, h2load on CPU(s) $LOAD_CPUS, $MODE, $CONNS connections x $STREAMS streams, ${SECS}s"
grep -E '^(requests|status codes):' "$TMP/h2load"
echo "achieved: $rps RPS"
echo "emulator CPU: $cpu% of one core ($per_req us of CPU per request)"
awk -v r="$rps" -v c="$cpu" 'BEGIN{
	if (r >= 5000) print "verdict: the HTTP/2 face sustains >= 5,000 RPS on one core";
	else if (c < 90) print "verdict: below 5,000 RPS but the emulator core was not saturated (load generator limited)";
	else print "verdict: the HTTP/2 face saturated its core below 5,000 RPS" }'
