#!/bin/bash
# Several nib processes on one storage root at once, as a build service runs
# them: 8 builds (each pulling its base on first use), pulls and pushes at
# the same time, as root (kernel overlay, and vfs), as a user with a subuid
# range (nibsub), one without (nibplain: a single UID) and in the
# restricted-pod simulation (each process in its own pid namespace, as pods
# sharing a volume are; RUN through the ptrace isolation under CRI-O's
# profile).
# Every process must succeed, every build give the same image ID under
# --timestamp, every push the same manifest digest, and the store must hold
# no leftovers afterwards.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

MODES="root root:vfs nibsub nibplain podsim pod:crio"
N=${STORE_CONCURRENT_N:-8}

if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v docker-registry >/dev/null ||
	! users_setup; then
	skip_cases "needs root, setpriv, a static busybox, skopeo and docker-registry" $MODES
	finish
	exit
fi
registry_start plain || {
	skip_cases "the registry did not start" $MODES
	finish
	exit
}
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet --dest-tls-verify=false oci:"$T/fixture":bb docker://"$REG"/base/busybox:latest

C=$T/ctx
mkdir -p "$C"
echo payload >"$C/file"
cat >"$C/Containerfile" <<EOF
FROM $REG/base/busybox:latest
COPY file /file
RUN mkdir -p /srv && echo built > /srv/out && chown -R 42:43 /srv
RUN echo second > /srv/second
EOF
chmod -R a+rX "$C"

# as WHO, with NIB_ROOT=ROOT: CMD...
as_who() { # WHO ROOT CMD...
	local who=$1 root=$2
	shift 2
	case $who in
	root*) NIB_ROOT=$root "$@" ;;
	podsim) NIB_ROOT=$root podsim "$@" ;;
	pod:*) NIB_ROOT=$root PODSIM_SECCOMP=${who#pod:} podsim "$@" ;;
	*) NIB_ROOT=$root as_user "$who" "$@" ;;
	esac
}

# Run the jobs of file JOBS (one shell command a line, $NIB for nib) all at
# once as WHO; job I's stdout and stderr go to DIR/I.out and DIR/I.err, its
# exit status to DIR/I.rc.
run_at_once() { # WHO ROOT JOBS DIR
	local who=$1 root=$2 jobs=$3 dir=$4 i=0 line pids=()
	mkdir -p "$dir"
	chmod 0777 "$dir"
	while IFS= read -r line; do
		(
			as_who "$who" "$root" sh -c "$line" >"$dir/$i.out" 2>"$dir/$i.err"
			echo $? >"$dir/$i.rc"
		) &
		pids+=($!)
		i=$((i + 1))
	done <"$jobs"
	wait "${pids[@]}"
}

# "ok" when every job in DIR exited 0, else the first failure's stderr
all_ok() { # DIR
	local rc f
	for rc in "$1"/*.rc; do
		if [ "$(cat "$rc")" != 0 ]; then
			f=${rc%.rc}
			echo "job ${f##*/} exited $(cat "$rc"): $(tail -3 "$f.err")"
			return
		fi
	done
	echo ok
}

# the distinct last lines of the .out files of the jobs named (by number)
ids_of() { # DIR I...
	local d=$1 i
	shift
	for i in "$@"; do tail -1 "$d/$i.out"; echo; done | sed '/^$/d' | sort -u
}

leftovers() { # ROOT
	find "$1/blobs/sha256" "$1/nib/layers" "$1/nib/tmp" -mindepth 1 -maxdepth 2 \
		\( -name '.tmp-*' -o -path "$1/nib/tmp/*" \) 2>/dev/null
}

ref="" pushref=""
for who in $MODES; do
	w=${who/:/-}
	t "$who: $N builds and pulls at once, then builds, pulls and pushes at once"
	case $who in
	pod*)
		prof=${who#pod:}
		[ "$who" = podsim ] && prof=unconfined
		if ! podsim_available || ! podsim_profiles | grep -qx "$prof"; then
			skip "needs unshare, setpriv and the seccomp profile for the restricted-pod simulation"
			continue
		fi
		;;
	esac
	case $who in
	root*) root=$T/root-$w ;;
	pod*) root=$(podsim_dir "root-$w") ;;
	*) root=$(user_dir "$who" "root-$who") ;;
	esac
	driver=
	[ "$who" = root:vfs ] && driver=--storage-driver=vfs
	j=$T/jobs-$w
	build="\"\$NIB\" build -q --tls-verify=false --timestamp 1700000000 $driver"
	# phase 1, an empty store: every build pulls the base while pulls run
	: >"$j.1"
	for ((i = 0; i < N; i++)); do
		echo "$build -t localhost/app:b$i '$C'" >>"$j.1"
	done
	for ((i = 0; i < N / 2; i++)); do
		echo "\"\$NIB\" pull -q --tls-verify=false $REG/base/busybox:latest" >>"$j.1"
	done
	run_at_once "$who" "$root" "$j.1" "$T/out-$w-1"
	assert_eq "$(all_ok "$T/out-$w-1")" ok "phase 1"
	ids=$(ids_of "$T/out-$w-1" $(seq 0 $((N - 1))))
	assert_match "$ids" '^[0-9a-f]{64}$' "one image ID from $N builds"
	[ -n "$ref" ] || ref=$ids
	assert_eq "$ids" "$ref" "the image ID root's builds give"

	# phase 2, the store in use: builds without the cache, pulls, pushes and
	# a prune (which finds the root busy and leaves it alone)
	: >"$j.2"
	for ((i = 0; i < N; i++)); do
		echo "$build --no-cache -t localhost/app:n$i '$C'" >>"$j.2"
	done
	for ((i = 0; i < N / 2; i++)); do
		echo "\"\$NIB\" pull -q --tls-verify=false $REG/base/busybox:latest" >>"$j.2"
		echo "\"\$NIB\" push -q --tls-verify=false --digestfile \"\$T/out-$w-2/push$i.digest\" localhost/app:b$i $REG/$w/app$i:v1" >>"$j.2"
	done
	echo "\"\$NIB\" prune" >>"$j.2"
	run_at_once "$who" "$root" "$j.2" "$T/out-$w-2"
	assert_eq "$(all_ok "$T/out-$w-2")" ok "phase 2"
	assert_eq "$(ids_of "$T/out-$w-2" $(seq 0 $((N - 1))))" "$ref" "image ID with --no-cache"
	pushed=$(for f in "$T/out-$w-2"/push*.digest; do cat "$f"; echo; done | sort -u)
	assert_match "$pushed" '^sha256:[0-9a-f]{64}$' "one manifest digest from $((N / 2)) pushes"
	[ -n "$pushref" ] || pushref=$pushed
	assert_eq "$pushed" "$pushref" "the manifest digest root's pushes give"
	for ((i = 0; i < N / 2; i++)); do
		run skopeo inspect --raw --tls-verify=false docker://"$REG/$w/app$i:v1"
		assert_status 0 "pushed $who/app$i"
		assert_eq "sha256:$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)" "$pushed" "$who/app$i"
	done
	run as_who "$who" "$root" "$NIB" images --json
	assert_status 0
	assert_eq "$(printf '%s' "$out" | jq '[.[] | .names[]? // empty] | length' 2>/dev/null)" \
		"$((2 * N + 1))" "tags in the store"
	assert_eq "$(leftovers "$root")" "" "leftovers in the store"
	rm -rf "$root"
done

finish
