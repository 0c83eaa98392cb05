#!/bin/bash
# Run every libFuzzer target for SECONDS each, with its seed corpus
# (tests/fuzz/corpus/NAME/ when present) and a scratch corpus in the build
# folder; prints the executions each target reached.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [NAME_REGEX]
set -u
BUILD=${1:-build/fuzz}
SECONDS_EACH=${2:-60}
FILTER=${3:-}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
for f in "$BUILD"/tests/fuzz/fuzz_*; do
	[ -x "$f" ] && [ -f "$f" ] && [[ $f != *.o ]] && [[ $f != *.d ]] || continue
	name=$(basename "$f")
	[ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]] && continue
	work=$BUILD/fuzz-corpus/$name
	mkdir -p "$work"
	seeds=()
	[ -d "$SRC/tests/fuzz/corpus/$name" ] && seeds=("$SRC/tests/fuzz/corpus/$name")
	log=$BUILD/$name.log
	echo "=== $name (${SECONDS_EACH}s)"
	# crash/leak/timeout inputs go beside the log, never into the checkout
	"$f" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -artifact_prefix="$BUILD/$name-" \
		"$work" "${seeds[@]}" >"$log" 2>&1
	st=$?
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | sed 's/^/    /'
	if [ "$st" -ne 0 ]; then
		echo "    FAILED (exit $st), see $log"
		rc=1
	fi
done
exit $rc
