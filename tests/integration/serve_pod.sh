#!/bin/bash
# nib serve in the restricted-pod simulation (UID 1000590000, no
# capabilities, containerd's RuntimeDefault seccomp profile: no user
# namespace can be made). Builds without RUN work; RUN would need the
# ptrace isolation, which is no security boundary: the service refuses it
# (the build fails naming the refused call) unless --allow-ptrace (with
# --build-network host: ptrace cannot make a network namespace).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("a build without RUN succeeds in the pod"
	"RUN is refused: the ptrace isolation is not used for service builds"
	"with --allow-ptrace RUN goes through the ptrace isolation")

if ! podsim_available || [ ! -x /bin/busybox ] || ! command -v jq >/dev/null ||
	! podsim_profiles | grep -qx containerd; then
	skip_cases "needs root, unshare, setpriv, busybox, jq and moby's seccomp profile" "${CASES[@]}"
	finish
	exit
fi
users_setup || {
	skip_cases "the test users could not be made" "${CASES[@]}"
	finish
	exit
}
export SERVE_POD=containerd
serve_start pod --build-timeout 120 || {
	skip_cases "nib serve did not start in the pod: $(cat "$SERVE_LOG")" "${CASES[@]}"
	finish
	exit
}
mkdir -p "$T/ctx"
cp /bin/busybox "$T/ctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nLABEL where=pod\n' >"$T/ctx/Containerfile"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "echo", "ran-in-pod"]\n' >"$T/ctx/Run.cf"

submit() { # SPEC
	api POST /v1/builds -H 'Content-Type: application/x-tar' -H "Nib-Build-Spec: $1" \
		--data-binary @<(tar_of "$T/ctx")
	id=$(echo "$body" | jq -r .id)
}

t "a build without RUN succeeds in the pod"
submit '{}'
assert_eq "$code" 201
assert_eq "$(wait_build "$id")" succeeded
assert_eq "$(stat -c %u "$SERVE_STATE/tenants/default/root")" "$PODSIM_UID"

t "RUN is refused: the ptrace isolation is not used for service builds"
submit '{"file":"Run.cf"}'
assert_eq "$(wait_build "$id")" failed
api GET "/v1/builds/$id"
assert_match "$(echo "$body" | jq -r .error)" 'namespace'
api GET "/v1/builds/$id/log"
assert_no_match "$body" '^ran-in-pod$'

t "with --allow-ptrace RUN goes through the ptrace isolation"
serve_stop TERM
serve_start pod --build-timeout 120 --allow-ptrace --build-network host || fail "nib serve did not restart"
submit '{"file":"Run.cf"}'
assert_eq "$(wait_build "$id")" succeeded
api GET "/v1/builds/$id/log"
assert_match "$body" '^ran-in-pod$'
serve_stop TERM

finish
