#!/bin/bash
# RUN's /etc/hosts and /etc/resolv.conf: nib's own, with --add-host (IPv4
# and IPv6, first, as buildah writes them), --dns, --dns-search,
# --dns-option, and --no-hosts / --dns none leaving the image's files (none
# when it has none). resolv.conf matches the network the RUN got: slirp4netns's
# DNS on the private network with the host's search and options, the host's
# nameservers on the host's network (the pod simulation, the ptrace
# isolation), none with --network none. As root, nibsub and nibplain, in
# the restricted-pod simulation and under the ptrace isolation (CRI-O's
# profile); then the same options given to buildah 1.28 (root, chroot
# isolation, the host's network) must give the same resolv.conf and the
# same --add-host lines; then bad values: exit 2 and one line.
# The whole test runs in a mount namespace of its own whose /etc/resolv.conf
# is a known file (search, two nameservers, options), bound over the host's.
if [ -z "$RUN_ETC_NS" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	exec unshare --mount --propagation private env RUN_ETC_NS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/bases.sh"

MODES="root nibsub nibplain podsim pod:crio"
if [ -z "$RUN_ETC_NS" ] || ! have_static_busybox || ! command -v skopeo >/dev/null ||
	! users_setup; then
	skip_cases "needs root, unshare, setpriv, a static busybox and skopeo" $MODES buildah
	finish
	exit
fi
printf '# a host resolv.conf\nsearch host.example lan.example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions rotate timeout:1\n' >"$T/resolv.conf"
chmod 0644 "$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf || fail "bind the test's resolv.conf"
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
printf '10.1.1.1\timagehost\n' >"$C/hosts"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
COPY hosts /etc/hosts
RUN echo "==hosts"; cat /etc/hosts; echo "==resolv"; cat /etc/resolv.conf || echo "(none)"; echo "==end"
EOF
chmod -R a+rX "$C"

# section NAME: the lines between ==NAME and the next == marker in $out
section() {
	printf '%s\n' "$out" | sed -n "/^==$1\$/,/^==/p" | sed '1d;$d'
}


NIB_HOSTS=$'127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tnib'
ADDED=$'1.2.3.4\tfoo\nfe80::1\tbar\n10.0.0.9\tbaz'
for who in $MODES; do
	t "$who: RUN's /etc/hosts and /etc/resolv.conf, with and without the options"
	why=$(mode_missing "$who")
	if [ -n "$why" ]; then
		skip "$why"
		continue
	fi
	root=$(mode_root "$who" "r-${who/:/-}")
	build() { run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache $* '$C'"; }
	run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" info"
	assert_status 0
	private=false
	printf '%s\n' "$out" | grep -Eq '^network +private' && private=true

	build
	assert_status 0
	assert_eq "$(section hosts)" "$NIB_HOSTS" "nib's hosts over the image's"
	ns=$'nameserver 192.0.2.53\nnameserver 2001:db8::53' # the host's network
	$private && ns="nameserver 10.0.2.3"                 # slirp4netns's DNS
	assert_eq "$(section resolv)" $'search host.example lan.example\n'"$ns"$'\noptions rotate timeout:1' \
		"resolv.conf for the network RUN got (private: $private)"

	build --add-host foo:1.2.3.4 --add-host bar:fe80::1,baz:10.0.0.9 --dns 9.9.9.9 \
		--dns 2001:4860:4860::8888 --dns-search example.com --dns-search example.org \
		--dns-option ndots:2 --dns-option edns0
	assert_status 0
	assert_eq "$(section hosts)" "$ADDED"$'\n'"$NIB_HOSTS" "--add-host lines first"
	assert_eq "$(section resolv)" $'search example.com example.org\nnameserver 9.9.9.9\nnameserver 2001:4860:4860::8888\noptions ndots:2 edns0'

	build --dns-search . --dns-option ndots:3
	assert_status 0
	assert_eq "$(section resolv)" "$ns"$'\noptions ndots:3' "search dropped, options replaced"

	build --no-hosts --dns none
	assert_status 0
	assert_eq "$(section hosts)" $'10.1.1.1\timagehost' "--no-hosts: the image's"
	assert_match "$(section resolv)" "resolv.conf: No such file|\(none\)" "--dns none: the image has none"

	if $private; then
		build --network none --dns-search example.com
		assert_status 0
		assert_eq "$(section resolv)" $'search example.com\noptions rotate timeout:1' "--network none: no nameserver"
	fi
done

t "buildah 1.28 writes the same resolv.conf and --add-host lines (root, chroot, the host's network)"
if ! command -v buildah >/dev/null; then
	skip "buildah is not installed"
else
	bases_buildah_init "$T/buildah"
	bases_busybox && bases_buildah_load busybox || fail "buildah cannot load the busybox base"
	while IFS= read -r args; do
		# buildah's chroot isolation now and then loses a RUN's output
		# (seen once in ten runs): built again then
		for _ in 1 2 3; do
			# shellcheck disable=SC2086
			run "${BUILDAH[@]}" bud --isolation chroot $args "$C"
			printf '%s\n' "$out" | grep -qx '==end' && break
		done
		assert_status 0 "buildah $args"
		assert_match "$out" '==end' "buildah's RUN output"
		bhosts=$(section hosts) bresolv=$(section resolv)
		# shellcheck disable=SC2086
		run env NIB_ROOT="$T/r-root" "$NIB" build --no-cache --network host $args "$C"
		assert_status 0 "nib $args"
		assert_eq "$(section resolv)" "$bresolv" "resolv.conf with $args"
		n=$(printf '%s\n' "$args" | grep -o 'add-host [^ ]*' | tr ',' '\n' | grep -c .)
		if [ "$n" -gt 0 ]; then
			assert_eq "$(section hosts | head -n "$n")" "$(printf '%s\n' "$bhosts" | head -n "$n")" "--add-host lines with $args"
		fi
		case $args in
		*--no-hosts*) assert_eq "$(section hosts)" "$bhosts" "--no-hosts" ;;
		esac
	done <<'EOF'

--dns 9.9.9.9 --dns-search example.com --dns-option ndots:2
--add-host foo:1.2.3.4 --add-host bar:fe80::1,baz:10.0.0.9 --dns 9.9.9.9,1.1.1.1
--dns-option ndots:3
--dns-search .
--dns-search a.example --dns-search b.example
--no-hosts --dns none
EOF
fi

t "bad values: exit 2 and one line naming the option"
while IFS='|' read -r args what; do
	# shellcheck disable=SC2086
	run env NIB_ROOT="$T/r-root" "$NIB" build $args "$C"
	assert_status 2 "$args"
	assert_lines "$err" 1
	assert_match "$err" "^nib: error: build: $what" "$args"
done <<'EOF'
--add-host foo|--add-host foo: not HOST:IP
--add-host :1.2.3.4|--add-host :1.2.3.4: not HOST:IP
--add-host foo:1.2.3|--add-host foo:1.2.3: "1.2.3" is not an IPv4 or IPv6 address
--add-host foo:[::1]|--add-host foo:\[::1\]: "\[::1\]" is not an IPv4
--add-host foo:host-gateway|--add-host foo:host-gateway: "host-gateway" is not
--no-hosts --add-host a:1.1.1.1|--no-hosts and --add-host conflict
--dns bad|--dns bad: not an IPv4 or IPv6 address
--dns none --dns 1.1.1.1|--dns none: no other --dns
--dns none --dns-search x|--dns-search x: not with --dns none
--dns none --dns-option ndots:1|--dns-option ndots:1: not with --dns none
--network none --dns 1.1.1.1|--dns 1.1.1.1: RUN has no network with --network none
--dns-search a#b|--dns-search "a#b": not a domain name
--no-hosts=maybe|--no-hosts: 'maybe' is not a boolean
EOF

finish
