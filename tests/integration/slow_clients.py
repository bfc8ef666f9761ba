#!/usr/bin/python3
"""slow_clients.py - a slowloris / idle-connection attacker and a /ping
prober for the emulator's slow-client tests.  Loopback only, bounded.

  slow_clients.py attack PORT SRC SLOW IDLE SECONDS [KEPT]
      From source address SRC, hold SLOW connections that trickle a request
      header one byte per second (never finishing it) and IDLE connections
      that send nothing; every second reopen the ones the server closed (as
      slowloris does).  KEPT more send one whole GET /ping, then trickle
      the next request line a byte a second.  Prints a JSON summary: for
      each connection the server closed, how long it had lived.
  slow_clients.py probe PORT SRC EVERY SECONDS
      GET /ping on a new connection every EVERY seconds, each with a 1 s
      limit.  Prints JSON: probes, failures, max latency.
  slow_clients.py one PORT MODE LIMIT
      One slow client; prints the seconds from when its clock started until
      the server closed the connection, or "open" after LIMIT seconds.
      head: trickles its headers (clock: connect); idle: sends nothing;
      keepalive: one whole GET /ping, then trickles the next request's
      headers (clock: its request line); keepline: one whole GET /ping,
      then the next request line byte by byte (clock: its first byte);
      keepidle: one whole GET /ping, then nothing (clock: the answer); body: headers with Content-Length
      1000 and 10 bytes of body, then nothing (clock: the last byte).
  slow_clients.py lowrate PORT EVERY COUNT
      A real client at a low rate: COUNT GET /ping on one kept-alive
      connection, EVERY seconds apart.  Prints how many were answered on
      it ("3/3"), stopping at the first that was not.
  slow_clients.py chunked PORT PATH MIB MODE
      POST MIB MiB (0: without end, 20 s at most) as a chunked body.  MODE
      all: send everything, then read the answer (as http.client does);
      read: read while sending.  Prints "STATUS END" (END: eof | reset |
      open) or "none END" when no answer came.
"""
import errno
import json
import resource
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"
# An endless header: the request line, then one header whose value never ends.
TRICKLE = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
PING = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Conn:
    def __init__(self, kind):
        self.kind = kind
        self.sock = None
        self.opened = 0.0
        self.sent = 0
        self.answered = False


def attack(port, src, n_slow, n_idle, seconds, n_kept=0):
    raise_nofile()
    sel = selectors.DefaultSelector()
    # Kept-alive tricklers first: they are what the test is about.
    conns = [Conn("kept") for _ in range(n_kept)]
    # Interleaved, so both kinds hold connections when the server caps them.
    for i in range(max(n_slow, n_idle)):
        if i < n_slow:
            conns.append(Conn("slow"))
        if i < n_idle:
            conns.append(Conn("idle"))
    lifetimes = {"slow": [], "idle": [], "kept": []}
    open_errors = 0

    def open_conn(c):
        nonlocal open_errors
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            err = s.connect_ex((HOST, port))
        except OSError:
            s.close()
            open_errors += 1
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            open_errors += 1
            return
        c.sock, c.opened, c.sent, c.answered = s, time.monotonic(), 0, False
        sel.register(s, selectors.EVENT_READ, c)

    def closed(c, now):
        sel.unregister(c.sock)
        c.sock.close()
        c.sock = None
        lifetimes[c.kind].append(round(now - c.opened, 3))

    t0 = time.monotonic()
    end = t0 + seconds
    next_tick = t0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_tick:
            next_tick += 1.0
            for c in conns:
                if c.sock is None:
                    open_conn(c)
                elif c.kind == "kept" and c.sent == 0:
                    try:
                        c.sent = c.sock.send(PING)
                    except OSError:
                        closed(c, now)
                elif c.kind == "kept" and c.answered and c.sent < len(PING) + len(TRICKLE):
                    try:
                        i = c.sent - len(PING)
                        c.sent += c.sock.send(TRICKLE[i:i + 1])
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed(c, now)
                elif c.kind == "slow" and c.sent < len(TRICKLE):
                    try:
                        n = c.sock.send(TRICKLE[c.sent:c.sent + 1])
                        c.sent += n
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed(c, now)
        timeout = max(0.0, min(next_tick, end) - time.monotonic())
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                data = c.sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed(c, time.monotonic())
            elif c.kind == "kept":
                c.answered = True
    now = time.monotonic()
    alive = {"slow": [], "idle": [], "kept": []}
    for c in conns:
        if c.sock is not None:
            alive[c.kind].append(round(now - c.opened, 3))
            c.sock.close()
    print(json.dumps({"lifetimes": lifetimes, "alive_ages": alive,
                      "open_errors": open_errors}))


def probe(port, src, every, seconds):
    results = []
    t0 = time.monotonic()
    k = 0
    while True:
        due = t0 + k * every
        if due > t0 + seconds:
            break
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        k += 1
        start = time.monotonic()
        ok = False
        try:
            with socket.create_connection((HOST, port), timeout=1.0,
                                          source_address=(src, 0)) as s:
                s.settimeout(max(0.001, 1.0 - (time.monotonic() - start)))
                s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                buf = b""
                while b"\r\n\r\n" not in buf:
                    s.settimeout(max(0.001, 1.0 - (time.monotonic() - start)))
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                ok = buf.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        lat = time.monotonic() - start
        results.append((round(start - t0, 3), round(lat, 4), ok and lat < 1.0))
    fails = [r for r in results if not r[2]]
    print(json.dumps({"probes": len(results), "failures": len(fails),
                      "max_latency_s": max(r[1] for r in results) if results else None,
                      "failed_at": [r[0] for r in fails][:20]}))


def one(port, mode, limit):
    s = socket.create_connection((HOST, port), timeout=5)
    t0 = time.monotonic()
    if mode in ("keepalive", "keepline", "keepidle"):
        s.sendall(PING)
        buf = b""
        while b"{}" not in buf:
            buf += s.recv(4096)
        if mode == "keepalive":
            s.sendall(b"GET /ping HTTP/1.1\r\n")
        t0 = time.monotonic()
    elif mode == "body":
        s.sendall(b"POST /endpoints/x/invocations HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1000\r\n\r\n" + b"\xff" * 10)
        t0 = time.monotonic()
    trickle = b"Host: x\r\nX-Slow: " + b"a" * 4096 if mode == "keepalive" else TRICKLE
    sent = 0
    s.settimeout(0.1)
    next_byte = t0
    while time.monotonic() - t0 < limit:
        # head/keepalive: a byte every 0.1 s; keepline: a byte a second.
        if mode in ("head", "keepalive", "keepline") and time.monotonic() >= next_byte:
            next_byte += 1.0 if mode == "keepline" else 0.0
            try:
                s.send(trickle[sent:sent + 1])
                sent += 1
            except OSError:
                break
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            continue
        except OSError:
            break
    else:
        print("open")
        return
    print(round(time.monotonic() - t0, 2))


def lowrate(port, every, count):
    s = socket.create_connection((HOST, port), timeout=2)
    answered = 0
    t0 = time.monotonic()
    for k in range(count):
        pause = t0 + k * every - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            s.sendall(PING)
            buf = b""
            while b"{}" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            break
        if not (buf.startswith(b"HTTP/1.1 200") and b"{}" in buf):
            break
        answered += 1
    s.close()
    print(f"{answered}/{count}")


def chunked(port, path, mib, mode):
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    piece = b"10000\r\n" + b"\xab" * 65536 + b"\r\n"
    total = mib * 16 if mib > 0 else None
    answer, end = b"", "open"
    t0 = time.monotonic()
    n = 0
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    out = memoryview(piece)
    done_sending = False
    while time.monotonic() - t0 < 20:
        events = sel.select(0.5)
        if not events:
            continue
        ev = events[0][1]
        if ev & selectors.EVENT_READ and (mode == "read" or done_sending):
            try:
                data = s.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                end = "reset"
                break
            if data == b"":
                end = "eof"
                break
            if data:
                answer += data
        if ev & selectors.EVENT_WRITE and not done_sending:
            try:
                k = s.send(out)
            except BlockingIOError:
                k = 0
            except OSError:
                done_sending = True  # the server stopped reading: read what it said
                sel.modify(s, selectors.EVENT_READ)
                continue
            out = out[k:]
            if not len(out):
                n += 1
                if total is not None and n >= total:
                    s.send(b"0\r\n\r\n")
                    done_sending = True
                    sel.modify(s, selectors.EVENT_READ)
                else:
                    out = memoryview(piece)
        elif done_sending and not ev & selectors.EVENT_READ:
            continue
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "none"
    print(status, end)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "attack" and len(a) in (5, 6):
        attack(int(a[0]), a[1], int(a[2]), int(a[3]), float(a[4]),
               int(a[5]) if len(a) == 6 else 0)
    elif cmd == "probe" and len(a) == 4:
        probe(int(a[0]), a[1], float(a[2]), float(a[3]))
    elif cmd == "one" and len(a) == 3:
        one(int(a[0]), a[1], float(a[2]))
    elif cmd == "lowrate" and len(a) == 3:
        lowrate(int(a[0]), float(a[1]), int(a[2]))
    elif cmd == "chunked" and len(a) == 4:
        chunked(int(a[0]), a[1], int(a[2]), a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
