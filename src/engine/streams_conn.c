/*
 * streams_conn.c - the stream driver's connections (streams_int.h): opening,
 * driving and closing nghttp2 client sessions over h2net, and the session
 * callbacks that feed replies and stream ends back to the slots.  A reply is
 * matched to its chunk here (by order, or by the audio span it reports).
 */
#include "kneecap/engine.h"
#include "kneecap/streams.h"

#include "streams_int.h"

void kc_sx_ring_push(struct slot *sl, int64_t ti, int64_t ta)
{
	uint32_t i = (sl->rhead + sl->rcount) % RING;
	sl->seq[i] = sl->chunk_no;
	sl->t_int[i] = ti;
	sl->t_act[i] = ta;
	sl->rcount++;
}

/* Errors are counted (and sampled) for the measured part of the step only. */
static bool counting(const struct worker *w)
{
	return kc_clock_ns() >= w->t_win && !w->draining;
}

void kc_sx_count_err(struct worker *w, enum kc_errclass c)
{
	if (counting(w))
		w->k.err[c]++;
}

static void conn_mark_out(struct conn *c);

/* Detaches a slot from its connection; it becomes IDLE (to be reopened). */
void kc_sx_slot_reset(struct worker *w, struct slot *sl)
{
	if (sl->c) {
		KC_ASSERT(sl->c->nstreams > 0);
		sl->c->nstreams--;
	}
	if (sl->st == S_OPEN)
		w->n_open--;
	if (sl->st != S_IDLE)
		w->n_idle++;
	sl->c = NULL;
	sl->id = 0;
	sl->st = S_IDLE;
	sl->rcount = 0;
	sl->rhead = 0;
	sl->off = sl->len = 0;
	sl->closing_sent = false;
	sl->ctrl_sent = false;
	sl->first_seen = false;
	sl->mine = false;
	sl->status = 0;
	kc_ssigners_put(&w->sig, sl->gs);
	sl->gs = NULL;
	free(sl->ebody);
	sl->ebody = NULL;
	sl->ebody_len = 0;
	sl->errtype_len = 0;
	sl->dec.buf_len = 0;
	sl->dec.need = 0;
	sl->dec.fault = KC_ES_FAULT_NONE;
}

/* ---- nghttp2 callbacks --------------------------------------------------------- */

ssize_t kc_sx_chunk_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ud;
	struct slot *sl = src->ptr;
	if (sl->id != id || !sl->c || sl->c->net.s != ses)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* a stale stream */
	size_t avail = sl->len - sl->off;
	if (avail == 0)
		return NGHTTP2_ERR_DEFERRED;
	size_t n = avail < len ? avail : len;
	memcpy(buf, sl->buf + sl->off, n);
	sl->off += n;
	if (sl->off == sl->len) {
		if (sl->closing_sent)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		sl->off = sl->len = 0;
	}
	return (ssize_t)n;
}

static struct slot *slot_of(nghttp2_session *ses, int32_t id)
{
	return nghttp2_session_get_stream_user_data(ses, id);
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *ud)
{
	(void)flags;
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct slot *sl = slot_of(ses, f->hd.stream_id);
	if (!sl)
		return 0;
	if (namelen == 7 && !memcmp(name, ":status", 7) && valuelen == 3)
		sl->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
	else if (namelen == 16 && !memcmp(name, "x-amzn-errortype", 16)) {
		/* SageMaker names its error here (nghttp2 lower-cases names) */
		size_t n = valuelen < sizeof(sl->errtype) ? valuelen : sizeof(sl->errtype);
		memcpy(sl->errtype, value, n);
		sl->errtype_len = n;
	}
	return 0;
}

void kc_sx_record(struct kc_hdr *h, int64_t ns)
{
	kc_hdr_record(h, ns / KC_NS_PER_US > 0 ? ns / KC_NS_PER_US : 1);
}

void kc_sx_fail_stream(struct worker *w, struct conn *c, struct slot *sl, enum kc_errclass ec)
{
	kc_sx_count_err(w, ec);
	if (sl->id > 0 && c && c->net.s)
		nghttp2_submit_rst_stream(c->net.s, NGHTTP2_FLAG_NONE, sl->id, NGHTTP2_CANCEL);
	if (sl->id > 0 && c && c->net.s)
		nghttp2_session_set_stream_user_data(c->net.s, sl->id, NULL);
	kc_sx_slot_reset(w, sl);
	w->k.reopened++;
	if (c)
		conn_mark_out(c);
}

/*
 * A stream refused before it started (non-200 with a JSON body
 * {"Message","ErrorCode"}): classified as InvokeEndpoint's errors are, its
 * ErrorCode kept in the sample; the slot reopens.
 */
static void prestream_error(struct worker *w, struct conn *c, struct slot *sl)
{
	enum kc_errclass ec = kc_serr_prestream(&w->k.samp, counting(w), sl->status,
						sl->errtype, sl->errtype_len, sl->ebody,
						sl->ebody_len);
	kc_sx_fail_stream(w, c, sl, ec);
	/* a refused (throttled, unauthorised...) slot waits one chunk interval
	 * before it asks again, rather than retrying in a tight loop */
	sl->not_before_ns = kc_clock_ns() + w->s->interval_ns;
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	struct conn *c = ud;
	struct worker *w = c->w;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		c->goaway = true;
		w->k.goaways++;
		return 0;
	}
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	struct slot *sl = slot_of(ses, f->hd.stream_id);
	if (!sl || sl->st != S_OPENING)
		return 0;
	if (sl->status && sl->status != 200) {
		/* an error response: classified once its body has ended */
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
			prestream_error(w, c, sl);
		return 0;
	}
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_RESPONSE)
		return 0;
	int64_t now = kc_clock_ns();
	if (now >= w->t_win)
		kc_sx_record(w->setup, now - sl->opened_ns);
	sl->st = S_OPEN;
	w->n_open++;
	/* The first chunk goes on this slot's next tick after the 200 (the
	 * client waits for the headers, as the public SDKs do); each later one
	 * an interval after the previous. */
	int64_t tick_ns = w->s->interval_ns / TICKS;
	int64_t phase = (int64_t)((uint32_t)(sl - w->slots) % TICKS) * tick_ns;
	int64_t k = (now - w->t0 - phase) / w->s->interval_ns + 1;
	if (k < 0)
		k = 0;
	sl->next_send_ns = w->t0 + phase + k * w->s->interval_ns;
	return 0;
}

/*
 * The chunk holding the end of the audio span a reply reports: its first
 * "start" and "duration" numbers (seconds) in the first 1 KiB of the JSON
 * payload, which in Deepgram's Results precede the per-word fields.  -1
 * when the reply reports no span.  No allocation: a bounded stack copy.
 */
static int64_t audio_chunk(const struct kc_streams *s, const struct kc_es_message *m)
{
	char buf[1025];
	size_t n = m->payload_len < 1024 ? m->payload_len : 1024;
	memcpy(buf, m->payload, n);
	buf[n] = '\0';
	const char *ps = strstr(buf, "\"start\":");
	const char *pd = strstr(buf, "\"duration\":");
	if (!ps || !pd)
		return -1;
	char *e1, *e2;
	double start = strtod(ps + 8, &e1), dur = strtod(pd + 11, &e2);
	if (e1 == ps + 8 || e2 == pd + 11 || !(start >= 0) || !(dur >= 0) || start + dur > 1e7)
		return -1;
	double end_bytes = (start + dur) * s->audio_rate;
	/* the span's last byte, in chunks; a hair of tolerance for the
	 * seconds printed with 5 decimals */
	int64_t k = (int64_t)ceil(end_bytes / (double)s->chunk_bytes - 1e-3) - 1;
	return k < 0 ? 0 : k;
}

/* One decoded response message on sl. */
static void on_reply(struct worker *w, struct conn *c, struct slot *sl,
		     const struct kc_es_message *m, int64_t now)
{
	const struct kc_es_header *mt = kc_es_find(m, ":message-type");
	if (mt && !(mt->len == 5 && memcmp(mt->bytes, "event", 5) == 0)) {
		/* ModelStreamError (the model's), InternalStreamFailure (the
		 * service's) or an unmodelled error: the stream is over */
		kc_sx_fail_stream(w, c, sl, kc_serr_event(&w->k.samp, counting(w), m));
		return;
	}
	const struct kc_es_header *cs = kc_es_find(m, "CompletionState");
	if (cs && cs->len == 7 && memcmp(cs->bytes, "PARTIAL", 7) == 0)
		return; /* a part of a reply: the reply completes later */
	if (!sl->first_seen) {
		sl->first_seen = true;
		if (now >= w->t_win)
			kc_sx_record(w->ttfb, now - sl->opened_ns);
	}
	if (w->s->match == KC_MATCH_AUDIO_TIME) {
		/* drop the chunks before the one holding the span's end */
		int64_t k = audio_chunk(w->s, m);
		while (k >= 0 && sl->rcount > 0 && (int64_t)sl->seq[sl->rhead] < k) {
			sl->rhead = (sl->rhead + 1) % RING;
			sl->rcount--;
		}
		if (k < 0 || sl->rcount == 0 || (int64_t)sl->seq[sl->rhead] != k) {
			w->k.unmatched++; /* no span, or one already answered */
			return;
		}
	}
	if (sl->rcount == 0) {
		w->k.unmatched++;
		return;
	}
	int64_t ti = sl->t_int[sl->rhead], ta = sl->t_act[sl->rhead];
	sl->rhead = (sl->rhead + 1) % RING;
	sl->rcount--;
	if (ti >= w->t_win && ti < w->t_end) {
		kc_sx_record(w->lat, now - ti);
		kc_sx_record(w->svc, now - ta);
		w->k.replies++;
	}
}

static int on_data(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)flags;
	struct conn *c = ud;
	struct worker *w = c->w;
	struct slot *sl = slot_of(ses, id);
	if (!sl)
		return 0;
	if (sl->status && sl->status != 200) {
		/* the error body, up to a bound: enough for {"Message","ErrorCode"} */
		if (!sl->ebody)
			sl->ebody = malloc(KC_SERR_BODY_MAX);
		size_t n = sl->ebody ? KC_SERR_BODY_MAX - sl->ebody_len : 0;
		n = len < n ? len : n;
		if (n)
			memcpy(sl->ebody + sl->ebody_len, data, n);
		sl->ebody_len += n;
		return 0;
	}
	int64_t now = kc_clock_ns();
	while (len > 0) {
		size_t used = 0;
		struct kc_es_message m;
		int rc = kc_es_decoder_feed(&sl->dec, data, len, &used, &m);
		data += used;
		len -= used;
		if (rc == 0)
			break;
		if (rc < 0) {
			/* bad CRC or framing: the stream cannot resync */
			kc_sx_fail_stream(w, c, sl, KC_EC_PROTO);
			return 0;
		}
		on_reply(w, c, sl, &m, now);
		if (sl->c != c || sl->id != id)
			return 0; /* the reply failed the stream */
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud)
{
	struct conn *c = ud;
	struct worker *w = c->w;
	struct slot *sl = slot_of(ses, id);
	if (!sl)
		return 0;
	nghttp2_session_set_stream_user_data(ses, id, NULL);
	if (sl->st == S_CLOSING && code == NGHTTP2_NO_ERROR) {
		kc_sx_slot_reset(w, sl); /* finished normally */
		return 0;
	}
	if (code == NGHTTP2_REFUSED_STREAM) {
		/* never processed (GOAWAY or the peer's stream limit): retry */
		kc_sx_slot_reset(w, sl);
		w->k.reopened++;
		return 0;
	}
	if (sl->st == S_OPENING && sl->status && sl->status != 200) {
		/* reset before the error body ended: classify what came */
		prestream_error(w, NULL, sl);
		return 0;
	}
	kc_sx_fail_stream(w, NULL, sl, code == NGHTTP2_NO_ERROR ? KC_EC_PROTO : KC_EC_RESET);
	return 0;
}

/* ---- connections ---------------------------------------------------------- */

void kc_sx_conn_free(struct worker *w, struct conn *c, bool count)
{
	for (uint32_t i = 0; i < w->want; i++) {
		struct slot *sl = &w->slots[i];
		if (sl->c != c)
			continue;
		if (count && sl->st != S_CLOSING)
			kc_sx_count_err(w, KC_EC_RESET);
		kc_sx_slot_reset(w, sl);
		if (count)
			w->k.reopened++;
	}
	kc_h2net_close(&c->net);
	for (uint32_t i = 0; i < w->nconns; i++) {
		if (w->conns[i] == c) {
			w->conns[i] = w->conns[--w->nconns];
			break;
		}
	}
	free(c);
}

static void conn_mark_out(struct conn *c)
{
	(void)c; /* every connection is flushed once per loop turn */
}

/* Writes what nghttp2 has.  Returns -1 when the connection is done. */
int kc_sx_conn_flush(struct conn *c)
{
	return kc_h2net_flush(&c->net);
}

struct conn *kc_sx_conn_open(struct worker *w)
{
	struct kc_streams *s = w->s;
	if (w->nconns >= CONNS_PER_WORKER_MAX || kc_clock_ns() < w->connect_after_ns)
		return NULL;
	if (!s->addrlen) {
		kc_sx_count_err(w, KC_EC_CONNECT); /* the name did not resolve */
		return NULL;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb)) {
		free(c);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	int rc = kc_h2net_open(&c->net, w->efd, c, &s->addr, s->addrlen, cb, c, w->conn_err,
			       sizeof(w->conn_err));
	nghttp2_session_callbacks_del(cb);
	if (rc) {
		free(c);
		kc_sx_count_err(w, KC_EC_CONNECT);
		return NULL;
	}
	w->conns[w->nconns++] = c;
	w->k.conns++;
	return c;
}

/* Drives connect and the TLS handshake.  Returns -1 on failure. */
static int conn_progress(struct conn *c)
{
	struct kc_streams *s = c->w->s;
	return kc_h2net_progress(&c->net, s->ctx, s->host, c->w->conn_err,
				 sizeof(c->w->conn_err));
}

void kc_sx_conn_event(struct worker *w, struct conn *c, uint32_t ev)
{
	if (c->net.st == KC_H2NET_CONNECTING || c->net.st == KC_H2NET_TLS) {
		if (conn_progress(c)) {
			c->net.st = KC_H2NET_DEAD;
			kc_sx_count_err(w, KC_EC_CONNECT);
			return;
		}
		if (c->net.st != KC_H2NET_READY)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int rc = kc_h2net_read(&c->net);
		if (rc == -2)
			kc_sx_count_err(w, KC_EC_PROTO);
		if (rc)
			c->net.st = KC_H2NET_DEAD;
	}
}

