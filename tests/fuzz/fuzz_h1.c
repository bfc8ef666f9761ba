/*
 * fuzz_h1.c - the native client's HTTP/1.1 response reader (src/engine/h1.h)
 * over arbitrary bytes: status line, headers, chunked framing.
 *
 * The first input byte picks the request (bit 0: HEAD, bit 1: keep
 * X-Amzn-ErrorType); the rest is what the server sent.  Checks on every
 * input: fed whole, fed one byte at a time and (for the first 2 KiB) split
 * in two at every byte, the reader reaches the same verdict, status,
 * keep-alive, consumed byte count, body bytes and error type, then the same
 * verdict at EOF; a final response's status is in 200..999; an error
 * always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPLIT_MAX 2048

struct outcome {
	int rc, eof_rc, status;
	bool keep;
	size_t used, body_len;
	uint64_t body_hash;
	char errtype[128];
};

static void on_body(void *ud, int status, const char *p, size_t n)
{
	struct outcome *o = ud;
	if (status < 200)
		abort(); /* 1xx bodies are never handed over */
	for (size_t i = 0; i < n; i++)
		o->body_hash = (o->body_hash ^ (uint8_t)p[i]) * 1099511628211u;
	o->body_len += n;
}

/* Feeds p[0..n) as pieces: first `first` bytes (0: none), then in `step`s. */
static void run(const char *p, size_t n, uint8_t flags, size_t first, size_t step,
		struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->body_hash = 14695981039346656037u;
	struct kc_h1_resp r;
	kc_h1_resp_init(&r, on_body, o);
	kc_h1_resp_begin(&r, flags & 1, flags & 2);
	size_t off = 0;
	int rc = KC_H1_MORE;
	while (rc == KC_H1_MORE && off < n) {
		size_t k = off == 0 && first ? first : step;
		if (k > n - off)
			k = n - off;
		size_t used = 0;
		rc = kc_h1_resp_feed(&r, p + off, k, &used);
		if (rc == KC_H1_MORE && used != k)
			abort();
		o->used += used;
		off += k;
	}
	o->rc = rc;
	if (rc == KC_H1_BAD && !r.why)
		abort();
	o->eof_rc = rc == KC_H1_MORE ? kc_h1_resp_eof(&r) : rc;
	if ((o->eof_rc == KC_H1_BAD || o->eof_rc == KC_H1_CUT) && !r.why)
		abort();
	if (o->eof_rc == KC_H1_DONE && (r.status < 200 || r.status > 999))
		abort();
	o->status = o->eof_rc == KC_H1_DONE ? r.status : 0;
	o->keep = o->eof_rc == KC_H1_DONE && r.keep_alive;
	if (strlen(r.errtype) != r.errtype_len)
		abort();
	memcpy(o->errtype, r.errtype, sizeof(o->errtype));
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->eof_rc != b->eof_rc || a->status != b->status ||
	    a->keep != b->keep || a->body_len != b->body_len || a->body_hash != b->body_hash ||
	    strcmp(a->errtype, b->errtype))
		abort();
	if (a->rc == KC_H1_DONE && a->used != b->used)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct outcome whole, piece;
	run(p, n, flags, 0, n ? n : 1, &whole);
	run(p, n, flags, 0, 1, &piece);
	same(&whole, &piece);
	size_t lim = n < SPLIT_MAX ? n : SPLIT_MAX;
	for (size_t cut = 1; cut < lim; cut++) {
		run(p, n, flags, cut, n, &piece);
		same(&whole, &piece);
	}
	return 0;
}
