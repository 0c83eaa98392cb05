# Shell test helpers. Source it from a test file:
#
#	. "$(dirname "$0")/../lib.sh"
#	t "nib --version prints the version"
#	run "$NIB" --version
#	assert_status 0
#	assert_match "$out" '^nib version '
#	...
#	finish
#
# Each `t NAME` starts a test case; it passes unless an assertion in it
# fails. `skip REASON` skips the current case (the reason is printed and
# counted). `finish` prints "N passed, N failed, N skipped".
set -u
NIB_SRC=${NIB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
NIB=${NIB:-$NIB_SRC/build/nib}
export NIB NIB_SRC

_t_pass=0 _t_fail=0 _t_skip=0 _t_cur="" _t_failed=0 _t_skipped=0
out="" err="" status=0

# A scratch folder for this test file, removed at exit. World-readable so
# tests that drop privileges can use it.
T=$(mktemp -d /tmp/nib-test.XXXXXX)
chmod 0755 "$T"
export T
_t_cleanups=()
at_exit() { _t_cleanups+=("$*"); }
_t_exit() {
	local i
	for ((i = ${#_t_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_t_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$T" 2>/dev/null || true
}
trap _t_exit EXIT

_t_end() {
	[ -n "$_t_cur" ] || return 0
	if [ "$_t_skipped" = 1 ]; then
		:
	elif [ "$_t_failed" = 0 ]; then
		echo "PASS $_t_cur"
		_t_pass=$((_t_pass + 1))
	else
		echo "FAIL $_t_cur"
		_t_fail=$((_t_fail + 1))
	fi
	_t_cur=""
}

t() {
	_t_end
	_t_cur=$1
	_t_failed=0
	_t_skipped=0
}

# skip REASON: skip the current case.
skip() {
	echo "SKIP $_t_cur: $1"
	_t_skip=$((_t_skip + 1))
	_t_skipped=1
}

# skip_all REASON: skip every remaining case named in the arguments.
skip_cases() {
	local reason=$1 name
	shift
	for name in "$@"; do
		t "$name"
		skip "$reason"
	done
	_t_end
}

_t_note() {
	echo "  ${BASH_SOURCE[2]##*/}:${BASH_LINENO[1]}: $_t_cur: $*"
	_t_failed=1
}

fail() { _t_note "$*"; }

# run CMD...: run it; $status, $out (stdout) and $err (stderr) hold the result.
run() {
	local o e
	o=$(mktemp "$T/.out.XXXXXX")
	e=$(mktemp "$T/.err.XXXXXX")
	"$@" >"$o" 2>"$e"
	status=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
	return 0
}

assert_status() {
	if [ "$status" != "$1" ]; then
		_t_note "exit status $status, expected $1${2:+ ($2)}; stderr: ${err:0:400}"
	fi
}

assert_eq() {
	if [ "$1" != "$2" ]; then
		_t_note "got '${1:0:400}', expected '${2:0:400}'${3:+ ($3)}"
	fi
}

assert_ne() {
	if [ "$1" = "$2" ]; then
		_t_note "got '${1:0:400}', expected something else${3:+ ($3)}"
	fi
}

# assert_match STRING ERE
assert_match() {
	if ! printf '%s' "$1" | grep -Eq -- "$2"; then
		_t_note "'${1:0:400}' does not match /$2/${3:+ ($3)}"
	fi
}

assert_no_match() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_t_note "'${1:0:400}' matches /$2/${3:+ ($3)}"
	fi
}

assert_file() {
	[ -e "$1" ] || _t_note "missing file $1"
}

assert_no_file() {
	[ ! -e "$1" ] && [ ! -L "$1" ] || _t_note "unexpected file $1"
}

# assert_lines STRING N: STRING has exactly N lines.
assert_lines() {
	local n
	n=$(printf '%s\n' "$1" | wc -l)
	[ "$n" = "$2" ] || _t_note "got $n lines, expected $2: '${1:0:400}'"
}

finish() {
	_t_end
	echo "$_t_pass passed, $_t_fail failed, $_t_skip skipped"
	[ "$_t_fail" = 0 ]
}
