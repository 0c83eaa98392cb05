#!/bin/bash
# What a pod's seccomp profile costs nib: the same builds in the
# restricted-pod simulation (tests/lib/podsim.sh) with no profile and under
# each real one, medians of RUNS (default 5), ratios against no profile.
#
#   steps20   FROM busybox + 20 `RUN echo N > /fN`, --no-cache   goal <= 1.05x
#             (under crio and containerd RUN goes through the ptrace
#             isolation: that ratio is the ptrace rung's cost, goal <= 2x)
#   copy      FROM busybox + COPY of 2,000 small files, --no-cache
#             (the build without RUN; under crio and containerd the only kind)
#
# Run as root from the source tree after `make all unit`:
#   tests/bench/pod_seccomp.sh [RUNS]
set -u
RUNS=${1:-5}
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
[ "$(id -u)" = 0 ] || { echo "pod_seccomp.sh: run as root (the pod simulation needs it)"; exit 1; }
bases_busybox || exit 1
mkdir -p "$T/bin"
cp "$NIB" "$T/bin/nib"
chmod 0755 "$T" "$T/bin" "$T/bin/nib"

S=$T/steps20
mkdir -p "$S"
{
	echo "FROM localhost/busybox"
	for i in $(seq 1 20); do echo "RUN echo $i > /f$i"; done
} >"$S/Containerfile"
C=$T/copy
mkdir -p "$C/files"
for i in $(seq 1 2000); do echo "$i" >"$C/files/f$i"; done
printf 'FROM localhost/busybox\nCOPY files /files\n' >"$C/Containerfile"
chown -R "$PODSIM_UID:$PODSIM_GID" "$S" "$C"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# one timed build in the pod under PROFILE, in the pod's own store
timed() { # PROFILE CTX
	local r t0 t1
	r=$(podsim_dir "root-$1")
	[ -e "$r/index.json" ] || bases_nib_load "$r" busybox "$PODSIM_UID:$PODSIM_GID" || return 1
	t0=$(date +%s.%N)
	PODSIM_SECCOMP=$1 podsim "$T/bin/nib" --root "$r" build -q --no-cache -t bench "$2" \
		>"$T/last.log" 2>&1 || { echo NaN; return; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc
}

printf '%-10s %-18s %9s %7s\n' workload profile median ratio
for w in steps20 copy; do
	ctx=$S
	[ $w = copy ] && ctx=$C
	base=""
	for p in $(podsim_profiles); do
		m=$(for _ in $(seq 1 "$RUNS"); do timed "$p" "$ctx"; done | median)
		[ -n "$base" ] || base=$m
		printf '%-10s %-18s %8.3fs %6.3fx\n' $w $p "$m" "$(echo "$m / $base" | bc -l)"
	done
done
