#!/usr/bin/env bash
# sigv4_callgrind.sh - instructions per SigV4 signature, by body size.
# Runs bench_sigv4 in sign-only mode under callgrind at two iteration counts
# and divides the difference, so set-up and the one-time body hash cancel out.
# usage: tests/bench/sigv4_callgrind.sh [BUILD_DIR]   (default build-rel)
set -eu
bench=${1:-build-rel}/tests/bench/bench_sigv4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() { # iterations body_bytes -> total instructions
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$bench" "$1" "$2" >/dev/null 2>"$tmp/log"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/log"
}
printf '%-10s %14s\n' body "Ir/signature"
for size in 1024 307200 5242880; do
	a=$(ir 200 $size); b=$(ir 1200 $size)
	# bench_sigv4 runs each count 5 times
	printf '%-10s %14d\n' "$size" $(( (b - a) / (1000 * 5) ))
done
