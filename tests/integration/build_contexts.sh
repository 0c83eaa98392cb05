#!/bin/bash
# Build contexts other than a folder: a tar archive on standard input (or a
# Containerfile there), a local tar.gz, a git repository (git:// from `git
# daemon`, http:// from a dumb-HTTP server; `#ref:folder`), an http tarball
# and an http Containerfile. Each gives the image the same context as a
# folder gives (same --timestamp digest), honours .containerignore and -f,
# and leaves no work folder behind. Hostile archives (an entry named with
# "..", an absolute name, a device node, a hard link out, a write through a
# symlink) and repository folders that leave the repository are refused
# with one line naming the entry, and the store keeps its earlier images.
# As root, as a user with a subuid range and in the restricted-pod
# simulation under CRI-O's seccomp profile.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh"

MODES=(root nibsub pod)
CASES=("tar on stdin and a local tar.gz give the folder's image"
	"a Containerfile on stdin or at an http URL, with an empty context"
	"git:// and dumb http git contexts with #ref:folder"
	"an http tarball context"
	"hostile archives are refused and the store keeps its images"
	"repository folders that leave the repository are refused"
	"usage errors, and a Containerfile as CONTEXT")
names() { for m in "${MODES[@]}"; do for c in "${CASES[@]}"; do echo "$m: $c"; done; done; }
if ! users_setup || ! podsim_available || ! command -v git >/dev/null; then
	mapfile -t all < <(names)
	skip_cases "needs root, setpriv, unshare and git" "${all[@]}"
	finish
	exit
fi

# ---- the inputs, readable by every mode's user ----
W=$T/www
mkdir -p "$W/ctx/app" "$W/ctx/skip"
printf 'FROM scratch\nCOPY . /\n' >"$W/ctx/Containerfile"
printf 'FROM scratch\nCOPY app /app\n' >"$W/ctx/app.Containerfile"
printf 'FROM scratch\nCOPY skip /skip\n' >"$W/ctx/skip.Containerfile"
echo one >"$W/ctx/app/f"
echo secret >"$W/ctx/skip/s"
printf 'skip\n' >"$W/ctx/.containerignore"
chmod -R a+rX "$W"
touch -d @1000000000 "$W/ctx" "$W/ctx"/* "$W/ctx"/*/* "$W/ctx/.containerignore"
tar -C "$W/ctx" -czf "$W/ctx.tgz" .
tar -C "$W/ctx" -cf "$W/ctx.tar" .
printf 'FROM scratch\nLABEL from=stdin\n' >"$W/Containerfile"
printf 'FROM scratch\nCOPY Containerfile /\n' >"$W/copy.Containerfile"

git init -q "$T/repo"
mkdir -p "$T/repo/sub"
cp -a "$W/ctx/." "$T/repo/sub/"
ln -s /etc "$T/repo/sub/etc-link"
ln -s ../../../.. "$T/repo/up-link"
git -C "$T/repo" add -A
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qm one
git -C "$T/repo" tag v1
echo two >"$T/repo/sub/app/f"
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qam two
printf 'FROM scratch\nCOPY .git/HEAD /h\n' >"$T/repo/git.Containerfile"
git -C "$T/repo" add git.Containerfile
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qm three
V1=$(git -C "$T/repo" rev-parse v1)
git clone -q --bare "$T/repo" "$W/repo.git"
git -C "$W/repo.git" update-server-info
chmod -R a+rX "$W"

# hostile archives
python3 - "$W" <<'EOF'
import io, sys, tarfile
w = sys.argv[1]
def mk(name, entries):
    with tarfile.open(f"{w}/{name}.tar", "w") as t:
        for e in entries:
            t.addfile(e, io.BytesIO(b"x") if e.isreg() else None)
def reg(n):
    i = tarfile.TarInfo(n); i.size = 1; return i
def typ(n, ty, link=""):
    i = tarfile.TarInfo(n); i.type = ty; i.linkname = link; return i
mk("dotdot", [reg("Containerfile"), reg("../escape")])
mk("abs", [reg("Containerfile"), reg("/tmp/escape")])
mk("dev", [reg("Containerfile"), typ("null", tarfile.CHRTYPE)])
mk("fifo", [reg("Containerfile"), typ("p", tarfile.FIFOTYPE)])
mk("hardlink", [reg("Containerfile"), typ("h", tarfile.LNKTYPE, "../../etc/passwd")])
mk("through-link", [reg("Containerfile"), typ("l", tarfile.SYMTYPE, "/tmp"),
                    reg("l/escape")])
EOF
chmod a+r "$W"/*.tar

HTTP_PORT=$(free_port)
(cd "$W" && exec python3 -m http.server -b 127.0.0.1 "$HTTP_PORT") >"$T/http.log" 2>&1 &
HTTP_PID=$!
GIT_PORT=$(free_port)
git daemon --reuseaddr --listen=127.0.0.1 --port="$GIT_PORT" --export-all \
	--base-path="$W" --pid-file="$T/gitd.pid" >"$T/gitd.log" 2>&1 &
GITD_PID=$!
at_exit "kill $HTTP_PID $GITD_PID 2>/dev/null"
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$HTTP_PORT/Containerfile" >/dev/null &&
		git ls-remote "git://127.0.0.1:$GIT_PORT/repo.git" >/dev/null 2>&1 && break
	sleep 0.1
done
HTTP=http://127.0.0.1:$HTTP_PORT
GITD=git://127.0.0.1:$GIT_PORT

nib_as() { # ARGS... (standard input passed on)
	case $mode in
	root) run timeout 120 "$NIB" --root "$S" "$@" ;;
	nibsub) run as_user nibsub timeout 120 "$T/bin/nib" --root "$S" "$@" ;;
	pod) PODSIM_SECCOMP=crio run podsim timeout 120 "$T/bin/nib" --root "$S" "$@" ;;
	esac
}
id_of() { # REF: the image ID of REF in the mode's store
	nib_as inspect --json "$1"
	jq -r .ImageID <<<"$out"
}
no_work_left() {
	assert_eq "$(find "$S/nib/tmp" -mindepth 1 -maxdepth 1 -name 'context-*' 2>/dev/null)" ""
}

case_tar() {
	nib_as build -q --timestamp 0 -t localhost/dir "$W/ctx"
	assert_status 0
	want=$(id_of localhost/dir)
	nib_as build -q --timestamp 0 -t localhost/stdin - <"$W/ctx.tgz"
	assert_status 0
	assert_eq "$(id_of localhost/stdin)" "$want"
	nib_as build -q --timestamp 0 -t localhost/stdin-plain - <"$W/ctx.tar"
	assert_eq "$(id_of localhost/stdin-plain)" "$want"
	nib_as build -q --timestamp 0 -t localhost/tgz "$W/ctx.tgz"
	assert_status 0
	assert_eq "$(id_of localhost/tgz)" "$want"
	# .containerignore keeps skip/ out; -f names a file of the archive
	nib_as build -q -f skip.Containerfile - <"$W/ctx.tgz"
	assert_status 1
	assert_match "$err" "skip"
	nib_as build -q --timestamp 0 -f app.Containerfile -t localhost/tgz-f - <"$W/ctx.tgz"
	assert_status 0
	nib_as build -q --timestamp 0 -f "$W/ctx/app.Containerfile" -t localhost/dir-f "$W/ctx"
	assert_eq "$(id_of localhost/tgz-f)" "$(id_of localhost/dir-f)"
	nib_as build -q --timestamp 0 -f "$W/ctx/app.Containerfile" -t localhost/tgz-abs "$W/ctx.tgz"
	assert_status 0
	assert_eq "$(id_of localhost/tgz-abs)" "$(id_of localhost/dir-f)"
	no_work_left
}

case_containerfile() {
	nib_as build -q -t localhost/cf-stdin - <"$W/Containerfile"
	assert_status 0
	nib_as inspect --json localhost/cf-stdin
	assert_eq "$(jq -r .Config.config.Labels.from <<<"$out")" stdin
	nib_as build -q -t localhost/cf-http "$HTTP/Containerfile"
	assert_status 0
	assert_eq "$(id_of localhost/cf-http)" "$(id_of localhost/cf-stdin)"
	# the context is empty: COPY finds nothing
	nib_as build -q -t localhost/cf-copy - <"$W/copy.Containerfile"
	assert_status 1
	no_work_left
}

case_git() {
	nib_as build -q --timestamp 0 -t localhost/dir-app "$T/repo/sub"
	want2=$(id_of localhost/dir-app)
	nib_as build -q --timestamp 0 -t localhost/git-head "$GITD/repo.git#:sub"
	assert_status 0
	assert_eq "$(id_of localhost/git-head)" "$want2"
	nib_as build -q --timestamp 0 -t localhost/git-http "$HTTP/repo.git#master:sub"
	assert_status 0
	assert_eq "$(id_of localhost/git-http)" "$want2"
	# a tag and a commit give the first version
	nib_as build -q --timestamp 0 -t localhost/git-v1 "$GITD/repo.git#v1:sub"
	assert_status 0
	nib_as build -q --timestamp 0 -t localhost/git-sha "$GITD/repo.git#$V1:sub"
	assert_status 0
	assert_eq "$(id_of localhost/git-sha)" "$(id_of localhost/git-v1)"
	assert_ne "$(id_of localhost/git-v1)" "$want2"
	# .git is removed unless kept
	nib_as build -q -f git.Containerfile -t localhost/git-gitdir "$GITD/repo.git"
	assert_status 1
	assert_match "$err" "\\.git/HEAD"
	nib_as build -q -f git.Containerfile --build-arg BUILDKIT_CONTEXT_KEEP_GIT_DIR=1 \
		-t localhost/git-gitdir "$GITD/repo.git"
	assert_status 0
	nib_as build -q "$GITD/repo.git#no-such-ref"
	assert_status 1
	assert_match "$err" "^nib: error: context $GITD/repo.git#no-such-ref: git fetch failed: .*no-such-ref"
	no_work_left
}

case_http_tar() {
	nib_as build -q --timestamp 0 -t localhost/http-tgz "$HTTP/ctx.tgz"
	assert_status 0
	assert_eq "$(id_of localhost/http-tgz)" "$(id_of localhost/dir)"
	nib_as build -q "$HTTP/missing.tgz"
	assert_status 1
	assert_match "$err" "missing.tgz"
	no_work_left
}

case_hostile() {
	before=$(id_of localhost/dir)
	for a in dotdot abs hardlink; do
		nib_as build -q "$W/$a.tar"
		assert_status 1
		assert_match "$err" "^nib: error: context $W/$a.tar: .* outside the context$"
		nib_as build -q - <"$W/$a.tar"
		assert_status 1
		assert_match "$err" "outside the context"
	done
	for a in dev fifo; do
		nib_as build -q "$W/$a.tar"
		assert_status 1
		assert_match "$err" "is a device node, FIFO or socket"
	done
	nib_as build -q "$HTTP/dev.tar"
	assert_status 1
	assert_match "$err" "is a device node, FIFO or socket"
	nib_as build -q "$W/through-link.tar"
	assert_status 1
	assert_match "$err" "l/escape"
	assert_no_file /tmp/escape
	assert_eq "$(id_of localhost/dir)" "$before"
	no_work_left
}

case_git_escape() {
	for sub in .. ../x sub/../..; do
		nib_as build -q "$GITD/repo.git#:$sub"
		assert_status 2
		assert_match "$err" "^nib: error: context $GITD/repo.git#:$sub: the folder $sub leaves the repository$"
	done
	for sub in sub/etc-link up-link; do
		nib_as build -q "$GITD/repo.git#:$sub"
		assert_status 1
		assert_match "$err" "^nib: error: context $GITD/repo.git#:$sub: the folder $sub leaves the repository$"
	done
	nib_as build -q "$GITD/repo.git#:sub/app/f"
	assert_status 1
	assert_match "$err" "sub/app/f in the repository is not a folder"
	no_work_left
}

case_usage() {
	nib_as build -q -f - - <"$W/ctx.tgz"
	assert_status 2
	assert_match "$err" "standard input"
	nib_as build -q -f Containerfile "$HTTP/Containerfile"
	assert_status 2
	assert_match "$err" "is a Containerfile itself"
	# a file that is no archive is the Containerfile, its folder the context
	nib_as build -q --timestamp 0 -t localhost/cf-file "$W/ctx/app.Containerfile"
	assert_status 0
	assert_eq "$(id_of localhost/cf-file)" "$(id_of localhost/dir-f)"
	nib_as build -q -f "$W/ctx/Containerfile" "$W/ctx/app.Containerfile"
	assert_status 2
	assert_match "$err" "is a Containerfile itself"
}

for mode in "${MODES[@]}"; do
	case $mode in
	root) S=$T/store-root ;;
	nibsub) S=$(user_dir nibsub store-sub) ;;
	pod) S=$(podsim_dir store-pod) ;;
	esac
	i=0
	for f in case_tar case_containerfile case_git case_http_tar case_hostile \
		case_git_escape case_usage; do
		t "$mode: ${CASES[$i]}"
		$f
		i=$((i + 1))
	done
done
finish
