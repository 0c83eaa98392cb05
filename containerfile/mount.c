/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: a --mount value, the one parser for RUN --mount in a
 * Containerfile (BuildKit's keys, then buildah's additions) and for
 * `nib run --mount` (its subset). Fields are split as Go's encoding/csv
 * does, as BuildKit reads them.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <strings.h>

#include "containerfile/cf_internal.h"

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

enum key {
	K_TYPE,
	K_TARGET,
	K_SOURCE,
	K_FROM,
	K_RO,
	K_RW,
	K_ID,
	K_SHARING,
	K_MODE,
	K_UID,
	K_GID,
	K_REQUIRED,
	K_SIZE,
	K_ENV,
	K_IGNORED, /* accepted, no effect */
};

/* BuildKit's keys, then buildah's (SELinux relabeling, U, propagation,
 * tmpfs options); `bare`: may stand without "=value" (true). */
static const struct {
	const char *name;
	enum key key;
	bool bare;
	bool runtime; /* nib run --mount takes it */
} keys[] = {
    {"type", K_TYPE, false, true},
    {"target", K_TARGET, false, true},
    {"dst", K_TARGET, false, true},
    {"destination", K_TARGET, false, true},
    {"source", K_SOURCE, false, true},
    {"src", K_SOURCE, false, true},
    {"from", K_FROM, false, false},
    {"readonly", K_RO, true, true},
    {"ro", K_RO, true, true},
    {"rw", K_RW, true, true},
    {"readwrite", K_RW, true, true},
    {"id", K_ID, false, false},
    {"sharing", K_SHARING, false, false},
    {"mode", K_MODE, false, false},
    {"uid", K_UID, false, false},
    {"gid", K_GID, false, false},
    {"required", K_REQUIRED, true, false},
    {"size", K_SIZE, false, false},
    {"env", K_ENV, false, false},
    {"z", K_IGNORED, true, false},
    {"Z", K_IGNORED, true, false},
    {"U", K_IGNORED, true, false},
    {"relabel", K_IGNORED, false, false},
    {"bind-propagation", K_IGNORED, false, false},
    {"bind-nonrecursive", K_IGNORED, true, false},
    {"tmpfs-size", K_SIZE, false, false},
    {"tmpfs-mode", K_IGNORED, false, false},
    {"tmpcopyup", K_IGNORED, true, false},
    {"notmpcopyup", K_IGNORED, true, false},
    {"nosuid", K_IGNORED, true, false},
    {"suid", K_IGNORED, true, false},
    {"nodev", K_IGNORED, true, false},
    {"dev", K_IGNORED, true, false},
    {"noexec", K_IGNORED, true, false},
    {"exec", K_IGNORED, true, false},
    {"consistency", K_IGNORED, false, false},
};

static const char *const type_names[] = {
    [CF_MOUNT_BIND] = "bind",	  [CF_MOUNT_CACHE] = "cache", [CF_MOUNT_TMPFS] = "tmpfs",
    [CF_MOUNT_SECRET] = "secret", [CF_MOUNT_SSH] = "ssh",
};

void cf_mount_clear(struct cf_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->env);
	*m = (struct cf_mount){.from_stage = -1, .uid = -1, .gid = -1, .mode = -1};
}

static void set(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
}

/* true/false/1/0 (BuildKit's strconv.ParseBool, as the keys use it) */
static int parse_bool(const char *v)
{
	if (strcasecmp(v, "true") == 0 || streq(v, "1"))
		return 1;
	if (strcasecmp(v, "false") == 0 || streq(v, "0"))
		return 0;
	return -1;
}

/* An environment variable's name: [A-Za-z_][A-Za-z0-9_]* */
static bool env_name_valid(const char *v)
{
	if (!*v || (*v >= '0' && *v <= '9'))
		return false;
	for (; *v; v++)
		if (!(*v == '_' || (*v >= '0' && *v <= '9') ||
		      ((*v | 32) >= 'a' && (*v | 32) <= 'z')))
			return false;
	return true;
}

/* A size as BuildKit's units.RAMInBytes reads it: bytes, or a whole
 * number with k, m, g or t (powers of 1024), optionally followed by b or
 * ib, any case. */
static int size_parse(const char *v, uint64_t *out)
{
	static const char units[] = "kmgt";
	char *end;
	unsigned long long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		const char *u = strchr(units, *end | 32);
		if (!u || !*u)
			return -1;
		end++;
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "b") != 0 &&
		    strcasecmp(end, "ib") != 0)
			return -1;
		for (const char *k = units; k <= u; k++) {
			if (n > (~0ULL >> 10))
				return -1;
			n <<= 10;
		}
	}
	*out = n;
	return 0;
}

static int field(struct cf_mount *m, enum cf_mount_dialect d, char *kv, const char *spec,
		 bool *from_given, struct nib_error *err)
{
	char *eq = strchr(kv, '=');
	const char *v = eq ? eq + 1 : NULL;
	size_t k;

	if (eq)
		*eq = '\0';
	/* keys are case-insensitive but for buildah's z, Z and U */
	if (!streq(kv, "Z") && !streq(kv, "U"))
		for (char *c = kv; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	for (k = 0; k < ARRAY_SIZE(keys); k++)
		if (streq(keys[k].name, kv) && (d == CF_MOUNT_DOCKERFILE || keys[k].runtime))
			break;
	if (k == ARRAY_SIZE(keys))
		return nib_err(err, NIB_ERR_SYNTAX, 0, "unexpected key '%s' in '%s'", kv, spec);
	if (!v && !keys[k].bare)
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "invalid field '%s' must be a key=value pair", kv);
	switch (keys[k].key) {
	case K_TYPE: {
		size_t t = 0;
		while (t < ARRAY_SIZE(type_names) && !streq(type_names[t], v))
			t++;
		if (t == ARRAY_SIZE(type_names) ||
		    (d == CF_MOUNT_RUNTIME && t != CF_MOUNT_BIND && t != CF_MOUNT_TMPFS))
			return nib_err(err, NIB_ERR_SYNTAX, 0, "unsupported mount type \"%s\"%s", v,
				       d == CF_MOUNT_RUNTIME ? " (bind or tmpfs)" : "");
		m->type = (enum cf_mount_type)t;
		return 0;
	}
	case K_TARGET:
		set(&m->target, v);
		return 0;
	case K_SOURCE:
		set(&m->source, v);
		return 0;
	case K_FROM:
		*from_given = true;
		free(m->from);
		m->from = *v ? xstrdup(v) : NULL;
		return 0;
	case K_ID:
		set(&m->id, v);
		return 0;
	case K_ENV:
		if (!env_name_valid(v))
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "invalid variable name \"%s\" for env", v);
		set(&m->env, v);
		return 0;
	case K_SIZE:
		if (size_parse(v, &m->size) < 0 || !m->size)
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "invalid size \"%s\" for %s (a size such as 64m or 1g)", v,
				       kv);
		return 0;
	case K_SHARING:
		if (streq(v, "shared"))
			m->sharing = CF_SHARING_SHARED;
		else if (streq(v, "private"))
			m->sharing = CF_SHARING_PRIVATE;
		else if (streq(v, "locked"))
			m->sharing = CF_SHARING_LOCKED;
		else
			return nib_err(err, NIB_ERR_SYNTAX, 0, "unsupported sharing value \"%s\"",
				       v);
		return 0;
	case K_RO:
	case K_RW:
	case K_REQUIRED: {
		int b = v ? parse_bool(v) : 1;
		if (b < 0)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "invalid value \"%s\" for %s", v,
				       kv);
		*(keys[k].key == K_RO	? &m->readonly
		  : keys[k].key == K_RW ? &m->rw
					: &m->required) = b;
		return 0;
	}
	case K_MODE:
	case K_UID:
	case K_GID: {
		char *end;
		errno = 0;
		unsigned long n = strtoul(v, &end, keys[k].key == K_MODE ? 8 : 10);
		if (!*v || *end || errno || n > 0xFFFFFFFFul)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "invalid value \"%s\" for %s", v,
				       kv);
		*(keys[k].key == K_MODE	 ? &m->mode
		  : keys[k].key == K_UID ? &m->uid
					 : &m->gid) = (long)n;
		return 0;
	}
	case K_IGNORED:
		return 0;
	}
	return 0;
}

int cf_mount_parse(const char *spec, enum cf_mount_dialect d, struct cf_mount *m,
		   struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv fields = {0};
	bool from_given = false;

	*m = (struct cf_mount){.from_stage = -1, .uid = -1, .gid = -1, .mode = -1};
	if (cf_csv_split(spec, &fields) < 0)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "unterminated quote in --mount=%s", spec);
	for (size_t i = 0; i < fields.len; i++)
		if (field(m, d, fields.v[i], spec, &from_given, err) < 0) {
			cf_mount_clear(m);
			return -1;
		}
	if ((!m->target || !*m->target) &&
	    (m->type == CF_MOUNT_BIND || m->type == CF_MOUNT_CACHE || m->type == CF_MOUNT_TMPFS)) {
		enum cf_mount_type t = m->type;
		cf_mount_clear(m);
		return nib_err(err, NIB_ERR_SYNTAX, 0, "mount type %s needs a target (target=PATH)",
			       type_names[t]);
	}
	if (from_given &&
	    (m->type == CF_MOUNT_TMPFS || m->type == CF_MOUNT_SECRET || m->type == CF_MOUNT_SSH)) {
		enum cf_mount_type t = m->type;
		cf_mount_clear(m);
		return nib_err(err, NIB_ERR_SYNTAX, 0, "from= is not allowed for mount type %s",
			       type_names[t]);
	}
	if ((m->size && m->type != CF_MOUNT_TMPFS) || (m->env && m->type != CF_MOUNT_SECRET)) {
		const char *k = m->size && m->type != CF_MOUNT_TMPFS ? "size" : "env";
		enum cf_mount_type t = m->type;
		cf_mount_clear(m);
		return nib_err(err, NIB_ERR_SYNTAX, 0, "unexpected key '%s' for mount type '%s'", k,
			       type_names[t]);
	}
	if (d == CF_MOUNT_RUNTIME && m->target[0] != '/') {
		cf_mount_clear(m);
		return nib_err(err, NIB_ERR_SYNTAX, 0, "the target must be an absolute path");
	}
	if (d == CF_MOUNT_RUNTIME && m->type == CF_MOUNT_BIND && (!m->source || !*m->source)) {
		cf_mount_clear(m);
		return nib_err(err, NIB_ERR_SYNTAX, 0, "type=bind needs a source (src=PATH)");
	}
	return 0;
}
