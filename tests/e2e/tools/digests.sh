#!/bin/bash
# What a change to the build must leave as it is: for every acceptance case
# (or those matching REGEX), built in MODE (root by default) on the storage
# DRIVER (auto by default) with --timestamp, the image's manifest digest and
# the build-cache keys its steps wrote (the names of nib/cache/ entries: an
# existing cache must stay valid); for the bad-input cases, the exit status
# and the error line.
# Then the same cases again in the same store, whose steps must all be
# cache hits ("cached N/M").
#
#   tests/e2e/tools/digests.sh [-m MODE] [-d DRIVER] [REGEX] >before.txt
#   ... change nib, make ...
#   tests/e2e/tools/digests.sh [-m MODE] [-d DRIVER] [REGEX] | diff before.txt -
#
# Two drivers' outputs differ only where their layers do:
#   diff <(digests.sh -d overlay REGEX) <(digests.sh -d vfs REGEX)
#
# NIB selects the binary (default build/nib). Runs as root (it makes the
# test users and the pod simulation); MODE is one of tests/lib/e2e.sh's.
. "$(dirname "$0")/../../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"

mode=root driver=auto
while [ "${1:-}" = -m ] || [ "${1:-}" = -d ]; do
	case $1 in
	-m) mode=$2 ;;
	-d) driver=$2 ;;
	esac
	shift 2
done
only=${1:-.}
# prebuilt bases too, or a case built FROM one differs with its time
E2E_PREBUILD_ARGS="--timestamp $E2E_TS"
users_setup || exit 1
bases_busybox || exit 1
mkdir -p "$T/cases"

# the cache entries of the mode's stores, one key a line
_keys() { find "$T"/root-"$mode"-"$driver"/nib/cache -maxdepth 1 -type f -printf '%f\n' 2>/dev/null | sort; }

_steps() { # OUTPUT: "hits/steps" of a build's log
	local steps hits
	steps=$(printf '%s\n' "$1" | grep -c '^--> ')
	hits=$(printf '%s\n' "$1" | grep -c '^--> Using cache')
	echo "$hits/$steps"
}

for pass in build cached; do
	for c in $(e2e_cases); do
		[[ $c =~ $only ]] || continue
		cm=" $(e2e_case_modes "$c") "
		[[ $cm == *" $mode "* || ($mode == @(pod|runc)-* && $cm == *" pod "*) ]] || continue
		[ "$pass" = build ] && { e2e_prepare "$c" || {
			echo "$c setup-failed"
			continue
		}; }
		before=$(_keys)
		e2e_build "$mode" "$driver" "$c" --timestamp "$E2E_TS"
		if [ -n "$(e2e_directive "$c" fail)" ]; then
			[ "$pass" = build ] || continue
			line=$(printf '%s\n' "$err" | grep -E '^nib: error' | sed "s|$T|\$T|g")
			echo "$c fail $status $line"
			continue
		fi
		if [ "$status" != 0 ]; then
			echo "$c $pass error $status: $(printf '%s\n' "$err" | grep -E '^nib: error' | sed "s|$T|\$T|g")"
			continue
		fi
		digest=$(_e2e_refs "$E2E_ROOT" | awk -v r="localhost/e2e-$c:latest" '$1 == r {print $2}')
		if [ "$pass" = build ]; then
			keys=$(comm -13 <(printf '%s\n' "$before") <(_keys) | tr '\n' ' ')
			echo "$c digest $digest"
			echo "$c keys ${keys% }"
		else
			echo "$c again $digest cached $(_steps "$out")"
		fi
	done
done
