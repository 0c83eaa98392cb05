/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registries.conf (containers-registries.conf(5), version 2): the TOML subset
 * it uses — comments, `key = value` with strings, booleans, integers and
 * string arrays (over several lines), [tables] and [[arrays.of.tables]].
 * Honoured: unqualified-search-registries, [aliases], [[registry]] with
 * prefix/location/insecure/blocked and [[registry.mirror]] location/insecure.
 * Other keys are accepted and ignored.
 */
#define NIB_REGISTRY_INTERNAL
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "registry/registry_internal.h"

#define CONF_MAX (1u << 20)

struct reg_conf *reg_conf_new(void)
{
	return xcalloc(1, sizeof(struct reg_conf));
}

static void registry_free(struct conf_registry *r)
{
	free(r->prefix);
	free(r->location);
	for (size_t j = 0; j < r->n_mirrors; j++)
		free(r->mirrors[j].location);
	free(r->mirrors);
}

void reg_conf_free(struct reg_conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_search; i++)
		free(conf->search[i]);
	free(conf->search);
	for (size_t i = 0; i < conf->n_regs; i++)
		registry_free(&conf->regs[i]);
	free(conf->regs);
	for (size_t i = 0; i < conf->n_aliases; i++) {
		free(conf->aliases[i].name);
		free(conf->aliases[i].value);
	}
	free(conf->aliases);
	free(conf);
}

const char *reg_conf_alias(const struct reg_conf *conf, const char *name)
{
	for (size_t i = conf->n_aliases; i-- > 0;)
		if (streq(conf->aliases[i].name, name))
			return conf->aliases[i].value;
	return NULL;
}

/* ---- a small TOML reader --------------------------------------------- */

enum val_kind { V_STR, V_BOOL, V_INT, V_ARRAY };
struct val {
	enum val_kind kind;
	char *str;
	bool b;
	struct nib_strv arr;
};

struct parser {
	const char *name;
	const char *p;
	int line;
	struct nib_error *err;
};

static int perr(struct parser *ps, const char *what)
{
	return nib_err(ps->err, NIB_ERR_SYNTAX, 0, "%s:%d: %s", ps->name, ps->line, what);
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

/* whitespace, newlines and comments (inside arrays) */
static void skip_ws_nl(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		if (*ps->p == '#') {
			while (*ps->p && *ps->p != '\n')
				ps->p++;
		}
		if (*ps->p == '\r') {
			ps->p++;
		} else if (*ps->p == '\n') {
			ps->p++;
			ps->line++;
		} else {
			return;
		}
	}
}

static int parse_string(struct parser *ps, char **out)
{
	_cleanup_buf_ struct nib_buf b = {0};
	char q = *ps->p++;

	nib_buf_puts(&b, "");
	while (*ps->p != q) {
		char ch = *ps->p;
		if (!ch || ch == '\n')
			return perr(ps, "unterminated string");
		if (q == '"' && ch == '\\') {
			ps->p++;
			switch (*ps->p) {
			case 'n':
				nib_buf_putc(&b, '\n');
				break;
			case 't':
				nib_buf_putc(&b, '\t');
				break;
			case 'r':
				nib_buf_putc(&b, '\r');
				break;
			case '"':
				nib_buf_putc(&b, '"');
				break;
			case '\\':
				nib_buf_putc(&b, '\\');
				break;
			default:
				return perr(ps, "unsupported escape in string");
			}
			ps->p++;
			continue;
		}
		if ((unsigned char)ch < 0x20 && ch != '\t')
			return perr(ps, "control character in string");
		nib_buf_putc(&b, ch);
		ps->p++;
	}
	ps->p++;
	*out = nib_buf_steal(&b);
	return 0;
}

static bool bare_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* a key, possibly dotted: "a.b" or "\"quoted\"" joined by '.' */
static int parse_key(struct parser *ps, char **out)
{
	_cleanup_buf_ struct nib_buf b = {0};

	for (;;) {
		skip_ws(ps);
		if (*ps->p == '"' || *ps->p == '\'') {
			_cleanup_free_ char *s = NULL;
			if (parse_string(ps, &s) < 0)
				return -1;
			nib_buf_puts(&b, s);
		} else if (bare_key_char(*ps->p)) {
			while (bare_key_char(*ps->p))
				nib_buf_putc(&b, *ps->p++);
		} else {
			return perr(ps, "expected a key");
		}
		skip_ws(ps);
		if (*ps->p != '.')
			break;
		nib_buf_putc(&b, '.');
		ps->p++;
	}
	*out = nib_buf_steal(&b);
	return 0;
}

static void val_clear(struct val *v)
{
	free(v->str);
	nib_strv_free(&v->arr);
	memset(v, 0, sizeof(*v));
}

static int parse_value(struct parser *ps, struct val *v)
{
	skip_ws(ps);
	memset(v, 0, sizeof(*v));
	if (*ps->p == '"' || *ps->p == '\'') {
		v->kind = V_STR;
		return parse_string(ps, &v->str);
	}
	if (strncmp(ps->p, "true", 4) == 0 && !bare_key_char(ps->p[4])) {
		v->kind = V_BOOL;
		v->b = true;
		ps->p += 4;
		return 0;
	}
	if (strncmp(ps->p, "false", 5) == 0 && !bare_key_char(ps->p[5])) {
		v->kind = V_BOOL;
		ps->p += 5;
		return 0;
	}
	if (isdigit((unsigned char)*ps->p) || *ps->p == '-' || *ps->p == '+') {
		v->kind = V_INT;
		ps->p++;
		while (isdigit((unsigned char)*ps->p) || *ps->p == '_')
			ps->p++;
		return 0;
	}
	if (*ps->p == '[') {
		v->kind = V_ARRAY;
		ps->p++;
		for (;;) {
			skip_ws_nl(ps);
			if (*ps->p == ']') {
				ps->p++;
				return 0;
			}
			if (*ps->p != '"' && *ps->p != '\'')
				return perr(ps, "only arrays of strings are supported");
			char *s = NULL;
			if (parse_string(ps, &s) < 0)
				return -1;
			nib_strv_push_take(&v->arr, s);
			skip_ws_nl(ps);
			if (*ps->p == ',')
				ps->p++;
			else if (*ps->p != ']')
				return perr(ps, "expected ',' or ']' in array");
		}
	}
	return perr(ps, "expected a value");
}

/* ---- applying keys ---------------------------------------------------- */

enum section { S_TOP, S_ALIASES, S_REGISTRY, S_MIRROR, S_OTHER };

static struct conf_registry *cur_registry(struct reg_conf *c)
{
	return c->n_regs ? &c->regs[c->n_regs - 1] : NULL;
}

static int want(struct parser *ps, const struct val *v, enum val_kind k, const char *key)
{
	static const char *names[] = {"a string", "a boolean", "an integer", "an array"};
	if (v->kind == k)
		return 0;
	_cleanup_free_ char *m = xasprintf("'%s' must be %s", key, names[k]);
	return perr(ps, m);
}

static int apply(struct parser *ps, struct reg_conf *c, enum section sec, const char *key,
		 struct val *v)
{
	struct conf_registry *r = cur_registry(c);

	switch (sec) {
	case S_TOP:
		if (streq(key, "unqualified-search-registries")) {
			if (want(ps, v, V_ARRAY, key) < 0)
				return -1;
			for (size_t i = 0; i < c->n_search; i++)
				free(c->search[i]);
			c->n_search = 0;
			for (size_t i = 0; i < v->arr.len; i++) {
				c->search = xgrow(c->search, &c->cap_search, c->n_search + 1,
						  sizeof(char *));
				c->search[c->n_search++] = xstrdup(v->arr.v[i]);
			}
			c->search_set = true;
		}
		return 0;
	case S_ALIASES:
		if (want(ps, v, V_STR, key) < 0)
			return -1;
		c->aliases =
		    xgrow(c->aliases, &c->cap_aliases, c->n_aliases + 1, sizeof(*c->aliases));
		c->aliases[c->n_aliases].name = xstrdup(key);
		c->aliases[c->n_aliases++].value = xstrdup(v->str);
		return 0;
	case S_REGISTRY:
		if (streq(key, "location") || streq(key, "prefix")) {
			if (want(ps, v, V_STR, key) < 0)
				return -1;
			char **dst = streq(key, "location") ? &r->location : &r->prefix;
			free(*dst);
			*dst = xstrdup(v->str);
		} else if (streq(key, "insecure") || streq(key, "blocked")) {
			if (want(ps, v, V_BOOL, key) < 0)
				return -1;
			if (streq(key, "insecure"))
				r->insecure = v->b;
			else
				r->blocked = v->b;
		}
		return 0;
	case S_MIRROR: {
		struct conf_mirror *m = &r->mirrors[r->n_mirrors - 1];
		if (streq(key, "location")) {
			if (want(ps, v, V_STR, key) < 0)
				return -1;
			free(m->location);
			m->location = xstrdup(v->str);
		} else if (streq(key, "insecure")) {
			if (want(ps, v, V_BOOL, key) < 0)
				return -1;
			m->insecure = v->b;
		}
		return 0;
	}
	case S_OTHER:
		return 0;
	}
	return 0;
}

static int finish_registry(struct parser *ps, struct reg_conf *c, size_t first)
{
	for (size_t i = first; i < c->n_regs; i++) {
		struct conf_registry *r = &c->regs[i];
		if (!r->prefix && !r->location)
			return perr(ps, "[[registry]] needs a location or a prefix");
		if (!r->prefix)
			r->prefix = xstrdup(r->location);
		for (size_t j = 0; j < r->n_mirrors; j++)
			if (!r->mirrors[j].location)
				return perr(ps, "[[registry.mirror]] needs a location");
	}
	/* a later entry with the same prefix replaces an earlier one */
	for (size_t i = first; i < c->n_regs; i++)
		for (size_t j = 0; j < first; j++)
			if (c->regs[j].prefix && streq(c->regs[j].prefix, c->regs[i].prefix)) {
				registry_free(&c->regs[j]);
				memset(&c->regs[j], 0, sizeof(c->regs[j]));
			}
	return 0;
}

int reg_conf_parse(struct reg_conf *c, const char *name, const char *text, struct nib_error *err)
{
	struct parser ps = {.name = name, .p = text, .line = 1, .err = err};
	enum section sec = S_TOP;
	size_t first = c->n_regs;

	for (;;) {
		skip_ws_nl(&ps);
		if (!*ps.p)
			break;
		if (*ps.p == '[') {
			bool arr = ps.p[1] == '[';
			_cleanup_free_ char *t = NULL;
			ps.p += arr ? 2 : 1;
			if (parse_key(&ps, &t) < 0)
				return -1;
			if (*ps.p != ']' || (arr && ps.p[1] != ']'))
				return perr(&ps, "expected ']' after the table name");
			ps.p += arr ? 2 : 1;
			if (arr && streq(t, "registry")) {
				c->regs =
				    xgrow(c->regs, &c->cap_regs, c->n_regs + 1, sizeof(*c->regs));
				memset(&c->regs[c->n_regs++], 0, sizeof(*c->regs));
				sec = S_REGISTRY;
			} else if (arr && streq(t, "registry.mirror")) {
				struct conf_registry *r = cur_registry(c);
				if (!r || c->n_regs == first)
					return perr(&ps,
						    "[[registry.mirror]] outside a [[registry]]");
				r->mirrors =
				    xrealloc(r->mirrors, (r->n_mirrors + 1) * sizeof(*r->mirrors));
				memset(&r->mirrors[r->n_mirrors++], 0, sizeof(*r->mirrors));
				sec = S_MIRROR;
			} else if (!arr && streq(t, "aliases")) {
				sec = S_ALIASES;
			} else {
				sec = S_OTHER;
			}
		} else {
			_cleanup_free_ char *key = NULL;
			struct val v;
			if (parse_key(&ps, &key) < 0)
				return -1;
			if (*ps.p != '=')
				return perr(&ps, "expected '=' after the key");
			ps.p++;
			if (parse_value(&ps, &v) < 0) {
				val_clear(&v);
				return -1;
			}
			int r = apply(&ps, c, sec, key, &v);
			val_clear(&v);
			if (r < 0)
				return -1;
		}
		skip_ws(&ps);
		if (*ps.p == '#')
			while (*ps.p && *ps.p != '\n')
				ps.p++;
		if (*ps.p == '\r')
			ps.p++;
		if (*ps.p && *ps.p != '\n')
			return perr(&ps, "unexpected text after the value");
	}
	return finish_registry(&ps, c, first);
}

static int load_file(struct reg_conf *c, const char *path, struct nib_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (nib_read_file_at(AT_FDCWD, path, CONF_MAX, &text, &len, err) < 0) {
		if (err && err->errnum == ENOENT) {
			nib_err_clear(err);
			return 0;
		}
		return -1;
	}
	if (strlen(text) != len)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: contains a NUL byte", path);
	log_debug("reading %s", path);
	return reg_conf_parse(c, path, text, err);
}

static int dropin_filter(const struct dirent *d)
{
	return d->d_name[0] != '.' && nib_str_has_suffix(d->d_name, ".conf");
}

int reg_conf_load(const char *path, struct reg_conf **out, struct nib_error *err)
{
	_cleanup_(reg_conf_freep) struct reg_conf *c = reg_conf_new();
	_cleanup_free_ char *main_path = NULL, *dir = NULL;
	const char *env = getenv("CONTAINERS_REGISTRIES_CONF");
	struct dirent **names = NULL;
	int n, ret = 0;

	if (path) {
		main_path = xstrdup(path);
	} else if (env && *env) {
		main_path = xstrdup(env);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
		_cleanup_free_ char *user = NULL;
		if (xdg && *xdg)
			user = xasprintf("%s/containers/registries.conf", xdg);
		else if (home && *home)
			user = xasprintf("%s/.config/containers/registries.conf", home);
		if (user && access(user, F_OK) == 0)
			main_path = steal_pointer(&user);
		else
			main_path = xstrdup("/etc/containers/registries.conf");
	}
	if (load_file(c, main_path, err) < 0)
		return -1;
	dir = xasprintf("%s.d", main_path);
	n = scandir(dir, &names, dropin_filter, alphasort);
	for (int i = 0; i < n; i++) {
		if (ret == 0) {
			_cleanup_free_ char *p = xasprintf("%s/%s", dir, names[i]->d_name);
			ret = load_file(c, p, err);
		}
		free(names[i]);
	}
	free(names);
	if (ret < 0)
		return -1;
	*out = steal_pointer(&c);
	return 0;
}

/* ---- lookups ---------------------------------------------------------- */

/* Length of the match of `prefix` against "host/repo" `name` at a path
 * boundary; wildcard prefixes "*.example.com" match hosts; 0: no match. */
static size_t prefix_match(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	if (prefix[0] == '*' && prefix[1] == '.') {
		const char *slash = strchr(name, '/');
		size_t hl = slash ? (size_t)(slash - name) : strlen(name);
		const char *colon = memchr(name, ':', hl);
		size_t hostlen = colon ? (size_t)(colon - name) : hl;
		size_t sl = n - 1; /* ".example.com" */
		if (hostlen > sl && memcmp(name + hostlen - sl, prefix + 1, sl) == 0)
			return n;
		return 0;
	}
	if (strncmp(prefix, name, n) != 0)
		return 0;
	if (name[n] == '\0' || name[n] == '/')
		return n;
	return 0;
}

static const struct conf_registry *find_registry(const struct reg_conf *c, const char *name)
{
	const struct conf_registry *best = NULL;
	size_t best_len = 0;

	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_regs; i++) {
		if (!c->regs[i].prefix)
			continue;
		size_t l = prefix_match(c->regs[i].prefix, name);
		if (l > best_len) {
			best = &c->regs[i];
			best_len = l;
		}
	}
	return best;
}

bool reg_conf_insecure(const struct reg_conf *conf, const char *registry)
{
	const struct conf_registry *r = find_registry(conf, registry);
	if (r && r->insecure)
		return true;
	/* mirrors and rewritten locations are hosts too */
	for (size_t i = 0; conf && i < conf->n_regs; i++) {
		const struct conf_registry *e = &conf->regs[i];
		for (size_t j = 0; j < e->n_mirrors; j++)
			if (e->mirrors[j].insecure &&
			    strncmp(e->mirrors[j].location, registry, strlen(registry)) == 0 &&
			    strchr("/", e->mirrors[j].location[strlen(registry)]))
				return true;
		if (e->location && e->insecure &&
		    strncmp(e->location, registry, strlen(registry)) == 0 &&
		    strchr("/", e->location[strlen(registry)]))
			return true;
	}
	return false;
}

static void add_endpoint(struct reg_endpoint **out, size_t *n, const char *loc, const char *rest,
			 bool insecure, bool mirror)
{
	_cleanup_free_ char *full = xasprintf("%s%s", loc, rest);
	char *slash = strchr(full, '/');
	struct reg_endpoint *e;

	if (!slash)
		return;
	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	e = &(*out)[(*n)++];
	e->registry = xstrndup(full, (size_t)(slash - full));
	e->repo = xstrdup(slash + 1);
	e->insecure = insecure;
	e->mirror = mirror;
}

int reg_conf_endpoints(const struct reg_conf *conf, const struct reg_ref *ref,
		       struct reg_endpoint **out, size_t *n, struct nib_error *err)
{
	_cleanup_free_ char *name = reg_ref_name(ref);
	const struct conf_registry *r = find_registry(conf, name);

	*out = NULL;
	*n = 0;
	if (!r) {
		add_endpoint(out, n, name, "", false, false);
		return 0;
	}
	if (r->blocked)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "%s: registry blocked by registries.conf (prefix '%s')", name,
			       r->prefix);
	const char *rest = r->prefix[0] == '*' ? NULL : name + strlen(r->prefix);
	for (size_t i = 0; i < r->n_mirrors; i++) {
		if (rest)
			add_endpoint(out, n, r->mirrors[i].location, rest, r->mirrors[i].insecure,
				     true);
		else
			add_endpoint(out, n, r->mirrors[i].location,
				     strchr(name, '/') ? strchr(name, '/') : "",
				     r->mirrors[i].insecure, true);
	}
	if (rest && r->location)
		add_endpoint(out, n, r->location, rest, r->insecure, false);
	else
		add_endpoint(out, n, name, "", r->insecure, false);
	return 0;
}

void reg_endpoints_free(struct reg_endpoint *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].registry);
		free(e[i].repo);
	}
	free(e);
}
