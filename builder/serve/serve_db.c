/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the builds, kept in SQLite (WAL, synchronous=FULL: a build
 * that finished is on disk before anyone is told so; a running build's
 * progress is written without an fsync of its own). The schema has a
 * version (PRAGMA user_version); opening applies the migrations a
 * database lacks, each in its own transaction.
 */
#include <math.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

struct bld_srv_db {
	sqlite3 *h;
	char *path;
};

static const char *const migrations[] = {
    /* 1: the builds */
    "CREATE TABLE builds ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " tenant TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " spec TEXT NOT NULL,"
    " created REAL NOT NULL, started REAL, finished REAL,"
    " step INTEGER NOT NULL DEFAULT 0, steps INTEGER NOT NULL DEFAULT 0,"
    " digest TEXT, image_id TEXT, error TEXT,"
    " cache_hits INTEGER NOT NULL DEFAULT 0,"
    " log_bytes INTEGER NOT NULL DEFAULT 0,"
    " pushed_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX builds_tenant ON builds(tenant, seq);"
    "CREATE INDEX builds_state ON builds(state, seq);",
};

static const char *const state_names[] = {"queued", "running",	 "succeeded",
					  "failed", "cancelled", "interrupted"};

const char *bld_srv_state_name(enum bld_srv_state s)
{
	return state_names[s];
}

int bld_srv_state_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(state_names); i++)
		if (streq(s, state_names[i]))
			return (int)i;
	return -1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int db_err(struct bld_srv_db *db, struct nib_error *err, const char *what)
{
	return nib_err(err, NIB_ERR_IO, 0, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

static int exec(struct bld_srv_db *db, const char *sql, struct nib_error *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		nib_err(err, NIB_ERR_IO, 0, "%s: %s", db->path, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void stmt_finalizep(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static int prepare(struct bld_srv_db *db, const char *sql, sqlite3_stmt **st, struct nib_error *err)
{
	if (sqlite3_prepare_v2(db->h, sql, -1, st, NULL) != SQLITE_OK)
		return db_err(db, err, "prepare");
	return 0;
}

int bld_srv_db_version(struct bld_srv_db *db)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		return -1;
	return sqlite3_column_int(st, 0);
}

static int migrate(struct bld_srv_db *db, struct nib_error *err)
{
	int v = bld_srv_db_version(db);
	if (v < 0)
		return db_err(db, err, "schema version");
	if (v > (int)ARRAY_SIZE(migrations))
		return nib_err(err, NIB_ERR_ENV, 0,
			       "%s: schema version %d is newer than this nib knows (%zu)", db->path,
			       v, ARRAY_SIZE(migrations));
	for (size_t i = (size_t)v; i < ARRAY_SIZE(migrations); i++) {
		_cleanup_free_ char *sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%zu; "
						     "COMMIT;",
						     migrations[i], i + 1);
		if (exec(db, sql, err) < 0) {
			(void)exec(db, "ROLLBACK", NULL);
			return nib_err_wrap(err, "migration to schema version %zu", i + 1);
		}
	}
	return 0;
}

int bld_srv_db_open(const char *path, struct bld_srv_db **out, struct nib_error *err)
{
	struct bld_srv_db *db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		nib_err(err, NIB_ERR_IO, 0, "%s: %s", path,
			db->h ? sqlite3_errmsg(db->h) : "cannot open");
		bld_srv_db_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
		 err) < 0 ||
	    migrate(db, err) < 0) {
		bld_srv_db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void bld_srv_db_close(struct bld_srv_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->h);
	free(db->path);
	free(db);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int bld_srv_db_insert(struct bld_srv_db *db, const struct bld_srv_build *b, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "INSERT INTO builds (id, tenant, state, spec, created) VALUES (?, ?, ?, ?, ?)",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, b->id);
	bind_text(st, 2, b->tenant);
	bind_text(st, 3, bld_srv_state_name(b->state));
	bind_text(st, 4, b->spec);
	sqlite3_bind_double(st, 5, b->created);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_err(db, err, "insert");
	return 0;
}

#define COLUMNS                                                                                    \
	"id, tenant, state, spec, created, started, finished, step, steps, digest, image_id, "     \
	"error, cache_hits, log_bytes, pushed_bytes"

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? xstrdup((const char *)s) : NULL;
}

static void row(sqlite3_stmt *st, struct bld_srv_build *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", (const char *)sqlite3_column_text(st, 0));
	b->tenant = col_text(st, 1);
	int state = bld_srv_state_parse((const char *)sqlite3_column_text(st, 2));
	b->state = state < 0 ? BLD_SRV_INTERRUPTED : (enum bld_srv_state)state;
	b->spec = col_text(st, 3);
	b->created = sqlite3_column_double(st, 4);
	b->started = sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 5);
	b->finished = sqlite3_column_type(st, 6) == SQLITE_NULL ? 0 : sqlite3_column_double(st, 6);
	b->step = sqlite3_column_int(st, 7);
	b->steps = sqlite3_column_int(st, 8);
	b->digest = col_text(st, 9);
	b->image_id = col_text(st, 10);
	b->error = col_text(st, 11);
	b->cache_hits = sqlite3_column_int(st, 12);
	b->log_bytes = sqlite3_column_int64(st, 13);
	b->pushed_bytes = sqlite3_column_int64(st, 14);
}

void bld_srv_build_clear(struct bld_srv_build *b)
{
	free(b->tenant);
	free(b->spec);
	free(b->digest);
	free(b->image_id);
	free(b->error);
	memset(b, 0, sizeof(*b));
}

void bld_srv_builds_free(struct bld_srv_build *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		bld_srv_build_clear(&v[i]);
	free(v);
}

int bld_srv_db_get(struct bld_srv_db *db, const char *id, const char *tenant,
		   struct bld_srv_build *out, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "SELECT " COLUMNS " FROM builds WHERE id = ? AND (?2 IS NULL OR tenant = ?2)",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, id);
	bind_text(st, 2, tenant);
	int r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		return 0;
	if (r != SQLITE_ROW)
		return db_err(db, err, "select");
	row(st, out);
	return 1;
}

int bld_srv_db_list(struct bld_srv_db *db, const char *tenant, int state, int limit,
		    struct bld_srv_build **out, size_t *n, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (prepare(db,
		    "SELECT " COLUMNS " FROM builds WHERE (?1 IS NULL OR tenant = ?1) AND "
		    "(?2 IS NULL OR state = ?2) ORDER BY seq DESC LIMIT ?3",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, tenant);
	bind_text(st, 2, state >= 0 ? bld_srv_state_name((enum bld_srv_state)state) : NULL);
	sqlite3_bind_int(st, 3, limit);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xgrow(*out, &cap, *n + 1, sizeof(**out));
		row(st, &(*out)[(*n)++]);
	}
	if (r != SQLITE_DONE) {
		bld_srv_builds_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_err(db, err, "list");
	}
	return 0;
}

int bld_srv_db_next(struct bld_srv_db *db, char *const *busy, struct bld_srv_build *out,
		    struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	if (prepare(db, "SELECT " COLUMNS " FROM builds WHERE state = 'queued' ORDER BY seq", &st,
		    err) < 0)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *tenant = (const char *)sqlite3_column_text(st, 1);
		bool taken = false;
		for (char *const *b = busy; b && *b; b++)
			taken = taken || streq(*b, tenant);
		if (taken)
			continue;
		row(st, out);
		return 1;
	}
	if (r != SQLITE_DONE)
		return db_err(db, err, "next");
	return 0;
}

int bld_srv_db_count(struct bld_srv_db *db, enum bld_srv_state state, int64_t *out)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "SELECT count(*) FROM builds WHERE state = ?", &st, NULL) < 0)
		return -1;
	bind_text(st, 1, bld_srv_state_name(state));
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	*out = sqlite3_column_int64(st, 0);
	return 0;
}

int bld_srv_db_set_state(struct bld_srv_db *db, const char *id, enum bld_srv_state state,
			 const char *error, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "UPDATE builds SET state = ?2, error = coalesce(?3, error),"
		    " started = CASE WHEN ?2 = 'running' THEN ?4 ELSE started END,"
		    " finished = CASE WHEN ?2 IN ('queued', 'running') THEN NULL ELSE ?4 END"
		    " WHERE id = ?1",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, id);
	bind_text(st, 2, bld_srv_state_name(state));
	bind_text(st, 3, error);
	sqlite3_bind_double(st, 4, now());
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_err(db, err, "update");
	return 0;
}

int bld_srv_db_transition(struct bld_srv_db *db, const char *id, enum bld_srv_state from,
			  enum bld_srv_state to, const char *error, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "UPDATE builds SET state = ?3, error = coalesce(?4, error), finished = ?5"
		    " WHERE id = ?1 AND state = ?2",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, id);
	bind_text(st, 2, bld_srv_state_name(from));
	bind_text(st, 3, bld_srv_state_name(to));
	bind_text(st, 4, error);
	if (bld_srv_state_final(to))
		sqlite3_bind_double(st, 5, now());
	else
		sqlite3_bind_null(st, 5);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_err(db, err, "update");
	return sqlite3_changes(db->h) > 0;
}

int bld_srv_db_progress(struct bld_srv_db *db, const struct bld_srv_build *b, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "UPDATE builds SET step = ?2, steps = ?3, digest = coalesce(?4, digest),"
		    " image_id = coalesce(?5, image_id), cache_hits = ?6, log_bytes = ?7,"
		    " pushed_bytes = ?8 WHERE id = ?1",
		    &st, err) < 0)
		return -1;
	bind_text(st, 1, b->id);
	sqlite3_bind_int(st, 2, b->step);
	sqlite3_bind_int(st, 3, b->steps);
	bind_text(st, 4, b->digest);
	bind_text(st, 5, b->image_id);
	sqlite3_bind_int(st, 6, b->cache_hits);
	sqlite3_bind_int64(st, 7, b->log_bytes);
	sqlite3_bind_int64(st, 8, b->pushed_bytes);
	/* progress is not a result: no fsync of its own (the WAL's next
	 * synchronous=FULL commit, the build's end, makes it durable too); a
	 * step of every build waited for the disk under the service's lock */
	if (exec(db, "PRAGMA synchronous=NORMAL", err) < 0)
		return -1;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_err(db, err, "update");
	if (exec(db, "PRAGMA synchronous=FULL", rc == SQLITE_DONE ? err : NULL) < 0 ||
	    rc != SQLITE_DONE)
		return -1;
	return 0;
}

int bld_srv_db_delete(struct bld_srv_db *db, const char *id, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db, "DELETE FROM builds WHERE id = ?", &st, err) < 0)
		return -1;
	bind_text(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_err(db, err, "delete");
	return 0;
}

int bld_srv_db_recover(struct bld_srv_db *db, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (prepare(db,
		    "UPDATE builds SET state = 'interrupted', finished = ?,"
		    " error = 'the service stopped while the build ran' WHERE state = 'running'",
		    &st, err) < 0)
		return -1;
	sqlite3_bind_double(st, 1, now());
	if (sqlite3_step(st) != SQLITE_DONE)
		return db_err(db, err, "recover");
	return sqlite3_changes(db->h);
}

int bld_srv_db_ids(struct bld_srv_db *db, struct nib_strv *out, struct nib_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;
	if (prepare(db, "SELECT id FROM builds", &st, err) < 0)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		nib_strv_push(out, (const char *)sqlite3_column_text(st, 0));
	if (r != SQLITE_DONE)
		return db_err(db, err, "ids");
	return 0;
}
