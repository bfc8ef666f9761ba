#!/usr/bin/env bash
# test_policy_botocore.sh - scaling-policy.json passes botocore's parameter
# validation for application-autoscaling PutScalingPolicy, and apply.sh is
# valid shell that delivers every value intact to the aws CLI (a fake one
# on PATH records its argv).  No network, no AWS account.
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
GEN=${KC_POLICY_GEN:?KC_POLICY_GEN must name the policy_gen test helper}
PY=/usr/bin/python3
CHECK="$here/check_policy.py"

# A fake aws: appends its argv (NUL-separated, one record per call) to
# $AWS_LOG and its working directory to $AWS_LOG.cwd.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/aws" <<'FAKE'
#!/usr/bin/env bash
{ for a in "$@"; do printf '%s\0' "$a"; done; printf '\036'; } >>"$AWS_LOG"
pwd >>"$AWS_LOG.cwd"
FAKE
chmod +x "$TMP/bin/aws"

# 1. The seed case: ~50 rps per ml.g5.xlarge, 75% -> 2250 invocations/min.
mkdir -p "$TMP/seed"
cat >"$TMP/seed.ini" <<'INI'
[recommend]
factor = 0.75
instance_type = ml.g5.xlarge
endpoint_name = product-tagger
min_capacity = 2
max_capacity = 8
INI
expect_rc 0 "policy_gen writes the seed policy" "$GEN" "$TMP/seed.ini" rps 50 "$TMP/seed"
expect_grep '^2250$' "$TMP/out" "seed target is 2250 invocations/instance/minute"
expect_rc 0 "botocore accepts scaling-policy.json (PutScalingPolicy)" \
	"$PY" "$CHECK" policy "$TMP/seed/scaling-policy.json"
expect_grep '"TargetValue": 2250' "$TMP/seed/scaling-policy.json" "TargetValue in the file"
expect_grep '"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"' \
	"$TMP/seed/scaling-policy.json" "predefined metric type"
expect_grep '"ScaleOutCooldown": 60' "$TMP/seed/scaling-policy.json" "scale-out cooldown 60"
expect_grep '"ScaleInCooldown": 300' "$TMP/seed/scaling-policy.json" "scale-in cooldown 300"

# 2. The check can fail: botocore rejects broken policies.
printf '{"TargetValue": "high", "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}' >"$TMP/bad1.json"
expect_rc 1 "botocore rejects a string TargetValue" "$PY" "$CHECK" policy "$TMP/bad1.json"
printf '{"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}' >"$TMP/bad2.json"
expect_rc 1 "botocore rejects a policy without TargetValue" "$PY" "$CHECK" policy "$TMP/bad2.json"
printf '{"TargetValue": 5, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantCPU"}}' >"$TMP/bad3.json"
expect_rc 1 "an unknown metric type is rejected" "$PY" "$CHECK" policy "$TMP/bad3.json"

# 3. Streams: ConcurrentRequestsPerModel, 10 streams -> 7.5, DisableScaleIn.
mkdir -p "$TMP/streams"
printf '[recommend]\nendpoint_name = stt-stream\ndisable_scale_in = true\n' >"$TMP/streams.ini"
expect_rc 0 "policy_gen writes a streams policy" "$GEN" "$TMP/streams.ini" streams 10 "$TMP/streams"
expect_grep '^7.5$' "$TMP/out" "streams target is 7.5 concurrent requests"
expect_rc 0 "botocore accepts the concurrency policy" \
	"$PY" "$CHECK" policy "$TMP/streams/scaling-policy.json"
expect_grep 'SageMakerVariantConcurrentRequestsPerModelHighResolution' \
	"$TMP/streams/scaling-policy.json" "high-resolution concurrency metric"
expect_grep '"DisableScaleIn": true' "$TMP/streams/scaling-policy.json" "DisableScaleIn when asked"

# 4. apply.sh: valid shell, every value arrives intact, including a policy
# name and a profile full of quotes, spaces, $ and backticks.
odd_name="it's a \"policy\" \$HOME \`id\` \\ 50%"
odd_profile="team's \"prod\" profile"
mkdir -p "$TMP/apply"
cat >"$TMP/apply.ini" <<INI
[recommend]
endpoint_name = product-tagger
variant = Blue-2
min_capacity = 2
max_capacity = 8
policy_name = $odd_name
INI
expect_rc 0 "policy_gen writes apply.sh" "$GEN" "$TMP/apply.ini" rps 50 "$TMP/apply" \
	us-east-1 "$odd_profile"
expect_rc 0 "apply.sh passes bash -n" bash -n "$TMP/apply/apply.sh"
if command -v dash >/dev/null; then
	expect_rc 0 "apply.sh passes dash -n (POSIX sh)" dash -n "$TMP/apply/apply.sh"
fi
expect_grep '^#!/bin/sh$' "$TMP/apply/apply.sh" "apply.sh has a shebang"
expect_grep '^set -eu$' "$TMP/apply/apply.sh" "apply.sh sets -eu"
# Run it from another directory: file:// must resolve next to the script.
export AWS_LOG="$TMP/aws.log"
rm -f "$AWS_LOG" "$AWS_LOG.cwd"
expect_rc 0 "apply.sh runs against the fake aws" \
	env PATH="$TMP/bin:$PATH" HOME=/nonexistent sh -c 'cd / && sh "$1"' sh "$TMP/apply/apply.sh"
expect_rc 0 "botocore accepts both calls rebuilt from the recorded argv" \
	"$PY" "$CHECK" argv "$AWS_LOG" "$TMP/apply"
# Exact argv, word by word.
"$PY" - "$AWS_LOG" "$odd_name" "$odd_profile" >"$TMP/argv.out" 2>&1 <<'PYEOF'
import sys
log, name, profile = sys.argv[1:4]
calls = [[w.decode() for w in r.split(b"\0")[:-1]]
         for r in open(log, "rb").read().split(b"\x1e") if r]
common = ["--service-namespace", "sagemaker",
          "--resource-id", "endpoint/product-tagger/variant/Blue-2",
          "--scalable-dimension", "sagemaker:variant:DesiredInstanceCount",
          "--region", "us-east-1", "--profile", profile]
want = [
    ["application-autoscaling", "register-scalable-target"] + common +
    ["--min-capacity", "2", "--max-capacity", "8"],
    ["application-autoscaling", "put-scaling-policy", "--policy-name", name] + common +
    ["--policy-type", "TargetTrackingScaling",
     "--target-tracking-scaling-policy-configuration", "file://scaling-policy.json"],
]
if calls != want:
    print("got ", calls)
    print("want", want)
    sys.exit(1)
PYEOF
if [ $? = 0 ]; then ok "every argument arrived intact (quotes, spaces, \$, backticks)"; else
	fail "argv differs"; sed 's/^/    /' "$TMP/argv.out"; fi
if [ "$(sort -u "$AWS_LOG.cwd")" = "$TMP/apply" ]; then ok "aws ran in the script's directory"; else
	fail "aws ran in $(cat "$AWS_LOG.cwd")"; fi

# 5. No endpoint name: apply.sh refuses to run until ENDPOINT_NAME is set.
mkdir -p "$TMP/noname"
printf '[recommend]\nfactor = 0.7\n' >"$TMP/noname.ini"
expect_rc 0 "policy_gen without an endpoint name" "$GEN" "$TMP/noname.ini" rps 40 "$TMP/noname"
expect_grep '^1680$' "$TMP/out" "40 rps at 70% is 1680/minute"
rm -f "$AWS_LOG" "$AWS_LOG.cwd"
env -u ENDPOINT_NAME PATH="$TMP/bin:$PATH" sh "$TMP/noname/apply.sh" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc != 0 ] && [ ! -e "$AWS_LOG" ]; then ok "without ENDPOINT_NAME apply.sh stops before calling aws"; else
	fail "apply.sh without ENDPOINT_NAME: exit $rc"; fi
expect_grep 'ENDPOINT_NAME' "$TMP/err" "and says ENDPOINT_NAME is needed"
expect_rc 0 "with ENDPOINT_NAME it runs" env ENDPOINT_NAME=my-ep PATH="$TMP/bin:$PATH" \
	sh "$TMP/noname/apply.sh"
if tr '\0' '\n' <"$AWS_LOG" | grep -qx 'endpoint/my-ep/variant/AllTraffic'; then
	ok "resource id built from ENDPOINT_NAME"; else fail "resource id not built from ENDPOINT_NAME"; fi

# 6. Bad input is refused with file:line: key.
printf '[recommend]\nendpoint_name = tagger;reboot\n' >"$TMP/bad.ini"
expect_rc 2 "an endpoint name outside SageMaker's pattern is refused" \
	"$GEN" "$TMP/bad.ini" rps 50 "$TMP/apply"
expect_grep "bad.ini:2: endpoint_name:" "$TMP/err" "the error names file:line: key"
printf '[recommend]\nfactor = 1.5\n' >"$TMP/bad2.ini"
expect_rc 2 "factor outside (0, 1] is refused" "$GEN" "$TMP/bad2.ini" rps 50 "$TMP/apply"
expect_grep "bad2.ini:2: factor:" "$TMP/err" "the factor error names file:line: key"
printf '[recommend]\nfactr = 0.7\n' >"$TMP/bad3.ini"
expect_rc 2 "a typo'd key is refused" "$GEN" "$TMP/bad3.ini" rps 50 "$TMP/apply"
expect_grep "bad3.ini:2: factr: unknown key" "$TMP/err" "the typo is named"

done_testing
