#!/usr/bin/python3
"""h2_server.py - a minimal h2c (prior knowledge) server for kneecap's tests,
speaking raw HTTP/2 frames (RFC 9113) so it can misbehave on purpose.

  h2_server.py PORTFILE goaway --every N
      answers every request 200 (an empty body); on each connection the
      (N+1)-th request is not answered: the server sends GOAWAY whose last
      stream id is the N-th request's, then closes the connection 100 ms
      later.  The unanswered stream (and any later one) is refused.
      --max-streams M announces SETTINGS_MAX_CONCURRENT_STREAMS M and
      --delay-ms D waits D ms before each answer, so a client queues
      requests behind the limit and has them refused by the GOAWAY.
  h2_server.py PORTFILE hang
      completes the HTTP/2 handshake, then never answers a request.
  h2_server.py PORTFILE stall --every N
      answers the first N requests on each connection, then stops reading
      that connection (a peer that is stuck).
  h2_server.py PORTFILE badlen
      answers every request 200 with content-length 10 and a 3-byte body
      (a malformed response: RFC 9113 8.1.1), so the client resets the stream.
  h2_server.py PORTFILE badconn
      answers every request with a DATA frame on stream 0 (a connection
      error: RFC 9113 6.1), so the client ends the connection with GOAWAY.

Listens on 127.0.0.1 port 0 and writes the port to PORTFILE.  Prints the
number of GOAWAY frames sent to stdout at exit.  Exits by itself after
--max-s seconds (default 60) so a failed test never leaves it behind.
"""
import argparse, os, signal, socket, struct, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("portfile")
ap.add_argument("mode", choices=["goaway", "hang", "stall", "badlen", "badconn"])
ap.add_argument("--every", type=int, default=100)
ap.add_argument("--max-s", type=float, default=60.0)
ap.add_argument("--max-streams", type=int, default=0)
ap.add_argument("--delay-ms", type=float, default=0.0)
a = ap.parse_args()

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
lock = threading.Lock()
goaways = 0


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid & 0x7FFFFFFF) + payload


def read_exact(c, n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk:
            raise ConnectionError
        b += chunk
    return b


def serve(c):
    global goaways
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    answered = 0
    try:
        if read_exact(c, len(PREFACE)) != PREFACE:
            return
        # SETTINGS_MAX_CONCURRENT_STREAMS is setting 3
        c.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 3, a.max_streams)
                        if a.max_streams else b""))
        while True:
            hdr = read_exact(c, 9)
            ln = int.from_bytes(hdr[:3], "big")
            ftype, flags = hdr[3], hdr[4]
            sid = int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
            payload = read_exact(c, ln) if ln else b""
            if ftype == SETTINGS and not flags & ACK:
                c.sendall(frame(SETTINGS, ACK, 0))
            elif ftype == PING and not flags & ACK:
                c.sendall(frame(PING, ACK, 0, payload))
            elif ftype in (HEADERS, DATA) and flags & END_STREAM and a.mode == "badlen":
                # :status 200 (static 8), content-length (static 28, literal) "10"
                c.sendall(frame(HEADERS, END_HEADERS, sid, b"\x88\x0f\x0d\x0210") +
                          frame(DATA, END_STREAM, sid, b"abc"))
            elif ftype in (HEADERS, DATA) and flags & END_STREAM and a.mode == "badconn":
                c.sendall(frame(DATA, 0, 0, b"x"))
            elif ftype in (HEADERS, DATA) and flags & END_STREAM and a.mode == "stall":
                if answered == a.every:
                    time.sleep(a.max_s)  # stuck: neither reads nor answers
                    return
                c.sendall(frame(HEADERS, END_HEADERS | END_STREAM, sid, b"\x88"))
                answered += 1
            elif ftype in (HEADERS, DATA) and flags & END_STREAM and a.mode == "goaway":
                if answered == a.every:
                    last = sid - 2  # the previous request (client ids are odd, rising)
                    c.sendall(frame(GOAWAY, 0, 0, struct.pack(">II", last, 0)))
                    with lock:
                        goaways += 1
                    time.sleep(0.1)
                    return
                if a.delay_ms:
                    time.sleep(a.delay_ms / 1000)
                # :status 200 is entry 8 of the HPACK static table
                c.sendall(frame(HEADERS, END_HEADERS | END_STREAM, sid, b"\x88"))
                answered += 1
    except (ConnectionError, OSError):
        pass
    finally:
        c.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
srv.settimeout(0.2)
tmp = a.portfile + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(tmp, a.portfile)
end = time.monotonic() + a.max_s


def stop(*_):
    global end
    end = 0


signal.signal(signal.SIGTERM, stop)
held = []
while time.monotonic() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    if len(held) < 1000:
        held.append(c)
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    else:
        c.close()
print(goaways)
sys.stdout.flush()
