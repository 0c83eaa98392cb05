#!/bin/bash
# No secret reaches a RUN step through /proc: a RUN greps every
# /proc/*/cmdline and /proc/*/environ it can read for the values given to
# nib as --creds, --build-arg, --secret env= and in nib's environment
# (nib blanks its argv and wipes its environment area at startup; the
# step's PID 1 shows only "nib-init"), and for a secret in the environment
# of the shell that started nib, as a CI agent's is (invisible from the
# step's own pid namespace; behind an empty mount where the pod's /proc is
# bound). A canary the RUN starts itself must be found, so the scan can
# fail. As root (kernel overlay, and fuse-overlayfs, whose daemon lives in
# the step's pid namespace), nibsub, nibplain, in the restricted-pod
# simulation and in pods whose seccomp profile leaves RUN to the ptrace
# isolation.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root root:fuse-overlayfs nibsub nibplain podsim pod:crio pod:containerd"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" $MODES
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

# the secrets (never written into a command line here: files and env)
S=$T/secrets
mkdir -p "$S"
for i in 1 2 3 4; do echo "nibS3CRET$i-$RANDOM$RANDOM" >"$S/s$i"; done
chmod -R a+rX "$S"
# The step: a canary process of its own, then every cmdline and environ
# it can read searched for the secrets (and the canary), by content; the
# patterns come from a mounted secret file, so that they are in no command
# line themselves.
C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
ARG UNRELATED=1
RUN --mount=type=secret,id=pat,target=/pat \
    env CANARY=$(tail -n 1 /pat) sleep 30 & cpid=$!; \
    sleep 1; n=0; \
    echo "pid1: $(tr '\0' ' ' 2>/dev/null </proc/1/cmdline)"; \
    for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do \
      tr '\0' '\n' 2>/dev/null <"$f" >/tmp/scan || continue; n=$((n+1)); \
      grep -q -F -f /pat /tmp/scan && echo "LEAK $f: $(grep -o -F -f /pat /tmp/scan | head -1)"; \
    done; echo "scanned $n"; kill $cpid; true
EOF
chmod -R a+rX "$C"
# the patterns: the four secrets, then the canary's value
{ cat "$S"/s1 "$S"/s2 "$S"/s3 "$S"/s4; echo "nibCANARY-$RANDOM$RANDOM"; } >"$S/pat"
CANARY=$(tail -n 1 "$S/pat")

# nib as a CI job runs it: the shell holds s4 in its environment and stays
# nib's parent; nib gets s1 and s2 on its command line and s3 in its
# environment, from files (no other process holds them)
cat >"$T/job.sh" <<'EOF'
SECRET_ENV=$(cat "$SECRETS/s3") "$NIB" build --no-cache --timestamp 1700000000 $DRIVER \
	--creds "user:$(cat "$SECRETS/s1")" --build-arg "TOKEN=$(cat "$SECRETS/s2")" \
	--secret id=pat,src="$SECRETS/pat" --secret id=env,env=SECRET_ENV "$CTX"
status=$?
exit $status
EOF
chmod a+rx "$T/job.sh"

as_who() { # WHO ROOT CMD...
	local who=$1 root=$2
	shift 2
	case $who in
	root) NIB_ROOT=$root "$@" ;;
	root:*) NIB_ROOT=$root DRIVER="--storage-driver ${who#root:}" "$@" ;;
	podsim) NIB_ROOT=$root podsim "$@" ;;
	pod:*) NIB_ROOT=$root PODSIM_SECCOMP=${who#pod:} podsim "$@" ;;
	*) NIB_ROOT=$root as_user "$who" "$@" ;;
	esac
}

for who in $MODES; do
	t "$who: a RUN finds no secret in any /proc/*/cmdline or environ"
	case $who in
	pod:*)
		if ! podsim_available || ! podsim_profiles | grep -qx "${who#pod:}"; then
			skip "needs unshare, setpriv and the seccomp profile ${who#pod:}"
			continue
		fi
		;;
	esac
	case $who in
	root*) root=$T/r-${who/:/-} ;;
	pod*) root=$(podsim_dir "r-${who/:/-}") ;;
	*) root=$(user_dir "$who" "r-$who") ;;
	esac
	run as_who "$who" "$root" env SECRETS="$S" CTX="$C" CI_TOKEN="$(cat "$S/s4")" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest && sh '$T/job.sh'"
	assert_status 0
	assert_match "$out" "LEAK /proc/[0-9]+/environ: $CANARY" "the canary (the scan finds what it can read)"
	assert_match "$out" 'scanned [1-9]'
	leaks=$(printf '%s\n' "$out" | grep '^LEAK' | grep -v -F "$CANARY")
	case $who in
	pod:*)
		# the ptrace isolation shares the pod's processes: nib's own are
		# clean, the shell that started it is not (docs/security.md)
		assert_eq "$(printf '%s\n' "$leaks" | grep -v -F "$(cat "$S/s4")")" "" "secrets of nib's own"
		;;
	*)
		assert_eq "$leaks" "" "secrets readable by the step"
		;;
	esac
	case $who in
	root* | nibsub | nibplain) assert_match "$out" 'pid1: nib-init *$' ;;
	podsim) assert_match "$out" 'pid1: *$' "the pod's PID 1 is hidden" ;;
	esac
	# and nib's own command line, seen from outside
	assert_no_match "$out" "$(cat "$S/s1")"
done

t "nib's command line and environment show no secret to other processes of the host"
sleep_ctx=$T/ctx-sleep
mkdir -p "$sleep_ctx"
printf 'FROM localhost/busybox:latest\nRUN sleep 3\n' >"$sleep_ctx/Containerfile"
NIB_ROOT=$T/r-root SECRET_ENV=$(cat "$S/s3") "$NIB" build --no-cache --creds "user:$(cat "$S/s1")" \
	--build-arg "TOKEN=$(cat "$S/s2")" --secret id=env,env=SECRET_ENV "$sleep_ctx" >/dev/null 2>&1 &
pid=$!
sleep 1.5
seen=""
for p in $pid $(pgrep -P "$pid") $(pgrep -f "nib-init"); do
	seen+=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; tr '\0' ' ' <"/proc/$p/environ" 2>/dev/null)
done
wait "$pid"
assert_match "$seen" "--creds x+ --build-arg TOKEN=x+ --secret x+"
for i in 1 2 3; do assert_no_match "$seen" "$(cat "$S/s$i")" "secret $i"; done

finish
