#!/usr/bin/env bash
# test_find.sh - the main job end to end against the built-in emulator
# (loopback only, every run bounded by the search's step budget):
# the seed case, policy/apply.sh validity, and bad input.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SC="$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini"

# jq-free field reader: json_get FILE EXPR (Python expression over d).
json_get() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
in_range() { "$PY" -c "import sys; v,lo,hi=map(float,sys.argv[1:]); sys.exit(0 if lo<=v<=hi else 1)" "$@"; }

. "$(dirname "$0")/aws_validate.sh"

# --- the seed case: ml.g5.xlarge image tagger, ~50 RPS, target ~2250 ---
out=$TMP/seed
timeout 300 "$KNEECAP" find "$SC" --step-duration 4s --warmup 1s --out "$out" -q \
	>"$TMP/seed.txt" 2>"$TMP/seed.err"
rc=$?
if [ $rc = 0 ]; then ok "seed: find exits 0"; else fail "seed: find exit $rc"; sed 's/^/    /' "$TMP/seed.err" | tail -5; fi
for f in result.json steps.csv latency.hlog scaling-policy.json apply.sh; do
	[ -s "$out/$f" ] && ok "seed: wrote $f" || fail "seed: no $f"
done
if [ -s "$out/result.json" ]; then
	knee=$(json_get "$out/result.json" "d['knee']['per_instance']")
	tv=$(json_get "$out/result.json" "d['recommendation']['target_value']")
	lo=$(json_get "$out/result.json" "d['recommendation']['target_low']")
	hi=$(json_get "$out/result.json" "d['recommendation']['target_high']")
	in_range "$knee" 46 51 && ok "seed: knee $knee rps within -8%..+2% of 50" ||
		fail "seed: knee $knee rps not within 46..51"
	in_range "$tv" 2070 2295 && ok "seed: TargetValue $tv near 2250" ||
		fail "seed: TargetValue $tv not near 2250"
	in_range "$lo" 1930 2142 && in_range "$hi" 2208 2448 && ok "seed: range $lo-$hi (70-80%)" ||
		fail "seed: range $lo-$hi"
	took=$(json_get "$out/result.json" "d['search']['took_s']")
	load=$(json_get "$out/result.json" "d['search']['load_s']")
	in_range "$load" 1 120 && ok "seed: search needed ${load}s of load (${took}s wall clock)" ||
		fail "seed: search needed ${load}s of load, more than 120"
	[ "$(json_get "$out/result.json" "d['tool'], d['schema'], d['mode']")" = "kneecap 1 rps" ] &&
		ok "seed: result.json names tool, schema and mode" || fail "seed: tool/schema/mode"
	nsteps=$(json_get "$out/result.json" "len(d['steps'])")
	rows=$(($(wc -l <"$out/steps.csv") - 1))
	[ "$nsteps" = "$rows" ] && ok "seed: steps.csv has one row per step ($rows)" ||
		fail "seed: $rows csv rows vs $nsteps steps"
	json_get "$out/result.json" "all(isinstance(s['stable'], bool) for s in d['steps'])" |
		grep -q True && ok "seed: every step judged (stable is true/false)" || fail "seed: stable unset"
	# One truth: steps[].stable is exactly "the verdict is healthy".
	json_get "$out/result.json" "all(s['stable'] == (s['verdict']['verdict'] == 'healthy') and 'stable' not in s['verdict'] for s in d['steps'])" |
		grep -q True && ok "seed: steps[].stable agrees with steps[].verdict" ||
		fail "seed: steps[].stable and the verdict disagree"
	json_get "$out/result.json" "d['knee']['bound'] in ('tested', 'saturated_max', 'knee_achieved') and d['knee']['value'] <= max(d['knee']['saturated_max'], d['knee']['tested'])" |
		grep -q True && ok "seed: knee.bound says which bound applied" || fail "seed: knee.bound"
fi
# Every healthy row reads true by hand: achieved >= 97% of the arrivals printed
# in the same row, in steps.csv and in the terminal table (exact decimals).
"$PY" - "$out/steps.csv" "$TMP/seed.txt" >"$TMP/rows" 2>&1 <<'PY'
import csv, sys
from decimal import Decimal as D
bad, healthy = [], 0
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    if r['verdict'] == 'healthy':
        healthy += 1
        if D(r['achieved']) < D('0.97') * D(r['arrived']):
            bad.append('csv ' + str(r))
table = [l.split() for l in open(sys.argv[2]) if l[:4].strip().isdigit()]
for t in table:
    if t[13] == 'healthy':
        healthy += 1
        if D(t[3]) < D('0.97') * D(t[2]):
            bad.append('table ' + ' '.join(t))
if len(table) != len(rows) or not rows or any(r['verdict'] == '' for r in rows):
    bad.append('table %d rows, csv %d rows, verdicts %s' % (len(table), len(rows), [r['verdict'] for r in rows]))
print('healthy rows', healthy, 'bad', bad)
sys.exit(1 if bad or healthy == 0 else 0)
PY
[ $? = 0 ] && ok "seed: every healthy row has achieved >= 97% of arrived (csv and table)" ||
	{ fail "seed: a healthy row contradicts its figures"; sed 's/^/    /' "$TMP/rows"; }
# apply.sh passes the Debian AWS CLI's own parameter validation (register,
# policy), sent to an unreachable endpoint.
if [ -s "$out/apply.sh" ] && [ -x "${AWS_CLI:-/usr/bin/aws}" ]; then
	aws_validate "$out/apply.sh" 2 && ok "seed: apply.sh passes the AWS CLI's parameter validation" ||
		fail "seed: the AWS CLI refused a call in apply.sh"
else
	fail "seed: no apply.sh, or no Debian AWS CLI (/usr/bin/aws, package awscli)"
fi
expect_grep 'range 70-80%' "$TMP/seed.txt" "seed: the 70-80% range is printed"
expect_grep 'TargetValue' "$TMP/seed.txt" "seed: the TargetValue is printed"

# scaling-policy.json passes botocore's validation for PutScalingPolicy.
if [ -s "$out/scaling-policy.json" ]; then
	"$PY" - "$out/scaling-policy.json" >"$TMP/val" 2>&1 <<'PY'
import json, sys
import botocore.session
from botocore.validate import ParamValidator
model = botocore.session.get_session().get_service_model('application-autoscaling')
op = model.operation_model('PutScalingPolicy')
params = {
    'PolicyName': 'kneecap-test', 'ServiceNamespace': 'sagemaker',
    'ResourceId': 'endpoint/product-tagger/variant/AllTraffic',
    'ScalableDimension': 'sagemaker:variant:DesiredInstanceCount',
    'PolicyType': 'TargetTrackingScaling',
    'TargetTrackingScalingPolicyConfiguration': json.load(open(sys.argv[1])),
}
report = ParamValidator().validate(params, op.input_shape)
if report.has_errors():
    print(report.generate_report()); sys.exit(1)
PY
	[ $? = 0 ] && ok "seed: scaling-policy.json passes botocore validation" ||
		{ fail "seed: botocore rejects scaling-policy.json"; cat "$TMP/val"; }
	bash -n "$out/apply.sh" && ok "seed: apply.sh is valid shell" || fail "seed: apply.sh syntax"
	grep -q "product-tagger" "$out/apply.sh" && ok "seed: apply.sh names the endpoint" ||
		fail "seed: apply.sh lacks the endpoint"
fi

# --- the confirmation step (#15): one step at the recommended target ---
if [ -s "$out/result.json" ]; then
	"$PY" - "$out/result.json" >"$TMP/conf" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c, rec = d.get('confirm'), d.get('recommendation', {})
bad = []
if not isinstance(c, dict):
    print('no confirm{}'); sys.exit(1)
for k in ('offered', 'achieved', 'latency_ms', 'errors', 'verdict'):
    if k not in c: bad.append('no confirm.' + k)
inst = d['config'].get('emulator', {}).get('instances', 1)
if abs(c['offered'] - rec['target_value'] / 60.0 * inst) > 0.01:
    bad.append('offered %s is not TargetValue/60 x %d' % (c['offered'], inst))
if not (c['latency_ms']['p99'] > 0 and c['latency_ms']['p50'] > 0): bad.append('no p99 at the target')
if c['verdict'] != 'healthy' or c['healthy'] is not True: bad.append('verdict ' + c['verdict'])
# not a search step: the knee finder's series has no step at the confirm rate after the last
if len(d['steps']) != d['search']['steps']: bad.append('confirm added to steps[]')
print('confirm', c['offered'], 'rps p99', c['latency_ms']['p99'], c['verdict'], bad)
sys.exit(1 if bad else 0)
PY
	[ $? = 0 ] && ok "seed: confirm{} at TargetValue/60 rps, p99 measured, healthy ($(cat "$TMP/conf"))" ||
		{ fail "seed: confirm{}"; sed 's/^/    /' "$TMP/conf"; }
fi
expect_grep '^confirmation: at TargetValue [0-9]+ \([0-9.]+ RPS/instance\): p50 [0-9.]+ ms, p99 [0-9.]+ ms, achieved .* errors measured' \
	"$TMP/seed.txt" "seed: the confirmation line is printed"
[ "$(grep -c 'Tag=confirm,' "$out/latency.hlog" 2>/dev/null)" = 1 ] &&
	ok "seed: latency.hlog has the confirmation as one tagged interval" ||
	fail "seed: latency.hlog has no single Tag=confirm interval"

# --no-confirm and [search] confirm = false leave it out (uniform arrivals at
# a rate the emulator holds: one step, healthy at max).
short=(--start 10 --max 10 --arrival uniform --step-duration 2s --warmup 1s)
timeout 60 "$KNEECAP" find "$SC" "${short[@]}" --no-confirm --out "$TMP/noconf" -q \
	>"$TMP/noconf.txt" 2>&1
rc=$?
[ $rc = 0 ] && ok "--no-confirm: exits 0" || fail "--no-confirm: exit $rc"
[ -s "$TMP/noconf/result.json" ] && json_get "$TMP/noconf/result.json" "'confirm' in d" | grep -q False &&
	ok "--no-confirm: no confirm{} in result.json" || fail "--no-confirm: confirm{} present"
[ -s "$TMP/noconf/apply.sh" ] && ok "--no-confirm: apply.sh written" || fail "--no-confirm: no apply.sh"
grep -q '^confirmation' "$TMP/noconf.txt" && fail "--no-confirm: a confirmation line printed" ||
	ok "--no-confirm: no confirmation line"
{ cat "$SC"; printf '\n[search]\nconfirm = false\n'; } >"$TMP/noconf.ini"
# The shipped scenario may already have [search]; a second section header is fine for inih.
timeout 60 "$KNEECAP" find "$TMP/noconf.ini" "${short[@]}" --out "$TMP/noconf2" -q >/dev/null 2>&1
rc=$?
[ $rc = 0 ] && [ -s "$TMP/noconf2/result.json" ] &&
	json_get "$TMP/noconf2/result.json" "'confirm' in d" | grep -q False &&
	ok "[search] confirm = false: no confirmation step" || fail "[search] confirm = false (exit $rc)"

# A target that does not hold: the emulator dies after 40 invocations, which
# the one search step (probe + 10 warm-up + 20 measured, uniform) stays under
# and the confirmation step at 7.5 rps crosses: exit 1, said, no policy.
timeout 60 "$KNEECAP" find "$SC" "${short[@]}" --fault-close-after 40 --out "$TMP/badconf" \
	>"$TMP/badconf.txt" 2>"$TMP/badconf.err"
rc=$?
[ $rc = 1 ] && ok "failed confirmation: exits 1" || fail "failed confirmation: exit $rc"
expect_grep 'confirmation FAILED: the endpoint did not hold the recommended target' "$TMP/badconf.txt" \
	"failed confirmation: said on stdout"
expect_grep 'find: the confirmation step at the recommended target was unhealthy' "$TMP/badconf.err" \
	"failed confirmation: said on stderr"
[ ! -e "$TMP/badconf/apply.sh" ] && [ ! -e "$TMP/badconf/scaling-policy.json" ] &&
	ok "failed confirmation: no scaling-policy.json or apply.sh" || fail "failed confirmation: policy written"
[ -s "$TMP/badconf/result.json" ] &&
	json_get "$TMP/badconf/result.json" "d['confirm']['healthy'], d['confirm']['verdict'] != 'healthy', d['steps'][-1]['verdict']['verdict']" |
	grep -qx 'False True healthy' && ok "failed confirmation: confirm{} unhealthy, search step healthy" ||
	fail "failed confirmation: result.json confirm{}"
[ -s "$TMP/badconf/result.json" ] &&
	json_get "$TMP/badconf/result.json" "d['recommendation']['confirmed']" | grep -qx False &&
	ok "failed confirmation: recommendation.confirmed is false" ||
	fail "failed confirmation: recommendation.confirmed"
# plan must not build a capacity plan on a target that did not hold
expect_rc 2 "plan refuses an unconfirmed target" "$KNEECAP" plan "$TMP/badconf/result.json" \
	--traffic "$KC_SRCDIR/tests/data/traffic/seed-day.ini" -o "$TMP/badconf/plan.html"
expect_grep "failed find's confirmation step" "$TMP/err" "plan says why it refuses"

# --- bad input: each a one-line error naming what and where, exit 2 ---
printf '[search]\nstrat = 10\n' >"$TMP/typo.ini"
expect_rc 2 "typo'd key exits 2" "$KNEECAP" find "$TMP/typo.ini" -q
expect_grep 'typo.ini:2: strat: unknown key in \[search\]' "$TMP/err" "typo'd key named with file:line"
printf '[search]\nstart = 100\nmax = 50\n' >"$TMP/maxstart.ini"
expect_rc 2 "max below start exits 2" "$KNEECAP" find "$TMP/maxstart.ini" -q
expect_grep 'maxstart.ini:[0-9]+: max' "$TMP/err" "max below start named"
printf '[search]\nslo = 0\n' >"$TMP/slo0.ini"
expect_rc 2 "an SLO of 0 exits 2" "$KNEECAP" find "$TMP/slo0.ini" -q
expect_grep 'slo0.ini:2: slo' "$TMP/err" "the SLO of 0 is named"
expect_rc 2 "unknown flag exits 2" "$KNEECAP" find --frobnicate 3 -q
expect_rc 2 "bad flag value exits 2" "$KNEECAP" find --factor 1.5 -q
expect_grep 'command line' "$TMP/err" "a bad flag value is attributed to the command line"
expect_rc 2 "missing scenario file exits 2" "$KNEECAP" find "$TMP/nope.ini" -q
expect_grep 'nope.ini: no such file' "$TMP/err" "missing file named"

# A target that fails every request: ends early with a diagnosis, not a knee of 0.
timeout 120 "$KNEECAP" find --fault-error 503:1 --step-duration 1s --warmup 0s \
	--out "$TMP/allerr" -q >"$TMP/allerr.txt" 2>&1
rc=$?
[ $rc = 1 ] && ok "all-errors target exits 1" || fail "all-errors target exit $rc"
if [ -s "$TMP/allerr/result.json" ]; then
	[ "$(json_get "$TMP/allerr/result.json" "d['knee']['reason']")" = all_errors ] &&
		ok "all-errors: knee reason is all_errors" || fail "all-errors: knee reason"
	json_get "$TMP/allerr/result.json" "'recommendation' in d" | grep -q False &&
		ok "all-errors: no recommendation invented" || fail "all-errors: a recommendation was made"
	nst=$(json_get "$TMP/allerr/result.json" "len(d['steps'])")
	[ "$nst" -le 2 ] && ok "all-errors: ended after $nst step(s)" || fail "all-errors: ran $nst steps"
else
	fail "all-errors: no result.json"
fi

# Nothing listening: exit 3.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
expect_rc 3 "unreachable target exits 3" timeout 60 "$KNEECAP" find "http://127.0.0.1:$port/x" -q
done_testing
