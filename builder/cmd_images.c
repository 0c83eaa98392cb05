/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib images: list the images in the store; and the helpers the image
 * commands share (opening the store, finding an image by what the user
 * typed, normalising references).
 */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "builder/builder.h"
#include "registry/registry.h"
#include "storage/storage.h"

/* ---- shared helpers ----------------------------------------------------------- */

int bld_store_open(const struct bld_globals *g, struct stg_store **out, struct nib_error *err)
{
	return stg_store_open(g->root, out, err);
}

/* Docker's normalisation through registry's parser, so nib has one. */
char *bld_ref_normalise(const char *s, struct nib_error *err)
{
	_cleanup_ref_ struct reg_ref r = {0};

	if (reg_ref_parse(s, &r, err) < 0) {
		/* a name typed on the command line: a usage error (exit 2) */
		if (err)
			err->kind = NIB_ERR_USAGE;
		return NULL;
	}
	return reg_ref_string(&r);
}

int bld_image_find(struct stg_store *st, const char *name, struct stg_image **out,
		   struct nib_error *err)
{
	_cleanup_free_ char *norm = NULL;
	struct nib_error e2 = {0};

	if (stg_image_lookup(st, name, out, err) == 0)
		return 0;
	if (err && err->kind != NIB_ERR_NOT_FOUND)
		return -1;
	norm = bld_ref_normalise(name, &e2);
	nib_err_clear(&e2);
	/* NAME@DIGEST: the manifest digest decides (also for a name already
	 * normalised that no entry is named by) */
	const char *at = norm ? strchr(norm, '@') : NULL;
	if (!norm || (!at && streq(norm, name)))
		return -1;
	if (stg_image_lookup(st, at ? at + 1 : norm, out, &e2) == 0) {
		nib_err_clear(err);
		return 0;
	}
	if (e2.kind != NIB_ERR_NOT_FOUND) {
		nib_err_move(err, &e2);
		return -1;
	}
	nib_err_clear(&e2);
	return -1;
}

/* Split "host/repo:tag" / "host/repo@digest" / a bare tag into columns. */
void bld_ref_split(const char *ref, char **repo, char **tag)
{
	const char *at = ref ? strchr(ref, '@') : NULL;
	const char *slash = ref ? strrchr(ref, '/') : NULL;
	const char *colon = ref ? strrchr(ref, ':') : NULL;

	if (!ref) {
		*repo = xstrdup("<none>");
		*tag = xstrdup("<none>");
	} else if (at) {
		*repo = xstrndup(ref, (size_t)(at - ref));
		*tag = xstrdup("<none>");
	} else if (colon && (!slash || colon > slash)) {
		*repo = xstrndup(ref, (size_t)(colon - ref));
		*tag = xstrdup(colon + 1);
	} else if (!slash) {
		/* a bare name another tool wrote into the layout (skopeo's
		 * oci:ROOT:TAG): it is the tag */
		*repo = xstrdup("<none>");
		*tag = xstrdup(ref);
	} else {
		*repo = xstrdup(ref);
		*tag = xstrdup("<none>");
	}
}

/* ---- human formatting ---------------------------------------------------------- */

/* RFC 3339 -> seconds since the epoch; -1 when unparsable. */
static time_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *p;
	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	time_t t = timegm(&tm);
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int h = atoi(p + 1), m = atoi(p + 4);
		long off = (h * 3600L + m * 60L) * (*p == '+' ? 1 : -1);
		t -= off;
	}
	return t;
}

/* go-units HumanDuration + " ago", as buildah prints CREATED. */
static char *human_ago(const char *created)
{
	time_t t = parse_rfc3339(created);
	if (t < 0)
		return xstrdup("");
	long long d = (long long)(time(NULL) - t);
	if (d < 1)
		return xstrdup("Less than a second ago");
	if (d == 1)
		return xstrdup("1 second ago");
	if (d < 60)
		return xasprintf("%lld seconds ago", d);
	if (d / 60 == 1)
		return xstrdup("About a minute ago");
	if (d < 3600)
		return xasprintf("%lld minutes ago", d / 60);
	if ((d + 1800) / 3600 == 1)
		return xstrdup("About an hour ago");
	if (d < 48 * 3600)
		return xasprintf("%lld hours ago", (d + 1800) / 3600);
	if (d < 7 * 24 * 3600 * 2)
		return xasprintf("%lld days ago", d / 86400);
	if (d < 30 * 24 * 3600 * 3LL)
		return xasprintf("%lld weeks ago", d / (7 * 86400));
	if (d < 365 * 24 * 3600 * 2LL)
		return xasprintf("%lld months ago", d / (30 * 86400));
	return xasprintf("%lld years ago", d / (365 * 86400));
}

char *bld_human_size(int64_t n)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000;
		u++;
	}
	return xasprintf("%.3g %s", v, units[u]);
}

/* ---- nib images --------------------------------------------------------------------- */

static void images_json(struct stg_image **imgs, size_t n)
{
	_cleanup_(json_object_putp) json_object *arr = json_object_new_array();
	_cleanup_buf_ struct nib_buf b = {0};
	bool *done = xcalloc(n + 1, sizeof(bool));

	/* one object per image ID, with all its names */
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		json_object *o = json_object_new_object(), *names = json_object_new_array();
		for (size_t j = i; j < n; j++) {
			if (done[j] || !streq(imgs[j]->id, imgs[i]->id) ||
			    !streq(imgs[j]->desc.digest, imgs[i]->desc.digest))
				continue;
			done[j] = true;
			if (imgs[j]->ref)
				json_object_array_add(names, json_object_new_string(imgs[j]->ref));
		}
		json_object_object_add(o, "id",
				       json_object_new_string(nib_digest_hex(imgs[i]->id)));
		json_object_object_add(o, "names", names);
		/* the registry's digest for an image converted on pull */
		const struct stg_descriptor *md =
		    imgs[i]->source.digest ? &imgs[i]->source : &imgs[i]->desc;
		json_object_object_add(o, "digest", json_object_new_string(md->digest));
		json_object_object_add(o, "mediaType", json_object_new_string(md->media_type));
		if (imgs[i]->config->created)
			json_object_object_add(o, "created",
					       json_object_new_string(imgs[i]->config->created));
		json_object_object_add(o, "size", json_object_new_int64(imgs[i]->size));
		{
			const struct stg_image_config *c = imgs[i]->config;
			_cleanup_free_ char *plat =
			    xasprintf("%s/%s%s%s", c->os, c->architecture, c->variant ? "/" : "",
				      c->variant ? c->variant : "");
			json_object_object_add(o, "platform", json_object_new_string(plat));
		}
		json_object_array_add(arr, o);
	}
	free(done);
	stg_json_canonical(arr, &b);
	printf("%s\n", b.data);
}

int bld_cmd_images(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		   struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"json", no_argument, NULL, 'j'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"no-trunc", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct stg_image **imgs = NULL;
	size_t n = 0;
	/* --log-format json: the JSON form */
	bool json = nib_log_get_format() == NIB_LOG_JSON, quiet = false, notrunc = false;
	int c;

	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'n':
			notrunc = true;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (optind < argc)
		return bld_usage_error(self, err, "images: unexpected argument '%s'", argv[optind]);
	if (bld_store_open(g, &st, err) < 0 || stg_image_list(st, &imgs, &n, err) < 0)
		return -1;
	if (json) {
		images_json(imgs, n);
	} else {
		if (!quiet)
			printf("%-40s %-20s %-14s %-20s %s\n", "REPOSITORY", "TAG", "IMAGE ID",
			       "CREATED", "SIZE");
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *repo = NULL, *tag = NULL, *ago = NULL, *size = NULL;
			const char *hex = nib_digest_hex(imgs[i]->id);
			int idlen = notrunc ? 64 : 12;
			if (quiet) {
				printf("%.*s\n", idlen, hex);
				continue;
			}
			bld_ref_split(imgs[i]->ref, &repo, &tag);
			ago = human_ago(imgs[i]->config->created);
			size = bld_human_size(imgs[i]->size);
			printf("%-40s %-20s %-14.*s %-20s %s\n", repo, tag, idlen, hex, ago, size);
		}
	}
	stg_image_list_free(imgs, n);
	return 0;
}
