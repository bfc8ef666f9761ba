#!/usr/bin/env bash
# test_policy_kinds.sh - the scaling policy and apply.sh for each kind of
# scalable target (issue 18): a variant, an inference component, a
# component scaled to zero (StepScaling policy + NoCapacityInvocationFailures
# alarm) and a serverless variant's provisioned concurrency.  Each
# scaling-policy.json passes botocore's PutScalingPolicy validation (with
# the resource id and dimension apply.sh uses), and each apply.sh passes the
# Debian AWS CLI's own parameter validation (unreachable endpoint, fake
# credentials: "Could not connect" = valid).  No network, no AWS account.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_validate.sh"
here=$(cd "$(dirname "$0")" && pwd)
GEN=${KC_POLICY_GEN:?KC_POLICY_GEN must name the policy_gen test helper}
CHECK="$here/check_policy.py"
export AWS_EC2_METADATA_DISABLED=true
# Debian's botocore predates the component and serverless names (the
# checker notes that); a newer botocore on PATH checks the enums strictly.
PYS=(/usr/bin/python3)
if python3 -c 'import botocore.session as s, sys
m = s.get_session().get_service_model("application-autoscaling")
sys.exit("SageMakerInferenceComponentInvocationsPerCopy" not in
         m.shape_for("MetricType").enum)' 2>/dev/null; then
	PYS+=("$(command -v python3)")
fi

# kind NAME INI KNEE WANT_TARGET RESOURCE DIMENSION METRIC CALLS
kind() {
	local name=$1 ini=$2 knee=$3 want=$4 res=$5 dim=$6 metric=$7 calls=$8 py
	mkdir -p "$TMP/$name"
	printf '%b' "$ini" >"$TMP/$name.ini"
	expect_rc 0 "$name: policy_gen" "$GEN" "$TMP/$name.ini" rps "$knee" "$TMP/$name" us-east-1
	expect_grep "^$want\$" "$TMP/out" "$name: TargetValue $want"
	expect_grep "\"PredefinedMetricType\": \"$metric\"" "$TMP/$name/scaling-policy.json" \
		"$name: metric $metric"
	for py in "${PYS[@]}"; do
		KC_STRICT_ENUM=$([ "$py" = /usr/bin/python3 ] && echo 0 || echo 1) \
			expect_rc 0 "$name: botocore ($py) accepts PutScalingPolicy on $res" \
			"$py" "$CHECK" policy "$TMP/$name/scaling-policy.json" kneecap "$res" "$dim"
	done
	grep -q -- "--scalable-dimension '$dim'" "$TMP/$name/apply.sh" &&
		ok "$name: apply.sh uses $dim" || fail "$name: apply.sh dimension"
	if aws_validate "$TMP/$name/apply.sh" "$calls"; then
		ok "$name: all $calls calls pass the AWS CLI's parameter validation"
	else
		fail "$name: the AWS CLI refused a call"
	fi
}

kind variant '[recommend]\nendpoint_name = product-tagger\nmin_capacity = 2\nmax_capacity = 8\n' \
	50 2250 endpoint/product-tagger/variant/AllTraffic sagemaker:variant:DesiredInstanceCount \
	SageMakerVariantInvocationsPerInstance 2
# 2 copies carried 100 RPS: 50 per copy -> 2250 invocations/copy/minute.
kind component '[target]\ninference_component = tagger-ic\n[recommend]\ncopies = 2\nmin_capacity = 1\nmax_capacity = 6\n' \
	100 2250 inference-component/tagger-ic sagemaker:inference-component:DesiredCopyCount \
	SageMakerInferenceComponentInvocationsPerCopy 2
kind zero '[target]\ninference_component = tagger-ic\n[recommend]\ncopies = 2\nmin_capacity = 0\nmax_capacity = 6\n' \
	100 2250 inference-component/tagger-ic sagemaker:inference-component:DesiredCopyCount \
	SageMakerInferenceComponentInvocationsPerCopy 4
a=$TMP/zero/apply.sh
expect_grep "--min-capacity '0'" "$a" "zero: MinCapacity 0"
expect_grep "--policy-type 'StepScaling'" "$a" "zero: a StepScaling policy"
expect_grep '^step_arn=\$\(aws application-autoscaling put-scaling-policy' "$a" \
	"zero: the script captures the step policy's ARN"
expect_grep '--alarm-actions "\$step_arn"' "$a" "zero: the alarm's action is that ARN"
expect_grep "--metric-name 'NoCapacityInvocationFailures'" "$a" "zero: alarm on NoCapacityInvocationFailures"
expect_grep 'Name=InferenceComponentName,Value=\$\{component\}' "$a" "zero: per component"
for py in "${PYS[@]}"; do
	KC_STRICT_ENUM=$([ "$py" = /usr/bin/python3 ] && echo 0 || echo 1) \
		expect_rc 0 "zero: botocore ($py) accepts the StepScaling PutScalingPolicy" \
		"$py" "$CHECK" step "$TMP/zero/step-scaling-policy.json" \
		inference-component/tagger-ic sagemaker:inference-component:DesiredCopyCount
done
# The configuration in apply.sh is the one botocore checked.
inline=$(sed -nE "s/^  --step-scaling-policy-configuration '(.*)' \\\\$/\1/p" "$a")
if [ -n "$inline" ] && python3 -c 'import json,sys
sys.exit(json.loads(sys.argv[1]) != json.load(open(sys.argv[2])))' "$inline" \
	"$TMP/zero/step-scaling-policy.json"; then
	ok "zero: apply.sh's inline StepScaling configuration is the checked one"
else
	fail "zero: inline StepScaling configuration differs: $inline"
fi
# Controls: the checks can fail.
# (one call: each AWS CLI start costs seconds on a busy machine)
{ echo "component=tagger-ic step_arn=arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:x"
  grep -A20 '^aws cloudwatch put-metric-alarm' "$a" | sed "s/--period '60'/--period 'sixty'/"; } \
	>"$TMP/zero/bad.sh"
if aws_validate "$TMP/zero/bad.sh" 1 >/dev/null; then fail "control: a bad alarm period is caught"
else ok "control: a bad alarm period is caught"; fi
printf '{"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0}]}' \
	>"$TMP/badstep.json"
expect_rc 1 "control: botocore rejects a step without ScalingAdjustment" /usr/bin/python3 "$CHECK" \
	step "$TMP/badstep.json" inference-component/x sagemaker:inference-component:DesiredCopyCount
# Without min 0 no step policy and no alarm.
! grep -q 'StepScaling\|put-metric-alarm' "$TMP/component/apply.sh" &&
	ok "component at min 1: no step policy, no alarm" || fail "component at min 1 has a step policy"
# Only a component scales to zero.
printf '[recommend]\nmin_capacity = 0\n' >"$TMP/v0.ini"
expect_rc 2 "a variant at min 0 is refused" "$GEN" "$TMP/v0.ini" rps 50 "$TMP/variant"
expect_grep "min_capacity: .*only an inference component scales to 0" "$TMP/err" "and says why"

# Serverless: 20 concurrent units carried 100 RPS; the target is a utilization.
kind serverless '[recommend]\nendpoint_kind = serverless\nendpoint_name = tagger-sls\nmax_concurrency = 20\nmin_capacity = 2\nmax_capacity = 20\n' \
	100 0.75 endpoint/tagger-sls/variant/AllTraffic sagemaker:variant:DesiredProvisionedConcurrency \
	SageMakerVariantProvisionedConcurrencyUtilization 2
printf '[recommend]\nendpoint_kind = serverless\nmax_capacity = 300\n' >"$TMP/s300.ini"
expect_rc 2 "provisioned concurrency above 200 is refused" "$GEN" "$TMP/s300.ini" rps 50 "$TMP/serverless"
done_testing
