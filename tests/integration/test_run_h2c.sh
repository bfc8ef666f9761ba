#!/usr/bin/env bash
# test_run_h2c.sh - `kneecap run --http h2c` (unary requests on nghttp2,
# src/engine/h2unary.c) against nghttpd --no-tls on 127.0.0.1: 500 RPS for 3 s
# holds its rate with zero errors and result.json, steps.csv and latency.hlog
# agree; closed loop and POST bodies work; streams a GOAWAY refused are sent
# again and succeed; a server that dies mid-run and one that never answers
# give completed runs with their errors counted; responses nghttp2 finds
# invalid count as proto; an unreachable port is the usual one-line error,
# exit 3.
# Every server is killed by the trap; every run is bounded by `timeout`.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
HLOG_COUNT="$KC_SRCDIR/tests/integration/helpers/hlog_count.py"
H2SRV="$KC_SRCDIR/tests/integration/helpers/h2_server.py"
NGHTTPD=$(command -v nghttpd || echo /usr/bin/nghttpd)
if [ ! -x "$NGHTTPD" ]; then echo "nghttpd not installed (scripts/setup installs nghttp2-server)"; exit 77; fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port: true once it accepts (5 s at most)
	for _ in $(seq 50); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2).close()" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# nghttpd serves $TMP/docs; --echo-upload answers a POST with its body.
mkdir -p "$TMP/docs"
printf 'ok\n' >"$TMP/docs/index.html"
head -c 3000 /dev/urandom >"$TMP/body.bin"
start_nghttpd() { # sets ngport, ngpid
	for _ in 1 2 3; do
		ngport=$(free_port)
		"$NGHTTPD" --no-tls --echo-upload -a 127.0.0.1 -d "$TMP/docs" "$ngport" \
			>/dev/null 2>"$TMP/nghttpd.err" &
		ngpid=$!
		pids+=("$ngpid")
		wait_port "$ngport" && return 0
		kill "$ngpid" 2>/dev/null; wait "$ngpid" 2>/dev/null
	done
	return 1
}
start_nghttpd || { fail "nghttpd started"; cat "$TMP/nghttpd.err"; done_testing; exit 1; }
URL="http://127.0.0.1:$ngport/index.html"

# check_counts DIR RATE SECONDS: achieved within 1 %, zero errors, the three outputs agree.
check_counts() {
	$PY - "$1" "$HLOG_COUNT" "$2" "$3" >"$TMP/check" 2>&1 <<-'EOF'
	import csv, json, subprocess, sys
	d, hc, rate, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
	r = json.load(open(d + "/result.json"))
	s = r["steps"][0]
	row = list(csv.DictReader(open(d + "/steps.csv")))[0]
	h = dict(l.split() for l in subprocess.run(["/usr/bin/python3", hc, d + "/latency.hlog"],
	    capture_output=True, text=True, check=True).stdout.splitlines())
	print("config_http_h2c", r["config"].get("http") == "h2c", r["config"].get("http"))
	print("achieved_within_1pct", abs(s["achieved"] - rate) / rate <= 0.01, s["achieved"])
	print("zero_errors", s["errors"] == 0 and int(row["errors"]) == 0, s["errors"], s["error_classes"])
	print("scheduled", s["scheduled"] == int(rate * secs), s["scheduled"])
	print("all_ok", s["ok"] == s["scheduled"] == s["completed"], s["ok"])
	print("json_csv_counts_equal", int(row["completed"]) == s["completed"] and
	      int(row["scheduled"]) == s["scheduled"] and int(row["ok"]) == s["ok"])
	print("json_hlog_counts_equal", int(h["total"]) == s["completed"] == s["latency_ms"]["count"],
	      h["total"], s["completed"])
	print("ttfb_recorded", s["ttfb_ms"]["count"] == s["completed"] if isinstance(s["ttfb_ms"], dict)
	      and "count" in s["ttfb_ms"] else s["ttfb_ms"]["p50"] > 0, s["ttfb_ms"])
	print("service_le_latency", s["service_ms"]["p50"] <= s["latency_ms"]["p50"] + 0.001)
	EOF
	while read -r name verdict rest; do
		[ "$verdict" = True ] && ok "$name $rest" || fail "$name $verdict $rest"
	done <"$TMP/check"
	grep -q Traceback "$TMP/check" && { fail "result check crashed"; cat "$TMP/check"; }
}

# --- open loop: 500 RPS for 3 s (a busy machine may stall the client: one retry) ---
for attempt in 1 2; do
	rm -rf "$TMP/o1"
	expect_rc 0 "h2c 500 rps for 3 s exits 0 (attempt $attempt)" timeout 30 "$KNEECAP" run "$URL" \
		--http h2c --rate 500 --duration 3s --threads 1 --connections 2 --out "$TMP/o1" --quiet
	$PY -c 'import json,sys; sys.exit(1 if json.load(open(sys.argv[1]))["steps"][0]["generator_bound"] else 0)' \
		"$TMP/o1/result.json" 2>/dev/null && break
	echo "# attempt $attempt was generator-bound (machine busy); trying again"
done
check_counts "$TMP/o1" 500 3

# --- POST bodies, two threads: every request answered ---
expect_rc 0 "h2c POST exits 0" timeout 30 "$KNEECAP" run "$URL" --http h2c --rate 300 \
	--duration 1s --threads 2 --connections 2 --streams 4 --body "$TMP/body.bin" --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["ok"], s["errors"]); sys.exit(0 if s["ok"] == 300 and s["errors"] == 0 else 1)' "$TMP/out" \
	&& ok "h2c POST: 300 ok, no errors" || fail "h2c POST result"

# --- user headers HTTP/2 forbids or build_nv writes itself are dropped: a
# second content-length makes nghttpd reset every stream; TE: trailers stays ---
expect_rc 0 "h2c POST with -H Content-Length exits 0" timeout 30 "$KNEECAP" run "$URL" --http h2c \
	--rate 100 --duration 1s --threads 1 --body "$TMP/body.bin" -H 'Content-Length: 3000' \
	-H 'Connection: keep-alive' -H 'Keep-Alive: timeout=5' -H 'TE: trailers' \
	-H 'Transfer-Encoding: chunked' -H 'Upgrade: h2c' --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["ok"], s["errors"]); sys.exit(0 if s["ok"] == 100 and s["errors"] == 0 else 1)' "$TMP/out" \
	&& ok "h2c connection-specific and content-length user headers dropped: 100 ok" \
	|| fail "h2c forbidden headers"

# --- a 404 is counted by code, not as a transport error ---
expect_rc 1 "h2c 404 run exits 1 (error rate above 1%)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$ngport/missing" \
	--http h2c --rate 100 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
sys.exit(0 if s["error_classes"]["http4xx"] == 100 and s["status_codes"].get("404") == 100 else 1)' \
	"$TMP/out" && ok "h2c 404s counted as http_4xx by code" || { fail "h2c 404 accounting"; head -c 600 "$TMP/out"; }

# --- closed loop: 8 outstanding on 2 connections x 4 streams ---
expect_rc 0 "h2c closed loop exits 0" timeout 30 "$KNEECAP" run "$URL" --http h2c --concurrency 8 \
	--duration 1s --threads 1 --connections 2 --streams 4 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["ok"], s["errors"], s["inflight_max"])
sys.exit(0 if s["ok"] > 500 and s["errors"] == 0 and s["inflight_max"] <= 8 else 1)' "$TMP/out" \
	&& ok "h2c closed loop: many ok, no errors, at most 8 in flight" || fail "h2c closed loop result"

# --- the server dies mid-run: the run completes, the failures are counted ---
timeout 30 "$KNEECAP" run "$URL" --http h2c --rate 200 --duration 3s --threads 1 --timeout 1s \
	--json --quiet >"$TMP/out" 2>"$TMP/err" &
kpid=$!
sleep 1.5
kill "$ngpid"; wait "$ngpid" 2>/dev/null
wait $kpid
rc=$?
[ $rc = 1 ] && ok "server died mid-run: run completes (exit 1: error rate)" || { fail "server died: exit $rc"; cat "$TMP/err"; }
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
e = s["error_classes"]
print(s["ok"], s["errors"], e)
sys.exit(0 if s["ok"] > 100 and s["errors"] > 100 and s["ok"] + s["errors"] == s["scheduled"] and
         e["connect"] + e["reset"] == s["errors"] else 1)' "$TMP/out" \
	&& ok "server died: ok before, connect/reset errors after, all counted" \
	|| fail "server died accounting"

# --- GOAWAY: every 50th request on a connection is refused; kneecap sends it
# again on a new connection (the server did not process it), so nothing fails ---
$PY "$H2SRV" "$TMP/pf" goaway --every 50 --max-s 60 >"$TMP/goaways" 2>&1 &
gpid=$!
pids+=("$gpid")
for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
gport=$(cat "$TMP/pf")
expect_rc 0 "GOAWAY server: run completes" timeout 30 "$KNEECAP" run "http://127.0.0.1:$gport/" \
	--http h2c --rate 200 --duration 2s --threads 1 --connections 1 --json --quiet
kill "$gpid"; wait "$gpid" 2>/dev/null
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
e = s["error_classes"]; n = int(open(sys.argv[2]).read().split()[-1])
print(s["ok"], s["errors"], e, "goaways", n)
# 400 requests: 50 answered then one refused per connection, resent on the next
sys.exit(0 if n >= 7 and s["errors"] == 0 and s["ok"] == s["scheduled"] == 400 else 1)' \
	"$TMP/out" "$TMP/goaways" && ok "GOAWAY: refused streams resent on a new connection, all ok" \
	|| fail "GOAWAY accounting"

# --- GOAWAY while requests wait behind MAX_CONCURRENT_STREAMS 1 inside nghttp2:
# those never left, so they too are resent and nothing fails ---
$PY "$H2SRV" "$TMP/pf3" goaway --every 50 --max-streams 1 --delay-ms 4 --max-s 60 \
	>"$TMP/goaways3" 2>&1 &
gpid=$!
pids+=("$gpid")
for _ in $(seq 100); do [ -s "$TMP/pf3" ] && break; sleep 0.05; done
gport=$(cat "$TMP/pf3")
expect_rc 0 "GOAWAY with queued streams: run completes" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$gport/" --http h2c --rate 300 --duration 1s --threads 1 --connections 1 \
	--json --quiet
kill "$gpid"; wait "$gpid" 2>/dev/null
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
n = int(open(sys.argv[2]).read().split()[-1])
print(s["ok"], s["errors"], s["error_classes"], "goaways", n)
sys.exit(0 if n >= 5 and s["errors"] == 0 and s["ok"] == s["scheduled"] == 300 else 1)' \
	"$TMP/out" "$TMP/goaways3" && ok "GOAWAY with queued streams: all resent, all ok" \
	|| fail "GOAWAY with queued streams accounting"

# --- a connection whose peer got stuck after 20 answers: after a few timeouts
# in a row it is retired and a new one serves the rest (without that, every
# later request would time out on it) ---
$PY "$H2SRV" "$TMP/pf4" stall --every 20 --max-s 30 >/dev/null 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do [ -s "$TMP/pf4" ] && break; sleep 0.05; done
sport=$(cat "$TMP/pf4")
expect_rc 1 "stuck connection: run completes (exit 1: error rate)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$sport/" \
	--http h2c --rate 50 --duration 2s --threads 1 --connections 1 --timeout 200ms --json --quiet
kill "$spid"; wait "$spid" 2>/dev/null
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
e = s["error_classes"]
print(s["ok"], s["errors"], e)
sys.exit(0 if s["ok"] >= 40 and e["timeout"] == s["errors"] and s["ok"] + s["errors"] == 100 else 1)' \
	"$TMP/out" && ok "stuck connection retired after timeouts in a row: later requests succeed" \
	|| fail "stuck connection accounting"

# --- responses that break HTTP/2, which nghttp2 itself detects: a body shorter
# than its content-length (nghttp2 resets the stream) and a DATA frame on
# stream 0 (nghttp2 ends the connection with GOAWAY) count as proto, not reset ---
for mode in badlen badconn; do
	$PY "$H2SRV" "$TMP/pf-$mode" $mode --max-s 60 >/dev/null 2>&1 &
	bpid=$!
	pids+=("$bpid")
	for _ in $(seq 100); do [ -s "$TMP/pf-$mode" ] && break; sleep 0.05; done
	bport=$(cat "$TMP/pf-$mode")
	expect_rc 1 "$mode server: run completes (exit 1: error rate)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$bport/" \
		--http h2c --rate 20 --duration 1s --threads 1 --timeout 2s --json --quiet
	kill "$bpid"; wait "$bpid" 2>/dev/null
	$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["ok"], s["errors"], s["error_classes"])
sys.exit(0 if s["errors"] == 20 and s["error_classes"]["proto"] == 20 else 1)' \
		"$TMP/out" && ok "$mode server: every request a protocol error" \
		|| { fail "$mode server accounting"; head -c 800 "$TMP/out"; }
done

# --- a server that never answers: every request times out, the run ends ---
$PY "$H2SRV" "$TMP/pf2" hang --max-s 60 >/dev/null 2>&1 &
hpid=$!
pids+=("$hpid")
for _ in $(seq 100); do [ -s "$TMP/pf2" ] && break; sleep 0.05; done
hport=$(cat "$TMP/pf2")
t0=$(date +%s)
expect_rc 1 "silent h2c server: run completes (exit 1: error rate)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$hport/" \
	--http h2c --rate 20 --duration 1s --threads 1 --timeout 500ms --json --quiet
[ $(( $(date +%s) - t0 )) -le 6 ] && ok "silent h2c server: bounded by the timeout" || fail "silent server took too long"
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
sys.exit(0 if s["errors"] == 20 and s["error_classes"]["timeout"] == 20 and s["ok"] == 0 else 1)' \
	"$TMP/out" && ok "silent h2c server: every request a timeout" || fail "silent h2c server accounting"

# --- unreachable port: the one-line error and exit 3 of HTTP/1.1 ---
closed=$(free_port)
expect_rc 3 "h2c refused connection exits 3" timeout 20 "$KNEECAP" run "http://127.0.0.1:$closed/" \
	--http h2c --rate 10 --duration 1s
expect_grep "cannot connect to 127.0.0.1:$closed" "$TMP/err" "h2c refused connection is named"
[ "$(err_lines)" = 1 ] && ok "h2c refused connection: one line" || { fail "one line"; cat "$TMP/err"; }
expect_rc 2 "h2c with https:// exits 2" timeout 20 "$KNEECAP" run "https://127.0.0.1:$closed/" \
	--http h2c --rate 10 --duration 1s
expect_grep "h2c is cleartext" "$TMP/err" "h2c with https:// says why"

# --- response streams are not read on h2c yet: refused in one line ---
AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none" AWS_EC2_METADATA_DISABLED=true \
	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDKNEECAPTEST1 AWS_SECRET_ACCESS_KEY=notasecret \
	expect_rc 2 "h2c with --response-stream exits 2" timeout 20 "$KNEECAP" run sagemaker:x \
	--endpoint-url "http://127.0.0.1:$closed" --http h2c --response-stream --rate 10 --duration 1s \
	--body "$TMP/body.bin"
expect_grep "response-stream is not supported with --http h2c" "$TMP/err" "h2c with --response-stream says why"
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "h2c with --response-stream: one line" || { fail "one line"; cat "$TMP/err"; }

# --- kneecap serve's h2c InvokeEndpoint (when the emulator answers unary h2c) ---
# Left for when `kneecap serve` speaks h2c on its HTTP port: run check_counts
# against "http://127.0.0.1:$PORT/endpoints/x/invocations" with --http h2c.

done_testing
