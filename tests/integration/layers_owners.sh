#!/bin/bash
# Owner fidelity: a Debian base (debootstrap --variant=minbase, with files
# owned by groups like shadow, utmp, mail) extracted and committed again,
# and the same step (files owned by 1000:1000, a setuid file, a device node,
# a file capability) committed as a layer, give identical layer listings
# as root, as a user with a subuid range inside a user namespace, and as a
# user with a single UID (ownership records, as the runtime writes them).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/users.sh"
LIST=$NIB_SRC/tests/layers/tree_list.py
tarlist() { python3 "$LIST" tar "$1" | sed 's/ uname=.*//' | sort; }
CASES=("Debian base round trip: root" "Debian base round trip: subuid user namespace"
	"Debian base round trip: single UID" "step layer identical: subuid user namespace"
	"step layer identical: single UID" "step layer read back and written again: every mode")

if ! users_setup; then
	skip_cases "needs root to create the test users" "${CASES[@]}"
	finish
	exit
fi
if ! BASE=$("$NIB_SRC/tests/layers/debian_base.sh" 2>"$T/deb.err"); then
	skip_cases "no Debian base: $(tail -n 1 "$T/deb.err")" "${CASES[@]}"
	finish
	exit
fi
cp "${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-layer-tool" "$T/bin/"
chmod 0755 "$T/bin/nib-layer-tool"
cp "$BASE" "$T/base.tar" && chmod 0644 "$T/base.tar"
TOOL=$T/bin/nib-layer-tool
CAP=0x0100000200200000000000000000000000000000 # cap_net_raw+ep, VFS_CAP_REVISION_2
TS=1700000000
tarlist "$T/base.tar" >"$T/base.list"

# The work each user does, in one shell script: extract the base, commit it
# whole, then make the step's changes and commit them.
cat >"$T/work.sh" <<'SH'
set -eu
mode=$1 W=$2 TOOL=$3 CAP=$4 TS=$5
map=""
[ "$mode" = single ] && map=--map-self
mkdir -p "$W/base" "$W/empty"
"$TOOL" extract --vfs $map "$W/base" "$W/../base.tar" >/dev/null
"$TOOL" commit --compare "$W/empty" $map --timestamp "$TS" --compression none "$W/base" "$W/base-again.tar" >/dev/null
cp -a "$W/base" "$W/tree"
cd "$W/tree"
mkdir -p home/user opt/bin
echo data >home/user/file
printf 'tool' >opt/bin/tool
printf 'ping' >opt/bin/ping
if [ "$mode" = single ]; then
	# what the runtime's seccomp supervisor records for chown, mknod, capset
	setfattr -n user.containers.override_stat -v 1000:1000:0755:dir home/user
	setfattr -n user.containers.override_stat -v 1000:1000:0644:file home/user/file
	: >dev/mydev
	chmod 0640 dev/mydev
	setfattr -n user.containers.override_stat -v 0:6:0640:char-10-200 dev/mydev
	setfattr -n user.containers.override_security.capability -v "$CAP" opt/bin/ping
	# a symlink's record is on its folder (storage.h)
	ln -s file home/user/link
	setfattr -n user.nib.link.link -v "1000:1000:$(stat -c %i home/user/link)" home/user
	ln -s file home/user/stale
	setfattr -n user.nib.link.stale -v "1000:1000:1" home/user
else
	chown 1000:1000 home/user home/user/file
	ln -s file home/user/link
	chown -h 1000:1000 home/user/link
	ln -s file home/user/stale
	if [ "$mode" = subuid ]; then
		# no device nodes in a user namespace: the runtime records them
		: >dev/mydev
		chmod 0640 dev/mydev
		setfattr -n user.containers.override_stat -v 0:6:0640:char-10-200 dev/mydev
	else
		mknod -m 0640 dev/mydev c 10 200
		chgrp 6 dev/mydev
	fi
	setfattr -n security.capability -v "$CAP" opt/bin/ping
fi
chmod 4755 opt/bin/tool
chmod 0755 opt/bin/ping
cd /
"$TOOL" commit --compare "$W/base" $map --timestamp "$TS" "$W/tree" "$W/step.tar" >/dev/null
# the step's layer read back (records made by the extraction) and written again
mkdir -p "$W/again"
"$TOOL" extract --vfs $map "$W/again" "$W/step.tar" >/dev/null
"$TOOL" commit --compare "$W/empty" $map --timestamp "$TS" "$W/again" "$W/step-again.tar" >/dev/null
SH
chmod 0755 "$T/work.sh"

mkdir -p "$T/root"
run bash "$T/work.sh" root "$T/root" "$TOOL" "$CAP" "$TS"
root_ok=$status root_err=$err
d=$(user_dir nibsub sub)
run as_user nibsub unshare --map-root-user --map-users=400000,1,65536 --map-groups=400000,1,65536 \
	bash "$T/work.sh" subuid "$d" "$TOOL" "$CAP" "$TS"
sub_ok=$status sub_err=$err
d=$(user_dir nibplain plain)
run as_user nibplain bash "$T/work.sh" single "$d" "$TOOL" "$CAP" "$TS"
plain_ok=$status plain_err=$err

t "${CASES[0]}"
assert_eq "$root_ok" 0 "$root_err"
diff "$T/base.list" <(tarlist "$T/root/base-again.tar") >"$T/d0" || fail "$(head -c 800 "$T/d0")"
grep -q '^etc/gshadow f 0 42 0640 ' "$T/base.list" || fail "the base has no shadow-owned gshadow"

t "${CASES[1]}"
assert_eq "$sub_ok" 0 "$sub_err"
diff "$T/base.list" <(tarlist "$T/sub/base-again.tar") >"$T/d1" || fail "$(head -c 800 "$T/d1")"

t "${CASES[2]}"
assert_eq "$plain_ok" 0 "$plain_err"
diff "$T/base.list" <(tarlist "$T/plain/base-again.tar") >"$T/d2" || fail "$(head -c 800 "$T/d2")"

t "${CASES[3]}"
tarlist "$T/root/step.tar" >"$T/step.list"
assert_match "$(cat "$T/step.list")" '^home/user/file f 1000 1000 0644 '
assert_match "$(cat "$T/step.list")" '^dev/mydev c 0 6 0640 0 10,200 '
assert_match "$(cat "$T/step.list")" '^opt/bin/tool f 0 0 4755 '
assert_match "$(cat "$T/step.list")" "^opt/bin/ping f 0 0 0755 4 .* security.capability=${CAP#0x}"
assert_match "$(cat "$T/step.list")" '^home/user/link l 1000 1000 '
assert_match "$(cat "$T/step.list")" '^home/user/stale l 0 0 '
assert_eq "$(grep -c user.nib "$T/step.list")" 0 "no record attribute in the layer"
diff "$T/step.list" <(tarlist "$T/sub/step.tar") >"$T/d3" || fail "$(head -c 800 "$T/d3")"

t "${CASES[4]}"
diff "$T/step.list" <(tarlist "$T/plain/step.tar") >"$T/d4" || fail "$(head -c 800 "$T/d4")"

t "${CASES[5]}"
for m in root sub plain; do
	diff "$T/step.list" <(tarlist "$T/$m/step-again.tar") >"$T/d5" || fail "$m: $(head -c 800 "$T/d5")"
done
finish
