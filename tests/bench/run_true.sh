#!/bin/bash
# Benchmark: `nib run --rootfs R -- /bin/true` against `buildah run
# --isolation chroot` on the same busybox rootfs. Prints both medians and the
# ratio. Goal: nib < 10 ms per run and <= 0.1x buildah.
#
#   tests/bench/run_true.sh [RUNS]        (as root for buildah; default 50 runs)
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NIB=${NIB:-$SRC/build/nib}
RUNS=${1:-50}
W=$(mktemp -d /tmp/nib-bench.XXXXXX)
ctr=""
cleanup() {
	[ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

R=$W/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list-full); do
	mkdir -p "$R/$(dirname "$a")"
	[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"

# median in milliseconds of RUNS runs of CMD...
median_ms() {
	local i t0 t1 times=()
	"$@" >/dev/null 2>&1 # warm up
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.2f\n", m / 1000}'
}

nib_ms=$(median_ms "$NIB" run --rootfs "$R" -- /bin/true)
echo "nib run --rootfs R -- /bin/true:              median ${nib_ms} ms ($RUNS runs)"

if ! command -v buildah >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "buildah: not measured (needs buildah and root)"
	exit 0
fi
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
ctr=$(buildah --storage-driver vfs from scratch)
mnt=$(buildah --storage-driver vfs mount "$ctr")
cp -a "$R/." "$mnt/"
bh_ms=$(median_ms buildah --storage-driver vfs run --isolation chroot "$ctr" /bin/true)
echo "buildah run --isolation chroot CTR /bin/true: median ${bh_ms} ms ($RUNS runs)"
awk -v n="$nib_ms" -v b="$bh_ms" 'BEGIN { printf "ratio nib/buildah: %.3f (goal <= 0.1); nib %s 10 ms goal\n", n / b, (n < 10 ? "meets the" : "misses the") }'
