#!/usr/bin/env bash
# test_serve_capacity.sh - the emulator's capacity is real:
#  - wrk (closed loop, enough connections to keep every slot busy) measures
#    throughput within +-5% of nominal for 50, 200 and 1,000 RPS profiles;
#  - below 70% of capacity (open loop, uniform arrivals) mean latency stays
#    within 10% of the mean service time;
#  - above capacity the queue and the latency grow over time.
# Short service times keep it quick (about 25 s).  Loopback only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"

make_jpeg "$TMP/img.jpg" 128 128
cat >"$TMP/post.lua" <<EOF
local f = io.open("$TMP/img.jpg", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/jpeg"
EOF

# capacity NOMINAL CONNS ARGS...: wrk for 4 s against a profile.
capacity() {
	local want=$1 conns=$2; shift 2
	start_emu "cap$want" "$@" || return
	expect_grep "^nominal capacity: $want\.0 RPS" "$TMP/cap$want.out" "$want RPS profile"
	wrk -t1 -c"$conns" -d4s -s "$TMP/post.lua" \
		"http://127.0.0.1:$PORT/endpoints/tagger/invocations" >"$TMP/wrk$want" 2>&1
	local got
	got=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wrk$want")
	if [ -n "$got" ] && within "$got" "$want" 5; then
		ok "wrk measures $got RPS for a $want RPS profile (+-5%)"
	else
		fail "wrk measured '${got}' RPS for a $want RPS profile"; sed 's/^/    /' "$TMP/wrk$want"
	fi
	grep -q 'Non-2xx' "$TMP/wrk$want" && fail "errors under closed-loop load" || ok "no errors at capacity"
	stop_emu
}
# Connections: a few times the slots, so the queue never runs dry.
capacity 50 16 --slots 1 --service-time 20ms --cpu-decode scaled
capacity 200 40 --slots 4 --service-time 20ms --cpu-decode scaled
capacity 1000 150 --slots 10 --service-time 10ms --cpu-decode header

# Below capacity: 60% of a 200 RPS profile, open loop.  Latency = service.
start_emu low --slots 10 --service-time 50ms --cpu-decode header
$PY "$LOAD" open "$PORT" /endpoints/tagger/invocations "$TMP/img.jpg" 120 4 >"$TMP/low.json"
lat=$($PY -c "import json; print(json.load(open('$TMP/low.json'))['latency_ms_mean'])")
srv=$(stat_field "['latency_ms_mean']")
within "$srv" 50 10 && ok "60% load: server-side mean latency $srv ms ~ 50 ms service" \
	|| fail "60% load: server-side mean latency $srv ms"
# The client's own figure also carries Python's scheduling delays: 20%.
within "$lat" 50 20 && ok "60% load: client mean latency $lat ms ~ 50 ms service" \
	|| fail "60% load: client mean latency $lat ms ($(cat "$TMP/low.json"))"
wait_ms=$(stat_field "['wait_ms_mean']")
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) < 2.5 else 1)" "$wait_ms" \
	&& ok "60% load: requests do not queue (mean wait $wait_ms ms)" \
	|| fail "60% load: mean wait $wait_ms ms"
stop_emu

# Above capacity: 100 RPS offered to a 50 RPS profile; the queue grows by
# ~50 a second and so does everyone's wait.
start_emu high --slots 1 --service-time 20ms --cpu-decode header
$PY "$LOAD" open "$PORT" /endpoints/tagger/invocations "$TMP/img.jpg" 100 6 >"$TMP/high.json" &
LOADPID=$!
qs=""
for _ in 1 2 3 4; do
	sleep 0.9
	qs="$qs $(stat_field "['queue_depth']")"
done
wait $LOADPID
$PY -c "
import sys; q=[int(x) for x in sys.argv[1:]]
assert all(b > a for a, b in zip(q, q[1:])), q
assert q[-1] >= 100, q" $qs && ok "overload: queue depth grows over time:$qs" \
	|| fail "overload: queue depth did not grow:$qs"
$PY -c "
import json; r=json.load(open('$TMP/high.json'))
assert r['latency_ms_late_mean'] > 2 * r['latency_ms_early_mean'], r
assert abs(r['achieved_rps'] - 50) <= 5, r" \
	&& ok "overload: latency grows, throughput stays at capacity" \
	|| fail "overload: $(cat "$TMP/high.json")"
stop_emu

done_testing
