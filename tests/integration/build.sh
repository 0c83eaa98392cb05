#!/bin/bash
# nib build as root: FROM an image of the store and scratch, metadata, RUN,
# COPY, multi-stage, the build cache, --timestamp reproducibility, outputs,
# --example, and bad input with its exit status.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"

ROOT=$T/root
export NIB_ROOT=$ROOT

if ! have_static_busybox || ! command -v skopeo >/dev/null || [ "$(id -u)" != 0 ]; then
	skip_cases "needs root, a static busybox and skopeo" "nib build"
	finish
	exit
fi
make_busybox_layout "$T/fixture" bb
skopeo copy --quiet oci:"$T/fixture":bb oci:"$ROOT":localhost/busybox:latest

# config FIELD of the image REF (jq path below .Config)
cfg() { "$NIB" inspect --json "$1" | jq -c ".Config$2"; }
# the file list of the last layer of REF: "mode uid/gid path"
last_layer() {
	local m l
	m=$("$NIB" inspect --json "$1" | jq -r '.Manifest.layers[-1].digest' | cut -d: -f2)
	tar tzvf "$ROOT/blobs/sha256/$m" | awk '{print $1, $2, $6}'
}

C=$T/ctx
mkdir -p "$C/sub"
echo one >"$C/one.txt"
echo two >"$C/sub/two.txt"
echo secret >"$C/ignored.txt"
echo ignored.txt >"$C/.dockerignore"
cat >"$C/Containerfile" <<'EOF'
FROM localhost/busybox:latest
ARG WHO=world
ENV GREETING="hello $WHO" EMPTY=
LABEL a=b "c d"=e
EXPOSE 80 53/udp
WORKDIR /work
COPY one.txt sub ./
RUN echo "$GREETING" > greeting && echo "arg=$WHO" > arg && id -u > uid
USER 1000:1000
VOLUME /data
STOPSIGNAL SIGTERM
ENTRYPOINT echo hi
CMD ["x"]
EOF

t "a build with RUN, COPY and metadata makes a tagged image"
run "$NIB" build -t test/one "$C"
assert_status 0
assert_match "$out" 'STEP 1/13: FROM localhost/busybox:latest'
assert_match "$out" 'STEP 13/13: CMD \["x"\]'
assert_match "$out" 'Successfully tagged docker.io/test/one:latest'
id=$(printf '%s\n' "$out" | tail -1)
assert_match "$id" '^[0-9a-f]{64}$'
assert_eq "$("$NIB" inspect --json test/one | jq -r .ImageID)" "$id"

t "metadata instructions edit the config as Docker does"
assert_eq "$(cfg test/one .config.Env)" '["PATH=/bin","V=1","GREETING=hello world","EMPTY="]'
assert_eq "$(cfg test/one .config.Labels)" '{"a":"b","c d":"e"}'
assert_eq "$(cfg test/one .config.ExposedPorts)" '{"53/udp":{},"80/tcp":{}}'
assert_eq "$(cfg test/one .config.WorkingDir)" '"/work"'
assert_eq "$(cfg test/one .config.User)" '"1000:1000"'
assert_eq "$(cfg test/one .config.Volumes)" '{"/data":{}}'
assert_eq "$(cfg test/one .config.StopSignal)" '"SIGTERM"'
assert_eq "$(cfg test/one .config.Entrypoint)" '["/bin/sh","-c","echo hi"]'
assert_eq "$(cfg test/one .config.Cmd)" '["x"]'
# the base's entry, then one per instruction but FROM and ARG (BuildKit);
# layers: the base, WORKDIR's folder, COPY, RUN
assert_eq "$(cfg test/one '.history | length')" 12
assert_eq "$(cfg test/one '.history | map(select(.empty_layer != true)) | length')" 4
assert_eq "$(cfg test/one '.rootfs.diff_ids | length')" 4

t "RUN sees build args and ENV; build args stay out of the config"
list=$(last_layer test/one)
assert_match "$list" 'work/greeting'
assert_match "$list" 'work/arg'
assert_no_match "$(cfg test/one .config.Env)" 'WHO'
run skopeo copy --quiet oci:"$ROOT":docker.io/test/one:latest dir:"$T/one.dir"
assert_status 0

t "COPY applies .dockerignore and copies folder contents"
m=$("$NIB" inspect --json test/one | jq -r '.Manifest.layers[-2].digest' | cut -d: -f2)
list=$(tar tzf "$ROOT/blobs/sha256/$m")
assert_match "$list" '^work/one.txt$'
assert_match "$list" '^work/two.txt$'
assert_no_match "$list" 'ignored'

t "a rebuild with no change hits the cache for every step and gives the same ID"
start=$(date +%s%N)
run "$NIB" build -t test/one "$C"
end=$(date +%s%N)
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$id"
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 3
assert_no_match "$out" '--> Done'
echo "  cached rebuild: $(((end - start) / 1000000)) ms"

t "a changed source misses from its step on; --no-cache runs every step"
echo changed >"$C/one.txt"
run "$NIB" build -t test/two "$C"
assert_status 0
# WORKDIR's step, before the COPY, still hits
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 1
assert_ne "$(printf '%s\n' "$out" | tail -1)" "$id"
run "$NIB" build --no-cache -t test/two "$C"
assert_status 0
assert_no_match "$out" 'Using cache'
echo one >"$C/one.txt"

t "--build-arg changes what RUN sees and the cache key"
run "$NIB" build --build-arg WHO=nib -t test/three "$C"
assert_status 0
assert_match "$(cfg test/three .config.Env)" 'hello nib'
run "$NIB" build --build-arg NOPE=1 -t test/three "$C"
assert_status 0
assert_match "$err" 'NOPE'

t "--timestamp gives the same image ID on every build"
run "$NIB" build -q --no-cache --timestamp 1700000000 -t test/ts "$C"
assert_status 0
a=$(printf '%s\n' "$out" | tail -1)
rm -rf "$T/root2"
run env NIB_ROOT="$T/root2" sh -c "skopeo copy --quiet oci:'$T/fixture':bb oci:'$T/root2':localhost/busybox:latest && '$NIB' build -q --timestamp 1700000000 --storage-driver vfs '$C'"
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$a"
assert_eq "$(cfg test/ts .created)" '"2023-11-14T22:13:20Z"'

t "--timestamp: the same image ID with every storage driver"
for d in overlay fuse-overlayfs vfs; do
	rm -rf "$T/rd-$d"
	run env NIB_ROOT="$T/rd-$d" "$NIB" build -q --storage-driver "$d" --timestamp 1700000000 --example
	if [ "$status" != 0 ] && [ "$d" != vfs ] && printf '%s' "$err" | grep -q 'storage driver'; then
		echo "  $d is not available here: ${err:0:200}"
		continue
	fi
	assert_status 0 "$d"
	id=$(printf '%s\n' "$out" | tail -1)
	[ "$d" = overlay ] && first=$id
	assert_eq "$id" "${first:-$id}" "$d"
done

M=$T/multi
mkdir -p "$M"
cat >"$M/Containerfile" <<'EOF'
FROM localhost/busybox:latest AS build
RUN mkdir /out && echo built > /out/artifact
FROM localhost/busybox:latest AS unused
RUN false
FROM scratch
COPY --from=build /out/artifact /artifact
COPY --from=localhost/busybox:latest /bin/busybox /bin/busybox
EOF

t "multi-stage: only needed stages run; COPY --from a stage and an image"
run "$NIB" build -t test/multi "$M"
assert_status 0
assert_no_match "$out" 'RUN false'
list=$("$NIB" inspect --json test/multi | jq -r '.Manifest.layers[].digest' | cut -d: -f2 |
	while read -r h; do tar tzf "$ROOT/blobs/sha256/$h"; done)
assert_match "$list" '^artifact$'
assert_match "$list" '^bin/busybox$'

t "--target builds a named stage"
run "$NIB" build --target build -t test/target "$M"
assert_status 0
assert_eq "$(cfg test/target '.history[-1].created_by')" '"RUN /bin/sh -c mkdir /out && echo built > /out/artifact # buildkit"'

t "outputs: --iidfile, --digestfile, oci layout, docker-archive, local"
run "$NIB" build --iidfile "$T/iid" --digestfile "$T/dig" -o type=oci,dest="$T/oci" \
	-o type=docker-archive,dest="$T/img.tar" -o type=local,dest="$T/local" -t test/out "$C"
assert_status 0
assert_match "$(cat "$T/iid")" '^sha256:[0-9a-f]{64}$'
assert_match "$(cat "$T/dig")" '^sha256:[0-9a-f]{64}$'
run skopeo inspect oci:"$T/oci"
assert_status 0
run skopeo inspect docker-archive:"$T/img.tar"
assert_status 0
assert_file "$T/local/work/greeting"
assert_file "$T/local/bin/busybox"

t "--format docker writes a Docker schema2 manifest"
run "$NIB" build --format docker -t test/docker "$C"
assert_status 0
assert_eq "$("$NIB" inspect --json test/docker | jq -r .ManifestType)" \
	application/vnd.docker.distribution.manifest.v2+json
# stored in its OCI form, the Docker manifest kept as its source: OCI tools
# read every entry of the store
assert_eq "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "docker.io/test/docker:latest") | .mediaType' "$ROOT/index.json")" \
	application/vnd.oci.image.manifest.v1+json
run skopeo inspect --raw oci:"$ROOT":docker.io/test/docker:latest
assert_status 0
assert_eq "$(printf '%s' "$out" | jq -r .config.mediaType)" application/vnd.oci.image.config.v1+json

t "nib build --example builds the embedded example into the store"
run "$NIB" build --example
assert_status 0
assert_match "$out" 'Successfully tagged localhost/nib-example:latest'
assert_match "$out" 'nib push localhost/nib-example:latest'
assert_eq "$(cfg localhost/nib-example:latest .config.Cmd)" '["/app/hello.sh"]'

# ---- bad input -----------------------------------------------------------------
B=$T/bad
mkdir -p "$B"
before=$(jq -c . "$ROOT/index.json")

t "a failed RUN names the step, the line and the status; exit 1"
printf 'FROM localhost/busybox:latest\nRUN echo ok\nRUN exit 3\n' >"$B/Containerfile"
run "$NIB" build "$B"
assert_status 1
assert_match "$err" 'Containerfile:3: RUN exit 3: exit status 3'

t "a missing context or Containerfile: exit 1 naming it"
run "$NIB" build "$T/nonexistent"
assert_status 1
assert_match "$err" 'nonexistent'
run "$NIB" build -f "$T/nofile" "$B"
assert_status 1
assert_match "$err" 'nofile'

t "COPY of a missing source or outside the context names the line"
printf 'FROM scratch\nCOPY ../outside /x\n' >"$B/Containerfile"
run "$NIB" build "$B"
assert_status 1
assert_match "$err" 'Containerfile:2'
printf 'FROM scratch\nCOPY missing /x\n' >"$B/Containerfile"
run "$NIB" build "$B"
assert_status 1
assert_match "$err" 'Containerfile:2.*missing'

t "unknown target, unknown base, bad --build-arg, syntax error"
printf 'FROM scratch AS a\nLABEL x=y\n' >"$B/Containerfile"
run "$NIB" build --target nope "$B"
assert_status 2
assert_match "$err" 'nope'
printf 'FROM localhost/nothere:latest\n' >"$B/Containerfile"
run "$NIB" build --pull=never "$B"
assert_status 1
assert_match "$err" 'Containerfile:1: FROM localhost/nothere:latest'
run "$NIB" build --build-arg =x "$B"
assert_status 2
printf 'FROM scratch\nBOGUS x\n' >"$B/Containerfile"
run "$NIB" build "$B"
assert_status 2
assert_match "$err" 'Containerfile:2'

t "failed builds leave the store's images and no work folders behind"
assert_eq "$(jq -c . "$ROOT/index.json")" "$before"
assert_eq "$(ls -A "$ROOT/nib/tmp" | grep -v '^empty-' || true)" ""
assert_eq "$(grep -c " $ROOT/" /proc/self/mountinfo)" 0

t "--compression-format zstd and --compression-level give zstd layers that unpack"
Z=$T/zctx
mkdir -p "$Z"
printf 'FROM localhost/busybox:latest\nRUN seq 1 2000 > /numbers\n' >"$Z/Containerfile"
run "$NIB" build -q --no-cache --compression-format zstd --compression-level 19 -t localhost/z:1 "$Z"
assert_status 0
zl=$("$NIB" inspect --json localhost/z:1 | jq -r '.Manifest.layers[-1].mediaType')
assert_eq "$zl" "application/vnd.oci.image.layer.v1.tar+zstd"
zd=$("$NIB" inspect --json localhost/z:1 | jq -r '.Manifest.layers[-1].digest' | cut -d: -f2)
assert_eq "$(zstd -dc "$ROOT/blobs/sha256/$zd" | tar -xOf - numbers | tail -n 1)" "2000"
run "$NIB" build --compression-level 0 "$Z"
assert_status 2
assert_match "$err" 'compression-level'
run "$NIB" build --compression-format lz4 "$Z"
assert_status 2

t "a malformed build cache entry is a miss with a warning"
M=$T/mctx
mkdir -p "$M"
printf 'FROM localhost/busybox:latest\nRUN echo cached > /f\n' >"$M/Containerfile"
run "$NIB" build -q -t localhost/m:1 "$M"
assert_status 0
run "$NIB" build -t localhost/m:1 "$M"
assert_match "$out" 'Using cache'
for f in "$ROOT"/nib/cache/*; do echo junk >"$f"; done
run "$NIB" build -t localhost/m:1 "$M"
assert_status 0
assert_no_match "$out" 'Using cache'
assert_match "$err" 'build cache: .*/nib/cache/[0-9a-f]{64}: malformed entry, ignored'
run "$NIB" build -t localhost/m:1 "$M"
assert_match "$out" 'Using cache' "the rebuild wrote the entries anew"

finish
