#!/bin/bash
# --log-format json for every command: each line nib writes on standard
# output and standard error is one JSON object (a command's result, its
# events, its warnings and its error), and the result is there: pull,
# push (to oci: and to a registry), tag, rmi, images, inspect, parse,
# info, prune, login (a refused one), logout, manifest
# create/add/inspect/push/rm, run (nib's own error; the command's output
# is the command's), serve (its listening line) and build (a usage error).
# As root and as nibplain (a single UID).
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/registry.sh"

if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v jq >/dev/null; then
	skip_cases "needs a static busybox, skopeo and jq" "json output"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"
printf 'FROM localhost/busybox:latest\nRUN true\n' >"$T/Containerfile"
chmod a+r "$T/Containerfile"
REGOK=
registry_start plain 2>/dev/null && REGOK=1

# every line of $out and $err is one JSON object
json_lines() { # WHAT
	local bad
	bad=$(printf '%s\n%s\n' "$out" "$err" | grep -v '^$' |
		python3 -c 'import json,sys
for l in sys.stdin:
    try:
        assert isinstance(json.loads(l), (dict, list))
    except Exception:
        print(l.rstrip()[:200])')
	assert_eq "$bad" "" "$1: lines that are not JSON"
}

MODES="root nibplain"
users_setup || MODES=root
for who in $MODES; do
	case $who in
	root) root=$T/r-root && mkdir -p "$root" ;;
	*) root=$(user_dir "$who" "r-$who") ;;
	esac
	j() { # ARGS...: nib --log-format json ARGS as $who
		case $who in
		root) NIB_ROOT=$root "$NIB" --log-format json "$@" ;;
		*) NIB_ROOT=$root as_user "$who" sh -c '"$NIB" --log-format json "$@"' nib "$@" ;;
		esac
	}

	t "$who: pull, tag, images, inspect, parse, info"
	run j pull "oci:$T/fixture:bb"
	assert_status 0
	json_lines pull
	assert_match "$out" '"event":"pull","ref":.*"image_id":"sha256:'
	id=$(printf '%s\n' "$out" | jq -r 'select(.event == "pull") | .image_id')
	run j tag "${id#sha256:}" t1
	assert_status 0
	json_lines tag
	assert_match "$out" '"event":"tagged","ref":"docker.io/library/t1:latest","digest":"sha256:'
	run j images
	json_lines images
	assert_match "$out" 'docker.io/library/t1:latest'
	run j inspect t1
	json_lines inspect
	run j parse "$T/Containerfile"
	json_lines parse
	assert_match "$out" '"instruction":"RUN"'
	run j info
	json_lines info

	t "$who: push, manifest, rmi, prune"
	run j push t1 "oci:$root/out:x"
	assert_status 0
	json_lines "push oci:"
	assert_match "$out" '"event":"push","ref":"oci:'
	run j manifest create ml t1
	assert_status 0
	json_lines "manifest create"
	run j manifest inspect ml
	assert_status 0
	json_lines "manifest inspect"
	assert_match "$out" '"manifests":\['
	if [ -n "$REGOK" ]; then
		run j push --tls-verify=false t1 "$REG/json-$who:1"
		assert_status 0
		json_lines "push to a registry"
		assert_match "$out" '"event":"push_progress"'
		run j manifest push --all --tls-verify=false ml "$REG/json-$who:list"
		assert_status 0
		json_lines "manifest push"
	else
		skip "docker-registry did not start"
	fi
	run j manifest rm ml
	json_lines "manifest rm"
	run j rmi t1
	assert_status 0
	json_lines rmi
	assert_match "$out" '"event":"untagged","ref":"docker.io/library/t1:latest"'
	run j prune
	assert_status 0
	json_lines prune
	assert_match "$out" '"event":"prune"'

	t "$who: errors and warnings are JSON on both streams"
	run j login -u a -p b --retry 0 127.0.0.1:9
	assert_status 1
	json_lines login
	assert_match "$err" '"level":"warn","msg":"a password on the command line'
	assert_match "$err" '"level":"error","msg":"login to 127.0.0.1:9 failed'
	assert_match "$out" '"event":"error","kind":"network"'
	run j logout --all
	json_lines logout
	run j rmi nope
	assert_status 1
	json_lines "rmi of a missing image"
	run j run --rootfs "$root/none" -- true
	assert_status 1
	json_lines run
	run j build --nosuch "$T"
	assert_status 2
	json_lines "build usage error"
	assert_match "$err" '"level":"error","msg":"build: unknown or incomplete option'
done

t "serve: the listening line is an event"
port=$(free_port)
"$NIB" --log-format json serve --listen "127.0.0.1:$port" --state "$T/serve" >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
at_exit "kill $pid 2>/dev/null"
for _ in $(seq 50); do
	[ -s "$T/serve.out" ] && break
	sleep 0.1
done
out=$(head -n 1 "$T/serve.out") err=$(cat "$T/serve.err")
json_lines serve
assert_eq "$(printf '%s' "$out" | jq -r .url)" "http://127.0.0.1:$port"

finish
