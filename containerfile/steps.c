/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: each expanded instruction as a typed step, checked: RUN's
 * mounts (stage references resolved), network and security modes and the
 * script its shell gets; COPY/ADD's sources, heredocs, destination and
 * flags (--chmod and --checksum parsed, --exclude patterns compiled);
 * HEALTHCHECK's test and durations; EXPOSE's ports. What is wrong here is
 * wrong before the first step of a build runs.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <strings.h>

#include "containerfile/cf_internal.h"

/* An error about flag `i` of the step's instruction: "KIND: what". */
static int flag_error(const struct cf_step *st, size_t i, struct nib_error *err, const char *what)
{
	return cf_instr_error(st->in, err, st->in->flags[i].off, "%s: %s",
			      cf_kind_name(st->in->kind), what);
}

/* ---- RUN ------------------------------------------------------------------ */

static int run_mount(struct cf_step *st, size_t i, cf_stage_ref_fn ref, void *ctx,
		     struct nib_error *err)
{
	struct cf_run *r = &st->run;
	struct cf_mount *m;
	struct nib_error e = {0};

	r->mounts = xrealloc(r->mounts, (r->n_mounts + 1) * sizeof(*r->mounts));
	m = &r->mounts[r->n_mounts];
	if (cf_mount_parse(st->flags[i].value, CF_MOUNT_DOCKERFILE, m, &e) < 0) {
		flag_error(st, i, err, e.msg);
		nib_err_clear(&e);
		return -1;
	}
	r->n_mounts++;
	m->line = st->flags[i].line;
	m->col = st->flags[i].col;
	/* BuildKit: the id defaults to the target's base name, else to env= */
	if (m->type == CF_MOUNT_SECRET && (!m->id || !*m->id)) {
		const char *base = m->target ? strrchr(m->target, '/') : NULL;
		base = base ? base + 1 : m->target;
		free(m->id);
		m->id = base && *base ? xstrdup(base) : m->env ? xstrdup(m->env) : NULL;
	}
	if (m->type == CF_MOUNT_SECRET && !m->id)
		return cf_instr_error(st->in, err, st->in->flags[i].off,
				      "RUN --mount=type=secret needs id=ID");
	if (m->from) {
		m->from_stage = ref(ctx, st->in, m->from, st->in->flags[i].off, err);
		if (m->from_stage < -1)
			return -1;
	}
	return 0;
}

/* The text the shell gets: `RUN <<EOF` runs the heredoc; other heredocs
 * follow the command line as the shell reads them. */
static char *run_script(const struct cf_step *st)
{
	const struct cf_instr *in = st->in;
	const char *cmd = st->words.len ? st->words.v[0] : "";
	_cleanup_free_ char *name = NULL;
	_cleanup_buf_ struct nib_buf sb = {0};
	bool chomp, expand;

	if (in->n_heredocs && cf_heredoc_marker(cmd, &name, &chomp, &expand) &&
	    in->heredocs[0].fd == 0)
		return xstrdup(in->heredocs[0].content);
	if (!in->n_heredocs)
		return xstrdup(cmd);
	nib_buf_puts(&sb, cmd);
	nib_buf_putc(&sb, '\n');
	for (size_t i = 0; i < in->n_heredocs; i++)
		nib_buf_printf(&sb, "%s%s\n", in->heredocs[i].content, in->heredocs[i].name);
	return nib_buf_steal(&sb);
}

static int type_run(struct cf_step *st, cf_stage_ref_fn ref, void *ctx, struct nib_error *err)
{
	struct cf_run *r = &st->run;

	for (size_t i = 0; i < st->n_flags; i++) {
		const char *name = st->flags[i].name, *v = st->flags[i].value;
		if (streq(name, "mount")) {
			if (run_mount(st, i, ref, ctx, err) < 0)
				return -1;
		} else if (streq(name, "network")) {
			r->network = streq(v, "default") ? CF_NETWORK_DEFAULT
				     : streq(v, "none")	 ? CF_NETWORK_NONE
				     : streq(v, "host")	 ? CF_NETWORK_HOST
							 : CF_NETWORK_UNSET;
			if (r->network == CF_NETWORK_UNSET) {
				_cleanup_free_ char *m = xasprintf(
				    "unsupported network mode \"%s\" (default, none or host)", v);
				return flag_error(st, i, err, m);
			}
		} else if (streq(name, "security")) {
			r->security = streq(v, "sandbox")    ? CF_SECURITY_SANDBOX
				      : streq(v, "insecure") ? CF_SECURITY_INSECURE
							     : CF_SECURITY_UNSET;
			if (r->security == CF_SECURITY_UNSET) {
				_cleanup_free_ char *m = xasprintf(
				    "unsupported security mode \"%s\" (sandbox or insecure)", v);
				return flag_error(st, i, err, m);
			}
		}
	}
	if (!st->in->exec_form)
		r->script = run_script(st);
	return 0;
}

/* ---- COPY / ADD ---------------------------------------------------------- */

static bool is_url(const char *s)
{
	return nib_str_has_prefix(s, "http://") || nib_str_has_prefix(s, "https://");
}

static void copy_sources(struct cf_step *st)
{
	const struct cf_instr *in = st->in;
	struct cf_copy *c = &st->copy;

	c->heredocs = xcalloc(in->n_heredocs + 1, sizeof(*c->heredocs));
	for (size_t i = 0; i + 1 < st->words.len; i++) {
		_cleanup_free_ char *name = NULL;
		bool chomp, expand;
		if (in->n_heredocs && cf_heredoc_marker(st->words.v[i], &name, &chomp, &expand)) {
			for (size_t h = 0; h < in->n_heredocs; h++)
				if (streq(in->heredocs[h].name, name))
					c->heredocs[c->n_heredocs++] = (struct cf_copy_heredoc){
					    in->heredocs[h].name, st->heredocs[h]};
			continue;
		}
		nib_strv_push(&c->srcs, st->words.v[i]);
	}
	c->dest = st->words.v[st->words.len - 1];
}

static int copy_checksum(struct cf_step *st, size_t i, struct nib_error *err)
{
	struct cf_copy *c = &st->copy;
	const char *v = st->flags[i].value;

	if (!*v)
		return 0; /* BuildKit: an empty --checksum is none */
	if (!(nib_str_has_prefix(v, "sha256:") && nib_digest_valid(v))) {
		_cleanup_free_ char *m =
		    xasprintf("invalid --checksum=%s: expected sha256:<64 hex digits>", v);
		return flag_error(st, i, err, m);
	}
	/* BuildKit's checks, in its words */
	if (c->srcs.len + c->n_heredocs != 1)
		return flag_error(st, i, err, "checksum can't be specified for multiple sources");
	if (!c->srcs.len || !is_url(c->srcs.v[0])) {
		_cleanup_free_ char *r = nib_url_redact(c->srcs.len ? c->srcs.v[0] : "");
		_cleanup_free_ char *m = xasprintf("checksum requires HTTP(S) sources: %s", r);
		return flag_error(st, i, err, m);
	}
	c->checksum = v;
	return 0;
}

static int type_copy(struct cf_step *st, cf_stage_ref_fn ref, void *ctx, struct nib_error *err)
{
	struct cf_copy *c = &st->copy;
	struct nib_error e = {0};

	copy_sources(st);
	c->from_stage = -1;
	c->unpack = st->in->kind == CF_ADD;
	for (size_t i = 0; i < st->n_flags; i++) {
		const char *name = st->flags[i].name, *v = st->flags[i].value;
		if (streq(name, "chown")) {
			c->chown = *v ? v : NULL;
		} else if (streq(name, "chmod")) {
			cf_chmod_clear(&c->chmod);
			if (*v && cf_chmod_parse(v, &c->chmod, &e) < 0) {
				flag_error(st, i, err, e.msg);
				nib_err_clear(&e);
				return -1;
			}
		} else if (streq(name, "from")) {
			c->from = *v ? v : NULL;
			c->from_stage =
			    c->from ? ref(ctx, st->in, v, st->in->flags[i].off, err) : -1;
			if (c->from_stage < -1)
				return -1;
		} else if (streq(name, "checksum")) {
			if (copy_checksum(st, i, err) < 0)
				return -1;
		} else if (streq(name, "exclude")) {
			_cleanup_(cf_ignore_freep) struct cf_ignore *ig = cf_ignore_new(&v, 1, &e);
			if (!ig) {
				_cleanup_free_ char *m = xasprintf("--exclude=%s: %s", v, e.msg);
				nib_err_clear(&e);
				return flag_error(st, i, err, m);
			}
			nib_strv_push(&c->excludes, v);
		} else {
			/* the booleans, "true" or "false" after the flag checks */
			bool b = streq(v, "true");
			if (streq(name, "link"))
				c->link = b;
			else if (streq(name, "parents"))
				c->parents = b;
			else if (streq(name, "unpack"))
				c->unpack = b;
			else if (streq(name, "keep-git-dir"))
				c->keep_git_dir = b;
		}
	}
	return 0;
}

/* ---- HEALTHCHECK ----------------------------------------------------------- */

static void type_healthcheck(struct cf_step *st)
{
	struct cf_healthcheck *h = &st->health;
	const struct nib_strv *w = &st->words;
	int64_t *durations[] = {&h->interval, &h->timeout, &h->start_period, &h->start_interval};
	static const char *const names[] = {"interval", "timeout", "start-period",
					    "start-interval"};

	if (w->len && strcasecmp(w->v[0], "NONE") == 0) {
		h->none = true;
		nib_strv_push(&h->test, "NONE");
		return;
	}
	if (st->in->exec_form) {
		nib_strv_push(&h->test, "CMD");
		for (size_t i = 1; i < w->len; i++)
			nib_strv_push(&h->test, w->v[i]);
	} else {
		struct nib_strv rest = {.v = w->len > 1 ? w->v + 1 : NULL,
					.len = w->len > 1 ? w->len - 1 : 0};
		_cleanup_free_ char *line = nib_strv_join(&rest, " ");
		nib_strv_push(&h->test, "CMD-SHELL");
		nib_strv_push(&h->test, line ? line : "");
	}
	/* checked by cf_instr_check, with the same parsers */
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct cf_xflag *f = cf_step_flag(st, names[i]);
		if (f && *f->value)
			(void)nib_parse_duration(f->value, durations[i]);
	}
	const struct cf_xflag *r = cf_step_flag(st, "retries");
	if (r && *r->value)
		h->retries = strtoll(r->value, NULL, 10);
}

/* ---- EXPOSE ---------------------------------------------------------------- */

/* PORT[-PORT][/tcp|udp|sctp]; the config's form: "/tcp" when none, lower case */
static int type_expose(struct cf_step *st, struct nib_error *err)
{
	for (size_t i = 0; i < st->words.len; i++) {
		const char *s = st->words.v[i], *slash = strchr(s, '/');
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
			    st->in, err, (size_t)-1,
			    "EXPOSE: invalid port \"%s\" (PORT[-PORT][/tcp|udp|sctp])", s);
		char *p = slash ? xstrdup(s) : xasprintf("%s/tcp", s);
		for (char *q = p; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		nib_strv_push_take(&st->ports, p);
	}
	return 0;
}

int cf_step_type(struct cf_step *st, cf_stage_ref_fn ref, void *ctx, struct nib_error *err)
{
	switch (st->in->kind) {
	case CF_RUN:
		return type_run(st, ref, ctx, err);
	case CF_COPY:
	case CF_ADD:
		return type_copy(st, ref, ctx, err);
	case CF_HEALTHCHECK:
		type_healthcheck(st);
		return 0;
	case CF_EXPOSE:
		return type_expose(st, err);
	default:
		return 0;
	}
}
