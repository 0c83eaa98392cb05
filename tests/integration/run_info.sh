#!/bin/bash
# nib info: what the environment allows and what nib picks, in each mode
# (root, a user with a subuid range, one without, the restricted pod).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

CASES=("[root] host ID map" "[nibsub] subuid ID map, working newuidmap"
	"[nibplain] single ID map, with the reason" "[pod] single ID map, bound /proc, advice"
	"--json is one document with advice for every missing check"
	"[pod, containers-common profile] RUN works, host name kept"
	"[pod, CRI-O profile] no user namespace: ID map none, vfs, RUN through ptrace"
	"[pod, containerd profile] the same, in JSON with advice" "usage errors"
	"the storage root nib info reports is the one the other commands use")

t "usage errors"
run "$NIB" info extra
assert_status 2
assert_match "$err" "unexpected argument 'extra'"

t "the storage root nib info reports is the one the other commands use"
# a relative XDG_DATA_HOME is ignored (XDG base directory spec)
mkdir -p "$T/home"
run env -u NIB_ROOT HOME="$T/home" XDG_DATA_HOME=rel "$NIB" info --json
assert_status 0
assert_eq "$(printf '%s' "$out" | jq -r .storage_root)" "$T/home/.local/share/nib"
run env -u NIB_ROOT HOME="$T/home" XDG_DATA_HOME=rel "$NIB" images
assert_status 0
assert_file "$T/home/.local/share/nib/oci-layout"

if [ "$(id -u)" != 0 ] || ! users_setup; then
	skip_cases "needs root to create the test users" "${CASES[@]:0:8}"
	finish
	exit
fi

line() { printf '%s\n' "$out" | grep -E "^$1 " | head -n 1; }

t "[root] host ID map"
run "$T/bin/nib" info
assert_status 0
assert_match "$(line 'user namespaces')" ' yes allowed \(max_user_namespaces=[0-9]+\)'
assert_match "$(line 'ID map')" 'host'
assert_match "$(line 'fresh /proc')" ' yes '
assert_match "$out" '^nib [0-9.]+, storage root '
assert_match "$(line 'RUN')" ' yes works \(ID map host\)'
assert_match "$(line 'permissions')" 'the kernel checks the true owners and modes'
assert_match "$(line 'RUN limits')" '^RUN limits +(cgroup v2|rlimits)'
assert_match "$(line 'setuid programs in RUN')" ' yes elevate as in Docker: no_new_privs is not set'
assert_lines "$out" 20

t "[nibsub] subuid ID map, working newuidmap"
run as_user nibsub "$T/bin/nib" info
assert_status 0
assert_match "$(line 'subuid ranges')" " yes $NIB_SUBUID_START:65536; newuidmap works"
assert_match "$(line 'ID map')" 'subuid'
if as_user nibsub test -r /dev/fuse -a -w /dev/fuse; then
	assert_match "$(line '/dev/fuse')" ' yes usable; fuse-overlayfs found'
fi

t "[nibplain] single ID map, with the reason"
run as_user nibplain "$T/bin/nib" info
assert_status 0
assert_match "$(line 'subuid ranges')" ' no .*To do: .*/etc/subuid'
assert_match "$(line 'ID map')" 'single \(subuid: no range for nibplain in /etc/subuid\)'
assert_match "$(line 'permissions')" 'one real UID: a RUN as another user .* reads and writes files the image gives root alone'
# fuse-overlayfs keeps user.containers.override_stat for itself
if as_user nibplain test -r /dev/fuse -a -w /dev/fuse; then
	assert_match "$(line '/dev/fuse')" ' no  usable; fuse-overlayfs found; not with a single UID'
fi
mkdir -p "$T/ctx-fuse"
chmod 0755 "$T/ctx-fuse"
printf 'FROM scratch\nCOPY f /f\n' >"$T/ctx-fuse/Containerfile"
echo x >"$T/ctx-fuse/f"
r=$(user_dir nibplain fuse-root)
run as_user nibplain "$T/bin/nib" --root "$r" build --storage-driver fuse-overlayfs "$T/ctx-fuse"
assert_status 1
assert_match "$err" 'fuse-overlayfs cannot keep ownership records with a single UID: use overlay or vfs'

t "[pod] single ID map, bound /proc, advice"
if ! podsim_available; then
	skip "the pod simulation needs unshare and setpriv"
else
	run podsim "$T/bin/nib" info
	assert_status 0
	assert_match "$(line 'fresh /proc')" ' no  refused \(Operation not permitted\)\. To do: '
	assert_match "$(line '/proc')" 'bind'
	assert_match "$(line 'ID map')" 'single'
	assert_match "$(line '/dev/fuse')" ' no  missing'
	assert_match "$(line 'seccomp')" 'no_new_privs set'
	assert_match "$(line 'subuid ranges')" 'nothing to do in a restricted pod'
fi

t "--json is one document with advice for every missing check"
if ! command -v jq >/dev/null || ! podsim_available; then
	skip "needs jq and the pod simulation"
else
	run podsim "$T/bin/nib" info --json
	assert_status 0
	assert_eq "$(printf '%s' "$out" | jq -r '.chosen.proc')" bind
	assert_eq "$(printf '%s' "$out" | jq -r '.chosen.idmap')" single
	assert_eq "$(printf '%s' "$out" | jq -r '.checks.fresh_proc.ok')" false
	assert_eq "$(printf '%s' "$out" | jq -r '[.checks[] | select(.ok == false and .advice == null)] | length')" 0
	assert_eq "$(printf '%s' "$out" | jq -r '.checks | length')" 12
	assert_match "$(printf '%s' "$out" | jq -r '.checks.setuid.detail')" '^cannot elevate: no_new_privs is set on nib itself'
	assert_eq "$(printf '%s' "$out" | jq -r '.checks.run.ok')" true
fi

# The pod under the real seccomp profiles (tests/lib/podsim.sh).
profile_ok() { # NAME
	podsim_available && podsim_profiles | grep -qx "$1"
}

t "[pod, containers-common profile] RUN works, host name kept"
if ! profile_ok containers-common; then
	skip "no containers-common seccomp profile here (golang-github-containers-common)"
else
	PODSIM_SECCOMP=containers-common run podsim "$T/bin/nib" info
	assert_status 0
	assert_match "$(line 'user namespaces')" ' yes allowed'
	assert_match "$(line 'RUN')" ' yes works \(ID map single\)'
	assert_match "$(line 'ID map')" 'single'
fi

t "[pod, CRI-O profile] no user namespace: ID map none, vfs, RUN through ptrace"
if ! profile_ok crio; then
	skip "no containers-common seccomp profile here (golang-github-containers-common)"
else
	PODSIM_SECCOMP=crio run podsim "$T/bin/nib" info
	assert_status 0
	assert_match "$(line 'user namespaces')" ' no  refused: unshare\(CLONE_NEWUSER\): Operation not permitted \(the seccomp profile allows it only with CAP_SYS_ADMIN.*To do: builds without RUN work as they are; for RUN .*deploy/seccomp/nib.json'
	assert_match "$(line 'RUN')" ' yes works through the ptrace isolation \(no user namespace.*not a security boundary'
	assert_no_match "$(line 'RUN')" 'To do' 
	assert_match "$(line 'kernel overlay')" ' no  not possible without a user namespace'
	assert_no_match "$out" 'Linux >= 5.11'
	assert_match "$(line 'ID map')" '^ID map +none \(.*seccomp profile'
	assert_match "$(line 'storage driver')" 'vfs'
fi

t "[pod, containerd profile] the same, in JSON with advice"
if ! profile_ok containerd || ! command -v jq >/dev/null; then
	skip "no Docker/containerd seccomp profile here (golang-github-docker-docker-dev) or no jq"
else
	PODSIM_SECCOMP=containerd run podsim "$T/bin/nib" info --json
	assert_status 0
	assert_eq "$(printf '%s' "$out" | jq -r '.chosen.idmap')" none
	assert_eq "$(printf '%s' "$out" | jq -r '.chosen.storage_driver')" vfs
	assert_eq "$(printf '%s' "$out" | jq -r '.checks.run.ok')" true
	assert_eq "$(printf '%s' "$out" | jq -r '.checks.user_namespaces.ok')" false
	assert_eq "$(printf '%s' "$out" | jq -r '[.checks[] | select(.ok == false and .advice == null)] | length')" 0
fi

finish
