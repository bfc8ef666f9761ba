#!/usr/bin/env bash
# run_fuzzer.sh FUZZER CORPUS SECONDS - a bounded libFuzzer run on a scratch copy
# of the seed corpus; prints the execution count and keeps any crash input
# (in KC_FUZZ_ARTIFACTS, default ${TMPDIR:-/tmp}/kc-fuzz-artifacts).
#
# libFuzzer's own exit status for a crash is 77, which meson reads as "skipped":
# -error_exitcode and -timeout_exitcode make every finding a failure.
set -u
fz=$1 corpus=$2 secs=$3
art=${KC_FUZZ_ARTIFACTS:-${TMPDIR:-/tmp}/kc-fuzz-artifacts}
mkdir -p "$art" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/kc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus/." "$work/"
out=$("$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
	-error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
	-artifact_prefix="$art/$(basename "$fz")-" "$work" 2>&1)
rc=$?
echo "$out" | grep -E '^stat::number_of_executed_units|^Done|ERROR|SUMMARY|Test unit written' | head -20
[ $rc -eq 0 ] || echo "$out" | tail -60
exit $rc
