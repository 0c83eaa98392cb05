#!/bin/bash
# Ctrl-C (SIGINT) or kill (SIGTERM) during a RUN step: nib ends, leaves no
# mounts, processes or temporary folders, and the next build works.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"

PLAN=("root INT" "root TERM" "nibplain INT" "nibsub TERM" "pod TERM")
NAMES=()
for p in "${PLAN[@]}"; do NAMES+=("[${p% *}] SIG${p#* } during RUN: nothing left, next build works"); done
if ! e2e_init; then
	skip_cases "$E2E_SKIP" "${NAMES[@]}"
	finish
	exit
fi

# Start CMD... in the background with SIGINT at its default (a shell's
# background job would ignore it); sets BG.
_bg() { # LOG CMD...
	local log=$1
	shift
	python3 -c 'import os,signal,sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
		"$@" >"$log" 2>&1 &
	BG=$!
}

for p in "${PLAN[@]}"; do
	mode=${p% *} sig=${p#* }
	t "[$mode] SIG$sig during RUN: nothing left, next build works"
	mark=nibmark$RANDOM$RANDOM
	ctx=$T/int-$mode-$sig
	mkdir -p "$ctx"
	printf 'FROM localhost/busybox\nRUN echo started-%s && sleep 120 && echo %s-not-interrupted\n' "$mark" "$mark" >"$ctx/Containerfile"
	chmod -R a+rX "$ctx"
	R=$(e2e_root "$mode" auto)
	before=$(_e2e_refs "$R")
	cd "$ctx" || exit 1
	case $mode in
	root) _bg "$T/int.log" "$T/bin/nib" --root "$R" build -t localhost/int . ;;
	nibsub | nibplain) _bg "$T/int.log" setpriv --reuid="$mode" --regid="$(id -g "$mode")" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$(getent passwd "$mode" | cut -d: -f6)" "$T/bin/nib" --root "$R" build -t localhost/int . ;;
	pod) _bg "$T/int.log" bash -c ". '$NIB_SRC/tests/lib/podsim.sh'; podsim '$T/bin/nib' --root '$R' build -t localhost/int ." ;;
	esac
	cd - >/dev/null || exit 1
	for ((i = 0; i < 300; i++)); do
		grep -qx "started-$mark" "$T/int.log" 2>/dev/null && break
		sleep 0.1
	done
	if ! grep -qx "started-$mark" "$T/int.log"; then
		fail "the RUN step did not start: $(tail -n 5 "$T/int.log")"
		kill -KILL "$BG" 2>/dev/null
		wait "$BG" 2>/dev/null
		continue
	fi
	sleep 0.5
	if [ "$mode" = pod ]; then
		# the pod's nib is a child of unshare/bash: signal the nib process itself
		pid=$(pgrep -n -f "^$T/bin/nib --root $R build")
		kill -"$sig" "${pid:-$BG}"
	else
		kill -"$sig" "$BG"
	fi
	for ((i = 0; i < 200; i++)); do
		kill -0 "$BG" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BG" 2>/dev/null; then
		fail "nib did not end within 20 s of SIG$sig"
		kill -KILL "$BG" 2>/dev/null
	fi
	wait "$BG"
	rc=$?
	[ "$rc" != 0 ] || fail "an interrupted build exited 0"
	sleep 0.3
	left=$(ps -eo pid=,args= | grep -v grep | grep -- "started-$mark" || true)
	[ -z "$left" ] || fail "processes left: $left"
	mnt=$(grep -h -- "$T" /proc/self/mountinfo /proc/1/mountinfo 2>/dev/null || true)
	[ -z "$mnt" ] || fail "mounts left: $mnt"
	tmp=$(find "$R/nib/tmp" -mindepth 1 -maxdepth 1 2>/dev/null || true)
	[ -z "$tmp" ] || fail "temporary folders left: $tmp"
	grep -qx -- "$mark-not-interrupted" "$T/int.log" && fail "the RUN step was not interrupted"
	assert_eq "$(_e2e_refs "$R")" "$before" "the store's images are unchanged"
	printf 'FROM localhost/busybox\nRUN echo after-%s > /after\n' "$mark" >"$ctx/Containerfile"
	pushd "$ctx" >/dev/null
	e2e_nib "$mode" --root "$R" build -t localhost/after-int .
	popd >/dev/null
	assert_status 0 "the next build"
done
finish
