/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The /etc files every run gets, for both isolations (runtime.c binds them
 * from the container's /dev tmpfs, ptrace.c from its private folder):
 *
 *   resolv.conf  the host's search, nameserver and options lines, with
 *                slirp4netns's DNS (10.0.2.3) as the nameserver on a
 *                private network and none with --network none; --dns,
 *                --dns-search and --dns-option each replace their kind,
 *                written as buildah 1.28 writes it (search, nameservers,
 *                options); --dns none leaves the image's file;
 *   hosts        the --add-host entries first ("IP\tHOST", as buildah),
 *                then localhost and the build's host name; --no-hosts
 *                leaves the image's file;
 *   hostname     the build's host name.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>

#include "builder/runtime_internal.h"

static size_t count(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* A word that can stand in one line of resolv.conf or hosts. */
static bool is_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '#' || *s == ';' || *s == 0x7f)
			return false;
	return true;
}

static bool dns_none(const struct bld_etc_opts *o)
{
	return count(o->dns) == 1 && streq(o->dns[0], "none");
}

bool bld_etc_keeps_image(const struct bld_etc_opts *o, const char *name)
{
	return streq(name, "hosts") ? o->no_hosts : streq(name, "resolv.conf") && dns_none(o);
}

int bld_etc_opts_check(const struct bld_etc_opts *o, enum bld_network network,
		       struct nib_error *err)
{
	for (size_t i = 0; i < count(o->add_hosts); i++) {
		const char *h = o->add_hosts[i], *colon = strchr(h, ':');
		_cleanup_free_ char *name = colon ? xstrndup(h, (size_t)(colon - h)) : NULL;

		if (!colon || !is_word(name))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--add-host %s: not HOST:IP (a host name, then an IPv4 or "
				       "IPv6 address)",
				       h);
		if (!is_ip(colon + 1))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--add-host %s: \"%s\" is not an IPv4 or IPv6 address", h,
				       colon + 1);
	}
	if (o->no_hosts && count(o->add_hosts))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--no-hosts and --add-host conflict: the image's /etc/hosts is "
			       "kept as it is");
	for (size_t i = 0; i < count(o->dns); i++) {
		if (streq(o->dns[i], "none")) {
			if (count(o->dns) > 1)
				return nib_err(err, NIB_ERR_USAGE, 0,
					       "--dns none: no other --dns may be given with it");
			continue;
		}
		if (!is_ip(o->dns[i]))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--dns %s: not an IPv4 or IPv6 address (or none)",
				       o->dns[i]);
	}
	if (dns_none(o) && (count(o->dns_search) || count(o->dns_options)))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--dns-%s %s: not with --dns none (the image's resolv.conf is kept)",
			       count(o->dns_search) ? "search" : "option",
			       count(o->dns_search) ? o->dns_search[0] : o->dns_options[0]);
	if (network == BLD_NET_NONE && count(o->dns) && !dns_none(o))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--dns %s: RUN has no network with --network none", o->dns[0]);
	for (size_t i = 0; i < count(o->dns_search); i++)
		if (!is_word(o->dns_search[i]))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--dns-search \"%s\": not a domain name", o->dns_search[i]);
	for (size_t i = 0; i < count(o->dns_options); i++)
		if (*o->dns_options[i] && !is_word(o->dns_options[i]))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--dns-option \"%s\": not one resolver option (ndots:2)",
				       o->dns_options[i]);
	return 0;
}

/* The words after `key` on the lines of `conf` that start with it
 * (resolv(5): the last search line counts; options add up). */
static void conf_words(const char *conf, const char *key, bool last_only, struct nib_strv *out)
{
	_cleanup_free_ char *copy = xstrdup(conf);
	char *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *wsave = NULL, *w = strtok_r(l, " \t\r", &wsave);

		if (!w || !streq(w, key))
			continue;
		if (last_only)
			nib_strv_free(out);
		while ((w = strtok_r(NULL, " \t\r", &wsave)) && *w != '#' && *w != ';')
			nib_strv_push(out, w);
	}
}

static void put_line(struct nib_buf *b, const char *key, char *const *v, size_t n)
{
	if (!n)
		return;
	nib_buf_puts(b, key);
	for (size_t i = 0; i < n; i++)
		nib_buf_printf(b, " %s", v[i]);
	nib_buf_putc(b, '\n');
}

/* What an option gave replaces what the host's file had (empty items
 * dropped; buildah's --dns-search "." alone: none). */
static void replace_with(struct nib_strv *have, char *const *given)
{
	if (!count(given))
		return;
	nib_strv_free(have);
	if (count(given) == 1 && streq(given[0], "."))
		return;
	for (size_t i = 0; i < count(given); i++)
		if (*given[i])
			nib_strv_push(have, given[i]);
}

static char *make_resolv(const struct bld_etc_opts *o, enum bld_network network)
{
	_cleanup_free_ char *host = NULL;
	_cleanup_strv_ struct nib_strv search = {0}, ns = {0}, opts = {0};
	struct nib_buf b = {0};

	if (bld_etc_keeps_image(o, "resolv.conf"))
		return NULL;
	if (nib_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 16, &host, NULL, NULL) < 0) {
		free(host);
		host = xstrdup("");
	}
	conf_words(host, "search", true, &search);
	conf_words(host, "options", false, &opts);
	if (network == BLD_NET_HOST)
		conf_words(host, "nameserver", false, &ns);
	else if (network == BLD_NET_PRIVATE)
		nib_strv_push(&ns, "10.0.2.3"); /* slirp4netns's DNS */
	replace_with(&search, o->dns_search);
	replace_with(&ns, o->dns);
	replace_with(&opts, o->dns_options);
	put_line(&b, "search", search.v, search.len);
	for (size_t i = 0; i < ns.len; i++)
		nib_buf_printf(&b, "nameserver %s\n", ns.v[i]);
	put_line(&b, "options", opts.v, opts.len);
	return nib_buf_steal(&b);
}

static char *make_hosts(const struct bld_etc_opts *o, const char *hostname)
{
	struct nib_buf b = {0};

	if (bld_etc_keeps_image(o, "hosts"))
		return NULL;
	for (size_t i = 0; i < count(o->add_hosts); i++) {
		const char *h = o->add_hosts[i], *colon = strchr(h, ':');
		if (colon)
			nib_buf_printf(&b, "%s\t%.*s\n", colon + 1, (int)(colon - h), h);
	}
	nib_buf_printf(&b,
		       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
		       "127.0.1.1\t%s\n",
		       hostname);
	return nib_buf_steal(&b);
}

void bld_etc_files_make(const struct bld_run_spec *spec, enum bld_network network, char *files[3])
{
	const char *hostname = spec->hostname ? spec->hostname : "nib";

	files[0] = make_resolv(&spec->etc, network);
	files[1] = make_hosts(&spec->etc, hostname);
	files[2] = xasprintf("%s\n", hostname);
}
