#!/usr/bin/env python3
"""httpserve.py - a static HTTP/1.1 server for the remote tests, with faults on demand.

    httpserve.py DIR PORTFILE FAULTS LOG [PORT]

Serves DIR on 127.0.0.1 (PORT, or a free port; written to PORTFILE once listening), keep-alive,
several connections at once. Before each GET it reads FAULTS (missing: no faults),
lines of "MODE URLPATH [ARG]":
    truncate /objects/ab/cd...      send the full Content-Length, then half the body,
                                    then close the connection
    stall /objects/ab/cd... SECONDS send the headers, then nothing for SECONDS
    status /objects/ab/cd... CODE   answer CODE with an empty body
Every request is appended to LOG as "METHOD PATH STATUS". With HTTPSERVE_TLS set to
"CERT:KEY" (PEM files) it serves HTTPS instead.
"""
import http.server
import os
import socketserver
import sys
import time

ROOT, PORTFILE, FAULTS, LOG = sys.argv[1:5]


def faults():
    out = {}
    try:
        with open(FAULTS) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    out[parts[1]] = (parts[0], parts[2:] if len(parts) > 2 else [])
    except FileNotFoundError:
        pass
    return out


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=ROOT, **kw)

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, status))

    def do_GET(self):
        mode, args = faults().get(self.path, (None, []))
        path = os.path.join(ROOT, self.path.lstrip("/"))
        if mode == "status":
            code = int(args[0])
            self.note(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode in ("truncate", "stall") and os.path.isfile(path):
            with open(path, "rb") as f:
                body = f.read()
            self.note("%s 200" % mode)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "stall":
                self.wfile.flush()
                time.sleep(float(args[0]))
                self.close_connection = True
                return
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if not os.path.isfile(path):
            self.note(404)
        else:
            self.note(200)
        super().do_GET()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that gives up on a transfer (a full cache disk, a timeout) resets
        # the connection: not the server's error
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


srv = Server(("127.0.0.1", int(sys.argv[5]) if len(sys.argv) > 5 else 0), Handler)
if os.environ.get("HTTPSERVE_TLS"):
    import ssl
    cert, key = os.environ["HTTPSERVE_TLS"].split(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
