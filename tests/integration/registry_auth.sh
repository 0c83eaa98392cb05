#!/bin/bash
# nib login / logout against real registries, where credentials are stored
# and where they must never go (another host behind a redirect or a token
# realm, logs and error messages).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"

if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
	skip_cases "docker-registry and skopeo are needed (make deps)" "registry auth"
	finish
	exit
fi

make_image "$T/img" v1 2 auth
registry_start basic || fail "basic registry"
B=$REG
skopeo_push "$T/img:v1" p/img:v1 --dest-creds "$REG_USER:$REG_PASS"
export XDG_RUNTIME_DIR=$T/run
unset REGISTRY_AUTH_FILE
AUTH=$XDG_RUNTIME_DIR/containers/auth.json

t "login --password-stdin writes auth.json 0600 in a 0700 folder"
run bash -c "printf '%s\n' '$REG_PASS' | '$NIB' login --tls-verify=false -u '$REG_USER' --password-stdin '$B'"
assert_status 0
assert_eq "$out" "Login Succeeded!"
assert_eq "$(stat -c %a "$AUTH")" 600
assert_eq "$(stat -c %a "$XDG_RUNTIME_DIR/containers")" 700
assert_eq "$(jq -r --arg k "$B" '.auths[$k].auth' "$AUTH" | base64 -d)" "$REG_USER:$REG_PASS"

t "after login, pull uses the stored credentials; --get-login shows the user"
run "$NIB" --root "$T/r1" pull -q --tls-verify=false "$B/p/img:v1"
assert_status 0
run "$NIB" login --get-login "$B"
assert_status 0
assert_eq "$out" "$REG_USER"

t "a wrong password: login fails, nothing stored, the password never shown"
run bash -c "printf 'bad-secret-123\n' | '$NIB' --log-level debug login --tls-verify=false -u '$REG_USER' --password-stdin '$B'"
assert_status 1
assert_match "$err" "login to $B failed: .*HTTP 401"
assert_no_match "$err" "bad-secret-123"
assert_eq "$(jq -r --arg k "$B" '.auths[$k].auth' "$AUTH" | base64 -d)" "$REG_USER:$REG_PASS" "the old entry stays"

t "login without a terminal needs --username / --password-stdin (usage error)"
run "$NIB" login --tls-verify=false "$B" </dev/null
assert_status 2

t "logout removes the entry; pull then fails; logout again says not logged in"
run "$NIB" logout "$B"
assert_status 0
assert_eq "$(jq -r --arg k "$B" '.auths[$k] // "none"' "$AUTH")" none
run "$NIB" --root "$T/r2" pull -q --tls-verify=false "$B/p/img:v1"
assert_status 1
run "$NIB" logout "$B"
assert_status 1
assert_match "$err" "not logged into $B"

t "logout --all"
printf '%s\n' "$REG_PASS" | "$NIB" login -q --tls-verify=false -u "$REG_USER" --password-stdin "$B" >/dev/null
run "$NIB" logout --all
assert_status 0
assert_eq "$(jq -r '.auths | length' "$AUTH")" 0

t "--authfile and ~/.docker/config.json are read"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$B" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" >"$T/other.json"
run "$NIB" --root "$T/r3" pull -q --tls-verify=false --authfile "$T/other.json" "$B/p/img:v1"
assert_status 0
mkdir -p "$T/home/.docker"
cp "$T/other.json" "$T/home/.docker/config.json"
run env -u XDG_RUNTIME_DIR HOME="$T/home" "$NIB" --root "$T/r4" pull -q --tls-verify=false "$B/p/img:v1"
assert_status 0

t "a legacy .dockercfg (OpenShift's builder-dockercfg secret) pushes and pulls"
# the shape OpenShift writes: registry keys at the top level, username,
# password, email and auth; mounted from a kubernetes.io/dockercfg secret as
# a file named .dockercfg
mkdir -p "$T/secret"
printf '{"%s":{"username":"%s","password":"%s","email":"serviceaccount@example.org","auth":"%s"},"image-registry.openshift-image-registry.svc:5000":{"username":"serviceaccount","password":"other","email":"serviceaccount@example.org","auth":"c2VydmljZWFjY291bnQ6b3RoZXI="}}' \
	"$B" "$REG_USER" "$REG_PASS" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" >"$T/secret/.dockercfg"
run "$NIB" --root "$T/r7" pull -q --tls-verify=false --authfile "$T/secret/.dockercfg" "$B/p/img:v1"
assert_status 0
run "$NIB" --root "$T/r7" push -q --tls-verify=false --digestfile "$T/legacy.digest" \
	--authfile "$T/secret/.dockercfg" "$B/p/img:v1" "$B/legacy/img:v1"
assert_status 0
assert_match "$(cat "$T/legacy.digest" 2>/dev/null)" '^sha256:[0-9a-f]{64}$'
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -u "$REG_USER:$REG_PASS" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$B/v2/legacy/img/manifests/v1")" 200
run env REGISTRY_AUTH_FILE="$T/secret/.dockercfg" "$NIB" --root "$T/r8" pull -q --tls-verify=false \
	"$B/legacy/img:v1"
assert_status 0 "REGISTRY_AUTH_FILE naming a .dockercfg"
# a username/password-only entry (no "auth") is enough
printf '{"%s":{"username":"%s","password":"%s","email":""}}' "$B" "$REG_USER" "$REG_PASS" \
	>"$T/secret/.dockercfg"
run "$NIB" --root "$T/r9" pull -q --tls-verify=false --authfile "$T/secret/.dockercfg" "$B/legacy/img:v1"
assert_status 0 "username and password without auth"
# a wrong password in such a file is refused, and never shown
printf '{"%s":{"auth":"%s","email":""}}' "$B" "$(printf '%s:wrong' "$REG_USER" | base64 -w0)" \
	>"$T/secret/.dockercfg"
run "$NIB" --root "$T/r10" pull -q --tls-verify=false --authfile "$T/secret/.dockercfg" "$B/legacy/img:v1"
assert_status 1
assert_no_match "$err" "wrong"

t "a redirect to another host never carries the credentials"
# the proxy forwards redirect targets upstream with its own credentials
PROXY_UPSTREAM_AUTH="Basic $(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" proxy_start "$B" || fail "proxy"
echo "GET /blobs/ redirect" >"$PROXY_DIR/rules"
: >"$PROXY_DIR/log"
run "$NIB" --root "$T/r5" pull -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$PROXY/p/img:v1"
assert_status 0
assert_match "$(cat "$PROXY_DIR/log")" "GET /r/v2/p/img/blobs/sha256:[0-9a-f]+ auth=no"
assert_no_match "$(cat "$PROXY_DIR/log")" "GET /r/.* auth=yes"
assert_match "$(cat "$PROXY_DIR/log")" "GET /v2/p/img/manifests/v1 auth=yes"

t "login to a token-auth registry checks the credentials at the token endpoint"
registry_start token || fail "token registry"
TOK=$REG
run bash -c "printf '%s\n' '$REG_PASS' | '$NIB' login --tls-verify=false -u '$REG_USER' --password-stdin '$TOK'"
assert_status 0
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes"
run bash -c "printf 'nope-456\n' | '$NIB' login --tls-verify=false -u '$REG_USER' --password-stdin '$TOK'"
assert_status 1
assert_match "$err" "login to $TOK failed: .*token endpoint .* refused the credentials"
assert_no_match "$err" "nope-456"
run "$NIB" logout "$TOK"
assert_status 0

t "a token realm on another host gets no credentials"
TOKEN_REALM_HOST=localhost registry_start token || fail "token registry"
: >"$TOKEN_DIR/requests.log"
run "$NIB" --root "$T/r6" pull -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$REG/team/img:v1"
assert_status 1
assert_match "$(cat "$TOKEN_DIR/requests.log")" "auth=no"
assert_no_match "$(cat "$TOKEN_DIR/requests.log")" "auth=yes"
assert_match "$err" "token realm on another host"

t "concurrent logins and logouts all keep their entries (auth.json under a lock)"
C=$T/concurrent/auth.json
for round in 1 2 3; do
	rm -rf "$T/concurrent"
	pids=()
	for i in 1 2 3 4 5 6; do
		printf '%s\n' "$REG_PASS" | "$NIB" login -q --tls-verify=false --authfile "$C" \
			-u "$REG_USER" --password-stdin "$B/team$i" >/dev/null 2>"$T/login$i.err" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a login failed: $(cat "$T"/login*.err)"; done
	assert_eq "$(jq -r '.auths | keys | join(" ")' "$C")" \
		"$B/team1 $B/team2 $B/team3 $B/team4 $B/team5 $B/team6" "round $round"
	assert_eq "$(stat -c %a "$C")" 600
	# three logouts and three more logins at once
	pids=()
	for i in 1 2 3; do
		"$NIB" logout --authfile "$C" "$B/team$i" >/dev/null 2>&1 &
		pids+=($!)
		printf '%s\n' "$REG_PASS" | "$NIB" login -q --tls-verify=false --authfile "$C" \
			-u "$REG_USER" --password-stdin "$B/more$i" >/dev/null 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "a login or logout failed"; done
	assert_eq "$(jq -r '.auths | keys | join(" ")' "$C")" \
		"$B/more1 $B/more2 $B/more3 $B/team4 $B/team5 $B/team6" "round $round"
	assert_eq "$(ls -A "$T/concurrent" | grep -v -e '^auth.json$' -e '^auth.json.lock$')" "" "leftovers"
done

t "a login waits for a held lock, then gives up with a clear error"
rm -rf "$T/locked" && mkdir -p "$T/locked"
exec 8>"$T/locked/auth.json.lock"
flock 8
start=$(date +%s)
run bash -c "printf '%s\n' '$REG_PASS' | NIB_AUTHFILE_LOCK_TIMEOUT=2 '$NIB' login --tls-verify=false --authfile '$T/locked/auth.json' -u '$REG_USER' --password-stdin '$B'"
assert_status 1
assert_match "$err" "$T/locked/auth.json: locked by another process"
[ $(($(date +%s) - start)) -lt 30 ] || fail "waited too long"
exec 8>&-
run bash -c "printf '%s\n' '$REG_PASS' | '$NIB' login --tls-verify=false --authfile '$T/locked/auth.json' -u '$REG_USER' --password-stdin '$B'"
assert_status 0

t "an unprivileged user logs in: ~/.config/containers/auth.json 0600"
if users_setup; then
	home=$(getent passwd nibplain | cut -d: -f6)
	rm -rf "$home/.config/containers"
	at_exit "rm -rf '$home/.config/containers'"
	run as_user nibplain bash -c "printf '%s\n' '$REG_PASS' | \"\$NIB\" login --tls-verify=false -u '$REG_USER' --password-stdin '$B'"
	assert_status 0
	assert_eq "$(stat -c '%a %U' "$home/.config/containers/auth.json")" "600 nibplain"
	assert_eq "$(stat -c '%a' "$home/.config/containers")" 700
	udir=$(user_dir nibplain ustore)
	run as_user nibplain "$T/bin/nib" --root "$udir/root" pull -q --tls-verify=false "$B/p/img:v1"
	assert_status 0
	run as_user nibplain "$T/bin/nib" logout "$B"
	assert_status 0
else
	skip "needs root to create test users"
fi

finish
