#!/bin/bash
# run.sh: long 3
# The full matrix on a representative subset of tests/e2e/cases: every mode
# (root, a subuid user, a single-UID user, the restricted-pod simulation, and
# that pod under containerd's seccomp profile, where no user namespace can be
# made) times every storage driver nib offers in that mode, each build
# compared with buildah's; then, with --timestamp, the image digest must be
# the same in every mode and driver (there RUN goes through the ptrace
# isolation).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/e2e.sh"

MODES=(root nibsub nibplain pod pod-cd)
SUBSET=(${E2E_MATRIX:-copy-chown setuid-modes whiteouts})
# the RUN cases the ptrace isolation must build as root does (pod-cd);
# user-numeric-names copies /tmp up and changes nothing of the folder itself
TS_SUBSET=(${E2E_TS_CASES:-copy-chown setuid-modes chown-recursive multistage-chain run-steps20 run-daemon run-script-static user-numeric-names})

if ! e2e_init; then
	for m in "${MODES[@]}"; do
		for c in "${SUBSET[@]}"; do
			t "[$m/*] $c"
			skip "$E2E_SKIP"
		done
	done
	t "--timestamp gives one digest in every mode and driver"
	skip "$E2E_SKIP"
	finish
	exit
fi

_digest() { # ROOT NAME: manifest digest of localhost/NAME:latest
	python3 -c '
import json,sys
for m in json.load(open(sys.argv[1]+"/index.json")).get("manifests",[]):
    if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name","") in (sys.argv[2], sys.argv[2]+":latest"):
        print(m["digest"]); break' "$1" "localhost/$2"
}

declare -A DIGESTS
for m in "${MODES[@]}"; do
	drivers=$(e2e_drivers "$m")
	if [ -z "$drivers" ]; then
		for c in "${SUBSET[@]}"; do
			t "[$m/*] $c"
			fail "nib offers no storage driver in mode $m"
		done
		continue
	fi
	echo "mode $m: storage drivers: $drivers"
	for d in $drivers; do
		for c in "${SUBSET[@]}"; do
			t "[$m/$d] $c: $(e2e_title "$c")"
			e2e_check "$m" "$d" "$c"
		done
		for c in "${TS_SUBSET[@]}"; do
			t "[$m/$d] $c with --timestamp $E2E_TS"
			e2e_build "$m" "$d" "$c" --no-cache --timestamp "$E2E_TS" -t "localhost/e2e-ts-$c"
			assert_status 0
			DIGESTS[$c]+="$m/$d=$(_digest "$E2E_ROOT" "e2e-ts-$c") "
		done
	done
done

for c in "${TS_SUBSET[@]}"; do
	t "$c: --timestamp gives one digest in every mode and driver"
	n=$(echo "${DIGESTS[$c]:-}" | tr ' ' '\n' | sed -n 's/^[^=]*=//p' | sort -u | wc -l)
	[ "$n" = 1 ] || fail "digests differ: ${DIGESTS[$c]:-none}"
done
t "a --timestamp build after a plain build of the same case has the --no-cache digest"
c=${TS_SUBSET[0]}
e2e_build root auto "$c"
e2e_build root auto "$c" --timestamp "$E2E_TS" -t "localhost/e2e-ts2-$c"
cached=$(_digest "$E2E_ROOT" "e2e-ts2-$c")
e2e_build root auto "$c" --no-cache --timestamp "$E2E_TS" -t "localhost/e2e-ts2-$c"
fresh=$(_digest "$E2E_ROOT" "e2e-ts2-$c")
[ -n "$cached" ] || fail "no digest for the cached --timestamp build"
[ "$cached" = "$fresh" ] || fail "the --timestamp build after a plain build gives $cached, with --no-cache $fresh"
finish
