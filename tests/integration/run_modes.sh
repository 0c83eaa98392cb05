#!/bin/bash
# nib run: the embedded runtime, in each mode a user meets it:
#   root      nib run as real root (ID map host)
#   nibsub    an ordinary user with a subuid range (ID map subuid)
#   nibplain  an ordinary user without one (ID map single)
#   pod       the restricted-pod simulation (tests/lib/podsim.sh: UID
#             1000590000, GID 0, no capabilities, no_new_privs, masked /proc)
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibsub nibplain pod)
CASES=(
	"uid 0 inside and the hostname"
	"own pid namespace: only the container's processes"
	"/dev/null works and no other device exists"
	"capabilities, NoNewPrivs and Seccomp"
	"--cap-drop and --cap-add"
	"--network none has only lo, up"
	"exit status is the command's"
	"a signal ending the command is reported"
	"a command that forks and exits leaves no process"
	"--timeout kills a command ignoring SIGTERM"
	"SIGTERM to nib kills the whole container"
	"errors before exec come back as one line"
	"--user and --workdir"
	"WORKDIR /proc/self/fd/N reaches no nib fd"
	"--mount bind (ro) and tmpfs"
	"/etc/resolv.conf, hosts, hostname are generated and not left behind"
	"single-UID: chown, passwd edit, mknod succeed and are recorded"
	"subuid: chown is real"
	"symlinks out of the rootfs: nothing written outside"
	"nothing left mounted or running"
)

t "nib starts without libcurl, OpenSSL, libarchive, libsubid (loaded on first use)"
case $(uname -m) in
x86_64 | aarch64)
	run env LD_DEBUG=files "$NIB" --version
	assert_status 0
	assert_match "$err" 'libc\.so'
	assert_no_match "$err" 'libcurl|libssl|libcrypto|libarchive|libsubid'
	;;
*) skip "lazy stubs exist for x86_64 and aarch64 only (builder/lazylibs.sh)" ;;
esac

if [ "$(id -u)" != 0 ] || ! users_setup; then
	for m in "${MODES[@]}"; do
		skip_cases "needs root to create the test users and namespaces" "${CASES[@]/#/[$m] }"
	done
	finish
	exit
fi

# A busybox-static rootfs owned by OWNER (uid or uid:gid).
make_rootfs() { # DIR OWNER
	local dir=$1 a
	mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root"
	cp /bin/busybox "$dir/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		mkdir -p "$dir/$(dirname "$a")"
		[ -e "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' \
		>"$dir/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\nstaff:x:50:nobody\nnogroup:x:65534:\n' >"$dir/etc/group"
	chmod 1777 "$dir/tmp"
	chown -R "$2" "$dir"
}

# nibrun ARGS...: nib in the current $MODE.
nibrun() {
	case $MODE in
	root) run "$T/bin/nib" "$@" ;;
	nibsub | nibplain) run as_user "$MODE" "$T/bin/nib" "$@" ;;
	pod) run podsim "$T/bin/nib" "$@" ;;
	esac
}

owner_of() {
	case $1 in
	root) echo 0:0 ;;
	nibsub | nibplain) echo "$(id -u "$1"):$(id -g "$1")" ;;
	pod) echo "$PODSIM_UID:$PODSIM_GID" ;;
	esac
}

echo "host-only" >"$T/host-marker-7f3a"
# sleep lengths unique to this test run: other suites may run at once
S1=$((100000 + RANDOM * 8 + 1)) S2=$((100000 + RANDOM * 8 + 2)) S3=$((100000 + RANDOM * 8 + 3))
S4=$((100000 + RANDOM * 8 + 4))
mkdir -p "$T/share"
echo "shared content" >"$T/share/f"
chmod -R a+rX "$T/share"

for MODE in "${MODES[@]}"; do
	if [ "$MODE" = pod ] && ! podsim_available; then
		skip_cases "the pod simulation needs unshare and setpriv" "${CASES[@]/#/[pod] }"
		continue
	fi
	OWNER=$(owner_of "$MODE")
	R=$T/rootfs-$MODE
	make_rootfs "$R" "$OWNER"
	single=0
	[ "$MODE" = nibplain ] || [ "$MODE" = pod ] && single=1

	t "[$MODE] uid 0 inside and the hostname"
	nibrun run --hostname box1 --rootfs "$R" -- sh -c 'id -u; id -g; hostname; cat /etc/hostname'
	assert_status 0
	assert_eq "$out" $'0\n0\nbox1\nbox1'

	t "[$MODE] own pid namespace: only the container's processes"
	nibrun --log-level info run --rootfs "$R" -- sh -c 'echo /proc/[0-9]*'
	assert_status 0
	if [ "$single" = 1 ]; then
		# auto says why it did not take subuid
		assert_match "$err" 'ID map: single \(subuid: '
	fi
	if [ "$MODE" = pod ]; then
		# the pod's masked /proc makes the kernel refuse a fresh one
		assert_match "$err" 'fresh /proc is refused.*binding the outer /proc'
	else
		assert_eq "$out" "/proc/1 /proc/2"
	fi

	t "[$MODE] /dev/null works and no other device exists"
	nibrun run --rootfs "$R" -- sh -c 'echo x >/dev/null && head -c 3 /dev/zero | wc -c &&
		find /dev -type c -o -type b | sort | tr "\n" " "'
	assert_status 0
	assert_eq "$out" $'3\n/dev/full /dev/null /dev/pts/ptmx /dev/random /dev/tty /dev/urandom /dev/zero '

	t "[$MODE] capabilities, NoNewPrivs and Seccomp"
	nibrun run --rootfs "$R" -- grep -E '^(CapInh|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
	assert_status 0
	# no inheritable set (runc's and moby's fix for CVE-2022-24769)
	# no_new_privs only where the environment forces it: the pod's
	nnp=0
	[ "$MODE" = pod ] && nnp=1
	assert_eq "$(echo "$out" | tr -d '\t' | tr '\n' ' ')" \
		"CapInh:0000000000000000 CapEff:00000000880405fb CapBnd:00000000880405fb CapAmb:0000000000000000 NoNewPrivs:$nnp Seccomp:2 "

	t "[$MODE] --cap-drop and --cap-add"
	nibrun run --cap-drop CHOWN --cap-add net_raw --rootfs "$R" -- grep -E '^CapEff:' /proc/self/status
	assert_status 0
	assert_match "$out" '00000000880425fa$'
	nibrun run --cap-add NO_SUCH_CAP --rootfs "$R" -- true
	assert_status 2
	assert_match "$err" "unknown capability 'NO_SUCH_CAP'"

	t "[$MODE] --network none has only lo, up"
	nibrun run --network none --rootfs "$R" -- sh -c \
		'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip link show lo | head -n 1; ls /sys/class/net'
	assert_status 0
	assert_match "$out" '^lo'
	assert_lines "$out" 3
	assert_match "$out" 'LOOPBACK,UP'

	t "[$MODE] exit status is the command's"
	nibrun run --rootfs "$R" -- sh -c 'exit 7'
	assert_status 7
	nibrun run --rootfs "$R" -- true
	assert_status 0

	t "[$MODE] a signal ending the command is reported"
	nibrun run --rootfs "$R" -- sh -c 'kill -KILL $$'
	assert_status 137
	assert_match "$err" 'killed by signal 9'

	t "[$MODE] a command that forks and exits leaves no process"
	start=$(date +%s)
	nibrun run --rootfs "$R" -- sh -c "sleep $S1 & sleep $S2 </dev/null >/dev/null 2>&1 & echo started"
	assert_status 0
	assert_eq "$out" started
	[ $(($(date +%s) - start)) -lt 10 ] || fail "nib waited for the background processes"
	sleep 0.2
	pgrep -f "sleep ($S1|$S2)" >/dev/null && fail "a background process survived: $(pgrep -af "sleep ($S1|$S2)")"

	t "[$MODE] --timeout kills a command ignoring SIGTERM"
	start=$(date +%s)
	nibrun run --timeout 1 --rootfs "$R" -- sh -c "trap '' TERM INT HUP; sleep $S3; echo never"
	assert_status 1
	assert_match "$err" 'timed out after 1 s'
	assert_no_match "$out" never
	[ $(($(date +%s) - start)) -lt 10 ] || fail "the timeout did not kill in time"
	pgrep -f "sleep $S3" >/dev/null && fail "a process survived the timeout"

	t "[$MODE] SIGTERM to nib kills the whole container"
	if [ "$MODE" = pod ]; then
		skip "the pod simulation wraps nib in unshare"
	else
		case $MODE in
		root) "$T/bin/nib" run --rootfs "$R" -- sh -c "trap '' INT TERM; sleep $S4 & sleep $S4" >/dev/null 2>"$T/int.err" & ;;
		*) as_user "$MODE" "$T/bin/nib" run --rootfs "$R" -- sh -c "trap '' INT TERM; sleep $S4 & sleep $S4" >/dev/null 2>"$T/int.err" & ;;
		esac
		bg=$!
		for _ in $(seq 25); do
			pgrep -f "^sleep $S4" >/dev/null && break
			sleep 0.2
		done
		# nib itself: the oldest process with this command line (its
		# container's pid 1 is a copy of it)
		pid=$(pgrep -o -f "nib run --rootfs $R -- sh -c trap '' INT TERM; sleep $S4")
		[ -n "$pid" ] || pid=$bg
		# (a background job of a script ignores SIGINT; SIGTERM takes the
		# same path in nib)
		kill -TERM "$pid"
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			fail "nib did not stop on SIGTERM"
			kill -KILL "$pid"
		fi
		wait "$bg"
		assert_eq "$?" 1
		assert_match "$(cat "$T/int.err")" 'interrupted: killed'
		pgrep -f "sleep $S4" >/dev/null && fail "a process survived SIGTERM"
	fi

	t "[$MODE] errors before exec come back as one line"
	nibrun run --rootfs "$R" -- /no/such/program
	assert_status 1
	assert_eq "$err" "nib: error: exec /no/such/program: No such file or directory"
	nibrun run --user nosuchuser --rootfs "$R" -- true
	assert_status 1
	assert_match "$err" 'user nosuchuser: no such user in the image'
	nibrun run --rootfs "$T/does-not-exist" -- true
	assert_status 1
	assert_match "$err" "rootfs $T/does-not-exist"

	t "[$MODE] --user and --workdir"
	# with one mapped UID the command runs as 0 and the supervisor answers
	# get*id as the user would see them (seccomp_creds.c); it keeps no
	# capability, as a real non-root user
	nibrun run --user nobody:staff --workdir /work/dir --rootfs "$R" -- \
		sh -c 'pwd; id -u; id -g; grep ^CapEff /proc/self/status'
	assert_status 0
	assert_eq "$out" $'/work/dir\n65534\n50\nCapEff:\t0000000000000000'
	[ -d "$R/work/dir" ] || fail "the workdir was not created in the rootfs"
	nibrun run --user 0:nogroup --rootfs "$R" -- sh -c 'id -u; id -g; grep -c "^CapEff:.*[1-9a-f]" /proc/self/status'
	assert_eq "$out" $'0\n65534\n1' "user 0 keeps its capabilities"

	t "[$MODE] WORKDIR /proc/self/fd/N reaches no nib fd"
	for n in 3 4 5 6 7 8 9 10 11 12; do
		nibrun run --workdir "/proc/self/fd/$n" --rootfs "$R" -- sh -c 'ls -a; cat host-marker-7f3a'
		assert_no_match "$out" 'host-marker|host-only' "fd $n"
		[ "$status" != 0 ] || fail "workdir /proc/self/fd/$n was usable: $out"
	done

	t "[$MODE] --mount bind (ro) and tmpfs"
	nibrun run --mount "type=bind,src=$T/share,dst=/mnt/share,ro" --mount type=tmpfs,dst=/scratch \
		--rootfs "$R" -- sh -c 'cat /mnt/share/f; touch /mnt/share/g 2>/dev/null || echo ro;
			touch /scratch/x && echo tmpfs-ok'
	assert_status 0
	assert_eq "$out" $'shared content\nro\ntmpfs-ok'
	assert_no_file "$T/share/g"
	assert_no_file "$R/mnt"
	assert_no_file "$R/scratch"
	nibrun run --mount "type=bind,src=$T/share,dst=/opt/s" --rootfs "$R" -- sh -c 'echo w >/opt/s/w-'"$MODE"' && echo rw'
	if [ "$MODE" = root ]; then
		assert_eq "$out" rw
		assert_file "$T/share/w-$MODE"
	fi
	nibrun run --mount "type=nfs,dst=/x" --rootfs "$R" -- true
	assert_status 2

	t "[$MODE] /etc/resolv.conf, hosts, hostname are generated and not left behind"
	nibrun run --hostname h2 --rootfs "$R" -- sh -c 'grep -c . /etc/hosts >/dev/null && grep h2 /etc/hosts; cat /etc/hostname;
		[ -f /etc/resolv.conf ] && echo resolv'
	assert_status 0
	assert_eq "$out" $'127.0.1.1\th2\nh2\nresolv'
	assert_no_file "$R/etc/resolv.conf"
	assert_no_file "$R/etc/hosts"
	assert_no_file "$R/etc/hostname"
	assert_no_file "$R/proc"
	assert_no_file "$R/dev"
	assert_no_file "$R/sys"
	if [ "$MODE" = root ]; then
		# an image's own /etc/hosts is covered, not changed
		echo "image hosts" >"$R/etc/hosts"
		nibrun run --rootfs "$R" -- sh -c 'echo changed >/etc/hosts; cat /etc/hosts'
		assert_eq "$out" changed
		assert_eq "$(cat "$R/etc/hosts")" "image hosts"
		rm -f "$R/etc/hosts"
	fi

	t "[$MODE] single-UID: chown, passwd edit, mknod succeed and are recorded"
	args=()
	[ "$single" = 1 ] || args=(--idmap single)
	nibrun run "${args[@]}" --rootfs "$R" -- sh -c '
		set -e
		touch /f1 && chown 1000:1000 /f1
		echo "bob:x:1234:1234::/home/bob:/bin/sh" >>/etc/passwd
		echo "bob:x:1234:" >>/etc/group
		mkdir -p /home/bob && chown bob:bob /home/bob
		mkdir -p /d/e && touch /d/e/g && chown -R 7:8 /d
		touch /f2 && chown 1000:1000 /f2 && chmod 4750 /f2
		touch /f3 && chmod 4755 /f3 && chown 5 /f3
		mknod /tmp/null2 c 1 3
		mknod /tmp/sda9 b 8 9
		ln -s f1 /lnk && chown -h 1000:100 /lnk && ln -s f1 /lnk0 && chown -h 0:0 /lnk0
		stat -c "%n %u:%g %a %F %t,%T" /f1 /home/bob /d/e/g /f3 /tmp/null2 /tmp/sda9 /etc
		ls -ln /f1 | awk "{print \$1, \$3, \$4}"
		stat -c "%n %u:%g %F" /lnk /lnk0
		cd /d/e && stat -c "%n %u:%g" g ../e .
		ln -s /d/e /de && ln -s /d/e/g /gl
		cd / && stat -c "%n %u:%g" de/g d/e/../e/g && stat -L -c "%n %u:%g" gl
		stat -c "%n %u:%g %F" lnk
		cd /home && stat -c "%n %u:%g" ../d/e/g
		echo done'
	assert_status 0
	assert_eq "$out" "/f1 1000:1000 644 regular empty file 0,0
/home/bob 1234:1234 755 directory 0,0
/d/e/g 7:8 644 regular empty file 0,0
/f3 5:0 755 regular empty file 0,0
/tmp/null2 0:0 644 character special file 1,3
/tmp/sda9 0:0 644 block special file 8,9
/etc 0:0 755 directory 0,0
-rw-r--r-- 1000 1000
/lnk 1000:100 symbolic link
/lnk0 0:0 symbolic link
g 7:8
../e 7:8
. 7:8
de/g 7:8
d/e/../e/g 7:8
gl 7:8
lnk 1000:100 symbolic link
../d/e/g 7:8
done" "stat reports the records"
	x() { getfattr --absolute-names --only-values -n user.containers.override_stat "$R/$1" 2>/dev/null; }
	assert_eq "$(x f1)" "1000:1000:0644:file"
	assert_eq "$(x home/bob)" "1234:1234:0755:dir"
	assert_eq "$(x d)" "7:8:0755:dir"
	assert_eq "$(x d/e/g)" "7:8:0644:file"
	assert_eq "$(x f2)" "1000:1000:4750:file" "chmod after chown keeps the record in step"
	assert_eq "$(x f3)" "5:0:0755:file" "chown clears set-user-ID"
	assert_eq "$(stat -c %a "$R/f3")" 755 "on disk too"
	assert_eq "$(x tmp/null2)" "0:0:0644:char-1-3"
	assert_eq "$(x tmp/sda9)" "0:0:0644:block-8-9"
	[ -f "$R/tmp/null2" ] && [ ! -s "$R/tmp/null2" ] || fail "the device placeholder is not an empty file"
	assert_eq "$(getfattr --absolute-names --only-values -n user.nib.link.lnk "$R" 2>/dev/null)" \
		"1000:100:$(stat -c %i "$R/lnk")" "a symlink's owner is recorded on its folder"
	assert_eq "$(readlink "$R/lnk")" f1
	assert_eq "$(getfattr --absolute-names -n user.nib.link.lnk0 "$R" 2>&1 | grep -c =)" 0 \
		"no record for 0:0"
	rm -rf "$R/f1" "$R/f2" "$R/f3" "$R/d" "$R/home" "$R/tmp/null2" "$R/tmp/sda9" "$R/lnk" "$R/lnk0" \
		"$R/de" "$R/gl"
	setfattr -x user.nib.link.lnk "$R"
	sed -i '/^bob:/d' "$R/etc/passwd" "$R/etc/group"

	t "[$MODE] subuid: chown is real"
	if [ "$MODE" != nibsub ]; then
		skip "only with a subuid range"
	else
		nibrun run --rootfs "$R" -- sh -c 'touch /f && chown 1000:1000 /f && ls -n /f'
		assert_status 0
		assert_eq "$(stat -c %u:%g "$R/f")" "$((NIB_SUBUID_START + 999)):$((NIB_SUBUID_START + 999))"
		assert_eq "$(getfattr --only-values -n user.containers.override_stat "$R/f" 2>/dev/null)" ""
		rm -f "$R/f"
	fi

	t "[$MODE] symlinks out of the rootfs: nothing written outside"
	out_dir=$T/outside-$MODE
	mkdir -p "$out_dir"
	chmod 0777 "$out_dir"
	R2=$T/rootfs2-$MODE
	make_rootfs "$R2" "$OWNER"
	ln -s "$out_dir/resolv.conf" "$R2/etc/resolv.conf"
	ln -s "../../../../../../../../$out_dir/hosts" "$R2/etc/hosts"
	nibrun run --rootfs "$R2" -- sh -c 'echo nameserver 1.2.3.4 >/etc/resolv.conf; echo x >/etc/hosts; true'
	ln -s "$out_dir" "$R2/dev"
	nibrun run --rootfs "$R2" -- sh -c 'echo x >/dev/null; true'
	ln -s "$out_dir/proc" "$R2/proc"
	ln -s "$out_dir" "$R2/work"
	nibrun run --workdir /work/sub --mount type=tmpfs,dst=/work/t --rootfs "$R2" -- true
	assert_eq "$(ls -A "$out_dir")" "" "files appeared outside the rootfs"
	chown -R "$OWNER" "$R2"

	t "[$MODE] nothing left mounted or running"
	assert_eq "$(grep -c "$T" /proc/self/mountinfo)" 0
	pgrep -f "$T/bin/nib" >/dev/null && fail "nib processes left: $(pgrep -af "$T/bin/nib")"
done

finish
