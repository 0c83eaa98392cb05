#!/bin/bash
# RUN output is split into log lines in linear time with a cap on a line's
# length: a RUN printing a 20 MB line completes, every byte of it reaches the
# build output in pieces of at most 64 KiB, and what follows it is intact.
# As root, as a user without a subuid range and in the restricted-pod
# simulation. (tests/bench/run_output.sh times it.)
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/bases.sh"

MODES=(root nibplain pod)
CASE="a RUN printing a 20 MB line"
if ! users_setup || ! podsim_available; then
	skip_cases "needs root, setpriv and unshare" "${MODES[@]/%/: $CASE}"
	finish
	exit
fi
if ! bases_busybox 2>"$T/bases.err"; then
	skip_cases "no busybox base: $(cat "$T/bases.err")" "${MODES[@]/%/: $CASE}"
	finish
	exit
fi
mkdir -p "$T/ctx"
cat >"$T/ctx/Containerfile" <<'EOF'
FROM localhost/busybox
RUN head -c 20000000 /dev/zero | tr '\0' x; echo; echo after-the-long-line; echo on-stderr >&2
EOF
chmod -R a+rX "$T/ctx"

for mode in "${MODES[@]}"; do
	t "$mode: $CASE"
	case $mode in
	root)
		S=$T/store-root
		mkdir -p "$S"
		bases_nib_load "$S" busybox 0:0
		timeout 300 "$NIB" --root "$S" build --no-cache "$T/ctx" >"$T/out" 2>"$T/err"
		;;
	nibplain)
		S=$(user_dir nibplain store-plain)
		bases_nib_load "$S" busybox nibplain:
		as_user nibplain timeout 300 "$T/bin/nib" --root "$S" build --no-cache "$T/ctx" >"$T/out" 2>"$T/err"
		;;
	pod)
		S=$(podsim_dir store-pod)
		bases_nib_load "$S" busybox "$PODSIM_UID:$PODSIM_GID"
		podsim timeout 300 "$T/bin/nib" --root "$S" build --no-cache "$T/ctx" >"$T/out" 2>"$T/err"
		;;
	esac
	st=$?
	assert_eq "$st" 0 "build failed: $(tail -c 300 "$T/err")"
	assert_eq "$(grep -x 'x*' "$T/out" | tr -d '\n' | wc -c)" 20000000 "bytes of the long line"
	longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$T/out")
	[ "$longest" -le 65536 ] || fail "a line of $longest bytes reached the output"
	assert_eq "$(awk 'length($0) == 65536' "$T/out" | wc -l)" $((20000000 / 65536)) "pieces of 64 KiB"
	grep -qx after-the-long-line "$T/out" || fail "the line after the long one is missing"
	grep -qx on-stderr "$T/err" || fail "stderr output is missing"
done
finish
