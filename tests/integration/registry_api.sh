#!/bin/bash
# The registry module's single operations (HEAD/GET/PUT of blobs and
# manifests by reference), as a registry build cache uses them, through
# build/tests/helpers/nib-reg-tool against a real docker-registry.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
TOOL=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-reg-tool

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null || [ ! -x "$TOOL" ]; then
	skip_cases "docker-registry, skopeo and nib-reg-tool are needed" "registry api"
	finish
	exit
fi

make_image "$T/img" v1 2 api
registry_start plain || fail "registry"
SRC=$REG
skopeo_push "$T/img:v1" a/img:v1
"$NIB" --root "$T/root" pull -q --tls-verify=false "$SRC/a/img:v1" >/dev/null || fail "pull"
registry_start plain || fail "second registry"
DST=$REG
L1=$(echo $IMAGE_LAYERS | cut -d' ' -f1)
L1SIZE=$(stat -c %s "$T/root/blobs/sha256/${L1#sha256:}")

t "blob HEAD: absent, then PUT, then present with its size"
run "$TOOL" "$T/root" blob-head "$DST/c/img" "$L1"
assert_eq "$out" absent
run "$TOOL" "$T/root" blob-put "$DST/c/img" "$L1" "$L1SIZE"
assert_status 0
run "$TOOL" "$T/root" blob-head "$DST/c/img" "$L1"
assert_eq "$out" "present $L1SIZE"

t "blob PUT with a mount from another repository of the same registry"
run "$TOOL" "$T/root" blob-put "$DST/d/img" "$L1" "$L1SIZE" c/img
assert_status 0
run "$TOOL" "$T/root" blob-head "$DST/d/img" "$L1"
assert_eq "$out" "present $L1SIZE"

t "manifest PUT needs its blobs; HEAD and GET give its digest"
for b in $IMAGE_CONFIG $IMAGE_LAYERS; do
	"$TOOL" "$T/root" blob-put "$DST/c/img" "$b" "$(stat -c %s "$T/root/blobs/sha256/${b#sha256:}")" || fail "put $b"
done
run "$TOOL" "$T/root" manifest-head "$DST/c/img:cache"
assert_eq "$out" absent
run "$TOOL" "$T/root" manifest-put "$DST/c/img:cache" "$IMAGE_MANIFEST"
assert_status 0
assert_eq "$out" "$IMAGE_MANIFEST"
run "$TOOL" "$T/root" manifest-head "$DST/c/img:cache"
assert_eq "$out" "present $IMAGE_MANIFEST"
run "$TOOL" "$T/root" manifest-get "$DST/c/img:cache"
assert_eq "$out" "$IMAGE_MANIFEST"

t "blob GET into another store, verified"
run "$TOOL" "$T/root2" blob-get "$DST/c/img" "$L1" "$L1SIZE"
assert_status 0
cmp -s "$T/root/blobs/sha256/${L1#sha256:}" "$T/root2/blobs/sha256/${L1#sha256:}" || fail "blob differs"
run "$TOOL" "$T/root3" blob-get "$DST/c/img" "$L1" "$((L1SIZE - 1))"
assert_status 1
assert_match "$err" "larger than"
assert_no_file "$T/root3/blobs/sha256/${L1#sha256:}"

finish
