#!/bin/bash
# Images out of the store: into an OCI layout and a docker-archive that
# skopeo and umoci read; OCI <-> Docker manifests.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"

ROOT=$T/root
TOOL=$NIB_BUILD/tests/helpers/nib-store-tool
export NIB_ROOT=$ROOT

if ! have_static_busybox || ! command -v skopeo >/dev/null; then
	skip_cases "needs a static busybox and skopeo" "store export"
	finish
	exit
fi
make_busybox_layout "$T/fix" bb
make_busybox_layout "$T/fix2" bb 2
skopeo copy --quiet oci:"$T/fix":bb oci:"$ROOT":docker.io/library/busybox:latest
skopeo copy --quiet oci:"$T/fix2":bb oci:"$ROOT":localhost/two:1
id=$("$NIB" inspect --json busybox | jq -r .ImageID)

t "export to an OCI layout that skopeo and umoci read; other images in it stay"
run "$TOOL" export-oci "$ROOT" docker.io/library/busybox:latest "$T/out" first
assert_status 0
run "$TOOL" export-oci "$ROOT" localhost/two:1 "$T/out" second
assert_status 0
run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$T/out/index.json"
assert_eq "$out" "first
second"
run skopeo inspect --config oci:"$T/out":first
assert_status 0
assert_eq "$(echo "$out" | jq -r '.config.Env[1]')" V=1
run skopeo copy --quiet oci:"$T/out":second oci:"$T/copy":x
assert_status 0
if command -v umoci >/dev/null; then
	run umoci unpack --rootless --image "$T/out":first "$T/bundle"
	assert_status 0
	assert_file "$T/bundle/rootfs/bin/busybox"
fi
# exported again under the same name: replaced, not duplicated
run "$TOOL" export-oci "$ROOT" localhost/two:1 "$T/out" first
assert_status 0
assert_eq "$(jq '.manifests | length' "$T/out/index.json")" 2
assert_eq "$(skopeo inspect --config oci:"$T/out":first | jq -r '.config.Env[1]')" V=2

t "export to a docker-archive that skopeo reads, layers uncompressed and matching diff IDs"
run "$TOOL" export-docker "$ROOT" busybox:latest "$T/bb.tar" busybox:latest
assert_status 1 "lookup takes what the caller normalised"
run "$TOOL" export-docker "$ROOT" docker.io/library/busybox:latest "$T/bb.tar" busybox:latest
assert_status 0
mkdir -p "$T/x"
tar -C "$T/x" -xf "$T/bb.tar"
assert_eq "$(jq -r '.[0].RepoTags[0]' "$T/x/manifest.json")" busybox:latest
assert_eq "$(jq -r '.[0].Config' "$T/x/manifest.json")" "$id.json"
layer=$(jq -r '.[0].Layers[0]' "$T/x/manifest.json")
assert_eq "sha256:$(sha256sum "$T/x/$layer" | cut -d' ' -f1)" "$(jq -r '.rootfs.diff_ids[0]' "$T/x/$id.json")"
run skopeo copy --quiet docker-archive:"$T/bb.tar" oci:"$T/fromarchive":t
assert_status 0
assert_eq "$(skopeo inspect --config oci:"$T/fromarchive":t | jq -r '.config.Env[1]')" V=1

t "OCI <-> Docker conversion keeps the image ID and is readable after export"
run "$TOOL" convert "$ROOT" docker.io/library/busybox:latest docker localhost/bb:docker
assert_status 0
run "$NIB" inspect --json localhost/bb:docker
assert_eq "$(echo "$out" | jq -r .ManifestType)" application/vnd.docker.distribution.manifest.v2+json
assert_eq "$(echo "$out" | jq -r '.Manifest.layers[0].mediaType')" application/vnd.docker.image.rootfs.diff.tar.gzip
assert_eq "$(echo "$out" | jq -r .ImageID)" "$id"
run "$TOOL" convert "$ROOT" localhost/bb:docker oci localhost/bb:oci
assert_status 0
# the fixture's manifest is not canonical: compare with its canonical form
mdig=$("$NIB" inspect --json busybox | jq -r .ManifestDigest)
"$TOOL" canon manifest "$ROOT/blobs/sha256/${mdig#sha256:}" | tr -d '\n' >"$T/canon.json"
assert_eq "$("$NIB" inspect --json localhost/bb:oci | jq -r .ManifestDigest)" \
	"sha256:$(sha256sum "$T/canon.json" | cut -d' ' -f1)" "round trip gives the canonical manifest"
run "$TOOL" export-oci "$ROOT" localhost/bb:docker "$T/out2" d
assert_status 0
run skopeo copy --quiet oci:"$T/out2":d oci:"$T/copy2":x
assert_status 0 "a Docker manifest is exported as OCI"
run "$TOOL" export-docker "$ROOT" localhost/bb:docker "$T/bbd.tar" bb:docker
assert_status 0
run skopeo inspect docker-archive:"$T/bbd.tar"
assert_status 0

t "a corrupt layer fails the export naming it, and leaves no output"
ldig=$("$NIB" inspect --json localhost/two:1 | jq -r '.Manifest.layers[0].digest')
lfile=$ROOT/blobs/sha256/${ldig#sha256:}
cp "$lfile" "$T/layer.good"
printf 'garbage' | dd of="$lfile" bs=1 seek=100 conv=notrunc 2>/dev/null
run "$TOOL" export-docker "$ROOT" localhost/two:1 "$T/two.tar" two
assert_status 1
assert_match "$err" "$ldig"
assert_no_file "$T/two.tar"
ls "$T" | grep -q 'two.tar.tmp' && fail "temp file left"
run "$TOOL" export-oci "$ROOT" localhost/two:1 "$T/out3" t
assert_status 1
assert_match "$err" "$ldig"
assert_no_file "$T/out3/index.json"
cp "$T/layer.good" "$lfile"

t "export into a folder that cannot be written names it"
mkdir -p "$T/ro"
chmod 0555 "$T/ro"
if [ "$(id -u)" = 0 ]; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TOOL" export-oci "$ROOT" localhost/two:1 "$T/ro/out" t
else
	run "$TOOL" export-oci "$ROOT" localhost/two:1 "$T/ro/out" t
fi
assert_status 1
assert_match "$err" "$T/ro"

finish
