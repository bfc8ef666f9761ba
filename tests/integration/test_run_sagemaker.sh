#!/usr/bin/env bash
# test_run_sagemaker.sh - `kneecap run sagemaker:ENDPOINT` against the
# built-in emulator on 127.0.0.1 with SigV4 verification on: signed with the
# right keys every request succeeds, with a wrong secret every one is a 403
# counted as auth; missing credentials or a bad target are one-line usage
# errors; the secret never appears in any output.  No AWS account, no
# network beyond loopback: the credential chain reads only the variables
# set here (config files pointed at nothing, IMDS disabled).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
spid=
trap '[ -n "$spid" ] && { kill $spid 2>/dev/null; wait $spid 2>/dev/null; }; rm -rf "$TMP"' EXIT

AKID=AKIDKNEECAPTEST1
SECRET=kneecapTestSecretDoNotPrint0123456789
export AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_CONTAINER_CREDENTIALS_FULL_URI 2>/dev/null

timeout 60 "$KNEECAP" serve --listen 127.0.0.1:0 --verify-sigv4 "$AKID:$SECRET" --service-time 1ms \
	--slots 8 --cpu-decode off >"$TMP/serve.out" 2>"$TMP/serve.err" &
spid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/serve.out")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] && ok "emulator listening" || { fail "emulator listening"; cat "$TMP/serve.err"; done_testing; exit 1; }
EP="http://127.0.0.1:$port"

# A second emulator that throttles (400 ThrottlingException) and fails the model (424).
timeout 60 "$KNEECAP" serve --listen 127.0.0.1:0 --fault-error 400:0.3 --fault-error 424:0.3 \
	--service-time 1ms --slots 8 --cpu-decode off >"$TMP/servef.out" 2>"$TMP/servef.err" &
fpid=$!
trap '[ -n "$spid" ] && { kill $spid 2>/dev/null; wait $spid 2>/dev/null; }; kill $fpid 2>/dev/null; wait $fpid 2>/dev/null; rm -rf "$TMP"' EXIT
fport=
for _ in $(seq 100); do
	fport=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/servef.out")
	[ -n "$fport" ] && break
	sleep 0.05
done
EPF="http://127.0.0.1:$fport"

# Small JPEGs keep the test fast (the default pool is 32 pictures of 1024x1024).
"$KNEECAP" payload --count 2 --width 64 --height 64 --out "$TMP/jpegs" >/dev/null 2>&1

AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 0 "signed run exits 0" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --payload-dir "$TMP/jpegs" \
	--rate 40 --duration 1s --threads 2 --out "$TMP/o" --json --quiet
$PY -c '
import json,sys; d=json.load(open(sys.argv[1])); s=d["steps"][0]
print(s["ok"], s["errors"])
sys.exit(0 if s["ok"] == 40 and s["errors"] == 0 and d["config"]["method"] == "POST" else 1)' \
	"$TMP/out" >/dev/null && ok "every signed request verified (40 ok)" || fail "signed run result"

TOKEN=kneecapSessionTokenDoNotPrint/abc+def==
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN expect_rc 0 \
	"signed run with a session token exits 0" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --payload-dir "$TMP/jpegs" \
	--rate 40 --duration 1s --threads 2 --out "$TMP/ot" --json --quiet -v
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
sys.exit(0 if s["ok"] == 40 and s["errors"] == 0 else 1)' \
	"$TMP/out" && ok "with a session token: every request verified" || fail "session token run"
cp "$TMP/err" "$TMP/token.err"

AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=wrong-secret expect_rc 1 "wrong secret: run completes (exit 1: error rate)" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --payload-dir "$TMP/jpegs" \
	--rate 40 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
sys.exit(0 if s["ok"] == 0 and s["error_classes"]["auth"] == 40 and s["status_codes"] == {"403": 40} else 1)' \
	"$TMP/out" && ok "wrong secret: every request a 403 counted as auth" || fail "wrong secret accounting"
[ "$(grep -c 'auth errors: SageMaker refused' "$TMP/err")" = 1 ] &&
	ok "wrong secret: one hint line, printed once" || { fail "wrong secret: hint"; cat "$TMP/err"; }
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; x=s["error_samples"]
sys.exit(0 if 1 <= len(x) <= 2 and x[0]["class"] == "auth" and x[0]["code"] == "InvalidSignatureException" and x[0]["status"] == 403 else 1)' \
	"$TMP/out" && ok "wrong secret: the error body is kept in result.json" || fail "wrong secret: error_samples"

# SageMaker names its errors: 400 ThrottlingException is throttling, 424 a model error.
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 1 "injected throttling and model errors (exit 1: error rate)" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EPF" --payload-dir "$TMP/jpegs" \
	--rate 40 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; c=s["error_classes"]
ok = c["throttle"] > 0 and c["model"] > 0 and c["http4xx"] == 0 and c["throttle"] + c["model"] + s["ok"] == 40
ok = ok and {x["code"] for x in s["error_samples"]} == {"ThrottlingException", "ModelError"}
sys.exit(0 if ok else 1)' "$TMP/out" && ok "400 ThrottlingException counted as throttle, 424 as model" ||
	{ fail "SageMaker error classes"; cat "$TMP/out" | head -60; }

expect_rc 2 "no credentials is a usage error" timeout 30 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	"$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --rate 10 --duration 1s
[ "$(wc -l <"$TMP/err")" = 1 ] && ok "no credentials: one line" || { fail "no credentials: one line"; cat "$TMP/err"; }
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 2 "bad endpoint name" \
	timeout 30 "$KNEECAP" run "sagemaker:bad_name!" --endpoint-url "$EP" --rate 10 --duration 1s
AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 2 "--region with an http target" \
	timeout 30 "$KNEECAP" run "$EP/" --region us-east-1 --rate 10 --duration 1s

# Secrets stay out of every output.
if grep -rq "$SECRET" "$TMP/o" "$TMP/ot" "$TMP/out" "$TMP/err" "$TMP/token.err"; then fail "secret leaked"; else ok "secret in no output"; fi
if grep -rqF "$TOKEN" "$TMP/ot" "$TMP/token.err"; then fail "token leaked"; else ok "session token in no output"; fi
done_testing
