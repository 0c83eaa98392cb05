#!/bin/bash
# Layer performance (not part of make check):
#  1. extracting the Debian base layer: nib vs skopeo copy + umoci unpack
#  2. committing a 20,000-file change: nib vs buildah commit, nib at its
#     default gzip level 6, with one compression thread, and at level 4,
#     whose blob is no larger than buildah's (buildah's default gzip, pgzip,
#     compresses about like libdeflate 3-4, with less CPU than 6). The files
#     are the Debian base's, cycled (~440 MB; BENCH_CORPUS=debian), or
#     FILE_KB each of text from a 5,000-word vocabulary (BENCH_CORPUS=words)
#  3. gzip commit throughput vs gzip -6 alone on the same tar; zstd vs gzip
#  4. peak RSS of a commit as the change grows
# Prints each figure and the ratios (nib / reference; below 1: nib faster).
# Commits run RUNS times each, nib and buildah in turns, and the fastest of
# each counts (other work on the machine only ever adds time); CPU seconds
# (user + system) are printed beside wall seconds.
#   tests/bench/layers.sh [BUILD_DIR] [FILES] [FILE_KB] [RUNS]     (as root)
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
FILES=${2:-20000}
KB=${3:-15}
RUNS=${4:-3}
TOOL=$BUILD/tests/helpers/nib-layer-tool
T=$(mktemp -d /var/tmp/nib-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

ratio() { echo "scale=2; $1 / $2" | bc; }
# timed CMD...: "WALL CPU" seconds of one run (its output discarded)
timed() {
	/usr/bin/time -f "%e %U %S" -o "$T/time" "$@" >/dev/null 2>"$T/time.err" || {
		echo "failed: $*" >&2
		tail -n 5 "$T/time.err" >&2
		return 1
	}
	awk 'END {printf "%.2f %.2f\n", $1, $2 + $3}' "$T/time"
}
# the threads nib compresses on: the CPUs, at most 4 (storage/compress.c)
compress_threads() { local n; n=$(nproc); echo $((n > 4 ? 4 : n)); }
# best: the line with the lowest wall time
best() { sort -n | head -n 1; }
wall() { echo "$1" | cut -d' ' -f1; }
cpu() { echo "$1" | cut -d' ' -f2; }
rss() { # CMD...: peak RSS in MB
	/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1 | awk '{printf "%.1f", $1 / 1024}'
}
oci_layout() { # DIR LAYER.tar.gz DIFFID
	local O=$1 l=$2 d=$3 b c m
	mkdir -p "$O/blobs/sha256"
	b=$(sha256sum "$l" | cut -d' ' -f1)
	cp "$l" "$O/blobs/sha256/$b"
	printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' "$d" >"$T/config"
	c=$(sha256sum <"$T/config" | cut -d' ' -f1)
	cp "$T/config" "$O/blobs/sha256/$c"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
		"$c" "$(stat -c %s "$T/config")" "$b" "$(stat -c %s "$l")" >"$T/manifest"
	m=$(sha256sum <"$T/manifest" | cut -d' ' -f1)
	cp "$T/manifest" "$O/blobs/sha256/$m"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$O/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
		"$m" "$(stat -c %s "$T/manifest")" >"$O/index.json"
}

echo "=== 1. Debian base extraction"
BASE=$("$SRC/tests/layers/debian_base.sh")
gzip -6 -n -c "$BASE" >"$T/debian.tar.gz"
did=sha256:$(sha256sum "$BASE" | cut -d' ' -f1)
oci_layout "$T/src" "$T/debian.tar.gz" "$did"
: >"$T/nx" && : >"$T/rx"
for r in $(seq "$RUNS"); do
	rm -rf "$T/nib-x" "$T/copy" "$T/bundle"
	sync
	mkdir "$T/nib-x"
	timed "$TOOL" extract --vfs --diff-id "$did" "$T/nib-x" "$T/debian.tar.gz" >>"$T/nx"
	sync
	timed sh -c 'skopeo copy --quiet "oci:$1/src:t" "oci:$1/copy:t" &&
		umoci unpack --image "$1/copy:t" "$1/bundle"' sh "$T" >>"$T/rx"
done
nx=$(best <"$T/nx") rx=$(best <"$T/rx")
nib_x=$(wall "$nx") ref_x=$(wall "$rx")
echo "nib extract: ${nib_x}s ($(cpu "$nx")s CPU)   skopeo copy + umoci unpack: ${ref_x}s ($(cpu "$rx")s CPU)   ratio $(ratio "$nib_x" "$ref_x")"

echo "=== 2. committing $FILES files (${BENCH_CORPUS:-debian})"
case ${BENCH_CORPUS:-debian} in
debian) # real files: the Debian base's, cycled over FILES names
	python3 - "$BASE" "$T/change" "$FILES" <<'PY'
import os, sys, tarfile
src, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tarfile.open(src) as t:
    files = sorted((m for m in t.getmembers() if m.isfile() and m.size > 0), key=lambda m: m.name)
    data = [t.extractfile(m).read() for m in files]
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200), "e%02d" % (i % 17))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(data[i % len(data)])
PY
	;;
words) # text-like: FILES files of KB each, a 5,000-word vocabulary
	python3 - "$T/change" "$FILES" "$KB" <<'PY'
import os, random, sys
root, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
words = [("w%05d" % i).encode() for i in range(5000)]
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200), "e%02d" % (i % 17))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        b = bytearray()
        while len(b) < kb * 1024:
            b += random.choice(words) + (os.urandom(1) if random.random() < 0.05 else b" ")
        f.write(b[: kb * 1024])
PY
	;;
*) echo "layers.sh: BENCH_CORPUS is debian or words" >&2; exit 2 ;;
esac
du -sm "$T/change" | awk '{print "change size: " $1 " MB"}'
sync
: >"$T/nib6" && : >"$T/nib1" && : >"$T/nib4" && : >"$T/bah"
if command -v buildah >/dev/null; then
	B="buildah --root $T/broot --runroot $T/brun --storage-driver vfs"
	ctr=$($B from scratch)
	$B copy "$ctr" "$T/change" / >/dev/null
fi
for r in $(seq "$RUNS"); do
	timed "$TOOL" commit --timestamp 0 "$T/change" "$T/nib.tar.gz" >>"$T/nib6"
	NIB_COMPRESS_THREADS=1 timed "$TOOL" commit --timestamp 0 "$T/change" "$T/nib1.tar.gz" >>"$T/nib1"
	timed "$TOOL" commit --level 4 --timestamp 0 "$T/change" "$T/nib4.tar.gz" >>"$T/nib4"
	if [ -n "${B:-}" ]; then
		rm -rf "$T/bout"
		timed $B commit --quiet --disable-compression=false "$ctr" oci:"$T/bout":t >>"$T/bah"
	fi
done
cmp -s "$T/nib.tar.gz" "$T/nib1.tar.gz" || echo "WARNING: the blob differs with one compression thread"
n6=$(best <"$T/nib6") n1=$(best <"$T/nib1") n4=$(best <"$T/nib4")
mbs() { echo "$(( $(stat -c %s "$1") >> 20 )) MB"; }
echo "nib commit (gzip level 6, $(compress_threads) threads): $(wall "$n6")s wall, $(cpu "$n6")s CPU, blob $(mbs "$T/nib.tar.gz")"
echo "nib commit (gzip level 6, 1 thread):  $(wall "$n1")s wall, $(cpu "$n1")s CPU (same blob)"
echo "nib commit (gzip level 4, $(compress_threads) threads): $(wall "$n4")s wall, $(cpu "$n4")s CPU, blob $(mbs "$T/nib4.tar.gz")"
if [ -n "${B:-}" ]; then
	b=$(best <"$T/bah")
	bblob=$(ls -S "$T/bout/blobs/sha256/"* | head -n 1)
	echo "buildah commit (gzip, oci:):          $(wall "$b")s wall, $(cpu "$b")s CPU, blob $(mbs "$bblob")"
	echo "ratio nib/buildah (wall): level 6 $(ratio "$(wall "$n6")" "$(wall "$b")"), level 4 (blob no larger than buildah's) $(ratio "$(wall "$n4")" "$(wall "$b")")"
	echo "ratio nib/buildah (CPU):  level 6 $(ratio "$(cpu "$n6")" "$(cpu "$b")"), level 4 $(ratio "$(cpu "$n4")" "$(cpu "$b")")"
	# nib's wall time cannot go below its CPU time spread over its threads
	c=$(compress_threads)
	echo "floor of nib/buildah (wall) with nib's CPU on $c busy cores (nib CPU / $c / buildah wall): level 6 $(echo "scale=2; $(cpu "$n6") / $c / $(wall "$b")" | bc), level 4 $(echo "scale=2; $(cpu "$n4") / $c / $(wall "$b")" | bc)"
	$B rm -a >/dev/null 2>&1 || true
	rm -rf "$T/broot" "$T/brun" "$T/bout" 2>/dev/null || true
fi

echo "=== 3. compression throughput on the same tar"
"$TOOL" commit --compression none --timestamp 0 "$T/change" "$T/nib.tar" >/dev/null
mb=$(( $(stat -c %s "$T/nib.tar") >> 20 ))
tar_only=$(timed "$TOOL" commit --compression none --timestamp 0 "$T/change" /dev/null)
gz=$(timed gzip -6 -n -c "$T/nib.tar")
: >"$T/gzr" && : >"$T/zsr"
for r in $(seq "$RUNS"); do
	timed "$TOOL" commit --timestamp 0 "$T/change" /dev/null >>"$T/gzr"
	timed "$TOOL" commit --compression zstd --timestamp 0 "$T/change" "$T/nib.tar.zst" >>"$T/zsr"
done
nib_gz=$(best <"$T/gzr") nib_zs=$(best <"$T/zsr")
echo "tar: $mb MB; nib tar only $(wall "$tar_only")s ($(cpu "$tar_only")s CPU); gzip -6 alone $(wall "$gz")s ($(cpu "$gz")s CPU, $(echo "scale=1; $mb / $(wall "$gz")" | bc) MB/s)"
echo "nib gzip commit $(wall "$nib_gz")s ($(cpu "$nib_gz")s CPU, $(echo "scale=1; $mb / $(wall "$nib_gz")" | bc) MB/s) = $(ratio "$(wall "$gz")" "$(wall "$nib_gz")") of gzip -6 throughput"
echo "nib zstd commit $(wall "$nib_zs")s ($(cpu "$nib_zs")s CPU): $(ratio "$(wall "$nib_gz")" "$(wall "$nib_zs")")x faster than nib gzip ($(ratio "$(cpu "$nib_gz")" "$(cpu "$nib_zs")")x in CPU), $(ratio "$(wall "$gz")" "$(wall "$nib_zs")")x faster than gzip -6; sizes gzip $(( $(stat -c %s "$T/nib.tar.gz") >> 20 )) MB, zstd $(( $(stat -c %s "$T/nib.tar.zst") >> 20 )) MB"

echo "=== 4. peak RSS as the change grows"
for n in 2000 $((FILES / 2)) "$FILES"; do
	mkdir -p "$T/part$n"
	ls -d "$T/change"/d* | head -n $(( n * 200 / FILES )) | xargs -I{} cp -a {} "$T/part$n/"
	echo "$(find "$T/part$n" -type f | wc -l) files: extract+commit peak RSS: commit $(rss "$TOOL" commit "$T/part$n" /dev/null) MB"
done
echo "debian extraction peak RSS: $(mkdir "$T/x2" && rss "$TOOL" extract --vfs "$T/x2" "$T/debian.tar.gz") MB"
