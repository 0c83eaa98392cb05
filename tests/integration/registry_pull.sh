#!/bin/bash
# nib pull against Debian's docker-registry on loopback: plain HTTP, htpasswd
# Basic, token auth and TLS; images pushed by skopeo; indexes and platforms;
# an unprivileged user.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip_cases "docker-registry and skopeo are needed (make deps)" "registry pull"
	finish
	exit
fi

ROOT=$T/root
nibr() { "$NIB" --root "$ROOT" "$@"; }

make_image "$T/img" v1 3 one
IMG_CONFIG=$IMAGE_CONFIG IMG_MANIFEST=$IMAGE_MANIFEST

# ---- plain HTTP ------------------------------------------------------------
registry_start plain || fail "docker-registry did not start"
PLAIN=$REG
skopeo_push "$T/img:v1" test/img:v1

t "pull from a plain-HTTP registry needs --tls-verify=false"
run nibr pull "$PLAIN/test/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $PLAIN/test/img:v1: .*TLS connection failed"
assert_lines "$err" 2 # "Pulling ..." and the error

t "pull stores every blob, tags the full reference and prints the image ID"
run nibr pull --tls-verify=false "$PLAIN/test/img:v1"
assert_status 0
assert_eq "$out" "${IMAGE_CONFIG#sha256:}"
for d in "$IMAGE_MANIFEST" "$IMAGE_CONFIG"; do
	assert_file "$ROOT/blobs/sha256/${d#sha256:}"
done
assert_eq "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$ROOT/index.json")" \
	"$PLAIN/test/img:v1"
assert_eq "$(jq -r '.manifests[0].digest' "$ROOT/index.json")" "$IMAGE_MANIFEST"
n=$(printf '%s\n' "$err" | grep -c '^Copied blob ')
assert_eq "$n" 4 "config + 3 layers, one line each"
assert_eq "$(ls "$ROOT/blobs/sha256" | grep -c '^\.')" 0 "no temp files left"

t "blobs already in the store are not fetched again"
run nibr pull --tls-verify=false "$PLAIN/test/img:v1"
assert_status 0
assert_eq "$(printf '%s\n' "$err" | grep -c '^Copied blob ')" 0
assert_eq "$(printf '%s\n' "$err" | grep -c 'already present')" 4

t "skopeo and umoci read the pulled image from the store"
run skopeo inspect "oci:$ROOT:$PLAIN/test/img:v1"
assert_status 0
assert_eq "$(printf '%s' "$out" | jq -r .Digest)" "$IMAGE_MANIFEST"
if command -v umoci >/dev/null; then
	run umoci unpack --rootless --image "$ROOT:$PLAIN/test/img:v1" "$T/bundle"
	assert_status 0
	assert_eq "$(cat "$T/bundle/rootfs/etc/nib-release" 2>/dev/null)" "nib test image one"
	assert_file "$T/bundle/rootfs/data/layer3.txt"
	cmp -s /bin/busybox "$T/bundle/rootfs/bin/busybox" || fail "busybox differs"
fi

t "pull by digest"
run nibr pull -q --tls-verify=false "$PLAIN/test/img@$IMAGE_MANIFEST"
assert_status 0
assert_eq "$err" ""
assert_eq "$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$ROOT/index.json" | grep -c "@$IMAGE_MANIFEST")" 1

t "a missing tag is a one-line not-found error naming the reference"
run nibr pull -q --tls-verify=false "$PLAIN/test/img:nope"
assert_status 1
assert_match "$err" "^nib: error: $PLAIN/test/img:nope: manifest: HTTP 404"
assert_lines "$err" 1

t "short names go through registries.conf"
cat >"$T/registries.conf" <<CONF
unqualified-search-registries = ["$PLAIN"]
[[registry]]
location = "$PLAIN"
insecure = true
[aliases]
"myalias" = "$PLAIN/test/img"
CONF
run env CONTAINERS_REGISTRIES_CONF="$T/registries.conf" "$NIB" --root "$T/root2" pull -q test/img:v1
assert_status 0
assert_eq "$out" "${IMAGE_CONFIG#sha256:}"
run env CONTAINERS_REGISTRIES_CONF="$T/registries.conf" "$NIB" --root "$T/root2" pull -q myalias:v1
assert_status 0
printf 'unqualified-search-registries = ["%s", "quay.io"]\n' "$PLAIN" >"$T/amb.conf"
run env CONTAINERS_REGISTRIES_CONF="$T/amb.conf" "$NIB" --root "$T/root2" pull -q test/img:v1
assert_status 2
assert_match "$err" "short name 'test/img:v1' is ambiguous"
assert_lines "$err" 1

t "mirrors from registries.conf are tried first"
registry_start plain || fail "second registry"
MIRROR=$REG
REG=$PLAIN
make_image "$T/mimg" v1 1 mirror
REG=$MIRROR skopeo_push "$T/mimg:v1" up/test/img:v1
cat >"$T/mirror.conf" <<CONF
[[registry]]
prefix = "$PLAIN/test"
location = "$PLAIN/test"
insecure = true
[[registry.mirror]]
location = "$MIRROR/up/test"
insecure = true
CONF
run env CONTAINERS_REGISTRIES_CONF="$T/mirror.conf" "$NIB" --root "$T/root3" pull -q "$PLAIN/test/img:v1"
assert_status 0
assert_eq "$out" "${IMAGE_CONFIG#sha256:}" "the mirror's image"
run env CONTAINERS_REGISTRIES_CONF="$T/mirror.conf" "$NIB" --root "$T/root3" pull -q "$PLAIN/test/img@$IMAGE_MANIFEST"
assert_status 0 "the mirror lacks it: the location is used"
REG=$PLAIN

t "an index: the host platform, --platform, and a clear error for a missing one"
make_index "$T/multi" m1
skopeo_push "$T/multi:m1" test/multi:m1 --all
run nibr pull -q --tls-verify=false "$PLAIN/test/multi:m1"
assert_status 0
if [ "$(uname -m)" = x86_64 ]; then
	assert_eq "$(jq -r --arg r "$PLAIN/test/multi:m1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$r) | .digest' "$ROOT/index.json")" "$AMD64_MANIFEST"
fi
assert_file "$ROOT/blobs/sha256/${INDEX_DIGEST#sha256:}"
run nibr pull -q --tls-verify=false --platform linux/arm64 "$PLAIN/test/multi:m1"
assert_status 0
assert_eq "$(jq -r --arg r "$PLAIN/test/multi:m1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$r) | .digest' "$ROOT/index.json")" "$ARM64_MANIFEST"
run nibr pull -q --tls-verify=false --platform linux/s390x "$PLAIN/test/multi:m1"
assert_status 1
assert_match "$err" "no image for platform linux/s390x .*available: linux/amd64, linux/arm64/v8"
assert_lines "$err" 1

# ---- htpasswd Basic ----------------------------------------------------------
registry_start basic || fail "basic registry"
BASIC=$REG
skopeo_push "$T/img:v1" priv/img:v1 --dest-creds "$REG_USER:$REG_PASS"

t "Basic: anonymous pull is refused with an auth error"
run nibr pull -q --tls-verify=false "$BASIC/priv/img:v1"
assert_status 1
assert_match "$err" "$BASIC.*(requires authentication|401)"
assert_lines "$err" 1

t "Basic: --creds, and a wrong password is refused without showing it"
run nibr pull -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$BASIC/priv/img:v1"
assert_status 0
run nibr pull -q --tls-verify=false --creds "$REG_USER:wrong-pw-xyz" "$BASIC/priv/img:v1"
assert_status 1
assert_match "$err" "HTTP 401"
assert_no_match "$err" "wrong-pw-xyz"

t "Basic: credentials from --authfile and \$REGISTRY_AUTH_FILE; debug logs show no secret"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$BASIC" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" >"$T/auth.json"
run "$NIB" --root "$T/r4" --log-level debug pull --tls-verify=false --authfile "$T/auth.json" "$BASIC/priv/img:v1"
assert_status 0
assert_no_match "$err" "$REG_PASS"
assert_no_match "$err" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)"
run env REGISTRY_AUTH_FILE="$T/auth.json" "$NIB" --root "$T/r5" pull -q --tls-verify=false "$BASIC/priv/img:v1"
assert_status 0

# ---- token auth ------------------------------------------------------------------
registry_start token || fail "token registry"
TOKEN=$REG
skopeo_push "$T/img:v1" public/img:v1 --dest-creds "$REG_USER:$REG_PASS"
skopeo_push "$T/img:v1" team/img:v1 --dest-creds "$REG_USER:$REG_PASS"

t "token: anonymous pull of a public repository gets an anonymous token"
: >"$TOKEN_DIR/requests.log"
run nibr pull -q --tls-verify=false "$TOKEN/public/img:v1"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=no scope=repository:public/img:pull"

t "token: a private repository needs credentials"
run "$NIB" --root "$T/r6" pull -q --tls-verify=false "$TOKEN/team/img:v1"
assert_status 1
assert_match "$err" "$TOKEN/team/img:v1: .*HTTP 401"
assert_lines "$err" 1
: >"$TOKEN_DIR/requests.log"
run "$NIB" --root "$T/r6" pull -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$TOKEN/team/img:v1"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes scope=repository:team/img:pull"
assert_eq "$(grep -c . "$TOKEN_DIR/requests.log")" 1 "one token for the whole pull (cached per scope)"

t "token: a garbage token endpoint is a one-line error"
echo garbage >"$TOKEN_DIR/mode"
run "$NIB" --root "$T/r7" pull -q --tls-verify=false --retry 0 "$TOKEN/public/img:v1"
assert_status 1
assert_match "$err" "$TOKEN/public/img:v1: token endpoint .* malformed response"
assert_lines "$err" 1
echo notoken >"$TOKEN_DIR/mode"
run "$NIB" --root "$T/r7" pull -q --tls-verify=false --retry 0 "$TOKEN/public/img:v1"
assert_status 1
assert_match "$err" "malformed response"
rm -f "$TOKEN_DIR/mode"
assert_eq "$(ls -A "$T/r7/blobs/sha256" 2>/dev/null | wc -l)" 0 "nothing stored"

# ---- TLS ---------------------------------------------------------------------------
registry_start tls || fail "tls registry"
TLS=$REG
skopeo copy -q --dest-cert-dir "$REG_DIR" oci:"$T/img:v1" "docker://$TLS/tls/img:v1" 2>/dev/null ||
	skopeo copy -q --dest-tls-verify=false oci:"$T/img:v1" "docker://$TLS/tls/img:v1"

t "TLS: an untrusted certificate is refused with a hint"
run nibr pull -q "$TLS/tls/img:v1"
assert_status 1
assert_match "$err" "$TLS: TLS connection failed: .*--cert-dir"
assert_lines "$err" 1

t "TLS: --cert-dir with the CA, and --tls-verify=false"
mkdir -p "$T/certs"
cp "$REG_CA" "$T/certs/ca.crt"
run nibr pull -q --cert-dir "$T/certs" "$TLS/tls/img:v1"
assert_status 0
run "$NIB" --root "$T/r8" pull -q --tls-verify=false "$TLS/tls/img:v1"
assert_status 0

# ---- unprivileged user -----------------------------------------------------------
t "an unprivileged user pulls into a store it owns"
if users_setup; then
	udir=$(user_dir nibplain ustore)
	run as_user nibplain "$T/bin/nib" --root "$udir/root" pull -q --tls-verify=false "$PLAIN/test/img:v1"
	assert_status 0
	assert_eq "$out" "${IMG_CONFIG#sha256:}"
	assert_eq "$(stat -c %U "$udir/root/blobs/sha256/${IMG_CONFIG#sha256:}")" nibplain
	run as_user nibplain "$T/bin/nib" --root "$udir/root" pull -q --tls-verify=false "$BASIC/priv/img:v1"
	assert_status 1
	assert_match "$err" "requires authentication|401"
else
	skip "needs root to create test users"
fi

finish
