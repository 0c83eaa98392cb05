#!/bin/bash
# run.sh: long 20
# The acceptance suite: every case in tests/e2e/cases built by nib as root,
# as a user without a subuid range (a single UID) and in the restricted-pod
# simulation with no seccomp profile and under each real one (containers-
# common's, CRI-O's, containerd's), and in a pod runc makes from nib's own
# image under the same three profiles, each compared with buildah's build of
# the same case
# (tests/e2e/README.md). The full mode x storage-driver matrix runs on a
# subset in matrix.sh.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"

MODES=(${E2E_MODES:-root nibplain pod pod-cc pod-crio pod-cd runc-cc runc-crio runc-cd})
mapfile -t PROFILES < <(podsim_profiles)
mapfile -t CASES < <(e2e_cases)

if ! e2e_init; then
	for m in "${MODES[@]}"; do
		for c in "${CASES[@]}"; do
			t "[$m] $c"
			skip "$E2E_SKIP"
		done
	done
	finish
	exit
fi

for c in "${CASES[@]}"; do
	[ -n "${E2E_ONLY:-}" ] && ! [[ $c =~ $E2E_ONLY ]] && continue
	for m in "${MODES[@]}"; do
		t "[$m] $c: $(e2e_title "$c")"
		if p=$(e2e_pod_profile "$m") && ! [[ " ${PROFILES[*]} " == *" $p "* ]]; then
			skip "seccomp profile $p is not installed here (make deps)"
			continue
		fi
		if [[ $m == runc-* ]] && ! runcpod_init; then
			skip "runc pod: $RUNCPOD_SKIP"
			continue
		fi
		s0=$(date +%s.%N)
		e2e_check "$m" auto "$c"
		printf '  time [%s] %s: %.1fs\n' "$m" "$c" "$(echo "$(date +%s.%N) - $s0" | bc)"
	done
done
finish
