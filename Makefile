# nib — non-recursive GNU Makefile.
#
# Each top-level folder is its own static archive; the link order below
# (builder registry storage containerfile common) makes a dependency that
# points the wrong way fail the link when no higher module uses the symbol
# too; tests/lib/depcheck.py (run by tests/integration/style.sh) checks the
# includes, internal headers and symbols of every archive.
#
#   make            build/nib
#   make deps       install the Debian packages needed to build and test
#   make check      build and run the whole test suite
#   make asan       the whole suite under ASan + UBSan (build/asan)
#   make fuzz       libFuzzer targets (clang, build/fuzz)
#   make format     reformat the sources with clang-format

BUILD ?= build
CC ?= gcc
V ?= 0

MODULES := common containerfile storage registry builder
LINK_ORDER := builder registry storage containerfile common

PKGS := libarchive libcurl openssl json-c fuse3 libselinux libcap libseccomp libzstd zlib libdeflate \
	libmicrohttpd sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsubid -lpthread

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
NIB_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $(PKG_CFLAGS) \
	-MMD -MP $(SAN_CFLAGS) $(EXTRA_CFLAGS)
NIB_LDFLAGS := $(SAN_LDFLAGS) $(EXTRA_LDFLAGS)

ifeq ($(V),0)
Q := @
else
Q :=
endif

# --- sources ---------------------------------------------------------------
define module_vars
$(1)_SRCS := $$(filter-out builder/main.c,$$(wildcard $(1)/*.c $(1)/serve/*.c))
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/%.o,$$($(1)_SRCS))
$(1)_LIB := $$(BUILD)/lib$(1).a
endef
$(foreach m,$(MODULES),$(eval $(call module_vars,$(m))))

LIBS := $(foreach m,$(LINK_ORDER),$($(m)_LIB))
ALL_OBJS := $(foreach m,$(MODULES),$($(m)_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/fuzz/%,$(FUZZ_SRCS))

.SECONDARY:

.PHONY: all check unit asan fuzz fuzz-run deps format format-check clean demo install
.PHONY: print-deb-build-nib

all: $(BUILD)/nib

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@if [ "$(V)" = 0 ]; then echo "  CC      $<"; fi
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) -c -o $@ $<

define module_lib
$$($(1)_LIB): $$($(1)_OBJS)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(Q)ar rcs $$@ $$($(1)_OBJS) $$(if $$($(1)_OBJS),,$$(BUILD)/empty.o)
endef
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m))))

$(BUILD)/empty.o:
	@mkdir -p $(dir $@)
	$(Q)echo 'extern int nib_empty_archive_member; int nib_empty_archive_member;' | $(CC) -x c -c -o $@ -

$(LIBS): | $(BUILD)/empty.o

# the web page nib serve sends, put in as it is (builder/serve/serve_web.c)
$(BUILD)/builder/serve/serve_web.o: builder/serve/web.html

# nib loads these libraries on first use instead of at startup (stubs made
# by builder/lazylibs.sh): `nib run` and most RUN steps never call them, and
# loading them with their dependencies cost more than a whole container run.
# LAZY_LIBS= links them all directly.
LAZY_LIBS ?= $(if $(filter x86_64-% aarch64-%,$(shell $(CC) -dumpmachine)),curl ssl crypto archive subid fuse3 zstd deflate z \
	microhttpd sqlite3)
# The small libraries every run needs are linked statically when their
# archives are installed: no shared object to map and relocate at startup.
# STATIC_LIBS= links them dynamically.
STATIC_LIBS ?= $(foreach l,selinux pcre2-8 json-c cap seccomp,$(if $(filter /%,$(shell $(CC) -print-file-name=lib$(l).a)),$(l)))
comma := ,
NIB_LIBS := $(if $(STATIC_LIBS),-Wl$(comma)-Bstatic $(addprefix -l,$(STATIC_LIBS)) -Wl$(comma)-Bdynamic) \
	$(filter-out $(addprefix -l,$(LAZY_LIBS) $(STATIC_LIBS)),$(PKG_LIBS))
LAZY_OBJS := $(if $(LAZY_LIBS),$(BUILD)/lazy/lazy_c.o $(BUILD)/lazy/lazy_s.o)

$(BUILD)/lazy/lazy_c.o: $(BUILD)/builder/main.o $(LIBS) builder/lazylibs.sh Makefile
	$(Q)sh builder/lazylibs.sh $(BUILD)/lazy $(CC) $(BUILD)/builder/main.o $(LIBS) -- $(LAZY_LIBS)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $(BUILD)/lazy/lazy.c
	$(Q)$(CC) -c -o $(BUILD)/lazy/lazy_s.o $(BUILD)/lazy/lazy.S

$(BUILD)/lazy/lazy_s.o: $(BUILD)/lazy/lazy_c.o

# The runtime's seccomp filters, built once by libseccomp at build time
# (builder/gen/seccomp_bpf_gen.c); binaries without them build them per run.
$(BUILD)/gen/seccomp_bpf_gen: $(BUILD)/builder/gen/seccomp_bpf_gen.o $(LIBS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) $(NIB_LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

$(BUILD)/gen/seccomp_bpf.o: $(BUILD)/gen/seccomp_bpf_gen
	$(Q)$< >$(BUILD)/gen/seccomp_bpf.c
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) -c -o $@ $(BUILD)/gen/seccomp_bpf.c

$(BUILD)/nib: $(BUILD)/builder/main.o $(LIBS) $(LAZY_OBJS) $(BUILD)/gen/seccomp_bpf.o
	@if [ "$(V)" = 0 ]; then echo "  LD      $@"; fi
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) $(NIB_LDFLAGS) -Wl,-O1 -o $@ $< $(LIBS) $(LAZY_OBJS) \
		$(BUILD)/gen/seccomp_bpf.o $(NIB_LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(LIBS)
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) $(NIB_LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(LIBS)
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) $(NIB_LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

# run inside RUN steps of busybox images, which have no libc: static, and
# without the sanitizers (they do not link statically)
STATIC_HELPERS := $(BUILD)/tests/helpers/nib-tiocsti $(BUILD)/tests/helpers/nib-netprobe \
	$(BUILD)/tests/helpers/nib-suid-id
$(STATIC_HELPERS): $(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -Wall -Wextra -Werror -static -o $@ $<

$(BUILD)/tests/fuzz/%: $(BUILD)/tests/fuzz/%.o $(LIBS)
	$(Q)$(CC) $(NIB_CFLAGS) $(CFLAGS) $(NIB_LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBS) $(PKG_LIBS)

unit: $(UNIT_BINS) $(HELPER_BINS)

# The whole suite: unit tests, then integration and end-to-end shell tests.
# Ends with one line "N passed, N failed, N skipped".
check: all unit
	$(Q)tests/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build/asan CC=gcc CFLAGS="-O1 -g" \
		SAN_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		SAN_LDFLAGS="-fsanitize=address,undefined" check

fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="-O1 -g" \
		SAN_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		SAN_LDFLAGS="-fsanitize=address,undefined" fuzz-bins

fuzz-bins: $(FUZZ_BINS)

# Run every fuzz target for FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz-run: fuzz
	$(Q)tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

demo: all
	$(Q)$(BUILD)/nib build --example

PREFIX ?= /usr/local
install: all
	install -D -m 0755 $(BUILD)/nib $(DESTDIR)$(PREFIX)/bin/nib

# --- Debian packages ---------------------------------------------------------
DEB_BUILD := gcc make pkg-config clang libclang-rt-14-dev clang-format \
	libarchive-dev libcurl4-openssl-dev libssl-dev libjson-c-dev libfuse3-dev \
	libselinux1-dev libpcre2-dev libcap-dev libseccomp-dev libzstd-dev libsubid-dev zlib1g-dev libdeflate-dev \
	libmicrohttpd-dev libsqlite3-dev
# The seccomp profiles real pods get, which the pod simulation loads:
# containers-common's (CRI-O) and moby's (containerd, Docker).
DEB_TEST_PODS := golang-github-containers-common golang-github-docker-docker-dev
DEB_TEST := docker-registry apache2-utils skopeo umoci buildah fuse-overlayfs fuse3 uidmap \
	busybox-static debootstrap openssl python3 jq attr acl util-linux iproute2 procps \
	curl hyperfine file zstd xz-utils bzip2 gzip tar libcap2-bin time bc bsdutils slirp4netns \
	qemu-user-static binfmt-support sqlite3 chromium openssh-client
# What `make` alone needs (no fuzzing or formatting tools): the build stage of
# deploy/Containerfile installs `make -s print-deb-build-nib`.
DEB_BUILD_NIB = $(filter-out clang clang-format libclang-rt-%,$(DEB_BUILD))
# deploy/'s tests: SELinux policy module build, seccomp profiles, manifests.
DEB_TEST_DEPLOY := selinux-policy-dev checkpolicy semodule-utils python3-yaml runc \
	golang-github-docker-docker-dev git selinux-policy-default selinux-policy-src
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
NIB_TEST_CACHE ?= /var/tmp/nib-test-cache

deps:
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_BUILD) $(DEB_TEST) $(DEB_TEST_PODS)
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_TEST_DEPLOY)
	@# multi-platform tests: Debian's arm64 busybox-static (downloaded, never
	@# installed) for an arm64 base image, cached as tests/lib/multiarch.sh has it
	dpkg --print-foreign-architectures | grep -qx arm64 || \
		{ $(SUDO) dpkg --add-architecture arm64 && \
		  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq; }
	$(SUDO) mkdir -p $(NIB_TEST_CACHE)/debs
	ls $(NIB_TEST_CACHE)/debs/busybox-static_*_arm64.deb >/dev/null 2>&1 || \
		(cd $(NIB_TEST_CACHE)/debs && $(SUDO) apt-get download -qq busybox-static:arm64)

print-deb-build-nib:
	@echo $(DEB_BUILD_NIB)

# --- formatting ----------------------------------------------------------------
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf build

-include $(ALL_OBJS:.o=.d) $(BUILD)/builder/main.d
-include $(patsubst %,%.d,$(UNIT_BINS) $(HELPER_BINS) $(FUZZ_BINS))
