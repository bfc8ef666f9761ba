/*
 * h2dispatch.c - the streams of the emulator's HTTP/2 face (h2serve.c): the
 * loop's deadline heap, a stream slot's life, its request headers and body
 * handed to the request logic both faces share (server_int.h), and the
 * answers (plain, stalled, trickled, reset mid-body) submitted to nghttp2.
 * Runs on the stream's loop thread only.
 */
#include "h2serve_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

/* ---- the deadline heap ------------------------------------------------- */

static void hset(struct h2loop *h, int i, struct stream *s)
{
	h->heap[i] = s;
	s->heap_idx = i;
}

static void heap_up(struct h2loop *h, int i)
{
	struct stream *s = h->heap[i];
	while (i > 0) {
		int p = (i - 1) / 2;
		if (h->heap[p]->due_ns <= s->due_ns)
			break;
		hset(h, i, h->heap[p]);
		i = p;
	}
	hset(h, i, s);
}

static void heap_down(struct h2loop *h, int i)
{
	struct stream *s = h->heap[i];
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = l;
		if (l >= h->nheap)
			break;
		if (r < h->nheap && h->heap[r]->due_ns < h->heap[l]->due_ns)
			m = r;
		if (h->heap[m]->due_ns >= s->due_ns)
			break;
		hset(h, i, h->heap[m]);
		i = m;
	}
	hset(h, i, s);
}

void h2s_heap_remove(struct h2loop *h, struct stream *s)
{
	int i = s->heap_idx;
	if (i < 0)
		return;
	s->heap_idx = -1;
	struct stream *last = h->heap[--h->nheap];
	if (i == h->nheap)
		return;
	hset(h, i, last);
	heap_up(h, i);
	heap_down(h, last->heap_idx);
}

/* Makes s wait until due_ns, then act on kind (timer_fire). */
static void schedule(struct stream *s, int64_t due_ns, enum wkind kind)
{
	struct h2loop *h = s->c->h;
	h2s_heap_remove(h, s);
	s->due_ns = due_ns;
	s->wk = kind;
	KC_ASSERT(h->nheap < h->npool);
	hset(h, h->nheap++, s);
	heap_up(h, h->nheap - 1);
}

/* ---- streams ---------------------------------------------------------- */

void h2s_mark_dirty(struct h2conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = c->h->dirty;
	c->h->dirty = c;
}

static struct stream *stream_get(struct h2conn *c, int32_t id)
{
	struct h2loop *h = c->h;
	if (h->nfree == 0)
		return NULL;
	struct stream *s = h->freel[--h->nfree];
	s->c = c;
	s->id = id;
	s->in_use = true;
	s->st = ST_HEAD;
	s->heap_idx = -1;
	s->born_ns = kc_clock_ns();
	s->hlen = s->hdr_total = 0;
	s->hl.n = 0;
	s->hl.overflow = false;
	s->hl.too_large = false;
	s->method = s->path = s->authority = s->clen = NULL;
	s->has_host = false;
	s->client_done = false;
	s->discarded = 0;
	s->obody = NULL;
	s->owned = NULL;
	s->olen = s->ooff = s->olimit = 0;
	s->trickle = s->trickle_ready = false;
	s->r.leave_pending = false;
	s->r.in_flight = false;
	s->cprev = NULL;
	s->cnext = c->streams;
	if (c->streams)
		c->streams->cprev = s;
	c->streams = s;
	return s;
}

void h2s_stream_free(struct h2loop *h, struct stream *s)
{
	s->in_use = false;
	s->c = NULL;
	h->freel[h->nfree++] = s;
}

/*
 * The stream closed (or its connection went).  One the model still holds
 * (waiting for its done_ns) becomes a ghost: off its connection and out of
 * in_flight, but in the heap and the model until done_ns, because its slot
 * or queue place stays booked in the model whatever the client does;
 * leaving the model now would let waiting() drop while the work remains and
 * admit past queue_limit.  The HTTP/1.1 face behaves the same way.
 */
void h2s_stream_release(struct stream *s)
{
	if (!s->in_use || !s->c)
		return;
	struct h2conn *c = s->c;
	struct h2loop *h = c->h;
	bool ghost = s->heap_idx >= 0 && s->wk == W_FINISH && s->r.leave_pending;
	kc_emu_req_mem_release(&s->r);
	if (s->r.body_cap > BODY_KEEP_BYTES) {
		free(s->r.body);
		s->r.body = NULL;
		s->r.body_cap = s->r.body_len = 0;
	}
	if (ghost) {
		kc_emu_req_detach(h->e, &s->r);
		s->wk = W_GHOST;
	} else {
		h2s_heap_remove(h, s);
		kc_emu_req_abandon(h->e, &s->r);
	}
	free(s->owned);
	s->owned = NULL;
	if (s->cprev)
		s->cprev->cnext = s->cnext;
	else
		c->streams = s->cnext;
	if (s->cnext)
		s->cnext->cprev = s->cprev;
	s->cprev = s->cnext = NULL;
	if (ghost)
		s->c = NULL;
	else
		h2s_stream_free(h, s);
}

void h2s_stream_reset(struct stream *s, uint32_t code)
{
	s->st = ST_ANSWER;
	nghttp2_submit_rst_stream(s->c->io.s, NGHTTP2_FLAG_NONE, s->id, code);
	h2s_mark_dirty(s->c);
}

/* ---- answers ---------------------------------------------------------- */

static ssize_t body_read(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ses;
	(void)id;
	(void)ud;
	struct stream *s = src->ptr;
	if (s->ooff >= s->olimit) {
		if (s->olimit < s->olen) {
			/* fault_reset_mid: half the body is out; nghttp2 answers
			 * this with RST_STREAM INTERNAL_ERROR. */
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	size_t n = s->olimit - s->ooff;
	if (n > len)
		n = len;
	if (s->trickle) {
		if (!s->trickle_ready) {
			if (s->heap_idx < 0)
				schedule(s, kc_clock_ns() + s->c->h->e->prof.faults.slow_interval_ns,
					 W_TRICKLE);
			return NGHTTP2_ERR_DEFERRED;
		}
		s->trickle_ready = false;
		size_t chunk = (size_t)s->c->h->e->prof.faults.slow_chunk_bytes;
		if (n > chunk)
			n = chunk;
	}
	memcpy(buf, s->obody + s->ooff, n);
	s->ooff += n;
	if (s->ooff >= s->olen)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v) {(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), \
		  sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* Submits status, headers and body; the body is read from s->obody. */
static void submit(struct stream *s, int status, const char *hname, const char *hval,
		   const char *allow)
{
	char st[8], cl[24];
	snprintf(st, sizeof(st), "%d", status);
	snprintf(cl, sizeof(cl), "%zu", s->olen);
	nghttp2_nv nv[6] = {NV(":status", st), NV("content-type", "application/json"),
			    NV("content-length", cl)};
	size_t n = 3;
	if (s->r.reqid[0])
		nv[n++] = (nghttp2_nv)NV("x-amzn-requestid", s->r.reqid);
	if (hname) {
		nghttp2_nv x = {(uint8_t *)(uintptr_t)hname, (uint8_t *)(uintptr_t)hval,
				strlen(hname), strlen(hval), NGHTTP2_NV_FLAG_NONE};
		nv[n++] = x;
	}
	if (allow)
		nv[n++] = (nghttp2_nv)NV("allow", allow);
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
	s->st = ST_ANSWER;
	if (nghttp2_submit_response(s->c->io.s, s->id, nv, n, &dp) != 0)
		h2s_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
	h2s_mark_dirty(s->c);
}

/* An invocation's answer goes out now (or is dropped by a fault). */
void h2s_answer_invocation(struct stream *s)
{
	struct kc_emu *e = s->c->h->e;
	struct req *r = &s->r;
	bool die;
	bool drop = kc_emu_req_account(e, r, &die);
	if (die)
		kc_emu_mark_dying(e);
	if (drop) {
		h2s_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	s->obody = r->out;
	s->olen = r->out_len;
	s->olimit = r->plan.reset_mid ? r->out_len / 2 : r->out_len;
	s->trickle = r->plan.slow;
	s->trickle_ready = true;
	if (r->status == 200)
		submit(s, 200, "x-amzn-invoked-production-variant", e->prof.variant, NULL);
	else
		submit(s, r->status, "x-amzn-errortype", kc_emu_req_error_type(r),
		       r->status == 405 ? "POST" : NULL);
}

/* Answers now, or waits until a stall window ends. */
void h2s_deliver(struct stream *s)
{
	int64_t end = kc_emu_stall_until(s->c->h->e, kc_clock_ns());
	if (end >= 0) {
		s->st = ST_WAIT;
		schedule(s, end, W_DELIVER);
		return;
	}
	h2s_answer_invocation(s);
}

/* Not an invocation (ping, stats, 404, 405) or refused at its headers. */
static void answer_other(struct stream *s)
{
	if (s->r.route == R_ERROR) {
		h2s_deliver(s);
		return;
	}
	int status;
	const char *etype, *allow;
	const char *body = kc_emu_req_other(s->c->h->e, &s->r, &status, &etype, &allow,
					    &s->owned);
	if (!body) {
		h2s_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	s->obody = body;
	s->olen = s->olimit = strlen(body);
	submit(s, status, etype ? "x-amzn-errortype" : NULL, etype, allow);
}

/* The invocation's body is complete (or passed the limit). */
static void body_end(struct stream *s)
{
	struct kc_emu *e = s->c->h->e;
	if (s->st != ST_BODY)
		return;
	if (s->r.route != R_INVOKE) {
		answer_other(s);
		return;
	}
	/* HTTP/2 carries Host as :authority; SigV4 signs it as host. */
	if (!s->has_host && s->authority) {
		if (s->hl.n < KC_SIGV4_HEADERS_MAX)
			s->hl.h[s->hl.n++] = (struct kc_sigv4_header){
				"host", 4, s->authority, strlen(s->authority)};
		else
			s->hl.overflow = true;
	}
	if (kc_emu_req_admit(e, &s->r, &s->hl)) {
		s->st = ST_WAIT;
		schedule(s, s->r.admit.done_ns, W_FINISH);
		return;
	}
	h2s_deliver(s);
}

/* The request's headers are in: route it. */
static void headers_end(struct stream *s)
{
	struct kc_emu *e = s->c->h->e;
	if (s->st != ST_HEAD)
		return;
	if (atomic_load(&e->dead)) {
		kc_emu_count_error(e, KC_EMU_ERRC_DEAD);
		h2s_stream_reset(s, NGHTTP2_INTERNAL_ERROR); /* see KC_EMU_HEAD_DROP */
		return;
	}
	/* nghttp2 has checked the pseudo-headers; a path too long to keep
	 * is answered 404 by routing "". */
	const char *method = s->method ? s->method : "";
	char *path = (char *)(uintptr_t)(s->path ? s->path : "");
	char *q = strchr(path, '?');
	if (q)
		*q = '\0'; /* in hbuf, ours: InvokeEndpoint has no query string */
	kc_emu_req_route(e, &s->r, path, method);
	if (s->r.route == R_INVOKE && s->r.stream)
		/* The event-stream answer is paced by libmicrohttpd's suspend and
		 * resume; this face has no pacing for it. */
		kc_emu_req_fail(e, &s->r, 400, KC_EMU_ERRC_VALIDATION,
				"this emulator answers invocations-response-stream over "
				"HTTP/1.1 only");
	s->st = ST_BODY;
	if (s->r.route != R_INVOKE) {
		/* Nothing to read for these: answer at once (a body, if any,
		 * is dropped and nghttp2 resets the rest of the stream). */
		answer_other(s);
		return;
	}
	switch (kc_emu_req_head(e, &s->r, s->clen)) {
	case KC_EMU_HEAD_ANSWER:
		/* Content-Length over max_body: the 413 goes before the body. */
		h2s_deliver(s);
		break;
	case KC_EMU_HEAD_DROP:
		/* Dead (close_after): not REFUSED_STREAM, which clients retry
		 * at once, each retry counted dead again; nor the connection,
		 * whose other streams may carry the last answers owed. */
		h2s_stream_reset(s, NGHTTP2_INTERNAL_ERROR);
		break;
	case KC_EMU_HEAD_READ:
		if (s->r.route == R_ERROR)
			answer_other(s);
		break;
	}
}

/* ---- nghttp2 callbacks ------------------------------------------------ */

static int on_begin_headers(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	struct h2conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct stream *s = stream_get(c, f->hd.stream_id);
	if (!s) {
		kc_emu_count_error(c->h->e, KC_EMU_ERRC_INTERNAL);
		nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, f->hd.stream_id,
					  NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	nghttp2_session_set_stream_user_data(ses, f->hd.stream_id, s);
	return 0;
}

/* Copies n bytes into s->hbuf, NUL-terminated; NULL when it is full. */
static const char *keep(struct stream *s, const uint8_t *p, size_t n)
{
	if (s->hlen + n + 1 > sizeof(s->hbuf))
		return NULL;
	char *d = s->hbuf + s->hlen;
	memcpy(d, p, n);
	d[n] = '\0';
	s->hlen += n + 1;
	return d;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f, const uint8_t *name,
		     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	(void)flags;
	(void)ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers: not part of InvokeEndpoint */
	struct stream *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s)
		return 0;
	/* RFC 9113's accounting (name + value + 32): a block past the cap
	 * resets the stream instead of growing anything. */
	s->hdr_total += nlen + vlen + 32;
	if (s->hdr_total > HDR_LIST_MAX)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	const char *n = keep(s, name, nlen);
	const char *v = n ? keep(s, value, vlen) : NULL;
	if (!v) {
		s->hl.overflow = true;
		s->hl.too_large = true;
		return 0;
	}
	if (n[0] == ':') {
		if (!strcmp(n, ":method"))
			s->method = v;
		else if (!strcmp(n, ":path"))
			s->path = v;
		else if (!strcmp(n, ":authority"))
			s->authority = v;
		return 0;
	}
	if (!strcmp(n, "content-length"))
		s->clen = v;
	else if (!strcmp(n, "host"))
		s->has_host = true;
	if (s->hl.n < KC_SIGV4_HEADERS_MAX)
		s->hl.h[s->hl.n++] = (struct kc_sigv4_header){n, nlen, v, vlen};
	else
		s->hl.overflow = true;
	return 0;
}

static int on_data_chunk_recv(nghttp2_session *ses, uint8_t flags, int32_t id,
			      const uint8_t *data, size_t len, void *ud)
{
	(void)flags;
	(void)ud;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (!s)
		return 0;
	if (s->st != ST_BODY) {
		/*
		 * Answered before the body ended (an early 413, a 404 with a
		 * body): the rest is dropped.  RFC 9113 8.1 would let us stop
		 * the client at once with RST_STREAM NO_ERROR, but curl 7.88
		 * then throws the answer away; so that only happens past the
		 * HTTP/1.1 face's discard bound.
		 */
		s->discarded += len;
		if (s->discarded > DISCARD_BYTES_MAX && !s->client_done) {
			s->client_done = true;
			nghttp2_submit_rst_stream(ses, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
		}
		return 0;
	}
	struct kc_emu *e = s->c->h->e;
	kc_emu_req_body(e, &s->r, (const char *)data, len);
	if (s->r.too_large)
		body_end(s); /* 413 as soon as the body passes the limit */
	return 0;
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	struct h2conn *c = ud;
	c->ready = true;
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
		return 0;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, f->hd.stream_id);
	if (!s)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		headers_end(s);
	if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		s->client_done = true;
		body_end(s);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud)
{
	(void)code;
	(void)ud;
	struct stream *s = nghttp2_session_get_stream_user_data(ses, id);
	if (s)
		h2s_stream_release(s);
	return 0;
}

void h2s_callbacks_init(nghttp2_session_callbacks *cbs)
{
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}
