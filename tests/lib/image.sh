# Test images made from the host's static busybox, written by hand as an
# OCI image layout (no registry, no nib). Source after tests/lib.sh.
#
#   make_busybox_layout DIR TAG [ENV_VALUE] [CONFIG_JSON]
#       DIR becomes an OCI layout with one image: a busybox-static rootfs
#       layer (tar+gzip), a config and a manifest, named TAG (the bare
#       ref.name skopeo also writes). ENV_VALUE varies the config so
#       different calls give different image IDs; CONFIG_JSON (members
#       such as '"OnBuild":["RUN x"]') is added to the config's "config".
#   have_static_busybox   true when /bin/busybox is statically linked

BUSYBOX_STATIC=${BUSYBOX_STATIC:-/bin/busybox}

have_static_busybox() {
	[ -x "$BUSYBOX_STATIC" ] && file -L "$BUSYBOX_STATIC" 2>/dev/null | grep -q 'statically linked'
}

_sha() { sha256sum "$1" | cut -d' ' -f1; }

# Write FILE into the layout DIR as a blob; prints its hex digest.
_put_blob() { # DIR FILE
	local h
	h=$(_sha "$2")
	cp "$2" "$1/blobs/sha256/$h"
	echo "$h"
}

make_busybox_layout() { # DIR TAG [ENV_VALUE] [CONFIG_JSON]
	local dir=$1 tag=$2 val=${3:-1} extra=${4:+,$4} w r lh dh ch mh lsz csz msz
	w=$(mktemp -d "$T/.bbimg.XXXXXX")
	r=$w/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$dir/blobs/sha256"
	chmod 1777 "$r/tmp"
	cp "$BUSYBOX_STATIC" "$r/bin/busybox"
	for a in sh ls cat echo true false id env mkdir rm; do ln -s busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$r" -cf "$w/layer.tar" .
	dh=$(_sha "$w/layer.tar")
	gzip -n -c "$w/layer.tar" >"$w/layer.tar.gz"
	lh=$(_put_blob "$dir" "$w/layer.tar.gz")
	lsz=$(stat -c %s "$w/layer.tar.gz")
	printf '{"architecture":"%s","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin","V=%s"]%s},"created":"2024-01-02T03:04:05Z","history":[{"created":"2024-01-02T03:04:05Z","created_by":"busybox rootfs"}],"os":"linux","rootfs":{"diff_ids":["sha256:%s"],"type":"layers"}}' \
		"$(_host_arch)" "$val" "$extra" "$dh" >"$w/config.json"
	ch=$(_put_blob "$dir" "$w/config.json")
	csz=$(stat -c %s "$w/config.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
		"$ch" "$csz" "$lh" "$lsz" >"$w/manifest.json"
	mh=$(_put_blob "$dir" "$w/manifest.json")
	msz=$(stat -c %s "$w/manifest.json")
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mh" "$msz" "$tag" >"$dir/index.json"
	rm -rf "$w"
}

_host_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}
