#!/usr/bin/env python3
"""A static file server over HTTPS on 127.0.0.1, for tests that fetch
contexts by URL (nib serve's git and contextUrl contexts).

    https_files.py PORT DIR CERT KEY

Serves DIR's files (a bare git repository after `git update-server-info`
is a dumb-HTTP git remote). GET /redirect/REST answers 302 with
Location https://localhost:PORT/REST: the same server under another host
name. GET /slow/REST waits 60 s before it answers REST (a stalled
server). Prints "listening" once it answers.
"""
import ssl
import sys
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

PORT, DIR, CERT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler(SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "https://localhost:%d/%s" % (PORT, self.path[10:]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/slow/"):
            time.sleep(60)
            self.path = self.path[5:]
        super().do_GET()


srv = ThreadingHTTPServer(("127.0.0.1", PORT), partial(Handler, directory=DIR))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
