#!/usr/bin/env python3
"""Checks of deploy/seccomp against Docker's default profile and nib's sources.

    seccomp_check.py profile DEFAULT_JSON NIB_JSON NAME...
        NIB_JSON is DEFAULT_JSON resolved for an empty capability set plus
        one rule allowing exactly NAME... (and nothing else changed).
    seccomp_check.py sources NIB_JSON DEFAULT_JSON SRC_DIR
        Every system call nib's C sources make that DEFAULT_JSON allows only
        with a capability (or never) is allowed by NIB_JSON's own rule, and
        every call of that rule is made somewhere in the sources.
    seccomp_check.py spo NIB_JSON SECCOMPPROFILE_YAML
        The Security Profiles Operator's SeccompProfile carries NIB_JSON's
        rules for amd64 and arm64 nodes.
    seccomp_check.py oci NIB_JSON
        NIB_JSON as an OCI runtime config's linux.seccomp for this machine's
        architecture (what containerd and CRI-O hand to runc).
Each prints its problems, one a line, and exits 1 when there is one.

The resolution is written here again, independently of
deploy/seccomp/generate.py, so that a mistake in one shows against the other.
"""
import json
import os
import platform
import re
import sys

# calls the default profile does not allow at all, that a builder may make
NEVER_ALLOWED = {"pivot_root", "chroot", "keyctl", "add_key", "request_key", "userfaultfd",
                 "kexec_load", "swapon", "swapoff"}


def norm(rule):
    """A rule without the fields that do not change what it does."""
    r = {"names": list(rule["names"]), "action": rule["action"]}
    if rule.get("args"):
        r["args"] = rule["args"]
    if "errnoRet" in rule:
        r["errnoRet"] = rule["errnoRet"]
    for k in ("includes", "excludes"):
        v = {a: b for a, b in (rule.get(k) or {}).items() if b}
        if v:
            r[k] = v
    return r


def resolve_no_caps(default):
    rules = []
    for rule in default["syscalls"]:
        inc = dict(rule.get("includes") or {})
        exc = dict(rule.get("excludes") or {})
        if inc.get("caps"):
            continue  # needs a capability the container does not hold
        exc.pop("caps", None)  # applies unless a capability is held: always
        inc.pop("minKernel", None)  # every kernel nib runs on is newer
        r = dict(rule)
        r["includes"], r["excludes"] = inc, exc
        rules.append(norm(r))
    return rules


def load(path):
    with open(path) as f:
        return json.load(f)


def cmd_profile(default_path, nib_path, names):
    default, nib = load(default_path), load(nib_path)
    problems = []
    for k in ("defaultAction", "defaultErrnoRet", "archMap"):
        if default.get(k) != nib.get(k):
            problems.append("%s differs from the default profile's" % k)
    extra = set(nib) - set(default)
    if extra:
        problems.append("keys the default profile does not have: %s" % sorted(extra))
    want = resolve_no_caps(default)
    have = [norm(r) for r in nib["syscalls"]]
    if len(have) != len(want) + 1:
        problems.append("%d rules, expected the default's %d (resolved) plus nib's one" %
                        (len(have), len(want)))
    for i, (w, h) in enumerate(zip(want, have)):
        if w != h:
            problems.append("rule %d differs from the resolved default: %s != %s" %
                            (i, json.dumps(h)[:200], json.dumps(w)[:200]))
    if have:
        last = have[-1]
        if sorted(last["names"]) != sorted(names):
            got, exp = set(last["names"]), set(names)
            problems.append("nib's rule allows %s; missing %s, extra %s" %
                            (sorted(got), sorted(exp - got), sorted(got - exp)))
        if last["action"] != "SCMP_ACT_ALLOW" or set(last) != {"names", "action"}:
            problems.append("nib's rule is not an unconditional allow: %s" % json.dumps(last))
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


def strip_c(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\\n])'", "''", text)
    return text


def calls_in_sources(src_dir, candidates):
    found = {}
    for sub in ("builder", "storage", "registry", "common", "containerfile"):
        d = os.path.join(src_dir, sub)
        for root, _, files in os.walk(d):
            for fn in files:
                # the ptrace executor's tables name the calls a traced RUN
                # step makes, in a pod's own profile; nib makes none of them
                if not fn.endswith(".c") or fn.startswith("ptrace_"):
                    continue
                path = os.path.join(root, fn)
                with open(path, errors="replace") as f:
                    text = strip_c(f.read())
                for name in candidates:
                    pat = r"(?<![\w>.])(?:%s\s*\(|SYS_%s\b|__NR_%s\b)" % (
                        re.escape(name), re.escape(name), re.escape(name))
                    if re.search(pat, text):
                        found.setdefault(name, []).append(os.path.relpath(path, src_dir))
    return found


def cmd_sources(nib_path, default_path, src_dir):
    default, nib = load(default_path), load(nib_path)
    unconditional = set()
    gated = set()
    for rule in default["syscalls"]:
        inc = rule.get("includes") or {}
        if inc.get("caps"):
            gated |= set(rule["names"])
        elif not rule.get("args") and rule["action"] == "SCMP_ACT_ALLOW" and \
                not inc.get("arches") and not (rule.get("excludes") or {}).get("arches"):
            unconditional |= set(rule["names"])
    # the ptrace isolation reads a traced process's memory with these and
    # falls back to /proc/PID/mem where the profile refuses them
    candidates = (gated | NEVER_ALLOWED) - unconditional - {"process_vm_readv", "process_vm_writev"}
    added = set(nib["syscalls"][-1]["names"])
    found = calls_in_sources(src_dir, candidates | added)
    problems = []
    for name in sorted(set(found) - added):
        if name in candidates:
            problems.append("%s (in %s) needs a capability under the default profile and is "
                            "not in nib.json's rule" % (name, ", ".join(found[name])))
    for name in sorted(added - set(found)):
        problems.append("nib.json allows %s, which nib's sources never call" % name)
    for name in sorted(found):
        print("call %s: %s" % (name, ", ".join(sorted(set(found[name])))))
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


def cmd_spo(nib_path, yaml_path):
    import yaml
    nib = load(nib_path)
    with open(yaml_path) as f:
        doc = yaml.safe_load(f)
    problems = []
    if doc.get("apiVersion") != "security-profiles-operator.x-k8s.io/v1beta1" or \
            doc.get("kind") != "SeccompProfile":
        problems.append("not a security-profiles-operator.x-k8s.io/v1beta1 SeccompProfile")
    spec = doc.get("spec") or {}
    if spec.get("defaultAction") != nib["defaultAction"]:
        problems.append("defaultAction differs")
    arches = []
    for m in nib["archMap"]:
        if m["architecture"] in ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"):
            arches += [m["architecture"]] + m["subArchitectures"]
    if spec.get("architectures") != arches:
        problems.append("architectures %s, expected %s" % (spec.get("architectures"), arches))
    node = {"amd64", "x86", "x32", "arm64", "arm"}
    want = []
    for r in nib["syscalls"]:
        inc = set((r.get("includes") or {}).get("arches") or [])
        exc = set((r.get("excludes") or {}).get("arches") or [])
        if inc and not inc & node:
            continue
        if exc and node <= exc:
            continue
        w = {"action": r["action"], "names": r["names"]}
        if r.get("args"):
            w["args"] = r["args"]
        if "errnoRet" in r:
            w["errnoRet"] = r["errnoRet"]
        want.append(w)
    have = spec.get("syscalls") or []
    if have != want:
        problems.append("syscalls differ from nib.json's (%d rules, expected %d)" %
                        (len(have), len(want)))
        for i, (a, b) in enumerate(zip(have, want)):
            if a != b:
                problems.append("rule %d: %s != %s" % (i, json.dumps(a)[:200],
                                                       json.dumps(b)[:200]))
                break
    for p in problems:
        print("PROBLEM " + p)
    return 1 if problems else 0


def kernel_at_least(version):
    want = [int(x) for x in version.split(".")[:2]]
    have = [int(x) for x in platform.release().split("-")[0].split(".")[:2]]
    return have >= want


def cmd_oci(nib_path):
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
    native = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}.get(arch)
    if not native:
        print("PROBLEM no mapping for %s" % platform.machine())
        return 1
    prof = load(nib_path)
    out = {"defaultAction": prof["defaultAction"], "architectures": [], "syscalls": []}
    if "defaultErrnoRet" in prof:
        out["defaultErrnoRet"] = prof["defaultErrnoRet"]
    for m in prof["archMap"]:
        if m["architecture"] == native:
            out["architectures"] = [m["architecture"]] + m["subArchitectures"]
    for r in prof["syscalls"]:
        inc = r.get("includes") or {}
        exc = r.get("excludes") or {}
        if inc.get("caps"):
            continue  # a container without capabilities
        if inc.get("minKernel") and not kernel_at_least(inc["minKernel"]):
            continue  # as runc does: the rule applies from that kernel on
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        s = {"names": r["names"], "action": r["action"]}
        if r.get("args"):
            s["args"] = r["args"]
        if "errnoRet" in r:
            s["errnoRet"] = r["errnoRet"]
        out["syscalls"].append(s)
    json.dump(out, sys.stdout)
    return 0


def main():
    a = sys.argv[1:]
    if a and a[0] == "profile" and len(a) >= 3:
        return cmd_profile(a[1], a[2], a[3:])
    if a and a[0] == "sources" and len(a) == 4:
        return cmd_sources(a[1], a[2], a[3])
    if a and a[0] == "spo" and len(a) == 3:
        return cmd_spo(a[1], a[2])
    if a and a[0] == "oci" and len(a) == 2:
        return cmd_oci(a[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
