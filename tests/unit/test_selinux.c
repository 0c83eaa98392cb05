/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN's confinement options as parsed (--security-opt, --ulimit,
 * --shm-size, --device) and the SELinux label computation: context
 * strings from lxc_contexts and label= options, the MCS pair, label=disable,
 * the relabel's refusals. Pure: no SELinux call (SELinux need not be on).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <string.h>
#include <sys/resource.h>

#include "builder/runtime_internal.h"
#include "tests/unit/unit.h"

static const char lxc[] = "process = \"system_u:system_r:container_t:s0\"\n"
			  "content = \"system_u:object_r:virt_var_lib_t:s0\"\n"
			  "file = \"system_u:object_r:container_file_t:s0\"\n"
			  "ro_file=\"system_u:object_r:container_ro_file_t:s0\"\n"
			  "sandbox_kvm_process = \"system_u:system_r:container_kvm_t:s0\"\n";

static int opt(struct bld_security *s, const char *o)
{
	struct nib_error e = {0};
	int r = bld_security_opt(s, o, &e);
	if (r < 0)
		CHECK_INTEQ(e.kind, NIB_ERR_USAGE);
	nib_err_clear(&e);
	return r;
}

static void test_labels_default(void)
{
	char *exec = NULL, *file = NULL;

	bld_selinux_compute(NULL, lxc, 12, 700, &exec, &file);
	CHECK_STREQ(exec, "system_u:system_r:container_t:s0:c12,c700");
	CHECK_STREQ(file, "system_u:object_r:container_file_t:s0:c12,c700");
	free(exec);
	free(file);
	/* no lxc_contexts: the targeted policy's names */
	bld_selinux_compute(NULL, NULL, 1, 2, &exec, &file);
	CHECK_STREQ(exec, "system_u:system_r:container_t:s0:c1,c2");
	CHECK_STREQ(file, "system_u:object_r:container_file_t:s0:c1,c2");
	free(exec);
	free(file);
	/* a policy with other names, and a key that only starts the same */
	bld_selinux_compute(NULL,
			    "processx = \"a:b:c:s0\"\nprocess=\"u:r:my_t:s0-s0:c0.c1023\"\n"
			    "file = u:object_r:my_file_t\n",
			    3, 4, &exec, &file);
	CHECK_STREQ(exec, "u:r:my_t:s0:c3,c4");
	CHECK_STREQ(file, "u:object_r:my_file_t:s0:c3,c4");
	free(exec);
	free(file);
}

static void test_labels_options(void)
{
	struct bld_security s = {0};
	char *exec = NULL, *file = NULL;

	CHECK_INTEQ(opt(&s, "label=type:spc_t"), 0);
	CHECK_INTEQ(opt(&s, "label=user:staff_u"), 0);
	CHECK_INTEQ(opt(&s, "label=role:staff_r"), 0);
	CHECK_INTEQ(opt(&s, "label=level:s0:c100,c200"), 0);
	CHECK_INTEQ(opt(&s, "label=filetype:my_file_t"), 0);
	bld_selinux_compute(&s, lxc, 5, 6, &exec, &file);
	CHECK_STREQ(exec, "staff_u:staff_r:spc_t:s0:c100,c200");
	CHECK_STREQ(file, "staff_u:object_r:my_file_t:s0:c100,c200");
	free(exec);
	free(file);
	/* the last one given holds */
	CHECK_INTEQ(opt(&s, "label=type:other_t"), 0);
	CHECK_STREQ(s.label_type, "other_t");
	CHECK_INTEQ(opt(&s, "label=disable"), 0);
	bld_selinux_compute(&s, lxc, 5, 6, &exec, &file);
	CHECK(exec == NULL && file == NULL);
	bld_security_free(&s);

	CHECK_INTEQ(opt(&s, "label=bogus"), -1);
	CHECK_INTEQ(opt(&s, "label=type:"), -1);
	CHECK_INTEQ(opt(&s, "label=type:a:b"), -1);
	CHECK_INTEQ(opt(&s, "label=level:s0 c1"), -1);
	CHECK_INTEQ(opt(&s, "label=nested"), -1);
	CHECK(!s.label_disable && !s.label_type);
	bld_security_free(&s);
}

static void test_mcs_pair(void)
{
	unsigned a, b, c, d;

	bld_selinux_mcs(&a, &b);
	CHECK(a < b);
	CHECK(b < 1024);
	bld_selinux_mcs(&c, &d); /* one pair per process */
	CHECK_INTEQ(a, c);
	CHECK_INTEQ(b, d);
}

static void test_relabel_refusals(void)
{
	struct nib_error e = {0};
	static const char *const refused[] = {"/", "/usr", "/etc", "/home", "/var/lib", "/usr/"};

	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		CHECK_INTEQ(bld_selinux_relabel(refused[i], true, &e), -1);
		CHECK(e.msg && strstr(e.msg, "refused to relabel a system folder"));
		nib_err_clear(&e);
	}
	CHECK_INTEQ(bld_selinux_relabel("/nonexistent-nib-path", false, &e), -1);
	CHECK_INTEQ(e.kind, NIB_ERR_NOT_FOUND);
	nib_err_clear(&e);
}

static void test_security_opts(void)
{
	struct bld_security s = {0};

	CHECK_INTEQ(opt(&s, "no-new-privileges"), 0);
	CHECK(s.no_new_privs);
	CHECK_INTEQ(opt(&s, "no-new-privileges=false"), 0);
	CHECK(!s.no_new_privs);
	CHECK_INTEQ(opt(&s, "no-new-privileges=maybe"), -1);
	CHECK_INTEQ(opt(&s, "seccomp=unconfined"), 0);
	CHECK_INTEQ(s.seccomp, BLD_SECCOMP_UNCONFINED);
	CHECK_INTEQ(opt(&s, "seccomp=/nonexistent.json"), -1);
	CHECK_INTEQ(opt(&s, "seccomp:/x.json"), -1);
	CHECK_INTEQ(opt(&s, "seccomp="), -1);
	CHECK_INTEQ(opt(&s, "apparmor=unconfined"), 0);
	CHECK_INTEQ(opt(&s, "apparmor=docker-default"), -1);
	CHECK_INTEQ(opt(&s, "mask=/a:/b"), 0);
	CHECK_INTEQ(opt(&s, "mask=a"), -1);
	CHECK_INTEQ(opt(&s, "unmask=ALL"), 0);
	CHECK_INTEQ(opt(&s, "mask=ALL"), -1);
	CHECK_INTEQ((int)s.mask.len, 2);
	CHECK_INTEQ((int)s.unmask.len, 1);
	CHECK_INTEQ(opt(&s, "systempaths=unconfined"), -1);
	bld_security_free(&s);
}

static void test_ulimit_shm_device(void)
{
	struct bld_security s = {0};
	struct nib_error e = {0};

	CHECK_INTEQ(bld_ulimit_opt(&s, "nofile=100:200", &e), 0);
	CHECK_INTEQ(bld_ulimit_opt(&s, "core=-1", &e), 0);
	CHECK_INTEQ(bld_ulimit_opt(&s, "nofile=300", &e), 0); /* replaces */
	CHECK_INTEQ((int)s.n_ulimits, 2);
	CHECK_INTEQ(s.ulimits[0].resource, RLIMIT_NOFILE);
	CHECK(s.ulimits[0].soft == 300 && s.ulimits[0].hard == 300);
	CHECK(s.ulimits[1].soft == RLIM_INFINITY && s.ulimits[1].hard == RLIM_INFINITY);
	CHECK_INTEQ(bld_ulimit_opt(&s, "nproc=unlimited:unlimited", &e), 0);
	const char *bad[] = {"nofile",	  "bogus=1", "nofile=2:1", "nofile=x",
			     "nofile=-2", "=1",	     "nofile=1:"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_INTEQ(bld_ulimit_opt(&s, bad[i], &e), -1);
		CHECK_INTEQ(e.kind, NIB_ERR_USAGE);
		nib_err_clear(&e);
	}
	CHECK_INTEQ(bld_shm_size_opt(&s, "64m", &e), 0);
	CHECK(s.shm_size == 64ULL << 20);
	CHECK_INTEQ(bld_shm_size_opt(&s, "1g", &e), 0);
	CHECK(s.shm_size == 1ULL << 30);
	CHECK_INTEQ(bld_shm_size_opt(&s, "0", &e), -1);
	nib_err_clear(&e);
	CHECK_INTEQ(bld_shm_size_opt(&s, "100", &e), -1);
	nib_err_clear(&e);

	CHECK_INTEQ(bld_device_opt(&s, "/dev/null", &e), 0);
	CHECK_INTEQ(bld_device_opt(&s, "/dev/zero:/dev/z", &e), 0);
	CHECK_INTEQ(bld_device_opt(&s, "/dev/full:r", &e), 0);
	CHECK_INTEQ(bld_device_opt(&s, "/dev/null:/x/y:rw", &e), 0);
	CHECK_INTEQ((int)s.n_devices, 4);
	CHECK_STREQ(s.devices[0].container, "/dev/null");
	CHECK_STREQ(s.devices[0].perms, "rwm");
	CHECK_STREQ(s.devices[1].container, "/dev/z");
	CHECK_STREQ(s.devices[2].container, "/dev/full");
	CHECK_STREQ(s.devices[2].perms, "r");
	CHECK_STREQ(s.devices[3].perms, "rw");
	const char *badd[] = {"dev/null",
			      "/dev/null:rel",
			      "/dev/null:/a:rwz",
			      "/dev/null:/a:r:x",
			      "/etc/passwd",
			      "/nonexistent",
			      ""};
	for (size_t i = 0; i < ARRAY_SIZE(badd); i++) {
		CHECK_INTEQ(bld_device_opt(&s, badd[i], &e), -1);
		CHECK_INTEQ(e.kind, NIB_ERR_USAGE);
		nib_err_clear(&e);
	}
	bld_security_free(&s);
}

int main(void)
{
	RUN(test_labels_default);
	RUN(test_labels_options);
	RUN(test_mcs_pair);
	RUN(test_relabel_refusals);
	RUN(test_security_opts);
	RUN(test_ulimit_shm_device);
	return unit_done();
}
