#!/bin/bash
# The COPY/ADD engine against buildah: the same instructions run by
# `buildah bud` (FROM scratch, as root, chroot isolation, vfs) and by
# nib-copy-tool must give the same trees (path, type, owner, mode, size,
# link target, file mtime). Where buildah 1.28 differs from Docker, nib
# follows Docker; those cases are listed at the end with the difference
# asserted.
. "$(dirname "$0")/../lib.sh"

TOOL=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-copy-tool
B="buildah --storage-driver vfs --root $T/bstore --runroot $T/brun"

# listing of a tree: path type uid:gid mode size|target [mtime for files]
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%p|%y|%U:%G|%m|%s|%l|%T@\n' | sort |
		awk -F'|' '{ split($7, t, "."); if ($2 == "f") print $1, $2, $3, $4, $5, t[1];
		       else if ($2 == "l") print $1, $2, $3, $6; else print $1, $2, $3, $4 }')
}

# buildah_tree CONTAINERFILE_TEXT: the rootfs buildah builds, listed
buildah_tree() {
	printf '%s\n' "$1" >"$T/Containerfile"
	if ! $B bud --isolation chroot -q -f "$T/Containerfile" -t nib-copy-cmp "$T/ctx" \
		>"$T/bud.out" 2>&1; then
		echo "BUILD FAILED: $(tail -3 "$T/bud.out")"
		return 1
	fi
	local c m
	c=$($B from -q nib-copy-cmp) && m=$($B mount "$c") && listing "$m"
	$B rm "$c" >/dev/null 2>&1
	$B rmi -f nib-copy-cmp >/dev/null 2>&1
}

make_context() {
	local c=$T/ctx
	mkdir -p "$c/src/sub" "$c/links" "$c/etc" "$c/dir1" "$c/dir2" "$c/hl" "$c/deep/a/b"
	echo hello >"$c/a.txt"
	echo one >"$c/a1.txt"
	echo two >"$c/a2.txt"
	echo bee >"$c/b.md"
	echo xx >"$c/src/x"
	echo yyy >"$c/src/sub/y"
	chmod 0750 "$c/src/sub"
	chmod 0600 "$c/src/sub/y"
	chown 1234:5678 "$c/a.txt" "$c/src/x"
	echo pw >"$c/etc/passwd"
	ln -s /etc/passwd "$c/evil"
	ln -s x "$c/links/rel"
	ln -s /abs/target "$c/links/abs"
	echo t >"$c/links/x"
	echo 1 >"$c/dir1/f1"
	echo 22 >"$c/dir2/f2"
	echo d >"$c/hl/a"
	ln "$c/hl/a" "$c/hl/b"
	echo deep >"$c/deep/a/b/c"
	mkdir -p "$T/tarsrc/pkg/lib"
	echo bin >"$T/tarsrc/pkg/bin"
	echo lib >"$T/tarsrc/pkg/lib/l.so"
	ln -s bin "$T/tarsrc/pkg/link"
	chown -R 1000:1000 "$T/tarsrc/pkg"
	chmod 4755 "$T/tarsrc/pkg/bin"
	find "$T/tarsrc" -exec touch -h -d @1100000000 {} +
	tar -C "$T/tarsrc" -czf "$c/t.tgz" pkg
	tar -C "$T/tarsrc" -cJf "$c/t.txz" pkg
	find "$c" "$T/tarsrc" -exec touch -h -d @1000000000 {} +
}

# the instructions both run identically: "INSTRUCTION|nib-copy-tool args"
CASES=(
	'COPY a.txt /t1/|a.txt /t1/'
	'COPY a.txt /t2|a.txt /t2'
	'COPY src /t3|src /t3'
	'COPY src/ /t4/|src/ /t4/'
	'COPY --chown=7:8 src /t5/q/|--chown 7:8 src /t5/q/'
	'COPY --chmod=700 src /t6|--chmod 700 src /t6'
	'COPY a*.txt /t7/|a*.txt /t7/'
	'COPY dir? /t8/|dir? /t8/'
	'COPY evil /t9|evil /t9'
	'COPY links /t10|links /t10'
	'COPY . /t11/|. /t11/'
	'ADD t.tgz /t12/|--add t.tgz /t12/'
	'ADD t.txz /t13|--add t.txz /t13'
	'COPY t.tgz /t14/|t.tgz /t14/'
	'COPY --chown=7:8 hl /t15|--chown 7:8 hl /t15'
	'COPY ../a.txt /t16|../a.txt /t16'
	'COPY deep/a /t17/x/y|deep/a /t17/x/y'
	'COPY a1.txt a2.txt /t18/|a1.txt a2.txt /t18/'
	'COPY --chown=7 a.txt /t19|--chown 7 a.txt /t19'
)

if [ "$(id -u)" != 0 ]; then
	skip_cases "buildah comparison needs root" "COPY/ADD trees equal buildah's"
	finish
	exit
fi
if ! command -v buildah >/dev/null; then
	skip_cases "buildah is not installed (make deps installs it)" "COPY/ADD trees equal buildah's"
	finish
	exit
fi
if [ ! -x "$TOOL" ]; then
	skip_cases "nib-copy-tool is not built (make unit)" "COPY/ADD trees equal buildah's"
	finish
	exit
fi

make_context
text="FROM scratch"
for c in "${CASES[@]}"; do
	text+=$'\n'"${c%%|*}"
done
t "buildah builds the comparison Containerfile"
want=$(buildah_tree "$text")
assert_no_match "$want" "BUILD FAILED"

mkdir -p "$T/root"
for c in "${CASES[@]}"; do
	t "${c%%|*}: same tree as buildah"
	# shellcheck disable=SC2086
	run "$TOOL" --context "$T/ctx" --root "$T/root" ${c#*|}
	assert_status 0
done
got=$(listing "$T/root")

t "the whole tree equals buildah's (created folders' mtimes aside)"
[ "$(echo "$want" | wc -l)" -gt 40 ] || fail "buildah tree too small: $(echo "$want" | wc -l) lines"
strip_dir_times() { sed -E 's/^(\S+ d \S+ \S+).*/\1/'; }
echo "$got" >"$T/../nib-copy-buildah.tree" 2>/dev/null || true
d=$(diff <(echo "$want" | strip_dir_times) <(echo "$got" | strip_dir_times))
[ -z "$d" ] || fail "differences (< buildah, > nib):
$d"

# ---- where buildah 1.28 differs from Docker, nib follows Docker -----------
rm -rf "$T/root2"
mkdir -p "$T/root2"
cp /bin/true "$T/ctx/suid"
chmod 4755 "$T/ctx/suid"

t "setuid bits of context files are kept (Docker; buildah strips them)"
run "$TOOL" --context "$T/ctx" --root "$T/root2" suid /suid
assert_status 0
assert_eq "$(stat -c %a "$T/root2/suid")" 4755
w=$(buildah_tree $'FROM scratch\nCOPY suid /suid')
assert_match "$w" '^./suid f 0:0 755 ' "buildah strips setuid"

t "a wildcard that matches nothing copies nothing (BuildKit; buildah fails)"
run "$TOOL" --context "$T/ctx" --root "$T/root2" '*.none' /none/
assert_status 0
assert_no_file "$T/root2/none"
w=$(buildah_tree $'FROM scratch\nCOPY *.none /none/')
assert_match "$w" "BUILD FAILED"

t "several sources to a path without / fail (Dockerfile reference; buildah makes a folder)"
run "$TOOL" --context "$T/ctx" --root "$T/root2" a1.txt a2.txt /multi
assert_status 2
assert_match "$err" "a1.txt .*must be a folder and end with /"
w=$(buildah_tree $'FROM scratch\nCOPY a1.txt a2.txt /multi')
assert_match "$w" '^./multi d '

finish
