#!/usr/bin/env bash
# test_shards16.sh - 16 local shard processes under the Kubernetes Indexed
# Job contract (JOB_COMPLETION_INDEX 0..15 and --shards 16) on one common
# clock, against one emulator: `kneecap merge` adds them to the sum of their
# counts, and Java's HdrHistogram reads the merged latency.hlog with the
# same total.  Then what merge must refuse, each with an error naming the
# shard: a missing shard, a shard of another run, and a shard that started
# one step late (merged only with --allow-late, and flagged); on edited
# copies: a clock 5 s off, a rung late behind the others (or late on all
# alike, which merges), indexes out of range, service logs missing or not
# adding up; and the merged percentiles against hlog_tool's sum.  About 20 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
export AWS_EC2_METADATA_DISABLED=true

start_emu emu --slots 8 --service-time 5ms --input any --cpu-decode off || { done_testing; exit; }
URL="http://127.0.0.1:$PORT/endpoints/m/invocations"
echo '{"inputs":[1]}' >"$TMP/body.json"
# Two rungs of 80 and 160 rps in all: 5 and 10 rps per shard.
RUN=(run "$URL" --body "$TMP/body.json" --ramp 80:160:80 --step-duration 1s --warmup 200ms
     --timeout 2s --threads 1 -q)
T=$(( $(date +%s) + 3 ))
PERIOD=2.2  # warm-up + step + 1 s
# The same instant as Unix seconds, and as RFC 3339 with an offset (odd shards).
T3339=$(TZ=Etc/GMT-2 date -d "@$T" +%Y-%m-%dT%H:%M:%S+02:00)
pids=()
for i in $(seq 0 15); do
	at=$T; [ $((i % 2)) = 1 ] && at=$T3339
	JOB_COMPLETION_INDEX=$i timeout 60 "$KNEECAP" "${RUN[@]}" --shards 16 --start-at "$at" \
		--out "$TMP/s$i" >"$TMP/s$i.log" 2>&1 &
	pids+=($!)
done
# A shard of another run (same load, another --run-id) in slot 3's place ...
JOB_COMPLETION_INDEX=3 timeout 60 "$KNEECAP" "${RUN[@]}" --shards 16 --start-at "$T" \
	--run-id other-run --out "$TMP/other" >"$TMP/other.log" 2>&1 &
pids+=($!)
# ... and shard 15 again, started one step late (its process after step 1's slot began).
( sleep $(( T - $(date +%s) ))
  sleep $PERIOD
  JOB_COMPLETION_INDEX=15 exec timeout 60 "$KNEECAP" "${RUN[@]}" --shards 16 --start-at "$T" \
	--out "$TMP/late" >"$TMP/late.log" 2>&1 ) &
pids+=($!)
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ "$bad" = 0 ] && ok "18 shard processes ran" || { fail "$bad shard processes failed"; head -3 "$TMP"/s0.log "$TMP"/late.log; }

ALL=()
for i in $(seq 0 15); do ALL+=("$TMP/s$i"); done
grep -q "\"start_at_ms\": ${T}000," "$TMP/s1/result.json" && ok "--start-at in RFC 3339 with an offset is the same instant" ||
	fail "--start-at $T3339 is not $T"
# Sixteen generators on two shared cores may fall behind now and then (a
# generator-bound rung: no knee, exit 1); the counts are what is checked here.
"$KNEECAP" merge "${ALL[@]}" --out "$TMP/m" -q >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -le 1 ] && [ -s "$TMP/m/result.json" ] && [ -s "$TMP/m/latency.hlog" ]; then
	ok "merge adds the 16 shards (exit $rc)"
else
	fail "merge adds the 16 shards (exit $rc)"; head -5 "$TMP/err"
fi
python3 - "$TMP" <<'PY' >"$TMP/check" 2>&1
import json, sys
t = sys.argv[1]
m = json.load(open(t + "/m/result.json"))
sh = [json.load(open("%s/s%d/result.json" % (t, i))) for i in range(16)]
bad = []
if sorted(x["shard"]["index"] for x in sh) != list(range(16)):
    bad.append("indexes")
if any(x["shard"]["index_from"] != "JOB_COMPLETION_INDEX" for x in sh):
    bad.append("index not from JOB_COMPLETION_INDEX")
for k, st in enumerate(m["steps"]):
    for key in ("scheduled", "sent", "completed", "ok", "errors"):
        want = sum(x["steps"][k][key] for x in sh)
        if st[key] != want:
            bad.append("step %d %s: %s, shards sum to %s" % (k + 1, key, st[key], want))
    want = sum(x["steps"][k]["latency_ms"]["count"] for x in sh)
    if st["latency_ms"]["count"] != want:
        bad.append("step %d latency count %s != %s" % (k + 1, st["latency_ms"]["count"], want))
    if abs(st["offered"] - 80 * (k + 1)) > 1e-6:
        bad.append("step %d offered %s" % (k + 1, st["offered"]))
if [x["index"] for x in m["shards"]] != list(range(16)):
    bad.append("shards[] %s" % [x["index"] for x in m["shards"]])
print(sum(s["latency_ms"]["count"] for s in m["steps"]))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then ok "merged counts are the sums of the 16 shards'"
else fail "merged counts"; sed 's/^/    /' "$TMP/check" | head -8; fi
TOTAL=$(head -1 "$TMP/check")

# Java's reference reads the merged log with the same total.
JAR=${HDR_JAR:-/usr/share/java/hdrhistogram.jar}
if command -v javac >/dev/null && [ -r "$JAR" ]; then
	mkdir -p "$TMP/cls"
	if timeout 60 javac -d "$TMP/cls" -cp "$JAR" "$KC_SRCDIR/tests/integration/java/HlogCheck.java" \
		2>"$TMP/javac.err" &&
	   timeout 60 java -cp "$JAR:$TMP/cls" HlogCheck read "$TMP/m/latency.hlog" >"$TMP/java.out" 2>&1; then
		JT=$(awk '{ s += $4 } END { print s + 0 }' "$TMP/java.out")
		[ "$JT" = "$TOTAL" ] && [ "$TOTAL" -gt 0 ] &&
			ok "Java's HistogramLogReader reads the merged latency.hlog: $JT samples" ||
			fail "Java reads $JT samples in the merged log, result.json says $TOTAL"
	else
		fail "Java reads the merged latency.hlog"; head -5 "$TMP/javac.err" "$TMP/java.out"
	fi
else
	fail "javac or $JAR missing: run scripts/setup --test"
fi

# Usage the shard flags refuse.
expect_rc 2 "--shard I/N needs I < N" "$KNEECAP" run "$URL" --rate 10 --shard 3/3
expect_rc 2 "--shards N needs an index from the environment" env -u JOB_COMPLETION_INDEX -u SLURM_PROCID "$KNEECAP" run "$URL" --rate 10 --shards 4
expect_grep "JOB_COMPLETION_INDEX" "$TMP/err" "... and says where it looks"
expect_rc 2 "--shards N checks SLURM_NTASKS" env SLURM_PROCID=1 SLURM_NTASKS=3 "$KNEECAP" run "$URL" --rate 10 --shards 4
expect_rc 2 "a bad --start-at" "$KNEECAP" run "$URL" --rate 10 --start-at 2026-13-01T00:00:00Z
expect_rc 2 "--concurrency is not sharded (counts are no ladder of rates)" "$KNEECAP" run "$URL" --concurrency 4 --duration 300ms --shard 0/2 -q
expect_grep "concurrency cannot be sharded" "$TMP/err" "... and says so"
expect_rc 2 "a shard without a run identity (--run-id, --start-at, SLURM_JOB_ID)" env -u SLURM_JOB_ID "$KNEECAP" run "$URL" --rate 10 --duration 300ms --shard 0/2 -q
expect_grep "needs to know its run" "$TMP/err" "  ... and says what to give"
expect_rc 2 "... nor with --shards from the environment" env JOB_COMPLETION_INDEX=0 "$KNEECAP" run "$URL" --concurrency 4 --duration 300ms --shards 2 -q
expect_rc 2 "a malformed --start-at (Feb 31)" "$KNEECAP" run "$URL" --rate 10 --start-at 2020-02-31T00:00:00Z
expect_rc 2 "find --shard needs the ladder (--ramp) a search cannot be split into" "$KNEECAP" find --shard 0/2
expect_rc 2 "merge of a folder that is not a shard" "$KNEECAP" merge "$TMP" --out "$TMP/x0"
# A missing shard.
expect_rc 2 "merge refuses 15 of 16 shards" "$KNEECAP" merge "${ALL[@]:0:7}" "${ALL[@]:8}" --out "$TMP/x1" -q
expect_grep "shard 7 of 16 is missing" "$TMP/err" "the error names the missing shard"
# A shard of another run.
OTHER=("${ALL[@]}"); OTHER[3]="$TMP/other"
expect_rc 2 "merge refuses a shard of another run" "$KNEECAP" merge "${OTHER[@]}" --out "$TMP/x2" -q
expect_grep "$TMP/other: a shard of another run" "$TMP/err" "the error names that shard"
# A shard started one step late.
LATE=("${ALL[@]}"); LATE[15]="$TMP/late"
expect_rc 2 "merge refuses a shard that started a step late" "$KNEECAP" merge "${LATE[@]}" --out "$TMP/x3" -q
expect_grep "$TMP/late: shard 15 started step 1 [0-9]+ ms late" "$TMP/err" "the error names the late shard"
"$KNEECAP" merge "${LATE[@]}" --out "$TMP/x4" --allow-late -q >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -le 1 ] && ok "--allow-late merges it (exit $rc)" || { fail "--allow-late (exit $rc)"; head -3 "$TMP/err"; }
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
s = [x for x in m["shards"] if x["index"] == 15][0]
assert s["late"] and s["start_lag_ms"] > 1000, s
assert m["merge"]["late"] is True
assert 15 in m["steps"][0]["late_shards"], m["steps"][0]["late_shards"]
assert not any(x["late"] for x in m["shards"] if x["index"] != 15)
' "$TMP/x4/result.json" 2>"$TMP/err" && ok "... flagged: shards[15].late, its lag, the step's late_shards" ||
	{ fail "late shard flagged"; head -5 "$TMP/err"; }
# Shards whose headers differ (only in a value, which must not be written) do not merge.
ONE=(run "$URL" --body "$TMP/body.json" --rate 20 --duration 300ms --warmup 0 --threads 1 -q --run-id hdr)
"$KNEECAP" "${ONE[@]}" --shard 0/2 -H "Authorization: Bearer s3cr3t-a" -H "X-B: 1" --out "$TMP/h0" >/dev/null 2>&1
"$KNEECAP" "${ONE[@]}" --shard 1/2 -H "X-B: 1" -H "Authorization: Bearer s3cr3t-b" --out "$TMP/h1" >/dev/null 2>&1
"$KNEECAP" "${ONE[@]}" --shard 1/2 -H "X-B: 1" -H "Authorization: Bearer s3cr3t-a" --out "$TMP/h2" >/dev/null 2>&1
# (--allow-late: these shards have no common clock; the configuration is checked first.)
"$KNEECAP" merge "$TMP/h0" "$TMP/h2" --out "$TMP/x6" --allow-late -q >/dev/null 2>"$TMP/err"
[ $? -le 1 ] && ok "shards sending the same headers (in another order) merge" || { fail "same headers"; head -3 "$TMP/err"; }
expect_rc 2 "merge refuses shards sending other header values" "$KNEECAP" merge "$TMP/h0" "$TMP/h1" --out "$TMP/x5" --allow-late -q
expect_grep "$TMP/h1: another configuration than $TMP/h0 \(headers_sha256 differs\)" "$TMP/err" "... naming headers_sha256"
! grep -q s3cr3t "$TMP/h0/result.json" && ok "... and no header value is written" || fail "a header value is in result.json"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["shard"]["config"]
for k in ("headers_sha256", "content_type", "response_stream", "region", "endpoint_url", "bodies"):
    assert k in c, k
assert len(c["bodies"]["bodies_sha256"]) == 64, c["bodies"]
' "$TMP/h0/result.json" 2>"$TMP/err" && ok "the shard config holds headers, content type, stream, region, endpoint, bodies" ||
	{ fail "shard config keys"; head -3 "$TMP/err"; }
[ ! -e "$TMP/x1/result.json" ] && [ ! -e "$TMP/x3/result.json" ] && ok "a refused merge writes nothing" ||
	fail "a refused merge wrote files"
# Copies of the 16 shards with result.json edited (python: DEST SHARD EXPR...),
# for what merge must check in them.
edit() {
	local dest=$1; shift
	rm -rf "$TMP/$dest"; mkdir -p "$TMP/$dest"
	for i in $(seq 0 15); do cp -r "$TMP/s$i" "$TMP/$dest/s$i"; done
	python3 - "$TMP/$dest" "$@" <<'PY'
import json, sys
d = sys.argv[1]
for a in sys.argv[2:]:
    i, expr = a.split(":", 1)
    for j in (range(16) if i == "*" else [int(i)]):
        p = "%s/s%d/result.json" % (d, j)
        r = json.load(open(p)); sh = r["shard"]
        exec(expr)
        json.dump(r, open(p, "w"))
PY
	EDITED=(); for i in $(seq 0 15); do EDITED+=("$TMP/$dest/s$i"); done
}
# Clock skew: one shard's clock 5 s off the others' (from the target's Date header).
edit skew '*:sh["clock_offset_ms"] = sh["clock_offset_ms"] or 0' \
	'5:sh["clock_offset_ms"] += 5000'
expect_rc 2 "merge refuses a shard whose clock is 5 s off" "$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x7" -q
expect_grep "shard 5 \($TMP/skew/s5, \+[45][0-9]{3} ms\)" "$TMP/err" "... naming it"
"$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x8" --allow-late -q >/dev/null 2>"$TMP/err"
[ $? -le 1 ] && python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert [x["index"] for x in m["shards"] if x["clock_skewed"]] == [5], m["shards"]
# the spread of the edited offsets: 5 s over what the shards measured,
# which may differ by up to a second (the Date header counts seconds)
o = [json.load(open(d + "/result.json"))["shard"]["clock_offset_ms"] for d in sys.argv[2:]]
assert m["merge"]["clock_skewed"] and m["merge"]["late"], m["merge"]
assert m["merge"]["clock_skew_ms"] == max(o) - min(o) >= 4000, (m["merge"], o)
' "$TMP/x8/result.json" "${EDITED[@]}" 2>"$TMP/err" && ok "--allow-late merges it, flagged clock_skewed" ||
	{ fail "skewed shard with --allow-late"; head -3 "$TMP/err"; }
python3 -c '
import json, sys
u = json.load(open(sys.argv[1]))["shard"]["clock_offset_uncertainty_ms"]
assert isinstance(u, int) and 0 < u <= 1000, u
' "$TMP/s0/result.json" 2>"$TMP/err" && ok "each shard records its clock offset's uncertainty" ||
	{ fail "clock_offset_uncertainty_ms"; head -3 "$TMP/err"; }
# Every shard's second rung 2 s behind its slot (the first rung's drain): all
# still start together, so they merge; the slot lag is reported apart.
edit drain '*:sh["steps"][1]["start_lag_ms"] += 2000'
"$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x9" -q >/dev/null 2>"$TMP/err"
[ $? -le 1 ] && python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert all(x["slot_lag_ms"] >= 1900 and not x["late"] for x in m["shards"]), m["shards"]
' "$TMP/x9/result.json" 2>"$TMP/err" && ok "rungs all shards started 2 s behind their slots merge (slot_lag_ms)" ||
	{ fail "rungs late on every shard alike"; head -3 "$TMP/err"; }
# One shard 2 s behind the others at the first rung: refused, naming it.
edit late1 '4:sh["steps"][0]["start_lag_ms"] += 2000'
expect_rc 2 "merge refuses a shard 2 s behind the others at a rung below the knee" "$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x10" -q
expect_grep "$TMP/late1/s4: shard 4 started step 1 [12][0-9]{3} ms late" "$TMP/err" "... naming it"
# ... at the second rung, above the first unhealthy rung (every rung over a 1 us limit): flagged only.
edit late2 '4:sh["steps"][1]["start_lag_ms"] += 2000'
expect_rc 2 "... and at the top rung of a healthy ladder" "$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x11" -q
"$KNEECAP" merge "${EDITED[@]}" --slo 1us --out "$TMP/x12" -q >/dev/null 2>"$TMP/err"
[ $? = 1 ] && python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["steps"][1]["late_shards"] == [4] and m["steps"][0]["late_shards"] == [], m["steps"]
' "$TMP/x12/result.json" 2>"$TMP/err" && ok "a late rung above the first unhealthy one merges, flagged" ||
	{ fail "late rung above the knee"; head -3 "$TMP/err"; }
# Shard indexes out of range: {0, 5} of 2.
mkdir -p "$TMP/rng"; rm -rf "$TMP/rng/a" "$TMP/rng/b"; cp -r "$TMP/s0" "$TMP/rng/a"; cp -r "$TMP/s1" "$TMP/rng/b"
python3 -c '
import json, sys
for p, i in ((sys.argv[1], 0), (sys.argv[2], 5)):
    r = json.load(open(p)); r["shard"]["count"] = 2; r["shard"]["index"] = i
    json.dump(r, open(p, "w"))
' "$TMP/rng/a/result.json" "$TMP/rng/b/result.json"
expect_rc 2 "merge refuses shards {0, 5} of 2" "$KNEECAP" merge "$TMP/rng/a" "$TMP/rng/b" --out "$TMP/x13" -q
expect_grep "$TMP/rng/b: shard index 5 is out of range for 2 shards" "$TMP/err" "... naming the shard"
# A shard without its service times, and one whose service log does not add up.
edit nosvc '6:del sh["service_hlog"]'
expect_rc 2 "merge refuses a shard without shard.service_hlog" "$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x14" -q
expect_grep "$TMP/nosvc/s6: .*service_hlog" "$TMP/err" "... naming it"
edit badsvc '7:r["steps"][0]["service_ms"]["count"] += 1'
expect_rc 2 "merge refuses a service log that does not add up to result.json" "$KNEECAP" merge "${EDITED[@]}" --out "$TMP/x15" -q
expect_grep "$TMP/badsvc/s7: shard.service_hlog holds" "$TMP/err" "... naming it"
# The merged steps' latency figures are those of all the shards' intervals added.
python3 - "$TMP" "$HLOG_TOOL" <<'PY' >"$TMP/pct" 2>&1
import json, subprocess, sys
t, tool = sys.argv[1], sys.argv[2]
m = json.load(open(t + "/m/result.json"))
logs = ["%s/s%d/latency.hlog" % (t, i) for i in range(16)]
bad = []
for k, st in enumerate(m["steps"]):
    out = subprocess.run([tool, "sum", "step-%d" % k] + logs, capture_output=True, text=True, check=True).stdout.split()
    count, mx, mean, p50, p90, p99, p999 = int(out[3]), int(out[5]), float(out[6]), *map(int, out[7:11])
    lat = st["latency_ms"]
    want = {"count": count, "max": mx / 1000, "p50": p50 / 1000, "p90": p90 / 1000, "p99": p99 / 1000, "p999": p999 / 1000}
    for key, v in want.items():
        if abs(lat[key] - v) > 1e-9:
            bad.append("step %d %s: merged %s, shards' intervals added %s" % (k + 1, key, lat[key], v))
    if abs(lat["mean"] - mean / 1000) > 1e-6 * max(1, mean):
        bad.append("step %d mean %s != %s" % (k + 1, lat["mean"], mean / 1000))
    if count == 0:
        bad.append("step %d: no samples" % (k + 1))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] && ok "merged latency percentiles = the shards' intervals added (hlog_tool sum)" ||
	{ fail "merged latency percentiles"; head -5 "$TMP/pct"; }
done_testing
