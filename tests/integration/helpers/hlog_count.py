#!/usr/bin/python3
"""hlog_count.py FILE - total sample count per tag in an HdrHistogram .hlog.

An independent decoder (not kneecap's reader) for the integration tests:
base64 -> 8-byte compressed header -> zlib -> V2 encoding (40-byte header,
then counts as zig-zag LEB128, negative numbers meaning runs of zeros).
Prints "TAG COUNT" per tag and "total COUNT".  Bounded: at most 100000
lines and 64 MiB of decoded counts per interval.
"""
import base64, struct, sys, zlib

def counts_total(b64):
    raw = base64.b64decode(b64)
    cookie, length = struct.unpack(">iI", raw[:8])
    if cookie not in (0x1c849304, 0x1c849314):
        raise ValueError("not a compressed V2 histogram")
    body = zlib.decompressobj().decompress(raw[8:8 + length], 64 << 20)
    plen = struct.unpack(">I", body[4:8])[0]
    payload = body[40:40 + plen]
    total, i, n = 0, 0, len(payload)
    while i < n:
        shift, v = 0, 0
        while True:
            byte = payload[i]; i += 1
            v |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80 or shift >= 63:
                if shift >= 63 and byte >= 0x80:
                    v |= payload[i] << 63; i += 1
                break
        v = (v >> 1) ^ -(v & 1)  # zig-zag
        if v > 0:
            total += v
    return total

tags, total = {}, 0
with open(sys.argv[1]) as f:
    for lineno, line in enumerate(f):
        if lineno > 100000:
            sys.exit("too many lines")
        line = line.strip()
        if not line or line.startswith("#") or line.startswith('"'):
            continue
        tag = "-"
        if line.startswith("Tag="):
            tag, line = line[4:].split(",", 1)
        parts = line.split(",")
        c = counts_total(parts[3])
        tags[tag] = tags.get(tag, 0) + c
        total += c
for t, c in sorted(tags.items()):
    print(t, c)
print("total", total)
