/*
 * test_respstream.c - the response-stream reader: PayloadParts and their
 * times whatever the byte split, exceptions and error messages, broken and
 * truncated bodies, and reuse across streams without new allocations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/respstream.h"
#include "respstream_int.h"

/* A body built from messages, and what the callback saw. */
struct body {
	uint8_t b[8192];
	size_t len;
};

struct seen {
	uint32_t n;
	uint32_t index[64];
	int64_t at[64], gap[64];
	size_t bytes;
};

static void on_part(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns, size_t len)
{
	struct seen *s = ud;
	assert_true(s->n < 64);
	s->index[s->n] = index;
	s->at[s->n] = at_ns;
	s->gap[s->n] = gap_ns;
	s->n++;
	s->bytes += len;
}

static void add(struct body *b, const struct kc_es_header *h, size_t nh, const char *payload)
{
	size_t len = 0;
	assert_int_equal(kc_es_encode(h, nh, payload, strlen(payload), b->b + b->len,
				      sizeof(b->b) - b->len, &len, NULL, NULL),
			 0);
	b->len += len;
}

static void add_part(struct body *b, const char *payload)
{
	struct kc_es_header h[] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "PayloadPart"),
		kc_es_string(":content-type", "application/octet-stream"),
	};
	add(b, h, 3, payload);
}

static void add_exception(struct body *b, const char *type, const char *json)
{
	struct kc_es_header h[] = {
		kc_es_string(":message-type", "exception"),
		kc_es_string(":exception-type", type),
		kc_es_string(":content-type", "application/json"),
	};
	add(b, h, 3, json);
}

/* Five parts, every split point: the same parts, in order, with the times given. */
static void test_parts_any_split(void **st)
{
	(void)st;
	struct body b = {.len = 0};
	const char *parts[] = {"{\"a\":", "1,", "\"b\"", ":2", "}"};
	size_t ends[5];
	for (int i = 0; i < 5; i++) {
		add_part(&b, parts[i]);
		ends[i] = b.len;
	}
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);
	for (size_t cut = 0; cut <= b.len; cut++) {
		kc_rs_begin(&rs);
		struct seen s = {0};
		/* First piece arrives at t=100, the rest at t=250. */
		assert_int_equal(kc_rs_feed(&rs, b.b, cut, 100, on_part, &s), KC_RS_OK);
		assert_int_equal(kc_rs_feed(&rs, b.b + cut, b.len - cut, 250, on_part, &s), KC_RS_OK);
		assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
		assert_int_equal(s.n, 5);
		assert_int_equal(rs.parts, 5);
		assert_int_equal(s.bytes, 13);
		assert_int_equal(rs.part_bytes, 13);
		for (uint32_t i = 0; i < 5; i++) {
			assert_int_equal(s.index[i], i);
			int64_t want = ends[i] <= cut ? 100 : 250;
			assert_int_equal(s.at[i], want);
			if (i == 0)
				assert_int_equal(s.gap[i], -1);
			else
				assert_int_equal(s.gap[i], s.at[i] - s.at[i - 1]);
		}
		assert_int_equal(rs.first_ns, s.at[0]);
		assert_int_equal(rs.last_ns, s.at[4]);
	}
	kc_rs_fini(&rs);
}

/* Byte by byte with increasing times: gaps are the differences of arrivals. */
static void test_gaps_byte_by_byte(void **st)
{
	(void)st;
	struct body b = {.len = 0};
	add_part(&b, "x");
	add_part(&b, "yy");
	add_part(&b, "zzz");
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);
	kc_rs_begin(&rs);
	struct seen s = {0};
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(kc_rs_feed(&rs, b.b + i, 1, (int64_t)i * 10, on_part, &s),
				 KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
	assert_int_equal(s.n, 3);
	/* Each part completes at its last byte. */
	assert_true(s.at[0] > 0 && s.at[1] > s.at[0] && s.at[2] > s.at[1]);
	assert_int_equal(s.at[2], (int64_t)(b.len - 1) * 10);
	assert_int_equal(s.gap[1], s.at[1] - s.at[0]);
	assert_int_equal(s.gap[2], s.at[2] - s.at[1]);
	kc_rs_fini(&rs);
}

static void test_model_stream_error(void **st)
{
	(void)st;
	struct body b = {.len = 0};
	add_part(&b, "first");
	add_exception(&b, "ModelStreamError",
		      "{\"Message\":\"boom\",\"ErrorCode\":\"StreamBroken\"}");
	add_part(&b, "after the end");
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);
	kc_rs_begin(&rs);
	struct seen s = {0};
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 5, on_part, &s), KC_RS_MODEL_ERROR);
	/* Nothing after the exception is read. */
	assert_int_equal(s.n, 1);
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 6, on_part, &s), KC_RS_MODEL_ERROR);
	assert_int_equal(s.n, 1);
	assert_int_equal(kc_rs_end(&rs), KC_RS_MODEL_ERROR);
	assert_string_equal(rs.code, "ModelStreamError");
	assert_string_equal(rs.detail, "{\"Message\":\"boom\",\"ErrorCode\":\"StreamBroken\"}");
	assert_string_equal(kc_rs_verdict_name(rs.verdict), "model_error");
	kc_rs_fini(&rs);
}

static void test_other_failures(void **st)
{
	(void)st;
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);

	struct body b = {.len = 0};
	add_exception(&b, "InternalStreamFailure", "{\"Message\":\"x\"}");
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 1, NULL, NULL), KC_RS_STREAM_FAILURE);
	assert_string_equal(rs.code, "InternalStreamFailure");

	/* An unmodelled error: code and message in headers, empty payload. */
	b.len = 0;
	struct kc_es_header eh[] = {
		kc_es_string(":message-type", "error"),
		kc_es_string(":error-code", "ThrottledStream"),
		kc_es_string(":error-message", "slow down"),
	};
	add(&b, eh, 3, "");
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 1, NULL, NULL), KC_RS_STREAM_FAILURE);
	assert_string_equal(rs.code, "ThrottledStream");
	assert_string_equal(rs.detail, "slow down");

	/* No :message-type at all: not a ResponseStream message. */
	b.len = 0;
	struct kc_es_header nh[] = {kc_es_string(":event-type", "PayloadPart")};
	add(&b, nh, 1, "x");
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 1, NULL, NULL), KC_RS_BROKEN);
	assert_int_equal(rs.parts, 0);

	/* An unknown event type is skipped; the stream goes on. */
	b.len = 0;
	struct kc_es_header uh[] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "SomethingNew"),
	};
	add(&b, uh, 2, "ignored");
	add_part(&b, "kept");
	kc_rs_begin(&rs);
	struct seen s = {0};
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 1, on_part, &s), KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.bytes, 4);

	/* An empty body is a stream with no parts, not an error. */
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, NULL, 0, 1, NULL, NULL), KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
	assert_int_equal(rs.parts, 0);
	kc_rs_fini(&rs);
}

static void test_broken_bodies(void **st)
{
	(void)st;
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);

	/* A JSON body (what /invocations answers) is no event stream. */
	const char *json = "{\"predictions\":[{\"label\":\"toy\",\"probability\":0.9}]}";
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, json, strlen(json), 1, NULL, NULL), KC_RS_BROKEN);
	assert_string_equal(rs.code, kc_es_fault_str(KC_ES_FAULT_PRELUDE_CRC));
	assert_true(rs.detail[0] != '\0');

	/* A flipped payload byte: the message CRC catches it, after one good part. */
	struct body b = {.len = 0};
	add_part(&b, "good");
	add_part(&b, "flipped");
	b.b[b.len - 6] ^= 0x40;
	kc_rs_begin(&rs);
	struct seen s = {0};
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len, 1, on_part, &s), KC_RS_BROKEN);
	assert_int_equal(s.n, 1);
	assert_string_equal(rs.code, kc_es_fault_str(KC_ES_FAULT_MESSAGE_CRC));

	/* Two equal messages cut anywhere: OK only when the cut falls between them. */
	b.len = 0;
	add_part(&b, "one");
	add_part(&b, "two");
	for (size_t cut = 1; cut < b.len; cut++) {
		kc_rs_begin(&rs);
		assert_int_equal(kc_rs_feed(&rs, b.b, cut, 1, NULL, NULL), KC_RS_OK);
		assert_int_equal(kc_rs_end(&rs), cut == b.len / 2 ? KC_RS_OK : KC_RS_BROKEN);
	}
	/* Exactly between the two messages: one part, nothing pending, OK. */
	kc_rs_begin(&rs);
	size_t between = b.len / 2;
	assert_int_equal(kc_rs_feed(&rs, b.b, between, 1, NULL, NULL), KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
	assert_int_equal(rs.parts, 1);
	/* One byte short of the end: truncated. */
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, b.b, b.len - 1, 1, NULL, NULL), KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_BROKEN);
	assert_string_equal(rs.code, "Truncated");
	assert_int_equal(rs.parts, 1);

	/* A message over the reader's cap is refused, never buffered. */
	struct kc_rs small;
	assert_int_equal(kc_rs_init(&small, 64), 0);
	b.len = 0;
	add_part(&b, "a payload long enough to push this message past sixty-four bytes");
	kc_rs_begin(&small);
	assert_int_equal(kc_rs_feed(&small, b.b, b.len, 1, NULL, NULL), KC_RS_BROKEN);
	assert_string_equal(small.code, kc_es_fault_str(KC_ES_FAULT_TOO_LARGE));
	kc_rs_fini(&small);
	kc_rs_fini(&rs);
}

/* begin() after a failure gives a clean stream; the buffer is kept. */
static void test_reuse(void **st)
{
	(void)st;
	struct body b = {.len = 0};
	add_part(&b, "0123456789");
	add_part(&b, "abcdefghij");
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);
	kc_rs_begin(&rs);
	assert_int_equal(kc_rs_feed(&rs, "garbage-garbage!", 16, 1, NULL, NULL), KC_RS_BROKEN);
	const uint8_t *buf = NULL;
	for (int round = 0; round < 3; round++) {
		kc_rs_begin(&rs);
		assert_string_equal(rs.code, "");
		struct seen s = {0};
		/* Split inside a message so it goes through the decoder's buffer. */
		assert_int_equal(kc_rs_feed(&rs, b.b, 20, 1, on_part, &s), KC_RS_OK);
		assert_int_equal(kc_rs_feed(&rs, b.b + 20, b.len - 20, 2, on_part, &s), KC_RS_OK);
		assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
		assert_int_equal(s.n, 2);
		if (round == 0)
			buf = rs.dec.buf;
		else
			assert_ptr_equal(rs.dec.buf, buf); /* no new allocation */
	}
	kc_rs_fini(&rs);
	kc_rs_fini(NULL);
}

/* A 2 MiB part split across feeds grows the decoder's buffer past
 * KC_RS_KEEP_BYTES; the next kc_rs_begin frees it, and it regrows. */
static void test_huge_message_trimmed(void **st)
{
	(void)st;
	size_t plen = 2 * 1024 * 1024, cap = plen + 256, n = 0;
	char *payload = malloc(plen);
	uint8_t *msg = malloc(cap);
	assert_non_null(payload);
	assert_non_null(msg);
	memset(payload, 'x', plen);
	struct kc_es_header h[] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "PayloadPart"),
	};
	assert_int_equal(kc_es_encode(h, 2, payload, plen, msg, cap, &n, NULL, NULL), 0);
	struct kc_rs rs;
	assert_int_equal(kc_rs_init(&rs, 0), 0);
	kc_rs_begin(&rs);
	struct seen s = {0};
	assert_int_equal(kc_rs_feed(&rs, msg, n / 2, 1, on_part, &s), KC_RS_OK);
	assert_int_equal(kc_rs_feed(&rs, msg + n / 2, n - n / 2, 2, on_part, &s), KC_RS_OK);
	assert_int_equal(kc_rs_end(&rs), KC_RS_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.bytes, plen);
	assert_true(rs.dec.buf_cap > KC_RS_KEEP_BYTES);
	kc_rs_begin(&rs);
	assert_int_equal(rs.dec.buf_cap, 0);
	struct body b = {.len = 0};
	add_part(&b, "0123456789");
	struct seen s2 = {0};
	assert_int_equal(kc_rs_feed(&rs, b.b, 20, 3, on_part, &s2), KC_RS_OK);
	assert_int_equal(kc_rs_feed(&rs, b.b + 20, b.len - 20, 4, on_part, &s2), KC_RS_OK);
	assert_int_equal(s2.n, 1);
	assert_true(rs.dec.buf_cap > 0 && rs.dec.buf_cap <= KC_RS_KEEP_BYTES);
	kc_rs_fini(&rs);
	free(msg);
	free(payload);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parts_any_split),
		cmocka_unit_test(test_gaps_byte_by_byte),
		cmocka_unit_test(test_model_stream_error),
		cmocka_unit_test(test_other_failures),
		cmocka_unit_test(test_broken_bodies),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_huge_message_trimmed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
