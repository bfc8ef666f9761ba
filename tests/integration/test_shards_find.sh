#!/usr/bin/env bash
# test_shards_find.sh - find and streams as shards (issue #19): 4 `find
# --shards 4` processes (JOB_COMPLETION_INDEX 0..3) run the --ramp ladder
# against one emulator of 200 rps capacity (4 slots x 20 ms) and `kneecap
# merge` finds the knee within -8%..+2% of it, with find's recommendation,
# policy and apply.sh; meanwhile 3 `streams --shards 3` processes split a
# ladder of stream counts that 3 does not always divide, and merge adds
# them to the sums and a streams knee.  Then the refusals.  About 15 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
export AWS_EC2_METADATA_DISABLED=true

start_emu emu --slots 4 --service-time 20ms --input any --cpu-decode off --threads 2 ||
	{ done_testing; exit; }
URL="http://127.0.0.1:$PORT/endpoints/m/invocations"
echo '{"inputs":[1,2,3]}' >"$TMP/body.json"
BIDI="$KC_BUILDDIR/tests/integration/bidi_serve"
# The stream emulator: L(n) = 50 ms up to 8 streams, 50 ms x n/8 beyond, so
# a mean under 95 ms holds up to 15 streams: of the rungs 5, 9, 13, 17, 13.
coproc SRV { exec "$BIDI" 8 50 64; }
read -r _ SPORT <&"${SRV[0]}"
EMU_PIDS="$EMU_PIDS $SRV_PID"
SURL="http://127.0.0.1:$SPORT/endpoints/x/invocations-bidirectional-stream"

FIND=(find "$URL" --ramp 176:224:16 --arrival uniform --step-duration 1500ms --warmup 500ms
      --timeout 3s --threads 1 --body "$TMP/body.json" --instance-type ml.g5.xlarge -q)
STREAMS=(streams "$SURL" --ramp 5:17:4 --step-duration 1s --warmup 300ms --latency-limit 95ms -q)
T=$(( $(date +%s) + 3 ))  # room for 7 processes to start (ASan, a loaded machine)
pids=()
for i in 0 1 2 3; do
	JOB_COMPLETION_INDEX=$i timeout 60 "$KNEECAP" "${FIND[@]}" --shards 4 --start-at "$T" \
		--out "$TMP/f$i" >"$TMP/f$i.log" 2>&1 &
	pids+=($!)
done
for i in 0 1 2; do
	JOB_COMPLETION_INDEX=$i timeout 60 "$KNEECAP" "${STREAMS[@]}" --shards 3 --start-at "$T" \
		--out "$TMP/s$i" >"$TMP/s$i.log" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ "$bad" = 0 ] && ok "4 find shards and 3 streams shards ran" ||
	{ fail "$bad shard processes failed"; head -3 "$TMP"/f0.log "$TMP"/s0.log; }

expect_rc 0 "merge of the 4 find shards finds a knee" "$KNEECAP" merge "$TMP"/f{0,1,2,3} --out "$TMP/fm"
python3 - "$TMP" <<'PY' >"$TMP/check" 2>&1
import json, sys
t = sys.argv[1]
m = json.load(open(t + "/fm/result.json"))
sh = [json.load(open("%s/f%d/result.json" % (t, i))) for i in range(4)]
bad = []
if any(x["shard"]["index_from"] != "JOB_COMPLETION_INDEX" for x in sh):
    bad.append("index not from JOB_COMPLETION_INDEX")
if any(x["shard"]["config"]["command"] != "find" for x in sh):
    bad.append("not find shards")
for k, st in enumerate(m["steps"]):
    for x in sh:
        if abs(x["steps"][k]["offered"] - (176 + 16 * k) / 4) > 1e-6:
            bad.append("shard step %d offered %s, not a quarter" % (k + 1, x["steps"][k]["offered"]))
    for key in ("sent", "ok", "errors"):
        if st[key] != sum(x["steps"][k][key] for x in sh):
            bad.append("step %d %s is not the sum" % (k + 1, key))
knee = m["knee"]
print("find knee %s rps (%s)" % (knee.get("value"), knee.get("reason")))
if not knee["found"] or not 184 <= knee["value"] <= 204:
    bad.append("knee %s not within -8%%..+2%% of 200" % knee.get("value"))
rec = m.get("recommendation") or {}
if rec.get("instance_type") != "ml.g5.xlarge" or rec.get("metric") != "SageMakerVariantInvocationsPerInstance":
    bad.append("recommendation %s is not find's settings" % rec)
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then ok "$(head -1 "$TMP/check"): within -8%..+2% of 200, counts summed, find's recommendation"
else fail "merged find shards"; sed 's/^/    /' "$TMP/check" | head -8; fi
[ -s "$TMP/fm/scaling-policy.json" ] && [ -x "$TMP/fm/apply.sh" ] &&
	ok "the merge writes scaling-policy.json and apply.sh as find does" || fail "no policy or apply.sh"
# Shards of an inference component's find carry its kind and copies: the
# same shards, as a component of 2 copies would have written them, merge to
# the per-copy policy on the component's resource.
python3 - "$TMP" <<'PY'
import json, os, sys
t = sys.argv[1]
for i in range(4):
    src, dst = "%s/f%d" % (t, i), "%s/c%d" % (t, i)
    os.makedirs(dst, exist_ok=True)
    d = json.load(open(src + "/result.json"))
    r = d["shard"]["config"]["recommend"]
    assert r["endpoint_kind"] == "instance", r
    r.update(endpoint_kind="component", inference_component="tagger-ic", copies=2)
    json.dump(d, open(dst + "/result.json", "w"))
    for f in os.listdir(src):
        if f.endswith(".hlog"):
            os.symlink(src + "/" + f, dst + "/" + f)
PY
expect_rc 0 "merge of an inference component's shards" "$KNEECAP" merge "$TMP"/c{0,1,2,3} --out "$TMP/cm"
grep -q 'SageMakerInferenceComponentInvocationsPerCopy' "$TMP/cm/scaling-policy.json" 2>/dev/null &&
	grep -q 'inference-component/' "$TMP/cm/apply.sh" 2>/dev/null &&
	ok "  ... writes the per-copy policy on the component's resource" ||
	fail "component shards merged to $(grep -o '"PredefinedMetricType": "[A-Za-z]*"' "$TMP/cm/scaling-policy.json" 2>/dev/null)"

expect_rc 0 "merge of the 3 streams shards finds a knee" "$KNEECAP" merge "$TMP"/s{0,1,2} --out "$TMP/sm"
python3 - "$TMP" <<'PY' >"$TMP/check" 2>&1
import json, sys
t = sys.argv[1]
m = json.load(open(t + "/sm/result.json"))
sh = [json.load(open("%s/s%d/result.json" % (t, i))) for i in range(3)]
bad = []
if m["mode"] != "streams":
    bad.append("mode %s" % m["mode"])
for k, st in enumerate(m["steps"]):
    rung = 5 + 4 * k
    parts = [x["steps"][k]["offered"] for x in sh]
    want = [rung // 3 + (1 if i < rung % 3 else 0) for i in range(3)]
    if parts != want or st["offered"] != rung:
        bad.append("rung %d split %s (want %s), merged %s" % (rung, parts, want, st["offered"]))
    for key in ("ok", "errors"):
        if st[key] != sum(x["steps"][k][key] for x in sh):
            bad.append("step %d %s is not the sum" % (k + 1, key))
    if st["latency_ms"]["count"] != sum(x["steps"][k]["latency_ms"]["count"] for x in sh):
        bad.append("step %d latency count" % (k + 1))
    ms = m["streams"]["steps"][k]
    for key in ("replies", "chunks_sent", "streams_opened"):
        if ms[key] != sum(x["streams"]["steps"][k][key] for x in sh):
            bad.append("step %d streams.%s is not the sum" % (k + 1, key))
knee = m["knee"]
print("streams knee %s (%s)" % (knee.get("value"), knee.get("reason")))
if not knee["found"] or knee["value"] != 13:
    bad.append("knee %s, want 13 streams" % knee.get("value"))
if (m.get("recommendation") or {}).get("metric") != "SageMakerVariantConcurrentRequestsPerModelHighResolution":
    bad.append("recommendation %s" % m.get("recommendation"))
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then ok "$(head -1 "$TMP/check"): rungs split to the sum, counts and stream figures summed"
else fail "merged streams shards"; sed 's/^/    /' "$TMP/check" | head -8; fi

# What the shard flags of find and streams refuse.
expect_rc 2 "find --shard without --ramp" "$KNEECAP" find "$URL" --shard 0/2
expect_grep "needs --ramp" "$TMP/err" "... says a shard runs a fixed ladder"
expect_rc 2 "find --shard without a TARGET (each would start its own emulator)" \
	"$KNEECAP" find --shard 0/2 --ramp 10:20:10
expect_rc 2 "find --ramp without --shard" "$KNEECAP" find "$URL" --ramp 10:20:10
expect_rc 2 "streams --shard without --ramp" "$KNEECAP" streams "$SURL" --shard 0/2
expect_rc 2 "streams: a rung with fewer streams than shards" "$KNEECAP" streams "$SURL" --shard 0/4 --ramp 3:9:3
expect_grep "at least one stream per shard" "$TMP/err" "... says why"
expect_rc 2 "merge refuses find and streams shards together" "$KNEECAP" merge "$TMP"/s{0,1,2} "$TMP/f3" --out "$TMP/x" -q
# What each request is belongs to the configuration shards must share (merge compares it).
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["shard"]["config"]
s = json.load(open(sys.argv[2]))["shard"]["config"]
for c in (f, s):
    for k in ("headers_sha256", "region", "endpoint_url", "fips"):
        assert k in c, k
assert len(f["bodies"]["bodies_sha256"]) == 64 and f["bodies"]["source"] == "file", f.get("bodies")
assert "content_type" in f and "sagemaker" in f and "response_stream" in f
assert "model_invocation_path" in s and "audio" in s
' "$TMP/f0/result.json" "$TMP/s0/result.json" 2>"$TMP/err" &&
	ok "find and streams shard configs hold the headers hash, bodies hash, endpoint options" ||
	{ fail "find/streams shard config keys"; tail -2 "$TMP/err"; }
done_testing
