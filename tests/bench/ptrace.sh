#!/bin/bash
# Benchmark: RUN under the ptrace isolation against the user-namespace
# runtime (--isolation namespaces) on this machine, the issue's table:
#
#   steps20  nib build --no-cache of FROM busybox + 20 `RUN echo N > /fN`,
#            --storage-driver vfs in both modes (the driver a pod without
#            user namespaces has)                               goal <= 2x
#   apt      apt-get install of less, vim-tiny and curl (19 packages: dpkg,
#            maintainer scripts) from .debs downloaded beforehand, nib run
#            over a fresh copy of the Debian rootfs (the copy is timed in
#            both modes; needs the Debian mirror once)           goal <= 2x
#   find     find / -xdev -ls over the Debian rootfs (tests/layers/
#            debian_base.sh), nib run                             goal <= 3x
#
# each as root (host IDs) and as the test user nibplain (tests/lib/users.sh:
# a single UID, as in a restricted pod; owners are emulated in both modes,
# so every stat is a stop here and a seccomp notification there). Medians
# of RUNS (default 5) with bash's clock; the load average is printed with
# them, since a tracer that must be scheduled for every stop pays for busy
# CPUs more than namespace mode does.
#
# Where the time goes: the stops of one RUN of each workload by system call
# (nib --log-level trace), and perf's split of the CPU time of the ptrace
# find as root between the tracer (nib) and the traced program, user space
# and kernel, with the kernel functions the tracer spends it in. perf is
# Debian's linux-perf, used by this bench alone, so not in `make deps`
# (apt-get install linux-perf); without it that part says so.
#
#   tests/bench/ptrace.sh [RUNS]          (as root, after make all unit)
#   BENCH_SKIP="apt steps20" skips workloads
set -u
RUNS=${1:-5}
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/bases.sh"
[ -n "${EPOCHREALTIME:-}" ] || {
	echo "ptrace.sh: needs bash 5 (EPOCHREALTIME)" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || {
	echo "ptrace.sh: run as root (the single-UID figures use the test user nibplain)" >&2
	exit 1
}
users_setup || {
	echo "ptrace.sh: cannot create the test users" >&2
	exit 1
}
SKIPS=" ${BENCH_SKIP:-} "
W=$T
cp "$NIB" "$W/nib"
chmod 0755 "$W/nib"

tar=$("$NIB_SRC/tests/layers/debian_base.sh") || exit 1
mkdir -p "$W/deb-root" "$W/deb-user"
tar -xf "$tar" -C "$W/deb-root"
tar -xf "$tar" -C "$W/deb-user"
chown -R nibplain: "$W/deb-user"

# nib ARGS... as WHO (root, or a test user)
as() { # WHO CMD...
	local who=$1
	shift
	if [ "$who" = root ]; then "$@"; else as_user "$who" "$@"; fi
}

# median in ms of RUNS runs of CMD... (after one to warm up)
median_ms() {
	local i t0 t1 times=()
	"$@" >"$W/last.log" 2>&1 || {
		echo "failed: $* ($(tail -n 1 "$W/last.log"))" >&2
		echo NaN
		return
	}
	for ((i = 0; i < RUNS; i++)); do
		t0=${EPOCHREALTIME/[.,]/}
		"$@" >/dev/null 2>&1
		t1=${EPOCHREALTIME/[.,]/}
		times+=($((t1 - t0)))
	done
	printf '%s\n' "${times[@]}" | sort -n |
		awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}

ROWS=()
row() { # WORKLOAD WHO NS_MS PT_MS GOAL
	local ratio met
	ratio=$(awk -v a="$4" -v b="$3" 'BEGIN { printf "%.2f", a / b }')
	met=$(awk -v r="$ratio" -v g="$5" 'BEGIN { print (r <= g) ? "yes" : "NO" }')
	ROWS+=("$(printf '%-8s %-22s %10.1f %10.1f %7sx  <= %sx  %-3s  %s' "$1" "$2" "$3" "$4" "$ratio" "$5" "$met" \
		"$(cut -d' ' -f1 /proc/loadavg)")")
}

# --- steps20 ------------------------------------------------------------------
steps20() { # WHO ISOLATION
	as "$1" "$W/nib" --root "$W/store-$1" build -q --no-cache --storage-driver vfs \
		--isolation "$2" "$W/steps20"
}
if [[ $SKIPS != *" steps20 "* ]]; then
	bases_busybox || exit 1
	mkdir -p "$W/steps20"
	{
		echo "FROM localhost/busybox"
		for i in $(seq 1 20); do echo "RUN echo $i > /f$i"; done
	} >"$W/steps20/Containerfile"
	chmod -R a+rX "$W/steps20"
	for who in root nibplain; do
		mkdir -p "$W/store-$who"
		bases_nib_load "$W/store-$who" busybox "$(id -u "$who"):$(id -g "$who")" || exit 1
		row steps20 "$who" "$(median_ms steps20 "$who" namespaces)" \
			"$(median_ms steps20 "$who" ptrace)" 2
	done
fi

# --- apt --------------------------------------------------------------------------
apt_install() { # WHO ISOLATION
	local root=$W/deb-root
	[ "$1" = root ] || root=$W/deb-user
	rm -rf "$W/apt"
	cp -a "$root" "$W/apt"
	as "$1" "$W/nib" run --isolation "$2" --rootfs "$W/apt" -- sh -c \
		'apt-get install -y -qq --no-download --no-install-recommends less vim-tiny curl && curl --version'
}
if [[ $SKIPS != *" apt "* ]]; then
	mirror=$(sed -n 's|^deb http://\([^/]*\)/.*|\1|p' "$W/deb-root/etc/apt/sources.list" | head -n 1)
	if timeout 5 bash -c "exec 3<>/dev/tcp/$mirror/80" 2>/dev/null &&
		"$W/nib" run --rootfs "$W/deb-root" -- sh -c \
			'apt-get update -qq && apt-get install -y -qq --download-only --no-install-recommends less vim-tiny curl' \
			>"$W/last.log" 2>&1; then
		# the lists and the archives, for the user's tree too
		cp -a "$W/deb-root/var/lib/apt/lists/." "$W/deb-user/var/lib/apt/lists/"
		cp -a "$W/deb-root/var/cache/apt/." "$W/deb-user/var/cache/apt/"
		chown -R nibplain: "$W/deb-user/var/lib/apt/lists" "$W/deb-user/var/cache/apt"
		for who in root nibplain; do
			row apt "$who" "$(median_ms apt_install "$who" namespaces)" \
				"$(median_ms apt_install "$who" ptrace)" 2
		done
	else
		echo "apt: skipped (the Debian mirror $mirror is not reachable)" >&2
	fi
fi

# --- find ------------------------------------------------------------------------
find_ls() { # WHO ISOLATION
	local root=$W/deb-root
	[ "$1" = root ] || root=$W/deb-user
	as "$1" "$W/nib" run --isolation "$2" --rootfs "$root" -- find / -xdev -ls
}
if [[ $SKIPS != *" find "* ]]; then
	for who in root nibplain; do
		row find "$who" "$(median_ms find_ls "$who" namespaces)" "$(median_ms find_ls "$who" ptrace)" 3
	done
fi

echo "$("$NIB" --version | head -n 1), $(nproc) CPUs, medians of $RUNS runs, ms"
printf '%-8s %-22s %10s %10s %8s  %-6s %-3s  %s\n' workload user namespaces ptrace ratio goal met load
printf '%s\n' "${ROWS[@]}"

# --- where the time goes -----------------------------------------------------------
# stops of one run by system call (the lines nib logs for each stop)
stops() { # LABEL WHO ROOTFS CMD...
	local label=$1 who=$2 root=$3
	shift 3
	echo
	echo "stops of $label as $who, by system call:"
	as "$who" "$W/nib" --log-level trace run --isolation ptrace --rootfs "$root" -- "$@" 2>&1 >/dev/null |
		awk '$2 == "ptrace:" && NF == 4 {n[$4]++; t++} END {for (k in n) printf "  %7d %s\n", n[k], k; printf "  %7d in all\n", t}' |
		sort -rn | head -n 8
}
if [ -n "${BB_OCI:-}" ]; then
	# the base's one layer is its largest blob
	mkdir -p "$W/bb-root" "$W/bb-user"
	tar -xzf "$(ls -S "$BB_OCI"/blobs/sha256/* | head -n 1)" -C "$W/bb-root"
	cp -a "$W/bb-root/." "$W/bb-user/"
	chown -R nibplain: "$W/bb-user"
	stops "one RUN of steps20 (busybox)" root "$W/bb-root" sh -c 'echo 1 > /f1'
	stops "one RUN of steps20 (busybox)" nibplain "$W/bb-user" sh -c 'echo 1 > /f1'
fi
stops "find / -xdev -ls" root "$W/deb-root" find / -xdev -ls
stops "find / -xdev -ls" nibplain "$W/deb-user" find / -xdev -ls

if command -v perf >/dev/null && perf record -q -o "$W/perf.data" -e cpu-clock -F 4999 -g -- \
	"$W/nib" run --isolation ptrace --rootfs "$W/deb-root" -- find / -xdev -ls >/dev/null 2>&1; then
	echo
	echo "CPU of the ptrace find as root (perf, cpu-clock samples): program, where"
	perf report -i "$W/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n 6
	echo "the tracer's (nib's) time, by function:"
	perf report -i "$W/perf.data" --no-children --comm nib --sort sym --stdio -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n 10
else
	echo
	echo "perf: not installed or not allowed here (apt-get install linux-perf)"
fi
