#!/usr/bin/python3
"""Write deploy/seccomp/nib.json and deploy/seccomp/seccompprofile.yaml.

nib.json is the Docker/containerd default seccomp profile (what Kubernetes'
RuntimeDefault applies under containerd) resolved for a container that holds
no capability at all (a restricted pod drops ALL), plus exactly the calls nib
makes to set up a RUN step's user namespace, mounts and root: NIB_CALLS below.
Nothing else changes, so the profile is as strict as RuntimeDefault for every
other program in the pod.

Resolving for an empty capability set: a rule that applies only with some
capability ("includes": {"caps": [...]}) is dropped; a rule that applies
unless a capability is held ("excludes": {"caps": [...]}) always applies, so
its condition is dropped. "minKernel" conditions are dropped too (every kernel
nib supports is newer). Architecture conditions stay: containerd and CRI-O
read this format (archMap, includes/excludes "arches") for Localhost profiles.

seccompprofile.yaml carries the same rules for the Security Profiles Operator,
whose SeccompProfile has no per-rule conditions: rules limited to other
architectures than x86_64 and aarch64 (and their 32-bit modes) are left out.

  deploy/seccomp/generate.py [DEFAULT_JSON [OUT_DIR]]

DEFAULT_JSON defaults to Debian's golang-github-docker-docker-dev copy.
"""
import copy
import json
import os
import sys

DEFAULT_JSON = "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json"

# The calls a RUN step's setup makes that the default profile allows only
# with CAP_SYS_ADMIN (or never), with the nib source that makes them.
NIB_CALLS = {
    "clone": "builder/runtime.c: the step's namespaces (CLONE_NEWUSER, NEWNS, NEWPID, "
    "NEWIPC, NEWUTS, NEWCGROUP, NEWNET for --network none)",
    "unshare": "builder/build_exec.c, storage/rootfs_overlay.c, builder/runtime_probe.c: "
    "the build's user and mount namespaces and the probes of 'nib info'",
    "mount": "builder/runtime_setup.c, storage/rootfs_overlay.c: overlay, proc, sysfs, tmpfs, "
    "devpts, mqueue and bind mounts inside the user namespace",
    "umount2": "builder/runtime_setup.c, storage/rootfs_overlay.c: the old root after "
    "pivot_root, a rootfs after its step",
    "pivot_root": "builder/runtime_setup.c: the step's root",
    "sethostname": "builder/runtime_setup.c: the step's own UTS namespace",
    "mount_setattr": "builder/runtime_setup.c: read-only and nosuid bind mounts",
    "fsopen": "storage/rootfs_overlay.c: overlay with many lower layers (lowerdir+)",
    "fsconfig": "storage/rootfs_overlay.c: overlay with many lower layers (lowerdir+)",
    "fsmount": "storage/rootfs_overlay.c: overlay with many lower layers (lowerdir+)",
    "move_mount": "storage/rootfs_overlay.c: overlay with many lower layers (lowerdir+)",
    "open_tree": "storage/rootfs_overlay.c: the detached copy of the mount tree that "
    "fuse-overlayfs gets as its root",
    "chroot": "storage/rootfs_overlay.c: fuse-overlayfs's root, that copy",
}

NIB_COMMENT = ("nib: user namespace, mounts and root of a RUN step, without CAP_SYS_ADMIN "
               "(deploy/seccomp/generate.py lists where nib makes each call)")

# Docker's names for the architectures of SPO's profile (amd64 and arm64
# nodes, with their 32-bit compat modes).
SPO_ARCHES = {"amd64", "x86", "x32", "arm64", "arm"}


def resolve(default):
    """The profile resolved for an empty capability set, as described above."""
    out = copy.deepcopy(default)
    rules = []
    for rule in out["syscalls"]:
        inc = rule.get("includes") or {}
        exc = rule.get("excludes") or {}
        if inc.get("caps"):
            continue
        inc.pop("minKernel", None)
        exc.pop("caps", None)
        for k, v in (("includes", inc), ("excludes", exc)):
            if v:
                rule[k] = v
            else:
                rule.pop(k, None)
        rules.append(rule)
    out["syscalls"] = rules
    return out


def nib_profile(default):
    prof = resolve(default)
    prof["syscalls"].append({
        "names": sorted(NIB_CALLS),
        "action": "SCMP_ACT_ALLOW",
        "args": [],
        "comment": NIB_COMMENT,
    })
    return prof


def spo_rules(prof):
    """The rules of a resolved profile that apply on amd64/arm64 nodes, in
    the SeccompProfile form (no conditions, no comments)."""
    rules = []
    for rule in prof["syscalls"]:
        inc = rule.get("includes", {}).get("arches")
        exc = rule.get("excludes", {}).get("arches")
        if inc and not SPO_ARCHES & set(inc):
            continue
        if exc and SPO_ARCHES <= set(exc):
            continue
        r = {"action": rule["action"], "names": rule["names"]}
        if rule.get("args"):
            r["args"] = rule["args"]
        if "errnoRet" in rule:
            r["errnoRet"] = rule["errnoRet"]
        rules.append(r)
    return rules


def spo_arches(prof):
    out = []
    for m in prof["archMap"]:
        if m["architecture"] in ("SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"):
            out += [m["architecture"]] + m["subArchitectures"]
    return out


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v)


def spo_yaml(prof):
    lines = [
        "# The Security Profiles Operator's copy of nib.json (generated by",
        "# deploy/seccomp/generate.py; do not edit). Pods use it as",
        "#   seccompProfile: {type: Localhost, localhostProfile: operator/nib.json}",
        "apiVersion: security-profiles-operator.x-k8s.io/v1beta1",
        "kind: SeccompProfile",
        "metadata:",
        "  name: nib",
        "spec:",
        "  defaultAction: " + prof["defaultAction"],
        "  architectures:",
    ]
    lines += ["    - " + a for a in spo_arches(prof)]
    lines.append("  syscalls:")
    for r in spo_rules(prof):
        lines.append("    - action: " + r["action"])
        if "errnoRet" in r:
            lines.append("      errnoRet: %d" % r["errnoRet"])
        lines.append("      names:")
        lines += ["        - " + n for n in r["names"]]
        if r.get("args"):
            lines.append("      args:")
            for a in r["args"]:
                first = True
                for k in ("index", "value", "valueTwo", "op"):
                    if k in a:
                        lines.append(("        - " if first else "          ") + k + ": " +
                                     yaml_scalar(a[k]))
                        first = False
    return "\n".join(lines) + "\n"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_JSON
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    with open(src) as f:
        default = json.load(f)
    prof = nib_profile(default)
    with open(os.path.join(out, "nib.json"), "w") as f:
        json.dump(prof, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "seccompprofile.yaml"), "w") as f:
        f.write(spo_yaml(prof))


if __name__ == "__main__":
    main()
