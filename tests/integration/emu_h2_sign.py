#!/usr/bin/python3
"""emu_h2_sign.py - botocore's SigV4 signer for an InvokeEndpoint request
that curl then sends over HTTP/2 (botocore itself speaks HTTP/1.1 only).

  emu_h2_sign.py URL AKID SECRET BODYFILE

Prints the signed headers, one "Name: value" a line, for curl -H (host
becomes HTTP/2's :authority).  The credentials are test values.
"""
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    url, akid, secret, body_file = sys.argv[1:5]
    body = open(body_file, "rb").read()
    req = AWSRequest(method="POST", url=url, data=body,
                     headers={"Content-Type": "image/jpeg"})
    SigV4Auth(Credentials(akid, secret), "sagemaker", "us-east-1").add_auth(req)
    for k, v in req.headers.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
