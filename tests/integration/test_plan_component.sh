#!/usr/bin/env bash
# test_plan_component.sh - `kneecap plan` on an inference component's
# result (issue 18): the plan's unit is a copy, instances under copies by
# --copies-per-instance; --min 0 models scale to zero (failed requests and
# cold-start seconds while a copy provisions from zero, the saving of the
# idle hours) and its apply.sh registers MinCapacity 0 on
# inference-component/NAME with the StepScaling policy, the alarm, and a
# relax action back to 0; the AWS CLI's own validation accepts every call.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_validate.sh"
export AWS_EC2_METADATA_DISABLED=true
R=$KC_SRCDIR/tests/data/results/find-component.json
# 150 RPS with an hourly peak, nothing from 01:00 to 05:00 between peaks.
printf '[traffic]\nbaseline = 150\npeak = 400 ramp 90s hold 5m every 1h at :00\ntrough = 0 from 01:00 to 05:00\n' \
	>"$TMP/zday.ini"
expect_rc 0 "plan --min 0 on the component's result" "$KNEECAP" plan "$R" --traffic "$TMP/zday.ini" \
	--min 0 --copies-per-instance 2 --price 1.4 --out "$TMP/p0"
cp "$TMP/out" "$TMP/p0.out"
expect_grep '^inference component tagger-ic: the plan.s capacity unit is a copy \(95.7 RPS per copy' \
	"$TMP/p0.out" "the unit is a copy of tagger-ic"
expect_grep 'at most ([0-9]+) copies, [0-9]+ instances under them at 2 copies per instance' \
	"$TMP/p0.out" "instances under the copies"
read -r copies inst < <(sed -nE 's/.*at most ([0-9]+) copies, ([0-9]+) instances.*/\1 \2/p' "$TMP/p0.out")
[ -n "${copies:-}" ] && [ "$inst" = $(((copies + 1) / 2)) ] && ok "$copies copies -> $inst instances" ||
	fail "copies ${copies:-?} instances ${inst:-?}"
line=$(grep '^scale to zero' "$TMP/p0.out")
[ -n "$line" ] && ok "a scale-to-zero line" || fail "no scale-to-zero line"
read -r hours usd wakes each cold failed < <(sed -nE 's/.*no copy for ([0-9.]+) h\/day \(([0-9.]+) USD\/day saved.*; ([0-9]+) wakes?\/day, each ([0-9]+) s .* ([0-9]+) cold-start s\/day in all; ([0-9]+) of .*/\1 \2 \3 \4 \5 \6/p' <<<"$line")
# Each wake: alarm (60 s period + 60 s lag) + 300 s provisioning = 420 s.
[ "${each:-}" = 420 ] && [ "${cold:-}" = $((wakes * 420)) ] && [ "${wakes:-0}" -ge 1 ] &&
	ok "$wakes wakes x 420 s = $cold cold-start s/day" || fail "wakes/cold: $line"
awk -v f="${failed:-0}" 'BEGIN{exit !(f > 0)}' && ok "requests fail while waking ($failed/day)" ||
	fail "no failed requests counted"
awk -v h="${hours:-0}" -v u="${usd:-0}" 'BEGIN{exit !(h > 0 && (u - h * 0.7) ^ 2 < 0.0001)}' &&
	ok "saving: $hours h x 1.4/2 USD per copy-hour = $usd USD/day" || fail "saving $usd for $hours h"
a=$TMP/p0/apply.sh
expect_grep "^component='tagger-ic'$" "$a" "apply.sh: the component"
expect_grep "--min-capacity '0'" "$a" "apply.sh: MinCapacity 0"
expect_grep "--policy-type 'StepScaling'" "$a" "apply.sh: the StepScaling policy"
expect_grep '^aws cloudwatch put-metric-alarm' "$a" "apply.sh: the alarm"
expect_grep "'MinCapacity=0,MaxCapacity=" "$a" "the relax action restores zero"
! grep -q 'variant' "$a" && ok "no variant resource for a component" || fail "a variant in apply.sh"
n=$(grep -c '^aws \|^step_arn=\$(aws ' "$a")
if [ -x "${AWS_CLI:-/usr/bin/aws}" ]; then
	aws_validate "$a" "$n" && ok "all $n calls pass the AWS CLI's parameter validation" ||
		fail "the AWS CLI refused a call"
else
	fail "the Debian AWS CLI (/usr/bin/aws) is not installed"
fi
# No idle window: nothing to save, no wakes.
printf '[traffic]\nbaseline = 100\n' >"$TMP/flat.ini"
expect_rc 0 "plan --min 0 on flat traffic" "$KNEECAP" plan "$R" --traffic "$TMP/flat.ini" --min 0
expect_grep 'no copy for 0\.00 h/day .*; 0 wakes/day' "$TMP/out" "flat traffic: no zero, no wakes"
# Without --min 0: the component's plan, no step policy.
expect_rc 0 "plan on the component without --min 0" "$KNEECAP" plan "$R" --traffic "$TMP/zday.ini" \
	--out "$TMP/p1"
! grep -q '^scale to zero' "$TMP/out" && ! grep -q StepScaling "$TMP/p1/apply.sh" &&
	grep -q 'inference-component/' "$TMP/p1/apply.sh" &&
	ok "Min >= 1: the component's resource, no scale to zero" || fail "plan without --min 0"
# Only a component scales to zero.
expect_rc 2 "--min 0 on a variant's result is refused" "$KNEECAP" plan \
	"$KC_SRCDIR/tests/data/results/find-verdicts.json" --traffic "$TMP/zday.ini" --min 0
expect_grep 'only an inference component scales to zero' "$TMP/err" "and says why"
# A serverless result: plan does not model provisioned concurrency, and says so.
python3 - "$R" "$TMP/sls.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["recommendation"]["endpoint_kind"] = "serverless"
json.dump(d, open(sys.argv[2], "w"))
PY
expect_rc 2 "plan on a serverless result is refused" "$KNEECAP" plan "$TMP/sls.json" \
	--traffic "$TMP/zday.ini" --out "$TMP/psls"
expect_grep 'serverless endpoint.s result' "$TMP/err" "and says why"
[ ! -e "$TMP/psls/apply.sh" ] && ok "no apply.sh for it" || fail "apply.sh written for a serverless result"
done_testing
