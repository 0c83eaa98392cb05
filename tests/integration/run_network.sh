#!/bin/bash
# RUN's network: by default its own network namespace with a user-space
# network (slirp4netns) where one can run: it reaches the outside (a server
# on the host's own address), not the host's loopback services (127.0.0.1,
# nor through slirp's 10.0.2.2) nor its abstract Unix sockets; --network
# host reaches them, as asked. As root, nibsub and nibplain; in the
# restricted-pod simulation (no /dev/net/tun) and under the ptrace isolation
# RUN shares the pod's network, nib info says so, and --network private is
# refused with the reason. The probe in the step
# is tests/helpers/nib-netprobe (static).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh"
PROBE=${NIB_BUILD:-$NIB_SRC/build}/tests/helpers/nib-netprobe

MODES="root nibsub nibplain podsim pod:crio"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v python3 >/dev/null ||
	! [ -x "$PROBE" ] || ! users_setup; then
	skip_cases "needs root, setpriv, python3, a static busybox, skopeo and $PROBE" $MODES
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

# the host's services: loopback TCP, TCP on every address, an abstract socket
LPORT=$(free_port)
APORT=$(free_port)
ABS=nib-test-$RANDOM$RANDOM
cat >"$T/servers.py" <<'PY'
import socket, sys, threading
def serve(sock, text):
    sock.listen(16)
    while True:
        c, _ = sock.accept()
        try:
            c.sendall(text)
        finally:
            c.close()
def tcp(addr, port, text):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    threading.Thread(target=serve, args=(s, text), daemon=True).start()
tcp("127.0.0.1", int(sys.argv[1]), b"loopback-service\n")
tcp("0.0.0.0", int(sys.argv[2]), b"outside-service\n")
u = socket.socket(socket.AF_UNIX)
u.bind("\0" + sys.argv[3])
serve(u, b"abstract-service\n")
PY
python3 "$T/servers.py" "$LPORT" "$APORT" "$ABS" &
at_exit "kill $!"
sleep 1
HOSTIP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
[ -n "$HOSTIP" ] || HOSTIP=$(hostname -I 2>/dev/null | awk '{print $1}')

C=$T/ctx
mkdir -p "$C"
cp "$PROBE" "$C/nib-netprobe"
cat >"$C/Containerfile" <<EOF
FROM localhost/busybox:latest
COPY nib-netprobe /p
RUN /p tcp 127.0.0.1 $LPORT; /p tcp 10.0.2.2 $LPORT; /p abstract $ABS; /p tcp ${HOSTIP:-127.0.0.1} $APORT
EOF
chmod -R a+rX "$C"


for who in $MODES; do
	t "$who: RUN's default network, and --network host"
	why=$(mode_missing "$who")
	if [ -n "$why" ]; then
		skip "$why"
		continue
	fi
	root=$(mode_root "$who" "r-${who/:/-}")
	run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" info"
	assert_status 0
	info=$(printf '%s\n' "$out" | grep '^network ')
	run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache '$C'"
	assert_status 0
	assert_no_match "$out$err" 'slirp|seccomp is experimental' "slirp4netns's own output"
	case $who in
	pod*)
		# no /dev/net/tun (the pod simulation) or no user namespace (ptrace)
		assert_match "$info" '^network +host \((no private network here: /dev/net/tun|no user namespace here)'
		assert_match "$out" "tcp 127.0.0.1:$LPORT: connected: loopback-service"
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache --network private '$C'"
		assert_status 1 "--network private where none can run"
		assert_match "$err" '(--network private: /dev/net/tun|--network private needs a network namespace)'
		;;
	*)
		assert_match "$info" '^network +private \(slirp4netns'
		assert_match "$out" "tcp 127.0.0.1:$LPORT: Connection refused"
		assert_match "$out" "tcp 10.0.2.2:$LPORT: (Connection refused|Network is unreachable)"
		assert_match "$out" "abstract @$ABS: Connection refused"
		if [ -n "$HOSTIP" ]; then
			assert_match "$out" "tcp $HOSTIP:$APORT: connected: outside-service"
		fi
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache --network host '$C'"
		assert_status 0
		assert_match "$out" "tcp 127.0.0.1:$LPORT: connected: loopback-service"
		assert_match "$out" "abstract @$ABS: connected: abstract-service"
		;;
	esac
done

t "a slirp4netns that cannot set the network up: a warning, then the host's network"
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "slirp4netns: refused here" >&2\nexit 1\n' >"$T/fakebin/slirp4netns"
chmod 0755 "$T/fakebin/slirp4netns"
run env NIB_ROOT="$T/r-root" PATH="$T/fakebin:$PATH" "$NIB" build --no-cache "$C"
assert_status 0
assert_match "$err" "warning: RUN uses the host's network: slirp4netns did not set up the step's network: slirp4netns: refused here"
assert_match "$out" "tcp 127.0.0.1:$LPORT: connected: loopback-service"
run env NIB_ROOT="$T/r-root" PATH="$T/fakebin:$PATH" "$NIB" build --no-cache --network private "$C"
assert_status 1
assert_match "$err" "slirp4netns did not set up the step's network: slirp4netns: refused here"

finish
