#!/usr/bin/python3
"""cw_sign_check.py - a one-request CloudWatch stand-in that checks the
request's SigV4 with botocore's own signer.

  cw_sign_check.py PORTFILE AKID SECRET [TOKEN]

Listens on 127.0.0.1 port 0 (writes the port to PORTFILE), takes POSTs
until killed or 10 of them, and for each rebuilds the request as botocore
would sign it (same method, URL, body, Host, Content-Type, X-Amz-Date),
signs it with botocore.auth.SigV4Auth (service "monitoring", us-east-1) and
compares Authorization.  It answers a one-datapoint GetMetricDataResponse
when they match, 403 SignatureDoesNotMatch when they do not, and prints
"match" or "mismatch" per request on stdout.
"""
import datetime
import http.server
import sys
import types

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OK = ("<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
      "<GetMetricDataResult><MetricDataResults><member><Id>s0</Id><Label>Invocations</Label>"
      "<Timestamps><member>2026-12-07T03:00:00Z</member></Timestamps>"
      "<Values><member>42.0</member></Values><StatusCode>Complete</StatusCode></member>"
      "</MetricDataResults></GetMetricDataResult></GetMetricDataResponse>")
BAD = ("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
       "<Message>botocore computes another signature</Message></Error></ErrorResponse>")


class Frozen(datetime.datetime):
    frozen = None

    @classmethod
    def utcnow(cls):
        return cls.frozen


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        host = self.headers["Host"]
        req = AWSRequest(method="POST", url="http://%s%s" % (host, self.path), data=body,
                         headers={"Content-Type": self.headers["Content-Type"]})
        when = datetime.datetime.strptime(self.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        Frozen.frozen = when
        botocore.auth.datetime = types.SimpleNamespace(datetime=Frozen)
        creds = Credentials(*sys.argv[2:5]) if len(sys.argv) > 4 else Credentials(*sys.argv[2:4])
        SigV4Auth(creds, "monitoring", "us-east-1").add_auth(req)
        want = req.headers["Authorization"]
        got = self.headers.get("Authorization", "")
        ok = got == want
        sig = want
        print("match" if ok else "mismatch: " + got + " vs " + sig, flush=True)
        out = (OK if ok else BAD).encode()
        self.send_response(200 if ok else 403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_port))
srv.timeout = 20
for _ in range(10):
    srv.handle_request()
