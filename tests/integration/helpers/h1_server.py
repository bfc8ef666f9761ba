#!/usr/bin/python3
"""h1_server.py - a raw HTTP/1.1 server for the native client's test: each
path answers one way, well-formed or not, byte for byte as written here.

  h1_server.py PORTFILE [--max-s S]

  /ok         200, Content-Length, keep-alive
  /slow       /ok after 3 ms (the release-slack batching test)
  /chunked    200, chunked body in three chunks, keep-alive
  /close      200 with Connection: close, then closes
  /eof        200 with no length: the body ends with the connection
  /continue   100 Continue, then 200
  /redirect   302 with a Location (must not be followed)
  /drop       200, keep-alive announced, but the next request on the same
              connection is met by a close without an answer (a server's
              keep-alive timeout racing the request: the client retries)
  /cuthdr     half a header block, then close
  /badchunk   a chunk size that is not hex
  /bighdr     a 1 MB header line
  /cutbody    Content-Length 100, 10 bytes, then close
  /throttle   400 with X-Amzn-ErrorType: ThrottlingException and a JSON body
  HEAD        any path: the headers of /ok without its body
  absolute-form request lines (GET http://host/path): 200 "proxied", as a
              forward proxy would answer (the --proxy test)

Listens on 127.0.0.1 port 0, writes the port to PORTFILE, exits by itself
after --max-s seconds (default 60).
"""
import argparse, os, socket, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("portfile")
ap.add_argument("--max-s", type=float, default=60.0)
a = ap.parse_args()

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ANSWERS = {
    "/ok": (OK, False),
    "/slow": (OK, False),
    "/chunked": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"3\r\nabc\r\n1;x=y\r\nd\r\n0\r\n\r\n", False),
    "/close": (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", True),
    "/eof": (b"HTTP/1.1 200 OK\r\n\r\nbody until the end", True),
    "/continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, False),
    "/redirect": (b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n", False),
    "/drop": (OK, False),
    "/cuthdr": (b"HTTP/1.1 200 OK\r\nContent-Le", True),
    "/badchunk": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                  True),
    "/bighdr": (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok",
                True),
    "/cutbody": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", True),
    "/throttle": (b"HTTP/1.1 400 Bad Request\r\nX-Amzn-ErrorType: ThrottlingException:http://x/\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"
                  b'{"message":"Rate exceeded"}', False),
}


def serve(c):
    buf = b""
    drop_next = False
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            method, path, _ = lines[0].decode().split(" ", 2)
            clen = 0
            for ln in lines[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v)
            while len(buf) < clen:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            buf = buf[clen:]
            if drop_next:
                return
            answer, close = ANSWERS.get(path, (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                                              False))
            if path.startswith("http://"):
                answer, close = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied", False
            if method == "HEAD":
                answer, close = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", False
            if path == "/slow":
                time.sleep(0.003)
            c.sendall(answer)
            drop_next = path == "/drop"
            if close:
                return
    except (OSError, ValueError):
        pass
    finally:
        c.close()


def publish(port):
    tmp = a.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, a.portfile)


threading.Timer(a.max_s, lambda: os._exit(0)).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(128)
publish(s.getsockname()[1])
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(c,), daemon=True).start()
