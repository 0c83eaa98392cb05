#!/bin/bash
# run.sh: long 1
# kill -9 of nib at random points of a build (COPY of a large file and a
# RUN), a pull and a push, with a registry on loopback: afterwards the store
# lists the images it had, every blob in it matches its digest, the next
# build gives the same --timestamp image as a store that was never
# interrupted, the interrupted command itself succeeds when run again, and
# `nib prune` accepts the store and leaves no work folder. As root, as a
# user with a subuid range and in the restricted-pod simulation.
# NIB_KILL_POINTS (default 4) kill points per command and mode; the points
# are drawn from $RANDOM (seed printed) across the command's own duration.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh"

MODES=(root nibsub pod)
OPS=(build pull push)
POINTS=${NIB_KILL_POINTS:-4}
names() { for m in "${MODES[@]}"; do for o in "${OPS[@]}"; do
	echo "$m: kill -9 during $o leaves a store every command accepts"
done; done; }
if ! users_setup || ! podsim_available || ! command -v docker-registry >/dev/null ||
	! command -v skopeo >/dev/null || ! command -v jq >/dev/null; then
	mapfile -t all < <(names)
	skip_cases "needs root, setpriv, unshare, docker-registry, skopeo and jq (make deps)" "${all[@]}"
	finish
	exit
fi
SEED=${NIB_KILL_SEED:-$$}
RANDOM=$SEED
echo "kill points drawn with seed $SEED (NIB_KILL_SEED)"

IMAGE_BIG_KB=8192 make_image "$T/img" v1 3 kill
IMAGE_BIG_KB=8192 make_image "$T/other" v1 3 other
registry_start plain || fail "docker-registry did not start"
skopeo_push "$T/img:v1" k/base:v1
skopeo_push "$T/other:v1" k/other:v1
CTX=$T/ctx
mkdir -p "$CTX"
head -c $((24 << 20)) /dev/urandom >"$CTX/big"
printf 'FROM %s/k/base:v1\nCOPY big /big\nRUN cat /big /big >/big2 && rm /big2 && echo done\n' \
	"$REG" >"$CTX/Containerfile"
printf 'FROM %s/k/base:v1\nRUN echo next >/next\n' "$REG" >"$CTX/next.Containerfile"
chmod -R a+rX "$CTX"

nib_cmd() { # ARGS...: nib as the mode's user
	case $mode in
	root) timeout 300 "$NIB" --root "$S" "$@" ;;
	nibsub) as_user nibsub timeout 300 "$T/bin/nib" --root "$S" "$@" ;;
	pod) podsim timeout 300 "$T/bin/nib" --root "$S" "$@" ;;
	esac
}
nib_as() { # ARGS...
	run nib_cmd "$@"
}
op_args() { # OP N: the command line of one attempt
	case $1 in
	build) echo "build -q --no-cache --timestamp 0 --tls-verify=false -t localhost/killed $CTX" ;;
	pull) echo "pull -q --tls-verify=false $REG/k/other:v1" ;;
	push) echo "push -q --tls-verify=false localhost/pushme $REG/k/push-$mode-$2:v1" ;;
	esac
}
# Before a pull attempt, the pulled image and its blobs must be gone, or
# there is nothing left to interrupt.
op_prepare() { # OP
	if [ "$1" = pull ]; then
		nib_as rmi "$REG/k/other:v1"
		nib_as prune
	fi
}
blobs_ok() { # every blob in the store has the content its name says
	local f bad=""
	for f in "$S"/blobs/sha256/*; do
		[ -f "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "${f##*/}" ] || bad+=" ${f##*/}"
	done
	[ -z "$bad" ] || fail "blobs whose content does not match their name:$bad"
}
refs() { # the store's images, one "NAME ID" a line
	nib_as images --json
	jq -r '.[] | "\(.names // [] | join(",")) \(.id)"' <<<"$out" 2>/dev/null | sort
}

# the image an uninterrupted store gives
mode=root
S=$T/store-clean
nib_as build -q --timestamp 0 --tls-verify=false -t localhost/killed "$CTX"
[ "$status" = 0 ] || fail "the reference build failed: $err"
nib_as inspect --json localhost/killed
WANT=$(jq -r .ImageID <<<"$out")
nib_as build -q --timestamp 0 --tls-verify=false -f "$CTX/next.Containerfile" -t localhost/next "$CTX"
nib_as inspect --json localhost/next
WANT_NEXT=$(jq -r .ImageID <<<"$out")

for mode in "${MODES[@]}"; do
	case $mode in
	root) S=$T/store-root ;;
	nibsub) S=$(user_dir nibsub store-sub) ;;
	pod) S=$(podsim_dir store-pod) ;;
	esac
	# what every attempt must leave: the tagged image to push, and a kept one
	nib_as pull -q --tls-verify=false "$REG/k/base:v1"
	nib_as tag "$REG/k/base:v1" localhost/kept
	nib_as tag "$REG/k/base:v1" localhost/pushme
	for op in "${OPS[@]}"; do
		t "$mode: kill -9 during $op leaves a store every command accepts"
		# how long one attempt takes, to spread the kill points over it
		op_prepare "$op"
		start=$(date +%s%N)
		# shellcheck disable=SC2046
		nib_as $(op_args "$op" 0)
		assert_status 0 "an uninterrupted $op"
		took=$((($(date +%s%N) - start) / 1000000))
		before=$(refs)
		killed=0
		for ((i = 1; i <= POINTS; i++)); do
			op_prepare "$op"
			if [ "$op" = pull ]; then
				before=$(refs)
				# a kill after the pull's last write leaves the pulled image
				nib_cmd pull -q --tls-verify=false "$REG/k/other:v1" >/dev/null 2>&1
				after=$(refs)
				op_prepare pull
			fi
			delay=$((RANDOM % (took > 50 ? took : 50)))
			# none landed yet (the machine sped up): the last one early
			[ "$i" = "$POINTS" ] && [ "$killed" = 0 ] && delay=$((took / 10))
			# shellcheck disable=SC2046
			nib_cmd $(op_args "$op" "$i") >"$T/kill.log" 2>&1 &
			bg=$!
			sleep "$(printf '0.%03d' $((delay % 1000)))"
			sleep $((delay / 1000))
			pkill -KILL -f -- "nib --root $S " 2>/dev/null
			wait "$bg" 2>/dev/null
			rc=$?
			echo "  $op: kill -9 at ${delay} ms of ${took} ms: exit $rc"
			[ "$rc" = 0 ] || killed=$((killed + 1))
			# no nib of this store survives
			for ((w = 0; w < 50; w++)); do
				pgrep -f -- "nib --root $S " >/dev/null || break
				sleep 0.1
			done
			[ "$w" -lt 50 ] ||
				fail "nib processes survived kill -9 ($op, ${delay} ms): $(pgrep -a -f -- "nib --root $S ")"
			nib_as images
			assert_status 0 "nib images after kill -9 at ${delay} ms of $op"
			now=$(refs)
			if [ "$now" != "$before" ] && [ "$op" != pull -o "$now" != "$after" ]; then
				fail "the store's images after kill -9 at ${delay} ms of $op: '$now', expected '$before'"
			fi
			nib_as inspect --json localhost/kept
			assert_status 0 "an earlier image after kill -9 at ${delay} ms of $op"
			blobs_ok
		done
		[ "$killed" -gt 0 ] || fail "no kill point of $op landed before the command ended"
		# the command itself, run again, completes
		op_prepare "$op"
		# shellcheck disable=SC2046
		nib_as $(op_args "$op" again)
		assert_status 0 "$op again after the kills"
		if [ "$op" = build ]; then
			nib_as inspect --json localhost/killed
			assert_eq "$(jq -r .ImageID <<<"$out")" "$WANT" "the build after the kills"
		fi
		# the next build gives what a clean store gives
		nib_as build -q --timestamp 0 --tls-verify=false -f "$CTX/next.Containerfile" \
			-t localhost/next "$CTX"
		assert_status 0 "the next build after the kills"
		nib_as inspect --json localhost/next
		assert_eq "$(jq -r .ImageID <<<"$out")" "$WANT_NEXT" "the next build after the kills"
		nib_as prune
		assert_status 0 "nib prune after the kills"
		left=$(find "$S/nib/tmp" -mindepth 1 -maxdepth 1 2>/dev/null)
		if [ -n "$left" ]; then
			holders=$(find /proc/[0-9]*/fd -lname "$S/nib/gc.lock" 2>/dev/null |
				cut -d/ -f3 | sort -u | while read -r p; do ps -o pid=,args= -p "$p"; done)
			fail "work folders left after nib prune ($out $err): $left; gc.lock held by: $holders"
		fi
		blobs_ok
	done
done
finish
