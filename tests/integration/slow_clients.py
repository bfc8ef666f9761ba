#!/usr/bin/python3
"""slow_clients.py - a slowloris / idle-connection attacker and a /ping
prober for the emulator's slow-client tests.  Loopback only, bounded.

  slow_clients.py attack PORT SRC SLOW IDLE SECONDS
      From source address SRC, hold SLOW connections that trickle a request
      header one byte per second (never finishing it) and IDLE connections
      that send nothing; every second reopen the ones the server closed (as
      slowloris does).  Prints a JSON summary: for each connection the
      server closed, how long it had lived.
  slow_clients.py probe PORT SRC EVERY SECONDS
      GET /ping on a new connection every EVERY seconds, each with a 1 s
      limit.  Prints JSON: probes, failures, max latency.
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


def attack(port, src, n_slow, n_idle, seconds):
    raise_nofile()
    sel = selectors.DefaultSelector()
    conns = []
    # Interleaved, so both kinds hold connections when the server caps them.
    for i in range(max(n_slow, n_idle)):
        if i < n_slow:
            conns.append(Conn("slow"))
        if i < n_idle:
            conns.append(Conn("idle"))
    lifetimes = {"slow": [], "idle": []}
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
        c.sock, c.opened, c.sent = s, time.monotonic(), 0
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
    now = time.monotonic()
    alive = {"slow": [], "idle": []}
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


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "attack" and len(a) == 5:
        attack(int(a[0]), a[1], int(a[2]), int(a[3]), float(a[4]))
    elif cmd == "probe" and len(a) == 4:
        probe(int(a[0]), a[1], float(a[2]), float(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
