#!/usr/bin/env bash
# test_outputs.sh - the exit-status contract and the --out directory of run
# and find: one check per row of the exit table (README "Exit status"), a run
# owning its --out (older outputs removed, only this run's files listed, no
# policy from an interrupted or knee-less search), and a full disk.
# Loopback only (loop_server.py and the built-in emulator); every process is
# bounded by `timeout` and killed by the EXIT trap.
. "$(dirname "$0")/lib.sh"
export AWS_EC2_METADATA_DISABLED=true
PY=/usr/bin/python3
SERVER="$KC_SRCDIR/tests/integration/helpers/loop_server.py"
PIDS=""
MNT=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# server NAME ARGS...: starts loop_server.py ok ARGS, sets PORT.
server() {
	local name=$1; shift
	$PY "$SERVER" "$TMP/$name.port" ok --max-s 90 "$@" >/dev/null 2>&1 &
	PIDS="$PIDS $!"
	disown $! 2>/dev/null
	for _ in $(seq 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
	PORT=$(cat "$TMP/$name.port")
}

# listed_ok DESC STDOUT DIR: the "wrote DIR/{...}" line names exactly the
# kneecap files that exist in DIR.
listed_ok() {
	local desc=$1 out=$2 dir=$3
	if $PY - "$out" "$dir" <<'PY'; then ok "$desc: stdout lists exactly the files in --out"; else fail "$desc: listing"; fi
import os, re, sys
out, d = sys.argv[1], sys.argv[2]
ours = {"result.json", "steps.csv", "latency.hlog", "scaling-policy.json", "apply.sh"}
have = {f for f in os.listdir(d) if f in ours or f.endswith(".tmp")}
text = open(out).read()
m = re.search(r"^wrote " + re.escape(d) + r"/\{([^}]*)\}$", text, re.M)
said = set(m.group(1).split(",")) if m else set()
if not m and re.search(r"^wrote nothing to " + re.escape(d) + "$", text, re.M):
    m = True
if not m or said != have:
    print("    listed", sorted(said), "present", sorted(have)); sys.exit(1)
PY
}

# xrc: expect_rc, keeping stderr for the sanitizer check at the end.
xrc() { expect_rc "$@"; cat "$TMP/err" >>"$TMP/all.err"; }

# json_get FILE EXPR: EXPR over the document d.
json_get() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# --- run: every request refused (403) -> 1 ---
server deny --fail-every 1 --fail-status 403
xrc 1 "run: 60 x 403 exits 1 (error rate above 1%)" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$PORT/" --rate 30 --duration 2s --threads 1 -q --out "$TMP/deny/a/b"
expect_grep "error rate 100.00% \(60 of 60\) above --max-error-rate 1%" "$TMP/err" "run: the failed threshold is named"
[ -d "$TMP/deny/a/b" ] && ok "run: missing parents of --out created" || fail "run: --out parents not created"
[ "$(json_get "$TMP/deny/a/b/result.json" "d['thresholds']['passed']")" = False ] &&
	ok "run: result.json thresholds.passed false" || fail "run: thresholds in result.json"
listed_ok "run 403" "$TMP/out" "$TMP/deny/a/b"
xrc 0 "run: --max-error-rate 100% accepts the same" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$PORT/" --rate 30 --duration 1s --threads 1 -q --max-error-rate 100%

# --- run: 0.5% errors (every 200th request a 503) -> 0 ---
server half --fail-every 200 --fail-status 503
xrc 0 "run: 0.5% errors exits 0" timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" \
	--rate 200 --duration 2s --threads 1 -q --out "$TMP/half"
n=$(json_get "$TMP/half/result.json" "d['steps'][0]['errors']")
[ "$n" -ge 1 ] && [ "$n" -le 3 ] && ok "run: 0.5% case had $n errors" || fail "run: 0.5% case had $n errors"

# --- run: a latency threshold -> 1 ---
server slow --jitter-ms 30
xrc 1 "run: p99 above --max-p99 exits 1" timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" \
	--rate 50 --duration 2s --threads 1 --connections 16 -q --max-p99 2ms
expect_grep "p99 [0-9.]+ ms above --max-p99 2 ms" "$TMP/err" "run: the latency threshold is named"
xrc 0 "run: the same within --max-p99 10s exits 0" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$PORT/" --rate 50 --duration 1s --threads 1 --connections 16 -q --max-p99 10s
xrc 2 "run: bad --max-p99 exits 2" timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" \
	--rate 50 --duration 1s --max-p99 soon
xrc 2 "run: bad --max-error-rate exits 2" timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" \
	--rate 50 --duration 1s --max-error-rate 2

# --- run: SIGINT -> 130, SIGTERM -> 143, partial results written and marked ---
server ok
for sig in INT TERM; do
	want=130; [ $sig = TERM ] && want=143
	timeout 60 "$KNEECAP" run "http://127.0.0.1:$PORT/" --rate 50 --duration 30s --threads 1 -q \
		--out "$TMP/sig$sig" >"$TMP/sig$sig.out" 2>"$TMP/sig$sig.err" &
	rp=$!
	sleep 2
	kill -$sig $rp
	wait $rp; rc=$?
	[ $rc = $want ] && ok "run: SIG$sig exits $want" || fail "run: SIG$sig exit $rc, wanted $want"
	if [ -s "$TMP/sig$sig/result.json" ] &&
		[ "$(json_get "$TMP/sig$sig/result.json" "(d['partial'], d.get('interrupted'))")" = "(True, 'SIG$sig')" ]; then
		ok "run: SIG$sig: result.json partial, interrupted SIG$sig"
	else
		fail "run: SIG$sig: result.json not marked"
	fi
	[ -s "$TMP/sig$sig/latency.hlog" ] && ok "run: SIG$sig: latency.hlog kept" || fail "run: SIG$sig: no latency.hlog"
	listed_ok "run SIG$sig" "$TMP/sig$sig.out" "$TMP/sig$sig"
done

# --- find: SIGINT while starting (0.5 s), at 2 s and once a step was judged healthy
# (stderr says so; not a fixed time, which a loaded machine may outrun): no policy,
# older policy gone, no knee ---
for at in 0.5 2 healthy; do
	d="$TMP/find$at"
	mkdir -p "$d"
	echo '{"old": true}' >"$d/scaling-policy.json"
	echo 'echo old' >"$d/apply.sh"
	echo 'keep me' >"$d/notes.txt"
	if [ $at = healthy ]; then
		# 8 slots x 5 ms: 1600 RPS of capacity, so 20 RPS is healthy.
		timeout 120 "$KNEECAP" find --service-time 5ms --slots 8 --start 20 --step-duration 1s \
			--warmup 0s --threads 1 --out "$d" >"$d.out" 2>"$d.err" &
		fp=$!
		for _ in $(seq 600); do
			grep -q "^kneecap: step [0-9]*:.*-> healthy" "$d.err" && break
			kill -0 $fp 2>/dev/null || break
			sleep 0.1
		done
		grep -q -- "-> healthy" "$d.err" || fail "find: no healthy step reported before the signal"
	else
		timeout 120 "$KNEECAP" find --service-time 10ms --slots 4 --start 100 --step-duration 2s \
			--warmup 0s --threads 1 --out "$d" -q >"$d.out" 2>"$d.err" &
		fp=$!
		sleep $at
	fi
	kill -INT $fp
	wait $fp; rc=$?
	[ $rc = 130 ] && ok "find: SIGINT at ${at}s exits 130" || { fail "find: SIGINT at ${at}s exit $rc"; head -3 "$d.err"; }
	[ ! -e "$d/scaling-policy.json" ] && [ ! -e "$d/apply.sh" ] &&
		ok "find: SIGINT at ${at}s: no scaling-policy.json, no apply.sh (older ones gone)" ||
		fail "find: SIGINT at ${at}s left a policy: $(ls "$d")"
	[ -s "$d/notes.txt" ] && ok "find: SIGINT at ${at}s: other files in --out kept" || fail "find: notes.txt removed"
	if [ -s "$d/result.json" ] &&
		[ "$(json_get "$d/result.json" "(d['partial'], d.get('interrupted'), 'recommendation' in d)")" = "(True, 'SIGINT', False)" ]; then
		ok "find: SIGINT at ${at}s: result.json partial, no recommendation"
	else
		fail "find: SIGINT at ${at}s: result.json"
	fi
	listed_ok "find SIGINT at ${at}s" "$d.out" "$d"
done
# The search was cut short after a healthy step: that is a lower bound, not a knee.
d="$TMP/findhealthy"
if [ -s "$d/result.json" ] &&
	[ "$(json_get "$d/result.json" "(d['knee']['found'], 'value' in d['knee'], d['knee']['healthy_up_to'] > 0)")" = "(False, False, True)" ]; then
	ok "find: SIGINT after a healthy step: knee.found false, no knee.value, healthy_up_to kept"
else
	fail "find: SIGINT after a healthy step: knee $(json_get "$d/result.json" "d['knee']" 2>&1 | head -c 300)"
fi
! grep -q "^Knee\|TargetValue" "$d.out" && ok "find: SIGINT: stdout states no knee, no TargetValue" ||
	fail "find: SIGINT: stdout: $(grep -m2 "Knee\|TargetValue" "$d.out")"
xrc 2 "plan: refuses the interrupted search's result" "$KNEECAP" plan "$d/result.json" \
	--traffic "$KC_SRCDIR/tests/data/traffic/seed-day.ini" -o "$TMP/p.html"
expect_grep "partial result \(SIGINT\) without a knee" "$TMP/err" "plan: says the result is partial, without a knee"
[ ! -e "$TMP/p.html" ] && ok "plan: no plan written from it" || fail "plan: wrote a plan from an interrupted search"
"$KNEECAP" report "$d/result.json" -o "$TMP/r.html" >/dev/null 2>"$TMP/err"
expect_grep "warning: .* is a partial result \(SIGINT\)" "$TMP/err" "report: warns that the result is partial"

# --- streams: SIGINT -> 130, no policy, result.json partial ---
d="$TMP/streams"
mkdir -p "$d"
echo 'echo old' >"$d/apply.sh"
timeout 60 "$KNEECAP" streams --step-duration 2s --warmup 0 --out "$d" -q >"$d.out" 2>"$d.err" &
sp=$!
sleep 3
kill -INT $sp
wait $sp; rc=$?
[ $rc = 130 ] && ok "streams: SIGINT exits 130" || { fail "streams: SIGINT exit $rc"; head -3 "$d.err"; }
[ ! -e "$d/apply.sh" ] && [ ! -e "$d/scaling-policy.json" ] && ok "streams: SIGINT: no policy (older apply.sh gone)" ||
	fail "streams: SIGINT left a policy: $(ls "$d")"
[ -s "$d/result.json" ] &&
	[ "$(json_get "$d/result.json" "(d['partial'], d.get('interrupted'), 'recommendation' in d)")" = "(True, 'SIGINT', False)" ] &&
	ok "streams: SIGINT: result.json partial, no recommendation" || fail "streams: SIGINT: result.json"
listed_ok "streams SIGINT" "$d.out" "$d"

# --- find: no knee (every step, down to the lowest, above a 5 ms SLO) -> 1, no policy ---
d="$TMP/noknee"
mkdir -p "$d"
echo '{"old": true}' >"$d/scaling-policy.json"
echo 'echo old' >"$d/apply.sh"
xrc 1 "find: no knee exits 1" timeout 120 "$KNEECAP" find --service-time 20ms --slots 1 \
	--slo 5ms --start 20 --step-duration 1s --warmup 0s --threads 1 --out "$d" -q
[ ! -e "$d/scaling-policy.json" ] && [ ! -e "$d/apply.sh" ] &&
	ok "find: no knee: no scaling-policy.json, no apply.sh (older ones gone)" ||
	fail "find: no knee left a policy: $(ls "$d")"
listed_ok "find no knee" "$TMP/out" "$d"

# --- disk full mid-run -> 4, the OS reason, result.json marked incomplete ---
MNT="$TMP/mnt"
mkdir -p "$MNT"
if mount -t tmpfs -o size=64k tmpfs "$MNT" 2>"$TMP/mount.err"; then
	# One free page: the interval log fills it after a few seconds.
	dd if=/dev/zero of="$MNT/filler" bs=4096 count=15 2>/dev/null
	server spread --jitter-ms 100
	t0=$(date +%s)
	xrc 4 "run: disk full exits 4" timeout 60 "$KNEECAP" run "http://127.0.0.1:$PORT/" \
		--rate 300 --duration 40s --connections 64 -q --out "$MNT/out"
	took=$(( $(date +%s) - t0 ))
	[ $took -lt 30 ] && ok "run: disk full ended the run (${took}s of 40)" || fail "run: disk full ran on ${took}s"
	expect_grep "^kneecap: run: $MNT/out/latency.hlog: No space left on device$" "$TMP/err" \
		"run: disk full: one line with the OS reason"
	if [ -s "$MNT/out/result.json" ]; then
		[ "$(json_get "$MNT/out/result.json" "(d['partial'], 'No space left' in d.get('incomplete', ''))")" = "(True, True)" ] &&
			ok "run: disk full: result.json marked incomplete" || fail "run: disk full: result.json not marked"
	else
		ok "run: disk full: no room for result.json either (reported)"
	fi
	[ ! -e "$MNT/out/latency.hlog" ] && ok "run: disk full: no truncated latency.hlog kept" ||
		fail "run: disk full: a truncated latency.hlog was kept"
	listed_ok "run disk full" "$TMP/out" "$MNT/out"
	# report and plan on the same full disk: 4 with the reason (before: 2, no reason).
	rm -rf "$MNT/out"
	dd if=/dev/zero of="$MNT/filler2" bs=4096 count=64 2>/dev/null
	R="$KC_SRCDIR/tests/data/results/g5-xlarge-50rps.json"
	xrc 4 "report: -o on a full disk exits 4" "$KNEECAP" report "$R" -o "$MNT/report.html"
	expect_grep "^kneecap: report: cannot write $MNT/report.html: No space left on device$" "$TMP/err" \
		"report: full disk: the OS reason"
	xrc 4 "plan: on a full disk exits 4" "$KNEECAP" plan "$R" \
		--traffic "$KC_SRCDIR/tests/data/traffic/seed-day.ini" -o "$MNT/plan.html"
	expect_grep "^kneecap: plan: cannot write $MNT/plan.html: No space left on device$" "$TMP/err" \
		"plan: full disk: the OS reason"
	umount "$MNT" && MNT=""
elif [ "$(id -u)" = 0 ]; then
	# CI runs as root: a skip there would hide this section for good.
	fail "disk full: root cannot mount a tmpfs ($(head -1 "$TMP/mount.err"))"
else
	echo "# SKIP disk full: not root, cannot mount a tmpfs ($(head -1 "$TMP/mount.err"))"
fi

# --- stdout: the files come first, and a failed stdout is a failed run (4, the reason) ---
server pipe
timeout 60 "$KNEECAP" run "http://127.0.0.1:$PORT/" --ramp 10:1000:10 --step-duration 100ms \
	--threads 1 --json --out "$TMP/pipe" 2>"$TMP/pipe.err" | head -c1 >/dev/null
rc=${PIPESTATUS[0]}
cat "$TMP/pipe.err" >>"$TMP/all.err"
[ $rc = 4 ] && ok "run --json | head -c1: exit 4 (not killed by SIGPIPE)" || fail "run --json | head -c1: exit $rc"
expect_grep "^kneecap: run: stdout: Broken pipe$" "$TMP/pipe.err" "run --json | head -c1: the OS reason, once"
[ "$(grep -c "Broken pipe" "$TMP/pipe.err")" = 1 ] && ok "run --json | head -c1: reported once" ||
	fail "run --json | head -c1: reported $(grep -c "Broken pipe" "$TMP/pipe.err") times"
[ -s "$TMP/pipe/result.json" ] && [ -s "$TMP/pipe/steps.csv" ] &&
	[ "$(json_get "$TMP/pipe/result.json" "(len(d['steps']), d['partial'])")" = "(100, False)" ] &&
	ok "run --json | head -c1: result.json (all 100 steps) and steps.csv written anyway" ||
	fail "run --json | head -c1: --out holds $(ls "$TMP/pipe")"
R="$KC_SRCDIR/tests/data/results/g5-xlarge-50rps.json"
for what in json table report plan; do
	case $what in
	json) set -- timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" --rate 20 --duration 1s --threads 1 -q --json ;;
	table) set -- timeout 30 "$KNEECAP" run "http://127.0.0.1:$PORT/" --rate 20 --duration 1s --threads 1 -q ;;
	report) set -- "$KNEECAP" report "$R" -o - ;;
	plan) set -- "$KNEECAP" plan "$R" --traffic "$KC_SRCDIR/tests/data/traffic/seed-day.ini" -o "$TMP/full.html" ;;
	esac
	"$@" >/dev/full 2>"$TMP/err"
	rc=$?
	cat "$TMP/err" >>"$TMP/all.err"
	[ $rc = 4 ] && ok "$what > /dev/full: exit 4" || fail "$what > /dev/full: exit $rc"
	expect_grep "cannot write to stdout: No space left on device$|stdout: No space left on device$" "$TMP/err" \
		"$what > /dev/full: the OS reason"
done

# --- bad usage and an --out that cannot be made ---
xrc 2 "run: bad usage exits 2" "$KNEECAP" run --rate 10
echo file >"$TMP/plain"
xrc 4 "run: --out under a regular file exits 4" timeout 30 "$KNEECAP" run \
	"http://127.0.0.1:$PORT/" --rate 10 --duration 1s -q --out "$TMP/plain/sub"
expect_grep "cannot create the directory: Not a directory" "$TMP/err" "run: --out failure names the reason"

# No sanitizer report from any kneecap process (ASan/UBSan/TSan builds).
if grep -lE "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" \
	"$TMP/all.err" "$TMP"/*.err >/dev/null 2>&1; then
	fail "sanitizer reports: $(grep -hE "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/all.err" "$TMP"/*.err | head -3)"
else
	ok "no sanitizer report"
fi

done_testing
