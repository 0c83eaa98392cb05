#!/bin/bash
# run.sh: alone
# Limits on RUN steps: a fork bomb and a memory hog end with one clear error
# line and leave the store as it was (the next build works, no work folder
# is left), under the default limits' machinery (a delegated cgroup v2
# subtree where nib may write one, else rlimits: nib info says which), as
# root, nibsub, nibplain, in the restricted-pod simulation and under the
# ptrace isolation (no user namespace: no process limit of its own, the
# pod's applies); --step-timeout and the build's --timeout end a step that
# never finishes; bad values are usage errors.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root nibsub nibplain podsim pod:crio"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" $MODES "limits: usage"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

ctx() { # NAME RUN-LINE
	mkdir -p "$T/ctx-$1"
	printf 'FROM localhost/busybox:latest\nRUN %s\n' "$2" >"$T/ctx-$1/Containerfile"
	chmod -R a+rX "$T/ctx-$1"
	echo "$T/ctx-$1"
}
# the step's own shell forks its sleep first and then only waits (a builtin):
# it outlives the bomb, so the step ends by its timeout
BOMB=$(ctx bomb 'sleep 300 & bomb() { bomb | bomb & }; bomb; wait')
HOG=$(ctx hog 'head -c 300000000 /dev/zero | tail >/dev/null')
SLEEP=$(ctx sleep 'sleep 300')
OK=$(ctx ok 'echo fine > /fine')

build() { # WHO ROOT ARGS...
	local who=$1 root=$2
	shift 2
	run as_who "$who" "$root" sh -c "timeout 120 \"\$NIB\" build -q $*"
}

t "nib info says how RUN limits apply here"
run "$NIB" info
assert_match "$out" 'RUN limits +(cgroup v2 under /|rlimits \(pids 4096, memory [0-9]+ MiB)'
run "$NIB" info --json
assert_match "$(printf '%s' "$out" | jq -r .chosen.limits)" '^(cgroup v2|rlimits)'

t "limits: usage"
run "$NIB" build --pids-limit many "$OK"
assert_status 2
assert_match "$err" '--pids-limit many: expected a number'
run "$NIB" build --memory 12q "$OK"
assert_status 2
assert_match "$err" '--memory 12q: expected a size such as 512m or 4g'
run "$NIB" build --step-timeout soon "$OK"
assert_status 2
assert_match "$err" 'bad --step-timeout "soon"'

for who in $MODES; do
	t "$who: a fork bomb, a memory hog and steps past their timeouts end with one line; the store stays"
	why=$(mode_missing "$who")
	if [ -n "$why" ]; then
		skip "$why"
		continue
	fi
	root=$(mode_root "$who" "r-${who/:/-}")
	run as_who "$who" "$root" skopeo copy --quiet oci:"$T/fixture":bb oci:"$root":localhost/busybox:latest
	assert_status 0
	case $who in
	pod:*) ;; # no user namespace: RLIMIT_NPROC would count the pod's UID everywhere
	*)
		build "$who" "$root" --pids-limit 64 --step-timeout 8 "'$BOMB'"
		assert_status 1 "fork bomb"
		assert_lines "$(printf '%s\n' "$err" | grep '^nib: error')" 1
		assert_match "$err" "Containerfile:2: RUN sleep 300 & bomb.*: killed by signal 9: its timeout of 8s passed"
		;;
	esac
	build "$who" "$root" --memory 64m "'$HOG'"
	assert_status 1 "memory hog"
	assert_match "$err" "Containerfile:2: RUN head -c 300000000 .*(exit status 1|killed by signal 9.*memory limit)"
	assert_match "$err" "out of memory|memory limit"
	build "$who" "$root" --step-timeout 2 "'$SLEEP'"
	assert_status 1 "step timeout"
	assert_match "$err" "Containerfile:2: RUN sleep 300: killed by signal 9: its timeout of 2s passed"
	start=$(date +%s)
	build "$who" "$root" --timeout 3 "'$SLEEP'"
	assert_status 1 "build timeout"
	assert_match "$err" "^nib: error: build: not done within --timeout 3s$"
	[ $(($(date +%s) - start)) -lt 30 ] || fail "the build's --timeout did not end it"
	# the store as it was: no work folder left, and the next build works
	assert_eq "$(ls -A "$root/nib/tmp")" "" "work folders left"
	build "$who" "$root" "'$OK'"
	assert_status 0 "a build after them"
	run as_who "$who" "$root" sh -c '"$NIB" images -q'
	assert_match "$out" '^[0-9a-f]{12}'
done

finish
