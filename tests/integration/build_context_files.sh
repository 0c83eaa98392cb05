#!/bin/bash
# A build's Containerfile and ignore files come from inside the context: a
# Containerfile or .dockerignore that is a symlink out of the context is
# resolved inside it (the host's file is never read), a FIFO is refused at
# once, and a syntax error in an ignore file names FILE:LINE without its
# content. As root, as a user without a subuid range and in the
# restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibplain pod)
CASES=("Containerfile linking out of the context" ".dockerignore linking out of the context"
	"ignore syntax error: FILE:LINE, no content" "FIFO ignore file is refused")
names() { for m in "${MODES[@]}"; do for c in "${CASES[@]}"; do echo "$m: $c"; done; done; }
if ! users_setup || ! podsim_available || ! command -v jq >/dev/null; then
	mapfile -t all < <(names)
	skip_cases "needs root, setpriv, unshare and jq" "${all[@]}"
	finish
	exit
fi
# the host's files a hostile context points at
mkdir -p "$T/host"
printf 'TOPSECRET-HOST-LINE [a-\n' >"$T/host/secret"
printf 'FROM scratch\nLABEL origin=host\nCOPY a /a\n' >"$T/host/Containerfile"
chmod -R a+rX "$T/host"

ctx() { # NAME: a fresh context the mode's user may read and write
	local c=$T/ctx-$mode-$1
	rm -rf "$c"
	mkdir -p "$c"
	echo a >"$c/a"
	printf 'FROM scratch\nLABEL origin=context\nCOPY a /a\n' >"$c/Dockerfile"
	chmod -R a+rwX "$c"
	echo "$c"
}

nib_as() { # ARGS...
	case $mode in
	root) run timeout 120 "$NIB" "$@" ;;
	nibplain) run as_user nibplain timeout 120 "$T/bin/nib" "$@" ;;
	pod) run podsim timeout 120 "$T/bin/nib" "$@" ;;
	esac
}

case_cf() {
	c=$(ctx cf-abs)
	ln -s "$T/host/Containerfile" "$c/Containerfile"
	nib_as --root "$S" build -q -t "localhost/cf-$mode" "$c"
	assert_status 0
	nib_as --root "$S" inspect --json "localhost/cf-$mode"
	assert_eq "$(jq -r .Config.config.Labels.origin <<<"$out")" context
	c=$(ctx cf-rel)
	ln -s ../../../../../../../../"$T/host/Containerfile" "$c/Containerfile"
	nib_as --root "$S" build -q -f "$c/Containerfile" -t "localhost/cf-$mode" "$c"
	assert_status 1
	assert_match "$err" "not found inside the build context"
}

case_ignore_link() {
	c=$(ctx ign)
	ln -s "$T/host/secret" "$c/.dockerignore"
	ln -s "$T/host/secret" "$c/Dockerfile.containerignore"
	nib_as --root "$S" build -q -t "localhost/ign-$mode" "$c"
	assert_status 0
	assert_no_match "$out$err" "TOPSECRET"
}

case_syntax() {
	c=$(ctx syntax)
	printf '# comment\nok\nTOPSECRET-CONTEXT-LINE [a-\n' >"$c/.dockerignore"
	nib_as --root "$S" build -q -t "localhost/syntax-$mode" "$c"
	assert_status 2
	assert_match "$err" "^nib: error: $c/\\.dockerignore:3: syntax error in pattern$"
	assert_no_match "$err" "TOPSECRET"
}

case_fifo() {
	c=$(ctx fifo)
	mkfifo "$c/.dockerignore"
	nib_as --root "$S" build -q -t "localhost/fifo-$mode" "$c"
	assert_status 1
	assert_match "$err" "$c/\\.dockerignore is not a regular file"
}

for mode in "${MODES[@]}"; do
	case $mode in
	root) S=$T/store-root ;;
	nibplain) S=$(user_dir nibplain store-plain) ;;
	pod) S=$(podsim_dir store-pod) ;;
	esac
	t "$mode: ${CASES[0]}"
	case_cf
	t "$mode: ${CASES[1]}"
	case_ignore_link
	t "$mode: ${CASES[2]}"
	case_syntax
	t "$mode: ${CASES[3]}"
	case_fifo
done
finish
