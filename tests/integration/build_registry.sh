#!/bin/bash
# nib build with a registry (Debian's docker-registry on loopback): FROM an
# image pulled when missing, --push of every tag, a refused push, and the
# registry build cache (--cache-to, then --cache-from into an empty store).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"

if ! have_static_busybox || ! command -v skopeo >/dev/null || [ "$(id -u)" != 0 ] ||
	! command -v docker-registry >/dev/null; then
	skip_cases "needs root, a static busybox, skopeo and docker-registry" "nib build registry"
	finish
	exit
fi
registry_start plain || {
	skip_cases "the registry did not start" "nib build registry"
	finish
	exit
}
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet --dest-tls-verify=false oci:"$T/fixture":bb docker://"$REG"/base/busybox:latest

C=$T/ctx
mkdir -p "$C"
echo payload >"$C/file"
cat >"$C/Containerfile" <<EOF
FROM $REG/base/busybox:latest
COPY file /file
RUN echo one > /one
ENV STEP=two
RUN echo two > /two
EOF

t "FROM an image that is not in the store pulls it; --push pushes every tag"
export NIB_ROOT=$T/root1
run "$NIB" build --tls-verify=false --push -t "$REG/app/one:v1" -t "$REG/app/two:v2" "$C"
assert_status 0
assert_match "$out" "Pulling $REG/base/busybox:latest"
run skopeo inspect --tls-verify=false docker://"$REG"/app/one:v1
assert_status 0
run skopeo inspect --tls-verify=false docker://"$REG"/app/two:v2
assert_status 0
assert_eq "$(echo "$out" | jq '.Layers | length')" 4

t "--log-format json reports push progress"
run "$NIB" --log-format json build --tls-verify=false --push -t "$REG/app/json:v1" "$C"
assert_status 0
assert_match "$out" '"event":"push_progress"'
assert_match "$out" '"event":"push".*"digest":"sha256:'

t "a refused push names the reference; the image stays in the store"
run "$NIB" build --tls-verify=false --push -t "127.0.0.1:1/nothere/app:v1" "$C"
assert_status 1
assert_match "$err" '127.0.0.1:1'
run "$NIB" inspect 127.0.0.1:1/nothere/app:v1
assert_status 0

t "--cache-to pushes each step; --cache-from in an empty store runs no step"
run "$NIB" build --no-cache --tls-verify=false --timestamp 1700000000 --cache-to "$REG/cache/app" -q "$C"
assert_status 0
first=$out
export NIB_ROOT=$T/root2
run "$NIB" build --tls-verify=false --timestamp 1700000000 --cache-from "$REG/cache/app" "$C"
assert_status 0
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 3
assert_no_match "$out" '--> Done'
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$first"

t "--cache-from keeps probing after a miss: a re-run step with the same result lets later steps hit"
# the RUN after the changed ENV misses and is run again; with --timestamp it
# gives the same layer, so the steps after it hit again
sed -i 's/^RUN echo two > \/two/RUN echo two > \/two\nRUN echo three > \/three/' "$C/Containerfile"
export NIB_ROOT=$T/root5
run "$NIB" build --no-cache --tls-verify=false --timestamp 1700000000 --cache-to "$REG/cache/probe" "$C"
assert_status 0
sed -i 's/^COPY file \/file/COPY file \/file\nRUN true/' "$C/Containerfile"
export NIB_ROOT=$T/root3
run "$NIB" build --tls-verify=false --timestamp 1700000000 --cache-from "$REG/cache/probe" "$C"
assert_status 0
# COPY hits, the new RUN true misses (no layer), the rest hits again
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 4
assert_eq "$(printf '%s\n' "$out" | grep -c -- '--> Done')" 1

t "--cache-from a repository without the keys builds normally"
export NIB_ROOT=$T/root4
run "$NIB" build --tls-verify=false --cache-from "$REG/cache/none" "$C"
assert_status 0
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 0

finish
