# The restricted pod under a real OCI runtime: Debian's runc runs nib's own
# image (tests/lib/nib_image.sh: built by nib from this checkout) as an
# OpenShift restricted-v2 pod. Source after tests/lib.sh, tests/lib/bases.sh,
# tests/lib/nib_image.sh and tests/lib/podsim.sh.
#
#   runcpod_init || skip ...     the image unpacked once under $T/runcpod;
#                                RUNCPOD_SKIP says why it cannot be
#   RUNCPOD_PROFILE=crio runcpod CMD...
#
# What CMD gets, as CRI-O gives a restricted-v2 pod:
#   - UID 1000590000 (PODSIM_UID), GID 0, no capabilities in any set,
#     noNewPrivileges, runc's default masked and read-only /proc paths
#     (CRI-O's list), the pod's (here: the host's) network;
#   - the seccomp profile RUNCPOD_PROFILE names, in runc's own loader:
#     containers-common, crio or containerd (tests/lib/podsim.sh's meaning,
#     converted to the OCI form by tests/lib/seccomp_check.py);
#   - the image's root file system read-only, a tmpfs /tmp, and $T bound at
#     $T (read-write: the stores and contexts the tests made), HOME under $T;
#   - rlimits no higher than the current ones (root here lacks
#     CAP_SYS_RESOURCE): runc's default spec sets only RLIMIT_NOFILE 1024.
# CMD's first word "nib" is the image's /usr/bin/nib.

RUNCPOD_PROFILE=${RUNCPOD_PROFILE:-containers-common}
RUNCPOD_SKIP=""

runcpod_init() {
	local d=$T/runcpod
	[ -d "$d/bundle/rootfs" ] && return 0
	for tool in runc umoci jq python3; do
		command -v $tool >/dev/null || {
			RUNCPOD_SKIP="$tool is not installed (make deps)"
			return 1
		}
	done
	nib_image 2>"$T/.runcpod.err" || {
		RUNCPOD_SKIP="no image of nib: $(tail -n 1 "$T/.runcpod.err")"
		return 1
	}
	mkdir -p "$d"
	umoci unpack --image "$NIB_IMAGE_OCI:nib" "$d/bundle" >/dev/null 2>"$T/.runcpod.err" || {
		RUNCPOD_SKIP="umoci cannot unpack nib's image: $(tail -n 1 "$T/.runcpod.err")"
		return 1
	}
	mkdir -p "$T/runcpod-home"
	chown "$PODSIM_UID:$PODSIM_GID" "$T/runcpod-home"
	local p
	for p in containers-common crio containerd; do
		_runcpod_seccomp "$p" >"$d/seccomp-$p.json" 2>"$T/.runcpod.err" || {
			RUNCPOD_SKIP="seccomp profile $p: $(tail -n 1 "$T/.runcpod.err")"
			return 1
		}
	done
}

# The OCI "linux.seccomp" of profile NAME for a pod without capabilities.
_runcpod_seccomp() { # NAME
	local f
	case $1 in
	containers-common | crio) f=$PODSIM_PROFILE_CC ;;
	containerd) f=$PODSIM_PROFILE_MOBY ;;
	*) return 1 ;;
	esac
	[ -f "$f" ] || { echo "$f is missing" >&2; return 1; }
	python3 "$NIB_SRC/tests/lib/seccomp_check.py" oci "$f" | python3 -c '
import json, sys
oci = json.load(sys.stdin)
if sys.argv[1] == "crio":
    # CRI-O >= 1.24 and 1.29 (tests/helpers/nib-seccomp-profile.c says which rules)
    admin = {"unshare", "setns", "mount", "umount2", "sethostname", "setdomainname"}
    gated = admin | {"clone", "clone3"}
    rules = []
    for r in oci["syscalls"]:
        names = [n for n in r["names"] if n not in gated]
        if names:
            r["names"] = names
            rules.append(r)
    rules.append({"names": sorted(admin), "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
    mask = 0x7E020000  # every CLONE_NEW* flag
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    for bit in range(32):
        f = 1 << bit
        if mask & f:
            rules.append({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{"index": 0, "value": f, "valueTwo": f, "op": "SCMP_CMP_MASKED_EQ"}]})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    oci["syscalls"] = rules
print(json.dumps(oci))' "$1"
}

runcpod() { # CMD...
	local d=$T/runcpod id dir args
	[ "$1" = nib ] && set -- /usr/bin/nib "${@:2}"
	id=nib-runcpod-$$-$RANDOM$RANDOM
	dir=$(mktemp -d "$d/run.XXXXXX")
	args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
	(cd "$dir" && runc spec) || return 1
	jq --slurpfile sc "$d/seccomp-$RUNCPOD_PROFILE.json" --argjson args "$args" \
		--arg root "$d/bundle/rootfs" --arg t "$T" --arg home "$T/runcpod-home" \
		--arg cwd "$PWD" --argjson uid "$PODSIM_UID" --argjson gid "$PODSIM_GID" \
		${NIB_ROOT:+--arg nibroot "$NIB_ROOT"} '
		.root = {path: $root, readonly: true}
		| .process.terminal = false
		| .process.cwd = $cwd
		| .process.user = {uid: $uid, gid: $gid}
		| .process.args = $args
		| .process.env = ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + $home,
			"LANG=C.UTF-8", "T=" + $t] + (if $ARGS.named.nibroot then ["NIB_ROOT=" + $ARGS.named.nibroot] else [] end)
		| .process.capabilities = {bounding: [], effective: [], inheritable: [], permitted: [], ambient: []}
		| .process.noNewPrivileges = true
		| .linux.namespaces |= map(select(.type != "network"))
		| .linux.seccomp = $sc[0]
		| .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]},
			{destination: $t, type: "bind", source: $t, options: ["rbind", "rw"]}]
		' "$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json" || return 1
	runc run --bundle "$dir" "$id" </dev/null
	local rc=$?
	runc delete -f "$id" >/dev/null 2>&1
	rm -rf "$dir"
	return $rc
}
