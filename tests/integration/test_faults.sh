#!/usr/bin/env bash
# test_faults.sh - `kneecap run` against `kneecap serve` with injected faults,
# and interrupted runs.  For each: the run ends on its own (bounded by the
# configured duration and timeouts, checked against the wall clock), errors
# are counted per class in result.json, and every output file is valid
# (result.json parses, steps.csv is rectangular, latency.hlog reads back with
# kneecap's reader).  Loopback only; every process is bounded by `timeout`
# and killed by the EXIT trap.  docs/faults.md tabulates what this observed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
RUN_PID=""
trap 'for p in $EMU_PIDS $RUN_PID; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

printf 'not a jpeg; the emulator runs with --input any\n' >"$TMP/body.bin"
EMU_BASE=(--service-time 5ms --slots 8 --input any --cpu-decode off --threads 2)

# summarize DIR: validates the three outputs and prints one line of
# key=value figures of the first step (exit 1 and a reason when invalid).
summarize() {
	"$PY" - "$1" "${HLOG_TOOL:-}" <<'PY'
import csv, json, subprocess, sys
d, tool = sys.argv[1], sys.argv[2]
try:
    doc = json.load(open(d + "/result.json"))
except Exception as e:
    print("invalid result.json:", e); sys.exit(1)
steps = doc.get("steps") or []
if not steps:
    print("result.json has no steps"); sys.exit(1)
rows = list(csv.reader(open(d + "/steps.csv")))
if len(rows) != len(steps) + 1 or any(len(r) != len(rows[0]) for r in rows):
    print("steps.csv: %d rows for %d steps, or ragged" % (len(rows), len(steps))); sys.exit(1)
hl = subprocess.run([tool, "read", d + "/latency.hlog"], capture_output=True, text=True)
if hl.returncode != 0:
    print("latency.hlog does not read back:", hl.stderr.strip()[:200]); sys.exit(1)
for s in steps:
    ec = s["error_classes"]
    if sum(ec.values()) != s["errors"]:
        print("step %d: error classes do not add up to errors" % s["index"]); sys.exit(1)
    # Every arrival of the window has exactly one outcome: ok, or an error
    # (shed, failed, or unfinished when the step ended); none vanishes.
    if s["ok"] + s["errors"] != s["scheduled"]:
        print("step %d: %d ok + %d errors for %d arrivals" %
              (s["index"], s["ok"], s["errors"], s["scheduled"])); sys.exit(1)
s = steps[0]
ec = s["error_classes"]
out = dict(sent=s["sent"], ok=s["ok"], errors=s["errors"], p50=s["latency_ms"]["p50"],
           max=s["latency_ms"]["max"], partial=int(bool(doc.get("partial"))),
           step_partial=int(bool(s.get("partial"))),
           csv_partial=rows[1][rows[0].index("partial")],
           intervals=len(hl.stdout.splitlines()),
           codes=",".join("%s:%s" % kv for kv in sorted(s.get("status_codes", {}).items())) or "-")
out.update(ec)
print(" ".join("%s=%s" % kv for kv in out.items()))
PY
}

# check DESC EXPR: EXPR (python, over the summary's numbers) must hold.
check() {
	local desc=$1 expr=$2
	if "$PY" -c "
import sys
v = dict(kv.split('=', 1) for kv in sys.argv[1].split())
v = {k: (float(x) if x.replace('.', '', 1).isdigit() else x) for k, x in v.items()}
sys.exit(0 if eval(sys.argv[2], {}, v) else 1)" "$SUM" "$expr"; then
		ok "$desc"
	else
		fail "$desc ($expr; got: $SUM)"
	fi
}

# fault_run NAME WALL_MAX RUN_ARGS... : runs kneecap against the emulator at
# $PORT with --out $TMP/NAME, records the exit status (RC), the wall time
# (WALL) and the summary (SUM); checks the run ended within WALL_MAX s.
fault_run() {
	local name=$1 wall_max=$2; shift 2
	local t0 t1
	t0=$(date +%s.%N)
	timeout 60 "$KNEECAP" run "http://127.0.0.1:$PORT/endpoints/ep/invocations" \
		--body "$TMP/body.bin" --threads 1 --connections 8 -q --out "$TMP/$name" "$@" \
		>"$TMP/$name.stdout" 2>"$TMP/$name.stderr"
	RC=$?
	t1=$(date +%s.%N)
	WALL=$("$PY" -c "print(round($t1 - $t0, 2))")
	if "$PY" -c "import sys; sys.exit(0 if $WALL <= $wall_max else 1)"; then
		ok "$name: ended in ${WALL}s (bound ${wall_max}s)"
	else
		fail "$name: took ${WALL}s, more than ${wall_max}s"
	fi
	if SUM=$(summarize "$TMP/$name"); then
		ok "$name: result.json, steps.csv, latency.hlog valid"
	else
		fail "$name: outputs: $SUM"; SUM=""
	fi
	echo "#   $name: rc=$RC wall=${WALL}s $SUM"
}

# -- connection reset before any answer (30%) --
start_emu reset "${EMU_BASE[@]}" --fault-reset 0.3 || { done_testing; exit 1; }
fault_run reset 10 --rate 50 --duration 2s --timeout 2s
[ "$RC" = 1 ] && ok "reset: exit 1 (error rate above 1%)" || fail "reset: exit $RC"
check "reset: counted as reset, about 30%" "reset == errors and 0.12 <= errors / sent <= 0.5 and ok > 0"
stop_emu

# -- reset halfway through the response body (30%) --
start_emu reset_mid "${EMU_BASE[@]}" --fault-reset-mid 0.3 || { done_testing; exit 1; }
fault_run reset_mid 10 --rate 50 --duration 2s --timeout 2s
[ "$RC" = 1 ] && ok "reset mid-body: exit 1 (error rate)" || fail "reset mid-body: exit $RC"
check "reset mid-body: a 200 with a short body is an error, not a success" \
	"errors > 0 and reset + proto + other == errors and 0.12 <= errors / sent <= 0.5 and ok > 0"
stop_emu

# -- 503 storm (90% ServiceUnavailable) --
start_emu storm "${EMU_BASE[@]}" --fault-error 503:0.9 || { done_testing; exit 1; }
fault_run storm 10 --rate 100 --duration 2s --timeout 2s
[ "$RC" = 1 ] && ok "503 storm: exit 1 (error rate)" || fail "503 storm: exit $RC"
check "503 storm: 5xx class with the status code kept" \
	"http5xx == errors and 0.75 <= errors / sent <= 0.98 and codes.startswith('503:')"
# Every answer a 503, over a two-step ramp: each step counts its own.
stop_emu
start_emu storm_all "${EMU_BASE[@]}" --fault-error 503:1 || { done_testing; exit 1; }
fault_run storm_all 10 --ramp 50:100:50 --step-duration 1s --timeout 2s
[ "$RC" = 1 ] && ok "503 only: exit 1 (reachable, every answer an error)" || fail "503 only: exit $RC"
check "503 only: nothing ok, all 5xx" "ok == 0 and http5xx == errors == sent"
"$PY" -c "
import json, sys
st = json.load(open('$TMP/storm_all/result.json'))['steps']
sys.exit(0 if len(st) == 2 and all(s['errors'] == s['sent'] == s['error_classes']['http5xx'] > 0 for s in st) else 1)" &&
	ok "503 only: both ramp steps classify their errors" || fail "503 only: per-step classes"
stop_emu

# -- a 5 s stall from t=1s: waited out (timeout 10s) --
start_emu stall "${EMU_BASE[@]}" --fault-stall 5s --fault-stall-at 1s --fault-stall-every 1h ||
	{ done_testing; exit 1; }
fault_run stall 15 --rate 20 --duration 3s --timeout 10s
[ "$RC" = 0 ] && ok "stall: exit 0" || fail "stall: exit $RC"
check "stall: no errors, the stall shows in the max latency (from intended send)" \
	"errors == 0 and max >= 4000"
stop_emu

# -- the same stall with a 2 s request timeout: timeouts, and no hang: the
# engine drains for the request timeout + 250 ms after the window, so the
# run ends by duration + timeout + 1 s (probe included); what is still
# waiting then (queued behind the stalled connections) is unfinished. --
start_emu stall_to "${EMU_BASE[@]}" --fault-stall 5s --fault-stall-at 1s --fault-stall-every 1h ||
	{ done_testing; exit 1; }
fault_run stall_timeout 7.5 --rate 20 --duration 3s --timeout 2s
[ "$RC" = 1 ] && ok "stall/timeout: exit 1 (error rate)" || fail "stall/timeout: exit $RC"
check "stall/timeout: stalled requests counted as timeouts or unfinished" \
	"timeout > 0 and unfinished > 0 and timeout + unfinished == errors and ok > 0"
stop_emu

# -- slow trickled responses: 32 bytes every 50 ms --
start_emu slow "${EMU_BASE[@]}" --fault-slow 1 --fault-slow-chunk 32 --fault-slow-interval 50ms ||
	{ done_testing; exit 1; }
fault_run slow 10 --rate 20 --duration 2s --timeout 5s
[ "$RC" = 0 ] && ok "slow: exit 0" || fail "slow: exit $RC"
check "slow: answers arrive, latency includes the trickle" "errors == 0 and ok > 0 and p50 >= 250"
# Every answer outlasts a 150 ms timeout: the target is reachable (the probe
# connected), so the run goes on and counts each request as a timeout.
fault_run slow_timeout 8 --rate 20 --duration 2s --timeout 150ms
[ "$RC" = 1 ] && ok "slow/timeout: exit 1 (error rate)" || fail "slow/timeout: exit $RC"
check "slow/timeout: trickles past the timeout are timeouts" \
	"ok == 0 and timeout == errors and errors >= 0.9 * sent"
stop_emu

# -- the server dies after 30 answers (resets everything after) --
start_emu close "${EMU_BASE[@]}" --fault-close-after 30 || { done_testing; exit 1; }
fault_run close_after 10 --rate 50 --duration 2s --timeout 2s
check "close-after: 30 answered, the rest counted as errors" \
	"25 <= ok <= 30 and errors >= 0.5 * sent and reset + connect + proto == errors"
stop_emu # a dead server still stops cleanly on SIGTERM

# -- the server killed (SIGKILL) mid-run and restarted on the same port --
start_emu kill1 "${EMU_BASE[@]}" || { done_testing; exit 1; }
kport=$PORT
t0=$(date +%s.%N)
timeout 60 "$KNEECAP" run "http://127.0.0.1:$kport/endpoints/ep/invocations" --body "$TMP/body.bin" \
	--threads 1 --connections 8 -q --out "$TMP/killed" --rate 50 --duration 6s --timeout 2s \
	>"$TMP/killed.stdout" 2>"$TMP/killed.stderr" &
RUN_PID=$!
sleep 1.5
kill -9 "$PID"; wait "$PID" 2>/dev/null
sleep 1.5
# Restart on the same port (retry: the old socket may linger a moment).
restarted=""
for _ in 1 2 3 4 5; do
	"$KNEECAP" serve --listen "127.0.0.1:$kport" "${EMU_BASE[@]}" >"$TMP/kill2.out" 2>"$TMP/kill2.err" &
	PID=$!; EMU_PIDS="$EMU_PIDS $PID"
	for _ in $(seq 40); do grep -q listening "$TMP/kill2.out" 2>/dev/null && break; sleep 0.05; done
	if grep -q listening "$TMP/kill2.out"; then restarted=1; break; fi
	sleep 0.2
done
[ -n "$restarted" ] && ok "killed server restarted on port $kport" || fail "could not restart on $kport"
wait "$RUN_PID"; RC=$?; RUN_PID=""
WALL=$("$PY" -c "print(round($(date +%s.%N) - $t0, 2))")
"$PY" -c "import sys; sys.exit(0 if $WALL <= 12 else 1)" && ok "killed server: run ended in ${WALL}s" ||
	fail "killed server: run took ${WALL}s"
[ "$RC" = 1 ] && ok "killed server: exit 1 (error rate)" || fail "killed server: exit $RC"
if SUM=$(summarize "$TMP/killed"); then ok "killed server: outputs valid"; else fail "killed server: $SUM"; fi
echo "#   killed: rc=$RC wall=${WALL}s $SUM"
check "killed server: refused connections and resets counted" \
	"errors > 0 and connect + reset + timeout == errors and ok > 0"
# Answers after the restart: an interval starting 3.5 s or later has counts.
if "$HLOG_TOOL" read "$TMP/killed/latency.hlog" | awk 'NR == 1 {t0 = $2} $2 - t0 >= 3500 && $4 > 0 {n++} END {exit n ? 0 : 1}'; then
	ok "killed server: answers again after the restart"
else
	fail "killed server: no answers after the restart"; "$HLOG_TOOL" read "$TMP/killed/latency.hlog" | head
fi

# -- interruption: SIGINT / SIGTERM stop within a second, outputs partial --
for sig in INT TERM; do
	timeout 60 "$KNEECAP" run "http://127.0.0.1:$kport/endpoints/ep/invocations" --body "$TMP/body.bin" \
		--threads 1 --connections 8 -q --out "$TMP/sig$sig" --rate 100 --duration 30s \
		>"$TMP/sig.stdout" 2>"$TMP/sig.stderr" &
	RUN_PID=$!
	sleep 2.5
	t0=$(date +%s.%N)
	kill -"$sig" "$RUN_PID"
	wait "$RUN_PID"; RC=$?; RUN_PID=""
	want=130; [ "$sig" = TERM ] && want=143
	[ "$RC" = $want ] && ok "SIG$sig: exit $want" || fail "SIG$sig: exit $RC, wanted $want"
	took=$("$PY" -c "print(round($(date +%s.%N) - $t0, 3))")
	"$PY" -c "import sys; sys.exit(0 if $took <= 1.0 else 1)" && ok "SIG$sig: stopped in ${took}s" ||
		fail "SIG$sig: took ${took}s to stop"
	if SUM=$(summarize "$TMP/sig$sig"); then ok "SIG$sig: outputs valid"; else fail "SIG$sig: $SUM"; fi
	echo "#   SIG$sig: rc=$RC stop=${took}s $SUM"
	check "SIG$sig: result.json and steps.csv say partial, intervals kept" \
		"partial == 1 and step_partial == 1 and csv_partial == 1 and intervals >= 2 and ok >= 150"
done

# -- SIGKILL: the interval log reaches to within ~1 s of the kill; it is
# still latency.hlog.tmp (renamed to latency.hlog only when a run ends) --
timeout 60 "$KNEECAP" run "http://127.0.0.1:$kport/endpoints/ep/invocations" --body "$TMP/body.bin" \
	--threads 1 --connections 8 -q --out "$TMP/sigkill" --rate 100 --duration 30s \
	>"$TMP/sig.stdout" 2>"$TMP/sig.stderr" &
RUN_PID=$!
sleep 3.6
tkill=$(date +%s.%N)
kill -9 "$RUN_PID"; wait "$RUN_PID" 2>/dev/null; RUN_PID=""
[ ! -e "$TMP/sigkill/latency.hlog" ] && ok "SIGKILL: no latency.hlog passes for a finished log" ||
	fail "SIGKILL: latency.hlog exists"
if "$HLOG_TOOL" read "$TMP/sigkill/latency.hlog.tmp" >"$TMP/sigkill.iv" 2>"$TMP/sigkill.err"; then
	ok "SIGKILL: latency.hlog.tmp reads back"
else
	fail "SIGKILL: latency.hlog.tmp unreadable"; head -3 "$TMP/sigkill.err"
fi
lost=$("$PY" -c "
import sys
ends = [int(l.split()[2]) for l in open('$TMP/sigkill.iv') if l.strip()]
print(round($tkill - max(ends) / 1000.0, 3) if ends else 99)")
echo "#   SIGKILL: $(wc -l <"$TMP/sigkill.iv") intervals, last ends ${lost}s before the kill"
"$PY" -c "import sys; sys.exit(0 if $lost <= 1.5 else 1)" && ok "SIGKILL: at most ~1 s lost (${lost}s)" ||
	fail "SIGKILL: ${lost}s of intervals lost"
[ -e "$TMP/sigkill/result.json" ] && echo "#   SIGKILL: result.json exists" ||
	echo "#   SIGKILL: no result.json (written at the end only)"
stop_emu

# No sanitizer report from any kneecap process (under ASan/UBSan/TSan builds
# a report may not change an exit status the checks above look at).
if grep -lE "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" \
	"$TMP"/*.err "$TMP"/*.stderr >/dev/null 2>&1; then
	fail "sanitizer reports in: $(grep -lE "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.err "$TMP"/*.stderr | xargs -n1 basename | tr '\n' ' ')"
else
	ok "no sanitizer report from kneecap run or serve"
fi

done_testing
