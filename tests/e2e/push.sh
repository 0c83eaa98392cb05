#!/bin/bash
# Images nib builds, pushed to a registry (Debian's docker-registry on
# loopback): skopeo inspects them, umoci unpacks them, and what comes back
# is the image that was built. A registry refusing the push gives one line
# naming the reference, exit 1, and the store keeps its images.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"
. "$NIB_SRC/tests/lib/registry.sh"

MODES=(root nibplain pod)
CASES=(copy-chown multistage-chain)
NAMES=()
for m in "${MODES[@]}"; do
	for c in "${CASES[@]}"; do NAMES+=("[$m] $c: pushed, inspected, unpacked"); done
done
NAMES+=("build --push pushes every tag" "a registry refusing the push: one line naming the reference, exit 1")

if ! e2e_init; then
	skip_cases "$E2E_SKIP" "${NAMES[@]}"
	finish
	exit
fi
if ! registry_start plain; then
	skip_cases "docker-registry could not start" "${NAMES[@]}"
	finish
	exit
fi

for m in "${MODES[@]}"; do
	for c in "${CASES[@]}"; do
		t "[$m] $c: pushed, inspected, unpacked"
		e2e_prepare "$c"
		e2e_build "$m" auto "$c"
		assert_status 0 "build"
		[ "$status" = 0 ] || continue
		dest=$REG/e2e/$c-$m:1
		e2e_nib "$m" --root "$E2E_ROOT" push --tls-verify=false "localhost/e2e-$c" "$dest"
		assert_status 0 "push"
		run skopeo inspect --tls-verify=false "docker://$dest"
		assert_status 0 "skopeo inspect"
		assert_match "$out" '"Layers"'
		rm -rf "$T/pulled" "$T/bundle"
		run skopeo copy -q --src-tls-verify=false "docker://$dest" "oci:$T/pulled:x"
		assert_status 0 "skopeo copy back"
		run umoci unpack --rootless --image "$T/pulled:x" "$T/bundle"
		assert_status 0 "umoci unpack"
		[ -d "$T/bundle/rootfs/bin" ] || fail "umoci's rootfs has no /bin"
		img_report "oci:$T/pulled:x" "$T/pulled.json" &&
			img_report "oci:$E2E_ROOT:localhost/e2e-$c:latest" "$T/local.json" &&
			img_compare "$T/pulled.json" "$T/local.json" >"$T/.cmp" ||
			fail "the pushed image differs from the stored one: $(head -n 20 "$T/.cmp")"
	done
done

t "build --push pushes every tag"
e2e_prepare copy-chmod
pushd "$T/cases/copy-chmod" >/dev/null
e2e_nib root --root "$E2E_ROOT" build --push --tls-verify=false -t "$REG/e2e/tags:a" -t "$REG/e2e/tags:b" .
popd >/dev/null
assert_status 0
e2e_build root auto copy-chmod
for tag in a b; do
	run skopeo inspect --tls-verify=false "docker://$REG/e2e/tags:$tag"
	assert_status 0 "tag $tag in the registry"
done

t "a registry refusing the push: one line naming the reference, exit 1"
before=$(_e2e_refs "$E2E_ROOT")
REG_OPEN=$REG
registry_start basic
e2e_nib root --root "$E2E_ROOT" push --tls-verify=false localhost/e2e-copy-chmod "$REG/e2e/refused:1"
assert_status 1
line=$(printf '%s\n' "$err" | grep -E '^nib: error' || true)
assert_lines "$line" 1
assert_match "$line" "$REG/e2e/refused"
assert_eq "$(_e2e_refs "$E2E_ROOT")" "$before" "the store's images are unchanged"
e2e_nib root --root "$E2E_ROOT" push --tls-verify=false localhost/e2e-copy-chmod "$REG_OPEN/e2e/after-refusal:1"
assert_status 0 "the store still pushes"
finish
