#!/bin/bash
# The command-line skeleton: help, version, usage errors and exit statuses.
. "$(dirname "$0")/../lib.sh"

t "nib --version prints the version"
run "$NIB" --version
assert_status 0
assert_match "$out" '^nib version [0-9]+\.[0-9]+\.[0-9]+$'

t "nib --help lists every command"
run "$NIB" --help
assert_status 0
for c in build pull push tag rmi images inspect login logout parse info run prune; do
	assert_match "$out" "^  $c " "command $c"
done

t "nib COMMAND --help shows the command's usage"
for c in build pull push tag rmi images inspect login logout parse info run prune; do
	run "$NIB" "$c" --help
	assert_status 0 "$c --help"
	assert_match "$out" "^Usage: nib $c" "$c --help"
done

t "nib help COMMAND is the same as nib COMMAND --help"
run "$NIB" help parse
assert_status 0
assert_match "$out" '^Usage: nib parse'

t "an unknown command is a usage error (exit 2)"
run "$NIB" frobnicate
assert_status 2
assert_match "$err" "unknown command 'frobnicate'"
assert_match "$err" '^Usage: nib '

t "no command is a usage error"
run "$NIB"
assert_status 2
assert_match "$err" 'no command given'

t "an unknown global flag is a usage error"
run "$NIB" --frob build
assert_status 2
assert_match "$err" "unknown or incomplete option '--frob'"

t "an unknown command flag is a usage error naming the command"
for c in build pull push tag rmi images inspect login logout parse info run prune; do
	run "$NIB" "$c" --no-such-flag
	assert_status 2 "$c"
	assert_match "$err" "no-such-flag" "$c"
	assert_match "$err" "^Usage: nib $c" "$c"
done

t "a global option missing its value is a usage error"
run "$NIB" --root
assert_status 2

t "an unknown log level is refused"
run "$NIB" --log-level loud info
assert_status 2
assert_match "$err" "unknown log level 'loud'"

finish
