#!/usr/bin/python3
"""echo_server.py - a loopback SageMaker stand-in that leaks credentials back.

  echo_server.py PORTFILE SECRET TOKEN [--max-s S]

Answers POST /endpoints/CASE/invocations (and .../invocations-response-stream)
by echoing a credential, or the request's own headers, in the body and in
response headers, cycling 200, 403 (JSON AccessDeniedException) and 500
(plain text) over the requests of a case.  CASE is WHAT-FORM:
  WHAT  secret | token | headers (the request headers, Authorization and
        X-Amz-Security-Token included) | errtype (an alphanumeric run of the
        token as X-Amzn-ErrorType)
  FORM  raw | urlU | urlL | form (percent-encoded, upper / lower hex, plus
        for space) | b64a0..2 | b64u0..2 (standard / URL-safe base64 of the
        value after 0, 1 or 2 other bytes, inside a larger blob) | head |
        mid | tail (a 20-character piece of the value)
The response-stream path answers 200 with an event stream whose exception
event's message carries the same text.  A pretend leak, for tests: the
values are fake.  Listens on 127.0.0.1 port 0, writes the port to
PORTFILE, exits by itself after --max-s seconds (default 120).
"""
import argparse, base64, binascii, json, os, struct, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("portfile")
ap.add_argument("secret")
ap.add_argument("token")
ap.add_argument("--max-s", type=float, default=120.0)
a = ap.parse_args()

lock = threading.Lock()
counts = {}


def form_of(value, form):
    b = value.encode()
    if form == "raw":
        return value
    if form == "urlU":
        return urllib.parse.quote(value, safe="")
    if form == "urlL":
        return "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in value)
    if form == "form":
        return urllib.parse.quote_plus(value)
    if form.startswith("b64"):
        enc = base64.b64encode if form[3] == "a" else base64.urlsafe_b64encode
        return enc(b"<!"[: int(form[4])] + b + b"!>").decode()
    if form == "head":
        return value[:20]
    if form == "mid":
        return value[len(value) // 2 - 10: len(value) // 2 + 10]
    if form == "tail":
        return value[-20:]
    raise ValueError(form)


def es_header_str(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


def es_message(headers, payload):
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    pc = struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    msg = prelude + pc + headers + payload
    return msg + struct.pack(">I", binascii.crc32(msg) & 0xFFFFFFFF)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n:
            self.rfile.read(n)
        parts = self.path.split("/")
        case = parts[2] if len(parts) > 3 else "token-raw"
        what, _, form = case.partition("-")
        with lock:
            k = counts.get(case, 0)
            counts[case] = k + 1
        errtype = None
        if what == "headers":
            text = "\n".join("%s: %s" % (h, v) for h, v in self.headers.items())
        elif what == "errtype":
            run = max((w for w in __import__("re").findall(r"[A-Za-z0-9]+", a.token)), key=len)
            text, errtype = "error type echoed", run[:60]
        else:
            text = form_of(a.secret if what == "secret" else a.token, form)
        echo = text.replace("\n", " ")[:4000]
        status = (200, 403, 500)[k % 3]
        hdrs = [("X-Echo", echo), ("X-Amz-Security-Token", a.token),
                ("X-Amzn-RequestId", "req-%d" % k)]
        if self.path.endswith("invocations-response-stream"):
            body = es_message(es_header_str(":message-type", "exception") +
                              es_header_str(":exception-type", errtype or "ModelStreamError") +
                              es_header_str(":content-type", "application/json"),
                              json.dumps({"Message": "stream echo: " + text,
                                          "ErrorCode": "echo"}).encode())
            status = 200
            hdrs.append(("Content-Type", "application/vnd.amazon.eventstream"))
        elif status == 200:
            body = ("echo: " + text).encode()
            hdrs.append(("Content-Type", "text/plain"))
        elif status == 403:
            body = json.dumps({"message": "echo: " + text}).encode()
            hdrs.append(("Content-Type", "application/json"))
            hdrs.append(("X-Amzn-ErrorType", errtype or "AccessDeniedException:http://internal.amazon.com/"))
        else:
            body = ("echo: " + text).encode()
            hdrs.append(("Content-Type", "text/plain"))
            if errtype:
                hdrs.append(("X-Amzn-ErrorType", errtype))
        out = "HTTP/1.1 %d Echo\r\n" % status
        for h, v in hdrs:
            out += "%s: %s\r\n" % (h, v)
        out += "Content-Length: %d\r\n\r\n" % len(body)
        self.wfile.write(out.encode() + body)

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def log_message(self, *args):
        pass


threading.Timer(a.max_s, lambda: os._exit(0)).start()
ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = a.portfile + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, a.portfile)
srv.serve_forever()
