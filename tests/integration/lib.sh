# lib.sh - shared helpers for the integration scripts (sourced, not run).
set -u
fails=0
checks=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kc-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok()   { checks=$((checks + 1)); echo "ok   - $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL - $*"; }
# expect_rc WANT DESC CMD...: run CMD, compare its exit status.
expect_rc() {
	local want=$1 desc=$2; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$desc"; else
		fail "$desc (exit $rc, wanted $want)"; sed 's/^/    /' "$TMP/err" | head -5; fi
}
# expect_grep PATTERN FILE DESC
expect_grep() {
	if grep -qE -- "$1" "$2"; then ok "$3"; else fail "$3 (no /$1/ in $2)"; sed 's/^/    /' "$2" | head -5; fi
}
# err_lines: lines in $TMP/err, the probe's "probing TARGET" announcement left out.
err_lines() { grep -cv '^kneecap: [a-z]*: probing ' "$TMP/err"; }
done_testing() {
	echo "# $checks checks, $fails failed"
	[ "$fails" = 0 ]
}
