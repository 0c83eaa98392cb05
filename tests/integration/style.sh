#!/bin/bash
# Formatting is enforced by machine: every C source matches .clang-format.
. "$(dirname "$0")/../lib.sh"

t "every C source is formatted with clang-format"
if ! command -v clang-format >/dev/null; then
	skip "clang-format is not installed (make deps installs it)"
elif ! git -C "$NIB_SRC" rev-parse >/dev/null 2>&1; then
	skip "not a git checkout: no list of sources"
else
	cd "$NIB_SRC"
	mapfile -t files < <(git ls-files '*.c' '*.h')
	run clang-format --dry-run -Werror "${files[@]}"
	assert_status 0 "run 'make format'"
fi

t "no source file passes 1,500 lines"
cd "$NIB_SRC"
for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
	n=$(wc -l <"$f")
	[ "$n" -le 1500 ] || fail "$f has $n lines"
done

finish
