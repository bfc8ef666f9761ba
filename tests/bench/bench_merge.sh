#!/usr/bin/env bash
# bench_merge.sh - the cost of `kneecap merge`: 64 shards x 30 steps, each
# step 30 one-second intervals of 200 samples per shard (a 30 s step at
# 12,800 rps in all), written by bench_merge_gen; then the merge timed
# (wall, CPU, peak memory) three times.  By hand, never in CI:
#   tests/bench/bench_merge.sh [BUILD_DIR] [SHARDS] [STEPS] [INTERVALS] [SAMPLES]
set -eu
B=${1:-build}
SHARDS=${2:-64} STEPS=${3:-30} IV=${4:-30} N=${5:-200}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$B/tests/bench/bench_merge_gen" "$TMP/in" "$SHARDS" "$STEPS" "$IV" "$N"
echo "input: $SHARDS shards x $STEPS steps x $IV intervals x $N samples;" \
	"$(du -sh "$TMP/in" | cut -f1) on disk"
for i in 1 2 3; do
	/usr/bin/time -f "merge: %e s wall, %U s user, %S s sys, %M KiB max RSS" \
		"$B/kneecap" merge "$TMP"/in/shard-* --out "$TMP/out" -q >/dev/null
done
ls -l "$TMP/out"
