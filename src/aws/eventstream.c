/*
 * eventstream.c - encoder and (streaming) decoder of AWS event-stream frames.
 *
 * What it is: the framing of aws-wire.md section 5 with the limits of 5.3,
 * CRC-32s from zlib.  What it is not: event signing (evsign.c wraps inner
 * messages in signed envelopes) or an interpreter of :message-type values.
 *
 * Invariant of the streaming decoder: it never trusts a length before the
 * prelude CRC has matched, never reads past a bound it checked, and once a
 * stream is broken it stays broken (a CRC failure leaves no way to find the
 * next frame).  A message lying whole inside the caller's input is decoded
 * in place; only messages split across feeds are copied, into one buffer
 * that grows as their bytes arrive (never to a length the peer merely
 * announced: a 12-byte prelude must not reserve megabytes) up to the
 * largest message seen (capped), and is then reused until trimmed.
 */
#include "kneecap/eventstream.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DEFAULT_MAX_HEADERS 64

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t crc(uint32_t seed, const uint8_t *p, size_t n)
{
	/* zlib takes uInt lengths; messages are capped far below 4 GiB. */
	return (uint32_t)crc32((uLong)seed, p, (uInt)n);
}

const char *kc_es_fault_str(enum kc_es_fault f)
{
	switch (f) {
	case KC_ES_FAULT_NONE: return "no fault";
	case KC_ES_FAULT_PRELUDE_CRC: return "Prelude checksum mismatch";
	case KC_ES_FAULT_MESSAGE_CRC: return "Message checksum mismatch";
	case KC_ES_FAULT_TOO_SHORT: return "message shorter than its prelude says";
	case KC_ES_FAULT_HEADERS_TOO_LONG: return "header block over 128 KiB";
	case KC_ES_FAULT_PAYLOAD_TOO_LONG: return "payload over 16 MiB";
	case KC_ES_FAULT_BAD_HEADER: return "malformed header";
	case KC_ES_FAULT_UNKNOWN_TYPE: return "unknown header value type";
	case KC_ES_FAULT_DUPLICATE_HEADER: return "duplicate header name";
	case KC_ES_FAULT_VALUE_TOO_LONG: return "header value over 32767 bytes";
	case KC_ES_FAULT_TOO_MANY_HEADERS: return "too many headers";
	case KC_ES_FAULT_TOO_LARGE: return "message over the decoder's cap";
	case KC_ES_FAULT_NO_MEMORY: return "out of memory for the message buffer";
	}
	return "unknown fault";
}

struct kc_es_header kc_es_string(const char *name, const char *value)
{
	return (struct kc_es_header){.name = name, .name_len = strlen(name),
				     .type = KC_ES_STRING,
				     .bytes = (const uint8_t *)value,
				     .len = strlen(value)};
}

struct kc_es_header kc_es_timestamp(const char *name, int64_t ms)
{
	return (struct kc_es_header){.name = name, .name_len = strlen(name),
				     .type = KC_ES_TIMESTAMP, .i = ms};
}

/* Bytes of a header's value on the wire (after the type byte), or -1 for an
 * unknown type. */
static long value_bytes(enum kc_es_type t, size_t len)
{
	switch (t) {
	case KC_ES_BOOL_TRUE:
	case KC_ES_BOOL_FALSE: return 0;
	case KC_ES_BYTE: return 1;
	case KC_ES_SHORT: return 2;
	case KC_ES_INT: return 4;
	case KC_ES_LONG:
	case KC_ES_TIMESTAMP: return 8;
	case KC_ES_UUID: return 16;
	case KC_ES_BYTES:
	case KC_ES_STRING: return 2 + (long)len;
	}
	return -1;
}

static bool same_name(const struct kc_es_header *a, const struct kc_es_header *b)
{
	return a->name_len == b->name_len &&
	       memcmp(a->name, b->name, a->name_len) == 0;
}

size_t kc_es_encoded_len(const struct kc_es_header *h, size_t n,
			 size_t payload_len, enum kc_es_fault *fault)
{
	enum kc_es_fault f = KC_ES_FAULT_NONE;
	size_t hb = 0;
	for (size_t i = 0; i < n && !f; i++) {
		long vb = value_bytes(h[i].type, h[i].len);
		if (vb < 0)
			f = KC_ES_FAULT_UNKNOWN_TYPE;
		else if (h[i].name_len == 0 || h[i].name_len > 255)
			f = KC_ES_FAULT_BAD_HEADER;
		else if ((h[i].type == KC_ES_BYTES || h[i].type == KC_ES_STRING) &&
			 h[i].len > KC_ES_VALUE_MAX_BYTES)
			f = KC_ES_FAULT_VALUE_TOO_LONG;
		else if (h[i].type == KC_ES_UUID && h[i].len != 16)
			f = KC_ES_FAULT_BAD_HEADER;
		for (size_t j = 0; j < i && !f; j++)
			if (same_name(&h[i], &h[j]))
				f = KC_ES_FAULT_DUPLICATE_HEADER;
		if (!f)
			hb += 1 + h[i].name_len + 1 + (size_t)vb;
		if (!f && hb > KC_ES_HEADERS_MAX_BYTES)
			f = KC_ES_FAULT_HEADERS_TOO_LONG;
	}
	if (!f && payload_len > KC_ES_PAYLOAD_MAX_BYTES)
		f = KC_ES_FAULT_PAYLOAD_TOO_LONG;
	if (fault)
		*fault = f;
	return f ? 0 : KC_ES_OVERHEAD_BYTES + hb + payload_len;
}

int kc_es_encode(const struct kc_es_header *h, size_t n, const void *payload,
		 size_t payload_len, uint8_t *out, size_t outsz, size_t *len,
		 enum kc_es_fault *fault, struct kc_diag *d)
{
	KC_ASSERT((h || n == 0) && (payload || payload_len == 0) && out && len);
	enum kc_es_fault f;
	size_t total = kc_es_encoded_len(h, n, payload_len, &f);
	if (fault)
		*fault = f;
	if (!total)
		return kc_diag_set(d, KC_EINVAL, "eventstream: %s",
				   kc_es_fault_str(f));
	if (total > outsz)
		return kc_diag_set(d, KC_ELIMIT, "eventstream: message of %zu "
				   "bytes does not fit in %zu", total, outsz);
	size_t hb = total - KC_ES_OVERHEAD_BYTES - payload_len;
	put32(out, (uint32_t)total);
	put32(out + 4, (uint32_t)hb);
	uint32_t pc = crc(0, out, 8);
	put32(out + 8, pc);
	uint8_t *w = out + KC_ES_PRELUDE_BYTES;
	for (size_t i = 0; i < n; i++) {
		*w++ = (uint8_t)h[i].name_len;
		memcpy(w, h[i].name, h[i].name_len);
		w += h[i].name_len;
		*w++ = (uint8_t)h[i].type;
		uint64_t v = (uint64_t)h[i].i;
		switch (h[i].type) {
		case KC_ES_BOOL_TRUE:
		case KC_ES_BOOL_FALSE:
			break;
		case KC_ES_BYTE:
			*w++ = (uint8_t)v;
			break;
		case KC_ES_SHORT:
			*w++ = (uint8_t)(v >> 8);
			*w++ = (uint8_t)v;
			break;
		case KC_ES_INT:
			put32(w, (uint32_t)v);
			w += 4;
			break;
		case KC_ES_LONG:
		case KC_ES_TIMESTAMP:
			put32(w, (uint32_t)(v >> 32));
			put32(w + 4, (uint32_t)v);
			w += 8;
			break;
		case KC_ES_UUID:
			memcpy(w, h[i].bytes, 16);
			w += 16;
			break;
		case KC_ES_BYTES:
		case KC_ES_STRING:
			*w++ = (uint8_t)(h[i].len >> 8);
			*w++ = (uint8_t)h[i].len;
			if (h[i].len)
				memcpy(w, h[i].bytes, h[i].len);
			w += h[i].len;
			break;
		}
	}
	if (payload_len)
		memcpy(w, payload, payload_len);
	w += payload_len;
	KC_ASSERT((size_t)(w - out) == total - 4);
	put32(w, crc(pc, out + 8, total - 12));
	*len = total;
	return KC_OK;
}

/* Checks a prelude (12 bytes): CRC first, then the lengths it claims. */
static enum kc_es_fault check_prelude(const uint8_t *p, size_t max_bytes,
				      uint32_t *total)
{
	if (crc(0, p, 8) != get32(p + 8))
		return KC_ES_FAULT_PRELUDE_CRC;
	uint32_t t = get32(p), hl = get32(p + 4);
	if (t < KC_ES_OVERHEAD_BYTES || hl > t - KC_ES_OVERHEAD_BYTES)
		return KC_ES_FAULT_TOO_SHORT;
	if (hl > KC_ES_HEADERS_MAX_BYTES)
		return KC_ES_FAULT_HEADERS_TOO_LONG;
	if (t - KC_ES_OVERHEAD_BYTES - hl > KC_ES_PAYLOAD_MAX_BYTES)
		return KC_ES_FAULT_PAYLOAD_TOO_LONG;
	if (t > max_bytes)
		return KC_ES_FAULT_TOO_LARGE;
	*total = t;
	return KC_ES_FAULT_NONE;
}

/* Parses the header block h[0..n) into hdrs; every read is bounds-checked
 * and the last header must end exactly at the block's end. */
static enum kc_es_fault parse_headers(const uint8_t *h, size_t n,
				      struct kc_es_header *hdrs, size_t cap,
				      size_t *count)
{
	size_t i = 0, k = 0;
	while (i < n) {
		size_t nl = h[i++];
		if (nl == 0 || nl > n - i || n - i - nl < 1)
			return KC_ES_FAULT_BAD_HEADER;
		if (k == cap)
			return KC_ES_FAULT_TOO_MANY_HEADERS;
		struct kc_es_header *x = &hdrs[k];
		*x = (struct kc_es_header){.name = (const char *)h + i,
					   .name_len = nl};
		i += nl;
		uint8_t t = h[i++];
		if (t > KC_ES_UUID)
			return KC_ES_FAULT_UNKNOWN_TYPE;
		x->type = (enum kc_es_type)t;
		size_t fixed = t == KC_ES_BYTES || t == KC_ES_STRING
				       ? 2 : (size_t)value_bytes(x->type, 0);
		if (fixed > n - i)
			return KC_ES_FAULT_BAD_HEADER;
		const uint8_t *v = h + i;
		uint64_t u = 0;
		for (size_t b = 0; b < fixed && t != KC_ES_UUID; b++)
			u = u << 8 | v[b];
		i += fixed;
		switch (x->type) {
		case KC_ES_BOOL_TRUE:
		case KC_ES_BOOL_FALSE:
			break;
		case KC_ES_BYTE: x->i = (int8_t)u; break;
		case KC_ES_SHORT: x->i = (int16_t)u; break;
		case KC_ES_INT: x->i = (int32_t)u; break;
		case KC_ES_LONG:
		case KC_ES_TIMESTAMP: x->i = (int64_t)u; break;
		case KC_ES_UUID:
			x->bytes = v;
			x->len = 16;
			break;
		case KC_ES_BYTES:
		case KC_ES_STRING:
			if (u > KC_ES_VALUE_MAX_BYTES)
				return KC_ES_FAULT_VALUE_TOO_LONG;
			if (u > n - i)
				return KC_ES_FAULT_BAD_HEADER;
			x->bytes = h + i;
			x->len = (size_t)u;
			i += (size_t)u;
			break;
		}
		for (size_t j = 0; j < k; j++)
			if (same_name(x, &hdrs[j]))
				return KC_ES_FAULT_DUPLICATE_HEADER;
		k++;
	}
	*count = k;
	return KC_ES_FAULT_NONE;
}

static int fault_err(enum kc_es_fault f)
{
	switch (f) {
	case KC_ES_FAULT_NONE: return KC_OK;
	case KC_ES_FAULT_PRELUDE_CRC:
	case KC_ES_FAULT_MESSAGE_CRC: return KC_ECRC;
	case KC_ES_FAULT_TOO_LARGE: return KC_ELIMIT;
	case KC_ES_FAULT_NO_MEMORY: return KC_ENOMEM;
	default: return KC_EPARSE;
	}
}

/* Decodes a complete message whose prelude already passed check_prelude. */
static enum kc_es_fault decode_checked(const uint8_t *p, size_t total,
				       struct kc_es_header *hdrs, size_t cap,
				       struct kc_es_message *msg)
{
	uint32_t pc = get32(p + 8);
	if (crc(pc, p + 8, total - 12) != get32(p + total - 4))
		return KC_ES_FAULT_MESSAGE_CRC;
	size_t hl = get32(p + 4), nh = 0;
	enum kc_es_fault f = parse_headers(p + KC_ES_PRELUDE_BYTES, hl, hdrs,
					   cap, &nh);
	if (f)
		return f;
	msg->headers = hdrs;
	msg->n_headers = nh;
	msg->payload = p + KC_ES_PRELUDE_BYTES + hl;
	msg->payload_len = total - KC_ES_OVERHEAD_BYTES - hl;
	return KC_ES_FAULT_NONE;
}

int kc_es_decode(const uint8_t *p, size_t len, struct kc_es_header *hdrs,
		 size_t cap, struct kc_es_message *msg, enum kc_es_fault *fault)
{
	KC_ASSERT(p || len == 0);
	KC_ASSERT(msg);
	enum kc_es_fault f = KC_ES_FAULT_TOO_SHORT;
	uint32_t total = 0;
	struct kc_es_message m;
	if (len >= KC_ES_PRELUDE_BYTES) {
		f = check_prelude(p, KC_ES_MESSAGE_MAX_BYTES, &total);
		if (!f && total != len)
			f = KC_ES_FAULT_TOO_SHORT;
		if (!f)
			f = decode_checked(p, total, hdrs, cap, &m);
	}
	if (fault)
		*fault = f;
	if (!f)
		*msg = m;
	return fault_err(f);
}

const struct kc_es_header *kc_es_find(const struct kc_es_message *m,
				      const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < m->n_headers; i++)
		if (m->headers[i].name_len == n &&
		    memcmp(m->headers[i].name, name, n) == 0)
			return &m->headers[i];
	return NULL;
}

int kc_es_decoder_init(struct kc_es_decoder *d, size_t max_bytes,
		       size_t max_headers)
{
	KC_ASSERT(d);
	if (max_bytes == 0)
		max_bytes = KC_ES_MESSAGE_MAX_BYTES;
	if (max_headers == 0)
		max_headers = DEFAULT_MAX_HEADERS;
	if (max_bytes < KC_ES_OVERHEAD_BYTES || max_headers > 65536)
		return KC_EINVAL;
	*d = (struct kc_es_decoder){.max_bytes = max_bytes,
				    .hdr_cap = max_headers};
	d->hdrs = calloc(max_headers, sizeof(*d->hdrs));
	return d->hdrs ? KC_OK : KC_ENOMEM;
}

void kc_es_decoder_fini(struct kc_es_decoder *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d->hdrs);
	*d = (struct kc_es_decoder){0};
}

void kc_es_decoder_reset(struct kc_es_decoder *d)
{
	KC_ASSERT(d);
	d->buf_len = 0;
	d->need = 0;
	d->fault = KC_ES_FAULT_NONE;
	d->messages = 0;
}

void kc_es_decoder_trim(struct kc_es_decoder *d, size_t keep_bytes)
{
	KC_ASSERT(d);
	if (d->buf_len > 0 || d->buf_cap <= keep_bytes)
		return;
	free(d->buf);
	d->buf = NULL;
	d->buf_cap = 0;
}

bool kc_es_decoder_pending(const struct kc_es_decoder *d)
{
	KC_ASSERT(d);
	return d->buf_len > 0;
}

static int fail(struct kc_es_decoder *d, enum kc_es_fault f)
{
	d->fault = f;
	return fault_err(f);
}

/* Appends up to want bytes of p to the partial message; returns bytes taken. */
static size_t gather(struct kc_es_decoder *d, const uint8_t *p, size_t len,
		     size_t want)
{
	size_t take = want - d->buf_len;
	if (take > len)
		take = len;
	memcpy(d->buf + d->buf_len, p, take);
	d->buf_len += take;
	return take;
}

static int grow(struct kc_es_decoder *d, size_t n)
{
	if (n <= d->buf_cap)
		return KC_OK;
	size_t cap = d->buf_cap ? d->buf_cap : 256;
	while (cap < n)
		cap *= 2;
	if (cap > d->max_bytes)
		cap = d->max_bytes;
	uint8_t *b = realloc(d->buf, cap);
	if (!b)
		return KC_ENOMEM;
	d->buf = b;
	d->buf_cap = cap;
	return KC_OK;
}

int kc_es_decoder_feed(struct kc_es_decoder *d, const uint8_t *p, size_t len,
		       size_t *used, struct kc_es_message *msg)
{
	KC_ASSERT(d && d->hdrs && used && msg && (p || len == 0));
	*used = 0;
	if (d->fault)
		return fault_err(d->fault);
	if (d->buf_len == 0 && len >= KC_ES_PRELUDE_BYTES) {
		/* Fast path: a whole message at the head of p, no copy. */
		uint32_t total;
		enum kc_es_fault f = check_prelude(p, d->max_bytes, &total);
		if (f)
			return fail(d, f);
		if (total <= len) {
			f = decode_checked(p, total, d->hdrs, d->hdr_cap, msg);
			if (f)
				return fail(d, f);
			*used = total;
			d->messages++;
			return 1;
		}
	}
	if (grow(d, KC_ES_PRELUDE_BYTES))
		return fail(d, KC_ES_FAULT_NO_MEMORY);
	size_t off = 0;
	if (d->buf_len < KC_ES_PRELUDE_BYTES) {
		off += gather(d, p, len, KC_ES_PRELUDE_BYTES);
		if (d->buf_len < KC_ES_PRELUDE_BYTES) {
			*used = off;
			return 0;
		}
		uint32_t total;
		enum kc_es_fault f = check_prelude(d->buf, d->max_bytes, &total);
		if (f) {
			*used = off;
			return fail(d, f);
		}
		d->need = total;
	}
	/* room for what arrived, not for the announced total */
	size_t want = d->buf_len + (len - off);
	if (grow(d, want < d->need ? want : d->need)) {
		*used = off;
		return fail(d, KC_ES_FAULT_NO_MEMORY);
	}
	off += gather(d, p + off, len - off, d->need);
	*used = off;
	if (d->buf_len < d->need)
		return 0;
	enum kc_es_fault f = decode_checked(d->buf, d->need, d->hdrs,
					    d->hdr_cap, msg);
	/* The message stays readable in buf until the next feed call. */
	d->buf_len = 0;
	d->need = 0;
	if (f)
		return fail(d, f);
	d->messages++;
	return 1;
}
