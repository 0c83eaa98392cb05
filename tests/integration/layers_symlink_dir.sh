#!/bin/bash
# One tree for a layer that writes below a name an earlier layer made a
# symlink (tests/layers/symlink_dir.py): overlay's semantics (the later
# layer's folder replaces the symlink; nothing is written or deleted where
# it pointed) with every driver — kernel overlay, fuse-overlayfs, vfs — as
# root, as a single UID and as a subuid user (nib-layer-tool step); and the
# same image ID from `nib build` over that pair with every driver, as root,
# nibsub, nibplain and in the restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
BUILD=${NIB_BUILD:-$NIB_SRC/build}

if ! command -v python3 >/dev/null || ! have_static_busybox || ! command -v skopeo >/dev/null ||
	! users_setup; then
	skip_cases "needs root, setpriv, python3, a static busybox and skopeo" "symlink then folder"
	finish
	exit
fi
P=$T/pair
mkdir -p "$T/fixture"
make_busybox_layout "$T/fixture" bb
python3 "$NIB_SRC/tests/layers/symlink_dir.py" "$P" "$T/fixture" bb symdir || fail "generator failed"
chmod -R a+rX "$T/fixture" "$P"
cp "$BUILD/tests/helpers/nib-layer-tool" "$T/bin/" && chmod 0755 "$T/bin/nib-layer-tool"
TOOL=$T/bin/nib-layer-tool
expect=$(cat "$P/expect")
D1=sha256:$(sha256sum "$P/1.tar" | cut -d' ' -f1)
D2=sha256:$(sha256sum "$P/2.tar" | cut -d' ' -f1)

as_who() { # root|single|subuid CMD...
	local who=$1
	shift
	case $who in
	root) "$@" ;;
	single) as_user nibplain "$@" ;;
	subuid) as_user nibsub unshare --map-root-user --map-users=400000,1,65536 \
		--map-groups=400000,1,65536 "$@" ;;
	esac
}

for who in root single subuid; do
	case $who in
	root) dir=$T/r-root ;;
	single) dir=$(user_dir nibplain r-single) ;;
	subuid) dir=$(user_dir nibsub r-subuid) ;;
	esac
	for drv in overlay fuse-overlayfs vfs; do
		t "$drv as $who: the later layer's folder replaces the earlier layer's symlink"
		run as_who "$who" "$TOOL" probe --root "$dir/store" --driver "$drv"
		if [ "$status" != 0 ]; then
			skip "$drv refused here: $err"
			continue
		fi
		run as_who "$who" "$TOOL" step --root "$dir/store" --driver "$drv" \
			--layer "$P/1.tar:$D1" --layer "$P/2.tar:$D2" -- "sh '$P/list.sh' > '$dir/tree-$drv'"
		assert_status 0
		assert_eq "$(cat "$dir/tree-$drv")" "$expect" "the tree the step saw"
	done
done

C=$T/ctx
mkdir -p "$C"
cp "$P/list.sh" "$C/"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/symdir
COPY list.sh /list.sh
RUN cd / && sh /list.sh > /tree && cat /tree
EOF
chmod -R a+rX "$C"

build_as() { # WHO ROOT DRIVER
	local who=$1 root=$2 cmd
	cmd="skopeo copy --quiet oci:'$T/fixture':symdir oci:'$root':localhost/symdir:latest && \"\$NIB\" build --timestamp 1700000000 --storage-driver $3 --iidfile '$root/iid' '$C'"
	case $who in
	root) NIB_ROOT=$root NIB=$NIB sh -c "$cmd" ;;
	podsim) NIB_ROOT=$root podsim sh -c "$cmd" ;;
	*) NIB_ROOT=$root as_user "$who" sh -c "$cmd" ;;
	esac
}

ref=""
for who in root nibsub nibplain podsim; do
	for drv in overlay fuse-overlayfs vfs; do
		t "nib build as $who with $drv: the tree and the image ID root's overlay build gives"
		if [ "$who" = podsim ] && ! podsim_available; then
			skip "needs unshare and setpriv for the restricted-pod simulation"
			continue
		fi
		case $who in
		root) root=$T/b-$drv-root ;;
		podsim) root=$(podsim_dir "b-$drv-$who") ;;
		*) root=$(user_dir "$who" "b-$drv-$who") ;;
		esac
		run build_as "$who" "$root" "$drv"
		if [ "$status" != 0 ] && [ "$drv" = fuse-overlayfs ] &&
			printf '%s' "$err" | grep -q 'fuse-overlayfs.*\(needs\|not\|refused\|cannot\)'; then
			skip "fuse-overlayfs refused here: $err"
			continue
		fi
		assert_status 0
		got=$(printf '%s\n' "$out" | grep -E '^[a-z0-9/]+ [dfl]( -> .*)?$')
		assert_eq "$got" "$expect" "the tree the RUN saw"
		id=$(cat "$root/iid" 2>/dev/null)
		assert_match "$id" '^sha256:[0-9a-f]{64}$'
		[ -n "$ref" ] || ref=$id
		assert_eq "$id" "$ref" "image ID"
	done
done

finish
