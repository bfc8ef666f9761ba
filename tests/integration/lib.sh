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

# The end of every secret scan's Python (test_secrets*.sh): given forms, a
# list of (label, bytes) built by the test, and files, prints "LABEL in FILE"
# for the first form found in each file.
SCAN_FILES_PY='
for f in files:
    try:
        data = open(f, "rb").read()
    except OSError:
        continue
    for label, form in forms:
        if form and form in data:
            print("%s in %s" % (label, f))
            break
'
# scan NAME FILE...: fails when the test's scan_found finds any form in any FILE.
scan() {
	local name=$1; shift
	local found
	found=$(scan_found "$@")
	if [ -z "$found" ]; then ok "$name: no form of a secret in $# files"; else
		fail "$name: $(echo "$found" | head -4 | tr '\n' ';')"; fi
}
