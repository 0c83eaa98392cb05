#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server, for tests of nib serve's
Kubernetes executor: no cluster can run on a test machine. It speaks the
subset of the API the executor uses and runs each Job's pod on this
machine, as a kubelet would run it, through tests/lib/manifests.py's
`runner` (the container's command, or nib's entrypoint, with its
environment and each volume's mountPath mapped to a folder).

    k8s_api.py PORT TOKEN_FILE WORKDIR [--base-env K=V]... [--run-as USER]

Answers on 127.0.0.1:PORT (plain HTTP), only to "Authorization: Bearer"
with the token in TOKEN_FILE (else 401, as a Status):
    POST   /api/v1/namespaces/NS/secrets          (kept in memory)
    DELETE /api/v1/namespaces/NS/secrets/NAME
    POST   /apis/batch/v1/namespaces/NS/jobs      (the pod starts at once)
    GET    /apis/batch/v1/namespaces/NS/jobs/NAME (status: succeeded/failed)
    DELETE /apis/batch/v1/namespaces/NS/jobs/NAME (kills the pod)
    GET    /api/v1/namespaces/NS/pods?labelSelector=job-name=NAME
    GET    /api/v1/namespaces/NS/pods/POD/log?container=C&follow=true
The pod: init containers one after the other, then the containers; a
container that fails fails the pod and the Job (backoffLimit 0). Secret
volumes are folders with the Secret's keys as files (mode 0400), emptyDirs
empty folders. A container waiting to start answers its log with 400, as
the API does.

WORKDIR gets jobs/NAME.json and secrets/NAME.json (each manifest as
created), requests.log (METHOD PATH STATUS, one a line) and pods/POD/
(the volumes, each container's script and output).
"""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
PORT, TOKEN_FILE, WORK = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BASE_ENV, RUN_AS = [], None
_i = 4
while _i < len(sys.argv):
    if sys.argv[_i] == "--base-env":
        BASE_ENV += ["--base-env", sys.argv[_i + 1]]
    elif sys.argv[_i] == "--run-as":
        RUN_AS = sys.argv[_i + 1]
    _i += 2
for d in ("jobs", "secrets", "pods"):
    os.makedirs(os.path.join(WORK, d), exist_ok=True)

LOCK = threading.Lock()
CHANGED = threading.Condition(LOCK)
SECRETS, JOBS = {}, {}


def status(code, msg):
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                  "message": msg, "code": code}


class Pod:
    def __init__(self, job, manifest):
        self.job, self.manifest = job, manifest
        self.name = job + "-x7k2p"
        self.dir = os.path.join(WORK, "pods", self.name)
        spec = manifest["spec"]["template"]["spec"]
        self.order = [c["name"] for c in spec.get("initContainers", [])] + \
                     [c["name"] for c in spec.get("containers", [])]
        self.state = {c: "waiting" for c in self.order}
        self.exit = {}
        self.proc = None
        self.deleted = False
        self.phase = "Pending"

    def volumes(self):
        maps = []
        for v in self.manifest["spec"]["template"]["spec"].get("volumes", []):
            d = os.path.join(self.dir, "volumes", v["name"])
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)
            if "secret" in v:
                sec = SECRETS.get(v["secret"]["secretName"])
                if sec is None:
                    raise RuntimeError("secret %s not found" % v["secret"]["secretName"])
                for k, val in sec.get("data", {}).items():
                    p = os.path.join(d, k)
                    with open(p, "wb") as f:
                        f.write(base64.b64decode(val))
                    os.chmod(p, v["secret"].get("defaultMode", 0o644))
                    if RUN_AS:
                        subprocess.run(["chown", RUN_AS, p])
            maps.append((v["name"], d))
        return dict(maps)

    def run(self):
        os.makedirs(self.dir, exist_ok=True)
        job_file = os.path.join(WORK, "jobs", self.job + ".json")
        try:
            vols = self.volumes()
        except RuntimeError as e:
            self.finish(False, str(e))
            return
        spec = self.manifest["spec"]["template"]["spec"]
        containers = spec.get("initContainers", []) + spec.get("containers", [])
        self.phase = "Running"
        for c in containers:
            if self.deleted:
                return
            maps = []
            for m in c.get("volumeMounts", []):
                maps += ["--map", "%s=%s" % (m["mountPath"], vols[m["name"]])]
            script = os.path.join(self.dir, c["name"] + ".sh")
            r = subprocess.run([sys.executable, os.path.join(HERE, "manifests.py"), "runner",
                                script, job_file, "--container", c["name"]] + BASE_ENV + maps,
                               capture_output=True, text=True)
            if r.returncode != 0:
                self.finish(False, "runner: " + r.stderr.strip())
                return
            os.chmod(script, 0o755)
            out = open(os.path.join(self.dir, c["name"] + ".log"), "wb")
            cmd = ["bash", script]
            if RUN_AS:
                cmd = ["setpriv", "--reuid=" + RUN_AS, "--regid=" + RUN_AS, "--init-groups"] + cmd
            with LOCK:
                if self.deleted:
                    return
                self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             cwd=self.dir)
                self.state[c["name"]] = "running"
                CHANGED.notify_all()
            code = self.proc.wait()
            out.close()
            with LOCK:
                self.state[c["name"]] = "terminated"
                self.exit[c["name"]] = code
                CHANGED.notify_all()
            if code != 0:
                self.finish(False, "container %s exited with %d" % (c["name"], code))
                return
        self.finish(True, None)

    def finish(self, ok, why):
        with LOCK:
            self.phase = "Succeeded" if ok else "Failed"
            self.why = why
            CHANGED.notify_all()

    def kill(self):
        with LOCK:
            self.deleted = True
            if self.proc and self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            CHANGED.notify_all()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(os.path.join(WORK, "requests.log"), "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, code))

    def authorised(self):
        want = open(TOKEN_FILE).read().strip()
        if self.headers.get("Authorization") != "Bearer " + want:
            self.answer(*status(401, "Unauthorized"))
            return False
        return True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def do_POST(self):
        if not self.authorised():
            return
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/secrets", self.path)
        if m:
            s = self.body()
            name = s["metadata"]["name"]
            with LOCK:
                if name in SECRETS:
                    return self.answer(*status(409, 'secrets "%s" already exists' % name))
                SECRETS[name] = s
            json.dump(s, open(os.path.join(WORK, "secrets", name + ".json"), "w"))
            return self.answer(201, s)
        m = re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs", self.path)
        if m:
            j = self.body()
            if j.get("kind") != "Job" or j.get("apiVersion") != "batch/v1":
                return self.answer(*status(400, "not a batch/v1 Job"))
            name = j["metadata"]["name"]
            with LOCK:
                if name in JOBS:
                    return self.answer(*status(409, 'jobs.batch "%s" already exists' % name))
                json.dump(j, open(os.path.join(WORK, "jobs", name + ".json"), "w"), indent=1)
                pod = JOBS[name] = Pod(name, j)
            threading.Thread(target=pod.run, daemon=True).start()
            return self.answer(201, j)
        self.answer(*status(404, "the server could not find the requested resource"))

    def do_DELETE(self):
        if not self.authorised():
            return
        path = urlparse(self.path).path
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/secrets/([^/]+)", path)
        if m:
            with LOCK:
                found = SECRETS.pop(m.group(2), None)
            return self.answer(*(status(200, "deleted") if found else
                                 status(404, 'secrets "%s" not found' % m.group(2))))
        m = re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)", path)
        if m:
            with LOCK:
                pod = JOBS.pop(m.group(2), None)
            if not pod:
                return self.answer(*status(404, 'jobs.batch "%s" not found' % m.group(2)))
            pod.kill()
            return self.answer(*status(200, "deleted"))
        self.answer(*status(404, "the server could not find the requested resource"))

    def do_GET(self):
        if not self.authorised():
            return
        u = urlparse(self.path)
        q = parse_qs(u.query)
        m = re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)", u.path)
        if m:
            with LOCK:
                pod = JOBS.get(m.group(2))
                if not pod:
                    return self.answer(*status(404, 'jobs.batch "%s" not found' % m.group(2)))
                st = {"active": 1} if pod.phase in ("Pending", "Running") else {}
                if pod.phase == "Succeeded":
                    st = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
                if pod.phase == "Failed":
                    st = {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                       "reason": "BackoffLimitExceeded",
                                                       "message": pod.why}]}
                j = dict(pod.manifest, status=st)
            return self.answer(200, j)
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", u.path)
        if m:
            sel = q.get("labelSelector", [""])[0]
            items = []
            with LOCK:
                for name, pod in JOBS.items():
                    if sel == "job-name=" + name:
                        items.append({"metadata": {"name": pod.name, "labels": {"job-name": name}},
                                      "status": {"phase": pod.phase}})
            return self.answer(200, {"kind": "PodList", "apiVersion": "v1", "items": items})
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/log", u.path)
        if m:
            return self.log(m.group(2), q.get("container", [""])[0],
                            q.get("follow", ["false"])[0] == "true")
        self.answer(*status(404, "the server could not find the requested resource"))

    def log(self, podname, container, follow):
        with LOCK:
            pod = next((p for p in JOBS.values() if p.name == podname), None)
            if not pod or container not in pod.state:
                return self.answer(*status(404, 'pods "%s" not found' % podname))
            if pod.state[container] == "waiting":
                return self.answer(*status(400, 'container "%s" in pod "%s" is waiting to start: '
                                                'PodInitializing' % (container, podname)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        with open(os.path.join(WORK, "requests.log"), "a") as f:
            f.write("GET %s 200\n" % self.path)
        path = os.path.join(pod.dir, container + ".log")
        with open(path, "rb") as f:
            while True:
                data = f.read(65536)
                if data:
                    try:
                        self.wfile.write(data)
                        self.wfile.flush()
                    except BrokenPipeError:
                        return
                    continue
                with LOCK:
                    done = pod.state[container] == "terminated" or pod.deleted or not follow
                    if not done:
                        CHANGED.wait(0.2)
                if done:
                    rest = f.read()
                    if rest:
                        self.wfile.write(rest)
                    return


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("listening", flush=True)
srv.serve_forever()
