/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common: what every nib module shares: the error type, cleanup helpers,
 * allocation wrappers, logging, string vectors and buffers, safe path
 * resolution inside a root, and sha256 digests.
 */
#ifndef NIB_COMMON_H
#define NIB_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define NIB_VERSION "0.1.0"

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))
#define _unused_       __attribute__((unused))
#define _cleanup_(f)   __attribute__((cleanup(f)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))
#define streq(a, b)   (strcmp((a), (b)) == 0)

/* ---- errors ------------------------------------------------------------ */

enum nib_err_kind {
	NIB_ERR_NONE = 0,
	NIB_ERR_USAGE,	   /* bad command line: exit 2 */
	NIB_ERR_SYNTAX,	   /* bad Containerfile or other input syntax: exit 2 */
	NIB_ERR_NETWORK,   /* connection, DNS, TLS, HTTP failures */
	NIB_ERR_AUTH,	   /* credentials refused or missing */
	NIB_ERR_NOT_FOUND, /* image, blob, file, stage that does not exist */
	NIB_ERR_CORRUPT,   /* digest mismatch, malformed document or layer */
	NIB_ERR_ENV,	   /* the environment does not allow it (namespaces, mounts) */
	NIB_ERR_IO,	   /* local file system errors */
	NIB_ERR_RUN,	   /* a command run in a container failed */
};

/*
 * The error every fallible call fills. `msg` names the file:line, reference
 * or path involved; callers add context with nib_err_wrap(). A NULL `err`
 * is allowed everywhere and means "caller does not care".
 */
struct nib_error {
	enum nib_err_kind kind;
	int errnum; /* errno that caused it, or 0 */
	int status; /* exit status of a failed command (NIB_ERR_RUN), else 0 */
	char *msg;
};

/* Set `err` (replacing any earlier message); when errnum != 0 ": strerror"
 * is appended. Always returns -1 so callers can `return nib_err(...)`. */
int nib_err(struct nib_error *err, enum nib_err_kind kind, int errnum, const char *fmt, ...)
    _printf_(4, 5);
/* Prefix the current message with "context: ". Returns -1. */
int nib_err_wrap(struct nib_error *err, const char *fmt, ...) _printf_(2, 3);
/* Free the message and reset to NIB_ERR_NONE. */
void nib_err_clear(struct nib_error *err);
/* Move the error from src into dst (dst's earlier content is freed). */
void nib_err_move(struct nib_error *dst, struct nib_error *src);
/* Exit status a command should end with for this error: 2 for usage and
 * syntax errors, 1 otherwise. */
int nib_err_exit_code(const struct nib_error *err);
const char *nib_err_kind_name(enum nib_err_kind kind);

/* ---- allocation (abort on out of memory) ------------------------------- */

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array of `*cap` elements of `size` so that `need` fit. */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* ---- cleanup helpers ---------------------------------------------------- */

static inline void freep(void *p)
{
	free(*(void **)p);
}
/* Close and forget: the variable is -1 afterwards (closing it twice is a
 * no-op). */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		*fd = -1;
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_	   _cleanup_(freep)
#define _cleanup_close_	   _cleanup_(closep)
#define _cleanup_fclose_   _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Declare a pointer cleanup `funcp` that calls `func` on non-NULL. */
#define NIB_DEFINE_CLEANUP(type, func)                                                             \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* A child process: killed (SIGKILL) and reaped when the variable leaves
 * its scope (crun's cleanup_pidp); <= 0: none. A caller that reaped it
 * itself sets it to -1 (take_fd works on it). */
void nib_child_killp(pid_t *pid);
#define _cleanup_child_ _cleanup_(nib_child_killp)

/* Both ends of a pipe or socket pair; an end already closed or moved is -1. */
static inline void nib_pair_closep(int (*pair)[2])
{
	closep(&(*pair)[0]);
	closep(&(*pair)[1]);
}
#define _cleanup_pair_ _cleanup_(nib_pair_closep)

/* A memory mapping (mmap), unmapped when it leaves its scope; p == NULL or
 * MAP_FAILED: none. */
struct nib_map {
	void *p;
	size_t len;
};
void nib_map_freep(struct nib_map *m);
#define _cleanup_map_ _cleanup_(nib_map_freep)

/* Ownership moves: return the value and leave NULL / -1 behind. */
#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) _ptr = *(pp);                                                    \
		*(pp) = NULL;                                                                      \
		_ptr;                                                                              \
	})
#define take_fd(fdp)                                                                               \
	({                                                                                         \
		int _fd = *(fdp);                                                                  \
		*(fdp) = -1;                                                                       \
		_fd;                                                                               \
	})

/* ---- logging ------------------------------------------------------------ */

enum nib_log_level {
	NIB_LOG_ERROR = 0,
	NIB_LOG_WARN,
	NIB_LOG_INFO,
	NIB_LOG_DEBUG,
	NIB_LOG_TRACE,
};
enum nib_log_format { NIB_LOG_TEXT = 0, NIB_LOG_JSON };

void nib_log_setup(enum nib_log_level level, enum nib_log_format format);
enum nib_log_level nib_log_get_level(void);
enum nib_log_format nib_log_get_format(void);
/* Parse "error|warn|info|debug|trace"; -1 when unknown. */
int nib_log_level_parse(const char *s);
bool nib_log_enabled(enum nib_log_level level);
/* Log one line to stderr ("nib: warning: ..." or one JSON object). */
void nib_log(enum nib_log_level level, const char *fmt, ...) _printf_(2, 3);
/* Emit an event for --log-format json consumers: `json_fields` is a
 * pre-rendered, comma-separated list of JSON members (may be NULL);
 * in text mode `text` (may be NULL) is printed instead. */
void nib_log_event(const char *event, const char *json_fields, const char *text);
/* Events' own format (nib build --progress json|plain): by default the log
 * format nib_log_setup set. */
void nib_log_set_event_format(enum nib_log_format format);
enum nib_log_format nib_log_get_event_format(void);
/* Where log lines go instead of a plain write to `fd` (stderr, or stdout
 * for events): a live terminal display clears itself around them. NULL:
 * written directly. */
typedef void (*nib_log_writer_fn)(int fd, const char *data, size_t len);
void nib_log_set_writer(nib_log_writer_fn fn);

#define log_error(...) nib_log(NIB_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  nib_log(NIB_LOG_WARN, __VA_ARGS__)
#define log_info(...)  nib_log(NIB_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (nib_log_enabled(NIB_LOG_DEBUG))                                                \
			nib_log(NIB_LOG_DEBUG, __VA_ARGS__);                                       \
	} while (0)

/* ---- growable byte buffer ---------------------------------------------- */

struct nib_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
};

void nib_buf_append(struct nib_buf *b, const void *p, size_t n);
void nib_buf_puts(struct nib_buf *b, const char *s);
void nib_buf_putc(struct nib_buf *b, char c);
void nib_buf_printf(struct nib_buf *b, const char *fmt, ...) _printf_(2, 3);
/* Append `s` as a JSON string literal, quotes included; invalid UTF-8
 * becomes U+FFFD so the output is always valid JSON. */
void nib_buf_json_string(struct nib_buf *b, const char *s);
void nib_buf_reset(struct nib_buf *b);
void nib_buf_free(struct nib_buf *b);
/* Return the data (never NULL) and leave the buffer empty. */
char *nib_buf_steal(struct nib_buf *b);

static inline void nib_buf_freep(struct nib_buf *b)
{
	nib_buf_free(b);
}
#define _cleanup_buf_ _cleanup_(nib_buf_freep)

/* Decode one UTF-8 rune at s[0..n); invalid bytes (overlong forms,
 * surrogates, past U+10FFFF) give U+FFFD with width 1. */
uint32_t nib_utf8_decode(const char *s, size_t n, size_t *width);

/* ---- string vectors ----------------------------------------------------- */

/* A NULL-terminated vector of owned strings. */
struct nib_strv {
	char **v; /* v[len] == NULL when v != NULL */
	size_t len;
	size_t cap;
};

void nib_strv_push(struct nib_strv *sv, const char *s);
void nib_strv_push_take(struct nib_strv *sv, char *s);
void nib_strv_pushf(struct nib_strv *sv, const char *fmt, ...) _printf_(2, 3);
/* Index of s in sv, or -1. */
ssize_t nib_strv_find(const struct nib_strv *sv, const char *s);
/* Remove and free entry i (i < len); the later entries move down. */
void nib_strv_remove(struct nib_strv *sv, size_t i);
/* The PATH a container process gets when its environment sets none (Docker's
 * and BuildKit's default; an image without PATH gets it in its config). */
#define NIB_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The value of `key` in a NULL-terminated vector of KEY=VALUE entries (an
 * environment, an image config's Env; NULL allowed), or NULL. With several
 * entries for one key the first wins, as getenv(3) finds it in a process. */
const char *nib_env_get(char *const *env, const char *key);
char *nib_strv_join(const struct nib_strv *sv, const char *sep);
void nib_strv_sort(struct nib_strv *sv);
void nib_strv_free(struct nib_strv *sv);

static inline void nib_strv_freep(struct nib_strv *sv)
{
	nib_strv_free(sv);
}
#define _cleanup_strv_ _cleanup_(nib_strv_freep)

/* ---- strings ------------------------------------------------------------ */

bool nib_str_has_prefix(const char *s, const char *prefix);
bool nib_str_has_suffix(const char *s, const char *suffix);
/* Parse a decimal unsigned integer that must fill the whole string. */
int nib_parse_u64(const char *s, uint64_t *out);
/* Parse "true|false|1|0|yes|no" (case-insensitive); -1 when not a bool. */
int nib_parse_bool(const char *s);
/* Parse a Go duration (time.ParseDuration: "1m30s", "1.5h", "500ms", "0",
 * units ns us µs ms s m h, an optional sign) into nanoseconds; -1 when not
 * one or out of range. The one duration syntax of nib: HEALTHCHECK's
 * flags, --retry-delay, --cache-ttl. */
int nib_parse_duration(const char *s, int64_t *ns);

/* ---- files -------------------------------------------------------------- */

/* Read a whole file (at most `max` bytes, else EFBIG) into a NUL-terminated
 * buffer; `dirfd` may be AT_FDCWD. */
int nib_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
		     struct nib_error *err);
/*
 * Read the regular file `path` of the tree at `rootfd`, resolved inside it
 * (nib_open_in_root: symlinks and ".." never leave it), at most `max` bytes
 * (else EFBIG). A FIFO, device, socket or folder is refused ("NAME is not a
 * regular file") without blocking or reading it. `name` (NULL: `path`)
 * names the file in messages; a missing file is NIB_ERR_NOT_FOUND (ENOENT).
 */
int nib_read_regular_in_root(int rootfd, const char *path, const char *name, size_t max, char **out,
			     size_t *len, struct nib_error *err);
/* `n` random lowercase hex digits and a NUL into `buf` (n + 1 bytes), from
 * getrandom(2): temp names that no other process picks, whatever its pid
 * namespace (processes in sibling pods share pids; a pid and a counter
 * collide there). */
void nib_random_hex(char *buf, size_t n);
/* Create a file (O_WRONLY | O_EXCL, never through a symlink) or, with
 * `dir`, a folder named `prefix` + 16 random hex digits in `dirfd`;
 * `*name` receives the name. The file's fd, 0 for a folder, -1 with errno
 * on failure (after 100 names taken, EEXIST). */
int nib_create_tmp_at(int dirfd, const char *prefix, bool dir, mode_t mode, char **name);
/* Write `data` to `path` atomically: temp file in the same folder, fsync,
 * rename. */
int nib_write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			     struct nib_error *err);
/*
 * Write a command's result file (--iidfile, --digestfile): a new path or a
 * regular file is written atomically (nib_write_file_atomic_at); an
 * existing symlink, FIFO or device (/dev/stdout, a pipe) is written in
 * place and never replaced. A dangling symlink or a folder is an error.
 */
int nib_write_output_file(const char *path, const void *data, size_t len, struct nib_error *err);
/* write() all of it, retrying on EINTR / short writes. */
int nib_write_all(int fd, const void *p, size_t n);
/* mkdir -p relative to dirfd (no symlink checks: use nib_mkdir_in_root for
 * untrusted trees). */
int nib_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct nib_error *err);
/* rm -rf relative to dirfd, never following symlinks; missing is fine. */
int nib_rm_rf_at(int dirfd, const char *path, struct nib_error *err);

/* ---- what /proc/PID/cmdline and /proc/PID/environ show ------------------- */

/* At the start of main: returns a heap copy of argv to work on, moves the
 * environment to the heap and wipes the memory /proc/PID/environ reads
 * (nothing nib inherited is shown there, secrets included). */
char **nib_proc_init(int argc, char **argv);
/* Overwrite `s`, a string of main's own argv, with 'x's in the memory
 * /proc/PID/cmdline reads (the heap copy keeps it). */
void nib_proc_blank(char *s);
/* Show only `title` in /proc/PID/cmdline (and nothing in environ): for a
 * child that other processes see, such as a RUN step's PID 1. */
void nib_proc_set_title(const char *title);

/* ---- paths -------------------------------------------------------------- */

/* Lexically clean a slash path like Go's path.Clean ("" -> "."). */
char *nib_path_clean(const char *path);
/* Join two paths with exactly one slash between them. */
char *nib_path_join(const char *a, const char *b);
/* True when the cleaned relative path does not climb out ("..", "../x"). */
bool nib_path_is_below(const char *path);
/* `text` with the credentials of every URL in it removed
 * ("https://user:pass@host/x" -> "https://host/x"). */
char *nib_url_redact(const char *text);

/*
 * Open `path` inside the tree at `rootfd` as if `rootfd` were "/": absolute
 * symlinks and ".." are resolved against the root and never leave it
 * (openat2 RESOLVE_IN_ROOT, with an equivalent walk on kernels without it).
 * `flags` are open(2) flags; O_NOFOLLOW applies to the last component only.
 */
int nib_open_in_root(int rootfd, const char *path, int flags, mode_t mode, struct nib_error *err);
/* Same, forcing the component-by-component walk (for tests). */
int nib_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
			  struct nib_error *err);
/* mkdir -p of `path` inside the root, every component resolved inside it;
 * returns an O_PATH | O_DIRECTORY fd of the last folder. A name on the way
 * that exists but leads to no folder (a dangling symlink, a file) is an
 * error (ENOTDIR): nothing is created through it. */
int nib_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct nib_error *err);
/* Told about each folder nib_mkdir_in_root_report creates: `path` relative
 * to the root, `before` the folder it was made in as it was before (NULL
 * when it could not be read), so its times can be put back. */
struct stat;
typedef void (*nib_mkdir_fn)(void *arg, const char *path, const struct stat *before);
/* nib_mkdir_in_root that tells `fn` (may be NULL) what it creates. */
int nib_mkdir_in_root_report(int rootfd, const char *path, mode_t mode, nib_mkdir_fn fn, void *arg,
			     struct nib_error *err);

/* ---- digests ------------------------------------------------------------ */

#define NIB_SHA256_HEX_LEN 64
#define NIB_DIGEST_LEN	   (7 + NIB_SHA256_HEX_LEN) /* "sha256:" + hex */

struct nib_sha256; /* opaque streaming context */

struct nib_sha256 *nib_sha256_new(void);
void nib_sha256_update(struct nib_sha256 *ctx, const void *p, size_t n);
/* Finish into "sha256:<64 hex>" (buffer of NIB_DIGEST_LEN + 1). */
void nib_sha256_final(struct nib_sha256 *ctx, char out[NIB_DIGEST_LEN + 1]);
void nib_sha256_free(struct nib_sha256 *ctx);
NIB_DEFINE_CLEANUP(struct nib_sha256 *, nib_sha256_free)

/* One-shot digest of a buffer. */
void nib_sha256_digest(const void *p, size_t n, char out[NIB_DIGEST_LEN + 1]);
/* Digest of a file's content. */
int nib_sha256_file_at(int dirfd, const char *path, char out[NIB_DIGEST_LEN + 1],
		       struct nib_error *err);
/* Check "algo:hex" syntax (image-spec descriptor.md: digests); only sha256
 * and sha512 are accepted with their exact lengths. */
bool nib_digest_valid(const char *digest);
/* The hex part of a valid digest. */
const char *nib_digest_hex(const char *digest);

#endif
