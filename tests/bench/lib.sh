# lib.sh - sourced by the bench scripts: `. lib.sh [KNEECAP]` moves to the
# repository root and sets root and KNEECAP (the given binary, else a release
# build in build-bench, configured and built on first use).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
root=$PWD
KNEECAP=${1:-}
if [ -z "$KNEECAP" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release >/dev/null || exit 1
	ninja -C build-bench -j2 kneecap >/dev/null || exit 1
	KNEECAP=$root/build-bench/kneecap
fi
