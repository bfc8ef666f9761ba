#!/usr/bin/env bash
# test_shards_slurm.sh - shards started by a real one-node Slurm cluster the
# test brings up itself (munged, slurmctld, slurmd; configuration and state
# in a temporary folder; stopped at the end).  `srun -n 3` runs three shards
# (--shards 3 reads SLURM_PROCID/SLURM_NTASKS) of the ladder 50..300 rps
# against one emulator of 200 rps capacity, on the common clock
# (--start-at); `kneecap merge` adds them.  The merged knee must land within
# -8%..+2% of 200 and within 3% of one process running the same ladder at the
# same time against a second emulator of the same capacity.  About 35 s.
# Exit 77 (skip) only when this machine cannot run the daemons, saying why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"
. "$(dirname "$0")/slurm_lib.sh"
export AWS_EC2_METADATA_DISABLED=true
trap 'slurm_stop; for p in $EMU_PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

if ! slurm_start; then
	echo "SKIP: no Slurm cluster here: $SLURM_WHY" >&2
	exit 77
fi
ok "a one-node Slurm cluster runs ($(sinfo -h -o '%P %t %N' | head -1))"

EMU=(--slots 4 --service-time 20ms --input any --cpu-decode off --threads 2)
start_emu shards "${EMU[@]}" || { done_testing; exit; }
P1=$PORT
start_emu single "${EMU[@]}" || { done_testing; exit; }
P2=$PORT
echo '{"inputs":[1,2,3]}' >"$TMP/body.json"
LADDER=(--ramp 50:300:25 --step-duration 1s --warmup 500ms --timeout 3s --threads 1 --body "$TMP/body.json")
# srun starts its tasks within about a second here; the clock leaves room.
T=$(( $(date +%s) + 3 ))
export KNEECAP TMP P1 T
timeout 90 srun -n 3 --overcommit bash -c \
	'exec "$KNEECAP" run "http://127.0.0.1:$P1/endpoints/m/invocations" '"${LADDER[*]}"' \
	 --shards 3 --start-at "$T" -q --out "$TMP/shard-$SLURM_PROCID" >"$TMP/task-$SLURM_PROCID.out" 2>&1' \
	>"$TMP/srun.out" 2>&1 &
SRUN=$!
timeout 90 "$KNEECAP" run "http://127.0.0.1:$P2/endpoints/m/invocations" "${LADDER[@]}" \
	--start-at "$T" -q --out "$TMP/single" >"$TMP/single.out" 2>&1
src=$?
wait $SRUN
rrc=$?
[ "$rrc" = 0 ] && ok "srun -n 3 ran three shards" ||
	{ fail "srun -n 3 (exit $rrc)"; sed 's/^/    /' "$TMP/srun.out" "$TMP"/task-*.out | head -10; }
[ "$src" = 0 ] && ok "the single-process ladder ran" ||
	{ fail "single-process ladder (exit $src)"; head -5 "$TMP/single.out"; }
slurm_stop

expect_rc 0 "kneecap merge adds the three shards" "$KNEECAP" merge "$TMP"/shard-0 "$TMP"/shard-1 \
	"$TMP"/shard-2 --out "$TMP/merged" -q
cat "$TMP/out"
expect_rc 0 "the single process's ladder through the same knee finder" "$KNEECAP" merge \
	"$TMP/single" --out "$TMP/msingle" -q
python3 - "$TMP" <<'PY' >"$TMP/check" 2>&1
import json, sys
t = sys.argv[1]
m = json.load(open(t + "/merged/result.json"))
s = json.load(open(t + "/msingle/result.json"))
sh = [json.load(open("%s/shard-%d/result.json" % (t, i))) for i in range(3)]
bad = []
idx = sorted(x["shard"]["index"] for x in sh)
if idx != [0, 1, 2] or any(x["shard"]["index_from"] != "SLURM_PROCID" for x in sh):
    bad.append("shard indexes %s from %s" % (idx, [x["shard"]["index_from"] for x in sh]))
for k, st in enumerate(m["steps"]):
    for key in ("ok", "errors", "scheduled"):
        want = sum(x["steps"][k][key] for x in sh)
        if st[key] != want:
            bad.append("step %d %s %s != sum %s" % (k + 1, key, st[key], want))
    if st["latency_ms"]["count"] != sum(x["steps"][k]["latency_ms"]["count"] for x in sh):
        bad.append("step %d latency count" % (k + 1))
if len(m["shards"]) != 3 or any(x["late"] for x in m["shards"]):
    bad.append("shards[]: %s" % m["shards"])
km, ks = m["knee"].get("value"), s["knee"].get("value")
print("merged knee %s (%s), single-process knee %s (%s)" % (km, m["knee"]["reason"], ks, s["knee"]["reason"]))
if km is None or not (200 * 0.92 <= km <= 200 * 1.02):
    bad.append("merged knee %s not within -8%%..+2%% of 200" % km)
if km is None or ks is None or abs(km - ks) > 0.03 * ks:
    bad.append("merged knee %s not within 3%% of the single process's %s" % (km, ks))
lags = [x["start_lag_ms"] for x in m["shards"]]
print("shard start lags (ms):", lags, "clock offsets:", [x["clock_offset_ms"] for x in m["shards"]])
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then ok "merged counts are the shards' sums; $(head -1 "$TMP/check")"; sed -n 2p "$TMP/check"
else fail "merged result"; sed 's/^/    /' "$TMP/check" | head -12; fi
done_testing
