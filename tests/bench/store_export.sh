#!/bin/bash
# Export speed: nib's OCI-layout and docker-archive export from the store
# vs skopeo copying the same image out of the same root. Prints the
# ratios (nib time / skopeo time; below 1 means nib is faster).
#   tests/bench/store_export.sh [BUILD_DIR] [LAYER_MB]
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
MB=${2:-64}
TOOL=$BUILD/tests/helpers/nib-store-tool
T=$(mktemp -d /tmp/nib-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export T NIB_SRC=$SRC
. "$SRC/tests/lib/image.sh"

# a layout with the busybox layer plus a layer of MB random bytes
make_busybox_layout "$T/fix" bb
mkdir -p "$T/big"
head -c $((MB << 20)) /dev/urandom >"$T/big/data"
tar -C "$T/big" -cf "$T/big.tar" data
skopeo copy --quiet oci:"$T/fix":bb oci:"$T/root":docker.io/library/bench:1
ROOT=$T/root
# append the big layer with a new config and manifest
dh=$(sha256sum "$T/big.tar" | cut -d' ' -f1)
gzip -1 -n -c "$T/big.tar" >"$T/big.tgz"
lh=$(sha256sum "$T/big.tgz" | cut -d' ' -f1)
cp "$T/big.tgz" "$ROOT/blobs/sha256/$lh"
m=$(jq -r '.manifests[0].digest' "$ROOT/index.json" | cut -d: -f2)
c=$(jq -r .config.digest "$ROOT/blobs/sha256/$m" | cut -d: -f2)
jq -c --arg d "sha256:$dh" '.rootfs.diff_ids += [$d]' "$ROOT/blobs/sha256/$c" >"$T/c.json"
ch=$(sha256sum "$T/c.json" | cut -d' ' -f1)
cp "$T/c.json" "$ROOT/blobs/sha256/$ch"
jq -c --arg c "sha256:$ch" --argjson cs "$(stat -c %s "$T/c.json")" --arg l "sha256:$lh" \
	--argjson ls "$(stat -c %s "$T/big.tgz")" \
	'.config.digest=$c | .config.size=$cs | .layers += [{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":$l,"size":$ls}]' \
	"$ROOT/blobs/sha256/$m" >"$T/m.json"
mh=$(sha256sum "$T/m.json" | cut -d' ' -f1)
cp "$T/m.json" "$ROOT/blobs/sha256/$mh"
jq -c --arg d "sha256:$mh" --argjson s "$(stat -c %s "$T/m.json")" \
	'.manifests[0].digest=$d | .manifests[0].size=$s' "$ROOT/index.json" >"$T/i.json"
cp "$T/i.json" "$ROOT/index.json"

time_of() { # CMD... -> seconds (best of 3)
	local best=999999 s e
	for _ in 1 2 3; do
		rm -rf "$T/o" "$T/o.tar"
		s=$(date +%s.%N)
		"$@" >/dev/null 2>&1
		e=$(date +%s.%N)
		best=$(awk -v s="$s" -v e="$e" -v b="$best" 'BEGIN { d = e - s; print (d < b ? d : b) }')
	done
	echo "$best"
}
ref=docker.io/library/bench:1
a=$(time_of "$TOOL" export-oci "$ROOT" "$ref" "$T/o" t)
b=$(time_of skopeo copy --quiet oci:"$ROOT":"$ref" oci:"$T/o":t)
c=$(time_of "$TOOL" export-docker "$ROOT" "$ref" "$T/o.tar" bench:1)
d=$(time_of skopeo copy --quiet oci:"$ROOT":"$ref" docker-archive:"$T/o.tar":bench:1)
printf 'image: busybox + %d MiB layer\n' "$MB"
printf 'oci layout:     nib %.3fs  skopeo %.3fs  ratio %.2f\n' "$a" "$b" "$(awk -v x="$a" -v y="$b" 'BEGIN { print x / y }')"
printf 'docker-archive: nib %.3fs  skopeo %.3fs  ratio %.2f\n' "$c" "$d" "$(awk -v x="$c" -v y="$d" 'BEGIN { print x / y }')"
