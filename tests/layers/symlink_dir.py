#!/usr/bin/env python3
"""Write a layer pair where the second layer writes below names the first
made symlinks (or a file), and the tree they give with overlay's semantics:
an upper folder hides a lower non-folder of the same name (overlayfs only
merges two folders), so the later layer's folder replaces the symlink, and
nothing is written or deleted where the symlink pointed. Symlinks of the
same layer are followed, as every extractor does.

    symlink_dir.py OUTDIR [LAYOUT BASE_TAG NEW_TAG]

OUTDIR gets 1.tar, 2.tar, list.sh (prints the tree of those names, run in
the rootfs's "/" or with it as working folder) and expect (what list.sh
prints with overlay's semantics). With LAYOUT (an OCI layout holding image
BASE_TAG, as tests/lib/image.sh makes), image NEW_TAG is added to it: the
base's layers, then the pair.
"""
import io
import os
import sys
import tarfile

OUT = os.path.abspath(sys.argv[1])
os.makedirs(OUT, exist_ok=True)


def entry(name, kind=tarfile.REGTYPE, data=b"", target=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.mtime = 1700000000
    ti.linkname = target
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    return ti, data


def f(name, data=b"x\n"):
    return entry(name, data=data)


def d(name):
    return entry(name, tarfile.DIRTYPE)


def sym(name, target):
    return entry(name, tarfile.SYMTYPE, target=target)


LOWER = [
    d("target"), f("target/keep", b"keep\n"),
    sym("a", "target"),        # relative
    sym("abs", "/target"),     # absolute
    sym("chain", "target"),    # replaced by a folder entry of layer 2
    sym("dang", "nowhere"),    # dangling
    sym("s", "target"),        # a whiteout below it in layer 2
    sym("o", "target"),        # an opaque marker below it in layer 2
    f("file", b"file\n"),      # a file, written below in layer 2
    d("p"), sym("p/q", "../target"),  # a symlink deeper down
]
UPPER = [
    f("a/new"),                # no folder entry for a/
    f("abs/new2"),
    d("chain"), f("chain/c"),
    f("dang/y"),
    f("s/.wh.keep"),
    f("o/.wh..wh..opq"),
    f("file/x"),
    f("p/q/r"),
    d("l2dir"), sym("l2link", "l2dir"), f("l2link/z"),  # the same layer's link
]
NAMES = "a abs chain dang nowhere s o file p l2dir l2link target"
# overlay's tree: "PATH TYPE [-> TARGET]", sorted bytewise
EXPECT = sorted([
    "a d", "a/new f", "abs d", "abs/new2 f", "chain d", "chain/c f",
    "dang d", "dang/y f", "file d", "file/x f", "l2dir d", "l2dir/z f",
    "l2link l -> l2dir", "o d", "p d", "p/q d", "p/q/r f", "s d",
    "target d", "target/keep f",
])

LIST_SH = """# the tree below the names the layer pair uses, as "PATH TYPE [-> TARGET]"
for n in %s; do
	[ -e "$n" ] || [ -L "$n" ] || continue
	for t in d f l; do
		find "$n" -type $t | while read -r p; do
			if [ $t = l ]; then echo "$p l -> $(readlink "$p")"; else echo "$p $t"; fi
		done
	done
done | LC_ALL=C sort
""" % NAMES


def write_tar(path, entries):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)


write_tar(os.path.join(OUT, "1.tar"), LOWER)
write_tar(os.path.join(OUT, "2.tar"), UPPER)
with open(os.path.join(OUT, "list.sh"), "w") as fh:
    fh.write(LIST_SH)
with open(os.path.join(OUT, "expect"), "w") as fh:
    fh.write("\n".join(EXPECT) + "\n")

if len(sys.argv) > 2:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from oci_append import append_layers

    pair = []
    for n in ("1.tar", "2.tar"):
        with open(os.path.join(OUT, n), "rb") as fh:
            pair.append((n, fh.read()))
    append_layers(sys.argv[2], sys.argv[3], sys.argv[4], pair)
