#!/usr/bin/env bash
# test_request_options.sh - every InvokeEndpoint request option reaches the
# wire from its flag, in run (InvokeEndpoint and the response stream) and
# find, and the signature still verifies: a loopback server records each
# request's headers and recomputes its SigV4 signature with botocore.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
if ! "$py" -c 'import botocore' 2>/dev/null; then
	fail "python3-botocore is not installed (scripts/setup installs it)"; done_testing; exit
fi
AKID=AKIDOPTIONSTEST0001
SECRET=options-secret-key
export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=options-token-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
"$py" "$KC_SRCDIR/tests/integration/py/sm_headers_server.py" "$TMP/port" "$TMP/rec" \
	"$AKID" "$SECRET" eu-west-1 --max-s 80 &
srv=$!
for _ in $(seq 300); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { fail "the header server did not start"; done_testing; exit; }
url="http://127.0.0.1:$(cat "$TMP/port")"

# check FILE PATH_SUFFIX DESC NAME=VALUE...: every request to the path has
# each header with its value, signed, and botocore's signature matches
check() {
	local file=$1 suffix=$2 desc=$3; shift 3
	if "$py" - "$file" "$suffix" "$@" >"$TMP/why" 2>&1 <<'PY'
import json, sys
file, suffix, want = sys.argv[1], sys.argv[2], [x.split("=", 1) for x in sys.argv[3:]]
reqs = [json.loads(l) for l in open(file) if json.loads(l)["path"].endswith(suffix)]
if not reqs:
    sys.exit("no request to %s" % suffix)
for r in reqs:
    h = r["headers"]
    for name, value in want:
        if value == "-":
            if name in h:
                sys.exit("%s sent: %r" % (name, h[name]))
            continue
        if h.get(name) != value:
            sys.exit("%s: %r, want %r" % (name, h.get(name), value))
        if name not in r["signed"]:
            sys.exit("%s is not signed (%s)" % (name, r["signed"]))
    if not r["sig_ok"]:
        sys.exit("botocore computes another signature: %s" % h.get("x-verify-error", r["signed"]))
print("%d requests" % len(reqs))
PY
	then ok "$desc ($(cat "$TMP/why"))"; else fail "$desc: $(cat "$TMP/why")"; fi
}

echo '{"in":[1,2]}' >"$TMP/body.json" # a small body: no JPEG pool to build
common=(--endpoint-url "$url" --region eu-west-1 --body "$TMP/body.json"
	--custom-attributes 'trace=1;x=y'
	--target-container-hostname container-2 --inference-id inf-0042
	--inference-component my-component-1)
expect_rc 0 "run: InvokeEndpoint with every request option" timeout 30 "$KNEECAP" run \
	sagemaker:opt-ep --rate 5 --duration 1s -q "${common[@]}" --accept application/json \
	--content-type application/x-kneecap --target-model model-b.tar.gz --session-id NEW_SESSION \
	--enable-explanations '`true`'
check "$TMP/rec" /opt-ep/invocations "run: the options are on the wire, signed, and verify" \
	accept=application/json content-type=application/x-kneecap \
	x-amzn-sagemaker-custom-attributes='trace=1;x=y' \
	x-amzn-sagemaker-target-container-hostname=container-2 \
	x-amzn-sagemaker-inference-id=inf-0042 \
	x-amzn-sagemaker-inference-component=my-component-1 \
	x-amzn-sagemaker-target-model=model-b.tar.gz x-amzn-sagemaker-session-id=NEW_SESSION \
	x-amzn-sagemaker-enable-explanations='`true`' x-amz-security-token=options-token-1

expect_rc 0 "run --response-stream with its options" timeout 30 "$KNEECAP" run \
	sagemaker:opt-rs --response-stream --rate 5 --duration 1s -q "${common[@]}" \
	--accept text/event-stream --session-id sess-77
check "$TMP/rec" /opt-rs/invocations-response-stream \
	"response stream: Accept moves to X-Amzn-SageMaker-Accept; signed and verified" \
	x-amzn-sagemaker-accept=text/event-stream \
	x-amzn-sagemaker-custom-attributes='trace=1;x=y' \
	x-amzn-sagemaker-target-container-hostname=container-2 \
	x-amzn-sagemaker-inference-id=inf-0042 \
	x-amzn-sagemaker-inference-component=my-component-1 x-amzn-sagemaker-session-id=sess-77

printf '[target]\nsession_id = sess-from-ini\nenable_explanations = `false`\n' >"$TMP/s.ini"
timeout 60 "$KNEECAP" find "$TMP/s.ini" sagemaker:opt-find --start 5 --max 5 \
	--step-duration 1s --warmup 0 --no-confirm -q --out "$TMP/find" "${common[@]}" \
	--target-model model-c.tar.gz >/dev/null 2>"$TMP/find.err"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] && ok "find runs (exit $rc)" || { fail "find exit $rc"; head -5 "$TMP/find.err"; }
check "$TMP/rec" /opt-find/invocations "find: flags and [target] keys on the wire, verified" \
	x-amzn-sagemaker-custom-attributes='trace=1;x=y' \
	x-amzn-sagemaker-target-container-hostname=container-2 \
	x-amzn-sagemaker-inference-id=inf-0042 \
	x-amzn-sagemaker-inference-component=my-component-1 \
	x-amzn-sagemaker-target-model=model-c.tar.gz x-amzn-sagemaker-session-id=sess-from-ini \
	x-amzn-sagemaker-enable-explanations='`false`'

# refusals: the model's rules, and what an operation does not take
expect_rc 2 "--target-model with --response-stream is refused" "$KNEECAP" run sagemaker:e \
	--response-stream --rate 1 --duration 1s --endpoint-url "$url" --region eu-west-1 --target-model m
expect_grep 'target model is not accepted by InvokeEndpointWithResponseStream' "$TMP/err" \
	"... naming the operation"
expect_rc 2 "a bad inference component name is refused" "$KNEECAP" run sagemaker:e --rate 1 \
	--duration 1s --endpoint-url "$url" --inference-component 'bad name'
expect_rc 2 "--session-id with an http:// TARGET is refused" "$KNEECAP" run "$url/x" --rate 1 \
	--duration 1s --session-id s1
expect_rc 2 "streams does not take --session-id" "$KNEECAP" streams --session-id s1
expect_grep 'InvokeEndpointWithBidirectionalStream takes only' "$TMP/err" "... and says why"
expect_rc 2 "--fips with --endpoint-url is refused (the endpoint rules)" "$KNEECAP" run \
	sagemaker:e --rate 1 --duration 1s --endpoint-url "$url" --fips
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
done_testing
