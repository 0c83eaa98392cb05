#!/bin/bash
# A full disk during a step: the error names the step's Containerfile line
# and the cause, nothing is lost in the store, and the next build works.
# The storage root is on a 16 MB tmpfs; a RUN writes 10 MB of random bytes
# (its layer does not fit beside it), a COPY copies a 10 MB file. As root,
# nibsub, nibplain and in the restricted-pod simulation, with the storage
# driver each picks (root's vfs and overlay: integration/cli_build_options).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root nibsub nibplain podsim"
if ! bases_busybox 2>"$T/bases.err" || ! users_setup; then
	skip_cases "needs root, setpriv and the busybox base: $(cat "$T/bases.err")" $MODES
	finish
	exit
fi
mkdir -p "$T/small"
if ! mount -t tmpfs -o size=16m,mode=0755 nibfull "$T/small" 2>"$T/mount.err"; then
	skip_cases "cannot mount a small tmpfs: $(cat "$T/mount.err")" $MODES
	finish
	exit
fi
at_exit umount "$T/small"

C=$T/ctx
mkdir -p "$C"
head -c 10000000 /dev/urandom >"$C/big"
printf 'FROM localhost/busybox:latest\nRUN head -c 10000000 /dev/urandom > /big\n' >"$C/RunBig"
printf 'FROM localhost/busybox:latest\nCOPY big /big\n' >"$C/CopyBig"
printf 'FROM localhost/busybox:latest\nRUN echo ok > /ok\n' >"$C/Small"
chmod -R a+rX "$C"

for who in $MODES; do
	t "$who: a full disk names the step"
	case $who in
	root) root=$T/small/r-root owner=0:0 && mkdir -p "$root" ;;
	podsim)
		if ! podsim_available; then
			skip "needs unshare and setpriv for the restricted-pod simulation"
			continue
		fi
		root=$(podsim_dir small/r-podsim) owner=$PODSIM_UID:$PODSIM_GID
		;;
	*) root=$(user_dir "$who" "small/r-$who") owner=$(id -u "$who"):$(id -g "$who") ;;
	esac
	bases_nib_load "$root" busybox "$owner" || fail "base"
	for f in RunBig CopyBig; do
		run nib_who "$who" "$root" build -q -f "$C/$f" "$C"
		assert_status 1 "$f"
		assert_match "$err" "nib: error: [^ ]*$f:2: " "$f: the error names the step"
		assert_match "$err" 'No space left on device' "$f: the cause"
		assert_eq "$(printf '%s\n' "$err" | grep -c '^nib: error:')" 1 "$f: one error line"
	done
	run nib_who "$who" "$root" images
	assert_match "$out" 'localhost/busybox' "the base is still in the store"
	run nib_who "$who" "$root" build -q -f "$C/Small" -t small "$C"
	assert_status 0 "a build that fits, after"
	rm -rf "$root"
done

finish
