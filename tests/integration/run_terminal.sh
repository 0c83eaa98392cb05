#!/bin/bash
# A RUN step gets no controlling terminal of the caller: nib runs in a
# terminal (script(1) gives it a pty, as an interactive shell has), and a
# RUN (tests/helpers/nib-tiocsti, static) tries to open /dev/tty and push
# keystrokes into the caller's terminal with TIOCSTI, through /dev/tty and
# through a stdin that is the terminal (--stdin). Every RUN runs in a new
# session: /dev/tty does not open, TIOCSTI is refused, nothing reaches the
# terminal. As root, nibsub, nibplain, in the restricted-pod simulation and
# under the ptrace isolation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
HELPER=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-tiocsti

MODES="root nibsub nibplain podsim pod:crio"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v script >/dev/null ||
	! [ -x "$HELPER" ] || ! users_setup; then
	skip_cases "needs root, setpriv, script (bsdutils), a static busybox, skopeo and $HELPER" $MODES
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"
C=$T/ctx
mkdir -p "$C"
cp "$HELPER" "$C/nib-tiocsti"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
COPY nib-tiocsti /nib-tiocsti
RUN /nib-tiocsti "echo INJ""ECTED-BY-RUN"
EOF
chmod -R a+rX "$C"


for who in $MODES; do
	for stdin in "" --stdin; do
		t "$who${stdin:+ $stdin}: a RUN cannot reach the terminal nib runs in"
		why=$(mode_missing "$who")
		if [ -n "$why" ]; then
			skip "$why"
			continue
		fi
		root=$(mode_root "$who" "r-${who/:/-}")
		# script: a pty as the controlling terminal of a new session,
		# nib in it; what reaches the terminal is script's output (plain
		# lines: the live display drops a finished step's output)
		run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest &&
			script -qec '\"\$NIB\" build --progress plain --no-cache $stdin \"$C\"' /dev/null"
		assert_status 0
		assert_match "$out" 'ctty: no \(No such device or address\)'
		assert_match "$out" 'inject /dev/tty: No such device or address'
		if [ -n "$stdin" ]; then
			assert_match "$out" 'inject stdin: Operation not permitted'
		else
			assert_match "$out" 'inject stdin: not a tty'
		fi
		assert_no_match "$out" 'echo INJECTED-BY-RUN' "keystrokes pushed into the terminal"
	done
done

finish
