#!/usr/bin/python3
"""stream_server.py - a small HTTP/1.1 server on 127.0.0.1 that answers
POST /endpoints/NAME/invocations-response-stream with 200 and the
application/vnd.amazon.eventstream content type, and a body chosen by NAME:

  good       three PayloadParts ("part-0", "part-1", "part-2")
  garbage    bytes that are not an event stream
  cut        one PayloadPart, then the first half of a second one
  badcrc     one PayloadPart, then one whose payload was altered after encoding
  failure    one PayloadPart, then an InternalStreamFailure exception
  empty      no message at all (a 200 with an empty body)

The frames are encoded here, from aws-wire.md section 5 with zlib's CRC-32,
independently of kneecap's encoder.  Prints "port N" once listening; exits
after --lifetime seconds at most (the test also kills it).  Loopback only.
"""
import http.server
import socketserver
import struct
import sys
import threading
import zlib


def header(name, value):
    n = name.encode()
    v = value.encode()
    return bytes([len(n)]) + n + bytes([7]) + struct.pack(">H", len(v)) + v


def message(headers, payload):
    hb = b"".join(header(k, v) for k, v in headers)
    total = 16 + len(hb) + len(payload)
    prelude = struct.pack(">II", total, len(hb))
    pcrc = zlib.crc32(prelude)
    body = prelude + struct.pack(">I", pcrc) + hb + payload
    return body + struct.pack(">I", zlib.crc32(body))


def part(payload):
    return message([(":message-type", "event"), (":event-type", "PayloadPart"),
                    (":content-type", "application/octet-stream")], payload)


def body_for(name):
    if name == "good":
        return b"".join(part(b"part-%d" % i) for i in range(3))
    if name == "garbage":
        return b"this is not an event stream, just text with the right content type\n" * 3
    if name == "cut":
        second = part(b"second part, cut in the middle")
        return part(b"first") + second[: len(second) // 2]
    if name == "badcrc":
        second = bytearray(part(b"second part"))
        second[-6] ^= 0x20
        return part(b"first") + bytes(second)
    if name == "failure":
        exc = message([(":message-type", "exception"),
                       (":exception-type", "InternalStreamFailure"),
                       (":content-type", "application/json")],
                      b'{"Message":"the stream failed"}')
        return part(b"first") + exc
    if name == "empty":
        return b""
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        parts = self.path.split("/")
        name = parts[2] if len(parts) == 4 and parts[3] == "invocations-response-stream" else ""
        body = body_for(name)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Amzn-ErrorType", "ValidationError")
            msg = b'{"message":"unknown endpoint"}'
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    lifetime = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    srv = Server(("127.0.0.1", 0), Handler)
    print("port %d" % srv.server_address[1], flush=True)
    threading.Timer(lifetime, srv.shutdown).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
