#!/bin/bash
# Layer round trips: a tree made by root (owners, modes, setuid, devices,
# fifos, hardlinks, symlinks, sparse files, long names, xattrs, file
# capabilities) -> GNU tar -> nib extraction gives the same tree; no change
# gives an empty layer; nib's layer applied by umoci gives the same tree as
# nib's own extraction; digests are reproducible.
. "$(dirname "$0")/../lib.sh"
TOOL=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-layer-tool
LIST=$NIB_SRC/tests/layers/tree_list.py
tlist() { python3 "$LIST" tree "$1" --records | sort; }
tarlist() { python3 "$LIST" tar "$1" | sort; }

if [ "$(id -u)" != 0 ]; then
	skip_cases "needs root to make a tree with foreign owners and devices" "round trips"
	finish
	exit
fi

# --- a source tree with everything a layer can hold ---
S=$T/src
mkdir -p "$T/empty-base"
mkdir -p "$S/bin" "$S/etc" "$S/usr/lib/deep/er/still/deeper" "$S/var/empty" "$S/dev" "$S/tmp"
if [ -x /bin/busybox ]; then
	cp /bin/busybox "$S/bin/busybox"
	for a in sh ls cat; do ln -s busybox "$S/bin/$a"; done
fi
echo root:x:0:0 >"$S/etc/passwd"
echo secret >"$S/etc/shadow" && chown 0:42 "$S/etc/shadow" && chmod 0640 "$S/etc/shadow"
echo mail >"$S/var/mailbox" && chown 8:8 "$S/var/mailbox" && chmod 0660 "$S/var/mailbox"
printf 'su' >"$S/bin/su" && chmod 4755 "$S/bin/su"
printf 'wall' >"$S/bin/wall" && chown 0:5 "$S/bin/wall" && chmod 2755 "$S/bin/wall"
printf 'ping' >"$S/bin/ping" && setcap cap_net_raw+ep "$S/bin/ping"
ln "$S/bin/su" "$S/bin/su-hardlink"
ln -s ../../../../../../etc/passwd "$S/usr/lib/deep/dotdot-link"
ln -s /etc/passwd "$S/usr/lib/abs-link"
mknod "$S/dev/null" c 1 3 && chmod 0666 "$S/dev/null"
mknod "$S/dev/sda" b 8 0 && chown 0:6 "$S/dev/sda" && chmod 0660 "$S/dev/sda"
mkfifo "$S/dev/initctl" && chmod 0600 "$S/dev/initctl"
truncate -s 50M "$S/usr/lib/sparse" && echo end >>"$S/usr/lib/sparse"
long=$(printf 'n%.0s' $(seq 1 200))
echo long >"$S/usr/lib/deep/er/$long"
echo x >"$S/usr/lib/user-xattr" && setfattr -n user.nib.test -v hello "$S/usr/lib/user-xattr"
chmod 0555 "$S/var/empty"
chmod 1777 "$S/tmp"
mkdir -p "$S/home/u" && chown 1000:1000 "$S/home/u" && echo hi >"$S/home/u/f" && chown 1000:1000 "$S/home/u/f"
tar --numeric-owner --xattrs --xattrs-include='*' --sparse --format=posix --sort=name -C "$S" -czf "$T/base.tar.gz" .

t "extraction gives back the source tree (as root)"
mkdir "$T/x1"
run "$TOOL" extract --vfs "$T/x1" "$T/base.tar.gz"
assert_status 0
diff <(tlist "$S") <(tlist "$T/x1") >"$T/d1" || fail "trees differ: $(head -c 600 "$T/d1")"
assert_eq "$(stat -c %b "$T/x1/usr/lib/sparse")" "$(stat -c %b "$S/usr/lib/sparse")" "sparse file kept sparse"

t "extraction with one mapped UID gives the same tree through records"
mkdir "$T/x2"
run "$TOOL" extract --vfs --map-self "$T/x2" "$T/base.tar.gz"
assert_status 0
diff <(tlist "$S") <(tlist "$T/x2") >"$T/d2" || fail "trees differ: $(head -c 600 "$T/d2")"

t "no change gives an empty layer (compare and upper)"
cp -a "$T/x1" "$T/x1copy"
run "$TOOL" commit --compare "$T/x1" "$T/x1copy" "$T/empty.tar.gz"
assert_status 0
assert_eq "$(echo "$out" | cut -d' ' -f4)" 0 "entries"
mkdir "$T/upper"
run "$TOOL" commit "$T/upper" "$T/empty2.tar.gz"
assert_eq "$(echo "$out" | cut -d' ' -f4)" 0 "entries"

t "the same tree gives the same digests (gzip has no name or time)"
run "$TOOL" commit --compare "$T/empty-base" "$T/x1" "$T/full1.tar.gz"
a=$out
sleep 1
run "$TOOL" commit --compare "$T/empty-base" "$T/x1" "$T/full2.tar.gz"
assert_eq "$out" "$a"
run "$TOOL" commit --compare "$T/empty-base" "$T/x1" --compression zstd "$T/full.tar.zst"
assert_eq "$(echo "$out" | cut -d' ' -f1)" "$(echo "$a" | cut -d' ' -f1)" "DiffID independent of compression"
assert_match "$out" 'tar\+zstd$'
z=$out

t "the digests do not depend on the number of compression threads (gzip, zstd)"
# the tree holds a 50 MB sparse file: the tar spans many 1 MiB blocks
for n in 1 3 8; do
	NIB_COMPRESS_THREADS=$n run "$TOOL" commit --compare "$T/empty-base" "$T/x1" "$T/full-t$n.tar.gz"
	assert_eq "$out" "$a" "gzip with $n threads"
	NIB_COMPRESS_THREADS=$n run "$TOOL" commit --compare "$T/empty-base" "$T/x1" --compression zstd "$T/full-t$n.tar.zst"
	assert_eq "$out" "$z" "zstd with $n threads"
done
cmp "$T/full-t1.tar.gz" "$T/full-t8.tar.gz" || fail "gzip blobs differ"
assert_eq "$(gzip -dc "$T/full-t8.tar.gz" | sha256sum | cut -d' ' -f1)" "$(echo "$a" | cut -d' ' -f1 | cut -d: -f2)" "gunzip gives the DiffID"
assert_eq "$(zstd -dc "$T/full-t8.tar.zst" | sha256sum | cut -d' ' -f1)" "$(echo "$a" | cut -d' ' -f1 | cut -d: -f2)" "unzstd gives the DiffID"

t "layer headers: PAX, sorted, empty uname/gname, owners from records"
run "$TOOL" commit --compare "$T/empty-base" "$T/x2" --map-self "$T/full-single.tar.gz"
assert_status 0
diff <(tarlist "$T/full1.tar.gz") <(tarlist "$T/full-single.tar.gz") >"$T/d3" ||
	fail "root and single-UID layers differ: $(head -c 600 "$T/d3")"
names=$(gzip -dc "$T/full1.tar.gz" | tar -t)
assert_eq "$names" "$(gzip -dc "$T/full1.tar.gz" | tar -t | LC_ALL=C sort)" "entries sorted"
assert_no_match "$(tarlist "$T/full1.tar.gz")" 'uname=[^ ]'
assert_match "$(tarlist "$T/full1.tar.gz")" '^bin/su-hardlink h .* bin/su '
assert_match "$(tarlist "$T/full1.tar.gz")" '^dev/sda b 0 6 0660 0 8,0 '
assert_match "$(tarlist "$T/full1.tar.gz")" '^bin/ping f .*security.capability='

t "changes: added, modified, deleted, chmod, chown record, replaced folder"
cp -a "$T/x2" "$T/y"
echo new >"$T/y/etc/new"
echo changed >"$T/y/etc/passwd"
rm "$T/y/var/mailbox"
rm -r "$T/y/usr/lib/deep"
chmod 0600 "$T/y/etc/shadow"
rm -r "$T/y/home/u" && echo file >"$T/y/home/u"
mkdir "$T/y/opt" && echo o >"$T/y/opt/o"
setfattr -n user.containers.override_stat -v "1000:1000:0644:file" "$T/y/opt/o"
run "$TOOL" commit --compare "$T/x2" --map-self --timestamp 1700000000 "$T/y" "$T/l1.tar.gz"
assert_status 0
l=$(tarlist "$T/l1.tar.gz")
assert_match "$l" '^etc/new f 0 0 0644 4 '
assert_match "$l" '^etc/passwd f 0 0 0644 8 '
assert_match "$l" '^etc/shadow f 0 42 0600 '
assert_match "$l" '^var/\.wh\.mailbox f 0 0'
assert_match "$l" '^usr/lib/\.wh\.deep f'
assert_match "$l" '^home/u f 0 0'
assert_match "$l" '^opt/o f 1000 1000 0644'
assert_no_match "$l" '^bin/'
assert_eq "$(gzip -dc "$T/l1.tar.gz" | tar -tv --full-time | grep -vc ' 2023-11-14 22:13:20 ')" 0 "mtimes clamped"

t "excluded paths and .wh. names"
mkdir -p "$T/y/proc/1" "$T/y/dev/pts" && echo r >"$T/y/etc/resolv.conf"
run "$TOOL" commit --compare "$T/x2" --exclude proc --exclude dev/ --exclude etc/resolv.conf "$T/y" "$T/l2.tar.gz"
assert_status 0
l=$(tarlist "$T/l2.tar.gz")
assert_no_match "$l" '^proc|^dev/pts|resolv'
touch "$T/y/etc/.wh.evil"
run "$TOOL" commit --compare "$T/x2" "$T/y" "$T/l3.tar.gz"
assert_status 1
assert_match "$err" '/etc/\.wh\.evil: names starting with "\.wh\." are reserved'

t "nib's layer applied by umoci gives nib's tree"
if ! command -v umoci >/dev/null; then
	skip "umoci is not installed (make deps installs it)"
else
	rm -f "$T/y/etc/.wh.evil"
	run "$TOOL" commit --compare "$T/x1" "$T/y" "$T/l1root.tar.gz"
	read -r d1 b1 s1 _ <<<"$("$TOOL" commit --compare "$T/empty-base" "$T/x1" "$T/base-nib.tar.gz")"
	read -r d2 b2 s2 _ <<<"$out"
	O=$T/oci
	mkdir -p "$O/blobs/sha256"
	cp "$T/base-nib.tar.gz" "$O/blobs/sha256/${b1#sha256:}"
	cp "$T/l1root.tar.gz" "$O/blobs/sha256/${b2#sha256:}"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$O/oci-layout"
	printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s","%s"]}}' "$d1" "$d2" >"$T/config"
	c=$(sha256sum <"$T/config" | cut -d' ' -f1)
	cp "$T/config" "$O/blobs/sha256/$c"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
		"$c" "$(stat -c %s "$T/config")" "$b1" "$s1" "$b2" "$s2" >"$T/manifest"
	m=$(sha256sum <"$T/manifest" | cut -d' ' -f1)
	cp "$T/manifest" "$O/blobs/sha256/$m"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
		"$m" "$(stat -c %s "$T/manifest")" >"$O/index.json"
	run umoci unpack --image "$O:t" "$T/bundle"
	assert_status 0
	mkdir "$T/z"
	"$TOOL" extract --vfs "$T/z" "$T/base-nib.tar.gz" >/dev/null && "$TOOL" extract --vfs "$T/z" "$T/l1root.tar.gz" >/dev/null ||
		fail "nib extraction failed"
	diff <(tlist "$T/bundle/rootfs") <(tlist "$T/z") >"$T/d4" || fail "umoci and nib differ: $(head -c 800 "$T/d4")"
	diff <(tlist "$T/y") <(tlist "$T/z") >"$T/d5" || fail "tree after the step and its layers differ: $(head -c 800 "$T/d5")"
fi
finish
