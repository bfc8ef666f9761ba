/*
 * out.c - the sticky-error text writer of out_int.h.
 */
#include "kneecap/buf.h"

#include "out_int.h"

#include <stdarg.h>

void kc_out_puts(struct kc_out *o, const char *s)
{
	if (!o->rc)
		o->rc = kc_buf_puts(o->b, s);
}

void kc_out_pf(struct kc_out *o, const char *fmt, ...)
{
	if (o->rc)
		return;
	va_list ap;
	va_start(ap, fmt);
	o->rc = kc_buf_vprintf(o->b, fmt, ap);
	va_end(ap);
}
