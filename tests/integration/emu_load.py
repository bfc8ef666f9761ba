#!/usr/bin/python3
"""emu_load.py - a tiny HTTP/1.1 load client for the emulator tests.

wrk is closed-loop; the emulator tests also need open-loop load (requests
leave on a fixed schedule whatever the server does, wrk2-style), bursts of
concurrent requests, and raw bytes on a socket.  Loopback only, bounded.

  emu_load.py open  PORT PATH BODY RATE SECONDS   uniform arrivals; prints JSON
  emu_load.py burst PORT PATH BODY N              N at once; prints statuses
  emu_load.py raw   PORT HEXBYTES|-             send raw bytes, print reply
  emu_load.py stats PORT                          GET /emulator/stats
"""
import asyncio
import json
import socket
import sys
import time

HOST = "127.0.0.1"


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = await reader.readexactly(n) if n else b""
    return status, headers, body


def request_bytes(path, body):
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


class Pool:
    """Idle keep-alive connections; a busy schedule opens more."""

    def __init__(self, port):
        self.port = port
        self.idle = []

    async def get(self):
        if self.idle:
            return self.idle.pop()
        return await asyncio.open_connection(HOST, self.port)

    def put(self, conn):
        self.idle.append(conn)

    def close(self):
        for _, w in self.idle:
            w.close()


async def one(pool, req, intended, results):
    try:
        conn = await pool.get()
        r, w = conn
        w.write(req)
        await w.drain()
        status, _, _ = await read_response(r)
        pool.put(conn)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        status = 0
    # Latency from the intended send time (no coordinated omission).
    results.append((intended, time.monotonic() - intended, status))


async def open_loop(port, path, body, rate, seconds):
    pool = Pool(port)
    req = request_bytes(path, body)
    results, tasks = [], []
    t0 = time.monotonic()
    n = int(rate * seconds)
    for i in range(n):
        at = t0 + i / rate
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(pool, req, at, results)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    pool.close()
    elapsed = max(r[0] + r[1] for r in results) - t0
    ok = [r for r in results if r[2] == 200]
    lat = sorted(r[1] for r in ok) or [0.0]
    half = seconds / 2
    early = [r[1] for r in ok if r[0] - t0 < half] or [0.0]
    late = [r[1] for r in ok if r[0] - t0 >= half] or [0.0]
    statuses = {}
    for r in results:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    print(json.dumps({
        "sent": n, "ok": len(ok), "statuses": statuses,
        "achieved_rps": len(ok) / elapsed,
        "latency_ms_mean": 1000 * sum(lat) / len(lat),
        "latency_ms_p50": 1000 * lat[len(lat) // 2],
        "latency_ms_early_mean": 1000 * sum(early) / len(early),
        "latency_ms_late_mean": 1000 * sum(late) / len(late),
    }))


async def burst(port, path, body, n):
    req = request_bytes(path, body)

    async def single():
        t = time.monotonic()
        try:
            r, w = await asyncio.open_connection(HOST, port)
            w.write(req)
            await w.drain()
            status, headers, _ = await read_response(r)
            w.close()
            return status, headers.get("x-amzn-errortype", ""), time.monotonic() - t
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return 0, "", time.monotonic() - t

    out = await asyncio.wait_for(asyncio.gather(*[single() for _ in range(n)]), 60)
    for status, etype, secs in out:
        print(status, etype or "-", f"{secs:.3f}")


def raw(port, data):
    s = socket.create_connection((HOST, port), timeout=5)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
        reply = b"".join(chunks)
        print(reply.split(b"\r\n", 1)[0].decode("latin-1") if reply else "(closed)")
    finally:
        s.close()


def stats(port):
    s = socket.create_connection((HOST, port), timeout=5)
    s.sendall(b"GET /emulator/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    print(data.split(b"\r\n\r\n", 1)[1].decode())


def main():
    mode = sys.argv[1]
    port = int(sys.argv[2])
    if mode == "open":
        body = open(sys.argv[4], "rb").read()
        asyncio.run(open_loop(port, sys.argv[3], body, float(sys.argv[5]),
                              float(sys.argv[6])))
    elif mode == "burst":
        body = open(sys.argv[4], "rb").read()
        asyncio.run(burst(port, sys.argv[3], body, int(sys.argv[5])))
    elif mode == "raw":
        arg = sys.argv[3]
        raw(port, sys.stdin.buffer.read() if arg == "-" else bytes.fromhex(arg))
    elif mode == "stats":
        stats(port)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
