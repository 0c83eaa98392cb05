# nib's own image (deploy/Containerfile), built by nib from a clean clone of
# this checkout with a debootstrap Debian as BASE (tests/lib/bases.sh), for
# the tests that run nib as a container does. Source after tests/lib.sh and
# tests/lib/bases.sh.
#
#   nib_image_key            print the cache key: the tree of the checkout's
#                            tracked files as they are in the work tree, the
#                            Debian base and NIB_IMAGE_VERSION
#   nib_image_build STORE OUT
#                            clone the checkout into $T (tracked files, with
#                            uncommitted changes applied), build it into
#                            nib's store STORE as localhost/nib:test and write
#                            an OCI layout at OUT (image "nib"); sets
#                            NIB_IMAGE_SECONDS (the build's duration) and
#                            NIB_IMAGE_CLONE (the clone)
#   nib_image                set NIB_IMAGE_OCI to the cached OCI layout
#                            (image "nib") for this checkout, building it
#                            first when the cache lacks it
#   nib_image_cache OUT      copy the layout at OUT into the cache (if absent)
#
# The cache lives under $NIB_TEST_CACHE (default /var/tmp/nib-test-cache)
# as nib-image-KEY/oci. The build needs root, git, skopeo, the Debian base
# (made with debootstrap the first time) and the Debian mirror for the
# build stage's apt-get. Each function returns non-zero with a reason on
# stderr when it cannot.

NIB_IMAGE_VERSION=1

nib_image_key() {
	local idx tree base
	idx=$(mktemp "${T:-/tmp}/.nib-image-index.XXXXXX")
	# a private index: the work tree's tracked files, the real index untouched
	tree=$(GIT_INDEX_FILE=$idx git -C "$NIB_SRC" read-tree HEAD &&
		GIT_INDEX_FILE=$idx git -C "$NIB_SRC" add -u &&
		GIT_INDEX_FILE=$idx git -C "$NIB_SRC" write-tree)
	local rc=$?
	rm -f "$idx"
	[ "$rc" = 0 ] && [ -n "$tree" ] || { echo "nib_image: $NIB_SRC is not a git checkout" >&2; return 1; }
	bases_debian >/dev/null || return 1
	base=$(basename "$(dirname "$DEB_OCI")")
	printf '%s %s %s' "$tree" "$base" "$NIB_IMAGE_VERSION" | sha256sum | cut -c1-16
}

# _nib_image_tree DIR: the tree of DIR's tracked files as in its work tree
_nib_image_tree() {
	local idx tree
	idx=$(mktemp "${T:-/tmp}/.nib-image-index.XXXXXX")
	tree=$(GIT_INDEX_FILE=$idx git -C "$1" read-tree HEAD &&
		GIT_INDEX_FILE=$idx git -C "$1" add -u && GIT_INDEX_FILE=$idx git -C "$1" write-tree)
	rm -f "$idx"
	echo "$tree"
}

nib_image_build() { # STORE OUT
	local store=$1 out=$2 clone start
	command -v git >/dev/null || { echo "nib_image: git is not installed" >&2; return 1; }
	bases_debian || return 1
	clone=$(mktemp -d "$T/nib-clone.XXXXXX")
	rmdir "$clone"
	git clone -q "$NIB_SRC" "$clone" &&
		git -C "$clone" checkout -q --detach "$(git -C "$NIB_SRC" rev-parse HEAD)" || {
		echo "nib_image: cannot clone $NIB_SRC" >&2
		return 1
	}
	# what is not committed yet goes in too: the image is this checkout's
	if ! git -C "$NIB_SRC" diff --quiet HEAD; then
		git -C "$NIB_SRC" diff --binary HEAD | git -C "$clone" apply --whitespace=nowarn || {
			echo "nib_image: cannot apply the checkout's changes to the clone" >&2
			return 1
		}
	fi
	NIB_IMAGE_CLONE=$clone
	export NIB_IMAGE_CLONE
	mkdir -p "$store"
	skopeo copy -q "oci:$DEB_OCI:debian" "oci:$store:localhost/debian:latest" >/dev/null || {
		echo "nib_image: cannot load the Debian base into $store" >&2
		return 1
	}
	start=$(date +%s)
	(cd "$clone" && "$NIB" --root "$store" build -q -f deploy/Containerfile \
		--build-arg BASE=localhost/debian:latest -t localhost/nib:test .) >"$T/nib-image-build.log" 2>&1 || {
		echo "nib_image: nib build -f deploy/Containerfile failed:" >&2
		tail -n 30 "$T/nib-image-build.log" >&2
		return 1
	}
	NIB_IMAGE_SECONDS=$(($(date +%s) - start))
	export NIB_IMAGE_SECONDS
	rm -rf "$out"
	"$NIB" --root "$store" push -q localhost/nib:test "oci:$out:nib" >/dev/null || {
		echo "nib_image: cannot write the OCI layout $out" >&2
		return 1
	}
}

nib_image_cache() { # OUT
	local key dir tmp
	key=$(nib_image_key) || return 1
	dir=$NIB_TEST_CACHE/nib-image-$key
	[ -e "$dir/.done" ] && return 0
	mkdir -p "$NIB_TEST_CACHE"
	tmp=$(mktemp -d "$NIB_TEST_CACHE/.nib-image.XXXXXX")
	cp -a "$1" "$tmp/oci" && chmod -R a+rX "$tmp" && touch "$tmp/.done" || {
		rm -rf "$tmp"
		return 1
	}
	(
		flock 9
		if [ -e "$dir/.done" ]; then
			rm -rf "$tmp"
		else
			rm -rf "$dir"
			mv "$tmp" "$dir"
		fi
	) 9>"$NIB_TEST_CACHE/.nib-image.lock"
}

nib_image() {
	local key dir store
	key=$(nib_image_key) || return 1
	dir=$NIB_TEST_CACHE/nib-image-$key
	NIB_IMAGE_OCI=$dir/oci
	export NIB_IMAGE_OCI
	[ -e "$dir/.done" ] && return 0
	store=$(mktemp -d "$T/nib-image-store.XXXXXX")
	nib_image_build "$store" "$T/nib-image-oci" || return 1
	nib_image_cache "$T/nib-image-oci" || return 1
	rm -rf "$store" "$T/nib-image-oci"
}
