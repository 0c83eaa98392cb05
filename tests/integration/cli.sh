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
for c in build pull push tag rmi images inspect login logout parse info run prune manifest serve; do
	assert_match "$out" "^  $c " "command $c"
done

t "nib COMMAND --help shows the command's usage"
for c in build pull push tag rmi images inspect login logout parse info run prune manifest serve; do
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
for c in build pull push tag rmi images inspect login logout parse info run prune manifest serve; do
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

t "every command has a man page, and nib.1 lists them"
for c in build pull push tag rmi images inspect login logout parse info run prune manifest serve; do
	assert_file "$NIB_SRC/docs/man/nib-$c.1"
	grep -q "BR nib-$c (1)" "$NIB_SRC/docs/man/nib.1" || fail "nib.1 names $c"
done
if command -v man >/dev/null; then
	for f in "$NIB_SRC"/docs/man/*.1; do
		w=$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null | grep -v 'cannot adjust line')
		assert_eq "$w" "" "$(basename "$f") renders without warnings"
	done
fi

t "build's --help and man page name its cache, isolation and compression options"
run "$NIB" build --help
for o in --cache-ttl --isolation --compression-format --compression-level --logfile --env \
	--unsetenv --cap-add --ignorefile --stdin --retry; do
	assert_match "$out" "$o" "--help: $o"
	assert_match "$(sed 's/\\-/-/g' "$NIB_SRC/docs/man/nib-build.1")" "$o" "nib-build.1: $o"
done

finish
