#!/bin/bash
# Multi-platform builds: --platform linux/amd64,linux/arm64 with a RUN step
# (arm64 through qemu-user-static and binfmt_misc), the manifest list read
# back from the registry on loopback with skopeo (inspect --raw, copy
# --all) and each platform's config and RUN output checked; --manifest,
# --all-platforms, nib manifest as buildah's; a base that lacks the
# platform refused; bad --platform values; RUN without qemu.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/multiarch.sh"

export NIB_ROOT=$T/root
HOST=$(ma_host_arch)

if [ "$HOST" != amd64 ] || ! command -v skopeo >/dev/null || ! command -v jq >/dev/null; then
	skip_cases "needs an amd64 host, skopeo and jq" "multi-platform builds"
	finish
	exit
fi
if ! ma_busybox_layout "$T/amd" amd64 bb || ! ma_busybox_layout "$T/arm" arm64 bb; then
	skip_cases "no arm64 busybox-static (dpkg --add-architecture arm64; apt-get download busybox-static:arm64)" \
		"multi-platform builds"
	finish
	exit
fi
if ! registry_start plain; then
	skip_cases "needs Debian's docker-registry" "multi-platform builds"
	finish
	exit
fi
ma_index_layout "$T/multi" m "$T/amd" "$T/arm"
skopeo copy --quiet --all --dest-tls-verify=false oci:"$T/multi":m docker://"$REG"/bb:multi
skopeo copy --quiet --dest-tls-verify=false oci:"$T/amd":bb docker://"$REG"/bb:amd64
QEMU=1
why=$(ma_binfmt arm64 2>&1) || QEMU=0

C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<EOF
FROM $REG/bb:multi
ARG TARGETPLATFORM
RUN uname -m >/arch && echo "\$TARGETPLATFORM" >/target
CMD ["cat", "/arch"]
EOF
C2=$T/ctx-norun
mkdir -p "$C2"
printf 'FROM %s/bb:multi\nCOPY Containerfile /cf\n' "$REG" >"$C2/Containerfile"
chmod -R a+rX "$C" "$C2"

# the file F of the top layer of the image for PLATFORM in layout DIR:TAG
layer_file() { # DIR TAG OS/ARCH F
	local m l
	m=$(jq -r --arg a "${3#*/}" '.manifests[] | select(.platform.architecture == ($a|split("/")[0])) | .digest' \
		"$1/blobs/sha256/$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json" | cut -d: -f2)" | cut -d: -f2)
	l=$(jq -r '.layers[-1].digest' "$1/blobs/sha256/$m" | cut -d: -f2)
	tar -xzOf "$1/blobs/sha256/$l" "$4" 2>/dev/null
}

t "an arm64 + amd64 build with RUN, pushed as a manifest list skopeo reads back"
if [ "$QEMU" = 0 ]; then
	skip "qemu-user-static is not usable here: $why"
else
	run "$NIB" build --tls-verify=false --platform linux/amd64,linux/arm64 \
		--manifest localhost/list -t "$REG"/out:1 --push "$C"
	assert_status 0
	run skopeo inspect --tls-verify=false --raw docker://"$REG"/out:1
	assert_status 0
	assert_eq "$(echo "$out" | jq -r .mediaType)" application/vnd.oci.image.index.v1+json
	assert_eq "$(echo "$out" | jq -r '[.manifests[].platform | .os + "/" + .architecture + (if .variant then "/" + .variant else "" end)] | join(",")')" \
		linux/amd64,linux/arm64/v8
	run skopeo copy --quiet --all --src-tls-verify=false docker://"$REG"/out:1 oci:"$T/back":b
	assert_status 0
	for p in linux/amd64 linux/arm64; do
		for d in $(jq -r '.manifests[].digest' "$T/back/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/back/index.json" | cut -d: -f2)"); do
			c=$(jq -r .config.digest "$T/back/blobs/sha256/${d#sha256:}")
			a=$(jq -r .architecture "$T/back/blobs/sha256/${c#sha256:}")
			[ "linux/$a" = "$p" ] || continue
			assert_eq "$(jq -r .os "$T/back/blobs/sha256/${c#sha256:}")" linux
			[ "$a" = arm64 ] && assert_eq "$(jq -r .variant "$T/back/blobs/sha256/${c#sha256:}")" v8
		done
	done
	assert_eq "$(layer_file "$T/back" b linux/amd64 arch)" x86_64
	assert_eq "$(layer_file "$T/back" b linux/arm64 arch)" aarch64 "RUN ran as arm64"
	assert_eq "$(layer_file "$T/back" b linux/arm64 target)" linux/arm64
	run "$NIB" manifest inspect localhost/list
	assert_status 0
	assert_eq "$(echo "$out" | jq '.manifests | length')" 2
fi

t "a rebuild into the same --manifest replaces each platform's entry"
if [ "$QEMU" = 0 ]; then
	skip "qemu-user-static is not usable here: $why"
else
	run "$NIB" build -q --tls-verify=false --no-cache --platform linux/arm64 --manifest localhost/list "$C"
	assert_status 0
	run "$NIB" manifest inspect localhost/list
	assert_eq "$(echo "$out" | jq '.manifests | length')" 2
	assert_eq "$(echo "$out" | jq -r '[.manifests[].platform.architecture] | sort | join(",")')" amd64,arm64
fi

t "--all-platforms builds every platform the base offers (no RUN)"
run "$NIB" build -q --tls-verify=false --all-platforms -t localhost/all "$C2"
assert_status 0
run "$NIB" manifest inspect localhost/all
assert_eq "$(echo "$out" | jq -r '[.manifests[].platform.architecture] | join(",")')" amd64,arm64

t "nib images lists a list without this host's platform by its first image, no warning"
run "$NIB" build -q --platform linux/arm64 --manifest localhost/armonly "$C2"
assert_status 0
run "$NIB" images
assert_status 0
assert_match "$out" "localhost/armonly +latest"
assert_eq "$err" ""

t "FROM a manifest list in the store takes its image for the platform"
printf 'FROM localhost/all\nCOPY Containerfile /cf2\n' >"$T/Containerfile.list"
run "$NIB" build -q --platform linux/arm64 -f "$T/Containerfile.list" "$C2"
assert_status 0
assert_eq "$("$NIB" inspect --json "$(printf '%s\n' "$out" | tail -1)" | jq -r .Config.architecture)" arm64
run "$NIB" build -q -f "$T/Containerfile.list" "$C2"
assert_status 0
assert_eq "$("$NIB" inspect --json "$(printf '%s\n' "$out" | tail -1)" | jq -r .Config.architecture)" amd64
run "$NIB" build -q --platform linux/s390x -f "$T/Containerfile.list" "$C2"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "no manifest for linux/s390x in index sha256:[0-9a-f]+ \(it has linux/amd64, linux/arm64/v8\)"

for who in nibsub nibplain podsim; do
	t "$who: the same two-platform build without RUN gives the same list"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	if [ "$who" != podsim ] && ! users_setup; then
		skip "needs root to create test users"
		continue
	fi
	cmd="\"\$NIB\" build -q --timestamp 1700000000 --tls-verify=false --platform linux/amd64,linux/arm64 -t localhost/two '$C2'"
	run env NIB_ROOT="$T/r-root" "$NIB" build -q --timestamp 1700000000 --tls-verify=false \
		--platform linux/amd64,linux/arm64 -t localhost/two "$C2"
	ref=$(printf '%s\n' "$out" | tail -1)
	if [ "$who" = podsim ]; then
		r=$(podsim_dir "r-$who")
		NIB_ROOT=$r run podsim sh -c "$cmd"
	else
		r=$(user_dir "$who" "r-$who")
		NIB_ROOT=$r run as_user "$who" sh -c "$cmd"
	fi
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
done

t "podsim: RUN for arm64 goes through qemu in the pod too"
if [ "$QEMU" = 0 ]; then
	skip "qemu-user-static is not usable here: $why"
elif ! podsim_available; then
	skip "needs unshare and setpriv for the restricted-pod simulation"
else
	r=$(podsim_dir r-pod-run)
	NIB_ROOT=$r run podsim sh -c "\"\$NIB\" build -q --tls-verify=false --platform linux/arm64 -t localhost/a '$C' && \"\$NIB\" push localhost/a oci:'$r/out':a"
	assert_status 0
	assert_eq "$(tar -xzOf "$r/out/blobs/sha256/$(jq -r '.layers[-1].digest' "$r/out/blobs/sha256/$(jq -r '.manifests[0].digest' "$r/out/index.json" | cut -d: -f2)" | cut -d: -f2)" arch)" aarch64
fi

t "pod under containerd's profile (RUN through ptrace): RUN for arm64 is refused in one line"
if ! podsim_available || ! podsim_profiles | grep -qx containerd; then
	skip "needs the restricted-pod simulation with containerd's seccomp profile"
else
	r=$(podsim_dir r-pod-cd)
	NIB_ROOT=$r PODSIM_SECCOMP=containerd run podsim sh -c "\"\$NIB\" build -q --tls-verify=false --platform linux/arm64 '$C'"
	assert_status 1
	assert_lines "$err" 1
	assert_match "$err" "Containerfile:3: RUN for linux/arm64 on this amd64 host is not supported under the ptrace isolation"
	NIB_ROOT=$r PODSIM_SECCOMP=containerd run podsim sh -c "\"\$NIB\" build -q --tls-verify=false --platform linux/amd64,linux/arm64 '$C2'"
	assert_status 0 "without RUN every platform builds there"
fi

t "--format docker --push: a Docker manifest list of Docker manifests"
run "$NIB" build -q --tls-verify=false --format docker --platform linux/amd64,linux/arm64 \
	-t "$REG"/dock:1 --push "$C2"
assert_status 0
run skopeo inspect --tls-verify=false --raw docker://"$REG"/dock:1
assert_eq "$(echo "$out" | jq -r .mediaType)" application/vnd.docker.distribution.manifest.list.v2+json
assert_eq "$(echo "$out" | jq -r '[.manifests[].mediaType] | unique | join(",")')" \
	application/vnd.docker.distribution.manifest.v2+json

t "a base without the platform asked for is refused; only a default: buildah's warning"
printf 'FROM %s/bb:amd64\nCOPY Containerfile /cf\n' "$REG" >"$T/Containerfile.amd"
run "$NIB" build -q --tls-verify=false -f "$T/Containerfile.amd" --platform linux/arm64 "$C2"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "Containerfile.amd:1: FROM .*/bb:amd64: .*the image is for linux/amd64, not linux/arm64"
run "$NIB" build -q --tls-verify=false -f "$T/Containerfile.amd" "$C2"
assert_status 0
run "$NIB" build -q --tls-verify=false --platform linux/s390x "$C2"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "no image for platform linux/s390x in the index \(available: linux/amd64, linux/arm64/v8\)"

t "RUN for arm64 without qemu: one line naming the platform and what to install"
if [ "$QEMU" = 0 ]; then
	run "$NIB" build -q --tls-verify=false --platform linux/arm64 "$C"
	assert_status 1
	assert_lines "$err" 1
	assert_match "$err" "RUN for linux/arm64 on this amd64 host.*qemu-user-static"
elif [ ! -w /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	skip "cannot switch the qemu-aarch64 entry off here"
else
	# switched off for this one build (never unmounted: that would drop
	# every registration)
	at_exit "echo 1 >/proc/sys/fs/binfmt_misc/qemu-aarch64"
	echo 0 >/proc/sys/fs/binfmt_misc/qemu-aarch64
	run "$NIB" build -q --no-cache --tls-verify=false --platform linux/arm64 "$C"
	echo 1 >/proc/sys/fs/binfmt_misc/qemu-aarch64
	assert_status 1
	assert_lines "$err" 1
	assert_match "$err" "Containerfile:3: RUN for linux/arm64 on this amd64 host: .*qemu-aarch64 is disabled \(update-binfmts --enable qemu-aarch64\)"
fi

t "bad --platform values and combinations: exit 2, one line"
for bad in linux linux/ /amd64 linux/amd64/v8/x Linux/amd64 "linux/amd64," "linux/amd64,,linux/arm64" \
	"linux/amd64,linux/amd64" "linux/am d64"; do
	run "$NIB" build --platform "$bad" "$C2"
	assert_status 2 "--platform '$bad'"
	assert_lines "$err" 1
done
run "$NIB" build --all-platforms --platform linux/amd64 "$C2"
assert_status 2
run "$NIB" build --platform linux/amd64,linux/arm64 --arch arm64 "$C2"
assert_status 2
run "$NIB" build --platform linux/amd64,linux/arm64 -o type=oci,dest="$T/o" "$C2"
assert_status 2
assert_match "$err" "--output with a manifest list"

t "nib manifest: create, add, annotate, remove, exists, push --all, rm (as buildah)"
run "$NIB" manifest create localhost/ml
assert_status 0
run "$NIB" manifest create localhost/ml
assert_status 2 "exists"
run "$NIB" manifest add localhost/ml oci:"$T/arm":bb
assert_status 0
arm=$(echo "$out" | awk '{print $2}')
run "$NIB" manifest add --tls-verify=false --annotation org.example=1 --os-version 1.0 localhost/ml docker://"$REG"/bb:amd64
assert_status 0
run "$NIB" manifest inspect localhost/ml
assert_eq "$(echo "$out" | jq -r '[.manifests[].platform.architecture] | join(",")')" arm64,amd64
assert_eq "$(echo "$out" | jq -r '.manifests[1].annotations["org.example"]')" 1
assert_eq "$(echo "$out" | jq -r '.manifests[1].platform["os.version"]')" 1.0
run "$NIB" manifest annotate --variant v8 --annotation a=b localhost/ml "$arm"
assert_status 0
assert_eq "$("$NIB" manifest inspect localhost/ml | jq -r '.manifests[0].annotations.a')" b
run "$NIB" manifest exists localhost/ml
assert_status 0
run "$NIB" manifest create localhost/ml2
run "$NIB" manifest add --arch arm64 localhost/ml2 oci:"$T/multi":m
assert_status 0 "--arch picks the image of a multi-platform source"
assert_eq "$("$NIB" manifest inspect localhost/ml2 | jq -c '.manifests[].platform')" \
	'{"architecture":"arm64","os":"linux","variant":"v8"}'
run "$NIB" manifest exists localhost/nope
assert_status 1
run "$NIB" manifest push --all --tls-verify=false --digestfile "$T/dg" localhost/ml docker://"$REG"/ml:1
assert_status 0
run skopeo inspect --tls-verify=false --raw docker://"$REG"/ml:1
assert_eq "sha256:$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)" "$(cat "$T/dg")"
assert_eq "$(echo "$out" | jq '.manifests | length')" 2
run skopeo copy --quiet --all --src-tls-verify=false docker://"$REG"/ml:1 oci:"$T/mlback":x
assert_status 0 "every image of the list was pushed"
run "$NIB" manifest push --tls-verify=false localhost/ml docker://"$REG"/ml:2
assert_status 0 "the list alone; its images are in the repository already"
run "$NIB" manifest push --tls-verify=false localhost/ml docker://"$REG"/other:1
assert_status 1 "the list alone, its images missing: the registry refuses it"
assert_lines "$err" 1
run "$NIB" manifest push --all --tls-verify=false -f v2s2 localhost/ml docker://"$REG"/ml:3
assert_status 0
assert_eq "$(skopeo inspect --tls-verify=false --raw docker://"$REG"/ml:3 | jq -r .mediaType)" \
	application/vnd.docker.distribution.manifest.list.v2+json
run "$NIB" manifest remove localhost/ml "$arm"
assert_status 0
assert_eq "$("$NIB" manifest inspect localhost/ml | jq '.manifests | length')" 1
run "$NIB" manifest remove localhost/ml sha256:0000000000000000000000000000000000000000000000000000000000000000
assert_status 1
run "$NIB" manifest add --retry 0 localhost/ml localhost/nonexistent-image
assert_status 1
assert_lines "$err" 1
run "$NIB" manifest inspect docker.io/library/nope
assert_status 1
run "$NIB" manifest frobnicate x
assert_status 2
run "$NIB" manifest rm localhost/ml
assert_status 0
run "$NIB" manifest exists localhost/ml
assert_status 1

t "nib manifest and buildah manifest list the same entries"
if ! command -v buildah >/dev/null; then
	skip "buildah is not installed"
else
	B=(buildah --root "$T/b/root" --runroot "$T/b/run" --storage-driver vfs)
	entries() { jq -c '[.manifests[] | [.digest, .mediaType, .size, .platform]] | sort'; }
	"${B[@]}" manifest create localhost/cmp >/dev/null 2>&1
	"${B[@]}" manifest add localhost/cmp oci:"$T/arm":bb >/dev/null 2>&1
	"${B[@]}" manifest add --tls-verify=false localhost/cmp docker://"$REG"/bb:amd64 >/dev/null 2>&1
	want=$("${B[@]}" manifest inspect localhost/cmp 2>/dev/null | entries)
	run "$NIB" manifest create localhost/cmp oci:"$T/arm":bb
	assert_status 0
	run "$NIB" manifest add --tls-verify=false localhost/cmp docker://"$REG"/bb:amd64
	assert_status 0
	assert_match "$want" 'arm64' "buildah made its list"
	assert_eq "$("$NIB" manifest inspect localhost/cmp | entries)" "$want"
fi

finish
