#!/bin/bash
# --iidfile and --digestfile (nib build, nib push): a new path or a regular
# file is written atomically; a symlink, FIFO or /dev/stdout-like link is
# written in place and stays what it was (as buildah does); a dangling link
# or a folder is refused. As root and as a user without a subuid range.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"

MODES=(root nibplain)
CASES=("a new file" "a regular file is replaced" "a symlink is written through, not replaced"
	"a link to our stdout: the ID is appended there" "a FIFO is written, not replaced"
	"a dangling symlink or a folder is refused" "push --digestfile through a symlink")
names() { for m in "${MODES[@]}"; do for c in "${CASES[@]}"; do echo "$m: $c"; done; done; }
if ! users_setup; then
	mapfile -t all < <(names)
	skip_cases "needs root and setpriv" "${all[@]}"
	finish
	exit
fi

nib_as() { # ARGS...
	case $mode in
	root) run timeout 120 "$NIB" --root "$S" "$@" ;;
	nibplain) run as_user nibplain timeout 120 "$T/bin/nib" --root "$S" "$@" ;;
	esac
}
as_mode() { # CMD...: a shell command as the mode's user
	case $mode in
	root) "$@" ;;
	nibplain) as_user nibplain "$@" ;;
	esac
}

for mode in "${MODES[@]}"; do
	case $mode in
	root) D=$T/root-work ;;
	nibplain) D=$(user_dir nibplain plain-work) ;;
	esac
	mkdir -p "$D/ctx"
	S=$D/store
	echo a >"$D/ctx/a"
	printf 'FROM scratch\nCOPY a /a\n' >"$D/ctx/Containerfile"
	[ "$mode" = root ] || chown -R nibplain: "$D"
	nib_as build -q -t localhost/out "$D/ctx"
	id=sha256:$out

	t "$mode: ${CASES[0]}"
	nib_as build -q --iidfile "$D/iid" --digestfile "$D/dig" "$D/ctx"
	assert_status 0
	assert_eq "$(cat "$D/iid")" "$id"
	assert_match "$(cat "$D/dig")" '^sha256:[0-9a-f]{64}$'
	assert_eq "$(ls "$D" | grep -c '\.tmp-')" 0

	t "$mode: ${CASES[1]}"
	as_mode sh -c "echo old >'$D/reg'"
	ino=$(stat -c %i "$D/reg")
	nib_as build -q --iidfile "$D/reg" "$D/ctx"
	assert_status 0
	assert_eq "$(cat "$D/reg")" "$id"
	assert_ne "$(stat -c %i "$D/reg")" "$ino" "not replaced by a rename"

	t "$mode: ${CASES[2]}"
	as_mode sh -c "printf 'old content that is longer than an image ID, much longer: %0100d' 0 >'$D/target'; ln -sf target '$D/link'"
	nib_as build -q --iidfile "$D/link" "$D/ctx"
	assert_status 0
	[ -L "$D/link" ] || fail "the symlink was replaced"
	assert_eq "$(readlink "$D/link")" target
	assert_eq "$(cat "$D/target")" "$id"

	t "$mode: ${CASES[3]}"
	as_mode ln -sf /proc/self/fd/1 "$D/stdout"
	nib_as build -q --iidfile "$D/stdout" "$D/ctx"
	assert_status 0
	[ -L "$D/stdout" ] || fail "the /proc/self/fd/1 link was replaced"
	assert_match "$out" "^${id}[0-9a-f]{64}$" "the ID on stdout, then -q's line"
	# stdout redirected to a log: the log keeps what came before
	as_mode sh -c "echo 'earlier line' >'$D/log'"
	case $mode in
	root) "$NIB" --root "$S" build -q --iidfile "$D/stdout" "$D/ctx" >>"$D/log" ;;
	nibplain) as_user nibplain sh -c "'$T/bin/nib' --root '$S' build -q --iidfile '$D/stdout' '$D/ctx' >>'$D/log'" ;;
	esac
	assert_match "$(head -n 1 "$D/log")" "^earlier line$"
	assert_match "$(cat "$D/log")" "$id"

	t "$mode: ${CASES[4]}"
	as_mode mkfifo "$D/fifo"
	timeout 60 cat "$D/fifo" >"$D/fifo.got" &
	reader=$!
	nib_as build -q --iidfile "$D/fifo" "$D/ctx"
	assert_status 0
	wait "$reader"
	[ -p "$D/fifo" ] || fail "the FIFO was replaced"
	assert_eq "$(cat "$D/fifo.got")" "$id"

	t "$mode: ${CASES[5]}"
	as_mode ln -sf "$D/nowhere/file" "$D/dangling"
	nib_as build -q --iidfile "$D/dangling" "$D/ctx"
	assert_status 1
	assert_match "$err" "open $D/dangling: No such file"
	[ -L "$D/dangling" ] || fail "the dangling link was replaced"
	assert_no_file "$D/nowhere"
	as_mode mkdir -p "$D/adir"
	nib_as build -q --iidfile "$D/adir" "$D/ctx"
	assert_status 1
	assert_match "$err" "$D/adir is a folder"

	t "$mode: ${CASES[6]}"
	as_mode sh -c ": >'$D/dtarget'; ln -sf dtarget '$D/dlink'"
	nib_as push --digestfile "$D/dlink" localhost/out "docker-archive:$D/out.tar"
	assert_status 0
	[ -L "$D/dlink" ] || fail "the symlink was replaced"
	assert_match "$(cat "$D/dtarget")" '^sha256:[0-9a-f]{64}$'
done
finish
