#!/usr/bin/python3
"""emu_boto.py - botocore's sagemaker-runtime client against the emulator.

  emu_boto.py PORT AKID SECRET CASE BODYFILE

CASE: ok (signed with AKID/SECRET), tamper (body changed after signing),
wrong-secret, model-error (a non-JPEG body).  Prints "200 <variant>" or
"<status> <Error.Code>" as botocore parsed them.  Loopback only; the
credentials are test values, never real ones.
"""
import sys

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError


def main():
    port, akid, secret, case, body_file = sys.argv[1:6]
    if case == "wrong-secret":
        secret = secret + "x"
    session = botocore.session.get_session()
    client = session.create_client(
        "sagemaker-runtime", region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=akid, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10))
    body = open(body_file, "rb").read()
    if case == "tamper":
        def flip(request, **kwargs):
            b = bytearray(request.body)
            b[-3] ^= 0xFF
            request.body = bytes(b)
        client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", flip)
    try:
        r = client.invoke_endpoint(EndpointName="tagger", Body=body,
                                   ContentType="image/jpeg")
        r["Body"].read()
        print(200, r["ResponseMetadata"]["HTTPHeaders"].get(
            "x-amzn-invoked-production-variant"), r["ResponseMetadata"]["RequestId"])
    except ClientError as e:
        print(e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"],
              e.response.get("OriginalStatusCode", "-"))


if __name__ == "__main__":
    main()
