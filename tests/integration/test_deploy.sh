#!/usr/bin/env bash
# test_deploy.sh - the recipes in deploy/ checked offline: the Kubernetes
# manifests against the API models of python3-kubernetes and the shard
# contract (k8s_check.py; kubectl's client-side dry run still needs a
# server for discovery), each of a few broken copies refused; the sbatch
# script parses and passes kneecap flags kneecap takes.  A few seconds.
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
done_testing
