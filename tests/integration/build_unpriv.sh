#!/bin/bash
# nib build without privileges: as a user with a subuid range (nibsub), as
# one without (nibplain: a single UID) and in the restricted-pod simulation
# (single UID, masked /proc, no /dev/fuse, no_new_privs). Each mode builds
# the same Containerfile (RUN with chown, COPY --chown, multi-stage) with
# --timestamp and must give the image root gives, with the true owners in
# the layers (files a non-root USER creates included).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" \
		"unprivileged builds"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
echo data >"$C/file.txt"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest AS base
RUN mkdir -p /srv/a && echo x > /srv/a/f && chown -R 42:43 /srv/a && chmod 4755 /srv/a/f
COPY --chown=7:8 file.txt /srv/copied
RUN echo 'u:x:1000:1000::/home/u:/bin/sh' >> /etc/passwd && echo 'u:x:1000:' >> /etc/group && mkdir -p /home/u && chown 1000:1000 /home/u
USER u
RUN echo mine > /home/u/mine && mkdir /home/u/d && touch /tmp/by-u
USER 4242
RUN touch /tmp/by-4242
USER root
FROM base
COPY --from=base /srv/a/f /final
RUN echo "$(id -u)" > /whoami
WORKDIR /srv
CMD ["/bin/sh"]
EOF
chmod -R a+rX "$C"

# build as WHO ("root", a user, or "podsim") into ROOT; prints the image ID
build_as() { # WHO ROOT [ARGS...]
	local who=$1 root=$2
	shift 2
	case $who in
	root) NIB_ROOT=$root sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && '$NIB' build -q --timestamp 1700000000 $* '$C'" ;;
	podsim) NIB_ROOT=$root podsim sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" build -q --timestamp 1700000000 $* '$C'" ;;
	*) NIB_ROOT=$root as_user "$who" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" build -q --timestamp 1700000000 $* '$C'" ;;
	esac
}

# "mode uid/gid path" of every entry of every layer of the image ID in ROOT
listing() { # ROOT ID
	local h
	for h in $(NIB_ROOT=$1 "$NIB" inspect --json "$2" | jq -r '.Manifest.layers[1:][].digest' | cut -d: -f2); do
		tar tzvf "$1/blobs/sha256/$h" | awk '{print $1, $2, $6}'
	done
}

t "root builds the reference image"
run build_as root "$T/r-root"
assert_status 0
ref=$(printf '%s\n' "$out" | tail -1)
assert_match "$ref" '^[0-9a-f]{64}$'
list=$(listing "$T/r-root" "$ref")
assert_match "$list" '-rwsr-xr-x 42/43 srv/a/f'
assert_match "$list" '-rw-r--r-- 7/8 srv/copied'
assert_match "$list" '-rwsr-xr-x 42/43 final'
assert_match "$list" '-rw-r--r-- 1000/1000 home/u/mine'
assert_match "$list" 'drwxr-xr-x 1000/1000 home/u/d/'
assert_match "$list" '-rw-r--r-- 1000/1000 tmp/by-u'
assert_match "$list" '-rw-r--r-- 4242/0 tmp/by-4242'

for who in nibsub nibplain podsim; do
	t "$who: the same image as root, owners included"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	if [ "$who" = podsim ]; then
		r=$(podsim_dir "r-$who")
	else
		r=$(user_dir "$who" "r-$who")
	fi
	run build_as "$who" "$r"
	assert_status 0
	got=$(printf '%s\n' "$out" | tail -1)
	assert_eq "$got" "$ref"
	if [ "$got" != "$ref" ]; then
		diff <(listing "$T/r-root" "$ref") <(listing "$r" "$got") | head -20 | sed 's/^/    | /'
	fi
	t "$who: a rebuild is fully cached"
	run build_as "$who" "$r"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
done

t "nibplain with --storage-driver vfs gives the same image"
r=$(user_dir nibplain r-vfs)
run build_as nibplain "$r" --storage-driver vfs
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"

t "nibsub with --idmap single gives the same image"
r=$(user_dir nibsub r-single)
run build_as nibsub "$r" --idmap single
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"

finish
