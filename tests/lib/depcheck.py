#!/usr/bin/env python3
"""nib's module rules (STYLE.md "Modules", DESIGN.md "Modules"), checked.

    depcheck.py SRC [BUILD]

SRC holds the module folders; BUILD, when given, the static archives the
Makefile builds from them (lib<module>.a). Prints one line per violation,
"path:line: rule: what", and exits 1 when there is any, else 0.

Rules:
  include-direction  an #include "M/..." only of a module the includer may
                     use: common <- containerfile, common <- storage <-
                     registry, and builder may use them all
  internal-guard     every header of common/, containerfile/, storage/ and
                     registry/ but the module's public one, and every
                     *_internal.h, starts with
                         #ifndef NIB_<MODULE>_INTERNAL (or its own macro)
                         #error "... is internal to ..."
                         #endif
                     and nothing else sits inside that #ifndef
  internal-include   an internal header is included only by its module's
                     files (tests/ may look inside)
  internal-define    a guard macro is #defined only by its module's files
                     (and tests/)
  internal-section   no #ifdef ..._INTERNAL section in a header that is not
                     internal itself: internal declarations go to a guarded
                     header
  symbol-prefix      every global symbol a module's archive defines carries
                     the module's prefix (common's x* allocation wrappers
                     excepted, STYLE.md 3)
  symbol-direction   a module's archive refers only to symbols of modules it
                     may use (the link order alone misses a wrong-way call
                     when a higher module also uses the symbol)
"""
import os
import re
import subprocess
import sys

MODULES = ["common", "containerfile", "storage", "registry", "builder"]
# what each module may include or call, itself included
ALLOWED = {
    "common": {"common"},
    "containerfile": {"common", "containerfile"},
    "storage": {"common", "storage"},
    "registry": {"common", "storage", "registry"},
    "builder": set(MODULES),
}
PUBLIC = {
    "common": "common/common.h",
    "containerfile": "containerfile/containerfile.h",
    "storage": "storage/storage.h",
    "registry": "registry/registry.h",
}
PREFIX = {"common": "nib_", "containerfile": "cf_", "storage": "stg_", "registry": "reg_",
          "builder": "bld_"}
# STYLE.md 3: the xmalloc-style wrappers every module calls
COMMON_EXTRA = {"xmalloc", "xcalloc", "xrealloc", "xgrow", "xstrdup", "xstrndup", "xmemdup",
                "xasprintf", "xvasprintf"}
# Internal sections still in a builder header, each with the change that
# moves it to a guarded header.
SECTION_EXCEPTIONS = {}
DIRECTION = "common <- containerfile; common <- storage <- registry; builder uses all"

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/([^"]+)"')
DEFINE_RE = re.compile(r"^\s*#\s*define\s+(\w+)")
SECTION_RE = re.compile(r"^\s*#\s*(?:ifdef\s+(\w+_INTERNAL)\b|if\s+.*defined\s*\(?\s*(\w+_INTERNAL)\b)")

problems = []


def report(path, line, rule, what):
    problems.append(f"{path}:{line}: {rule}: {what}")


def sources(src):
    """(module, path relative to src, lines) of every C file of the modules and tests."""
    out = []
    for top in MODULES + ["tests"]:
        base = os.path.join(src, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.endswith((".c", ".h")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, src)
                with open(full, encoding="utf-8", errors="replace") as f:
                    out.append((top, rel, f.read().split("\n")))
    return out


def guard_of(lines):
    """The guard macro of a header: its first #ifndef X that is followed by
    an #error, with the line of the #ifndef and whether anything but the
    #error stands before the matching #endif. None when it has none."""
    for i, l in enumerate(lines):
        m = re.match(r"^\s*#\s*ifndef\s+(\w+)", l)
        if not m or m.group(1).endswith("_H"):
            continue
        body, depth, j = [], 0, i + 1
        while j < len(lines):
            s = lines[j].strip()
            if re.match(r"#\s*if", s):
                depth += 1
            elif re.match(r"#\s*endif", s):
                if depth == 0:
                    break
                depth -= 1
            body.append(s)
            j += 1
        code = [s for s in body if s and not s.startswith(("/*", "*", "//"))]
        if code and code[0].startswith("#error"):
            return m.group(1), i + 1, len(code) > 1
    return None


def check_sources(src):
    files = sources(src)
    internal = {}  # header path -> (module, macro)
    for mod, rel, lines in files:
        if mod == "tests" or not rel.endswith(".h"):
            continue
        must = rel.endswith("_internal.h") or (mod != "builder" and rel != PUBLIC.get(mod))
        g = guard_of(lines)
        if g:
            macro, line, extra = g
            internal[rel] = (mod, macro)
            if extra:
                report(rel, line, "internal-guard",
                       f"declarations inside the #ifndef {macro} / #error branch")
        elif must:
            report(rel, 1, "internal-guard",
                   f"an internal header of {mod}/ without an #ifndef ... #error guard")
    macros = {}
    for rel, (mod, macro) in internal.items():
        macros.setdefault(macro, set()).add(mod)
    for mod, rel, lines in files:
        for n, l in enumerate(lines, 1):
            m = INCLUDE_RE.match(l)
            if m and m.group(1) in MODULES:
                target = f"{m.group(1)}/{m.group(2)}"
                if mod != "tests" and m.group(1) not in ALLOWED[mod]:
                    report(rel, n, "include-direction",
                           f"{mod}/ includes {target} ({DIRECTION})")
                if target in internal and mod not in ("tests", internal[target][0]):
                    report(rel, n, "internal-include",
                           f"{target} is internal to {internal[target][0]}/")
            m = DEFINE_RE.match(l)
            if m and m.group(1) in macros and mod != "tests" and mod not in macros[m.group(1)]:
                report(rel, n, "internal-define",
                       f"{m.group(1)} opens {'/, '.join(sorted(macros[m.group(1)]))}/'s "
                       "internal headers")
            m = SECTION_RE.match(l)
            if (m and rel.endswith(".h") and mod != "tests" and rel not in internal
                    and rel not in SECTION_EXCEPTIONS):
                report(rel, n, "internal-section",
                       f"#if on {m.group(1) or m.group(2)} in a header others include: "
                       "move it to a guarded *_internal.h")


def nm(archive):
    """{object: [(symbol, type)]} of an archive's global symbols."""
    out = subprocess.run(["nm", "-g", "-P", "-A", archive], capture_output=True, text=True,
                         check=True).stdout
    objs = {}
    for l in out.splitlines():
        m = re.match(r"^(.*?)(?:\[(.*?)\])?: (\S+) (\S)", l)
        if m:
            objs.setdefault(m.group(2) or m.group(1), []).append((m.group(3), m.group(4)))
    return objs


def check_symbols(build):
    defined = {}  # symbol -> module
    syms = {}
    for mod in MODULES:
        lib = os.path.join(build, f"lib{mod}.a")
        if not os.path.exists(lib):
            continue
        syms[mod] = nm(lib)
        for obj, lst in syms[mod].items():
            for name, typ in lst:
                if typ in "TDBRCVWG" and name != "nib_empty_archive_member":
                    defined[name] = mod
    for mod, objs in syms.items():
        lib = f"lib{mod}.a"
        for obj, lst in sorted(objs.items()):
            for name, typ in lst:
                if typ in "TDBRCVWG":
                    if name == "nib_empty_archive_member":
                        continue
                    if not name.startswith(PREFIX[mod]) and not (
                            mod == "common" and name in COMMON_EXTRA):
                        report(f"{lib}({obj})", 0, "symbol-prefix",
                               f"{name} is global without the {PREFIX[mod]} prefix "
                               "(make it static, or name it for its module)")
                elif typ == "U" and name in defined and defined[name] not in ALLOWED[mod]:
                    report(f"{lib}({obj})", 0, "symbol-direction",
                           f"{mod}/ calls {name} of {defined[name]}/ ({DIRECTION})")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    check_sources(argv[1])
    if len(argv) == 3:
        check_symbols(argv[2])
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
