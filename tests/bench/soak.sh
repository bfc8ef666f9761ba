#!/usr/bin/env bash
# soak.sh - bounded-memory soak: `kneecap run` at a steady rate against
# `kneecap serve` on loopback for a long time, sampling both processes'
# resident set size (VmRSS) at the start, every SAMPLE seconds and at the
# end, then printing the growth.  By hand only (not in CI): the default is
# 30 minutes.
#
#   tests/bench/soak.sh [-d DURATION_S] [-r RATE_RPS] [-s SAMPLE_S] [-k KNEECAP]
#
# The first sample is taken WARM_S (5) seconds in, once connections, the
# payload and the histograms exist; growth is measured from there.  Flat
# means the end is within a few hundred KiB of the start (allocator noise),
# not growing with the request count.
set -u
dur=1800 rate=200 sample=60 warm=5
kneecap=${KNEECAP:-}
while getopts "d:r:s:k:" o; do
	case $o in
	d) dur=$OPTARG ;; r) rate=$OPTARG ;; s) sample=$OPTARG ;; k) kneecap=$OPTARG ;;
	*) sed -n '2,14p' "$0"; exit 2 ;;
	esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -n "$kneecap" ] || for b in build-dev build-test build; do
	for p in "$root/$b/kneecap" "$root/$b/src/cli/kneecap"; do
		[ -x "$p" ] && { kneecap=$p; break 2; }
	done
done
[ -x "$kneecap" ] || { echo "soak: no kneecap binary (give -k PATH)"; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-soak.XXXXXX")
emu= run=
trap '[ -n "$run" ] && kill -9 $run 2>/dev/null; [ -n "$emu" ] && kill $emu 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

# An emulator with ample capacity (16 slots x 2 ms = 8000 RPS nominal), so
# the soak measures kneecap, not a saturated server.
"$kneecap" serve --listen 127.0.0.1:0 --service-time 2ms --slots 16 --input any \
	--cpu-decode off --threads 2 -q >"$tmp/emu.out" 2>"$tmp/emu.err" &
emu=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/emu.out")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "soak: emulator did not start"; cat "$tmp/emu.err"; exit 1; }
head -c 4096 /dev/urandom >"$tmp/body.bin"

"$kneecap" run "http://127.0.0.1:$port/endpoints/soak/invocations" --body "$tmp/body.bin" \
	--rate "$rate" --duration "${dur}s" --threads 1 --connections 16 -q --out "$tmp/out" \
	>"$tmp/run.out" 2>"$tmp/run.err" &
run=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
echo "soak: rate $rate RPS for ${dur}s, RSS sampled every ${sample}s (KiB)"
printf '%8s %12s %12s\n' "t_s" "kneecap_rss" "serve_rss"
t0=$(date +%s)
sleep "$warm"
r0=$(rss $run) e0=$(rss $emu)
printf '%8d %12s %12s\n' "$warm" "$r0" "$e0"
rl=$r0 el=$e0 rmax=$r0
next=$((warm + sample)) ended=
# take [LABEL]: one sample of both processes (false once the run is gone).
take() {
	local r e
	r=$(rss $run) e=$(rss $emu)
	[ -n "$r" ] || return 1
	printf '%8d %12s %12s  %s\n' "$now" "$r" "$e" "${1:-}"
	rl=$r el=$e
	[ "$r" -gt "$rmax" ] && rmax=$r
	return 0
}
while kill -0 $run 2>/dev/null; do
	now=$(( $(date +%s) - t0 ))
	if [ $now -ge $next ]; then
		take || break
		next=$((next + sample))
	fi
	# The last sample just before the run ends, while it still runs.
	if [ -z "$ended" ] && [ $now -ge $((dur - 2)) ]; then
		take "(end)" || break
		ended=1
	fi
	sleep 1
done
wait $run; rc=$?; run=
echo "soak: kneecap run exit $rc"
echo "soak: kneecap RSS start ${r0} KiB, end ${rl} KiB, growth $((rl - r0)) KiB, peak ${rmax} KiB"
echo "soak: serve   RSS start ${e0} KiB, end ${el} KiB, growth $((el - e0)) KiB"
/usr/bin/python3 - "$tmp/out/result.json" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["steps"][0]
except Exception as e:
    print("soak: no result.json:", e); sys.exit(0)
print("soak: %d sent, %d ok, %d errors, achieved %.1f RPS, p99 %.2f ms, max %.2f ms"
      % (s["sent"], s["ok"], s["errors"], s["achieved"], s["latency_ms"]["p99"],
         s["latency_ms"]["max"]))
PY
echo "soak: latency.hlog $(wc -c <"$tmp/out/latency.hlog" 2>/dev/null || echo 0) bytes"
