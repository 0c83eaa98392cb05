#!/usr/bin/env python3
# A token server for tests (docker token-auth, distribution
# docs/spec/auth/token.md): GET /token?service=S&scope=repository:NAME:ACTIONS
# answers {"token": JWT} signed RS256 with the `openssl` CLI; the registry
# trusts the signing certificate (x5c header, self-signed, in its
# rootcertbundle).
#
#   token_server.py DIR PORT
#
# DIR holds key.pem, cert.pem, users (lines user:password), and receives
# requests.log (one line per request: "auth=yes|no scope=..."). If DIR/mode
# exists its content changes behaviour: "garbage" (non-JSON answer),
# "notoken" (JSON without a token), "500" (HTTP 500), "trickle" (the
# answer one byte a second).
# Anonymous requests get pull on repositories under public/; authenticated
# users get what they ask for.
import base64, http.server, json, os, subprocess, sys, time, urllib.parse

DIR, PORT = sys.argv[1], int(sys.argv[2])
ISSUER, SERVICE = "nib-test-issuer", "nib-test-registry"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der():
    pem = open(os.path.join(DIR, "cert.pem")).read()
    body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
    return body  # standard base64 of the DER, as x5c wants


def users():
    out = {}
    try:
        for line in open(os.path.join(DIR, "users")):
            line = line.strip()
            if ":" in line:
                u, p = line.split(":", 1)
                out[u] = p
    except FileNotFoundError:
        pass
    return out


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der()]}
    inp = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(DIR, "key.pem")],
                         input=inp, capture_output=True, check=True).stdout
    return inp.decode() + "." + b64url(sig)


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body, ctype="application/json", trickle=False):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not trickle:
            self.wfile.write(data)
            return
        try:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization")
        with open(os.path.join(DIR, "requests.log"), "a") as f:
            f.write("auth=%s scope=%s\n" % ("yes" if auth else "no", " ".join(q.get("scope", []))))
        mode = ""
        try:
            mode = open(os.path.join(DIR, "mode")).read().strip()
        except FileNotFoundError:
            pass
        if mode == "garbage":
            return self.reply(200, "<html>this is not a token</html>", "text/html")
        if mode == "notoken":
            return self.reply(200, '{"nothing": true}')
        if mode == "500":
            return self.reply(500, "{}")
        user = None
        if auth:
            try:
                kind, val = auth.split(" ", 1)
                u_, p_ = base64.b64decode(val).decode().split(":", 1)
            except Exception:
                return self.reply(400, '{"error":"bad authorization"}')
            if kind != "Basic" or users().get(u_) != p_:
                return self.reply(401, '{"error":"invalid credentials"}')
            user = u_
        access = []
        for s in q.get("scope", []):
            parts = s.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull" and name.startswith("public/")]
            access.append({"type": "repository", "name": name, "actions": actions})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": q.get("service", [SERVICE])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": "%d-%d" % (now, os.getpid()),
                  "access": access}
        self.reply(200, json.dumps({"token": sign(claims), "expires_in": 300}),
                   trickle=mode == "trickle")


http.server.ThreadingHTTPServer.allow_reuse_address = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H)
open(os.path.join(DIR, "ready"), "w").close()
srv.serve_forever()
