# The acceptance suite's machinery (tests/e2e/*.sh). Source after tests/lib.sh.
#
# A case is a folder tests/e2e/cases/NAME: its Containerfile, its context
# files (the folder is the context), an optional setup.sh (run as root in a
# copy of the folder before building: archives, special modes, empty
# folders) and an `expect` file, one directive a line:
#
#   # TEXT                    what the case exercises (the first one is its title)
#   base busybox|debian       base images to load into the stores (busybox default)
#   args ARGS...              arguments for both builders (words, no quoting)
#   nib-args ARGS...          for nib only
#   buildah-args ARGS...      for buildah only
#   prebuild DIR TAG          build DIR (a subfolder) as TAG first, in both builders
#   reference none REASON     buildah 1.28 cannot build it: only `want` lines check
#   differ config.KEY REASON  documented difference: KEY is not compared with buildah
#   differ path GLOB[:ATTR] REASON   the same for tree entries (or one attribute)
#   differ layers REASON      layer boundaries differ: merged trees are compared
#   want config.KEY JSON      nib's config KEY is exactly JSON (null: absent)
#   want path /P REGEX        nib's final tree entry for /P matches REGEX
#                             (entry text: "path type uid:gid mode size=N sha256=H -> target")
#   want nopath /P            /P is not in nib's final tree
#   want stderr REGEX         nib's stderr matches REGEX (warnings)
#   fail STATUS REGEX         bad input: nib exits STATUS, stderr matches REGEX,
#                             and the store still holds its earlier images
#   modes MODE...             only in these modes (root nibsub nibplain pod;
#                             pod covers every pod-* and runc-* mode too unless
#                             the line names one of them)
#   known-bug [MODE,...:] TEXT  nib is known to get it wrong (in those modes, or
#                             all): the case is skipped with TEXT (a reported
#                             bug, never a pass; E2E_IGNORE_KNOWN_BUGS=1 runs it)
#
# Modes: root (real root), nibsub (user with a subuid range), nibplain (user
# without: a single UID), pod (the restricted-pod simulation, tests/lib/podsim.sh,
# with no seccomp profile), and the same pod under each real profile:
# pod-cc (containers-common's, CRI-O <= 1.23), pod-crio (CRI-O >= 1.29),
# pod-cd (containerd's and Docker's RuntimeDefault); runc-cc, runc-crio and
# runc-cd: the same pod made by runc running nib's own image
# (tests/lib/runcpod.sh). Under pod-crio, pod-cd, runc-crio and runc-cd
# no user namespace can be made: RUN goes through the ptrace isolation, and
# every case must give what it gives in the other modes.

. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/imgcmp.sh"
. "$NIB_SRC/tests/lib/nib_image.sh"
. "$NIB_SRC/tests/lib/runcpod.sh"

E2E_CASES=${E2E_CASES:-$NIB_SRC/tests/e2e/cases}
E2E_CACHE=$NIB_TEST_CACHE/e2e-ref
E2E_TS=1700000000
# Part of the reference key: change it when imgreport.py's report changes.
E2E_REPORT_FORMAT="fc3bf72bccd28e46a7ef22aad109faeaeb2685be222c5ba2269cddca918f9b3d  -"
E2E_SKIP=""

# e2e_init: everything the suite needs, or E2E_SKIP set to the reason.
e2e_init() {
	if [ "$(id -u)" != 0 ]; then
		E2E_SKIP="the acceptance suite runs as root (it creates test users and the pod simulation)"
		return 1
	fi
	if ! users_setup; then
		E2E_SKIP="cannot create the test users (setpriv, useradd)"
		return 1
	fi
	local tool
	for tool in buildah skopeo umoci python3 zstd; do
		command -v $tool >/dev/null || {
			E2E_SKIP="$tool is not installed (make deps)"
			return 1
		}
	done
	if ! bases_busybox 2>"$T/.bases.err"; then
		E2E_SKIP="no busybox base: $(cat "$T/.bases.err")"
		return 1
	fi
	e2e_probe || return 1
	E2E_BUILDAH_VERSION=$(buildah --version | awk '{print $3}')
	bases_buildah_init "$T/buildah"
	mkdir -p "$E2E_CACHE" "$T/cases" "$T/rep"
	return 0
}

# e2e_probe: does this nib build images at all? Sets E2E_SKIP when not.
e2e_probe() {
	local d=$T/probe
	run "$NIB" build --help
	if ! [[ $out$err =~ --tag ]]; then
		E2E_SKIP="nib build is not available in this version (its --help has no --tag)"
		return 1
	fi
	mkdir -p "$d/ctx" "$d/root"
	printf 'FROM scratch\nCOPY f /f\n' >"$d/ctx/Containerfile"
	echo probe >"$d/ctx/f"
	run "$NIB" --root "$d/root" build -t localhost/e2e-probe "$d/ctx"
	if [ "$status" != 0 ]; then
		if [[ $err =~ (not available in this version|not implemented) ]]; then
			E2E_SKIP="nib build is not available in this version (probe: ${err%%$'\n'*})"
			return 1
		fi
		echo "nib build probe failed (exit $status): $err" >&2
	fi
	rm -rf "$d"
	return 0
}

# Directives of a case: e2e_directive NAME KEY prints the rest of each KEY line.
e2e_directive() { # NAME KEY
	local f=$E2E_CASES/$1/expect
	[ -f "$f" ] || return 0
	sed -n "s/^$2\\( \\|\$\\)//p" "$f"
}

e2e_title() { # NAME
	local f=$E2E_CASES/$1/expect
	[ -f "$f" ] && sed -n 's/^# *//p' "$f" | head -n 1
}

e2e_cases() { # every case name, sorted
	local d
	for d in "$E2E_CASES"/*/; do
		[ -f "$d/Containerfile" ] && basename "$d"
	done
}

e2e_case_modes() { # NAME: its modes (default all)
	local m
	m=$(e2e_directive "$1" modes)
	echo "${m:-root nibsub nibplain pod pod-cc pod-crio pod-cd runc-cc runc-crio runc-cd}"
}

# The seccomp profile of a pod mode (tests/lib/podsim.sh's names).
e2e_pod_profile() { # MODE
	case $1 in
	pod) echo unconfined ;;
	pod-cc) echo containers-common ;;
	pod-crio) echo crio ;;
	pod-cd | runc-cd) echo containerd ;;
	runc-cc) echo containers-common ;;
	runc-crio) echo crio ;;
	*) return 1 ;;
	esac
}

# e2e_prepare NAME: a world-readable copy of the case under $T/cases with
# setup.sh applied.
e2e_prepare() { # NAME
	local dir=$T/cases/$1
	rm -rf "$dir"
	cp -a "$E2E_CASES/$1" "$dir"
	chmod -R a+rX,go-w "$dir"
	if [ -f "$dir/setup.sh" ]; then
		(cd "$dir" && bash ./setup.sh) || return 1
		rm -f "$dir/setup.sh"
	fi
	: >"$T/cases/.$1.prepared"
}

_e2e_prepared() { [ -e "$T/cases/.$1.prepared" ]; }

# The content key of a prepared case for buildah's reference.
e2e_key() { # NAME
	(
		cd "$T/cases/$1" || exit 1
		find . -printf '%P %y %m %l\n' | LC_ALL=C sort
		find . -type f ! -name expect -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
		grep -E '^(args|buildah-args|prebuild|base) ' expect 2>/dev/null
		echo "buildah $E2E_BUILDAH_VERSION bases $BASES_VERSION"
		cat "$BB_OCI/index.json"
		[ -n "${DEB_OCI:-}" ] && cat "$DEB_OCI/index.json"
		echo "$E2E_REPORT_FORMAT"
	) | sha256sum | cut -c1-24
}

e2e_needs_debian() { # NAME
	e2e_directive "$1" base | grep -qw debian
}

_e2e_words() { # NAME KEY...: the words of the directives
	local k
	for k in "${@:2}"; do e2e_directive "$1" "$k"; done | tr '\n' ' '
}

# e2e_reference NAME: buildah's report of the case, from the cache or built
# now as root in the private vfs store; prints its path. Status 2 when the
# case has no reference.
e2e_reference() { # NAME
	local name=$1 key ref log dir tag pre
	[ -n "$(e2e_directive "$name" reference)" ] && return 2
	if e2e_needs_debian "$name"; then
		bases_debian 2>"$T/.deb.err" || {
			echo "no Debian base: $(cat "$T/.deb.err")"
			return 1
		}
	fi
	key=$(e2e_key "$name")
	ref=$E2E_CACHE/$name-$key.json
	if [ -s "$ref" ]; then
		echo "$ref"
		return 0
	fi
	log=$T/rep/$name.buildah.log
	bases_buildah_load busybox >>"$log" 2>&1 || {
		echo "buildah cannot load the busybox base (see $log)"
		return 1
	}
	if e2e_needs_debian "$name"; then
		bases_buildah_load debian >>"$log" 2>&1 || {
			echo "buildah cannot load the Debian base"
			return 1
		}
	fi
	dir=$T/cases/$name
	while read -r pre tag; do
		[ -n "$pre" ] || continue
		(cd "$dir/$pre" && "${BUILDAH[@]}" bud --isolation chroot --layers --format docker \
			--pull-never --identity-label=false -t "$tag" .) >>"$log" 2>&1 || {
			echo "buildah could not build the prebuild $pre: $(tail -n 3 "$log")"
			return 1
		}
	done < <(e2e_directive "$name" prebuild)
	# shellcheck disable=SC2046
	(cd "$dir" && "${BUILDAH[@]}" bud --isolation chroot --layers --format docker --pull-never \
		--identity-label=false $(_e2e_words "$name" args buildah-args) \
		-f Containerfile -t "e2e-$name" .) >>"$log" 2>&1 || {
		echo "buildah failed on the case: $(tail -n 3 "$log" | tr '\n' ' ')"
		return 1
	}
	img_buildah_report "e2e-$name" "$ref.tmp" >>"$log" 2>&1 || {
		echo "no report of buildah's image (see $log)"
		return 1
	}
	mv "$ref.tmp" "$ref"
	echo "$ref"
}

# The owner of a mode's files.
e2e_owner() { # MODE
	case $1 in
	root) echo 0:0 ;;
	nibsub | nibplain) echo "$(id -u "$1"):$(id -g "$1")" ;;
	pod | pod-* | runc-*) echo "$PODSIM_UID:$PODSIM_GID" ;;
	esac
}

# e2e_root MODE DRIVER [debian]: nib's store for that mode and driver, with
# the bases loaded; prints its path.
e2e_root() { # MODE DRIVER [debian]
	local r=$T/root-$1-$2
	if [ ! -e "$r/.busybox" ]; then
		mkdir -p "$r"
		bases_nib_load "$r" busybox "$(e2e_owner "$1")" >&2 || return 1
		: >"$r/.busybox"
	fi
	if [ "${3:-}" = debian ] && [ ! -e "$r/.debian" ]; then
		bases_debian >&2 || return 1
		bases_nib_load "$r" debian "$(e2e_owner "$1")" >&2 || return 1
		: >"$r/.debian"
	fi
	echo "$r"
}

# e2e_nib MODE ARGS...: nib in a mode (run: sets status, out, err).
e2e_nib() { # MODE ARGS...
	local mode=$1
	shift
	case $mode in
	root) run "$T/bin/nib" "$@" ;;
	nibsub | nibplain) run as_user "$mode" "$T/bin/nib" "$@" ;;
	pod | pod-*) PODSIM_SECCOMP=$(e2e_pod_profile "$mode") run podsim "$T/bin/nib" "$@" ;;
	runc-*) RUNCPOD_PROFILE=$(e2e_pod_profile "$mode") run runcpod nib "$@" ;;
	esac
}

# e2e_build MODE DRIVER NAME [EXTRA ARGS...]: nib builds the prepared case as
# localhost/e2e-NAME in the mode's store (its prebuilds first, with
# $E2E_PREBUILD_ARGS); sets status/out/err and E2E_ROOT.
e2e_build() { # MODE DRIVER NAME [ARGS...]
	local mode=$1 driver=$2 name=$3 deb="" pre tag dargs=()
	shift 3
	if ! _e2e_prepared "$name" && ! e2e_prepare "$name"; then
		status=99 err="setup.sh of $name failed"
		return 0
	fi
	e2e_needs_debian "$name" && deb=debian
	E2E_ROOT=$(e2e_root "$mode" "$driver" $deb) || {
		status=99 err="could not load the bases into the $mode store"
		return 0
	}
	[ "$driver" = auto ] || dargs=(--storage-driver "$driver")
	# the context belongs to whoever builds, as a checkout would
	chown -R -h "$(e2e_owner "$mode")" "$T/cases/$name"
	while read -r pre tag; do
		[ -n "$pre" ] || continue
		pushd "$T/cases/$name/$pre" >/dev/null || return 1
		# shellcheck disable=SC2086
		e2e_nib "$mode" --root "$E2E_ROOT" build --format docker "${dargs[@]}" ${E2E_PREBUILD_ARGS:-} -t "$tag" .
		popd >/dev/null
		if [ "$status" != 0 ]; then
			err="prebuild $pre: $err"
			return 0
		fi
	done < <(e2e_directive "$name" prebuild)
	pushd "$T/cases/$name" >/dev/null || return 1
	# shellcheck disable=SC2046
	e2e_nib "$mode" --root "$E2E_ROOT" build --format docker "${dargs[@]}" $(_e2e_words "$name" args nib-args) \
		"$@" -f Containerfile -t "localhost/e2e-$name" .
	popd >/dev/null
}

# e2e_check MODE DRIVER NAME: one whole case in the current test.
e2e_check() { # MODE DRIVER NAME
	local mode=$1 driver=$2 name=$3 ref rc line key val rep before after fst fre deb="" opts=()
	if ! _e2e_prepared "$name"; then
		e2e_prepare "$name" || {
			fail "setup.sh of $name failed"
			return
		}
	fi
	while read -r line; do
		[ -n "$line" ] && [ -z "${E2E_IGNORE_KNOWN_BUGS:-}" ] || continue
		if [[ $line =~ ^([a-z,]+):\ (.*)$ ]]; then
			[[ ",${BASH_REMATCH[1]}," == *",$mode,"* ]] || continue
			line=${BASH_REMATCH[2]}
		fi
		skip "known nib bug: $line"
		return
	done < <(e2e_directive "$name" known-bug)
	# "pod" stands for every pod and runc mode unless the case names some
	local cm
	cm=" $(e2e_case_modes "$name") "
	if ! [[ $cm == *" $mode "* ||
		($mode == @(pod|runc)-* && $cm == *" pod "* && $cm != *" "@(pod|runc)-*) ]]; then
		skip "not a case for mode $mode"
		return
	fi
	fst=$(e2e_directive "$name" fail | head -n 1)
	if [ -n "$fst" ]; then
		before=""
		e2e_needs_debian "$name" && deb=debian
		E2E_ROOT=$(e2e_root "$mode" "$driver" $deb) && before=$(_e2e_refs "$E2E_ROOT")
		e2e_build "$mode" "$driver" "$name"
		[[ $status =~ ^(${fst%% *})$ ]] || fail "exit status $status, expected ${fst%% *}; stderr: ${err:0:300}"
		fre=${fst#* }
		line=$(printf '%s\n' "$err" | grep -E '^nib: error' || true)
		assert_lines "$line" 1
		assert_match "$line" "$fre" "the error line"
		# what the case's prebuilds made is new, and allowed
		after=$(_e2e_refs "$E2E_ROOT" | grep -vF -f <(e2e_directive "$name" prebuild |
			awk '{print $2":latest "}' | grep . || echo "//none//"))
		assert_match "$after" 'localhost/busybox:latest' "the base image is still in the store"
		[ -z "$before" ] || assert_eq "$after" "$before" "the store's images are unchanged"
		return
	fi
	e2e_build "$mode" "$driver" "$name"
	assert_status 0 "nib build ($mode, $driver)"
	[ "$status" = 0 ] || return
	while read -r val; do
		[ -n "$val" ] && assert_match "$err$out" "$val" "nib's output"
	done < <(e2e_directive "$name" "want stderr")
	rep=$T/rep/$name-$mode-$driver.json
	img_report "oci:$E2E_ROOT:localhost/e2e-$name:latest" "$rep" 2>"$T/.rep.err" || {
		fail "no report of nib's image: $(cat "$T/.rep.err")"
		return
	}
	_e2e_wants "$name" "$rep"
	ref=$(e2e_reference "$name")
	rc=$?
	if [ $rc = 2 ]; then
		return
	elif [ $rc != 0 ]; then
		fail "buildah reference: $ref"
		return
	fi
	opts=(--no-builder-noise)
	while read -r key val; do
		case $key in
		config.*) opts+=(--ignore-config "${key#config.}") ;;
		path) opts+=(--ignore-path "${val%% *}") ;;
		layers) opts+=(--merged-only) ;;
		esac
	done < <(e2e_directive "$name" differ)
	if ! img_compare "$rep" "$ref" "${opts[@]}" >"$T/.cmp" 2>&1; then
		fail "nib (A, $mode/$driver) and buildah (B) differ:"$'\n'"$(sed 's/^/      /' "$T/.cmp" | head -n 40)"
	fi
}

_e2e_refs() { # ROOT: its images, name digest per line
	python3 -c '
import json,sys
for m in json.load(open(sys.argv[1]+"/index.json")).get("manifests",[]):
    print((m.get("annotations") or {}).get("org.opencontainers.image.ref.name",""), m["digest"])' "$1" | sort
}

_e2e_wants() { # NAME REPORT
	local kind key rest got
	while read -r kind key rest; do
		case $kind in
		config.*)
			rest="$key${rest:+ $rest}"
			key=${kind#config.}
			got=$(img_get "$2" "$key")
			if [ "$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]),sort_keys=True))' "$rest")" != "$got" ]; then
				fail "config $key: nib has $got, expected $rest"
			fi
			;;
		path)
			got=$(img_get "$2" "$key") || got="(absent)"
			assert_match "$got" "$rest" "entry $key"
			;;
		nopath)
			got=$(img_get "$2" "$key") && fail "$key should not be in the image: $got"
			;;
		stderr) ;;
		esac
	done < <(e2e_directive "$1" want)
}

# The storage drivers nib offers in a mode: from `nib info --json` (its
# overlay and fuse checks; vfs is always there), else the drivers a tiny
# build accepts.
e2e_drivers() { # MODE
	local d list="" r
	r=$(e2e_root "$1" auto)
	e2e_nib "$1" --root "$r" info --json
	if [ "$status" = 0 ]; then
		list=$(printf '%s' "$out" | python3 -c '
import json,sys
try: j=json.load(sys.stdin)
except Exception: sys.exit(0)
names=("overlay","fuse-overlayfs","vfs")
ds=j.get("storage_drivers") or j.get("drivers")
if isinstance(ds,list):
    print(" ".join(d if isinstance(d,str) else d.get("name","") for d in ds
                   if isinstance(d,str) or d.get("available", d.get("ok")) is True))
    sys.exit(0)
c=j.get("checks") or {}
out=[]
if (c.get("overlay") or {}).get("ok") is True: out.append("overlay")
if (c.get("fuse") or c.get("fuse-overlayfs") or {}).get("ok") is True: out.append("fuse-overlayfs")
if c: out.append("vfs")
print(" ".join(out))')
	fi
	if [ -z "$list" ]; then
		mkdir -p "$T/drvprobe"
		printf 'FROM localhost/busybox\nRUN echo x >/x\n' >"$T/drvprobe/Containerfile"
		chmod -R a+rX "$T/drvprobe"
		for d in overlay fuse-overlayfs vfs; do
			pushd "$T/drvprobe" >/dev/null
			e2e_nib "$1" --root "$(e2e_root "$1" "$d")" build --storage-driver "$d" -t localhost/drvprobe .
			popd >/dev/null
			[ "$status" = 0 ] && list+="$d "
		done
	fi
	echo $list
}
