#!/bin/bash
# run.sh: long 2
# nib's own image: built by nib from a clean clone of this checkout with
# deploy/Containerfile (BASE: the tests' debootstrap Debian, no network
# registry), pushed to Debian's docker-registry on loopback, then run: nib
# --version and nib info inside it as an arbitrary UID, every library nib
# loads present, and a restricted pod under runc (UID 1000590000, GID 0, no
# capabilities, no_new_privs, the storage root on a volume) that builds and
# pushes with a RUN step under the Localhost profile deploy/seccomp/nib.json
# and under Docker's default profile (RuntimeDefault), where no user
# namespace can be made and RUN goes through the ptrace isolation; with
# --isolation namespaces that RUN step is refused there.
# The image is left in the test cache (tests/lib/nib_image.sh) for later
# tests.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/nib_image.sh"

CASES=("nib builds its own image from a clean clone of this checkout"
	"the image is pushed to a local registry and pulled back"
	"the image's config, and no apt cache or build leftovers in it"
	"nib --version and nib info run inside the image as an arbitrary UID"
	"every library nib loads is in the image"
	"runc pod, Localhost profile nib.json: builds with RUN and pushes"
	"runc pod, Docker's default profile (RuntimeDefault): RUN through ptrace, pushed"
	"runc pod, Docker's default profile, --isolation namespaces: the RUN step is refused")

if [ "$(id -u)" != 0 ] || ! command -v git >/dev/null || ! command -v skopeo >/dev/null ||
	! command -v umoci >/dev/null || ! command -v docker-registry >/dev/null; then
	skip_cases "needs root, git, skopeo, umoci and docker-registry (make deps)" "${CASES[@]}"
	finish
	exit
fi

t "${CASES[0]}"
STORE=$T/store
if nib_image_build "$STORE" "$T/oci" 2>"$T/build.err"; then
	echo "NOTE deploy/Containerfile built in ${NIB_IMAGE_SECONDS}s"
	# the clone is the checkout: same tracked files, no build/ or .git in the context
	assert_eq "$(_nib_image_tree "$NIB_IMAGE_CLONE")" "$(_nib_image_tree "$NIB_SRC")" "clone = checkout"
	assert_no_file "$NIB_IMAGE_CLONE/build"
	run "$NIB" --root "$STORE" images
	assert_match "$out" 'localhost/nib +test'
	assert_file "$T/oci/index.json"
	nib_image_cache "$T/oci" || fail "could not store the image in the test cache"
else
	mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	mirror=${NIB_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
	if ! curl -sfI --max-time 20 "$mirror/dists/bookworm/Release" >/dev/null; then
		skip "the Debian mirror $mirror is unreachable: the build stage cannot apt-get"
	else
		fail "$(cat "$T/build.err")"
	fi
	skip_cases "the image was not built" "${CASES[@]:1}"
	finish
	exit
fi

t "${CASES[1]}"
registry_start plain || fail "registry"
run "$NIB" --root "$STORE" push -q --tls-verify=false --digestfile "$T/digest" localhost/nib:test "$REG/nib/nib:test"
assert_status 0
run skopeo inspect --tls-verify=false "docker://$REG/nib/nib:test"
assert_status 0
assert_match "$out" '"Digest": "'"$(cat "$T/digest")"'"'
run "$NIB" --root "$T/store2" pull -q --tls-verify=false "$REG/nib/nib:test"
assert_status 0

t "${CASES[2]}"
run "$NIB" --root "$STORE" inspect localhost/nib:test
cfg=$out
assert_match "$cfg" '"User": ?"1001:0"'
assert_match "$cfg" 'HOME=/home/nib'
assert_match "$cfg" 'NIB_ROOT=/var/lib/nib'
assert_match "$cfg" '"/usr/bin/nib"'
R=$T/bundle/rootfs
umoci unpack --image "$T/oci:nib" "$T/bundle" >/dev/null 2>&1 || fail "umoci unpack"
assert_file "$R/usr/bin/nib"
assert_eq "$(find "$R/var/lib/apt/lists" -mindepth 1 -not -name lock -not -name partial 2>/dev/null | wc -l)" 0 "apt lists"
assert_eq "$(find "$R/var/cache/apt" -name '*.bin' -o -name '*.deb' | wc -l)" 0 "apt caches"
for p in src out usr/bin/gcc usr/bin/make usr/include/archive.h; do
	assert_no_file "$R/$p"
done
assert_eq "$(stat -c '%a %g' "$R/home/nib" "$R/var/lib/nib" | sort -u)" "775 0" "group-0-writable HOME and storage root"
echo "NOTE image: $(du -sm "$R" | cut -f1) MB unpacked, $(du -sm "$T/oci/blobs" | cut -f1) MB of blobs"

t "${CASES[3]}"
in_image=(run "$NIB" run --rootfs "$R" --user 1000590000:0 --env HOME=/home/nib --env NIB_ROOT=/var/lib/nib \
	--env PATH=/usr/local/bin:/usr/bin:/bin --)
"${in_image[@]}" /usr/bin/nib --version
assert_status 0
assert_eq "$out" "$("$NIB" --version)" "the image's nib is this checkout's"
"${in_image[@]}" /usr/bin/nib info
assert_status 0
assert_match "$out" 'storage root /var/lib/nib'
assert_match "$out" 'storage driver'

t "${CASES[4]}"
run "$NIB" run --rootfs "$R" -- /sbin/ldconfig -p
assert_status 0
libs=$out
# the image's nib: linked libraries, and those it loads on first use (their
# names are in the binary, see builder/lazylibs.sh)
sonames=$( (objdump -p "$R/usr/bin/nib" | awk '$1 == "NEEDED" { print $2 }'
	strings "$R/usr/bin/nib" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$') | sort -u)
assert_match "$sonames" 'libdeflate\.so\.0' "nib loads libdeflate"
for so in $sonames; do
	assert_match "$libs" "^[[:space:]]*$so " "$so"
done
run "$NIB" run --rootfs "$R" -- /usr/bin/ldd /usr/bin/nib
assert_status 0
assert_no_match "$out" 'not found'

# ---- a restricted pod under runc ------------------------------------------------------
RUNC_IDS=()
# pod_config PROFILE_JSON OUT_DIR ARGS...: a runc bundle over the unpacked
# image as an OpenShift restricted-v2 pod: UID 1000590000, GID 0, no
# capabilities, no_new_privs, the pod's network (the host's here), the
# storage root and the context on volumes, the seccomp profile given
pod_config() {
	local prof=$1 dir=$2 oci
	shift 2
	oci=$(python3 "$NIB_SRC/tests/lib/seccomp_check.py" oci "$prof") || return 1
	mkdir -p "$dir"
	jq --argjson sc "$oci" --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" \
		--arg root "$R" --arg ctx "$T/podctx" --arg store "$dir/storage" '
		.root = {path: $root, readonly: false}
		| .process.terminal = false
		| .process.user = {uid: 1000590000, gid: 0}
		| .process.args = $args
		| .process.capabilities = {bounding: [], effective: [], inheritable: [], permitted: [], ambient: []}
		| .process.noNewPrivileges = true
		| .linux.namespaces |= map(select(.type != "network"))
		| .linux.seccomp = $sc
		| .mounts += [{destination: "/ctx", type: "bind", source: $ctx, options: ["rbind", "ro"]},
			{destination: "/var/lib/nib", type: "bind", source: $store, options: ["rbind", "rw"]}]
		' "$T/bundle/config.json" >"$dir/config.json" || return 1
	mkdir -p "$dir/storage"
	chown 1000590000:0 "$dir/storage"
}
pod_run() { # DIR
	local id=nib-deploy-$$-${#RUNC_IDS[@]}
	RUNC_IDS+=("$id")
	at_exit "runc delete -f $id"
	run timeout 300 runc run --bundle "$1" "$id"
}

mkdir -p "$T/podctx"
cp /bin/busybox "$T/podctx/busybox" 2>/dev/null
cat >"$T/podctx/Containerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /etc && /bin/busybox id -u > /etc/built-by"]
EOF
chmod -R a+rX "$T/podctx"
DOCKER_DEFAULT=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

t "${CASES[5]}"
if ! command -v runc >/dev/null || ! command -v jq >/dev/null || ! [ -x /bin/busybox ]; then
	skip "needs runc, jq and busybox-static (make deps)"
else
	pod_config "$NIB_SRC/deploy/seccomp/nib.json" "$T/pod-nib" /usr/bin/nib build --push --tls-verify=false \
		-t "$REG/pod/built:nibjson" /ctx || fail "runc config"
	pod_run "$T/pod-nib"
	assert_status 0 "build with RUN under nib.json: $err"
	run skopeo inspect --tls-verify=false "docker://$REG/pod/built:nibjson"
	assert_status 0 "pushed"
fi

t "${CASES[6]}"
if ! command -v runc >/dev/null || ! command -v jq >/dev/null || ! [ -x /bin/busybox ] ||
	! [ -f "$DOCKER_DEFAULT" ]; then
	skip "needs runc, jq, busybox-static and golang-github-docker-docker-dev (make deps)"
else
	# Docker's default, resolved for no capabilities: nib.json without nib's rule
	python3 - "$NIB_SRC/deploy/seccomp/generate.py" "$DOCKER_DEFAULT" "$T/runtime-default.json" <<'EOF'
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("generate", sys.argv[1])
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)
json.dump(g.resolve(json.load(open(sys.argv[2]))), open(sys.argv[3], "w"))
EOF
	# no user namespace: a RUN step goes through the ptrace isolation
	pod_config "$T/runtime-default.json" "$T/pod-default" /usr/bin/nib build --push --tls-verify=false \
		-t "$REG/pod/built:default" /ctx || fail "runc config"
	pod_run "$T/pod-default"
	assert_status 0 "build with RUN under Docker's default profile (ptrace): $err"
	run skopeo inspect --tls-verify=false "docker://$REG/pod/built:default"
	assert_status 0 "pushed"
fi

t "${CASES[7]}"
if ! command -v runc >/dev/null || ! command -v jq >/dev/null || ! [ -x /bin/busybox ] ||
	! [ -f "$T/runtime-default.json" ]; then
	skip "needs runc, jq, busybox-static and golang-github-docker-docker-dev (make deps)"
else
	pod_config "$T/runtime-default.json" "$T/pod-default-ns" /usr/bin/nib build --push --tls-verify=false \
		--isolation namespaces -t "$REG/pod/built:namespaces" /ctx || fail "runc config"
	pod_run "$T/pod-default-ns"
	assert_status 1 "a RUN step cannot work without user namespaces"
	assert_match "$err" 'RUN needs a user namespace, and none can be made here: unshare\(CLONE_NEWUSER\)'
	run skopeo inspect --tls-verify=false "docker://$REG/pod/built:namespaces"
	assert_ne "$status" 0 "nothing pushed"
fi

finish
