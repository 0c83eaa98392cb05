#!/bin/bash
# The local image store: nib images / inspect / tag / rmi / prune over an OCI
# layout that skopeo and umoci read and write too; bad input; several nib
# processes at once.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"

ROOT=$T/root
FIX=$T/fixture
export NIB_ROOT=$ROOT

if ! have_static_busybox || ! command -v skopeo >/dev/null; then
	skip_cases "needs a static busybox and skopeo" "store interop"
	finish
	exit
fi
make_busybox_layout "$FIX" bb
make_busybox_layout "$T/fixture2" other 2

t "a new root is an OCI layout with nib's folders"
run "$NIB" images
assert_status 0
assert_match "$out" '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
assert_file "$ROOT/oci-layout"
assert_file "$ROOT/blobs/sha256"
assert_file "$ROOT/nib/lock"
assert_eq "$(jq -c . "$ROOT/index.json")" '{"schemaVersion":2,"manifests":[]}'

t "images skopeo copies into the root are listed and inspected"
run skopeo copy --quiet oci:"$FIX":bb oci:"$ROOT":docker.io/library/busybox:latest
assert_status 0
run "$NIB" images
assert_status 0
id=$(jq -r .config.digest "$ROOT/blobs/sha256/$(jq -r '.manifests[0].digest' "$ROOT/index.json" | cut -d: -f2)" | cut -d: -f2)
assert_match "$out" "^docker.io/library/busybox +latest +${id:0:12} +[0-9]+ (days|weeks|months|years) ago +[0-9.]+ [kM]B$"
run "$NIB" inspect --json busybox
assert_status 0
assert_lines "$out" 1
assert_eq "$(echo "$out" | jq -r .Name)" docker.io/library/busybox:latest
assert_eq "$(echo "$out" | jq -r .ImageID)" "$id"
assert_eq "$(echo "$out" | jq -r '.Config.config.Cmd[0]')" /bin/sh
assert_eq "$(echo "$out" | jq -r '.Manifest.layers | length')" 1
mdig=$(echo "$out" | jq -r .ManifestDigest)
run "$NIB" inspect --json "busybox@$mdig"
assert_status 0
assert_eq "$(echo "$out" | jq -r .ImageID)" "$id" "inspect by NAME@DIGEST"
run "$NIB" inspect "${id:0:5}"
assert_status 0
assert_eq "$(echo "$out" | jq -r .ImageID)" "$id" "inspect by ID prefix"

t "nib images --json groups names by image"
run "$NIB" images --json
assert_status 0
assert_eq "$(echo "$out" | jq -r '.[0].names[0]')" docker.io/library/busybox:latest
assert_eq "$(echo "$out" | jq -r '.[0].id')" "$id"

t "nib tag adds full normalised names that skopeo and umoci read back"
run "$NIB" tag busybox localhost:5000/x:1 quay.io/a/b
assert_status 0
run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$ROOT/index.json"
assert_eq "$out" "docker.io/library/busybox:latest
localhost:5000/x:1
quay.io/a/b:latest"
run skopeo copy --quiet oci:"$ROOT":localhost:5000/x:1 oci:"$T/out":copied
assert_status 0
assert_eq "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/out/index.json")" copied
if command -v umoci >/dev/null; then
	run umoci unpack --rootless --image "$ROOT":quay.io/a/b:latest "$T/bundle"
	assert_status 0 "umoci unpack"
	assert_file "$T/bundle/rootfs/bin/busybox"
	assert_file "$T/bundle/config.json"
else
	fail "umoci missing"
fi
run "$NIB" images
assert_match "$out" "localhost:5000/x +1 +${id:0:12}"

t "a bare name written by skopeo is listed as a tag and found as written"
run skopeo copy --quiet oci:"$T/fixture2":other oci:"$ROOT":mytag
assert_status 0
run "$NIB" images
assert_match "$out" '<none> +mytag '
run "$NIB" inspect mytag
assert_status 0
assert_eq "$(echo "$out" | jq -r .Name)" mytag
run "$NIB" tag mytag localhost/mine:2
assert_status 0
run "$NIB" inspect --json localhost/mine:2
assert_eq "$(echo "$out" | jq -r '.Config.config.Env[1]')" V=2

t "tag and inspect errors name the image and exit 1 or 2"
run "$NIB" inspect nosuch:1
assert_status 1
assert_lines "$err" 1
assert_match "$err" "^nib: error: image 'nosuch:1' not found in $ROOT"
run "$NIB" tag nosuch newname
assert_status 1
run "$NIB" tag busybox 'Bad/Name'
assert_status 2
assert_match "$err" "Bad/Name"
run "$NIB" tag busybox
assert_status 2

t "nib rmi removes a name; the last name's blobs are collected"
blobs_before=$(ls "$ROOT/blobs/sha256" | wc -l)
run "$NIB" rmi localhost:5000/x:1
assert_status 0
assert_match "$out" '^untagged: localhost:5000/x:1$'
assert_eq "$(ls "$ROOT/blobs/sha256" | wc -l)" "$blobs_before" "blobs still named"
run "$NIB" rmi "$id"
assert_status 2 "two names left"
assert_match "$err" "names"
run "$NIB" rmi -f "$id"
assert_status 0
assert_match "$out" "$id"
assert_eq "$(ls "$ROOT/blobs/sha256" | wc -l)" 3 "only the other image's blobs remain"
run "$NIB" rmi busybox
assert_status 1
assert_match "$err" "busybox"

t "nib prune removes unreferenced blobs and leftovers"
echo orphan >"$T/orphan"
h=$(sha256sum "$T/orphan" | cut -d' ' -f1)
cp "$T/orphan" "$ROOT/blobs/sha256/$h"
echo half >"$ROOT/blobs/sha256/.tmp-99999-1"
run "$NIB" prune
assert_status 0
assert_match "$out" 'removed 1 blobs'
assert_no_file "$ROOT/blobs/sha256/$h"
assert_no_file "$ROOT/blobs/sha256/.tmp-99999-1"
run "$NIB" inspect mytag
assert_status 0 "named image kept"

t "a corrupt index.json is an error naming it, and is left as it was"
cp "$ROOT/index.json" "$T/index.good"
printf '{"schemaVersion":2,"manifests":[' >"$ROOT/index.json"
for c in "images" "inspect mytag" "tag mytag a/b" "rmi mytag" "prune"; do
	run "$NIB" $c
	assert_status 1 "$c"
	assert_lines "$err" 1
	assert_match "$err" "$ROOT/index.json" "$c"
done
assert_eq "$(cat "$ROOT/index.json")" '{"schemaVersion":2,"manifests":['
printf '{"schemaVersion":2,"manifests":[],"manifests":[]}' >"$ROOT/index.json"
run "$NIB" images
assert_status 1
assert_match "$err" 'duplicate key "manifests"'
cp "$T/index.good" "$ROOT/index.json"

t "a truncated or altered blob is refused naming the image and digest"
mdig=$(jq -r '.manifests[0].digest' "$ROOT/index.json")
mfile=$ROOT/blobs/sha256/${mdig#sha256:}
cp "$mfile" "$T/manifest.good"
head -c 50 "$T/manifest.good" >"$mfile"
run "$NIB" inspect mytag
assert_status 1
assert_lines "$err" 1
assert_match "$err" "mytag"
assert_match "$err" "$mdig"
sed 's/tar+gzip/tar+gzap/' "$T/manifest.good" >"$mfile"
run "$NIB" inspect mytag
assert_status 1
assert_match "$err" "$mdig"
cp "$T/manifest.good" "$mfile"
run "$NIB" inspect mytag
assert_status 0

t "malformed manifests are refused: media type, duplicate keys, size, layer count"
bad_manifest() { # CONTENT -> tags it as bad:1 in the root
	local h s
	printf '%s' "$1" >"$T/bad.json"
	h=$(sha256sum "$T/bad.json" | cut -d' ' -f1)
	s=$(stat -c %s "$T/bad.json")
	cp "$T/bad.json" "$ROOT/blobs/sha256/$h"
	jq -c --arg d "sha256:$h" --argjson s "$s" --arg mt "${2:-application/vnd.oci.image.manifest.v1+json}" \
		'.manifests += [{"mediaType":$mt,"digest":$d,"size":$s,"annotations":{"org.opencontainers.image.ref.name":"bad:1"}}]' \
		"$T/index.good" >"$ROOT/index.json"
}
cfg='{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'$(printf 1%.0s {1..64})'","size":1}'
bad_manifest '{"schemaVersion":2,"mediaType":"text/plain","config":'"$cfg"',"layers":[]}'
run "$NIB" inspect bad:1
assert_status 1
assert_match "$err" "bad:1.*mediaType"
bad_manifest '{"schemaVersion":2,"config":'"$cfg"',"layers":[],"layers":[]}'
run "$NIB" inspect bad:1
assert_status 1
assert_match "$err" "bad:1.*duplicate key"
bad_manifest "{\"schemaVersion\":2,\"config\":$cfg,\"layers\":[$(for i in $(seq 5000); do printf '%s,' "$cfg"; done)$cfg]}"
run "$NIB" inspect bad:1
assert_status 1
assert_match "$err" "bad:1.*more than the limit"
head -c $((5 << 20)) /dev/zero | tr '\0' ' ' >"$T/huge"
bad_manifest "$(cat "$T/huge"){}"
run "$NIB" inspect bad:1
assert_status 1
assert_match "$err" "bad:1.*larger than"
bad_manifest '{"schemaVersion":2,"manifests":[]}' application/vnd.oci.image.index.v1+json
run "$NIB" inspect bad:1
assert_status 1
assert_match "$err" "bad:1.*no manifest for"
run "$NIB" images
assert_status 0 "images skips what it cannot read"
assert_match "$out" 'mytag'
cp "$T/index.good" "$ROOT/index.json"

t "several nib processes tagging at once leave a valid index.json with every tag"
pids=()
for i in $(seq 1 12); do
	"$NIB" tag mytag "localhost/c$i:x" 2>"$T/tag$i.err" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
assert_eq "$rc" 0 "every tag process succeeded"
run jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$ROOT/index.json"
assert_status 0 "index.json is valid JSON"
for i in $(seq 1 12); do
	assert_match "$out" "^localhost/c$i:x$"
done
run skopeo inspect --raw oci:"$ROOT":localhost/c7:x
assert_status 0

t "prune running beside writers never removes what they name"
echo stray >"$T/stray"
cp "$T/stray" "$ROOT/blobs/sha256/$(sha256sum "$T/stray" | cut -d' ' -f1)"
pids=()
for i in $(seq 1 6); do
	skopeo copy --quiet oci:"$T/fixture2":other oci:"$T/tmp$i":t &&
		"$NIB" tag mytag "localhost/p$i:x" &
	pids+=($!)
	"$NIB" prune >/dev/null 2>>"$T/prune.err" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
assert_eq "$rc" 0 "every process succeeded: $(cat "$T/prune.err")"
for i in $(seq 1 6); do
	run "$NIB" inspect "localhost/p$i:x"
	assert_status 0 "p$i"
done
run "$NIB" prune
assert_status 0
assert_match "$out" "kept $(ls "$ROOT/blobs/sha256" | wc -l) blobs"
run skopeo copy --quiet oci:"$ROOT":localhost/p3:x oci:"$T/p3copy":t
assert_status 0

t "an unprivileged user gets a root of its own"
if users_setup; then
	d=$(user_dir nibplain uroot)
	run as_user nibplain env NIB_ROOT="$d/r" "$NIB" images
	assert_status 0
	assert_file "$d/r/index.json"
	run as_user nibplain env NIB_ROOT="$ROOT" "$NIB" images
	assert_status 1 "another user's root is private to it"
	assert_lines "$err" 1
	assert_match "$err" "$ROOT"
	run as_user nibplain env NIB_ROOT="$ROOT" "$NIB" tag mytag x/y:z
	assert_status 1 "root owned by another user"
	assert_lines "$err" 1
	assert_match "$err" "$ROOT"
	run "$NIB" inspect x/y:z
	assert_status 1 "nothing was tagged"
else
	skip "needs root to create test users"
fi

finish
