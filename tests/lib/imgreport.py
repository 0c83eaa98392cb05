#!/usr/bin/env python3
"""Normalized reports of container images, and their comparison.

    imgreport.py report SRC [-o FILE]
        SRC: oci:DIR[:REF] | docker-archive:FILE | dir:DIR | a path (an OCI
        layout folder, a docker-archive file or a `dir:` folder). Writes a
        JSON report: the image config (Docker keys), the history and, per
        layer, one entry per path: type, uid, gid, mode, size, sha256 of the
        content, link target, device numbers, xattrs; plus "merged", the
        final tree after whiteouts.
    imgreport.py compare A B [--merged-only] [--ignore-config KEY]...
                               [--ignore-path GLOB[:ATTR]]... [--no-builder-noise]
        Prints every difference, one per line, and exits 1 when there is one.
        By default the config, the number of layers and each layer's listing
        are compared; after a layer-count mismatch the merged trees are.
    imgreport.py get REPORT KEY       print config KEY (JSON) or, with
                                      KEY=/path, the merged entry of that path
    imgreport.py show REPORT          a readable listing of the report

A layer is listed by its effect on the tree below it: the entries it adds
or changes and the paths it deletes, whatever form its tar gives them
(whiteout files or an opaque folder, unchanged parents repeated or not, a
hard link or the file written again). Mtimes are left out. With --no-builder-noise, entries
that a builder leaves behind from its RUN set-up are left out too:
empty /etc/hostname, /etc/hosts, /etc/resolv.conf and an empty /run (buildah
chroot isolation creates these when the image lacks them).
"""
import fnmatch
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

DROP_LABELS = {"io.buildah.version"}
CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
               "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild")
TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
         tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
         tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}
NOISE_FILES = ("etc/hostname", "etc/hosts", "etc/resolv.conf")
NOISE_DIRS = ("run",)


# ---- reading images -------------------------------------------------------

class Image:
    def __init__(self):
        self.kind = ""
        self.manifest_type = ""
        self.config = b"{}"
        self.layers = []  # callables returning a readable file object


def _open_blob(root, digest):
    alg, hexd = digest.split(":", 1)
    for p in (os.path.join(root, "blobs", alg, hexd), os.path.join(root, hexd)):
        if os.path.exists(p):
            return p
    raise SystemExit("imgreport: %s: blob %s is missing" % (root, digest))


def _pick(manifests, ref):
    if ref:
        names = [((m.get("annotations") or {}).get("org.opencontainers.image.ref.name") or "", m)
                 for m in manifests]
        for want in (ref, ref + ":latest"):
            for n, m in names:
                if n == want or n.endswith("/" + want):
                    return m
        raise SystemExit("imgreport: no image named %r in the layout" % ref)
    if len(manifests) != 1:
        raise SystemExit("imgreport: the layout holds %d images: name one (oci:DIR:REF)" % len(manifests))
    return manifests[0]


def load_oci(root, ref):
    img = Image()
    img.kind = "oci"
    idx = json.load(open(os.path.join(root, "index.json")))
    desc = _pick(idx.get("manifests") or [], ref)
    man = json.load(open(_open_blob(root, desc["digest"])))
    while "manifests" in man:
        man = json.load(open(_open_blob(root, man["manifests"][0]["digest"])))
    img.manifest_type = man.get("mediaType") or desc.get("mediaType") or ""
    img.config = open(_open_blob(root, man["config"]["digest"]), "rb").read()
    img.layers = [(lambda p=_open_blob(root, layer["digest"]): _open_layer(p)) for layer in man.get("layers") or []]
    return img


def _open_layer(path):
    """A layer blob as a readable tar stream; zstd goes through zstd(1),
    gzip through the gzip module (Python's tarfile reads bzip2 and xz)."""
    f = open(path, "rb")
    magic = f.read(4)
    f.seek(0)
    if magic == b"\x28\xb5\x2f\xfd":
        f.close()
        p = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True)
        return io.BytesIO(p.stdout)
    if magic[:2] == b"\x1f\x8b":
        # gzip.GzipFile reads every member of a multi-member gzip (tarfile's
        # own stream reader stops after the first)
        return gzip.GzipFile(fileobj=f, mode="rb")
    return f


def load_dir(root):
    img = Image()
    img.kind = "dir"
    man = json.load(open(os.path.join(root, "manifest.json")))
    img.manifest_type = man.get("mediaType") or ""
    img.config = open(_open_blob(root, man["config"]["digest"]), "rb").read()
    img.layers = [(lambda p=_open_blob(root, layer["digest"]): _open_layer(p)) for layer in man.get("layers") or []]
    return img


def load_docker_archive(path):
    img = Image()
    img.kind = "docker-archive"
    img.manifest_type = "docker-archive"
    tf = tarfile.open(path, "r:")
    man = json.load(tf.extractfile("manifest.json"))[0]
    img.config = tf.extractfile(man["Config"]).read()

    def member(name):
        return lambda: tf.extractfile(name)

    img.layers = [member(layer) for layer in man["Layers"]]
    return img


def load(src):
    if src.startswith("oci:"):
        rest = src[4:]
        ref = None
        if not os.path.isdir(rest) and ":" in rest:
            rest, ref = rest.split(":", 1)
        return load_oci(rest, ref)
    if src.startswith("docker-archive:"):
        return load_docker_archive(src.split(":", 2)[1])
    if src.startswith("dir:"):
        return load_dir(src[4:])
    if os.path.isdir(src):
        if os.path.exists(os.path.join(src, "index.json")):
            return load_oci(src, None)
        return load_dir(src)
    if os.path.isfile(src):
        return load_docker_archive(src)
    raise SystemExit("imgreport: %s: not an image" % src)


# ---- normalizing ----------------------------------------------------------

def _empty(v):
    return v is None or v == "" or v == [] or v == {}


def norm_config(raw):
    c = json.loads(raw)
    cc = c.get("config") or {}
    out = {"architecture": c.get("architecture"), "os": c.get("os")}
    if c.get("variant"):
        out["variant"] = c["variant"]
    if c.get("author"):
        out["author"] = c["author"]
    for k in CONFIG_KEYS:
        v = cc.get(k)
        if k == "Labels" and v:
            v = {a: b for a, b in v.items() if a not in DROP_LABELS}
        if k == "Healthcheck" and v:
            v = {a: b for a, b in v.items() if not _empty(b) and b != 0}
        if not _empty(v):
            out[k] = v
    hist = [{"created_by": h.get("created_by", ""), "empty_layer": bool(h.get("empty_layer"))}
            for h in c.get("history") or []]
    return out, hist, len((c.get("rootfs") or {}).get("diff_ids") or [])


def _path(name):
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/").rstrip("/")
    return name or "."


def list_layer(fobj):
    entries = []
    with tarfile.open(fileobj=fobj, mode="r|*") as tf:
        for ti in tf:
            e = {"path": _path(ti.name), "type": TYPES.get(ti.type, "type-%r" % ti.type),
                 "uid": ti.uid, "gid": ti.gid, "mode": "%04o" % (ti.mode & 0o7777)}
            if ti.isreg():
                h = hashlib.sha256()
                f = tf.extractfile(ti)
                n = 0
                for b in iter(lambda: f.read(1 << 20), b""):
                    h.update(b)
                    n += len(b)
                e["size"] = n
                e["sha256"] = h.hexdigest()
            if ti.issym():
                e["link"] = ti.linkname
            if ti.islnk():
                e["link"] = _path(ti.linkname)
            if ti.ischr() or ti.isblk():
                e["dev"] = "%d,%d" % (ti.devmajor, ti.devminor)
            xa = {}
            for k, v in (ti.pax_headers or {}).items():
                if k.startswith("SCHILY.xattr."):
                    xa[k[len("SCHILY.xattr."):]] = v.encode("utf-8", "surrogateescape").hex()
            if xa:
                e["xattrs"] = xa
            entries.append(e)
    entries.sort(key=lambda e: e["path"])
    return entries


def _drop_subtree(fs, p):
    pre = p + "/"
    for k in [k for k in fs if k == p or k.startswith(pre)]:
        del fs[k]


def apply_layer(fs, entries):
    """Apply a layer listing to the merged tree dict (image-spec layer.md:
    whiteouts, opaque whiteouts, a non-folder replacing a folder)."""
    for e in entries:
        p = e["path"]
        parent, base = os.path.split(p)
        if base == ".wh..wh..opq":
            pre = parent + "/" if parent else ""
            for k in [k for k in fs if k.startswith(pre) and k != parent]:
                del fs[k]
            continue
        if base.startswith(".wh."):
            _drop_subtree(fs, os.path.join(parent, base[4:]))
            continue
        old = fs.get(p)
        if old and old["type"] == "dir" and e["type"] != "dir":
            _drop_subtree(fs, p)
        fs[p] = e


def _resolve_hardlinks(ents, fs):
    """A hard link stands for its target's content: tools differ in whether
    they write a link or the file again (a link to a lower layer's file)."""
    here = {e["path"]: e for e in ents}
    out = []
    for e in ents:
        if e["type"] == "hardlink":
            t = here.get(e["link"]) or fs.get(e["link"])
            if t is not None and t["type"] != "hardlink":
                e = dict(t, path=e["path"])
        out.append(e)
    return out


def report(src):
    """Each layer is listed by its effect: the entries it adds or changes
    (an entry equal to the one below is no change) and the paths it deletes
    ({"type": "deleted"}), whatever the tar says it with (whiteouts or an
    opaque folder, a repeated parent folder)."""
    img = load(src)
    conf, hist, ndiff = norm_config(img.config)
    layers, fs = [], {}
    for opener in img.layers:
        with opener() as f:
            ents = [e for e in list_layer(f) if e["path"] != "."]
        ents = _resolve_hardlinks(ents, fs)
        new = dict(fs)
        apply_layer(new, ents)
        changes = [new[p] for p in sorted(new) if fs.get(p) != new[p]]
        for p in sorted(set(fs) - set(new)):
            parent = os.path.dirname(p)
            if parent == "" or (parent in new and new[parent]["type"] == "dir"):
                changes.append({"path": p, "type": "deleted", "uid": 0, "gid": 0, "mode": "0000"})
        changes.sort(key=lambda e: e["path"])
        layers.append(changes)
        fs = new
    return {"source": src, "kind": img.kind, "manifest_type": img.manifest_type, "config": conf,
            "history": hist, "diff_ids": ndiff, "layers": layers,
            "merged": [fs[k] for k in sorted(fs)]}


# ---- comparing ------------------------------------------------------------

def entry_text(e):
    if e["type"] == "deleted":
        return "%s deleted" % e["path"]
    s = "%s %s %d:%d %s" % (e["path"], e["type"], e["uid"], e["gid"], e["mode"])
    if "size" in e:
        s += " size=%d sha256=%s" % (e["size"], e["sha256"][:12])
    if "link" in e:
        s += " -> %s" % e["link"]
    if "dev" in e:
        s += " dev=%s" % e["dev"]
    if "xattrs" in e:
        s += " xattrs=%s" % ",".join("%s=%s" % kv for kv in sorted(e["xattrs"].items()))
    return s


def _noise(e, layer):
    if e["path"] in NOISE_FILES and e["type"] == "file" and e.get("size") == 0:
        return True
    if e["path"] in NOISE_DIRS and e["type"] == "dir":
        return not any(x["path"].startswith(e["path"] + "/") for x in layer)
    return False


def _filter(entries, ignores, noise):
    out = {}
    for e in entries:
        if noise and _noise(e, entries):
            continue
        e = dict(e)
        drop = False
        for glob, attr in ignores:
            if fnmatch.fnmatchcase(e["path"], glob):
                if attr is None:
                    drop = True
                    break
                e.pop(attr, None)
                if attr == "sha256":
                    e.pop("size", None)
        if not drop:
            out[e["path"]] = e
    return out


def diff_listing(where, la, lb, ignores, noise, problems):
    fa, fb = _filter(la, ignores, noise), _filter(lb, ignores, noise)
    for p in sorted(set(fa) | set(fb)):
        a, b = fa.get(p), fb.get(p)
        if b is None:
            problems.append("%s: only in A: %s" % (where, entry_text(a)))
        elif a is None:
            problems.append("%s: only in B: %s" % (where, entry_text(b)))
        elif a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            problems.append("%s: %s: %s" % (where, p, "; ".join(
                "%s A=%s B=%s" % (k, a.get(k), b.get(k)) for k in keys)))


def compare(a, b, merged_only=False, ignore_config=(), ignore_paths=(), noise=False):
    problems = []
    ca, cb = a["config"], b["config"]
    for k in sorted(set(ca) | set(cb)):
        if k in ignore_config:
            continue
        if ca.get(k) != cb.get(k):
            problems.append("config %s: A=%s B=%s" % (k, json.dumps(ca.get(k), sort_keys=True),
                                                       json.dumps(cb.get(k), sort_keys=True)))
    ignores = []
    for s in ignore_paths:
        glob, _, attr = s.lstrip("/").partition(":")
        ignores.append((glob, attr or None))
    if not merged_only:
        if len(a["layers"]) != len(b["layers"]):
            problems.append("layers: A has %d, B has %d (comparing the merged trees)" %
                            (len(a["layers"]), len(b["layers"])))
            merged_only = True
        else:
            for i, (la, lb) in enumerate(zip(a["layers"], b["layers"])):
                diff_listing("layer %d" % i, la, lb, ignores, noise, problems)
    if merged_only:
        diff_listing("merged", a["merged"], b["merged"], ignores, noise, problems)
    return problems


# ---- command line ---------------------------------------------------------

def _load_report(p):
    with open(p) as f:
        return json.load(f)


def main(argv):
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    cmd, args = argv[0], argv[1:]
    if cmd == "report":
        out = None
        if "-o" in args:
            i = args.index("-o")
            out = args[i + 1]
            del args[i:i + 2]
        r = report(args[0])
        text = json.dumps(r, sort_keys=True, indent=0) + "\n"
        if out:
            tmp = out + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, out)
        else:
            sys.stdout.write(text)
        return 0
    if cmd == "compare":
        files, ic, ip, merged, noise = [], [], [], False, False
        i = 0
        while i < len(args):
            x = args[i]
            if x == "--merged-only":
                merged = True
            elif x == "--no-builder-noise":
                noise = True
            elif x == "--ignore-config":
                i += 1
                ic.append(args[i])
            elif x == "--ignore-path":
                i += 1
                ip.append(args[i])
            else:
                files.append(x)
            i += 1
        if len(files) != 2:
            sys.stderr.write("imgreport: compare takes two reports\n")
            return 2
        probs = compare(_load_report(files[0]), _load_report(files[1]), merged, ic, ip, noise)
        for p in probs:
            print(p)
        return 1 if probs else 0
    if cmd == "get":
        r = _load_report(args[0])
        key = args[1]
        if key.startswith("/"):
            p = _path(key)
            for e in r["merged"]:
                if e["path"] == p:
                    print(entry_text(e))
                    return 0
            return 1
        if key == "layers":
            print(len(r["layers"]))
            return 0
        if key not in r["config"]:
            print("null")
            return 1
        print(json.dumps(r["config"][key], sort_keys=True))
        return 0
    if cmd == "show":
        r = _load_report(args[0])
        print("config: " + json.dumps(r["config"], sort_keys=True))
        for i, layer in enumerate(r["layers"]):
            print("layer %d:" % i)
            for e in layer:
                print("  " + entry_text(e))
        return 0
    sys.stderr.write("imgreport: unknown command %r\n" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
