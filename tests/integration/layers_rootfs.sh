#!/bin/bash
# Rootfs drivers (overlay in a user namespace, fuse-overlayfs, vfs): a step
# over a base layer gives a layer that, applied to the base, gives the same
# tree with every driver, as root, as a subuid user and as a single UID;
# the probe ladder; many layers; adoption of a step into the layer cache;
# a storage root on overlayfs is refused for kernel overlay with advice.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib/users.sh"
BUILD=${NIB_BUILD:-$NIB_SRC/build}
LIST=$NIB_SRC/tests/layers/tree_list.py
STEP='echo new >new; rm a; rm -r d; mkdir d; echo y >d/y; chmod 600 keep; ln -s new link; mkdir -p e/f; echo g >e/f/g'

if ! users_setup; then
	skip_cases "needs root to create the test users" "rootfs drivers"
	finish
	exit
fi
cp "$BUILD/tests/helpers/nib-layer-tool" "$T/bin/" && chmod 0755 "$T/bin/nib-layer-tool"
TOOL=$T/bin/nib-layer-tool

# the base layer
mkdir -p "$T/base/d" "$T/e0"
echo a >"$T/base/a" && echo x >"$T/base/d/x" && echo k >"$T/base/keep"
read -r DID _ <<<"$("$TOOL" commit --compare "$T/e0" --timestamp 5 "$T/base" "$T/base.tar.gz")"
chmod 0644 "$T/base.tar.gz"

# the expected tree: the base with the step applied by hand
cp -a "$T/base" "$T/expect" && (cd "$T/expect" && sh -ec "$STEP")
expect=$(python3 "$LIST" tree "$T/expect" --records | sed 's/ [0-9]* [0-9]* \([0-7]\{4\}\)/ \1/' | sort)

# as_user_ns USER|root CMD...: root, a single UID, or a subuid user namespace
as_who() {
	local who=$1
	shift
	case $who in
	root) "$@" ;;
	single) as_user nibplain "$@" ;;
	subuid) as_user nibsub unshare --map-root-user --map-users=400000,1,65536 \
		--map-groups=400000,1,65536 "$@" ;;
	esac
}

declare -A diffids
for who in root single subuid; do
	case $who in root) dir=$T/r-root ;; single) dir=$(user_dir nibplain r-single) ;; subuid) dir=$(user_dir nibsub r-subuid) ;; esac
	for drv in overlay fuse-overlayfs vfs; do
		t "$drv as $who: the step's layer applied to the base gives the step's tree"
		run as_who "$who" "$TOOL" probe --root "$dir/store" --driver "$drv"
		if [ "$status" != 0 ]; then
			skip "$drv refused here: $err"
			continue
		fi
		run as_who "$who" "$TOOL" step --root "$dir/store" --driver "$drv" --timestamp 5 \
			--layer "$T/base.tar.gz:$DID" -- "$STEP"
		assert_status 0
		read -r d did dg _ entries <<<"$out"
		assert_eq "$d" "$drv"
		diffids[$drv-$who]=$did
		blob=$dir/store/blobs/sha256/${dg#sha256:}
		mkdir -p "$T/apply-$who-$drv"
		"$BUILD/tests/helpers/nib-layer-tool" extract --vfs "$T/apply-$who-$drv" "$T/base.tar.gz" >/dev/null &&
			"$BUILD/tests/helpers/nib-layer-tool" extract --vfs "$T/apply-$who-$drv" "$blob" >/dev/null ||
			fail "extraction failed"
		got=$(python3 "$LIST" tree "$T/apply-$who-$drv" --records | sed 's/ [0-9]* [0-9]* \([0-7]\{4\}\)/ \1/' | sort)
		assert_eq "$got" "$expect" "tree after base + step layer"
		run as_who "$who" sh -c "ls '$dir/store/nib/tmp' | wc -l"
		assert_eq "$out" 0 "step folders removed"
	done
done

t "overlay and fuse-overlayfs give byte-identical layers, whoever runs them"
ref=${diffids[overlay-root]:-}
n=0
for k in "${!diffids[@]}"; do
	case $k in vfs-*) continue ;; esac
	n=$((n + 1))
	assert_eq "${diffids[$k]}" "$ref" "$k"
done
[ "$n" -ge 1 ] || skip "no overlay driver works here"

t "a copy-up that changes nothing is left out: every driver gives the same layer, whoever runs it"
# two base layers: the second changes "two" and deletes "gone"; the step
# copies files and a folder up and leaves them as they were (the same
# times, the same mode, opened for writing and not written, an entry made
# and removed), makes "new" and brings "gone" back as the first layer had
# it (behind the whiteout: a new file)
CU=$T/cu
mkdir -p "$CU/1/d/sub" "$CU/2" "$CU/e"
echo k >"$CU/1/keep" && echo x >"$CU/1/d/x" && echo f >"$CU/1/d/sub/f"
echo one >"$CU/1/two" && echo g >"$CU/1/gone"
read -r CD1 _ <<<"$("$TOOL" commit --compare "$CU/e" --timestamp 5 "$CU/1" "$CU/1.tar")"
cp -a "$CU/1/." "$CU/2/" && echo two >"$CU/2/two" && rm "$CU/2/gone"
read -r CD2 _ <<<"$("$TOOL" commit --compare "$CU/1" --timestamp 5 "$CU/2" "$CU/2.tar")"
chmod 0644 "$CU/"*.tar
CU_STEP='touch -r keep keep; chmod "$(stat -c %a d/x)" d/x; exec 3<>d/sub/f; exec 3>&-; touch -r two two
mkdir d/tmp; rmdir d/tmp; echo new >new; echo g >gone; touch -d @5 gone'
cu_ref="" n=0
for who in root single subuid; do
	case $who in root) dir=$T/cu-root ;; single) dir=$(user_dir nibplain cu-single) ;; subuid) dir=$(user_dir nibsub cu-subuid) ;; esac
	for drv in overlay fuse-overlayfs vfs; do
		run as_who "$who" "$TOOL" probe --root "$dir/store" --driver "$drv"
		[ "$status" = 0 ] || continue
		run as_who "$who" "$TOOL" step --root "$dir/store" --driver "$drv" --timestamp 5 \
			--layer "$CU/1.tar:$CD1" --layer "$CU/2.tar:$CD2" -- "$CU_STEP"
		assert_status 0 "$drv as $who"
		read -r _ did dg _ <<<"$out"
		n=$((n + 1))
		names=$(python3 "$LIST" tar "$dir/store/blobs/sha256/${dg#sha256:}" | awk '{print $1}' | sort | tr '\n' ' ')
		assert_eq "$names" "gone new " "$drv as $who: the layer's entries"
		: "${cu_ref:=$did}"
		assert_eq "$did" "$cu_ref" "$drv as $who: the layer's DiffID"
	done
done
[ "$n" -ge 2 ] || skip "fewer than two drivers work here"

t "adoption: the next step runs on the adopted folder without extraction"
for drv in overlay vfs; do
	run "$TOOL" step --root "$T/adopt-$drv" --driver "$drv" --timestamp 5 --adopt \
		--layer "$T/base.tar.gz:$DID" -- "$STEP"
	assert_status 0
	read -r _ did dg _ <<<"$(echo "$out" | head -n 1)"
	adopted=$(echo "$out" | tail -n 1)
	[ -d "$adopted" ] || fail "$drv: no adopted folder $adopted"
	cp "$T/adopt-$drv/blobs/sha256/${dg#sha256:}" "$T/step-$drv.tar.gz"
	run "$TOOL" step --root "$T/adopt-$drv" --driver "$drv" --layer "$T/base.tar.gz:$DID" \
		--layer "$T/step-$drv.tar.gz:$did" -- 'test -f new && test ! -e a && test ! -e d/x && test -L link'
	assert_status 0 "$drv: second step on the adopted layer"
	assert_eq "$(ls "$T/adopt-$drv/nib/layers/"*/ | grep -c tmp)" 0
done

t "many layers: 150 lower folders with lowerdir+ and with the mount(2) fallback"
mkdir -p "$T/many"
args=()
for i in $(seq 1 150); do
	mkdir -p "$T/many/src$i" && echo "$i" >"$T/many/src$i/f$i"
	read -r did _ <<<"$("$TOOL" commit --compare "$T/e0" "$T/many/src$i" "$T/many/l$i.tar")"
	args+=(--layer "$T/many/l$i.tar:$did")
done
for legacy in "" 1; do
	run env ${legacy:+NIB_OVERLAY_LEGACY=1} "$TOOL" step --root "$T/many/store" --driver overlay "${args[@]}" -- \
		'test "$(ls | wc -l)" = 150 && test "$(cat f1)" = 1 && test "$(cat f150)" = 150'
	if [ "$status" != 0 ] && echo "$err" | grep -q "refused here\|cannot create a user namespace"; then
		skip "overlay not available: $err"
	else
		assert_status 0 "legacy=$legacy"
	fi
done

t "single UID, vfs form: layers write into and delete from 0555 and 0000 folders below"
mkdir -p "$T/ro/l1/ro" "$T/ro/l1/zero" "$T/ro/l2/ro" "$T/ro/l2/zero" "$T/ro/e"
echo x >"$T/ro/l1/ro/x" && echo z >"$T/ro/l1/zero/z" && chmod 0555 "$T/ro/l1/ro" && chmod 0000 "$T/ro/l1/zero"
echo n >"$T/ro/l2/ro/new" && echo f >"$T/ro/l2/zero/f2" && : >"$T/ro/l2/ro/.wh.x" && : >"$T/ro/l2/zero/.wh.z"
chmod 0555 "$T/ro/l2/ro" && chmod 0000 "$T/ro/l2/zero"
tar --numeric-owner -C "$T/ro/l1" -cf "$T/ro/1.tar" . && tar --numeric-owner -C "$T/ro/l2" -cf "$T/ro/2.tar" .
chmod 0644 "$T/ro/"*.tar
d=$(user_dir nibplain ro-x)
run as_user nibplain sh -c "'$TOOL' extract --vfs --map-self '$d' '$T/ro/1.tar' && '$TOOL' extract --vfs --map-self '$d' '$T/ro/2.tar'"
assert_status 0
assert_eq "$(stat -c %a "$d/ro" "$d/zero" | tr '\n' ' ')" "555 0 "
assert_eq "$(ls -A "$d/ro" | tr '\n' ' ')" "new "
assert_eq "$(ls -A "$d/zero" | tr '\n' ' ')" "f2 "
d=$(user_dir nibplain ro-c)
run as_user nibplain sh -c "mkdir '$d/e' && '$TOOL' commit --compare '$d/e' --map-self '$T/r-single/../ro-x' '$d/l.tar'"
assert_status 0
assert_match "$(python3 "$LIST" tar "$d/l.tar" | sort)" 'zero d 0 0 0000'
assert_eq "$(stat -c %a "$T/ro-x/zero")" 0 "mode given back after the commit"

t "a storage root on overlayfs: kernel overlay refused with advice, auto picks another driver"
mkdir -p "$T/ofs/l" "$T/ofs/u" "$T/ofs/w" "$T/ofs/m"
if ! mount -t overlay overlay -o "lowerdir=$T/ofs/l,upperdir=$T/ofs/u,workdir=$T/ofs/w" "$T/ofs/m" 2>/dev/null; then
	skip "cannot mount an overlay here to simulate a pod's root filesystem"
else
	at_exit umount -l "$T/ofs/m"
	run "$TOOL" probe --root "$T/ofs/m/store" --driver overlay
	assert_status 1
	assert_match "$err" 'is on overlayfs.*emptyDir'
	run "$TOOL" probe --root "$T/ofs/m/store"
	assert_status 0
	assert_match "$out" '^(fuse-overlayfs|vfs)'
	assert_match "$out" 'overlay: .*emptyDir'
	umount -l "$T/ofs/m"
fi
finish
