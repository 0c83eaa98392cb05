#!/bin/bash
# Layers in the restricted-pod simulation (tests/lib/podsim.sh: UID
# 1000590000, GID 0, no capabilities, no_new_privs, no /dev/fuse): the
# driver probe picks kernel overlay in a user namespace and says why
# fuse-overlayfs is out; steps with overlay and vfs give the right layers;
# a layer with foreign owners, setuid, devices and capabilities survives
# extraction and commit with a single UID; adversarial layers stay confined.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/users.sh"
. "$(dirname "$0")/../lib/podsim.sh"
BUILD=${NIB_BUILD:-$NIB_SRC/build}
LIST=$NIB_SRC/tests/layers/tree_list.py
CASES=("pod: probe picks overlay, fuse-overlayfs refused with a reason"
	"pod: overlay step" "pod: vfs step" "pod: owners through records" "pod: adversarial layers confined")

if ! podsim_available || ! users_setup; then
	skip_cases "needs root, unshare and setpriv for the pod simulation" "${CASES[@]}"
	finish
	exit
fi
cp "$BUILD/tests/helpers/nib-layer-tool" "$T/bin/" && chmod 0755 "$T/bin/nib-layer-tool"
TOOL=$T/bin/nib-layer-tool
P=$(podsim_dir pod)
STEP='echo new >new; rm a; rm -r d; mkdir d; echo y >d/y; chmod 600 keep; ln -s new link'
mkdir -p "$T/base/d" "$T/e0"
echo a >"$T/base/a" && echo x >"$T/base/d/x" && echo k >"$T/base/keep"
read -r DID _ <<<"$("$TOOL" commit --compare "$T/e0" --timestamp 5 "$T/base" "$T/base.tar.gz")"
chmod 0644 "$T/base.tar.gz"
cp -a "$T/base" "$T/expect" && (cd "$T/expect" && sh -ec "$STEP")
norm() { python3 "$LIST" tree "$1" --records | sed 's/ [0-9]* [0-9]* \([0-7]\{4\}\)/ \1/' | sort; }
expect=$(norm "$T/expect")

t "${CASES[0]}"
run podsim "$TOOL" probe --root "$P/store"
assert_status 0
assert_eq "$(echo "$out" | head -n 1)" overlay
run podsim "$TOOL" probe --root "$P/store" --driver fuse-overlayfs
assert_status 1
assert_match "$err" 'fuse-overlayfs: /dev/fuse is not usable'

for drv in overlay vfs; do
	t "pod: $drv step"
	run podsim "$TOOL" step --root "$P/store" --driver "$drv" --timestamp 5 --layer "$T/base.tar.gz:$DID" -- "$STEP"
	assert_status 0
	read -r _ _ dg _ <<<"$out"
	mkdir -p "$T/apply-$drv"
	"$BUILD/tests/helpers/nib-layer-tool" extract --vfs "$T/apply-$drv" "$T/base.tar.gz" >/dev/null &&
		"$BUILD/tests/helpers/nib-layer-tool" extract --vfs "$T/apply-$drv" "$P/store/blobs/sha256/${dg#sha256:}" >/dev/null ||
		fail "extraction failed"
	assert_eq "$(norm "$T/apply-$drv")" "$expect"
	assert_no_match "$(python3 "$LIST" tar "$P/store/blobs/sha256/${dg#sha256:}")" ' 1000590000 '
done

t "${CASES[3]}"
python3 - "$T/owners.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b"", **kw):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.mtime = 7
    for k, v in kw.items(): setattr(ti, k, v)
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
add("etc", tarfile.DIRTYPE, mode=0o755)
add("etc/gshadow", data=b"g", mode=0o640, gid=42)
add("home", tarfile.DIRTYPE, mode=0o755)
add("home/u", tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000)
add("home/u/f", data=b"f", mode=0o600, uid=1000, gid=1000)
add("bin", tarfile.DIRTYPE, mode=0o755)
add("bin/su", data=b"su", mode=0o4755)
add("bin/ping", data=b"p", mode=0o755, pax_headers={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00" + "\x00" * 12})
add("dev", tarfile.DIRTYPE, mode=0o755)
add("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
add("dev/sda", tarfile.BLKTYPE, mode=0o660, gid=6, devmajor=8, devminor=0)
add("run", tarfile.DIRTYPE, mode=0o755)
add("run/fifo", tarfile.FIFOTYPE, mode=0o600, uid=33, gid=33)
t.close()
PY
chmod 0644 "$T/owners.tar"
run podsim sh -c "mkdir '$P/x' '$P/e' && '$TOOL' extract --map-self '$P/x' '$T/owners.tar' >/dev/null && '$TOOL' commit --compare '$P/e' --map-self --timestamp 7 '$P/x' '$P/again.tar'"
assert_status 0
diff <(python3 "$LIST" tar "$T/owners.tar" | sort) <(python3 "$LIST" tar "$P/again.tar" | sort) >"$T/d" ||
	fail "$(head -c 600 "$T/d")"

t "${CASES[4]}"
E=$(podsim_dir evil)
python3 "$NIB_SRC/tests/layers/evil_layers.py" "$E" >"$T/cases"
chown -R "$PODSIM_UID:$PODSIM_GID" "$E"
# all cases in one pod: each layer applied in order until one is refused
cat >"$T/evil.sh" <<'SH'
while read -r name; do
	read -r args <"$E/$name/args" || args=""
	for l in $(ls "$E/$name" | grep -E '^[0-9]+\.tar' | sort -n); do
		"$TOOL" extract --vfs --map-self --remove-on-error $args "$E/$name/rootfs" "$E/$name/$l" >/dev/null 2>&1 || break
	done
done
SH
snap() { (cd "$E" && find . -path '*/rootfs*' -prune -o -print | sort && cat ./*/victim/secret); }
before=$(snap)
run podsim env E="$E" TOOL="$TOOL" bash "$T/evil.sh" <"$T/cases"
assert_eq "$(snap)" "$before" "victims or case folders changed"
[ -f "$E/symlink-rel-dir/rootfs/victim/pwned" ] || fail "confined write missing: the cases did not run"
[ ! -e "$E/whiteout-dotdot/rootfs" ] || fail "a refused layer left its rootfs behind"
for c in whiteout-folder whiteout-child-only whiteout-symlink opaque-folder; do
	[ ! -e "$E/$c/rootfs" ] || fail "$c: a non-file whiteout was applied"
done
[ ! -e "$E/whiteout-file/rootfs/x" ] && [ -f "$E/whiteout-file/rootfs/y" ] || fail "whiteout file"
n=$(wc -l <"$T/cases")
[ "$n" -ge 40 ] || fail "only $n cases"
finish
