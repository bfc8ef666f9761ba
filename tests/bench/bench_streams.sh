#!/usr/bin/env bash
# bench_streams.sh - 10,000 concurrent bidirectional streams in one kneecap
# process against the emulator's streaming half (in a process of its own),
# with kneecap's peak RSS and CPU per stream.  Target: <= 256 MB RSS.
# Run by hand (not in CI): bench_streams.sh BUILD_DIR [STREAMS] [SECONDS] [INTERVAL]
# Each stream sends 3200 bytes of 16 kHz PCM every INTERVAL (default 100ms:
# real time), each chunk signed in the stream's SigV4 event chain.
set -eu
build=${1:?usage: bench_streams.sh BUILD_DIR [STREAMS] [SECONDS]}
n=${2:-10000}
secs=${3:-10}
interval=${4:-100ms}
tmp=$(mktemp -d)
coproc SRV { exec /usr/bin/time -f '%U %S %e' -o "$tmp/srv_time" \
	"$build/tests/integration/bidi_serve" "$n" 200 $((n + 1000)); }
srv_pid=$SRV_PID
trap 'kill $srv_pid 2>/dev/null; rm -rf "$tmp"' EXIT
read -r _ port <&"${SRV[0]}"
url="http://127.0.0.1:$port/endpoints/bench/invocations-bidirectional-stream"
echo "emulator on port $port; $n streams for ${secs}s (+2s warm-up), a chunk every $interval"
ulimit -n 65536 2>/dev/null || true
/usr/bin/time -f '%M %U %S %e' -o "$tmp/time" "$build/kneecap" streams "$url" \
	--start "$n" --max "$n" --step-duration "${secs}s" --warmup 2s --chunk-interval "$interval" \
	--json -q >"$tmp/result.json" 2>"$tmp/err" || true
if ! tail -1 "$tmp/time" | grep -qE "^[0-9]+ "; then cat "$tmp/time" "$tmp/err"; exit 1; fi
read -r rss_kb user sys wall < <(tail -1 "$tmp/time")
/usr/bin/python3 - "$tmp/result.json" "$rss_kb" "$user" "$sys" "$wall" "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rss_kb, user, sysc, wall, n = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
s = d["steps"][-1]
st = d["streams"]["steps"][-1]
cpu = user + sysc
print("streams held (mean/max): %.1f / %d" % (s["achieved"], st["held_max"]))
print("connections: %d   chunks sent: %d   replies: %d   errors: %d" %
      (st["connections"], st["chunks_sent"], st["replies"], s["errors"]))
print("reply latency ms: mean %.1f p50 %.1f p99 %.1f max %.1f (model: 200 ms)" %
      (s["latency_ms"]["mean"], s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["latency_ms"]["max"]))
print("send lag ms: p99 %.1f max %.1f   generator_bound: %s" %
      (s["lag_ms"]["p99"], s["lag_ms"]["max"], s["generator_bound"]))
print("kneecap peak RSS: %.1f MB (%.1f KB per stream; target <= 256 MB total)" %
      (rss_kb / 1024, rss_kb / n))
print("kneecap CPU: %.2f s user+sys over %.1f s wall = %.1f%% of a core, %.1f us CPU per stream per second" %
      (cpu, wall, 100 * cpu / wall, cpu / wall / n * 1e6))
PY
eval "exec ${SRV[1]}>&-"
wait "$srv_pid" 2>/dev/null || true
read -r su ss se < <(tail -1 "$tmp/srv_time")
/usr/bin/python3 -c "import sys; u,s,e=map(float,sys.argv[1:]); print('emulator CPU: %.2f s over %.1f s wall = %.1f%% of a core (one thread)' % (u+s, e, 100*(u+s)/e))" "$su" "$ss" "$se"
