/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ptrace isolation through the runtime's C API, as the build drives it
 * (bld_runtime_run with spec.isolation = BLD_ISOLATION_PTRACE): output line
 * by line, exit status and signals, the timeout, folders made for binds
 * reported and removed, refusals, and the environment probe. Runs over a
 * busybox rootfs made here (skipped without busybox or when ptrace is
 * refused).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/runtime_internal.h"
#include "tests/unit/unit.h"

static char rootfs[256];
static bool usable;
static char why[512] = "no busybox";

struct lines {
	struct nib_strv out, err;
};

static void on_line(void *ctx, enum bld_stream stream, const char *line, size_t len)
{
	struct lines *l = ctx;
	nib_strv_pushf(stream == BLD_STREAM_STDOUT ? &l->out : &l->err, "%.*s", (int)len, line);
}

static void setup(void)
{
	char cmd[1024], tmpl[] = "/tmp/nib-unit-ptrace.XXXXXX";
	struct nib_error e = {0};

	if (access("/bin/busybox", X_OK) < 0 || !mkdtemp(tmpl))
		return;
	snprintf(rootfs, sizeof(rootfs), "%s", tmpl);
	/* no /etc: the generated /etc files need one made for the run */
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; mkdir -p bin tmp; cp /bin/busybox bin/; "
		 "for a in $(/bin/busybox --list-full); do mkdir -p \"$(dirname $a)\"; "
		 "[ -e \"$a\" ] || ln -s /bin/busybox \"$a\"; done",
		 rootfs);
	if (system(cmd) != 0)
		return;
	if (bld_ptrace_probe(&e) < 0) {
		snprintf(why, sizeof(why), "ptrace refused here: %s", e.msg);
		nib_err_clear(&e);
		return;
	}
	usable = true;
}

static int run(const char *script, struct bld_run_spec *spec, struct lines *l,
	       struct bld_run_result *res, struct nib_error *err)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};

	spec->rootfs = rootfs;
	spec->argv = argv;
	spec->isolation = BLD_ISOLATION_PTRACE;
	spec->on_line = on_line;
	spec->line_ctx = l;
	return bld_runtime_run(spec, res, err);
}

static void test_probe(void)
{
	struct nib_error e = {0};

	if (!usable)
		SKIP(why);
	CHECK(bld_ptrace_probe(&e) == 0);
	nib_err_clear(&e);
}

static void test_lines_and_status(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct nib_error e = {0};
	struct lines l = {0};

	if (!usable)
		SKIP(why);
	bld_run_spec_init(&spec);
	CHECK(run("echo one; echo two >&2; echo three; printf partial; exit 3", &spec, &l, &res,
		  &e) == 0);
	CHECK_INTEQ(res.exit_code, 3);
	CHECK_INTEQ(res.signal, 0);
	CHECK(res.idmap == (geteuid() == 0 ? BLD_IDMAP_HOST : BLD_IDMAP_SINGLE));
	CHECK(l.out.len == 3 && streq(l.out.v[0], "one") && streq(l.out.v[1], "three") &&
	      streq(l.out.v[2], "partial"));
	CHECK(l.err.len == 1 && streq(l.err.v[0], "two"));
	/* /etc was made for the generated files, reported, and removed */
	CHECK(nib_strv_find(&res.created, "etc") >= 0);
	{
		char p[300];
		snprintf(p, sizeof(p), "%s/etc", rootfs);
		CHECK(access(p, F_OK) < 0);
	}
	bld_run_result_free(&res);
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
	nib_err_clear(&e);

	bld_run_spec_init(&spec);
	CHECK(run("kill -KILL $$", &spec, &l, &res, &e) == 0);
	CHECK_INTEQ(res.signal, SIGKILL);
	CHECK_INTEQ(res.exit_code, 128 + SIGKILL);
	bld_run_result_free(&res);
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
}

static void test_timeout(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct nib_error e = {0};
	struct lines l = {0};

	if (!usable)
		SKIP(why);
	bld_run_spec_init(&spec);
	spec.timeout = 1;
	CHECK(run("trap '' TERM; echo started; sleep 30 & sleep 30", &spec, &l, &res, &e) == 0);
	CHECK(res.timed_out);
	CHECK(l.out.len == 1 && streq(l.out.v[0], "started"));
	bld_run_result_free(&res);
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
}

static void test_refused(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct nib_error e = {0};
	struct lines l = {0};

	if (!usable)
		SKIP(why);
	bld_run_spec_init(&spec);
	spec.network = BLD_NET_NONE;
	CHECK(run("true", &spec, &l, &res, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "network none"));
	nib_err_clear(&e);
	bld_run_result_free(&res);

	bld_run_spec_init(&spec);
	spec.rootfs_setup = (int (*)(void *, struct nib_error *))1;
	CHECK(run("true", &spec, &l, &res, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "no mount namespace"));
	nib_err_clear(&e);
	bld_run_result_free(&res);

	bld_run_spec_init(&spec);
	CHECK(run("exec /no/such/program", &spec, &l, &res, &e) == 0);
	CHECK_INTEQ(res.exit_code, 127);
	nib_err_clear(&e);
	bld_run_result_free(&res);
	{
		char *argv[] = {"/no/such/program", NULL};
		bld_run_spec_init(&spec);
		spec.rootfs = rootfs;
		spec.argv = argv;
		spec.isolation = BLD_ISOLATION_PTRACE;
		CHECK(bld_runtime_run(&spec, &res, &e) < 0);
		CHECK(e.msg && streq(e.msg, "exec /no/such/program: No such file or directory"));
		nib_err_clear(&e);
		bld_run_result_free(&res);
	}
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
}

static void test_isolation_names(void)
{
	CHECK(bld_isolation_parse("ptrace") == BLD_ISOLATION_PTRACE);
	CHECK(bld_isolation_parse("namespaces") == BLD_ISOLATION_NAMESPACES);
	CHECK(bld_isolation_parse("auto") == BLD_ISOLATION_AUTO);
	CHECK(bld_isolation_parse("chroot") == -1);
	CHECK_STREQ(bld_isolation_name(BLD_ISOLATION_PTRACE), "ptrace");
}

int main(void)
{
	char cmd[300];

	setup();
	RUN(test_isolation_names);
	RUN(test_probe);
	RUN(test_lines_and_status);
	RUN(test_timeout);
	RUN(test_refused);
	if (rootfs[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", rootfs);
		if (system(cmd) != 0)
			printf("  could not remove %s\n", rootfs);
	}
	return unit_done();
}
