#!/bin/bash
# COPY of 20,000 small files and one 200 MB file: nib's COPY engine
# (nib-copy-tool) against `buildah bud` (FROM scratch, vfs, chroot; its time
# includes committing the layer, nib's does not: the engine alone), medians
# of N runs (default 3). Also times the cache-key digest of the same sources
# and the single-UID (ownership record) mode. Run as root from the source
# tree after `make unit`:  tests/bench/copy.sh [RUNS]
set -eu
RUNS=${1:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=${NIB_BUILD:-$SRC/build}/tests/helpers/nib-copy-tool
W=$(mktemp -d /var/tmp/nib-bench-copy.XXXXXX)
trap 'rm -rf "$W"' EXIT
B="buildah --storage-driver vfs --root $W/bstore --runroot $W/brun"

mkdir -p "$W/ctx/many"
for d in $(seq 0 199); do
	mkdir -p "$W/ctx/many/d$d"
	for f in $(seq 0 99); do echo "file $d $f" >"$W/ctx/many/d$d/f$f"; done
done
head -c 200M /dev/urandom >"$W/ctx/big"
printf 'FROM scratch\nCOPY . /app/\n' >"$W/Containerfile"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

nib_times=() nibx_times=() dig_times=() b_times=()
for i in $(seq "$RUNS"); do
	rm -rf "$W/root" && mkdir "$W/root" && sync
	t=$(now); "$TOOL" --context "$W/ctx" --root "$W/root" . /app/ >/dev/null; nib_times+=("$(elapsed "$t")")
	rm -rf "$W/root" && mkdir "$W/root" && sync
	t=$(now); "$TOOL" --chown-mode xattr --context "$W/ctx" --root "$W/root" . /app/ >/dev/null
	nibx_times+=("$(elapsed "$t")")
	t=$(now); "$TOOL" --digest --context "$W/ctx" --root "$W/root" . /app/ >/dev/null; dig_times+=("$(elapsed "$t")")
	sync
	t=$(now); $B bud --isolation chroot -q --layers=false -f "$W/Containerfile" -t nib-bench-copy "$W/ctx" >/dev/null
	b_times+=("$(elapsed "$t")")
	$B rmi -f nib-bench-copy >/dev/null 2>&1 || true
done
n=$(printf '%s\n' "${nib_times[@]}" | median)
nx=$(printf '%s\n' "${nibx_times[@]}" | median)
dg=$(printf '%s\n' "${dig_times[@]}" | median)
b=$(printf '%s\n' "${b_times[@]}" | median)
printf '%-40s %8s s\n' "nib COPY engine (real chown)" "$n" "nib COPY engine (ownership records)" "$nx" \
	"nib cache-key digest of the sources" "$dg" "buildah bud COPY (incl. commit)" "$b"
printf 'ratio nib/buildah: %.3f (records mode %.3f)\n' "$(echo "$n / $b" | bc -l)" "$(echo "$nx / $b" | bc -l)"
