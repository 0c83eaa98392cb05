#!/bin/bash
# nib push to Debian's docker-registry on loopback: HEAD/skip, cross-repository
# mounts, monolithic and chunked uploads, tag and digest pushes, the four
# registry variants, interop with skopeo and umoci, an unprivileged user.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip_cases "docker-registry and skopeo are needed (make deps)" "registry push"
	finish
	exit
fi

ROOT=$T/root
nibr() { "$NIB" --root "$ROOT" "$@"; }

make_image "$T/img" v1 3 push
IMG_CONFIG=$IMAGE_CONFIG IMG_MANIFEST=$IMAGE_MANIFEST
registry_start plain || fail "docker-registry did not start"
SRCREG=$REG
skopeo_push "$T/img:v1" src/img:v1
nibr pull -q --tls-verify=false "$SRCREG/src/img:v1" >/dev/null || fail "pull for the push tests"

registry_start plain || fail "second registry"
DST=$REG

t "push uploads every blob and the manifest, prints the digest, writes --digestfile"
run nibr push --tls-verify=false --digestfile "$T/digest" "$SRCREG/src/img:v1" "docker://$DST/dst/img:v1"
assert_status 0
assert_eq "$out" "$IMG_MANIFEST"
assert_eq "$(cat "$T/digest")" "$IMG_MANIFEST"
assert_eq "$(printf '%s\n' "$err" | grep -c '^Wrote blob ')" 4 "one line per blob"
run skopeo inspect --tls-verify=false "docker://$DST/dst/img:v1"
assert_status 0
assert_eq "$(printf '%s' "$out" | jq -r .Digest)" "$IMG_MANIFEST"

t "a second push skips blobs the registry has (HEAD)"
run nibr push --tls-verify=false "$SRCREG/src/img:v1" "$DST/dst/img:v2"
assert_status 0
assert_eq "$(printf '%s\n' "$err" | grep -c 'already in the registry')" 4
assert_eq "$(printf '%s\n' "$err" | grep -c '^Wrote blob ')" 0

t "pushing to another repository of the source registry mounts the blobs"
run nibr push --tls-verify=false "$SRCREG/src/img:v1" "$SRCREG/copy/img:v1"
assert_status 0
assert_eq "$(printf '%s\n' "$err" | grep -c 'mounted from another repository')" 4
run skopeo inspect --tls-verify=false "docker://$SRCREG/copy/img:v1"
assert_status 0

t "chunked uploads (PATCH with Content-Range, then PUT ?digest=)"
run env NIB_REGISTRY_CHUNK_SIZE=65536 "$NIB" --root "$ROOT" push -q --tls-verify=false "$SRCREG/src/img:v1" "$DST/chunked/img:v1"
assert_status 0
assert_eq "$out" "$IMG_MANIFEST"
run skopeo copy -q --src-tls-verify=false "docker://$DST/chunked/img:v1" "oci:$T/chunked:v1"
assert_status 0 "skopeo reads back the chunked upload"

t "push by digest, and a digest that is not the image's is refused"
run nibr push -q --tls-verify=false "$SRCREG/src/img:v1" "$DST/bydigest/img@$IMG_MANIFEST"
assert_status 0
run skopeo inspect --raw --tls-verify=false "docker://$DST/bydigest/img@$IMG_MANIFEST"
assert_status 0
run nibr push -q --tls-verify=false "$SRCREG/src/img:v1" "$DST/bydigest/img@sha256:$(printf '%064d' 0)"
assert_status 2
assert_match "$err" "not the one in the reference"

t "push without DEST goes to the image's own name; by image ID needs DEST"
run nibr push -q --tls-verify=false "$SRCREG/src/img:v1"
assert_status 0
run nibr push -q --tls-verify=false "${IMG_CONFIG#sha256:}" "$DST/byid/img:1"
assert_status 0
assert_eq "$out" "$IMG_MANIFEST"

t "nib push -> skopeo copy -> umoci unpack gives the same tree as the source"
if command -v umoci >/dev/null; then
	run skopeo copy -q --src-tls-verify=false "docker://$DST/dst/img:v1" "oci:$T/back:v1"
	assert_status 0
	umoci unpack --rootless --image "$T/back:v1" "$T/b1" >/dev/null 2>&1 || fail "umoci unpack (pushed)"
	umoci unpack --rootless --image "$T/img:v1" "$T/b2" >/dev/null 2>&1 || fail "umoci unpack (source)"
	run diff -r --no-dereference "$T/b1/rootfs" "$T/b2/rootfs"
	assert_status 0 "trees differ: $out"
	assert_file "$T/b1/rootfs/data/layer3.txt"
else
	skip "umoci is not installed"
fi

t "an unknown source is a one-line not-found error"
run nibr push -q --tls-verify=false "$SRCREG/none/img:v1" "$DST/x/y:1"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "none/img"

t "push to oci:DIR:TAG and docker-archive:FILE:REF"
run nibr push -q "$SRCREG/src/img:v1" "oci:$T/layout:mytag"
assert_status 0
assert_eq "$out" "$IMG_MANIFEST"
run skopeo inspect --raw "oci:$T/layout:mytag"
assert_status 0
assert_eq "$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)" "${IMG_MANIFEST#sha256:}"
run nibr push -q "$SRCREG/src/img:v1" "docker-archive:$T/img.tar:example.com/my/img:2"
assert_status 0
run skopeo inspect "docker-archive:$T/img.tar"
assert_status 0
assert_eq "$(tar -xOf "$T/img.tar" manifest.json | jq -r ".[0].RepoTags[0]")" "example.com/my/img:2"
run nibr push -q "$SRCREG/src/img:v1" "oci:"
assert_status 2

# ---- authenticated registries -------------------------------------------------
registry_start basic || fail "basic registry"
BASIC=$REG

t "Basic: push needs credentials; with them it works"
run nibr push -q --tls-verify=false "$SRCREG/src/img:v1" "$BASIC/b/img:v1"
assert_status 1
assert_match "$err" "requires authentication|401"
assert_lines "$err" 1
run nibr push -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$SRCREG/src/img:v1" "$BASIC/b/img:v1"
assert_status 0
run skopeo inspect --tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$BASIC/b/img:v1"
assert_status 0

registry_start token || fail "token registry"
TOK=$REG

t "token: push with credentials; mount across repositories asks for both scopes"
: >"$TOKEN_DIR/requests.log"
run nibr push -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$SRCREG/src/img:v1" "$TOK/team/img:v1"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes scope=repository:team/img:pull,push"
nibr tag "$SRCREG/src/img:v1" "$TOK/team/img:v1" || fail "tag"
run nibr push --tls-verify=false --creds "$REG_USER:$REG_PASS" "$TOK/team/img:v1" "$TOK/team/other:v1"
assert_status 0
assert_eq "$(printf '%s\n' "$err" | grep -c 'mounted from another repository')" 4
assert_match "$(cat "$TOKEN_DIR/requests.log")" "scope=repository:team/other:pull,push repository:team/img:pull"

t "token: anonymous push is refused"
run nibr push -q --tls-verify=false "$SRCREG/src/img:v1" "$TOK/public/img:v1"
assert_status 1
assert_match "$err" "$TOK/public/img:v1: .*(401|403)"
assert_lines "$err" 1

registry_start tls || fail "tls registry"
TLSREG=$REG
mkdir -p "$T/certs"
cp "$REG_CA" "$T/certs/ca.crt"

t "TLS: push with --cert-dir"
run nibr push -q --cert-dir "$T/certs" "$SRCREG/src/img:v1" "$TLSREG/t/img:v1"
assert_status 0
run skopeo inspect --cert-dir "$T/certs" "docker://$TLSREG/t/img:v1"
assert_status 0

t "an unprivileged user pushes from a store it owns"
if users_setup; then
	udir=$(user_dir nibsub ustore)
	run as_user nibsub "$T/bin/nib" --root "$udir/root" pull -q --tls-verify=false "$SRCREG/src/img:v1"
	assert_status 0
	run as_user nibsub "$T/bin/nib" --root "$udir/root" push -q --tls-verify=false "$SRCREG/src/img:v1" "$DST/user/img:v1"
	assert_status 0
	assert_eq "$out" "$IMG_MANIFEST"
else
	skip "needs root to create test users"
fi

finish
