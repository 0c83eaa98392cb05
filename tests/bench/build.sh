#!/bin/bash
# nib build against buildah bud in the same run (medians of RUNS, default 3):
#
#   steps20     FROM busybox + 20 `RUN echo N > /fN`, no cache     goal nib <= 0.1x buildah
#   cached      the same build again, every step a cache hit       goal nib < 100 ms
#   copy20k     FROM scratch, COPY of 20,000 small files + 200 MB  goal nib <= 0.5x buildah
#   apt         FROM debian, apt-get install hello (Debian mirror) goal nib <= 1.0x buildah
#   peak RSS    of nib itself over these builds (VmHWM)            goal < 50 MB
#
# buildah: --isolation chroot --storage-driver vfs --layers, as root, in a
# private store. Bases come from tests/lib/bases.sh (cached). Run as root
# from the source tree after `make`:
#
#   tests/bench/build.sh [RUNS]          BENCH_SKIP="apt" skips workloads
set -u
RUNS=${1:-3}
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (buildah needs it)"; exit 1; }
"$NIB" build --help 2>&1 | grep -q -- --tag || { echo "build.sh: this nib has no nib build"; exit 1; }
W=$(mktemp -d /var/tmp/nib-bench-build.XXXXXX)
at_exit "rm -rf '$W'"
bases_busybox || exit 1
bases_buildah_init "$W/buildah"
bases_buildah_load busybox >/dev/null || exit 1
R=$W/nibroot
mkdir -p "$R"
bases_nib_load "$R" busybox 0:0 || exit 1
SKIPS=" ${BENCH_SKIP:-} "

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
# secs CMD...: wall time of CMD in seconds (its output to $W/last.log)
secs() {
	local t0 t1
	t0=$(now)
	"$@" >"$W/last.log" 2>&1 || {
		echo "failed: $*" >&2
		tail -n 5 "$W/last.log" >&2
		echo NaN
		return
	}
	t1=$(now)
	echo "$t1 - $t0" | bc
}
# nib_timed ARGS...: seconds of one nib run; nib's own peak RSS (VmHWM, read
# while it runs: /usr/bin/time would report RUN's children, apt-get and dpkg,
# when they grow larger) goes to $W/rss.txt. The poll sleeps with bash's
# `read -t` on a FIFO, so it forks nothing beside the timed build.
mkfifo "$W/tick"
exec 9<>"$W/tick"
nib_timed() {
	local t0 t1 pid hwm=0 k v
	t0=$(now)
	"$NIB" --root "$R" "$@" >"$W/last.log" 2>&1 &
	pid=$!
	while [ -r "/proc/$pid/status" ]; do
		while read -r k v _; do
			case $k in
			State:) [ "$v" != Z ] || break 2 ;;
			VmHWM:) [ "$v" -le "$hwm" ] || hwm=$v ;;
			esac
		done <"/proc/$pid/status"
		read -r -t 0.002 -u 9 _
	done 2>/dev/null
	wait "$pid" || {
		echo "nib failed: $*" >&2
		tail -n 5 "$W/last.log" >&2
		echo NaN
		return
	}
	t1=$(now)
	# (a command substitution runs this: the peak goes through a file)
	echo "$hwm" >>"$W/rss.txt"
	echo "$t1 - $t0" | bc
}
bah() { "${BUILDAH[@]}" bud --isolation chroot --layers --format docker --pull-never --identity-label=false -q "$@"; }

ROWS=()
row() { # NAME NIB BUILDAH GOAL_RATIO|'' GOAL_TEXT
	local ratio="-" ok
	if [ "$3" != "-" ]; then ratio=$(printf '%.3f' "$(echo "$2 / $3" | bc -l)"); fi
	case $1 in
	cached) ok=$(echo "$2 < 0.1" | bc) ;;
	*) ok=$(echo "$ratio <= $4" | bc) ;;
	esac
	[ "$ok" = 1 ] && ok=yes || ok=NO
	ROWS+=("$(printf '%-10s %10.3f %10.3f %8s  %-18s %s' "$1" "$2" "$3" "$ratio" "$5" "$ok")")
}

# --- steps20 and cached --------------------------------------------------------
if [[ $SKIPS != *" steps20 "* ]]; then
	mkdir -p "$W/steps20"
	{
		echo "FROM localhost/busybox"
		for i in $(seq 1 20); do echo "RUN echo $i > /f$i"; done
	} >"$W/steps20/Containerfile"
	n=() b=() c=() bc_=()
	for ((i = 0; i < RUNS; i++)); do
		n+=("$(nib_timed build --no-cache -t localhost/steps20 "$W/steps20")")
		c+=("$(nib_timed build -t localhost/steps20 "$W/steps20")")
		b+=("$(secs bah --no-cache -t steps20 "$W/steps20")")
		bc_+=("$(secs bah -t steps20 "$W/steps20")")
	done
	nm=$(printf '%s\n' "${n[@]}" | median)
	bm=$(printf '%s\n' "${b[@]}" | median)
	row steps20 "$nm" "$bm" 0.1 "<= 0.1x buildah"
	row cached "$(printf '%s\n' "${c[@]}" | median)" "$(printf '%s\n' "${bc_[@]}" | median)" - "< 0.100 s"
fi

# --- copy20k ----------------------------------------------------------------------
if [[ $SKIPS != *" copy20k "* ]]; then
	mkdir -p "$W/copy/many"
	for d in $(seq 0 199); do
		mkdir -p "$W/copy/many/d$d"
		for f in $(seq 0 99); do echo "file $d $f" >"$W/copy/many/d$d/f$f"; done
	done
	head -c 200M /dev/urandom >"$W/copy/big"
	printf 'FROM scratch\nCOPY . /app/\n' >"$W/copy/Containerfile"
	n=() b=()
	for ((i = 0; i < RUNS; i++)); do
		sync
		n+=("$(nib_timed build --no-cache -t localhost/copy20k "$W/copy")")
		sync
		b+=("$(secs bah --no-cache -t copy20k "$W/copy")")
	done
	row copy20k "$(printf '%s\n' "${n[@]}" | median)" "$(printf '%s\n' "${b[@]}" | median)" 0.5 "<= 0.5x buildah"
fi

# --- apt ----------------------------------------------------------------------------
if [[ $SKIPS != *" apt "* ]]; then
	if bases_debian && bases_buildah_load debian >/dev/null && bases_nib_load "$R" debian 0:0; then
		mkdir -p "$W/apt"
		printf 'FROM localhost/debian\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null && rm -rf /var/lib/apt/lists/*\n' \
			>"$W/apt/Containerfile"
		n=() b=()
		for ((i = 0; i < RUNS; i++)); do
			n+=("$(nib_timed build --no-cache -t localhost/apt "$W/apt")")
			b+=("$(secs bah --no-cache -t apt "$W/apt")")
		done
		row apt "$(printf '%s\n' "${n[@]}" | median)" "$(printf '%s\n' "${b[@]}" | median)" 1.0 "<= 1.0x buildah"
	else
		echo "apt: no Debian base (needs root and the Debian mirror)" >&2
	fi
fi

echo
echo "nib build vs buildah bud ($(buildah --version | awk '{print $3}')), medians of $RUNS, seconds"
printf '%-10s %10s %10s %8s  %-18s %s\n' workload nib buildah ratio goal met
printf '%s\n' "${ROWS[@]}"
RSS_MAX=$(sort -n "$W/rss.txt" 2>/dev/null | tail -n 1)
rss_mb=$(echo "scale=1; ${RSS_MAX:-0} / 1024" | bc)
printf '%-10s %10s %10s %8s  %-18s %s\n' "peak RSS" "${rss_mb} MB" - - "< 50 MB" \
	"$([ "$(echo "$rss_mb < 50" | bc)" = 1 ] && echo yes || echo NO)"
