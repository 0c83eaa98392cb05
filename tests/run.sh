#!/bin/bash
# Run the whole test suite: C unit tests, then integration and end-to-end
# shell tests. Every test program ends with "N passed, N failed, N skipped";
# this script adds them up and ends with the same line for the whole suite.
#
#   tests/run.sh BUILD_DIR            everything
#   NIB_TESTS=regex tests/run.sh ...  only test programs whose name matches
#   NIB_TEST_JOBS=N                   programs run at once (default: the
#                                     number of CPUs, at least 2)
#
# Programs run side by side: every one has its own scratch folder, registry
# port and storage roots, and the shared fixtures under /var/tmp/nib-test-cache
# are made under a lock. A shell test whose first lines hold
# "# run.sh: long MINUTES" starts before the others, the longest first (which
# keeps the total short); "# run.sh: alone" runs with no other program beside
# it (a fork bomb, a memory hog). Each program's report is printed when it
# ends.
set -u
BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$SRC" && cd "$BUILD" && pwd)
export NIB_SRC=$SRC NIB_BUILD=$BUILD NIB=$BUILD/nib
export NIB_TEST_LOGS=$BUILD/test-logs
mkdir -p "$NIB_TEST_LOGS"
FILTER=${NIB_TESTS:-}
TIMEOUT=${NIB_TEST_TIMEOUT:-1800}
JOBS=${NIB_TEST_JOBS:-$(nproc)}
[[ $JOBS =~ ^[0-9]+$ ]] && [ "$JOBS" -ge 1 ] || JOBS=2
[ -n "${NIB_TEST_JOBS:-}" ] || [ "$JOBS" -ge 2 ] || JOBS=2
RESULTS=$(mktemp -d /tmp/nib-run.XXXXXX)
trap 'rm -rf "$RESULTS"' EXIT

total_pass=0 total_fail=0 total_skip=0
summary=()

# Run one program; its report goes to $RESULTS/ID.report and its counts
# ("passed failed skipped seconds") to $RESULTS/ID.counts.
run_one() { # ID NAME CMD...
	local id=$1 name=$2 log="$NIB_TEST_LOGS/$(basename "$2").log" start end rc line p f s
	shift 2
	exec >"$RESULTS/$id.report" 2>&1
	start=$(date +%s)
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	end=$(date +%s)
	echo "=== $name"
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
	echo "$p $f $s $((end - start))" >"$RESULTS/$id.counts"
}

# The programs, in the order they start: NAME, command, whether alone.
names=() cmds=() alone=() long=()
add() { # NAME KIND CMD...: KIND is "long MINUTES", alone or normal
	local name=$1 kind=$2
	shift 2
	if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then
		return
	fi
	if [[ $kind == long* ]]; then
		long+=("${kind#long } $name $(printf '%q ' "$@")")
		return
	fi
	names+=("$name")
	cmds+=("$(printf '%q ' "$@")")
	alone+=("$([ "$kind" = alone ] && echo 1 || echo 0)")
}
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] && [ -f "$t" ] && [[ $t != *.d ]] && [[ $t != *.o ]] || continue
	add "unit/$(basename "$t")" normal "$t"
done
for dir in integration e2e; do
	for t in "$SRC"/tests/$dir/*.sh; do
		[ -f "$t" ] || continue
		kind=$(head -n 20 "$t" | sed -nE 's/^# run\.sh: (long [0-9]+|alone)$/\1/p' | head -n 1)
		add "$dir/$(basename "$t" .sh)" "${kind:-normal}" bash "$t"
	done
done
if [ ${#long[@]} -gt 0 ]; then
	mapfile -t long < <(printf '%s\n' "${long[@]}" | sort -k1,1n -s) # prepended: the longest ends up first
	for l in "${long[@]}"; do
		read -r _ name cmd <<<"$l"
		names=("$name" "${names[@]}")
		cmds=("$cmd" "${cmds[@]}")
		alone=(0 "${alone[@]}")
	done
fi

declare -A running=() # pid -> id
n_alone=0
reap() { # wait for one program and print its report
	local pid id p f s secs
	wait -n -p pid "${!running[@]}"
	id=${running[$pid]}
	unset "running[$pid]"
	[ "${alone[$id]}" = 1 ] && n_alone=0
	cat "$RESULTS/$id.report"
	read -r p f s secs <"$RESULTS/$id.counts" 2>/dev/null || { p=0 f=1 s=0 secs=0; }
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary+=("$(printf '%-40s %4d passed %3d failed %3d skipped %5ds' "${names[$id]}" "$p" "$f" "$s" "$secs")")
}
for id in "${!names[@]}"; do
	if [ "${alone[$id]}" = 1 ]; then
		while [ ${#running[@]} -gt 0 ]; do reap; done
		n_alone=1
	fi
	while [ ${#running[@]} -ge "$JOBS" ] || { [ "$n_alone" = 1 ] && [ ${#running[@]} -gt 0 ]; }; do
		reap
	done
	eval "run_one $id ${names[$id]} ${cmds[$id]}" &
	running[$!]=$id
done
while [ ${#running[@]} -gt 0 ]; do reap; done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}" | sort
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
