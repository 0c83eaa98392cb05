#!/bin/bash
# The storage root is private to its owner: another user of the host can
# neither read a root-only file a RUN made nor run a setuid file a RUN made,
# through the extracted layers, the step folders, a cache mount or the
# blobs. Stores of root, of a subuid user (nibsub), of a single-UID user
# (nibplain) and of the restricted-pod simulation; and a root made by an
# older nib (0755 folders) is made private when its owner opens it.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root nibsub nibplain podsim"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" $MODES "an older root is made private"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN echo topsecret > /secret && chmod 0600 /secret && cp /bin/busybox /suidsh && chmod 4755 /suidsh
RUN --mount=type=cache,target=/cache,id=priv echo topsecret > /cache/secret && chmod 0600 /cache/secret
EOF
chmod -R a+rX "$C"

as_who() { # WHO ROOT CMD...
	local who=$1 root=$2
	shift 2
	case $who in
	root) NIB_ROOT=$root "$@" ;;
	podsim) NIB_ROOT=$root podsim "$@" ;;
	*) NIB_ROOT=$root as_user "$who" "$@" ;;
	esac
}

# "mode owner path" of every folder of the root's own that others could enter,
# but the root, nib/ and nib/tmp/ when others may only pass (0711: the
# ptrace isolation's RUN reaches nib/tmp/step-RANDOM by its path)
open_folders() { # ROOT
	find "$1" -maxdepth 2 -type d \( -perm -o=x -o -perm -g=x \) -printf '%m %u %p\n' |
		grep -v -e ' /tmp$' -e "^711 [^ ]* $1\$" -e "^711 [^ ]* $1/nib\$" \
			-e "^711 [^ ]* $1/nib/tmp\$" || true
}

for who in $MODES; do
	t "$who: another user reads no root-only file and runs no setuid file of the store"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	case $who in
	root) root=$T/root-root ;;
	podsim) root=$(podsim_dir root-podsim) ;;
	*) root=$(user_dir "$who" "root-$who") ;;
	esac
	other=nibplain
	[ "$who" = nibplain ] && other=nibsub
	run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && \"\$NIB\" build -q --timestamp 1700000000 '$C'"
	assert_status 0 "build"
	assert_eq "$(open_folders "$root")" "" "folders others may enter"
	secrets=$(find "$root" -name secret -type f)
	suid=$(find "$root" -name suidsh -type f)
	assert_match "$secrets" "/nib/layers/.*/secret" "the extracted layer's /secret (found as root)"
	assert_match "$secrets" "/nib/cache-mounts/.*/secret" "the cache mount's /secret"
	assert_match "$suid" "/nib/layers/.*/suidsh" "the extracted layer's /suidsh"
	for f in $secrets; do
		run as_user "$other" cat "$f"
		assert_status 1 "$other reads $f"
		assert_no_match "$out" topsecret
	done
	for f in $suid; do
		run as_user "$other" "$f" id -u
		assert_ne "$status" 0 "$other runs $f"
		assert_no_match "$out" '^[0-9]'
	done
	run as_user "$other" sh -c "cat '$root'/blobs/sha256/* | gzip -dc 2>/dev/null | grep -ac topsecret"
	assert_no_match "$out" '^[1-9]' "$other reads the layer blobs"
	run as_user "$other" env NIB_ROOT="$root" "$NIB" images
	assert_status 1 "$other opens the store"
	assert_lines "$err" 1
	assert_match "$err" "$root.*Permission denied"
	# the owner still uses it
	run as_who "$who" "$root" "$NIB" images -q
	assert_status 0 "$who lists its store"
done

t "an older root is made private when its owner opens it"
root=$(user_dir nibsub root-old)
run as_user nibsub sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest"
assert_status 0
find "$root" -type d -exec chmod 0755 {} +
run as_user nibsub env NIB_ROOT="$root" "$NIB" images -q
assert_status 0
assert_eq "$(open_folders "$root")" "" "folders others may enter"
assert_eq "$(stat -c %a "$root/blobs/sha256" "$root/nib/layers" | sort -u)" 700
assert_eq "$(stat -c %a "$root" "$root/nib" "$root/nib/tmp" | sort -u)" 711 "passable, not listable"

t "a root another user owns (a volume's mount point) keeps its mode"
root=$T/root-volume
mkdir "$root"
chown root:nibsub "$root"
chmod 0775 "$root"
run as_user nibsub env NIB_ROOT="$root" "$NIB" images -q
assert_status 0 "nibsub uses a group-writable volume as its root: $err"
assert_eq "$(stat -c %a "$root")" 775 "the volume's own mode"
assert_eq "$(stat -c %a "$root/blobs" | sort -u)" 700
assert_eq "$(stat -c %a "$root/nib" | sort -u)" 711

finish
