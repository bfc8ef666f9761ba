/*
 * bidireq.c - the request side of a bidirectional stream: the initial
 * headers (path, query string, SigV4 or an expired token), the event-stream
 * frames and their signature chain, and the injected exception events
 * (bidifault.c) that end a stream early.  Each accepted audio chunk queues
 * its reply in the slot's ring; bidi.c sends it when due.
 */
#include "bidi_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

/* ---- request events ------------------------------------------------------ */

static void stream_fail(struct slot *s, uint32_t code)
{
	nghttp2_submit_rst_stream(s->c->io.s, NGHTTP2_FLAG_NONE, s->id, code);
	bidi_mark_dirty(s->c);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The stream ends with an exception event (ModelStreamError with its
 * ErrorCode, or InternalStreamFailure) in place of its replies, then
 * END_STREAM; later chunks are read and dropped.
 */
static void exception_event(struct kc_bidi *b, struct slot *s,
			    const struct kc_bidi_fault_error *fe)
{
	char json[256];
	size_t n = kc_bidi_fault_error_json(fe, json, sizeof(json));
	struct kc_es_header h[3] = {
		kc_es_string(":message-type", "exception"),
		kc_es_string(":exception-type", fe->type),
		kc_es_string(":content-type", "application/json"),
	};
	size_t len;
	if (s->out_len + 512 <= OUT_CAP &&
	    kc_es_encode(h, 3, json, n, s->out + s->out_len, OUT_CAP - s->out_len, &len, NULL,
			 NULL) == 0)
		s->out_len += len;
	INC(b, errors_injected);
	s->eof = true;
	s->stream_failed = true;
	nghttp2_session_resume_data(s->c->io.s, s->id);
	bidi_mark_dirty(s->c);
}

/* One outer message from the client: verify, unwrap, schedule the reply. */
static int on_event(struct kc_bidi *b, struct slot *s, const struct kc_es_message *outer)
{
	if (s->verifying) {
		enum kc_evsign_verdict v;
		if (kc_evsign_verify(&s->chain, outer, wall_ms(), SKEW_MS, &v) ||
		    v != KC_EVSIGN_OK) {
			INC(b, bad_signatures);
			return -1;
		}
	}
	if (outer->payload_len == 0) {
		s->final_seen = true;
		return 0;
	}
	struct kc_es_header ih[16];
	struct kc_es_message inner;
	if (kc_es_decode(outer->payload, outer->payload_len, ih, 16, &inner, NULL)) {
		INC(b, bad_frames);
		return -1;
	}
	const struct kc_es_header *et = kc_es_find(&inner, ":event-type");
	if (!et || et->len != 11 || memcmp(et->bytes, "PayloadPart", 11) != 0) {
		INC(b, bad_frames);
		return -1;
	}
	INC(b, chunks);
	if (s->stream_failed)
		return 0; /* after an exception event: read, never answered */
	if (!s->chunk_seen) {
		s->chunk_seen = true;
		if (b->p.fault_reset_stream && s->ordinal == b->p.fault_reset_stream) {
			INC(b, resets);
			return -1;
		}
		const struct kc_bidi_fault_error *fe = kc_bidi_fault_error_for(&b->p, s->ordinal, false);
		if (fe) {
			exception_event(b, s, fe);
			return 0;
		}
	}
	if (s->rcount == RING) {
		INC(b, overflows);
		return -1;
	}
	int64_t now = kc_clock_ns();
	int64_t due = now + kc_bidi_model_latency_ns(&b->p, b->inst_n[s->inst]);
	if (due < s->last_due)
		due = s->last_due; /* replies leave in order */
	s->last_due = due;
	s->due[(s->rhead + s->rcount) % RING] = due;
	s->plen[(s->rhead + s->rcount) % RING] = (uint32_t)inner.payload_len;
	s->rcount++;
	uint32_t si = (uint32_t)(s - b->slots);
	if (s->rcount == 1)
		bidi_heap_push(b, si);
	return 0;
}

static int on_data_chunk_recv(nghttp2_session *ses, uint8_t flags, int32_t id,
			      const uint8_t *data, size_t len, void *ud)
{
	(void)flags;
	struct conn *c = ud;
	struct kc_bidi *b = c->b;
	struct slot *s = nghttp2_session_get_stream_user_data(ses, id);
	if (!s || !s->counted)
		return 0;
	if (b->capture && s->ordinal == (b->p.capture_stream ? b->p.capture_stream : 1))
		fwrite(data, 1, len, b->capture);
	while (len > 0) {
		size_t used = 0;
		struct kc_es_message m;
		int rc = kc_es_decoder_feed(&s->dec, data, len, &used, &m);
		data += used;
		len -= used;
		if (rc == 0)
			break;
		if (rc < 0) {
			INC(b, bad_frames);
			stream_fail(s, NGHTTP2_PROTOCOL_ERROR);
			return 0;
		}
		if (on_event(b, s, &m)) {
			stream_fail(s, NGHTTP2_INTERNAL_ERROR);
			return 0;
		}
	}
	return 0;
}

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	struct kc_bidi *b = c->b;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (b->nfree == 0) {
		nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, f->hd.stream_id,
					  NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	uint32_t si = b->free_slots[--b->nfree];
	struct slot *s = &b->slots[si];
	/* reset the slot without touching its buffers' memory */
	s->c = c;
	s->id = f->hd.stream_id;
	s->in_use = true;
	s->counted = s->bad = s->client_done = s->final_seen = s->eof = false;
	s->chunk_seen = s->verifying = s->stream_failed = false;
	s->heap_idx = -1;
	s->rhead = s->rcount = 0;
	s->last_due = 0;
	s->seq_out = 0;
	s->audio_done = 0;
	s->out_off = s->out_len = 0;
	s->dec.buf_len = 0;
	s->dec.need = 0;
	s->dec.fault = KC_ES_FAULT_NONE;
	s->hlen = 0;
	s->nh = 0;
	s->method = s->path = s->authority = NULL;
	s->path_len = 0;
	nghttp2_session_set_stream_user_data(ses, f->hd.stream_id, s);
	return 0;
}

static const char *keep(struct slot *s, const uint8_t *p, size_t n)
{
	if (s->hlen + n + 1 > sizeof(s->hbuf)) {
		s->bad = true;
		return NULL;
	}
	char *dst = s->hbuf + s->hlen;
	memcpy(dst, p, n);
	dst[n] = '\0';
	s->hlen += n + 1;
	return dst;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *ud)
{
	(void)flags;
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct slot *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s || s->bad)
		return 0;
	const char *v = keep(s, value, valuelen);
	if (!v)
		return 0;
	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		s->method = v;
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		s->path = v;
		s->path_len = valuelen;
	} else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
		s->authority = v;
		if (s->nh < HDR_MAX)
			s->hdrs[s->nh++] = (struct kc_sigv4_header){"host", 4, v, valuelen};
	} else if (namelen > 0 && name[0] != ':') {
		const char *n = keep(s, name, namelen);
		if (!n)
			return 0;
		if (s->nh == HDR_MAX) {
			s->bad = true;
			return 0;
		}
		s->hdrs[s->nh++] = (struct kc_sigv4_header){n, namelen, v, valuelen};
	}
	return 0;
}

static const char *hdr_get(const struct slot *s, const char *name)
{
	for (int i = 0; i < s->nh; i++) {
		if (strcasecmp(s->hdrs[i].name, name) == 0)
			return s->hdrs[i].value;
	}
	return NULL;
}

static void respond_status(struct slot *s, const char *status)
{
	uint8_t st[4]; /* nghttp2_nv wants writable pointers; it copies them */
	memcpy(st, status, 3);
	nghttp2_nv nv[] = {{(uint8_t *)":status", st, 7, 3, NGHTTP2_NV_FLAG_NONE}};
	nghttp2_submit_response(s->c->io.s, s->id, nv, 1, NULL);
	bidi_mark_dirty(s->c);
}

/*
 * Answers s's request with a restJson1 error: status, x-amzn-errortype and a
 * JSON body (served from the slot's reply buffer, then END_STREAM).
 */
static void respond_error(struct slot *s, int status, const char *type, const char *json,
			  size_t len)
{
	char st[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
		      (char)('0' + status % 10), '\0'};
	nghttp2_nv nv[] = {
		{(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16,
		 NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"x-amzn-errortype", (uint8_t *)(uintptr_t)type, 16, strlen(type),
		 NGHTTP2_NV_FLAG_NONE},
	};
	len = len < OUT_CAP ? len : OUT_CAP;
	memcpy(s->out, json, len);
	s->out_off = 0;
	s->out_len = len;
	s->eof = true;
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = bidi_reply_read_cb};
	nghttp2_submit_response(s->c->io.s, s->id, nv, 3, &dp);
	bidi_mark_dirty(s->c);
}

/* A session token kneecap-expires-SECONDS whose time has passed. */
static bool token_expired(const struct slot *s)
{
	static const char pre[] = "kneecap-expires-";
	const char *t = hdr_get(s, "x-amz-security-token");
	if (!t || strncmp(t, pre, sizeof(pre) - 1))
		return false;
	return strtoll(t + sizeof(pre) - 1, NULL, 10) * 1000 <= wall_ms();
}

/* Checks the SigV4 seed and starts the event chain.  false = refuse. */
static bool verify_seed(struct kc_bidi *b, struct slot *s)
{
	const char *sha = hdr_get(s, "x-amz-content-sha256");
	const char *auth = hdr_get(s, "authorization");
	if (!sha || !auth || strcmp(sha, KC_SIGV4_STREAMING_EVENTS) != 0)
		return false;
	char path[512];
	const char *q = memchr(s->path, '?', s->path_len);
	size_t plen = q ? (size_t)(q - s->path) : s->path_len;
	if (plen >= sizeof(path))
		return false;
	memcpy(path, s->path, plen);
	path[plen] = '\0';
	struct kc_sigv4_request req = {
		.method = s->method, .path = path, .query = q ? q + 1 : NULL,
		.headers = s->hdrs, .n_headers = (size_t)s->nh, .payload_hash = sha,
	};
	enum kc_sigv4_verdict v;
	if (kc_sigv4_verify(b->verifier, &req, wall_ms() / 1000, 300, &v) || v != KC_SIGV4_OK)
		return false;
	const char *sig = strstr(auth, "Signature=");
	if (!sig)
		return false;
	char seed[KC_SIGV4_HEX_LEN + 1];
	snprintf(seed, sizeof(seed), "%s", sig + 10);
	if (kc_evsign_init(&s->chain, b->verifier, seed))
		return false;
	s->verifying = true;
	return true;
}

static bool path_ok(const struct slot *s)
{
	static const char pre[] = "/endpoints/";
	static const char suf[] = KC_BIDI_PATH_SUFFIX;
	if (!s->path)
		return false;
	size_t n = s->path_len;
	const char *q = memchr(s->path, '?', n);
	if (q)
		n = (size_t)(q - s->path);
	size_t lp = sizeof(pre) - 1, ls = sizeof(suf) - 1;
	return n > lp + ls && memcmp(s->path, pre, lp) == 0 &&
	       memcmp(s->path + n - ls, suf, ls) == 0 &&
	       memchr(s->path + lp, '/', n - lp - ls) == NULL;
}

static void on_request(struct conn *c, struct slot *s)
{
	struct kc_bidi *b = c->b;
	if (s->bad) {
		respond_status(s, "431");
		return;
	}
	if (!path_ok(s)) {
		respond_status(s, "404");
		return;
	}
	if (!s->method || strcmp(s->method, "POST") != 0) {
		respond_status(s, "405");
		return;
	}
	const char *ip = hdr_get(s, "x-amzn-sagemaker-model-invocation-path");
	const char *qs = hdr_get(s, "x-amzn-sagemaker-model-query-string");
	if ((ip && !kc_bidi_invocation_path_valid(ip)) || (qs && !kc_bidi_query_string_valid(qs))) {
		respond_status(s, "400"); /* InputValidationError */
		return;
	}
	if (ip)
		INC(b, invocation_paths);
	if (qs)
		INC(b, query_strings);
	if (b->verifier && !verify_seed(b, s)) {
		INC(b, bad_signatures);
		respond_status(s, "403");
		return;
	}
	if (b->verifier && token_expired(s)) {
		static const char msg[] = "{\"message\":\"The security token included in the "
					  "request is expired\"}";
		INC(b, expired_tokens);
		respond_error(s, 403, "ExpiredTokenException", msg, sizeof(msg) - 1);
		return;
	}
	uint64_t ordinal = atomic_fetch_add_explicit(&b->streams_opened, 1,
						     memory_order_relaxed) + 1;
	const struct kc_bidi_fault_error *fe = kc_bidi_fault_error_for(&b->p, ordinal, true);
	if (fe) {
		/* the Nth stream is refused before it starts (it keeps its number) */
		char json[256];
		size_t n = kc_bidi_fault_error_json(fe, json, sizeof(json));
		INC(b, errors_injected);
		respond_error(s, fe->status, fe->type, json, n);
		return;
	}
	s->inst = (int)(b->rr++ % (uint64_t)b->p.instances);
	b->inst_n[s->inst]++;
	s->counted = true;
	s->ordinal = ordinal;
	uint64_t open = atomic_fetch_add_explicit(&b->streams_open, 1, memory_order_relaxed) + 1;
	if (open > atomic_load_explicit(&b->streams_open_max, memory_order_relaxed))
		atomic_store_explicit(&b->streams_open_max, open, memory_order_relaxed);
	nghttp2_nv nv[] = {
		{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"content-type", (uint8_t *)"application/vnd.amazon.eventstream",
		 12, 34, NGHTTP2_NV_FLAG_NONE},
		{(uint8_t *)"x-amzn-invoked-production-variant", (uint8_t *)b->p.variant,
		 33, strlen(b->p.variant), NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = bidi_reply_read_cb};
	nghttp2_submit_response(c->io.s, s->id, nv, 3, &dp);
	bidi_mark_dirty(c);
	if (b->p.fault_goaway_after && s->ordinal == b->p.fault_goaway_after) {
		/* A restarting front end: GOAWAY, then the connection drops. */
		nghttp2_submit_goaway(c->io.s, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR, NULL, 0);
		c->io.close_after_flush = true;
		INC(b, goaways);
	}
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	struct slot *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		on_request(c, s);
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && s->counted) {
		s->client_done = true;
		if (s->final_seen)
			INC(c->b, finished);
		bidi_maybe_finish(s);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud)
{
	(void)code;
	struct conn *c = ud;
	struct slot *s = nghttp2_session_get_stream_user_data(ses, id);
	if (s)
		bidi_slot_release(c->b, s);
	return 0;
}

void bidi_callbacks_init(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}

