# Base images for build tests, made by the tests and cached under
# /var/tmp/nib-test-cache/ (keyed by their inputs, recreated when missing).
# Source after tests/lib.sh.
#
#   bases_busybox      sets BB_OCI (OCI layout, image "busybox") and
#                      BB_ARCHIVE (docker-archive, localhost/busybox:latest):
#                      /bin/busybox from busybox-static with every applet
#                      linked as `busybox --install -s` does, /etc/passwd and
#                      /etc/group (root daemon bin adm mail nobody, user 1000
#                      "user"), /etc/os-release.
#   bases_debian       sets DEB_OCI and DEB_ARCHIVE: Debian bookworm from
#                      `debootstrap --variant=minbase` (tests/layers/debian_base.sh
#                      makes and caches the tree); needs root and the Debian
#                      mirror the first time.
#   bases_nib_load ROOT NAME OWNER
#                      copy base NAME (busybox|debian) into nib's store at ROOT
#                      as localhost/NAME:latest, then give ROOT to OWNER
#                      (uid:gid).
#   bases_buildah_init DIR
#                      a private buildah vfs store at DIR; sets BUILDAH (an
#                      array: buildah with its store flags).
#   bases_buildah_load NAME
#                      pull base NAME into that store as localhost/NAME:latest.
# Each function returns non-zero with a reason on stderr when it cannot.

NIB_TEST_CACHE=${NIB_TEST_CACHE:-/var/tmp/nib-test-cache}
BASES_BUSYBOX_BIN=${BASES_BUSYBOX_BIN:-/bin/busybox}
# Bump when the images made here change.
BASES_VERSION=1

_bases_sha() { sha256sum "$1" | cut -d' ' -f1; }

_bases_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}

# _bases_layout OUT ROOTFS_TAR CONFIG_ENV_JSON CMD_JSON: an OCI layout at OUT
# with one image "NAME" (basename of OUT's parent key) whose single layer is
# ROOTFS_TAR (gzip'd here).
_bases_layout() { # OUT TAR ENV CMD NAME
	local out=$1 tar=$2 env=$3 cmd=$4 name=$5 w dh lh lsz ch csz mh msz
	w=$(mktemp -d "$out.work.XXXXXX") || return 1
	mkdir -p "$out/blobs/sha256"
	dh=$(_bases_sha "$tar")
	gzip -n -c "$tar" >"$w/layer.gz" || return 1
	lh=$(_bases_sha "$w/layer.gz")
	lsz=$(stat -c %s "$w/layer.gz")
	mv "$w/layer.gz" "$out/blobs/sha256/$lh"
	printf '{"architecture":"%s","config":{"Cmd":%s,"Env":%s},"created":"2024-01-01T00:00:00Z","history":[{"created":"2024-01-01T00:00:00Z","created_by":"nib tests: %s base"}],"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
		"$(_bases_arch)" "$cmd" "$env" "$name" "$dh" >"$w/config.json"
	ch=$(_bases_sha "$w/config.json")
	csz=$(stat -c %s "$w/config.json")
	mv "$w/config.json" "$out/blobs/sha256/$ch"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$ch" "$csz" "$lh" "$lsz" >"$w/manifest.json"
	mh=$(_bases_sha "$w/manifest.json")
	msz=$(stat -c %s "$w/manifest.json")
	mv "$w/manifest.json" "$out/blobs/sha256/$mh"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mh" "$msz" "$name" >"$out/index.json"
	rm -rf "$w"
}

# _bases_finish DIR NAME: the docker-archive beside the layout, then mark done.
_bases_finish() { # DIR NAME
	local dir=$1 name=$2
	rm -f "$dir/$name.tar"
	skopeo copy -q "oci:$dir/oci:$name" "docker-archive:$dir/$name.tar:localhost/$name:latest" \
		>/dev/null || return 1
	chmod -R a+rX "$dir"
	touch "$dir/.done"
}

_bases_busybox_rootfs() { # DIR
	local r=$1 a
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/user,var/spool/mail,dev,proc,sys}
	chmod 0755 "$r" "$r"/{bin,sbin,usr,usr/bin,usr/sbin,etc,home,var,var/spool,dev,proc,sys}
	chmod 1777 "$r/tmp"
	chmod 0700 "$r/root"
	chmod 0755 "$r/home/user"
	chmod 2775 "$r/var/spool/mail"
	cp "$BASES_BUSYBOX_BIN" "$r/bin/busybox"
	chmod 0755 "$r/bin/busybox"
	for a in $("$BASES_BUSYBOX_BIN" --list-full); do
		[ "$a" = bin/busybox ] && continue
		[ -e "$r/$a" ] || [ -L "$r/$a" ] || ln -s /bin/busybox "$r/$a"
	done
	cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
adm:x:3:4:adm:/var/adm:/bin/false
mail:x:8:8:mail:/var/spool/mail:/bin/false
user:x:1000:1000:Test User:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
	cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
adm:x:4:
mail:x:8:
users:x:100:user
user:x:1000:
nogroup:x:65534:
EOF
	cat >"$r/etc/os-release" <<'EOF'
NAME="nib test busybox"
ID=busybox
VERSION_ID=1
PRETTY_NAME="busybox-static base for nib tests"
EOF
	chmod 0644 "$r/etc/passwd" "$r/etc/group" "$r/etc/os-release"
}

bases_busybox() {
	local key dir w
	[ -x "$BASES_BUSYBOX_BIN" ] && file -L "$BASES_BUSYBOX_BIN" 2>/dev/null | grep -q 'statically linked' ||
		{ echo "bases: $BASES_BUSYBOX_BIN is not a static busybox (package busybox-static)" >&2; return 1; }
	command -v skopeo >/dev/null || { echo "bases: skopeo is not installed" >&2; return 1; }
	key=$( (_bases_sha "$BASES_BUSYBOX_BIN"; echo "$BASES_VERSION") | sha256sum | cut -c1-16)
	dir=$NIB_TEST_CACHE/busybox-$key
	BB_OCI=$dir/oci
	BB_ARCHIVE=$dir/busybox.tar
	export BB_OCI BB_ARCHIVE
	[ -e "$dir/.done" ] && return 0
	mkdir -p "$NIB_TEST_CACHE"
	(
		flock 9
		[ -e "$dir/.done" ] && exit 0
		rm -rf "$dir"
		mkdir -p "$dir"
		w=$(mktemp -d "$NIB_TEST_CACHE/.busybox.XXXXXX")
		trap 'rm -rf "$w"' EXIT
		umask 022
		_bases_busybox_rootfs "$w/root" || exit 1
		tar --sort=name --mtime=@1704067200 --numeric-owner --owner=0 --group=0 \
			-C "$w/root" -cf "$w/rootfs.tar" --exclude=./home/user --exclude=./var/spool/mail . &&
			tar --sort=name --mtime=@1704067200 --numeric-owner --owner=1000 --group=1000 \
				-C "$w/root" -rf "$w/rootfs.tar" ./home/user &&
			tar --sort=name --mtime=@1704067200 --numeric-owner --owner=0 --group=8 \
				-C "$w/root" -rf "$w/rootfs.tar" ./var/spool/mail || exit 1
		_bases_layout "$dir/oci" "$w/rootfs.tar" \
			'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]' '["sh"]' busybox ||
			exit 1
		_bases_finish "$dir" busybox
	) 9>"$NIB_TEST_CACHE/.busybox.lock" || { echo "bases: could not make the busybox base" >&2; return 1; }
}

bases_debian() {
	local tar key dir
	command -v skopeo >/dev/null || { echo "bases: skopeo is not installed" >&2; return 1; }
	tar=$(bash "$NIB_SRC/tests/layers/debian_base.sh") || { echo "bases: no debootstrap tree" >&2; return 1; }
	key=$( (stat -c '%s %Y' "$tar"; echo "$BASES_VERSION") | sha256sum | cut -c1-16)
	dir=$NIB_TEST_CACHE/debian-$key
	DEB_OCI=$dir/oci
	DEB_ARCHIVE=$dir/debian.tar
	export DEB_OCI DEB_ARCHIVE
	[ -e "$dir/.done" ] && return 0
	(
		flock 9
		[ -e "$dir/.done" ] && exit 0
		rm -rf "$dir"
		mkdir -p "$dir"
		_bases_layout "$dir/oci" "$tar" \
			'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]' '["bash"]' debian ||
			exit 1
		_bases_finish "$dir" debian
	) 9>"$NIB_TEST_CACHE/.debian-oci.lock" || { echo "bases: could not make the debian base" >&2; return 1; }
}

bases_nib_load() { # ROOT NAME OWNER
	local root=$1 name=$2 owner=$3 src
	case $name in
	busybox) src=$BB_OCI ;;
	debian) src=$DEB_OCI ;;
	*) return 1 ;;
	esac
	skopeo copy -q "oci:$src:$name" "oci:$root:localhost/$name:latest" >/dev/null || return 1
	# what skopeo wrote, never nib's own folders: a store that has built
	# already holds extracted layers whose owners and set-id bits are the
	# layers' (a recursive chown would flatten them for every later build)
	chown "$owner" "$root"
	chown -R "$owner" "$root/blobs" "$root/index.json" "$root/oci-layout"
}

bases_buildah_init() { # DIR
	mkdir -p "$1"
	BUILDAH=(buildah --root "$1/root" --runroot "$1/run" --storage-driver vfs)
}

bases_buildah_load() { # NAME
	local name=$1 src
	case $name in
	busybox) src=$BB_OCI ;;
	debian) src=$DEB_OCI ;;
	*) return 1 ;;
	esac
	local id
	"${BUILDAH[@]}" inspect --type image "localhost/$name:latest" >/dev/null 2>&1 && return 0
	id=$("${BUILDAH[@]}" pull -q "oci:$src:$name") || return 1
	"${BUILDAH[@]}" tag "$(echo "$id" | tail -n 1)" "localhost/$name:latest"
}
