#!/bin/bash
# nib build features beyond the basics, as root: RUN --mount (cache, secret,
# bind, tmpfs), --network, ONBUILD, SHELL, ENTRYPOINT/CMD rules, heredocs,
# --squash, --log-format json, -q, and an interrupted build.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"

ROOT=$T/root
export NIB_ROOT=$ROOT

if ! have_static_busybox || ! command -v skopeo >/dev/null || [ "$(id -u)" != 0 ]; then
	skip_cases "needs root, a static busybox and skopeo" "nib build features"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet oci:"$T/fixture":bb oci:"$ROOT":localhost/busybox:latest

cfg() { "$NIB" inspect --json "$1" | jq -c ".Config$2"; }
# every layer of REF extracted in order into DIR
rootfs() { "$NIB" build -q -o type=local,dest="$2" -f "$3" "$4" >/dev/null; }

C=$T/ctx
mkdir -p "$C/dir"
echo ctxfile >"$C/dir/a"
echo topsecret-value >"$T/secret.txt"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
RUN --mount=type=cache,target=/cache,id=c1 echo run >> /cache/log && wc -l < /cache/log > /count
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secretlen
RUN --mount=type=bind,source=dir,target=/mnt cat /mnt/a > /fromctx
RUN --mount=type=bind,source=dir,target=/mnt,rw echo x > /mnt/new && ls /mnt > /rwlist
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/x && ls /scratch > /tmpfslist
RUN --network=none ls /sys/class/net > /net
EOF

t "RUN --mount cache, secret, bind, rw bind and tmpfs; --network=none"
run "$NIB" build --secret id=tok,src="$T/secret.txt" -o type=local,dest="$T/out1" -t mounts "$C"
assert_status 0
assert_eq "$(cat "$T/out1/count")" 1
assert_eq "$(cat "$T/out1/secretlen")" 16
assert_eq "$(cat "$T/out1/fromctx")" ctxfile
assert_eq "$(cat "$T/out1/rwlist" | tr '\n' ' ')" "a new "
assert_eq "$(cat "$T/out1/tmpfslist")" x
assert_eq "$(cat "$T/out1/net")" lo
assert_no_file "$T/out1/run/secrets"
assert_no_file "$T/out1/cache"
assert_no_file "$T/out1/mnt"
assert_no_file "$T/out1/scratch"
assert_no_file "$C/dir/new"

t "a secret never reaches a layer, the history or the log"
found=0
for b in "$ROOT"/blobs/sha256/*; do
	if { zcat "$b" 2>/dev/null || cat "$b"; } | grep -aq topsecret-value; then found=1; fi
done
assert_eq "$found" 0
assert_no_match "$out$err" topsecret

t "the cache mount persists between builds"
run "$NIB" build --no-cache --secret id=tok,src="$T/secret.txt" -o type=local,dest="$T/out2" "$C"
assert_status 0
assert_eq "$(cat "$T/out2/count")" 2

t "a missing secret file is refused before anything runs"
run "$NIB" build --secret id=tok,src="$T/nothere" "$C"
assert_status 1
assert_match "$err" 'nothere'

O=$T/onbuild
mkdir -p "$O"
cat >"$O/Base" <<'EOF'
FROM localhost/busybox:latest
ONBUILD RUN echo triggered > /trigger
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["base"]
EOF
cat >"$O/Child" <<'EOF'
FROM localhost/onbase
RUN echo "shell $0" > /shell
ENTRYPOINT echo child
EOF
cat >"$O/Heredoc" <<'EOF'
FROM localhost/busybox:latest
RUN <<EOT
echo one > /h1
echo two >> /h1
EOT
COPY <<EOT /h2
content
EOT
EOF

t "ONBUILD triggers run after FROM; SHELL wraps RUN and shell-form ENTRYPOINT; CMD reset"
run "$NIB" build -f "$O/Base" -t localhost/onbase "$O"
assert_status 0
assert_eq "$(cfg localhost/onbase .config.OnBuild)" '["RUN echo triggered > /trigger"]'
run "$NIB" build -f "$O/Child" -o type=local,dest="$T/child" -t localhost/onchild "$O"
assert_status 0
assert_eq "$(cat "$T/child/trigger")" triggered
assert_eq "$(cat "$T/child/shell")" "shell /bin/sh"
assert_eq "$(cfg localhost/onchild .config.Entrypoint)" '["/bin/sh","-ec","echo child"]'
assert_eq "$(cfg localhost/onchild .config.Cmd)" null
assert_eq "$(cfg localhost/onchild .config.OnBuild)" null

t "heredocs in RUN and COPY"
run "$NIB" build -f "$O/Heredoc" -o type=local,dest="$T/hd" "$O"
assert_status 0
assert_eq "$(cat "$T/hd/h1" | tr '\n' ' ')" "one two "
assert_eq "$(cat "$T/hd/h2")" content

t "HEALTHCHECK, MAINTAINER, --label, --annotation, --build-arg-file, WORKDIR's folder"
H=$T/hc
mkdir -p "$H"
echo data >"$H/f"
cat >"$H/Containerfile" <<'EOF'
FROM localhost/busybox:latest
ARG FROMFILE
MAINTAINER someone
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1
WORKDIR /made/here
COPY f /elsewhere
LABEL fromfile=$FROMFILE
EOF
printf '# comment\nFROMFILE=yes\n' >"$T/args"
run "$NIB" build --build-arg-file "$T/args" --label extra=1 --annotation org.example.a=b \
	-o type=local,dest="$T/hcout" -t localhost/hc "$H"
assert_status 0
assert_eq "$(cfg localhost/hc .config.Healthcheck)" \
	'{"Interval":5000000000,"Retries":2,"Test":["CMD-SHELL","wget -q localhost || exit 1"]}'
assert_eq "$(cfg localhost/hc .author)" '"someone"'
assert_eq "$(cfg localhost/hc .config.Labels)" '{"extra":"1","fromfile":"yes"}'
assert_eq "$("$NIB" inspect --json localhost/hc | jq -c .Manifest.annotations)" '{"org.example.a":"b"}'
[ -d "$T/hcout/made/here" ] || fail "WORKDIR's folder is missing"

t "WORKDIR makes its folders as the USER, 0:0 for a name the image does not know (BuildKit)"
W=$T/wd
mkdir -p "$W"
cat >"$W/Containerfile" <<'EOF'
FROM localhost/busybox:latest
USER 1234:5678
WORKDIR /by-ids/sub
USER nosuchuser
WORKDIR /by-unknown
EOF
run "$NIB" build -o type=local,dest="$T/wdout" -t localhost/wd "$W"
assert_status 0
assert_eq "$(stat -c %u:%g "$T/wdout/by-ids" "$T/wdout/by-ids/sub" | tr '\n' ' ')" "1234:5678 1234:5678 "
assert_eq "$(stat -c %u:%g "$T/wdout/by-unknown")" "0:0"

t "--squash makes the image one layer, the base's included (buildah)"
run "$NIB" build --squash -t squashed "$C" --secret id=tok,src="$T/secret.txt"
assert_status 0
assert_eq "$(cfg squashed '.rootfs.diff_ids | length')" 1
assert_eq "$("$NIB" inspect --json squashed | jq '.Manifest.layers | length')" 1
assert_eq "$(cfg squashed '.history | map(select(.empty_layer != true)) | length')" 1

t "--log-format json prints one event per line with cache results"
run "$NIB" --log-format json build --secret id=tok,src="$T/secret.txt" "$C"
assert_status 0
assert_eq "$(printf '%s\n' "$out" | jq -r .event | sort -u | tr '\n' ' ')" \
	"cache_hit image step_end step_start "
assert_match "$(printf '%s\n' "$out" | jq -r 'select(.event=="cache_hit") | .key' | head -1)" '^sha256:'
run "$NIB" --log-format json build --no-cache --secret id=tok,src="$T/secret.txt" "$C"
assert_status 0
assert_match "$out" '"event":"run_output"|"event":"layer"'
assert_match "$out" '"event":"cache_miss"'

t "-q prints only the image ID"
run "$NIB" build -q --secret id=tok,src="$T/secret.txt" "$C"
assert_status 0
assert_lines "$out" 1
assert_match "$out" '^[0-9a-f]{64}$'

t "a build killed during a RUN leaves no mounts, processes or work folders"
K=$T/kill
mkdir -p "$K"
mark=nibkill$$
printf 'FROM localhost/busybox:latest\nRUN echo started > /dev/stderr; sh -c "while :; do sleep 1; done" %s\n' "$mark" >"$K/Containerfile"
"$NIB" build "$K" >"$T/kill.out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q started "$T/kill.out" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
st=$?
assert_ne "$st" 0
assert_eq "$(grep -c "$ROOT" /proc/self/mountinfo)" 0
assert_eq "$(pgrep -f "$mark" || true)" ""
assert_eq "$(ls -A "$ROOT/nib/tmp" | grep -v '^empty-' || true)" ""
run "$NIB" build -q --secret id=tok,src="$T/secret.txt" "$C"
assert_status 0

finish
