#!/usr/bin/env python3
"""Write the adversarial layer set: layers that try to leave the rootfs,
abuse whiteouts, smuggle devices, bomb the extractor or lie about digests.

    evil_layers.py OUTDIR

Each case is OUTDIR/NAME/ with 1.tar[.gz] (2.tar...) applied in order onto
OUTDIR/NAME/rootfs, a victim folder OUTDIR/NAME/victim beside it, and a file
"expect" holding "confine" (applied, nothing outside rootfs changes) or
"refuse REGEX" (extraction fails with a message matching REGEX), and an
optional "args" file with extra nib-layer-tool arguments.
"""
import gzip
import io
import os
import sys
import tarfile

OUT = os.path.abspath(sys.argv[1])


def info(name, kind=tarfile.REGTYPE, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = kw.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    ti.mtime = 1700000000
    for k, v in kw.items():
        setattr(ti, k, v)
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
    return ti, data


def f(name, data=b"pwned\n", **kw):
    return info(name, tarfile.REGTYPE, data, **kw)


def d(name, **kw):
    return info(name, tarfile.DIRTYPE, **kw)


def sym(name, target):
    return info(name, tarfile.SYMTYPE, linkname=target)


def hard(name, target):
    return info(name, tarfile.LNKTYPE, linkname=target)


def dev(name, kind, major, minor):
    return info(name, kind, devmajor=major, devminor=minor, mode=0o660)


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            if ti.pax_headers is None:
                ti.pax_headers = {}
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    return buf.getvalue()


cases = []


def case(name, layers, expect="confine", args=""):
    cases.append((name, layers, expect, args))


def victim(name):
    return os.path.join(OUT, name, "victim")


# --- traversal by name ---
case("name-dotdot", [[f("../victim/pwned")]])
case("name-deep-dotdot", [[d("a"), f("a/../../../../victim/pwned")]])
case("name-absolute", [[f(victim("name-absolute") + "/pwned")]])
case("name-dot-slash-dotdot", [[f("./../victim/secret", b"overwritten\n")]])
# --- traversal by symlink, same layer ---
case("symlink-abs-dir", [[sym("l", victim("symlink-abs-dir")), f("l/pwned")]])
case("symlink-rel-dir", [[sym("l", "../victim"), f("l/pwned")]])
case("symlink-rel-deep", [[d("a"), d("a/b"), sym("a/b/l", "../../../../../victim"), f("a/b/l/pwned")]])
case("symlink-chain", [[sym("l1", "l2"), sym("l2", "../victim"), f("l1/pwned")]])
case("symlink-dotdot", [[sym("l", ".."), f("l/victim/pwned")]])
case("symlink-root-dotdot", [[sym("l", "/.."), f("l/victim/pwned")]])
case("symlink-proc-cwd", [[sym("l", "/proc/self/cwd"), f("l/pwned")]])
case("symlink-loop", [[sym("l", "l"), f("l/x")]], "refuse too many|symbolic links|ELOOP|loop")
case("symlink-file-overwrite", [[sym("l", victim("symlink-file-overwrite") + "/secret"), f("l", b"overwritten\n")]])
case("symlink-then-dir", [[sym("l", victim("symlink-then-dir")), d("l"), f("l/pwned")]])
case("dir-then-symlink", [[d("d"), sym("d", victim("dir-then-symlink")), f("d/pwned")]])
case("symlink-in-symlink-dir", [[d("a"), sym("a/b", "../../../"), f("a/b/victim/pwned")]])
# --- traversal by hardlink ---
case("hardlink-abs", [[hard("h", victim("hardlink-abs") + "/secret")]], "refuse not found")
case("hardlink-dotdot", [[hard("h", "../victim/secret")]], "refuse not found")
case("hardlink-via-symlink", [[sym("l", victim("hardlink-via-symlink")), hard("h", "l/secret")]], "refuse not found")
case("hardlink-to-dir", [[d("x"), hard("h", "x")]], "refuse folder")
case("hardlink-then-write", [[f("a", b"inside\n"), hard("h", "a"), f("h", b"rewritten\n")]])
case("hardlink-to-symlink-abs", [[sym("l", victim("hardlink-to-symlink-abs") + "/secret"), hard("h", "l"), ]])
# --- across layers ---
case("layers-symlink-abs", [[sym("l", victim("layers-symlink-abs"))], [f("l/pwned")]])
case("layers-symlink-rel", [[d("a"), sym("a/l", "../../victim")], [f("a/l/pwned")]])
case("layers-hardlink", [[sym("l", victim("layers-hardlink"))], [hard("h", "l/secret")]], "refuse not found")
case("layers-symlink-replace-file", [[sym("l", victim("layers-symlink-replace-file") + "/secret")], [f("l", b"overwritten\n")]])
# --- whiteout tricks ---
case("whiteout-dotdot", [[f(".wh..")]], "refuse malformed whiteout")
case("whiteout-empty", [[f(".wh.")]], "refuse malformed whiteout")
case("whiteout-dotdotdot", [[d("a"), f("a/.wh...")]], "refuse malformed whiteout")
# a whiteout below a lower layer's symlink: as in overlay, the later layer's
# folder replaces the symlink (and nothing is deleted where it pointed)
case("whiteout-via-symlink", [[sym("l", victim("whiteout-via-symlink"))], [f("l/.wh.secret")]])
case("whiteout-via-rel-symlink", [[sym("l", "../victim")], [f("l/.wh.secret")]])
case("opaque-via-symlink", [[sym("l", victim("opaque-via-symlink"))], [f("l/.wh..wh..opq")]])
# ... and below the same layer's symlink it is refused in both forms
case("whiteout-via-own-symlink", [[sym("l", victim("whiteout-via-own-symlink")), f("l/.wh.secret")]], "refuse symlink")
case("opaque-via-own-symlink", [[sym("l", "../victim"), f("l/.wh..wh..opq")]], "refuse symlink")
case("whiteout-abs-name", [[f(victim("whiteout-abs-name") + "/.wh.secret")]])
case("whiteout-dotdot-name", [[f("../victim/.wh.secret")]])
case("opaque-root", [[f("keep")], [f(".wh..wh..opq"), f("new")]])
# only regular files are whiteouts (image-spec layer.md): a folder, link or
# device named ".wh.NAME", or anything below one, is refused, never applied
case("whiteout-folder", [[f("x", b"keep\n")], [d(".wh.x"), f(".wh.x/child")]], "refuse whiteout must be a regular file, not a folder")
case("whiteout-folder-nested", [[d("a"), f("a/x", b"keep\n")], [d("a/.wh.x")]], "refuse whiteout must be a regular file, not a folder")
case("whiteout-child-only", [[f("x", b"keep\n")], [f(".wh.x/child")]], "refuse below a \".wh.\" name")
case("whiteout-symlink", [[f("x", b"keep\n")], [sym(".wh.x", "x")]], "refuse whiteout must be a regular file, not a symlink")
case("whiteout-hardlink", [[f("x", b"keep\n")], [f("y"), hard(".wh.x", "y")]], "refuse whiteout must be a regular file, not a hardlink")
case("whiteout-fifo", [[f("x", b"keep\n")], [info(".wh.x", tarfile.FIFOTYPE)]], "refuse whiteout must be a regular file, not a FIFO")
case("opaque-folder", [[d("a"), f("a/keep")], [d("a/.wh..wh..opq")]], "refuse whiteout must be a regular file, not a folder")
case("whiteout-file", [[f("x", b"keep\n"), f("y", b"keep\n")], [f(".wh.x")]])
case("aufs-bookkeeping", [[d(".wh..wh.plnk"), f(".wh..wh.aufs", b""), f("keep")]])
# --- devices ---
case("device-block-disk", [[dev("sda", tarfile.BLKTYPE, 8, 0)]])
case("device-char-mem", [[dev("mem", tarfile.CHRTYPE, 1, 1)]])
case("device-char-whiteout", [[f("x")], [dev("x", tarfile.CHRTYPE, 0, 0)]])
# --- bombs and huge headers ---
case("bomb-size", [[f("zeros", b"\0" * (20 << 20))]], "refuse limit", "--max-size 10000000")
case("bomb-ratio", [[f("zeros", b"\0" * (70 << 20))]], "refuse ratio", "--max-ratio 100")
case("bomb-entries", [[f("f%d" % i, b"") for i in range(1200)]], "refuse entries", "--max-entries 1000")
case("bomb-declared-size", "declared", "refuse limit|truncated|Truncated")
case("huge-pax-path", [[f("a" * 70000)]], "refuse too long|long")
case("huge-xattr", "bigxattr", "refuse xattr|attributes")
case("long-symlink-target", [[sym("l", "x/" * 3000)]], "refuse too long")
# --- broken streams ---
case("truncated-tar", "trunc-tar", "refuse runcated|premature|EOF")
case("truncated-gzip", "trunc-gz", "refuse truncated")
case("garbage", "garbage", "refuse tar|Unrecognized|format|header")
case("gzip-trailing-garbage", "gz-garbage", "refuse garbage")
case("wrong-digest", [[f("ok")]], "refuse digest", "--digest sha256:" + "0" * 64)
case("wrong-diff-id", [[f("ok")]], "refuse DiffID", "--diff-id sha256:" + "1" * 64)
# --- forged metadata ---
case("reserved-xattr", "reserved", "confine")


def special(kind):
    if kind == "declared":
        ti, _ = f("huge")
        ti.size = 1 << 40
        # a header announcing 1 TiB, then nothing
        return ti.tobuf(tarfile.GNU_FORMAT) + b"\0" * 1024, ".tar", "--max-size 1000000000"
    if kind == "bigxattr":
        ti, data = f("x")
        ti.pax_headers = {"SCHILY.xattr.user.big": "v" * (200 << 10)}
        return tar_bytes([(ti, data)]), ".tar", ""
    if kind == "trunc-tar":
        b = tar_bytes([f("big", os.urandom(100000))])
        return b[:30000], ".tar", ""
    if kind == "trunc-gz":
        b = gzip.compress(tar_bytes([f("big", os.urandom(100000))]), mtime=0)
        return b[: len(b) // 2], ".tar.gz", ""
    if kind == "garbage":
        return os.urandom(4096), ".tar", ""
    if kind == "gz-garbage":
        return gzip.compress(tar_bytes([f("ok")]), mtime=0) + b"GARBAGE!" * 10, ".tar.gz", ""
    if kind == "reserved":
        ti, _ = d("dir")
        ti.pax_headers = {"SCHILY.xattr.user.overlay.opaque": "y",
                          "SCHILY.xattr.user.overlay.redirect": "/etc"}
        tf, data = f("file")
        tf.pax_headers = {"SCHILY.xattr.user.containers.override_stat": "0:0:4755:file"}
        return tar_bytes([(ti, b""), (tf, data)]), ".tar", ""
    raise SystemExit("unknown " + kind)


for name, layers, expect, args in cases:
    base = os.path.join(OUT, name)
    os.makedirs(os.path.join(base, "rootfs"))
    os.makedirs(os.path.join(base, "victim"))
    with open(os.path.join(base, "victim", "secret"), "w") as fh:
        fh.write("secret\n")
    if isinstance(layers, str):
        data, ext, extra = special(layers)
        with open(os.path.join(base, "1" + ext), "wb") as fh:
            fh.write(data)
        args = (args + " " + extra).strip()
    else:
        for i, entries in enumerate(layers, 1):
            data = tar_bytes(entries)
            if name.startswith("bomb") or i % 2 == 0:
                with open(os.path.join(base, "%d.tar.gz" % i), "wb") as fh:
                    fh.write(gzip.compress(data, mtime=0))
            else:
                with open(os.path.join(base, "%d.tar" % i), "wb") as fh:
                    fh.write(data)
    with open(os.path.join(base, "expect"), "w") as fh:
        fh.write(expect + "\n")
    with open(os.path.join(base, "args"), "w") as fh:
        fh.write(args + "\n")
    print(name)
