#!/bin/bash
# run.sh: long 2
# nib run --isolation ptrace: a command over a rootfs without any namespace,
# its paths translated by nib, in each mode a user meets it:
#   root      nib as real root (the command is root, chown is real)
#   noptrace  root without CAP_SYS_PTRACE, as root of a user-namespaced pod
#             is: a command that becomes another user is looked at with
#             its IDs
#   nibplain  an ordinary user (single UID: credentials and owners emulated)
#   standin   root under tests/helpers/nib-seccomp-standin: unshare, clone
#             with namespace flags, mount, chroot, pivot_root refused (as
#             containerd's RuntimeDefault and CRI-O refuse them)
#   pod       the restricted-pod simulation (tests/lib/podsim.sh) under the
#             same stand-in filter: UID 1000590000, no capabilities,
#             no_new_privs, masked /proc, and no user namespace
# Adversarial cases check that absolute paths, "..", symlinks to "/",
# dirfds, /proc/self/root, /proc/1/root and hard links see only the rootfs.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root noptrace nibplain standin pod)
CASES=(
	"ls / and /etc/os-release are the rootfs's"
	"cd, pwd and relative paths"
	"#! scripts run their interpreter from the rootfs"
	"exit status and signals pass through"
	"background processes are killed at the end"
	"uid 0 inside, --user"
	"a process that becomes another user without exec, one not dumpable"
	"chown and mknod are recorded or real"
	"an absolute host path, .. and a symlink to / see only the rootfs"
	"/proc/self/root, /proc/1/root and /proc/1/cwd see only the rootfs"
	"a hard link and a write through a symlink stay inside"
	"relative names: symlinks followed, bind points, replaced symlinks"
	"system calls: dirfd before chdir, getcwd, exe, threads, vfork, restarts, AF_UNIX"
	"the less common path calls and AF_UNIX sends see only the rootfs"
	"a dynamically linked program uses the rootfs's loader and libc"
	"Debian: useradd, dpkg -i with symlinks and a maintainer script, su"
	"Debian: apt-get update and install"
	"--network none and --idmap subuid are refused"
	"errors before exec come back as one line"
	"--workdir, --hostname and the generated /etc files"
	"--mount bind (ro) and tmpfs"
	"--timeout and SIGTERM kill every process"
	"nib killed mid-step leaves no process behind"
)

if [ "$(id -u)" != 0 ] || ! users_setup; then
	for m in "${MODES[@]}"; do
		skip_cases "needs root to create the test users" "${CASES[@]/#/[$m] }"
	done
	finish
	exit
fi
if ! have_standin=$(make -s -C "$NIB_SRC" BUILD="${NIB_BUILD:-build}" \
	"${NIB_BUILD:-build}/tests/helpers/nib-seccomp-standin" >/dev/null 2>&1 && echo 1); then
	have_standin=0
fi
STANDIN=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-seccomp-standin
[ -x "$STANDIN" ] || have_standin=0
[ "$have_standin" = 1 ] && cp "$STANDIN" "$T/bin/nib-seccomp-standin" && chmod 0755 "$T/bin/nib-seccomp-standin"

# The probe: a static program of system calls (tests/integration/ptrace_probe.c).
PROBE=$T/probe
probe_why=""
if ! ${CC:-cc} -static -O2 -pthread -o "$PROBE" "$NIB_SRC/tests/integration/ptrace_probe.c" \
	>"$T/probe.log" 2>&1; then
	probe_why="cannot build a static program: $(tail -n 1 "$T/probe.log")"
fi

DEB_TAR=""
deb_why=""
if ! DEB_TAR=$("$NIB_SRC/tests/layers/debian_base.sh" 2>"$T/debian.err"); then
	deb_why="no Debian base tree: $(tail -n 1 "$T/debian.err")"
fi

echo "host-only" >"$T/host-marker-ptrace"
chmod 0644 "$T/host-marker-ptrace"
S1=$((200000 + RANDOM * 8 + 1)) S2=$((200000 + RANDOM * 8 + 2)) S3=$((200000 + RANDOM * 8 + 3))
S4=$((200000 + RANDOM * 8 + 4)) S5=$((200000 + RANDOM * 8 + 5))
mkdir -p "$T/share"
echo "shared content" >"$T/share/f"
chmod -R a+rwX "$T/share"

# A busybox-static rootfs owned by OWNER.
make_rootfs() { # DIR OWNER
	local dir=$1 a
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/user"
	cp /bin/busybox "$dir/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		mkdir -p "$dir/$(dirname "$a")"
		[ -e "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
		>"$dir/etc/passwd"
	printf 'root:x:0:\nstaff:x:50:user\nuser:x:1000:\nnogroup:x:65534:\n' >"$dir/etc/group"
	printf 'NAME="nib ptrace test"\nID=nibtest\n' >"$dir/etc/os-release"
	echo "image hostname" >"$dir/etc/hostname"
	echo "in the rootfs" >"$dir/rootfs-marker"
	[ -z "$probe_why" ] && cp "$PROBE" "$dir/bin/probe"
	chmod 1777 "$dir/tmp"
	chown -R "$2" "$dir"
}

# nib ARGS... as MODE runs it
nibcmd() {
	case $MODE in
	root) env TMPDIR="$T/tmp" "$T/bin/nib" "$@" ;;
	noptrace) env TMPDIR="$T/tmp" setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace \
		"$T/bin/nib" "$@" ;;
	nibplain) as_user nibplain env TMPDIR="$T/tmp" "$T/bin/nib" "$@" ;;
	standin) env TMPDIR="$T/tmp" "$T/bin/nib-seccomp-standin" "$T/bin/nib" "$@" ;;
	pod) podsim "$T/bin/nib-seccomp-standin" "$T/bin/nib" "$@" ;;
	esac
}
nibrun() { run nibcmd "$@"; }

# pt ARGS... -- CMD...: nib run --isolation ptrace over $R
pt() { nibrun run --isolation ptrace --rootfs "$R" "$@"; }

owner_of() {
	case $1 in
	root | noptrace | standin) echo 0:0 ;;
	nibplain) echo "$(id -u nibplain):$(id -g nibplain)" ;;
	pod) echo "$PODSIM_UID:$PODSIM_GID" ;;
	esac
}

x() { getfattr --absolute-names --only-values -n user.containers.override_stat "$1" 2>/dev/null; }

mkdir -p "$T/tmp"
chmod 1777 "$T/tmp"
if [ -z "$deb_why" ]; then
	D=$T/debian
	mkdir -p "$D"
	tar -xf "$DEB_TAR" -C "$D" 2>/dev/null || deb_why="cannot extract $DEB_TAR"
	chmod 0755 "$D"
fi

for MODE in "${MODES[@]}"; do
	if [ "$MODE" = pod ] && ! podsim_available; then
		skip_cases "the pod simulation needs unshare and setpriv" "${CASES[@]/#/[pod] }"
		continue
	fi
	if [ "$have_standin" != 1 ] && { [ "$MODE" = standin ] || [ "$MODE" = pod ]; }; then
		skip_cases "the seccomp stand-in could not be built" "${CASES[@]/#/[$MODE] }"
		continue
	fi
	OWNER=$(owner_of "$MODE")
	R=$T/rootfs-$MODE
	make_rootfs "$R" "$OWNER"
	single=1
	case $MODE in root | noptrace | standin) single=0 ;; esac

	t "[$MODE] ls / and /etc/os-release are the rootfs's"
	pt -- sh -c 'ls /; cat /etc/os-release; cat /rootfs-marker'
	assert_status 0
	assert_eq "$out" "$(printf 'bin\netc\nhome\nlinuxrc\nroot\nrootfs-marker\nsbin\ntmp\nusr\nNAME="nib ptrace test"\nID=nibtest\nin the rootfs')"
	if [ "$MODE" = standin ]; then
		# the stand-in really refuses user namespaces: namespace mode
		# fails, and auto takes the ptrace isolation
		nibrun run --isolation namespaces --rootfs "$R" -- true
		assert_status 1 "namespace mode under the stand-in"
		assert_match "$err" 'cannot create the container.s namespaces'
		nibrun run --rootfs "$R" -- cat /rootfs-marker
		assert_status 0 "auto isolation under the stand-in"
		assert_eq "$out" "in the rootfs"
	fi

	t "[$MODE] cd, pwd and relative paths"
	pt --workdir /home/user -- sh -c 'pwd; cd /tmp && pwd && cd ../etc && head -n 1 ./os-release &&
		head -n 1 ../etc/../etc/os-release && cd / && cd .. && pwd && ls .. | head -n 1 &&
		cd /etc && readlink /proc/self/cwd && cd /home/user && pwd -P'
	assert_status 0
	assert_eq "$out" "$(printf '/home/user\n/tmp\nNAME="nib ptrace test"\nNAME="nib ptrace test"\n/\nbin\n/etc\n/home/user')"

	t "[$MODE] #! scripts run their interpreter from the rootfs"
	pt -- sh -c 'printf "#!/bin/sh\necho \"script \$0 [\$1]\"\n" >/tmp/s.sh; chmod +x /tmp/s.sh
		printf "#!/bin/sh -e\nfalse\necho not reached\n" >/tmp/e.sh; chmod +x /tmp/e.sh
		printf "#!/tmp/s.sh\n" >/tmp/nested; chmod +x /tmp/nested
		printf "#!/no/such/interp\n" >/tmp/bad; chmod +x /tmp/bad
		/tmp/s.sh one; cd /tmp && ./s.sh two; /tmp/e.sh; echo "e.sh: $?"; /tmp/nested three
		/tmp/bad 2>/dev/null; echo "bad: $?"'
	assert_status 0
	assert_eq "$out" "$(printf 'script /tmp/s.sh [one]\nscript ./s.sh [two]\ne.sh: 1\nscript /tmp/s.sh [/tmp/nested]\nbad: 127')"
	if [ -z "$probe_why" ]; then
		pt -- /bin/probe rawexec
		assert_eq "$out" "script: /tmp/script [one] [two words]"
	fi

	t "[$MODE] exit status and signals pass through"
	pt -- sh -c 'exit 42'
	assert_status 42
	pt -- sh -c 'kill -TERM $$'
	assert_status 143
	assert_match "$err" 'killed by signal 15'
	pt -- sh -c 'trap "echo got USR1" USR1; kill -USR1 $$; echo after'
	assert_status 0
	assert_eq "$out" $'got USR1\nafter'

	t "[$MODE] background processes are killed at the end"
	start=$(date +%s)
	pt -- sh -c "sleep $S1 & sleep $S2 </dev/null >/dev/null 2>&1 & echo started"
	assert_status 0
	assert_eq "$out" started
	[ $(($(date +%s) - start)) -lt 10 ] || fail "nib waited for the background processes"
	sleep 0.3
	pgrep -f "sleep ($S1|$S2)" >/dev/null && fail "a background process survived: $(pgrep -af "sleep ($S1|$S2)")"

	t "[$MODE] uid 0 inside, --user"
	pt -- sh -c 'id -u; id -g; id -un'
	assert_status 0
	assert_eq "$out" $'0\n0\nroot'
	pt --user user -- sh -c 'id -u; id -g; id -G; echo $HOME'
	assert_status 0
	assert_eq "$out" $'1000\n1000\n1000 50\n/home/user'
	pt --user 1000:50 -- sh -c 'touch /tmp/byuser; id -u'
	assert_eq "$out" 1000

	t "[$MODE] a process that becomes another user without exec, one not dumpable"
	if [ -n "$probe_why" ]; then
		skip "$probe_why"
	else
		# nib reads its memory and /proc links after it left nib's IDs
		pt -- /bin/probe become 1000
		assert_status 0
		assert_eq "$out" "$(printf '%s\n' 'uid: 1000' 'open: ok' 'chdir: ok' 'getcwd: /tmp' \
			'/proc/self/cwd: /tmp' 'create: ok' 'child: ok' 'not dumpable: ok' 'exec: 1000')"
		if [ "$single" = 0 ]; then
			assert_eq "$(stat -c %u:%g "$R/tmp/become-file")" 1000:1000
		fi
	fi

	t "[$MODE] chown and mknod are recorded or real"
	# as root the command has namespace mode's capabilities, CAP_MKNOD
	# among them (Docker's)
	pt -- sh -c 'echo x >/tmp/f; chown 1000:50 /tmp/f; chmod 0640 /tmp/f; ls -ln /tmp/f | awk "{print \$1, \$3, \$4}"
		mknod /tmp/null2 c 1 3 && ls -ln /tmp/null2 | cut -c1'
	assert_status 0
	assert_eq "$out" $'-rw-r----- 1000 50\nc'
	if [ "$single" = 1 ]; then
		assert_eq "$(x "$R/tmp/f")" "1000:50:0640:file"
		assert_eq "$(x "$R/tmp/null2")" "0:0:0644:char-1-3"
		assert_eq "$(stat -c %u "$R/tmp/f")" "${OWNER%%:*}"
	else
		assert_eq "$(stat -c %u:%g "$R/tmp/f")" "1000:50"
		[ -c "$R/tmp/null2" ] || fail "mknod as root made no device"
	fi
	# chown -h of a symlink: recorded on its folder with a single UID
	pt -- sh -c 'ln -s f /tmp/ln && chown -h 1:4 /tmp/ln && stat -c %u:%g /tmp/ln'
	assert_status 0
	assert_eq "$out" 1:4
	if [ "$single" = 1 ]; then
		assert_match "$(getfattr --absolute-names --only-values -n user.nib.link.ln "$R/tmp" 2>/dev/null)" '^1:4:'
	else
		assert_eq "$(stat -c %u:%g "$R/tmp/ln")" "1:4"
	fi
	# setcap: file capabilities as root has them, kept for the commit with a
	# single UID
	if [ -z "$probe_why" ]; then
		pt -- /bin/probe caps
		assert_status 0
		assert_eq "$out" "$(printf '%s\n' 'none: No data available' 'set: ok' 'size: 20' 'get: same' \
			'small: Numerical result out of range' 'create: File exists' 'bad: Invalid argument' \
			'remove: ok' 'removed: No data available' 'fset v3: ok' 'fget: v2' 'chown: ok' \
			'after chown: No data available' 'set again: ok')"
		xname=security.capability
		[ "$single" = 1 ] && xname=user.containers.override_security.capability
		assert_eq "$(getfattr --absolute-names -e hex -n "$xname" "$R/tmp/capf" 2>/dev/null | sed -n 's/^[^=]*=//p')" \
			0x0100000200200000000000000000000000000000
	fi
	# the program of an execve in a process that made calls before (the
	# same PID, new memory): its paths and stat answers are its own
	pt -- mkdir -p /tmp/ex/d
	pt -- chown -R 1000:50 /tmp/ex
	assert_status 0
	assert_eq "$err" ""
	pt -- stat -c %u:%g /tmp/ex/d
	assert_eq "$out" 1000:50
	pt -- sh -c 'chown 1000:0 /tmp/ex/d'
	assert_status 0
	assert_eq "$err" ""
	[ "$single" = 1 ] && assert_eq "$(x "$R/tmp/ex/d")" "1000:0:0755:dir"

	t "[$MODE] an absolute host path, .. and a symlink to / see only the rootfs"
	pt -- sh -c "cat $T/host-marker-ptrace; cat /../../../..$T/host-marker-ptrace
		ln -s / /tmp/slash; cat /tmp/slash/rootfs-marker; cat /tmp/slash$T/host-marker-ptrace
		cat /tmp/slash/../../..$T/host-marker-ptrace; ls /tmp/slash/ | grep -c marker
		cat /tmp/slash/../rootfs-marker"
	assert_no_match "$out" host-only
	assert_eq "$out" $'in the rootfs\n1\nin the rootfs'

	t "[$MODE] /proc/self/root, /proc/1/root and /proc/1/cwd see only the rootfs"
	pt -- sh -c "readlink /proc/self/root; readlink /proc/1/root; cat /proc/self/root/rootfs-marker
		cat /proc/1/root/rootfs-marker; cat /proc/self/root$T/host-marker-ptrace
		cat /proc/1/root$T/host-marker-ptrace; ls /proc/1/cwd/ >/dev/null 2>&1 || echo no-cwd
		ls /proc/self/root/ | grep -c rootfs-marker; cat /proc/self/root/../../etc/os-release | head -n 1"
	assert_no_match "$out" host-only
	assert_eq "$out" "$(printf '/\n/\nin the rootfs\nin the rootfs\nno-cwd\n1\nNAME="nib ptrace test"')"

	t "[$MODE] a hard link and a write through a symlink stay inside"
	links=$(stat -c %h "$T/host-marker-ptrace")
	pt -- sh -c "ln $T/host-marker-ptrace /tmp/hl 2>/dev/null || echo no-link
		ln -s $T/evil-$MODE /tmp/w; echo x >/tmp/w 2>/dev/null || echo no-write
		ln -s /etc/os-release /tmp/abs; head -n 1 /tmp/abs; mkdir -p /tmp/d && ln -s ../../.. /tmp/d/up
		cat /tmp/d/up/rootfs-marker"
	assert_eq "$out" "$(printf 'no-link\nno-write\nNAME="nib ptrace test"\nin the rootfs')"
	assert_eq "$(stat -c %h "$T/host-marker-ptrace")" "$links"
	assert_no_file "$T/evil-$MODE"

	t "[$MODE] relative names: symlinks followed, bind points, replaced symlinks"
	pt --hostname box2 -- sh -c "cd /tmp && ln -s $T/host-marker-ptrace hostrel && cat hostrel
		ln -s /rootfs-marker rel && cat rel; cd /etc && cat hostname; cd / && ls -d proc sys dev
		cat /tmp/rel; rm /tmp/rel; ln -s /etc/os-release /tmp/rel; head -n 1 /tmp/rel
		mv /tmp/hostrel /tmp/rel; cat /tmp/rel; echo end"
	assert_no_match "$out" host-only
	assert_eq "$out" "$(printf 'in the rootfs\nbox2\ndev\nproc\nsys\nin the rootfs\nNAME="nib ptrace test"\nend')"
	if [ -z "$probe_why" ]; then
		pt -- /bin/probe names
		assert_eq "$out" "$(printf '/tmp/n: NAME="nib ptrace test"\n/tmp/n: in the rootfs\n/tmp/n: root:x:0:0:root:/root:/bin/sh\n/tmp/n: No such file or directory')"
	fi

	t "[$MODE] system calls: dirfd before chdir, getcwd, exe, threads, vfork, restarts, AF_UNIX"
	if [ -n "$probe_why" ]; then
		skip "$probe_why"
	else
		# 32-bit and x32 system calls name paths by other numbers: refused
		pt -- /bin/probe compat "$T/host-marker-ptrace"
		assert_eq "$out" $'int 0x80 open: Function not implemented\nx32 openat: Function not implemented'
		pt -- /bin/probe dirfd "$T/host-marker-ptrace"
		assert_status 0
		assert_eq "$out" "$(printf 'openat(root, etc/os-release): ok\nopenat(root, ../..HOST): No such file or directory\nopenat(cwd, ../..HOST): No such file or directory\nroot/.. is root: yes\nopenat(root, HOST): No such file or directory')"
		pt -- /bin/probe cwd
		assert_eq "$out" "$(printf 'getcwd: /tmp/a\n/proc/self/cwd: /tmp/a\ngetcwd small: Numerical result out of range\ngetcwd after ../../..: /\n/proc/self/root: /')"
		pt -- /bin/probe exe
		assert_eq "$out" "exe: /bin/probe"
		pt -- /bin/probe threads 16
		assert_eq "$out" "thread failures: 0"
		pt -- /bin/probe spawn 30
		assert_eq "$out" "spawned: 30"
		pt -- /bin/probe spawnio 20
		assert_eq "$out" "parent reads after a vfork child: 20/20"
		pt -- /bin/probe slots
		assert_eq "$out" "rename failures: 0"
		pt --timeout 20 -- /bin/probe restart
		assert_eq "$out" $'interrupted: yes\nrestarted open: ok\nsame fifo: yes'
		pt -- /bin/probe unix
		assert_eq "$out" $'bind: ok\nsocket file: yes\nconnect: ok\nconnect relative: ok'
		[ -S "$R/tmp/sock" ] || fail "the socket is not in the rootfs"
	fi

	t "[$MODE] the less common path calls and AF_UNIX sends see only the rootfs"
	if [ -n "$probe_why" ]; then
		skip "$probe_why"
	else
		# a datagram socket of the host that counts what reaches it
		rm -f "$T/hostsock" "$T/hostsock.ready"
		python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); open(sys.argv[1] + ".ready", "w").close()
s.settimeout(2); n = 0
try:
    while True: s.recv(16); n += 1
except socket.timeout: print(n)' "$T/hostsock" >"$T/hostsock.count" &
		hs=$!
		for _ in $(seq 50); do [ -e "$T/hostsock.ready" ] && break; sleep 0.1; done
		before=$(stat -c %a:%Y "$T/host-marker-ptrace")
		pt -- /bin/probe paths "$T/host-marker-ptrace" "$T/hostsock"
		assert_status 0
		# openat2 answers ENOSYS (callers fall back to openat); the
		# handle and mount calls are refused
		assert_eq "$(printf '%s\n' "$out" | grep -v '^fanotify_mark')" "$(printf '%s\n' \
			'statx: No such file or directory' 'faccessat2: No such file or directory' \
			'fchmodat2: No such file or directory' 'utimensat: No such file or directory' \
			'execveat: No such file or directory' 'openat2: Function not implemented' \
			'inotify_add_watch: No such file or directory' \
			'name_to_handle_at: Operation not permitted' 'open_by_handle_at: Operation not permitted' \
			'open_tree: Operation not permitted' 'mount_setattr: Operation not permitted' \
			'fspick: Operation not permitted' 'move_mount: Operation not permitted' \
			'sendto host: No such file or directory' 'sendmsg host: No such file or directory' \
			'sendmmsg host: No such file or directory' 'sendto rootfs: REACHED' \
			'sendmsg rootfs: REACHED' 'sendmmsg rootfs: 2 sent, counts 1 1' \
			'received in the rootfs: 4' 'sendto abstract: REACHED' 'sendmsg abstract: REACHED' \
			'sendmmsg abstract: 2 sent, counts 1 1' 'received on the abstract socket: 4')"
		assert_match "$(printf '%s\n' "$out" | grep '^fanotify_mark')" \
			'^fanotify_mark: (No such file or directory|no fanotify \(.*\))$'
		wait "$hs"
		assert_eq "$(cat "$T/hostsock.count")" 0 "datagrams that reached the host's socket"
		assert_eq "$(stat -c %a:%Y "$T/host-marker-ptrace")" "$before" "the host file's mode and mtime"
		[ -S "$R/tmp/dsock" ] || fail "the datagram socket is not in the rootfs"
	fi

	t "[$MODE] a dynamically linked program uses the rootfs's loader and libc"
	if [ -n "$deb_why" ]; then
		skip "$deb_why"
	else
		nibrun run --isolation ptrace --rootfs "$D" -- bash -c 'grep -oE "/[^ ]*/(libc\.so\.6|ld-linux[^ ]*)$" /proc/self/maps | sort -u
			readlink /proc/self/exe; readlink /proc/$$/exe; echo "$0"; head -n 1 /etc/os-release
			ldd /bin/ls | grep -c libc.so.6; perl -e "print qq(perl ok\n)"; id -u
			sleep 100 & for i in $(seq 100); do c=$(cat /proc/$!/comm); [ "$c" = bash ] || break; sleep 0.02; done
			echo "$c"; kill $!'
		assert_status 0
		assert_eq "$out" "$(printf '%s\n%s\n/usr/bin/readlink\n/usr/bin/bash\nbash\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n1\nperl ok\n0\nsleep' \
			"$D/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$D/usr/lib/x86_64-linux-gnu/libc.so.6")"
		[ "$(uname -m)" = x86_64 ] || skip "the expected paths are x86_64's"
	fi

	t "[$MODE] Debian: useradd, dpkg -i with symlinks and a maintainer script, su"
	if [ -n "$deb_why" ]; then
		skip "$deb_why"
	else
		DW=$T/debian-$MODE
		mkdir -p "$DW"
		tar -xf "$DEB_TAR" -C "$DW"
		chown -R "$OWNER" "$DW"
		nibrun run --isolation ptrace --rootfs "$DW" -- sh -ec '
			useradd -m -u 1500 -s /bin/sh alice
			install -o alice -g alice -m 4755 /bin/true /usr/local/bin/alice-true
			mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/opt/nibtest /tmp/pkg/usr/bin
			for i in 1 2 3 4 5 6 7 8; do echo "file $i" >/tmp/pkg/opt/nibtest/file$i; done
			for i in 1 2 3 4 5 6 7 8; do ln -s ../../opt/nibtest/file$i /tmp/pkg/usr/bin/nibtest-$i; done
			printf "Package: nibtest\nVersion: 1.0\nArchitecture: all\nMaintainer: nib <nib@example.org>\nDescription: test\n" >/tmp/pkg/DEBIAN/control
			printf "#!/bin/sh\nchown alice:alice /opt/nibtest/file1\nchmod 0640 /opt/nibtest/file1\n" >/tmp/pkg/DEBIAN/postinst
			chmod 755 /tmp/pkg/DEBIAN/postinst
			dpkg-deb --root-owner-group --build /tmp/pkg /tmp/nibtest.deb >/dev/null
			dpkg -i /tmp/nibtest.deb >/dev/null
			dpkg -i /tmp/nibtest.deb >/dev/null
			cat /usr/bin/nibtest-8
			ls -ln /opt/nibtest/file1 | cut -d" " -f1,3,4
			su alice -c "id -un; id -u"
			setpriv --reuid=alice --regid=alice --clear-groups id -u'
		assert_status 0
		assert_eq "$out" $'file 8\n-rw-r----- 1500 1500\nalice\n1500\n1500'
		assert_match "$(grep -A1 '^Package: nibtest' "$DW/var/lib/dpkg/status")" 'Status: install ok installed'
		if [ "$single" = 1 ]; then
			assert_eq "$(x "$DW/opt/nibtest/file1")" "1500:1500:0640:file"
			assert_eq "$(x "$DW/usr/local/bin/alice-true")" "1500:1500:4755:file"
		else
			assert_eq "$(stat -c %u:%g:%a "$DW/opt/nibtest/file1")" "1500:1500:640"
		fi
	fi

	t "[$MODE] Debian: apt-get update and install"
	if [ -n "$deb_why" ]; then
		skip "$deb_why"
	elif ! timeout 5 bash -c "exec 3<>/dev/tcp/$(sed -n 's|^deb http://\([^/]*\)/.*|\1|p' "$DW/etc/apt/sources.list" | head -n 1)/80" 2>/dev/null; then
		skip "the Debian mirror of the base tree is not reachable"
	else
		nibrun run --isolation ptrace --rootfs "$DW" -- sh -ec '
			apt-get update -qq >/dev/null
			apt-get install -y -qq --no-install-recommends less >/dev/null 2>&1
			less --version | head -n 1 | cut -d" " -f1
			stat -c "%U %a" /var/cache/apt/archives/partial'
		assert_status 0
		assert_eq "$out" $'less\n_apt 700'
		[ "$single" = 1 ] && assert_match "$(x "$DW/var/cache/apt/archives/partial")" '^42:0:0700:dir$'
	fi
	rm -rf "${DW:?}"

	t "[$MODE] --network none and --idmap subuid are refused"
	pt --network none -- true
	assert_status 1
	assert_match "$err" 'network none needs a network namespace'
	assert_lines "$err" 1
	pt --idmap subuid -- true
	assert_status 2
	assert_match "$err" 'idmap subuid needs a user namespace'

	t "[$MODE] errors before exec come back as one line"
	pt -- /no/such/program
	assert_status 1
	assert_eq "$err" "nib: error: exec /no/such/program: No such file or directory"
	pt -- no-such-program-in-path
	assert_status 1
	assert_eq "$err" "nib: error: exec no-such-program-in-path: No such file or directory"
	pt --user nosuchuser -- true
	assert_status 1
	assert_match "$err" 'user nosuchuser: no such user in the image'
	pt -- /etc/os-release
	assert_status 1
	assert_match "$err" 'exec /etc/os-release: Permission denied'
	if [ "$single" = 0 ]; then
		# as root, a USER's calls must pass the folders above the rootfs
		mkdir -m 0700 "$T/closed-$MODE"
		cp -a "$R" "$T/closed-$MODE/r"
		nibrun run --isolation ptrace --rootfs "$T/closed-$MODE/r" --user user -- true
		assert_status 1
		assert_lines "$err" 1
		assert_match "$err" "^nib: error: user 1000 cannot reach the rootfs: $T/closed-$MODE is mode 0700, owner 0:0 "
		nibrun run --isolation ptrace --rootfs "$T/closed-$MODE/r" -- true
		assert_status 0 "root passes"
		rm -rf "${T:?}/closed-$MODE"
	fi

	t "[$MODE] --workdir, --hostname and the generated /etc files"
	pt --workdir /work/dir --hostname box1 -- sh -c 'pwd; hostname; cat /etc/hostname; grep -c box1 /etc/hosts; echo $HOSTNAME'
	assert_status 0
	assert_eq "$out" $'/work/dir\nbox1\nbox1\n1\nbox1'
	[ -d "$R/work/dir" ] || fail "the workdir was not made in the rootfs"
	assert_eq "$(cat "$R/etc/hostname")" "image hostname"
	for n in 3 4 5 6 7 8; do
		pt --workdir "/proc/self/fd/$n" -- sh -c 'ls -a; cat host-marker-ptrace'
		assert_no_match "$out" 'host-marker|host-only' "fd $n"
	done
	if [ "$MODE" != pod ]; then
		leftovers=$(ls -A "$T/tmp")
		assert_eq "$leftovers" "" "nib's private folders are removed"
	fi

	t "[$MODE] --mount bind (ro) and tmpfs"
	pt --mount "type=bind,src=$T/share,dst=/mnt/share,ro" --mount type=tmpfs,dst=/scratch -- \
		sh -c 'cat /mnt/share/f; touch /mnt/share/g 2>/dev/null || echo ro; touch /scratch/x && ls /scratch
			cd /mnt/share && { touch g2 2>/dev/null || echo ro-relative; }
			{ mkdir sub 2>/dev/null || echo ro-mkdir; }; cat f'
	assert_status 0
	assert_eq "$out" $'shared content\nro\nx\nro-relative\nro-mkdir\nshared content'
	assert_no_file "$T/share/g2"
	assert_no_file "$T/share/sub"
	assert_no_file "$T/share/g"
	assert_no_file "$R/mnt"
	assert_no_file "$R/scratch"

	t "[$MODE] --timeout and SIGTERM kill every process"
	start=$(date +%s)
	pt --timeout 1 -- sh -c "trap '' TERM INT HUP; sleep $S3 & sleep $S3; echo never"
	assert_status 1
	assert_match "$err" 'timed out after 1 s'
	assert_no_match "$out" never
	[ $(($(date +%s) - start)) -lt 10 ] || fail "the timeout did not kill in time"
	sleep 0.3
	pgrep -f "sleep $S3" >/dev/null && fail "a process survived the timeout"
	if [ "$MODE" = pod ]; then
		skip "the pod simulation wraps nib in unshare"
	else
		nibcmd run --isolation ptrace --rootfs "$R" -- sh -c "sleep $S4 & sleep $S4" >/dev/null 2>"$T/int.err" &
		bg=$!
		for _ in $(seq 50); do
			[ "$(pgrep -c -f "^sleep $S4")" = 2 ] && break
			sleep 0.1
		done
		pid=$(pgrep -o -f "nib run --isolation ptrace --rootfs $R -- sh -c sleep $S4")
		[ -n "$pid" ] || pid=$bg
		kill -TERM "$pid"
		wait "$bg"
		assert_eq "$?" 1
		assert_match "$(cat "$T/int.err")" 'interrupted: killed'
		sleep 0.3
		pgrep -f "sleep $S4" >/dev/null && fail "a process survived SIGTERM"
	fi

	t "[$MODE] nib killed mid-step leaves no process behind"
	if [ "$MODE" = pod ]; then
		skip "the pod simulation wraps nib in unshare"
	else
		nibcmd run --isolation ptrace --rootfs "$R" -- sh -c "sleep $S5 & sleep $S5" >/dev/null 2>&1 &
		bg=$!
		for _ in $(seq 50); do
			[ "$(pgrep -c -f "^sleep $S5")" = 2 ] && break
			sleep 0.1
		done
		[ "$(pgrep -c -f "^sleep $S5")" = 2 ] || fail "the command did not start"
		# nib itself (its tracer is a copy of it, younger)
		pid=$(pgrep -o -f "nib run --isolation ptrace --rootfs $R -- sh -c sleep $S5")
		kill -KILL "$pid"
		wait "$bg" 2>/dev/null
		for _ in $(seq 30); do
			pgrep -f "sleep $S5" >/dev/null || pgrep -f "ptrace --rootfs $R -- sh -c sleep $S5" >/dev/null || break
			sleep 0.1
		done
		pgrep -f "sleep $S5" >/dev/null && fail "a process survived nib: $(pgrep -af "sleep $S5")"
		assert_eq "$(ls -A "$T/tmp")" "" "the tracer removes nib's private folder"
		# the tracer killed as well: PTRACE_O_EXITKILL
		nibcmd run --isolation ptrace --rootfs "$R" -- sh -c "sleep $S5 & sleep $S5" >/dev/null 2>&1 &
		bg=$!
		for _ in $(seq 50); do
			[ "$(pgrep -c -f "^sleep $S5")" = 2 ] && break
			sleep 0.1
		done
		for pid in $(pgrep -f "nib run --isolation ptrace --rootfs $R -- sh -c sleep $S5"); do
			kill -KILL "$pid"
		done
		wait "$bg" 2>/dev/null
		for _ in $(seq 30); do
			pgrep -f "sleep $S5" >/dev/null || break
			sleep 0.1
		done
		pgrep -f "sleep $S5" >/dev/null && fail "a process survived nib and its tracer"
		rm -rf "${T:?}/tmp/"nib-ptrace.*
	fi
done

finish
