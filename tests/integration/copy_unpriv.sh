#!/bin/bash
# The COPY/ADD engine in a single-UID environment: the whole unit table of
# tests/unit/test_copy.c run as an unprivileged user without a subuid range,
# where owners other than the user's own can only be recorded in the
# user.containers.override_stat xattr (chown_mode = xattr).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"

BIN=${NIB_BUILD:-$NIB_SRC/build}/tests/unit/test_copy

t "COPY/ADD case table passes as nibplain with chown_mode=xattr"
if [ ! -x "$BIN" ]; then
	skip "tests/unit/test_copy is not built (make unit)"
elif ! users_setup; then
	skip "needs root and setpriv to create and switch to the test users"
else
	cp "$BIN" "$T/test_copy"
	chmod 0755 "$T/test_copy"
	run as_user nibplain env NIB_COPY_TEST_MODE=xattr TMPDIR=/tmp "$T/test_copy"
	echo "$out" | sed 's/^/    | /'
	assert_status 0
	assert_match "$out" '^chown mode: xattr'
	assert_match "$out" '^[0-9]+ passed, 0 failed, [0-9]+ skipped$'
	# the table really ran (not only skipped)
	n=$(echo "$out" | grep -c '^PASS ')
	[ "$n" -ge 40 ] || fail "only $n cases passed"
fi

t "COPY/ADD case table passes as nibplain with chown_mode=auto (chown refused, records)"
if [ ! -x "$BIN" ]; then
	skip "tests/unit/test_copy is not built (make unit)"
elif ! users_setup; then
	skip "needs root and setpriv to create and switch to the test users"
else
	run as_user nibplain env NIB_COPY_TEST_MODE=auto TMPDIR=/tmp "$T/test_copy"
	assert_status 0
	assert_match "$out" '^chown mode: auto'
	assert_match "$out" '^[0-9]+ passed, 0 failed, [0-9]+ skipped$'
	echo "$out" | grep '^FAIL' | sed 's/^/    | /'
fi

t "COPY/ADD case table as root in ownership-record mode (emulated device nodes)"
if [ ! -x "$BIN" ]; then
	skip "tests/unit/test_copy is not built (make unit)"
elif [ "$(id -u)" != 0 ]; then
	skip "needs root to make the device nodes of the context"
else
	run env NIB_COPY_TEST_MODE=xattr "$BIN"
	assert_status 0
	assert_match "$out" '^chown mode: xattr'
	assert_match "$out" '^PASS device nodes and fifos'
	assert_match "$out" '^[0-9]+ passed, 0 failed, 0 skipped$'
	echo "$out" | grep '^FAIL' | sed 's/^/    | /'
fi

t "a file written as nibplain carries the override xattr"
if ! users_setup; then
	skip "needs root and setpriv to create and switch to the test users"
elif ! command -v getfattr >/dev/null; then
	skip "getfattr is not installed (package attr)"
else
	d=$(user_dir nibplain xattrcheck)
	run as_user nibplain sh -c "touch '$d/f' && setfattr -n user.containers.override_stat -v 0:0:0644 '$d/f' && getfattr --only-values -n user.containers.override_stat '$d/f'"
	assert_status 0 "user xattrs are needed for single-UID COPY"
	assert_eq "$out" "0:0:0644"
fi

finish
