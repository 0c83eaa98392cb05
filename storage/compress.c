/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer compressors, a table chosen by --compression. gzip cuts the
 * stream into 1 MiB blocks, each compressed whole (libdeflate) into its
 * own gzip member on a pool of worker threads and written back in order;
 * zstd runs libzstd's own worker threads. Both give bytes that depend only
 * on the input and the level, so a layer's digest is the same on a laptop
 * and on a 64-core builder.
 */
#define NIB_STORAGE_INTERNAL
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <libdeflate.h>
#include <zstd.h>

#include "storage/compress.h"

#define ZS_OUT	    (256 * 1024)
#define MAX_THREADS 4u
/* zstd jobs of 2 MiB: each job first reloads the last 256 KiB of the one
 * before it (level 3), which on 1 MiB jobs cost ~15% more CPU and gave 3%
 * more output. A worker holds ~5 MiB (its part of the input ring, its
 * output, its tables), so 2 at most keep a commit under 30 MB. */
#define ZS_JOB	       (1u << 21)
#define ZS_MAX_WORKERS 2u

struct compressor {
	const char *name;
	const char *media_type;
	int default_level;
	int (*start)(struct compress *z, struct nib_error *err);
	int (*write)(struct compress *z, const void *p, size_t n, bool finish,
		     struct nib_error *err);
	void (*free)(struct compress *z);
};

struct nz;
struct gz;
struct zs;

struct compress {
	const struct compressor *c;
	int level;
	unsigned threads;
	compress_sink_fn sink;
	void *arg;
	bool finished;
	union {
		struct nz *nz;
		struct gz *gz;
		struct zs *zs;
	};
};

unsigned stg_compress_threads_auto(void)
{
	const char *env = getenv("NIB_COMPRESS_THREADS");
	cpu_set_t set;
	unsigned n = 1;
	uint64_t v;
	FILE *f;

	if (env && *env && nib_parse_u64(env, &v) == 0 && v >= 1 && v <= 64)
		return (unsigned)v;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		n = (unsigned)CPU_COUNT(&set);
	/* a pod limited to 1.5 CPUs of a 64-core node: 2 threads, not 64 */
	f = fopen("/sys/fs/cgroup/cpu.max", "re");
	if (f) {
		char quota[32];
		unsigned long long period;
		if (fscanf(f, "%31s %llu", quota, &period) == 2 && !streq(quota, "max") &&
		    period > 0 && nib_parse_u64(quota, &v) == 0 && v > 0) {
			uint64_t q = (v + period - 1) / period;
			if (q < n)
				n = (unsigned)q;
		}
		fclose(f);
	}
	return MIN(MAX(n, 1u), MAX_THREADS);
}

/* ---- none ------------------------------------------------------------------- */

/* the tar comes in pieces of a header or less: gathered into large writes */
struct nz {
	size_t len;
	unsigned char buf[ZS_OUT];
};

static int none_start(struct compress *z, struct nib_error *err)
{
	z->nz = xmalloc(sizeof(*z->nz));
	z->nz->len = 0;
	return 0;
}

static int none_write(struct compress *z, const void *p, size_t n, bool finish,
		      struct nib_error *err)
{
	struct nz *b = z->nz;
	const unsigned char *s = p;

	while (n > 0) {
		size_t k = MIN(n, sizeof(b->buf) - b->len);
		memcpy(b->buf + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
		if (b->len == sizeof(b->buf)) {
			b->len = 0;
			if (z->sink(z->arg, b->buf, sizeof(b->buf), err) < 0)
				return -1;
		}
	}
	if (finish && b->len > 0) {
		size_t k = b->len;
		b->len = 0;
		return z->sink(z->arg, b->buf, k, err);
	}
	return 0;
}

static void none_free(struct compress *z)
{
	free(z->nz);
	z->nz = NULL;
}

/* ---- gzip: 1 MiB members on worker threads ------------------------------------ */

/*
 * RFC 1952 allows a series of members and every gzip reader takes them.
 * A block is compressed whole, so its member depends only on its bytes and
 * the level: the same output with one thread or eight. Blocks live in a
 * ring of slots; block k uses slot k % nslots. The caller's thread fills
 * slots and writes finished ones in order; workers compress the blocks
 * between `taken` and `filled`. Memory: nslots x (input + output).
 */
#define GZ_BLOCK (1u << 20)

struct gz_slot {
	unsigned char *in, *out;
	size_t len, out_len;
	bool done;
};

struct gz {
	size_t out_cap;
	struct libdeflate_compressor **c; /* one per worker (or one, no workers) */
	unsigned n_workers;
	pthread_t *th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t todo, done;
	struct gz_slot *slots;
	unsigned nslots;
	uint64_t filled;  /* blocks handed to the workers */
	uint64_t taken;	  /* blocks a worker took */
	uint64_t retired; /* blocks written to the sink */
	bool stop;
};

static void *gz_worker(void *arg)
{
	struct gz *g = ((void **)arg)[0];
	struct libdeflate_compressor *c = ((void **)arg)[1];

	free(arg);
	pthread_mutex_lock(&g->mu);
	for (;;) {
		while (!g->stop && g->taken == g->filled)
			pthread_cond_wait(&g->todo, &g->mu);
		if (g->stop)
			break;
		struct gz_slot *s = &g->slots[g->taken++ % g->nslots];
		pthread_mutex_unlock(&g->mu);
		s->out_len = libdeflate_gzip_compress(c, s->in, s->len, s->out, g->out_cap);
		pthread_mutex_lock(&g->mu);
		s->done = true;
		pthread_cond_broadcast(&g->done);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static void gz_free(struct compress *z)
{
	struct gz *g = z->gz;

	if (!g)
		return;
	if (g->started) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_broadcast(&g->todo);
		pthread_mutex_unlock(&g->mu);
		for (unsigned i = 0; i < g->n_workers; i++)
			if (g->th[i])
				pthread_join(g->th[i], NULL);
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->todo);
		pthread_cond_destroy(&g->done);
	}
	for (unsigned i = 0; i < MAX(g->n_workers, 1u); i++)
		if (g->c && g->c[i])
			libdeflate_free_compressor(g->c[i]);
	for (unsigned i = 0; i < g->nslots; i++) {
		free(g->slots[i].in);
		free(g->slots[i].out);
	}
	free(g->slots);
	free(g->c);
	free(g->th);
	free(g);
	z->gz = NULL;
}

static int gz_start(struct compress *z, struct nib_error *err)
{
	struct gz *g;
	unsigned nc;

	if (z->level < 1 || z->level > 12)
		return nib_err(err, NIB_ERR_USAGE, 0, "gzip: bad compression level %d", z->level);
	g = z->gz = xcalloc(1, sizeof(*g));
	/* one thread: no workers, blocks compressed as they fill */
	g->n_workers = z->threads > 1 ? z->threads : 0;
	nc = MAX(g->n_workers, 1u);
	g->c = xcalloc(nc, sizeof(*g->c));
	for (unsigned i = 0; i < nc; i++) {
		g->c[i] = libdeflate_alloc_compressor(z->level);
		if (!g->c[i])
			return nib_err(err, NIB_ERR_IO, ENOMEM, "gzip: no memory for level %d",
				       z->level);
	}
	g->out_cap = libdeflate_gzip_compress_bound(g->c[0], GZ_BLOCK);
	/* every worker busy, one block filling, one finished waiting */
	g->nslots = g->n_workers ? g->n_workers + 2 : 1;
	g->slots = xcalloc(g->nslots, sizeof(*g->slots));
	for (unsigned i = 0; i < g->nslots; i++) {
		g->slots[i].in = xmalloc(GZ_BLOCK);
		g->slots[i].out = xmalloc(g->out_cap);
	}
	if (!g->n_workers)
		return 0;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->todo, NULL);
	pthread_cond_init(&g->done, NULL);
	g->started = true;
	g->th = xcalloc(g->n_workers, sizeof(*g->th));
	for (unsigned i = 0; i < g->n_workers; i++) {
		void **arg = xmalloc(2 * sizeof(*arg));
		int r;
		arg[0] = g;
		arg[1] = g->c[i];
		r = pthread_create(&g->th[i], NULL, gz_worker, arg);
		if (r != 0) {
			free(arg);
			g->th[i] = 0;
			return nib_err(err, NIB_ERR_ENV, r, "gzip: start a worker thread");
		}
	}
	return 0;
}

/* Write the oldest block once it is compressed (wait: block until it is). */
static int gz_retire(struct compress *z, bool wait, struct nib_error *err)
{
	struct gz *g = z->gz;
	struct gz_slot *s;

	if (g->retired == g->filled)
		return 0;
	s = &g->slots[g->retired % g->nslots];
	if (g->n_workers) {
		pthread_mutex_lock(&g->mu);
		while (wait && !s->done)
			pthread_cond_wait(&g->done, &g->mu);
		bool done = s->done;
		pthread_mutex_unlock(&g->mu);
		if (!done)
			return 0;
	}
	if (s->out_len == 0)
		return nib_err(err, NIB_ERR_IO, 0, "gzip: compression failed");
	s->done = false;
	s->len = 0;
	g->retired++;
	return z->sink(z->arg, s->out, s->out_len, err) < 0 ? -1 : 1;
}

static int gz_submit(struct compress *z, struct nib_error *err)
{
	struct gz *g = z->gz;
	struct gz_slot *s = &g->slots[g->filled % g->nslots];
	int r;

	if (!g->n_workers) {
		s->out_len = libdeflate_gzip_compress(g->c[0], s->in, s->len, s->out, g->out_cap);
		g->filled++;
		return gz_retire(z, true, err);
	}
	pthread_mutex_lock(&g->mu);
	g->filled++;
	pthread_cond_signal(&g->todo);
	pthread_mutex_unlock(&g->mu);
	/* write what is ready, keeping the output flowing */
	while ((r = gz_retire(z, false, err)) > 0)
		;
	return r;
}

static int gz_write(struct compress *z, const void *p, size_t n, bool finish, struct nib_error *err)
{
	struct gz *g = z->gz;
	const unsigned char *b = p;

	while (n > 0) {
		struct gz_slot *s = &g->slots[g->filled % g->nslots];
		size_t k;
		/* the slot of the next block is free once its last block is out */
		while (g->filled - g->retired >= g->nslots)
			if (gz_retire(z, true, err) < 0)
				return -1;
		k = MIN(n, GZ_BLOCK - s->len);
		memcpy(s->in + s->len, b, k);
		s->len += k;
		b += k;
		n -= k;
		if (s->len == GZ_BLOCK && gz_submit(z, err) < 0)
			return -1;
	}
	if (!finish)
		return 0;
	/* the last partial block; an empty stream is one empty member */
	if (g->slots[g->filled % g->nslots].len > 0 || g->filled == 0) {
		while (g->filled - g->retired >= g->nslots)
			if (gz_retire(z, true, err) < 0)
				return -1;
		if (gz_submit(z, err) < 0)
			return -1;
	}
	while (g->retired < g->filled)
		if (gz_retire(z, true, err) < 0)
			return -1;
	return 0;
}

/* ---- zstd ----------------------------------------------------------------------- */

struct zs {
	ZSTD_CCtx *c;
	unsigned char out[ZS_OUT];
};

static void zs_free(struct compress *z)
{
	if (!z->zs)
		return;
	ZSTD_freeCCtx(z->zs->c);
	free(z->zs);
	z->zs = NULL;
}

static int zs_param(ZSTD_CCtx *c, ZSTD_cParameter p, int v, struct nib_error *err)
{
	size_t r = ZSTD_CCtx_setParameter(c, p, v);

	if (ZSTD_isError(r))
		return nib_err(err, NIB_ERR_USAGE, 0, "zstd: %s", ZSTD_getErrorName(r));
	return 0;
}

static int zs_start(struct compress *z, struct nib_error *err)
{
	struct zs *s = z->zs = xcalloc(1, sizeof(*z->zs));
	ZSTD_bounds lv = ZSTD_cParam_getBounds(ZSTD_c_compressionLevel);

	if (z->level < 1 || z->level > lv.upperBound)
		return nib_err(err, NIB_ERR_USAGE, 0, "zstd: bad compression level %d", z->level);
	s->c = ZSTD_createCCtx();
	if (!s->c)
		return nib_err(err, NIB_ERR_IO, ENOMEM, "zstd: no memory");
	/* always the multi-threaded engine (one worker at least) with a fixed
	 * job size: its output does not depend on the number of workers,
	 * while the single-threaded engine's differs */
	if (zs_param(s->c, ZSTD_c_compressionLevel, z->level, err) < 0 ||
	    zs_param(s->c, ZSTD_c_checksumFlag, 1, err) < 0)
		return -1;
	if (zs_param(s->c, ZSTD_c_nbWorkers, (int)MIN(z->threads, ZS_MAX_WORKERS), err) < 0 ||
	    zs_param(s->c, ZSTD_c_jobSize, ZS_JOB, err) < 0)
		return nib_err_wrap(err, "zstd: libzstd without worker threads");
	return 0;
}

static int zs_write(struct compress *z, const void *p, size_t n, bool finish, struct nib_error *err)
{
	struct zs *s = z->zs;
	ZSTD_inBuffer in = {p, n, 0};
	size_t left;

	do {
		ZSTD_outBuffer out = {s->out, sizeof(s->out), 0};
		left = ZSTD_compressStream2(s->c, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left))
			return nib_err(err, NIB_ERR_IO, 0, "zstd: %s", ZSTD_getErrorName(left));
		if (out.pos && z->sink(z->arg, s->out, out.pos, err) < 0)
			return -1;
	} while (finish ? left != 0 : in.pos < in.size);
	return 0;
}

/* ---- the table ------------------------------------------------------------------- */

static const struct compressor compressors[] = {
    [STG_COMPRESS_GZIP] = {"gzip", STG_MT_OCI_LAYER_GZIP, 6, gz_start, gz_write, gz_free},
    [STG_COMPRESS_ZSTD] = {"zstd", STG_MT_OCI_LAYER_ZSTD, 3, zs_start, zs_write, zs_free},
    [STG_COMPRESS_NONE] = {"none", STG_MT_OCI_LAYER, 0, none_start, none_write, none_free},
};

int stg_compression_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(compressors); i++)
		if (streq(s, compressors[i].name))
			return (int)i;
	return -1;
}

const char *stg_compression_media_type(enum stg_compression c)
{
	return (size_t)c < ARRAY_SIZE(compressors) ? compressors[c].media_type : NULL;
}

int stg_compress_new(enum stg_compression c, int level, unsigned threads, compress_sink_fn sink,
		     void *arg, struct compress **out, struct nib_error *err)
{
	_cleanup_(stg_compress_freep) struct compress *z = NULL;

	*out = NULL;
	if ((size_t)c >= ARRAY_SIZE(compressors))
		return nib_err(err, NIB_ERR_USAGE, 0, "unknown compression %d", (int)c);
	z = xcalloc(1, sizeof(*z));
	z->c = &compressors[c];
	z->level = level > 0 ? level : z->c->default_level;
	z->threads = MIN(threads ? threads : stg_compress_threads_auto(), 64u);
	z->sink = sink;
	z->arg = arg;
	if (z->c->start(z, err) < 0)
		return -1;
	*out = steal_pointer(&z);
	return 0;
}

int stg_compress_write(struct compress *z, const void *p, size_t n, struct nib_error *err)
{
	return n ? z->c->write(z, p, n, false, err) : 0;
}

int stg_compress_finish(struct compress *z, struct nib_error *err)
{
	if (z->finished)
		return 0;
	z->finished = true;
	return z->c->write(z, NULL, 0, true, err);
}

void stg_compress_free(struct compress *z)
{
	if (!z)
		return;
	z->c->free(z);
	free(z);
}
