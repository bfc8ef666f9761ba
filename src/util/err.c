/*
 * err.c - error strings and diagnostics.  No allocation: a diagnostic is a
 * fixed-size caller-owned struct so failure paths cannot fail again.
 */
#include "kneecap/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kc_strerror(int err)
{
	switch (err) {
	case KC_OK: return "success";
	case KC_EINVAL: return "invalid value";
	case KC_EPARSE: return "malformed input";
	case KC_ENOTFOUND: return "not found";
	case KC_EUNSUPPORTED: return "not supported";
	case KC_ERANGE: return "value out of range";
	case KC_ECONNECT: return "connection failed";
	case KC_ETIMEOUT: return "timed out";
	case KC_EPROTO: return "protocol error";
	case KC_EAUTH: return "authentication failed";
	case KC_ETLS: return "TLS failure";
	case KC_ECRC: return "checksum mismatch";
	case KC_ENOMEM: return "out of memory";
	case KC_EIO: return "I/O error";
	case KC_ELIMIT: return "limit exceeded";
	case KC_EINTR: return "interrupted";
	case KC_EINTERNAL: return "internal error";
	}
	return "unknown error";
}

void kc_diag_clear(struct kc_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

__attribute__((format(printf, 2, 0)))
static void vset(struct kc_diag *d, const char *fmt, va_list ap)
{
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
}

int kc_diag_set(struct kc_diag *d, int err, const char *fmt, ...)
{
	if (!d)
		return err;
	va_list ap;
	va_start(ap, fmt);
	vset(d, fmt, ap);
	va_end(ap);
	return err;
}

int kc_diag_set_at(struct kc_diag *d, int err, const char *file, int line,
		   const char *key, const char *fmt, ...)
{
	if (!d)
		return err;
	snprintf(d->file, sizeof(d->file), "%s", file ? file : "");
	d->line = line;
	snprintf(d->key, sizeof(d->key), "%s", key ? key : "");
	va_list ap;
	va_start(ap, fmt);
	vset(d, fmt, ap);
	va_end(ap);
	return err;
}

char *kc_diag_format(const struct kc_diag *d, char *out, size_t outsz)
{
	KC_ASSERT(out && outsz > 0);
	out[0] = '\0';
	if (!d)
		return out;
	size_t n = 0;
	int w;
	if (d->file[0]) {
		w = d->line > 0 ? snprintf(out, outsz, "%s:%d: ", d->file, d->line)
				: snprintf(out, outsz, "%s: ", d->file);
		n = w > 0 ? (size_t)w : 0;
	}
	if (d->key[0] && n < outsz) {
		w = snprintf(out + n, outsz - n, "%s: ", d->key);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < outsz)
		snprintf(out + n, outsz - n, "%s", d->msg);
	return out;
}

void kc_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "kneecap: assertion failed: %s (%s:%d)\n", expr, file,
		line);
	abort();
}
