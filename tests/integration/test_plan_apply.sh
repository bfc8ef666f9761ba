#!/usr/bin/env bash
# test_plan_apply.sh - the README's plan command works verbatim on a find
# result, using the shipped seed scenario's [traffic]; plan --out writes
# apply.sh for the plan's Min/Max and pre-warm actions on the result's real
# endpoint and variant, and the Debian AWS CLI's own parameter validation
# accepts every call in it (sent to an unreachable endpoint, never AWS).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/aws_validate.sh"
export KNEECAP_PRICES=$KC_SRCDIR/data/instance-types.csv
export AWS_EC2_METADATA_DISABLED=true
R=$KC_SRCDIR/tests/data/results

# The README's command, verbatim, in a directory laid out like the checkout
# after the README's find command (find-verdicts.json is such a find result:
# the seed scenario, [recommend] Min 2 / Max 8, endpoint product-tagger).
cmd=$(grep -E '^\./build/kneecap plan ' "$KC_SRCDIR/README.md" | head -1)
[ -n "$cmd" ] && ok "the README has a plan command: $cmd" || fail "the README has a plan command"
w=$TMP/checkout
mkdir -p "$w/build" "$w/out"
ln -s "$KNEECAP" "$w/build/kneecap"
ln -s "$KC_SRCDIR/scenarios" "$w/scenarios"
cp "$R/find-verdicts.json" "$w/out/result.json"
(cd "$w" && bash -c "$cmd") >"$TMP/plan.out" 2>"$TMP/plan.err"
rc=$?
[ $rc = 0 ] && ok "the README's plan command exits 0" ||
	{ fail "the README's plan command exits $rc"; sed 's/^/    /' "$TMP/plan.err" | head -5; }
a=$w/out/plan/apply.sh
for f in plan.html plan.txt timeline.csv apply.sh scaling-policy.json; do
	[ -s "$w/out/plan/$f" ] && ok "wrote out/plan/$f" || fail "wrote out/plan/$f"
done
[ -x "$a" ] && ok "apply.sh is executable" || fail "apply.sh is executable"
sh -n "$a" 2>/dev/null && ok "apply.sh is valid shell" || fail "apply.sh is valid shell"

# The plan's Min/Max, its pre-warm actions, the real names.
read -r pmin pmax nsched < <(sed -nE 's/^plan: .*apply\.sh \(MinCapacity ([0-9]+), MaxCapacity ([0-9]+), ([0-9]+) scheduled.*/\1 \2 \3/p' "$TMP/plan.out")
head -1 "$TMP/plan.out" | grep -q "Min $pmin, Max $pmax" &&
	ok "apply.sh registers the Min/Max the plan simulated ($pmin/$pmax)" ||
	fail "apply.sh Min/Max ($pmin/$pmax) vs the plan: $(head -1 "$TMP/plan.out")"
grep -A6 'register-scalable-target' "$a" | grep -q -- "--min-capacity '$pmin'" &&
	grep -A7 'register-scalable-target' "$a" | grep -q -- "--max-capacity '$pmax'" &&
	ok "register-scalable-target --min-capacity $pmin --max-capacity $pmax" ||
	fail "register-scalable-target bounds"
want_sched=$(grep -cE '^  scheduled ' "$TMP/plan.out")
got_sched=$(grep -c 'put-scheduled-action' "$a")
[ "$nsched" -ge 1 ] && [ "$got_sched" = "$want_sched" ] && [ "$got_sched" = "$nsched" ] &&
	ok "one put-scheduled-action per pre-warm action ($got_sched)" ||
	fail "put-scheduled-action: $got_sched in apply.sh, $want_sched in the plan"
grep -q "^endpoint='product-tagger'$" "$a" && grep -q "^variant='AllTraffic'$" "$a" &&
	ok "the result's endpoint and variant names" || fail "the result's endpoint and variant names"
! grep -qE 'ENDPOINT|VARIANT' "$a" "$w/out/plan/plan.html" &&
	ok "no ENDPOINT/VARIANT placeholders in apply.sh or plan.html" || fail "placeholders left"
grep -q 'put-scheduled-action' "$a" && grep -q "cron(" "$a" &&
	grep -q "MinCapacity=" "$a" && ok "scheduled actions carry a cron and MinCapacity" ||
	fail "scheduled actions"
# The same actions plan.html shows (no schedule given: the recommended ones).
same=1
while IFS=$'\t' read -r cron act; do
	grep -F -- "--schedule '$cron' --scalable-target-action $act" "$w/out/plan/plan.html" |
		grep -qE -- "--scalable-target-action $act\$" || same=0
done < <(paste <(sed -nE "s/^  --schedule '(.*)' .*/\1/p" "$a") \
	<(sed -nE "s/^  --scalable-target-action '(.*)'$/\1/p" "$a"))
[ $same = 1 ] && ok "apply.sh's scheduled actions are the ones plan.html shows" ||
	fail "apply.sh's scheduled actions differ from plan.html's"
# Nothing given, so nothing is attributed to the user; find's Min 2 / Max 8
# and the plan's differ, and the plan says why.
! grep -q 'you gave' "$TMP/plan.out" "$w/out/plan/plan.html" &&
	ok "no 'you gave' when nothing was given" || fail "'you gave' printed though nothing was given"
if [ "$pmin/$pmax" = "2/8" ]; then
	expect_grep 'the same as find.s apply.sh' "$TMP/plan.out" "plan and find agree on Min/Max"
else
	expect_grep "find's apply.sh registered Min 2 / Max 8.*The plan's apply.sh registers Min $pmin / Max $pmax" \
		"$TMP/plan.out" "plan says why its Min/Max differ from find's"
fi

# find's apply.sh with the default Max 4 (the issue's case): the plan says why
# it registers more.
sed 's/"max_capacity": 8/"max_capacity": 4/' "$R/find-verdicts.json" >"$TMP/max4.json"
expect_rc 0 "plan on a result whose apply.sh registered Max 4" "$KNEECAP" plan "$TMP/max4.json" \
	--traffic "$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini" --out "$TMP/max4"
expect_grep "find's apply.sh registered Min 2 / Max 4 .*peak of 220 RPS needs [0-9]+ instances at the target, so Max 4 would queue at every peak. The plan's apply.sh registers Min 2 / Max [5-9]" \
	"$TMP/out" "plan says why its Max differs from find's"
expect_grep "find(&#39;|')s apply.sh registered Min 2 / Max 4" "$TMP/max4/plan.html" "plan.html says it too"

# Given bounds are said to be given.
expect_rc 0 "plan with --min/--max" "$KNEECAP" plan "$R/find-verdicts.json" --traffic \
	"$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini" --min 3 --max 9 --out "$TMP/given"
expect_grep '^Min 3 / Max 9: you gave both' "$TMP/out" "given bounds are named as given"

# The AWS CLI's own validation accepts every call: register, policy, each action.
if [ -x "${AWS_CLI:-/usr/bin/aws}" ]; then
	if aws_validate "$a" $((2 + got_sched)); then
		ok "plan apply.sh: every call passes the AWS CLI's parameter validation"
	else
		fail "plan apply.sh: the AWS CLI refused a call"
	fi
	# Negative control: a bad value in a scheduled action is caught.
	sed "s/MinCapacity=\([0-9]*\)/MinCapacity=four/" "$a" >"$w/out/plan/bad.sh"
	if aws_validate "$w/out/plan/bad.sh" $((2 + got_sched)) >/dev/null; then
		fail "control: a bad parameter is caught"
	else
		ok "control: a bad parameter is caught"
	fi
else
	fail "the Debian AWS CLI (/usr/bin/aws, package awscli) is not installed (scripts/setup installs it)"
fi
done_testing
