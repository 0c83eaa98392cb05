#!/bin/bash
# nib serve's API against real parts: the service runs as the ordinary user
# nibsub, builds run as its nib processes and push to Debian's
# docker-registry on loopback; two tenants from a tenants file. Health,
# metrics, submit (tar body, JSON spec), get, list, logs (text, JSON,
# follow), cancel, delete; every bad request answered with a JSON error
# and nothing written.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("health, readiness and metrics answer without a token"
	"a wrong method is 405 with Allow, an unknown path 404, both JSON"
	"no token or an unknown one is 401"
	"a tar context builds, is pushed under the tenant's prefix and its log follows"
	"an inline Containerfile (JSON body) builds"
	"the JSON log is the event lines nib writes"
	"a tenant sees only its builds"
	"a push outside the tenant's prefixes is 403 and nothing is written"
	"malformed, unknown and oversize requests are refused with JSON errors"
	"context archives with .., absolute paths, devices or outside links are refused"
	"a git or URL context from a host not allowed is refused"
	"a failing RUN step fails the build with its reason"
	"a running build is cancelled; delete wants a finished one"
	"RUN steps reach no network: not the service, not its loopback"
	"the service is still up and counted the work")

if [ "$(id -u)" != 0 ] || ! have_static_busybox || ! command -v docker-registry >/dev/null ||
	! command -v skopeo >/dev/null || ! command -v jq >/dev/null; then
	skip_cases "needs root (to make the test users), a static busybox, docker-registry, skopeo and jq" "${CASES[@]}"
	finish
	exit
fi
users_setup || {
	skip_cases "the test users could not be made" "${CASES[@]}"
	finish
	exit
}
registry_start plain || {
	skip_cases "the registry did not start" "${CASES[@]}"
	finish
	exit
}
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet --dest-tls-verify=false oci:"$T/fixture":bb docker://"$REG"/base/busybox:latest

TOKA=alpha-token-0123456789abcdef
TOKB=beta-token-0123456789abcdefgh
cat >"$T/tenants.json" <<JSON
{"tenants": [
  {"name": "alpha", "token": "$TOKA", "prefixes": ["$REG/alpha"]},
  {"name": "beta", "tokenSha256": "$(printf %s "$TOKB" | sha256sum | cut -d' ' -f1)", "prefixes": ["$REG/beta/"]}
]}
JSON
chmod 0644 "$T/tenants.json"
SERVE_AS=nibsub serve_start state --tenants "$T/tenants.json" --tls-verify=false \
	--max-context-size 1M --allow-host git.example.com --build-timeout 120 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

t "health, readiness and metrics answer without a token"
api GET /healthz
assert_eq "$code" 200
api GET /readyz
assert_eq "$code" 200
api GET /metrics
assert_eq "$code" 200
assert_match "$body" '^nib_serve_queue_length 0$'
assert_match "$body" '^nib_serve_builds_running 0$'

t "a wrong method is 405 with Allow, an unknown path 404, both JSON"
run curl -si -X PUT "$SERVE_URL/v1/builds"
assert_match "$out" '^HTTP/1.1 405'
assert_match "$out" '^Allow: GET,HEAD,POST'
assert_match "$out" '"error":"PUT not allowed on /v1/builds'
api GET /v2/nothing
assert_eq "$code" 404
assert_eq "$(echo "$body" | jq -r .error)" "no such path: /v2/nothing"

t "no token or an unknown one is 401"
api GET /v1/builds
assert_eq "$code" 401
assert_match "$body" 'bearer token is needed'
TOKEN=not-a-token api GET /v1/builds
assert_eq "$code" 401
assert_match "$body" '"error":"unknown token"'

C=$T/ctx
mkdir -p "$C"
echo payload >"$C/file"
cat >"$C/Containerfile" <<CF
FROM $REG/base/busybox:latest
COPY file /file
RUN echo built-by-service && id -u >/uid
CF
tar_of "$C" >"$T/ctx.tar"

t "a tar context builds, is pushed under the tenant's prefix and its log follows"
TOKEN=$TOKA
api POST /v1/builds -H 'Content-Type: application/x-tar' \
	-H "Nib-Build-Spec: {\"tags\":[\"$REG/alpha/app:1\"],\"labels\":{\"team\":\"alpha\"},\"timestamp\":0}" \
	--data-binary @"$T/ctx.tar"
assert_eq "$code" 201
ID1=$(echo "$body" | jq -r .id)
assert_match "$(echo "$body" | jq -r .state)" '^(queued|running)$'
run curl -sfN -H "Authorization: Bearer $TOKA" "$SERVE_URL/v1/builds/$ID1/log?follow=true"
assert_status 0
assert_match "$out" '^STEP 1/3: FROM '
assert_match "$out" '^STEP 3/3: RUN echo built-by-service'
assert_match "$out" "build $ID1 succeeded"
assert_eq "$(wait_build "$ID1")" succeeded
api GET "/v1/builds/$ID1"
digest=$(echo "$body" | jq -r .digest)
assert_match "$digest" '^sha256:[0-9a-f]{64}$'
assert_eq "$(echo "$body" | jq -r '.steps')" 3
assert_eq "$(echo "$body" | jq -r '.pushedBytes > 0')" true
assert_eq "$(echo "$body" | jq -r '.pull[0]')" "$REG/alpha/app@$digest"
run skopeo inspect --tls-verify=false "docker://$REG/alpha/app:1"
assert_status 0
assert_eq "$(echo "$out" | jq -r .Digest)" "$digest"
assert_eq "$(echo "$out" | jq -r .Labels.team)" alpha

t "an inline Containerfile (JSON body) builds"
api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM $REG/base/busybox:latest\\nARG V\\nRUN echo \$V > /v\\n\",\"buildArgs\":{\"V\":\"x1\"},\"tags\":[\"$REG/alpha/inline:1\"]}"
assert_eq "$code" 201
ID2=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID2")" succeeded
run skopeo inspect --tls-verify=false "docker://$REG/alpha/inline:1"
assert_status 0

t "the JSON log is the event lines nib writes"
api GET "/v1/builds/$ID1/log?format=json"
assert_eq "$code" 200
assert_eq "$(echo "$body" | jq -c 'select(.event == null)' | wc -l)" 0 "every line is a JSON event"
assert_match "$body" '"event":"step_start"'
assert_match "$body" '"event":"push"'
assert_match "$(echo "$body" | jq -r 'select(.event=="run_output") | .line')" '^built-by-service$'

t "a tenant sees only its builds"
TOKEN=$TOKB api GET "/v1/builds/$ID1"
assert_eq "$code" 404
TOKEN=$TOKB api GET "/v1/builds/$ID1/log"
assert_eq "$code" 404
TOKEN=$TOKB api POST "/v1/builds/$ID1/cancel"
assert_eq "$code" 404
TOKEN=$TOKB api GET /v1/builds
assert_eq "$code" 200
assert_eq "$(echo "$body" | jq '.builds | length')" 0
api GET /v1/builds
assert_eq "$(echo "$body" | jq '.builds | length')" 2

nbuilds() { find "$SERVE_STATE/builds" -mindepth 1 -maxdepth 1 | wc -l; }

t "a push outside the tenant's prefixes is 403 and nothing is written"
before=$(nbuilds)
for tag in "$REG/beta/app:1" "$REG/alphabet/app:1" "docker.io/library/busybox:latest"; do
	api POST /v1/builds -H 'Content-Type: application/x-tar' \
		-H "Nib-Build-Spec: {\"tags\":[\"$tag\"]}" --data-binary @"$T/ctx.tar"
	assert_eq "$code" 403 "$tag"
	assert_match "$body" "tenant alpha may not push"
done
TOKEN=$TOKB api POST /v1/builds -H 'Content-Type: application/x-tar' \
	-H "Nib-Build-Spec: {\"tags\":[\"$REG/alpha/app:2\"]}" --data-binary @"$T/ctx.tar"
assert_eq "$code" 403
assert_eq "$(nbuilds)" "$before"
assert_eq "$(ls "$SERVE_STATE/tmp")" ""

t "malformed, unknown and oversize requests are refused with JSON errors"
before=$(nbuilds)
api POST /v1/builds -H 'Content-Type: application/json' -d '{"containerfile":'
assert_eq "$code" 400
assert_match "$body" 'spec: malformed JSON'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"containerfile":"FROM scratch","colour":"red"}'
assert_eq "$code" 400
assert_match "$body" 'spec: colour: unknown field'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"containerfile":"FROM scratch","tags":"x"}'
assert_eq "$code" 400
assert_match "$body" 'spec: tags: not an array'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"containerfile":"FROM scratch","tags":["Bad Ref!"]}'
assert_eq "$code" 400
assert_match "$body" 'spec: tags\[0\]'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"containerfile":"FROM scratch","file":"../x"}'
assert_eq "$code" 400
api POST /v1/builds -H 'Content-Type: application/json' -d '[1,2]'
assert_eq "$code" 400
assert_match "$body" 'not a JSON object'
api POST /v1/builds -H 'Content-Type: application/x-tar' -H 'Nib-Build-Spec: {"target":' --data-binary @"$T/ctx.tar"
assert_eq "$code" 400
api POST /v1/builds -H 'Content-Type: text/plain' -d 'FROM scratch'
assert_eq "$code" 415
head -c 2000000 /dev/urandom >"$T/big"
api POST /v1/builds -H 'Content-Type: application/x-tar' --data-binary @"$T/big"
assert_eq "$code" 413
assert_match "$body" 'larger than the limit of 1048576 bytes'
# without Content-Length (chunked): refused while it streams
code=$(head -c 3000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/x-tar' -H 'Transfer-Encoding: chunked' --data-binary @- "$SERVE_URL/v1/builds")
assert_eq "$code" 413
api POST /v1/builds -H 'Content-Type: application/x-tar' --data-binary 'not a tar at all, not at all'
assert_eq "$code" 400
assert_match "$body" 'context upload: not a readable archive'
mkdir -p "$T/nocf" && echo x >"$T/nocf/x"
api POST /v1/builds -H 'Content-Type: application/x-tar' --data-binary @<(tar_of "$T/nocf")
assert_eq "$code" 400
assert_match "$body" 'no Containerfile or Dockerfile'
assert_eq "$(nbuilds)" "$before"
assert_eq "$(ls "$SERVE_STATE/tmp")" ""

t "context archives with .., absolute paths, devices or outside links are refused"
before=$(nbuilds)
for kind in dotdot absolute chardev fifo hardlink; do
	python3 - "$kind" "$T/evil-$kind.tar" <<'PY'
import io, sys, tarfile
kind, path = sys.argv[1], sys.argv[2]
with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"", **kw):
        i = tarfile.TarInfo(name)
        for k, v in kw.items():
            setattr(i, k, v)
        i.size = len(data) if i.type == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if data else None)
    add("Containerfile", b"FROM scratch\n")
    if kind == "dotdot":
        add("sub/../../nib-serve-escape-test", b"x")
    elif kind == "absolute":
        add("/etc/evil", b"x")
    elif kind == "chardev":
        add("dev-null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif kind == "fifo":
        add("pipe", type=tarfile.FIFOTYPE)
    elif kind == "hardlink":
        add("link", type=tarfile.LNKTYPE, linkname="../../etc/passwd")
PY
	api POST /v1/builds -H 'Content-Type: application/x-tar' --data-binary @"$T/evil-$kind.tar"
	assert_eq "$code" 400 "$kind"
	assert_match "$body" '"error":"context upload: entry ' "$kind"
done
assert_match "$body" 'entry link is a hard link to ../../etc/passwd, outside the context'
gzip -c "$T/evil-dotdot.tar" >"$T/evil.tgz"
api POST /v1/builds -H 'Content-Type: application/gzip' --data-binary @"$T/evil.tgz"
assert_eq "$code" 400
assert_match "$body" 'entry sub/../../nib-serve-escape-test is outside the context'
assert_eq "$(nbuilds)" "$before"
assert_eq "$(find "$T" /tmp -maxdepth 4 -name nib-serve-escape-test 2>/dev/null | head -1)" ""

t "a git or URL context from a host not allowed is refused"
api POST /v1/builds -H 'Content-Type: application/json' -d '{"git":{"url":"https://evil.example.org/x.git","ref":"main"}}'
assert_eq "$code" 403
assert_match "$body" 'host evil.example.org is not one contexts may be fetched from'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"git":{"url":"http://git.example.com/x.git"}}'
assert_eq "$code" 403
assert_match "$body" 'only https URLs'
api POST /v1/builds -H 'Content-Type: application/json' -d '{"contextUrl":"https://169.254.169.254/latest/meta-data"}'
assert_eq "$code" 403
api POST /v1/builds -H 'Content-Type: application/json' -d '{"git":{"url":"https://git.example.com/x.git","ref":"--upload-pack=evil"}}'
assert_eq "$code" 400
assert_match "$body" 'git.ref: not a branch'

t "a failing RUN step fails the build with its reason"
api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM $REG/base/busybox:latest\\nRUN exit 3\\n\"}"
assert_eq "$code" 201
ID3=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID3")" failed
api GET "/v1/builds/$ID3"
assert_match "$(echo "$body" | jq -r .error)" 'exit 3'

t "a running build is cancelled; delete wants a finished one"
api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM $REG/base/busybox:latest\\nRUN echo sleeping; sleep 60\\n\"}"
ID4=$(echo "$body" | jq -r .id)
for ((i = 0; i < 100; i++)); do
	api GET "/v1/builds/$ID4/log"
	printf '%s' "$body" | grep -q '^sleeping' && break
	sleep 0.2
done
api DELETE "/v1/builds/$ID4"
assert_eq "$code" 409
assert_match "$body" 'cancel it first'
start=$(date +%s)
api POST "/v1/builds/$ID4/cancel"
assert_eq "$code" 202
assert_eq "$(wait_build "$ID4" 30)" cancelled
assert_eq "$(($(date +%s) - start < 15))" 1 "cancelled within 15 s"
api POST "/v1/builds/$ID4/cancel"
assert_eq "$code" 409
api DELETE "/v1/builds/$ID4"
assert_eq "$code" 204
api GET "/v1/builds/$ID4"
assert_eq "$code" 404
assert_no_file "$SERVE_STATE/builds/$ID4"

t "RUN steps reach no network: not the service, not its loopback"
port=${SERVE_URL##*:}
api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM $REG/base/busybox:latest\\nRUN (echo GET /healthz HTTP/1.0; echo) | nc -w 2 127.0.0.1 $port && echo REACHED || echo UNREACHABLE\\n\"}"
ID5=$(echo "$body" | jq -r .id)
wait_build "$ID5" >/dev/null
api GET "/v1/builds/$ID5/log"
assert_match "$body" '^UNREACHABLE$'
assert_no_match "$body" 'not found'
assert_no_match "$body" '^REACHED$'

t "the service is still up and counted the work"
api GET /healthz
assert_eq "$code" 200
api GET /metrics
assert_match "$body" '^nib_serve_builds_finished_total\{state="succeeded"\} [1-9]'
assert_match "$body" '^nib_serve_builds_finished_total\{state="failed"\} [1-9]'
assert_match "$body" '^nib_serve_builds_finished_total\{state="cancelled"\} 1$'
assert_match "$body" '^nib_serve_http_unauthorized_total [1-9]'
assert_match "$body" '^nib_serve_pushed_bytes_total [1-9]'
kill -0 "$SERVE_PID" || fail "the service died"
serve_stop TERM
assert_eq "$SERVE_STATUS" 0 "SIGTERM ends the service cleanly"

finish
