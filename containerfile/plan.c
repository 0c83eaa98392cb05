/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: what Docker resolves before it builds. Predefined platform
 * ARGs and build args form the global scope; ARGs before the first FROM are
 * global and only FROM lines see them unless a stage declares them again;
 * inside a stage ARG and ENV extend the scope in order (a stage that starts
 * FROM another inherits its ENV); stage references come from FROM,
 * COPY --from and RUN --mount from=; the target's closure is what gets
 * built; a cycle is an error.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <strings.h>
#include <sys/utsname.h>

#include "containerfile/cf_internal.h"

static const char *const proxies[] = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",	"no_proxy",    "ALL_PROXY",   "all_proxy",
};

bool cf_arg_is_proxy(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(proxies); i++)
		if (streq(proxies[i], name))
			return true;
	return false;
}

/* The host as an OCI platform: os/arch[/variant] with Go's arch names. */
static char *host_platform(void)
{
	static const struct {
		const char *machine, *arch;
	} map[] = {
	    {"x86_64", "amd64"},
	    {"amd64", "amd64"},
	    {"aarch64", "arm64"},
	    {"arm64", "arm64"},
	    {"armv7l", "arm/v7"},
	    {"armv7", "arm/v7"},
	    {"armv6l", "arm/v6"},
	    {"armv5tel", "arm/v5"},
	    {"i386", "386"},
	    {"i486", "386"},
	    {"i586", "386"},
	    {"i686", "386"},
	    {"ppc64le", "ppc64le"},
	    {"s390x", "s390x"},
	    {"riscv64", "riscv64"},
	    {"mips64", "mips64"},
	    {"loongarch64", "loong64"},
	};
	struct utsname u;

	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (streq(u.machine, map[i].machine))
				return xasprintf("linux/%s", map[i].arch);
	return xstrdup("linux/amd64");
}

static void platform_args(struct cf_scope *sc, struct nib_strv *out, const char *prefix,
			  const char *platform)
{
	_cleanup_free_ char *p = xstrdup(platform);
	char *os = p, *arch = strchr(p, '/'), *variant = NULL;
	char key[32];

	if (arch) {
		*arch++ = '\0';
		variant = strchr(arch, '/');
		if (variant)
			*variant++ = '\0';
	}
	snprintf(key, sizeof(key), "%sPLATFORM", prefix);
	cf_scope_set(sc, key, platform);
	nib_strv_pushf(out, "%s=%s", key, platform);
	snprintf(key, sizeof(key), "%sOS", prefix);
	cf_scope_set(sc, key, os);
	nib_strv_pushf(out, "%s=%s", key, os);
	snprintf(key, sizeof(key), "%sARCH", prefix);
	cf_scope_set(sc, key, arch ? arch : "");
	nib_strv_pushf(out, "%s=%s", key, arch ? arch : "");
	snprintf(key, sizeof(key), "%sVARIANT", prefix);
	cf_scope_set(sc, key, variant ? variant : "");
	nib_strv_pushf(out, "%s=%s", key, variant ? variant : "");
}

struct plan {
	struct cf_file *f;
	struct cf_names names;
	struct cf_scope meta; /* global scope: platform args, then global ARGs */
	int *dep_mark;	      /* dep_mark[j] == i: stage i already depends on j */
	struct nib_strv ba_keys, ba_vals;
	bool *ba_used;
	struct nib_error *stage_err; /* first error of each stage */
	struct cf_instr **dep_instr; /* per stage, per dep: who created it */
};

static const char *build_arg(struct plan *p, const char *key)
{
	for (size_t i = 0; i < p->ba_keys.len; i++)
		if (streq(p->ba_keys.v[i], key)) {
			p->ba_used[i] = true;
			return p->ba_vals.v[i];
		}
	return NULL;
}

const char *cf_file_meta_arg(const struct cf_file *f, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = f->meta_args.len; i > 0; i--) {
		const char *s = f->meta_args.v[i - 1];
		if (strncmp(s, name, n) == 0 && (s[n] == '=' || s[n] == '\0'))
			return s[n] == '=' ? s + n + 1 : NULL;
	}
	return NULL;
}

const struct cf_stage *cf_file_stage(const struct cf_file *f, const char *ref)
{
	char *end;
	long idx;

	for (size_t i = 0; i < f->n_stages; i++)
		if (f->stages[i].name && strcasecmp(f->stages[i].name, ref) == 0)
			return &f->stages[i];
	errno = 0;
	idx = strtol(ref, &end, 10);
	if (*ref && !*end && !errno && idx >= 0 && (size_t)idx < f->n_stages)
		return &f->stages[idx];
	return NULL;
}

static void add_dep(struct plan *p, struct cf_stage *st, int dep)
{
	if (p->dep_mark[dep] == st->index)
		return;
	p->dep_mark[dep] = st->index;
	size_t cap = st->n_deps;
	st->deps = xgrow(st->deps, &cap, st->n_deps + 1, sizeof(*st->deps));
	st->deps[st->n_deps++] = dep;
}

/* The stage named `ref`, or -1. Stage names are case-insensitive (kept in
 * lower case), in FROM as in COPY --from and mounts (BuildKit). */
static int stage_named(const struct plan *p, const char *ref)
{
	_cleanup_free_ char *low = xstrdup(ref);

	for (char *c = low; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	return cf_names_get(&p->names, low);
}

/* A stage reference from COPY --from or a mount's from=: a stage name, a
 * stage index, or else an image. */
static int stage_ref(struct plan *p, struct cf_stage *st, struct cf_instr *in, const char *ref,
		     size_t off, struct nib_error *err)
{
	struct cf_file *f = p->f;
	char *end;
	long idx;
	int si;

	si = stage_named(p, ref);
	if (si >= 0) {
		add_dep(p, st, si);
		return 0;
	}
	errno = 0;
	idx = strtol(ref, &end, 10);
	if (*ref && !*end && (*ref != '-' && *ref != '+')) {
		if (errno || idx < 0 || (size_t)idx >= f->n_stages)
			return cf_instr_error(
			    in, err, off, "%s: invalid stage index %s (the file has %zu stages)",
			    cf_kind_name(in->kind), ref, f->n_stages);
		add_dep(p, st, (int)idx);
	}
	return 0; /* an image */
}

/* RUN --mount=type=...,k=v: BuildKit's mount keys; records from= deps. */

int cf_csv_split(const char *s, struct nib_strv *out)
{
	_cleanup_buf_ struct nib_buf cur = {0};
	bool q = false;

	nib_buf_puts(&cur, "");
	for (const char *c = s;; c++) {
		if (!*c || (*c == ',' && !q)) {
			nib_strv_push(out, cur.data);
			nib_buf_reset(&cur);
			if (!*c)
				break;
			continue;
		}
		if (*c == '"') {
			if (q && c[1] == '"') {
				nib_buf_putc(&cur, '"');
				c++;
			} else {
				q = !q;
			}
			continue;
		}
		nib_buf_putc(&cur, *c);
	}
	return q ? -1 : 0;
}

static int check_mount(struct plan *p, struct cf_stage *st, struct cf_instr *in,
		       const struct cf_flag *fg, const char *spec, struct nib_error *err)
{
	/* BuildKit's keys, then buildah's additions (SELinux relabeling, U,
	 * propagation, tmpfs options) */
	static const char *const keys[] = {
	    "type",
	    "target",
	    "dst",
	    "destination",
	    "source",
	    "src",
	    "from",
	    "readonly",
	    "ro",
	    "rw",
	    "readwrite",
	    "id",
	    "sharing",
	    "mode",
	    "uid",
	    "gid",
	    "required",
	    "size",
	    "env",
	    "z",
	    "Z",
	    "U",
	    "relabel",
	    "bind-propagation",
	    "bind-nonrecursive",
	    "tmpfs-size",
	    "tmpfs-mode",
	    "tmpcopyup",
	    "notmpcopyup",
	    "nosuid",
	    "suid",
	    "nodev",
	    "dev",
	    "noexec",
	    "exec",
	    "consistency",
	};
	static const char *const bare[] = {
	    "readonly",	 "ro",		"rw",
	    "readwrite", "required",	"z",
	    "Z",	 "U",		"bind-nonrecursive",
	    "tmpcopyup", "notmpcopyup", "nosuid",
	    "suid",	 "nodev",	"dev",
	    "noexec",	 "exec",
	};
	_cleanup_free_ char *type = xstrdup("bind"), *from = NULL;
	bool target = false;
	_cleanup_strv_ struct nib_strv fields = {0};

	if (cf_csv_split(spec, &fields) < 0)
		return cf_instr_error(in, err, fg->off, "RUN: unterminated quote in --mount=%s",
				      spec);
	for (size_t i = 0; i < fields.len; i++) {
		char *kv = fields.v[i], *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : NULL;
		size_t k;
		if (eq)
			*eq = '\0';
		/* keys are case-insensitive but for buildah's z/Z */
		if (!streq(kv, "Z"))
			for (char *c = kv; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' && strcmp(kv, "U") ? *c + 32
										      : *c);
		for (k = 0; k < ARRAY_SIZE(keys); k++)
			if (streq(keys[k], kv))
				break;
		if (k == ARRAY_SIZE(keys))
			return cf_instr_error(in, err, fg->off, "RUN: unexpected key '%s' in '%s'",
					      kv, spec);
		bool may_be_bare = false;
		for (size_t b = 0; b < ARRAY_SIZE(bare); b++)
			may_be_bare |= streq(bare[b], kv);
		if (!v && !may_be_bare)
			return cf_instr_error(in, err, fg->off,
					      "RUN: invalid field '%s' must be a key=value pair",
					      kv);
		if (streq(kv, "type")) {
			if (!(streq(v, "bind") || streq(v, "cache") || streq(v, "tmpfs") ||
			      streq(v, "secret") || streq(v, "ssh")))
				return cf_instr_error(in, err, fg->off,
						      "RUN: unsupported mount type \"%s\"", v);
			free(type);
			type = xstrdup(v);
		} else if (streq(kv, "target") || streq(kv, "dst") || streq(kv, "destination")) {
			target = *v != '\0';
		} else if (streq(kv, "from")) {
			free(from);
			from = xstrdup(v);
		} else if (streq(kv, "sharing")) {
			if (!(streq(v, "shared") || streq(v, "private") || streq(v, "locked")))
				return cf_instr_error(in, err, fg->off,
						      "RUN: unsupported sharing value \"%s\"", v);
		} else if (v && (streq(kv, "readonly") || streq(kv, "ro") || streq(kv, "rw") ||
				 streq(kv, "readwrite") || streq(kv, "required"))) {
			if (strcasecmp(v, "true") && strcasecmp(v, "false") && strcmp(v, "1") &&
			    strcmp(v, "0"))
				return cf_instr_error(in, err, fg->off,
						      "RUN: invalid value \"%s\" for %s", v, kv);
		} else if (streq(kv, "mode") || streq(kv, "uid") || streq(kv, "gid")) {
			char *end;
			errno = 0;
			unsigned long n = strtoul(v, &end, streq(kv, "mode") ? 8 : 10);
			if (!*v || *end || errno || n > 0xFFFFFFFFul)
				return cf_instr_error(in, err, fg->off,
						      "RUN: invalid value \"%s\" for %s", v, kv);
		}
	}
	if (!target && (streq(type, "bind") || streq(type, "cache") || streq(type, "tmpfs")))
		return cf_instr_error(in, err, fg->off,
				      "RUN: mount type %s needs a target (target=PATH)", type);
	if (from && (streq(type, "tmpfs") || streq(type, "secret") || streq(type, "ssh")))
		return cf_instr_error(in, err, fg->off,
				      "RUN: from= is not allowed for mount type %s", type);
	if (from)
		return stage_ref(p, st, in, from, fg->off, err);
	return 0;
}

static int check_run(struct plan *p, struct cf_stage *st, struct cf_instr *in,
		     struct nib_error *err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		const struct cf_flag *fg = &in->flags[i];
		if (streq(fg->name, "mount")) {
			if (check_mount(p, st, in, fg, fg->xvalue, err) < 0)
				return -1;
		} else if (streq(fg->name, "network")) {
			if (!(streq(fg->value, "default") || streq(fg->value, "none") ||
			      streq(fg->value, "host")))
				return cf_instr_error(
				    in, err, fg->off,
				    "RUN: unsupported network mode \"%s\" (default, "
				    "none or host)",
				    fg->value);
		} else if (streq(fg->name, "security")) {
			if (!(streq(fg->value, "sandbox") || streq(fg->value, "insecure")))
				return cf_instr_error(in, err, fg->off,
						      "RUN: unsupported security mode \"%s\" "
						      "(sandbox or insecure)",
						      fg->value);
		}
	}
	return 0;
}

/* EXPOSE port[-port][/tcp|udp|sctp] after expansion */
static int check_expose(struct cf_instr *in, struct nib_error *err)
{
	for (size_t i = 0; i < in->xargs.len; i++) {
		const char *s = in->xargs.v[i], *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		unsigned long lo = 0, hi = 0;
		char *end;
		bool ok = n > 0 && s[0] >= '0' && s[0] <= '9';
		if (ok) {
			lo = strtoul(s, &end, 10);
			hi = lo;
			if (*end == '-' && end[1] >= '0' && end[1] <= '9')
				hi = strtoul(end + 1, &end, 10);
			ok = (size_t)(end - s) == n && lo <= 65535 && hi <= 65535 && lo <= hi;
		}
		if (ok && slash)
			ok = strcasecmp(slash + 1, "tcp") == 0 ||
			     strcasecmp(slash + 1, "udp") == 0 ||
			     strcasecmp(slash + 1, "sctp") == 0;
		if (!ok)
			return cf_instr_error(
			    in, err, (size_t)-1,
			    "EXPOSE: invalid port \"%s\" (PORT[-PORT][/tcp|udp|sctp])", s);
	}
	return 0;
}

static int plan_stage(struct plan *p, struct cf_stage *st, struct nib_error *err)
{
	struct cf_file *f = p->f;
	struct cf_scope sc = {0}, env = {0};
	int ret = 0;

	nib_strv_free(&st->env);
	for (size_t d = 0; d < st->n_deps; d++)
		p->dep_mark[st->deps[d]] = st->index;
	if (st->base_stage >= 0) {
		struct cf_stage *b = &f->stages[st->base_stage];
		for (size_t i = 0; i < b->env.len; i++) {
			char *eq = strchr(b->env.v[i], '=');
			_cleanup_free_ char *k = xstrndup(b->env.v[i], (size_t)(eq - b->env.v[i]));
			cf_scope_set(&sc, k, eq + 1);
			cf_scope_set(&env, k, eq + 1);
		}
	}
	for (size_t i = 0; i < st->n_instrs; i++) {
		struct cf_instr *in = st->instrs[i];
		if (in->kind == CF_ARG) {
			if (cf_instr_expand(in, cf_scope_lookup, &sc, err) < 0)
				goto fail;
			nib_strv_free(&in->xargs);
			for (size_t k = 0; k < in->n_xkvs; k++) {
				struct cf_kv *kv = &in->xkvs[k];
				const char *ba = build_arg(p, kv->key);
				if (ba) {
					free(kv->value);
					kv->value = xstrdup(ba);
				} else if (!kv->value && cf_scope_get(&p->meta, kv->key)) {
					kv->value = xstrdup(cf_scope_get(&p->meta, kv->key));
				}
				if (kv->value) {
					cf_scope_set(&sc, kv->key, kv->value);
					nib_strv_pushf(&in->xargs, "%s=%s", kv->key, kv->value);
				} else {
					nib_strv_push(&in->xargs, kv->key);
				}
			}
			continue;
		}
		if (in->kind == CF_ONBUILD) {
			if (cf_instr_expand(in, NULL, NULL, err) < 0)
				goto fail;
			continue;
		}
		if (cf_instr_expand(in, cf_scope_lookup, &sc, err) < 0)
			goto fail;
		switch (in->kind) {
		case CF_ENV:
			for (size_t k = 0; k < in->n_xkvs; k++) {
				cf_scope_set(&sc, in->xkvs[k].key, in->xkvs[k].value);
				cf_scope_set(&env, in->xkvs[k].key, in->xkvs[k].value);
			}
			break;
		case CF_COPY: {
			const struct cf_flag *fg = cf_instr_flag(in, "from");
			if (fg && stage_ref(p, st, in, fg->xvalue, fg->off, err) < 0)
				goto fail;
			break;
		}
		case CF_RUN:
			if (check_run(p, st, in, err) < 0)
				goto fail;
			break;
		case CF_EXPOSE:
			if (check_expose(in, err) < 0)
				goto fail;
			break;
		default:
			break;
		}
	}
	goto out;
fail:
	ret = -1;
out:
	/* what a stage starting FROM this one inherits (image config order) */
	for (size_t i = 0; i < env.keys.len; i++)
		nib_strv_pushf(&st->env, "%s=%s", env.keys.v[i], env.vals.v[i]);
	cf_scope_free(&sc);
	cf_scope_free(&env);
	return ret;
}

/* Depth-first search (iterative: files can have many stages) for a cycle
 * reachable from stage `root`; on finding one, edge[] is the back edge. */
static int find_cycle(struct cf_file *f, size_t root, char *color, size_t *stack, size_t *pos,
		      int *edge)
{
	size_t sp = 0;

	stack[sp] = root;
	pos[sp++] = 0;
	color[root] = 1;
	while (sp > 0) {
		size_t i = stack[sp - 1];
		if (pos[sp - 1] == f->stages[i].n_deps) {
			color[i] = 2;
			sp--;
			continue;
		}
		int j = f->stages[i].deps[pos[sp - 1]++];
		if (color[j] == 1) {
			edge[0] = (int)i;
			edge[1] = j;
			return 1;
		}
		if (color[j] == 0) {
			color[j] = 1;
			stack[sp] = (size_t)j;
			pos[sp++] = 0;
		}
	}
	return 0;
}

static void mark_needed(struct cf_file *f, int target)
{
	size_t sp = 0;
	int *stack = xmalloc((f->n_stages + 1) * sizeof(int));

	f->stages[target].needed = true;
	stack[sp++] = target;
	while (sp > 0) {
		struct cf_stage *st = &f->stages[stack[--sp]];
		for (size_t d = 0; d < st->n_deps; d++)
			if (!f->stages[st->deps[d]].needed) {
				f->stages[st->deps[d]].needed = true;
				stack[sp++] = st->deps[d];
			}
	}
	free(stack);
}

static char *stage_label(const struct cf_stage *st)
{
	return st->name ? xasprintf("%s", st->name) : xasprintf("stage-%d", st->index);
}

int cf_file_plan(struct cf_file *f, const struct cf_plan_opts *opts, struct nib_error *err)
{
	struct cf_plan_opts none = {0};
	struct plan p = {.f = f};
	_cleanup_free_ char *host = host_platform();
	int ret = -1;

	if (!opts)
		opts = &none;
	nib_strv_free(&f->meta_args);
	nib_strv_free(&f->build_args);
	nib_strv_free(&f->unused_args);
	nib_strv_free(&f->platform_args);
	f->planned = false;

	for (const char *const *a = opts->build_args; a && *a; a++) {
		const char *eq = strchr(*a, '=');
		nib_strv_push(&f->build_args, *a);
		if (!eq) {
			nib_strv_push(&p.ba_keys, *a);
			nib_strv_push(&p.ba_vals, "");
		} else {
			nib_strv_push_take(&p.ba_keys, xstrndup(*a, (size_t)(eq - *a)));
			nib_strv_push(&p.ba_vals, eq + 1);
		}
	}
	p.ba_used = xcalloc(p.ba_keys.len + 1, sizeof(bool));
	cf_names_build(&p.names, f);
	p.dep_mark = xmalloc((f->n_stages + 1) * sizeof(int));
	for (size_t i = 0; i <= f->n_stages; i++)
		p.dep_mark[i] = -1;
	p.stage_err = xcalloc(f->n_stages, sizeof(*p.stage_err));

	/* predefined platform ARGs: global scope only, a stage declares them */
	platform_args(&p.meta, &f->platform_args, "TARGET",
		      opts->target_platform ? opts->target_platform : host);
	platform_args(&p.meta, &f->platform_args, "BUILD",
		      opts->build_platform ? opts->build_platform : host);
	for (size_t i = 0; i < p.meta.keys.len; i++) {
		const char *ba = build_arg(&p, p.meta.keys.v[i]);
		if (ba)
			cf_scope_set(&p.meta, p.meta.keys.v[i], ba);
	}

	/* global ARGs */
	for (size_t i = 0; i < f->n_meta; i++) {
		struct cf_instr *in = f->meta[i];
		if (cf_instr_expand(in, cf_scope_lookup, &p.meta, err) < 0)
			goto out;
		nib_strv_free(&in->xargs);
		for (size_t k = 0; k < in->n_xkvs; k++) {
			struct cf_kv *kv = &in->xkvs[k];
			const char *ba = build_arg(&p, kv->key);
			if (ba) {
				free(kv->value);
				kv->value = xstrdup(ba);
			}
			if (kv->value) {
				cf_scope_set(&p.meta, kv->key, kv->value);
				nib_strv_pushf(&f->meta_args, "%s=%s", kv->key, kv->value);
				nib_strv_pushf(&in->xargs, "%s=%s", kv->key, kv->value);
			} else {
				nib_strv_push(&f->meta_args, kv->key);
				nib_strv_push(&in->xargs, kv->key);
			}
		}
	}

	/* FROM lines see only the global scope */
	for (size_t i = 0; i < f->n_stages; i++) {
		struct cf_stage *st = &f->stages[i];
		const struct cf_flag *pf;
		free(st->base);
		free(st->platform);
		st->base = st->platform = NULL;
		st->base_stage = -1;
		free(st->deps);
		st->deps = NULL;
		st->n_deps = 0;
		st->needed = false;
		if (cf_instr_expand(st->from, cf_scope_lookup, &p.meta, err) < 0)
			goto out;
		st->base = xstrdup(st->from->xargs.v[0]);
		if (!*st->base) {
			cf_instr_error(st->from, err, (size_t)st->from->arg_offs[0],
				       "base name (%s) should not be blank", st->from->args.v[0]);
			goto out;
		}
		pf = cf_instr_flag(st->from, "platform");
		if (pf)
			st->platform = xstrdup(pf->xvalue);
		int j = stage_named(&p, st->base);
		if (j >= 0 && (size_t)j < i) {
			st->base_stage = j;
			add_dep(&p, st, j);
		}
	}

	/* the target */
	f->target = (int)f->n_stages - 1;
	if (opts->target) {
		const struct cf_stage *t = NULL;
		for (size_t i = 0; i < f->n_stages; i++)
			if (f->stages[i].name && strcasecmp(f->stages[i].name, opts->target) == 0)
				t = &f->stages[i];
		if (!t) {
			nib_err(err, NIB_ERR_USAGE, 0, "%s: target stage \"%s\" could not be found",
				f->path, opts->target);
			goto out;
		}
		f->target = t->index;
	}

	/* each stage's scope and expansion; errors count only for the stages
	 * the target needs (Docker skips the others) */
	for (size_t i = 0; i < f->n_stages; i++)
		plan_stage(&p, &f->stages[i], &p.stage_err[i]);

	{
		_cleanup_free_ char *color = xcalloc(f->n_stages + 1, 1);
		_cleanup_free_ size_t *stack = xcalloc(f->n_stages + 1, sizeof(size_t));
		_cleanup_free_ size_t *pos = xcalloc(f->n_stages + 1, sizeof(size_t));
		int edge[2];
		for (size_t i = 0; i < f->n_stages; i++) {
			if (color[i] || !find_cycle(f, i, color, stack, pos, edge))
				continue;
			_cleanup_free_ char *a = stage_label(&f->stages[edge[0]]);
			_cleanup_free_ char *b = stage_label(&f->stages[edge[1]]);
			struct cf_stage *st = &f->stages[edge[0]];
			/* blame the instruction that names the other stage */
			struct cf_instr *blame = st->from;
			for (size_t k = 0; k < st->n_instrs; k++) {
				struct cf_instr *in = st->instrs[k];
				const struct cf_flag *fg = cf_instr_flag(in, "from");
				if (in->kind == CF_COPY && fg &&
				    cf_file_stage(f, fg->xvalue) == &f->stages[edge[1]])
					blame = in;
				if (in->kind == CF_RUN && blame == st->from) {
					for (size_t m = 0; m < in->n_flags; m++)
						if (streq(in->flags[m].name, "mount") &&
						    strstr(in->flags[m].xvalue, "from="))
							blame = in;
				}
			}
			if (edge[0] == edge[1])
				cf_instr_error(
				    blame, err, (size_t)-1,
				    "circular dependency detected on stage: %s (it refers to "
				    "itself)",
				    a);
			else
				cf_instr_error(
				    blame, err, (size_t)-1,
				    "circular dependency detected on stage: %s (it needs %s, "
				    "which needs it back)",
				    a, b);
			goto out;
		}
	}
	mark_needed(f, f->target);
	for (size_t i = 0; i < f->n_stages; i++)
		if (f->stages[i].needed && p.stage_err[i].kind != NIB_ERR_NONE) {
			nib_err_move(err, &p.stage_err[i]);
			goto out;
		}
	for (size_t i = 0; i < p.ba_keys.len; i++)
		if (!p.ba_used[i] && !cf_arg_is_proxy(p.ba_keys.v[i]))
			nib_strv_push(&f->unused_args, p.ba_keys.v[i]);
	f->planned = true;
	ret = 0;
out:
	for (size_t i = 0; i < f->n_stages; i++)
		nib_err_clear(&p.stage_err[i]);
	free(p.stage_err);
	free(p.ba_used);
	cf_names_free(&p.names);
	cf_scope_free(&p.meta);
	free(p.dep_mark);
	nib_strv_free(&p.ba_keys);
	nib_strv_free(&p.ba_vals);
	return ret;
}
