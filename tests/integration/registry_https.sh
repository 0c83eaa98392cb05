#!/bin/bash
# A registry on HTTPS never leads nib to plain HTTP: a redirect of a manifest
# or blob to http://, or an upload Location on http://, is refused unless
# that host is marked insecure; a token realm on plain HTTP never receives
# the credentials. The HTTPS registry is the fault proxy with TLS in front of
# Debian's docker-registry; nib trusts its CA through --cert-dir.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"

CASES=("manifest redirected to plain HTTP is refused" "blob redirected to plain HTTP is refused"
	"--tls-verify=false allows the redirect" "upload Location on plain HTTP is refused"
	"plain-HTTP token realm gets no credentials" "registries.conf insecure allows the realm")
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null ||
	! command -v openssl >/dev/null; then
	skip_cases "docker-registry, skopeo and openssl are needed (make deps)" "${CASES[@]}"
	finish
	exit
fi

mkdir -p "$T/tls" "$T/certs"
_reg_tls_material "$T/tls" || fail "TLS material"
cp "$T/tls/ca.pem" "$T/certs/ca.crt"
export PROXY_TLS_CERT=$T/tls/server.pem PROXY_TLS_KEY=$T/tls/server.key

make_image "$T/img" v1 2 https
registry_start plain || fail "plain registry"
P=$REG
skopeo_push "$T/img:v1" p/img:v1
proxy_start "$P" || fail "TLS proxy"
S=$PROXY
SDIR=$PROXY_DIR
rules() { printf '%s\n' "$@" >"$SDIR/rules"; : >"$SDIR/log"; }

# every pull in a fresh store
n=0
pull() { # ARGS...
	n=$((n + 1))
	run "$NIB" --root "$T/r$n" pull -q --retry 0 "$@"
}

t "${CASES[0]}"
rules "GET /manifests/ redirect-to http://$P"
pull --cert-dir "$T/certs" "$S/p/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $S/p/img:v1: .*redirect from HTTPS to plain HTTP \\($P\\) refused"
assert_lines "$err" 1
assert_eq "$(ls "$T/r$n/blobs/sha256" 2>/dev/null | wc -l)" 0

t "${CASES[1]}"
rules "GET /blobs/ redirect-to http://$P"
pull --cert-dir "$T/certs" "$S/p/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $S/p/img:v1: blob sha256:[0-9a-f]+: redirect from HTTPS to plain HTTP \\($P\\) refused"
for d in $IMAGE_LAYERS; do
	assert_no_file "$T/r$n/blobs/sha256/${d#sha256:}"
done
rules
pull --cert-dir "$T/certs" "$S/p/img:v1"
assert_status 0 "the same pull without the redirect"

t "${CASES[2]}"
rules "GET /blobs/ redirect-to http://$P"
pull --tls-verify=false "$S/p/img:v1"
assert_status 0
assert_match "$(cat "$SDIR/log")" "GET /v2/p/img/blobs/"

t "${CASES[3]}"
make_image "$T/img2" v2 2 https-push
rules "POST /blobs/uploads/ plain-location"
run "$NIB" --root "$T/push" pull -q --tls-verify=false "$P/p/img:v1"
skopeo copy -q "oci:$T/img2:v2" "oci:$T/push:$S/p/pushed:v2" >/dev/null 2>&1 ||
	fail "could not put an image in the store"
run "$NIB" --root "$T/push" push --retry 0 --cert-dir "$T/certs" "$S/p/pushed:v2"
assert_status 1
assert_match "$err" "redirect from HTTPS to plain HTTP \\($P\\) refused"
run skopeo inspect --tls-verify=false "docker://$P/p/pushed:v2"
assert_status 1 "the image reached the registry over plain HTTP"

t "${CASES[4]}"
registry_start token || fail "token registry"
TK=$REG
skopeo_push "$T/img:v1" team/img:v1 --dest-creds "$REG_USER:$REG_PASS"
proxy_start "$TK" || fail "TLS proxy for the token registry"
: >"$TOKEN_DIR/requests.log"
pull --cert-dir "$T/certs" --creds "$REG_USER:$REG_PASS" "$PROXY/team/img:v1"
assert_status 1
assert_match "$err" "the token realm is plain HTTP \\(127\\.0\\.0\\.1:[0-9]+\\): credentials are only sent over HTTPS"
assert_no_match "$err" "$REG_PASS"
assert_no_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes"
# the user's own choice: --tls-verify=false marks every host insecure
pull --tls-verify=false --creds "$REG_USER:$REG_PASS" "$PROXY/team/img:v1"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes"

t "${CASES[5]}"
realm_host=$(sed -n 's|^ *realm: http://\([^/]*\)/.*|\1|p' "$REG_DIR/config.yml")
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$realm_host" >"$T/registries.conf"
: >"$TOKEN_DIR/requests.log"
CONTAINERS_REGISTRIES_CONF=$T/registries.conf pull --cert-dir "$T/certs" \
	--creds "$REG_USER:$REG_PASS" "$PROXY/team/img:v1"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes"
finish
