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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
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

/* A caller's memory for bld_mem_read_string: `len` bytes at `addr`,
 * nothing past them. */
struct fake_mem {
	uint64_t addr;
	const char *bytes;
	size_t len;
	size_t asked; /* the size of the last read */
};

static ssize_t fake_read(void *ctx, uint64_t addr, void *p, size_t n)
{
	struct fake_mem *m = ctx;

	m->asked = n;
	if (addr < m->addr || addr - m->addr >= m->len)
		return 0;
	n = MIN(n, m->len - (size_t)(addr - m->addr));
	memcpy(p, m->bytes + (addr - m->addr), n);
	return (ssize_t)n;
}

static struct seccomp_notif notif(const char *name, uint64_t a0, uint64_t a1, uint64_t a2,
				  uint64_t a3, uint64_t a4)
{
	struct seccomp_notif req;

	memset(&req, 0, sizeof(req));
	req.data.arch = seccomp_arch_native();
	req.data.nr = seccomp_syscall_resolve_name(name);
	req.data.args[0] = a0;
	req.data.args[1] = a1;
	req.data.args[2] = a2;
	req.data.args[3] = a3;
	req.data.args[4] = a4;
	return req;
}

/* What the single-UID supervisor decodes from a request, without a live
 * caller (the fuzz target fuzz_seccomp_notify feeds these bytes). */
static void test_seccomp_decode(void)
{
	struct seccomp_notif req;
	struct bld_seccomp_call c;
	char buf[8192], out[16];
	struct fake_mem m = {0x1ff8, buf, sizeof(buf), 0};
	uint8_t cap[XATTR_CAPS_SZ_3] = {0};
	uint32_t magic = VFS_CAP_REVISION_3, rootid = 0;
	size_t n;
	pid_t ppid = 0;

	req = notif("fchownat", (uint32_t)-100, 0x1000, 0, 42, AT_SYMLINK_NOFOLLOW);
	bld_seccomp_decode("fchownat", &req, &c);
	CHECK(c.op == BLD_SC_CHOWN && c.has_path && c.path == 0x1000 && c.dirfd == AT_FDCWD);
	CHECK(c.nofollow && !c.empty_path && c.uid == 0 && c.gid == 42);
	req = notif("fchmodat", 3, 0x1000, 04755, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH, 0);
	bld_seccomp_decode("fchmodat", &req, &c);
	CHECK(c.op == BLD_SC_CHMOD && c.dirfd == 3 && c.mode == 04755);
	CHECK(!c.nofollow && !c.empty_path); /* fchmodat has no flags */
	req = notif("fchmodat2", 3, 0x1000, 0644, AT_SYMLINK_NOFOLLOW, 0);
	bld_seccomp_decode("fchmodat2", &req, &c);
	CHECK(c.op == BLD_SC_CHMOD && c.nofollow);
	req = notif("statx", 5, 0x1000, AT_EMPTY_PATH, 0xfff, 0x2000);
	bld_seccomp_decode("statx", &req, &c);
	CHECK(c.op == BLD_SC_STAT && c.dirfd == 5 && c.empty_path && c.buf == 0x2000);
	CHECK_INTEQ(c.statx_mask, 0xfff);
	req = notif("fstat", 7, 0x2000, 0, 0, 0);
	bld_seccomp_decode("fstat", &req, &c);
	CHECK(c.op == BLD_SC_STAT && !c.has_path && c.empty_path && c.dirfd == 7);
	CHECK_INTEQ(c.statx_mask, -1);
	req.data.arch = SCMP_ARCH_X86;
	bld_seccomp_decode("fstat", &req, &c);
	CHECK(c.op == BLD_SC_KERNEL); /* 32-bit layouts */
	req = notif("mknodat", (uint32_t)-100, 0x1000, S_IFCHR | 0666, makedev(1, 3), 0);
	bld_seccomp_decode("mknodat", &req, &c);
	CHECK(c.op == BLD_SC_MKNOD && c.mode == (S_IFCHR | 0666) && c.dev == makedev(1, 3));
	bld_seccomp_decode("getpid", &req, &c);
	CHECK(c.op == BLD_SC_ENOSYS && !c.has_path);
	bld_seccomp_decode(NULL, &req, &c);
	CHECK(c.op == BLD_SC_ENOSYS);

	/* a path across a page boundary, and too long for a buffer; a
	 * short one before unmapped memory, and one cut by it; address 0 */
	memset(buf, 'a', sizeof(buf));
	buf[12] = '\0';
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0x1ff8, out, sizeof(out), SIZE_MAX), 0);
	CHECK_STREQ(out, "aaaaaaaaaaaa");
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0x1ff8, out, 12, SIZE_MAX), -ENAMETOOLONG);
	/* a short first piece (the ptrace executor's) */
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0x1ff8 + 8, out, sizeof(out), 3), 0);
	CHECK_STREQ(out, "aaaa");
	CHECK_INTEQ(m.asked, 13); /* after 3, the rest of the buffer */
	m.len = 13;
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0x1ff8 + 10, out, sizeof(out), SIZE_MAX), 0);
	CHECK_STREQ(out, "aa");
	m.len = 12;
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0x1ff8 + 10, out, sizeof(out), SIZE_MAX),
		    -EFAULT);
	CHECK_INTEQ(bld_mem_read_string(fake_read, &m, 0, out, sizeof(out), SIZE_MAX), -EFAULT);

	/* security.capability: revision 3 with root ID 0 reads as 2 */
	memcpy(cap, &magic, sizeof(magic));
	n = XATTR_CAPS_SZ_3;
	CHECK_INTEQ(bld_seccomp_cap_value_root(cap, &n), 0);
	CHECK_INTEQ(n, XATTR_CAPS_SZ_2);
	rootid = 1000;
	magic = VFS_CAP_REVISION_3;
	memcpy(cap, &magic, sizeof(magic));
	memcpy(cap + XATTR_CAPS_SZ_2, &rootid, sizeof(rootid));
	n = XATTR_CAPS_SZ_3;
	CHECK_INTEQ(bld_seccomp_cap_value_root(cap, &n), 0);
	CHECK_INTEQ(n, XATTR_CAPS_SZ_3);
	n = XATTR_CAPS_SZ_2 - 1;
	CHECK_INTEQ(bld_seccomp_cap_value_root(cap, &n), -EINVAL);

	/* /proc/PID/stat: a command name with ")" in it; a text that ends
	 * at its last ")", whose NUL was skipped (the fields after it read) */
	CHECK_INTEQ(bld_creds_stat_parse("12 (a) b) S 7 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 "
					 "4242 1 2",
					 &ppid),
		    4242);
	CHECK_INTEQ(ppid, 7);
	CHECK_INTEQ(bld_creds_stat_parse("12 (a)\0S 7 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 "
					 "4242 1 2",
					 &ppid),
		    0);
	CHECK_INTEQ(bld_creds_stat_parse("12 (a", &ppid), 0);
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
	RUN(test_seccomp_decode);
	if (*rootfs) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rootfs);
		if (system(cmd) != 0)
			printf("could not remove %s\n", rootfs);
	}
	return unit_done();
}
