#!/bin/bash
# The manual pages and --help agree: every long option a command's --help
# names is in its man page (docs/man/nib-COMMAND.1), and every option the
# page describes (a .TP entry's head) is in the command's --help or is a
# global option; the same for nib.1 and `nib --help`. Every command nib
# --help lists has a page, nib.1 names each, and every page renders.
. "$(dirname "$0")/../lib.sh"

MAN=$NIB_SRC/docs/man
longopts() { grep -oE -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u; }
# the options a --help defines: its lines that start with an option, up
# to the description (two spaces), not the ones its prose mentions
helpopts() { grep -E '^ +-' | sed -E 's/^ +//; s/ {2,}.*//' | longopts; }
# the page's text with groff's escapes undone (\- is -, \fB... fonts gone)
page_text() { sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\(em/-/g' "$1"; }
# the options the page describes: the line after each .TP
page_defs() { awk 'p == ".TP" { print } { p = $0 }' "$1" | sed 's/\\-/-/g; s/\\f[BIRP]//g'; }

run "$NIB" --help
assert_status 0
global=$(printf '%s\n' "$out" | helpopts)
commands=$(printf '%s\n' "$out" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
[ "$(printf '%s\n' "$commands" | wc -l)" -ge 15 ] || fail "nib --help lists $(printf '%s' "$commands" | wc -l) commands"

t "nib.1 and nib --help: the global options, every command"
assert_file "$MAN/nib.1"
text=$(page_text "$MAN/nib.1")
missing=$(comm -23 <(printf '%s\n' "$global") <(printf '%s\n' "$text" | longopts) | xargs)
assert_eq "$missing" "" "global options missing from nib.1"
extra=$(comm -13 <(printf '%s\n' "$global") <(page_defs "$MAN/nib.1" | longopts) | xargs)
assert_eq "$extra" "" "nib.1 describes options nib --help does not name"
for c in $commands; do
	grep -q "BR nib-$c (1)" "$MAN/nib.1" || fail "nib.1 does not name nib-$c(1)"
done

for c in $commands; do
	t "nib $c: --help and nib-$c.1 name the same options"
	if [ ! -f "$MAN/nib-$c.1" ]; then
		fail "no docs/man/nib-$c.1"
		continue
	fi
	run "$NIB" "$c" --help
	assert_status 0
	help=$(printf '%s\n' "$out" | helpopts)
	# manifest's help names the options in its subcommands' lines
	[ "$c" = manifest ] && help=$(printf '%s\n' "$out" | longopts)
	[ -n "$help$(page_defs "$MAN/nib-$c.1" | longopts)" ] || [ "$c" = tag ] ||
		fail "neither --help nor the page names an option"
	missing=$(comm -23 <(printf '%s\n' "$help") <(page_text "$MAN/nib-$c.1" | longopts) | xargs)
	assert_eq "$missing" "" "in --help, not in nib-$c.1"
	extra=$(comm -13 <(printf '%s\n' "$help") <(page_defs "$MAN/nib-$c.1" | longopts) |
		comm -23 - <(printf '%s\n' "$global") | xargs)
	assert_eq "$extra" "" "described in nib-$c.1, not in --help"
	# each option in --help is one the command takes: followed by two
	# unknown options (a value for it, then the one refused), parsing
	# stops at the second before anything runs ("manifest" takes its
	# options after a subcommand)
	[ "$c" = manifest ] && continue
	for o in $help; do
		run "$NIB" "$c" "$o" --nosuch-zz --nosuch-zz
		[ "$status" != 0 ] || fail "nib $c $o --nosuch-zz --nosuch-zz succeeded"
		assert_no_match "$err" "option '$o'" "nib $c $o is refused"
	done
done

t "every page renders without warnings"
if command -v man >/dev/null; then
	for f in "$MAN"/*.1; do
		w=$(MANWIDTH=80 man -l "$f" 2>&1 >/dev/null | grep -v 'cannot adjust line')
		assert_eq "$w" "" "$(basename "$f")"
	done
else
	skip "man is not installed"
fi

finish
