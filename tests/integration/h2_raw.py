#!/usr/bin/python3
"""h2_raw.py - hostile HTTP/2 clients for the emulator's h2c port, written
frame by frame (RFC 9113 framing, RFC 7541 literal header fields) because
no HTTP/2 library lets a client misbehave on purpose.

  h2_raw.py PORT CASE

CASE:
  garbage     random bytes instead of the connection preface
  http1       an HTTP/1.1 request on the h2c port
  bigheaders  a header block of ~96 KiB (HEADERS + CONTINUATION frames)
  resetmid    stream 1 sends its whole body then RST_STREAM while the model
              holds it; stream 3 sends half its body then RST_STREAM;
              stream 5 asks GET /ping on the same connection
  cancelflood 12 POSTs on streams 1..23, each cancelled (RST_STREAM CANCEL)
              right after its body, then one more POST on stream 25:
              prints "answered" if its HEADERS come within 1.5 s (the
              queue was full: refused at once), else "open"
  settings    prints the server's SETTINGS_MAX_CONCURRENT_STREAMS ("none"
              when it sends none)
  silent      connects and sends nothing, not even the preface
  idle        sends the preface and SETTINGS, then nothing
  stalled     POSTs headers announcing 10 bytes that never come, pinging
              every 0.3 s (the connection is not idle): "rst 1" when reset
  dead        POSTs on streams 1 and 3 at once (for --fault-close-after 1):
              prints "rst 3 CODE" when stream 3 is reset, else the verdict
  frames      POSTs a small body on stream 1 and prints the frames the
              server sends on it: "HEADERS DATA... END" or "... RST N"
Prints one line: "closed" (the server closed the connection), "rst N"
(the server reset stream N), "goaway", "alive" (stream 5's answer came),
"open" (nothing happened within the bound).  Loopback only, 5 s bound.
"""
import os
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hint(n):
    # RFC 7541 5.1, 7-bit prefix, H = 0
    if n < 127:
        return bytes([n])
    out = [127]
    n -= 127
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def lit(name, value):
    # literal header field without indexing, new name (RFC 7541 6.2.2)
    return b"\x00" + hint(len(name)) + name + hint(len(value)) + value


def request_block(method, path, extra=()):
    b = lit(b":method", method) + lit(b":scheme", b"http") + \
        lit(b":path", path) + lit(b":authority", b"127.0.0.1")
    for n, v in extra:
        b += lit(n, v)
    return b


def read_frames(s, deadline, want):
    """Reads frames until want(ftype, flags, sid) says stop or the peer
    closes; returns the verdict line."""
    buf = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return "closed"
        if not d:
            return "closed"
        buf += d
        while len(buf) >= 9:
            ln = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + ln:
                break
            ftype, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            buf = buf[9 + ln:]
            v = want(ftype, flags, sid)
            if v:
                return v
    return "open"


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    deadline = time.monotonic() + 5
    if case == "garbage":
        s.sendall(os.urandom(4096))
        print(read_frames(s, deadline, lambda t, f, i: "goaway" if t == 7 else None))
        return
    if case == "http1":
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        print(read_frames(s, deadline, lambda t, f, i: "goaway" if t == 7 else None))
        return
    if case == "silent":
        print(read_frames(s, deadline, lambda t, f, i: "goaway" if t == 7 else None))
        return
    s.sendall(PREFACE + frame(4, 0, 0))
    if case == "idle":
        print(read_frames(s, deadline, lambda t, f, i: "goaway" if t == 7 else None))
        return
    if case == "stalled":
        s.sendall(frame(1, 4, 1, request_block(b"POST", b"/endpoints/a/invocations",
                                               [(b"content-length", b"10")])))
        while time.monotonic() < deadline:
            s.sendall(frame(6, 0, 0, b"12345678"))  # PING
            v = read_frames(s, min(deadline, time.monotonic() + 0.3),
                            lambda t, f, i: "rst 1" if t == 3 and i == 1 else
                            ("goaway" if t == 7 else None))
            if v != "open":
                print(v)
                return
        print("open")
        return
    if case == "bigheaders":
        big = b"x" * 16000
        first = request_block(b"GET", b"/ping", [(b"x-big-0", big)])
        s.sendall(frame(1, 0, 1, first))
        for k in range(1, 6):
            flags = 4 if k == 5 else 0
            s.sendall(frame(9, flags, 1, lit(b"x-big-%d" % k, big)))

        def want(t, f, i):
            if t == 3 and i == 1:
                return "rst 1"
            if t == 7:
                return "goaway"
            if t == 1 and i == 1:
                return "answered"
            return None
        print(read_frames(s, deadline, want))
        return
    if case == "resetmid":
        body = b"\xff\xd8" + b"\x00" * 9998
        cl = [(b"content-length", b"10000")]
        s.sendall(frame(1, 4, 1, request_block(b"POST", b"/endpoints/tagger/invocations", cl)))
        s.sendall(frame(0, 1, 1, body))
        s.sendall(frame(1, 4, 3, request_block(b"POST", b"/endpoints/tagger/invocations", cl)))
        s.sendall(frame(0, 0, 3, body[:5000]))
        time.sleep(0.2)
        s.sendall(frame(3, 0, 1, struct.pack(">I", 8)))  # CANCEL
        s.sendall(frame(3, 0, 3, struct.pack(">I", 8)))
        s.sendall(frame(1, 5, 5, request_block(b"GET", b"/ping")))

        def want(t, f, i):
            if t == 1 and i == 5:
                return "alive"
            if t == 7:
                return "goaway"
            return None
        print(read_frames(s, deadline, want))
        return
    if case == "settings":
        buf = b""
        while time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while len(buf) >= 9:
                ln = int.from_bytes(buf[0:3], "big")
                if len(buf) < 9 + ln:
                    break
                ftype, flags, pl = buf[3], buf[4], buf[9:9 + ln]
                buf = buf[9 + ln:]
                if ftype == 4 and not flags & 1:
                    for k in range(0, len(pl) - 5, 6):
                        if int.from_bytes(pl[k:k + 2], "big") == 3:
                            print(int.from_bytes(pl[k + 2:k + 6], "big"))
                            return
                    print("none")
                    return
        print("closed")
        return
    if case == "dead":
        inv = b"/endpoints/a/invocations"
        cl = [(b"content-length", b"1")]
        s.sendall(frame(1, 4, 1, request_block(b"POST", inv, cl)) + frame(0, 1, 1, b"x") +
                  frame(1, 4, 3, request_block(b"POST", inv, cl)) + frame(0, 1, 3, b"x"))
        buf = b""
        while time.monotonic() < deadline:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            while len(buf) >= 9:
                ln = int.from_bytes(buf[0:3], "big")
                if len(buf) < 9 + ln:
                    break
                ftype, pl = buf[3], buf[9:9 + ln]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                buf = buf[9 + ln:]
                if ftype == 3 and sid == 3:
                    print("rst 3 %d" % int.from_bytes(pl[0:4], "big"))
                    return
        print("closed")
        return
    if case == "cancelflood":
        inv = b"/endpoints/a/invocations"
        cl = [(b"content-length", b"1")]
        out = b""
        for sid in range(1, 25, 2):
            out += frame(1, 4, sid, request_block(b"POST", inv, cl))
            out += frame(0, 1, sid, b"x") + frame(3, 0, sid, struct.pack(">I", 8))
        s.sendall(out)
        time.sleep(0.2)
        s.sendall(frame(1, 4, 25, request_block(b"POST", inv, cl)) + frame(0, 1, 25, b"x"))
        deadline = time.monotonic() + 1.5

        def want(t, f, i):
            if t == 1 and i == 25:
                return "answered"
            if t == 7:
                return "goaway"
            return None
        print(read_frames(s, deadline, want))
        return
    if case == "frames":
        s.sendall(frame(1, 4, 1, request_block(b"POST", b"/endpoints/a/invocations",
                                               [(b"content-length", b"4")])))
        s.sendall(frame(0, 1, 1, b"\xff\xd8\xff\xd9"))
        seen = []
        names = {0: "DATA", 1: "HEADERS", 3: "RST"}

        def want(t, f, i):
            if i != 1 or t not in names:
                return None
            seen.append(names[t])
            if t == 3:
                return "rst"
            if f & 1:
                seen.append("END")
                return "end"
            return None
        read_frames(s, deadline, want)
        print(" ".join(seen))
        return
    sys.exit("unknown case " + case)


if __name__ == "__main__":
    main()
