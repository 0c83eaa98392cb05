#!/bin/bash
# nib build's RUN confinement options, as buildah bud takes them: one
# Containerfile built with --security-opt seccomp=PROFILE, --ulimit,
# --shm-size, --device and a setuid-root program run by a non-root USER,
# as root, nibsub, nibplain and in the pod simulation; what its RUN saw is
# compared with buildah's (root, --isolation oci with runc, a private vfs
# store) where buildah is installed. RUN --security=insecure is refused in
# one line unless --allow security.insecure.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibsub nibplain pod)
CASES=("what RUN saw" "RUN --security=insecure needs --allow security.insecure")

if [ "$(id -u)" != 0 ] || ! users_setup || ! bases_busybox 2>"$T/bases.err" ||
	[ ! -x "$NIB_BUILD/tests/helpers/nib-suid-id" ]; then
	skip_cases "needs root, the test users, nib-suid-id and the busybox base: $(cat "$T/bases.err" 2>/dev/null)" \
		"${CASES[@]}" "buildah sees the same"
	finish
	exit
fi

C=$T/ctx
mkdir -p "$C"
chmod 755 "$T"
cp "$NIB_BUILD/tests/helpers/nib-suid-id" "$C/"
cat >"$T/normdir.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
EOF
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
COPY nib-suid-id /bin/nib-suid-id
RUN chmod 4755 /bin/nib-suid-id && mkdir -p /out && chmod 777 /out
USER nobody
RUN (ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | awk '{print $2}'; \
     mkdir /tmp/x && rmdir /tmp/x 2>/dev/null && echo rmdir-ok || echo rmdir-refused; \
     head -c 3 /dev/xzero | wc -c; nib-suid-id) > /out/seen
EOF
chmod -R a+rX "$C" "$T/normdir.json"
OPTS=(--ulimit nofile=123:456 --shm-size 2m --security-opt seccomp="$T/normdir.json"
	--device /dev/zero:/dev/xzero)

owner_of() {
	case $1 in
	root) echo 0:0 ;;
	nibsub | nibplain) echo "$(id -u "$1"):$(id -g "$1")" ;;
	pod) echo "$PODSIM_UID:$PODSIM_GID" ;;
	esac
}
nibas() { # MODE ARGS...
	local m=$1
	shift
	case $m in
	root) run "$T/bin/nib" "$@" ;;
	nibsub | nibplain) run as_user "$m" "$T/bin/nib" "$@" ;;
	pod) run podsim "$T/bin/nib" "$@" ;;
	esac
}

for m in "${MODES[@]}"; do
	if [ "$m" = pod ] && ! podsim_available; then
		skip_cases "the pod simulation needs unshare and setpriv" "${CASES[@]/#/[pod] }"
		continue
	fi
	R=$T/root-$m
	mkdir -p "$R"
	bases_nib_load "$R" busybox "$(owner_of "$m")" || fail "loading the busybox base"
	out_dir=$T/out-$m
	mkdir -p "$out_dir"
	chown "$(owner_of "$m")" "$out_dir"

	t "[$m] what RUN saw"
	nibas "$m" --root "$R" build -q "${OPTS[@]}" -o type=local,dest="$out_dir/fs" "$C"
	assert_status 0
	# setuid: as Docker's as root and with a subuid range; emulated IDs
	# with one UID; the pod's no_new_privs
	case $m in
	root | nibsub) suid="ruid=65534 euid=0 nnp=0" ;;
	nibplain) suid="ruid=65534 euid=65534 nnp=0" ;;
	pod) suid="ruid=65534 euid=65534 nnp=1" ;;
	esac
	assert_eq "$(cat "$out_dir/fs/out/seen" 2>/dev/null)" $'123\n456\n2048\nrmdir-refused\n3\n'"$suid"
	[ "$m" = root ] && cp "$out_dir/fs/out/seen" "$T/nib-seen"

	t "[$m] RUN --security=insecure needs --allow security.insecure"
	mkdir -p "$T/ins"
	printf 'FROM localhost/busybox:latest\nRUN true\nRUN --security=insecure grep ^CapEff /proc/self/status\n' \
		>"$T/ins/Containerfile"
	chmod -R a+rX "$T/ins"
	nibas "$m" --root "$R" build -q "$T/ins"
	assert_status 2
	assert_lines "$err" 1
	assert_match "$err" "$T/ins/Containerfile:3:1: RUN --security=insecure is refused unless the build allows it \(--allow security.insecure"
	nibas "$m" --root "$R" build --allow security.insecure "$T/ins"
	if [ "$m" = pod ] && [[ $err == *"ptrace isolation"* ]]; then
		assert_status 1
		assert_match "$err" 'RUN --security=insecure: refused under the ptrace isolation'
	else
		assert_status 0
		full=$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))
		assert_match "$out" "CapEff:[[:space:]]+$full"
	fi
done

t "buildah sees the same"
if ! command -v buildah >/dev/null || ! command -v runc >/dev/null; then
	skip "buildah and runc are not installed"
elif ! bases_buildah_init "$T/buildah" || ! bases_buildah_load busybox; then
	fail "buildah's store"
else
	# runc as buildah's OCI runtime: the options reach a real runtime
	run "${BUILDAH[@]}" bud --isolation oci --runtime runc -q "${OPTS[@]}" -t seen "$C"
	assert_status 0
	run "${BUILDAH[@]}" from --name seen-c seen
	mnt=$("${BUILDAH[@]}" mount seen-c)
	assert_eq "$(cat "$mnt/out/seen")" "$(cat "$T/nib-seen")" "buildah's RUN saw what nib's (root) did"
	"${BUILDAH[@]}" umount seen-c >/dev/null
	"${BUILDAH[@]}" rm seen-c >/dev/null
fi

finish
