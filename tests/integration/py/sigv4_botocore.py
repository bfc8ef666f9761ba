#!/usr/bin/python3
"""Cross-check kneecap's SigV4 signer against botocore's SigV4Auth.

Generates N requests deterministically from a seed (paths with spaces,
unicode, '%', dot segments and repeated slashes; queries with reserved and
non-ASCII characters in varied but equivalent encodings; header names in
mixed case, repeated headers, whitespace runs; bodies of many sizes; with and
without a session token and x-amz-content-sha256; times across days), signs
each with botocore at a frozen time, runs `aws_tool sign` on the same cases,
and compares the Authorization headers.  It also checks that kneecap's
verifier accepts every request botocore signed.

usage: sigv4_botocore.py AWS_TOOL WORKDIR [N] [SEED]
Exit status 0 when every case matches.
"""
import datetime
import hashlib
import json
import random
import subprocess
import sys
import types
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
SEGMENTS = ["endpoints", "my-endpoint", "invocations", "a b", "  ", "x%20y", "%",
            "100%", "%zz", "ü", "日本語", "é+à", "..", ".", "", "", "a.b", "~tilde",
            "c:d", "@at", "!$'()*,;=", "UPPER", "emoji😀"]  # no tab: urlsplit drops it
QCHARS = list("abcXYZ019-_.~ /:@!$'()*+,;=&%?#") + ["ü", "日", "😀", "\u00a0"]
HOSTS = ["runtime.sagemaker.us-east-1.amazonaws.com",
         "runtime.sagemaker.eu-west-1.amazonaws.com:8443", "127.0.0.1:8080",
         "example.amazonaws.com", "[::1]:9000"]
HEADER_NAMES = ["Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes",
                "X-Amzn-SageMaker-Target-Variant", "x-amz-meta-Thing", "My-Header",
                "X-Forwarded-For", "Content-Length", "User-Agent", "X-Amzn-Trace-Id",
                "Expect", "Cache-Control"]
WORDS = ["application/json", "image/jpeg", "trace=abc123", "a  b   c", "\tvalue\t",
         "  lead", "trail  ", "v1, v2", "x=\"q  uoted\"", "!#$%&'*+-.^_`|~", "",
         "single", "100-continue"]


def body_bytes(n, seed):
    # Must match make_body() in aws_tool.c.
    return bytes((seed + i * 31 + (i >> 8)) & 0xFF for i in range(n))


def enc_query_part(rng, s):
    """One of many equivalent encodings of s for a query string."""
    out = []
    for ch in s:
        for b in ch.encode("utf-8"):
            c = chr(b)
            if b in UNRESERVED and rng.random() < 0.85:
                out.append(c)
            elif c in " /:@!$'()*,;" and rng.random() < 0.3:
                out.append(c)  # raw but harmless: re-encoded by both sides
            else:
                h = "%%%02X" % b
                out.append(h if rng.random() < 0.7 else h.lower())
    return "".join(out)


def rand_token(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([16, 356, 1024])))


def make_case(rng, i):
    path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.3:
        path += "/"
    if rng.random() < 0.2:
        path = path.replace("/", "//", 1)
    params = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        k = "".join(rng.choice(QCHARS) for _ in range(rng.randint(1, 6)))
        v = "".join(rng.choice(QCHARS) for _ in range(rng.randint(0, 8)))
        params.append((k, v))
        if rng.random() < 0.2:  # repeated key, different value
            params.append((k, v + "2"))
    query = "&".join(enc_query_part(rng, k) + "=" + enc_query_part(rng, v)
                     for k, v in params)
    headers = [["Host" if rng.random() < 0.5 else "host", rng.choice(HOSTS)]]
    for _ in range(rng.randint(0, 7)):
        name = rng.choice(HEADER_NAMES)
        name = "".join(c.upper() if rng.random() < 0.2 else c for c in name)
        headers.append([name, rng.choice(WORDS)])
    rng.shuffle(headers)
    size = rng.choice([0, 0, 1, 17, 100, 1023, 1024, 4096, 65536, 300 * 1024,
                       rng.randint(0, 200000)])
    token = rand_token(rng) if rng.random() < 0.5 else ""
    return {
        "id": "c%03d" % i,
        "method": rng.choice(["GET", "POST", "POST", "PUT", "DELETE"]),
        "path": path,
        "params": params,
        "query": query,
        "headers": headers,
        "body_len": size,
        "body_seed": rng.randint(0, 255),
        "akid": "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "secret": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                          for _ in range(40)),
        "token": token,
        "region": rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"]),
        "service": rng.choice(["sagemaker", "sagemaker", "execute-api", "es"]),
        # 2015..2030, some a second before or after UTC midnight
        "time": rng.choice([rng.randint(1420070400, 1893456000),
                            86400 * rng.randint(17000, 21000) + rng.choice([-1, 0, 1])]),
        "sign_sha": rng.random() < 0.25,
    }


class FrozenDatetime(datetime.datetime):
    frozen = None

    @classmethod
    def utcnow(cls):
        return cls.frozen

    @classmethod
    def now(cls, tz=None):
        return cls.frozen if tz is None else cls.frozen.replace(tzinfo=tz)


def botocore_sign(case):
    FrozenDatetime.frozen = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=case["time"])
    botocore.auth.datetime = types.SimpleNamespace(datetime=FrozenDatetime)
    host = [v for k, v in case["headers"] if k.lower() == "host"][0]
    body = body_bytes(case["body_len"], case["body_seed"])
    req = AWSRequest(method=case["method"], url="https://" + host + case["path"], data=body,
                     params=case["params"])
    for k, v in case["headers"]:
        req.headers[k] = v  # HTTPHeaders appends: repeated names are kept
    if case["sign_sha"]:
        req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    creds = Credentials(case["akid"], case["secret"], case["token"] or None)
    botocore.auth.SigV4Auth(creds, case["service"], case["region"]).add_auth(req)
    return req.headers["Authorization"], [[k, v] for k, v in req.headers.items()]


def main():
    tool, work = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 240
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261122
    rng = random.Random(seed)
    cases, want = [], {}
    for i in range(n):
        c = make_case(rng, i)
        want[c["id"]], c["boto_headers"] = botocore_sign(c)
        cases.append(c)
    path = work + "/sigv4_cases.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    out = subprocess.run([tool, "sign", path], capture_output=True, timeout=120)
    if out.returncode != 0:
        print("FAIL - aws_tool exited %d: %s" % (out.returncode, out.stderr.decode()[:500]))
        return 1
    got = {}
    for line in out.stdout.decode("utf-8").splitlines():
        cid, auth, verdict = line.split("\t")
        got[cid] = (auth, verdict)
    bad = 0
    stats = {"token": 0, "query": 0, "sha": 0, "big": 0, "pct_path": 0, "unicode": 0}
    for c in cases:
        auth, verdict = got.get(c["id"], ("<missing>", "-"))
        if auth != want[c["id"]] or verdict != "OK":
            bad += 1
            if bad <= 5:
                print("FAIL - %s %s %r ?%r\n    kneecap:  %s\n    botocore: %s\n    verify:   %s"
                      % (c["id"], c["method"], c["path"], c["query"], auth, want[c["id"]], verdict))
        stats["token"] += bool(c["token"])
        stats["query"] += bool(c["query"])
        stats["sha"] += c["sign_sha"]
        stats["big"] += c["body_len"] >= 65536
        stats["pct_path"] += "%" in c["path"]
        stats["unicode"] += any(ord(ch) > 127 for ch in c["path"])
    print("# %d cases (%s), %d mismatched" % (n, ", ".join("%s=%d" % kv for kv in stats.items()), bad))
    for c in cases:
        # the secret must not leak into the tool's output
        if c["secret"] in out.stdout.decode("utf-8") or (c["token"] and c["token"] in out.stdout.decode("utf-8")):
            print("FAIL - secret or token of %s appears in aws_tool output" % c["id"])
            return 1
    return 0 if bad == 0 and n >= 200 else 1


if __name__ == "__main__":
    sys.exit(main())
