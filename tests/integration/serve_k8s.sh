#!/bin/bash
# nib serve --executor kubernetes against tests/lib/k8s_api.py, a stand-in
# for the Kubernetes API server (no cluster runs here) that runs each Job's
# pod on this machine as the user nibplain, the way the kubelet would run
# its containers (tests/lib/manifests.py runner). The Job fetches the
# context by a one-time URL, builds without credentials, pushes with the
# per-build Secret; its log streams into the build's; cancel deletes it; a
# git or contextUrl context is fetched by the service and sent the same way;
# the Jobs pass deploy/'s Pod Security checks.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("a build runs as a Job: context by one-time URL, build, push; its log streams"
	"the Job is restricted; only the push container mounts the credentials"
	"the one-time context URL answers once"
	"a cancelled build deletes its Job"
	"a failing step fails the Job and the build, with the reason"
	"git and contextUrl contexts: the service fetches them, the Job builds them"
	"a service account token the API refuses fails the build with the API's message"
	"deploy/nib-serve.yaml: its Role allows every call the executor made; its pod is restricted")

if [ "$(id -u)" != 0 ] || ! have_static_busybox || ! command -v docker-registry >/dev/null ||
	! command -v skopeo >/dev/null || ! command -v jq >/dev/null ||
	! python3 -c 'import yaml' 2>/dev/null || ! command -v git >/dev/null || ! command -v openssl >/dev/null; then
	skip_cases "needs root, a static busybox, docker-registry, skopeo, jq, python3-yaml, git and openssl" "${CASES[@]}"
	finish
	exit
fi
users_setup && registry_start plain || {
	skip_cases "the test users or the registry could not be set up" "${CASES[@]}"
	finish
	exit
}
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet --dest-tls-verify=false oci:"$T/fixture":bb docker://"$REG"/base/busybox:latest

K=$T/k8s
mkdir -p "$K"
echo "sa-token-$RANDOM$RANDOM" >"$T/sa-token"
KPORT=$(free_port)
python3 "$NIB_SRC/tests/lib/k8s_api.py" "$KPORT" "$T/sa-token" "$K" --run-as nibplain \
	--base-env "PATH=$T/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
	--base-env HOME=/tmp --base-env WORKDIR=/tmp >"$K/out" 2>&1 &
at_exit "kill $!"
for ((i = 0; i < 50; i++)); do grep -q listening "$K/out" && break; sleep 0.1; done

printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf 'u:p' | base64)" >"$T/auth.json"
TOK=k8s-token-0123456789abcdef
printf '{"tenants":[{"name":"kube","token":"%s","prefixes":["%s/kube"],"authfile":"%s"}]}\n' \
	"$TOK" "$REG" "$T/auth.json" >"$T/tenants.json"
SP=$(free_port)
start_k8s() { # NAME [ARGS]
	local name=$1
	shift
	serve_start "$name" --listen "127.0.0.1:$SP" --tenants "$T/tenants.json" --tls-verify=false \
		--executor kubernetes --k8s-api "http://127.0.0.1:$KPORT" --k8s-namespace builds \
		--k8s-token-file "$T/sa-token" --k8s-image registry.example/tools/nib:test \
		--service-url "http://127.0.0.1:$SP" --build-timeout 120 --allow-host 127.0.0.1 "$@"
}
# git and contextUrl contexts, over HTTPS on loopback
W=$T/www
mkdir -p "$W" "$T/repo"
printf 'FROM %s/base/busybox:latest\nCOPY file /file\nRUN cat /file\n' "$REG" >"$T/repo/Containerfile"
echo from-git >"$T/repo/file"
git init -q "$T/repo"
git -C "$T/repo" add -A
git -C "$T/repo" -c user.email=t@nib -c user.name=t commit -qm one
git clone -q --bare "$T/repo" "$W/repo.git"
git -C "$W/repo.git" update-server-info
echo from-url >"$T/repo/file"
tar -C "$T/repo" --exclude=.git -czf "$W/ctx.tgz" .
chmod -R a+rX "$W"
https_files_start "$W" || echo "the HTTPS file server did not start: $(cat "$T/https-files.log")" >&2
start_k8s state || {
	skip_cases "nib serve did not start: $(cat "$SERVE_LOG")" "${CASES[@]}"
	finish
	exit
}
TOKEN=$TOK
C=$T/ctx
mkdir -p "$C"
echo from-context >"$C/file"
printf 'FROM %s/base/busybox:latest\nCOPY file /file\nRUN cat /file && id -u\n' "$REG" >"$C/Containerfile"

t "a build runs as a Job: context by one-time URL, build, push; its log streams"
api POST /v1/builds -H 'Content-Type: application/x-tar' -H "Nib-Build-Spec: {\"tags\":[\"$REG/kube/app:1\"]}" \
	--data-binary @<(tar_of "$C")
assert_eq "$code" 201
ID=$(echo "$body" | jq -r .id)
JOB=nib-build-${ID:0:16}
run curl -sfN -H "Authorization: Bearer $TOK" "$SERVE_URL/v1/builds/$ID/log?follow=true"
assert_match "$out" "Kubernetes Job builds/$JOB created"
assert_match "$out" '^STEP 3/3: RUN cat /file'
assert_match "$out" '^from-context$'
assert_match "$out" "^Pushed $REG/kube/app:1@sha256:"
assert_eq "$(wait_build "$ID")" succeeded
api GET "/v1/builds/$ID"
digest=$(echo "$body" | jq -r .digest)
run skopeo inspect --tls-verify=false "docker://$REG/kube/app:1"
assert_eq "$(echo "$out" | jq -r .Digest)" "$digest"
assert_match "$(cat "$K/requests.log")" "GET /api/v1/namespaces/builds/pods/$JOB-x7k2p/log\?container=build&follow=true 200"

t "the Job is restricted; only the push container mounts the credentials"
J=$K/jobs/$JOB.json
run python3 "$NIB_SRC/tests/lib/manifests.py" pods "$J"
assert_status 0 "$out"
assert_eq "$(jq -r '.spec.template.spec.automountServiceAccountToken' "$J")" false
assert_eq "$(jq -r '.spec.backoffLimit' "$J")" 0
assert_eq "$(jq -r '[.spec.template.spec.initContainers[].name, .spec.template.spec.containers[].name] | join(",")' "$J")" context,build,push
assert_eq "$(jq -r '[.spec.template.spec.initContainers[] | .volumeMounts[]?.name] | unique | join(",")' "$J")" work
assert_eq "$(jq -r '.spec.template.spec.containers[0].volumeMounts | map(select(.name=="registry-auth"))[0].readOnly' "$J")" true
assert_match "$(jq -c '.spec.template.spec.initContainers[1].args' "$J")" '"build","--isolation=namespaces","--network=none"'
assert_no_match "$(jq -c '.spec.template.spec.initContainers[1]' "$J")" 'auth'
run python3 "$NIB_SRC/tests/lib/manifests.py" nibargv "$J"
assert_status 0 "$out"
S=$K/secrets/$JOB-auth.json
assert_eq "$(jq -r '.data["auth.json"]' "$S" | base64 -d)" "$(cat "$T/auth.json")"
assert_match "$(cat "$K/requests.log")" "DELETE /api/v1/namespaces/builds/secrets/$JOB-auth"

t "the one-time context URL answers once"
url=$(jq -r '.spec.template.spec.initContainers[0].env[] | select(.name=="CONTEXT_URL") | .value' "$J")
assert_match "$url" "^http://127.0.0.1:$SP/v1/contexts/$ID\?token=[0-9a-f]{48}$"
run curl -s -o /dev/null -w '%{http_code}' "$url"
assert_eq "$out" 404
run curl -s -o /dev/null -w '%{http_code}' "$SERVE_URL/v1/contexts/$ID?token=guess"
assert_eq "$out" 404

t "a cancelled build deletes its Job"
printf 'FROM %s/base/busybox:latest\nRUN echo waiting-in-job; sleep 60\n' "$REG" >"$C/Sleep.cf"
api POST /v1/builds -H 'Content-Type: application/x-tar' -H 'Nib-Build-Spec: {"file":"Sleep.cf"}' \
	--data-binary @<(tar_of "$C")
ID2=$(echo "$body" | jq -r .id)
for ((i = 0; i < 150; i++)); do
	api GET "/v1/builds/$ID2/log"
	printf '%s' "$body" | grep -q '^waiting-in-job' && break
	sleep 0.2
done
api POST "/v1/builds/$ID2/cancel"
assert_eq "$code" 202
assert_eq "$(wait_build "$ID2" 30)" cancelled
assert_match "$(cat "$K/requests.log")" "DELETE /apis/batch/v1/namespaces/builds/jobs/nib-build-${ID2:0:16}\?propagationPolicy=Background 200"
for ((i = 0; i < 50; i++)); do
	[ "$(pgrep -u nibplain -f 'echo waiting-in-job; sleep 60' | wc -l)" = 0 ] && break
	sleep 0.2
done
assert_eq "$(pgrep -u nibplain -f 'echo waiting-in-job; sleep 60' | wc -l)" 0 "the pod's processes are gone"

t "a failing step fails the Job and the build, with the reason"
printf 'FROM %s/base/busybox:latest\nRUN exit 4\n' "$REG" >"$C/Fail.cf"
api POST /v1/builds -H 'Content-Type: application/x-tar' -H 'Nib-Build-Spec: {"file":"Fail.cf"}' \
	--data-binary @<(tar_of "$C")
ID3=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID3")" failed
api GET "/v1/builds/$ID3"
assert_match "$(echo "$body" | jq -r .error)" 'Fail.cf:2: RUN exit 4'

t "git and contextUrl contexts: the service fetches them, the Job builds them"
api POST /v1/builds -H 'Content-Type: application/json' -d "{\"git\":{\"url\":\"$HTTPS_FILES_URL/repo.git\"}}"
assert_eq "$code" 201
ID5=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID5")" succeeded
api GET "/v1/builds/$ID5/log"
assert_match "$body" "fetching the context from $HTTPS_FILES_URL/repo.git"
assert_match "$body" "Kubernetes Job builds/nib-build-${ID5:0:16} created"
assert_match "$body" '^from-git$'
api POST /v1/builds -H 'Content-Type: application/json' -d "{\"contextUrl\":\"$HTTPS_FILES_URL/ctx.tgz\"}"
ID6=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID6")" succeeded
api GET "/v1/builds/$ID6/log"
assert_match "$body" '^from-url$'
api POST /v1/builds -H 'Content-Type: application/json' -d "{\"contextUrl\":\"$HTTPS_FILES_URL/no-such.tgz\"}"
ID7=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID7")" failed
api GET "/v1/builds/$ID7"
assert_match "$(echo "$body" | jq -r .error)" 'HTTP status 404'
assert_no_match "$(cat "$K/requests.log")" "nib-build-${ID7:0:16}"

t "a service account token the API refuses fails the build with the API's message"
mv "$T/sa-token" "$T/sa-token.good"
echo wrong >"$T/sa-token.bad"
serve_stop TERM
start_k8s state2 --k8s-token-file "$T/sa-token.bad" || fail "nib serve did not restart"
cp "$T/sa-token.good" "$T/sa-token"
api POST /v1/builds -H 'Content-Type: application/x-tar' --data-binary @<(tar_of "$C")
ID4=$(echo "$body" | jq -r .id)
assert_eq "$(wait_build "$ID4")" failed
api GET "/v1/builds/$ID4"
assert_eq "$(echo "$body" | jq -r .error)" "Kubernetes API: create Job: HTTP 401: Unauthorized"
serve_stop TERM

t "deploy/nib-serve.yaml: its Role allows every call the executor made; its pod is restricted"
run python3 - "$NIB_SRC/deploy/nib-serve.yaml" "$K/requests.log" <<'PY'
import re, sys, yaml
role = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "Role")
allowed = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"]
           for r in rule["resources"] for v in rule["verbs"]}
verbs = {"POST": "create", "DELETE": "delete"}
used = set()
for line in open(sys.argv[2]):
    method, path, code = line.split()
    path = path.split("?")[0]
    m = re.fullmatch(r"/apis?/(?:(batch)/)?v1/namespaces/[^/]+/(\w+)(?:/([^/]+))?(?:/(log))?", path)
    group, res, name, sub = m.group(1) or "", m.group(2), m.group(3), m.group(4)
    verb = verbs.get(method) or ("get" if name else "list")
    used.add((group, res + ("/" + sub if sub else ""), verb))
missing = used - allowed
print("used:", sorted(used))
print("not allowed:", sorted(missing))
sys.exit(1 if missing else 0)
PY
assert_status 0 "$out"
assert_match "$out" "\('batch', 'jobs', 'create'\)"
run python3 "$NIB_SRC/tests/lib/manifests.py" pods "$NIB_SRC/deploy/nib-serve.yaml"
assert_status 0 "$out"

finish
