#!/bin/bash
# A rootfs whose /proc, /dev or /sys is a symlink is refused for RUN with
# one line (runc's fix for CVE-2023-28642: a mount there would follow the
# symlink), with every storage driver (overlay's folder of mount targets
# would hide the symlink), in every mode and isolation, and by `nib run
# --rootfs`; a build without RUN over the same image works.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root:overlay root:fuse-overlayfs root:vfs nibsub:overlay nibplain:overlay podsim:auto pod:crio:auto"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v python3 >/dev/null ||
	! users_setup; then
	skip_cases "needs root, setpriv, python3, a static busybox and skopeo" $MODES "nib run --rootfs"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
# one image per mount point: a layer that makes it a symlink to /tmp
for m in proc dev sys; do
	w=$T/layer-$m
	mkdir -p "$w/tree"
	ln -s tmp "$w/tree/$m"
	tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$w/tree" -cf "$w/layer.tar" "$m"
	python3 "$NIB_SRC/tests/layers/oci_append.py" "$T/fixture" bb "link-$m" "$w/layer.tar" ||
		fail "oci_append"
done
chmod -R a+rX "$T/fixture"


for mode in $MODES; do
	who=${mode%:*} drv=${mode##*:}
	t "$who with $drv: a RUN over an image whose /proc, /dev or /sys is a symlink is refused"
	why=$(mode_missing "$who")
	if [ -n "$why" ]; then
		skip "$why"
		continue
	fi
	w=${mode//:/-}
	case $who in
	root) root=$T/r-$w ;;
	pod*) root=$(podsim_dir "r-$w") ;;
	*) root=$(user_dir "$who" "r-$w") ;;
	esac
	driver=
	[ "$drv" = auto ] || driver="--storage-driver $drv"
	for m in proc dev sys; do
		c=$T/ctx-$w-$m
		mkdir -p "$c"
		printf 'FROM localhost/link-%s\nRUN echo ran\n' "$m" >"$c/Containerfile"
		printf 'FROM localhost/link-%s\nENV X=1\n' "$m" >"$c/Containerfile.norun"
		chmod -R a+rX "$c"
		run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':link-$m oci:'$root':localhost/link-$m:latest && \"\$NIB\" build -q $driver '$c'"
		if [ "$drv" = fuse-overlayfs ] && printf '%s' "$err" | grep -q 'fuse-overlayfs.*\(not usable\|not installed\)'; then
			skip "fuse-overlayfs refused here: $err"
			break
		fi
		assert_status 1 "$m"
		assert_lines "$err" 1
		assert_match "$err" "Containerfile:2: .*the image's /$m is a symlink: refused, as runc refuses it .*CVE-2023-28642"
		assert_no_match "$out" '^ran$'
		run as_who "$who" "$root" sh -c "\"\$NIB\" build -q $driver -f '$c/Containerfile.norun' '$c'"
		assert_status 0 "$m, no RUN"
	done
done

t "nib run --rootfs refuses a rootfs whose /proc is a symlink"
mkdir -p "$T/rootfs/bin" "$T/rootfs/tmp"
cp "$BUSYBOX_STATIC" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/sh"
ln -s tmp "$T/rootfs/proc"
run "$NIB" run --rootfs "$T/rootfs" -- /bin/sh -c 'echo ran'
assert_status 1
assert_lines "$err" 1
assert_match "$err" "the image's /proc is a symlink: refused"
assert_eq "$(readlink "$T/rootfs/proc")" tmp "the rootfs is left as it was"

finish
