#!/usr/bin/env bash
# test_sigv4_botocore.sh - kneecap's SigV4 Authorization equals botocore's
# SigV4Auth for 240 seeded random requests at frozen times, and kneecap's
# verifier accepts every request botocore signed.  No network.
. "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
tool="$KC_BUILDDIR/tests/integration/aws_tool"
if ! "$py" -c 'import botocore' 2>/dev/null; then
	fail "python3-botocore is not installed (scripts/setup installs it)"
	done_testing; exit
fi
if "$py" "$KC_SRCDIR/tests/integration/py/sigv4_botocore.py" "$tool" "$TMP" 240 20261122 >"$TMP/log" 2>&1; then
	ok "240 random requests: Authorization matches botocore, verifier accepts botocore's"
else
	fail "SigV4 differs from botocore"
fi
sed 's/^/    /' "$TMP/log" | head -30
done_testing
