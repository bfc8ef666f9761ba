#!/usr/bin/env bash
# test_run_h2c_sagemaker.sh - `kneecap run sagemaker:ENDPOINT --http h2c`:
# SigV4-signed InvokeEndpoint requests on kneecap's nghttp2 h2c path
# (src/engine/h2unary.c), verified by the emulator's own HTTP/2 face
# (`serve --h2-listen`, src/emulator/h2serve.c).  Right keys: every request
# verified; a wrong secret: every one a 403 counted as auth, its error body
# kept; injected 400 ThrottlingException / 424 ModelError: classified by
# SageMaker's error type through the h2c error-header and body capture;
# `find` over h2c finds the knee of a 4-slot emulator.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

AKID=AKIDKNEECAPTEST1
SECRET=kneecapTestSecretDoNotPrint0123456789
export AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_CONTAINER_CREDENTIALS_FULL_URI 2>/dev/null

# Both helpers set $got (not $(...): a subshell would lose the pids to kill).
serve() { # NAME ARGS...: an emulator; its HTTP/2 (h2c) port in $got
	local name=$1; shift
	timeout 60 "$KNEECAP" serve --listen 127.0.0.1:0 --h2-listen 127.0.0.1:0 --service-time 1ms \
		--slots 8 --cpu-decode off "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do
		p=$(sed -n 's/^HTTP\/2 (h2c[^)]*) on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$name.out")
		[ -n "$p" ] && { got=$p; return 0; }
		sleep 0.05
	done
	return 1
}
serve verify --verify-sigv4 "$AKID:$SECRET" || { fail "emulator listening"; done_testing; exit 1; }
EP="http://127.0.0.1:$got"
serve faults --fault-error 400:0.3 --fault-error 424:0.3 || { fail "fault emulator"; done_testing; exit 1; }
EPF="http://127.0.0.1:$got"
ok "emulators listening on h2c"
"$KNEECAP" payload --count 2 --width 64 --height 64 --out "$TMP/jpegs" >/dev/null 2>&1

AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 0 "signed h2c run exits 0" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --payload-dir "$TMP/jpegs" \
	--http h2c --rate 40 --duration 1s --threads 2 --json --quiet
$PY -c '
import json,sys; d=json.load(open(sys.argv[1])); s=d["steps"][0]
print(s["ok"], s["errors"])
sys.exit(0 if s["ok"] == 40 and s["errors"] == 0 and d["config"]["http"] == "h2c" else 1)' \
	"$TMP/out" && ok "h2c: every signed request verified (40 ok)" || fail "signed h2c run result"
cp "$TMP/out" "$TMP/signed.json"; cp "$TMP/err" "$TMP/signed.err"

AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=wrong-secret expect_rc 1 "h2c wrong secret: run completes (exit 1: error rate)" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EP" --payload-dir "$TMP/jpegs" \
	--http h2c --rate 40 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; x=s["error_samples"]
ok = s["ok"] == 0 and s["error_classes"]["auth"] == 40 and s["status_codes"] == {"403": 40}
ok = ok and 1 <= len(x) <= 2 and x[0]["code"] == "InvalidSignatureException" and x[0]["status"] == 403
sys.exit(0 if ok else 1)' "$TMP/out" && ok "h2c wrong secret: 403s counted as auth, error body kept" ||
	{ fail "h2c wrong secret accounting"; head -c 2000 "$TMP/out"; }

AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET expect_rc 1 "h2c injected throttling and model errors (exit 1: error rate)" \
	timeout 30 "$KNEECAP" run sagemaker:my-endpoint --endpoint-url "$EPF" --payload-dir "$TMP/jpegs" \
	--http h2c --rate 40 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; c=s["error_classes"]
ok = c["throttle"] > 0 and c["model"] > 0 and c["http4xx"] == 0 and c["throttle"] + c["model"] + s["ok"] == 40
ok = ok and {x["code"] for x in s["error_samples"]} == {"ThrottlingException", "ModelError"}
sys.exit(0 if ok else 1)' "$TMP/out" && ok "h2c: 400 ThrottlingException is throttle, 424 is model" ||
	{ fail "h2c SageMaker error classes"; head -c 2000 "$TMP/out"; }

# find over h2c: an emulator with 4 slots of 5 ms saturates near 800 RPS.
serve knee --service-time 5ms --slots 4 || { fail "knee emulator"; done_testing; exit 1; }
expect_rc 0 "find --http h2c finds a knee" timeout 90 "$KNEECAP" find \
	"http://127.0.0.1:$got/endpoints/x/invocations" --payload-dir "$TMP/jpegs" --http h2c \
	--step-duration 1s --warmup 200ms --start 200 --max 3000 --threads 1 --json --quiet
$PY -c '
import json,sys; d=json.load(open(sys.argv[1])); k=d["knee"]
print(k["value"], k["reason"], [(s["offered"], s["errors"]) for s in d["steps"]])
sys.exit(0 if k["found"] and 400 <= k["value"] <= 1000 and d["config"]["http"] == "h2c" else 1)' \
	"$TMP/out" && ok "find over h2c: knee between 400 and 1000 RPS" || fail "find over h2c"

if grep -rq "$SECRET" "$TMP/signed.json" "$TMP/signed.err" "$TMP/out" "$TMP/err"; then
	fail "secret leaked"; else ok "secret in no output"; fi
done_testing
