#!/usr/bin/python3
"""respstream_botocore.py - botocore's side of the response-stream checks
against `kneecap serve` on 127.0.0.1.

  respstream_botocore.py PORT AKID SECRET PARTS  signed requests (botocore's
      SigV4Auth) to /invocations and /invocations-response-stream with the
      same body; botocore's EventStreamBuffer must find PARTS PayloadPart
      events whose bytes, concatenated, are the /invocations answer.
  respstream_botocore.py PORT - - PARTS --fault  unsigned requests to an
      emulator with fault_stream_error 1: PARTS/2 PayloadParts, then a
      ModelStreamError exception with ErrorCode StreamBroken.

Exits 0 when every check holds; prints what it saw.
"""
import http.client
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

# A body the emulator's model accepts with cpu_decode = off (JPEG SOI marker).
BODY = b"\xff\xd8\xff\xe0kneecap response-stream cross-check"


def post(port, path, headers, creds):
    url = "http://127.0.0.1:%d%s" % (port, path)
    req = AWSRequest(method="POST", url=url, data=BODY, headers=headers)
    if creds:
        SigV4Auth(creds, "sagemaker", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("POST", path, body=BODY, headers=dict(req.headers.items()))
    resp = conn.getresponse()
    data = resp.read()
    out = (resp.status, resp.getheader("Content-Type"),
           resp.getheader("x-Amzn-Invoked-Production-Variant"), data)
    conn.close()
    return out


def messages(data):
    buf = EventStreamBuffer()
    buf.add_data(data)
    return list(buf)


def main():
    port, akid, secret, parts = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    fault = "--fault" in sys.argv
    creds = None if akid == "-" else Credentials(akid, secret)
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + what)
        ok = ok and cond

    st, ctype, variant, data = post(port, "/endpoints/my-ep/invocations-response-stream",
                                    {"Content-Type": "application/octet-stream",
                                     "X-Amzn-SageMaker-Accept": "application/json"}, creds)
    check(st == 200, "response stream: status %d" % st)
    check(ctype == "application/vnd.amazon.eventstream", "content type %s" % ctype)
    check(variant == "AllTraffic", "x-Amzn-Invoked-Production-Variant %s" % variant)
    msgs = messages(data)
    kinds = [(m.headers.get(":message-type"), m.headers.get(":event-type"),
              m.headers.get(":exception-type")) for m in msgs]
    print("messages:", kinds)
    if not fault:
        check(len(msgs) == parts and all(k == ("event", "PayloadPart", None) for k in kinds),
              "%d PayloadPart events" % parts)
        check(all(m.headers.get(":content-type") == "application/octet-stream" for m in msgs),
              "PayloadParts are application/octet-stream")
        joined = b"".join(m.payload for m in msgs)
        st2, _, _, whole = post(port, "/endpoints/my-ep/invocations",
                                {"Content-Type": "application/octet-stream",
                                 "Accept": "application/json"}, creds)
        check(st2 == 200 and joined == whole, "parts concatenate to the /invocations answer")
        try:
            doc = json.loads(joined)
            check(len(doc["predictions"]) == 5, "the joined bytes are the model's JSON")
        except ValueError:
            check(False, "the joined bytes are JSON")
    else:
        want = [("event", "PayloadPart", None)] * (parts // 2) + \
            [("exception", None, "ModelStreamError")]
        check(kinds == want, "%d PayloadParts then ModelStreamError" % (parts // 2))
        if msgs:
            body = json.loads(msgs[-1].payload)
            check(body.get("ErrorCode") == "StreamBroken" and body.get("Message"),
                  "exception payload: %s" % body)
            check(msgs[-1].headers.get(":content-type") == "application/json",
                  "exception is application/json")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
