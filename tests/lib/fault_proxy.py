#!/usr/bin/env python3
# A fault-injecting reverse proxy for registry tests: clients talk to
# 127.0.0.1:PORT as if it were the registry; requests go to UPSTREAM
# (host:port, plain HTTP).
#
#   fault_proxy.py DIR PORT UPSTREAM
#
# DIR/rules is read on every request; each line
#     METHOD PATH-REGEX ACTION [ARG] [TIMES]
# applies to the first TIMES matching requests (default: all), ACTION being
#     drop BYTES       send the headers and BYTES of the body, then close
#     status CODE      answer CODE (Retry-After: ARG2 when ACTION is "status CODE SECS")
#     stall BYTES      send the headers and BYTES of the body, then stall
#     trickle BYTES    send the headers and BYTES of the body, then one byte
#                      a second (never stalled for long, never done)
#     redirect         answer 307 to the same path on http://localhost:PORT/r/...
#     garbage          answer 200 with a non-JSON body
#     close            close the connection without an answer
#     bigauth          answer 401 with a 20 kB WWW-Authenticate header
#     serve FILE CT    answer 200 with FILE's content as Content-Type CT
#     redirect-to BASE answer 307 to BASE followed by the request's path
#                      (e.g. the plain-HTTP upstream behind an HTTPS proxy)
#     plain-location   forward, but leave an upstream Location header naming
#                      the upstream itself (plain HTTP) as it is
#     slow RATE        forward the body at RATE bytes a second
# e.g. "GET /blobs/ drop 100000 1". DIR/log gets one line per request:
# "METHOD PATH auth=yes|no range=VALUE". Requests under /r/ (redirect
# targets) are forwarded with $PROXY_UPSTREAM_AUTH as Authorization when set.
# With $PROXY_TLS_CERT and $PROXY_TLS_KEY (PEM files) the proxy speaks HTTPS.
import http.client, http.server, os, re, ssl, sys, threading, time

DIR, PORT, UPSTREAM = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SCHEME = "https" if os.environ.get("PROXY_TLS_CERT") else "http"
counts = {}
lock = threading.Lock()


def rules():
    out = []
    try:
        for i, line in enumerate(open(os.path.join(DIR, "rules"))):
            f = line.split()
            if len(f) >= 3 and not f[0].startswith("#"):
                out.append((i, f))
    except FileNotFoundError:
        pass
    return out


def match(method, path):
    for i, f in rules():
        if f[0] != method and f[0] != "*":
            continue
        if not re.search(f[1], path):
            continue
        action, args = f[2], f[3:]
        times = None
        if action in ("drop", "stall", "trickle", "slow") and len(args) >= 2:
            times = int(args[1])
        elif action == "status" and len(args) >= 3:
            times = int(args[2])
        elif action in ("redirect", "garbage", "close", "bigauth", "plain-location") and len(args) >= 1:
            times = int(args[0])
        elif action == "redirect-to" and len(args) >= 2:
            times = int(args[1])
        elif action == "serve" and len(args) >= 3:
            times = int(args[2])
        with lock:
            key = (i, " ".join(f))
            n = counts.get(key, 0)
            if times is not None and n >= times:
                continue
            counts[key] = n + 1
        return action, args
    return None, None


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        method, path = self.command, self.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with open(os.path.join(DIR, "log"), "a") as f:
            f.write("%s %s auth=%s range=%s\n" % (method, path,
                    "yes" if self.headers.get("Authorization") else "no",
                    self.headers.get("Range") or "-"))
        action, args = match(method, path)
        if action == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action == "status":
            self.send_response(int(args[0]))
            if len(args) >= 2 and args[1] != "-":
                self.send_header("Retry-After", args[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if action == "bigauth":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:1/' + "a" * 20000 + '"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if action == "serve":
            data = open(args[0], "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", args[1])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
            return
        if action == "garbage":
            data = b"\x00\x01 this is not json {{{"
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if action == "redirect-to":
            self.send_response(307)
            self.send_header("Location", args[0] + path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if action == "redirect" and not path.startswith("/r/"):
            self.send_response(307)
            self.send_header("Location", "%s://localhost:%d/r%s" % (SCHEME, PORT, path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upath = path[2:] if path.startswith("/r/") else path
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length")}
        if path.startswith("/r/"):
            headers.pop("Authorization", None)
            if os.environ.get("PROXY_UPSTREAM_AUTH"):
                headers["Authorization"] = os.environ["PROXY_UPSTREAM_AUTH"]
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        conn.request(method, upath, body=body if (body or method in ("PUT", "POST", "PATCH")) else None,
                     headers=headers)
        resp = conn.getresponse()
        self.send_response(resp.status)
        clen = None
        for k, v in resp.getheaders():
            if k.lower() in ("connection", "transfer-encoding"):
                continue
            if k.lower() == "content-length":
                clen = int(v)
            if k.lower() == "location" and v.startswith("http://" + UPSTREAM) and action != "plain-location":
                v = v.replace("http://" + UPSTREAM, "%s://127.0.0.1:%d" % (SCHEME, PORT), 1)
            self.send_header(k, v)
        if clen is None and method != "HEAD":
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()
            return
        self.end_headers()
        if method == "HEAD":
            conn.close()
            return
        limit = int(args[0]) if action in ("drop", "stall", "trickle") else None
        sent = 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            if limit is not None and sent + len(chunk) >= limit:
                self.wfile.write(chunk[: limit - sent])
                self.wfile.flush()
                if action == "stall":
                    time.sleep(3600)
                if action == "trickle":
                    rest = chunk[limit - sent:] + resp.read()
                    try:
                        for i in range(len(rest)):
                            time.sleep(1)
                            self.wfile.write(rest[i:i + 1])
                            self.wfile.flush()
                    except OSError:
                        pass
                self.close_connection = True
                conn.close()
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            self.wfile.write(chunk)
            sent += len(chunk)
            if action == "slow":
                self.wfile.flush()
                time.sleep(len(chunk) / int(args[0]))
        conn.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H)
if SCHEME == "https":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["PROXY_TLS_CERT"], os.environ["PROXY_TLS_KEY"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(os.path.join(DIR, "ready"), "w").close()
srv.serve_forever()
