/*
 * buf.c - bounded growable buffers.  Growth doubles up to max, so appends are
 * amortized O(1) and a runaway producer stops at a known size.
 */
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void kc_buf_init(struct kc_buf *b, size_t max)
{
	KC_ASSERT(b);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void kc_buf_fini(struct kc_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void kc_buf_reset(struct kc_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int kc_buf_reserve(struct kc_buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return KC_ELIMIT;
	size_t need = b->len + n + 1; /* terminator */
	if (need <= b->cap)
		return KC_OK;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	char *p = realloc(b->data, ncap);
	if (!p)
		return KC_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return KC_OK;
}

int kc_buf_append(struct kc_buf *b, const void *p, size_t n)
{
	int rc = kc_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return KC_OK;
}

int kc_buf_puts(struct kc_buf *b, const char *s)
{
	return kc_buf_append(b, s, strlen(s));
}

int kc_buf_vprintf(struct kc_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	int rc = KC_OK;
	if (n < 0)
		rc = KC_EINVAL;
	else if ((size_t)n < sizeof(small))
		rc = kc_buf_append(b, small, (size_t)n);
	else if (!(rc = kc_buf_reserve(b, (size_t)n))) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
	return rc;
}

int kc_buf_printf(struct kc_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = kc_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *kc_buf_steal(struct kc_buf *b, size_t *len)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int kc_buf_read_file(struct kc_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? KC_ENOTFOUND : KC_EIO;
	kc_buf_reset(b);
	int rc = KC_OK;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = kc_buf_append(b, chunk, n);
		if (rc)
			break;
	}
	if (!rc && ferror(f))
		rc = KC_EIO;
	fclose(f);
	/* An empty file still yields a valid, NUL-terminated buffer. */
	if (!rc && !b->data) {
		rc = kc_buf_reserve(b, 0);
		if (!rc)
			b->data[0] = '\0';
	}
	return rc;
}

int kc_buf_read_text(struct kc_buf *b, const char *path, const char *kind,
		     struct kc_diag *d)
{
	int rc = kc_buf_read_file(b, path);
	if (rc == KC_ENOTFOUND)
		return kc_diag_set_at(d, rc, path, 0, NULL, "no such file");
	if (rc == KC_ELIMIT)
		return kc_diag_set_at(d, rc, path, 0, NULL, "larger than %zu bytes", b->max);
	if (rc)
		return kc_diag_set_at(d, rc, path, 0, NULL, "cannot read: %s", strerror(errno));
	if (memchr(b->data, '\0', b->len))
		return kc_diag_set_at(d, KC_EPARSE, path, 0, NULL, "binary file, not %s", kind);
	return KC_OK;
}

int kc_write_file_via(const char *path, const char *tmp, const void *p, size_t n,
		      unsigned mode)
{
	/* A stale temp file (a crash) is ours to replace; a symlink planted under
	 * its name is never followed (O_EXCL refuses it, O_NOFOLLOW twice over). */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return KC_EIO;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		return KC_EIO;
	int err = kc_write_all(fd, p, n) ? errno : 0;
	/* open's mode passed through the umask; an executable must stay one. */
	if (!err && (mode & 0111) && fchmod(fd, (mode_t)mode) != 0)
		err = errno;
	if (err) {
		close(fd);
		unlink(tmp);
		errno = err; /* the caller reports the write's reason, not unlink's */
		return KC_EIO;
	}
	return kc_file_commit(fd, tmp, path);
}

int kc_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int kc_file_commit(int fd, const char *tmp, const char *path)
{
	int err = 0;
	/* Synced before the rename, so a crash cannot leave an empty file in its place. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		unlink(tmp);
		errno = err; /* the caller reports the write's reason, not unlink's */
		return KC_EIO;
	}
	return KC_OK;
}

int kc_write_file(const char *path, const void *p, size_t n)
{
	char tmp[4096];
	int w = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return KC_EINVAL;
	}
	return kc_write_file_via(path, tmp, p, n, 0644);
}
