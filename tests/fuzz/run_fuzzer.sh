#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS SECONDS - a bounded libFuzzer run on a scratch copy
# of the seed corpus; prints the execution count and keeps any crash input.
set -u
fz=$1 corpus=$2 secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/kc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus/." "$work/"
out=$("$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-print_final_stats=1 -artifact_prefix="${KC_FUZZ_ARTIFACTS:-$work/}" "$work" 2>&1)
rc=$?
echo "$out" | grep -E '^stat::number_of_executed_units|^Done|ERROR|SUMMARY' | head -20
[ $rc -eq 0 ] || echo "$out" | tail -60
exit $rc
