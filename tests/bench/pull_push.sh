#!/bin/bash
# Benchmark: pull and push of a 4-layer ~150 MB image on a loopback
# docker-registry, nib against `skopeo copy` in the same run.
#
#   tests/bench/pull_push.sh [RUNS]      (default 3; best wall time counts)
#
# Prints, for pull and push: wall seconds and peak RSS (from
# /usr/bin/time -v) of each tool, and nib/skopeo ratios. Goals: wall ratio
# <= 1.0, nib peak RSS < 30 MB.
set -u
NIB_SRC=$(cd "$(dirname "$0")/../.." && pwd)
. "$NIB_SRC/tests/lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
RUNS=${1:-3}
NIB=${NIB:-$NIB_SRC/build/nib}

for tool in docker-registry skopeo /usr/bin/time; do
	command -v "$tool" >/dev/null || {
		echo "needs $tool (make deps)"
		exit 1
	}
done

echo "building the image (3 x 50 MB random layers + busybox layer)..."
IMAGE_BIG_KB=50000 make_image "$T/img" v1 4 bench
size=$(du -sb "$T/img/blobs" | cut -f1)
registry_start plain || exit 1
SRC=$REG
skopeo_push "$T/img:v1" bench/img:v1
echo "image: $(awk -v s="$size" 'BEGIN{printf "%.1f MB", s/1e6}'), 4 layers; source registry $SRC"
echo "each push goes to a fresh registry, so that no blob can be skipped or mounted"

# measure NAME CMD...: prints "wall rss_kb"
measure() {
	local f=$T/time.$$
	shift
	/usr/bin/time -v -o "$f" "$@" >/dev/null 2>"$T/measure.err" || {
		echo "command failed: $*" >&2
		cat "$T/measure.err" >&2
		return 1
	}
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/Maximum resident set size/ { r = $2 } END { printf "%.3f %d\n", w, r }' "$f"
}

best() { sort -n | head -1; }

declare -A W R
for op in pull push; do
	for tool in nib skopeo; do
		: >"$T/$op.$tool"
	done
done
for ((i = 1; i <= RUNS; i++)); do
	rm -rf "$T/root" "$T/oci"
	measure nib "$NIB" --root "$T/root" pull -q --tls-verify=false "$SRC/bench/img:v1" >>"$T/pull.nib" || exit 1
	measure skopeo skopeo copy -q --src-tls-verify=false "docker://$SRC/bench/img:v1" "oci:$T/oci:v1" >>"$T/pull.skopeo" || exit 1
	registry_start plain || exit 1
	measure nib "$NIB" --root "$T/root" push -q --tls-verify=false "$SRC/bench/img:v1" "$REG/nib/img:v1" >>"$T/push.nib" || exit 1
	registry_start plain || exit 1
	measure skopeo skopeo copy -q --dest-tls-verify=false "oci:$T/oci:v1" "docker://$REG/skopeo/img:v1" >>"$T/push.skopeo" || exit 1
done
printf '%-6s %-8s %10s %12s\n' op tool "wall (s)" "peak RSS"
for op in pull push; do
	for tool in nib skopeo; do
		W[$op.$tool]=$(cut -d' ' -f1 "$T/$op.$tool" | best)
		R[$op.$tool]=$(cut -d' ' -f2 "$T/$op.$tool" | sort -n | tail -1)
		printf '%-6s %-8s %10s %9d kB\n' "$op" "$tool" "${W[$op.$tool]}" "${R[$op.$tool]}"
	done
	awk -v a="${W[$op.nib]}" -v b="${W[$op.skopeo]}" -v r="${R[$op.nib]}" -v op="$op" \
		'BEGIN { printf "%-6s nib/skopeo wall ratio %.2f (goal <= 1.0), nib peak RSS %.1f MB (goal < 30)\n", op, a / b, r / 1024 }'
done
