#!/bin/bash
# RUN's confinement options through nib run (the runtime every RUN goes
# through), in each mode a user meets: root, nibsub (subuid), nibplain
# (single UID), the restricted-pod simulation under each real seccomp
# profile (podsim.sh: the ptrace isolation where no user namespace can be
# made), a user-namespaced pod and root's ptrace isolation:
#   - setuid programs elevate where Docker's would (no_new_privs only where
#     the environment forces it) and nib info says why not elsewhere;
#   - --security-opt seccomp=PROFILE.json (Debian's real profiles and a
#     small one refusing mkdir) stacked on the ownership emulation,
#     seccomp=unconfined, no-new-privileges, mask=/unmask=, label=, apparmor=;
#   - --insecure (RUN --security=insecure), --ulimit, --shm-size, --device;
#   - bad values: exit 2 and one line.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

CASES=(
	"a setuid-root program as a non-root user"
	"nib info says whether setuid programs elevate"
	"--security-opt no-new-privileges"
	"--security-opt seccomp=PROFILE stacks on the ownership emulation"
	"Debian's seccomp profiles run a step"
	"--security-opt seccomp=unconfined and --insecure"
	"--ulimit"
	"--shm-size"
	"--device"
	"--security-opt mask= and unmask="
)
MODES=(root root-ptrace nibsub nibplain)

if [ "$(id -u)" != 0 ] || ! users_setup || [ ! -x "$NIB_BUILD/tests/helpers/nib-suid-id" ]; then
	for m in "${MODES[@]}" pod; do
		skip_cases "needs root, the test users and nib-suid-id" "${CASES[@]/#/[$m] }"
	done
	finish
	exit
fi

PROFILE_CC=/usr/share/containers/seccomp.json
PROFILE_MOBY=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
# a profile that allows everything but mkdir (EACCES), and keeps chown
cat >"$T/nomkdir.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
             {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["unshare"], "action": "SCMP_ACT_ERRNO",
               "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
EOF
chmod a+r "$T/nomkdir.json"

# A busybox-static rootfs owned by OWNER, with nib-suid-id setuid root.
make_rootfs() { # DIR OWNER
	local dir=$1 a
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
	cp /bin/busybox "$dir/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		mkdir -p "$dir/$(dirname "$a")"
		[ -e "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
	done
	cp "$NIB_BUILD/tests/helpers/nib-suid-id" "$dir/bin/"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
		>"$dir/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
	chmod 1777 "$dir/tmp"
	chmod 0755 "$dir"
	chown -R "$2" "$dir"
	chmod 4755 "$dir/bin/nib-suid-id"
}

nibrun() {
	case $MODE in
	root) run "$T/bin/nib" "$@" ;;
	root-ptrace) # --isolation ptrace after the command word
		local a=() x
		for x in "$@"; do
			a+=("$x")
			[ "$x" = run ] && a+=(--isolation ptrace)
		done
		run "$T/bin/nib" "${a[@]}"
		;;
	nibsub | nibplain) run as_user "$MODE" "$T/bin/nib" "$@" ;;
	podns) run podsim_userns "$T/bin/nib" "$@" ;;
	pod*) run podsim "$T/bin/nib" "$@" ;;
	esac
}

owner_of() {
	case $1 in
	root*) echo 0:0 ;;
	nibsub | nibplain) echo "$(id -u "$1"):$(id -g "$1")" ;;
	podns) echo "$PODSIM_USERNS_BASE:$PODSIM_USERNS_BASE" ;;
	pod*) echo "$PODSIM_UID:$PODSIM_GID" ;;
	esac
}

run_mode() {
	local R=$T/rootfs-$MODE expect_euid expect_nnp ptrace=0
	make_rootfs "$R" "$(owner_of "$MODE")"
	# whether RUN goes through the ptrace isolation in this mode
	nibrun --log-level info run --rootfs "$R" -- true
	[[ $MODE == root-ptrace || $err == *"ptrace isolation"* ]] && ptrace=1

	t "[$MODE] a setuid-root program as a non-root user"
	nibrun run --user nobody --rootfs "$R" -- nib-suid-id
	assert_status 0
	case $MODE in
	root | root-ptrace | nibsub) expect_euid=0 expect_nnp=0 ;;           # as Docker's
	nibplain) expect_euid=65534 expect_nnp=0 ;;                          # IDs emulated
	pod*) expect_euid=65534 expect_nnp=1 ;;                              # the pod's no_new_privs
	esac
	assert_eq "$out" "ruid=65534 euid=$expect_euid nnp=$expect_nnp"

	t "[$MODE] nib info says whether setuid programs elevate"
	nibrun info
	assert_status 0
	case $MODE in
	root* | nibsub) assert_match "$out" 'setuid programs in RUN +yes +elevate as in Docker' ;;
	nibplain) assert_match "$out" 'setuid programs in RUN +no +do not change IDs: with a single UID' ;;
	pod*) assert_match "$out" 'setuid programs in RUN +no +cannot elevate: no_new_privs is set on nib itself' ;;
	esac

	t "[$MODE] --security-opt no-new-privileges"
	nibrun run --security-opt no-new-privileges --user nobody --rootfs "$R" -- nib-suid-id
	assert_status 0
	assert_eq "$out" "ruid=65534 euid=65534 nnp=1"

	t "[$MODE] --security-opt seccomp=PROFILE stacks on the ownership emulation"
	nibrun run --security-opt seccomp="$T/nomkdir.json" --rootfs "$R" -- \
		sh -c 'mkdir /tmp/d; touch /tmp/f && chown 7:8 /tmp/f && ls -n /tmp/f | awk "{print \$3\":\"\$4}"'
	assert_status 0
	assert_match "$err" "mkdir: can't create directory '/tmp/d': Permission denied"
	assert_eq "$out" "7:8" "chown kept (emulated with one UID)"
	assert_no_file "$R/tmp/d"

	t "[$MODE] Debian's seccomp profiles run a step"
	for p in "$PROFILE_CC" "$PROFILE_MOBY"; do
		[ -f "$p" ] || { skip "$p is missing (golang-github-docker-docker-dev, containers-common)"; continue; }
		nibrun run --security-opt seccomp="$p" --rootfs "$R" -- sh -c 'id -u && mkdir /tmp/p && echo ok'
		assert_status 0 "$p"
		assert_eq "$out" $'0\nok' "$p"
		rmdir "$R/tmp/p" 2>/dev/null
	done
	if [ -f "$PROFILE_MOBY" ] && [ "$ptrace" = 0 ]; then
		# moby's profile gives unshare to CAP_SYS_ADMIN only; nib's own
		# filter refuses it too, containers-common's allows it
		nibrun run --security-opt seccomp="$PROFILE_MOBY" --rootfs "$R" -- unshare -U true
		assert_status 1 "moby's profile refuses unshare"
	fi

	t "[$MODE] --security-opt seccomp=unconfined and --insecure"
	if [ "$ptrace" = 1 ]; then
		nibrun run --security-opt seccomp=unconfined --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" 'seccomp=unconfined: refused under the ptrace isolation \(its own seccomp filter is how it traces every process\)'
		nibrun run --insecure --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" 'RUN --security=insecure: refused under the ptrace isolation'
	else
		nibrun run --rootfs "$R" -- unshare -U true
		assert_status 1 "nib's filter refuses unshare"
		nibrun run --security-opt seccomp=unconfined --rootfs "$R" -- unshare -U true
		assert_status 0 "no refusal with seccomp=unconfined"
		# every capability of the step's user namespace (a new one starts
		# with a full bounding set, also in the user-namespaced pod)
		full=$(printf '%016x' $(((1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1)))
		nibrun run --insecure --rootfs "$R" -- sh -c 'grep ^CapEff /proc/self/status; unshare -U true && echo unshared'
		assert_status 0
		assert_eq "$(echo "$out" | tr -d '\t')" "CapEff:$full"$'\nunshared'
	fi

	t "[$MODE] --ulimit"
	nibrun run --ulimit nofile=100:200 --ulimit core=0 --rootfs "$R" -- sh -c 'ulimit -n; ulimit -Hn; ulimit -c'
	assert_status 0
	assert_eq "$out" $'100\n200\n0'
	# --pids-limit lowers an --ulimit nproc above it (where it is an rlimit)
	nibrun run --ulimit nproc=500 --pids-limit 300 --rootfs "$R" -- sh -c 'ulimit -u'
	assert_status 0
	[[ $out == 300 || $out == 500 ]] || fail "nproc: $out"
	if [ "$MODE" != root ] && [ "$MODE" != root-ptrace ]; then
		nibrun run --ulimit nofile=1073741816 --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" '--ulimit nofile: Operation not permitted \(above the hard limit nib was given: raising it needs CAP_SYS_RESOURCE'
		assert_eq "$(echo "$err" | grep -c .)" 1 "one line"
	fi

	t "[$MODE] --shm-size"
	if [ "$ptrace" = 1 ]; then
		nibrun run --shm-size 2m --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" '--shm-size: refused under the ptrace isolation \(no mount namespace for a tmpfs'
	else
		nibrun run --rootfs "$R" -- sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
		assert_eq "$out" 65536 "64 MiB by default"
		nibrun run --shm-size 2m --rootfs "$R" -- sh -c 'df -k /dev/shm | tail -1 | awk "{print \$2}"'
		assert_status 0
		assert_eq "$out" 2048
	fi

	t "[$MODE] --device"
	if [ "$ptrace" = 1 ]; then
		nibrun run --device /dev/zero:/dev/xzero --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" '--device: refused under the ptrace isolation \(no mount namespace to bind a device node in'
	else
		nibrun run --device /dev/zero:/dev/xzero:r --device /dev/full --rootfs "$R" -- \
			sh -c 'head -c 4 /dev/xzero | wc -c; echo x >/dev/full || echo full; ls -l /dev/full | cut -c1'
		assert_status 0
		assert_eq "$out" $'4\nfull\nc'
		assert_match "$err" 'No space left on device'
		assert_no_file "$R/dev/xzero"
	fi
	if [ "$MODE" = nibsub ] || [ "$MODE" = nibplain ]; then
		# a null device only root may open
		mkdir -p "$T/devs" && chmod 755 "$T/devs"
		[ -c "$T/devs/private" ] || mknod -m 0600 "$T/devs/private" c 1 3
		nibrun run --device "$T/devs/private:/dev/p" --rootfs "$R" -- true
		assert_status 2
		assert_match "$err" "--device $T/devs/private:/dev/p: $T/devs/private: this user cannot open it for reading and writing: Permission denied"
	fi

	t "[$MODE] --security-opt mask= and unmask="
	if [ "$ptrace" = 1 ]; then
		nibrun run --security-opt mask=/root --rootfs "$R" -- true
		assert_status 1
		assert_match "$err" 'mask=/unmask=: refused under the ptrace isolation \(no mount namespace to mask a path in'
	else
		nibrun run --security-opt mask=/root:/bin/nib-suid-id --rootfs "$R" -- \
			sh -c 'touch /root/x || echo masked; wc -c </bin/nib-suid-id'
		assert_status 0
		assert_eq "$out" $'masked\n0'
		# a masked file is /dev/null bound over it
		masked='[ -c /proc/timer_list ] && echo masked || echo open'
		nibrun run --rootfs "$R" -- sh -c "$masked"
		assert_eq "$out" masked "by default"
		case $MODE in
		pod*) ;; # the pod's own /proc masks stay
		*)
			nibrun run --security-opt unmask=/proc/timer_list --rootfs "$R" -- sh -c "$masked"
			assert_status 0
			assert_eq "$out" open "unmask="
			nibrun run --security-opt unmask=ALL --rootfs "$R" -- sh -c "$masked"
			assert_eq "$out" open "unmask=ALL"
			;;
		esac
	fi
}

for MODE in "${MODES[@]}"; do
	run_mode
done
if podsim_available; then
	for prof in $(podsim_profiles); do
		PODSIM_SECCOMP=$prof MODE=pod-$prof
		export PODSIM_SECCOMP
		run_mode
	done
	# a user-namespaced pod (hostUsers: false): root of its namespace with
	# CRI-O's capabilities and CAP_SETFCAP (a nested user namespace must
	# map the pod's root), and no_new_privs
	PODSIM_SECCOMP=unconfined MODE=podns PODSIM_CRIO_CAPS=$PODSIM_CRIO_CAPS,setfcap
	run_mode
else
	skip_cases "the pod simulation needs unshare and setpriv" "${CASES[@]/#/[pod] }"
fi

t "bad values: exit 2 and one line"
R=$T/rootfs-root
while IFS='|' read -r args what; do
	# shellcheck disable=SC2086
	run "$NIB" run $args --rootfs "$R" -- true
	assert_status 2 "$args"
	assert_match "$(echo "$err" | head -1)" "$what" "$args"
done <<EOF
--security-opt seccomp=$T/missing.json|--security-opt: open $T/missing.json: No such file or directory
--security-opt seccomp:$T/nomkdir.json|expected KEY=VALUE
--security-opt seccomp=/etc/passwd|/etc/passwd: not a seccomp profile
--security-opt apparmor=docker-default|refused: nib loads no AppArmor profile
--security-opt label=bogus|expected label=disable, user:, role:, type:, level: or filetype:
--security-opt label=type:a:b|is not an SELinux type
--security-opt mask=relative|is not an absolute path
--security-opt no-new-privileges=maybe|is not a boolean
--security-opt proc-opts=x|unknown option
--ulimit nofile|expected NAME=SOFT\[:HARD\]
--ulimit bogus=1|expected NAME=SOFT\[:HARD\]
--ulimit nofile=10:5|the soft limit is above the hard limit
--ulimit nofile=x|a limit is a number, -1 or unlimited
--shm-size 0|expected a size above 0
--shm-size 12q|expected a size above 0
--device /etc/passwd|is not a device node
--device /dev/null:rel|expected HOST\[:CONTAINER\]\[:PERMS\]
--device /dev/null:/dev/x:rwz|expected HOST\[:CONTAINER\]\[:PERMS\]
--device /dev/nonexistent|--device /dev/nonexistent: /dev/nonexistent: No such file
EOF
cat >"$T/badaction.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOPE"}]}
EOF
run "$NIB" run --security-opt seccomp="$T/badaction.json" --rootfs "$R" -- true
assert_status 2
assert_eq "$(echo "$err" | head -1)" "nib: error: --security-opt: $T/badaction.json: unknown action 'SCMP_ACT_NOPE'"
run "$NIB" run --security-opt label=disable --security-opt apparmor=unconfined \
	--security-opt label=level:s0:c1,c2 --rootfs "$R" -- true
assert_status 0

finish
