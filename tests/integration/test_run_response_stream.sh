#!/usr/bin/env bash
# test_run_response_stream.sh - InvokeEndpointWithResponseStream end to end
# on 127.0.0.1: `kneecap run sagemaker:EP --response-stream` against
# `kneecap serve` (SigV4 verified, 5 parts 20 ms apart) gets every stream
# whole, time to first PayloadPart about the service time and part gaps
# about 20 ms; a mid-stream ModelStreamError fault is counted as
# model_stream; bodies that are not valid event streams (garbage, cut,
# altered CRC) from a Python server are counted as stream errors, not a
# crash; botocore signs requests to the emulator and parses its streams.
# Bounded: every process under `timeout`, servers killed in the trap.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

AKID=AKIDKNEECAPSTREAM1
SECRET=kneecapStreamSecretDoNotPrint0123456789
export AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none"
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_REGION AWS_DEFAULT_REGION 2>/dev/null

# serve NAME ARGS...: starts an emulator, sets $port (empty on failure).
serve() {
	local name=$1; shift
	timeout 90 "$KNEECAP" serve --listen 127.0.0.1:0 --cpu-decode off "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	pids="$pids $!"
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { fail "$name emulator listening"; cat "$TMP/$name.err"; }
}

# run OUT ARGS...: kneecap run with the test credentials.
run() {
	local out=$1; shift
	AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET timeout 60 "$KNEECAP" run "$@" \
		--region us-east-1 --response-stream --threads 2 --payload-dir "$TMP/jpegs" \
		--out "$TMP/$out" >"$TMP/$out.stdout" 2>"$TMP/$out.stderr"
	echo $? >"$TMP/$out.rc"
}
rc_of() { cat "$TMP/$1.rc"; }
# check OUT PYTHON-EXPR DESC: evaluates the expression with s = the first step, d = the doc.
check() {
	if $PY -c '
import json, sys
d = json.load(open(sys.argv[1] + "/result.json")); s = d["steps"][0]
ok = eval(sys.argv[2])
if not ok:
    keys = ("ok", "sent", "errors", "error_classes", "ttfp_ms", "part_gap_ms", "parts", "error_samples")
    print({k: s.get(k) for k in keys})
sys.exit(0 if ok else 1)' "$TMP/$1" "$2" >"$TMP/check.log" 2>&1; then
		ok "$3"
	else
		fail "$3"; sed 's/^/    /' "$TMP/check.log" | head -8
	fi
}

"$KNEECAP" payload --count 2 --width 64 --height 64 --out "$TMP/jpegs" >/dev/null 2>&1

# 1. The clean case: 30 ms model, 5 parts 20 ms apart, SigV4 verified.
serve clean --verify-sigv4 "$AKID:$SECRET" --service-time 30ms --slots 8 \
	--stream-parts 5 --stream-part-gap 20ms
EP=$port
run clean sagemaker:my-ep --endpoint-url "http://127.0.0.1:$EP" --rate 20 --duration 3s
[ "$(rc_of clean)" = 0 ] && ok "run --response-stream exits 0" ||
	{ fail "run --response-stream exits 0 (exit $(rc_of clean))"; head -5 "$TMP/clean.stderr"; }
check clean 's["sent"] == 60 and s["ok"] == 60 and s["errors"] == 0' \
	"every signed stream arrived whole (60 ok, 0 errors)"
check clean 's["parts"] == 300 and s["ttfp_ms"]["count"] == 60 and s["part_gap_ms"]["count"] == 240' \
	"300 PayloadParts: 60 first parts, 240 gaps"
check clean '29.5 <= s["ttfp_ms"]["p50"] <= 45 and s["ttfp_service_ms"]["p50"] <= s["ttfp_ms"]["p50"] + 0.01' \
	"time to first part p50 is about the 30 ms service time"
check clean '19.0 <= s["part_gap_ms"]["p50"] <= 23 and s["part_gap_ms"]["max"] < 60' \
	"part gap p50 is about 20 ms"
check clean '109 <= s["latency_ms"]["p50"] <= 140 and d["config"]["response_stream"] is True' \
	"whole-response latency is service + 4 gaps (110 ms); config says response_stream"
expect_grep 'stream: first part p50 [0-9.]+ .* part gap p50 [0-9.]+' "$TMP/clean.stdout" \
	"the table shows first-part and gap percentiles"
expect_grep '^step,.*,ttfp_p50_ms,.*,part_gap_p50_ms,.*model_stream_errors,unfinished(,arrived,verdict)?$' "$TMP/clean/steps.csv" \
	"steps.csv has the stream columns"
if grep -q "$SECRET" "$TMP"/clean.* "$TMP"/clean/*; then fail "the secret leaked"; else ok "no secret in any output"; fi

# One connection, 110 ms per stream, 20 requests/s: requests wait for the
# connection, and that wait is in the first-part time from the intended
# send (coordinated omission), not in the one from the actual send.
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET timeout 60 "$KNEECAP" run sagemaker:my-ep \
	--endpoint-url "http://127.0.0.1:$EP" --region us-east-1 --response-stream --threads 1 \
	--connections 1 --rate 20 --duration 1s --payload-dir "$TMP/jpegs" --out "$TMP/queued" \
	>/dev/null 2>&1
check queued 's["ttfp_ms"]["p50"] > s["ttfp_service_ms"]["p50"] + 100 and s["ttfp_service_ms"]["p50"] < 45' \
	"queued requests: first-part time from the intended send includes the wait"

# botocore signs for the emulator and parses its stream: 5 PayloadParts whose
# bytes are the /invocations answer.
if $PY "$KC_SRCDIR/tests/integration/py/respstream_botocore.py" "$EP" "$AKID" "$SECRET" 5 \
	>"$TMP/boto.log" 2>&1; then
	ok "botocore parses the emulator's response stream (signed by botocore)"
else
	fail "botocore cross-check"; sed 's/^/    /' "$TMP/boto.log" | head -20
fi

# 2. A mid-stream ModelStreamError on about half the requests.
serve faulty --service-time 5ms --slots 8 --stream-parts 4 --stream-part-gap 2ms \
	--fault-stream-error 0.5
FP=$port
run faulty sagemaker:my-ep --endpoint-url "http://127.0.0.1:$FP" --rate 40 --duration 2s
[ "$(rc_of faulty)" = 1 ] && ok "faulty stream run exits 1 (error rate)" || fail "faulty stream run exit $(rc_of faulty)"
check faulty 's["sent"] == 80 and 15 <= s["error_classes"]["model_stream"] <= 65 and s["ok"] + s["error_classes"]["model_stream"] == 80 and s["errors"] == s["error_classes"]["model_stream"]' \
	"ModelStreamErrors are counted as model_stream, the rest ok"
check faulty 'any(x["class"] == "model_stream" and x["code"] == "ModelStreamError" and x["status"] == 200 and "mid-response" in x["message"] and x.get("error_code") == "StreamBroken" for x in s["error_samples"])' \
	"the sample carries the exception type, its Message and its ErrorCode"
check faulty 's["parts"] == 4 * s["ok"] and s["ttfp_ms"]["count"] == s["ok"] and s["part_gap_ms"]["count"] == 3 * s["ok"]' \
	"only ok streams add PayloadPart samples (the failed ones timed none)"
emu=$(curl -s --max-time 5 "http://127.0.0.1:$FP/emulator/stats" |
	$PY -c 'import json,sys; print(json.load(sys.stdin)["errors"]["stream_error"])')
ran=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["error_classes"]["model_stream"])' "$TMP/faulty/result.json")
# The probe request (not measured) may be one more.
[ -n "$emu" ] && [ "$emu" -ge "$ran" ] && [ "$emu" -le $((ran + 1)) ] &&
	ok "the emulator injected as many as were counted ($emu vs $ran)" ||
	fail "emulator stream_error $emu vs counted $ran"
serve always --service-time 1ms --stream-parts 4 --stream-part-gap 1ms --fault-stream-error 1
if $PY "$KC_SRCDIR/tests/integration/py/respstream_botocore.py" "$port" - - 4 --fault \
	>"$TMP/bfault.log" 2>&1; then
	ok "botocore reads 2 PayloadParts then a ModelStreamError"
else
	fail "botocore fault cross-check"; sed 's/^/    /' "$TMP/bfault.log" | head -20
fi

# 3. Bodies that are not valid event streams, from an independent encoder.
timeout 60 "$PY" "$KC_SRCDIR/tests/integration/py/stream_server.py" 50 >"$TMP/py.out" 2>"$TMP/py.err" &
pids="$pids $!"
gport=
for _ in $(seq 100); do
	gport=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$TMP/py.out")
	[ -n "$gport" ] && break
	sleep 0.05
done
[ -n "$gport" ] && ok "python stream server listening" || fail "python stream server"
for name in good garbage cut badcrc failure empty; do
	run "py_$name" "sagemaker:$name" --endpoint-url "http://127.0.0.1:$gport" --rate 20 --duration 1s
	want=1; [ $name = good ] && want=0 # every other body fails every request
	[ "$(rc_of "py_$name")" = $want ] && ok "$name: run exits $want" ||
		{ fail "$name: run exit $(rc_of "py_$name")"; head -5 "$TMP/py_$name.stderr"; }
done
check py_good 's["ok"] == s["sent"] == 20 and s["parts"] == 60 and s["errors"] == 0' \
	"good: frames from Python's encoder decode (3 parts each)"
check py_garbage 's["ok"] == 0 and s["errors"] == s["sent"] == 20 and s["error_classes"]["stream"] == 20 and s["parts"] == 0' \
	"garbage with the event-stream type: 20 stream errors"
check py_garbage 'any(x["class"] == "stream" and "checksum" in x["code"].lower() for x in s["error_samples"])' \
	"garbage: the sample says the prelude checksum failed"
check py_cut 's["ok"] == 0 and s["error_classes"]["stream"] == 20 and s["parts"] == 0 and (s["ttfp_ms"] or {}).get("count", 0) == 0 and any(x["code"] == "Truncated" for x in s["error_samples"])' \
	"cut mid-message: counted as truncated streams (their first parts add no samples)"
check py_badcrc 's["ok"] == 0 and s["error_classes"]["stream"] == 20' \
	"altered payload: message checksum, 20 stream errors"
check py_failure 's["ok"] == 0 and s["error_classes"]["internal_stream"] == 20 and s["error_classes"]["stream"] == 0 and s["error_classes"]["model_stream"] == 0 and any(x["code"] == "InternalStreamFailure" and x["message"] == "the stream failed" for x in s["error_samples"])' \
	"InternalStreamFailure: internal_stream (a service fault) with its message"
check py_empty 's["ok"] == 0 and s["error_classes"]["stream"] == 20 and any(x["code"] == "NoPayloadPart" for x in s["error_samples"])' \
	"a 200 with no PayloadPart: 20 stream errors (no answer)"

# 4. Usage: an http(s) TARGET has no response stream.
expect_rc 2 "--response-stream with an http:// TARGET is a usage error" \
	timeout 10 "$KNEECAP" run "http://127.0.0.1:$EP/endpoints/x/invocations" --response-stream \
	--rate 1 --duration 1s
[ "$(wc -l <"$TMP/err")" = 1 ] && expect_grep 'response-stream goes with a sagemaker: TARGET' "$TMP/err" \
	"one line naming the flag" || fail "one-line error: $(cat "$TMP/err")"
expect_rc 2 "find: --response-stream with an http:// TARGET is a usage error" \
	timeout 10 "$KNEECAP" find "http://127.0.0.1:$EP/x" --response-stream
expect_grep 'need a sagemaker:ENDPOINT TARGET' "$TMP/err" "find names what is wrong"
printf '[target]\nresponse_stream = maybe\n' >"$TMP/bad.ini"
expect_rc 2 "find: a bad [target] response_stream is a usage error" \
	timeout 10 "$KNEECAP" find "$TMP/bad.ini" "sagemaker:x" --endpoint-url "http://127.0.0.1:$EP"
expect_grep 'bad.ini:2.*response_stream' "$TMP/err" "the error names the file, line and key"
"$KNEECAP" find --help >"$TMP/help" 2>&1
expect_grep '--response-stream' "$TMP/help" "find --help documents --response-stream"
"$KNEECAP" run --help >"$TMP/help" 2>&1
expect_grep '--response-stream' "$TMP/help" "run --help documents --response-stream"

done_testing
