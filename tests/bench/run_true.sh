#!/bin/bash
# Benchmark: `nib run --rootfs R -- /bin/true` against `buildah run
# --isolation chroot` on the same busybox rootfs. Prints both medians and the
# ratio. Goal: nib < 10 ms per run and <= 0.1x buildah.
#
#   tests/bench/run_true.sh [RUNS]        (as root for buildah; default 50 runs)
#
# The ratio is taken as root (nib's host ID map, the mode buildah runs in).
# As root it also times nib in the other modes, with the test users of
# tests/lib/users.sh: nibsub (subuid map through newuidmap) and nibplain
# (single UID, ownership emulated by the seccomp supervisor); each loop runs
# as that user, so no setpriv is timed. The rootfs has no /proc, /dev, /sys
# nor /etc/hosts, so every run creates and removes those mount targets; the
# "image-like" line times a rootfs that has them, as base images do.
set -eu
[ -n "${EPOCHREALTIME:-}" ] || {
	echo "needs bash 5 (EPOCHREALTIME)" >&2
	exit 1
}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NIB=${NIB:-$SRC/build/nib}
RUNS=${1:-50}
W=$(mktemp -d /tmp/nib-bench.XXXXXX)
chmod 0755 "$W"
ctr=""
cleanup() {
	[ -z "$ctr" ] || buildah --storage-driver vfs rm "$ctr" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

make_rootfs() { # DIR
	local R=$1 a
	mkdir -p "$R/bin" "$R/etc" "$R/tmp"
	cp /bin/busybox "$R/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		mkdir -p "$R/$(dirname "$a")"
		[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
	printf 'root:x:0:\n' >"$R/etc/group"
}
R=$W/rootfs
make_rootfs "$R"

# median in milliseconds of RUNS runs of CMD... (bash's clock: two `date`
# processes per run would add about 1.5 ms to every figure)
median_ms() {
	local i t0 t1 times=()
	"$@" >/dev/null 2>&1 # warm up
	for ((i = 0; i < RUNS; i++)); do
		t0=${EPOCHREALTIME/[.,]/}
		"$@" >/dev/null 2>&1
		t1=${EPOCHREALTIME/[.,]/}
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.2f\n", m / 1000}'
}

"$NIB" run --rootfs "$R" -- /bin/true || {
	echo "nib run fails here: nothing to measure" >&2
	exit 1
}
nib_ms=$(median_ms "$NIB" run --rootfs "$R" -- /bin/true)
mode=$([ "$(id -u)" = 0 ] && echo "root, ID map host" || echo "$(id -un)")
echo "nib run --rootfs R -- /bin/true:              median ${nib_ms} ms ($RUNS runs, $mode)"

if [ "$(id -u)" = 0 ]; then
	R2=$W/rootfs-image
	make_rootfs "$R2"
	mkdir -p "$R2/proc" "$R2/dev" "$R2/sys"
	touch "$R2/etc/hosts" "$R2/etc/hostname" "$R2/etc/resolv.conf"
	echo "  image-like rootfs (/proc /dev /sys /etc/hosts present): median $(median_ms "$NIB" run --rootfs "$R2" -- /bin/true) ms"
	export T=$W NIB_SRC=$SRC
	. "$SRC/tests/lib/users.sh"
	if users_setup 2>/dev/null; then
		for u in nibsub nibplain; do
			make_rootfs "$W/rootfs-$u"
			chown -R "$u:" "$W/rootfs-$u"
			ms=$(as_user "$u" bash -c "RUNS=$RUNS; $(declare -f median_ms); median_ms \"\$NIB\" run --rootfs $W/rootfs-$u -- /bin/true")
			echo "  as $u ($([ $u = nibsub ] && echo "subuid map, newuidmap" || echo "single UID, seccomp supervisor")): median $ms ms"
		done
	else
		echo "  nibsub/nibplain: not measured (tests/lib/users.sh cannot create the users)"
	fi
fi

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
