#!/bin/bash
# run.sh: long 1
# `nib build` as a drop-in for `buildah bud` 1.28 (docs/buildah-options.md):
# every option is taken with buildah's meaning, accepted without effect where
# it has none in nib, or refused with exit status 2 and one line naming the
# option and the reason. Config effects are compared with buildah's own
# (root, chroot isolation, a private vfs store) when buildah is installed.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/bases.sh"
. "$NIB_SRC/tests/lib/registry.sh"

ROOT=$T/root
export NIB_ROOT=$ROOT

t "bud and build-using-dockerfile are build"
for a in bud build-using-dockerfile; do
	run "$NIB" "$a" --help
	assert_status 0 "$a"
	assert_match "$out" '^Usage: nib build' "$a"
	run "$NIB" help "$a"
	assert_match "$out" '^Usage: nib build' "help $a"
done
run "$NIB" bud --no-such-flag
assert_status 2
assert_match "$err" "no-such-flag"

t "docs/buildah-options.md lists every buildah bud option"
if command -v buildah >/dev/null; then
	table=$(cat "$NIB_SRC/docs/buildah-options.md")
	for o in $(buildah bud --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+$'); do
		[ "$o" = --help ] && continue
		assert_match "$table" "[\`/]$o[[ =\`]" "$o"
		# nib knows it: taken, ignored or refused with a reason, never "unknown"
		run "$NIB" build "$o" /dev/null/x 2>/dev/null
		assert_no_match "$err" 'unknown or incomplete option' "nib build $o"
	done
else
	skip "buildah is not installed"
fi

# refused WHAT ARGS...: exit 2, exactly one line naming the option
refused() {
	local what=$1
	shift
	run "$NIB" "$@"
	assert_status 2 "$*"
	assert_lines "$err" 1
	assert_match "$err" "^nib: error: .*$what" "$*"
	assert_eq "$out" "" "$*"
}

t "buildah's global options nib cannot honour are refused in one line"
refused "--storage-opt foo=bar: not supported" --storage-opt foo=bar build .
refused "overlay program" --storage-opt overlay.mount_program=/usr/bin/other build .
refused "--registries-conf-dir: not supported" --registries-conf-dir /etc build .
refused "--userns-uid-map: not supported: nib picks the ID map" --userns-uid-map 0:1:1 build .
refused "--userns-gid-map: not supported" --userns-gid-map 0:1:1 build .

t "buildah bud options nib cannot honour are refused in one line with the reason"
while IFS='|' read -r args what; do
	# shellcheck disable=SC2086
	refused "$what" build $args "$T"
done <<'EOF'
--security-opt apparmor=docker-default|--security-opt apparmor=docker-default: refused: nib loads no AppArmor profile
--security-opt seccomp:/x.json|--security-opt seccomp:/x.json: expected KEY=VALUE
--ulimit nofile|--ulimit nofile: expected NAME=SOFT\[:HARD\]
--shm-size 1q|--shm-size 1q: expected a size
--device /etc/passwd|--device /etc/passwd: /etc/passwd is not a device node
--allow network.host|--allow network.host: nib knows only security.insecure
--platform linux|bad platform "linux"
--isolation oci|--isolation oci: nib has no external OCI runtime
--runtime crun|--runtime crun: nib has no external OCI runtime
--runtime-flag debug|--runtime-flag debug: nib has no external OCI runtime
--network ns:/proc/1/ns/net|--network ns:/proc/1/ns/net: not supported yet
--memory-swap 1g|--memory-swap 1g: nib limits only a RUN step
-c 512|--cpu-shares 512: nib limits only a RUN step
--cpu-period 1000|--cpu-period 1000: nib limits only a RUN step
--cpu-quota 1000|--cpu-quota 1000: nib limits only a RUN step
--cpuset-cpus 0|--cpuset-cpus 0: nib limits only a RUN step
--cpuset-mems 0|--cpuset-mems 0: nib limits only a RUN step
--cgroup-parent x|--cgroup-parent x: nib limits only a RUN step
--ipc host|--ipc host: nib runs every RUN step in namespaces of its own
--pid host|--pid host: nib runs every RUN step
--uts host|--uts host: nib runs every RUN step
--cgroupns host|--cgroupns host: nib runs every RUN step
--userns host|--userns host: nib picks the ID map itself
--userns-uid-map 0:1:1|--userns-uid-map 0:1:1: nib picks the ID map itself
--userns-gid-map 0:1:1|--userns-gid-map 0:1:1: nib picks the ID map itself
--userns-uid-map-user u|--userns-uid-map-user u: nib picks the ID map itself
--userns-gid-map-group g|--userns-gid-map-group g: nib picks the ID map itself
--hooks-dir /x|--hooks-dir /x: nib runs no OCI hooks
--cpp-flag -DX|--cpp-flag -DX: nib does not run cpp
--decryption-key k|--decryption-key k: nib does not decrypt
--sign-by ABCD|--sign-by ABCD: nib does not sign
--signature-policy p.json|--signature-policy p.json: nib does not check image signatures
--blob-cache /x|--blob-cache /x: not supported yet
-f a -f b|-f b: not supported yet: several Containerfiles
EOF

t "malformed values of the new options are one-line usage errors"
while IFS='|' read -r args what; do
	# shellcheck disable=SC2086
	refused "$what" build $args "$T"
done <<'EOF'
--env =x|bad --env "=x"
--unsetenv A=b|bad --unsetenv "A=b"
--cap-add NO_SUCH_CAP|--cap-add NO_SUCH_CAP: unknown capability
--cap-drop bogus|--cap-drop bogus: unknown capability
--rm=maybe|--rm: 'maybe' is not a boolean
--stdin=2x|--stdin: '2x' is not a boolean
--squash=maybe|--squash: 'maybe' is not a boolean
--squash-all=2|--squash-all: '2' is not a boolean
--isolation vm|bad --isolation "vm"
--retry x|--retry: 'x' is not a number
--retry-delay soon|--retry-delay: 'soon' is not a duration
--tls-verify=maybe|--tls-verify: 'maybe' is not a boolean
-t Upper/Case|build: -t Upper/Case: 
-t a -t bad::ref|build: -t bad::ref: 
--arch a/b|bad --arch "a/b"
-o type=local,dest=-|only type=tar can go to standard output
--stdin -f -|-f - and --stdin both read standard input
--logsplit|--logsplit needs --logfile
--logsplit=maybe --logfile /dev/null|--logsplit: 'maybe' is not a boolean
--from=|--from needs an image
--os-feature=|--os-feature needs a feature
--skip-unused-stages=sometimes|--skip-unused-stages: 'sometimes' is not a boolean
EOF

if ! bases_busybox 2>"$T/bases.err" || [ "$(id -u)" != 0 ]; then
	skip_cases "needs root and the busybox base: $(cat "$T/bases.err")" \
		"accepted no-op options change nothing" "buildah's global options" \
		"--env and --unsetenv" "-f -" "--logfile" "--stdin" "--ignorefile" \
		"--cap-add and --cap-drop" "--omit-history" "--os/--arch/--variant" \
		"--os-version, --os-feature, --from, --skip-unused-stages" "--logsplit" \
		"-f URL" "--http-proxy" "--retry" "--pull-always and --pull-never" "-o - and type=tar" \
		"-q and a failing RUN" "a full disk names the step" "push --log-format json"
	finish
	exit
fi
mkdir -p "$ROOT"
bases_nib_load "$ROOT" busybox 0:0 || fail "loading the busybox base"

HAVE_BUILDAH=0
if command -v buildah >/dev/null; then
	bases_buildah_init "$T/buildah"
	bases_buildah_load busybox && HAVE_BUILDAH=1
fi
# bud ARGS...: buildah bud as the comparison runs it
bud() { "${BUILDAH[@]}" bud --isolation chroot -q "$@"; }
bcfg() { "${BUILDAH[@]}" inspect --type image "$1" | jq -c ".OCIv1$2"; }
ncfg() { "$NIB" inspect --json "$1" | jq -c ".Config$2"; }

C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
ENV KEEP=1 DROPME=2
RUN echo "FOO=$FOO DROPME=$DROPME" > /seen
EOF

t "accepted no-op options change nothing"
run "$NIB" build -q --iidfile "$T/base.id" -t noop "$C"
assert_status 0
run "$NIB" build -q --iidfile "$T/noop.id" --rm --rm=false --force-rm --force-rm=true \
	--compress -D --disable-compression=false --disable-content-trust --identity-label=false \
	--ipc private --pid private --uts private --cgroupns private --userns container \
	--skip-unused-stages --skip-unused-stages=true --no-hosts=false --all-platforms=false \
	--isolation chroot --isolation rootless --layers --no-cache=false --squash=false \
	--pull-always=false --pull-never=false -t noop "$C"
assert_status 0
assert_eq "$(cat "$T/noop.id")" "$(cat "$T/base.id")"

t "buildah's global options"
run "$NIB" --storage-driver vfs --runroot "$T/run" --cgroup-manager cgroupfs \
	--short-name-alias-conf "$T/aliases.conf" --storage-opt vfs.ignore_chown_errors=true \
	--storage-opt overlay.mountopt=nodev --log-level info bud --no-cache -q -t glob "$C"
assert_status 0
assert_match "$err" 'storage driver vfs'
run "$NIB" --log-level panic --storage-driver overlay --log-level info build --no-cache -q "$C"
assert_status 0
assert_match "$err" 'storage driver overlay'
assert_no_match "$err" 'storage driver vfs'
cat >"$T/registries.conf" <<'EOF'
[[registry]]
location = "127.0.0.1:9"
blocked = true
EOF
run "$NIB" --registries-conf "$T/registries.conf" pull --retry 0 127.0.0.1:9/x:y
assert_status 1
assert_match "$err" 'blocked by registries.conf'

t "--env and --unsetenv"
FOO=fromenv run "$NIB" build -q --env FOO=bar --env BAZ --env FOO2 --env KEEP=9 --unsetenv DROPME \
	--unsetenv PATH -o type=local,dest="$T/env.out" -t envtest "$C"
assert_status 0
nenv=$(ncfg envtest .config.Env)
assert_eq "$nenv" '["FOO=bar","BAZ=","FOO2=","KEEP=9"]'
assert_eq "$(cat "$T/env.out/seen")" "FOO= DROPME=2" "RUN does not see --env, sees what --unsetenv removes"
FOO=fromenv run "$NIB" build -q --env FOO --env X=1 --unsetenv X -t envtest2 "$C"
assert_eq "$(ncfg envtest2 .config.Env)" \
	'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","KEEP=1","DROPME=2","FOO=fromenv"]'
if [ "$HAVE_BUILDAH" = 1 ]; then
	FOO=fromenv bud --env FOO=bar --env BAZ --env FOO2 --env KEEP=9 --unsetenv DROPME \
		--unsetenv PATH -t envtest "$C" >/dev/null 2>&1 || fail "buildah bud --env"
	assert_eq "$nenv" "$(bcfg envtest .config.Env)" "buildah's config"
	FOO=fromenv bud --env FOO --env X=1 --unsetenv X -t envtest2 "$C" >/dev/null 2>&1
	assert_eq "$(ncfg envtest2 .config.Env)" "$(bcfg envtest2 .config.Env)" "buildah's config"
else
	echo "  (buildah not installed: no comparison)"
fi

t "-f -"
printf 'FROM localhost/busybox:latest\nCOPY . /ctx/\nRUN echo from-stdin > /x\n' >"$T/stdin.cf"
mkdir -p "$T/sctx"
echo a >"$T/sctx/a"
echo b >"$T/sctx/b"
echo b >"$T/sctx/.containerignore"
run "$NIB" build -q -f - -o type=local,dest="$T/stdin.out" "$T/sctx" <"$T/stdin.cf"
assert_status 0
assert_eq "$(cat "$T/stdin.out/x")" from-stdin
assert_file "$T/stdin.out/ctx/a"
assert_no_file "$T/stdin.out/ctx/b"
run "$NIB" build -q -f - "$T/sctx" </dev/null
assert_status 2 "an empty Containerfile"
assert_no_match "$(ls "${TMPDIR:-/tmp}")" '^nib-stdin-' "the temporary copy is removed"

t "--logfile"
run "$NIB" build --no-cache --logfile "$T/build.log" -t logged "$C"
assert_status 0
assert_eq "$out" "" "nothing on stdout"
assert_eq "$err" "" "nothing on stderr"
assert_match "$(cat "$T/build.log")" '^STEP 3/3: RUN echo'
assert_match "$(cat "$T/build.log")" 'Successfully tagged .*/logged:latest'
assert_eq "$(stat -c %a "$T/build.log")" 600
printf 'FROM localhost/busybox:latest\nRUN echo out-line; echo err-line >&2; exit 3\n' >"$C/Failing"
run "$NIB" build --logfile "$T/build.log" -f "$C/Failing" "$C"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "Failing:2: .*exit status 3"
assert_match "$(cat "$T/build.log")" 'err-line'
assert_match "$(cat "$T/build.log")" 'out-line'
assert_match "$(cat "$T/build.log")" 'nib: error: .*Failing:2: .*exit status 3'
assert_no_match "$(cat "$T/build.log")" 'STEP 1/3' "the log is truncated first"

t "--stdin"
printf 'FROM localhost/busybox:latest\nRUN cat > /in\n' >"$C/Stdin"
run "$NIB" build -q --no-cache --stdin -f "$C/Stdin" -o type=local,dest="$T/stdin2.out" "$C" \
	<<<"data for RUN"
assert_status 0
assert_eq "$(cat "$T/stdin2.out/in")" "data for RUN"
run "$NIB" build -q --no-cache -f "$C/Stdin" -o type=local,dest="$T/stdin3.out" "$C" <<<"data"
assert_eq "$(cat "$T/stdin3.out/in")" "" "without --stdin RUN reads /dev/null"

t "--ignorefile"
mkdir -p "$T/ictx"
echo a >"$T/ictx/a"
echo b >"$T/ictx/b"
echo a >"$T/ictx/.dockerignore"
echo b >"$T/alt.ignore"
printf 'FROM localhost/busybox:latest\nCOPY . /c/\n' >"$T/ictx/Containerfile"
run "$NIB" build -q --ignorefile "$T/alt.ignore" -o type=local,dest="$T/ign.out" "$T/ictx"
assert_status 0
assert_file "$T/ign.out/c/a"
assert_no_file "$T/ign.out/c/b"
run "$NIB" build -q --ignorefile "$T/missing.ignore" "$T/ictx"
assert_status 1
assert_match "$err" 'ignorefile.*missing.ignore'

t "--cap-add and --cap-drop"
printf 'FROM localhost/busybox:latest\nRUN grep CapEff /proc/self/status > /caps\n' >"$C/Caps"
caps() { # ARGS...: the CapEff line RUN saw
	rm -rf "$T/caps.out"
	"$NIB" build -q "$@" -f "$C/Caps" -o type=local,dest="$T/caps.out" "$C" >/dev/null &&
		cat "$T/caps.out/caps"
}
default=$(caps)
assert_match "$default" 'CapEff:'
assert_eq "$(caps --cap-drop ALL)" "CapEff:	0000000000000000"
assert_eq "$(caps --cap-drop all --cap-add net_admin)" "CapEff:	0000000000001000"
assert_ne "$(caps --cap-add CAP_SYS_ADMIN)" "$default"
assert_eq "$(caps)" "$default" "a cached step keeps its own capabilities"
if [ "$HAVE_BUILDAH" = 1 ]; then
	for a in "" "--cap-drop ALL" "--cap-drop all,net_raw --cap-add net_admin,chown" "--cap-add SYS_ADMIN"; do
		# shellcheck disable=SC2086
		bud $a -f "$C/Caps" -t caps "$C" >/dev/null 2>&1 || fail "buildah $a"
		cid=$("${BUILDAH[@]}" from -q caps) && m=$("${BUILDAH[@]}" mount "$cid")
		want=$(cat "$m/caps")
		# nib's default set is buildah's plus CAP_MKNOD (Docker's: RUN
		# mknod works and its layer has the device node)
		case $a in
		*"drop ALL"* | *"drop all"*) ;;
		*) want=$(printf 'CapEff:\t%016x' $((0x${want##*[[:space:]]} | 1 << 27))) ;;
		esac
		# shellcheck disable=SC2086
		assert_eq "$(caps $a)" "$want" "buildah $a (and CAP_MKNOD)"
		"${BUILDAH[@]}" rm "$cid" >/dev/null 2>&1
	done
fi

t "--omit-history"
run "$NIB" build -q --omit-history -t nohist "$C"
assert_status 0
assert_eq "$(ncfg nohist .history)" null
assert_ne "$(ncfg envtest .history)" null
if [ "$HAVE_BUILDAH" = 1 ]; then
	bud --omit-history -t nohist "$C" >/dev/null 2>&1
	assert_eq "$(bcfg nohist .history)" "$(ncfg nohist .history)" "buildah"
fi

t "--os/--arch/--variant"
printf 'FROM scratch\nCOPY a /\n' >"$T/sctx/Scratch"
run "$NIB" build -q --arch arm64 --variant v8 -f "$T/sctx/Scratch" -t archtest "$T/sctx"
assert_status 0
assert_eq "$(ncfg archtest '| [.os, .architecture, .variant]')" '["linux","arm64","v8"]'
run "$NIB" build -q --platform linux/arm/v7 --arch arm64 -f "$T/sctx/Scratch" -t archtest2 "$T/sctx"
assert_eq "$(ncfg archtest2 '| [.os, .architecture, .variant]')" '["linux","arm64","v7"]'
if [ "$HAVE_BUILDAH" = 1 ]; then
	bud --arch arm64 --variant v8 -f "$T/sctx/Scratch" -t archtest "$T/sctx" >/dev/null 2>&1
	assert_eq "$(bcfg archtest '| [.os, .architecture, .variant]')" '["linux","arm64","v8"]' "buildah"
fi

t "--os-version, --os-feature, --from, --skip-unused-stages"
printf 'FROM scratch\nCOPY a /\n' >"$T/sctx/Scratch"
run "$NIB" build -q --os-version 10.0.17763 --os-feature win32k --os-feature x --os-feature x- \
	-f "$T/sctx/Scratch" -t osv "$T/sctx"
assert_status 0
assert_eq "$(ncfg osv '| [."os.version", ."os.features"]')" '["10.0.17763",["win32k"]]'
# the base's features are kept, --os-version replaces its version
printf 'FROM osv\nCOPY a /b\n' >"$T/sctx/FromOsv"
run "$NIB" build -q --os-version 11 --os-feature more --os-feature win32k \
	-f "$T/sctx/FromOsv" -t osv2 "$T/sctx"
assert_eq "$(ncfg osv2 '| [."os.version", ."os.features"]')" '["11",["win32k","more"]]'
# --from: the first FROM only
printf 'FROM no.such.registry.invalid/x AS first\nCOPY a /a\nFROM scratch\nCOPY --from=first /a /b\n' \
	>"$T/sctx/Stages"
run "$NIB" build -q --from osv -f "$T/sctx/Stages" -o type=local,dest="$T/from.out" "$T/sctx"
assert_status 0 "--from"
assert_file "$T/from.out/b"
printf 'FROM localhost/busybox:latest\nRUN false\nFROM no.such.registry.invalid/y\n' >"$T/sctx/Second"
run "$NIB" build -q --from osv -f "$T/sctx/Second" "$T/sctx"
assert_status 1 "the second FROM stays as written"
assert_match "$err" "Second:3: FROM no.such.registry.invalid/y"
# --skip-unused-stages=false: the stages the target does not need are built
printf 'FROM scratch AS bad\nCOPY nonexistent /\nFROM scratch AS good\nCOPY a /\nFROM scratch\nCOPY nonexistent /\n' \
	>"$T/sctx/Unused"
run "$NIB" build -q --target good -f "$T/sctx/Unused" "$T/sctx"
assert_status 0 "unused stages skipped"
run "$NIB" build -q --skip-unused-stages=false --target good -f "$T/sctx/Unused" "$T/sctx"
assert_status 1 "--skip-unused-stages=false"
assert_match "$err" "Unused:2: COPY source not found: nonexistent"
if [ "$HAVE_BUILDAH" = 1 ]; then
	bud --os-version 10.0.17763 --os-feature win32k --os-feature x --os-feature x- \
		-f "$T/sctx/Scratch" -t osv "$T/sctx" >/dev/null 2>&1 || fail "buildah --os-version"
	assert_eq "$(bcfg osv '| [."os.version", ."os.features"]')" '["10.0.17763",["win32k"]]' "buildah"
	bud --from osv -f "$T/sctx/Stages" -t fromtest "$T/sctx" >/dev/null 2>&1 || fail "buildah --from"
	bud --target good -f "$T/sctx/Unused" "$T/sctx" >/dev/null 2>&1 || fail "buildah: unused stages"
	bud --skip-unused-stages=false --target good -f "$T/sctx/Unused" "$T/sctx" >/dev/null 2>&1 &&
		fail "buildah --skip-unused-stages=false built"
fi

t "--logsplit"
run "$NIB" build --logfile "$T/split.log" --logsplit --platform linux/amd64,linux/arm64 \
	-f "$T/sctx/Scratch" --manifest splitlist "$T/sctx"
assert_status 0
assert_match "$(cat "$T/split.log_linux_amd64")" 'STEP 2/2: COPY a /'
assert_match "$(cat "$T/split.log_linux_arm64")" 'STEP 2/2: COPY a /'
assert_no_match "$(cat "$T/split.log")" 'STEP' "the platforms' steps are in their own files"
assert_eq "$(stat -c %a "$T/split.log_linux_arm64")" 600
run "$NIB" build --logfile "$T/one.log" --logsplit -f "$T/sctx/Unused" --target bad "$T/sctx"
assert_status 1
assert_lines "$err" 1
assert_match "$(cat "$T/one.log_linux_$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')")" \
	'nib: error: .*Unused:2: COPY source not found'

t "-f URL"
W=$T/www
mkdir -p "$W"
printf 'FROM scratch\nCOPY a /from-url\n' >"$W/Containerfile"
tar -C "$T/sctx" -cf "$W/ctx.tar" a
HTTP_PORT=$(free_port)
(cd "$W" && exec python3 -m http.server -b 127.0.0.1 "$HTTP_PORT") >"$T/http.log" 2>&1 &
at_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$HTTP_PORT/Containerfile" >/dev/null && break
	sleep 0.1
done
run "$NIB" build -q -f "http://127.0.0.1:$HTTP_PORT/Containerfile" -o type=local,dest="$T/url.out" \
	"$T/sctx"
assert_status 0
assert_file "$T/url.out/from-url"
run "$NIB" build -q -f "http://127.0.0.1:$HTTP_PORT/ctx.tar" "$T/sctx"
assert_status 2 "an archive"
assert_match "$err" "ctx.tar: an archive, not a Containerfile"
run "$NIB" build -q --retry 0 -f "http://127.0.0.1:$HTTP_PORT/missing" "$T/sctx"
assert_status 1 "a missing file"
assert_lines "$err" 1
assert_match "$err" "-f http://127.0.0.1:$HTTP_PORT/missing: .*404"
if [ "$HAVE_BUILDAH" = 1 ]; then
	bud -f "http://127.0.0.1:$HTTP_PORT/Containerfile" "$T/sctx" >/dev/null 2>&1 ||
		fail "buildah -f URL"
fi

t "--http-proxy"
printf 'FROM localhost/busybox:latest\nRUN echo "p=$http_proxy n=$NO_PROXY" > /p\n' >"$C/Proxy"
http_proxy=http://proxy.invalid:3128 NO_PROXY=localhost run "$NIB" build -q --no-cache \
	-f "$C/Proxy" -o type=local,dest="$T/p1" -t proxied "$C"
assert_status 0
assert_eq "$(cat "$T/p1/p")" "p=http://proxy.invalid:3128 n=localhost"
assert_no_match "$(ncfg proxied .config.Env)" 'proxy' "not in the config"
assert_no_match "$(ncfg proxied .history)" 'proxy.invalid' "not in the history"
http_proxy=http://proxy.invalid:3128 run "$NIB" build -q --no-cache --http-proxy=false \
	-f "$C/Proxy" -o type=local,dest="$T/p2" "$C"
assert_eq "$(cat "$T/p2/p")" "p= n="

t "--retry"
printf 'FROM 127.0.0.1:9/none:latest\n' >"$C/Remote"
start=$(date +%s%N)
run "$NIB" build -q --retry 0 --tls-verify=false -f "$C/Remote" "$C"
t0=$((($(date +%s%N) - start) / 1000000))
assert_status 1
assert_match "$err" 'Remote:1'
start=$(date +%s%N)
run "$NIB" build -q --retry 2 --retry-delay 400ms --tls-verify=false -f "$C/Remote" "$C"
t2=$((($(date +%s%N) - start) / 1000000))
assert_status 1
[ "$t2" -ge 1100 ] || fail "--retry 2 --retry-delay 400ms took ${t2}ms (expected 400+800)"
[ "$t0" -lt "$t2" ] || fail "--retry 0 took ${t0}ms, --retry 2 ${t2}ms"
# the registry commands' --registries-conf, for the build's one client
run "$NIB" build -q --retry 0 --registries-conf "$T/registries.conf" -f "$C/Remote" "$C"
assert_status 1
assert_match "$err" 'Remote:1: FROM 127.0.0.1:9/none:latest: .*blocked by registries.conf'

t "--pull-always and --pull-never"
printf 'FROM localhost/not-here:latest\n' >"$C/Missing"
run "$NIB" build -q --pull-never -f "$C/Missing" "$C"
assert_status 1
assert_match "$err" 'pull=never'
run "$NIB" build -q --pull-always --retry 0 -t pa "$C"
assert_status 1 "busybox is in the store, but --pull-always asks localhost for it"
assert_match "$err" 'Containerfile:1: FROM localhost/busybox:latest'

t "-o - and type=tar"
(cd "$T" && "$NIB" build -o - -t tarred "$C" >"$T/out.tar" 2>"$T/out.err")
assert_eq "$?" 0
assert_no_file "$T/-"
assert_match "$(cat "$T/out.err")" '^STEP 1/3' "the build's output goes to stderr"
assert_match "$(cat "$T/out.err")" 'Successfully tagged'
listing=$(tar -tvf "$T/out.tar")
assert_match "$listing" ' 0/0 .* bin/busybox$'
assert_match "$listing" ' 1000/1000 .* home/user/$' "owners from the layers"
assert_match "$listing" ' seen$'
run "$NIB" build -q -o type=tar,dest="$T/out2.tar" "$C"
assert_status 0
cmp -s "$T/out.tar" "$T/out2.tar" || fail "type=tar,dest=FILE differs from -o -"
(cd "$T" && "$NIB" build -q -o - "$C" >"$T/out3.tar" 2>"$T/out3.err")
assert_match "$(cat "$T/out3.err")" '^[0-9a-f]{64}$' "-q: the image ID on stderr"
cmp -s "$T/out.tar" "$T/out3.tar" || fail "-q -o - differs"
# the tar holds what type=local writes: names, types, owners, modes, sizes,
# contents, link targets and xattrs (extracted by GNU tar as root)
run "$NIB" build -q -o type=local,dest="$T/local" "$C"
assert_status 0
mkdir -p "$T/untar"
tar --xattrs --xattrs-include='*' --same-owner -xpf "$T/out.tar" -C "$T/untar"
list=$NIB_SRC/tests/layers/tree_list.py
assert_eq "$(python3 "$list" tree "$T/untar" | sort)" "$(python3 "$list" tree "$T/local" | sort)" \
	"-o - holds the type=local tree"
printf 'FROM scratch\n' >"$T/sctx/Empty"
run "$NIB" build -q -f "$T/sctx/Empty" -o type=tar,dest="$T/empty.tar" "$T/sctx"
assert_status 0
assert_eq "$(tar -tf "$T/empty.tar" | grep -cv '^\./$')" 0 "an empty rootfs"

t "-q and a failing RUN"
run "$NIB" build -q -f "$C/Failing" "$C"
assert_status 1
assert_eq "$out" "" "no image ID"
assert_match "$err" 'err-line'
assert_match "$err" 'out-line'
assert_match "$err" 'nib: error: .*Failing:2: .*exit status 3'
printf 'FROM localhost/busybox:latest\nRUN echo hidden-ok >&2\nRUN echo shown >&2; false\n' >"$C/Failing2"
run "$NIB" build -q -f "$C/Failing2" "$C"
assert_no_match "$err" 'hidden-ok' "a step that succeeded stays quiet"
assert_match "$err" 'shown'

t "a full disk names the step"
mkdir -p "$T/small"
if mount -t tmpfs -o size=12m nibtest "$T/small" 2>/dev/null; then
	at_exit umount "$T/small"
	bases_nib_load "$T/small/root" busybox 0:0
	printf 'FROM localhost/busybox:latest\nRUN head -c 6000000 /dev/urandom > /big\n' >"$C/Big"
	for d in vfs overlay; do
		NIB_ROOT=$T/small/root run "$NIB" build --storage-driver $d -q -f "$C/Big" "$C"
		assert_status 1 "$d"
		assert_match "$err" 'nib: error: .*Big:2: ' "$d"
	done
	# overlay: the step's file fits, its layer blob does not
	assert_match "$err" 'No space left on device' overlay
else
	skip "cannot mount a small tmpfs"
fi

# The same options as a user with a subuid range, one without (a single UID)
# and in the restricted-pod simulation: the same tar as root's.
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
printf 'FROM localhost/busybox:latest\nRUN grep CapEff /proc/self/status > /caps\n' >"$C/UCaps"
chmod -R a+rX "$C"
if users_setup; then
	for who in root nibsub nibplain podsim; do
		t "$who: -o -, --cap-drop, --env and -f - give root's result"
		case $who in
		root) r=$T/u-root owner=0:0 ;;
		podsim)
			podsim_available || {
				skip "needs unshare and setpriv"
				continue
			}
			r=$(podsim_dir u-podsim) owner=$PODSIM_UID:$PODSIM_GID
			;;
		*) r=$(user_dir "$who" "u-$who") owner=$(id -u "$who"):$(id -g "$who") ;;
		esac
		mkdir -p "$r"
		bases_nib_load "$r" busybox "$owner" || fail "base"
		cmd="\"\$NIB\" build -q --timestamp 1700000000 --env E=1 --cap-drop ALL --iidfile '$r/id' -f - -o - '$C' <'$C/UCaps' >'$r/out.tar'"
		case $who in
		root) NIB_ROOT=$r run sh -c "$cmd" ;;
		podsim) NIB_ROOT=$r run podsim sh -c "$cmd" ;;
		*) NIB_ROOT=$r run as_user "$who" sh -c "$cmd" ;;
		esac
		assert_status 0
		listing=$(tar -xOf "$r/out.tar" caps 2>&1)
		assert_eq "$listing" "CapEff:	0000000000000000"
		assert_match "$(tar -tvf "$r/out.tar")" ' 1000/1000 .* home/user/$'
		assert_eq "$(NIB_ROOT=$r "$NIB" inspect --json "$(cat "$r/id")" | jq -c '.Config.config.Env')" \
			'["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","E=1"]'
		if [ "$who" != root ]; then
			cmp -s "$T/u-root/out.tar" "$r/out.tar" || fail "the tar differs from root's"
			assert_eq "$(cat "$r/id")" "$(cat "$T/u-root/id")" "root's image ID"
		fi
		# --from, --os-version, --os-feature, --skip-unused-stages, -f URL and
		# --logsplit as this user: root's image
		t "$who: --from, --os-*, --skip-unused-stages, -f URL and --logsplit as root"
		chmod -R a+rX "$T/sctx"
		cmd="\"\$NIB\" build --timestamp 1700000000 --from localhost/busybox:latest --os-version 12 --os-feature f1 --skip-unused-stages=false -f http://127.0.0.1:$HTTP_PORT/Containerfile --logfile '$r/split.log' --logsplit --iidfile '$r/id2' '$T/sctx'"
		case $who in
		root) NIB_ROOT=$r run sh -c "$cmd" ;;
		podsim) NIB_ROOT=$r run podsim sh -c "$cmd" ;;
		*) NIB_ROOT=$r run as_user "$who" sh -c "$cmd" ;;
		esac
		assert_status 0
		assert_match "$(cat "$r/split.log_linux_"*)" 'COPY a /from-url'
		assert_eq "$(NIB_ROOT=$r "$NIB" inspect --json "$(cat "$r/id2")" | jq -c '.Config | [."os.version", ."os.features"]')" \
			'["12",["f1"]]'
		[ "$who" = root ] || assert_eq "$(cat "$r/id2")" "$(cat "$T/u-root/id2")" "root's image ID"
	done
else
	skip_cases "needs root and setpriv to make test users" "unprivileged modes"
fi

t "push --log-format json"
if registry_start plain 2>/dev/null; then
	run "$NIB" --log-format json push --tls-verify=false envtest "$REG/envtest:1"
	assert_status 0
	bad=$(printf '%s\n' "$out" | jq -c . 2>&1 >/dev/null)
	assert_eq "$bad" "" "every line of stdout is JSON"
	assert_match "$out" '"event":"push_progress"'
	assert_match "$out" "\"event\":\"push\",\"ref\":\"$REG/envtest:1\",\"digest\":\"sha256:"
	assert_no_match "$err" 'Pushing'
	run "$NIB" --log-format json pull --tls-verify=false "$REG/envtest:1"
	assert_status 0
	assert_match "$out" '"event":"pull","ref":'
	assert_eq "$(printf '%s\n' "$out" | jq -c . 2>&1 >/dev/null)" "" "pull: JSON lines"
	run "$NIB" push --tls-verify=false envtest "$REG/envtest:2"
	assert_status 0
	assert_match "$out" '^sha256:[0-9a-f]{64}$' "text mode: the digest"
	assert_match "$err" 'Pushing'
else
	skip "docker-registry did not start"
fi

finish
