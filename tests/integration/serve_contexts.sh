#!/bin/bash
# nib serve's git and contextUrl contexts, fetched by the service through
# builder/context.c (the code `nib build URL` uses) with the service's
# limits: https only, --max-context-size, the build's time limit, cancel.
# The service runs as the user nibsub; the contexts come from an HTTPS
# file server on loopback (a dumb-HTTP git remote and tarballs; a
# certificate of its own, hence --tls-verify=false).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("a git context at a tag is fetched over https and built, without .git"
	"a contextUrl tarball and a contextUrl Containerfile are built"
	"a context past the size limit, a hostile archive, a redirect to another host, a missing ref fail the build"
	"a stalled fetch is cancelled at once"
	"a stalled fetch ends at the build's time limit")

serve_setup git openssl

# ---- what the file server serves ----
W=$T/www
mkdir -p "$W" "$T/repo"
git init -q "$T/repo"
printf 'FROM %s/base/busybox:latest\nCOPY . /ctx\nRUN cat /ctx/file && test ! -e /ctx/.git && echo no-git-dir\n' \
	"$REG" >"$T/repo/Containerfile"
echo from-v1 >"$T/repo/file"
git -C "$T/repo" add -A
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qm one
git -C "$T/repo" tag v1
echo from-main >"$T/repo/file"
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qam two
git clone -q --bare "$T/repo" "$W/repo.git"
git -C "$W/repo.git" update-server-info
# a repository past the 1 MiB limit
mkdir -p "$T/big"
git init -q "$T/big"
head -c 1500000 /dev/urandom >"$T/big/blob"
cp "$T/repo/Containerfile" "$T/big/"
git -C "$T/big" add -A
git -C "$T/big" -c user.email=t@nib -c user.name=t commit -qm big
git clone -q --bare "$T/big" "$W/big.git"
git -C "$W/big.git" update-server-info
# tarballs: a context, one past the limit, a hostile one; a Containerfile
mkdir -p "$T/ctx"
echo from-url >"$T/ctx/file"
cp "$T/repo/Containerfile" "$T/ctx/"
tar -C "$T/ctx" -czf "$W/ctx.tgz" .
head -c 1500000 /dev/zero >"$T/ctx/zeros"
tar -C "$T/ctx" -czf "$W/big.tgz" .
python3 - "$W/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name in ("Containerfile", "a/../../escape"):
        i = tarfile.TarInfo(name); i.size = 1
        t.addfile(i, io.BytesIO(b"x"))
EOF
printf 'FROM %s/base/busybox:latest\nRUN echo from-a-url-containerfile\n' "$REG" >"$W/Containerfile"
chmod -R a+rX "$W"
https_files_start "$W" || {
	skip_cases "the HTTPS file server did not start: $(cat "$T/https-files.log")" "${CASES[@]}"
	finish
	exit
}

TOKEN=ctx-token-0123456789abcdef
printf '{"tenants":[{"name":"ctx","token":"%s","prefixes":["%s/ctx"]}]}\n' "$TOKEN" "$REG" >"$T/tenants.json"
chmod 0644 "$T/tenants.json"
SERVE_AS=nibsub serve_start state --tenants "$T/tenants.json" --tls-verify=false \
	--max-context-size 1M --allow-host 127.0.0.1 --build-timeout 8 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

submit() { # JSON: sets ID
	api POST /v1/builds -H 'Content-Type: application/json' -d "$1"
	assert_eq "$code" 201 "$1"
	ID=$(echo "$body" | jq -r .id)
}
log_of() { api GET "/v1/builds/$1/log" && echo "$body"; }
error_of() { api GET "/v1/builds/$1" && echo "$body" | jq -r .error; }

t "a git context at a tag is fetched over https and built, without .git"
submit "{\"git\":{\"url\":\"$HTTPS_FILES_URL/repo.git\",\"ref\":\"v1\"},\"tags\":[\"$REG/ctx/git:1\"]}"
assert_eq "$(wait_build "$ID")" succeeded
out=$(log_of "$ID")
assert_match "$out" "fetching the context from $HTTPS_FILES_URL/repo.git"
assert_match "$out" '^from-v1$'
assert_match "$out" '^no-git-dir$'
run skopeo inspect --tls-verify=false "docker://$REG/ctx/git:1"
assert_status 0
submit "{\"git\":{\"url\":\"$HTTPS_FILES_URL/repo.git\"}}"
assert_eq "$(wait_build "$ID")" succeeded
assert_match "$(log_of "$ID")" '^from-main$'

t "a contextUrl tarball and a contextUrl Containerfile are built"
submit "{\"contextUrl\":\"$HTTPS_FILES_URL/ctx.tgz\"}"
assert_eq "$(wait_build "$ID")" succeeded
assert_match "$(log_of "$ID")" '^from-url$'
submit "{\"contextUrl\":\"$HTTPS_FILES_URL/Containerfile\"}"
assert_eq "$(wait_build "$ID")" succeeded
assert_match "$(log_of "$ID")" '^from-a-url-containerfile$'

t "a context past the size limit, a hostile archive, a redirect to another host, a missing ref fail the build"
submit "{\"contextUrl\":\"$HTTPS_FILES_URL/big.tgz\"}"
assert_eq "$(wait_build "$ID")" failed
assert_match "$(error_of "$ID")" 'more than 1048576 bytes unpacked'
submit "{\"git\":{\"url\":\"$HTTPS_FILES_URL/big.git\"}}"
assert_eq "$(wait_build "$ID")" failed
assert_match "$(error_of "$ID")" 'more than 1048576 bytes'
submit "{\"contextUrl\":\"$HTTPS_FILES_URL/evil.tar\"}"
assert_eq "$(wait_build "$ID")" failed
assert_match "$(error_of "$ID")" 'entry a/../../escape is outside the context'
assert_eq "$(find "$T" -name escape | wc -l)" 0
submit "{\"contextUrl\":\"$HTTPS_FILES_URL/redirect/ctx.tgz\"}"
assert_eq "$(wait_build "$ID")" failed
assert_match "$(error_of "$ID")" 'redirect to another host or scheme \(https://localhost:[0-9]+\) refused'
submit "{\"git\":{\"url\":\"$HTTPS_FILES_URL/repo.git\",\"ref\":\"no-such-tag\"}}"
assert_eq "$(wait_build "$ID")" failed
assert_match "$(error_of "$ID")" 'git (fetch|checkout) failed'
api POST /v1/builds -H 'Content-Type: application/json' -d "{\"git\":{\"url\":\"$HTTPS_FILES_URL/repo.git#v1\"}}"
assert_eq "$code" 400
assert_match "$body" 'git.url: a #fragment'

t "a stalled fetch is cancelled at once"
for spec in "{\"contextUrl\":\"$HTTPS_FILES_URL/slow/ctx.tgz\"}" "{\"git\":{\"url\":\"$HTTPS_FILES_URL/slow/repo.git\"}}"; do
	submit "$spec"
	sleep 1
	start=$(date +%s)
	api POST "/v1/builds/$ID/cancel"
	assert_eq "$(wait_build "$ID" 20)" cancelled "$spec"
	assert_eq "$(($(date +%s) - start < 5))" 1 "cancelled within 5 s: $spec"
done

t "a stalled fetch ends at the build's time limit"
submit "{\"git\":{\"url\":\"$HTTPS_FILES_URL/slow/repo.git\"}}"
assert_eq "$(wait_build "$ID" 30)" failed
assert_match "$(error_of "$ID")" 'took longer than its time limit'
finish
