#!/usr/bin/python3
"""raw_server.py - a loopback HTTP/1.1 server that misbehaves on purpose.

  raw_server.py PORTFILE MODE [--max-s S]

MODE:
  stall     accepts, reads every request, never answers (at most 2000 held)
  cuthdr    answers "HTTP/1.1 200 OK" and part of the header block, then closes
  badchunk  a chunked 200 whose chunk size is not hexadecimal
  bighdr    a 200 with one 1 MiB header line

Listens on 127.0.0.1 port 0 and writes the port to PORTFILE.  Exits by itself
after --max-s seconds (default 60) so a failed test never leaves it behind.
"""
import argparse, os, socket, threading

ap = argparse.ArgumentParser()
ap.add_argument("portfile")
ap.add_argument("mode", choices=["stall", "cuthdr", "badchunk", "bighdr"])
ap.add_argument("--max-s", type=float, default=60.0)
a = ap.parse_args()

ANSWERS = {
    "cuthdr": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Cut: yes\r\n",
    "badchunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nok\r\n0\r\n\r\n",
    "bighdr": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\nok",
}

def handle(c):
    try:
        c.settimeout(a.max_s)
        if a.mode == "stall":
            while c.recv(65536):  # read whatever comes, answer nothing
                pass
            return
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        c.sendall(ANSWERS[a.mode])
    except OSError:
        pass
    finally:
        c.close()

threading.Timer(a.max_s, lambda: os._exit(0)).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(256)
tmp = a.portfile + ".tmp"
with open(tmp, "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(tmp, a.portfile)
held = 0
while True:
    c, _ = s.accept()
    held += 1
    if a.mode == "stall" and held > 2000:
        c.close()
        continue
    threading.Thread(target=handle, args=(c,), daemon=True).start()
