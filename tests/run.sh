#!/bin/bash
# Run the whole test suite: C unit tests, then integration and end-to-end
# shell tests. Every test program ends with "N passed, N failed, N skipped";
# this script adds them up and ends with the same line for the whole suite.
#
#   tests/run.sh BUILD_DIR            everything
#   NIB_TESTS=regex tests/run.sh ...  only test programs whose name matches
set -u
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$SRC" && cd "$BUILD" && pwd)
export NIB_SRC=$SRC NIB_BUILD=$BUILD NIB=$BUILD/nib
export NIB_TEST_LOGS=$BUILD/test-logs
mkdir -p "$NIB_TEST_LOGS"
FILTER=${NIB_TESTS:-}
TIMEOUT=${NIB_TEST_TIMEOUT:-1800}

total_pass=0 total_fail=0 total_skip=0
summary=()

run_one() { # NAME CMD...
	local name=$1 log="$NIB_TEST_LOGS/$(basename "$1").log" start end rc line p f s
	shift
	if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then
		return
	fi
	echo "=== $name"
	start=$(date +%s)
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	end=$(date +%s)
	grep -E '^(PASS|FAIL|SKIP) ' "$log" | sed 's/^/    /'
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		p=0 f=1 s=0
		echo "    FAIL $name: no result line (exit status $rc)"
	else
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped$/\1/p')
		s=${s:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "    FAIL $name: exit status $rc"
		fi
	fi
	if [ "$f" -ne 0 ]; then
		echo "    --- last lines of $log"
		tail -n 60 "$log" | sed 's/^/    | /'
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary+=("$(printf '%-40s %4d passed %3d failed %3d skipped %5ds' "$name" "$p" "$f" "$s" $((end - start)))")
}

for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && [ -f "$t" ] && [[ $t != *.d ]] && [[ $t != *.o ]] || continue
	run_one "unit/$(basename "$t")" "$t"
done
for dir in integration e2e; do
	for t in "$SRC"/tests/$dir/*.sh; do
		[ -f "$t" ] || continue
		run_one "$dir/$(basename "$t" .sh)" bash "$t"
	done
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
