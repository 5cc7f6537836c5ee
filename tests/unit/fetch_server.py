#!/usr/bin/python3
"""anchord - tests/unit/fetch_server.py: the HTTPS server test_policy_fetch
starts as its child.

    fetch_server.py CERT KEY

Listens on 127.0.0.1 only, on ports the kernel picks, and prints them as one
line "<https port> <silent port>". The silent port takes connections (the
kernel's backlog does) and never says a word, not even a TLS handshake.
Each HTTPS connection gets a thread of its own, handshake included, so that
a client that hangs or aborts holds up nobody else.

    /mud.json                  200, application/mud+json
    /echo                      200, the request's Accept and User-Agent
    /bytes/N                   200, N bytes with a Content-Length
    /bytes-unannounced/N       200, N bytes ending with the connection
    /pair                      200 once a second /pair request is in,
                               then 0.3 s later; 504 if none comes in 5 s
    /hang                      never answers
    /moved                     301 to /mud.json
    POST /echo-post            200, the request's Content-Type, then its body
    anything else              404
"""
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MUD = b'{"ietf-mud:mud": {"mud-version": 1}}\n'
PAIR = threading.Barrier(2, timeout=5)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, status, body, ctype="text/plain", announced=True,
              extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        if announced:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("/")
        if self.path == "/mud.json":
            self.reply(200, MUD, "application/mud+json")
        elif self.path == "/echo":
            said = "%s\n%s\n" % (self.headers.get("Accept"),
                                 self.headers.get("User-Agent"))
            self.reply(200, said.encode())
        elif len(parts) == 3 and parts[1] == "bytes":
            self.reply(200, b"x" * int(parts[2]))
        elif len(parts) == 3 and parts[1] == "bytes-unannounced":
            self.reply(200, b"x" * int(parts[2]), announced=False)
        elif self.path == "/pair":
            self.pair()
        elif self.path == "/hang":
            time.sleep(3600)
        elif self.path == "/moved":
            self.reply(301, b"", extra=[("Location", "/mud.json")])
        else:
            self.reply(404, b"not here\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/echo-post":
            return self.reply(404, b"not here\n")
        said = "%s\n" % self.headers.get("Content-Type")
        self.reply(200, said.encode() + body)

    def pair(self):
        try:
            PAIR.wait()
        except threading.BrokenBarrierError:
            PAIR.reset()
            return self.reply(504, b"alone\n")
        time.sleep(0.3)
        self.reply(200, b"paired\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context):
        super().__init__(("127.0.0.1", 0), Handler)
        self.context = context

    def finish_request(self, request, client_address):
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return              # a client that does not trust us
        with tls:
            self.RequestHandlerClass(tls, client_address, self)
            # close_notify: a body that ends with the connection is only
            # complete with it
            try:
                tls.settimeout(1)
                tls.unwrap()
            except (ssl.SSLError, OSError):
                pass

    def handle_error(self, request, client_address):
        pass                    # clients that stop reading, on purpose


def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    server = Server(context)
    silent = socket.create_server(("127.0.0.1", 0), backlog=16)
    print(server.server_address[1], silent.getsockname()[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
