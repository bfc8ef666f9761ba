#!/usr/bin/python3
"""loop_server.py - tiny loopback HTTP servers for kneecap's integration tests.

  loop_server.py PORTFILE ok [--freeze-at N] [--freeze-s S]
      HTTP/1.1 keep-alive server answering 200 "ok"; when the N-th request
      arrives, every request (that one included) waits until S seconds after
      it: the whole server stalls once, as a GC pause or a stuck GPU would.
  loop_server.py PORTFILE close
      accepts every connection and closes it at once without a byte.
  loop_server.py PORTFILE hang
      accepts every connection and never answers (at most 1000 held).

In ok mode, --fail-every N --fail-status S answers every N-th request
(counting from the first) with status S instead of 200: 1 fails them all,
200 fails exactly 0.5%.  --jitter-ms J delays each answer by a random
0..J ms (latencies spread over many histogram buckets: a large .hlog).

--record FILE appends the request line and headers of the first 5 requests
to FILE (any method; a body is read and dropped), so a test can see what
reached the wire.

Listens on 127.0.0.1 port 0 and writes the port to PORTFILE.  Exits by itself
after --max-s seconds (default 60) so a failed test never leaves it behind.
"""
import argparse, os, random, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("portfile")
ap.add_argument("mode", choices=["ok", "close", "hang"])
ap.add_argument("--freeze-at", type=int, default=0)
ap.add_argument("--freeze-s", type=float, default=1.0)
ap.add_argument("--max-s", type=float, default=60.0)
ap.add_argument("--fail-every", type=int, default=0)
ap.add_argument("--fail-status", type=int, default=403)
ap.add_argument("--jitter-ms", type=float, default=0.0)
ap.add_argument("--record", default="")
a = ap.parse_args()

lock = threading.Lock()
count = 0
freeze_until = 0.0

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle: otherwise headers and body go out
    # as two segments and delayed ACKs add ~40 ms to every request.
    disable_nagle_algorithm = True

    def do_GET(self):
        global count, freeze_until
        n = int(self.headers.get("Content-Length") or 0)
        if n > 0:
            self.rfile.read(n)
        with lock:
            count += 1
            if a.record and count <= 5:
                with open(a.record, "a") as f:
                    f.write("%s %s\n%s\n" % (self.command, self.path, str(self.headers).strip()))
            if a.freeze_at and count == a.freeze_at:
                freeze_until = time.monotonic() + a.freeze_s
            until = freeze_until
            fail = a.fail_every and count % a.fail_every == 0
        now = time.monotonic()
        if now < until:
            time.sleep(until - now)
        if a.jitter_ms > 0:
            time.sleep(random.uniform(0, a.jitter_ms) / 1000.0)
        if fail:
            self.wfile.write(b"HTTP/1.1 %d Refused\r\nContent-Length: 2\r\n\r\nno" % a.fail_status)
        else:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, *args):
        pass

def publish(port):
    tmp = a.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, a.portfile)

threading.Timer(a.max_s, lambda: os._exit(0)).start()
if a.mode == "ok":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    publish(srv.server_address[1])
    srv.serve_forever()
else:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    publish(s.getsockname()[1])
    held = []
    while True:
        c, _ = s.accept()
        if a.mode == "close" or len(held) >= 1000:
            c.close()
        else:
            held.append(c)
