#!/usr/bin/python3
"""Cross-check kneecap's event-stream encoder and event signer with botocore.

Builds a deterministic set of messages (every header type, edge values,
payloads from 0 bytes to 300 KiB, the SageMaker PayloadPart shape), has
`aws_tool frames` encode them plainly and as signed envelopes, then parses
both files with botocore.eventstream.EventStreamBuffer fed in random-sized
chunks and checks every header and payload.  The signature chain of the
envelopes is recomputed here with hashlib/hmac (aws-wire.md 3.4), so the
signer is checked against an implementation that shares no code with it.

usage: eventstream_botocore.py AWS_TOOL WORKDIR [SEED]
"""
import datetime
import hashlib
import hmac
import json
import random
import struct
import subprocess
import sys

from botocore.eventstream import EventStreamBuffer

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION, SERVICE = "us-east-1", "sagemaker"
SEED_SIG = "4ba7d46fabfdc5148bc12a5bd373011b870be6cfe6aff45f40a8bb8c2819c880"
T0_MS = 1736985580000  # 2025-01-15T23:59:40Z: the chain crosses UTC midnight


def messages(rng):
    msgs = []
    # SageMaker PayloadPart, as the stream driver will send it
    msgs.append(([[":message-type", 7, "event"], [":event-type", 7, "PayloadPart"],
                  ["DataType", 7, "BINARY"], [":content-type", 7, "application/octet-stream"]],
                 bytes(range(16))))
    # every type, with edge values
    msgs.append(([["t", 0, None], ["f", 1, None], ["b", 2, -128], ["b2", 2, 127],
                  ["s", 3, -32768], ["i", 4, 2**31 - 1], ["l", 5, -2**63],
                  ["bytes", 6, "00ff10"], ["str", 7, "héllo wörld"], ["ts", 8, 1736942401123],
                  ["uuid", 9, "0102030405060708090a0b0c0d0e0f10"]], b"{'foo':'bar'}"))
    msgs.append(([], b""))
    msgs.append(([["long-value", 7, "x" * 32767]], b"p"))
    msgs.append(([["n" * 255, 6, "ab" * 100]], b""))
    for i in range(40):
        hs = [[":message-type", 7, "event"], ["seq", 4, i]]
        if rng.random() < 0.5:
            hs.append(["P", 7, "p" * rng.randint(0, 64)])
        size = rng.choice([0, 1, 320, 3200, 32000, 300 * 1024])
        payload = bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
        msgs.append((hs, payload[:size]))
    return msgs


def expected_value(t, v):
    if t == 0:
        return True
    if t == 1:
        return False
    if t in (6, 9):
        return bytes.fromhex(v)
    return v


def parse_all(data, rng):
    buf = EventStreamBuffer()
    out, i = [], 0
    while i < len(data):
        # mostly large pieces (botocore re-scans its buffer on each add),
        # with enough tiny ones to split preludes, headers and CRCs
        n = rng.choice([1, 7, 100]) if rng.random() < 0.2 else rng.choice([4096, 70000])
        buf.add_data(data[i:i + n])
        i += n
        out.extend(buf)  # iterating drains the complete messages
    return out


def check(msg, hs, payload, where):
    want = {name: expected_value(t, v) for name, t, v in hs}
    if msg.headers != want:
        return "%s: headers %r != %r" % (where, list(msg.headers.items())[:4], list(want.items())[:4])
    if msg.payload != payload:
        return "%s: payload of %d bytes differs (want %d)" % (where, len(msg.payload), len(payload))
    return None


def hm(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def chunk_signature(prior, date_ms, payload):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=date_ms)
    amz = t.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    date_hdr = b"\x05:date\x08" + struct.pack(">q", date_ms)
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, "%s/%s/%s/aws4_request" % (day, REGION, SERVICE),
                     prior, hashlib.sha256(date_hdr).hexdigest(),
                     hashlib.sha256(payload).hexdigest()])
    k = hm(("AWS4" + SECRET).encode(), day.encode())
    k = hm(hm(hm(k, REGION.encode()), SERVICE.encode()), b"aws4_request")
    return hm(k, sts.encode())


def main():
    tool, work = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 8)
    msgs = messages(rng)
    spec = {"akid": AKID, "secret": SECRET, "region": REGION, "service": SERVICE,
            "seed": SEED_SIG, "time_ms": T0_MS,
            "messages": [{"headers": hs, "payload_hex": p.hex()} for hs, p in msgs]}
    with open(work + "/spec.json", "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    plain, signed = work + "/plain.bin", work + "/signed.bin"
    r = subprocess.run([tool, "frames", work + "/spec.json", plain, signed],
                       capture_output=True, timeout=120)
    if r.returncode:
        print("FAIL - aws_tool frames exited %d: %s" % (r.returncode, r.stderr.decode()[:400]))
        return 1
    errors = []
    got = parse_all(open(plain, "rb").read(), rng)
    if len(got) != len(msgs):
        errors.append("plain: botocore parsed %d messages, wrote %d" % (len(got), len(msgs)))
    for i, (m, (hs, p)) in enumerate(zip(got, msgs)):
        e = check(m, hs, p, "plain[%d]" % i)
        if e:
            errors.append(e)
    print("%s - botocore parsed %d plain messages" % ("ok  " if not errors else "FAIL", len(got)))

    nerr = len(errors)
    outer = parse_all(open(signed, "rb").read(), rng)
    if len(outer) != len(msgs) + 1:
        errors.append("signed: %d envelopes, want %d" % (len(outer), len(msgs) + 1))
    prior = SEED_SIG
    for i, env in enumerate(outer):
        names = list(env.headers)
        if names != [":date", ":chunk-signature"]:
            errors.append("envelope %d: headers %r" % (i, names))
            break
        date_ms = env.headers[":date"]
        if date_ms != T0_MS + i * 1007:
            errors.append("envelope %d: :date %r" % (i, date_ms))
        sig = chunk_signature(prior, date_ms, env.payload)
        if env.headers[":chunk-signature"] != sig:
            errors.append("envelope %d: signature does not chain" % i)
            break
        prior = sig.hex()
        if i == len(msgs):
            if env.payload != b"" or len(env.payload) + 83 != 83:
                errors.append("final frame is not empty")
            continue
        inner = parse_all(env.payload, rng)
        if len(inner) != 1:
            errors.append("envelope %d: %d inner messages" % (i, len(inner)))
            continue
        e = check(inner[0], *msgs[i], "inner[%d]" % i)
        if e:
            errors.append(e)
    print("%s - botocore parsed %d signed envelopes; chain recomputed with hmac"
          % ("ok  " if len(errors) == nerr else "FAIL", len(outer)))
    for e in errors[:10]:
        print("FAIL - " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
