#!/usr/bin/env python3
"""List a tree or a layer tar, one line per entry, for comparisons:

    tree_list.py tree DIR [--records]   files on disk; with --records the
                                        user.containers.override_stat record
                                        gives owner (and device type)
    tree_list.py tar FILE               entries of a layer tar (any compression)

Line: path type uid gid mode size sha256|target|dev xattrs (sorted,
nib's override_NAME shown as NAME; records and overlay xattrs left out).
"""
import hashlib
import os
import stat
import subprocess
import sys
import tarfile

OVR = "user.containers.override_"
SKIP = ("user.overlay.", "trusted.overlay.")


def fmt_xattrs(d):
    out = []
    for k in sorted(d):
        if k == OVR + "stat" or k.startswith(SKIP):
            continue
        name = k[len(OVR):] if k.startswith(OVR) else k
        v = d[k]
        out.append("%s=%s" % (name, v.hex() if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape").hex()))
    return ",".join(sorted(out))


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()[:16]


TYPES = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
         stat.S_IFBLK: "b", stat.S_IFIFO: "p"}


def parse_record(v):
    parts = v.decode().rstrip("\0").split(":")
    uid, gid, mode = int(parts[0]), int(parts[1]), int(parts[2], 8)
    typ = parts[3] if len(parts) > 3 else None
    return uid, gid, mode, typ


def tree(root, records):
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            t = TYPES.get(stat.S_IFMT(st.st_mode), "?")
            uid, gid, mode = st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)
            xa = {}
            if t in "fd":
                try:
                    for k in os.listxattr(p, follow_symlinks=False):
                        xa[k] = os.getxattr(p, k, follow_symlinks=False)
                except OSError:
                    pass
            extra = ""
            size = st.st_size if t == "f" else 0
            if t == "f":
                extra = sha(p)
            elif t == "l":
                extra = os.readlink(p)
            elif t in "cb":
                extra = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            rec = xa.get(OVR + "stat")
            if records and rec is not None:
                uid, gid, rmode, typ = parse_record(rec)
                if typ and typ.startswith(("char-", "block-")) and t == "f":
                    t = typ[0]
                    _, ma, mi = typ.split("-")[:3]
                    extra = "%s,%s" % (ma, mi)
                    size = 0
                    mode = rmode
                elif typ == "pipe" and t == "f":
                    t, extra, size, mode = "p", "", 0, rmode
            if t == "d":
                size = 0
            print(rel, t, uid, gid, "%04o" % mode, size, extra, fmt_xattrs(xa))


def tar(path):
    data = subprocess.run(["sh", "-c", 'case "$1" in *.zst|*.zstd) zstd -dc "$1";; *) gzip -dcf "$1";; esac', "-", path],
                          check=True, stdout=subprocess.PIPE).stdout
    import io
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if name.rstrip("/") in ("", "."):
                continue
            kind = {tarfile.REGTYPE: "f", tarfile.AREGTYPE: "f", tarfile.DIRTYPE: "d", tarfile.SYMTYPE: "l",
                    tarfile.LNKTYPE: "h", tarfile.CHRTYPE: "c", tarfile.BLKTYPE: "b",
                    tarfile.FIFOTYPE: "p"}.get(m.type, "?")
            extra = ""
            if kind == "f":
                extra = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16]
            elif kind in "lh":
                extra = m.linkname
            elif kind in "cb":
                extra = "%d,%d" % (m.devmajor, m.devminor)
            xa = {k[len("SCHILY.xattr."):]: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            if kind == "h" and extra.startswith("./"):
                extra = extra[2:]
            print(name.rstrip("/"), kind, m.uid, m.gid, "%04o" % m.mode, m.size, extra, fmt_xattrs(xa),
                  "uname=%s" % m.uname, "gname=%s" % m.gname, "mtime=%d" % m.mtime if "--mtime" in sys.argv else "")


if sys.argv[1] == "tree":
    tree(sys.argv[2], "--records" in sys.argv)
else:
    tar(sys.argv[2])
