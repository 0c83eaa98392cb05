#!/bin/bash
# run.sh: long 3
# nib build's progress output (--progress auto|plain|tty|json), as root,
# nibsub, nibplain and in the restricted-pod simulation:
#  - on a terminal (script(1) gives nib a pty) the live display: finished
#    steps as lines, the running step's last output lines, a bar for a
#    12 MB COPY, for a pull (a proxy slows the registry's blobs to
#    4 MB/s) and for an ADD of a 9 MB URL (the same proxy), redrawn at most ten times a second while a RUN prints 3,000
#    lines; bold and dim unless NO_COLOR; no escape at all with TERM=dumb
#    or when the output is a pipe (--progress tty too);
#  - a failing step's whole output is printed under the display, and
#    with -q;
#  - --progress json (and --log-format json): every line of stdout is one
#    JSON object: step_start, step_end with seconds and the cache result,
#    run_output, step_failed, error, pull_progress, push_progress.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/registry.sh"

MODES="root nibsub nibplain podsim"
if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v script >/dev/null ||
	! command -v jq >/dev/null || ! users_setup; then
	skip_cases "needs root, setpriv, script (bsdutils), jq, a static busybox and skopeo" $MODES
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
chmod -R a+rX "$T/fixture"
C=$T/ctx
mkdir -p "$C"
head -c 12000000 /dev/urandom >"$C/big"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
COPY big /big
RUN i=0; while [ $i -lt 3000 ]; do echo "out-$i"; i=$((i+1)); done; sleep 2
EOF
cat >"$C/Fail" <<'EOF'
FROM localhost/busybox:latest
RUN i=0; while [ $i -lt 20 ]; do echo "fail-$i"; i=$((i+1)); done; exit 3
EOF
chmod -R a+rX "$C"
ESC=$'\033'

# A registry behind a proxy that sends blobs at 4 MB/s, holding a base
# image with a 9 MB layer of random bytes (the pull's bar, and the ADD's).
REGOK=
if registry_start plain 2>/dev/null && proxy_start "$REG"; then
	echo 'GET /blobs/ slow 4000000' >"$PROXY_DIR/rules"
	mkdir -p "$T/bctx"
	head -c 9000000 /dev/urandom >"$T/bctx/rand"
	printf 'FROM localhost/busybox:latest\nCOPY rand /rand\n' >"$T/bctx/Containerfile"
	NIB_ROOT=$T/seed skopeo copy --quiet oci:"$T/fixture":bb oci:"$T/seed":localhost/busybox:latest &&
		NIB_ROOT=$T/seed "$NIB" build -q -t slowbase "$T/bctx" >/dev/null &&
		NIB_ROOT=$T/seed "$NIB" push -q --tls-verify=false slowbase "$REG/slowbase:1" >/dev/null && REGOK=1
	layer=$(NIB_ROOT=$T/seed "$NIB" inspect --json slowbase | jq -r '.Manifest.layers[-1].digest')
fi
printf 'FROM %s/slowbase:1\nRUN true\n' "$PROXY" >"$C/Slow"
printf 'FROM localhost/busybox:latest\nADD http://%s/v2/slowbase/blobs/%s /blob\n' "$PROXY" "$layer" >"$C/AddUrl"
chmod a+r "$C/Slow" "$C/AddUrl"

# on_tty WHO ROOT ENV NIB-ARGS: nib in a pty (script), the terminal's
# output in $out
on_tty() {
	run as_who "$1" "$2" sh -c "$3 script -qfec '\"\$NIB\" $4' /dev/null"
}

mkroot() { # WHO NAME: a storage root WHO can write
	case $1 in
	root) mkdir -p "$T/$2" && echo "$T/$2" ;;
	podsim) podsim_dir "$2" ;;
	*) user_dir "$1" "$2" ;;
	esac
}

for who in $MODES; do
	if [ "$who" = podsim ] && ! podsim_available; then
		skip_cases "needs unshare and setpriv for the restricted-pod simulation" "podsim"
		continue
	fi
	root=$(mkroot "$who" "r-$who")
	run as_who "$who" "$root" skopeo copy --quiet oci:"$T/fixture":bb oci:"$root":localhost/busybox:latest
	assert_status 0 "base image"

	t "$who: a terminal gets the live display, at most ten redraws a second"
	start=$(date +%s%N)
	on_tty "$who" "$root" "TERM=xterm" "build --no-cache -t p '$C'"
	secs=$((($(date +%s%N) - start + 999999999) / 1000000000))
	assert_status 0
	assert_match "$out" 'STEP 1/3: FROM localhost/busybox:latest'
	assert_match "$out" 'STEP 2/3: COPY big /big --> Done \([0-9.]+s\)'
	assert_match "$out" '\[=*>? *\] +[0-9]+% [0-9.]+ [kM]?B / 12\.0 MB' "the COPY's bar"
	assert_match "$out" "${ESC}\\[1mSTEP 3/3: RUN " "the running step in bold"
	assert_match "$out" "${ESC}\\[2m  out-2999" "its last line, dim"
	assert_match "$out" 'STEP 3/3: RUN .* --> Done \([0-9.]+s\)'
	assert_match "$out" 'Successfully tagged docker.io/library/p:latest'
	redraws=$(printf '%s' "$out" | grep -o "${ESC}\\[[0-9]*A" | wc -l)
	[ "$redraws" -ge 3 ] || fail "only $redraws redraws"
	[ "$redraws" -le $((secs * 10 + 10)) ] ||
		fail "$redraws redraws in ${secs}s (3,000 lines of output)"
	lines=$(printf '%s' "$out" | grep -c 'out-[0-9]')
	[ "$lines" -lt 1000 ] || fail "$lines output lines drawn (3,000 printed)"

	t "$who: NO_COLOR, TERM=dumb and a pipe"
	on_tty "$who" "$root" "TERM=xterm NO_COLOR=1" "build --no-cache -t p '$C'"
	assert_status 0
	assert_match "$out" "${ESC}\\[[0-9]+A" "the display moves the cursor"
	assert_no_match "$out" "${ESC}\\[[0-9]*m" "NO_COLOR: no colour or bold"
	assert_match "$out" 'STEP 3/3: RUN .* --> Done'
	on_tty "$who" "$root" "TERM=dumb" "build --no-cache '$C'"
	assert_status 0
	assert_no_match "$out" "$ESC" "TERM=dumb: plain lines"
	assert_match "$out" 'STEP 3/3: RUN'
	assert_match "$out" 'out-0'
	assert_match "$out" 'out-2999'
	run as_who "$who" "$root" sh -c "TERM=xterm \"\$NIB\" build --progress tty -t p '$C' | cat"
	assert_status 0
	assert_no_match "$out" "$ESC" "--progress tty on a pipe"
	assert_match "$out" '^STEP 1/3: FROM'

	t "$who: a failing step's output under the display, and with -q"
	on_tty "$who" "$root" "TERM=xterm" "build -f '$C/Fail' '$C'"
	assert_status 1
	assert_match "$out" 'STEP 2/2: RUN .* --> failed'
	for i in 0 7 19; do
		assert_match "$(printf '%s' "$out" | sed -n '/--> failed/,$p')" "fail-$i" "after the failed line"
	done
	assert_match "$out" 'nib: error: .*Fail:2: RUN .*exit status 3'
	# -q: nothing but that output and the error line
	run nib_who "$who" "$root" build -q -f "$C/Fail" "$C"
	assert_status 1
	assert_eq "$out" "" "-q: no image ID"
	assert_eq "$(printf '%s\n' "$err" | grep -c '^fail-[0-9]*$')" 20 "-q: the failing step's 20 lines"
	assert_match "$err" 'nib: error: .*Fail:2: RUN .*exit status 3'
	assert_no_match "$err" 'STEP' "-q: no step lines"

	t "$who: --progress json"
	run as_who "$who" "$root" sh -c "TERM=xterm script -qfec '\"\$NIB\" build --progress json -t p \"$C\" >\"$root/ev\"' /dev/null; cat '$root/ev'"
	assert_no_match "$out" "$ESC" "no display with json on a terminal"
	bad=$(printf '%s\n' "$out" | jq -c . 2>&1 >/dev/null)
	assert_eq "$bad" "" "every line is JSON"
	assert_eq "$(printf '%s\n' "$out" | jq -r 'select(.event=="step_start") | .step' | tr '\n' ' ')" "1 2 3 "
	assert_eq "$(printf '%s\n' "$out" | jq -r 'select(.event=="step_end" and .step>1) | .cache' | tr '\n' ' ')" "hit hit "
	assert_match "$(printf '%s\n' "$out" | jq -c 'select(.event=="step_end" and .step==3)')" '"seconds":[0-9.]+'
	assert_match "$out" '"event":"image","image_id":"sha256:'
	run nib_who "$who" "$root" --log-format json build --no-cache -f "$C/Fail" "$C"
	assert_status 1
	assert_eq "$(printf '%s\n' "$out" | jq -r 'select(.event=="run_output") | .line' | tail -n 1)" "fail-19"
	assert_match "$out" '"event":"step_failed","step":2,"line":2,"msg":"RUN .*exit status 3"'
	assert_match "$out" '"event":"error","kind":"run","msg":"[^"]*Fail:2: RUN'
	run nib_who "$who" "$root" --log-format json build --progress plain -t p "$C"
	assert_status 0
	assert_match "$out" '^STEP 1/3: FROM'
	assert_no_match "$out" '"event"'

	t "$who: a pull's bar on a terminal (build, nib pull), its events in json"
	if [ -z "$REGOK" ]; then
		skip "the registry or its proxy did not start"
		continue
	fi
	on_tty "$who" "$root" "TERM=xterm NO_COLOR=1" "build --tls-verify=false -f '$C/Slow' '$C'"
	assert_status 0
	assert_match "$out" 'STEP 1/2: FROM [^ ]*/slowbase:1 [0-9]+s'
	assert_match "$out" '\[=*>? *\] +[0-9]+% [0-9.]+ [kM]?B / [0-9.]+ MB' "the pull's bar"
	on_tty "$who" "$root" "TERM=xterm NO_COLOR=1" "build -f '$C/AddUrl' '$C'"
	assert_status 0
	assert_match "$out" 'STEP 2/2: ADD http://.* --> Done'
	assert_match "$out" '\[=*>? *\] +[0-9]+% [0-9.]+ [kM]?B / 9\.0 MB' "the ADD's bar"
	root=$(mkroot "$who" "r3-$who")
	on_tty "$who" "$root" "TERM=xterm" "pull --tls-verify=false $PROXY/slowbase:1"
	assert_status 0
	assert_match "$out" "Pulling $PROXY/slowbase:1" "nib pull"
	assert_match "$out" '\[=*>? *\] +[0-9]+% [0-9.]+ [kM]?B / [0-9.]+ MB' "nib pull's bar"
	assert_match "$out" 'Copied blob [0-9a-f]{12} done'
	on_tty "$who" "$root" "TERM=dumb" "push --tls-verify=false $PROXY/slowbase:1 $REG/pushed-$who:2"
	assert_status 0
	assert_no_match "$out" "$ESC" "nib push, TERM=dumb"
	assert_match "$out" "Pushing $REG/pushed-$who:2"
	root=$(mkroot "$who" "r2-$who") # nothing pulled yet
	run nib_who "$who" "$root" build --progress json --tls-verify=false -f "$C/Slow" "$C"
	assert_status 0
	assert_match "$out" "\"event\":\"pull_progress\",\"ref\":\"$PROXY/slowbase:1\",\"state\":\"progress\""
	assert_match "$out" '"event":"pull_progress",.*"state":"done"'
	run nib_who "$who" "$root" build --progress json --tls-verify=false --push -t "$REG/pushed-$who:1" -f "$C/Slow" "$C"
	assert_status 0
	assert_match "$out" "\"event\":\"push_progress\",\"ref\":\"$REG/pushed-$who:1\""
	assert_match "$out" "\"event\":\"push\",\"ref\":\"$REG/pushed-$who:1\",\"digest\":\"sha256:"
done

t "--progress: a bad value"
run "$NIB" build --progress fancy "$C"
assert_status 2
assert_match "$err" 'nib: error: build: --progress fancy: not auto, plain, tty or json'

finish
