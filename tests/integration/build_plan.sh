#!/bin/bash
# nib build refuses what its plan can tell is wrong before the first step
# runs: a required SSH agent no --ssh gives, a bad --chmod, --checksum or
# --exclude, a secret mount without id (nor target or env= to take it from)
# or a required secret no --secret gives. Each
# fails with one error line naming FILE:LINE(:COL), exit 2 for the
# Containerfile's mistakes, and no step ran (no STEP line, no cache entry,
# no new blob), as root and as a user without a subuid range.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"

CASES=("required ssh agent missing" "bad --chmod" "bad --checksum" "--checksum of a local file" "bad --exclude"
	"secret mount without id" "required secret missing")
if ! have_static_busybox || ! command -v skopeo >/dev/null || [ "$(id -u)" != 0 ] || ! users_setup; then
	skip_cases "needs root (for the test users), a static busybox and skopeo" "${CASES[@]}"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb

# refused MODE NAME STATUS ERROR-REGEX LINE...: the Containerfile of LINEs
# after two steps that would run, built in MODE's store
refused() {
	local mode=$1 name=$2 want=$3 re=$4 c=$T/ctx-$mode root=$T/root-$mode blobs
	shift 4
	t "[$mode] $name: refused before the first step"
	rm -rf "$c"
	mkdir -p "$c"
	echo data >"$c/f.txt"
	printf 'FROM localhost/busybox:latest\nRUN touch /ran\n' >"$c/Containerfile"
	printf '%s\n' "$@" >>"$c/Containerfile"
	chmod -R a+rwX "$c"
	blobs=$(find "$root/blobs" -type f | sort)
	if [ "$mode" = root ]; then
		run "$NIB" --root "$root" build -t localhost/plan "$c"
	else
		run as_user "$mode" "$T/bin/nib" --root "$root" build -t localhost/plan "$c"
	fi
	assert_status "$want"
	line=$(printf '%s\n' "$err" | grep -E '^nib: error' || true)
	assert_lines "$line" 1
	assert_match "$line" "$re"
	assert_no_match "$out" 'STEP [0-9]' "a step ran"
	assert_eq "$(find "$root/nib/cache" -type f 2>/dev/null)" "" "a step wrote the build cache"
	assert_eq "$(find "$root/blobs" -type f | sort)" "$blobs" "a step wrote a blob"
}

for mode in root nibplain; do
	root=$T/root-$mode
	skopeo copy --quiet oci:"$T/fixture":bb oci:"$root":localhost/busybox:latest
	[ "$mode" = root ] || chown -R "$(id -u "$mode"):$(id -g "$mode")" "$root"
	refused "$mode" "${CASES[0]}" 1 '^nib: error: [^ ]*/Containerfile:3: SSH agent "default" is required but no --ssh default was given' \
		'RUN --mount=type=ssh,required git ls-remote git@example.org:x'
	refused "$mode" "${CASES[1]}" 2 '^nib: error: [^ ]*/Containerfile:3:6: COPY: invalid --chmod=rwx: not an octal or symbolic mode' \
		'COPY --chmod=rwx f.txt /f'
	refused "$mode" "${CASES[2]}" 2 '^nib: error: [^ ]*/Containerfile:3:5: ADD: invalid --checksum=sha256:abc: expected sha256:<64 hex digits>' \
		'ADD --checksum=sha256:abc https://example.org/f /f'
	refused "$mode" "${CASES[3]}" 2 '^nib: error: [^ ]*/Containerfile:3:5: ADD: checksum requires HTTP\(S\) sources: f.txt' \
		"ADD --checksum=sha256:$(printf '%064d' 0) f.txt /f"
	refused "$mode" "${CASES[4]}" 2 '^nib: error: [^ ]*/Containerfile:3:6: COPY: --exclude=\[z-: ' \
		'COPY --exclude=[z- f.txt /f'
	refused "$mode" "${CASES[5]}" 2 '^nib: error: [^ ]*/Containerfile:3:5: RUN --mount=type=secret needs id=ID' \
		'RUN --mount=type=secret cat /run/secrets/s'
	refused "$mode" "${CASES[6]}" 1 '^nib: error: [^ ]*/Containerfile:3: secret "tok" is required but no --secret id=tok was given' \
		'RUN --mount=type=secret,id=tok,required cat /run/secrets/tok'
done
finish
