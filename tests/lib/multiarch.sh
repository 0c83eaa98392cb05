# Multi-platform test images and qemu-user-static, for the multiarch_* and
# transport_* tests. Source after tests/lib.sh.
#
#   ma_busybox_deb ARCH     prints the path of Debian's busybox-static .deb for
#                           ARCH (arm64...), downloaded once into
#                           $NIB_TEST_CACHE/debs (dpkg --add-architecture ARCH
#                           and apt-get update first when apt does not know
#                           it; never edits the sources)
#   ma_busybox_layout DIR ARCH TAG
#                           DIR becomes an OCI layout with one image TAG: a
#                           busybox rootfs for ARCH (amd64: the host's
#                           /bin/busybox; others: from ma_busybox_deb), a
#                           config with that architecture (arm64: variant v8)
#   ma_index_layout DIR TAG SRC...
#                           an OCI layout DIR whose entry TAG is an image index
#                           of the (single) images of the layouts SRC...
#   ma_binfmt ARCH          make sure binfmt_misc runs ARCH binaries through
#                           qemu-user-static (mounts binfmt_misc and enables
#                           the entry, as root); non-zero with the reason when
#                           it cannot
# Each function returns non-zero with a reason on stderr when it cannot.

NIB_TEST_CACHE=${NIB_TEST_CACHE:-/var/tmp/nib-test-cache}

_ma_sha() { sha256sum "$1" | cut -d' ' -f1; }

_ma_qemu() {
	case $1 in
	arm64) echo aarch64 ;;
	amd64) echo x86_64 ;;
	*) echo "$1" ;;
	esac
}

ma_host_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}

ma_busybox_deb() { # ARCH
	local arch=$1 dir=$NIB_TEST_CACHE/debs f
	mkdir -p "$dir" || return 1
	f=$(ls "$dir"/busybox-static_*_"$arch".deb 2>/dev/null | head -n1)
	if [ -z "$f" ]; then
		if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
			dpkg --add-architecture "$arch" && apt-get update -qq >/dev/null 2>&1 ||
				{ echo "cannot add dpkg architecture $arch" >&2; return 1; }
		fi
		(cd "$dir" && apt-get download -qq "busybox-static:$arch" >/dev/null 2>&1) ||
			{ echo "apt-get download busybox-static:$arch failed" >&2; return 1; }
		f=$(ls "$dir"/busybox-static_*_"$arch".deb 2>/dev/null | head -n1)
	fi
	[ -n "$f" ] && echo "$f"
}

ma_busybox_layout() { # DIR ARCH TAG
	local dir=$1 arch=$2 tag=$3 w r bin deb variant='' dh lh lsz ch csz mh msz
	w=$(mktemp -d "${T:-/tmp}/.maimg.XXXXXX") || return 1
	r=$w/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$dir/blobs/sha256"
	if [ "$arch" = "$(ma_host_arch)" ]; then
		bin=/bin/busybox
	else
		deb=$(ma_busybox_deb "$arch") || { rm -rf "$w"; return 1; }
		dpkg-deb -x "$deb" "$w/deb" || { rm -rf "$w"; return 1; }
		bin=$w/deb/bin/busybox
	fi
	[ "$arch" = arm64 ] && variant=',"variant":"v8"'
	cp "$bin" "$r/bin/busybox"
	for a in sh ls cat echo true uname mkdir; do ln -s busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$r" -cf "$w/layer.tar" .
	dh=$(_ma_sha "$w/layer.tar")
	gzip -n -c "$w/layer.tar" >"$w/l.gz"
	lh=$(_ma_sha "$w/l.gz")
	lsz=$(stat -c %s "$w/l.gz")
	cp "$w/l.gz" "$dir/blobs/sha256/$lh"
	printf '{"architecture":"%s"%s,"config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"created":"2024-01-01T00:00:00Z","history":[{"created":"2024-01-01T00:00:00Z","created_by":"nib tests: busybox %s"}],"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
		"$arch" "$variant" "$arch" "$dh" >"$w/c.json"
	ch=$(_ma_sha "$w/c.json")
	csz=$(stat -c %s "$w/c.json")
	cp "$w/c.json" "$dir/blobs/sha256/$ch"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$ch" "$csz" "$lh" "$lsz" >"$w/m.json"
	mh=$(_ma_sha "$w/m.json")
	msz=$(stat -c %s "$w/m.json")
	cp "$w/m.json" "$dir/blobs/sha256/$mh"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mh" "$msz" "$tag" >"$dir/index.json"
	rm -rf "$w"
}

ma_index_layout() { # DIR TAG SRC...
	local dir=$1 tag=$2 src entries='' m cfg arch variant ih isz
	shift 2
	mkdir -p "$dir/blobs/sha256"
	for src in "$@"; do
		cp -n "$src"/blobs/sha256/* "$dir/blobs/sha256/"
		m=$(jq -c '.manifests[0] | {mediaType, digest, size}' "$src/index.json")
		cfg=$(jq -r '.config.digest' "$src/blobs/sha256/$(echo "$m" | jq -r .digest | cut -d: -f2)")
		arch=$(jq -r .architecture "$src/blobs/sha256/${cfg#sha256:}")
		variant=$(jq -r '.variant // empty' "$src/blobs/sha256/${cfg#sha256:}")
		m=$(echo "$m" | jq -c --arg a "$arch" --arg v "$variant" \
			'. + {platform: ({architecture: $a, os: "linux"} + (if $v == "" then {} else {variant: $v} end))}')
		entries=${entries:+$entries,}$m
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$entries" >"$dir/.ix"
	ih=$(_ma_sha "$dir/.ix")
	isz=$(stat -c %s "$dir/.ix")
	mv "$dir/.ix" "$dir/blobs/sha256/$ih"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$ih" "$isz" "$tag" >"$dir/index.json"
}

ma_binfmt() { # ARCH
	local q
	q=$(_ma_qemu "$1")
	[ "$1" = "$(ma_host_arch)" ] && return 0
	if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
		[ "$(id -u)" = 0 ] || { echo "binfmt_misc is not mounted" >&2; return 1; }
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
			{ echo "cannot mount binfmt_misc" >&2; return 1; }
	fi
	if ! grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$q" 2>/dev/null; then
		command -v update-binfmts >/dev/null ||
			{ echo "update-binfmts missing (binfmt-support)" >&2; return 1; }
		[ -e "/usr/share/binfmts/qemu-$q" ] ||
			{ echo "qemu-user-static has no qemu-$q (apt-get install qemu-user-static)" >&2; return 1; }
		update-binfmts --enable "qemu-$q" >/dev/null 2>&1 ||
			update-binfmts --import "qemu-$q" >/dev/null 2>&1 ||
			{ echo "update-binfmts --enable qemu-$q failed" >&2; return 1; }
	fi
	grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$q" 2>/dev/null ||
		{ echo "qemu-$q is not enabled in binfmt_misc" >&2; return 1; }
}
