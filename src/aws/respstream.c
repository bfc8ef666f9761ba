/*
 * respstream.c - reads InvokeEndpointWithResponseStream bodies: the
 * incremental event-stream decoder (eventstream.c) plus SageMaker's
 * ResponseStream union (aws-wire.md 2.2): PayloadPart events, exception
 * and error messages.  It counts parts and their arrival times and decides
 * whether the stream ended well; it does not measure time itself (the
 * caller passes arrival times) and never allocates once the decoder's
 * buffer has grown.  Invariant: after the verdict leaves KC_RS_OK nothing
 * more is decoded, so one bad frame is one counted failure.
 */
#include "kneecap/respstream.h"
#include "respstream_int.h"

#include <stdio.h>
#include <string.h>

#include "kneecap/err.h"

int kc_rs_init(struct kc_rs *s, size_t max_bytes)
{
	KC_ASSERT(s);
	memset(s, 0, sizeof(*s));
	/* A ResponseStream message has three or four headers; 16 leaves room. */
	return kc_es_decoder_init(&s->dec, max_bytes, 16);
}

void kc_rs_fini(struct kc_rs *s)
{
	if (!s)
		return;
	kc_es_decoder_fini(&s->dec);
}

void kc_rs_begin(struct kc_rs *s)
{
	KC_ASSERT(s);
	kc_es_decoder_reset(&s->dec);
	/* a huge message (up to the decoder's cap) keeps no memory past its
	 * request: slots x threads of them would add up */
	kc_es_decoder_trim(&s->dec, KC_RS_KEEP_BYTES);
	s->verdict = KC_RS_OK;
	s->parts = 0;
	s->part_bytes = 0;
	s->first_ns = 0;
	s->last_ns = 0;
	s->code[0] = '\0';
	s->detail[0] = '\0';
	s->detail_len = 0;
}

/* Copies a header's string value (or "") into out, cut to fit. */
static void header_str(const struct kc_es_message *m, const char *name, char *out, size_t n)
{
	const struct kc_es_header *h = kc_es_find(m, name);
	size_t k = 0;
	if (h && (h->type == KC_ES_STRING || h->type == KC_ES_BYTES)) {
		k = h->len < n - 1 ? h->len : n - 1;
		memcpy(out, h->bytes, k);
	}
	out[k] = '\0';
}

static bool header_is(const struct kc_es_message *m, const char *name, const char *value)
{
	const struct kc_es_header *h = kc_es_find(m, name);
	size_t n = strlen(value);
	return h && h->type == KC_ES_STRING && h->len == n && memcmp(h->bytes, value, n) == 0;
}

static void keep_detail(struct kc_rs *s, const void *p, size_t n)
{
	size_t k = n < sizeof(s->detail) - 1 ? n : sizeof(s->detail) - 1;
	memcpy(s->detail, p, k);
	s->detail[k] = '\0';
	s->detail_len = k;
}

/* One decoded message: a part, an ignorable event, or the end of the stream. */
static void on_message(struct kc_rs *s, const struct kc_es_message *m, int64_t at_ns,
		       kc_rs_part_cb cb, void *ud)
{
	if (header_is(m, ":message-type", "event")) {
		if (!header_is(m, ":event-type", "PayloadPart"))
			return; /* unknown event types are ignored (aws-wire.md 2.2) */
		int64_t gap = s->parts ? at_ns - s->last_ns : -1;
		if (!s->parts)
			s->first_ns = at_ns;
		s->last_ns = at_ns;
		uint32_t index = s->parts++;
		s->part_bytes += m->payload_len;
		if (cb)
			cb(ud, index, at_ns, gap, m->payload_len);
		return;
	}
	if (header_is(m, ":message-type", "exception")) {
		header_str(m, ":exception-type", s->code, sizeof(s->code));
		keep_detail(s, m->payload, m->payload_len);
		s->verdict = !strcmp(s->code, "ModelStreamError") ? KC_RS_MODEL_ERROR
								  : KC_RS_STREAM_FAILURE;
		return;
	}
	if (header_is(m, ":message-type", "error")) {
		header_str(m, ":error-code", s->code, sizeof(s->code));
		char msg[KC_RS_DETAIL_MAX];
		header_str(m, ":error-message", msg, sizeof(msg));
		keep_detail(s, msg, strlen(msg));
		s->verdict = KC_RS_STREAM_FAILURE;
		return;
	}
	/* No :message-type, or one the protocol does not have. */
	snprintf(s->code, sizeof(s->code), "BadMessageType");
	snprintf(s->detail, sizeof(s->detail),
		 "event-stream message %u has no known :message-type",
		 (unsigned)s->dec.messages);
	s->detail_len = strlen(s->detail);
	s->verdict = KC_RS_BROKEN;
}

enum kc_rs_verdict kc_rs_feed(struct kc_rs *s, const void *p, size_t len, int64_t at_ns,
			      kc_rs_part_cb cb, void *ud)
{
	KC_ASSERT(s && (p || len == 0));
	const uint8_t *b = p;
	/* Each round consumes input or ends: bounded by len + messages in it. */
	while (s->verdict == KC_RS_OK && len > 0) {
		size_t used = 0;
		struct kc_es_message m;
		int rc = kc_es_decoder_feed(&s->dec, b, len, &used, &m);
		KC_ASSERT(used <= len);
		b += used;
		len -= used;
		if (rc == 1) {
			on_message(s, &m, at_ns, cb, ud);
			continue;
		}
		if (rc < 0) {
			snprintf(s->code, sizeof(s->code), "%s", kc_es_fault_str(s->dec.fault));
			snprintf(s->detail, sizeof(s->detail),
				 "not a valid event stream after %u messages: %s",
				 (unsigned)s->dec.messages, kc_es_fault_str(s->dec.fault));
			s->detail_len = strlen(s->detail);
			s->verdict = KC_RS_BROKEN;
			break;
		}
		KC_ASSERT(len == 0); /* rc 0: all input taken */
	}
	return s->verdict;
}

enum kc_rs_verdict kc_rs_end(struct kc_rs *s)
{
	KC_ASSERT(s);
	if (s->verdict == KC_RS_OK && kc_es_decoder_pending(&s->dec)) {
		snprintf(s->code, sizeof(s->code), "Truncated");
		snprintf(s->detail, sizeof(s->detail),
			 "the body ended inside event-stream message %u",
			 (unsigned)s->dec.messages + 1);
		s->detail_len = strlen(s->detail);
		s->verdict = KC_RS_BROKEN;
	}
	return s->verdict;
}

const char *kc_rs_verdict_name(enum kc_rs_verdict v)
{
	switch (v) {
	case KC_RS_OK: return "ok";
	case KC_RS_BROKEN: return "broken";
	case KC_RS_MODEL_ERROR: return "model_error";
	case KC_RS_STREAM_FAILURE: return "stream_failure";
	}
	return "unknown";
}
