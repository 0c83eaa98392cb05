#!/bin/bash
# Registry failures through a fault-injecting proxy (tests/lib/fault_proxy.py)
# in front of a real docker-registry: resume after a dropped blob stream,
# retries on 500 and 429 (Retry-After), stalls, and bad input (malformed
# references and manifests, wrong digests, oversized WWW-Authenticate, closed
# connections): one-line errors naming the reference, exit status 1, nothing
# half-written in the store.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip_cases "docker-registry and skopeo are needed (make deps)" "registry faults"
	finish
	exit
fi

IMAGE_BIG_KB=2048 make_image "$T/img" v1 2 faults
BIG=${IMAGE_LAYERS##* }
IMG_MANIFEST=$IMAGE_MANIFEST
registry_start plain || fail "docker-registry did not start"
UP=$REG
skopeo_push "$T/img:v1" f/img:v1
proxy_start "$UP" || fail "proxy did not start"
P=$PROXY
rules() { printf '%s\n' "$@" >"$PROXY_DIR/rules"; : >"$PROXY_DIR/log"; }
n=0
fresh() { n=$((n + 1)); R=$T/root$n; }
pull() { "$NIB" --root "$R" pull -q --tls-verify=false --retry-delay 10ms "$@"; }
# The store holds no temp file and no blob that is not fully verified.
store_clean() {
	local f
	[ -d "$R/blobs/sha256" ] || return 0
	for f in "$R"/blobs/sha256/* "$R"/blobs/sha256/.*; do
		[ -f "$f" ] || continue
		case ${f##*/} in
		. | ..) ;;
		.*) fail "temp file left: $f" ;;
		*) [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${f##*/}" ] || fail "corrupt blob $f" ;;
		esac
	done
}
no_tag() { # REF
	[ ! -f "$R/index.json" ] || ! grep -qF "\"$1\"" "$R/index.json" || fail "$1 is tagged"
}

t "a dropped blob stream resumes with Range"
fresh
rules "GET /blobs/$BIG drop 300000 1"
run pull "$P/f/img:v1"
assert_status 0
assert_match "$(cat "$PROXY_DIR/log")" "GET /v2/f/img/blobs/$BIG auth=no range=bytes=[0-9]+-"
assert_file "$R/blobs/sha256/${BIG#sha256:}"
store_clean

t "a stalled blob stream is abandoned and resumed"
fresh
rules "GET /blobs/$BIG stall 300000 1"
run env NIB_REGISTRY_STALL_SECONDS=2 "$NIB" --root "$R" pull -q --tls-verify=false --retry-delay 10ms "$P/f/img:v1"
assert_status 0
assert_match "$(cat "$PROXY_DIR/log")" "range=bytes=[0-9]+-"
store_clean

t "HTTP 500 is retried with backoff"
fresh
rules "GET /manifests/ status 500 - 2" "GET /blobs/ status 503 - 1"
run pull --retry 3 "$P/f/img:v1"
assert_status 0
assert_eq "$(grep -c 'GET /v2/f/img/manifests/v1' "$PROXY_DIR/log")" 3

t "HTTP 429 honours Retry-After"
fresh
rules "GET /manifests/ status 429 2 1"
start=$(date +%s.%N)
run pull "$P/f/img:v1"
end=$(date +%s.%N)
assert_status 0
awk -v a="$start" -v b="$end" 'BEGIN { exit !(b - a >= 1.9) }' || fail "did not wait for Retry-After (2 s)"

t "--retry 0 gives up at once with a one-line error"
fresh
rules "GET /manifests/ status 500"
run pull --retry 0 "$P/f/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $P/f/img:v1: manifest: HTTP 500"
assert_lines "$err" 1
assert_eq "$(grep -c 'manifests/v1' "$PROXY_DIR/log")" 1

t "a pull that fails for good leaves no partial blob and no tag"
fresh
rules "GET /blobs/$BIG drop 300000"
run pull --retry 2 "$P/f/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $P/f/img:v1: blob $BIG: "
assert_lines "$err" 1
assert_no_file "$R/blobs/sha256/${BIG#sha256:}"
no_tag "$P/f/img:v1"
store_clean

t "a registry that closes the connection"
fresh
rules "GET /manifests/ close"
run pull --retry 1 "$P/f/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $P/f/img:v1: .*(Server returned nothing|closed|Failure when receiving)"
assert_lines "$err" 1

t "an oversized WWW-Authenticate header is refused"
fresh
rules "GET /v2/\$ bigauth"
run "$NIB" --root "$R" pull -q --tls-verify=false "$P/f/img:v1"
assert_status 1
assert_match "$err" "WWW-Authenticate header longer than"
assert_lines "$err" 1

t "a blob whose content does not match its digest is refused"
fresh
regblob=$(find "$REG_DIR/storage" -path "*/blobs/sha256/*/${BIG#sha256:}/data")
cp "$regblob" "$T/saved-blob"
printf 'X' | dd of="$regblob" bs=1 seek=1000 conv=notrunc 2>/dev/null
run pull --retry 0 "$UP/f/img:v1"
assert_status 1
assert_match "$err" "^nib: error: $UP/f/img:v1: blob $BIG: content has digest sha256:"
assert_lines "$err" 1
assert_no_file "$R/blobs/sha256/${BIG#sha256:}"
store_clean
cp "$T/saved-blob" "$regblob"

# ---- crafted manifests served by the proxy ---------------------------------------
serve() { # NAME CONTENT-TYPE  (document on stdin)
	cat >"$T/doc-$1"
	rules "GET /manifests/bad serve $T/doc-$1 $2"
}
crafted() { # EXPECTED-ERE
	fresh
	run pull --retry 0 "$P/f/img:bad"
	assert_status 1
	assert_match "$err" "^nib: error: $P/f/img:bad: .*$1"
	assert_lines "$err" 1
	store_clean
	no_tag "$P/f/img:bad"
}
OCI=application/vnd.oci.image.manifest.v1+json
D0=sha256:$(printf '%064d' 0)

t "bad manifest: not JSON"
serve garbage "$OCI" <<<'{"schemaVersion": 2, "config": '
crafted "manifest: .*JSON"

t "bad manifest: duplicate keys"
serve dup "$OCI" <<<'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"'$D0'","size":1},"layers":[],"layers":[]}'
crafted "manifest: .*duplicate"

t "bad manifest: wrong media type"
serve wrongmt "text/html" <<<'{"schemaVersion":2,"mediaType":"text/html","config":{},"layers":[]}'
crafted "unsupported manifest media type 'text/html'"

t "bad manifest: media type differs from the Content-Type"
serve mismatch "$OCI" <<<'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
crafted "does not match the Content-Type"

t "bad manifest: an index that also carries layers (CVE-2021-41190)"
serve ambi-index "application/vnd.oci.image.index.v1+json" <<<'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"config":{"mediaType":"a/b","digest":"'$D0'","size":1},"layers":[]}'
crafted "image index .* with a \"config\" or \"layers\" field is ambiguous"

t "bad manifest: a manifest that also carries manifests (CVE-2021-41190)"
serve ambi-manifest "$OCI" <<<'{"schemaVersion":2,"mediaType":"'$OCI'","config":{"mediaType":"a/b","digest":"'$D0'","size":1},"layers":[],"manifests":[]}'
crafted "image manifest .* with a \"manifests\" field is ambiguous"

t "bad manifest: no media type, fields of both kinds (CVE-2021-41190)"
serve ambi-none "application/json" <<<'{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"'$D0'","size":1},"layers":[],"manifests":[]}'
crafted "ambiguous"

t "bad manifest: Docker schema 1 is refused clearly"
serve s1 "application/vnd.docker.distribution.manifest.v1+prettyjws" <<<'{"schemaVersion":1,"name":"f/img","tag":"bad","fsLayers":[]}'
crafted "Docker schema 1 manifests are not supported"

t "bad manifest: thousands of layers"
{
	printf '{"schemaVersion":2,"config":{"mediaType":"a/b","digest":"%s","size":1},"layers":[' "$D0"
	for ((i = 0; i < 5000; i++)); do printf '%s{"mediaType":"a/b","digest":"%s","size":1}' "$([ $i = 0 ] || echo ,)" "$D0"; done
	printf ']}'
} | serve layers "$OCI"
crafted "too many layers"

t "bad manifest: a huge document"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' ' ' | serve huge "$OCI"
crafted "response larger than|larger than"

t "bad manifest: an index whose entry is itself an index"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' >"$T/inner"
inner=sha256:$(sha256sum "$T/inner" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"linux","architecture":"arm64"}}]}' \
	"$inner" "$(stat -c %s "$T/inner")" "$inner" "$(stat -c %s "$T/inner")" >"$T/outer"
printf '%s\n' "GET /manifests/bad serve $T/outer application/vnd.oci.image.index.v1+json" \
	"GET /manifests/$inner serve $T/inner application/vnd.oci.image.index.v1+json" >"$PROXY_DIR/rules"
fresh
run pull --retry 0 --platform linux/amd64 "$P/f/img:bad"
assert_status 1
assert_match "$err" "^nib: error: $P/f/img:bad: .*(itself an index|does not match)"
assert_lines "$err" 1
store_clean

t "a manifest fetched by digest must have that digest"
rules "GET /manifests/$IMG_MANIFEST serve $T/inner $OCI"
fresh
run pull --retry 0 "$P/f/img@$IMG_MANIFEST"
assert_status 1
assert_match "$err" "the registry sent a manifest with digest"
assert_lines "$err" 1

t "malformed references are one-line errors with exit status 1"
for ref in 'Bad/Ref' 'a//b' 'x:' "h.io/x@sha256:123" 'a b' "$(printf 'x%.0s' {1..300})"; do
	run "$NIB" --root "$T/rr" pull "$ref"
	assert_status 1 "$ref"
	assert_match "$err" "^nib: error: invalid reference '" "$ref"
	assert_lines "$err" 1
done

finish
