#!/bin/bash
# nib build's own bad input (beyond the Containerfile cases with a `fail`
# line): a missing context, a missing Containerfile, a context that is a
# file. One line naming the path, exit 1 or 2, the store unharmed.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"

NAMES=("missing context" "missing Containerfile" "-f naming a missing file" "context is a file"
	"the store keeps every image after the failures")
if ! e2e_init; then
	skip_cases "$E2E_SKIP" "${NAMES[@]}"
	finish
	exit
fi
R=$(e2e_root root auto)
before=$(_e2e_refs "$R")
mkdir -p "$T/empty-ctx"
echo x >"$T/a-file"

_one_line() { # REGEX
	local line
	line=$(printf '%s\n' "$err" | grep -E '^nib: error' || true)
	assert_lines "$line" 1
	assert_match "$line" "$1"
}

t "missing context"
run "$T/bin/nib" --root "$R" build -t localhost/x "$T/no-such-context"
[[ $status =~ ^(1|2)$ ]] || fail "exit status $status"
_one_line "no-such-context"

t "missing Containerfile"
run "$T/bin/nib" --root "$R" build -t localhost/x "$T/empty-ctx"
[[ $status =~ ^(1|2)$ ]] || fail "exit status $status"
_one_line "empty-ctx|Containerfile|Dockerfile"

t "-f naming a missing file"
run "$T/bin/nib" --root "$R" build -f "$T/nope.Containerfile" -t localhost/x "$T/empty-ctx"
[[ $status =~ ^(1|2)$ ]] || fail "exit status $status"
_one_line "nope.Containerfile"

t "context is a file"
run "$T/bin/nib" --root "$R" build -t localhost/x "$T/a-file"
[[ $status =~ ^(1|2)$ ]] || fail "exit status $status"
_one_line "a-file"

t "the store keeps every image after the failures"
assert_eq "$(_e2e_refs "$R")" "$before"
run "$T/bin/nib" --root "$R" images
assert_status 0
assert_match "$out" "localhost/busybox"
finish
