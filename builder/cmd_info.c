/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib info: what this environment allows and what nib will use, one line
 * per capability, with an actionable sentence for each missing one.
 */
#include <getopt.h>

#include "builder/builder.h"
#include "builder/runtime.h"

/* The network RUN steps get by default. */
static char *network(const struct bld_probe *p)
{
	_cleanup_free_ char *why = NULL;

	if (p->idmap == BLD_IDMAP_NONE)
		return xstrdup("host (no user namespace here: RUN shares the pod's network, and "
			       "reaches its loopback services)");
	if (bld_slirp_usable(&why))
		return xstrdup("private (slirp4netns: the outside, not the host's loopback "
			       "services or abstract sockets; --network host shares the host's)");
	return xasprintf("host (no private network here: %s; RUN reaches the host's loopback "
			 "services)",
			 why);
}

/* What the ID map means for file permissions in RUN steps. */
static const char *permissions(const struct bld_probe *p)
{
	if (p->idmap == BLD_IDMAP_SINGLE || p->idmap == BLD_IDMAP_NONE)
		return "one real UID: a RUN as another user (USER 1000) reads and writes files "
		       "the image gives root alone (0600), as nib's own UID owns them all "
		       "(docs/security.md)";
	return "the kernel checks the true owners and modes";
}

static void print_json(const struct bld_probe *p, const char *limits, const char *net)
{
	_cleanup_buf_ struct nib_buf b = {0};

	nib_buf_puts(&b, "{\"checks\":{");
	for (size_t i = 0; i < p->n; i++) {
		const struct bld_probe_item *it = &p->items[i];
		nib_buf_printf(&b, "%s\"%s\":{\"advice\":", i ? "," : "", it->key);
		if (it->advice)
			nib_buf_json_string(&b, it->advice);
		else
			nib_buf_puts(&b, "null");
		nib_buf_puts(&b, ",\"detail\":");
		nib_buf_json_string(&b, it->detail ? it->detail : "");
		nib_buf_printf(&b, ",\"ok\":%s}", it->ok ? "true" : "false");
	}
	nib_buf_puts(&b, "},\"chosen\":{\"idmap\":");
	nib_buf_json_string(&b, bld_idmap_name(p->idmap));
	nib_buf_puts(&b, ",\"idmap_reason\":");
	if (p->idmap_why)
		nib_buf_json_string(&b, p->idmap_why);
	else
		nib_buf_puts(&b, "null");
	nib_buf_puts(&b, ",\"limits\":");
	nib_buf_json_string(&b, limits);
	nib_buf_puts(&b, ",\"network\":");
	nib_buf_json_string(&b, net);
	nib_buf_puts(&b, ",\"permissions\":");
	nib_buf_json_string(&b, permissions(p));
	nib_buf_puts(&b, ",\"proc\":");
	nib_buf_json_string(&b, p->proc);
	nib_buf_puts(&b, ",\"storage_driver\":");
	nib_buf_json_string(&b, p->storage);
	nib_buf_puts(&b, ",\"sys\":");
	nib_buf_json_string(&b, p->sys);
	nib_buf_puts(&b, "},\"storage_root\":");
	nib_buf_json_string(&b, p->storage_root);
	nib_buf_puts(&b, ",\"version\":");
	nib_buf_json_string(&b, NIB_VERSION);
	nib_buf_puts(&b, "}\n");
	fputs(b.data, stdout);
}

static void print_text(const struct bld_probe *p, const char *limits, const char *net)
{
	printf("nib %s, storage root %s\n", NIB_VERSION, p->storage_root);
	for (size_t i = 0; i < p->n; i++) {
		const struct bld_probe_item *it = &p->items[i];
		printf("%-17s %-3s %s%s%s\n", it->label, it->ok ? "yes" : "no",
		       it->detail ? it->detail : "", it->advice ? ". To do: " : "",
		       it->advice ? it->advice : "");
	}
	printf("%-17s %s%s%s%s\n", "ID map", bld_idmap_name(p->idmap), p->idmap_why ? " (" : "",
	       p->idmap_why ? p->idmap_why : "", p->idmap_why ? ")" : "");
	printf("%-17s %s\n", "storage driver", p->storage);
	printf("%-17s %s\n", "/proc", p->proc);
	printf("%-17s %s\n", "/sys", p->sys);
	printf("%-17s %s; --network none: loopback only\n", "network", net);
	printf("%-17s %s\n", "RUN limits", limits);
	printf("%-17s %s\n", "permissions", permissions(p));
}

int bld_cmd_info(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct bld_probe p;
	struct bld_limits l;
	_cleanup_free_ char *limits = NULL, *net = NULL;
	/* --log-format json: the JSON form */
	bool json = nib_log_get_format() == NIB_LOG_JSON;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			bld_command_help(self);
			return 0;
		}
		if (c == 'j') {
			json = true;
			continue;
		}
		return bld_bad_option(self, argv, err);
	}
	if (optind < argc)
		return bld_usage_error(self, err, "info: unexpected argument '%s'", argv[optind]);
	bld_runtime_probe(g->root, &p);
	bld_limits_default(&l);
	limits = bld_limits_how(&l);
	net = network(&p);
	if (json)
		print_json(&p, limits, net);
	else
		print_text(&p, limits, net);
	bld_probe_free(&p);
	return 0;
}
