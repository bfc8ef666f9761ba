/*
 * out_int.h - report's text writer into a kc_buf (not public), shared by
 * the HTML and terminal renderers: the first failure sticks in rc and later
 * writes do nothing, so a renderer writes straight through and checks once.
 */
#ifndef KNEECAP_OUT_INT_H
#define KNEECAP_OUT_INT_H

struct kc_buf;

struct kc_out {
	struct kc_buf *b;
	int rc;  /* 0, or the first write's error (KC_ENOMEM, KC_ELIMIT) */
};

/* Appends s unless an earlier write failed. */
void kc_out_puts(struct kc_out *o, const char *s);

/* Appends the formatted text unless an earlier write failed. */
__attribute__((format(printf, 2, 3)))
void kc_out_pf(struct kc_out *o, const char *fmt, ...);

#endif
