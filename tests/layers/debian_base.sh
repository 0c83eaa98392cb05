#!/bin/bash
# Print the path of a cached Debian base tar (debootstrap --variant=minbase
# bookworm, numeric owners, xattrs), creating it when missing. Needs root
# and network the first time; the tar is kept under /var/tmp/nib-test-cache/.
#   tests/layers/debian_base.sh   -> /var/tmp/nib-test-cache/debian-bookworm-minbase.tar
set -eu
CACHE=${NIB_TEST_CACHE:-/var/tmp/nib-test-cache}
OUT=$CACHE/debian-bookworm-minbase.tar
MIRROR=${NIB_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"
exec 9>"$CACHE/.debian.lock"
flock 9
if [ ! -s "$OUT" ]; then
	[ "$(id -u)" = 0 ] || { echo "debian_base.sh: needs root to create $OUT" >&2; exit 1; }
	command -v debootstrap >/dev/null || { echo "debian_base.sh: debootstrap missing" >&2; exit 1; }
	tmp=$(mktemp -d "$CACHE/.debian.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	debootstrap --variant=minbase bookworm "$tmp/root" "$MIRROR" >"$tmp/log" 2>&1 ||
		{ tail -n 20 "$tmp/log" >&2; exit 1; }
	rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"* \
		"$tmp/root/dev/"* "$tmp/root/proc/"* "$tmp/root/sys/"*
	tar --numeric-owner --xattrs --xattrs-include='*' --sort=name -C "$tmp/root" -cf "$tmp/base.tar" .
	mv "$tmp/base.tar" "$OUT"
fi
echo "$OUT"
