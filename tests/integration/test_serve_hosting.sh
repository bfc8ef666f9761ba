#!/usr/bin/env bash
# test_serve_hosting.sh - the emulator's inference components and serverless
# profile (issue 18): a request is routed by X-Amzn-SageMaker-Inference-
# Component to its component's copies; a missing or unknown component, or
# one named to an endpoint hosting none, is 400 ValidationError; serverless
# cold-starts a unit, keeps it warm, and throttles past MaxConcurrency
# (400 ThrottlingException).  Loopback only, about 6 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
IC=X-Amzn-SageMaker-Inference-Component

# post NAME [HEADER]: status, X-Amzn-ErrorType and body of one invocation.
post() {
	local h=()
	[ -n "${2:-}" ] && h=(-H "$2")
	curl -s -o "$TMP/$1.body" -D "$TMP/$1.head" -w '%{http_code} %{time_total}\n' \
		--max-time 10 -X POST "${h[@]}" --data-binary x \
		"http://127.0.0.1:$PORT/endpoints/ep/invocations" >"$TMP/$1.code"
}
status() { cut -d' ' -f1 <"$TMP/$1.code"; }
etype() { sed -n 's/^[Xx]-[Aa]mzn-[Ee]rror[Tt]ype: *\([A-Za-z]*\).*/\1/p' "$TMP/$1.head"; }

# 1. Components: two on one endpoint.
start_emu ic --components 'tagger-ic:2x2@20ms, captioner-ic:1x1@50ms' --input any || exit 1
expect_grep '2 inference components: tagger-ic 2 copies x 2 slots' "$TMP/ic.out" \
	"serve says what it hosts"
post ok "$IC: tagger-ic"
[ "$(status ok)" = 200 ] && ok "a request naming tagger-ic is served" || fail "tagger-ic: $(cat "$TMP/ok.code")"
post cap "$IC: captioner-ic"
[ "$(status cap)" = 200 ] && ok "a request naming captioner-ic is served" || fail "captioner-ic: $(cat "$TMP/cap.code")"
post none
[ "$(status none)" = 400 ] && [ "$(etype none)" = ValidationError ] &&
	ok "no component named: 400 ValidationError" || fail "no component: $(cat "$TMP/none.code") $(etype none)"
expect_grep '"message":"Inference Component Name header is required' "$TMP/none.body" "  ... saying the header is required"
post unknown "$IC: nope-ic"
[ "$(status unknown)" = 400 ] && [ "$(etype unknown)" = ValidationError ] &&
	ok "an unknown component: 400 ValidationError" || fail "unknown: $(cat "$TMP/unknown.code") $(etype unknown)"
expect_grep 'nope-ic .*not found' "$TMP/unknown.body" "  ... naming it"
served=$(stat_field '["components"][0]["served"]')
capserved=$(stat_field '["components"][1]["served"]')
[ "$served" = 1 ] && [ "$capserved" = 1 ] && ok "each component counted its own request" ||
	fail "components served: $served, $capserved"
# find against an http:// TARGET names the component as a sagemaker: one would.
timeout 60 "$KNEECAP" find "http://127.0.0.1:$PORT/endpoints/ep/invocations" \
	--method POST --payload jpeg --inference-component tagger-ic --start 10 --max 10 \
	--step-duration 1s --warmup 0s \
	--no-confirm --json -q >"$TMP/find.json" 2>"$TMP/find.err"
bad=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(s["errors"] for s in d["steps"]), sum(s["ok"] for s in d["steps"]))' "$TMP/find.json" 2>/dev/null)
[ "${bad%% *}" = 0 ] && [ "${bad##* }" -gt 0 ] && ok "find --inference-component over http: the header went (${bad##* } ok)" ||
	fail "find over http with a component: errors/ok '$bad'"
stop_emu

# 2. A plain endpoint refuses a component name.
start_emu plain --input any || exit 1
post plainic "$IC: tagger-ic"
[ "$(status plainic)" = 400 ] && [ "$(etype plainic)" = ValidationError ] &&
	ok "a component named to an endpoint hosting none: 400 ValidationError" ||
	fail "plain endpoint with a component: $(cat "$TMP/plainic.code")"
post plain
[ "$(status plain)" = 200 ] && ok "the plain endpoint still serves" || fail "plain: $(cat "$TMP/plain.code")"
stop_emu

# 3. Serverless: 2 units, 1 provisioned, 500 ms cold start, 1 s service
# (long, so three requests started together overlap on a busy machine).
start_emu sls --serverless-max-concurrency 2 --serverless-provisioned 1 \
	--serverless-cold-start 500ms --service-time 1s --input any || exit 1
expect_grep 'serverless, MaxConcurrency 2 \(1 provisioned\)' "$TMP/sls.out" "serve describes the serverless profile"
post warm1
t=$(cut -d' ' -f2 <"$TMP/warm1.code")
[ "$(status warm1)" = 200 ] && within "$t" 1.0 30 && ok "the provisioned unit answers warm (${t}s)" ||
	fail "provisioned unit: $(cat "$TMP/warm1.code")"
# Three at once: one on the provisioned unit, one cold-starts, one throttled.
pids=""
for i in 1 2 3; do post "par$i" & pids="$pids $!"; done
wait $pids
codes=$(for i in 1 2 3; do status "par$i"; done | sort | tr '\n' ' ')
[ "$codes" = "200 200 400 " ] && ok "three at once on MaxConcurrency 2: two served, one refused" ||
	fail "three at once: $codes"
thr=0; cold=0
for i in 1 2 3; do
	[ "$(status "par$i")" = 400 ] && [ "$(etype "par$i")" = ThrottlingException ] && thr=1
	[ "$(status "par$i")" = 200 ] && awk -v t="$(cut -d' ' -f2 <"$TMP/par$i.code")" 'BEGIN{exit !(t >= 1.45)}' && cold=1
done
[ $thr = 1 ] && ok "  ... the refused one as 400 ThrottlingException" || fail "no ThrottlingException"
[ $cold = 1 ] && ok "  ... and one waited the 500 ms cold start" || fail "no cold start seen"
# The cold-started unit is warm now: two at once, both fast.
pids=""
for i in 1 2; do post "w$i" & pids="$pids $!"; done
wait $pids
fast=0
for i in 1 2; do
	[ "$(status "w$i")" = 200 ] && awk -v t="$(cut -d' ' -f2 <"$TMP/w$i.code")" 'BEGIN{exit !(t < 1.4)}' && fast=$((fast + 1))
done
[ $fast = 2 ] && ok "a unit stays warm after its answer" || fail "warm units: $fast of 2 fast"
[ "$(stat_field '["serverless"]["cold_starts"]')" = 1 ] && ok "stats: 1 cold start" ||
	fail "stats cold_starts $(stat_field '["serverless"]["cold_starts"]')"
[ "$(stat_field '["serverless"]["throttled"]')" = 1 ] && ok "stats: 1 throttled" || fail "stats throttled"
stop_emu

# 4. Bad profiles are refused.
expect_rc 2 "a component name outside SageMaker's pattern is refused" \
	"$KNEECAP" serve --listen 127.0.0.1:0 --components 'bad_name:1x1'
expect_rc 2 "provisioned above MaxConcurrency is refused" \
	"$KNEECAP" serve --listen 127.0.0.1:0 --serverless-max-concurrency 2 --serverless-provisioned 3
expect_rc 2 "components naming none is refused, not a plain endpoint" \
	"$KNEECAP" serve --listen 127.0.0.1:0 --components ' , '
done_testing
