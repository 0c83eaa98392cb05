#!/bin/bash
# nib build --remote: the client of nib serve. The local context goes
# without what .containerignore excludes, the log streams, the exit status
# is the build's and the digest is printed last; refusals are one line.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/serve.sh"

CASES=("the context goes without what .containerignore excludes; the digest is printed last"
	"-f outside the context is sent inline; build args and labels go as the spec"
	"a failing build is exit status 1 with the reason"
	"a refused submission is one line: 2 for a bad spec, 1 for a refused token"
	"options the service decides are refused before anything is sent")

serve_setup
TOK=client-token-0123456789abcdef
printf '{"tenants":[{"name":"dev","token":"%s","prefixes":["%s/dev"]}]}\n' "$TOK" "$REG" >"$T/tenants.json"
chmod 0644 "$T/tenants.json"
printf '%s\n' "$TOK" >"$T/token"
chmod 0644 "$T/token"
SERVE_AS=nibsub serve_start state --tenants "$T/tenants.json" --tls-verify=false --build-timeout 120 || {
	skip_cases "nib serve did not start" "${CASES[@]}"
	finish
	exit
}

C=$(user_dir nibplain ctx)
mkdir -p "$C/sub" "$C/logs"
echo keep >"$C/keep.txt"
echo drop >"$C/drop.log"
echo sub >"$C/sub/file"
echo big >"$C/logs/app.txt"
printf '*.log\nlogs\n' >"$C/.containerignore"
cat >"$C/Containerfile" <<CF
FROM $REG/base/busybox:latest
COPY . /ctx/
RUN find /ctx -type f | sort
CF
chown -R nibplain: "$C"

t "the context goes without what .containerignore excludes; the digest is printed last"
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --token-file "$T/token" \
	-t "$REG/dev/app:1" --iidfile "$C/iid" "$C"
assert_status 0
assert_match "$out" '^STEP 3/3: RUN find /ctx'
assert_match "$out" '^/ctx/keep.txt$'
assert_match "$out" '^/ctx/sub/file$'
assert_no_match "$out" 'drop.log|app.txt'
digest=$(echo "$out" | tail -1)
assert_match "$digest" '^sha256:[0-9a-f]{64}$'
run skopeo inspect --tls-verify=false "docker://$REG/dev/app:1"
assert_eq "$(echo "$out" | jq -r .Digest)" "$digest"
assert_match "$(cat "$C/iid")" '^sha256:[0-9a-f]{64}$'

t "-f outside the context is sent inline; build args and labels go as the spec"
printf 'FROM %s/base/busybox:latest\nARG WHO\nRUN echo "hello $WHO"\n' "$REG" >"$T/Other.cf"
chmod 0644 "$T/Other.cf"
run as_user nibplain env NIB_SERVE_TOKEN="$TOK" "$T/bin/nib" build --remote "$SERVE_URL" -f "$T/Other.cf" \
	--build-arg WHO=remote --label team=dev -t "$REG/dev/other:1" -q "$C"
assert_status 0
assert_lines "$out" 1 "-q prints only the digest"
run skopeo inspect --tls-verify=false "docker://$REG/dev/other:1"
assert_eq "$(echo "$out" | jq -r .Labels.team)" dev

t "a failing build is exit status 1 with the reason"
printf 'FROM %s/base/busybox:latest\nRUN echo failing; exit 7\n' "$REG" >"$C/Fail.cf"
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --token-file "$T/token" -f "$C/Fail.cf" "$C"
assert_status 1
assert_match "$out" '^failing$'
assert_match "$err" '^nib: error: build [0-9a-f]{32} failed: Fail.cf:2: '
assert_lines "$err" 1

t "a refused submission is one line: 2 for a bad spec, 1 for a refused token"
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --token-file "$T/token" -t "$REG/other/app:1" "$C"
assert_status 1
assert_eq "$err" "nib: error: build service: spec: tags[0]: tenant dev may not push $REG/other/app:1 (outside its repository prefixes) (HTTP 403)"
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --token-file "$T/token" --target 'bad target!' "$C"
assert_status 2
assert_match "$err" 'spec: target: not a stage name \(HTTP 400\)$'
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" "$C"
assert_status 1
assert_match "$err" 'bearer token is needed .*\(HTTP 401\)$'
run as_user nibplain "$T/bin/nib" build --remote "http://127.0.0.1:1" --token-file "$T/token" "$C"
assert_status 1
assert_match "$err" "^nib: error: http://127.0.0.1:1/v1/builds: Couldn't connect"

t "options the service decides are refused before anything is sent"
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --token-file "$T/token" --creds a:b "$C"
assert_status 2
assert_match "$err" '--creds is not sent to a build service'
run as_user nibplain "$T/bin/nib" build --remote "$SERVE_URL" --secret id=x,src=/etc/hostname "$C"
assert_status 2
run "$NIB" build --token-file "$T/token" "$C"
assert_status 2
assert_match "$err" '--token-file goes with --remote'

serve_stop TERM
finish
