#!/usr/bin/python3
"""sm_headers_server.py - a loopback SageMaker runtime stand-in that records
each request's headers and checks its SigV4 signature with botocore.

  sm_headers_server.py PORTFILE OUTFILE AKID SECRET REGION [--max-s S]

Answers POST /endpoints/NAME/invocations and .../invocations-response-stream
(200; the stream path with one PayloadPart event).  For every request it
recomputes the signature with botocore's SigV4Auth over the headers the
request says it signed (SignedHeaders), at the request's own X-Amz-Date,
and appends one JSON line to OUTFILE: {"path", "headers" (lower-case names),
"signed" (list), "sig_ok"}.  Listens on 127.0.0.1 port 0, writes the port to
PORTFILE, exits by itself after --max-s seconds (default 60).
"""
import argparse, binascii, datetime, json, re, struct, threading, types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ap = argparse.ArgumentParser()
for a in ("portfile", "outfile", "akid", "secret", "region"):
    ap.add_argument(a)
ap.add_argument("--max-s", type=float, default=60.0)
a = ap.parse_args()
lock = threading.Lock()


class Frozen(datetime.datetime):
    at = None

    @classmethod
    def utcnow(cls):
        return cls.at

    @classmethod
    def now(cls, tz=None):
        return cls.at if tz is None else cls.at.replace(tzinfo=tz)


botocore.auth.datetime = types.SimpleNamespace(datetime=Frozen)


def verify(method, path, headers, body):
    """botocore's signature over the signed headers, compared with the request's."""
    auth = headers.get("authorization", "")
    m = re.search(r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})", auth)
    if not m:
        return [], False
    signed = m.group(1).split(";")
    Frozen.at = datetime.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    req = AWSRequest(method=method, url="http://" + headers["host"] + path, data=body)
    for name in signed:
        if name not in ("x-amz-date", "x-amz-security-token"):
            req.headers[name] = headers[name]
    creds = Credentials(a.akid, a.secret, headers.get("x-amz-security-token"))
    botocore.auth.SigV4Auth(creds, "sagemaker", a.region).add_auth(req)
    theirs = re.search(r"Signature=([0-9a-f]{64})", req.headers["Authorization"]).group(1)
    return signed, theirs == m.group(2)


def es_message(headers, payload):
    hb = b""
    for k, v in headers:
        kb, vb = k.encode(), v.encode()
        hb += bytes([len(kb)]) + kb + b"\x07" + struct.pack(">H", len(vb)) + vb
    total = 16 + len(hb) + len(payload)
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    msg = prelude + hb + payload
    return msg + struct.pack(">I", binascii.crc32(msg) & 0xFFFFFFFF)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        try:
            signed, ok = verify("POST", self.path, hdrs, body)
        except Exception as e:  # a malformed request is a failed check, not a crash
            signed, ok = [], False
            hdrs["x-verify-error"] = repr(e)
        with lock, open(a.outfile, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": hdrs, "signed": signed,
                                "sig_ok": ok}) + "\n")
        if self.path.endswith("/invocations-response-stream"):
            out = es_message([(":message-type", "event"), (":event-type", "PayloadPart"),
                              (":content-type", "application/octet-stream")], b"ok")
            ctype = "application/vnd.amazon.eventstream"
        else:
            out, ctype = b"{}", "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(a.portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(a.portfile + ".tmp", a.portfile)
threading.Timer(a.max_s, srv.shutdown).start()
srv.serve_forever()
