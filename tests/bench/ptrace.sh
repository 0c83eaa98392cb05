#!/bin/bash
# Benchmark: the ptrace executor (`nib run --isolation ptrace`) against the
# user-namespace runtime on the same rootfs, in two workloads:
#
#   find      `find / -xdev -ls` over the Debian rootfs (tests/layers/debian_base.sh):
#             a stop for every stat, and for every /etc/localtime check
#             glibc makes while formatting -ls lines. Goal: <= 3x.
#   runs      20 trivial RUN-like invocations (`sh -c true`), on the busybox
#             rootfs (static) and on the Debian one (dash, dynamically linked:
#             every library open is a stop). Goal: <= 2x.
#   apt       `apt-get install less vim-tiny curl` (19 packages: dpkg, maintainer
#             scripts) from packages downloaded beforehand, on a fresh copy of
#             the Debian rootfs each time; single UID only (needs the Debian
#             mirror once, skipped without it). Goal: <= 2x.
#
# Each figure is the median of RUNS repetitions (default 5) of the whole
# workload, with bash's clock. As root both modes run as root (host IDs);
# with the test user nibplain (tests/lib/users.sh) both run with a single UID,
# as in a restricted pod (ownership emulated: a stop, or a seccomp
# notification, for every stat). The last lines count the stops of one find
# by system call (nib --log-level trace).
#
#   tests/bench/ptrace.sh [RUNS]          (as root)
set -eu
[ -n "${EPOCHREALTIME:-}" ] || {
	echo "needs bash 5 (EPOCHREALTIME)" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || {
	echo "run as root (the single-UID figures use the test user nibplain)" >&2
	exit 1
}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NIB=${NIB:-$SRC/build/nib}
RUNS=${1:-5}
W=$(mktemp -d /tmp/nib-bench-ptrace.XXXXXX)
chmod 0755 "$W"
trap 'rm -rf "$W"' EXIT

T=$W
NIB_SRC=$SRC
. "$SRC/tests/lib/users.sh"
users_setup || {
	echo "cannot create the test users" >&2
	exit 1
}

tar=$("$SRC/tests/layers/debian_base.sh")
mkdir -p "$W/deb-root" "$W/deb-user" "$W/bb-root" "$W/bb-user"
tar -xf "$tar" -C "$W/deb-root"
tar -xf "$tar" -C "$W/deb-user"
chown -R nibplain: "$W/deb-user"
for R in "$W/bb-root" "$W/bb-user"; do
	mkdir -p "$R/bin" "$R/etc" "$R/tmp"
	cp /bin/busybox "$R/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		mkdir -p "$R/$(dirname "$a")"
		[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
	printf 'root:x:0:\n' >"$R/etc/group"
done
chown -R nibplain: "$W/bb-user"
cp "$NIB" "$W/nib"
chmod 0755 "$W/nib"

# median in ms of RUNS runs of CMD...
median_ms() {
	local i t0 t1 times=()
	"$@" >/dev/null 2>&1 # warm up
	for ((i = 0; i < RUNS; i++)); do
		t0=${EPOCHREALTIME/[.,]/}
		"$@" >/dev/null 2>&1
		t1=${EPOCHREALTIME/[.,]/}
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}

find_ls() { # ISOLATION ROOTFS [USER]
	if [ -n "${3:-}" ]; then
		as_user "$3" "$W/nib" run --isolation "$1" --rootfs "$2" -- find / -xdev -ls
	else
		"$W/nib" run --isolation "$1" --rootfs "$2" -- find / -xdev -ls
	fi
}

runs20() { # ISOLATION ROOTFS [USER]
	local i
	if [ -n "${3:-}" ]; then
		as_user "$3" bash -c 'for i in $(seq 20); do "$0" run --isolation "$1" --rootfs "$2" -- sh -c true || exit 1; done' \
			"$W/nib" "$1" "$2"
	else
		for i in $(seq 20); do
			"$W/nib" run --isolation "$1" --rootfs "$2" -- sh -c true || return 1
		done
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

line() { # LABEL NS_MS PT_MS GOAL
	printf '%-52s namespaces %8.1f ms  ptrace %8.1f ms  ratio %s (goal <= %s)\n' \
		"$1" "$2" "$3" "$(ratio "$3" "$2")" "$4"
}

echo "$("$NIB" --version | head -n 1), $(nproc) CPUs, $RUNS runs each, medians"
for who in root nibplain; do
	if [ "$who" = root ]; then
		u="" sfx=root label="as root (host IDs)"
	else
		u=nibplain sfx=user label="single UID (nibplain)"
	fi
	ns=$(median_ms find_ls namespaces "$W/deb-$sfx" $u)
	pt=$(median_ms find_ls ptrace "$W/deb-$sfx" $u)
	line "find / -xdev -ls, Debian, $label" "$ns" "$pt" 3x
	ns=$(median_ms runs20 namespaces "$W/bb-$sfx" $u)
	pt=$(median_ms runs20 ptrace "$W/bb-$sfx" $u)
	line "20 x sh -c true, busybox, $label" "$ns" "$pt" 2x
	ns=$(median_ms runs20 namespaces "$W/deb-$sfx" $u)
	pt=$(median_ms runs20 ptrace "$W/deb-$sfx" $u)
	line "20 x sh -c true, Debian dash, $label" "$ns" "$pt" 2x
done

# apt: one download, then installs from the cache on fresh copies
mirror=$(sed -n 's|^deb http://\([^/]*\)/.*|\1|p' "$W/deb-user/etc/apt/sources.list" | head -n 1)
if timeout 5 bash -c "exec 3<>/dev/tcp/$mirror/80" 2>/dev/null &&
	as_user nibplain "$W/nib" run --rootfs "$W/deb-user" -- sh -c \
		'apt-get update -qq && apt-get install -y -qq --download-only --no-install-recommends less vim-tiny curl' \
		>/dev/null 2>&1; then
	apt_install() { # ISOLATION
		rm -rf "$W/apt"
		cp -a "$W/deb-user" "$W/apt"
		as_user nibplain "$W/nib" run --isolation "$1" --rootfs "$W/apt" -- sh -c \
			'apt-get install -y -qq --no-download --no-install-recommends less vim-tiny curl && curl --version'
	}
	# the copy is part of every run, in both modes
	ns=$(median_ms apt_install namespaces)
	pt=$(median_ms apt_install ptrace)
	line "apt-get install (19 packages), single UID" "$ns" "$pt" 2x
else
	echo "apt-get install: skipped (the Debian mirror $mirror is not reachable)"
fi

echo
echo "stops of one 'find / -xdev -ls' as root, by system call:"
"$W/nib" --log-level trace run --isolation ptrace --rootfs "$W/deb-root" -- find / -xdev -ls 2>&1 >/dev/null |
	awk '$2 == "ptrace:" && NF == 4 {n[$4]++; t++} END {for (k in n) printf "  %7d %s\n", n[k], k; printf "  %7d in all\n", t}' |
	sort -rn
