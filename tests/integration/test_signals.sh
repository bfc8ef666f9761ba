#!/usr/bin/env bash
# test_signals.sh - the endpoint's own CloudWatch signals (#20):
#  1. kneecap's GetMetricData requests verify under botocore's SigV4 signer
#     (a stand-in recomputes each Authorization with botocore.auth);
#  2. botocore's own cloudwatch and application-autoscaling clients call the
#     emulator's metrics face and parse every answer, with the model's numbers;
#  3. the seed scenario end to end: find on a sagemaker: target shows CPU far
#     below 70% and the GPU near 100% at the knee, InvocationsPerInstance
#     proportional to load, and says a CPU 70% policy never fires;
#  4. AccessDenied from CloudWatch: one warning, exit status unchanged,
#     result.json says the signals are unavailable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=not-a-secret-either
PYD="$KC_SRCDIR/tests/integration/py"
TOOL=$KC_CW_TOOL
if ! $PY -c 'import botocore' 2>/dev/null; then
	fail "python3-botocore is not installed (scripts/setup --test installs it)"
	done_testing; exit
fi

# 1. botocore's signer
$PY "$PYD/cw_sign_check.py" "$TMP/pf" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" \
	"tok/en+=" >"$TMP/sign.out" 2>&1 &
SPID=$!
EMU_PIDS="$EMU_PIDS $SPID"
for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$TMP/pf")/"
AWS_SESSION_TOKEN="tok/en+=" "$TOOL" "$url" tagger AllTraffic 60 1796600000 1796603600 >"$TMP/t1" 2>&1
rc=$?
AWS_SESSION_TOKEN="tok/en+=" "$TOOL" "$url" "end point/x" AllTraffic 60 1796600000 1796603660 >>"$TMP/t1" 2>&1
rc2=$?
AWS_SESSION_TOKEN="tok/en+=" AWS_SECRET_ACCESS_KEY=other "$TOOL" "$url" tagger AllTraffic 60 1796600000 1796603600 >"$TMP/t2" 2>&1
rc3=$?
kill "$SPID" 2>/dev/null
[ "$rc" = 0 ] && [ "$rc2" = 0 ] && [ "$(grep -c '^match$' "$TMP/sign.out")" = 2 ] &&
	ok "kneecap's GetMetricData Authorization equals botocore's SigV4Auth (with a session token)" ||
	{ fail "GetMetricData signature differs from botocore's"; sed 's/^/    /' "$TMP/sign.out" "$TMP/t1" | head; }
grep -q '^s0 Complete 1 1796612400:42.000$' "$TMP/t1" && ok "the XML answer parsed (Id, timestamp, value)" ||
	fail "GetMetricDataResponse not parsed: $(head -1 "$TMP/t1")"
[ "$rc3" = 3 ] && grep -q 'SignatureDoesNotMatch' "$TMP/t2" && grep -q '^mismatch' "$TMP/sign.out" &&
	ok "control: another secret does not verify, and the 403 is an auth error" ||
	fail "control: wrong secret rc $rc3: $(cat "$TMP/t2")"

# 2. botocore's clients against the emulator's face (1 s periods)
start_emu face --metrics-listen 127.0.0.1:0 --metric-period 1s --endpoint-name tagger \
	--variant AllTraffic --scaling-policy CPUUtilization=70 --verify-sigv4 "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" || { done_testing; exit; }
MPORT=$(sed -n 's/^metrics on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/face.out")
t0=$(date +%s)
timeout 30 "$KNEECAP" run sagemaker:tagger --endpoint-url "http://127.0.0.1:$PORT" --region us-east-1 \
	--rate 30 --duration 3s -q >/dev/null 2>"$TMP/run.err" || fail "run against the face: $(tail -1 "$TMP/run.err")"
sleep 1.2
t1=$(($(date +%s) + 1))
$PY "$PYD/cw_face_boto.py" "$MPORT" tagger AllTraffic "$t0" "$t1" >"$TMP/boto.out" 2>&1 ||
	fail "botocore raised: $(tail -3 "$TMP/boto.out")"
$PY - "$TMP/boto.out" >"$TMP/boto.chk" 2>&1 <<'PYEOF'
import json, sys
rows = {}
for ln in open(sys.argv[1]):
    d = json.loads(ln)
    rows[d.get("metric") or ("policy" if "policy" in d else "x")] = d
bad = []
def mean_busy(m):
    v = [x for x in rows[m]["values"] if x > 0]
    return sum(v) / max(len(v), 1)
inv = sum(rows["Invocations"]["values"])
if not 80 <= inv <= 95: bad.append("Invocations sum %s, want ~90" % inv)
if sum(rows["InvocationsPerInstance"]["values"]) != inv: bad.append("IPI != Invocations/1")
ml = rows["ModelLatency"]["values"]
if not ml or not all(39000 <= v <= 80000 for v in ml): bad.append("ModelLatency us %s" % ml)
cpu = max(rows["CPUUtilization"]["values"])
if not 18 <= cpu <= 30: bad.append("CPUUtilization peak %s, want ~24 (30 rps x 8 ms)" % cpu)
gpu = max(rows["GPUUtilization"]["values"])
if not 45 <= gpu <= 75: bad.append("GPUUtilization peak %s, want ~60 (30 rps x 40 ms / 2 slots)" % gpu)
if set(rows["GPUMemoryUtilization"]["values"]) != {40.0}: bad.append("GPU memory")
if sum(rows["Invocation5XXErrors"]["values"]) != 0: bad.append("5XX")
if rows.get("policy", {}).get("target") != 70.0: bad.append("policy %s" % rows.get("policy"))
if len(rows) != 11: bad.append("%d rows" % len(rows))
print("; ".join(bad) or "ok")
PYEOF
[ "$(cat "$TMP/boto.chk")" = ok ] &&
	ok "botocore parses GetMetricData (10 metrics) and DescribeScalingPolicies from the face; the numbers are the model's" ||
	{ fail "face answers: $(cat "$TMP/boto.chk")"; head -12 "$TMP/boto.out" | cut -c1-200 | sed 's/^/    /'; }
"$TOOL" "http://127.0.0.1:$MPORT/" tagger AllTraffic 1 "$t0" "$t1" >"$TMP/t3" 2>&1 &&
	[ "$(grep -c ' Complete ' "$TMP/t3")" = 10 ] && ok "kneecap's client reads the face (10 series, signed)" ||
	fail "kneecap's client on the face: $(head -2 "$TMP/t3")"
stop_emu

# 3. the seed scenario end to end (1 instance x 2 slots x 40 ms, 8 ms CPU on 4 vCPUs)
find_seed() { # NAME EXTRA-SERVE-ARGS...
	local name=$1; shift
	# The seed's [emulator] (its 8 ms of CPU per request on 4 vCPUs); the
	# real decode at 1/8 scale keeps two shared cores GPU-bound, not CPU-bound.
	start_emu "$name" "$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini" --cpu-decode scaled \
		--metrics-listen 127.0.0.1:0 --metric-period 1s --endpoint-name tagger "$@" || return 1
	local m
	grep -q 'summed over 4 vCPUs' "$TMP/$name.out" ||
		fail "$name: the seed's ml.g5.xlarge should have 4 vCPUs (data/instance-types.csv)"
	m=$(sed -n 's/^metrics on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out")
	timeout 90 "$KNEECAP" find sagemaker:tagger/AllTraffic --region us-east-1 \
		--endpoint-url "http://127.0.0.1:$PORT" --cloudwatch-endpoint-url "http://127.0.0.1:$m" \
		--cloudwatch-period 1s --start 15 --growth 1.5 --arrival uniform \
		--step-duration 3s --warmup 1s --precision 0.1 --no-confirm "${FIND_EXTRA[@]}" \
		--alarm-topic arn:aws:sns:us-east-1:123456789012:oncall --endpoint-name tagger \
		--out "$TMP/$name" >"$TMP/$name.stdout" 2>"$TMP/$name.stderr"
	echo $? >"$TMP/$name.rc"
	stop_emu
}
FIND_EXTRA=(--current-policy CPUUtilization=70)
find_seed seed
# Two shared cores under other builds can fail a healthy step near the knee
# (the search then stops low, where the GPU is not yet busy): one retry.
if ! $PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["knee"]["value"] >= 40 else 1)' \
	"$TMP/seed/result.json" 2>/dev/null; then
	echo "# the knee came out low (a noisy step on a loaded machine): one retry"
	find_seed seed
fi
R=$TMP/seed/result.json
[ "$(cat "$TMP/seed.rc")" = 0 ] && ok "find on the seed exits 0" ||
	{ fail "find exit $(cat "$TMP/seed.rc")"; tail -5 "$TMP/seed.stderr" | sed 's/^/    /'; }
$PY - "$R" >"$TMP/seed.chk" 2>&1 <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["signals"]
rows = {x["metric"]: x for x in s["table"]}
bad = []
if not s["available"] or s["period_s"] != 1: bad.append("available/period %s" % s)
cpu, gpu, ipi = rows["CPUUtilization"], rows["GPUUtilization"], rows["InvocationsPerInstance"]
if not (cpu["at_knee"] is not None and 20 <= cpu["at_knee"] <= 50): bad.append("CPU at knee %s" % cpu["at_knee"])
if not (gpu["at_knee"] is not None and gpu["at_knee"] >= 85): bad.append("GPU at knee %s" % gpu["at_knee"])
if not ipi["proportional"]: bad.append("IPI not proportional (r %s)" % ipi["r"])
if cpu.get("fires_before_saturation") is not False: bad.append("CPU 70 fires?")
if not any(v.startswith("CPUUtilization reads") and "70% target never fires" in v for v in s["verdict"]):
    bad.append("verdict %s" % s["verdict"])
if s["current_policy"] != {"metric": "CPUUtilization", "target": 70.0, "source": "--current-policy"}:
    bad.append("current policy %s" % s["current_policy"])
if not all("signals" in st and "CPUUtilization" in st["signals"] for st in r["steps"]): bad.append("steps[].signals")
print("; ".join(bad) or "ok")
PYEOF
[ "$(cat "$TMP/seed.chk")" = ok ] &&
	ok "seed: CPU far below 70% and GPU near 100% at the knee, InvocationsPerInstance proportional, a CPU 70% policy never fires" ||
	{ fail "seed table: $(cat "$TMP/seed.chk")"; sed -n '/^signals/,$p' "$TMP/seed.stdout" | head -20 | sed 's/^/    /'; }
expect_grep 'CPUUtilization reads [0-9]+% at the knee: a 70% target never fires' "$TMP/seed.stdout" \
	"the verdict is printed"
expect_grep 'cw_CPUUtilization' "$TMP/seed/steps.csv" "steps.csv has the signal columns"
"$KNEECAP" report "$R" -o "$TMP/report.html" >/dev/null 2>&1
expect_grep '<li>CPUUtilization reads [0-9]+% at the knee: a 70% target never fires' "$TMP/report.html" \
	"report.html has the signal table and its verdict"
expect_grep '<tr><td>InvocationsPerInstance</td><td class="kc-num">[0-9.]+</td><td>/min</td><td>yes</td>' \
	"$TMP/report.html" "report.html: InvocationsPerInstance moves in proportion to load"

# The team's CPU 70% policy on the seed's day, beside the recommended one.
timeout 60 "$KNEECAP" plan "$R" --traffic "$KC_SRCDIR/tests/data/traffic/seed-day.ini" \
	--current-policy CPUUtilization=70 --price 1.4084 >"$TMP/plan.out" 2>"$TMP/plan.err"
prc=$?
[ "$prc" = 0 ] || [ "$prc" = 1 ] || fail "plan --current-policy exit $prc: $(tail -2 "$TMP/plan.err")"
expect_grep '^plan: current policy CPUUtilization 70%: [1-9][0-9]* failed requests/day, .*; the recommended policy \(reactive \+ recommended pre-warm, standard metric\): 0 failed' \
	"$TMP/plan.out" "plan: the CPU 70% policy fails requests on the seed's day, the recommended policy none"
expect_grep '^current policy CPUUtilization 70% +[0-9]+ ' "$TMP/plan.out" "plan: the current policy is a row of the variant table"
expect_grep 'CPUUtilization reads [0-9]+ at the knee: a 70 target never fires' "$TMP/plan.err" \
	"plan: says why it never fires"

# apply.sh's latency alarm: ModelLatency p99 in microseconds, notifies the topic, never scales.
A=$TMP/seed/apply.sh
expect_grep "^aws cloudwatch put-metric-alarm" "$A" "apply.sh has the ModelLatency alarm"
expect_grep "--alarm-actions 'arn:aws:sns:us-east-1:123456789012:oncall'" "$A" "the alarm notifies --alarm-topic"
expect_grep "--unit 'Microseconds'" "$A" "the alarm's threshold is in microseconds"
! grep -qE 'ok-actions|autoscaling:.*policy' <(sed -n '/put-metric-alarm/,$p' "$A") &&
	ok "the alarm has no scaling action" || fail "the alarm scales"
if [ -x "${AWS_CLI:-/usr/bin/aws}" ]; then
	. "$(dirname "$0")/aws_validate.sh"
	aws_validate "$A" 3 && ok "apply.sh (with the alarm) passes the AWS CLI's parameter validation" ||
		fail "apply.sh fails the AWS CLI's validation"
	# (aws_validate's own control, a call the CLI refuses, is in test_plan_apply.sh.)
fi

# No --current-policy: find reads the variant's policy with DescribeScalingPolicies.
FIND_EXTRA=(--max 20)
find_seed aas --scaling-policy CPUUtilization=70
$PY -c 'import json,sys; p=json.load(open(sys.argv[1]))["signals"]["current_policy"]; sys.exit(0 if p == {"metric": "CPUUtilization", "target": 70.0, "source": "DescribeScalingPolicies"} else 1)' \
	"$TMP/aas/result.json" && ok "without --current-policy the policy comes from DescribeScalingPolicies" ||
	fail "DescribeScalingPolicies: $(grep -o '"current_policy"[^}]*' "$TMP/aas/result.json")"

# 4. AccessDenied
# A short search (healthy up to its max: a knee as a lower bound, exit 0).
FIND_EXTRA=(--max 20)
find_seed deny --cloudwatch-deny 1
[ "$(cat "$TMP/deny.rc")" = "$(cat "$TMP/seed.rc")" ] && ok "AccessDenied: exit status unchanged ($(cat "$TMP/deny.rc"))" ||
	fail "AccessDenied: exit $(cat "$TMP/deny.rc") vs $(cat "$TMP/seed.rc")"
[ "$(grep -c 'signals are unavailable' "$TMP/deny.stderr")" = 1 ] && grep -q AccessDenied "$TMP/deny.stderr" &&
	ok "AccessDenied: one warning naming it" ||
	fail "AccessDenied warning: $(grep -c 'unavailable' "$TMP/deny.stderr") lines"
$PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["signals"]; sys.exit(0 if s["available"] is False and "AccessDenied" in s["reason"] else 1)' \
	"$TMP/deny/result.json" && ok "AccessDenied: result.json says signals unavailable, and why" ||
	fail "AccessDenied: result.json signals $(grep -o '"signals".*' "$TMP/deny/result.json" | head -c 200)"
done_testing
