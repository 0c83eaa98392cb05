#!/bin/bash
# nib run over a Debian tree with a single UID (a user without subuid
# range, and the restricted pod): the real useradd, install -o, mknod,
# dpkg -i with a maintainer script that chowns, su/runuser/setpriv (which
# check the credentials they switched to), and the ownership records that
# the layer commit will read.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

CASES=("useradd, install -o, mknod, dpkg -i succeed and are recorded"
	"su, runuser and setpriv see the credentials they switched to"
	"dropping privileges cannot be undone")
MODES=(nibplain pod)

if [ "$(id -u)" != 0 ] || ! users_setup; then
	for m in "${MODES[@]}"; do
		skip_cases "needs root to create the test users" "${CASES[@]/#/[$m] }"
	done
	finish
	exit
fi
if ! tar=$("$NIB_SRC/tests/layers/debian_base.sh" 2>"$T/debian.err"); then
	for m in "${MODES[@]}"; do
		skip_cases "no Debian base tree: $(tail -n 1 "$T/debian.err")" "${CASES[@]/#/[$m] }"
	done
	finish
	exit
fi

x() { getfattr --absolute-names --only-values -n user.containers.override_stat "$R/$1" 2>/dev/null; }

for MODE in "${MODES[@]}"; do
	if [ "$MODE" = pod ] && ! podsim_available; then
		skip_cases "the pod simulation needs unshare and setpriv" "${CASES[@]/#/[pod] }"
		continue
	fi
	R=$T/debian-$MODE
	mkdir -p "$R"
	tar -xf "$tar" -C "$R"
	case $MODE in
	nibplain)
		chown -R nibplain: "$R"
		nibrun() { run as_user nibplain "$T/bin/nib" run --rootfs "$R" -- "$@"; }
		;;
	pod)
		chown -R "$PODSIM_UID:$PODSIM_GID" "$R"
		nibrun() { run podsim "$T/bin/nib" run --rootfs "$R" -- "$@"; }
		;;
	esac

	t "[$MODE] useradd, install -o, mknod, dpkg -i succeed and are recorded"
	nibrun sh -ec '
		useradd -m -u 1500 -s /bin/sh alice
		install -o alice -g alice -m 4755 /bin/true /usr/local/bin/alice-true
		mknod /root/null2 c 1 3
		mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/opt/nibtest
		echo hi >/tmp/pkg/opt/nibtest/file
		printf "Package: nibtest\nVersion: 1.0\nArchitecture: all\nMaintainer: nib <nib@example.org>\nDescription: test\n" >/tmp/pkg/DEBIAN/control
		printf "#!/bin/sh\nchown alice:alice /opt/nibtest/file\nchmod 0640 /opt/nibtest/file\n" >/tmp/pkg/DEBIAN/postinst
		chmod 755 /tmp/pkg/DEBIAN/postinst
		dpkg-deb --root-owner-group --build /tmp/pkg /tmp/nibtest.deb >/dev/null
		dpkg -i /tmp/nibtest.deb >/dev/null
		chown -R 1500:100 /home/alice
		perl -e "open(F, \">/tmp/fd\") or die; chmod(0, *F); chown(7, 8, *F) or die; chmod(04711, *F) or die"
		echo done'
	assert_status 0
	assert_eq "$out" done
	assert_match "$(grep '^alice:' "$R/etc/passwd")" '^alice:x:1500:1500::/home/alice:/bin/sh$'
	assert_match "$(x home/alice)" '^1500:100:0[0-7]{3}:dir$'
	assert_eq "$(x usr/local/bin/alice-true)" "1500:1500:4755:file"
	assert_eq "$(x root/null2)" "0:0:0644:char-1-3"
	assert_eq "$(x opt/nibtest/file)" "1500:1500:0640:file"
	assert_eq "$(x tmp/fd)" "7:8:4711:file" "fchmod of a mode-0 file after fchown"
	assert_match "$(grep -A1 '^Package: nibtest' "$R/var/lib/dpkg/status")" 'Status: install ok installed'

	# find stats each entry relative to its open folder, ls relative to the cwd
	t "[$MODE] find and ls see the recorded owners"
	nibrun sh -ec 'find /opt/nibtest -printf "%p %U:%G %m\n"; cd /opt && find nibtest -printf "%p %U:%G\n"
		ls -ln nibtest | awk "/file/ {print \$1, \$3, \$4}"'
	assert_status 0
	assert_eq "$out" "/opt/nibtest 0:0 755
/opt/nibtest/file 1500:1500 640
nibtest 0:0
nibtest/file 1500:1500
-rw-r----- 1500 1500"

	t "[$MODE] su, runuser and setpriv see the credentials they switched to"
	nibrun sh -c 'su -s /bin/sh -c "id -u; id -g; id -G" nobody; runuser -u alice -- id -u;
		setpriv --reuid=5 --regid=5 --clear-groups id -u'
	assert_status 0
	assert_eq "$out" $'65534\n65534\n65534\n1500\n5'

	t "[$MODE] dropping privileges cannot be undone"
	nibrun perl -e '$> = 5; $< = 5; $> = 0; $< = 0; print "euid=$> ruid=$<\n"'
	assert_status 0
	assert_eq "$out" "euid=5 ruid=5"
	nibrun setpriv --reuid=5 --regid=5 --clear-groups setpriv --reuid=0 true
	assert_ne "$status" 0
	assert_match "$err" 'setresuid failed'
	rm -rf "$R"
done

finish
