#!/usr/bin/env bash
# test_find_component.sh - `kneecap find scenarios/inference-component.ini`
# with no TARGET (issue 18): the emulated component tagger-ic has 2 copies x
# 2 slots at 20 ms, so the knee per copy must land within -8%..+2% of
# 100 RPS; the policy is the component's, per copy; with --min-capacity 0
# apply.sh also holds the StepScaling policy and its CloudWatch alarm, and
# both scaling policies pass botocore's PutScalingPolicy validation.
# Timing-bound (plain build only); short steps keep it near 40 s.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHECK="$(cd "$(dirname "$0")" && pwd)/check_policy.py"
export AWS_EC2_METADATA_DISABLED=true
out=$TMP/find
# The scenario as shipped (256x256 JPEGs, scaled decode), with short steps and
# no confirmation step (a generator-bound confirm on a busy machine would
# withhold the files this test reads).
timeout 300 "$KNEECAP" find "$KC_SRCDIR/scenarios/inference-component.ini" --min-capacity 0 \
	--step-duration 3s --warmup 1s --no-confirm --out "$out" -q >"$TMP/find.out" 2>"$TMP/find.err"
rc=$?
[ $rc = 0 ] && ok "find on the shipped scenario exits 0" ||
	{ fail "find exits $rc"; tail -5 "$TMP/find.err" | sed 's/^/    /'; }
read -r per reason metric res kind copies < <("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["recommendation"]
print(d["knee"]["per_instance"], d["knee"]["reason"].split()[0], r["metric"],
      r["scalable_dimension"], r["endpoint_kind"], r["copies"])' "$out/result.json" 2>/dev/null)
if [ -n "${per:-}" ] && "$PY" -c 'import sys; v=float(sys.argv[1]); sys.exit(not 92 <= v <= 102)' "$per"; then
	ok "knee per copy $per RPS (nominal 100; -8%..+2%)"
else
	fail "knee per copy ${per:-none} outside 92..102"; tail -12 "$TMP/find.out" | sed 's/^/    /'
fi
[ "${metric:-}" = SageMakerInferenceComponentInvocationsPerCopy ] && ok "per-copy metric" ||
	fail "metric ${metric:-none}"
[ "${res:-}" = sagemaker:inference-component:DesiredCopyCount ] && [ "${kind:-}" = component ] &&
	[ "${copies:-}" = 2 ] && ok "component's dimension, 2 copies" || fail "dimension ${res:-} kind ${kind:-}"
expect_grep '"PredefinedMetricType": "SageMakerInferenceComponentInvocationsPerCopy"' \
	"$out/scaling-policy.json" "scaling-policy.json is per copy"
tv=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["TargetValue"])' "$out/scaling-policy.json")
"$PY" -c 'import sys; t,k=map(float,sys.argv[1:]); sys.exit(not abs(t - int(0.75*k*60)) <= 1)' "$tv" "$per" &&
	ok "TargetValue $tv = 0.75 x $per x 60" || fail "TargetValue $tv vs knee $per"
expect_rc 0 "botocore accepts the per-copy policy on inference-component/tagger-ic" "$PY" "$CHECK" \
	policy "$out/scaling-policy.json" kneecap inference-component/tagger-ic \
	sagemaker:inference-component:DesiredCopyCount
a=$out/apply.sh
expect_grep "^component='tagger-ic'$" "$a" "apply.sh names the component"
expect_grep 'resource-id "inference-component/\$\{component\}"' "$a" "resource inference-component/NAME"
expect_grep "--min-capacity '0'" "$a" "MinCapacity 0"
expect_grep "--policy-type 'StepScaling'" "$a" "the StepScaling policy"
expect_grep "^aws cloudwatch put-metric-alarm" "$a" "the alarm"
expect_grep "--metric-name 'NoCapacityInvocationFailures'" "$a" "on NoCapacityInvocationFailures"
sh -n "$a" && ok "apply.sh is valid shell" || fail "apply.sh is not valid shell"
"$PY" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["recommendation"]["scale_from_zero"], open(sys.argv[2], "w"))' \
	"$out/result.json" "$TMP/step.json" 2>/dev/null
expect_rc 0 "botocore accepts the StepScaling policy result.json records" "$PY" "$CHECK" step \
	"$TMP/step.json" inference-component/tagger-ic sagemaker:inference-component:DesiredCopyCount
done_testing
