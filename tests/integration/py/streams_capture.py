#!/usr/bin/python3
"""Parse the request bytes of one stream kneecap sent (captured by the
emulator) with botocore's event-stream parser.

Every outer message must be a signed envelope (:date timestamp,
:chunk-signature of 32 bytes) whose payload is an inner PayloadPart event
of CHUNK_BYTES bytes, except the last, whose payload is empty (the end of
input).  Fed to botocore in uneven pieces, as HTTP/2 DATA frames would be.

usage: streams_capture.py CAPTURE_FILE CHUNK_BYTES
"""
import datetime
import sys

from botocore.eventstream import EventStreamBuffer


def main():
    data = open(sys.argv[1], "rb").read()
    chunk = int(sys.argv[2])
    buf = EventStreamBuffer()
    outers = []
    pos, step = 0, 1
    while pos < len(data):
        buf.add_data(data[pos:pos + step])
        pos += step
        step = step * 3 % 1021 + 1
        outers.extend(list(buf))
    if not outers:
        sys.exit("no messages in the capture")
    for i, m in enumerate(outers):
        h = m.headers
        # botocore hands timestamps back as int milliseconds
        if not isinstance(h.get(":date"), (int, datetime.datetime)):
            sys.exit("message %d: no :date timestamp: %r" % (i, h))
        sig = h.get(":chunk-signature")
        if not isinstance(sig, bytes) or len(sig) != 32:
            sys.exit("message %d: :chunk-signature is not 32 bytes" % i)
        last = i == len(outers) - 1
        if last:
            if m.payload != b"":
                sys.exit("the last message is not the empty end-of-input frame")
            continue
        inner_buf = EventStreamBuffer()
        inner_buf.add_data(m.payload)
        inner = list(inner_buf)
        if len(inner) != 1:
            sys.exit("message %d: payload is not exactly one inner message" % i)
        ih = inner[0].headers
        want = {":message-type": "event", ":event-type": "PayloadPart",
                ":content-type": "application/octet-stream"}
        for k, v in want.items():
            if ih.get(k) != v:
                sys.exit("message %d: inner %s = %r, want %r" % (i, k, ih.get(k), v))
        if len(inner[0].payload) != chunk:
            sys.exit("message %d: %d payload bytes, want %d" % (i, len(inner[0].payload), chunk))
    print("botocore parsed %d signed frames (%d chunks + the end frame)" %
          (len(outers), len(outers) - 1))


main()
