#!/usr/bin/env bash
# test_find_cpu.sh - `find` against a model server doing real CPU work per
# request (jpeg_server: decode the posted 1024x1024 JPEG and resize it, one
# worker), whose capacity wrk measures closed-loop on the same payload.  The
# knee must land within -8%..+2% of that capacity and never above the
# throughput the server completed while saturated.
#
# On a shared machine the one core's speed is not constant: the same request
# took 11 to 18 ms of CPU within a minute as neighbours came and went, which
# moves the capacity by as much (measured with 4, 32 and 128 connections,
# open and closed loop: the CPU per request did not depend on the connection
# count, only on the time).  So the server logs its CPU clock per answer and
# the test compares like with like: wrk's figure is turned into work per
# unit of CPU time (requests/s x CPU ms per request: what share of the core
# answered requests), checked to be the same before and after the search,
# and the capacity during the search is that share over the CPU ms per
# request the server spent in the search's steps at and above the knee.
# The server runs SCHED_FIFO where the test may (root), as a model server on
# its own instance does not wait for a CPU behind other work; else nice -10.
# When the core's speed moved by more than 10% between the steps that
# decided the knee, there is no one capacity to compare with: skipped (77).
# Timing-bound: not in parallel, not under sanitizers.  About 50 s; loopback only.
# Failures seen before were find's own: a step near capacity whose queue
# was still forming completed 79% and then 87% of the flat-out rate and
# capped the bracket there (knee -18%; search.c now lets only a step within
# 93% of the flat-out rate cap it); a knee step whose Poisson arrivals fell
# 8% short of its nominal load was called healthy at that load (+5.7%; each
# window now carries the count its rate asks for).  With 3 s steps the
# knee landed at -5.4..-7.8% (9 runs), 94% of capacity being as close as a
# 3 s window near saturation judges; 4 s steps: -3.7..-5.2% (4 runs).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export AWS_EC2_METADATA_DISABLED=true
JPG="$KC_SRCDIR/payloads/jpeg-1024/img-0000.jpg"
command -v wrk >/dev/null || { fail "wrk is not installed (scripts/setup --test)"; done_testing; exit; }

prio=()
if chrt -f 1 true 2>/dev/null; then prio=(chrt -f 1)
elif nice -n -10 true 2>/dev/null; then prio=(nice -n -10); fi
"${prio[@]}" "$KC_JPEG_SERVER" "$TMP/port" "$TMP/served.log" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$TMP/port")/"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --data-binary @"$JPG" "$url")
[ "$code" = 200 ] && ok "jpeg_server answers a JPEG" || fail "jpeg_server answered '$code'"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --data-binary 'not a jpeg' "$url")
[ "$code" = 400 ] && ok "jpeg_server refuses a body that is not a JPEG" || fail "got '$code' for junk"

# CPU ms per answered request in wall-clock windows "FROM_MS:TO_MS ...".
cpu_ms() {
	"$PY" - "$TMP/served.log" "$@" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
n = cpu = 0
for w in sys.argv[2:]:
    a, b = (int(x) * 1000000 for x in w.split(":"))
    r = [x for x in rows if a <= x[0] < b]
    if len(r) > 1:
        n += len(r) - 1
        cpu += r[-1][1] - r[0][1]
print(round(cpu / n / 1e6, 3) if n >= 10 else "")
PY
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wrk closed-loop: four connections keep the one worker busy all the time
# (requests queued while one is answered).  Prints "RPS CPU_MS SHARE".
wrk_rate() {
	local t0 t1 rps ms
	t0=$(now_ms)
	rps=$(KC_JPEG="$JPG" timeout 30 wrk -t1 -c4 -d4s -s "$KC_WRK_LUA" "$url" |
		awk '/^Requests\/sec:/ {print $2}')
	t1=$(now_ms)
	ms=$(cpu_ms "$((t0 + 500)):$t1")
	"$PY" -c "import sys; r,m=float(sys.argv[1] or 0),float(sys.argv[2] or 0); print(r, m, round(r*m/1000,4))" "${rps:-}" "${ms:-}"
}
read -r before ms_before share_before < <(wrk_rate)
# The search starts at a fifth of it: two doublings under the knee, one over.
start=$("$PY" -c "import sys; print(round(max(float(sys.argv[1]), 10) / 5, 1))" "$before")
timeout 100 "$KNEECAP" find "$url" --body "$JPG" --content-type image/jpeg \
	--start "$start" --max 100000 --step-duration 4s --warmup 1s --no-confirm \
	--out "$TMP/out" -q >"$TMP/stdout" 2>"$TMP/err"
rc=$?
read -r after ms_after share_after < <(wrk_rate)
[ "$rc" = 0 ] && ok "find completes (exit 0)" || { fail "find exit $rc"; sed 's/^/    /' "$TMP/err" | tail -5; }

# The steps that decided the knee: the knee's own and every one above it.
read -r knee sat windows < <("$PY" - "$TMP/out/result.json" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
k = d["knee"]["per_instance"]
w = ["%d:%d" % (s["start_wall_ms"], s["start_wall_ms"] + 1000 * s["duration_s"])
     for s in d["steps"] if s["offered"] >= k]
print(k, d["knee"].get("saturated_max", 0), " ".join(w))
PY
)
ms_find=$(cpu_ms ${windows:-})
echo "# wrk before: $before rps at $ms_before CPU ms/request (share of the core $share_before)"
echo "# wrk after:  $after rps at $ms_after CPU ms/request (share $share_after)"
sed -n '/^step/,/^offered:/p' "$TMP/stdout" | sed 's/^/#   /'
echo "# find: knee ${knee:-?} rps, saturated_max ${sat:-?} rps; $ms_find CPU ms/request in its steps at and above the knee"
read -r agree cap < <("$PY" -c "
import sys
a, b, m = (float(x or 0) for x in sys.argv[1:4])
ok = min(a, b) > 0.3 and abs(a - b) <= 0.06 * max(a, b) and m > 0
print(1 if ok else 0, round(1000 * (a + b) / 2 / m, 2) if ok else 0)" "$share_before" "$share_after" "$ms_find")
# Each deciding step's own figures, to read a failure by: the capacity the
# core allowed in it, and the share of the core the server answered with.
steps_ms=()
for w in ${windows:-}; do
	steps_ms+=("$(cpu_ms "$w")")
	m=$(cpu_ms "$w")
	[ -n "$m" ] && [ "$agree" = 1 ] && "$PY" -c "
import sys
a, b = (int(x) for x in sys.argv[1].split(':'))
rows = [l for l in open(sys.argv[4]) if len(l.split()) == 2 and a * 1000000 <= int(l.split()[0]) < b * 1000000]
served = len(rows) / ((b - a) / 1000)
print('#   step at %d: %.2f CPU ms/request, capacity %.1f rps, served %.1f/s (share %.3f)' % (a, float(sys.argv[2]), 1000 * float(sys.argv[3]) / float(sys.argv[2]), served, served * float(sys.argv[2]) / 1000))" \
		"$w" "$m" "$("$PY" -c "import sys; print((float(sys.argv[1])+float(sys.argv[2]))/2)" "$share_before" "$share_after")" "$TMP/served.log"
done
# A search can only land near one capacity if there was one: when the core's
# speed moved by more than 10% between the steps that decided the knee (it
# has halved within 5 s here), no knee is right; say so and skip (77).
spread=$("$PY" -c "import sys; v=[float(x) for x in sys.argv[1:] if x]; print(round(max(v)/min(v)-1, 3) if v else 0)" "${steps_ms[@]}")
if "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.10 else 1)" "$spread"; then
	echo "# SKIP: the core's speed moved by $("$PY" -c "import sys; print(round(100*float(sys.argv[1])))" "$spread")% between the steps that decided the knee (CPU ms/request: ${steps_ms[*]}): the machine is too busy to judge find against one capacity"
	exit 77
fi
if [ "$agree" = 1 ]; then
	ok "wrk's share of the core is the same before and after the search ($share_before, $share_after): the capacity during the search is $cap rps"
else
	fail "no capacity to compare with: wrk's share of the core $share_before before, $share_after after (> 6% apart, or CPU ms per request unknown: '$ms_find')"
fi
if [ "$agree" = 1 ] && [ -n "${knee:-}" ] && "$PY" -c "import sys; k,c=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if 0.92*c <= k <= 1.02*c else 1)" "$knee" "$cap"; then
	ok "knee $knee is within -8%..+2% of the capacity $cap ($("$PY" -c "import sys; print(round(100*(float(sys.argv[1])/float(sys.argv[2])-1),1))" "$knee" "$cap")%)"
else
	fail "knee '${knee:-}' outside -8%..+2% of the capacity '$cap'"
	sed 's/^/    /' "$TMP/stdout" | head -20
fi
if [ -n "${knee:-}" ] && "$PY" -c "import sys; k,s=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if s == 0 or k <= s else 1)" "$knee" "$sat"; then
	ok "knee $knee is not above the saturated throughput ${sat}"
else
	fail "knee '${knee:-}' above the saturated throughput '$sat'"
fi
done_testing
