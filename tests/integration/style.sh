#!/bin/bash
# Style enforced by machine: every C source matches .clang-format, files
# stay small, and the module rules hold (tests/lib/depcheck.py: includes
# and calls point down, internal headers stay inside their module, global
# symbols carry their module's prefix).
. "$(dirname "$0")/../lib.sh"

t "every C source is formatted with clang-format"
if ! command -v clang-format >/dev/null; then
	skip "clang-format is not installed (make deps installs it)"
elif ! git -C "$NIB_SRC" rev-parse >/dev/null 2>&1; then
	skip "not a git checkout: no list of sources"
else
	cd "$NIB_SRC"
	mapfile -t files < <(git ls-files '*.c' '*.h')
	run clang-format --dry-run -Werror "${files[@]}"
	assert_status 0 "run 'make format'"
fi

t "no source file passes 1,500 lines"
cd "$NIB_SRC"
for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
	n=$(wc -l <"$f")
	[ "$n" -le 1500 ] || fail "$f has $n lines"
done

t "test program names are unique across unit/, integration/ and e2e/ (one log folder)"
dups=$(cd "$NIB_SRC/tests" && ls unit/test_*.c integration/*.sh e2e/*.sh 2>/dev/null |
	sed -E 's|.*/||; s/\.(c|sh)$//' | sort | uniq -d)
assert_eq "$dups" "" "tests/run.sh names each log after the program alone"

t "modules: includes point down, internal headers stay inside, globals carry the module prefix"
B=${NIB_BUILD:-$NIB_SRC/build}
if ! command -v python3 >/dev/null; then
	skip "python3 is not installed (make deps installs it)"
elif [ -f "$B/libcommon.a" ] && command -v nm >/dev/null; then
	run python3 "$NIB_SRC/tests/lib/depcheck.py" "$NIB_SRC" "$B"
	assert_status 0 "$out"
else
	run python3 "$NIB_SRC/tests/lib/depcheck.py" "$NIB_SRC"
	assert_status 0 "$out"
	skip "no archives in $B (make first): symbols not checked"
fi

t "the module check fails on each kind of violation"
if ! command -v python3 >/dev/null || ! command -v "${CC:-gcc}" >/dev/null; then
	skip "needs python3 and a C compiler"
else
	X=$T/badtree
	mkdir -p "$X"/{common,containerfile,storage,registry,builder} "$X/build"
	printf '#ifndef NIB_STORAGE_H\n#define NIB_STORAGE_H\n#ifdef NIB_STORAGE_INTERNAL\nint stg_x;\n#endif\n#endif\n' \
		>"$X/storage/storage.h"
	printf '#include "builder/build.h"\n' >"$X/storage/up.c"
	printf '#include "storage/storage.h"\n' >"$X/containerfile/side.c"
	printf '#ifndef LOOSE_H\n#define LOOSE_H\nint stg_loose(void);\n#endif\n' >"$X/storage/loose_internal.h"
	printf '#ifndef NIB_STORAGE_INTERNAL\n#error "internal"\nint stg_dup(void);\n#endif\n' \
		>"$X/storage/dup.h"
	printf '#define NIB_STORAGE_INTERNAL\n#include "storage/dup.h"\n' >"$X/registry/peek.c"
	printf 'int bld_run(void);\nint helper(void) { return bld_run(); }\n' >"$X/storage/s.c"
	printf 'int bld_run(void) { return 0; }\n' >"$X/builder/b.c"
	"${CC:-gcc}" -c -o "$X/build/s.o" "$X/storage/s.c" && ar rcs "$X/build/libstorage.a" "$X/build/s.o" &&
		"${CC:-gcc}" -c -o "$X/build/b.o" "$X/builder/b.c" && ar rcs "$X/build/libbuilder.a" "$X/build/b.o" ||
		fail "cannot build the fixture archives"
	run python3 "$NIB_SRC/tests/lib/depcheck.py" "$X" "$X/build"
	assert_status 1
	assert_match "$out" '^storage/up.c:1: include-direction: storage/ includes builder/build.h'
	assert_match "$out" '^containerfile/side.c:1: include-direction: containerfile/ includes storage/storage.h'
	assert_match "$out" '^storage/loose_internal.h:1: internal-guard: '
	assert_match "$out" '^storage/dup.h:1: internal-guard: declarations inside the #ifndef NIB_STORAGE_INTERNAL'
	assert_match "$out" '^registry/peek.c:2: internal-include: storage/dup.h is internal to storage/'
	assert_match "$out" '^registry/peek.c:1: internal-define: NIB_STORAGE_INTERNAL'
	assert_match "$out" '^storage/storage.h:3: internal-section: #if on NIB_STORAGE_INTERNAL'
	assert_match "$out" '^libstorage.a\(s.o\):0: symbol-prefix: helper is global without the stg_ prefix'
	assert_match "$out" '^libstorage.a\(s.o\):0: symbol-direction: storage/ calls bld_run of builder/'
	assert_lines "$out" 9
fi

finish
