#!/bin/bash
# run.sh: long 3
# More layers than kernel overlay stacks (500 lower folders): a 500-layer
# base (generated: tests/layers/oci_append.py --many) builds with a RUN as
# root with overlay and fuse-overlayfs, as nibsub, nibplain and in the
# restricted-pod simulation, each seeing every layer and giving one image
# ID; and 1,000 RUN steps in one build (as root) give a 1,001-layer image
# whose last step sees all 1,000 changes, and which pushes to a registry and
# pulls back whole. The bottom layers are flattened
# into one folder of the layer cache, and the build says so.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh"

if ! command -v python3 >/dev/null || ! have_static_busybox || ! command -v skopeo >/dev/null ||
	! users_setup; then
	skip_cases "needs root, setpriv, python3, a static busybox and skopeo" "many layers"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
python3 "$NIB_SRC/tests/layers/oci_append.py" "$T/fixture" bb many500 --many 500 ||
	fail "generator failed"
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/many500
RUN echo "last $(cat /many/last) count $(ls /many | wc -l)" | tee /out
EOF
chmod -R a+rX "$C"

build_as() { # WHO ROOT DRIVER
	local who=$1 root=$2 cmd
	cmd="skopeo copy --quiet oci:'$T/fixture':many500 oci:'$root':localhost/many500:latest && \"\$NIB\" --log-level info build --timestamp 1700000000 --storage-driver $3 --iidfile '$root/iid' '$C'"
	case $who in
	root) NIB_ROOT=$root NIB=$NIB sh -c "$cmd" ;;
	podsim) NIB_ROOT=$root podsim sh -c "$cmd" ;;
	*) NIB_ROOT=$root as_user "$who" sh -c "$cmd" ;;
	esac
}

ref=""
for mode in root:overlay root:fuse-overlayfs nibsub:overlay nibplain:overlay podsim:overlay; do
	who=${mode%%:*} drv=${mode#*:}
	t "a 500-layer base as $who with $drv: the RUN sees every layer, one image ID"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	case $who in
	root) root=$T/r-$drv ;;
	podsim) root=$(podsim_dir "r-$who-$drv") ;;
	*) root=$(user_dir "$who" "r-$who-$drv") ;;
	esac
	run build_as "$who" "$root" "$drv"
	if [ "$drv" = fuse-overlayfs ] && [ "$status" != 0 ] &&
		printf '%s' "$err" | grep -q 'fuse-overlayfs.*\(not usable\|not installed\)'; then
		skip "fuse-overlayfs refused here: $err"
		continue
	fi
	assert_status 0
	assert_match "$out" '^last 499 count 501$'
	assert_match "$err" '501 layers: the bottom 200 are flattened into one folder'
	id=$(cat "$root/iid" 2>/dev/null)
	assert_match "$id" '^sha256:[0-9a-f]{64}$'
	[ -n "$ref" ] || ref=$id
	assert_eq "$id" "$ref" "image ID"
done

t "1,000 RUN steps in one build: 1,001 layers, the last step sees every change"
C2=$T/ctx1000
mkdir -p "$C2"
{
	echo 'FROM localhost/busybox'
	for i in $(seq 1 1000); do echo "RUN echo $i >> /n"; done
	echo 'RUN echo "lines $(wc -l < /n) last $(tail -n 1 /n)"'
} >"$C2/Containerfile"
export NIB_ROOT=$T/r-1000
skopeo copy --quiet oci:"$T/fixture":bb oci:"$NIB_ROOT":localhost/busybox:latest
run "$NIB" --log-level info build --timestamp 1700000000 -t localhost/thousand "$C2"
assert_status 0
assert_match "$out" '^lines 1000 last 1000$'
assert_match "$err" 'the bottom 200 are flattened'
run "$NIB" inspect --json localhost/thousand
assert_eq "$(printf '%s' "$out" | jq '.Manifest.layers | length')" 1001 "layers"
assert_eq "$(ls "$NIB_ROOT/nib/layers/vfs-id" | grep -c '^[0-9a-f]\{64\}$')" 4 \
	"flattened folders (200, 400, 600 and 800 layers)"

t "the 1,001-layer image pushes to a registry and pulls back whole"
if command -v docker-registry >/dev/null && registry_start plain; then
	run "$NIB" push -q --tls-verify=false localhost/thousand "$REG/many/thousand:1"
	assert_status 0
	run env NIB_ROOT="$T/r-pulled" "$NIB" pull -q --tls-verify=false "$REG/many/thousand:1"
	assert_status 0
	run env NIB_ROOT="$T/r-pulled" "$NIB" inspect --json "$REG/many/thousand:1"
	assert_eq "$(printf '%s' "$out" | jq '.Manifest.layers | length')" 1001 "layers pulled"
else
	skip "needs docker-registry"
fi

finish
