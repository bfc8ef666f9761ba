#!/usr/bin/env bash
# test_find_cpu.sh - `find` against a model server doing real CPU work per
# request (jpeg_server: decode the posted 1024x1024 JPEG and resize it, one
# worker), whose capacity wrk measures closed-loop on the same payload.  The
# knee must land within -8%..+2% of wrk's figure and never above the
# throughput the server completed while saturated.  Timing-bound (one core
# of work per request stream): not in parallel, not under sanitizers.
# About a minute; loopback only.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export AWS_EC2_METADATA_DISABLED=true
JPG="$KC_SRCDIR/payloads/jpeg-1024/img-0000.jpg"
command -v wrk >/dev/null || { fail "wrk is not installed (scripts/setup --test)"; done_testing; exit; }

"$KC_JPEG_SERVER" "$TMP/port" &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$TMP/port")/"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --data-binary @"$JPG" "$url")
[ "$code" = 200 ] && ok "jpeg_server answers a JPEG" || fail "jpeg_server answered '$code'"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --data-binary 'not a jpeg' "$url")
[ "$code" = 400 ] && ok "jpeg_server refuses a body that is not a JPEG" || fail "got '$code' for junk"

# wrk closed-loop: two connections keep the one worker busy all the time
# (one request queued while the other is answered).  Best of two 6 s runs.
cap=0
for run in 1 2; do
	r=$(KC_JPEG="$JPG" timeout 30 wrk -t1 -c2 -d6s -s "$KC_WRK_LUA" "$url" |
		awk '/^Requests\/sec:/ {print $2}')
	echo "# wrk run $run: ${r:-?} requests/s"
	cap=$("$PY" -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2] or 0)))" "$cap" "${r:-0}")
done
"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) > 5 else 1)" "$cap" &&
	ok "wrk measured the capacity: $cap requests/s closed-loop" || fail "wrk measured '$cap'"

# The search starts at a fifth of it: two doublings under the knee, one over.
start=$("$PY" -c "import sys; print(round(float(sys.argv[1]) / 5, 1))" "$cap")
timeout 150 "$KNEECAP" find "$url" --body "$JPG" --content-type image/jpeg \
	--start "$start" --max 100000 --step-duration 4s --warmup 1s \
	--out "$TMP/out" -q >"$TMP/stdout" 2>"$TMP/err"
rc=$?
[ "$rc" = 0 ] && ok "find completes (exit 0)" || { fail "find exit $rc"; sed 's/^/    /' "$TMP/err" | tail -5; }
read -r knee sat steps took < <("$PY" - "$TMP/out/result.json" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
k = d["knee"]
print(k["per_instance"], k.get("saturated_max", 0), len(d["steps"]), round(d["search"]["took_s"], 1))
PY
)
echo "# wrk $cap rps; find: knee ${knee:-?} rps, saturated_max ${sat:-?} rps, ${steps:-?} steps in ${took:-?} s"
if [ -n "${knee:-}" ] && "$PY" -c "import sys; k,c=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if 0.92*c <= k <= 1.02*c else 1)" "$knee" "$cap"; then
	ok "knee $knee is within -8%..+2% of wrk's $cap"
else
	fail "knee '${knee:-}' outside -8%..+2% of wrk's $cap ($("$PY" -c "import sys; print(round(100*(float(sys.argv[1])/float(sys.argv[2])-1),1))" "${knee:-0}" "$cap")%)"
	sed 's/^/    /' "$TMP/stdout" | head -20
fi
if [ -n "${knee:-}" ] && "$PY" -c "import sys; k,s=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if s == 0 or k <= s else 1)" "$knee" "$sat"; then
	ok "knee $knee is not above the saturated throughput ${sat}"
else
	fail "knee '${knee:-}' above the saturated throughput '$sat'"
fi
done_testing
