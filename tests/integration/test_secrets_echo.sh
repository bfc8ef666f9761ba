#!/usr/bin/env bash
# test_secrets_echo.sh - the echo matrix: a server that hands kneecap's own
# credentials back must not get them into anything kneecap writes.
#
# A loopback stand-in for SageMaker (helpers/echo_server.py) echoes the
# session token, the secret key (a pretend leak) or the request's own
# headers (Authorization, X-Amz-Security-Token) in 200, 403 and 500 bodies
# and in response headers: whole, cut to 20 characters (start, middle,
# end), percent-encoded (upper and lower hex, form encoding), and in
# standard and URL-safe base64 at each of the 3 byte alignments; also as
# X-Amzn-ErrorType, and inside a response stream's exception event.
# `kneecap run sagemaker:CASE --endpoint-url ... -vv --json --out DIR` runs
# once per case with fake credentials from the environment, `kneecap
# report` renders every result.json, and two credential_process helpers
# fail printing a secret on stderr (one the environment's token, one a key
# kneecap never loaded).  Every output file, stdout and stderr is then
# scanned for the secret and the token raw, URL-encoded, form-encoded and
# base64, and for every 12-character piece of those forms.  Zero hits.
#
# Also checked, so the test cannot pass vacuously: the server really does
# echo every form (its raw answers are scanned and must hit), and the
# echoes reached result.json's error_samples (as the redaction marker).
# Loopback only; the credentials are made-up test values.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SERVER="$KC_SRCDIR/tests/integration/helpers/echo_server.py"
SRV_PID=""
trap '[ -n "$SRV_PID" ] && { kill "$SRV_PID"; wait "$SRV_PID"; } 2>/dev/null; rm -rf "$TMP"' EXIT

AKID=AKIDKCECHOMATRIX01
SECRET='q7Zr/Wm2+Kx9TbVn4YhJ0sLdPfEa8GcUoRiX3Nw1'
TOKEN='IQoJb3JpZ2luX2VjEKz//////////wEaCXVzLWVhc3QtMSJGMEQCIFm4+Tq2Vx7Lr9/Kd3NsWa0Yb6HcPzJe1Ug5RtMiAiBOqk8Xw4DyFv2Nh7Lc/9Sd0Ta3Mb1Ze6Yq8Pj5Gx4Rr2KvAhIQ0kN'
OTHER='Zx8Kq3/Lm5Tr9Wv2Yb7Nc4Hd6Jf1Pg0Rs8Ut3Vw5Xy'  # printed by a helper, never loaded

# scan_found FILE...: which form of which value is in which FILE, one line each.
scan_found() {
	{ cat <<'PY'
import base64, sys, urllib.parse
vals, files = sys.argv[1:4], sys.argv[4:]
K = 12
forms = []  # (label, bytes)
for label, s in zip(("secret key", "session token", "helper's key"), vals):
    b = s.encode()
    whole = [("raw", b),
             ("URL-encoded", urllib.parse.quote(s, safe="").encode()),
             ("URL-encoded lower", "".join(c if c.isalnum() else "%%%02x" % ord(c)
                                           for c in s).encode()),
             ("form-encoded", urllib.parse.quote_plus(s).encode())]
    # base64 inside a longer blob: the characters that depend only on the
    # value's own bytes, at each alignment, both alphabets
    for pad in range(3):
        for enc, name in ((base64.b64encode, "base64"), (base64.urlsafe_b64encode, "base64url")):
            e = enc(b"\0" * pad + b + b"\0\0")
            first = (pad * 8 + 5) // 6
            last = (pad + len(b)) * 8 // 6
            whole.append(("%s@%d" % (name, pad), e[first:last]))
    for fl, f in whole:
        forms.append(("%s (%s)" % (label, fl), f))
        for i in range(len(f) - K + 1):
            forms.append(("%s (%s, 12-character piece at %d)" % (label, fl, i), f[i:i + K]))
PY
	echo "$SCAN_FILES_PY"; } | "$PY" - "$SECRET" "$TOKEN" "$OTHER" "$@"
}

"$PY" "$SERVER" "$TMP/port" "$SECRET" "$TOKEN" --max-s 170 >"$TMP/server.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$TMP/port" 2>/dev/null)
[ -n "$PORT" ] || { fail "echo server did not start"; done_testing; exit 1; }

CASES="headers-raw errtype-raw"
for what in token secret; do
	for form in raw urlU urlL form b64a0 b64a1 b64a2 b64u0 b64u1 b64u2 head mid tail; do
		CASES="$CASES $what-$form"
	done
done

# The server really leaks: one 200, 403 and 500 of each case, raw, must hit.
"$PY" - "$PORT" "$TMP" $CASES <<'PY'
import http.client, sys
port, tmp, cases = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for case in cases:
    with open("%s/raw.%s" % (tmp, case), "wb") as out:
        for _ in range(3):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/endpoints/%s/invocations" % case, body=b"x")
            r = c.getresponse()
            out.write(("%d %r\n" % (r.status, r.getheaders())).encode() + r.read() + b"\n")
            c.close()
PY
n=0
for c in $CASES; do
	case $c in headers-*|errtype-*) continue ;; esac
	[ -n "$(scan_found "$TMP/raw.$c")" ] && n=$((n + 1)) || echo "    no leak found in the raw answers of $c"
done
ncases=$(($(echo $CASES | wc -w) - 2))
[ "$n" = "$ncases" ] && ok "the server echoes a scannable form in all $n value cases" ||
	fail "the server echoes a scannable form in only $n of $ncases cases"

export AWS_ACCESS_KEY_ID=$AKID AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true HOME=$TMP
export AWS_CONFIG_FILE=$TMP/aws-config AWS_SHARED_CREDENTIALS_FILE=$TMP/aws-credentials
: >"$AWS_SHARED_CREDENTIALS_FILE"
printf 'a small body: no JPEG pool to build per run\n' >"$TMP/body.bin"

# run_case CASE [extra args]: one run; outputs in $TMP/run.CASE*.  Echoed
# errors are the point here, so no error rate fails the run (exit 0).
run_case() {
	local c=$1 tag=$1; shift
	[ $# -gt 0 ] && tag="$c.rs"
	timeout 60 "$KNEECAP" run "sagemaker:$c" --endpoint-url "http://127.0.0.1:$PORT" \
		--body "$TMP/body.bin" --rate 12 --duration 1s --threads 1 --connections 2 -vv --json \
		--max-error-rate 100% \
		--out "$TMP/run.$tag" "$@" >"$TMP/run.$tag.stdout" 2>"$TMP/run.$tag.stderr"
	echo $? >"$TMP/run.$tag.rc"
}
# two at a time: the machine is shared
set -- $CASES
while [ $# -gt 0 ]; do
	run_case "$1" &
	pair=$!
	[ $# -gt 1 ] && run_case "$2"
	wait "$pair" # not a bare wait: the server is a job of this shell too
	shift; [ $# -gt 0 ] && shift
done
for c in token-raw token-b64u1 secret-urlL headers-raw; do
	run_case "$c" --response-stream
done

files=()
bad_rc="" unscrubbed=""
for d in "$TMP"/run.*.rc; do
	tag=${d%.rc}; tag=${tag#"$TMP/run."}
	[ "$(cat "$d")" = 0 ] || bad_rc="$bad_rc $tag:$(cat "$d")"
	files+=("$TMP/run.$tag"/* "$TMP/run.$tag.stdout" "$TMP/run.$tag.stderr")
	# the echo reached the error samples, as the marker
	"$PY" -c "
import json, sys
s = json.load(open(sys.argv[1]))['steps'][0].get('error_samples', [])
sys.exit(0 if any('[redacted]' in x['message'] + x['code'] for x in s) else 1)" \
		"$TMP/run.$tag/result.json" 2>/dev/null || unscrubbed="$unscrubbed $tag"
done
[ -z "$bad_rc" ] && ok "every run exits 0" || fail "runs with another exit status:$bad_rc"
[ -z "$unscrubbed" ] && ok "every run's error_samples hold the echo, redacted" ||
	fail "no redacted echo in the error_samples of:$unscrubbed"
scan "kneecap run -vv --json --out, $(echo $CASES | wc -w) cases + 4 response streams" "${files[@]}"

# report.html (and report's own output) from every result
expect_rc 0 "kneecap report renders every result" "$KNEECAP" report "$TMP"/run.*/result.json \
	-o "$TMP/report.html"
cp "$TMP/out" "$TMP/report.stdout"; cp "$TMP/err" "$TMP/report.stderr"
[ -s "$TMP/report.html" ] && ok "report.html written" || fail "no report.html"
scan "kneecap report" "$TMP/report.html" "$TMP/report.stdout" "$TMP/report.stderr"

# credential_process helpers that fail, printing secrets on stderr
"$PY" - "$TMP" "$SECRET" "$TOKEN" "$OTHER" <<'PY'
import base64, os, sys, urllib.parse
tmp, secret, token, other = sys.argv[1:]
helpers = {
    "leak-env": "echo 'refresh failed: token=%s key %s' >&2\nexit 1\n"
                % (token, urllib.parse.quote(secret, safe="")),
    "leak-b64": "echo 'failed: %s' >&2\nexit 3\n" % base64.b64encode(b"{\"k\":\"" + token.encode() + b"\"}").decode(),
    # a key kneecap never loaded is known only by its look: the field name,
    # or a long opaque word (24+ characters mixing upper, lower, digits)
    "leak-other": "echo 'denied for SecretAccessKey %s and key %s' >&2\nexit 1\n" % (other, other[:30]),
}
with open(os.path.join(tmp, "aws-config"), "w") as cfg:
    for name, body in helpers.items():
        path = os.path.join(tmp, name + ".sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        cfg.write("[profile %s]\ncredential_process = %s\n" % (name, path))
PY
for h in leak-env leak-b64 leak-other; do
	timeout 30 "$KNEECAP" run sagemaker:token-raw --profile "$h" --endpoint-url \
		"http://127.0.0.1:$PORT" --body "$TMP/body.bin" --rate 5 --duration 1s -vv --out "$TMP/helper.$h" \
		>"$TMP/helper.$h.stdout" 2>"$TMP/helper.$h.stderr"
	rc=$?
	[ "$rc" != 0 ] && grep -q "credential_process" "$TMP/helper.$h.stderr" &&
		ok "credential_process $h fails, named (exit $rc)" ||
		{ fail "credential_process $h: exit $rc"; sed 's/^/    /' "$TMP/helper.$h.stderr" | head -3; }
	scan "credential_process $h" "$TMP/helper.$h.stdout" "$TMP/helper.$h.stderr" "$TMP/helper.$h"/*
done
grep -h "credential_process" "$TMP"/helper.*.stderr | sed 's/^/    /' | head -3

done_testing
