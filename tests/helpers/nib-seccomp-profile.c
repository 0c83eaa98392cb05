/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-seccomp-profile: load a container seccomp profile (the OCI/Docker JSON
 * format runc, crun and CRI-O read) the way a container runtime does for a
 * pod with NO capabilities, then exec a command under it. The restricted-pod
 * simulation (tests/lib/podsim.sh) runs nib through it, so the tests meet the
 * filters real clusters apply.
 *
 *   nib-seccomp-profile [--crio] [--print] [--caps CAP,...] PROFILE.json -- CMD [ARGS...]
 *
 * Resolution, as moby's profiles/seccomp (seccomp_linux.go, setupSeccomp)
 * and containers/common's pkg/seccomp do it, for the pod's capabilities
 * (--caps, e.g. CAP_CHOWN,CAP_SETUID; none by default):
 *   - a rule is kept only when the pod holds every capability of its
 *     includes.caps and none of its excludes.caps;
 *   - includes.arches must name this architecture, excludes.arches must not;
 *   - includes.minKernel must not be above the running kernel;
 *   - the action's errno is errnoRet, else the profile's defaultErrnoRet,
 *     else EPERM; the architectures come from archMap.
 *
 * --crio models CRI-O >= 1.29, whose built-in default is containers-common's
 * profile with these rules added (containers/common pkg/seccomp
 * default_linux.go, "unshare and friends need CAP_SYS_ADMIN" and the clone
 * rule moby uses since 20.10):
 *   - unshare, setns, mount, umount2, sethostname, setdomainname: EPERM
 *     (allowed only with CAP_SYS_ADMIN);
 *   - clone: allowed only when no CLONE_NEW* flag is set, EPERM otherwise;
 *   - clone3: ENOSYS (its flags sit in memory a filter cannot read, so
 *     glibc falls back to clone).
 * --print lists the resolved rules instead of loading them.
 */
#include <errno.h>
#include <stdarg.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/common.h"

#define CLONE_NEW_MASK                                                                             \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |             \
	 CLONE_NEWPID | CLONE_NEWNET)

static const char *const crio_admin_only[] = {"unshare",     "setns",	      "mount", "umount2",
					      "sethostname", "setdomainname", NULL};

static bool print_only;
static bool crio;
static const char *pod_caps = ""; /* ",CAP_A,CAP_B," */

static bool has_cap(const char *cap)
{
	char k[64];
	snprintf(k, sizeof(k), ",%s,", cap);
	return strstr(pod_caps, k) != NULL;
}

/* Every name of `arr` a capability the pod holds (`all`), or any (!all). */
static bool caps_held(json_object *arr, bool all);

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nib-seccomp-profile: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The profile's architecture name for this machine (moby's archMap keys). */
static const char *native_arch(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64:
		return "SCMP_ARCH_X86_64";
	case SCMP_ARCH_AARCH64:
		return "SCMP_ARCH_AARCH64";
	default:
		return "";
	}
}

/* The short names "includes.arches" uses (moby's goArchToSeccompArchMap). */
static const char *native_goarch(void)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64:
		return "amd64";
	case SCMP_ARCH_AARCH64:
		return "arm64";
	default:
		return "";
	}
}

static bool list_has(json_object *arr, const char *s)
{
	size_t n =
	    arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++)
		if (streq(json_object_get_string(json_object_array_get_idx(arr, i)), s))
			return true;
	return false;
}

static size_t list_len(json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

/* "4.8" <= the running kernel */
static bool kernel_at_least(const char *v)
{
	struct utsname u;
	int a = 0, b = 0, ka = 0, kb = 0;
	if (!v || !*v)
		return true;
	uname(&u);
	sscanf(v, "%d.%d", &a, &b);
	sscanf(u.release, "%d.%d", &ka, &kb);
	return ka > a || (ka == a && kb >= b);
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static uint32_t parse_action(const char *s, int errno_ret)
{
	if (streq(s, "SCMP_ACT_ALLOW"))
		return SCMP_ACT_ALLOW;
	if (streq(s, "SCMP_ACT_ERRNO"))
		return SCMP_ACT_ERRNO(errno_ret);
	if (streq(s, "SCMP_ACT_KILL") || streq(s, "SCMP_ACT_KILL_THREAD"))
		return SCMP_ACT_KILL;
	if (streq(s, "SCMP_ACT_KILL_PROCESS"))
		return SCMP_ACT_KILL_PROCESS;
	if (streq(s, "SCMP_ACT_TRAP"))
		return SCMP_ACT_TRAP;
	if (streq(s, "SCMP_ACT_LOG"))
		return SCMP_ACT_LOG;
	if (streq(s, "SCMP_ACT_TRACE"))
		return SCMP_ACT_TRACE(errno_ret);
	die("unknown action %s", s);
	return 0;
}

static enum scmp_compare parse_op(const char *s)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
	    {"SCMP_CMP_NE", SCMP_CMP_NE},
	    {"SCMP_CMP_LT", SCMP_CMP_LT},
	    {"SCMP_CMP_LE", SCMP_CMP_LE},
	    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
	    {"SCMP_CMP_GE", SCMP_CMP_GE},
	    {"SCMP_CMP_GT", SCMP_CMP_GT},
	    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (streq(s, ops[i].name))
			return ops[i].op;
	die("unknown operator %s", s);
	return SCMP_CMP_EQ;
}

static void add_rule(scmp_filter_ctx ctx, uint32_t def, const char *name, uint32_t action,
		     const struct scmp_arg_cmp *args, unsigned n_args)
{
	int nr = seccomp_syscall_resolve_name(name), r;
	if (nr == __NR_SCMP_ERROR)
		return; /* a call this libseccomp does not know: runtimes skip it too */
	if (action == def)
		return;
	if (print_only) {
		printf("%s action=0x%x args=%u\n", name, action, n_args);
		return;
	}
	r = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (r < 0 && r != -EEXIST)
		die("rule for %s: %s", name, strerror(-r));
}

static bool caps_held(json_object *arr, bool all)
{
	size_t n = list_len(arr);
	for (size_t i = 0; i < n; i++) {
		bool h = has_cap(json_object_get_string(json_object_array_get_idx(arr, i)));
		if (all && !h)
			return false;
		if (!all && h)
			return true;
	}
	return all;
}

static bool crio_gated(const char *name)
{
	if (has_cap("CAP_SYS_ADMIN"))
		return false;
	for (size_t i = 0; crio && crio_admin_only[i]; i++)
		if (streq(name, crio_admin_only[i]))
			return true;
	return crio && (streq(name, "clone") || streq(name, "clone3"));
}

int main(int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && !streq(argv[i], "--"); i++) {
		if (streq(argv[i], "--crio"))
			crio = true;
		else if (streq(argv[i], "--print"))
			print_only = true;
		else if (streq(argv[i], "--caps") && i + 1 < argc) {
			size_t n = strlen(argv[++i]) + 3;
			char *c = malloc(n);
			snprintf(c, n, ",%s,", argv[i]);
			pod_caps = c;
		} else
			die("unknown option %s", argv[i]);
	}
	if (i >= argc || (!print_only && (i + 2 >= argc || !streq(argv[i + 1], "--")))) {
		fprintf(stderr, "usage: nib-seccomp-profile [--crio] [--print] [--caps CAP,...] "
				"PROFILE.json -- CMD [ARGS...]\n");
		return 2;
	}
	const char *file = argv[i];
	json_object *prof = json_object_from_file(file);
	if (!prof)
		die("cannot read %s: %s", file, json_util_get_last_err());

	int def_errno = EPERM;
	if (get(prof, "defaultErrnoRet"))
		def_errno = json_object_get_int(get(prof, "defaultErrnoRet"));
	uint32_t def = parse_action(json_object_get_string(get(prof, "defaultAction")), def_errno);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		die("seccomp_init failed");

	/* archMap: the native architecture and its sub-architectures */
	json_object *amap = get(prof, "archMap");
	for (size_t a = 0; a < list_len(amap); a++) {
		json_object *ent = json_object_array_get_idx(amap, a);
		if (!streq(json_object_get_string(get(ent, "architecture")), native_arch()))
			continue;
		json_object *subs = get(ent, "subArchitectures");
		for (size_t s = 0; s < list_len(subs); s++) {
			const char *sub =
			    json_object_get_string(json_object_array_get_idx(subs, s));
			uint32_t tok = seccomp_arch_resolve_name(sub + strlen("SCMP_ARCH_"));
			if (tok && tok != seccomp_arch_native() && seccomp_arch_add(ctx, tok) < 0)
				die("cannot add architecture %s", sub);
		}
	}

	json_object *calls = get(prof, "syscalls");
	for (size_t k = 0; k < list_len(calls); k++) {
		json_object *rule = json_object_array_get_idx(calls, k);
		json_object *inc = get(rule, "includes"), *exc = get(rule, "excludes");
		if (!caps_held(get(inc, "caps"), true) || caps_held(get(exc, "caps"), false))
			continue; /* a capability rule that does not apply to this pod */
		if (list_len(get(inc, "arches")) > 0 &&
		    !list_has(get(inc, "arches"), native_goarch()))
			continue;
		if (list_has(get(exc, "arches"), native_goarch()))
			continue;
		if (!kernel_at_least(json_object_get_string(get(inc, "minKernel"))))
			continue;
		int eno =
		    get(rule, "errnoRet") ? json_object_get_int(get(rule, "errnoRet")) : def_errno;
		uint32_t action = parse_action(json_object_get_string(get(rule, "action")), eno);

		struct scmp_arg_cmp args[6];
		unsigned n_args = 0;
		json_object *jargs = get(rule, "args");
		for (size_t a = 0; a < list_len(jargs) && n_args < 6; a++) {
			json_object *ja = json_object_array_get_idx(jargs, a);
			args[n_args++] = (struct scmp_arg_cmp){
			    .arg = (unsigned)json_object_get_int(get(ja, "index")),
			    .op = parse_op(json_object_get_string(get(ja, "op"))),
			    .datum_a = (scmp_datum_t)json_object_get_uint64(get(ja, "value")),
			    .datum_b = (scmp_datum_t)json_object_get_uint64(get(ja, "valueTwo")),
			};
		}

		json_object *names = get(rule, "names");
		if (!names && get(rule, "name")) {
			const char *n = json_object_get_string(get(rule, "name"));
			if (!crio_gated(n))
				add_rule(ctx, def, n, action, args, n_args);
			continue;
		}
		for (size_t n = 0; n < list_len(names); n++) {
			const char *nm =
			    json_object_get_string(json_object_array_get_idx(names, n));
			if (!crio_gated(nm))
				add_rule(ctx, def, nm, action, args, n_args);
		}
	}

	if (crio && !has_cap("CAP_SYS_ADMIN")) {
		for (size_t n = 0; crio_admin_only[n]; n++)
			add_rule(ctx, def, crio_admin_only[n], SCMP_ACT_ERRNO(EPERM), NULL, 0);
		struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEW_MASK, 0);
		add_rule(ctx, def, "clone", SCMP_ACT_ALLOW, &none, 1);
		for (unsigned bit = 0; bit < 32; bit++) {
			uint32_t f = 1u << bit;
			if (!(CLONE_NEW_MASK & f))
				continue;
			struct scmp_arg_cmp set = SCMP_A0(SCMP_CMP_MASKED_EQ, f, f);
			add_rule(ctx, def, "clone", SCMP_ACT_ERRNO(EPERM), &set, 1);
		}
		add_rule(ctx, def, "clone3", SCMP_ACT_ERRNO(ENOSYS), NULL, 0);
	}

	if (print_only)
		return 0;
	/* no_new_privs is set by libseccomp (SCMP_FLTATR_CTL_NNP), as a
	 * runtime does for a pod with allowPrivilegeEscalation: false */
	int r = seccomp_load(ctx);
	if (r < 0)
		die("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
	json_object_put(prof);
	execvp(argv[i + 2], argv + i + 2);
	die("exec %s: %s", argv[i + 2], strerror(errno));
}
