/*
 * fuzz_eventstream.c - the event-stream decoders over arbitrary bytes.
 *
 * Three checks on every input:
 *  1. kc_es_decode on the whole input; when it accepts, re-encoding the
 *     decoded headers and payload must give back exactly the input bytes
 *     (the framing is canonical, so a decoder that accepts something the
 *     encoder would write differently has misread a field).
 *  2. The incremental decoder fed the whole input at once, then the same
 *     input in pseudo-random pieces (sizes from a generator seeded by the
 *     input): both must yield the same messages and end in the same state.
 *  3. Every decoded message is re-decoded with kc_es_decode from its own
 *     re-encoding, which must succeed.
 * It is not a check of the decoders' limits at full size: the incremental
 * decoder is capped at 64 KiB so one input stays fast.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/eventstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_BYTES (64 * 1024)
#define FZ_MAX_HEADERS 32
#define FZ_MAX_MESSAGES 256

/* What a stream decode produced, to compare two feeding patterns. */
struct outcome {
	size_t messages;
	uint32_t digest; /* over every message's payload and header count */
	int rc;          /* the last return: 0 or the sticky error */
};

static uint32_t mix(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u; /* FNV-1a */
	return h;
}

static void check_reencode(const struct kc_es_message *m, const uint8_t *orig,
			   size_t orig_len)
{
	static uint8_t out[FZ_MAX_BYTES + 64];
	size_t n = 0;
	enum kc_es_fault f;
	int rc = kc_es_encode(m->headers, m->n_headers, m->payload,
			      m->payload_len, out, sizeof(out), &n, &f, NULL);
	if (rc != 0)
		abort(); /* a decoded message must be encodable */
	if (orig && (n != orig_len || memcmp(out, orig, n) != 0))
		abort(); /* decode is not the inverse of encode */
	struct kc_es_header h2[FZ_MAX_HEADERS];
	struct kc_es_message m2;
	if (kc_es_decode(out, n, h2, FZ_MAX_HEADERS, &m2, &f) != 0)
		abort();
	if (m2.n_headers != m->n_headers || m2.payload_len != m->payload_len)
		abort();
}

/* Feeds data in pieces; piece sizes come from a xorshift seeded by seed
 * (seed 0: all at once). */
static struct outcome run_stream(const uint8_t *data, size_t size, uint32_t seed)
{
	struct outcome o = {0, 2166136261u, 0};
	struct kc_es_decoder d;
	if (kc_es_decoder_init(&d, FZ_MAX_BYTES, FZ_MAX_HEADERS) != 0)
		abort();
	size_t off = 0;
	uint32_t x = seed | 1;
	while (off < size && o.messages < FZ_MAX_MESSAGES) {
		size_t piece = size - off;
		if (seed) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			/* Mostly small pieces, sometimes large ones. */
			size_t cap = (x & 0x100) ? 4096 : 17;
			piece = 1 + (x >> 9) % cap;
			if (piece > size - off)
				piece = size - off;
		}
		/* A copy of exactly the piece, so ASan sees reads past it. */
		uint8_t *chunk = malloc(piece);
		if (!chunk)
			abort();
		memcpy(chunk, data + off, piece);
		size_t pos = 0;
		int rc = 0;
		while (pos < piece && o.messages < FZ_MAX_MESSAGES) {
			size_t used = 0;
			struct kc_es_message m;
			rc = kc_es_decoder_feed(&d, chunk + pos, piece - pos, &used, &m);
			if (used > piece - pos)
				abort();
			pos += used;
			if (rc == 1) {
				o.messages++;
				o.digest = mix(o.digest, m.payload, m.payload_len);
				o.digest = mix(o.digest, (const uint8_t *)&m.n_headers,
					       sizeof(m.n_headers));
				check_reencode(&m, NULL, 0);
				continue;
			}
			if (rc < 0) {
				/* Sticky: the same error again, nothing consumed. */
				size_t u2 = 99;
				struct kc_es_message m3;
				if (kc_es_decoder_feed(&d, chunk, piece, &u2, &m3) != rc)
					abort();
			}
			break;
		}
		free(chunk);
		o.rc = rc < 0 ? rc : 0;
		if (rc < 0)
			break;
		off += piece;
	}
	if (d.messages != o.messages)
		abort();
	kc_es_decoder_fini(&d);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FZ_MAX_BYTES)
		return 0;
	struct kc_es_header hdrs[FZ_MAX_HEADERS];
	struct kc_es_message msg;
	enum kc_es_fault fault = KC_ES_FAULT_NONE;
	int rc = kc_es_decode(data, size, hdrs, FZ_MAX_HEADERS, &msg, &fault);
	if (rc == 0) {
		if (fault != KC_ES_FAULT_NONE && fault > KC_ES_FAULT_NO_MEMORY)
			abort();
		check_reencode(&msg, data, size);
	} else if (fault == KC_ES_FAULT_NONE || kc_es_fault_str(fault) == NULL) {
		abort(); /* a refusal must say why */
	}

	struct outcome whole = run_stream(data, size, 0);
	uint32_t seed = (uint32_t)size * 2654435761u;
	if (size)
		seed ^= (uint32_t)data[0] << 8 | data[size - 1];
	struct outcome pieces = run_stream(data, size, seed | 2);
	if (whole.messages != pieces.messages || whole.digest != pieces.digest ||
	    whole.rc != pieces.rc)
		abort(); /* the result depends on how the bytes were split */
	return 0;
}
