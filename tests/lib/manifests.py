#!/usr/bin/env python3
"""Checks of deploy/'s manifests, and the commands in them made runnable.

    manifests.py pods FILE...
        Every pod spec in the files (Pods, Jobs, OpenShift Templates, Lists,
        Tekton Tasks' steps, Jenkins pod templates): each container, init
        containers included, meets Pod Security "restricted" (runAsNonRoot,
        allowPrivilegeEscalation false, capabilities drop ALL and add at most
        NET_BIND_SERVICE, a RuntimeDefault or Localhost seccomp profile,
        not privileged, no host namespaces, only restricted volume types, no
        UID 0). Prints one line per pod spec, then one per problem; exits 1
        when there is one.
    manifests.py tekton FILE
        The Task has the catalog buildah Task's interface (params, results,
        workspaces) and its script takes params, workspaces and results only
        from the environment.
    manifests.py nibargv FILE...
        Every nib command line in the files (container args for nib's
        entrypoint, `command: [nib]`, lines of shell scripts, GitLab CI
        script lines, Jenkinsfile sh steps) puts global options before the
        command, and the command exists.
    manifests.py runner OUT FILE --container NAME [options]
        Writes OUT, a bash script that runs container NAME of FILE as the
        kubelet (and Tekton, for a Task's step) would: the command (nib's
        entrypoint when the container has none), $(VAR) references in
        command and args expanded from the container's environment, the
        working folder, the environment, with each volume's mountPath
        mapped to a host folder. Options:
          --map PATH=DIR          a mountPath (or any absolute path) -> DIR
          --env K=V               set or override an environment variable
          --param K=V             a Template's or Task's param (arrays: K=a,b)
          --workspace NAME=DIR    a bound Tekton workspace (unbound if absent)
          --result NAME=FILE      a Tekton result file
          --base-env K=V          the image's environment (PATH, HOME...; WORKDIR
                                  for its working folder)
          --workdir DIR           run there instead (a CI step's workspace)
          --cmd ARG               run ARG... instead of the container's command
                                  (an exec into it, as a Jenkins sh step)
    manifests.py jenkins FILE
        The sh steps of a Jenkinsfile, one a line (JSON strings).
    manifests.py gitlab OUT FILE JOB [--env K=V]... [--map PATH=DIR]...
        Writes OUT, a bash script running JOB's script then after_script with
        the global and job variables expanded as GitLab does.
    manifests.py gitlab-runner FILE
        The runner config.toml gives every container a restricted security
        context and the pods a seccomp profile.
"""
import json
import os
import re
import shlex
import sys

import yaml

NIB_COMMANDS = {"build", "pull", "push", "tag", "rmi", "images", "inspect", "login", "logout",
                "parse", "info", "run", "prune", "serve", "help"}
NIB_GLOBAL_WITH_VALUE = {"--root", "--log-level", "--log-format"}
NIB_GLOBAL_FLAGS = {"-h", "--help", "-v", "--version"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---- pod specs -----------------------------------------------------------------------

def walk_pod_specs(node, where):
    """Yield (where, pod_spec, kind) for every pod spec below node."""
    if isinstance(node, dict):
        if node.get("kind") == "Task" and "steps" in node.get("spec", {}):
            yield where + "/Task " + node["metadata"]["name"], node["spec"], "task"
            return
        if isinstance(node.get("containers"), list):
            yield where, node, "pod"
            return
        for k, v in node.items():
            name = where
            if isinstance(v, dict) and "kind" in v:
                name = "%s/%s" % (where, v["kind"])
            yield from walk_pod_specs(v, name + "." + k if k not in ("spec", "template") else name)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            sub = where
            if isinstance(v, dict) and "kind" in v:
                sub = "%s/%s %s" % (where, v["kind"], v.get("metadata", {}).get("name", i))
            yield from walk_pod_specs(v, sub)


def merge(a, b):
    """b over a, recursively for dicts (Tekton's stepTemplate)."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def check_container(c, pod_sc, problems, name):
    sc = c.get("securityContext") or {}

    def eff(key):
        return sc[key] if key in sc else pod_sc.get(key)

    if eff("runAsNonRoot") is not True:
        problems.append("%s: runAsNonRoot is not true" % name)
    if eff("runAsUser") == 0:
        problems.append("%s: runAsUser is 0" % name)
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("%s: allowPrivilegeEscalation is not false" % name)
    if sc.get("privileged"):
        problems.append("%s: privileged" % name)
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append("%s: capabilities do not drop ALL" % name)
    extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
    if extra:
        problems.append("%s: capabilities add %s" % (name, sorted(extra)))
    sp = eff("seccompProfile") or {}
    if sp.get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("%s: seccompProfile is %s, not RuntimeDefault or Localhost" %
                        (name, sp.get("type")))
    if sp.get("type") == "Localhost" and not sp.get("localhostProfile"):
        problems.append("%s: Localhost seccompProfile without localhostProfile" % name)
    if (sc.get("procMount") or "Default") != "Default":
        problems.append("%s: procMount %s" % (name, sc["procMount"]))


def cmd_pods(files):
    problems = []
    n = 0
    for path in files:
        for i, doc in enumerate(load(path)):
            for where, spec, kind in walk_pod_specs(doc, "%s[%d]" % (os.path.basename(path), i)):
                n += 1
                if kind == "task":
                    tmpl = spec.get("stepTemplate") or {}
                    conts = [merge(tmpl, s) for s in spec["steps"]]
                    conts += spec.get("sidecars") or []
                    pod_sc = {}
                    vols = spec.get("volumes") or []
                else:
                    conts = (spec.get("initContainers") or []) + spec["containers"]
                    conts += spec.get("ephemeralContainers") or []
                    pod_sc = spec.get("securityContext") or {}
                    vols = spec.get("volumes") or []
                    for h in ("hostNetwork", "hostPID", "hostIPC"):
                        if spec.get(h):
                            problems.append("%s: %s" % (where, h))
                    if pod_sc.get("runAsUser") == 0:
                        problems.append("%s: pod runAsUser is 0" % where)
                names = [c.get("name", "?") for c in conts]
                print("pod spec %s: containers %s" % (where, ", ".join(names)))
                if not conts:
                    problems.append("%s: no containers" % where)
                for c in conts:
                    check_container(c, pod_sc, problems, "%s container %s" % (where, c.get("name")))
                for v in vols:
                    kinds = set(v) - {"name"}
                    if not kinds <= RESTRICTED_VOLUMES:
                        problems.append("%s: volume %s is %s" % (where, v.get("name"), sorted(kinds)))
    if n == 0:
        problems.append("no pod spec found in %s" % " ".join(files))
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


# ---- Tekton --------------------------------------------------------------------------

CATALOG_PARAMS = {"IMAGE", "DOCKERFILE", "CONTEXT", "BUILD_EXTRA_ARGS", "PUSH_EXTRA_ARGS",
                  "TLSVERIFY", "FORMAT", "SKIP_PUSH"}
CATALOG_DEFAULTS = {"CONTEXT": ".", "TLSVERIFY": "true", "FORMAT": "oci", "SKIP_PUSH": "false",
                    "BUILD_EXTRA_ARGS": "", "PUSH_EXTRA_ARGS": ""}
TEKTON_VAR = re.compile(r"\$\((params|workspaces|results|context|steps|tasks)\.")


def cmd_tekton(path):
    problems = []
    tasks = [d for d in load(path) if d.get("kind") == "Task"]
    if len(tasks) != 1:
        problems.append("%s: %d Tasks, expected 1" % (path, len(tasks)))
        tasks = tasks[:1] or [{"spec": {}}]
    spec = tasks[0].get("spec", {})
    params = {p["name"]: p for p in spec.get("params") or []}
    missing = CATALOG_PARAMS - set(params)
    if missing:
        problems.append("params missing: %s" % sorted(missing))
    for k, v in CATALOG_DEFAULTS.items():
        if k in params and params[k].get("default") != v:
            problems.append("param %s default %r, the catalog's is %r" %
                            (k, params[k].get("default"), v))
    if "IMAGE" in params and "default" in params["IMAGE"]:
        problems.append("param IMAGE has a default (the catalog's is required)")
    results = {r["name"] for r in spec.get("results") or []}
    if not {"IMAGE_DIGEST", "IMAGE_URL"} <= results:
        problems.append("results: %s, expected IMAGE_DIGEST and IMAGE_URL" % sorted(results))
    ws = {w["name"]: w for w in spec.get("workspaces") or []}
    if "source" not in ws or ws["source"].get("optional"):
        problems.append("workspace source missing or optional")
    if "dockerconfig" not in ws or not ws["dockerconfig"].get("optional"):
        problems.append("workspace dockerconfig missing or not optional")
    used_params, used_ws, used_results = set(), set(), set()
    for step in spec.get("steps") or []:
        text = step.get("script") or ""
        for m in TEKTON_VAR.finditer(text):
            problems.append("step %s: script uses $(%s...) instead of the environment" %
                            (step.get("name"), m.group(1)))
        for arg in (step.get("command") or []) + (step.get("args") or []):
            if re.search(r"\$\(params\.\w+\)", arg) and step.get("script") is None and \
                    (step.get("command") or [""])[0] in ("sh", "/bin/sh", "bash", "/bin/bash"):
                problems.append("step %s: a param inlined in a shell command" % step.get("name"))
        blob = json.dumps(step)
        used_params |= set(re.findall(r"\$\(params\.(\w+)", blob))
        used_ws |= set(re.findall(r"\$\(workspaces\.(\w+)\.", blob))
        used_results |= set(re.findall(r"\$\(results\.(\w+)\.", blob))
    for p in sorted(set(params) - used_params):
        problems.append("param %s is never used" % p)
    for w in sorted(set(ws) - used_ws):
        problems.append("workspace %s is never used" % w)
    for r in sorted(results - used_results):
        problems.append("result %s is never written" % r)
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


# ---- nib command lines ---------------------------------------------------------------

def nib_line_problems(tokens, where):
    """tokens: what follows `nib`."""
    problems = []
    i = 0
    sub = None
    while i < len(tokens):
        t = tokens[i]
        if t in NIB_GLOBAL_WITH_VALUE:
            i += 2
            continue
        if t.split("=", 1)[0] in NIB_GLOBAL_WITH_VALUE or t in NIB_GLOBAL_FLAGS:
            i += 1
            continue
        if t.startswith("-"):
            problems.append("%s: unknown global option %s before the command" % (where, t))
            i += 1
            continue
        sub = t
        break
    if sub is None:
        if not any(t in NIB_GLOBAL_FLAGS for t in tokens):
            problems.append("%s: no nib command" % where)
        return problems, None
    if sub not in NIB_COMMANDS:
        problems.append("%s: unknown nib command %s" % (where, sub))
    for t in tokens[i + 1:]:
        if t.split("=", 1)[0] in NIB_GLOBAL_WITH_VALUE:
            problems.append("%s: global option %s after the command %s" % (where, t, sub))
    return problems, sub


SHELL_OPS = {"|", "||", "&&", ";", "&", "(", ")", "{", "}", "then", "do", "else", "if", "!",
             "exec", "time"}


def shell_nib_calls(text):
    """Token lists following each `nib` command word in a shell script."""
    text = text.replace("\\\n", " ")
    calls = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
            lex.whitespace_split = True
            lex.commenters = "#"
            toks = list(lex)
        except ValueError:
            continue
        start = True
        cur = None
        for t in toks:
            if cur is not None:
                if t in SHELL_OPS or set(t) <= set(";&|()"):
                    calls.append(cur)
                    cur = None
                    start = True
                    continue
                if t.startswith(">") or t.startswith("<") or t.startswith("2>"):
                    continue
                cur.append(t)
                continue
            if start and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t):
                continue
            if start and t in ("nib", "/usr/bin/nib"):
                cur = []
                continue
            start = t in SHELL_OPS or set(t) <= set(";&|()")
        if cur is not None:
            calls.append(cur)
    return calls


def is_shell(cmd):
    return bool(cmd) and os.path.basename(cmd[0]) in ("sh", "bash") and "-c" in cmd[1:3]


def container_nib_argvs(c, nib_image):
    cmd = c.get("command") or []
    args = [str(a) for a in c.get("args") or []]
    out = []
    if c.get("script"):
        out += shell_nib_calls(c["script"])
    elif is_shell(cmd):
        for a in cmd[2:] + args:
            out += shell_nib_calls(a)
    elif cmd and os.path.basename(cmd[0]) == "nib":
        out.append(cmd[1:] + args)
    elif not cmd and nib_image(c.get("image", "")):
        out.append(args)
    return out


def cmd_nibargv(files):
    problems = []
    n = 0

    def nib_image(img):
        return "nib" in img.lower() or "BUILDER_IMAGE" in img

    def containers(node):
        if isinstance(node, dict):
            if "image" in node and ("args" in node or "command" in node or "script" in node):
                yield node
            for v in node.values():
                yield from containers(v)
        elif isinstance(node, list):
            for v in node:
                yield from containers(v)

    for path in files:
        base = os.path.basename(path)
        if base == "Jenkinsfile":
            calls = []
            for s in jenkins_steps(path):
                calls += shell_nib_calls(s)
        elif base.endswith(".gitlab-ci.yml"):
            calls = []
            for doc in load(path):
                for name, job in doc.items():
                    if isinstance(job, dict):
                        for key in ("before_script", "script", "after_script"):
                            for line in job.get(key) or []:
                                calls += shell_nib_calls(line)
        else:
            calls = []
            for doc in load(path):
                for c in containers(doc):
                    calls += container_nib_argvs(c, nib_image)
        for toks in calls:
            n += 1
            where = "%s: nib %s" % (base, " ".join(toks))
            p, sub = nib_line_problems(toks, where)
            problems += p
            print("nib call %s" % where)
    if n == 0:
        problems.append("no nib command line found")
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


# ---- running a container's command ---------------------------------------------------

def opt_list(argv, name):
    out = []
    i = 0
    while i < len(argv):
        if argv[i] == name:
            out.append(argv[i + 1])
            del argv[i:i + 2]
        else:
            i += 1
    return out


def kv(items):
    out = {}
    for s in items:
        k, _, v = s.partition("=")
        out[k] = v
    return out


def map_paths(s, maps):
    """Replace each mapped absolute path where it starts a path in s."""
    for src in sorted(maps, key=len, reverse=True):
        s = re.sub(r"(?<![\w./-])" + re.escape(src) + r"(?=$|[/\s\"'=:;)])", maps[src], s)
    return s


def k8s_expand(s, env):
    """Kubernetes' $(VAR) expansion of command and args ($$ escapes)."""
    def rep(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", rep, s)


def template_process(doc, params):
    vals = {}
    for p in doc.get("parameters") or []:
        if p["name"] in params:
            vals[p["name"]] = params[p["name"]]
        elif "value" in p:
            vals[p["name"]] = p["value"]
        elif p.get("generate") == "expression":
            vals[p["name"]] = "nib-build-test1"
        elif p.get("required"):
            raise SystemExit("template parameter %s is required" % p["name"])
    text = json.dumps(doc.get("objects") or [])
    for k, v in vals.items():
        text = text.replace("${%s}" % k, json.dumps(v)[1:-1])
    return json.loads(text)


def find_container(docs, name, params):
    def search(node):
        if isinstance(node, dict):
            if node.get("kind") == "Template":
                yield from search(template_process(node, params))
                return
            if node.get("kind") == "Task":
                spec = node["spec"]
                for s in spec["steps"]:
                    yield merge(spec.get("stepTemplate") or {}, s), node, None
                return
            for key in ("initContainers", "containers"):
                for c in node.get(key) or []:
                    if isinstance(c, dict):
                        yield c, None, node
            for v in node.values():
                yield from search(v)
        elif isinstance(node, list):
            for v in node:
                yield from search(v)

    for d in docs:
        for c, task, pod in search(d):
            if c.get("name") == name:
                return c, task, pod
    raise SystemExit("no container %s" % name)


def tekton_subst(s, task, params, workspaces, results):
    spec = task["spec"]
    pdefs = {p["name"]: p for p in spec.get("params") or []}

    def param(n):
        if n in params:
            return params[n]
        if "default" not in pdefs[n]:
            raise SystemExit("Tekton param %s has no value" % n)
        return pdefs[n]["default"]

    def rep(m):
        kind, rest = m.group(1), m.group(2)
        if kind == "params":
            v = param(rest)
            return v if isinstance(v, str) else " ".join(v)
        if kind == "workspaces":
            w, attr = rest.rsplit(".", 1)
            if attr == "bound":
                return "true" if w in workspaces else "false"
            if attr == "path":
                return workspaces.get(w, "")
        if kind == "results":
            r, attr = rest.rsplit(".", 1)
            return results[r]
        raise SystemExit("cannot substitute $(%s.%s)" % (kind, rest))

    return re.sub(r"\$\((params|workspaces|results)\.([\w.\-]+)\)", rep, s), param


def cmd_runner(argv):
    out, path = argv[0], argv[1]
    rest = argv[2:]
    name = opt_list(rest, "--container")[0]
    maps = kv(opt_list(rest, "--map"))
    env_over = kv(opt_list(rest, "--env"))
    params = kv(opt_list(rest, "--param"))
    workspaces = kv(opt_list(rest, "--workspace"))
    results = kv(opt_list(rest, "--result"))
    base_env = kv(opt_list(rest, "--base-env"))
    workdir = opt_list(rest, "--workdir")
    cmd_over = opt_list(rest, "--cmd")
    if rest:
        raise SystemExit("unknown arguments %s" % rest)
    c, task, pod = find_container(load(path), name, params)
    script = c.get("script")
    env = {}
    for e in c.get("env") or []:
        v = e.get("value", "")
        if task is not None:
            v, _ = tekton_subst(v, task, params, workspaces, results)
        env[e["name"]] = map_paths(k8s_expand(v, env), maps)
    env.update(env_over)
    full_env = {k: map_paths(v, maps) for k, v in base_env.items()}
    full_env.update(env)
    cmd = [str(x) for x in c.get("command") or []]
    args = [str(x) for x in c.get("args") or []]
    if task is not None:
        pdefs = {p["name"]: p for p in task["spec"].get("params") or []}
        new = []
        for a in args:
            m = re.fullmatch(r"\$\(params\.(\w+)\[\*\]\)", a)
            if m:
                v = params.get(m.group(1))
                v = v.split(",") if v else (pdefs[m.group(1)].get("default") or [])
                new += [x for x in v]
            else:
                new.append(tekton_subst(a, task, params, workspaces, results)[0])
        args = new
    cmd = [map_paths(k8s_expand(x, env), maps) for x in cmd]
    args = [map_paths(k8s_expand(x, env), maps) for x in args]
    wd = c.get("workingDir") or base_env.get("WORKDIR", "/")
    if task is not None:
        wd = tekton_subst(wd, task, params, workspaces, results)[0]
    wd = map_paths(wd, maps)
    if workdir:
        wd = workdir[0]
    full_env.pop("WORKDIR", None)
    lines = ["#!/bin/bash", "# container %s of %s" % (name, path), "cd %s || exit 125" %
             shlex.quote(wd)]
    if cmd_over:
        argv_run = cmd_over
    elif script is not None:
        sfile = out + ".script"
        with open(sfile, "w") as f:
            f.write(script)
        os.chmod(sfile, 0o755)
        argv_run = [sfile] + args
    else:
        if not cmd:
            cmd = ["nib"]
        argv_run = cmd + args
    lines.append("exec env -i " + " ".join(shlex.quote("%s=%s" % kvp) for kvp in
                                           sorted(full_env.items())) +
                 " " + " ".join(shlex.quote(a) for a in argv_run))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(out, 0o755)
    return 0


# ---- Jenkins, GitLab -----------------------------------------------------------------

def jenkins_steps(path):
    with open(path) as f:
        text = f.read()
    return [m.group(1) for m in re.finditer(r"\bsh\s*\(?\s*'([^']*)'", text)]


def cmd_jenkins(path):
    steps = jenkins_steps(path)
    if not steps:
        print("PROBLEM no sh step in %s" % path)
        return 1
    for s in steps:
        print(json.dumps(s))
    return 0


def gitlab_expand(s, env):
    def rep(m):
        n = m.group(1) or m.group(2)
        return env.get(n, "")
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", rep, s)


def cmd_gitlab(argv):
    out, path, jobname = argv[0], argv[1], argv[2]
    rest = argv[3:]
    env = kv(opt_list(rest, "--env"))
    maps = kv(opt_list(rest, "--map"))
    doc = load(path)[0]
    job = doc[jobname]
    for scope in (doc.get("variables") or {}, job.get("variables") or {}):
        for k, v in scope.items():
            if isinstance(v, dict):
                v = v.get("value", "")
            if k not in env or scope is job.get("variables"):
                env[k] = map_paths(gitlab_expand(str(v), env), maps)
    lines = ["#!/bin/bash", "# job %s of %s" % (jobname, path)]
    for k, v in sorted(env.items()):
        lines.append("export %s=%s" % (k, shlex.quote(v)))
    lines.append('cd "$CI_PROJECT_DIR" || exit 125')
    lines.append("(")
    lines.append("set -eo pipefail")
    for line in (job.get("before_script") or []) + job["script"]:
        lines.append(line)
    lines.append(")")
    lines.append("status=$?")
    for line in job.get("after_script") or []:
        lines.append("(" + line + ")")
    lines.append("exit $status")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(out, 0o755)
    return 0


def cmd_gitlab_runner(path):
    import tomllib
    with open(path, "rb") as f:
        conf = tomllib.load(f)
    problems = []
    runners = conf.get("runners") or []
    if not runners:
        problems.append("no [[runners]]")
    for r in runners:
        k = r.get("kubernetes") or {}
        if r.get("executor") != "kubernetes":
            problems.append("runner %s: executor %s" % (r.get("name"), r.get("executor")))
        if k.get("privileged"):
            problems.append("runner %s: privileged" % r.get("name"))
        pod = k.get("pod_security_context") or {}
        if pod.get("run_as_non_root") is not True:
            problems.append("pod_security_context: run_as_non_root is not true")
        if pod.get("run_as_user") == 0:
            problems.append("pod_security_context: run_as_user 0")
        for cname in ("build", "helper", "service", "init_permissions"):
            sc = k.get(cname + "_container_security_context") or {}
            if sc.get("allow_privilege_escalation") is not False:
                problems.append("%s container: allow_privilege_escalation is not false" % cname)
            if sc.get("privileged"):
                problems.append("%s container: privileged" % cname)
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append("%s container: capabilities do not drop ALL" % cname)
            if sc.get("run_as_non_root") is False:
                problems.append("%s container: run_as_non_root false" % cname)
        seccomp = None
        for p in k.get("pod_spec") or []:
            patch = yaml.safe_load(p.get("patch", ""))
            sp = ((patch or {}).get("securityContext") or {}).get("seccompProfile") or {}
            if sp:
                seccomp = sp.get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("no pod_spec patch sets a RuntimeDefault or Localhost seccomp profile")
        if seccomp and not (r.get("feature_flags") or {}).get(
                "FF_USE_ADVANCED_POD_SPEC_CONFIGURATION"):
            problems.append("pod_spec patches need FF_USE_ADVANCED_POD_SPEC_CONFIGURATION")
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, argv = sys.argv[1], sys.argv[2:]
    if cmd == "pods":
        return cmd_pods(argv)
    if cmd == "tekton":
        return cmd_tekton(argv[0])
    if cmd == "nibargv":
        return cmd_nibargv(argv)
    if cmd == "runner":
        return cmd_runner(argv)
    if cmd == "jenkins":
        return cmd_jenkins(argv[0])
    if cmd == "gitlab":
        return cmd_gitlab(argv)
    if cmd == "gitlab-runner":
        return cmd_gitlab_runner(argv[0])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
