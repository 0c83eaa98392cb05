/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: BuildKit's instruction-level rules. Each instruction has a
 * set of flags of a type (string, bool, repeatable string) and argument
 * counts; FROM names stages; HEALTHCHECK, SHELL and ONBUILD have their own
 * forms. Heredoc detection (BuildKit's heredocsFromLine) lives here too.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <strings.h>

#include "containerfile/cf_internal.h"

enum ftype { F_STRING, F_BOOL, F_STRINGS };

struct fspec {
	const char *name;
	enum ftype type;
};

static const struct fspec add_flags[] = {
    {"chown", F_STRING},    {"chmod", F_STRING},    {"link", F_BOOL},	{"keep-git-dir", F_BOOL},
    {"checksum", F_STRING}, {"exclude", F_STRINGS}, {"unpack", F_BOOL}, {NULL, 0},
};
static const struct fspec copy_flags[] = {
    {"chown", F_STRING}, {"from", F_STRING},	 {"chmod", F_STRING}, {"link", F_BOOL},
    {"parents", F_BOOL}, {"exclude", F_STRINGS}, {NULL, 0},
};
static const struct fspec from_flags[] = {{"platform", F_STRING}, {NULL, 0}};
static const struct fspec run_flags[] = {
    {"mount", F_STRINGS}, {"network", F_STRING}, {"security", F_STRING}, {NULL, 0}};
/* with a docker/dockerfile:1-labs syntax directive */
static const struct fspec run_labs_flags[] = {{"mount", F_STRINGS},
					      {"network", F_STRING},
					      {"security", F_STRING},
					      {"device", F_STRINGS},
					      {NULL, 0}};
static const struct fspec health_flags[] = {
    {"interval", F_STRING},	  {"timeout", F_STRING}, {"start-period", F_STRING},
    {"start-interval", F_STRING}, {"retries", F_STRING}, {NULL, 0},
};
static const struct fspec no_flags[] = {{NULL, 0}};

static int flag_error(const struct cf_instr *in, const struct cf_flag *fg, struct nib_error *err,
		      const char *fmt, ...) _printf_(4, 5);
static int flag_error(const struct cf_instr *in, const struct cf_flag *fg, struct nib_error *err,
		      const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return cf_instr_error(in, err, fg->off, "%s: %s", cf_kind_name(in->kind), msg);
}

/* BuildKit BFlags.Parse */
static int check_flags(struct cf_instr *in, const struct fspec *spec, struct nib_error *err)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		struct cf_flag *fg = &in->flags[i];
		const struct fspec *s = spec;
		while (s->name && strcmp(s->name, fg->name) != 0)
			s++;
		if (!s->name) {
			_cleanup_buf_ struct nib_buf known = {0};
			for (const struct fspec *k = spec; k->name; k++)
				nib_buf_printf(&known, "%s--%s", known.len ? ", " : "", k->name);
			return flag_error(in, fg, err, "unknown flag: %s%s%s%s", fg->name,
					  known.len ? " (allowed: " : "",
					  known.len ? known.data : "", known.len ? ")" : "");
		}
		if (s->type != F_STRINGS)
			for (size_t j = 0; j < i; j++)
				if (streq(in->flags[j].name, fg->name))
					return flag_error(in, fg, err,
							  "duplicate flag specified: %s", fg->name);
		switch (s->type) {
		case F_BOOL:
			if (fg->value && !*fg->value)
				return flag_error(in, fg, err, "missing a value on flag: %s",
						  fg->name);
			if (!fg->value) {
				fg->value = xstrdup("true");
			} else if (strcasecmp(fg->value, "true") == 0 ||
				   strcasecmp(fg->value, "false") == 0) {
				for (char *c = fg->value; *c; c++)
					*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			} else {
				return flag_error(in, fg, err,
						  "expecting boolean value for flag %s, not: %s",
						  fg->name, fg->value);
			}
			break;
		default:
			if (!fg->value)
				return flag_error(in, fg, err, "missing a value on flag: %s",
						  fg->name);
		}
	}
	return 0;
}

const struct cf_flag *cf_instr_flag(const struct cf_instr *in, const char *name)
{
	const struct cf_flag *found = NULL;
	for (size_t i = 0; i < in->n_flags; i++)
		if (streq(in->flags[i].name, name))
			found = &in->flags[i];
	return found;
}

static int arg_error(const struct cf_instr *in, struct nib_error *err, const char *fmt, ...)
    _printf_(3, 4);
static int arg_error(const struct cf_instr *in, struct nib_error *err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return cf_instr_error(in, err, (size_t)-1, "%s", msg);
}

static bool valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static int check_duration(const struct cf_instr *in, const char *name, struct nib_error *err)
{
	const struct cf_flag *fg = cf_instr_flag(in, name);
	int64_t ns;

	if (!fg || !*fg->value)
		return 0;
	if (nib_parse_duration(fg->value, &ns) < 0)
		return flag_error(in, fg, err, "invalid duration \"%s\" for --%s", fg->value, name);
	if (ns != 0 && ns < 1000000)
		return flag_error(in, fg, err, "Interval \"%s\" cannot be less than 1ms", name);
	return 0;
}

static int check_sources(struct cf_instr *in, struct nib_error *err)
{
	const char *name = cf_kind_name(in->kind);
	_cleanup_free_ char *hn = NULL;
	bool chomp, expand;

	if (in->args.len < 2)
		return arg_error(in, err,
				 "%s requires at least two arguments, but only %s provided. "
				 "Destination could not be determined",
				 name, in->args.len ? "one was" : "none were");
	if (cf_heredoc_marker(in->args.v[in->args.len - 1], &hn, &chomp, &expand))
		return cf_instr_error(in, err, (size_t)in->arg_offs[in->args.len - 1],
				      "%s cannot accept a heredoc as a destination", name);
	return 0;
}

static int check_one(struct cf_instr *in, bool trigger, struct nib_error *err)
{
	const char *name = cf_kind_name(in->kind);
	size_t n = in->args.len;

	if ((int)in->kind < 0) {
		return arg_error(in, err, "unknown instruction: %s", in->keyword);
	}
	switch (in->kind) {
	case CF_ADD:
		if (check_flags(in, add_flags, err) < 0)
			return -1;
		return check_sources(in, err);
	case CF_COPY:
		if (check_flags(in, copy_flags, err) < 0)
			return -1;
		return check_sources(in, err);
	case CF_ARG:
	case CF_ENV:
	case CF_LABEL:
		if (check_flags(in, no_flags, err) < 0)
			return -1;
		if (in->n_kvs == 0)
			return arg_error(in, err, "%s requires at least one argument", name);
		for (size_t i = 0; i < in->n_kvs; i++)
			if (!*in->kvs[i].key)
				return cf_instr_error(in, err, (size_t)in->arg_offs[i],
						      "%s names can not be blank", name);
		return 0;
	case CF_CMD:
	case CF_ENTRYPOINT:
		return check_flags(in, no_flags, err);
	case CF_RUN:
		if (check_flags(in,
				in->file->syntax && strstr(in->file->syntax, "labs")
				    ? run_labs_flags
				    : run_flags,
				err) < 0)
			return -1;
		/* an empty RUN is accepted: BuildKit runs an empty shell command and
		 * buildah the image's CMD; the builder decides */
		return 0;
	case CF_SHELL:
		if (check_flags(in, no_flags, err) < 0)
			return -1;
		if (n == 0 && in->exec_form)
			return arg_error(in, err, "SHELL requires at least one argument");
		if (!in->exec_form)
			return arg_error(in, err,
					 "SHELL requires the arguments to be in JSON form, like "
					 "SHELL [\"/bin/sh\", \"-c\"]");
		return 0;
	case CF_EXPOSE:
	case CF_VOLUME:
		if (check_flags(in, no_flags, err) < 0)
			return -1;
		if (n == 0)
			return arg_error(in, err, "%s requires at least one argument", name);
		if (in->kind == CF_VOLUME)
			for (size_t i = 0; i < n; i++) {
				const char *v = in->args.v[i];
				while (*v && cf_is_space_byte((unsigned char)*v))
					v++;
				if (!*v)
					return arg_error(in, err,
							 "VOLUME specified can not be an empty "
							 "string");
			}
		return 0;
	case CF_FROM:
		if (trigger)
			return arg_error(in, err, "FROM isn't allowed as an ONBUILD trigger");
		if (check_flags(in, from_flags, err) < 0)
			return -1;
		if (n == 3 && strcasecmp(in->args.v[1], "as") == 0) {
			_cleanup_free_ char *low = xstrdup(in->args.v[2]);
			for (char *c = low; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			if (!valid_stage_name(low))
				return cf_instr_error(
				    in, err, (size_t)in->arg_offs[2],
				    "invalid name for build stage: \"%s\", name "
				    "can't start with a number or contain symbols",
				    in->args.v[2]);
			if (streq(low, "scratch") || streq(low, "context"))
				return cf_instr_error(in, err, (size_t)in->arg_offs[2],
						      "'%s' is reserved and cannot be used as a "
						      "stage name",
						      low);
			return 0;
		}
		if (n != 1)
			return arg_error(in, err,
					 "FROM requires either one or three arguments (FROM "
					 "image [AS name])");
		return 0;
	case CF_HEALTHCHECK: {
		if (n == 0)
			return arg_error(in, err, "HEALTHCHECK requires at least one argument");
		if (strcasecmp(in->args.v[0], "NONE") == 0) {
			if (n != 1)
				return arg_error(in, err, "HEALTHCHECK NONE takes no arguments");
			return 0;
		}
		if (check_flags(in, health_flags, err) < 0)
			return -1;
		if (strcasecmp(in->args.v[0], "CMD") != 0)
			return cf_instr_error(in, err, (size_t)in->arg_offs[0],
					      "Unknown type \"%s\" in HEALTHCHECK (try CMD)",
					      in->args.v[0]);
		if (n == 1)
			return arg_error(in, err, "Missing command after HEALTHCHECK CMD");
		if (check_duration(in, "interval", err) < 0 ||
		    check_duration(in, "timeout", err) < 0 ||
		    check_duration(in, "start-period", err) < 0 ||
		    check_duration(in, "start-interval", err) < 0)
			return -1;
		const struct cf_flag *r = cf_instr_flag(in, "retries");
		if (r && *r->value) {
			char *end;
			errno = 0;
			long long v = strtoll(r->value, &end, 10);
			if (errno || *end || end == r->value || v > INT32_MAX || v < INT32_MIN)
				return flag_error(in, r, err, "invalid --retries value \"%s\"",
						  r->value);
			if (v < 0)
				return flag_error(in, r, err, "--retries cannot be negative (%lld)",
						  v);
		}
		return 0;
	}
	case CF_MAINTAINER:
	case CF_USER:
	case CF_WORKDIR:
	case CF_STOPSIGNAL:
		if (trigger && in->kind == CF_MAINTAINER)
			return arg_error(in, err, "MAINTAINER isn't allowed as an ONBUILD trigger");
		if (check_flags(in, no_flags, err) < 0)
			return -1;
		if (n != 1)
			return arg_error(in, err, "%s requires exactly one argument", name);
		return 0;
	case CF_ONBUILD:
		if (trigger)
			return arg_error(in, err,
					 "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
		if (check_flags(in, no_flags, err) < 0)
			return -1;
		if (!in->trigger)
			return arg_error(in, err, "ONBUILD requires at least one argument");
		return check_one(in->trigger, true, err);
	default:
		return 0;
	}
}

int cf_instr_check(struct cf_instr *in, struct nib_error *err)
{
	return check_one(in, false, err);
}

/* ---- heredocs -------------------------------------------------------------- */

static size_t count_quotes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\'' || *s == '"';
	return n;
}

/* ^(\d*)<<(-?)([^<]*)$ and BuildKit's heredocFromMatch */
static bool heredoc_match(const char *word, char **name, bool *chomp, bool *expand, unsigned *fd)
{
	const char *p = word, *rest;
	unsigned long v = 0;

	while (*p >= '0' && *p <= '9') {
		if (v < 100000)
			v = v * 10 + (unsigned long)(*p - '0');
		p++;
	}
	if (p[0] != '<' || p[1] != '<')
		return false;
	p += 2;
	*chomp = *p == '-';
	if (*chomp)
		p++;
	rest = p;
	if (!*rest || strchr(rest, '<'))
		return false;

	_cleanup_strv_ struct nib_strv words = {0}, raw = {0};
	if (cf_expand_words(rest, '\\', CF_EXPAND_KEEP_UNSET, NULL, NULL, &words, NULL) < 0 ||
	    words.len != 1)
		return false;
	if (cf_expand_words(rest, '\\', CF_EXPAND_KEEP_UNSET | CF_EXPAND_RAW_QUOTES, NULL, NULL,
			    &raw, NULL) < 0 ||
	    raw.len != 1)
		return false;
	*expand = count_quotes(words.v[0]) == count_quotes(raw.v[0]);
	*fd = v > 255 ? 255 : (unsigned)v;
	*name = xstrdup(words.v[0]);
	return true;
}

bool cf_heredoc_marker(const char *word, char **name, bool *chomp, bool *expand)
{
	unsigned fd;
	return heredoc_match(word, name, chomp, expand, &fd);
}

void cf_heredocs_from_line(const char *line, struct nib_strv *names, struct nib_buf *flags)
{
	_cleanup_strv_ struct nib_strv words = {0};

	if (!strstr(line, "<<"))
		return;
	if (cf_expand_words(line, '\\',
			    CF_EXPAND_RAW_QUOTES | CF_EXPAND_RAW_ESCAPES | CF_EXPAND_KEEP_UNSET,
			    NULL, NULL, &words, NULL) < 0)
		return;
	for (size_t i = 0; i < words.len; i++) {
		char *name = NULL;
		bool chomp, expand;
		unsigned fd;
		if (!heredoc_match(words.v[i], &name, &chomp, &expand, &fd))
			continue;
		nib_strv_push_take(names, name);
		nib_buf_putc(flags, chomp ? 'c' : 'n');
		nib_buf_putc(flags, expand ? 'e' : 'n');
		nib_buf_putc(flags, (char)fd);
	}
}
