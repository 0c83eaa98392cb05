# Test users for tests that drop privileges. Source after tests/lib.sh.
#
#   users_setup || skip_cases "needs root to create test users" ...
#   as_user nibsub  CMD...   # ordinary user with a subuid/subgid range
#   as_user nibplain CMD...  # ordinary user without one
#   as_who WHO ROOT CMD...   # CMD as root, nibsub, nibplain, podsim or
#                            # pod:PROFILE (the pod simulation, under that
#                            # seccomp profile: source tests/lib/podsim.sh)
#   mode_missing WHO         # why WHO cannot run here (nothing when it can)
#   mode_root WHO NAME       # a storage root WHO owns ($T/NAME for root)
#                            # with NIB_ROOT=ROOT
#   nib_who WHO ROOT ARGS... # nib ARGS the same way
#
# The users are created once per machine (idempotent); nib is copied to
# $T/bin/nib so that it is reachable whatever the permissions of the
# checkout. Inside as_user, $NIB points at that copy.

NIB_SUBUID_START=${NIB_SUBUID_START:-400000}

_users_ensure() { # NAME WITH_SUBUID
	local name=$1 sub=$2
	if ! id "$name" >/dev/null 2>&1; then
		useradd --create-home --shell /bin/sh --user-group "$name" || return 1
	fi
	touch /etc/subuid /etc/subgid
	local f want have
	for f in /etc/subuid /etc/subgid; do
		want=""
		[ "$sub" = 1 ] && want="$name:$NIB_SUBUID_START:65536"
		have=$(grep "^$name:" "$f" || true)
		# Rewrite only when different: newuidmap of a concurrent test
		# must never see the entry missing.
		[ "$have" = "$want" ] && continue
		sed -i "/^$name:/d" "$f"
		[ -n "$want" ] && echo "$want" >>"$f"
	done
	return 0
}

users_setup() {
	[ "$(id -u)" = 0 ] || return 1
	command -v setpriv >/dev/null || return 1
	(
		flock 9
		_users_ensure nibsub 1 && _users_ensure nibplain 0
	) 9>/tmp/.nib-test-users.lock || return 1
	# /dev/fuse as an ordinary machine has it (udev makes it 0666): the
	# users may use fuse-overlayfs (the pod simulation has no /dev/fuse)
	if [ -c /dev/fuse ] && command -v setfacl >/dev/null; then
		setfacl -m u:nibsub:rw,u:nibplain:rw /dev/fuse 2>/dev/null || true
	fi
	mkdir -p "$T/bin"
	cp "$NIB" "$T/bin/nib"
	chmod 0755 "$T/bin" "$T/bin/nib"
	return 0
}

# A folder under $T owned by USER.
user_dir() { # USER NAME
	mkdir -p "$T/$2"
	chown "$1:" "$T/$2"
	echo "$T/$2"
}

as_user() { # USER CMD...
	local user=$1 home
	shift
	home=$(getent passwd "$user" | cut -d: -f6)
	setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$home" USER="$user" \
		LOGNAME="$user" LANG=C.UTF-8 NIB="$T/bin/nib" NIB_SRC="$NIB_SRC" T="$T" \
		${NIB_ROOT:+NIB_ROOT="$NIB_ROOT"} "$@"
}

# The modes tests run in: root, nibsub, nibplain, podsim (the pod
# simulation) and pod:PROFILE (the pod simulation under a real seccomp
# profile; source tests/lib/podsim.sh).
mode_missing() { # WHO: why WHO cannot run here (nothing when it can)
	case $1 in
	pod:*)
		podsim_available && podsim_profiles | grep -qx "${1#pod:}" ||
			echo "needs unshare, setpriv and the seccomp profile ${1#pod:}"
		;;
	podsim) podsim_available || echo "needs unshare and setpriv for the restricted-pod simulation" ;;
	esac
}

mode_root() { # WHO NAME: a storage root WHO owns, $T/NAME for root
	case $1 in
	root) echo "$T/$2" ;;
	pod*) podsim_dir "$2" ;;
	*) user_dir "$1" "$2" ;;
	esac
}

as_who() { # WHO ROOT CMD...
	local who=$1 root=$2
	shift 2
	case $who in
	root) NIB_ROOT=$root "$@" ;;
	podsim) NIB_ROOT=$root podsim "$@" ;;
	pod:*) NIB_ROOT=$root PODSIM_SECCOMP=${who#pod:} podsim "$@" ;;
	*) NIB_ROOT=$root as_user "$who" "$@" ;;
	esac
}

nib_who() { # WHO ROOT ARGS...
	local who=$1 root=$2
	shift 2
	as_who "$who" "$root" sh -c '"$NIB" "$@"' nib "$@"
}
