#!/bin/bash
# Benchmark: a RUN step printing one line of 5, 10 and 20 MB (no newline
# until the end), as root. The build output is split into log lines by
# builder/lines.c; the time should grow linearly with the size (the old
# splitter searched the held line again on every read: 1.7 / 6 / 25 s).
#
#   tests/bench/run_output.sh [RUNS]      (default 3; prints medians)
set -u
RUNS=${1:-3}
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
[ "$(id -u)" = 0 ] || { echo "run_output.sh: run as root"; exit 1; }
bases_busybox || exit 1
R=$T/root
mkdir -p "$R" "$T/ctx"
bases_nib_load "$R" busybox 0:0 || exit 1

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mb in 5 10 20; do
	printf 'FROM localhost/busybox\nRUN head -c %d /dev/zero | tr "\\0" x; echo\n' $((mb * 1000000)) \
		>"$T/ctx/Containerfile"
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s.%N)
		"$NIB" --root "$R" build --no-cache "$T/ctx" >/dev/null 2>&1 || { echo "build failed"; exit 1; }
		t1=$(date +%s.%N)
		echo "$t1 - $t0" | bc
	done | median | xargs printf '%3d MB line: %.2f s\n' "$mb"
done
