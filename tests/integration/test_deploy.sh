#!/usr/bin/env bash
# test_deploy.sh - the recipes in deploy/ checked offline: the Kubernetes
# manifests against the API models of python3-kubernetes and the shard
# contract (k8s_check.py; kubectl's client-side dry run still needs a
# server for discovery), each of a few broken copies refused; the sbatch
# script parses and passes kneecap flags kneecap takes.  Then the recipes'
# shell logic runs with stand-ins for `srun` and `kneecap` on PATH: a shard
# exiting 1 (a rung past the knee) still leads to the merge, one exiting 2
# stops it.  A few seconds.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHECK="$KC_SRCDIR/tests/integration/k8s_check.py"
K8S="$KC_SRCDIR/deploy/k8s"
if ! $PY -c 'import kubernetes, yaml' 2>/dev/null; then
	fail "python3-kubernetes missing: run scripts/setup --test"; done_testing; exit
fi
expect_rc 0 "the Kubernetes manifests pass the offline check" $PY "$CHECK" "$K8S"/*.yaml
# Broken copies: each must be refused with its reason.
broken() {
	local desc=$1 expr=$2 want=$3
	mkdir -p "$TMP/b"; rm -f "$TMP/b"/*
	cp "$K8S"/*.yaml "$TMP/b/"
	sed -i "$expr" "$TMP/b/kneecap-shards.yaml"
	expect_rc 1 "refused: $desc" $PY "$CHECK" "$TMP/b"/*.yaml
	expect_grep "$want" "$TMP/out" "... saying: $want"
}
broken "a misspelt field" 's/completionMode:/completionsMode:/' "unknown field 'completionsMode'"
broken "parallelism other than SHARDS" 's/parallelism: 8/parallelism: 4/' "must both be SHARDS"
broken "a container without a name" 's/- name: kneecap$/- imagePullPolicy: Always/' "Invalid value for .name., must not be .None."
broken "a variable the ConfigMap lacks" 's/"\$WARMUP"/"$WARM_UP"/' 'WARM_UP is not in the ConfigMap'

SB="$KC_SRCDIR/deploy/slurm/kneecap.sbatch"
expect_rc 0 "kneecap.sbatch parses" bash -n "$SB"
# Every --flag the recipes give `kneecap run` or `kneecap merge` is one they take.
"$KNEECAP" run --help >"$TMP/help" 2>&1
"$KNEECAP" merge --help >>"$TMP/help" 2>&1
for f in $(grep -ohE -- '--[a-z][a-z-]+' "$SB" "$K8S"/*.yaml | sort -u); do
	case $f in --ntasks|--cpus-per-task|--output|--job-name|--kill-on-bad-exit|--for) continue ;; esac
	if grep -qE -- "$f( |,|$)" "$TMP/help"; then
		ok "$f is a kneecap option"
	else
		fail "$f is not a kneecap run or merge option"
	fi
done

# The sbatch script itself, with a stand-in srun (runs each task here, SLURM_PROCID
# set, and exits with the highest task status, as srun does) and kneecap (logs its
# arguments; `run` exits $FAKE_RUN_RC, or $FAKE_RUN_RC_1 on task 1).
FAKE="$TMP/fake"; mkdir -p "$FAKE"
cat >"$FAKE/srun" <<'SH'
#!/bin/bash
n=${SLURM_NTASKS:-1}; worst=0
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do shift; done   # srun's own options
for i in $(seq 0 $((n - 1))); do
	SLURM_PROCID=$i "$@"; rc=$?
	[ $rc -gt $worst ] && worst=$rc
done
exit $worst
SH
cat >"$FAKE/kneecap" <<'SH'
#!/bin/bash
echo "$* [task ${SLURM_PROCID:-${JOB_COMPLETION_INDEX:-}}]" >>"$FAKE_LOG"
if [ "$1" = run ]; then
	[ "${SLURM_PROCID:-${JOB_COMPLETION_INDEX:-}}" = 1 ] && [ -n "${FAKE_RUN_RC_1:-}" ] && exit "$FAKE_RUN_RC_1"
	exit "${FAKE_RUN_RC:-0}"
fi
exit 0
SH
chmod +x "$FAKE/srun" "$FAKE/kneecap"
sbatch_fake() {  # RUN_RC [TASK1_RC]: runs kneecap.sbatch as Slurm would, 3 tasks
	rm -f "$TMP/fake.log"
	env -u KNEECAP PATH="$FAKE:$PATH" FAKE_LOG="$TMP/fake.log" FAKE_RUN_RC=$1 FAKE_RUN_RC_1=${2:-} \
		SLURM_NTASKS=3 SLURM_JOB_ID=77 TARGET=http://127.0.0.1:9/ OUT="$TMP/sb" LEAD=0 \
		timeout 20 bash "$SB" >"$TMP/out" 2>"$TMP/err"
}
sbatch_fake 1
rc=$?
[ "$rc" = 0 ] && ok "sbatch: every shard exiting 1 (rungs past the knee) still ends in success" ||
	{ fail "sbatch with shards exiting 1 (exit $rc)"; head -3 "$TMP/err"; }
[ "$(grep -c '^run ' "$TMP/fake.log")" = 3 ] && ok "... after 3 shards ran" || fail "... shards run: $(grep -c '^run ' "$TMP/fake.log")"
expect_grep "^merge $TMP/sb/shard-\\* --out $TMP/sb/merged" "$TMP/fake.log" "... and merge runs"
expect_grep "^run http://127.0.0.1:9/ --ramp .* --warmup 10s --timeout 5s --shards 3 --start-at [0-9]+ .*--out $TMP/sb/shard-2 " \
	"$TMP/fake.log" "... the shards run with --timeout 5s under the 10 s warm-up"
sbatch_fake 0 2
rc=$?
[ "$rc" != 0 ] && ok "sbatch: a shard exiting 2 fails the job (exit $rc)" || fail "sbatch: a shard exiting 2 is not a failure"
! grep -q '^merge' "$TMP/fake.log" && ok "... and there is no merge" || fail "a shard exiting 2, yet merge ran"

# The Kubernetes shard pod's command, run by sh with the ConfigMap's variables.
$PY - "$K8S/kneecap-shards.yaml" "$TMP/k8s" <<'PY'
import shlex, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
env = [d for d in docs if d["kind"] == "ConfigMap"][0]["data"]
job = [d for d in docs if d["kind"] == "Job"][0]
c = job["spec"]["template"]["spec"]["containers"][0]
with open(sys.argv[2] + ".env", "w") as f:
    for k, v in env.items():
        f.write("export %s=%s\n" % (k, shlex.quote(v)))
with open(sys.argv[2] + ".sh", "w") as f:
    f.write(c["args"][0])
assert c["command"] == ["/bin/sh", "-c"], c["command"]
PY
pod() {  # RUN_RC: the shard pod's exit status
	rm -f "$TMP/fake.log"
	env -u KNEECAP PATH="$FAKE:$PATH" FAKE_LOG="$TMP/fake.log" FAKE_RUN_RC=$1 JOB_COMPLETION_INDEX=0 \
		/bin/sh -c ". '$TMP/k8s.env'; $(cat "$TMP/k8s.sh")" >"$TMP/out" 2>"$TMP/err"
}
pod 1; rc=$?
[ "$rc" = 0 ] && ok "k8s: a shard pod whose kneecap run exits 1 completes" || fail "k8s: run exit 1 makes the pod exit $rc"
expect_grep "^run .* --warmup 10s --timeout 5s --shards 8 " "$TMP/fake.log" "... it ran kneecap run with --timeout 5s"
pod 2; rc=$?
[ "$rc" = 2 ] && ok "k8s: run exiting 2 fails the pod (exit 2)" || fail "k8s: run exit 2 makes the pod exit $rc"
pod 0; rc=$?
[ "$rc" = 0 ] && ok "k8s: run exiting 0 completes the pod" || fail "k8s: run exit 0 makes the pod exit $rc"
done_testing
