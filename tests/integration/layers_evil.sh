#!/bin/bash
# The adversarial layer set (tests/layers/evil_layers.py): each layer is
# refused with a clear message or confined to the rootfs; a victim folder
# beside the rootfs stays untouched and a refused extraction leaves nothing.
. "$(dirname "$0")/../lib.sh"
TOOL=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-layer-tool

snapshot() { # DIR: everything but rootfs*, with content hashes
	(cd "$1" && find . -path './rootfs*' -prune -o -print0 | sort -z |
		xargs -0 stat -c '%n %F %s %a %u:%g' && find . -path './rootfs*' -prune -o -type f -print0 |
		sort -z | xargs -0 -r sha256sum)
}

outside() { # places a layer might reach by mistake
	ls -la / /tmp 2>/dev/null | grep -c pwned
}

if ! command -v python3 >/dev/null; then
	skip_cases "python3 is not installed (make deps installs it)" "adversarial layers"
	finish
	exit
fi
E=$T/evil
python3 "$NIB_SRC/tests/layers/evil_layers.py" "$E" >"$T/cases" || fail "generator failed"
n=$(wc -l <"$T/cases")
t "at least 40 adversarial layers"
[ "$n" -ge 40 ] || fail "only $n cases"

before_outside=$(outside)
while read -r name; do
	c=$E/$name
	read -r kind regex <"$c/expect"
	read -r args <"$c/args" || args=""
	before=$(snapshot "$c")
	t "vfs: $name: ${kind}d"
	mkdir -p "$c/rootfs"
	st=0 msg=""
	for l in $(ls "$c" | grep -E '^[0-9]+\.tar' | sort -n); do
		# shellcheck disable=SC2086
		run "$TOOL" extract --vfs --remove-on-error $args "$c/rootfs" "$c/$l"
		if [ "$status" != 0 ]; then
			st=$status msg=$err
			break
		fi
	done
	if [ "$kind" = refuse ]; then
		assert_eq "$st" 1 "expected a refusal"
		assert_match "$msg" "$regex"
		assert_match "$msg" "^nib-layer-tool: layer "
		assert_no_file "$c/rootfs"
	else
		assert_eq "$st" 0 "expected success: $msg"
		[ -d "$c/rootfs" ] || fail "rootfs missing"
	fi
	assert_eq "$(snapshot "$c")" "$before" "victim or case folder changed"
	if [ -d "$c/rootfs" ] && find "$c/rootfs" -name pwned | grep -q .; then
		# confined writes land inside the rootfs
		for p in $(find "$c/rootfs" -name pwned); do
			assert_eq "$(cat "$p")" "pwned"
		done
	fi
	# overlay form: each layer in its own folder, confinement only
	t "overlay: $name: confined"
	i=0
	for l in $(ls "$c" | grep -E '^[0-9]+\.tar' | sort -n); do
		i=$((i + 1))
		mkdir -p "$c/rootfs-ovl$i"
		# shellcheck disable=SC2086
		"$TOOL" extract --remove-on-error $args "$c/rootfs-ovl$i" "$c/$l" >/dev/null 2>&1
	done
	assert_eq "$(snapshot "$c")" "$before" "victim or case folder changed"
done <"$T/cases"

t "nothing written outside the case folders"
assert_eq "$(outside)" "$before_outside"

t "confined results: devices are empty files with records"
c=$E/device-block-disk/rootfs
[ -f "$c/sda" ] && [ ! -b "$c/sda" ] || fail "sda is not a plain file"
assert_eq "$(getfattr --only-values -n user.containers.override_stat "$c/sda" 2>/dev/null)" "0:0:0660:block-8-0"
c=$E/device-char-whiteout/rootfs
assert_eq "$(getfattr --only-values -n user.containers.override_stat "$c/x" 2>/dev/null)" "0:0:0660:char-0-0"

t "confined results: symlink targets are kept verbatim"
assert_eq "$(readlink "$E/symlink-rel-dir/rootfs/l")" "../victim"
[ -f "$E/symlink-rel-dir/rootfs/victim/pwned" ] || fail "write through ../victim not confined to rootfs/victim"
[ -f "$E/symlink-abs-dir/rootfs$E/symlink-abs-dir/victim/pwned" ] || fail "absolute symlink not resolved inside rootfs"
assert_eq "$(cat "$E/symlink-file-overwrite/victim/secret")" "secret"
[ -f "$E/symlink-file-overwrite/rootfs/l" ] && [ ! -L "$E/symlink-file-overwrite/rootfs/l" ] ||
	fail "file did not replace the symlink"

t "confined results: forged overlay metadata and records are dropped"
c=$E/reserved-xattr/rootfs
assert_eq "$(getfattr -d -m '^user\.' "$c/dir" "$c/file" 2>/dev/null | grep -c '^user')" 0
t "confined results: a whiteout file removes only its own name"
[ ! -e "$E/whiteout-file/rootfs/x" ] && [ -f "$E/whiteout-file/rootfs/y" ] || fail "whiteout of x"
t "confined results: aufs bookkeeping is ignored"
[ -f "$E/aufs-bookkeeping/rootfs/keep" ] && [ -z "$(ls -A "$E/aufs-bookkeeping/rootfs" | grep -v '^keep$')" ] ||
	fail "aufs names were applied: $(ls -A "$E/aufs-bookkeeping/rootfs")"
t "confined results: a whiteout below a lower layer's symlink makes a folder there, as overlay does"
for c in whiteout-via-symlink whiteout-via-rel-symlink opaque-via-symlink; do
	r=$E/$c/rootfs
	[ -d "$r/l" ] && [ ! -L "$r/l" ] && [ -z "$(ls -A "$r/l")" ] || fail "$c: l is not an empty folder"
done
t "confined results: opaque root in a later layer only hides lower content"
[ ! -e "$E/opaque-root/rootfs/keep" ] && [ -f "$E/opaque-root/rootfs/new" ] || fail "opaque root"
finish
