/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's C API as the build orchestrator uses it: a struct
 * describing one run, output line by line, exit status and signals,
 * created mount targets, parsing of --mount and capabilities. Runs real
 * containers over a busybox rootfs made here (skipped without busybox or
 * user namespaces).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "builder/runtime_internal.h"
#include "containerfile/containerfile.h"
#include "tests/unit/unit.h"

static char rootfs[256];
static bool usable;

struct lines {
	struct nib_strv out, err;
};

static void on_line(void *ctx, enum bld_stream stream, const char *line, size_t len)
{
	struct lines *l = ctx;
	nib_strv_pushf(stream == BLD_STREAM_STDOUT ? &l->out : &l->err, "%.*s", (int)len, line);
}

static void make_rootfs(void)
{
	char cmd[1024];
	char tmpl[] = "/tmp/nib-unit-runtime.XXXXXX";

	if (access("/bin/busybox", X_OK) < 0 || !mkdtemp(tmpl))
		return;
	snprintf(rootfs, sizeof(rootfs), "%s", tmpl);
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; mkdir -p bin etc tmp; cp /bin/busybox bin/; "
		 "for a in $(/bin/busybox --list-full); do mkdir -p \"$(dirname $a)\"; "
		 "[ -e \"$a\" ] || ln -s /bin/busybox \"$a\"; done; "
		 "echo 'root:x:0:0:root:/root:/bin/sh' >etc/passwd; echo 'root:x:0:' >etc/group",
		 rootfs);
	if (system(cmd) != 0)
		return;
	/* user namespaces allowed? */
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	int st;
	usable = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_lines_and_status(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct lines l = {0};
	struct nib_error err = {0};
	char *argv[] = {"sh", "-c", "echo one; echo two >&2; printf 'three\\nfour'; exit 3", NULL};
	char *env[] = {"FOO=bar", NULL};

	if (!usable)
		SKIP("no busybox or no user namespaces");
	bld_run_spec_init(&spec);
	spec.rootfs = rootfs;
	spec.argv = argv;
	spec.env = env;
	spec.on_line = on_line;
	spec.line_ctx = &l;
	CHECK_INTEQ(bld_runtime_run(&spec, &res, &err), 0);
	CHECK_INTEQ(res.exit_code, 3);
	CHECK_INTEQ(res.signal, 0);
	CHECK(!res.timed_out);
	CHECK_INTEQ(l.out.len, 3);
	if (l.out.len == 3) {
		CHECK_STREQ(l.out.v[0], "one");
		CHECK_STREQ(l.out.v[1], "three");
		CHECK_STREQ(l.out.v[2], "four"); /* a last line without newline too */
	}
	CHECK_INTEQ(l.err.len, 1);
	if (l.err.len == 1)
		CHECK_STREQ(l.err.v[0], "two");
	/* proc, dev, sys and the /etc files were created and are gone again */
	CHECK(nib_strv_find(&res.created, "proc") >= 0);
	CHECK(nib_strv_find(&res.created, "etc/resolv.conf") >= 0);
	CHECK(access(rootfs, F_OK) == 0);
	{
		char p[300];
		snprintf(p, sizeof(p), "%s/etc/resolv.conf", rootfs);
		CHECK(access(p, F_OK) < 0);
		snprintf(p, sizeof(p), "%s/proc", rootfs);
		CHECK(access(p, F_OK) < 0);
	}
	bld_run_result_free(&res);
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
	nib_err_clear(&err);
}

static void test_env_user_workdir(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct lines l = {0};
	struct nib_error err = {0};
	char *argv[] = {"sh", "-c", "echo $FOO:$HOME:$(pwd):$(cat /etc/hostname)", NULL};
	char *env[] = {"FOO=bar", NULL};

	if (!usable)
		SKIP("no busybox or no user namespaces");
	bld_run_spec_init(&spec);
	spec.rootfs = rootfs;
	spec.argv = argv;
	spec.env = env;
	spec.user = "root";
	spec.workdir = "/w";
	spec.hostname = "unit";
	spec.on_line = on_line;
	spec.line_ctx = &l;
	CHECK_INTEQ(bld_runtime_run(&spec, &res, &err), 0);
	CHECK_INTEQ(res.exit_code, 0);
	CHECK(l.out.len == 1 && streq(l.out.v[0], "bar:/root:/w:unit"));
	bld_run_result_free(&res);
	nib_strv_free(&l.out);
	nib_strv_free(&l.err);
}

static void test_signal_and_errors(void)
{
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct nib_error err = {0};
	char *kill_argv[] = {"sh", "-c", "kill -TERM $$", NULL};
	char *bad_argv[] = {"/nonexistent", NULL};
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (!usable)
		SKIP("no busybox or no user namespaces");
	bld_run_spec_init(&spec);
	spec.rootfs = rootfs;
	spec.argv = kill_argv;
	spec.stdout_fd = spec.stderr_fd = devnull;
	CHECK_INTEQ(bld_runtime_run(&spec, &res, &err), 0);
	CHECK_INTEQ(res.signal, SIGTERM);
	CHECK_INTEQ(res.exit_code, 128 + SIGTERM);
	bld_run_result_free(&res);

	spec.argv = bad_argv;
	CHECK_INTEQ(bld_runtime_run(&spec, &res, &err), -1);
	CHECK_STREQ(err.msg, "exec /nonexistent: No such file or directory");
	bld_run_result_free(&res);
	nib_err_clear(&err);

	spec.rootfs = "/nonexistent-rootfs";
	CHECK_INTEQ(bld_runtime_run(&spec, &res, &err), -1);
	CHECK(err.msg && strstr(err.msg, "/nonexistent-rootfs"));
	nib_err_clear(&err);
	close(devnull);
}

/* nib run --mount: RUN --mount's parser in the runtime's dialect */
static void test_mount_parse(void)
{
	struct cf_mount m;
	struct nib_error err = {0};

	CHECK_INTEQ(cf_mount_parse("type=bind,src=/a,dst=/b,ro", CF_MOUNT_RUNTIME, &m, &err), 0);
	CHECK(m.type == CF_MOUNT_BIND && streq(m.source, "/a") && streq(m.target, "/b") &&
	      m.readonly);
	cf_mount_clear(&m);
	CHECK_INTEQ(cf_mount_parse("type=tmpfs,target=/t", CF_MOUNT_RUNTIME, &m, &err), 0);
	CHECK(m.type == CF_MOUNT_TMPFS && streq(m.target, "/t") && !m.readonly);
	cf_mount_clear(&m);
	CHECK_INTEQ(cf_mount_parse("type=nfs,dst=/x", CF_MOUNT_RUNTIME, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "unsupported mount type \"nfs\" (bind or tmpfs)"));
	CHECK_INTEQ(cf_mount_parse("type=cache,dst=/x", CF_MOUNT_RUNTIME, &m, &err), -1);
	CHECK_INTEQ(cf_mount_parse("type=bind,dst=/x", CF_MOUNT_RUNTIME, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "needs a source"));
	CHECK_INTEQ(cf_mount_parse("type=tmpfs,dst=x", CF_MOUNT_RUNTIME, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "absolute"));
	CHECK_INTEQ(cf_mount_parse("type=bind,src=/a,dst=/b,id=x", CF_MOUNT_RUNTIME, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "unexpected key 'id'"));
	CHECK_INTEQ(
	    cf_mount_parse("src=/s,destination=/d,readonly=false", CF_MOUNT_RUNTIME, &m, &err), 0);
	CHECK(m.type == CF_MOUNT_BIND && !m.readonly);
	cf_mount_clear(&m);
	nib_err_clear(&err);
}

static void test_caps_and_idmap_names(void)
{
	struct nib_error err = {0};
	char *add[] = {"net_raw", "CAP_SYS_PTRACE", NULL};
	char *drop[] = {"CHOWN", NULL};
	char *bad[] = {"FLY", NULL};
	char *all[] = {"ALL", NULL};
	uint64_t m;

	CHECK_INTEQ(bld_caps_mask(NULL, NULL, &m, &err), 0);
	CHECK_INTEQ(m, 0x880405fbULL);
	CHECK_INTEQ(bld_caps_mask(add, drop, &m, &err), 0);
	CHECK_INTEQ(m, (0x880405fbULL & ~1ULL) | (1ULL << 13) | (1ULL << 19));
	CHECK_INTEQ(bld_caps_mask(NULL, all, &m, &err), 0);
	CHECK_INTEQ(m, 0);
	CHECK_INTEQ(bld_caps_mask(bad, NULL, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "unknown capability 'FLY'"));
	nib_err_clear(&err);

	CHECK_INTEQ(bld_idmap_parse("auto"), BLD_IDMAP_AUTO);
	CHECK_INTEQ(bld_idmap_parse("subuid"), BLD_IDMAP_SUBUID);
	CHECK_INTEQ(bld_idmap_parse("single"), BLD_IDMAP_SINGLE);
	CHECK_INTEQ(bld_idmap_parse("nope"), -1);
	CHECK_STREQ(bld_idmap_name(BLD_IDMAP_SINGLE), "single");
}

/* --add-host, --dns*, --no-hosts: buildah's checks, and the files as
 * buildah writes them (every kind of line given: nothing of the host's) */
static void test_etc_files(void)
{
	struct nib_error err = {0};
	char *hosts[] = {"foo:1.2.3.4", "bar:fe80::1", NULL};
	char *dns[] = {"9.9.9.9", "2001:db8::53", NULL};
	char *search[] = {"a.example", "b.example", NULL};
	char *opts[] = {"ndots:2", "", "edns0", NULL};
	char *none[] = {"none", NULL}, *none2[] = {"none", "1.1.1.1", NULL};
	char *bad_host[] = {"foo:1.2.3", NULL}, *no_ip[] = {"foo", NULL};
	char *empty_name[] = {":1.2.3.4", NULL}, *bad_dns[] = {"x", NULL};
	char *spaced[] = {"a b", NULL};
	struct bld_run_spec spec;
	char *files[3];

	bld_run_spec_init(&spec);
	spec.hostname = "h";
	spec.etc = (struct bld_etc_opts){
	    .add_hosts = hosts, .dns = dns, .dns_search = search, .dns_options = opts};
	CHECK_INTEQ(bld_etc_opts_check(&spec.etc, BLD_NET_PRIVATE, &err), 0);
	bld_etc_files_make(&spec, BLD_NET_PRIVATE, files);
	CHECK_STREQ(files[0], "search a.example b.example\nnameserver 9.9.9.9\n"
			      "nameserver 2001:db8::53\noptions ndots:2 edns0\n");
	CHECK_STREQ(files[1], "1.2.3.4\tfoo\nfe80::1\tbar\n127.0.0.1\tlocalhost\n"
			      "::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\th\n");
	CHECK_STREQ(files[2], "h\n");
	for (int i = 0; i < 3; i++)
		free(files[i]);
	CHECK_INTEQ(bld_etc_opts_check(&spec.etc, BLD_NET_NONE, &err), -1);
	CHECK(err.msg && strstr(err.msg, "--dns 9.9.9.9: RUN has no network"));
	nib_err_clear(&err);

	spec.etc = (struct bld_etc_opts){.dns = none, .no_hosts = true};
	CHECK_INTEQ(bld_etc_opts_check(&spec.etc, BLD_NET_NONE, &err), 0);
	CHECK(bld_etc_keeps_image(&spec.etc, "hosts") &&
	      bld_etc_keeps_image(&spec.etc, "resolv.conf"));
	bld_etc_files_make(&spec, BLD_NET_NONE, files);
	CHECK(!files[0] && !files[1]);
	free(files[2]);

	struct {
		struct bld_etc_opts o;
		const char *msg;
	} bad[] = {
	    {{.add_hosts = bad_host}, "--add-host foo:1.2.3: \"1.2.3\" is not an IPv4 or IPv6"},
	    {{.add_hosts = no_ip}, "--add-host foo: not HOST:IP"},
	    {{.add_hosts = empty_name}, "--add-host :1.2.3.4: not HOST:IP"},
	    {{.add_hosts = hosts, .no_hosts = true}, "--no-hosts and --add-host conflict"},
	    {{.dns = none2}, "--dns none: no other --dns"},
	    {{.dns = bad_dns}, "--dns x: not an IPv4 or IPv6 address"},
	    {{.dns = none, .dns_search = search}, "--dns-search a.example: not with --dns none"},
	    {{.dns_search = spaced}, "--dns-search \"a b\": not a domain name"},
	    {{.dns_options = spaced}, "--dns-option \"a b\": not one resolver option"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_INTEQ(bld_etc_opts_check(&bad[i].o, BLD_NET_HOST, &err), -1);
		CHECK(err.kind == NIB_ERR_USAGE && err.msg && strstr(err.msg, bad[i].msg));
		nib_err_clear(&err);
	}
}

int main(void)
{
	make_rootfs();
	RUN(test_lines_and_status);
	RUN(test_env_user_workdir);
	RUN(test_signal_and_errors);
	RUN(test_mount_parse);
	RUN(test_caps_and_idmap_names);
	RUN(test_etc_files);
	if (*rootfs) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rootfs);
		if (system(cmd) != 0)
			printf("could not remove %s\n", rootfs);
	}
	return unit_done();
}
