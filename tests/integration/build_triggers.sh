#!/bin/bash
# A base image's ONBUILD triggers are checked again when they run, as Docker
# does: `ONBUILD ONBUILD ...`, `ONBUILD FROM` and `ONBUILD MAINTAINER` (which
# a Containerfile cannot write, but an image config can hold) and a trigger
# that is not exactly one instruction are refused with the FROM line; a plain
# trigger still runs. As root, as a user without a subuid range and in the
# restricted-pod simulation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES=(root nibplain pod)
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup || ! podsim_available; then
	skip_cases "needs root, setpriv, unshare, a static busybox and skopeo" "${MODES[@]/%/: hostile ONBUILD triggers}"
	finish
	exit
fi

# name|OnBuild list (JSON)|expected error
CASES=(
	'nested|["ONBUILD RUN echo nested"]|Chaining ONBUILD via `ONBUILD ONBUILD` isn.t allowed'
	'nested-lower|["onbuild copy . /x"]|Chaining ONBUILD'
	'from|["FROM busybox"]|FROM isn.t allowed as an ONBUILD trigger'
	'maintainer|["MAINTAINER evil"]|MAINTAINER isn.t allowed as an ONBUILD trigger'
	'two|["RUN true\nRUN true"]|a trigger must be exactly one instruction, not 2'
	'empty|[""]|a trigger must be exactly one instruction, not 0'
	'after-good|["ENV GOOD=1","MAINTAINER evil"]|MAINTAINER isn.t allowed'
)
i=0
for c in "${CASES[@]}" 'good|["ENV TRIGGERED=yes"]|'; do
	IFS='|' read -r name list _ <<<"$c"
	i=$((i + 1))
	make_busybox_layout "$T/layout-$name" "$name" "$i" "\"OnBuild\":$list"
done
mkdir -p "$T/ctx"
printf 'FROM localhost/onbuild-base:%s\nENV CHILD=1\n' nested >"$T/ctx/Containerfile"
chmod -R a+rX "$T/ctx" "$T"/layout-*

store() { # MODE: a store with every base, owned by the mode's user
	local dir owner
	case $1 in
	root) dir=$T/root-store owner=0:0 ;;
	nibplain) dir=$(user_dir nibplain plain-store) owner=nibplain: ;;
	pod) dir=$(podsim_dir pod-store) owner=$PODSIM_UID:$PODSIM_GID ;;
	esac
	mkdir -p "$dir"
	for c in "${CASES[@]}" 'good||'; do
		IFS='|' read -r name _ <<<"$c"
		skopeo copy -q "oci:$T/layout-$name:$name" "oci:$dir:localhost/onbuild-base:$name" >/dev/null ||
			return 1
	done
	chown -R "$owner" "$dir"
	echo "$dir"
}

nib_as() { # MODE ARGS...
	local mode=$1
	shift
	case $mode in
	root) run "$NIB" "$@" ;;
	nibplain) run as_user nibplain "$T/bin/nib" "$@" ;;
	pod) run podsim "$T/bin/nib" "$@" ;;
	esac
}

for mode in "${MODES[@]}"; do
	t "$mode: hostile ONBUILD triggers"
	S=$(store "$mode") || {
		fail "could not fill the store"
		continue
	}
	for c in "${CASES[@]}"; do
		IFS='|' read -r name _ want <<<"$c"
		f=$T/ctx/Containerfile.$name
		printf 'FROM localhost/onbuild-base:%s\nENV CHILD=1\n' "$name" >"$f"
		chmod a+r "$f"
		nib_as "$mode" --root "$S" build -q -f "$f" -t "localhost/child-$name" "$T/ctx"
		assert_status 2 "$name"
		assert_match "$err" "^nib: error: $f:1: ONBUILD trigger of the base image: ONBUILD:2:[0-9]+: $want" "$name"
		nib_as "$mode" --root "$S" inspect "localhost/child-$name"
		assert_status 1 "$name: a refused build left an image"
	done
	t "$mode: a plain ONBUILD trigger still runs"
	f=$T/ctx/Containerfile.good
	printf 'FROM localhost/onbuild-base:good\nENV CHILD=1\n' >"$f"
	chmod a+r "$f"
	nib_as "$mode" --root "$S" build -q -f "$f" -t localhost/child-good "$T/ctx"
	assert_status 0
	nib_as "$mode" --root "$S" inspect --json localhost/child-good
	assert_match "$out" '"TRIGGERED=yes"'
	assert_no_match "$out" '"OnBuild": *\['
done
finish
