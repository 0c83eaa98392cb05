#!/bin/bash
# RUN --mount as a hostile or careless Containerfile meets it, in every mode
# (root, nibsub, nibplain, the restricted-pod simulation, and a pod whose
# seccomp profile leaves RUN to the ptrace isolation):
#   - a bind of the context sees the context the build sees: what
#     .dockerignore excludes is not there (nor in a rw bind), and changing
#     an excluded file keeps the step cached;
#   - tmpfs size= is the mount's size, and a tmpfs without it gets 1 GiB;
#   - a secret's env= is in the step's environment (and only there), its
#     id defaulting to the variable's name;
#   - a secret never reaches a disk: while the step runs and after nib is
#     killed with SIGKILL, no file under the storage root holds its bytes
#     (a canary the step writes into its rootfs is found by the same
#     search, so the search can fail);
#   - --ssh forwards an agent: $SSH_AUTH_SOCK (default) and key files nib
#     loads into an ssh-agent of its own, listed by Debian's ssh-add in the
#     step (copied with its libraries onto the busybox base); the keys are
#     in no file of the storage root; missing or wrong agents are one line;
#   - -v/--volume binds a host folder into every RUN and not into the
#     image: rw writes reach the host, ro refuses writes, O discards them,
#     U chowns the source to the step's user (mapped: root, nibsub);
#     volumes are no part of the cache key, as with buildah;
#   - --build-context NAME=DIR|docker-image://REF|oci-layout://DIR:TAG is
#     what FROM, COPY --from and RUN --mount from= mean by NAME, a folder
#     confined like the context (a symlink out of it leads nowhere), also
#     fetched from an http tarball or a git repository;
#   - malformed values are refused with exit 2 and one line naming the
#     Containerfile's line and column.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh" # free_port

MODES="root nibsub nibplain podsim pod:containerd"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, a static busybox and skopeo" $MODES
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"

S=$T/secrets
mkdir -p "$S"
echo "nibSECRET-$RANDOM$RANDOM$RANDOM" >"$S/s"
SECRET=$(cat "$S/s")
chmod -R a+rX "$S"

# the context: what .dockerignore excludes must stay out of every bind
C=$T/ctx
mkdir -p "$C/sub"
printf 'secret.txt\nsub/hidden\n*.key\n!keep.key\n' >"$C/.dockerignore"
echo excluded >"$C/secret.txt"
echo kept >"$C/keep.txt"
echo excluded >"$C/sub/hidden"
echo kept >"$C/sub/shown"
echo excluded >"$C/a.key"
echo kept >"$C/keep.key"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN --mount=type=bind,target=/ctx cd /ctx && find . | sort | sed 's/^/SEEN /'
RUN --mount=type=bind,source=sub,target=/sub,rw ls /sub | sed 's/^/SUB /'; touch /sub/new
RUN --mount=type=bind,source=sub2,target=/sub2 ls /sub2 | sed 's/^/SUB2 /'
EOF
# a folder where the ignore file excludes nothing: bound as it is
mkdir -p "$C/sub2"
echo kept >"$C/sub2/all"
# an excluded source is not found, as in Docker
mkdir -p "$C/x"
printf 'FROM localhost/busybox:latest\nRUN --mount=type=bind,source=secret.txt,target=/f cat /f\n' >"$C/x/Containerfile"
# tmpfs sizes and secret env=
M=$T/ctx-mounts
mkdir -p "$M"
cat >"$M/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN --mount=type=tmpfs,target=/small,size=1m --mount=type=tmpfs,target=/dflt \
    df -k /small /dflt | sed 's/^/DF /'; \
    if dd if=/dev/zero of=/small/f bs=1024 count=2048 2>/dev/null; then echo SMALL-FILLED; else echo SMALL-FULL; fi
RUN --mount=type=secret,id=s,env=MYSEC --mount=type=secret,id=s,target=/f,env=BOTH \
    --mount=type=secret,env=s \
    if [ -n "$MYSEC" ] && [ "$MYSEC" = "$(cat /f)" ] && [ "$BOTH" = "$MYSEC" ] && [ "$s" = "$MYSEC" ]; then echo ENV-OK; fi; \
    if [ -e /run/secrets/s ]; then echo FILE-TOO; else echo ENV-ONLY; fi
EOF
# a step that holds a secret until it is killed, with a canary in its rootfs
K=$T/ctx-kill
mkdir -p "$K"
cat >"$K/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN --mount=type=secret,id=s,target=/run/secrets/s --mount=type=secret,id=s,env=SEC \
    echo "nibCAN$((6*7))ARY" >/canary; cat /run/secrets/s >/dev/null && echo "STEP-$((1+1))-RUNNING"; \
    sleep 120
EOF
# ssh-add in the step: Debian's, with the libraries it loads
A=$T/ctx-ssh
have_ssh=""
if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null; then
	have_ssh=1
	for f in "$(command -v ssh-add)" $(ldd "$(command -v ssh-add)" | grep -o '/[^ ]*'); do
		mkdir -p "$A/rootfs$(dirname "$f")"
		cp -L "$f" "$A/rootfs$f"
	done
	cat >"$A/Containerfile" <<-'EOF'
	FROM localhost/busybox:latest
	COPY rootfs/ /
	RUN --mount=type=ssh echo "DEFAULT $SSH_AUTH_SOCK $(/usr/bin/ssh-add -l)"
	RUN --mount=type=ssh,id=k,target=/agent SSH_AUTH_SOCK=/agent /usr/bin/ssh-add -l | sed 's/^/KEYS /'
	RUN --mount=type=ssh,id=none echo "NO-AGENT ${SSH_AUTH_SOCK:-unset}"
	EOF
	ssh-keygen -q -t ed25519 -N '' -C nib-key-file -f "$T/key" </dev/null
	ssh-keygen -q -t ed25519 -N '' -C nib-key-agent -f "$T/key2" </dev/null
	ssh-keygen -q -t ed25519 -N 'pass phrase' -C nib-key-locked -f "$T/key3" </dev/null
	KEYLINE=$(sed -n 3p "$T/key")
fi
# build volumes
V=$T/ctx-vol
mkdir -p "$V"
cat >"$V/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN echo "VOL $(cat /v/f)"; echo written >/v/new; echo changed >/o/f; echo "O $(cat /o/f)"; \
    touch /ro/x 2>/dev/null || echo RO-REFUSED
USER 1234:1234
RUN echo "U $(stat -c %u:%g /u /u/f | tr '\n' ' ')"
EOF
printf 'FROM localhost/vol\nRUN echo "ROOT $(ls / | tr "\\n" " ")"\n' >"$V/Containerfile.after"
# named build contexts: a folder with a symlink out of it
N=$T/ctx-named
X=$T/extra
mkdir -p "$N" "$X/sub" "$T/outside"
echo extrafile >"$X/sub/e"
echo outside >"$T/outside/marker"
ln -s "$T/outside" "$X/esc"
cat >"$N/Containerfile" <<'EOF'
FROM base
COPY --from=extra sub/e /e
RUN --mount=from=extra,target=/x echo "MNT $(cat /x/sub/e) $(cat /e)"
EOF
printf 'FROM base\nCOPY --from=extra esc/marker /m\n' >"$N/Containerfile.escape"
# the same folder as an http tarball and a git repository (dumb http)
W=$T/www
mkdir -p "$W"
tar czf "$W/extra.tar.gz" -C "$X" sub
have_url=""
if command -v git >/dev/null; then
	git init -q "$T/grepo"
	cp -r "$X/sub" "$T/grepo/"
	git -C "$T/grepo" add -A
	git -C "$T/grepo" -c user.email=t@nib -c user.name=t commit -qm one
	git clone -q --bare "$T/grepo" "$W/extra.git"
	git -C "$W/extra.git" update-server-info
	HTTP_PORT=$(free_port)
	(cd "$W" && exec python3 -m http.server -b 127.0.0.1 "$HTTP_PORT") >"$T/http.log" 2>&1 &
	at_exit "kill $! 2>/dev/null"
	for _ in $(seq 50); do
		curl -fs "http://127.0.0.1:$HTTP_PORT/extra.tar.gz" >/dev/null && have_url=1 && break
		sleep 0.1
	done
fi
chmod -R a+rX "$C" "$M" "$K" "$A" "$V" "$N" "$X" "$T/outside" 2>/dev/null


# refusals CONTEXT: for each line "STATUS ERE ARGS..." of stdin, `nib build
# ARGS CONTEXT` exits STATUS with one error line matching ERE, no step run
refusals() {
	local ctx=$1 want re args
	while read -r want re args; do
		run env -u SSH_AUTH_SOCK NIB_ROOT="$T/r-root" "$NIB" build $args "$ctx"
		assert_status "$want" "$args"
		assert_lines "$(printf '%s\n' "$err" | grep '^nib: error')" 1
		assert_match "$err" "^nib: error: .*$re" "$args"
		assert_no_match "$out" "STEP 2" "$args: a step ran"
	done
}

descendants() { # PID
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}

# the files under ROOT holding STRING (as root: every file)
holding() { # ROOT STRING
	grep -rlaF -- "$2" "$1" 2>/dev/null
}

for who in $MODES; do
	case $who in
	pod:*)
		if ! podsim_available || ! podsim_profiles | grep -qx "${who#pod:}"; then
			skip_cases "needs unshare, setpriv and the seccomp profile ${who#pod:}" \
				"$who: binds of the context" "$who: tmpfs size" "$who: secret env=" \
				"$who: a killed nib leaves no secret on disk" "$who: --ssh" "$who: --volume" \
				"$who: --build-context"
			continue
		fi
		;;
	esac
	case $who in
	root) root=$T/r-root ;;
	pod*) root=$(podsim_dir "r-${who/:/-}") ;;
	*) root=$(user_dir "$who" "r-$who") ;;
	esac
	run as_who "$who" "$root" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$root':localhost/busybox:latest"
	assert_status 0 "import the base"

	t "$who: binds of the context"
	run as_who "$who" "$root" sh -c "\"\$NIB\" build --timestamp 1700000000 '$C'"
	assert_status 0
	for f in ./keep.txt ./keep.key ./sub/shown ./Containerfile; do
		assert_match "$out" "SEEN $f\$" "$f is in the context"
	done
	assert_no_match "$out" "SEEN .*(secret.txt|hidden|a.key)" "excluded files in a bind"
	assert_match "$out" "SUB shown"
	assert_no_match "$out" "SUB hidden" "excluded files in a rw bind"
	assert_match "$out" "SUB2 all" "a folder with nothing excluded"
	run as_who "$who" "$root" sh -c "\"\$NIB\" build -f '$C/x/Containerfile' '$C'"
	assert_status 1 "a bind of an excluded file"
	assert_match "$err" "Containerfile:2: RUN --mount source secret.txt: .*not found: secret.txt \\(excluded by the ignore file\\)"
	assert_no_match "$out$err" "^excluded" "an excluded file's content"
	if [ "$who" = root ]; then
		# an excluded file is no part of the steps' cache keys
		echo "changed, still excluded" >"$C/secret.txt"
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --timestamp 1700000000 '$C'"
		assert_status 0
		assert_no_match "$out" "^(SEEN|SUB|SUB2) " "every step cached"
		echo kept, changed >"$C/keep.txt"
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --timestamp 1700000000 '$C'"
		assert_match "$out" "SEEN ./keep.txt" "a kept file's change runs the step again"
	fi

	t "$who: tmpfs size"
	if [ "$who" = pod:containerd ]; then
		skip "the ptrace isolation has no mount namespace: a tmpfs mount is a folder, without a size (docs/security.md)"
	else
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache '$M'"
		assert_status 0
		assert_match "$out" "DF tmpfs +1024 .* /small" "size=1m"
		assert_match "$out" "DF tmpfs +1048576 .* /dflt" "the default, 1 GiB"
		assert_match "$out" "SMALL-FULL" "writing 2 MiB to a 1 MiB tmpfs"
	fi

	t "$who: secret env="
	run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache --secret id=s,src='$S/s' -t localhost/envsec '$M'"
	assert_status 0
	assert_match "$out" "ENV-OK"
	assert_match "$out" "ENV-ONLY" "env= without a target makes no file"
	run as_who "$who" "$root" sh -c "\"\$NIB\" inspect localhost/envsec"
	assert_status 0
	assert_no_match "$out" "$SECRET" "the secret in the config or history"
	assert_no_match "$out" "MYSEC=" "the secret's variable in the config"
	assert_eq "$(holding "$root" "$SECRET")" "" "files of the storage root holding the secret"

	t "$who: a killed nib leaves no secret on disk"
	log=$T/kill-${who/:/-}.log
	as_who "$who" "$root" sh -c "exec \"\$NIB\" build --no-cache --secret id=s,src='$S/s' '$K'" >"$log" 2>&1 &
	job=$!
	for _ in $(seq 1 600); do
		grep -q STEP-2-RUNNING "$log" && break
		sleep 0.1
	done
	assert_match "$(cat "$log")" "^STEP-2-RUNNING" "the step started"
	# the step's own writes are found by the search
	assert_ne "$(holding "$root" nibCAN42ARY)" "" "the search finds the step's canary ($(cat "$log"))"
	assert_eq "$(holding "$root" "$SECRET")" "" "files holding the secret while the step runs"
	# SIGKILL to nib alone (the first process of the job running nib's
	# binary), then to what is left of the job
	procs="$job $(descendants "$job")"
	for p in $procs; do
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		"$(readlink -f "$T/bin/nib")" | "$(readlink -f "$NIB")") kill -9 "$p"; break ;;
		esac
	done
	sleep 1
	for p in $procs; do kill -9 "$p" 2>/dev/null; done
	wait "$job" 2>/dev/null
	assert_eq "$(holding "$root" "$SECRET")" "" "files holding the secret after SIGKILL"

	t "$who: --volume"
	vol=$root-vol
	rm -rf "$vol"
	mkdir -p "$vol/rw" "$vol/o" "$vol/u"
	echo hostdata >"$vol/rw/f"
	echo hostdata >"$vol/o/f"
	echo hostdata >"$vol/u/f"
	chown -R --reference="$root" "$vol"
	vopts="-v $vol/rw:/v -v $vol/o:/o:O -v $vol/rw:/ro:ro,z -v $vol/u:/u:U"
	run as_who "$who" "$root" sh -c "\"\$NIB\" build $vopts -t localhost/vol '$V'"
	assert_status 0
	assert_match "$out" "^VOL hostdata" "the host's file"
	assert_eq "$(cat "$vol/rw/new" 2>&1)" "written" "a write through a rw volume"
	assert_match "$out" "^O changed" "a write in an O volume"
	assert_eq "$(cat "$vol/o/f")" "hostdata" "an O volume's changes are discarded"
	assert_match "$out" "RO-REFUSED" "a write in a ro volume"
	case $who in
	root)
		assert_match "$out" "^U 1234:1234 1234:1234" "U: the step's user"
		assert_eq "$(stat -c %u:%g "$vol/u" "$vol/u/f" | tr '\n' ' ')" "1234:1234 1234:1234 " "U on the host"
		;;
	nibsub)
		assert_match "$out" "^U 1234:1234 1234:1234" "U: the step's user"
		assert_ne "$(stat -c %u "$vol/u/f")" "$(id -u nibsub)" "U on the host: the user's mapped ID"
		;;
	esac
	run as_who "$who" "$root" sh -c "\"\$NIB\" build -f '$V/Containerfile.after' '$V'"
	assert_status 0
	assert_match "$out" "^ROOT bin .*etc .*tmp " "the image's root"
	assert_no_match "$out" "^ROOT .* (v|o|ro|u) " "the volumes' targets in the image"
	# buildah: volumes are no part of the cache key
	run as_who "$who" "$root" sh -c "\"\$NIB\" build -v $vol/rw:/other -t localhost/vol '$V'"
	assert_status 0
	assert_no_match "$out" "^(VOL|O|U) " "the steps ran again"

	t "$who: --build-context"
	for base in docker-image://localhost/busybox:latest "oci-layout://$T/fixture:bb"; do
		run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache --build-context base=$base --build-context extra='$X' '$N'"
		assert_status 0 "$base"
		assert_match "$out" "^MNT extrafile extrafile" "COPY --from and RUN --mount from= a folder ($base)"
	done
	run as_who "$who" "$root" sh -c "\"\$NIB\" build --build-context base=docker-image://localhost/busybox:latest --build-context extra='$X' -f '$N/Containerfile.escape' '$N'"
	assert_status 1 "a symlink out of a build context"
	assert_match "$err" "COPY source not found: esc/marker" "a symlink out of a build context"
	command -v git >/dev/null && assert_ne "$have_url" "" "an http server for the URL contexts"
	if [ -n "$have_url" ]; then
		for url in "http://127.0.0.1:$HTTP_PORT/extra.tar.gz" "http://127.0.0.1:$HTTP_PORT/extra.git"; do
			run as_who "$who" "$root" sh -c "\"\$NIB\" build --no-cache --build-context base=docker-image://localhost/busybox:latest --build-context extra=$url '$N'"
			assert_status 0 "$url"
			assert_match "$out" "^MNT extrafile extrafile" "a fetched build context ($url)"
		done
	fi
	printf 'FROM extra\n' >"$T/from-folder-$who"
	chmod a+r "$T/from-folder-$who"
	run as_who "$who" "$root" sh -c "\"\$NIB\" build --build-context extra='$X' -f '$T/from-folder-$who' '$N'"
	assert_status 2 "FROM a folder"
	assert_match "$err" "^nib: error: .*FROM extra: extra is the build context .*, a folder: an image is needed here"

	t "$who: --ssh"
	if [ -z "$have_ssh" ]; then
		skip "needs Debian's openssh-client (ssh-agent, ssh-add, ssh-keygen)"
		continue
	fi
	# the user's own copies of the keys (ssh-add refuses a key others read)
	keys=$root-keys
	mkdir -p "$keys"
	cp "$T/key" "$T/key2" "$keys/"
	chown -R --reference="$root" "$keys"
	chmod 0700 "$keys"
	chmod 0600 "$keys"/*
	run as_who "$who" "$root" sh -c "eval \"\$(ssh-agent -s)\" >/dev/null && ssh-add -q '$keys/key2' &&
		\"\$NIB\" build --no-cache --ssh default --ssh k='$keys/key' -t localhost/ssh '$A'; rc=\$?; kill \$SSH_AGENT_PID; exit \$rc"
	assert_status 0
	assert_match "$out" "^DEFAULT /run/buildkit/ssh_agent.0 256 SHA256:.* nib-key-agent \(ED25519\)" "the caller's agent, SSH_AUTH_SOCK set"
	assert_match "$out" "^KEYS 256 SHA256:.* nib-key-file \(ED25519\)" "the key file's agent"
	assert_match "$out" "^NO-AGENT unset" "an ssh mount of an id --ssh does not give: no mount"
	assert_eq "$(holding "$root" "$KEYLINE")" "" "files of the storage root holding the key"
	run as_who "$who" "$root" sh -c "\"\$NIB\" inspect localhost/ssh"
	assert_no_match "$out" "SSH_AUTH_SOCK=/run" "the agent's variable in the config"
done

t "--ssh refused: exit 2 or 1, one line"
if [ -z "$have_ssh" ]; then
	skip "needs Debian's openssh-client (ssh-agent, ssh-add, ssh-keygen)"
else
	chmod 0600 "$T/key3"
	mkfifo "$T/fifo"
	agents=$(ls -d /tmp/nib-ssh.* 2>/dev/null | sort)
	refusals "$A" <<-EOF
	2 SSH_AUTH_SOCK.is.not.set --ssh default
	2 bad.--ssh --ssh =x
	2 bad.--ssh --ssh k=
	2 bad.--ssh --ssh k=$T/key,
	1 --ssh.k:.$T/missing:.No.such.file --ssh k=$T/missing
	2 neither.an.agent's.socket.nor.a.key.file --ssh k=$T
	2 neither.an.agent's.socket.nor.a.key.file --ssh k=$T/fifo
	2 not.a.private.key.ssh-add.takes.without.a.passphrase --ssh k=$T/key3
	2 not.a.private.key --ssh k=$T/ctx-ssh/Containerfile
	EOF
	assert_eq "$(ls -d /tmp/nib-ssh.* 2>/dev/null | sort)" "$agents" "agents' folders left behind"
fi

t "root: --volume and --build-context give what buildah 1.28 gives"
if ! command -v buildah >/dev/null; then
	skip "buildah is not installed (make deps installs it)"
else
	B="buildah --storage-driver vfs --root $T/bstore --runroot $T/brun"
	# (buildah pull oci:DIR names the image after DIR, which may hold capitals)
	skopeo copy --quiet "oci:$T/fixture:bb" "containers-storage:[vfs@$T/bstore+$T/brun]localhost/busybox:latest"
	for who in buildah nib; do
		vol=$T/cmp-$who
		mkdir -p "$vol/rw" "$vol/o" "$vol/u"
		for d in rw o u; do echo hostdata >"$vol/$d/f"; done
		vopts="-v $vol/rw:/v -v $vol/o:/o:O -v $vol/rw:/ro:ro,z -v $vol/u:/u:U"
		ctxs="--build-context base=docker-image://localhost/busybox:latest --build-context extra=$X"
		if [ $who = buildah ]; then
			b=$(timeout 300 $B bud --isolation chroot $vopts "$V" 2>&1; timeout 300 $B bud --isolation chroot $ctxs "$N" 2>&1)
		else
			b=$(NIB_ROOT=$T/r-root "$NIB" build --no-cache $vopts "$V" 2>&1; NIB_ROOT=$T/r-root "$NIB" build --no-cache $ctxs "$N" 2>&1)
		fi
		printf '%s\n' "$b" >"$T/cmp-$who.raw"
		printf '%s\n' "$b" | grep -E '^(VOL |O |RO-REFUSED|U |MNT )' >"$T/cmp-$who.out"
		{ cat "$vol/rw/new" "$vol/o/f"; stat -c %u:%g "$vol/u/f"; } >>"$T/cmp-$who.out" 2>&1
	done
	assert_match "$(cat "$T/cmp-buildah.out")" "^VOL hostdata" "buildah ran: $(tail -5 "$T/cmp-buildah.raw")"
	assert_eq "$(cat "$T/cmp-nib.out")" "$(cat "$T/cmp-buildah.out")" "nib's and buildah's"
fi

t "--build-context refused: exit 2 or 1, one line"
refusals "$N" <<EOF
2 bad.--build-context."x" --build-context x
2 bad.--build-context."=y" --build-context =y
2 bad.--build-context."x=" --build-context x=
2 bad.--build-context."x=docker-image://" --build-context x=docker-image://
2 unknown.scheme --build-context x=ftp://example.org/c.tar
1 --build-context.x=$T/missing:.not.a.folder --build-context x=$T/missing
EOF

t "--volume refused: exit 2 or 1, one line"
mkdir -p "$T/vsrc"
refusals "$V" <<EOF
2 bad.--volume.*both.absolute.paths -v $T/vsrc
2 bad.--volume.*both.absolute.paths -v vsrc:/x
2 bad.--volume.*both.absolute.paths -v $T/vsrc:x
2 unknown.option."bogus" -v $T/vsrc:/x:ro,bogus
1 --volume.$T/missing:/x:.$T/missing:.No.such.file -v $T/missing:/x
EOF

t "malformed mount values: exit 2, one line with the position"
B=$T/ctx-bad
mkdir -p "$B"
for spec in "type=tmpfs,target=/t,size=abc" "type=tmpfs,target=/t,size=0" \
	"type=secret,id=x,env=1X" "type=bind,target=/t,env=A" "type=cache,target=/t,size=1m"; do
	printf 'FROM localhost/busybox:latest\nRUN --mount=%s true\n' "$spec" >"$B/Containerfile"
	run env NIB_ROOT="$T/r-root" "$NIB" build "$B"
	assert_status 2 "$spec"
	# the error, then the line it is about
	assert_lines "$(printf '%s\n' "$err" | grep -v '^    RUN ')" 1
	assert_match "$err" "^nib: error: .*Containerfile:2:5: RUN: (invalid size|invalid variable name|unexpected key)" "$spec"
done

finish
