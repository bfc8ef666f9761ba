#!/usr/bin/env bash
# test_creds.sh - the AWS credential chain end to end, from a clean process
# environment: container credentials and IMDSv2 against a fake metadata
# server on 127.0.0.1 (never 169.254.x.x), plus a scan of every byte the
# probe printed, logs included, for the fake secrets.
#
# Every probe runs under `env -i` with AWS_EC2_METADATA_DISABLED=true unless
# it tests IMDS, and then AWS_EC2_METADATA_SERVICE_ENDPOINT points at the
# loopback server: no run can fall through to the real metadata address.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PROBE=${KC_CREDS_PROBE:?KC_CREDS_PROBE not set}
AUTH="authToKeN-0123456789"
mkdir -p "$TMP/home"

cat >"$TMP/fake.py" <<'PYEOF'
# Fake ECS container-credentials and EC2 metadata server, loopback only.
# argv: port_file auth_token.  Exits on its own after 60 s.
import json, sys, threading, time, datetime
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

AUTH = sys.argv[2]
IMDS_TOKEN = "imdsToKeN-abcdef"
EXP = (datetime.datetime.now(datetime.timezone.utc) +
       datetime.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")

def creds(prefix):
    return {"Code": "Success", "AccessKeyId": "AKIA%sEXAMPLE01" % prefix.upper()[:4],
            "SecretAccessKey": prefix + "SeCrEt0123456789",
            "Token": prefix + "ToKeN0123456789", "Expiration": EXP}

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        b = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_PUT(self):
        p = self.path
        if not p.endswith("/latest/api/token"):
            return self.send(404, "")
        if p.startswith("/v1only/"):
            return self.send(405, "")
        if p.startswith("/slow/"):
            time.sleep(3)
        if self.headers.get("X-aws-ec2-metadata-token-ttl-seconds") != "21600":
            return self.send(400, "missing ttl")
        self.send(200, IMDS_TOKEN, "text/plain")

    def do_GET(self):
        p = self.path
        if p.startswith("/container/"):
            if self.headers.get("Authorization") != AUTH:
                return self.send(401, '{"message":"bad token"}')
            return self.send(200, json.dumps(creds("ctr")))
        if p.startswith("/container-garbage/"):
            return self.send(200, "<html>hello</html>")
        mode = p.split("/")[1]
        if mode != "v1only" and self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
            return self.send(401, "")
        base = "/%s/latest/meta-data/iam/security-credentials/" % mode
        if p == base:
            if mode == "norole":
                return self.send(404, "")
            if mode == "forbidden":
                return self.send(403, "")
            return self.send(200, "kc-role\n", "text/plain")
        if p == base + "kc-role":
            if mode == "garbage":
                return self.send(200, "{not json", "text/plain")
            return self.send(200, json.dumps(creds("imds")))
        self.send(404, "")

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
threading.Timer(60, srv.shutdown).start()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
PYEOF

"$PY" "$TMP/fake.py" "$TMP/port" "$AUTH" 2>"$TMP/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$TMP/port" 2>/dev/null)
if [ -z "$PORT" ]; then fail "fake metadata server did not start"; done_testing; exit 1; fi
BASE="http://127.0.0.1:$PORT"

# probe WANT_RC DESC VAR=VALUE... [-- PROBE ARGS]: run the probe in a clean
# environment; output lands in $TMP/out and $TMP/err and is kept for the scan.
probe() {
	local want=$1 desc=$2; shift 2
	local envs=() args=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
	[ "${1:-}" = "--" ] && shift && args=("$@")
	expect_rc "$want" "$desc" env -i PATH=/usr/bin:/bin HOME="$TMP/home" "${envs[@]}" \
		"$PROBE" "${args[@]}"
	cat "$TMP/out" "$TMP/err" >>"$TMP/all"
}
NOIMDS=AWS_EC2_METADATA_DISABLED=true

# environment keys
probe 0 "env keys" $NOIMDS AWS_ACCESS_KEY_ID=AKIAENVEXAMPLE0001 \
	AWS_SECRET_ACCESS_KEY=envSeCrEt0123456789 AWS_SESSION_TOKEN=envToKeN0123 AWS_REGION=eu-west-1
expect_grep '^source=env$' "$TMP/out" "env: source reported"
expect_grep '^akid=AKIA\*\*\*\*0001$' "$TMP/out" "env: key id redacted"
expect_grep '^region=eu-west-1$' "$TMP/out" "env: region from AWS_REGION"

# shared credentials file via HOME
mkdir -p "$TMP/home/.aws"
printf '[default]\naws_access_key_id = AKIAFILEEXAMPLE001\naws_secret_access_key = fileSeCrEt012345\n' \
	>"$TMP/home/.aws/credentials"
printf '[default]\nregion = ap-south-1\n[profile other]\nregion = us-west-1\n' >"$TMP/home/.aws/config"
probe 0 "credentials file" $NOIMDS
expect_grep '^source=shared-credentials-file$' "$TMP/out" "file: source reported"
expect_grep "^origin=$TMP/home/.aws/credentials$" "$TMP/out" "file: origin is the file"
expect_grep '^region=ap-south-1$' "$TMP/out" "file: region from the profile"
probe 1 "missing profile" $NOIMDS -- --profile nope
expect_grep "AWS profile 'nope' not found in .*credentials or .*config" "$TMP/err" \
	"missing profile: named with both files"
printf '[default]\naws_access_key_id\n' >"$TMP/home/.aws/credentials"
probe 1 "malformed credentials file" $NOIMDS
expect_grep "credentials:2: expected 'key = value'" "$TMP/err" "malformed file: file:line"
rm -f "$TMP/home/.aws/credentials" "$TMP/home/.aws/config"

# container credentials (ECS / EKS Pod Identity) on loopback
probe 0 "container full URI + token" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds?x=1" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN="$AUTH"
expect_grep '^source=container$' "$TMP/out" "container: source reported"
expect_grep "^origin=$BASE/container/creds$" "$TMP/out" "container: origin without the query"
expect_grep '^token=yes$' "$TMP/out" "container: session token"
expect_grep '^expires=yes$' "$TMP/out" "container: expiration"
printf '%s\n' "$AUTH" >"$TMP/tokenfile"
probe 0 "container token file (re-read, trailing newline)" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$TMP/tokenfile" AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong
expect_grep '^source=container$' "$TMP/out" "container: token file wins over the variable"
probe 1 "container wrong token" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong-ToKeN
expect_grep 'HTTP status 401' "$TMP/err" "container: 401 reported"
probe 1 "container token with CR/LF" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN=$'a\r\nX-Injected: 1'
expect_grep 'contains CR, LF' "$TMP/err" "container: header injection refused"
probe 1 "container garbage answer" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container-garbage/x"
expect_grep 'not valid JSON' "$TMP/err" "container: garbage reported"
probe 1 "container host not allowed" $NOIMDS \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.1/creds"
expect_grep "'192.0.2.1' is not allowed" "$TMP/err" "container: non-loopback http refused"
probe 0 "env beats container" $NOIMDS AWS_ACCESS_KEY_ID=AKIAENVEXAMPLE0001 \
	AWS_SECRET_ACCESS_KEY=envSeCrEt0123456789 \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds"
expect_grep '^source=env$' "$TMP/out" "precedence: env before container"

# IMDSv2 on loopback
probe 0 "IMDSv2" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/imds/"
expect_grep '^source=imds$' "$TMP/out" "imds: source reported"
expect_grep "^origin=$BASE/imds role kc-role$" "$TMP/out" "imds: origin names the role"
expect_grep '^token=yes$' "$TMP/out" "imds: session token"
probe 0 "IMDSv1 fallback" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/v1only"
expect_grep '^source=imds$' "$TMP/out" "imds: v1 fallback after 405"
probe 1 "IMDSv1 disabled" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/v1only" \
	AWS_EC2_METADATA_V1_DISABLED=true
expect_grep 'AWS_EC2_METADATA_V1_DISABLED=true' "$TMP/err" "imds: v1 refused when disabled"
probe 1 "IMDS without a role" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/norole"
expect_grep 'no IAM role attached' "$TMP/err" "imds: no role is 'not found'"
# An IMDS that answers 403 for the role: the error lists the whole chain and
# why each link gave nothing, not only the last answer.
probe 1 "IMDS refuses the role name (403)" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/forbidden"
expect_grep "no AWS credentials found; tried: env \(AWS_ACCESS_KEY_ID unset\); .*/\.aws/credentials \[default\] \(no such file\); .*/\.aws/config \[default\] \(no such file\); container \(AWS_CONTAINER_CREDENTIALS_\* unset\); IMDS \(.*/forbidden: the role name request got HTTP 403" \
	"$TMP/err" "imds 403: every link of the chain and why it failed"
probe 1 "IMDS garbage" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/garbage"
expect_grep 'not valid JSON' "$TMP/err" "imds: garbage reported"
start=$(date +%s%N)
probe 1 "IMDS too slow" AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/slow"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_grep 'IMDS \(no answer from .* within 1000 ms\)' "$TMP/err" "imds: 1 s timeout"
if [ "$elapsed_ms" -lt 2900 ]; then ok "imds: gave up in ${elapsed_ms} ms"; else
	fail "imds: took ${elapsed_ms} ms"; fi
probe 1 "nothing anywhere" $NOIMDS
expect_grep 'no AWS credentials found; tried: env .*credentials.*config.*container.*IMDS \(AWS_EC2_METADATA_DISABLED=true\)' \
	"$TMP/err" "no credentials: every source listed"

# Independent cross-check: botocore (Debian's python3-botocore) resolves the
# same environments and files; source, redacted key id, token presence and
# region must agree.  botocore reads AWS_DEFAULT_REGION but not AWS_REGION,
# so these cases use only the former.  One python process runs every case
# (botocore's import is the slow part), each with a fresh os.environ.
cat >"$TMP/boto.py" <<'PYEOF'
import os, sys
import botocore.session
names = {"env": "env", "shared-credentials-file": "shared-credentials-file",
         "custom-process": "credential-process", "config-file": "config-file",
         "container-role": "container", "iam-role": "imds"}
base = dict(os.environ)
for line in open(sys.argv[1]):
    _desc, prof, envs = (line.rstrip("\n").split("|", 2) + ["", ""])[:3]
    os.environ.clear()
    os.environ.update(base)
    for kv in envs.split():
        k, v = kv.split("=", 1)
        os.environ[k] = v
    s = botocore.session.Session(profile=prof or None)
    c = s.get_credentials()
    out = []
    if c is None:
        out.append("source=none")
    else:
        f = c.get_frozen_credentials()
        k = f.access_key
        out += ["source=" + names.get(c.method, c.method),
                "akid=" + (k[:4] + "****" + k[-4:] if len(k) >= 12 else "****"),
                "token=" + ("yes" if f.token else "no")]
    out.append("region=" + str(s.get_config_variable("region")))
    print(" ".join(sorted(out)), flush=True)
PYEOF
: >"$TMP/cases"
# case DESC PROFILE VAR=VALUE... (values without blanks)
case_() { local IFS=' '; echo "$1|$2|${*:3}" >>"$TMP/cases"; }
A=.aws
mkdir -p "$TMP/home/$A"
printf '[default]\naws_access_key_id = AKIAFILEDEFAULTFDEF\naws_secret_access_key = fSeCrEt1\n[prod]\naws_access_key_id = AKIAFILEPRODXXFPRD\naws_secret_access_key = fSeCrEt2\naws_session_token = fToKeN2\n[prod-proc]\naws_access_key_id = AKIAFILEPRODPROCFPPC\naws_secret_access_key = fSeCrEt3\n' >"$TMP/home/$A/credentials"
printf '{"Version": 1, "AccessKeyId": "AKIAPROCESSXXXPROC", "SecretAccessKey": "pSeCrEt", "SessionToken": "pToKeN"}' >"$TMP/proc.json"
cat >"$TMP/home/$A/config" <<CFG
[default]
region = eu-north-1
[profile prod]
region = us-west-2
aws_access_key_id = AKIACONFIGPRODCPRD
aws_secret_access_key = cSeCrEt1
[profile dev]
aws_access_key_id = AKIACONFIGDEVXCDEV
aws_secret_access_key = cSeCrEt2
s3 =
    max_concurrent_requests = 20
region = ap-south-1
[profile proc]
credential_process = /bin/cat "$TMP/proc.json"
aws_access_key_id = AKIACONFIGPROCCPRC
aws_secret_access_key = cSeCrEt3
[profile prod-proc]
credential_process = /bin/cat $TMP/proc.json
CFG
ENVK="AWS_ACCESS_KEY_ID=AKIAENVEXAMPLEENVK AWS_SECRET_ACCESS_KEY=eSeCrEt AWS_SESSION_TOKEN=eToKeN"
case_ "env keys over the default profile" "" $NOIMDS $ENVK
case_ "default profile, credentials file" "" $NOIMDS
case_ "AWS_PROFILE: credentials file over config keys" "" $NOIMDS AWS_PROFILE=prod
case_ "AWS_PROFILE does not skip env keys" "" $NOIMDS AWS_PROFILE=prod $ENVK
case_ "--profile skips env keys" prod $NOIMDS $ENVK
case_ "config [profile dev] keys, nested s3 section" dev $NOIMDS
case_ "credential_process before config keys" proc $NOIMDS
case_ "credentials file before credential_process" prod-proc $NOIMDS
case_ "AWS_DEFAULT_PROFILE and AWS_PROFILE both set" "" $NOIMDS AWS_DEFAULT_PROFILE=dev AWS_PROFILE=prod
case_ "AWS_DEFAULT_REGION over the profile" dev $NOIMDS AWS_DEFAULT_REGION=sa-east-1
case_ "AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE" "" $NOIMDS \
	AWS_SHARED_CREDENTIALS_FILE=/nonexistent/c AWS_CONFIG_FILE="$TMP/home/$A/config" AWS_PROFILE=dev
case_ "container credentials on loopback" "" $NOIMDS HOME=/nonexistent \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$BASE/container/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN="$AUTH"
case_ "IMDSv2 on loopback" "" HOME=/nonexistent AWS_EC2_METADATA_SERVICE_ENDPOINT="$BASE/imds/"
case_ "nothing anywhere" "" $NOIMDS HOME=/nonexistent

env -i PATH=/usr/bin:/bin HOME="$TMP/home" "$PY" "$TMP/boto.py" "$TMP/cases" >"$TMP/boto.out" \
	2>"$TMP/boto.err" || { fail "botocore run failed"; head -5 "$TMP/boto.err"; }
i=0
while IFS='|' read -r desc prof envs; do
	i=$((i + 1))
	pargs=()
	[ -n "$prof" ] && pargs=(--profile "$prof")
	# shellcheck disable=SC2086 # envs is a blank-separated list by design
	env -i PATH=/usr/bin:/bin HOME="$TMP/home" $envs "$PROBE" "${pargs[@]}" \
		>"$TMP/k.out" 2>"$TMP/k.err"
	cat "$TMP/k.out" "$TMP/k.err" >>"$TMP/all"
	sed -i 's/^region_error=.*/region=None/' "$TMP/k.out"
	grep -q '^source=' "$TMP/k.out" || echo "source=none" >>"$TMP/k.out"
	grep -q '^region=' "$TMP/k.out" || echo "region=None" >>"$TMP/k.out"
	k=$(grep -E '^(source|akid|token|region)=' "$TMP/k.out" | sort | tr '\n' ' ')
	k=${k% }
	b=$(sed -n "${i}p" "$TMP/boto.out")
	if [ -n "$b" ] && [ "$k" = "$b" ]; then ok "botocore agrees: $desc [$k]"; else
		fail "botocore disagrees: $desc: kneecap [$k] botocore [$b]"
		sed 's/^/    /' "$TMP/k.err" | tail -3; fi
done <"$TMP/cases"

# Nothing printed by any probe, logs included, may hold a secret or token.
if grep -qE 'SeCrEt|ToKeN' "$TMP/all"; then
	fail "a secret or token appeared in the output"; grep -nE 'SeCrEt|ToKeN' "$TMP/all" | head -3
else ok "no secret or token in $(wc -l <"$TMP/all") lines of output"; fi
grep -q 'debug: aws credentials: PUT' "$TMP/all" && ok "debug logs were captured for the scan" ||
	fail "debug logs missing from the scan"
done_testing
