#!/usr/bin/env bash
# test_plan_seed.sh - `kneecap plan` reproduces the seed's day
# (gpu-image-classifier-scaling-signal): 6 instances wanted at the spike,
# multi-minute queueing with reactive scaling only, most of it gone with the
# seed's pre-warm (MinCapacity 4 at :58, 2 at :10); a peak beyond
# MaxCapacity x ceiling flagged; bad input refused with exit 2.
. "$(dirname "$0")/lib.sh"

R=$KC_SRCDIR/tests/data/results
T=$KC_SRCDIR/tests/data/traffic
export KNEECAP_PRICES=$KC_SRCDIR/data/instance-types.csv

expect_rc 0 "plan on the seed day exits 0" \
	"$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$T/seed-day.ini" --out "$TMP/outdir"
cp "$TMP/out" "$TMP/plan.out"
expect_grep 'target tracking wants 6 instances at the spike' "$TMP/plan.out" "6 instances wanted at the spike"
expect_grep '^plan: .*/outdir/plan.html$' "$TMP/plan.out" "prints the HTML path"
[ -s "$TMP/outdir/plan.html" ] && ok "plan.html written" || fail "plan.html written"
[ -s "$TMP/outdir/plan.txt" ] && ok "plan.txt written" || fail "plan.txt written"
# timeline.csv: a header and one row per 10 s of the day; at 12:03 the
# reactive variant (v1) is still on 2 instances and queueing.
[ "$(wc -l <"$TMP/outdir/timeline.csv")" = 8641 ] && ok "timeline.csv has 8640 rows" || fail "timeline.csv rows"
awk -F, '$2 == "12:03:00" { exit !($5 == 2 && $8 > 1000) }' "$TMP/outdir/timeline.csv" \
	&& ok "timeline.csv: reactive still on 2 instances and queueing at 12:03" || fail "timeline.csv at 12:03"

# The side-by-side table: variant, worstQ, window, queue s, wait req-s, overSLO s, failed, ...
row() { grep -E "^$1 " "$TMP/plan.out" | head -1 | sed -E "s/^$1 +//"; }
reactive=$(row 'reactive only, standard metric \(60 s\)')
prewarm=$(row 'reactive \+ your schedule, standard metric')
read -r rq rwin _ rwait _ rfail _ <<<"$reactive"
read -r pq pwin _ pwait _ pfail _ <<<"$prewarm"
rwin=${rwin%s}
echo "# reactive: worstQ $rq window ${rwin}s wait $rwait failed $rfail"
echo "# pre-warm: worstQ $pq window $pwin wait $pwait failed $pfail"
[ -n "$rwin" ] && [ "$rwin" -ge 180 ] && ok "reactive only queues for minutes (${rwin}s)" \
	|| fail "reactive only queues for minutes (got '$rwin')"
[ -n "$pwait" ] && [ "$((pwait * 2))" -lt "$rwait" ] && ok "pre-warm removes most queueing delay" \
	|| fail "pre-warm removes most queueing delay ($pwait vs $rwait)"
[ "$pfail" = 0 ] && [ "$rfail" -gt 0 ] && ok "pre-warm: no request times out" \
	|| fail "pre-warm: no request times out ($pfail vs $rfail)"
[ "$((pq * 10))" -lt "$((rq * 6))" ] && ok "pre-warm lowers the worst queue" || fail "worst queue $pq vs $rq"
expect_grep 'Traffic vs capacity: reactive only, standard metric' "$TMP/outdir/plan.html" "HTML: reactive timeline"
expect_grep 'Traffic vs capacity: reactive \+ your schedule, standard metric' "$TMP/outdir/plan.html" \
	"HTML: pre-warm timeline"
expect_grep 'cron\(56 \* \* \* \? \*\)' "$TMP/outdir/plan.txt" "recommends a pre-warm cron action"

# A peak beyond MaxCapacity x ceiling: exit 1, said plainly, red in HTML.
expect_rc 1 "peak beyond Max x ceiling exits 1" \
	"$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$T/too-big.ini" -o "$TMP/big.html"
expect_grep 'PEAK EXCEEDS CAPACITY: 600 RPS > MaxCapacity 8 x ceiling 50.0 RPS = 400 RPS; raise MaxCapacity to at least 12' \
	"$TMP/out" "text says the peak exceeds capacity and how many are needed"
expect_grep 'class="kc-alert">The traffic peak of 600 RPS exceeds MaxCapacity 8' "$TMP/big.html" \
	"HTML flags it in the alert (red) style"

# Flags override the scenario.
expect_rc 0 "--schedule and --min/--max flags" \
	"$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$T/seed-day.ini" --min 3 --max 10 \
	--schedule 'cron(55 * * * ? *) min 6' --provision 4m --price 2 -o "$TMP/f.html"
expect_grep 'Min 3, Max 10' "$TMP/out" "flags win over [plan]"
expect_grep 'provisioning 240s' "$TMP/out" "--provision reaches the model"

# Bad input.
expect_rc 2 "a result from another tool" \
	"$KNEECAP" plan "$R/other-tool.json" --traffic "$T/seed-day.ini" -o "$TMP/x.html"
expect_grep 'not a kneecap result \("tool" is "locust"' "$TMP/err" "names the other tool"
expect_rc 2 "a result from a newer kneecap" \
	"$KNEECAP" plan "$R/newer-schema.json" --traffic "$T/seed-day.ini" -o "$TMP/x.html"
expect_grep 'newer kneecap \(schema 2; this build reads schema 1\)' "$TMP/err" "names the schema"
expect_rc 2 "a streams result" \
	"$KNEECAP" plan "$R/streams-g5-2xlarge.json" --traffic "$T/seed-day.ini" -o "$TMP/x.html"
printf '[traffic]\nbaseline = 40\npeak = 220 ramp 90s hold 5m every 1h at 61\n' >"$TMP/bad.ini"
expect_rc 2 "a bad peak" "$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$TMP/bad.ini"
expect_grep 'bad.ini:3: peak: .*not a time of day' "$TMP/err" "names file:line:key"
printf '[traffic]\nbaseline = 40\n[plan]\nmaxx = 8\n' >"$TMP/typo.ini"
expect_rc 2 "a typo in [plan]" "$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$TMP/typo.ini"
expect_grep 'typo.ini:4: maxx: unknown key in \[plan\]' "$TMP/err" "names the typo'd key"
expect_rc 2 "a bad --schedule" "$KNEECAP" plan "$R/g5-xlarge-50rps.json" --traffic "$T/seed-day.ini" \
	--schedule 'cron(58 * * * MON *) min 4'
expect_rc 2 "no --traffic" "$KNEECAP" plan "$R/g5-xlarge-50rps.json"
done_testing
