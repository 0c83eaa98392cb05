#!/bin/bash
# nib serve's tenants against a registry that wants a password (Debian's
# docker-registry with htpasswd): a tenant's credentials pull its private
# base image and push its image, yet no RUN step, argv, environment, log,
# layer or history of a build holds them; tenants keep their own build
# caches; a tenant without credentials is refused by the registry. The
# tenants file is read again on SIGHUP and when it changes, without a
# restart; a broken one keeps the tenants in force.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("a private base is pulled and the image pushed with the tenant's credentials"
	"no RUN step finds the credentials: not in /proc, files or fds"
	"the build processes' argv and environment hold no credentials"
	"the log, the layers and the history hold no credentials"
	"a tenant without credentials is refused by the registry, with the reason"
	"each tenant has its own build cache"
	"SIGHUP reads the tenants file again: a new tenant's token works, a removed one's is refused"
	"a replaced tenants file is read again without a signal; a broken one keeps the tenants, one error logged")

if [ "$(id -u)" != 0 ] || ! have_static_busybox || ! command -v docker-registry >/dev/null ||
	! command -v skopeo >/dev/null || ! command -v jq >/dev/null || ! command -v htpasswd >/dev/null; then
	skip_cases "needs root, a static busybox, docker-registry, htpasswd, skopeo and jq" "${CASES[@]}"
	finish
	exit
fi
users_setup && registry_start basic || {
	skip_cases "the test users or the registry could not be set up" "${CASES[@]}"
	finish
	exit
}
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet --dest-tls-verify=false --dest-creds "$REG_USER:$REG_PASS" \
	oci:"$T/fixture":bb docker://"$REG"/private/busybox:latest

B64=$(printf '%s' "$REG_USER:$REG_PASS" | base64 -w0)
mkdir -p "$T/secrets"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$B64" >"$T/secrets/alpha-auth.json"
chown -R nibsub: "$T/secrets"
chmod 0700 "$T/secrets"
chmod 0600 "$T/secrets/alpha-auth.json"
TOKA=alpha-token-0123456789abcdef
TOKB=beta-token-0123456789abcdefgh
cat >"$T/tenants.json" <<JSON
{"tenants": [
  {"name": "alpha", "token": "$TOKA", "prefixes": ["$REG/alpha"], "authfile": "$T/secrets/alpha-auth.json"},
  {"name": "beta", "token": "$TOKB", "prefixes": ["$REG/beta"]}
]}
JSON
chmod 0644 "$T/tenants.json"
SERVE_AS=nibsub serve_start state --tenants "$T/tenants.json" --tls-verify=false --build-timeout 120 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

# The password and its base64 form, each split in two so that the
# Containerfile holds neither whole.
P1=${REG_PASS:0:6} P2=${REG_PASS:6}
A1=${B64:0:10} A2=${B64:10}
C=$T/ctx
mkdir -p "$C"
cat >"$C/Containerfile" <<CF
FROM $REG/private/busybox:latest
RUN p="$P1""$P2"; a="$A1""$A2"; n=0; \\
    for f in /proc/*/cmdline /proc/*/environ /proc/*/fd/* /proc/*/maps; do \\
      [ -f "\$f" ] || continue; \\
      if cat "\$f" 2>/dev/null | grep -qF -e "\$p" -e "\$a"; then echo "FOUND in \$f"; n=\$((n+1)); fi; \\
    done; \\
    for d in /bin /etc /tmp /root /run /var /home; do \\
      grep -rlF -e "\$p" -e "\$a" \$d 2>/dev/null | sed 's/^/FOUND in /'; \\
    done; \\
    ls -l /proc/self/fd/ | grep -c -- '->' | sed 's/^/open fds: /'; \\
    echo "searched, \$n in /proc"; echo waiting; sleep 2
CF
tar_of "$C" >"$T/ctx.tar"

t "a private base is pulled and the image pushed with the tenant's credentials"
TOKEN=$TOKA
api POST /v1/builds -H 'Content-Type: application/x-tar' -H "Nib-Build-Spec: {\"tags\":[\"$REG/alpha/app:1\"]}" \
	--data-binary @"$T/ctx.tar"
assert_eq "$code" 201
ID=$(echo "$body" | jq -r .id)
# while the RUN step waits: the build's processes as the host sees them
for ((i = 0; i < 150; i++)); do
	api GET "/v1/builds/$ID/log"
	printf '%s' "$body" | grep -q '^waiting' && break
	sleep 0.2
done
procs=""
for p in $(pgrep -u nibsub -f "$SERVE_STATE"); do
	cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)
	case $cmd in nib\ * | */nib\ *) ;; *) continue ;; esac # nib's, not the RUN step's
	procs+="$cmd
$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null)
"
done
assert_eq "$(wait_build "$ID")" succeeded
api GET "/v1/builds/$ID"
digest=$(echo "$body" | jq -r .digest)
run skopeo inspect --tls-verify=false --creds "$REG_USER:$REG_PASS" "docker://$REG/alpha/app:1"
assert_status 0
assert_eq "$(echo "$out" | jq -r .Digest)" "$digest"
api GET "/v1/builds/$ID/log"
LOG=$body
assert_match "$LOG" "pulling $REG/private/busybox:latest with the service's credentials"

t "no RUN step finds the credentials: not in /proc, files or fds"
assert_match "$LOG" '^searched, 0 in /proc$'
assert_no_match "$LOG" '^FOUND in'
assert_match "$LOG" '^open fds: [0-9]+$'

t "the build processes' argv and environment hold no credentials"
assert_match "$procs" "build --isolation=namespaces" "the build was running when looked at"
assert_no_match "$procs" "$REG_PASS"
assert_no_match "$procs" "$B64"
assert_no_match "$procs" 'authfile|--creds'

t "the log, the layers and the history hold no credentials"
api GET "/v1/builds/$ID/log?format=json"
assert_no_match "$body" "$REG_PASS|$B64"
mkdir -p "$T/pulled"
skopeo copy -q --src-tls-verify=false --src-creds "$REG_USER:$REG_PASS" "docker://$REG/alpha/app:1" "dir:$T/pulled"
assert_eq "$(for f in "$T"/pulled/*; do (gzip -dc "$f" 2>/dev/null || cat "$f") | grep -caF -e "$REG_PASS" -e "$B64"; done | paste -sd+ | bc)" 0
assert_eq "$(grep -rlF -e "$REG_PASS" -e "$B64" "$SERVE_STATE/builds" "$SERVE_STATE/tenants" | wc -l)" 0

t "a tenant without credentials is refused by the registry, with the reason"
TOKEN=$TOKB api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM scratch\\nLABEL a=b\\n\",\"tags\":[\"$REG/beta/app:1\"]}"
assert_eq "$code" 201
IDB=$(echo "$body" | jq -r .id)
assert_eq "$(TOKEN=$TOKB wait_build "$IDB")" failed
TOKEN=$TOKB api GET "/v1/builds/$IDB"
assert_match "$(echo "$body" | jq -r .error)" "$REG/beta/app:1"
TOKEN=$TOKB api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM $REG/private/busybox:latest\\n\"}"
IDB2=$(echo "$body" | jq -r .id)
assert_eq "$(TOKEN=$TOKB wait_build "$IDB2")" failed
TOKEN=$TOKB api GET "/v1/builds/$IDB2"
assert_match "$(echo "$body" | jq -r .error)" "private/busybox"

t "each tenant has its own build cache"
CF="FROM scratch\\nCOPY --from=$REG/private/busybox:latest /bin/busybox /bin/busybox\\nLABEL x=y\\n"
ids=()
for tok in "$TOKA" "$TOKA"; do
	TOKEN=$tok api POST /v1/builds -H 'Content-Type: application/json' -d "{\"containerfile\":\"$CF\"}"
	ids+=("$(echo "$body" | jq -r .id)")
	TOKEN=$tok wait_build "${ids[-1]}" >/dev/null
done
TOKEN=$TOKA api GET "/v1/builds/${ids[0]}"
assert_eq "$(echo "$body" | jq -r .state)" succeeded
assert_eq "$(echo "$body" | jq -r .cacheHits)" 0
TOKEN=$TOKA api GET "/v1/builds/${ids[1]}"
assert_eq "$(echo "$body" | jq -r .cacheHits)" 1 "alpha's second build uses alpha's cache"
# beta's same Containerfile: its own store has neither the image nor the cache
CFB="FROM scratch\\nCOPY ctx-file /f\\nLABEL x=y\\n"
for tok in "$TOKA" "$TOKB"; do
	TOKEN=$tok api POST /v1/builds -H 'Content-Type: application/x-tar' \
		--data-binary @<(mkdir -p "$T/c2" && printf 'FROM scratch\nCOPY f /f\n' >"$T/c2/Containerfile" && echo same >"$T/c2/f" && tar_of "$T/c2")
	id=$(echo "$body" | jq -r .id)
	TOKEN=$tok wait_build "$id" >/dev/null
	TOKEN=$tok api GET "/v1/builds/$id"
	hits+=("$(echo "$body" | jq -r .cacheHits)")
done
assert_eq "${hits[*]}" "0 0" "beta does not get alpha's cached step"
assert_file "$SERVE_STATE/tenants/alpha/root/index.json"
assert_file "$SERVE_STATE/tenants/beta/root/index.json"

whoami() { # TOKEN: the tenant it names, else the HTTP status
	TOKEN=$1 api GET /v1/whoami
	if [ "$code" = 200 ]; then echo "$body" | jq -r .tenant; else echo "$code"; fi
}

t "SIGHUP reads the tenants file again: a new tenant's token works, a removed one's is refused"
TOKZ=zeta-token-0123456789abcdefgh # beta's token and name, as long
assert_eq "$(whoami "$TOKB")" beta
touch -r "$T/tenants.json" "$T/tenants.ref"
# the same size, inode and mtime: only the signal tells the service (it
# is stopped meanwhile, so that no look of its sees the file half done)
sed -e "s/\"beta\"/\"zeta\"/" -e "s/$TOKB/$TOKZ/" "$T/tenants.json" >"$T/tenants.new"
kill -STOP "$SERVE_PID"
cat "$T/tenants.new" >"$T/tenants.json"
touch -r "$T/tenants.ref" "$T/tenants.json"
kill -CONT "$SERVE_PID"
sleep 3
assert_eq "$(whoami "$TOKZ")" 401 "not read again while the file looks the same"
kill -HUP "$SERVE_PID"
for ((i = 0; i < 50; i++)); do [ "$(whoami "$TOKZ")" = zeta ] && break; sleep 0.1; done
assert_eq "$(whoami "$TOKZ")" zeta
assert_eq "$(whoami "$TOKB")" 401
assert_eq "$(whoami "$TOKA")" alpha
api GET /healthz
assert_eq "$code" 200

t "a replaced tenants file is read again without a signal; a broken one keeps the tenants, one error logged"
TOKG=gamma-token-0123456789abcdef
cat >"$T/tenants.next" <<JSON
{"tenants": [
  {"name": "alpha", "token": "$TOKA", "prefixes": ["$REG/alpha"], "authfile": "$T/secrets/alpha-auth.json"},
  {"name": "gamma", "token": "$TOKG", "prefixes": ["$REG/gamma"]}
]}
JSON
chmod 0644 "$T/tenants.next"
mv "$T/tenants.next" "$T/tenants.json" # as a Secret's update: another file
for ((i = 0; i < 60; i++)); do [ "$(whoami "$TOKG")" = gamma ] && break; sleep 0.1; done
assert_eq "$(whoami "$TOKG")" gamma
assert_eq "$(whoami "$TOKZ")" 401
TOKEN=$TOKG api POST /v1/builds -H 'Content-Type: application/json' \
	-d "{\"containerfile\":\"FROM scratch\\nLABEL t=gamma\\n\",\"tags\":[\"$REG/alpha/nope:1\"]}"
assert_eq "$code" 403 "gamma pushes only under its own prefix"
printf '{"tenants": [{"name": "broken"' >"$T/tenants.bad"
chmod 0644 "$T/tenants.bad"
mv "$T/tenants.bad" "$T/tenants.json"
sleep 5
assert_eq "$(grep -c 'tenants not reloaded' "$SERVE_LOG")" 1 "one error, not one per look"
assert_match "$(grep 'tenants not reloaded' "$SERVE_LOG")" "the 2 before stay: $T/tenants.json: not a JSON object"
assert_eq "$(whoami "$TOKG")" gamma
assert_eq "$(whoami "$TOKA")" alpha
kill -HUP "$SERVE_PID"
sleep 1
assert_eq "$(grep -c 'tenants not reloaded' "$SERVE_LOG")" 2 "SIGHUP tries again"
assert_eq "$(whoami "$TOKG")" gamma

serve_stop TERM
finish
