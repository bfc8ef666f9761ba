/* test_eventstream.c - event-stream codec against the aws-sdk-go corpus
 * (decode, re-encode, byte-by-byte streaming, negatives), the limits, and
 * chained event signing against the public vectors and the SageMaker worked
 * example, including the verifier the emulator uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/sigv4.h"

static const char *positives[] = {"all_headers", "empty_message", "int32_header",
				  "payload_no_headers", "payload_one_str_header"};
static const char *negatives[] = {"corrupted_header_len", "corrupted_headers",
				  "corrupted_length", "corrupted_payload"};

static void slurp(struct kc_buf *b, const char *rel)
{
	const char *d = getenv("KC_TESTDATA");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", d ? d : "tests/data", rel);
	kc_buf_init(b, 1 << 20);
	if (kc_buf_read_file(b, path))
		fail_msg("cannot read %s", path);
	if (!b->data)
		kc_buf_puts(b, "");
}

/* Base64 (standard, padded) into out; returns the decoded length. */
static size_t b64(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s);
	assert_true(n / 4 * 3 <= cap);
	int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(len >= 0);
	while (n > 0 && s[n - 1] == '=') {
		len--;
		n--;
	}
	return (size_t)len;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* Checks a decoded message against the corpus JSON. */
static void check_json(const struct kc_es_message *m, json_t *j, const uint8_t *raw)
{
	assert_int_equal(json_integer_value(json_object_get(j, "total_length")),
			 (uint32_t)raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3]);
	json_t *hs = json_object_get(j, "headers");
	assert_int_equal(m->n_headers, json_array_size(hs));
	uint8_t v[256];
	for (size_t i = 0; i < m->n_headers; i++) {
		json_t *h = json_array_get(hs, i);
		const struct kc_es_header *x = &m->headers[i];
		const char *name = json_string_value(json_object_get(h, "name"));
		assert_int_equal(x->name_len, strlen(name));
		assert_memory_equal(x->name, name, x->name_len);
		assert_int_equal(x->type, json_integer_value(json_object_get(h, "type")));
		json_t *val = json_object_get(h, "value");
		switch (x->type) {
		case KC_ES_BOOL_TRUE: assert_true(json_is_true(val)); break;
		case KC_ES_BOOL_FALSE: assert_true(json_is_false(val)); break;
		case KC_ES_BYTES:
		case KC_ES_STRING:
		case KC_ES_UUID: {
			size_t n = b64(json_string_value(val), v, sizeof(v));
			assert_int_equal(x->len, n);
			assert_memory_equal(x->bytes, v, n);
			break;
		}
		default:
			assert_int_equal(x->i, json_integer_value(val));
		}
	}
	uint8_t p[1024];
	size_t pn = b64(json_string_value(json_object_get(j, "payload")), p, sizeof(p));
	assert_int_equal(m->payload_len, pn);
	if (pn)
		assert_memory_equal(m->payload, p, pn);
}

/* Feeds data in pieces of `step` bytes (0 = pseudo-random 1..40) and
 * collects up to cap messages' re-encodings into outs. */
static size_t stream_decode(struct kc_es_decoder *d, const uint8_t *data, size_t len,
			    size_t step, int *err, struct kc_buf *reenc)
{
	size_t msgs = 0, off = 0;
	uint32_t rng = 12345;
	*err = 0;
	while (off < len) {
		size_t piece = step;
		if (!piece) {
			rng = rng * 1103515245u + 12345u;
			piece = 1 + (rng >> 16) % 40;
		}
		if (piece > len - off)
			piece = len - off;
		const uint8_t *p = data + off;
		size_t left = piece;
		while (left > 0) {
			size_t used = 0;
			struct kc_es_message m;
			int rc = kc_es_decoder_feed(d, p, left, &used, &m);
			assert_true(used <= left);
			p += used;
			left -= used;
			if (rc < 0) {
				*err = rc;
				return msgs;
			}
			if (rc == 1) {
				msgs++;
				if (reenc) {
					uint8_t out[4096];
					size_t n;
					assert_int_equal(kc_es_encode(m.headers, m.n_headers,
						m.payload, m.payload_len, out, sizeof(out),
						&n, NULL, NULL), 0);
					kc_buf_append(reenc, out, n);
				}
			} else {
				assert_int_equal(rc, 0);
				assert_int_equal(left, 0);
			}
		}
		off += piece;
	}
	return msgs;
}

static void test_corpus_positive(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(positives) / sizeof(positives[0]); c++) {
		char rel[256];
		struct kc_buf enc, dec;
		snprintf(rel, sizeof(rel), "eventstream/encoded/positive/%s", positives[c]);
		slurp(&enc, rel);
		snprintf(rel, sizeof(rel), "eventstream/decoded/positive/%s", positives[c]);
		slurp(&dec, rel);
		json_error_t je;
		json_t *j = json_loads(dec.data, 0, &je);
		assert_non_null(j);
		const uint8_t *raw = (const uint8_t *)enc.data;
		struct kc_es_header hs[16];
		struct kc_es_message m;
		enum kc_es_fault f;
		assert_int_equal(kc_es_decode(raw, enc.len, hs, 16, &m, &f), 0);
		assert_int_equal(f, KC_ES_FAULT_NONE);
		check_json(&m, j, raw);
		assert_int_equal(json_integer_value(json_object_get(j, "headers_length")),
				 (int64_t)(enc.len - 16 - m.payload_len));
		/* CRCs as signed 32-bit integers */
		int32_t pc = (int32_t)((uint32_t)raw[8] << 24 | raw[9] << 16 | raw[10] << 8 | raw[11]);
		const uint8_t *e = raw + enc.len - 4;
		int32_t mc = (int32_t)((uint32_t)e[0] << 24 | e[1] << 16 | e[2] << 8 | e[3]);
		assert_int_equal(pc, json_integer_value(json_object_get(j, "prelude_crc")));
		assert_int_equal(mc, json_integer_value(json_object_get(j, "message_crc")));
		/* re-encode: identical bytes */
		uint8_t out[4096];
		size_t n = 0;
		assert_int_equal(kc_es_encoded_len(m.headers, m.n_headers, m.payload_len, NULL), enc.len);
		assert_int_equal(kc_es_encode(m.headers, m.n_headers, m.payload,
					      m.payload_len, out, sizeof(out), &n, NULL, NULL), 0);
		assert_int_equal(n, enc.len);
		assert_memory_equal(out, raw, n);
		/* streaming: byte by byte, in 7s, in random pieces, whole */
		size_t steps[] = {1, 7, 0, enc.len};
		for (size_t s = 0; s < 4; s++) {
			struct kc_es_decoder d;
			assert_int_equal(kc_es_decoder_init(&d, 0, 0), 0);
			struct kc_buf re;
			kc_buf_init(&re, 1 << 20);
			int err;
			assert_int_equal(stream_decode(&d, raw, enc.len, steps[s], &err, &re), 1);
			assert_int_equal(err, 0);
			assert_int_equal(re.len, enc.len);
			assert_memory_equal(re.data, raw, enc.len);
			kc_buf_fini(&re);
			kc_es_decoder_fini(&d);
		}
		json_decref(j);
		kc_buf_fini(&enc);
		kc_buf_fini(&dec);
	}
}

static void test_corpus_negative(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(negatives) / sizeof(negatives[0]); c++) {
		char rel[256];
		struct kc_buf enc, want;
		snprintf(rel, sizeof(rel), "eventstream/encoded/negative/%s", negatives[c]);
		slurp(&enc, rel);
		snprintf(rel, sizeof(rel), "eventstream/decoded/negative/%s", negatives[c]);
		slurp(&want, rel);
		struct kc_es_header hs[16];
		struct kc_es_message m;
		enum kc_es_fault f;
		const uint8_t *raw = (const uint8_t *)enc.data;
		assert_int_equal(kc_es_decode(raw, enc.len, hs, 16, &m, &f), KC_ECRC);
		assert_string_equal(kc_es_fault_str(f), want.data);
		/* streaming, byte by byte: same fault, and it sticks */
		struct kc_es_decoder d;
		assert_int_equal(kc_es_decoder_init(&d, 0, 0), 0);
		int err;
		assert_int_equal(stream_decode(&d, raw, enc.len, 1, &err, NULL), 0);
		assert_int_equal(err, KC_ECRC);
		assert_string_equal(kc_es_fault_str(d.fault), want.data);
		size_t used;
		assert_int_equal(kc_es_decoder_feed(&d, raw, enc.len, &used, &m), KC_ECRC);
		assert_int_equal(used, 0);
		/* reset clears the sticky fault and any partial message */
		kc_es_decoder_reset(&d);
		assert_int_equal(d.fault, KC_ES_FAULT_NONE);
		assert_false(kc_es_decoder_pending(&d));
		static const uint8_t empty_msg[16] = {0, 0, 0, 0x10, 0, 0, 0, 0,
						      0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff};
		assert_int_equal(kc_es_decoder_feed(&d, empty_msg, 5, &used, &m), 0);
		assert_true(kc_es_decoder_pending(&d));
		kc_es_decoder_reset(&d);
		assert_false(kc_es_decoder_pending(&d));
		assert_int_equal(kc_es_decoder_feed(&d, empty_msg, 16, &used, &m), 1);
		assert_int_equal(used, 16);
		assert_int_equal(d.messages, 1);
		kc_es_decoder_fini(&d);
		kc_buf_fini(&enc);
		kc_buf_fini(&want);
	}
}

/* Many messages back to back, split at every kind of boundary. */
static void test_stream_many(void **state)
{
	(void)state;
	struct kc_buf all;
	kc_buf_init(&all, 1 << 22);
	uint8_t payload[3000], out[4096];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	for (int i = 0; i < 200; i++) {
		char seq[16];
		snprintf(seq, sizeof(seq), "%d", i);
		struct kc_es_header h[] = {
			kc_es_string(":message-type", "event"),
			kc_es_string("seq", seq),
			kc_es_timestamp(":date", INT64_C(1736942401000) + i),
			{.name = "b", .name_len = 1, .type = KC_ES_BYTE, .i = -i % 128},
			{.name = "s", .name_len = 1, .type = KC_ES_SHORT, .i = -i * 100},
			{.name = "n", .name_len = 1, .type = KC_ES_INT, .i = -i * 100000},
			{.name = "l", .name_len = 1, .type = KC_ES_LONG, .i = INT64_MIN + i},
			{.name = "u", .name_len = 1, .type = KC_ES_UUID, .bytes = uuid, .len = 16},
			{.name = "t", .name_len = 1, .type = i % 2 ? KC_ES_BOOL_TRUE : KC_ES_BOOL_FALSE},
		};
		size_t n;
		assert_int_equal(kc_es_encode(h, 9, payload, (size_t)(i * 13) % 3000,
					      out, sizeof(out), &n, NULL, NULL), 0);
		/* our own bytes decode as one message with the same values */
		struct kc_es_header hs[16];
		struct kc_es_message m;
		assert_int_equal(kc_es_decode(out, n, hs, 16, &m, NULL), 0);
		assert_int_equal(m.n_headers, 9);
		assert_int_equal(hs[6].i, INT64_MIN + i);
		assert_int_equal(hs[4].i, -i * 100);
		assert_int_equal(kc_es_find(&m, "t")->type,
				 i % 2 ? KC_ES_BOOL_TRUE : KC_ES_BOOL_FALSE);
		kc_buf_append(&all, out, n);
	}
	size_t steps[] = {1, 3, 16, 0, 4096, all.len};
	for (size_t s = 0; s < 6; s++) {
		struct kc_es_decoder d;
		assert_int_equal(kc_es_decoder_init(&d, 8192, 16), 0);
		struct kc_buf re;
		kc_buf_init(&re, 1 << 22);
		int err;
		assert_int_equal(stream_decode(&d, (uint8_t *)all.data, all.len, steps[s], &err, &re), 200);
		assert_int_equal(err, 0);
		assert_int_equal(d.messages, 200);
		assert_true(d.buf_cap <= 8192);
		assert_int_equal(re.len, all.len);
		assert_memory_equal(re.data, all.data, all.len);
		kc_buf_fini(&re);
		kc_es_decoder_fini(&d);
	}
	kc_buf_fini(&all);
}

/* Writes a prelude with a correct CRC. */
static void prelude(uint8_t *p, uint32_t total, uint32_t hl)
{
	uint32_t v[2] = {total, hl};
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 4; i++)
			p[4 * k + i] = (uint8_t)(v[k] >> (24 - 8 * i));
	uint32_t c = (uint32_t)crc32(0, p, 8);
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(c >> (24 - 8 * i));
}

/* Builds a message around a raw header block with correct CRCs. */
static size_t craft(uint8_t *out, const uint8_t *hdr, size_t hl)
{
	size_t total = 16 + hl;
	prelude(out, (uint32_t)total, (uint32_t)hl);
	memcpy(out + 12, hdr, hl);
	uint32_t c = (uint32_t)crc32(0, out, (uInt)(total - 4));
	for (int i = 0; i < 4; i++)
		out[total - 4 + i] = (uint8_t)(c >> (24 - 8 * i));
	return total;
}

static enum kc_es_fault decode_fault(const uint8_t *p, size_t n)
{
	struct kc_es_header hs[4];
	struct kc_es_message m;
	enum kc_es_fault f;
	int rc = kc_es_decode(p, n, hs, 4, &m, &f);
	assert_true(rc < 0);
	return f;
}

static void test_limits(void **state)
{
	(void)state;
	uint8_t buf[256];
	/* minimum message */
	static const uint8_t min[16] = {0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48,
					0xeb, 0x7d, 0x98, 0xc8, 0xff};
	size_t n;
	assert_int_equal(kc_es_encode(NULL, 0, NULL, 0, buf, sizeof(buf), &n, NULL, NULL), 0);
	assert_int_equal(n, 16);
	assert_memory_equal(buf, min, 16);
	/* total < 16, headers longer than the message, over 128 KiB, payload
	 * over 16 MiB: all refused at the prelude */
	prelude(buf, 15, 0);
	assert_int_equal(decode_fault(buf, 16), KC_ES_FAULT_TOO_SHORT);
	prelude(buf, 20, 8);
	assert_int_equal(decode_fault(buf, 20), KC_ES_FAULT_TOO_SHORT);
	prelude(buf, 16 + 128 * 1024 + 1, 128 * 1024 + 1);
	assert_int_equal(decode_fault(buf, 16), KC_ES_FAULT_HEADERS_TOO_LONG);
	prelude(buf, 16 + 16 * 1024 * 1024 + 1, 0);
	assert_int_equal(decode_fault(buf, 16), KC_ES_FAULT_PAYLOAD_TOO_LONG);
	/* a streaming decoder with a small cap refuses a large prelude at once */
	struct kc_es_decoder d;
	assert_int_equal(kc_es_decoder_init(&d, 1024, 4), 0);
	prelude(buf, 2048, 0);
	size_t used;
	struct kc_es_message m;
	assert_int_equal(kc_es_decoder_feed(&d, buf, 12, &used, &m), KC_ELIMIT);
	assert_int_equal(d.fault, KC_ES_FAULT_TOO_LARGE);
	kc_es_decoder_fini(&d);

	/* a prelude announcing a 7 MiB message reserves nothing up front: the
	 * buffer grows with the bytes that arrive, and trim frees it */
	assert_int_equal(kc_es_decoder_init(&d, 0, 4), 0);
	prelude(buf, 7 * 1024 * 1024, 0);
	assert_int_equal(kc_es_decoder_feed(&d, buf, 12, &used, &m), 0);
	assert_int_equal(used, 12);
	assert_true(d.buf_cap <= 4096);
	static uint8_t chunk[300000];
	assert_int_equal(kc_es_decoder_feed(&d, chunk, sizeof(chunk), &used, &m), 0);
	assert_int_equal(used, sizeof(chunk));
	assert_true(d.buf_cap >= 12 + sizeof(chunk) && d.buf_cap <= 2 * (12 + sizeof(chunk)));
	kc_es_decoder_trim(&d, 1024); /* a partial message is kept */
	assert_true(d.buf_cap >= 12 + sizeof(chunk));
	kc_es_decoder_reset(&d);
	kc_es_decoder_trim(&d, 1024 * 1024); /* small enough: kept */
	assert_true(d.buf_cap > 0);
	kc_es_decoder_trim(&d, 1024);
	assert_int_equal(d.buf_cap, 0);
	assert_null(d.buf);
	/* and it regrows for a message split across feeds */
	assert_int_equal(kc_es_encode(NULL, 0, "hello", 5, buf, sizeof(buf), &n, NULL, NULL), 0);
	assert_int_equal(kc_es_decoder_feed(&d, buf, 5, &used, &m), 0);
	assert_int_equal(kc_es_decoder_feed(&d, buf + 5, n - 5, &used, &m), 1);
	assert_int_equal(m.payload_len, 5);
	assert_memory_equal(m.payload, "hello", 5);
	kc_es_decoder_fini(&d);

	/* header-level faults, with valid CRCs around them */
	uint8_t out[512];
	static const uint8_t unknown_type[] = {1, 'a', 10};
	assert_int_equal(decode_fault(out, craft(out, unknown_type, 3)), KC_ES_FAULT_UNKNOWN_TYPE);
	static const uint8_t dup[] = {1, 'a', 0, 1, 'a', 1};
	assert_int_equal(decode_fault(out, craft(out, dup, 6)), KC_ES_FAULT_DUPLICATE_HEADER);
	static const uint8_t empty_name[] = {0, 0};
	assert_int_equal(decode_fault(out, craft(out, empty_name, 2)), KC_ES_FAULT_BAD_HEADER);
	static const uint8_t short_int[] = {1, 'a', 4, 0, 0};
	assert_int_equal(decode_fault(out, craft(out, short_int, 5)), KC_ES_FAULT_BAD_HEADER);
	static const uint8_t str_overrun[] = {1, 'a', 7, 0, 9, 'x'};
	assert_int_equal(decode_fault(out, craft(out, str_overrun, 6)), KC_ES_FAULT_BAD_HEADER);
	static const uint8_t str_too_long[] = {1, 'a', 7, 0x80, 0x00};
	assert_int_equal(decode_fault(out, craft(out, str_too_long, 5)), KC_ES_FAULT_VALUE_TOO_LONG);
	static const uint8_t name_overrun[] = {9, 'a', 'b'};
	assert_int_equal(decode_fault(out, craft(out, name_overrun, 3)), KC_ES_FAULT_BAD_HEADER);
	static const uint8_t five[] = {1, 'a', 0, 1, 'b', 0, 1, 'c', 0, 1, 'd', 0, 1, 'e', 0};
	assert_int_equal(decode_fault(out, craft(out, five, 15)), KC_ES_FAULT_TOO_MANY_HEADERS);

	/* encoder refuses what the decoder would refuse */
	enum kc_es_fault f;
	struct kc_es_header two[] = {kc_es_string("x", "1"), kc_es_string("x", "2")};
	assert_int_equal(kc_es_encode(two, 2, NULL, 0, out, sizeof(out), &n, &f, NULL), KC_EINVAL);
	assert_int_equal(f, KC_ES_FAULT_DUPLICATE_HEADER);
	static char big[32768 + 1];
	memset(big, 'v', sizeof(big) - 1);
	struct kc_es_header lng = kc_es_string("x", big);
	assert_int_equal(kc_es_encoded_len(&lng, 1, 0, &f), 0);
	assert_int_equal(f, KC_ES_FAULT_VALUE_TOO_LONG);
	big[32767] = '\0';
	lng = kc_es_string("x", big);
	assert_int_equal(kc_es_encoded_len(&lng, 1, 0, &f), 16 + 1 + 1 + 1 + 2 + 32767);
	struct kc_es_header bad = {.name = "x", .name_len = 1, .type = (enum kc_es_type)11};
	assert_int_equal(kc_es_encoded_len(&bad, 1, 0, &f), 0);
	assert_int_equal(f, KC_ES_FAULT_UNKNOWN_TYPE);
	assert_int_equal(kc_es_encoded_len(NULL, 0, KC_ES_PAYLOAD_MAX_BYTES + 1, &f), 0);
	assert_int_equal(f, KC_ES_FAULT_PAYLOAD_TOO_LONG);
	/* five 32767-byte values pass 128 KiB of headers */
	static char names[5][2] = {"a", "b", "c", "d", "e"};
	struct kc_es_header five_big[5];
	for (int i = 0; i < 5; i++)
		five_big[i] = (struct kc_es_header){.name = names[i], .name_len = 1,
			.type = KC_ES_BYTES, .bytes = (uint8_t *)big, .len = 32767};
	assert_int_equal(kc_es_encoded_len(five_big, 5, 0, &f), 0);
	assert_int_equal(f, KC_ES_FAULT_HEADERS_TOO_LONG);
	/* too small an output buffer */
	struct kc_es_header one = kc_es_string("x", "1");
	assert_int_equal(kc_es_encode(&one, 1, NULL, 0, out, 10, &n, NULL, NULL), KC_ELIMIT);
}

/* Mutated and random input never crashes the decoders (ASan run) and never
 * yields a message that differs from what was encoded. */
static void test_mutations(void **state)
{
	(void)state;
	struct kc_buf enc;
	slurp(&enc, "eventstream/encoded/positive/all_headers");
	uint8_t m[512];
	assert_true(enc.len <= sizeof(m));
	uint32_t rng = 99;
	int decoded = 0;
	for (int it = 0; it < 3000; it++) {
		memcpy(m, enc.data, enc.len);
		int flips = 1 + it % 4;
		for (int f = 0; f < flips; f++) {
			rng = rng * 1103515245u + 12345u;
			m[(rng >> 8) % enc.len] ^= (uint8_t)(1u << ((rng >> 4) & 7));
		}
		/* sometimes also make the CRCs right, to reach the header parser */
		if (it % 2) {
			uint32_t hl = (uint32_t)m[4] << 24 | m[5] << 16 | m[6] << 8 | m[7];
			if (hl <= enc.len - 16) {
				prelude(m, (uint32_t)enc.len, hl);
				uint32_t c = (uint32_t)crc32(0, m, (uInt)(enc.len - 4));
				for (int i = 0; i < 4; i++)
					m[enc.len - 4 + i] = (uint8_t)(c >> (24 - 8 * i));
			}
		}
		struct kc_es_header hs[16];
		struct kc_es_message msg;
		int rc = kc_es_decode(m, enc.len, hs, 16, &msg, NULL);
		if (rc == 0) {
			decoded++;
			uint8_t out[512];
			size_t n;
			/* a message that decodes must re-encode to the same bytes,
			 * unless the mutation created a duplicate-free variant the
			 * encoder rejects for a stricter reason */
			if (kc_es_encode(msg.headers, msg.n_headers, msg.payload,
					 msg.payload_len, out, sizeof(out), &n, NULL, NULL) == 0) {
				assert_int_equal(n, enc.len);
				assert_memory_equal(out, m, n);
			}
		}
		struct kc_es_decoder d;
		assert_int_equal(kc_es_decoder_init(&d, 4096, 16), 0);
		int err;
		size_t got = stream_decode(&d, m, enc.len, 1 + it % 5, &err, NULL);
		assert_true((got == 1) == (rc == 0));
		kc_es_decoder_fini(&d);
	}
	/* random garbage */
	for (int it = 0; it < 200; it++) {
		uint8_t g[300];
		for (size_t i = 0; i < sizeof(g); i++) {
			rng = rng * 1103515245u + 12345u;
			g[i] = (uint8_t)(rng >> 16);
		}
		struct kc_es_decoder d;
		assert_int_equal(kc_es_decoder_init(&d, 0, 0), 0);
		int err;
		assert_int_equal(stream_decode(&d, g, sizeof(g), 0, &err, NULL), 0);
		assert_true(err < 0);
		kc_es_decoder_fini(&d);
	}
	print_message("mutations: %d of 3000 still decoded (CRCs recomputed)\n", decoded);
	kc_buf_fini(&enc);
}

/* ---- event signing ---- */

static json_t *load_json(const char *rel)
{
	const char *d = getenv("KC_TESTDATA");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", d ? d : "tests/data", rel);
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j)
		fail_msg("%s: %s", path, e.text);
	return j;
}

static int64_t iso_to_s(const char *iso)
{
	struct tm tm = {0};
	assert_int_equal(sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon,
				&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec), 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static struct kc_sigv4_signer *signer_from(json_t *cr, const char *tokkey,
					   json_t *ctx, bool sha)
{
	struct kc_sigv4_config cfg = {
		.access_key_id = json_string_value(json_object_get(cr, "access_key_id")),
		.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key")),
		.session_token = json_string_value(json_object_get(cr, tokkey)),
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.sign_content_sha256 = sha,
	};
	struct kc_sigv4_signer *s = NULL;
	assert_int_equal(kc_sigv4_signer_new(&s, &cfg, NULL), 0);
	return s;
}

static void test_evsign_aws_c_auth(void **state)
{
	(void)state;
	json_t *all = load_json("sigv4/event-signing/vectors.json");
	json_t *v = json_object_get(all, "aws-c-auth");
	struct kc_sigv4_signer *s = signer_from(json_object_get(v, "credentials"),
						"token", v, true);
	/* the seed: the initial request signed with STREAMING-...-EVENTS */
	json_t *ir = json_object_get(v, "initial_request");
	json_t *hs = json_object_get(ir, "headers");
	struct kc_sigv4_header h[4];
	for (size_t i = 0; i < json_array_size(hs); i++) {
		const char *k = json_string_value(json_array_get(json_array_get(hs, i), 0));
		const char *val = json_string_value(json_array_get(json_array_get(hs, i), 1));
		h[i] = (struct kc_sigv4_header){k, strlen(k), val, strlen(val)};
	}
	struct kc_sigv4_request req = {
		.method = json_string_value(json_object_get(ir, "method")),
		.path = json_string_value(json_object_get(ir, "path")),
		.headers = h, .n_headers = json_array_size(hs),
		.payload_hash = json_string_value(json_object_get(ir, "payload_hash_value")),
		.time_s = iso_to_s(json_string_value(json_object_get(ir, "signing_time"))),
	};
	char hb[1024];
	struct kc_sigv4_signed sg;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, NULL), 0);
	assert_string_equal(strstr(sg.authorization, ": ") + 2,
			    json_string_value(json_object_get(ir, "expected_authorization")));
	assert_string_equal(sg.signature,
			    json_string_value(json_object_get(ir, "expected_seed_signature")));
	assert_string_equal(sg.content_sha256, "X-Amz-Content-SHA256: " KC_SIGV4_STREAMING_EVENTS);

	struct kc_evsign e, ver;
	assert_int_equal(kc_evsign_init(&e, s, sg.signature), 0);
	struct kc_sigv4_signer *vs = signer_from(json_object_get(v, "credentials"),
						 "token", v, false);
	assert_int_equal(kc_evsign_init(&ver, vs, sg.signature), 0);
	json_t *evs = json_object_get(v, "events");
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *ev = json_array_get(evs, i);
		const char *pl = json_string_value(json_object_get(ev, "payload_ascii"));
		int64_t t = iso_to_s(json_string_value(json_object_get(ev, "signing_time")));
		uint8_t out[256];
		size_t n;
		assert_int_equal(kc_evsign_sign(&e, pl, strlen(pl), t * 1000, out,
						sizeof(out), &n), 0);
		assert_int_equal(n, strlen(pl) + KC_EVSIGN_OVERHEAD_BYTES);
		assert_string_equal(e.prior,
				    json_string_value(json_object_get(ev, "expected_signature")));
		/* the verifier accepts the frame we wrote */
		struct kc_es_header oh[4];
		struct kc_es_message m;
		assert_int_equal(kc_es_decode(out, n, oh, 4, &m, NULL), 0);
		enum kc_evsign_verdict vd;
		assert_int_equal(kc_evsign_verify(&ver, &m, t * 1000, 300000, &vd), 0);
		assert_int_equal(vd, KC_EVSIGN_OK);
	}
	assert_true(e.finished);
	assert_true(ver.finished);
	uint8_t out[256];
	size_t n;
	assert_int_equal(kc_evsign_sign(&e, "X", 1, 0, out, sizeof(out), &n), KC_EINVAL);
	kc_sigv4_signer_free(vs);
	kc_sigv4_signer_free(s);
	json_decref(all);
}

static void test_evsign_aws_sdk_go(void **state)
{
	(void)state;
	json_t *all = load_json("sigv4/event-signing/vectors.json");
	json_t *v = json_object_get(all, "aws-sdk-go");
	struct kc_sigv4_signer *s = signer_from(json_object_get(v, "credentials"),
						"token", v, false);
	char prior[KC_SIGV4_HEX_LEN + 1];
	snprintf(prior, sizeof(prior), "%s",
		 json_string_value(json_object_get(v, "seed_signature")));
	int64_t t = iso_to_s(json_string_value(json_object_get(v, "signing_time")));
	json_t *ch = json_object_get(v, "chunks");
	for (size_t i = 0; i < json_array_size(ch); i++) {
		json_t *c = json_array_get(ch, i);
		const char *hdr = json_string_value(json_object_get(c, "header_bytes_ascii"));
		const char *pl = json_string_value(json_object_get(c, "payload_ascii"));
		uint8_t sig[32];
		assert_int_equal(kc_evsign_signature(s, prior, t, hdr, strlen(hdr), pl,
						     strlen(pl), sig), 0);
		kc_sigv4_hex(sig, 32, prior);
		assert_string_equal(prior, json_string_value(json_object_get(c, "expected_signature")));
	}
	kc_sigv4_signer_free(s);
	json_decref(all);
}

/* Encodes an inner message from examples.json [[name, value], ...]. */
static size_t inner_from(json_t *hs, const uint8_t *pl, size_t pn, uint8_t *out, size_t cap)
{
	struct kc_es_header h[8];
	size_t n = json_array_size(hs);
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		json_t *kv = json_array_get(hs, i);
		h[i] = kc_es_string(json_string_value(json_array_get(kv, 0)),
				    json_string_value(json_array_get(kv, json_array_size(kv) - 1)));
	}
	size_t len;
	assert_int_equal(kc_es_encode(h, n, pl, pn, out, cap, &len, NULL, NULL), 0);
	return len;
}

static void test_evsign_sagemaker_example(void **state)
{
	(void)state;
	json_t *all = load_json("sigv4/sagemaker-derived/examples.json");
	json_t *bi = json_object_get(all, "bidirectional_stream");
	struct kc_sigv4_signer *s = signer_from(json_object_get(bi, "credentials"),
						"session_token", bi, false);
	struct kc_sigv4_signer *vs = signer_from(json_object_get(bi, "credentials"),
						 "session_token", bi, false);
	const char *seed = json_string_value(json_object_get(bi, "seed_signature"));
	struct kc_evsign e, ver;
	assert_int_equal(kc_evsign_init(&e, s, seed), 0);
	assert_int_equal(kc_evsign_init(&ver, vs, seed), 0);
	json_t *evs = json_object_get(bi, "events");
	assert_int_equal(json_array_size(evs), 3);
	static uint8_t outs[3][1024];
	size_t outn[3];
	for (size_t i = 0; i < 3; i++) {
		json_t *ev = json_array_get(evs, i);
		uint8_t pl[256], want_inner[1024], want_outer[1024], inner[1024], dh[15], want_dh[15];
		size_t pn = unhex(json_string_value(json_object_get(ev, "inner_payload_hex")), pl, sizeof(pl));
		size_t wi = unhex(json_string_value(json_object_get(ev, "inner_message_hex")), want_inner, sizeof(want_inner));
		size_t wo = unhex(json_string_value(json_object_get(ev, "outer_message_hex")), want_outer, sizeof(want_outer));
		int64_t ms = json_integer_value(json_object_get(ev, "date_epoch_ms"));
		unhex(json_string_value(json_object_get(ev, "encoded_date_header_hex")), want_dh, 15);
		kc_evsign_date_header(ms, dh);
		assert_memory_equal(dh, want_dh, 15);
		size_t in = 0;
		json_t *ih = json_object_get(ev, "inner_headers");
		if (json_is_array(ih)) {
			in = inner_from(ih, pl, pn, inner, sizeof(inner));
			assert_int_equal(in, wi);
			assert_memory_equal(inner, want_inner, in);
		} else {
			assert_int_equal(wi, 0); /* the final empty frame */
		}
		assert_string_equal(e.prior, json_string_value(json_object_get(ev, "prior_signature")));
		assert_int_equal(kc_evsign_sign(&e, inner, in, ms, outs[i], sizeof(outs[i]), &outn[i]), 0);
		assert_string_equal(e.prior, json_string_value(json_object_get(ev, "signature")));
		assert_int_equal(outn[i], wo);
		assert_memory_equal(outs[i], want_outer, wo);
	}
	assert_true(e.finished);
	assert_int_equal(outn[2], 83);

	/* verifier: out of order fails and leaves the chain; then in order
	 * passes; a flipped payload bit fails its CRC, a forged signature with
	 * fixed CRCs fails the chain */
	struct kc_es_header oh[4];
	struct kc_es_message m;
	enum kc_evsign_verdict vd;
	int64_t now = INT64_C(1736942401000);
	assert_int_equal(kc_es_decode(outs[1], outn[1], oh, 4, &m, NULL), 0);
	assert_int_equal(kc_evsign_verify(&ver, &m, now, 300000, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_BAD_SIGNATURE);
	assert_int_equal(kc_es_decode(outs[0], outn[0], oh, 4, &m, NULL), 0);
	assert_int_equal(kc_evsign_verify(&ver, &m, now + 400000, 300000, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_SKEWED);
	assert_int_equal(kc_evsign_verify(&ver, &m, now, 300000, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_OK);
	uint8_t forged[1024];
	memcpy(forged, outs[1], outn[1]);
	forged[outn[1] - 5] ^= 1; /* last inner byte: inner CRC */
	assert_int_equal(kc_es_decode(forged, outn[1], oh, 4, &m, NULL), KC_ECRC);
	struct kc_es_header fh[2];
	assert_int_equal(kc_es_decode(outs[1], outn[1], oh, 4, &m, NULL), 0);
	fh[0] = oh[0];
	fh[1] = oh[1];
	uint8_t badsig[32];
	memcpy(badsig, oh[1].bytes, 32);
	badsig[0] ^= 0x80;
	fh[1].bytes = badsig;
	size_t fn;
	assert_int_equal(kc_es_encode(fh, 2, m.payload, m.payload_len, forged,
				      sizeof(forged), &fn, NULL, NULL), 0);
	struct kc_es_header fh2[4];
	struct kc_es_message fm;
	assert_int_equal(kc_es_decode(forged, fn, fh2, 4, &fm, NULL), 0);
	assert_int_equal(kc_evsign_verify(&ver, &fm, now, 300000, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_BAD_SIGNATURE);
	/* missing :chunk-signature */
	struct kc_es_message nosig = {fh2, 1, fm.payload, fm.payload_len};
	assert_int_equal(kc_evsign_verify(&ver, &nosig, now, 300000, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_MALFORMED);
	for (size_t i = 1; i < 3; i++) {
		assert_int_equal(kc_es_decode(outs[i], outn[i], oh, 4, &m, NULL), 0);
		assert_int_equal(kc_evsign_verify(&ver, &m, now, -1, &vd), 0);
		assert_int_equal(vd, KC_EVSIGN_OK);
	}
	assert_true(ver.finished);
	assert_int_equal(kc_evsign_verify(&ver, &m, now, -1, &vd), 0);
	assert_int_equal(vd, KC_EVSIGN_AFTER_END);

	/* response-side events: decode and re-encode byte for byte */
	json_t *re = json_object_get(all, "response_events");
	for (size_t i = 0; i < json_array_size(re); i++) {
		json_t *r = json_array_get(re, i);
		uint8_t msg[1024], again[1024];
		size_t mn = unhex(json_string_value(json_object_get(r, "message_hex")), msg, sizeof(msg));
		struct kc_es_header rh[8];
		assert_int_equal(kc_es_decode(msg, mn, rh, 8, &m, NULL), 0);
		const char *pu = json_string_value(json_object_get(r, "payload_utf8"));
		assert_int_equal(m.payload_len, strlen(pu));
		size_t an = inner_from(json_object_get(r, "headers"), (const uint8_t *)pu,
				       strlen(pu), again, sizeof(again));
		assert_int_equal(an, mn);
		assert_memory_equal(again, msg, mn);
	}
	kc_sigv4_signer_free(vs);
	kc_sigv4_signer_free(s);
	json_decref(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_positive),
		cmocka_unit_test(test_corpus_negative),
		cmocka_unit_test(test_stream_many),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_evsign_aws_c_auth),
		cmocka_unit_test(test_evsign_aws_sdk_go),
		cmocka_unit_test(test_evsign_sagemaker_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
