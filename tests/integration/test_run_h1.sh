#!/usr/bin/env bash
# test_run_h1.sh - the native HTTP/1.1 client (src/engine/h1unary.c) against
# a raw server (helpers/h1_server.py) that answers each path one way:
# keep-alive, chunked, Connection: close, close-delimited bodies, 1xx, HEAD,
# a redirect (counted as 302, not followed), a keep-alive connection the
# server drops after each response (retried, all ok), and protocol garbage
# (cut header block, bad chunk size, 1 MB header: proto; cut body: reset).
# Every run is 30 requests, bounded by `timeout`; loopback only.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export AWS_EC2_METADATA_DISABLED=true
spid=
trap '[ -n "$spid" ] && { kill $spid 2>/dev/null; wait $spid 2>/dev/null; }; rm -rf "$TMP"' EXIT
$PY "$KC_SRCDIR/tests/integration/helpers/h1_server.py" "$TMP/pf" --max-s 120 >/dev/null 2>&1 &
spid=$!
for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
port=$(cat "$TMP/pf")

# expect PATH OK CLASS N [kneecap args]: 30 requests to PATH give OK
# successes and N errors of CLASS ("-": none).
expect() {
	local path=$1 want_ok=$2 cls=$3 n=$4; shift 4
	timeout 30 "$KNEECAP" run "http://127.0.0.1:$port$path" --client native --rate 30 \
		--duration 1s --threads 1 --connections 3 --timeout 5s --json --quiet "$@" \
		>"$TMP/out" 2>"$TMP/err"
	local rc=$?
	# 1: the run completed but its errors broke the error-rate threshold
	if [ $rc != 0 ] && { [ $rc != 1 ] || [ "$want_ok" = 30 ]; }; then
		fail "$path: exit $rc"; head -3 "$TMP/err"; return
	fi
	if $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))["steps"][0]
want_ok, cls, n = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ec = s["error_classes"]
others = {k: v for k, v in ec.items() if v and k != cls}
got = (s["sent"], s["ok"], ec.get(cls, 0) if cls != "-" else 0, others)
print("   ", sys.argv[5], "sent %d ok %d %s %d others %s" % (got[0], got[1], cls, got[2], got[3]),
      s["status_codes"], file=sys.stderr)
sys.exit(0 if got == (30, want_ok, n, {}) else 1)' "$TMP/out" "$want_ok" "$cls" "$n" "$path" 2>"$TMP/why"
	then ok "$path: $want_ok ok, $n $cls"; else fail "$path: $(cat "$TMP/why")"; fi
}

expect /ok 30 - 0
expect /chunked 30 - 0
expect /close 30 - 0
expect /eof 30 - 0
expect /continue 30 - 0
expect /drop 30 - 0
expect /ok 30 - 0 -X HEAD
expect /ok 30 - 0 --body "$KC_SRCDIR/tests/integration/helpers/h1_server.py"
$PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["config"]["client"] == "native" else 1)' \
	"$TMP/out" && ok "result.json names the client (native)" || fail "config.client"
expect /redirect 0 other 30
$PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["steps"][0]["status_codes"] == {"302": 30} else 1)' \
	"$TMP/out" && ok "a redirect is a 302, not followed" || fail "redirect status codes"
expect /cuthdr 0 proto 30
expect /badchunk 0 proto 30
expect /bighdr 0 proto 30
expect /cutbody 0 reset 30
expect /throttle 0 http4xx 30

# --release-slack: arrivals wait up to 8 ms to leave together; every one is
# still sent and answered, and the wait shows in the send lag
expect_rc 0 "--release-slack runs" timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/ok" \
	--release-slack 8ms --rate 200 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print("    ok %d lag p99 %.3f ms" % (s["ok"], s["lag_ms"]["p99"]), file=sys.stderr)
sys.exit(0 if s["ok"] == 200 and s["lag_ms"]["p99"] >= 6.0 and not s["generator_bound"] else 1)' "$TMP/out" \
	&& ok "--release-slack: all sent, the wait is in the send lag (not generator-bound: it was asked for)" \
	|| fail "--release-slack result"
$PY -c 'import json,sys; j=json.load(open(sys.argv[1]))
sys.exit(0 if j["config"]["release_slack_ms"] == 8 and j["steps"][0]["release_slack_ms"] == 8 else 1)' \
	"$TMP/out" && ok "--release-slack: the slack used is in config and step" || fail "--release-slack recorded"

# ... in batches: none leaves until the oldest has waited the slack, even
# when a response wakes the worker earlier (released then, one by one, each
# would bring its own response's wake-up).  At 1,000/s with 8 ms and 3 ms
# answers the wait spreads over 0..8 ms (median ~4: corrected latency p50
# minus service p50); released whenever an answer woke the worker, about
# half the service time (1.5 ms measured before the change).  The answers
# must stay under 4 ms for that difference to show, and no release may come
# much later than the slack (lag p99 7..12 ms).
expect_rc 0 "--release-slack 8ms at 1000/s runs" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$port/slow" --release-slack 8ms --rate 1000 --duration 1s --threads 1 \
	--json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
w = s["latency_ms"]["p50"] - s["service_ms"]["p50"]
print("    ok %d service p50 %.3f wait p50 %.3f lag p99 %.3f ms" % (s["ok"],
      s["service_ms"]["p50"], w, s["lag_ms"]["p99"]), file=sys.stderr)
sys.exit(0 if s["ok"] == 1000 and s["service_ms"]["p50"] < 4 and w >= 2.5 and
         7 <= s["lag_ms"]["p99"] <= 12 else 1)' "$TMP/out" \
	&& ok "--release-slack: arrivals leave in batches, the oldest after the slack" \
	|| fail "--release-slack batches"

# no --release-slack: automatic, 1 ms from 10,000 arrivals/s per worker on
# (the step says so), none below; only the result is checked here, not the
# Python server's answers at that rate
timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/ok" --rate 10000 --duration 200ms --threads 1 \
	--max-error-rate 1 --json --quiet >"$TMP/out" 2>/dev/null
$PY -c 'import json,sys; j=json.load(open(sys.argv[1]))
sys.exit(0 if j["config"]["release_slack"] == "auto" and j["steps"][0]["release_slack_ms"] == 1 else 1)' \
	"$TMP/out" && ok "automatic release slack: 1 ms at 10,000/s per worker" || fail "automatic slack at 10k/s"
timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/ok" --rate 9000 --duration 200ms --threads 1 \
	--max-error-rate 1 --json --quiet >"$TMP/out" 2>/dev/null
$PY -c 'import json,sys; j=json.load(open(sys.argv[1]))
sys.exit(0 if j["config"]["release_slack"] == "auto" and "release_slack_ms" not in j["steps"][0] else 1)' \
	"$TMP/out" && ok "automatic release slack: none below 10,000/s per worker" || fail "automatic slack at 9k/s"

# --proxy is libcurl's: through this server as a forward proxy to a port
# nothing listens on, every request arrives (absolute-form) and is answered
closed=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_rc 0 "--proxy runs (on libcurl)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$closed/x" \
	--proxy "http://127.0.0.1:$port" --rate 30 --duration 1s --threads 1 --json --quiet
$PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; sys.exit(0 if s["ok"] == 30 else 1)' \
	"$TMP/out" && ok "--proxy: every request went through the proxy" || fail "--proxy result"
$PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["config"]["client"] == "curl" else 1)' \
	"$TMP/out" && ok "result.json names the client (curl)" || fail "config.client with --proxy"
expect_rc 2 "--proxy with --client native is refused" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$closed/x" --proxy "http://127.0.0.1:$port" --client native --rate 30 \
	--duration 1s --quiet
expect_grep "needs --client curl" "$TMP/err" "the refusal says why"
# find takes the same target options ([target] proxy, cert, key, streams)
timeout 60 "$KNEECAP" find "http://127.0.0.1:$closed/x" --proxy "http://127.0.0.1:$port" \
	--start 20 --max 40 --step-duration 1s --warmup 0s --no-confirm --threads 1 --quiet \
	--out "$TMP/findproxy" >"$TMP/out" 2>"$TMP/err"
$PY -c '
import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if d["config"]["client"] == "curl" and d["steps"][0]["ok"] > 0 else 1)' \
	"$TMP/findproxy/result.json" && ok "find --proxy: requests go through the proxy (libcurl)" ||
	{ fail "find --proxy"; head -3 "$TMP/err"; }

done_testing
