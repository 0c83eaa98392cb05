#!/bin/bash
# Base images and nib pull from oci:DIR[:TAG], oci-archive:FILE[:TAG] and
# docker-archive:FILE[:REF|:@N], the layouts and archives made by skopeo
# from a registry on loopback: the same image ID as the registry's, in
# root, nibsub, nibplain and pod modes; a platform picked from an index;
# and what is refused (lying digests, symlinked blobs, entries leading out
# of an archive, media types that disagree) with one line and nothing
# stored.
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/image.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"
. "$NIB_SRC/tests/lib/multiarch.sh"

export NIB_ROOT=$T/root

if ! have_static_busybox || ! command -v skopeo >/dev/null || ! command -v jq >/dev/null; then
	skip_cases "needs a static busybox, skopeo and jq" "transports"
	finish
	exit
fi
if ! registry_start plain; then
	skip_cases "needs Debian's docker-registry" "transports"
	finish
	exit
fi

# the fixtures: a busybox image in the registry, copied out by skopeo
make_busybox_layout "$T/fix" bb
skopeo copy --quiet --dest-tls-verify=false oci:"$T/fix":bb docker://"$REG"/bb:1
cfg=$(skopeo inspect --tls-verify=false --raw docker://"$REG"/bb:1 | jq -r .config.digest)
S=$T/src
mkdir -p "$S"
skopeo copy --quiet --src-tls-verify=false docker://"$REG"/bb:1 oci:"$S/oci":t1
skopeo copy --quiet --src-tls-verify=false docker://"$REG"/bb:1 oci-archive:"$S/oci.tar":t1
skopeo copy --quiet --src-tls-verify=false docker://"$REG"/bb:1 docker-archive:"$S/d.tar":localhost/bb:1
chmod -R a+rX "$S"

t "nib pull from each transport gives the registry's image ID, named as podman names it"
run "$NIB" pull oci:"$S/oci":t1
assert_status 0
assert_eq "$out" "${cfg#sha256:}"
# a path that makes a valid name (podman's: localhost/PATH)
L=/tmp/nib-transport-$$
at_exit "rm -rf $L"
cp -a "$S/oci" "$L"
run "$NIB" pull oci:"$L":t1
assert_status 0
assert_match "$err" "Copied oci:$L:t1 as localhost$L:latest"
assert_eq "$("$NIB" inspect --json "localhost$L" | jq -r .ImageID)" "${cfg#sha256:}"
run "$NIB" pull oci-archive:"$S/oci.tar":t1
assert_status 0
assert_eq "$out" "${cfg#sha256:}"
run "$NIB" pull docker-archive:"$S/d.tar"
assert_status 0
assert_eq "$out" "${cfg#sha256:}" "a docker-archive keeps the config"
assert_eq "$("$NIB" inspect --json localhost/bb:1 | jq -r .ImageID)" "${cfg#sha256:}"
run "$NIB" pull docker-archive:"$S/d.tar":localhost/bb:1
assert_status 0
run "$NIB" pull docker-archive:"$S/d.tar":@0
assert_status 0
run skopeo inspect --config oci:"$NIB_ROOT":localhost/bb:1
assert_status 0 "the store stays an OCI layout skopeo reads"

t "an umoci-made layout"
if ! command -v umoci >/dev/null; then
	skip "umoci is not installed"
else
	umoci init --layout "$T/um" && umoci new --image "$T/um:t" &&
		umoci config --image "$T/um:t" --config.cmd=/bin/true --author=nib-tests
	ucfg=$(jq -r .config.digest "$T/um/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/um/index.json" | cut -d: -f2)")
	run "$NIB" pull oci:"$T/um":t
	assert_status 0
	assert_eq "$out" "${ucfg#sha256:}"
fi

t "docker-archive layers are stored uncompressed, checked against the diff IDs"
lm=$("$NIB" inspect --json localhost/bb:1 | jq -r '.Manifest.layers[0].mediaType')
assert_eq "$lm" application/vnd.oci.image.layer.v1.tar
ld=$("$NIB" inspect --json localhost/bb:1 | jq -r '.Manifest.layers[0].digest')
assert_eq "$ld" "$("$NIB" inspect --json localhost/bb:1 | jq -r '.Config.rootfs.diff_ids[0]')"

# build CTX (FROM the transport FROM) as WHO into ROOT: prints the image ID
cat >"$T/Containerfile.in" <<'EOF'
FROM @FROM@
COPY hello /hello
ENV T=1
EOF
printf 'hi\n' >"$T/hello"
build_from() { # WHO ROOT FROM [ARGS...]
	local who=$1 root=$2 from=$3 ctx cmd
	shift 3
	ctx=$(mktemp -d "$T/ctx.XXXXXX")
	chmod 0755 "$ctx"
	cp "$T/hello" "$ctx/"
	sed "s|@FROM@|$from|" "$T/Containerfile.in" >"$ctx/Containerfile"
	chmod -R a+rX "$ctx"
	cmd="\"\$NIB\" build -q --timestamp 1700000000 $* '$ctx'"
	case $who in
	root) NIB_ROOT=$root sh -c "$cmd" ;;
	podsim) NIB_ROOT=$root podsim sh -c "$cmd" ;;
	*) NIB_ROOT=$root as_user "$who" sh -c "$cmd" ;;
	esac
}

t "root: FROM each transport builds the same image"
run build_from root "$T/r-root" "oci:$S/oci:t1"
assert_status 0
ref=$(printf '%s\n' "$out" | tail -1)
assert_match "$ref" '^[0-9a-f]{64}$'
run build_from root "$T/r-root" "oci-archive:$S/oci.tar:t1"
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
run build_from root "$T/r-root" "docker://$REG/bb:1" --tls-verify=false
assert_status 0
assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref" "the registry's own image"
run build_from root "$T/r-root2" "docker-archive:$S/d.tar:localhost/bb:1"
assert_status 0
dref=$(printf '%s\n' "$out" | tail -1)
assert_match "$dref" '^[0-9a-f]{64}$'

users_ok=1
users_setup || users_ok=0
for who in nibsub nibplain podsim; do
	t "$who: FROM oci:, oci-archive: and docker-archive: as root builds them"
	if [ "$who" = podsim ] && ! podsim_available; then
		skip "needs unshare and setpriv for the restricted-pod simulation"
		continue
	fi
	if [ "$who" != podsim ] && [ "$users_ok" = 0 ]; then
		skip "needs root to create test users"
		continue
	fi
	if [ "$who" = podsim ]; then
		r=$(podsim_dir "r-$who")
	else
		r=$(user_dir "$who" "r-$who")
	fi
	run build_from "$who" "$r" "oci:$S/oci:t1"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
	run build_from "$who" "$r" "oci-archive:$S/oci.tar:t1"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$ref"
	run build_from "$who" "$r" "docker-archive:$S/d.tar"
	assert_status 0
	assert_eq "$(printf '%s\n' "$out" | tail -1)" "$dref"
done

t "a platform is picked from an index in a layout; a missing one is refused"
ma_busybox_layout "$T/amd" amd64 bb && ma_busybox_layout "$T/arm" arm64 bb &&
	ma_index_layout "$S/multi" m "$T/amd" "$T/arm"
if [ ! -e "$S/multi/index.json" ]; then
	skip "no arm64 busybox (ma_busybox_layout)"
else
	run "$NIB" pull --platform linux/arm64 oci:"$S/multi":m
	assert_status 0
	assert_eq "$("$NIB" inspect --json "$out" | jq -r .Config.architecture)" arm64
	assert_eq "$("$NIB" inspect --json "$out" | jq -r .Config.variant)" v8
	run "$NIB" pull --platform linux/amd64 oci:"$S/multi":m
	assert_status 0
	assert_eq "$("$NIB" inspect --json "$out" | jq -r .Config.architecture)" amd64
	run "$NIB" pull --platform linux/s390x oci:"$S/multi":m
	assert_status 1
	assert_lines "$err" 1
	assert_match "$err" "no image for linux/s390x \(it has linux/amd64, linux/arm64/v8\)"
	run build_from root "$T/r-plat" "oci:$S/multi:m" --platform linux/arm64
	assert_status 0
	id=$(printf '%s\n' "$out" | tail -1)
	assert_eq "$(NIB_ROOT=$T/r-plat "$NIB" inspect --json "$id" | jq -r .Config.architecture)" arm64
fi

t "a single-platform base for another platform than --platform is refused"
run build_from root "$T/r-single" "oci:$S/oci:t1" --platform linux/arm64
assert_status 1
assert_lines "$err" 1
assert_match "$err" "Containerfile:1: FROM oci:.*the image is for linux/amd64, not linux/arm64"
run build_from root "$T/r-single2" "oci:$T/arm:bb"
assert_status 0 "only a default platform: buildah's warning, the image as it is"

# ---- what is refused ------------------------------------------------------------------

# no entry or blob added by a refused pull
store_state() { (cd "$1" && jq -c '[.manifests[].digest]' index.json && ls blobs/sha256 | sort); }

refused() { # WHAT-TO-MATCH SRC [STATUS]
	local before
	before=$(store_state "$NIB_ROOT")
	run "$NIB" pull "$2"
	assert_status "${3:-1}"
	assert_lines "$err" 1
	assert_match "$err" "$1"
	assert_eq "$(store_state "$NIB_ROOT")" "$before" "nothing stored"
}

t "a layer whose content does not match its digest"
cp -a "$S/oci" "$T/lie"
ld=$(jq -r '.layers[0].digest' "$T/lie/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/lie/index.json" | cut -d: -f2)")
chmod u+w "$T/lie/blobs/sha256/${ld#sha256:}"
printf 'x' | dd of="$T/lie/blobs/sha256/${ld#sha256:}" bs=1 seek=100 conv=notrunc 2>/dev/null
NIB_ROOT=$T/r-lie
mkdir -p "$NIB_ROOT"
"$NIB" images >/dev/null
refused "oci:$T/lie.*digest" "oci:$T/lie:t1"

t "a manifest whose content does not match its name"
cp -a "$S/oci" "$T/lie2"
md=$(jq -r '.manifests[0].digest' "$T/lie2/index.json")
chmod u+w "$T/lie2/blobs/sha256/${md#sha256:}"
sed -i 's/"schemaVersion":2/"schemaVersion": 2/' "$T/lie2/blobs/sha256/${md#sha256:}"
refused "has digest sha256:[0-9a-f]{64}, not the $md" "oci:$T/lie2:t1"

t "a blob that is a symlink leading out of the layout"
cp -a "$S/oci" "$T/sym"
rm -f "$T/sym/blobs/sha256/${ld#sha256:}"
cp "$S/oci/blobs/sha256/${ld#sha256:}" "$T/outside-blob"
ln -s "$T/outside-blob" "$T/sym/blobs/sha256/${ld#sha256:}"
refused "symlink or leads outside the layout" "oci:$T/sym:t1"

t "an index.json entry whose media type the document contradicts"
cp -a "$S/oci" "$T/mt"
jq -c '.manifests[0].mediaType = "application/vnd.oci.image.index.v1+json"' "$S/oci/index.json" >"$T/mt/index.json"
refused "is a \"application/vnd.oci.image.manifest.v1\+json\" document, its descriptor says" "oci:$T/mt:t1"

t "archives: entries with .., absolute names and hardlinks are refused, nothing written outside"
python3 - "$T" <<'EOF'
import io, sys, tarfile
t = sys.argv[1]
def mk(name, members):
    with tarfile.open(f"{t}/{name}", "w") as tf:
        for n, kind in members:
            ti = tarfile.TarInfo(n)
            if kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = "oci-layout"
                tf.addfile(ti)
            else:
                data = b"pwned\n"
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
mk("dotdot.tar", [("oci-layout", "f"), ("../escaped", "f")])
mk("abs.tar", [("oci-layout", "f"), ("/tmp/escaped-abs", "f")])
mk("hard.tar", [("oci-layout", "f"), ("index.json", "hard")])
EOF
refused 'entry "\.\./escaped" leads outside the archive' "oci-archive:$T/dotdot.tar"
refused 'entry "/tmp/escaped-abs" leads outside the archive' "docker-archive:$T/abs.tar"
refused 'index.json is a hardlink' "oci-archive:$T/hard.tar"
assert_no_file "$T/escaped"
assert_no_file /tmp/escaped-abs
assert_eq "$(ls "$NIB_ROOT/nib/tmp" | wc -l)" 0 "the work folders are removed"

t "docker-archive: paths leading out, a lying config name, a layer that is not its diff ID"
mkdir -p "$T/da"
tar -C "$T/da" -xf "$S/d.tar"
chmod -R u+w "$T/da"
cp -a "$T/da" "$T/da1"
jq -c '.[0].Layers[0] = "../../etc/passwd"' "$T/da/manifest.json" >"$T/da1/manifest.json"
tar -C "$T/da1" -cf "$T/da1.tar" .
refused 'layer "\.\./\.\./etc/passwd" leads outside the archive' "docker-archive:$T/da1.tar"
cp -a "$T/da" "$T/da2"
c=$(jq -r '.[0].Config' "$T/da/manifest.json")
sed -i 's/"os":"linux"/"os": "linux"/' "$T/da2/$c"
tar -C "$T/da2" -cf "$T/da2.tar" .
refused "config $c has digest" "docker-archive:$T/da2.tar"
cp -a "$T/da" "$T/da3"
l=$(jq -r '.[0].Layers[0]' "$T/da/manifest.json")
rm -f "$T/da3/$l"
cp "$T/da/$l" "$T/da3/$l"
printf 'x' | dd of="$T/da3/$l" bs=1 seek=600 conv=notrunc 2>/dev/null
tar -C "$T/da3" -cf "$T/da3.tar" .
refused "does not match the config's diff ID" "docker-archive:$T/da3.tar"

t "bad references: usage errors (exit 2), missing files (exit 1), one line each"
refused "dir transport is not supported" "dir:$T/x" 2
refused "unknown transport" "ftp://example/x" 2
refused "oci:: no path" "oci:" 2
refused "oci:$T/nope" "oci:$T/nope"
refused "oci-archive:$T/nope.tar" "oci-archive:$T/nope.tar"
refused "no image named \"zz\"" "oci:$S/oci:zz"
refused "docker-archive:$S/d.tar: no image named localhost/other" "docker-archive:$S/d.tar:localhost/other"
refused "bad image index" "docker-archive:$S/d.tar:@x" 2
skopeo copy --quiet oci:"$T/fix":bb oci:"$T/two":a
skopeo copy --quiet oci:"$T/fix":bb oci:"$T/two":b
refused "holds 2 images: name one as oci:$T/two:TAG \(it has a, b\)" "oci:$T/two" 2
run "$NIB" pull --platform linux oci:"$S/oci":t1
assert_status 2
assert_match "$err" 'bad platform "linux"'

t "FROM a missing layout names the Containerfile line"
run build_from root "$T/r-miss" "oci:$T/nope"
assert_status 1
assert_lines "$err" 1
assert_match "$err" "Containerfile:1: FROM oci:$T/nope: oci:$T/nope: No such file"

t "nib push to oci:, oci-archive: and docker-archive: reads back through nib pull and skopeo"
export NIB_ROOT=$T/root
run "$NIB" push localhost/bb:1 oci:"$T/pushed":p
assert_status 0
run "$NIB" push localhost/bb:1 oci-archive:"$T/pushed-oa.tar":p
assert_status 0
run "$NIB" push localhost/bb:1 oci-archive:"$T/pushed-oa2.tar":p
cmp -s "$T/pushed-oa.tar" "$T/pushed-oa2.tar" || fail "the same image gives the same oci-archive"
run skopeo inspect --raw --config oci-archive:"$T/pushed-oa.tar":p
assert_status 0
assert_eq "sha256:$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)" "$cfg" "skopeo reads the config"
run "$NIB" push --format docker localhost/bb:1 oci-archive:"$T/x.tar"
assert_status 2
run "$NIB" push localhost/bb:1 docker-archive:"$T/pushed.tar":localhost/bb:p
assert_status 0
run skopeo inspect --config docker-archive:"$T/pushed.tar"
assert_status 0
NIB_ROOT=$T/r-back "$NIB" images >/dev/null
run env NIB_ROOT="$T/r-back" "$NIB" pull oci:"$T/pushed":p
assert_status 0
assert_eq "$out" "${cfg#sha256:}"
run env NIB_ROOT="$T/r-back" "$NIB" pull docker-archive:"$T/pushed.tar"
assert_status 0
assert_eq "$out" "${cfg#sha256:}"
run env NIB_ROOT="$T/r-back" "$NIB" pull oci-archive:"$T/pushed-oa.tar":p
assert_status 0
assert_eq "$out" "${cfg#sha256:}"

finish
