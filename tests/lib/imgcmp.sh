# Image reports and their comparison (tests/lib/imgreport.py). Source after
# tests/lib.sh.
#
#   img_report SRC OUT          OUT: the JSON report of SRC (oci:DIR[:REF],
#                               docker-archive:FILE, dir:DIR or a path)
#   img_compare A B [OPTS...]   print the differences between reports A and
#                               B (see imgreport.py compare); status 1 when
#                               they differ
#   img_get REPORT KEY          a config key (JSON) or, for /PATH, the entry
#                               of that path in the merged tree
#   img_show REPORT             a readable listing
#   img_buildah_report IMAGE OUT  (with BUILDAH set by tests/lib/bases.sh)
#                               push IMAGE as a docker-archive and report it

IMGREPORT=${IMGREPORT:-$NIB_SRC/tests/lib/imgreport.py}

img_report() { python3 "$IMGREPORT" report "$1" -o "$2"; }
img_compare() { python3 "$IMGREPORT" compare "$@"; }
img_get() { python3 "$IMGREPORT" get "$1" "$2"; }
img_show() { python3 "$IMGREPORT" show "$1"; }

img_buildah_report() { # IMAGE OUT
	local tmp rc
	tmp=$(mktemp -u "$T/.bah-archive.XXXXXX")
	"${BUILDAH[@]}" push -q "$1" "docker-archive:$tmp:$1:latest" >/dev/null || return 1
	img_report "docker-archive:$tmp" "$2"
	rc=$?
	rm -f "$tmp"
	return $rc
}
