#!/usr/bin/env bash
# test_eventstream_botocore.sh - event-stream frames and signed envelopes that
# kneecap writes parse with botocore's EventStreamBuffer, and the signature
# chain recomputed in Python matches.  No network.
. "$(dirname "$0")/lib.sh"

py=/usr/bin/python3
tool="$KC_BUILDDIR/tests/integration/aws_tool"
if ! "$py" -c 'import botocore.eventstream' 2>/dev/null; then
	fail "python3-botocore is not installed (scripts/setup installs it)"
	done_testing; exit
fi
if "$py" "$KC_SRCDIR/tests/integration/py/eventstream_botocore.py" "$tool" "$TMP" 8 >"$TMP/log" 2>&1; then
	ok "botocore decodes kneecap's plain and signed frames"
else
	fail "botocore could not decode kneecap's frames"
fi
sed 's/^/    /' "$TMP/log" | head -30
done_testing
