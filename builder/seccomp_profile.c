/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --security-opt seccomp=PROFILE.json: a Docker/OCI seccomp profile (the
 * JSON runc, crun, Docker and buildah read) compiled for a RUN step's
 * capabilities, as moby's profiles/seccomp and containers/common's
 * pkg/seccomp resolve it:
 *   - a rule is kept only when the step holds every capability of its
 *     includes.caps and none of its excludes.caps;
 *   - includes.arches must name this architecture, excludes.arches not;
 *   - includes.minKernel must not be above the running kernel;
 *   - an ERRNO action returns errnoRet, else defaultErrnoRet, else EPERM;
 *   - archMap adds the native architecture's sub-architectures.
 * The step's filter is this program stacked on nib's ownership emulation
 * (seccomp.c): the kernel runs both and the stricter action wins, so a
 * call the profile refuses stays refused and a call it allows still
 * reaches the supervisor in single-UID mode.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <ctype.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <seccomp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/utsname.h>

#include "builder/runtime_internal.h"

NIB_DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)
NIB_DEFINE_CLEANUP(json_object *, json_object_put)

struct profile {
	const char *path;
	uint64_t caps;
	struct nib_error *err;
};

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static size_t list_len(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *list_str(json_object *a, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(a, i));
}

static bool list_has(json_object *a, const char *s)
{
	for (size_t i = 0; i < list_len(a); i++)
		if (streq(list_str(a, i), s))
			return true;
	return false;
}

/* The names moby's profiles use for this machine. */
static const char *native_arch(bool go)
{
	switch (seccomp_arch_native()) {
	case SCMP_ARCH_X86_64:
		return go ? "amd64" : "SCMP_ARCH_X86_64";
	case SCMP_ARCH_AARCH64:
		return go ? "arm64" : "SCMP_ARCH_AARCH64";
	default:
		return "";
	}
}

static bool cap_held(const struct profile *p, const char *name)
{
	_cleanup_free_ char *low = xstrdup(name ? name : "");
	cap_value_t v;

	for (char *c = low; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return cap_from_name(low, &v) == 0 && v >= 0 && v < 64 && (p->caps & (1ULL << v));
}

/* Whether the rule applies to this step (caps, arches, kernel). */
static bool rule_applies(const struct profile *p, json_object *rule)
{
	json_object *inc = get(rule, "includes"), *exc = get(rule, "excludes");
	json_object *ic = get(inc, "caps"), *ec = get(exc, "caps");
	const char *mk = json_object_get_string(get(inc, "minKernel"));

	for (size_t i = 0; i < list_len(ic); i++)
		if (!cap_held(p, list_str(ic, i)))
			return false;
	for (size_t i = 0; i < list_len(ec); i++)
		if (cap_held(p, list_str(ec, i)))
			return false;
	if (list_len(get(inc, "arches")) && !list_has(get(inc, "arches"), native_arch(true)))
		return false;
	if (list_has(get(exc, "arches"), native_arch(true)))
		return false;
	if (mk && *mk) {
		struct utsname u;
		int a = 0, b = 0, ka = 0, kb = 0;
		uname(&u);
		sscanf(mk, "%d.%d", &a, &b);
		sscanf(u.release, "%d.%d", &ka, &kb);
		if (ka < a || (ka == a && kb < b))
			return false;
	}
	return true;
}

static int action_parse(const struct profile *p, const char *s, int eno, uint32_t *out)
{
	if (!s)
		s = "(none)";
	if (streq(s, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (streq(s, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO((uint16_t)eno);
	else if (streq(s, "SCMP_ACT_KILL") || streq(s, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL;
	else if (streq(s, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (streq(s, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (streq(s, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else if (streq(s, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE((uint16_t)eno);
	else if (streq(s, "SCMP_ACT_NOTIFY"))
		return nib_err(p->err, NIB_ERR_USAGE, 0,
			       "%s: action SCMP_ACT_NOTIFY: no listener (nib's supervisor serves "
			       "only its own filter)",
			       p->path);
	else
		return nib_err(p->err, NIB_ERR_USAGE, 0, "%s: unknown action '%s'", p->path, s);
	return 0;
}

static int op_parse(const struct profile *p, const char *s, enum scmp_compare *op)
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
		if (s && streq(s, ops[i].name)) {
			*op = ops[i].op;
			return 0;
		}
	return nib_err(p->err, NIB_ERR_USAGE, 0, "%s: unknown operator '%s'", p->path,
		       s ? s : "(none)");
}

static int add_rule(const struct profile *p, scmp_filter_ctx ctx, uint32_t def, const char *name,
		    uint32_t action, const struct scmp_arg_cmp *args, unsigned n)
{
	int nr, r;

	if (!name)
		return nib_err(p->err, NIB_ERR_USAGE, 0, "%s: a rule names no system call",
			       p->path);
	nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR || action == def)
		return 0; /* a call this libseccomp does not know: runtimes skip it too */
	r = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (r < 0 && r != -EEXIST && r != -EDOM)
		return nib_err(p->err, NIB_ERR_USAGE, -r, "%s: the rule for %s", p->path, name);
	return 0;
}

static int rule_add(const struct profile *p, scmp_filter_ctx ctx, uint32_t def, int def_errno,
		    json_object *rule)
{
	json_object *jargs = get(rule, "args"), *names = get(rule, "names");
	struct scmp_arg_cmp args[6];
	unsigned n = 0;
	uint32_t action;
	int eno = get(rule, "errnoRet") ? json_object_get_int(get(rule, "errnoRet")) : def_errno;

	if (!rule_applies(p, rule))
		return 0;
	if (action_parse(p, json_object_get_string(get(rule, "action")), eno, &action) < 0)
		return -1;
	if (list_len(jargs) > 6)
		return nib_err(p->err, NIB_ERR_USAGE, 0, "%s: a rule with more than 6 arguments",
			       p->path);
	for (size_t a = 0; a < list_len(jargs); a++) {
		json_object *ja = json_object_array_get_idx(jargs, a);
		int idx = json_object_get_int(get(ja, "index"));
		enum scmp_compare op = SCMP_CMP_EQ;
		if (idx < 0 || idx > 5)
			return nib_err(p->err, NIB_ERR_USAGE, 0, "%s: argument index %d", p->path,
				       idx);
		if (op_parse(p, json_object_get_string(get(ja, "op")), &op) < 0)
			return -1;
		args[n++] = (struct scmp_arg_cmp){
		    .arg = (unsigned)idx,
		    .op = op,
		    .datum_a = (scmp_datum_t)json_object_get_uint64(get(ja, "value")),
		    .datum_b = (scmp_datum_t)json_object_get_uint64(get(ja, "valueTwo")),
		};
	}
	if (!names) /* the old "name": one call */
		return add_rule(p, ctx, def, json_object_get_string(get(rule, "name")), action,
				args, n);
	for (size_t i = 0; i < list_len(names); i++)
		if (add_rule(p, ctx, def, list_str(names, i), action, args, n) < 0)
			return -1;
	return 0;
}

int bld_seccomp_profile_compile(const char *path, uint64_t caps, struct bld_seccomp_bpf *out,
				struct nib_error *err)
{
	struct profile p = {.path = path, .caps = caps, .err = err};
	_cleanup_(json_object_putp) json_object *prof = NULL;
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	_cleanup_free_ char *text = NULL;
	json_object *amap, *calls;
	enum json_tokener_error jerr = json_tokener_success;
	int def_errno = EPERM;
	uint32_t def;

	*out = (struct bld_seccomp_bpf){0};
	if (nib_read_file_at(AT_FDCWD, path, 4 << 20, &text, NULL, err) < 0)
		return -1;
	prof = json_tokener_parse_verbose(text, &jerr);
	if (!prof || !json_object_is_type(prof, json_type_object))
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: not a seccomp profile (%s)", path,
			       prof ? "not a JSON object" : json_tokener_error_desc(jerr));
	if (get(prof, "defaultErrnoRet"))
		def_errno = json_object_get_int(get(prof, "defaultErrnoRet"));
	if (!get(prof, "defaultAction"))
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: no defaultAction", path);
	if (action_parse(&p, json_object_get_string(get(prof, "defaultAction")), def_errno, &def) <
	    0)
		return -1;
	ctx = seccomp_init(def);
	if (!ctx)
		return nib_err(err, NIB_ERR_ENV, 0, "seccomp: cannot create a filter");
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* nib sets it where needed */
	amap = get(prof, "archMap");
	for (size_t a = 0; a < list_len(amap); a++) {
		json_object *ent = json_object_array_get_idx(amap, a), *subs;
		if (!streq(json_object_get_string(get(ent, "architecture")) ?: "",
			   native_arch(false)))
			continue;
		subs = get(ent, "subArchitectures");
		for (size_t s = 0; s < list_len(subs); s++) {
			const char *sub = list_str(subs, s);
			uint32_t tok = sub && nib_str_has_prefix(sub, "SCMP_ARCH_")
					   ? seccomp_arch_resolve_name(sub + 10)
					   : 0;
			if (tok && tok != seccomp_arch_native())
				seccomp_arch_add(ctx, tok);
		}
	}
	calls = get(prof, "syscalls");
	if (calls && !json_object_is_type(calls, json_type_array))
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: syscalls is not a list", path);
	for (size_t k = 0; k < list_len(calls); k++)
		if (rule_add(&p, ctx, def, def_errno, json_object_array_get_idx(calls, k)) < 0)
			return -1;
	return bld_seccomp_ctx_bpf(ctx, out, err);
}
