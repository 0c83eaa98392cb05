#!/bin/bash
# Device nodes a RUN makes: with Docker's default capabilities (CAP_MKNOD
# among them) mknod of a character or block device succeeds and the layer
# has the node, with its owner and mode, whoever builds: root, a subuid
# user, a single UID, the restricted-pod simulation and the ptrace
# isolation (CRI-O's profile), with overlay and vfs, give one image digest
# with --timestamp. A user without the capability (USER 1000, --cap-drop
# MKNOD) gets EPERM in every mode, as in Docker; a FIFO needs no
# capability. fuse-overlayfs cannot have the node recorded: EPERM with a
# warning naming the drivers that can.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root/auto root/vfs nibsub/auto nibsub/vfs nibplain/auto podsim/auto pod:crio/auto"
if ! have_static_busybox || ! command -v skopeo >/dev/null ||
	! command -v python3 >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox, python3 and skopeo" $MODES "one digest in every mode" "fuse-overlayfs"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN mknod /cdev c 1 3 && mknod -m 0600 /bdev b 7 0 && mkfifo -m 0640 /fifo && mkdir /d && mknod /d/zero c 1 5 && chown 0:6 /d/zero
EOF
cat >"$C/Containerfile.user" <<'EOF'
FROM localhost/busybox:latest
USER 1000
RUN mknod /tmp/cdev c 1 3; echo "mknod: $?"; mkfifo /tmp/fifo && echo "mkfifo: $?"
EOF
chmod -R a+rX "$C"

top_layer() { # ROOT: the blob of localhost/mk's last layer
	python3 - "$1" <<'PY'
import json, sys
root = sys.argv[1]
blob = lambda d: "%s/blobs/sha256/%s" % (root, d.split(":", 1)[1])
for m in json.load(open(root + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "localhost/mk:latest":
        print(blob(json.load(open(blob(m["digest"])))["layers"][-1]["digest"]))
PY
}


ids=""
for mode in $MODES; do
	who=${mode%/*} drv=${mode##*/}
	t "$mode: RUN mknod makes device nodes in the layer; without CAP_MKNOD it is refused"
	why=$(mode_missing "$who")
	if [ -n "$why" ]; then
		skip "$why"
		continue
	fi
	w=${who/:/-}-$drv
	case $who in
	root) root=$T/r-root ;;
	pod*) root=$(podsim_dir "r-$w") ;;
	*) root=$(user_dir "$who" "r-$w") ;;
	esac
	out_dir=$(dirname "$root")/out-$w
	mkdir -p "$out_dir"
	chmod 0777 "$out_dir"
	run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" build -q --storage-driver $drv --no-cache --timestamp 0 --iidfile '$out_dir/id' -t localhost/mk '$C'"
	assert_status 0
	id=$(cat "$out_dir/id" 2>/dev/null)
	ids+="$mode=$id "
	listing=$(tar -tzvf "$(top_layer "$root")" 2>/dev/null | awk '$NF ~ /^(cdev|bdev|fifo|d\/zero)$/ {print $1, $2, $3, $NF}')
	assert_eq "$listing" "brw------- 0/0 7,0 bdev
crw-r--r-- 0/0 1,3 cdev
crw-r--r-- 0/6 1,5 d/zero
prw-r----- 0/0 0 fifo" "the nodes as root makes them"

	run as_who "$who" "$root" sh -c "\"\$NIB\" build --storage-driver $drv --no-cache -f '$C/Containerfile.user' '$C'"
	assert_status 0
	assert_match "$out" "mknod: 1" "USER 1000"
	assert_match "$out$err" "mknod: /tmp/cdev: Operation not permitted"
	assert_match "$out" "mkfifo: 0"

	run as_who "$who" "$root" sh -c "\"\$NIB\" build --storage-driver $drv --no-cache --cap-drop MKNOD '$C'"
	assert_status 1 "--cap-drop MKNOD"
	assert_match "$out$err" "mknod: /cdev: Operation not permitted"
done

t "fuse-overlayfs: a device mknod is refused with a warning"
run env NIB_ROOT="$T/r-root" "$NIB" build --storage-driver fuse-overlayfs --no-cache "$C"
if printf '%s' "$err" | grep -q 'fuse-overlayfs.*\(not usable\|not installed\)'; then
	skip "fuse-overlayfs refused here: $err"
else
	assert_status 1
	assert_match "$err" "warning: mknod /cdev: a device node cannot be recorded under fuse-overlayfs"
	assert_match "$out$err" "mknod: /cdev: Operation not permitted"
fi

t "one digest in every mode"
n=$(printf '%s\n' $ids | sed -n 's/^[^=]*=//p' | sort -u | grep -c .)
[ "$n" = 1 ] || fail "image IDs differ: $ids"

finish
