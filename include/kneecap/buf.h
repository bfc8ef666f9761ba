/*
 * buf.h - a growable byte buffer with a hard size cap.
 *
 * Growing past max is an error (KC_ELIMIT), never a silent truncation and
 * never an unbounded realloc loop.  data is always NUL-terminated so text
 * can be handed to string functions.
 */
#ifndef KNEECAP_BUF_H
#define KNEECAP_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct kc_buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;   /* bytes used, excluding the terminator */
	size_t cap;   /* bytes allocated */
	size_t max;   /* the most len may ever be */
};

/* Initializes an empty buffer that may hold at most max bytes. */
void kc_buf_init(struct kc_buf *b, size_t max);

/* Frees the storage; b may be NULL. The buffer can be reused after init. */
void kc_buf_fini(struct kc_buf *b);

/* Empties the buffer and keeps its storage. */
void kc_buf_reset(struct kc_buf *b);

/* Makes room for n more bytes. Returns 0, KC_ELIMIT or KC_ENOMEM. */
int kc_buf_reserve(struct kc_buf *b, size_t n);

/* Appends n bytes. Returns 0, KC_ELIMIT or KC_ENOMEM (buffer unchanged). */
int kc_buf_append(struct kc_buf *b, const void *p, size_t n);

/* Appends a C string. Same returns as kc_buf_append. */
int kc_buf_puts(struct kc_buf *b, const char *s);

/* Appends formatted text. Same returns as kc_buf_append, or KC_EINVAL for a
 * format vsnprintf refuses. */
int kc_buf_printf(struct kc_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* kc_buf_printf with a va_list (ap is consumed). */
int kc_buf_vprintf(struct kc_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Takes the storage out of the buffer: returns data (caller frees with free())
 * and leaves b empty.  Returns an allocated "" for an untouched buffer, or
 * NULL when out of memory.
 */
char *kc_buf_steal(struct kc_buf *b, size_t *len);

/*
 * Reads a whole file into b (replacing its content). Returns 0, KC_ENOTFOUND,
 * KC_EIO or KC_ELIMIT (file larger than b->max).
 */
int kc_buf_read_file(struct kc_buf *b, const char *path);

struct kc_diag;
/*
 * kc_buf_read_file for a text file the user named: on failure d says
 * "PATH: no such file", "larger than N bytes" or "cannot read", and a file
 * holding a NUL byte is refused as "binary file, not KIND" (KC_EPARSE).
 * Returns 0 or the kc_buf_read_file codes / KC_EPARSE; b keeps what was read.
 */
int kc_buf_read_text(struct kc_buf *b, const char *path, const char *kind,
		     struct kc_diag *d);

/* Writes n bytes to path atomically (temp file, checked write, fsync, rename).
 * Returns 0 or KC_EIO with errno saying why (the temp file is removed). */
int kc_write_file(const char *path, const void *p, size_t n);

/* kc_write_file through the temp name tmp (same directory as path), created
 * with mode (O_EXCL|O_NOFOLLOW after removing a stale tmp, so a planted
 * symlink is never followed; an executable mode survives the umask).
 * Returns 0 or KC_EIO with errno saying why (tmp removed). */
int kc_write_file_via(const char *path, const char *tmp, const void *p, size_t n,
		      unsigned mode);

/* Writes all n bytes to fd (retrying short writes and EINTR): 0, or -1
 * with errno set. */
int kc_write_all(int fd, const void *p, size_t n);

/* Finishes a file written through tmp: fsync, close fd, rename tmp onto
 * path.  Returns 0, or KC_EIO with errno saying why (fd closed, tmp removed). */
int kc_file_commit(int fd, const char *tmp, const char *path);

#endif
