#!/bin/bash
# Docker schema2 images and the store: a Docker-format image pulled from the
# registry is kept converted to OCI (skopeo's oci: transport and umoci read
# the store, as root and as an unprivileged user), while nib inspect, images,
# build FROM, push and gc keep working and the registry's digest stays
# known; nib push --format oci|docker converts as skopeo --format does, and
# --all pushes a multi-platform image whole.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip_cases "docker-registry and skopeo are needed (make deps)" "Docker-format images"
	finish
	exit
fi

ROOT=$T/root
nibr() { "$NIB" --root "$ROOT" "$@"; }
MT_DM=application/vnd.docker.distribution.manifest.v2+json
MT_OM=application/vnd.oci.image.manifest.v1+json
MT_DL=application/vnd.docker.image.rootfs.diff.tar.gzip
MT_OL=application/vnd.oci.image.layer.v1.tar+gzip
MT_DC=application/vnd.docker.container.image.v1+json
MT_OC=application/vnd.oci.image.config.v1+json
entry() { jq -c --arg r "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$r)' "$ROOT/index.json"; }
raw() { skopeo inspect --raw --tls-verify=false "docker://$1"; }
# the tree umoci unpacks from an OCI layout IMAGE (DIR:TAG) into DIR2
unpack() { umoci unpack --rootless --image "$1" "$2" >/dev/null 2>&1; }
# the tree of the registry's REF as skopeo copies it and umoci unpacks it into DIR
registry_tree() { # REF DIR
	skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$2.oci:x" || { fail "skopeo copy of $1"; return 1; }
	unpack "$2.oci:x" "$2" || { fail "umoci unpack of $1"; return 1; }
}
same_tree() { # DIR1 DIR2 WHAT
	local d
	d=$(diff -r --no-dereference "$1/rootfs" "$2/rootfs" 2>&1) || fail "$3: trees differ: ${d:0:300}"
}

make_image "$T/img" v1 3 docker
IMG_CONFIG=$IMAGE_CONFIG IMG_LAYERS=$IMAGE_LAYERS
registry_start plain || fail "docker-registry did not start"
skopeo_push "$T/img:v1" d/img:v1 --format v2s2
skopeo_push "$T/img:v1" o/img:v1
DOCKER_DIGEST=sha256:$(raw "$REG/d/img:v1" | sha256sum | cut -d' ' -f1)
HAVE_UMOCI=0
command -v umoci >/dev/null && HAVE_UMOCI=1
[ $HAVE_UMOCI = 1 ] && unpack "$T/img:v1" "$T/ref"

t "the fixture: skopeo pushed a Docker schema2 manifest"
assert_eq "$(raw "$REG/d/img:v1" | jq -r .mediaType)" "$MT_DM"
assert_eq "$(raw "$REG/d/img:v1" | jq -r .config.mediaType)" "$MT_DC"

t "a Docker image is stored as OCI: same config and layer blobs, OCI media types"
run nibr pull -q --tls-verify=false "$REG/d/img:v1"
assert_status 0
assert_eq "$out" "${IMG_CONFIG#sha256:}"
e=$(entry "$REG/d/img:v1")
STORED=$(jq -r .digest <<<"$e")
assert_eq "$(jq -r .mediaType <<<"$e")" "$MT_OM"
assert_ne "$STORED" "$DOCKER_DIGEST" "a new manifest digest"
assert_eq "$(jq -r '.annotations["io.nib.source.manifest.digest"]' <<<"$e")" "$DOCKER_DIGEST"
m=$ROOT/blobs/sha256/${STORED#sha256:}
assert_eq "$(jq -r .mediaType "$m")" "$MT_OM"
assert_eq "$(jq -r .config.mediaType "$m")" "$MT_OC"
assert_eq "$(jq -r .config.digest "$m")" "$IMG_CONFIG"
assert_eq "$(jq -r '[.layers[].mediaType] | unique | .[]' "$m")" "$MT_OL"
assert_eq "$(jq -r '.layers[].digest' "$m" | tr '\n' ' ')" "$(echo $IMG_LAYERS) "
assert_file "$ROOT/blobs/sha256/${DOCKER_DIGEST#sha256:}"

t "skopeo (oci:) and umoci read the converted image from the store"
run skopeo inspect "oci:$ROOT:$REG/d/img:v1"
assert_status 0
assert_eq "$(jq -r .Digest <<<"$out")" "$STORED"
run skopeo copy -q "oci:$ROOT:$REG/d/img:v1" "dir:$T/dir"
assert_status 0
assert_file "$T/dir/${IMG_CONFIG#sha256:}"
if [ $HAVE_UMOCI = 1 ]; then
	unpack "$ROOT:$REG/d/img:v1" "$T/b1" || fail "umoci unpack of the store"
	same_tree "$T/ref" "$T/b1" "umoci unpack"
else
	skip "umoci is needed (make deps)"
fi

t "an image chosen from a Docker manifest list is stored as OCI too"
make_index "$T/dlist" l1
skopeo_push "$T/dlist:l1" d/list:1 --all --format v2s2
AMD64_DOCKER=$(raw "$REG/d/list:1" | jq -r '.manifests[] | select(.platform.architecture=="amd64") | .digest')
assert_eq "$(raw "$REG/d/list:1" | jq -r .mediaType)" application/vnd.docker.distribution.manifest.list.v2+json
run nibr pull -q --tls-verify=false --platform linux/amd64 "$REG/d/list:1"
assert_status 0
e=$(entry "$REG/d/list:1")
assert_eq "$(jq -r .mediaType <<<"$e")" "$MT_OM"
assert_eq "$(jq -r '.annotations["io.nib.source.manifest.digest"]' <<<"$e")" "$AMD64_DOCKER"
run skopeo inspect "oci:$ROOT:$REG/d/list:1"
assert_status 0
assert_eq "$(jq -r .Digest <<<"$out")" "$(jq -r .digest <<<"$e")"
assert_eq "$(nibr inspect --json "$REG/d/list:1" | jq -r .ManifestDigest)" "$AMD64_DOCKER"

t "nib inspect and images report the registry's digest; both digests find the image"
run nibr inspect --json "$REG/d/img:v1"
assert_status 0
assert_eq "$(jq -r .ManifestDigest <<<"$out")" "$DOCKER_DIGEST"
assert_eq "$(jq -r .ManifestType <<<"$out")" "$MT_DM"
assert_eq "$(jq -r .Manifest.mediaType <<<"$out")" "$MT_DM"
assert_eq "$(jq -r .StoredManifestDigest <<<"$out")" "$STORED"
assert_eq "$(jq -r .StoredManifestType <<<"$out")" "$MT_OM"
assert_eq "$(jq -r .ImageID <<<"$out")" "${IMG_CONFIG#sha256:}"
for name in "$DOCKER_DIGEST" "$STORED" "$REG/d/img@$DOCKER_DIGEST"; do
	run nibr inspect --json "$name"
	assert_status 0 "$name"
	assert_eq "$(jq -r .StoredManifestDigest <<<"$out")" "$STORED" "$name"
done
run nibr images --json
assert_eq "$(jq -r --arg r "$REG/d/img:v1" '.[] | select(.names | index($r)) | .digest' <<<"$out")" "$DOCKER_DIGEST"

t "pull by the registry's digest, tag and rmi keep the record"
run nibr pull -q --tls-verify=false "$REG/d/img@$DOCKER_DIGEST"
assert_status 0
assert_eq "$(entry "$REG/d/img@$DOCKER_DIGEST" | jq -r .digest)" "$STORED"
run nibr tag "$REG/d/img:v1" localhost/retag:1
assert_status 0
assert_eq "$(nibr inspect --json localhost/retag:1 | jq -r .ManifestDigest)" "$DOCKER_DIGEST"
run nibr rmi localhost/retag:1
assert_status 0

t "gc keeps the registry's manifest and the OCI one"
run nibr prune
assert_status 0
assert_file "$ROOT/blobs/sha256/${DOCKER_DIGEST#sha256:}"
assert_file "$m"
run nibr inspect --json "$REG/d/img:v1"
assert_eq "$(jq -r .ManifestDigest <<<"$out")" "$DOCKER_DIGEST"

t "push without --format keeps the registry's manifest and digest"
run nibr push -q --tls-verify=false "$REG/d/img:v1" "$REG/d/copy:v1"
assert_status 0
assert_eq "$out" "$DOCKER_DIGEST"
assert_eq "$(raw "$REG/d/copy:v1" | jq -r .mediaType)" "$MT_DM"

t "push --format oci sends the stored OCI manifest; umoci gives the same tree"
run nibr push -q --tls-verify=false --format oci "$REG/d/img:v1" "$REG/d/tooci:v1"
assert_status 0
assert_eq "$out" "$STORED"
r=$(raw "$REG/d/tooci:v1")
assert_eq "$(jq -r .mediaType <<<"$r")" "$MT_OM"
assert_eq "$(jq -r .config.mediaType <<<"$r")" "$MT_OC"
assert_eq "$(jq -r .config.digest <<<"$r")" "$IMG_CONFIG"
if [ $HAVE_UMOCI = 1 ]; then
	registry_tree "$REG/d/tooci:v1" "$T/b2" && same_tree "$T/ref" "$T/b2" "Docker -> OCI push"
fi

t "push --format docker of an OCI image: Docker media types, same blobs; umoci gives the same tree"
run nibr pull -q --tls-verify=false "$REG/o/img:v1"
assert_status 0
assert_eq "$(entry "$REG/o/img:v1" | jq -r '.annotations["io.nib.source.manifest.digest"]')" null "an OCI image is stored as it is"
run nibr push -q --tls-verify=false --format docker "$REG/o/img:v1" "$REG/o/todocker:v1"
assert_status 0
r=$(raw "$REG/o/todocker:v1")
assert_eq "$out" "sha256:$(printf '%s' "$r" | sha256sum | cut -d' ' -f1)"
assert_eq "$(jq -r .mediaType <<<"$r")" "$MT_DM"
assert_eq "$(jq -r .config.mediaType <<<"$r")" "$MT_DC"
assert_eq "$(jq -r .config.digest <<<"$r")" "$IMG_CONFIG"
assert_eq "$(jq -r '[.layers[].mediaType] | unique | .[]' <<<"$r")" "$MT_DL"
assert_eq "$(jq -r '.layers[].digest' <<<"$r" | tr '\n' ' ')" "$(echo $IMG_LAYERS) "
if [ $HAVE_UMOCI = 1 ]; then
	registry_tree "$REG/o/todocker:v1" "$T/b3" && same_tree "$T/ref" "$T/b3" "OCI -> Docker push"
fi
run nibr push -q --tls-verify=false --format docker "$REG/d/img:v1" "$REG/d/again:v1"
assert_status 0
assert_eq "$out" "$DOCKER_DIGEST" "--format docker of a pulled Docker image sends the registry's bytes"

t "a zstd layer cannot be pushed in Docker format: one line naming the reference"
# a fresh image: skopeo reuses the gzip blobs a layout already has
make_image "$T/zimg" v1 2 zstd
if skopeo copy -q --dest-compress --dest-compress-format zstd "oci:$T/zimg:v1" "oci:$ROOT:localhost/zstd:1" 2>/dev/null &&
	[ "$(nibr inspect --json localhost/zstd:1 | jq -r '.Manifest.layers[0].mediaType')" = "${MT_OL%gzip}zstd" ]; then
	run nibr push -q --tls-verify=false --format docker localhost/zstd:1 "$REG/z/img:v1"
	assert_status 1
	assert_match "$err" "^nib: error: $REG/z/img:v1: .*zstd.* has no Docker form"
	assert_lines "$err" 1
	run nibr push -q --tls-verify=false --format oci localhost/zstd:1 "$REG/z/img:v1"
	assert_status 0
	assert_match "$(raw "$REG/z/img:v1" | jq -r '.layers[0].mediaType')" 'zstd$'
else
	skip "this skopeo cannot write zstd layers"
fi

t "--format: bad values and impossible destinations are usage errors"
run nibr push --format v2s1 "$REG/d/img:v1" "$REG/x/y:1"
assert_status 2
assert_match "$err" 'bad --format "v2s1"'
run nibr push --format docker "$REG/d/img:v1" "oci:$T/layout:t"
assert_status 2
assert_match "$err" "oci:$T/layout:t.*--format docker"
assert_lines "$err" 1
run nibr push --format oci "$REG/d/img:v1" "oci:$T/layout:t"
assert_status 0
run skopeo inspect "oci:$T/layout:t"
assert_eq "$(jq -r .Digest <<<"$out")" "$STORED"

t "push --all sends a multi-platform image whole; with --format every part is converted"
make_index "$T/multi" m1
skopeo copy -q --all "oci:$T/multi:m1" "oci:$ROOT:localhost/multi:1" || fail "skopeo copy --all into the store"
IDX=$(entry localhost/multi:1 | jq -r .digest)
run nibr push -q --tls-verify=false localhost/multi:1 "$REG/m/one:1"
assert_status 0
assert_eq "$(raw "$REG/m/one:1" | jq -r .mediaType)" "$MT_OM" "without --all: this platform's image"
run nibr push -q --tls-verify=false --all localhost/multi:1 "$REG/m/all:1"
assert_status 0
assert_eq "$out" "$IDX"
assert_eq "$(raw "$REG/m/all:1" | jq -r '[.manifests[].digest] | sort | .[]')" "$(printf '%s\n' "$AMD64_MANIFEST" "$ARM64_MANIFEST" | sort)"
assert_eq "$(raw "$REG/m/all@$ARM64_MANIFEST" | jq -r .config.mediaType)" "$MT_OC"
run skopeo copy -q --all --src-tls-verify=false "docker://$REG/m/all:1" "oci:$T/mall:x"
assert_status 0 "skopeo copies the pushed index back"
run nibr push -q --tls-verify=false --all --format docker localhost/multi:1 "$REG/m/dall:1"
assert_status 0
r=$(raw "$REG/m/dall:1")
assert_eq "$out" "sha256:$(printf '%s' "$r" | sha256sum | cut -d' ' -f1)"
assert_eq "$(jq -r .mediaType <<<"$r")" application/vnd.docker.distribution.manifest.list.v2+json
assert_eq "$(jq -r '[.manifests[].mediaType] | unique | .[]' <<<"$r")" "$MT_DM"
arm=$(jq -r '.manifests[] | select(.platform.architecture=="arm64") | .digest' <<<"$r")
assert_eq "$(raw "$REG/m/dall@$arm" | jq -r .config.mediaType)" "$MT_DC"
assert_eq "$(raw "$REG/m/dall@$arm" | jq -r '.layers[0].mediaType')" "$MT_DL"
if [ $HAVE_UMOCI = 1 ]; then
	registry_tree "$REG/m/dall@$arm" "$T/b4" &&
		assert_eq "$(cat "$T/b4/rootfs/etc/nib-release")" "nib test image arm64"
fi
run nibr push --all localhost/multi:1 "oci:$T/nolayout:t"
assert_status 2
assert_lines "$err" 1
rm "$ROOT/blobs/sha256/${ARM64_MANIFEST#sha256:}"
run nibr push -q --tls-verify=false --all localhost/multi:1 "$REG/m/broken:1"
assert_status 1
assert_match "$err" "^nib: error: $REG/m/broken:1: the linux/arm64/v8 image \\($ARM64_MANIFEST\\) of index $IDX is not in the store"
assert_lines "$err" 1

t "nib build FROM a Docker-format image gives OCI layer media types"
mkdir -p "$T/ctx"
printf 'FROM %s\nLABEL from=docker\n' "$REG/d/img:v1" >"$T/ctx/Containerfile"
run nibr build -q -t localhost/fromdocker "$T/ctx"
assert_status 0
run nibr inspect --json localhost/fromdocker
assert_eq "$(jq -r .ManifestType <<<"$out")" "$MT_OM"
assert_eq "$(jq -r '[.Manifest.layers[].mediaType] | unique | .[]' <<<"$out")" "$MT_OL"
assert_eq "$(jq -r .Config.config.Labels.from <<<"$out")" docker
run nibr build -q --format docker --push --tls-verify=false -t "$REG/b/img:1" "$T/ctx"
assert_status 0
assert_eq "$(raw "$REG/b/img:1" | jq -r .mediaType)" "$MT_DM" "build --format docker --push"
assert_eq "$(raw "$REG/b/img:1" | jq -r '[.layers[].mediaType] | unique | .[]')" "$MT_DL"

t "an unprivileged user pulls a Docker image; skopeo and umoci read its store"
if users_setup; then
	udir=$(user_dir nibplain ustore)
	run as_user nibplain "$T/bin/nib" --root "$udir/root" pull -q --tls-verify=false "$REG/d/img:v1"
	assert_status 0
	assert_eq "$(jq -r '.manifests[0].mediaType' "$udir/root/index.json")" "$MT_OM"
	run as_user nibplain skopeo copy -q "oci:$udir/root:$REG/d/img:v1" "dir:$udir/dir"
	assert_status 0
	if [ $HAVE_UMOCI = 1 ]; then
		run as_user nibplain umoci unpack --rootless --image "$udir/root:$REG/d/img:v1" "$udir/b"
		assert_status 0
		[ "$(stat -c %U "$udir/b/rootfs/bin/busybox")" = nibplain ] || fail "owner of the unpacked tree"
		cmp -s /bin/busybox "$udir/b/rootfs/bin/busybox" || fail "busybox differs"
	fi
	run as_user nibplain "$T/bin/nib" --root "$udir/root" inspect --json "$REG/d/img:v1"
	assert_eq "$(jq -r .ManifestDigest <<<"$out")" "$DOCKER_DIGEST"
else
	skip "needs root to create test users"
fi

finish
