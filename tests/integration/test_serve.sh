#!/usr/bin/env bash
# test_serve.sh - `kneecap serve`: SageMaker-shaped answers, bad input
# (answered, never a crash), the CLI contract and every injected fault.
# Loopback only; about 10 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"

make_jpeg "$TMP/img.jpg" 256 256
make_jpeg "$TMP/img2.jpg" 64 48
printf 'this is not a jpeg' >"$TMP/text.bin"
head -c 7000000 /dev/zero >"$TMP/huge.bin"
SCEN="$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini"

# curl_to URL ARGS...: writes headers to $TMP/h, body to $TMP/b, prints status.
curl_to() {
	local url=$1; shift
	curl -s -m 10 -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$@" "$url"
}
post() { curl_to "http://127.0.0.1:$PORT/endpoints/$1/invocations" --data-binary "@$2" \
	-H 'Content-Type: image/jpeg'; }

# ---- the seed scenario, fast service so the test is quick --------------
start_emu seed "$SCEN" --service-time 5ms || { done_testing; exit 1; }
expect_grep '^nominal capacity: 400\.0 RPS' "$TMP/seed.out" "prints the nominal capacity"
expect_grep "^listening on http://127\.0\.0\.1:$PORT" "$TMP/seed.out" "prints the URL"

[ "$(curl_to "http://127.0.0.1:$PORT/ping")" = 200 ] && ok "GET /ping 200" || fail "GET /ping"

st=$(post product-tagger "$TMP/img.jpg")
[ "$st" = 200 ] && ok "invocation 200" || fail "invocation got $st"
expect_grep '^Content-Type: application/json' "$TMP/h" "Content-Type application/json"
expect_grep '^x-Amzn-Invoked-Production-Variant: AllTraffic' "$TMP/h" "invoked-variant header"
expect_grep '^x-amzn-RequestId: [0-9a-f-]{36}' "$TMP/h" "request id header"
expect_grep '"predictions":\[\{"label":"[a-z-]+","probability":0\.[0-9]+' "$TMP/b" "tag probabilities"
expect_grep '"width":256,"height":256' "$TMP/b" "the JPEG was decoded (its size)"
cp "$TMP/b" "$TMP/b1"
post product-tagger "$TMP/img.jpg" >/dev/null
cmp -s "$TMP/b" "$TMP/b1" && ok "same image, same tags" || fail "tags not deterministic"
post product-tagger "$TMP/img2.jpg" >/dev/null
cmp -s "$TMP/b" "$TMP/b1" && fail "different image, same tags" || ok "different image, different tags"

st=$(post other-endpoint "$TMP/img.jpg")
[ "$st" = 400 ] && ok "unknown endpoint name: 400" || fail "unknown endpoint got $st"
expect_grep '^X-Amzn-ErrorType: ValidationError' "$TMP/h" "ValidationError type"
expect_grep 'Endpoint other-endpoint of account' "$TMP/b" "ValidationError message"

st=$(post product-tagger "$TMP/text.bin")
[ "$st" = 424 ] && ok "non-JPEG body: 424" || fail "non-JPEG got $st"
expect_grep '^X-Amzn-ErrorType: ModelError' "$TMP/h" "ModelError type"
$PY -c "
import json,sys; b=json.load(open('$TMP/b'))
assert b['OriginalStatusCode']==400 and 'not a JPEG' in b['OriginalMessage']
assert b['LogStreamArn'].startswith('arn:aws:logs:') and 'message' in b" \
	&& ok "ModelError body has its four members" || fail "ModelError body: $(cat "$TMP/b")"

t0=$(date +%s%N)
st=$(post product-tagger "$TMP/huge.bin")
t1=$(date +%s%N)
[ "$st" = 413 ] && ok "7 MB body: 413" || fail "7 MB body got $st"
expect_grep 'exceeds the 6291456-byte limit' "$TMP/b" "413 names the limit"
[ $(( (t1 - t0) / 1000000 )) -lt 3000 ] && ok "413 answered early" || fail "413 took $(( (t1 - t0) / 1000000 )) ms"

[ "$(curl_to "http://127.0.0.1:$PORT/nope")" = 404 ] && ok "unknown path 404" || fail "unknown path"
expect_grep '"message":' "$TMP/b" "404 has a JSON body"
[ "$(curl_to "http://127.0.0.1:$PORT/endpoints/a/b/invocations")" = 404 ] && ok "nested path 404" || fail "nested path"
[ "$(curl_to "http://127.0.0.1:$PORT/endpoints/product-tagger/invocations")" = 405 ] \
	&& ok "GET on invocations: 405" || fail "GET on invocations"
[ "$(curl_to "http://127.0.0.1:$PORT/ping" -X DELETE)" = 405 ] && ok "DELETE /ping: 405" || fail "DELETE /ping"

# Malformed HTTP: each is answered or closed, and the server lives on.
hexof() { od -An -v -tx1 | tr -d ' \n'; }
for bytes in "$(printf 'GARBAGE\r\n\r\n' | hexof)" \
	"$(printf 'POST /endpoints/x/invocations HTTP/1.1\r\nContent-Length: zzz\r\n\r\n' | hexof)" \
	"$(printf 'POST /endpoints/x/invocations HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nshort' | hexof)" \
	"$(head -c 3000 /dev/urandom | hexof)" \
	"$(printf 'GET /%s HTTP/1.1\r\n\r\n' "$(head -c 20000 /dev/zero | tr '\0' a)" | hexof)"; do
	out=$($PY "$LOAD" raw "$PORT" "$bytes" 2>&1)
	case "$out" in
	"HTTP/1.1 4"*|"(closed)") ok "malformed request: $out";;
	*) fail "malformed request: unexpected '$out'";;
	esac
done
[ "$(curl_to "http://127.0.0.1:$PORT/ping")" = 200 ] && ok "alive after malformed input" || fail "dead after malformed input"

$PY "$LOAD" stats "$PORT" >"$TMP/stats.json"
$PY -c "
import json; s=json.load(open('$TMP/stats.json'))
for k in ('nominal_capacity_rps','instances','slots','queue_depth','in_flight','served','errors','uptime_s'):
    assert k in s, k
assert s['nominal_capacity_rps']==400.0 and s['slots']==2 and s['instances']==1
assert s['served']==3, s['served']
e=s['errors']; assert e['model_error']==1 and e['validation']==1 and e['too_large']==1, e
assert e['not_found']>=2 and e['method']>=2, e" \
	&& ok "/emulator/stats counts by class" || fail "stats: $(cat "$TMP/stats.json")"
stop_emu
expect_grep 'received, .* served' "$TMP/seed.err" "prints a summary on SIGTERM"

# ---- CLI errors -------------------------------------------------------
printf '[emulator]\nslots = 2\nsevrice_time = 5ms\n' >"$TMP/typo.ini"
expect_rc 2 "unknown [emulator] key is a usage error" "$KNEECAP" serve "$TMP/typo.ini"
expect_grep 'typo.ini:3: sevrice_time' "$TMP/err" "names file, line and key"
printf '[emulator]\nslots = many\n' >"$TMP/bad.ini"
expect_rc 2 "bad [emulator] value is a usage error" "$KNEECAP" serve "$TMP/bad.ini"
expect_grep 'bad.ini:2: slots' "$TMP/err" "names the bad value's line"
expect_rc 2 "bad flag value" "$KNEECAP" serve --service-time soon
expect_grep 'service-time' "$TMP/err" "names the flag"
expect_rc 2 "unknown flag" "$KNEECAP" serve --frobnicate 1
expect_rc 2 "bad listen address" "$KNEECAP" serve --listen nowhere
expect_rc 2 "missing scenario" "$KNEECAP" serve "$TMP/does-not-exist.ini"
printf '[search]\nstart = 5\n[emulator]\nslots = 3\n' >"$TMP/other.ini"
start_emu other "$TMP/other.ini" && ok "find's other sections are allowed" && stop_emu
# serve checks the file as find does (test_serve_slow.sh compares them).
printf '[search]\nrate = 5\n[emulator]\nslots = 3\n' >"$TMP/notfind.ini"
expect_rc 2 "a key find rejects is rejected" "$KNEECAP" serve "$TMP/notfind.ini"
expect_grep 'notfind.ini:2: rate: unknown key in \[search\]' "$TMP/err" "... with find's message"
expect_grep '^nominal capacity: 75\.0 RPS' "$TMP/other.out" "scenario slots used"

# ---- faults ------------------------------------------------------------
start_emu err --fault-error 503:1 --service-time 1ms
st=$(post x "$TMP/img.jpg")
[ "$st" = 503 ] && ok "fault_error 503" || fail "fault_error got $st"
expect_grep '^X-Amzn-ErrorType: ServiceUnavailable' "$TMP/h" "ServiceUnavailable type"
stop_emu
start_emu err2 --fault-error 424:1 --service-time 1ms
st=$(post x "$TMP/img.jpg")
[ "$st" = 424 ] && ok "fault_error 424 (after service)" || fail "fault_error 424 got $st"
stop_emu

start_emu reset --fault-reset 1 --service-time 1ms
post x "$TMP/img.jpg" >/dev/null; rc=$?
[ "$rc" = 52 ] || [ "$rc" = 56 ] && ok "fault_reset drops the connection (curl $rc)" \
	|| fail "fault_reset: curl exit $rc"
[ "$(stat_field "['errors']['reset']")" = 1 ] && ok "reset counted" || fail "reset not counted"
stop_emu

start_emu slow --fault-slow 1 --fault-slow-chunk 64 --fault-slow-interval 100ms --service-time 1ms
t0=$(date +%s%N); st=$(post x "$TMP/img.jpg"); t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 )); n=$(wc -c <"$TMP/b")
[ "$st" = 200 ] && [ "$n" -gt 200 ] && ok "slow response complete ($n bytes)" || fail "slow: $st, $n bytes"
# ceil(n/64) chunks, one interval between each.
want=$(( ((n + 63) / 64 - 1) * 100 ))
[ "$ms" -ge $((want - 20)) ] && [ "$ms" -lt $((want + 2000)) ] && ok "slow response trickled ($ms ms, want ~$want)" \
	|| fail "slow response took $ms ms (want ~$want)"
stop_emu

start_emu stall --fault-stall 4s --fault-stall-at 0s --service-time 1ms
t0=$(date +%s%N); st=$(post x "$TMP/img.jpg"); t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$st" = 200 ] && [ "$ms" -ge 1000 ] && ok "stall holds the answer ($ms ms)" || fail "stall: $st in $ms ms"
t0=$(date +%s%N); st=$(post x "$TMP/img.jpg"); t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$st" = 200 ] && [ "$ms" -lt 500 ] && ok "after the stall answers are prompt ($ms ms)" || fail "after stall: $st in $ms ms"
stop_emu

start_emu close --fault-close-after 3 --service-time 1ms
for i in 1 2 3; do post x "$TMP/img.jpg" >"$TMP/st$i"; done
[ "$(cat "$TMP/st1" "$TMP/st2" "$TMP/st3" | tr -d '\n')" = 200200200 ] && ok "first 3 answered" || fail "first 3: $(cat "$TMP"/st?)"
sleep 0.2
post x "$TMP/img.jpg" >/dev/null; rc=$?
[ "$rc" = 7 ] || [ "$rc" = 52 ] || [ "$rc" = 56 ] && ok "then dead (curl $rc)" || fail "after close_after: curl $rc"
kill -0 "$PID" && ok "dead server process still up (stop it with a signal)" || fail "process exited"
stop_emu

# Timeout and queue limit: bursts against one slot.
# Arrivals up to 300 ms apart still give 1 served + 2 timed out.
start_emu timeout --slots 1 --service-time 400ms --timeout 500ms --cpu-decode off
$PY "$LOAD" burst "$PORT" /endpoints/x/invocations "$TMP/img.jpg" 3 >"$TMP/burst"
[ "$(grep -c '^200 ' "$TMP/burst")" = 1 ] && [ "$(grep -c '^424 ModelError' "$TMP/burst")" = 2 ] \
	&& ok "invocation timeout: 1 served, 2 x 424" || fail "timeout burst: $(tr '\n' ' ' <"$TMP/burst")"
[ "$(stat_field "['errors']['timeout']")" = 2 ] && ok "timeouts counted" || fail "timeouts not counted"
stop_emu
start_emu qlimit --slots 1 --service-time 600ms --queue-limit 1 --queue-full-error ThrottlingException
$PY "$LOAD" burst "$PORT" /endpoints/x/invocations "$TMP/img.jpg" 5 >"$TMP/burst"
[ "$(grep -c '^200 ' "$TMP/burst")" = 2 ] && [ "$(grep -c '^400 ThrottlingException' "$TMP/burst")" = 3 ] \
	&& ok "queue limit: 2 served, 3 throttled" || fail "queue limit burst: $(tr '\n' ' ' <"$TMP/burst")"
stop_emu

# ---- SigV4 verification (botocore signs; test keys, not real ones) -----
BOTO="$(dirname "$0")/emu_boto.py"
start_emu sigv4 --verify-sigv4 AKIDEXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY --service-time 1ms
boto() { $PY "$BOTO" "$PORT" AKIDEXAMPLE wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY "$@" 2>&1; }
out=$(boto ok "$TMP/img.jpg")
case "$out" in "200 AllTraffic "*) ok "botocore-signed request accepted";; *) fail "botocore-signed: $out";; esac
out=$(boto tamper "$TMP/img.jpg")
[ "$out" = "403 InvalidSignatureException -" ] && ok "tampered body rejected: $out" || fail "tampered body: $out"
out=$(boto wrong-secret "$TMP/img.jpg")
[ "$out" = "403 InvalidSignatureException -" ] && ok "wrong secret rejected" || fail "wrong secret: $out"
out=$(boto model-error "$TMP/text.bin")
[ "$out" = "424 ModelError 400" ] && ok "botocore parses ModelError and OriginalStatusCode" || fail "model error via botocore: $out"
$PY "$BOTO" "$PORT" OTHERKEY wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY ok "$TMP/img.jpg" >"$TMP/o" 2>&1
expect_grep '^403 UnrecognizedClientException' "$TMP/o" "unknown key id rejected"
st=$(post x "$TMP/img.jpg")
[ "$st" = 403 ] && ok "unsigned request: 403" || fail "unsigned request got $st"
expect_grep '^X-Amzn-ErrorType: MissingAuthenticationTokenException' "$TMP/h" "unsigned: MissingAuthenticationToken"
[ "$(stat_field "['errors']['signature']")" = 4 ] && ok "signature failures counted" || fail "signature count"
stop_emu
if grep -q wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY "$TMP/sigv4.out" "$TMP/sigv4.err"; then
	fail "the secret appears in the emulator's output"
else
	ok "the secret never appears in the emulator's output"
fi

done_testing
