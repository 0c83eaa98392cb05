#!/bin/bash
# nib build without privileges: as a user with a subuid range (nibsub), as
# one without (nibplain: a single UID) and in the restricted-pod simulation
# (single UID, masked /proc, no /dev/fuse, no_new_privs), that pod under the
# real seccomp profiles, and a user-namespaced pod (hostUsers: false). Each
# mode builds the same Containerfile (RUN with chown, COPY --chown,
# multi-stage) with --timestamp and must give the image root gives, with the
# true owners in the layers (files a non-root USER creates included). Where
# the profile refuses user namespaces, a Containerfile without RUN must still
# give root's image, and one with RUN fail first with one line.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" \
		"unprivileged builds"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
echo data >"$C/file.txt"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest AS base
RUN mkdir -p /srv/a && echo x > /srv/a/f && chown -R 42:43 /srv/a && chmod 4755 /srv/a/f
COPY --chown=7:8 file.txt /srv/copied
RUN echo 'u:x:1000:1000::/home/u:/bin/sh' >> /etc/passwd && echo 'u:x:1000:' >> /etc/group && mkdir -p /home/u && chown 1000:1000 /home/u
USER u
RUN echo mine > /home/u/mine && mkdir /home/u/d && touch /tmp/by-u
USER 4242
RUN touch /tmp/by-4242
USER root
FROM base
COPY --from=base /srv/a/f /final
RUN echo "$(id -u)" > /whoami
WORKDIR /srv
CMD ["/bin/sh"]
EOF
chmod -R a+rX "$C"

# The same image without RUN: COPY --chown/--chmod, COPY --from a stage,
# WORKDIR as a USER, metadata.
C2=$T/ctx-norun
mkdir -p "$C2/dir"
echo data >"$C2/file.txt"
echo inner >"$C2/dir/inner"
cat >"$C2/Containerfile" <<'EOF'
FROM localhost/busybox:latest AS base
COPY --chown=42:43 --chmod=4755 file.txt /srv/a/f
COPY --chown=1000:1000 dir /home/user/dir
FROM base
COPY --from=base --chown=7:8 /srv/a/f /final
USER 1000:1000
WORKDIR /home/user/work
ENV X=1
CMD ["/bin/sh"]
EOF
chmod -R a+rX "$C2"

# build CTX as WHO ("root", a user, "podsim", "pod:PROFILE" or
# "userns:PROFILE") into ROOT; prints the image ID
build_ctx() { # WHO ROOT CTX [ARGS...]
	local who=$1 root=$2 ctx=$3 cmd
	shift 3
	cmd="skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" build -q --timestamp 1700000000 $* '$ctx'"
	case $who in
	root) NIB_ROOT=$root NIB=$NIB sh -c "$cmd" ;;
	podsim) NIB_ROOT=$root podsim sh -c "$cmd" ;;
	pod:*) NIB_ROOT=$root PODSIM_SECCOMP=${who#pod:} podsim sh -c "$cmd" ;;
	userns:*) NIB_ROOT=$root PODSIM_SECCOMP=${who#userns:} podsim_userns sh -c "$cmd" ;;
	*) NIB_ROOT=$root as_user "$who" sh -c "$cmd" ;;
	esac
}
build_as() { # WHO ROOT [ARGS...]
	build_ctx "$1" "$2" "$C" "${@:3}"
}

# "mode uid/gid path" of every entry of every layer of the image ID in ROOT
listing() { # ROOT ID
	local h
	for h in $(NIB_ROOT=$1 "$NIB" inspect --json "$2" | jq -r '.Manifest.layers[1:][].digest' | cut -d: -f2); do
		tar tzvf "$1/blobs/sha256/$h" | awk '{print $1, $2, $6}'
	done
}

t "root builds the reference image"
run build_as root "$T/r-root"
assert_status 0
ref=$(printf '%s\n' "$out" | tail -1)
assert_match "$ref" '^[0-9a-f]{64}$'
list=$(listing "$T/r-root" "$ref")
assert_match "$list" '-rwsr-xr-x 42/43 srv/a/f'
assert_match "$list" '-rw-r--r-- 7/8 srv/copied'
assert_match "$list" '-rwsr-xr-x 42/43 final'
assert_match "$list" '-rw-r--r-- 1000/1000 home/u/mine'
assert_match "$list" 'drwxr-xr-x 1000/1000 home/u/d/'
assert_match "$list" '-rw-r--r-- 1000/1000 tmp/by-u'
assert_match "$list" '-rw-r--r-- 4242/0 tmp/by-4242'

for who in nibsub nibplain podsim; do
	t "$who: the same image as root, owners included"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	if [ "$who" = podsim ]; then
		r=$(podsim_dir "r-$who")
	else
		r=$(user_dir "$who" "r-$who")
	fi
	run build_as "$who" "$r"
	assert_status 0
	got=$(printf '%s\n' "$out" | tail -1)
	assert_eq "$got" "$ref"
	if [ "$got" != "$ref" ]; then
		diff <(listing "$T/r-root" "$ref") <(listing "$r" "$got") | head -20 | sed 's/^/    | /'
	fi
	t "$who: a rebuild is fully cached"
	run build_as "$who" "$r"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
done

t "root builds the reference image without RUN"
run build_ctx root "$T/r-root2" "$C2"
assert_status 0
ref2=$(printf '%s\n' "$out" | tail -1)
list=$(listing "$T/r-root2" "$ref2")
assert_match "$list" '-rwsr-xr-x 42/43 srv/a/f'
assert_match "$list" '-rw-r--r-- 1000/1000 home/user/dir/inner'
assert_match "$list" '-rwsr-xr-x 7/8 final'
assert_match "$list" 'drwxr-xr-x 1000/1000 home/user/work/'

# The pod under each real seccomp profile: builds without RUN everywhere;
# RUN where a user namespace can be made, else one line and nothing built.
for prof in unconfined containers-common crio containerd; do
	t "pod, $prof profile: the image without RUN is root's"
	if ! podsim_available || ! podsim_profiles | grep -qx "$prof"; then
		skip "seccomp profile $prof is not installed here (make deps)"
		t "pod, $prof profile: the image with RUN is root's"
		skip "seccomp profile $prof is not installed here (make deps)"
		t "pod, $prof profile: --isolation namespaces: the image with RUN, or RUN refused first"
		skip "seccomp profile $prof is not installed here (make deps)"
		continue
	fi
	r=$(podsim_dir "r-pod-$prof")
	run build_ctx "pod:$prof" "$r" "$C2"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref2"
	t "pod, $prof profile: the image with RUN is root's"
	r=$(podsim_dir "r-pod-$prof-run")
	run build_ctx "pod:$prof" "$r" "$C"
	assert_status 0
	got=$(printf '%s\n' "$out" | tail -1)
	assert_eq "$got" "$ref"
	if [ "$got" != "$ref" ]; then
		diff <(listing "$T/r-root" "$ref") <(listing "$r" "$got") | head -20 | sed 's/^/    | /'
	fi
	t "pod, $prof profile: --isolation namespaces: the image with RUN, or RUN refused first"
	r=$(podsim_dir "r-pod-$prof-ns")
	run build_ctx "pod:$prof" "$r" "$C" --isolation namespaces
	case $prof in
	crio | containerd)
		assert_status 1
		assert_lines "$err" 1
		assert_match "$err" '^nib: error: .*Containerfile:2: RUN needs a user namespace, and none can be made here: unshare\(CLONE_NEWUSER\): Operation not permitted \(the seccomp profile allows it only with CAP_SYS_ADMIN.*deploy/seccomp/nib.json.*hostUsers: false, or Unconfined$'
		assert_eq "$(find "$r/blobs/sha256" -type f | wc -l)" \
			"$(find "$T/fixture/blobs/sha256" -type f | wc -l)" "nothing but the base in the store"
		;;
	*)
		assert_status 0
		assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
		;;
	esac
done

# A user-namespaced pod (hostUsers: false): root of 65,536 IDs with CRI-O's
# default capabilities; under CRI-O's profile no nested user namespace.
t "user-namespaced pod, CRI-O profile: root's image without RUN, real owners"
if ! podsim_available || ! podsim_profiles | grep -qx crio; then
	skip "seccomp profile crio is not installed here (make deps)"
else
	r=$(podsim_userns_dir r-userns-crio)
	run build_ctx userns:crio "$r" "$C2"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref2"
	# real owners, not records: 42 in the pod is BASE+42 on the host
	f=$(find "$r/nib/layers" -path '*/srv/a/f' | head -n 1)
	assert_eq "$(stat -c %u:%g "$f")" "$((PODSIM_USERNS_BASE + 42)):$((PODSIM_USERNS_BASE + 43))"
	t "user-namespaced pod, CRI-O profile: RUN through ptrace as the pod's root gives root's image"
	# no CAP_SYS_PTRACE: a USER's processes are looked at with their IDs
	r=$(podsim_userns_dir r-userns-crio-run)
	run build_ctx userns:crio "$r" "$C"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
fi
t "user-namespaced pod, containers-common profile: RUN needs CAP_SETFCAP, then gives root's image"
if ! podsim_available || ! podsim_profiles | grep -qx containers-common; then
	skip "seccomp profile containers-common is not installed here (make deps)"
else
	r=$(podsim_userns_dir r-userns-cc)
	run build_ctx userns:containers-common "$r" "$C"
	assert_status 1
	assert_lines "$err" 1
	assert_match "$err" "Containerfile:2: a RUN step's user namespace must map the pod's root, which needs CAP_SETFCAP"
	PODSIM_CRIO_CAPS=$PODSIM_CRIO_CAPS,setfcap run build_ctx userns:containers-common "$r" "$C"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
fi
t "user-namespaced pod as UID 1000, containerd profile: root's image without RUN"
if ! podsim_available || ! podsim_profiles | grep -qx containerd; then
	skip "seccomp profile containerd is not installed here (make deps)"
else
	r=$(PODSIM_USERNS_UID=1000 podsim_userns_dir r-userns-1000)
	PODSIM_USERNS_UID=1000 run build_ctx userns:containerd "$r" "$C2"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref2"
fi

t "nibplain with --storage-driver vfs gives the same image"
r=$(user_dir nibplain r-vfs)
run build_as nibplain "$r" --storage-driver vfs
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"

t "nibsub with --idmap single gives the same image"
r=$(user_dir nibsub r-single)
run build_as nibsub "$r" --idmap single
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"

finish
