#!/bin/bash
# Build (and cache) buildah's reference report of every case, or of those
# matching $1, and show each one: for writing cases while nib cannot build.
#   tests/e2e/tools/refs.sh [REGEX]
. "$(dirname "$0")/../../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"
users_setup || exit 1
bases_busybox || exit 1
E2E_BUILDAH_VERSION=$(buildah --version | awk '{print $3}')
bases_buildah_init "$T/buildah"
mkdir -p "$E2E_CACHE" "$T/cases" "$T/rep"
for c in $(e2e_cases); do
	[[ $c =~ ${1:-.} ]] || continue
	[ -n "$(e2e_directive "$c" fail)" ] && continue
	e2e_prepare "$c" || { echo "$c: setup failed"; continue; }
	if ref=$(e2e_reference "$c"); then
		echo "== $c: $ref"
		t "$c: the wants hold for buildah's image"
		_e2e_wants "$c" "$ref"
		[ -n "${SHOW:-}" ] && img_show "$ref" | grep -v -- '-> /bin/busybox$'
	else
		echo "== $c: NO REFERENCE: $ref"
	fi
done
finish
