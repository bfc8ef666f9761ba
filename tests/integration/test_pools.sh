#!/usr/bin/env bash
# test_pools.sh - `kneecap pools` on two small hand-written results (no
# load): ml.g6.2xlarge 40 RPS per instance, its fallback ml.g6e.2xlarge 40%
# lower.  With only two of the first pool to be had, the simulated day shows
# the per-instance target running the fallback instances above their knee
# and the capacity-weighted one not.  The files it writes pass botocore's
# validation and the AWS CLI's own (with a service model that knows metric
# math and InstancePools: Debian 12's botocore and awscli predate both).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_validate.sh"
here=$(cd "$(dirname "$0")" && pwd)
export AWS_EC2_METADATA_DISABLED=true
CHECK="$here/check_policy.py"

result() { # result FILE TYPE KNEE [extra recommendation keys]
	cat >"$1" <<EOF
{"tool": "kneecap", "schema": 1, "mode": "rps", "steps": [],
 "knee": {"value": $3, "unit": "rps", "per_instance": $3, "reason": "throughput", "found": true},
 "recommendation": {"instance_type": "$2", "metric": "SageMakerVariantInvocationsPerInstance",
  "factor": 0.75, "target_value": $(($3 * 45)) ${4:-}}}
EOF
}
result "$TMP/g6.json" ml.g6.2xlarge 40 ', "min_capacity": 2, "max_capacity": 8, "endpoint_name": "stt-pools", "variant": "AllTraffic"'
result "$TMP/g6e.json" ml.g6e.2xlarge 24
# A slow climb to 300 RPS that reactive scaling can follow.
printf '[traffic]\nbaseline = 60\npeak = 300 ramp 2h hold 4h down 2h every 1d at 08:00\n' >"$TMP/day.ini"

expect_rc 0 "pools with a shortage of the first pool" "$KNEECAP" pools "$TMP/g6.json" "$TMP/g6e.json" \
	--traffic "$TMP/day.ini" --available ml.g6.2xlarge=2
cp "$TMP/out" "$TMP/short.out"
expect_grep 'weighted metric: invocations / \(n1 \+ 0\.6 \* n2\)' "$TMP/short.out" "weight 0.6 for the fallback"
expect_grep '^TargetValue 1800 ' "$TMP/short.out" "TargetValue 1800 (75% of 40 RPS x 60)"
# "    ml.g6e.2xlarge  peak N instances, load A% ..., W% worst, S s above the knee"
over() { awk -v want="$1" '/^  [a-z]/ { sect = /capacity-weighted/ ? "w" : "u" }
	sect == want && $1 == "ml.g6e.2xlarge" { for (i = 1; i <= NF; i++) if ($i == "above") print $(i - 2) }' "$TMP/short.out"; }
u=$(over u) w=$(over w)
[ -n "$u" ] && [ "$u" -gt 3600 ] && ok "per-instance target: the fallback runs above its knee ($u s)" ||
	fail "per-instance target: fallback above its knee for '$u' s"
[ "$w" = 0 ] && ok "weighted target: the fallback never crosses its knee" ||
	fail "weighted target: fallback above its knee for '$w' s"
grep -A3 'per-instance metric' "$TMP/short.out" | grep -qE '^  per-instance metric.*: [1-9][0-9]* requests failed' &&
	ok "per-instance target fails requests" || fail "per-instance target fails no requests"
grep -qE '^  capacity-weighted metric: 0 requests failed' "$TMP/short.out" &&
	ok "weighted target fails none" || fail "weighted target fails requests"

# No shortage: the fallback is never used.
expect_rc 0 "pools without a shortage" "$KNEECAP" pools "$TMP/g6.json" "$TMP/g6e.json" --traffic "$TMP/day.ini"
[ "$(grep -c 'ml.g6e.2xlarge *peak   0 instances' "$TMP/out")" = 2 ] &&
	ok "no fallback instances without a shortage" || fail "fallback used without a shortage"
# Both pools short: even the weighted policy cannot hold the knee: exit 1.
expect_rc 1 "both pools short: exit 1" "$KNEECAP" pools "$TMP/g6.json" "$TMP/g6e.json" \
	--traffic "$TMP/day.ini" --available ml.g6.2xlarge=2 --available ml.g6e.2xlarge=3
expect_grep 'wanted more than the pools had' "$TMP/out" "says the pools ran out"
# Bad input.
expect_rc 2 "one result is not a pool list" "$KNEECAP" pools "$TMP/g6.json"
expect_rc 2 "the same type twice" "$KNEECAP" pools "$TMP/g6.json" "$TMP/g6.json"
expect_grep 'named twice' "$TMP/err" "names the repeated type"
expect_rc 2 "--available for a type with no result" "$KNEECAP" pools "$TMP/g6.json" "$TMP/g6e.json" \
	--available ml.p5.48xlarge=1
result "$TMP/noname.json" ml.g6.2xlarge 40
expect_rc 2 "no endpoint name anywhere" "$KNEECAP" pools "$TMP/noname.json" "$TMP/g6e.json"
expect_grep 'endpoint-name' "$TMP/err" "asks for --endpoint-name"

# The files.
o=$TMP/out.d
mv "$TMP/out" "$TMP/last.out" 2>/dev/null
"$KNEECAP" pools "$TMP/g6.json" "$TMP/g6e.json" --available ml.g6.2xlarge=2 --region eu-west-1 \
	--out "$o" >/dev/null 2>&1
for f in endpoint-config.json scaling-policy.json apply.sh publish-pool-counts.sh; do
	[ -s "$o/$f" ] && ok "wrote $f" || fail "wrote $f"
done
sh -n "$o/apply.sh" && sh -n "$o/publish-pool-counts.sh" && ok "both scripts are valid shell" ||
	fail "shell syntax"
grep -q "kneecap-weighted-1800" "$o/apply.sh" && ok "apply.sh puts the weighted policy" ||
	fail "apply.sh policy name"
# The publisher turns describe-endpoint's pool counts into one put-metric-data.
mkdir -p "$TMP/fb"
cat >"$TMP/fb/aws" <<'FAKE'
#!/bin/sh
case $2 in
describe-endpoint) printf 'ml.g6e.2xlarge\t5\nml.g6.2xlarge\t2\n' ;;
put-metric-data) for a; do last=$a; done; printf '%s\n' "$last" ;;
esac
FAKE
chmod +x "$TMP/fb/aws"
PATH="$TMP/fb:$PATH" sh "$o/publish-pool-counts.sh" >"$TMP/md.json" 2>&1
python3 - "$TMP/md.json" <<'PYEOF' && ok "the publisher puts each pool's count (2 and 5)" ||
import json, sys
d = json.load(open(sys.argv[1]))
got = {x["Dimensions"][2]["Value"]: x["Value"] for x in d}
assert got == {"ml.g6.2xlarge": 2, "ml.g6e.2xlarge": 5}, got
assert all(x["Dimensions"][0]["Value"] == "stt-pools" for x in d)
PYEOF
	fail "publisher data: $(cat "$TMP/md.json")"

# Service models that know the members (a newer botocore's, when one is installed).
find_model() { # find_model SERVICE NEEDLE
	local d f
	for d in "$(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))' 2>/dev/null)/data" \
		/usr/lib/google-cloud-sdk/lib/third_party/botocore/data /usr/lib/python3/dist-packages/botocore/data; do
		for f in "$d/$1"/*/service-2.json "$d/$1"/*/service-2.json.gz; do
			[ -f "$f" ] && zcat -f "$f" | grep -q "$2" && { echo "$f"; return 0; }
		done
	done
	return 1
}
aas=$(find_model application-autoscaling TargetTrackingMetricDataQuery)
sm=$(find_model sagemaker '"InstancePool"')
if /usr/bin/python3 "$CHECK" policy "$o/scaling-policy.json" >/dev/null 2>&1; then
	ok "Debian's botocore accepts the policy"
else
	echo "# note: Debian's botocore $(/usr/bin/python3 -c 'import botocore;print(botocore.__version__)') predates metric math in target tracking"
fi
if [ -n "$aas" ] && [ -n "$sm" ]; then
	expect_rc 0 "botocore validates PutScalingPolicy with the weighted policy ($aas)" \
		/usr/bin/python3 "$CHECK" model "$aas" PutScalingPolicy "$o/scaling-policy.json"
	expect_rc 0 "botocore validates CreateEndpointConfig with InstancePools ($sm)" \
		/usr/bin/python3 "$CHECK" model "$sm" CreateEndpointConfig "$o/endpoint-config.json"
	sed 's/"Priority": 2/"Priority": "2"/' "$o/endpoint-config.json" >"$TMP/bad-ec.json"
	expect_rc 1 "the check fails a string Priority" \
		/usr/bin/python3 "$CHECK" model "$sm" CreateEndpointConfig "$TMP/bad-ec.json"
	sed 's/"ReturnData": false/"ReturnData": true/' "$o/scaling-policy.json" >"$TMP/bad-pol.json"
	expect_rc 1 "the check fails two queries returning data" \
		/usr/bin/python3 "$CHECK" model "$aas" PutScalingPolicy "$TMP/bad-pol.json"
	if [ "${KC_AWSCLI:-1}" = 1 ] && [ -x "$AWS_CLI" ]; then
		m=$TMP/models
		mkdir -p "$m/application-autoscaling/2016-02-06" "$m/sagemaker/2017-07-24"
		zcat -f "$aas" >"$m/application-autoscaling/2016-02-06/service-2.json"
		zcat -f "$sm" >"$m/sagemaker/2017-07-24/service-2.json"
		export AWS_VALIDATE_MODELS=$m
		aws_validate "$o/apply.sh" 2 && ok "the AWS CLI accepts apply.sh's calls" ||
			fail "the AWS CLI rejects apply.sh's calls"
		printf 'aws sagemaker create-endpoint-config --cli-input-json file://endpoint-config.json\n' \
			>"$o/create.sh"
		aws_validate "$o/create.sh" 1 && ok "the AWS CLI accepts endpoint-config.json" ||
			fail "the AWS CLI rejects endpoint-config.json"
		aws_validate "$o/publish-pool-counts.sh" 2 && ok "the AWS CLI accepts the publisher's calls" ||
			fail "the AWS CLI rejects the publisher's calls"
		unset AWS_VALIDATE_MODELS
	fi
else
	echo "# skip: no installed botocore model knows metric math and InstancePools"
fi
done_testing
