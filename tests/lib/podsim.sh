# Restricted-pod simulation, reusable by every end-to-end test. Source after
# tests/lib.sh (and tests/lib/users.sh when nib must be reachable: podsim
# uses $T/bin/nib like as_user does when it exists).
#
#   podsim_available || skip_cases "needs root, unshare and setpriv" ...
#   podsim CMD...        # CMD as an OpenShift restricted-v2 pod would run it
#   podsim_dir NAME      # a folder under $T the pod user owns
#
# What CMD gets, as in OpenShift's restricted-v2 SCC with CRI-O:
#   - UID 1000590000, GID 0, no supplementary groups, no /etc/passwd entry
#     and so no /etc/subuid entry;
#   - no capabilities (effective, permitted, inheritable, ambient and
#     bounding sets empty) and no_new_privs;
#   - its own mount and pid namespaces whose /proc carries CRI-O's masks
#     (/dev/null over kcore, keys, timer_list, sched_debug...; read-only
#     tmpfs over acpi, scsi; read-only binds over sys, sysrq-trigger, irq,
#     bus, fs), so that the kernel refuses a fresh /proc mount (EPERM)
#     while a recursive bind of /proc works;
#   - a tmpfs /dev with only null zero full random urandom tty, pts, shm:
#     no /dev/fuse, no /dev/net/tun;
#   - HOME=$T/podhome, and NIB (=$T/bin/nib when present), NIB_SRC, T and
#     NIB_ROOT passed through;
#   - the seccomp profile PODSIM_SECCOMP names, resolved for an empty
#     capability set and loaded by tests/helpers/nib-seccomp-profile after
#     the drop to the pod user, as runc and crun load it:
#       unconfined         no filter (Kubernetes without seccompProfile)
#       containers-common  Debian's /usr/share/containers/seccomp.json (CRI-O's
#                          RuntimeDefault up to 1.23)
#       crio               the same plus CRI-O >= 1.24/1.29's rules: unshare,
#                          setns, mount, umount2, sethostname, setdomainname
#                          need CAP_SYS_ADMIN, clone with CLONE_NEW* refused,
#                          clone3 ENOSYS
#       containerd         moby's profiles/seccomp/default.json (Debian's
#                          golang-github-docker-docker-dev): containerd's and
#                          Docker's RuntimeDefault, what Pod Security
#                          "restricted" requires
# Processes CMD leaves behind are killed when it ends (pid namespace).
#
#   podsim_profiles           the profiles this machine has files for
#   PODSIM_SECCOMP=crio podsim CMD...
#
# A user-namespaced pod (Kubernetes hostUsers: false, OpenShift's
# unprivileged build pods): the same, inside a user namespace whose IDs
# 0-65535 are PODSIM_USERNS_BASE.. on the host, CMD run as PODSIM_USERNS_UID
# (default 0: root of the pod's namespace with CRI-O's default capabilities,
# the profile resolved for them; another UID gets none):
#
#   PODSIM_SECCOMP=crio podsim_userns CMD...
#   podsim_userns_dir NAME     a folder under $T the pod's user owns

PODSIM_UID=${PODSIM_UID:-1000590000}
PODSIM_GID=${PODSIM_GID:-0}
PODSIM_SECCOMP=${PODSIM_SECCOMP:-unconfined}
PODSIM_USERNS_BASE=${PODSIM_USERNS_BASE:-300000}
PODSIM_USERNS_UID=${PODSIM_USERNS_UID:-0}
# CRI-O's default_capabilities (crio.conf)
PODSIM_CRIO_CAPS=${PODSIM_CRIO_CAPS:-chown,dac_override,fsetid,fowner,setgid,setuid,setpcap,net_bind_service,kill}
PODSIM_PROFILE_CC=/usr/share/containers/seccomp.json
PODSIM_PROFILE_MOBY=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

# The loader's arguments for profile NAME; fails when its file is missing.
_podsim_seccomp_args() { # NAME [CAPS]
	local helper=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-seccomp-profile caps=
	[ -n "${2:-}" ] && caps="--caps $(echo "CAP_${2//,/,CAP_}" | tr a-z A-Z)"
	case $1 in
	unconfined) return 0 ;;
	containers-common) set -- $caps "$PODSIM_PROFILE_CC" ;;
	crio) set -- --crio $caps "$PODSIM_PROFILE_CC" ;;
	containerd) set -- $caps "$PODSIM_PROFILE_MOBY" ;;
	*) echo "podsim: unknown seccomp profile $1" >&2; return 1 ;;
	esac
	[ -f "${!#}" ] && [ -x "$helper" ] || return 1
	mkdir -p "$T/bin"
	cmp -s "$helper" "$T/bin/nib-seccomp-profile" || install -m 0755 "$helper" "$T/bin/"
	echo "$T/bin/nib-seccomp-profile $* --"
}

podsim_profiles() {
	local p
	for p in unconfined containers-common crio containerd; do
		_podsim_seccomp_args "$p" >/dev/null && echo "$p"
	done
}

podsim_available() {
	[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v setpriv >/dev/null
}

podsim_dir() { # NAME
	mkdir -p "$T/$1"
	chown "$PODSIM_UID:$PODSIM_GID" "$T/$1"
	chmod 0775 "$T/$1"
	echo "$T/$1"
}

# The part that runs as root inside the new mount and pid namespaces.
_podsim_inner='
set -e
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc /proc
for f in kcore keys timer_list timer_stats sched_debug latency_stats interrupts; do
	[ -e /proc/$f ] && mount --bind /dev/null /proc/$f
done
for d in acpi scsi asound; do
	[ -d /proc/$d ] && mount -t tmpfs -o ro,nosuid,nodev,noexec tmpfs /proc/$d
done
for p in sys sysrq-trigger irq bus fs; do
	if [ -e /proc/$p ]; then
		mount --bind /proc/$p /proc/$p
		mount -o remount,bind,ro /proc/$p
	fi
done
# /dev as CRI-O makes it: a tmpfs with a few bound nodes, no fuse, no tun
exec 8</dev/
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs /dev
for n in null zero full random urandom tty; do
	if [ -e /proc/self/fd/8/$n ]; then
		: >/dev/$n
		mount -c --bind /proc/self/fd/8/$n /dev/$n
	fi
done
exec 8<&-
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o nosuid,nodev,noexec,mode=1777 shm /dev/shm
ln -s /proc/self/fd /dev/fd
mkdir -p "$PODSIM_HOME"
chown "$PODSIM_UID:$PODSIM_GID" "$PODSIM_HOME"
exec setpriv --reuid="$PODSIM_UID" --regid="$PODSIM_GID" --clear-groups \
	--inh-caps=-all --ambient-caps=-all --bounding-set="$PODSIM_BOUNDING" --no-new-privs -- \
	$PODSIM_LOADER env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$PODSIM_HOME" \
	LANG=C.UTF-8 NIB="$PODSIM_NIB" NIB_SRC="$NIB_SRC" T="$T" \
	${NIB_ROOT:+NIB_ROOT="$NIB_ROOT"} "$@"
'

podsim() { # CMD...
	local nib=$NIB loader
	[ -x "$T/bin/nib" ] && nib=$T/bin/nib
	loader=$(_podsim_seccomp_args "$PODSIM_SECCOMP") || {
		echo "podsim: seccomp profile $PODSIM_SECCOMP is not available here" >&2
		return 125
	}
	PODSIM_BOUNDING=-all PODSIM_LOADER=$loader PODSIM_UID=$PODSIM_UID PODSIM_GID=$PODSIM_GID PODSIM_HOME="$T/podhome" \
		PODSIM_NIB="$nib" NIB_SRC="$NIB_SRC" T="$T" \
		unshare --mount --pid --fork --kill-child -- bash -c "$_podsim_inner" podsim "$@"
}

podsim_userns_dir() { # NAME
	mkdir -p "$T/$1"
	chown "$((PODSIM_USERNS_BASE + PODSIM_USERNS_UID)):$PODSIM_USERNS_BASE" "$T/$1"
	chmod 0775 "$T/$1"
	echo "$T/$1"
}

podsim_userns() { # CMD...
	local nib=$NIB loader bounding=-all caps=
	[ -x "$T/bin/nib" ] && nib=$T/bin/nib
	if [ "$PODSIM_USERNS_UID" = 0 ]; then
		caps=$PODSIM_CRIO_CAPS
		bounding="-all,+${PODSIM_CRIO_CAPS//,/,+}"
	fi
	loader=$(_podsim_seccomp_args "$PODSIM_SECCOMP" $caps) || {
		echo "podsim: seccomp profile $PODSIM_SECCOMP is not available here" >&2
		return 125
	}
	podsim_userns_dir podhome-userns >/dev/null
	PODSIM_BOUNDING=$bounding PODSIM_LOADER=$loader PODSIM_UID=$PODSIM_USERNS_UID \
		PODSIM_GID=0 PODSIM_HOME="$T/podhome-userns" \
		PODSIM_NIB="$nib" NIB_SRC="$NIB_SRC" T="$T" \
		python3 "$NIB_SRC/tests/lib/userns_pod.py" "$PODSIM_USERNS_BASE" 65536 \
		bash -c "$_podsim_inner" podsim "$@"
}
