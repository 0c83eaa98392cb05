/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: what Docker resolves before it builds. Predefined platform
 * ARGs and build args form the global scope; ARGs before the first FROM are
 * global and only FROM lines see them unless a stage declares them again;
 * inside a stage ARG and ENV extend the scope in order (ENV wins over ARG;
 * a stage that starts FROM another inherits its ENV) and each instruction
 * becomes a typed step (steps.c); stage references come from FROM,
 * COPY --from and RUN --mount from=; the target's closure is what gets
 * built; a cycle is an error. At build time cf_stage_bind() plans a stage
 * again once its base image's ENV and ONBUILD triggers are known.
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

/* A stage's scope while its steps are planned: ENV wins over ARG
 * (Dockerfile reference: "Environment variables defined using the ENV
 * instruction always override an ARG instruction of the same name"). */
struct stage_plan {
	struct cf_file *f;
	struct cf_stage *st;
	struct plan *p; /* cf_file_plan: build args, global ARGs, deps; NULL in cf_stage_bind */
	const struct cf_names *names;
	struct cf_scope env, args;
};

static const char *scope_lookup(void *ud, const char *name)
{
	struct stage_plan *sp = ud;
	const char *v = cf_scope_get(&sp->env, name);
	return v ? v : cf_scope_get(&sp->args, name);
}

/* A stage reference from COPY --from or a mount's from=: a stage name, a
 * stage index, or else an image (-1). While planning it is an edge of the
 * stage graph; when binding, one the graph already has. */
static int stage_ref(void *ctx, const struct cf_instr *in, const char *ref, size_t off,
		     struct nib_error *err)
{
	struct stage_plan *sp = ctx;
	struct cf_file *f = sp->f;
	_cleanup_free_ char *low = xstrdup(ref);
	char *end;
	long idx;
	int si;

	for (char *c = low; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	si = cf_names_get(sp->names, low);
	errno = 0;
	idx = strtol(ref, &end, 10);
	if (si < 0 && *ref && !*end && (*ref != '-' && *ref != '+')) {
		if (errno || idx < 0 || (size_t)idx >= f->n_stages) {
			cf_instr_error(in, err, off,
				       "%s: invalid stage index %s (the file has %zu stages)",
				       cf_kind_name(in->kind), ref, f->n_stages);
			return -2;
		}
		si = (int)idx;
	}
	if (si < 0)
		return -1; /* an image */
	if (sp->p) {
		add_dep(sp->p, sp->st, si);
		return si;
	}
	for (size_t d = 0; d < sp->st->n_deps; d++)
		if (sp->st->deps[d] == si)
			return si;
	cf_instr_error(in, err, off,
		       "%s: \"%s\" names a stage this one was not planned to need (through the "
		       "base image's ENV or an ONBUILD trigger): not supported",
		       cf_kind_name(in->kind), ref);
	return -2;
}

/* An ARG: its value is the build arg's, else its default (expanded), else
 * the global ARG's of that name; only a value goes into the scope. */
static int plan_arg(struct stage_plan *sp, const struct cf_instr *in, const struct cf_step *planned,
		    struct cf_step *step, struct nib_error *err)
{
	struct plan *p = sp->p;

	if (!p) {
		/* bound at build time: the values the plan gave (a base image's
		 * ONBUILD ARG declares nothing) */
		cf_step_init(step, in);
		for (size_t k = 0; planned && k < planned->n_kvs; k++) {
			const struct cf_kv *kv = &planned->kvs[k];
			step->kvs = xrealloc(step->kvs, (step->n_kvs + 1) * sizeof(*step->kvs));
			step->kvs[step->n_kvs++] =
			    (struct cf_kv){xstrdup(kv->key), kv->value ? xstrdup(kv->value) : NULL};
		}
	} else {
		if (cf_instr_expand(in, scope_lookup, sp, step, err) < 0)
			return -1;
		for (size_t k = 0; k < step->n_kvs; k++) {
			struct cf_kv *kv = &step->kvs[k];
			const char *ba = build_arg(p, kv->key);
			if (ba) {
				free(kv->value);
				kv->value = xstrdup(ba);
			} else if (!kv->value && cf_scope_get(&p->meta, kv->key)) {
				kv->value = xstrdup(cf_scope_get(&p->meta, kv->key));
			}
		}
	}
	nib_strv_free(&step->words);
	for (size_t k = 0; k < step->n_kvs; k++) {
		const struct cf_kv *kv = &step->kvs[k];
		if (kv->value) {
			cf_scope_set(&sp->args, kv->key, kv->value);
			nib_strv_pushf(&step->words, "%s=%s", kv->key, kv->value);
		} else {
			nib_strv_push(&step->words, kv->key);
		}
	}
	return 0;
}

/* One instruction of the stage as a typed step, in the scope so far. */
static int plan_instr(struct stage_plan *sp, const struct cf_instr *in,
		      const struct cf_step *planned, struct cf_step *step, struct nib_error *err)
{
	if (in->kind == CF_ARG)
		return plan_arg(sp, in, planned, step, err);
	if (in->kind == CF_ONBUILD)
		return cf_instr_expand(in, NULL, NULL, step, err);
	if (cf_instr_expand(in, scope_lookup, sp, step, err) < 0)
		return -1;
	if (in->kind == CF_ENV)
		for (size_t k = 0; k < step->n_kvs; k++)
			cf_scope_set(&sp->env, step->kvs[k].key,
				     step->kvs[k].value ? step->kvs[k].value : "");
	return cf_step_type(step, stage_ref, sp, err);
}

static void stage_plan_init(struct stage_plan *sp, struct cf_file *f, struct cf_stage *st,
			    struct plan *p, const struct cf_names *names, char *const *env)
{
	*sp = (struct stage_plan){.f = f, .st = st, .p = p, .names = names};
	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		_cleanup_free_ char *k =
		    eq ? xstrndup(env[i], (size_t)(eq - env[i])) : xstrdup(env[i]);
		cf_scope_set(&sp->env, k, eq ? eq + 1 : "");
	}
}

static void stage_plan_free(struct stage_plan *sp)
{
	cf_scope_free(&sp->env);
	cf_scope_free(&sp->args);
}

static void stage_steps_free(struct cf_stage *st)
{
	for (size_t i = 0; st->steps && i < st->n_instrs; i++)
		cf_step_clear(&st->steps[i]);
	free(st->steps);
	st->steps = NULL;
}

static int plan_stage(struct plan *p, struct cf_stage *st, struct nib_error *err)
{
	struct cf_file *f = p->f;
	struct stage_plan sp;
	int ret = 0;

	nib_strv_free(&st->env);
	stage_steps_free(st);
	st->steps = xcalloc(st->n_instrs + 1, sizeof(*st->steps));
	for (size_t d = 0; d < st->n_deps; d++)
		p->dep_mark[st->deps[d]] = st->index;
	stage_plan_init(&sp, f, st, p, &p->names,
			st->base_stage >= 0 ? f->stages[st->base_stage].env.v : NULL);
	for (size_t i = 0; i < st->n_instrs; i++)
		if (plan_instr(&sp, st->instrs[i], NULL, &st->steps[i], err) < 0) {
			ret = -1;
			break;
		}
	/* what a stage starting FROM this one inherits (image config order) */
	for (size_t i = 0; i < sp.env.keys.len; i++)
		nib_strv_pushf(&st->env, "%s=%s", sp.env.keys.v[i], sp.env.vals.v[i]);
	stage_plan_free(&sp);
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
		_cleanup_(cf_step_clear) struct cf_step a = {0};
		if (cf_instr_expand(f->meta[i], cf_scope_lookup, &p.meta, &a, err) < 0)
			goto out;
		for (size_t k = 0; k < a.n_kvs; k++) {
			struct cf_kv *kv = &a.kvs[k];
			const char *ba = build_arg(&p, kv->key);
			if (ba) {
				free(kv->value);
				kv->value = xstrdup(ba);
			}
			if (kv->value) {
				cf_scope_set(&p.meta, kv->key, kv->value);
				nib_strv_pushf(&f->meta_args, "%s=%s", kv->key, kv->value);
			} else {
				nib_strv_push(&f->meta_args, kv->key);
			}
		}
	}

	/* FROM lines see only the global scope */
	for (size_t i = 0; i < f->n_stages; i++) {
		struct cf_stage *st = &f->stages[i];
		_cleanup_(cf_step_clear) struct cf_step from = {0};
		const struct cf_xflag *pf;
		free(st->base);
		free(st->platform);
		st->base = st->platform = NULL;
		st->base_stage = -1;
		free(st->deps);
		st->deps = NULL;
		st->n_deps = 0;
		st->needed = false;
		if (cf_instr_expand(st->from, cf_scope_lookup, &p.meta, &from, err) < 0)
			goto out;
		st->base = xstrdup(i == 0 && opts->first_from ? opts->first_from : from.words.v[0]);
		if (!*st->base) {
			cf_instr_error(st->from, err, (size_t)st->from->arg_offs[0],
				       "base name (%s) should not be blank", st->from->args.v[0]);
			goto out;
		}
		pf = cf_step_flag(&from, "platform");
		if (pf)
			st->platform = xstrdup(pf->value);
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
			const struct cf_instr *blame = st->from;
			for (size_t k = 0; k < st->n_instrs; k++) {
				const struct cf_step *sk = &st->steps[k];
				if (!sk->in)
					break; /* planning stopped at an error */
				if (sk->in->kind == CF_COPY && sk->copy.from_stage == edge[1])
					blame = sk->in;
				for (size_t m = 0; sk->in->kind == CF_RUN && blame == st->from &&
						   m < sk->run.n_mounts;
				     m++)
					if (sk->run.mounts[m].from)
						blame = sk->in;
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
	for (int i = 0; opts->all_stages && i < f->target; i++)
		mark_needed(f, i);
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

int cf_stage_bind(struct cf_file *f, int stage, char *const *env, char *const *triggers,
		  struct cf_stage_steps *out, struct nib_error *err)
{
	struct cf_stage *st = &f->stages[stage];
	struct cf_names names = {0};
	struct stage_plan sp;
	size_t n_trig = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	while (triggers && triggers[n_trig])
		n_trig++;
	out->v = xcalloc(n_trig + st->n_instrs + 1, sizeof(*out->v));
	out->trigger_files = xcalloc(n_trig + 1, sizeof(*out->trigger_files));
	cf_names_build(&names, f);
	stage_plan_init(&sp, f, st, NULL, &names, env);
	/* ONBUILD triggers of the base image run right after FROM (Docker) */
	for (size_t i = 0; i < n_trig; i++) {
		struct cf_instr *in = NULL;
		struct cf_file *tf = cf_trigger_parse(triggers[i], &in, err);
		if (!tf) {
			nib_err_wrap(err, "%s:%d: ONBUILD trigger of the base image", f->path,
				     st->from->line);
			goto out;
		}
		out->trigger_files[out->n_triggers++] = tf;
		in->line = st->from->line;
		if (plan_instr(&sp, in, NULL, &out->v[out->n++], err) < 0)
			goto out;
	}
	for (size_t i = 0; i < st->n_instrs; i++)
		if (plan_instr(&sp, st->instrs[i], st->steps ? &st->steps[i] : NULL,
			       &out->v[out->n++], err) < 0)
			goto out;
	/* the plan's steps of this stage are replaced: their expanded text
	 * no longer counts against the file's limit */
	stage_steps_free(st);
	ret = 0;
out:
	stage_plan_free(&sp);
	cf_names_free(&names);
	if (ret < 0)
		cf_stage_steps_free(out);
	return ret;
}

void cf_stage_steps_free(struct cf_stage_steps *s)
{
	for (size_t i = 0; s->v && i < s->n; i++)
		cf_step_clear(&s->v[i]);
	free(s->v);
	for (size_t i = 0; i < s->n_triggers; i++)
		cf_file_free(s->trigger_files[i]);
	free(s->trigger_files);
	memset(s, 0, sizeof(*s));
}
