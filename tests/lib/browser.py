#!/usr/bin/env python3
"""Drive Debian's headless chromium through the DevTools protocol over
--remote-debugging-pipe (fds 3 and 4, NUL-separated JSON: no websocket
library needed), for tests of nib serve's web page.

    browser.py URL OUTDIR STEPS.json

STEPS is a JSON list; each step is an object with one action:
    {"viewport": [W, H], "mobile": BOOL}       set the window size
    {"goto": URL}                              load a page, wait for it
    {"fill": SELECTOR, "value": TEXT}          set an input's value (fires input/change)
    {"click": SELECTOR}                        click an element
    {"upload": SELECTOR, "file": PATH}         choose PATH in a file input
    {"wait": JS, "timeout": SECONDS}           until the expression is truthy
    {"eval": JS, "name": NAME}                 keep the expression's value as NAME
    {"shot": NAME}                             screenshot OUTDIR/NAME.png, checked below
Prints one JSON object: the kept values, and for each screenshot its width,
height, distinct colours and share of the most common colour (a blank page
is one colour). Exits 1 with the failing step when a step fails.
"""
import base64
import fcntl
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def png_stats(data):
    """Width, height, distinct colours and the top colour's share of an
    8-bit RGB/RGBA non-interlaced PNG (what chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    counts = {}
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 0xFF
        for x in range(0, stride, bpp * 4):  # every 4th pixel is plenty
            px = bytes(line[x:x + 3])
            counts[px] = counts.get(px, 0) + 1
        prev = line
    total = sum(counts.values())
    return {"width": w, "height": h, "colours": len(counts),
            "top_share": round(max(counts.values()) / total, 3)}


class Chromium:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="nib-chromium-")
        # pipe ends kept above 10, so that placing them on 3 and 4 in the
        # child never overwrites one with the other
        to_r, to_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in os.pipe())
        from_r, from_w = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in os.pipe())

        def child():
            # chromium reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--user-data-dir=" + self.profile, "about:blank"],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.w = os.fdopen(to_w, "wb", buffering=0)
        self.r = os.fdopen(from_r, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def send(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" not in self.buf:
                chunk = self.r.read(65536)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\0", 1)
            ans = json.loads(line)
            if ans.get("id") == self.next_id:
                if "error" in ans:
                    raise RuntimeError(f"{method}: {ans['error']}")
                return ans.get("result", {})
        raise RuntimeError(f"{method}: no answer in {timeout} s")

    def open(self):
        t = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.send("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def eval(self, js):
        r = self.send("Runtime.evaluate", {"expression": js, "awaitPromise": True,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{js}: {r['exceptionDetails'].get('text')} "
                               f"{r['exceptionDetails'].get('exception', {}).get('description', '')}")
        return r["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile])


def main():
    url, outdir, steps_file = sys.argv[1:4]
    steps = json.load(open(steps_file))
    out = {"shots": {}}
    c = Chromium()
    try:
        c.open()
        for i, st in enumerate(steps):
            try:
                if "viewport" in st:
                    w, h = st["viewport"]
                    c.send("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1,
                            "mobile": bool(st.get("mobile"))})
                elif "goto" in st:
                    c.send("Page.navigate", {"url": url + st["goto"]})
                    deadline = time.time() + 30
                    while c.eval("document.readyState") != "complete":
                        if time.time() > deadline:
                            raise RuntimeError("the page did not load")
                        time.sleep(0.1)
                elif "fill" in st:
                    c.eval("(() => { const e = document.querySelector(%s); e.value = %s;"
                           " e.dispatchEvent(new Event('input', {bubbles: true}));"
                           " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
                           % (json.dumps(st["fill"]), json.dumps(st["value"])))
                elif "upload" in st:
                    doc = c.send("DOM.getDocument")
                    node = c.send("DOM.querySelector", {"nodeId": doc["root"]["nodeId"],
                                                        "selector": st["upload"]})
                    c.send("DOM.setFileInputFiles", {"files": [st["file"]],
                                                     "nodeId": node["nodeId"]})
                elif "click" in st:
                    c.eval("document.querySelector(%s).click()" % json.dumps(st["click"]))
                elif "wait" in st:
                    deadline = time.time() + st.get("timeout", 30)
                    while not c.eval(st["wait"]):
                        if time.time() > deadline:
                            raise RuntimeError("timed out")
                        time.sleep(0.2)
                elif "eval" in st:
                    out[st["name"]] = c.eval(st["eval"])
                elif "shot" in st:
                    png = base64.b64decode(c.send("Page.captureScreenshot",
                                                  {"format": "png"})["data"])
                    path = os.path.join(outdir, st["shot"] + ".png")
                    with open(path, "wb") as f:
                        f.write(png)
                    out["shots"][st["shot"]] = png_stats(png)
            except Exception as e:
                print(json.dumps({"failed_step": i, "step": st, "error": str(e), **out}))
                sys.exit(1)
    finally:
        c.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
