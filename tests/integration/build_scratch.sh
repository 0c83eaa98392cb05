#!/bin/bash
# A COPY into an empty rootfs (FROM scratch) that no later step reads is
# made and committed in a private tmpfs, never through the storage driver:
# its layer must be the one the driver path gives (same digest with
# --timestamp), in every mode, owners and modes included; it is not
# extracted until something needs its files (COPY --from the image).
# COPY --link is made the same way over any base: the same layer again,
# in memory or on disk (NIB_COPY_TMPFS_MAX=0), and a cache hit on another
# base.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

if ! command -v jq >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv and jq" "COPY into scratch through tmpfs"
	finish
	exit
fi

C=$T/ctx
mkdir -p "$C/tree/sub/deeper" "$C/tree/empty"
echo one >"$C/tree/one.txt"
printf 'x%.0s' $(seq 1 5000) >"$C/tree/sub/big.txt"
echo run >"$C/tree/sub/deeper/tool"
chmod 4755 "$C/tree/sub/big.txt"
ln -s ../one.txt "$C/tree/sub/link"
ln "$C/tree/one.txt" "$C/tree/sub/hard.txt"
mkdir -p "$C/fast" "$C/driver" "$C/reader"
printf 'FROM scratch\nCOPY --chown=7:8 tree /app/\nCMD ["x"]\n' >"$C/fast/Containerfile"
# a WORKDIR after the COPY (no layer) makes the COPY take the driver path
printf 'FROM scratch\nCOPY --chown=7:8 tree /app/\nCMD ["x"]\nWORKDIR /\n' >"$C/driver/Containerfile"
printf 'FROM scratch\nCOPY --from=localhost/fast /app /copied/\nWORKDIR /\n' >"$C/reader/Containerfile"
# the same from another stage's rootfs (owners kept), in both paths
mkdir -p "$C/stage-fast" "$C/stage-driver"
printf 'FROM scratch AS src\nCOPY --chown=5:6 tree /t/\nFROM scratch\nCOPY --from=src /t /app/\n' >"$C/stage-fast/Containerfile"
printf 'FROM scratch AS src\nCOPY --chown=5:6 tree /t/\nFROM scratch\nCOPY --from=src /t /app/\nWORKDIR /\n' >"$C/stage-driver/Containerfile"
# --link over two different bases; base b already has /app (owner 1:1)
mkdir -p "$C/link-a" "$C/link-b"
printf 'FROM scratch\nCOPY tree/one.txt /a.txt\nCOPY --link --chown=7:8 tree /app/\nCMD ["x"]\n' >"$C/link-a/Containerfile"
printf 'FROM scratch\nCOPY --chown=1:1 tree /app/\nCOPY --link --chown=7:8 tree /app/\nCMD ["x"]\n' >"$C/link-b/Containerfile"
chmod -R a+rX "$C"
chmod 0744 "$C/tree/sub/deeper/tool"
chmod a+rwx "$C"

# nib as WHO (root, nibsub, nibplain, podsim) on the store ROOT: sets
# status/out/err; NIB_ENV ("NAME=VALUE ...") goes to nib's environment
nib_as() { # WHO ROOT ARGS...
	local who=$1 root=$2
	shift 2
	case $who in
	root) run env ${NIB_ENV:-} "$NIB" --root "$root" "$@" ;;
	podsim) run podsim sh -c 'exec env '"${NIB_ENV:-}"' "$NIB" "$@"' nib --root "$root" "$@" ;;
	*) run as_user "$who" sh -c 'exec env '"${NIB_ENV:-}"' "$NIB" "$@"' nib --root "$root" "$@" ;;
	esac
}

inspect() { # ROOT REF JQ
	"$NIB" --root "$1" inspect --json "$2" | jq -r "$3"
}

declare -A FAST
for who in root nibsub nibplain podsim; do
	if [ "$who" = podsim ] && ! podsim_available; then
		t "podsim: COPY into scratch"
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	case $who in
	root) r=$T/r-root && mkdir -p "$r" ;;
	podsim) r=$(podsim_dir r-pod) ;;
	*) r=$(user_dir "$who" "r-$who") ;;
	esac

	t "$who: a last COPY into scratch gives the layer the storage driver gives"
	nib_as "$who" "$r" build -q --timestamp 1700000000 -t localhost/fast -f "$C/fast/Containerfile" "$C"
	assert_status 0
	fast=$(inspect "$r" localhost/fast '.Manifest.layers[0].digest')
	diff_id=$(inspect "$r" localhost/fast '.Config.rootfs.diff_ids[0]')
	assert_match "$fast" '^sha256:[0-9a-f]{64}$'
	# a first layer's chain ID is its DiffID: no folder holds its files
	assert_eq "$(ls -d "$r"/nib/layers/*/"${diff_id#sha256:}" 2>/dev/null | wc -l)" 0
	nib_as "$who" "$r" build -q --timestamp 1700000000 -t localhost/driver -f "$C/driver/Containerfile" "$C"
	assert_status 0
	assert_eq "$(inspect "$r" localhost/driver '.Manifest.layers[0].digest')" "$fast"
	FAST[$who]=$fast
	list=$(tar tzvf "$r/blobs/sha256/${fast#sha256:}" | awk '{print $1, $2, $6, $7, $8, $9}')
	assert_match "$list" 'drwxr-xr-x 7/8 app/ '
	assert_match "$list" '-rwsr-xr-x 7/8 app/sub/big.txt'
	assert_match "$list" '-rwxr--r-- 7/8 app/sub/deeper/tool'
	assert_match "$list" 'hrw-r--r-- 7/8 app/sub/hard.txt link to app/one.txt|hrw-r--r-- 7/8 app/one.txt link to app/sub/hard.txt'
	assert_match "$list" 'lrwxrwxrwx 7/8 app/sub/link -> ../one.txt'

	t "$who: COPY --from a stage into scratch: the same layer in both paths"
	nib_as "$who" "$r" build -q --timestamp 1700000000 -t localhost/sfast -f "$C/stage-fast/Containerfile" "$C"
	assert_status 0
	nib_as "$who" "$r" build -q --timestamp 1700000000 -t localhost/sdriver -f "$C/stage-driver/Containerfile" "$C"
	assert_status 0
	sfast=$(inspect "$r" localhost/sfast '.Manifest.layers[0].digest')
	assert_eq "$(inspect "$r" localhost/sdriver '.Manifest.layers[0].digest')" "$sfast"
	list=$(tar tzvf "$r/blobs/sha256/${sfast#sha256:}" | awk '{print $1, $2, $6}')
	assert_match "$list" '-rwsr-xr-x 5/6 app/sub/big.txt'

	t "$who: its files are extracted when read (COPY --from the image)"
	nib_as "$who" "$r" build -q --timestamp 1700000000 -t localhost/reader -f "$C/reader/Containerfile" "$C"
	assert_status 0
	got=$(tar tzvf "$r/blobs/sha256/$(inspect "$r" localhost/reader '.Manifest.layers[0].digest' | cut -d: -f2)" | awk '{print $1, $2, $6}')
	assert_match "$got" '-rwsr-xr-x 7/8 copied/sub/big.txt'
	assert_match "$got" '-rwxr--r-- 7/8 copied/sub/deeper/tool'

	t "$who: COPY --link: the layer a COPY into scratch gives, on any base, a cache hit on another"
	nib_as "$who" "$r" build --timestamp 1700000000 -t localhost/link-a -f "$C/link-a/Containerfile" "$C"
	assert_status 0
	assert_eq "$(inspect "$r" localhost/link-a '.Manifest.layers[-1].digest')" "$fast"
	assert_eq "$(inspect "$r" localhost/link-a '.Manifest.layers | length')" 2
	nib_as "$who" "$r" build --timestamp 1700000000 -t localhost/link-b -f "$C/link-b/Containerfile" "$C"
	assert_status 0
	assert_eq "$(inspect "$r" localhost/link-b '.Manifest.layers[-1].digest')" "$fast"
	assert_eq "$(printf '%s\n' "$out" | grep -A1 'COPY --link' | tail -n 1 | cut -c1-15)" "--> Using cache" \
		"the --link step of another base hits the cache"

	t "$who: COPY --link on disk (NIB_COPY_TMPFS_MAX=0): the same layer, nothing left behind"
	NIB_ENV=NIB_COPY_TMPFS_MAX=0 nib_as "$who" "$r" build --no-cache --timestamp 1700000000 \
		-t localhost/link-disk -f "$C/link-b/Containerfile" "$C"
	assert_status 0
	assert_eq "$(inspect "$r" localhost/link-disk '.Manifest.layers[-1].digest')" "$fast"
	assert_eq "$(ls -A "$r/nib/tmp" 2>/dev/null)" "" "nib/tmp is empty"
done

t "the layer is the same in every mode"
assert_eq "$(printf '%s\n' "${FAST[@]}" | sort -u | wc -l)" 1
finish
