#!/usr/bin/env bash
# test_serve_h2.sh - `kneecap serve --h2-listen`: InvokeEndpoint over HTTP/2,
# h2c (prior knowledge) and TLS (ALPN h2), with the HTTP/1.1 face's
# answers, one shared model, SigV4 verification, the faults that make sense
# on HTTP/2, and hostile clients (answered or closed, never a crash).
# Debian's curl 7.88 cannot reuse h2c connections: one request per curl.
# Loopback only; about 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"

make_jpeg "$TMP/img.jpg" 256 256
printf 'this is not a jpeg' >"$TMP/text.bin"
head -c 2000000 /dev/zero >"$TMP/big.bin"
RAW="$(dirname "$0")/h2_raw.py"
SIGN="$(dirname "$0")/emu_h2_sign.py"

# h2 PATH ARGS...: one h2c request; headers to $TMP/h, body to $TMP/b,
# prints "STATUS VERSION".
h2() {
	local path=$1; shift
	curl -s -m 10 --http2-prior-knowledge -D "$TMP/h" -o "$TMP/b" \
		-w '%{http_code} %{http_version}' "$@" "http://127.0.0.1:$H2PORT$path"
}
inv() { local f=$1; shift; h2 /endpoints/tagger/invocations --data-binary "@$f" -H 'Content-Type: image/jpeg' "$@"; }

# ---- h2c: answers like the HTTP/1.1 face ---------------------------------
start_emu h2c --h2-listen 127.0.0.1:0 --endpoint-name tagger --service-time 5ms \
	--max-body 1M || { done_testing; exit 1; }
h2_port h2c || { done_testing; exit 1; }
expect_grep "^HTTP/2 \(h2c, prior knowledge\) on http://127\.0\.0\.1:$H2PORT$" "$TMP/h2c.out" \
	"prints the HTTP/2 URL"

[ "$(inv "$TMP/img.jpg")" = "200 2" ] && ok "h2c invocation: 200 over HTTP/2" || fail "h2c invocation: $(cat "$TMP/h")"
expect_grep '^content-type: application/json' "$TMP/h" "content-type application/json"
expect_grep '^x-amzn-invoked-production-variant: AllTraffic' "$TMP/h" "invoked-variant header"
expect_grep '^x-amzn-requestid: [0-9a-f-]{36}' "$TMP/h" "request id header"
expect_grep '"predictions":\[\{"label":"[a-z-]+","probability":0\.[0-9]+' "$TMP/b" "tag probabilities"
expect_grep '"width":256,"height":256' "$TMP/b" "the JPEG was decoded"
cp "$TMP/b" "$TMP/b_h2"
curl -s -m 10 -o "$TMP/b_h1" --data-binary "@$TMP/img.jpg" \
	"http://127.0.0.1:$PORT/endpoints/tagger/invocations"
cmp -s "$TMP/b_h1" "$TMP/b_h2" && ok "same image, same answer on HTTP/1.1 and HTTP/2" \
	|| fail "HTTP/1.1 and HTTP/2 answers differ"

[ "$(h2 /ping)" = "200 2" ] && ok "GET /ping 200" || fail "GET /ping"
[ "$(h2 /endpoints/tagger/invocations-response-stream --data-binary "@$TMP/img.jpg")" = "400 2" ] \
	&& ok "response stream over HTTP/2: 400 (HTTP/1.1 only)" || fail "response stream over h2: $(cat "$TMP/h")"
expect_grep 'HTTP/1.1 only' "$TMP/b" "the 400 says why"
[ "$(h2 /nope)" = "404 2" ] && ok "unknown path: 404" || fail "unknown path: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: UnknownOperationException' "$TMP/h" "404 error type"
[ "$(h2 /endpoints/tagger/invocations)" = "405 2" ] && ok "GET on invocations: 405" \
	|| fail "GET on invocations: $(cat "$TMP/h")"
expect_grep '^allow: POST' "$TMP/h" "405 names the allowed method"
[ "$(h2 /endpoints/other/invocations --data-binary "@$TMP/img.jpg")" = "400 2" ] \
	&& ok "other endpoint name: 400" || fail "other endpoint name: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: ValidationError' "$TMP/h" "ValidationError type"

[ "$(inv "$TMP/text.bin")" = "424 2" ] && ok "non-JPEG body: 424" || fail "non-JPEG: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: ModelError' "$TMP/h" "ModelError type"
$PY -c "
import json; b=json.load(open('$TMP/b'))
assert b['OriginalStatusCode']==400 and 'not a JPEG' in b['OriginalMessage'], b" \
	&& ok "ModelError body has OriginalStatusCode/OriginalMessage" || fail "ModelError body: $(cat "$TMP/b")"

[ "$(inv "$TMP/big.bin")" = "413 2" ] && ok "2 MB body over a 1 MB max-body: 413 (Content-Length)" \
	|| fail "oversize body: $(cat "$TMP/h")"
expect_grep 'exceeds the 1048576-byte limit' "$TMP/b" "413 names the limit"
# No Content-Length (curl streams stdin): detected as the data arrives.
st=$(h2 /endpoints/tagger/invocations -X POST -T - <"$TMP/big.bin")
[ "$st" = "413 2" ] && ok "2 MB streamed body without Content-Length: 413" || fail "streamed oversize: $st"

# One model behind both faces: HTTP/2 answers count in the same stats.
served=$(stat_field "['served']")
[ "$served" = 2 ] && ok "HTTP/1.1 stats count both faces' answers (served $served)" \
	|| fail "served $served, wanted 2"
curl -s -m 5 --http2-prior-knowledge -o "$TMP/st" "http://127.0.0.1:$H2PORT/emulator/stats"
$PY -c "
import json; s=json.load(open('$TMP/st'))
e=s['errors']; assert s['served']==2 and e['too_large']==2 and e['model_error']==1 and e['not_found']==1, s" \
	&& ok "GET /emulator/stats over HTTP/2: the same counters" || fail "h2 stats: $(cat "$TMP/st")"

# ---- hostile clients: answered or closed, never a crash or a hang ------------
for c in garbage http1; do
	v=$($PY "$RAW" "$H2PORT" "$c")
	case "$v" in closed|goaway) ok "$c on the h2c port: connection closed ($v)";;
		*) fail "$c on the h2c port: $v";; esac
done
v=$($PY "$RAW" "$H2PORT" bigheaders)
case "$v" in "rst 1"|goaway|closed) ok "96 KiB header block: refused ($v)";;
	*) fail "huge header block: $v";; esac
v=$($PY "$RAW" "$H2PORT" resetmid)
[ "$v" = alive ] && ok "streams reset mid-body and mid-wait: the connection goes on" \
	|| fail "reset mid-body: $v"
sleep 0.1
inflight=$(stat_field "['in_flight']")
[ "$inflight" = 0 ] && ok "reset streams released their model places" || fail "in_flight $inflight"
[ "$(h2 /ping)" = "200 2" ] && ok "still answering after the hostile clients" || fail "dead after hostile clients"
stop_emu

# ---- TLS with ALPN h2 ----------------------------------------------------------
# From a scenario file this time: every flag is an [emulator] key.
cat >"$TMP/tls.ini" <<INI
[emulator]
h2_listen = 127.0.0.1:0
h2_mode = tls
h2_cert_out = $TMP/cert.pem
service_time = 2ms
INI
start_emu tls "$TMP/tls.ini" || { done_testing; exit 1; }
h2_port tls || { done_testing; exit 1; }
expect_grep "^HTTP/2 \(TLS, ALPN h2\) on https://127\.0\.0\.1:$H2PORT$" "$TMP/tls.out" "prints the https URL"
st=$(curl -s -m 10 --http2 -k -D "$TMP/h" -o "$TMP/b" -w '%{http_code} %{http_version}' \
	--data-binary "@$TMP/img.jpg" "https://127.0.0.1:$H2PORT/endpoints/x/invocations")
[ "$st" = "200 2" ] && ok "TLS (curl --http2 -k): 200 over HTTP/2" || fail "TLS: $st"
expect_grep '"width":256,"height":256' "$TMP/b" "TLS: the JPEG was decoded"
st=$(curl -s -m 10 --http2 --cacert "$TMP/cert.pem" -o /dev/null -w '%{http_code} %{http_version}' \
	"https://127.0.0.1:$H2PORT/ping")
[ "$st" = "200 2" ] && ok "TLS: the written certificate verifies for 127.0.0.1" || fail "TLS --cacert: $st"
st=$(curl -s -m 10 --http1.1 -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$H2PORT/ping")
[ "$st" = 000 ] && ok "TLS without ALPN h2: refused" || fail "TLS http/1.1 got $st"
[ "$(curl -s -m 5 -k --http2 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$H2PORT/nope")" = 404 ] \
	&& ok "TLS still answering (404)" || fail "TLS dead after a refused handshake"
stop_emu

# ---- SigV4 over HTTP/2 (botocore signs, curl sends; test keys) ---------------
AK=AKIDEXAMPLE SK=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY
start_emu sig --h2-listen 127.0.0.1:0 --verify-sigv4 "$AK:$SK" --service-time 1ms \
	|| { done_testing; exit 1; }
h2_port sig || { done_testing; exit 1; }
URL="http://127.0.0.1:$H2PORT/endpoints/tagger/invocations"
$PY "$SIGN" "$URL" "$AK" "$SK" "$TMP/img.jpg" >"$TMP/sighdr" || fail "botocore signing failed"
hdrs=()
while IFS= read -r l; do hdrs+=(-H "$l"); done <"$TMP/sighdr"
# sinv FILE: POST FILE with the signed headers (they carry Content-Type).
sinv() { local f=$1; shift; h2 /endpoints/tagger/invocations --data-binary "@$f" "${hdrs[@]}" "$@"; }
[ "$(sinv "$TMP/img.jpg")" = "200 2" ] && ok "SigV4 (botocore-signed) accepted over HTTP/2" \
	|| { fail "signed h2 request: $(cat "$TMP/h" "$TMP/b")"; }
cp "$TMP/img.jpg" "$TMP/tampered.jpg"
printf '\x00' | dd of="$TMP/tampered.jpg" bs=1 seek=200 conv=notrunc 2>/dev/null
[ "$(sinv "$TMP/tampered.jpg")" = "403 2" ] && ok "tampered body: 403" \
	|| fail "tampered body: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: InvalidSignatureException' "$TMP/h" "InvalidSignatureException"
[ "$(inv "$TMP/img.jpg")" = "403 2" ] && ok "unsigned request: 403" || fail "unsigned: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: MissingAuthenticationTokenException' "$TMP/h" "MissingAuthenticationToken"
# Unsigned extra headers do not count, but they must fit: 6 KB does (a
# session token and a long user agent pass 4 KiB), 20 KB does not.
pad=$(head -c 6000 /dev/zero | tr '\0' a)
[ "$(sinv "$TMP/img.jpg" -H "x-pad: $pad")" = "200 2" ] && ok "SigV4 with 6 KB of other headers: 200" \
	|| fail "SigV4 with 6 KB of headers: $(cat "$TMP/h" "$TMP/b")"
pad=$(head -c 20000 /dev/zero | tr '\0' a)
[ "$(sinv "$TMP/img.jpg" -H "x-pad: $pad")" = "403 2" ] && ok "SigV4 with 20 KB of other headers: 403" \
	|| fail "SigV4 with 20 KB of headers: $(cat "$TMP/h")"
expect_grep 'headers too large' "$TMP/b" "the 403 says the headers are too large"
if grep -q "$SK" "$TMP/sig.out" "$TMP/sig.err"; then fail "secret in serve output"; else ok "secret never printed"; fi
stop_emu

# ---- faults over HTTP/2 -----------------------------------------------------------
start_emu err --h2-listen 127.0.0.1:0 --service-time 1ms --fault-error 503:1 || { done_testing; exit 1; }
h2_port err
[ "$(inv "$TMP/img.jpg")" = "503 2" ] && ok "fault_error 503:1 -> 503" || fail "fault_error: $(cat "$TMP/h")"
expect_grep '^x-amzn-errortype: ServiceUnavailable' "$TMP/h" "ServiceUnavailable type"
stop_emu

start_emu rst --h2-listen 127.0.0.1:0 --service-time 1ms --fault-reset 1 || { done_testing; exit 1; }
h2_port rst
inv "$TMP/img.jpg" >/dev/null; rc=$?
[ "$rc" = 92 ] && ok "fault_reset: RST_STREAM (curl exit 92)" || fail "fault_reset: curl exit $rc"
[ "$(stat_field "['errors']['reset']")" = 1 ] && ok "reset counted" || fail "reset not counted"
stop_emu

start_emu mid --h2-listen 127.0.0.1:0 --service-time 1ms --fault-reset-mid 1 --input any \
	|| { done_testing; exit 1; }
h2_port mid
curl -s -v -m 10 --http2-prior-knowledge -o /dev/null --data-binary "@$TMP/img.jpg" \
	"http://127.0.0.1:$H2PORT/endpoints/a/invocations" 2>"$TMP/v"; rc=$?
[ "$rc" = 92 ] || [ "$rc" = 18 ] && ok "fault_reset_mid: half a body, then RST_STREAM (curl exit $rc)" \
	|| fail "fault_reset_mid: curl exit $rc"
v=$($PY "$RAW" "$H2PORT" frames)
[ "$v" = "HEADERS DATA RST" ] && ok "fault_reset_mid frames: HEADERS, half a body, RST_STREAM" \
	|| fail "fault_reset_mid frames: $v"
stop_emu

start_emu slow --h2-listen 127.0.0.1:0 --service-time 1ms --fault-slow 1 \
	--fault-slow-chunk 100 --fault-slow-interval 50ms || { done_testing; exit 1; }
h2_port slow
t0=$(date +%s%N)
st=$(inv "$TMP/img.jpg")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
n=$(wc -c <"$TMP/b")
# ~260 bytes in 100-byte chunks 50 ms apart: at least 100 ms.
[ "$st" = "200 2" ] && [ "$ms" -ge 100 ] && [ "$n" -gt 200 ] && ok "fault_slow: whole body trickled in $ms ms" \
	|| fail "fault_slow: $st in $ms ms, $n bytes"
stop_emu

# A 2 s window from the start: the answer waits for its end, whatever the
# start-up took (sanitizer builds start slowly).
start_emu stall --h2-listen 127.0.0.1:0 --service-time 1ms --fault-stall 2s --fault-stall-at 0 \
	|| { done_testing; exit 1; }
h2_port stall
t0=$(date +%s%N)
st=$(inv "$TMP/img.jpg")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$st" = "200 2" ] && [ "$ms" -ge 700 ] && ok "fault_stall: the answer waited for the window ($ms ms)" \
	|| fail "fault_stall: $st in $ms ms"
stop_emu

start_emu dead --h2-listen 127.0.0.1:0 --service-time 1ms --fault-close-after 2 || { done_testing; exit 1; }
h2_port dead
[ "$(inv "$TMP/img.jpg")" = "200 2" ] && [ "$(inv "$TMP/img.jpg")" = "200 2" ] \
	&& ok "fault_close_after 2: two answers" || fail "close_after: first answers"
sleep 0.3
inv "$TMP/img.jpg" >/dev/null; rc=$?
[ "$rc" = 7 ] && ok "then the HTTP/2 listener refuses connections (curl exit 7)" || fail "after close_after: curl exit $rc"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$PORT/ping"; rc=$?
[ "$rc" = 7 ] && ok "and so does the HTTP/1.1 one" || fail "HTTP/1.1 after close_after: curl exit $rc"
stop_emu
# A stream past close_after is reset INTERNAL_ERROR (2), not REFUSED_STREAM
# (7), which clients retry at once, each retry counted dead again.
start_emu dead1 --h2-listen 127.0.0.1:0 --service-time 500ms --fault-close-after 1 --input any \
	|| { done_testing; exit 1; }
h2_port dead1
v=$($PY "$RAW" "$H2PORT" dead)
[ "$v" = "rst 3 2" ] && ok "the stream past close_after: RST_STREAM INTERNAL_ERROR" \
	|| fail "the stream past close_after: $v"
stop_emu

# ---- bounded streams: past h2_max_streams, RST_STREAM REFUSED_STREAM ---------------
start_emu cap --h2-listen 127.0.0.1:0 --h2-max-streams 16 --threads 1 --slots 100 \
	--service-time 300ms --input any || { done_testing; exit 1; }
h2_port cap
# Two connections on one loop, each promised 16: 32 streams on 16 slots.
h2load -n 32 -c 2 -m 16 -d "$TMP/text.bin" "http://127.0.0.1:$H2PORT/endpoints/a/invocations" \
	>"$TMP/h2cap" 2>&1
grep -qE '^requests: 32 total, 32 started, 32 done, 16 succeeded, 16 failed' "$TMP/h2cap" \
	&& ok "32 streams at once on 16 stream slots: 16 answered, 16 refused" \
	|| fail "stream slots: $(grep '^requests' "$TMP/h2cap")"
[ "$(stat_field "['errors']['internal']")" = 16 ] && [ "$(stat_field "['in_flight']")" = 0 ] \
	&& ok "refusals counted as internal, nothing left in flight" || fail "refusal accounting"
[ "$(inv "$TMP/text.bin")" = "200 2" ] && ok "the slots are free again afterwards" || fail "slots not freed"
stop_emu
# 64 slots over 4 loops, 16 a loop: a connection is promised 16 streams,
# not h2_max_concurrent's 256, so a client that keeps to it is never refused.
start_emu share --h2-listen 127.0.0.1:0 --h2-max-streams 64 --threads 4 --input any \
	|| { done_testing; exit 1; }
h2_port share
v=$($PY "$RAW" "$H2PORT" settings)
[ "$v" = 16 ] && ok "SETTINGS_MAX_CONCURRENT_STREAMS is the loop's share (16)" \
	|| fail "SETTINGS_MAX_CONCURRENT_STREAMS $v, the loop has 16 slots"
stop_emu

# ---- out of descriptors: the listener rests instead of spinning ----------------
# The process may open 3 more descriptors; 20 connections wait in the
# backlog.  Loop 0 must not spin on a readable listener that accept4 answers
# with EMFILE: its CPU time over a second stays far below a core's.
start_emu fds --h2-listen 127.0.0.1:0 --threads 1 --input any || { done_testing; exit 1; }
h2_port fds
nfd=$(ls /proc/$PID/fd | wc -l)
prlimit --pid "$PID" --nofile=$((nfd + 3)):$((nfd + 3))
$PY - "$H2PORT" "$PID" >"$TMP/fds" <<'PYEOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
def ticks():
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
time.sleep(0.3)
t0 = ticks(); time.sleep(1.0); t1 = ticks()
print(t1 - t0)
for s in socks:
    s.close()
PYEOF
t=$(cat "$TMP/fds")
[ -n "$t" ] && [ "$t" -lt 30 ] && ok "EMFILE: the listener rests ($t ticks of CPU in 1 s)" \
	|| fail "EMFILE: loop 0 spins ($t ticks of CPU in 1 s)"
prlimit --pid "$PID" --nofile=1024:1024
sleep 0.3
[ "$(h2 /ping)" = "200 2" ] && ok "accepting again once descriptors are free" || fail "no accepts after EMFILE"
stop_emu

# ---- timeouts: no preface, idle, a request that never ends --------------------
start_emu tmo --h2-listen 127.0.0.1:0 --h2-idle-timeout 1s --h2-handshake-timeout 1s \
	--input any || { done_testing; exit 1; }
h2_port tmo
for c in silent idle; do
	t0=$(date +%s%N)
	v=$($PY "$RAW" "$H2PORT" "$c")
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	case "$v" in closed|goaway) ok "$c connection closed after $ms ms ($v)";;
		*) fail "$c connection: $v after $ms ms";; esac
done
v=$($PY "$RAW" "$H2PORT" stalled)
[ "$v" = "rst 1" ] && ok "a request whose body never comes is reset" || fail "stalled request: $v"
[ "$(stat_field "['in_flight']")" = 0 ] && [ "$(h2 /ping)" = "200 2" ] \
	&& ok "still answering after the timeouts" || fail "after the timeouts"
stop_emu

# ---- stored bodies share one budget: past it 503, and it comes back ------------
start_emu bmem --h2-listen 127.0.0.1:0 --h2-body-memory 1M --max-body 2M --service-time 1ms \
	|| { done_testing; exit 1; }
h2_port bmem
head -c 600000 /dev/zero >"$TMP/600k.bin"
# A: 600 KB, then the body stays open 2 s (its 1 MiB is held meanwhile).
( cat "$TMP/600k.bin"; sleep 2 ) | curl -s -m 10 --http2-prior-knowledge -o /dev/null \
	-w '%{http_code}' -X POST -T - "http://127.0.0.1:$H2PORT/endpoints/a/invocations" >"$TMP/ast" &
AP=$!
sleep 1
[ "$(inv "$TMP/600k.bin")" = "503 2" ] && ok "a second 600 KB body past the 1 MiB budget: 503" \
	|| fail "body past the budget: $(cat "$TMP/h")"
expect_grep 'out of body memory' "$TMP/b" "the 503 says why"
wait $AP
[ "$(cat "$TMP/ast")" = 424 ] && ok "the body within the budget was read whole (424: not a JPEG)" \
	|| fail "the body within the budget: $(cat "$TMP/ast")"
[ "$(inv "$TMP/img.jpg")" = "200 2" ] && ok "the budget comes back when the stream closes" \
	|| fail "budget not returned: $(cat "$TMP/h")"
[ "$(stat_field "['errors']['internal']")" = 1 ] && ok "the 503 counted (internal)" || fail "503 not counted"
stop_emu

# ---- cancelled streams keep their model places until their service ends ----------
# 1 instance x 2 slots, queue_limit 4: of 12 streams cancelled at once 6 hold
# the model (2 served, 4 queued) until done, so the 13th is refused at once
# (503) and the stats show the queue full; none of them is in flight.
start_emu ghost --h2-listen 127.0.0.1:0 --threads 1 --instances 1 --slots 2 --queue-limit 4 \
	--service-time 3s --input any || { done_testing; exit 1; }
h2_port ghost
v=$($PY "$RAW" "$H2PORT" cancelflood)
[ "$v" = answered ] && ok "cancelled streams still fill the queue: the next one is refused at once" \
	|| fail "cancel flood: the next stream was $v (admitted past queue_limit)"
q=$(stat_field "['queue_depth']"); sv=$(stat_field "['in_service']"); fl=$(stat_field "['in_flight']")
[ "$q" = 4 ] && [ "$sv" = 2 ] && [ "$fl" = 0 ] \
	&& ok "stats: queue 4, in service 2, nothing in flight" || fail "stats: queue $q, in service $sv, in flight $fl"
stop_emu

# ---- stop with answers pending: 503, then a clean exit -----------------------------
start_emu pend --h2-listen 127.0.0.1:0 --service-time 5s --input any || { done_testing; exit 1; }
h2_port pend
curl -s -m 10 --http2-prior-knowledge -o "$TMP/pb" -w '%{http_code}' --data-binary 'x' \
	"http://127.0.0.1:$H2PORT/endpoints/a/invocations" >"$TMP/pst" &
CP=$!
sleep 0.5
stop_emu
wait $CP
[ "$(cat "$TMP/pst")" = 503 ] && ok "SIGTERM answers a waiting HTTP/2 invocation 503" \
	|| fail "pending at stop: $(cat "$TMP/pst")"

done_testing
