/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authentication: Basic, and bearer tokens (docker token-auth spec,
 * distribution docs/spec/auth/token.md) fetched from the challenge's realm
 * with service and scope, cached per host and scope until they expire.
 *
 * Credentials go to the token realm only when it is on the registry's own
 * host (Docker Hub's auth.docker.io for docker.io is the one exception);
 * anywhere else the token is requested anonymously. They never go to a
 * plain-HTTP realm unless the registry or the realm's host is marked
 * insecure.
 */
#define NIB_REGISTRY_INTERNAL
#include <string.h>
#include <time.h>

#include "registry/registry_internal.h"

#define TOKEN_RESP_MAX (1u << 20)

static int host_creds(struct reg_client *c, struct host_state *h, struct nib_error *err)
{
	int r;

	if (h->creds_looked_up)
		return 0;
	h->creds_looked_up = true;
	if (c->have_cli_creds) {
		h->creds.username = xstrdup(c->cli_creds.username);
		h->creds.password = xstrdup(c->cli_creds.password);
		h->have_creds = true;
		return 0;
	}
	r = reg_creds_lookup(c->o.authfile, h->registry, NULL, &h->creds, err);
	if (r < 0)
		return -1;
	h->have_creds = r > 0;
	return 0;
}

/* Host part of "host[:port]" or "[v6]:port". */
static char *registry_hostname(const char *registry)
{
	if (registry[0] == '[') {
		const char *close = strchr(registry, ']');
		return close ? xstrndup(registry, (size_t)(close - registry) + 1)
			     : xstrdup(registry);
	}
	const char *colon = strchr(registry, ':');
	return colon ? xstrndup(registry, (size_t)(colon - registry)) : xstrdup(registry);
}

static bool realm_trusted(const struct host_state *h, const char *realm)
{
	_cleanup_free_ char *rh = reg_url_host(realm), *hh = registry_hostname(h->registry);

	if (strcasecmp(rh, hh) == 0)
		return true;
	if (streq(h->registry, REG_DOCKER_HUB) || streq(h->registry, "registry-1.docker.io"))
		return streq(rh, "auth.docker.io");
	return false;
}

static char *basic_value(const struct reg_creds *cr)
{
	_cleanup_free_ char *up = xasprintf("%s:%s", cr->username, cr->password);
	_cleanup_free_ char *enc = reg_b64_encode(up, strlen(up));
	explicit_bzero(up, strlen(up));
	return xasprintf("Basic %s", enc);
}

static void append_query(struct nib_buf *b, CURL *e, const char *key, const char *val, bool *first)
{
	char *esc = curl_easy_escape(e, val, 0);
	nib_buf_printf(b, "%c%s=%s", *first ? '?' : '&', key, esc);
	*first = false;
	curl_free(esc);
}

struct cap {
	struct nib_buf *b;
	bool over;
};

static size_t cap_write(char *p, size_t sz, size_t n, void *d)
{
	struct cap *cp = d;
	if (cp->b->len + sz * n > TOKEN_RESP_MAX) {
		cp->over = true;
		return 0;
	}
	nib_buf_append(cp->b, p, sz * n);
	return sz * n;
}

static int fetch_token(struct reg_client *c, struct host_state *h, const char *scope, char **token,
		       time_t *expires, struct nib_error *err)
{
	_cleanup_curl_ CURL *e = curl_easy_init();
	_cleanup_slist_ struct curl_slist *hdrs = NULL;
	_cleanup_buf_ struct nib_buf url = {0};
	_cleanup_buf_ struct nib_buf body = {0};
	_cleanup_free_ char *authhdr = NULL;
	_cleanup_json_ json_object *o = NULL;
	const char *realm = h->chal.realm, *t;
	bool first = !strchr(realm, '?');
	long status = 0;
	CURLcode rc;
	json_object *v;
	int64_t expires_in = 60;

	if (!nib_str_has_prefix(realm, "https://") && !nib_str_has_prefix(realm, "http://"))
		return nib_err(err, NIB_ERR_AUTH, 0, "token realm '%.200s' is not an http(s) URL",
			       realm);
	nib_buf_puts(&url, realm);
	if (h->chal.service)
		append_query(&url, e, "service", h->chal.service, &first);
	if (scope) {
		/* several scopes are separated by spaces: one parameter each */
		_cleanup_free_ char *s = xstrdup(scope);
		char *save = NULL;
		for (char *tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			append_query(&url, e, "scope", tok, &first);
	}
	if (host_creds(c, h, err) < 0)
		return -1;
	if (h->have_creds && realm_trusted(h, realm) && nib_str_has_prefix(realm, "http://") &&
	    !h->insecure && !reg_client_url_insecure(c, realm)) {
		/* the registry is on HTTPS; its realm would get the password
		 * in clear */
		_cleanup_free_ char *rh = reg_url_hostport(realm);
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "%s: the token realm is plain HTTP (%s): credentials are only sent "
			       "over HTTPS, or to a host marked insecure (--tls-verify=false, "
			       "registries.conf insecure = true)",
			       h->registry, rh);
	}
	if (h->have_creds && realm_trusted(h, realm)) {
		_cleanup_free_ char *bv = basic_value(&h->creds);
		authhdr = xasprintf("Authorization: %s", bv);
		explicit_bzero(bv, strlen(bv));
		hdrs = curl_slist_append(hdrs, authhdr);
		explicit_bzero(authhdr, strlen(authhdr));
	} else if (h->have_creds) {
		log_warn("%s: token realm on another host (%s): requesting a token without "
			 "credentials",
			 h->registry, realm);
	}
	struct host_state tls = *h; /* the realm host gets the registry's TLS settings */
	reg_client_setup_easy(c, &tls, e);
	curl_easy_setopt(e, CURLOPT_URL, url.data);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	log_debug("GET %s", url.data);

	struct cap cap = {&body, false};
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cap_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &cap);
	for (int attempt = 0;; attempt++) {
		nib_buf_reset(&body);
		rc = curl_easy_perform(e);
		if (cap.over)
			return nib_err(err, NIB_ERR_AUTH, 0,
				       "token endpoint %s: response larger than 1 MiB", realm);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK && reg_curl_code_retryable(rc) && attempt < c->retries &&
		    reg_client_deadline_error(c, e, rc, 0, "", NULL) == 0) {
			reg_client_backoff(c, attempt, NULL);
			continue;
		}
		if (rc == CURLE_OK && reg_http_status_retryable(status) && attempt < c->retries) {
			reg_client_backoff(c, attempt, NULL);
			continue;
		}
		break;
	}
	if (rc != CURLE_OK) {
		_cleanup_free_ char *what = xasprintf("token endpoint %s", realm);
		if (reg_client_deadline_error(c, e, rc, 0, what, err) < 0)
			return -1;
		return nib_err(err, NIB_ERR_NETWORK, 0, "token endpoint %s: %s", realm,
			       curl_easy_strerror(rc));
	}
	if (status == 401 || status == 403)
		return nib_err(err, NIB_ERR_AUTH, 0, "token endpoint %s refused %s (HTTP %ld): %s",
			       realm, h->have_creds ? "the credentials" : "anonymous access",
			       status,
			       h->have_creds ? "check the user name and password"
					     : "log in with 'nib login' or pass --creds");
	if (status != 200)
		return nib_err(err, NIB_ERR_AUTH, 0, "token endpoint %s answered HTTP %ld", realm,
			       status);
	o = body.len ? json_tokener_parse(body.data) : NULL;
	t = reg_json_get_string(o, "token");
	if (!t || !*t)
		t = reg_json_get_string(o, "access_token");
	if (!t || !*t || strlen(t) > 64 * 1024)
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "token endpoint %s returned a malformed response (no token)", realm);
	for (const char *q = t; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return nib_err(err, NIB_ERR_AUTH, 0,
				       "token endpoint %s returned a malformed token", realm);
	if (json_object_object_get_ex(o, "expires_in", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
		expires_in = json_object_get_int64(v);
	*token = xstrdup(t);
	*expires = time(NULL) + (time_t)MIN(expires_in, (int64_t)86400) - 5;
	return 0;
}

int reg_client_auth_header(struct reg_client *c, struct host_state *h, const char *scope,
			   bool refresh, char **out, struct nib_error *err)
{
	struct token_entry *te = NULL;
	const char *sc = scope ? scope : "";

	*out = NULL;
	if (reg_client_base(c, h, err) < 0)
		return -1;
	if (!h->chal.scheme)
		return 0;
	if (streq(h->chal.scheme, "basic")) {
		if (host_creds(c, h, err) < 0)
			return -1;
		if (!h->have_creds)
			return nib_err(err, NIB_ERR_AUTH, 0,
				       "%s requires authentication: log in with 'nib login' or "
				       "pass --creds",
				       h->registry);
		*out = basic_value(&h->creds);
		return 0;
	}
	for (size_t i = 0; i < c->n_tokens; i++)
		if (streq(c->tokens[i].host, h->registry) && streq(c->tokens[i].scope, sc))
			te = &c->tokens[i];
	if (te && !refresh && te->token && te->expires > time(NULL)) {
		*out = xasprintf("Bearer %s", te->token);
		return 0;
	}
	char *tok = NULL;
	time_t exp = 0;
	if (fetch_token(c, h, scope, &tok, &exp, err) < 0)
		return -1;
	if (!te) {
		c->tokens = xgrow(c->tokens, &c->cap_tokens, c->n_tokens + 1, sizeof(*c->tokens));
		te = &c->tokens[c->n_tokens++];
		memset(te, 0, sizeof(*te));
		te->host = xstrdup(h->registry);
		te->scope = xstrdup(sc);
	}
	free(te->token);
	te->token = tok;
	te->expires = exp;
	*out = xasprintf("Bearer %s", tok);
	return 0;
}
