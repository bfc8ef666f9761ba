/*
 * h2serve.c - the emulator's HTTP/2 face: POST /endpoints/NAME/invocations,
 * GET /ping and GET /emulator/stats over h2c (prior knowledge) or TLS with
 * ALPN h2, with exactly the HTTP/1.1 face's semantics because both call the
 * same request functions (server_int.h) on the same struct kc_emu: one
 * model, one queue, one capacity, one set of counters.
 *
 `threads` loop threads (the instance's vCPUs, as the HTTP/1.1 face has
 * `threads` workers) each run an epoll loop over their connections (h2io.c
 * does the socket/TLS/nghttp2 plumbing), a timerfd, an inbox eventfd and
 * the shared stop eventfd; loop 0 also accepts, and deals the sockets to
 * the loops round-robin.  A connection and its streams belong to one loop
 * for life, so no stream state is shared between threads: only the
 * kc_emu_req_* calls (which lock e) are.  A request never blocks its loop
 * on waiting: once its body is in, the model fixes when its answer is due,
 * and the stream waits in the loop's min-heap of deadlines (indexed, so a
 * stream that closes early leaves it, unless the model still holds it: then
 * it stays, off its connection, until its service ends); the timerfd is
 * armed at the earliest one, and when it fires the answer is submitted and
 * its data provider runs.  Stalls and trickled answers wait the same way (a trickled body's
 * provider returns NGHTTP2_ERR_DEFERRED and is resumed by the heap).  The
 * JPEG decode is CPU work and runs on the loop, like a model server's
 * pre-processing on its vCPU.
 *
 * Memory is bounded: h2_max_streams stream contexts are allocated at start,
 * split between the loops (a connection is promised at most its loop's
 * share in SETTINGS_MAX_CONCURRENT_STREAMS; a stream beyond the share, when
 * several connections share a loop, is refused with RST_STREAM
 * REFUSED_STREAM), each
 * keeps at most HDR_BYTES of headers (a header block over HDR_LIST_MAX
 * resets the stream) and at most max_body bytes of body (an oversize
 * Content-Length is answered 413 at the headers, an oversize body as soon
 * as it passes the limit); body buffers are reused (those over
 * BODY_KEEP_BYTES freed when their stream closes), and all the stored
 * bodies together stay within h2_body_memory (a body past it is answered
 * 503).  Connections without their preface by h2_handshake_timeout, or
 * silent for h2_idle_timeout, close (sweep).  Faults: a reset is an
 * RST_STREAM INTERNAL_ERROR instead of the answer, fault_reset_mid sends
 * the headers and half the body and then the RST, and a dead server
 * (fault_close_after) closes its listener and every connection (a stream
 * arriving meanwhile is reset INTERNAL_ERROR).
 *
 * Not here: HTTP/1.1 (server.c), the bidirectional stream path (bidi.c).
 */
#include "h2io_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Header names and values kept per stream: SigV4 with a session token, a
 * long user agent and the authorization passes 4 KiB.  Per stream slot, so
 * h2_max_streams x this (64 MiB at the default 4096, touched as used). */
#define HDR_BYTES (16 * 1024)
#define HDR_LIST_MAX (64 * 1024) /* a bigger header block resets the stream */
#define STREAM_WINDOW (1 << 20)  /* per-stream receive window: bodies are MBs */
#define CONN_WINDOW (1 << 24)
/* Body bytes dropped after an early answer before the stream is reset. */
#define DISCARD_BYTES_MAX (UINT64_C(64) * 1024 * 1024)
#define INBOX_MAX 256            /* sockets waiting for their loop */
/* A body buffer bigger than this is freed when its stream closes: the
 * slots keep at most this each between requests. */
#define BODY_KEEP_BYTES (1024 * 1024)
/* Out of descriptors: how long the listener rests before accept4 again. */
#define ACCEPT_REST_NS (100 * KC_NS_PER_MS)

enum sstate {
	ST_HEAD,   /* headers arriving */
	ST_BODY,   /* an invocation's body arriving */
	ST_WAIT,   /* in the heap: the model, a stall or a trickle */
	ST_ANSWER, /* answer submitted (or stream reset); later data is ignored */
};
/* W_GHOST: the client went while the model held the request; the slot is
 * kept, off its connection, until the model's done_ns (stream_release). */
enum wkind { W_FINISH, W_DELIVER, W_TRICKLE, W_GHOST };

struct h2conn;

struct stream {
	struct req r;           /* the protocol-neutral request (server_int.h) */
	struct h2conn *c;
	struct stream *cprev, *cnext; /* the connection's open streams */
	int32_t id;
	bool in_use;
	enum sstate st;
	enum wkind wk;
	int64_t due_ns;
	int64_t born_ns;        /* its HEADERS began */
	int heap_idx;           /* -1: not in the heap */
	/* request headers */
	char hbuf[HDR_BYTES];
	size_t hlen;
	size_t hdr_total;
	struct kc_emu_headers hl;
	const char *method, *path, *authority, *clen;
	bool has_host;
	bool client_done;       /* END_STREAM from the client (or we reset it) */
	uint64_t discarded;     /* body bytes dropped after the answer */
	/* the answer being sent */
	const char *obody;
	char *owned;            /* obody when malloc'ed (stats) */
	size_t olen, ooff, olimit; /* olimit < olen: reset after olimit bytes */
	bool trickle, trickle_ready;
};

struct h2conn {
	struct kc_h2io io;
	struct h2loop *h;       /* the loop that owns it */
	struct stream *streams;
	bool dead;              /* close without writing more */
	bool ready;             /* a frame came: the preface (and TLS) is done */
	int64_t born_ns, last_ns; /* accepted; last read event */
	bool dirty;
	struct h2conn *next_dirty;
	struct h2conn *prev, *next;
};

/* One loop thread: its connections, their streams and its deadlines. */
struct h2loop {
	struct kc_emu_h2 *srv;
	struct kc_emu *e;       /* = srv->e, and the two below: shared, read-only */
	SSL_CTX *ctx;           /* NULL: h2c */
	nghttp2_session_callbacks *cbs;
	int efd, tfd;
	bool accepts;           /* loop 0: owns the listening socket */
	pthread_t thread;
	bool started;
	struct stream *pool;
	int npool;
	struct stream **freel;
	int nfree;
	struct stream **heap;   /* ordered by due_ns */
	int nheap;
	int64_t armed_ns;
	int64_t swept_ns;       /* last timeout sweep (sweep) */
	struct h2conn *conns;
	struct h2conn *dirty;
	/* Accepted sockets handed over by loop 0 (inbox_fd wakes this loop). */
	pthread_mutex_t inbox_mu;
	int inbox[INBOX_MAX];
	int inbox_n;
	int inbox_fd;
};

struct kc_emu_h2 {
	struct kc_emu *e;
	int lfd, stopfd;        /* stopfd: an eventfd every loop watches */
	int port;
	bool listening;         /* loop 0's */
	int64_t accept_rest_ns; /* loop 0's: >0: out of descriptors, listener
				 * out of epoll until then */
	SSL_CTX *ctx;
	nghttp2_session_callbacks *cbs;
	struct h2loop *loops;   /* `threads` of them */
	int nloops;
	unsigned next_loop;     /* round-robin for accepted sockets (loop 0's) */
	atomic_int nconns;      /* over all loops */
	struct kc_emu_mem mem;  /* the streams' stored bodies, all loops */
	int conns_max;
};

int kc_emu_h2_listen_port(const struct kc_emu_h2 *h)
{
	return h->port;
}

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

static void heap_remove(struct h2loop *h, struct stream *s)
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
	heap_remove(h, s);
	s->due_ns = due_ns;
	s->wk = kind;
	KC_ASSERT(h->nheap < h->npool);
	hset(h, h->nheap++, s);
	heap_up(h, h->nheap - 1);
}

/* ---- streams ---------------------------------------------------------- */

static void mark_dirty(struct h2conn *c)
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

static void stream_free(struct h2loop *h, struct stream *s)
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
static void stream_release(struct stream *s)
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
		heap_remove(h, s);
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
		stream_free(h, s);
}

static void stream_reset(struct stream *s, uint32_t code)
{
	s->st = ST_ANSWER;
	nghttp2_submit_rst_stream(s->c->io.s, NGHTTP2_FLAG_NONE, s->id, code);
	mark_dirty(s->c);
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
		stream_reset(s, NGHTTP2_INTERNAL_ERROR);
	mark_dirty(s->c);
}

/* An invocation's answer goes out now (or is dropped by a fault). */
static void answer_invocation(struct stream *s)
{
	struct kc_emu *e = s->c->h->e;
	struct req *r = &s->r;
	bool die;
	bool drop = kc_emu_req_account(e, r, &die);
	if (die)
		kc_emu_mark_dying(e);
	if (drop) {
		stream_reset(s, NGHTTP2_INTERNAL_ERROR);
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
static void deliver(struct stream *s)
{
	int64_t end = kc_emu_stall_until(s->c->h->e, kc_clock_ns());
	if (end >= 0) {
		s->st = ST_WAIT;
		schedule(s, end, W_DELIVER);
		return;
	}
	answer_invocation(s);
}

/* Not an invocation (ping, stats, 404, 405) or refused at its headers. */
static void answer_other(struct stream *s)
{
	if (s->r.route == R_ERROR) {
		deliver(s);
		return;
	}
	int status;
	const char *etype, *allow;
	const char *body = kc_emu_req_other(s->c->h->e, &s->r, &status, &etype, &allow,
					    &s->owned);
	if (!body) {
		stream_reset(s, NGHTTP2_INTERNAL_ERROR);
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
	deliver(s);
}

/* The request's headers are in: route it. */
static void headers_end(struct stream *s)
{
	struct kc_emu *e = s->c->h->e;
	if (s->st != ST_HEAD)
		return;
	if (atomic_load(&e->dead)) {
		kc_emu_count_error(e, KC_EMU_ERRC_DEAD);
		stream_reset(s, NGHTTP2_INTERNAL_ERROR); /* see KC_EMU_HEAD_DROP */
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
		deliver(s);
		break;
	case KC_EMU_HEAD_DROP:
		/* Dead (close_after): not REFUSED_STREAM, which clients retry
		 * at once, each retry counted dead again; nor the connection,
		 * whose other streams may carry the last answers owed. */
		stream_reset(s, NGHTTP2_INTERNAL_ERROR);
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
		stream_release(s);
	return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void epoll_add(int efd, int fd, void *ptr);

static void conn_close(struct h2conn *c)
{
	struct h2loop *h = c->h;
	/* nghttp2_session_del calls no stream-close callbacks. */
	while (c->streams)
		stream_release(c->streams);
	kc_h2io_close(&c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&h->srv->nconns, 1);
	free(c);
}

/* Makes the accepted socket fd a connection of loop h. */
static void conn_add(struct h2loop *h, int fd)
{
	struct h2conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		atomic_fetch_sub(&h->srv->nconns, 1);
		return;
	}
	c->h = h;
	c->born_ns = c->last_ns = kc_clock_ns();
	if (kc_h2io_open(&c->io, fd, h->efd, c, h->ctx, h->cbs, c)) {
		free(c);
		atomic_fetch_sub(&h->srv->nconns, 1);
		return;
	}
	/* Never promise a connection more streams than its loop has slots:
	 * a client that keeps to the SETTINGS is then never refused while it
	 * is the loop's only connection. */
	int conc = h->e->prof.h2_max_concurrent;
	if (conc > h->npool)
		conc = h->npool;
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)conc},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HDR_LIST_MAX},
	};
	nghttp2_submit_settings(c->io.s, NGHTTP2_FLAG_NONE, iv, 3);
	nghttp2_session_set_local_window_size(c->io.s, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	mark_dirty(c);
}

/*
 * Loop 0 accepts and deals the sockets round-robin to the loops, so the
 * connections (and their CPU stage) spread over the `threads` loops however
 * the kernel wakes them.
 */
static void accept_all(struct h2loop *h)
{
	struct kc_emu_h2 *srv = h->srv;
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors or memory: the connection stays in
			 * the backlog and the listener readable, so a
			 * level-triggered epoll would spin; rest it a while. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				epoll_ctl(h->efd, EPOLL_CTL_DEL, srv->lfd, NULL);
				srv->accept_rest_ns = kc_clock_ns() + ACCEPT_REST_NS;
			}
			return;
		}
		if (atomic_fetch_add(&srv->nconns, 1) >= srv->conns_max) {
			atomic_fetch_sub(&srv->nconns, 1);
			close(fd);
			continue;
		}
		struct h2loop *to = &srv->loops[srv->next_loop++ % (unsigned)srv->nloops];
		if (to == h) {
			conn_add(h, fd);
			continue;
		}
		pthread_mutex_lock(&to->inbox_mu);
		bool room = to->inbox_n < INBOX_MAX;
		if (room)
			to->inbox[to->inbox_n++] = fd;
		pthread_mutex_unlock(&to->inbox_mu);
		if (!room) {
			atomic_fetch_sub(&srv->nconns, 1);
			close(fd);
			continue;
		}
		uint64_t one = 1;
		if (write(to->inbox_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write cannot fail here; the fd waits for the next wake */
		}
	}
}

/* The sockets loop 0 handed to h. */
static void take_inbox(struct h2loop *h)
{
	uint64_t x;
	if (read(h->inbox_fd, &x, sizeof(x)) < 0) {
		/* spurious: the inbox decides */
	}
	int fds[INBOX_MAX];
	pthread_mutex_lock(&h->inbox_mu);
	int n = h->inbox_n;
	memcpy(fds, h->inbox, (size_t)n * sizeof(fds[0]));
	h->inbox_n = 0;
	pthread_mutex_unlock(&h->inbox_mu);
	for (int i = 0; i < n; i++)
		conn_add(h, fds[i]);
}

static void flush_dirty(struct h2loop *h)
{
	while (h->dirty) {
		struct h2conn *c = h->dirty;
		h->dirty = c->next_dirty;
		c->dirty = false;
		if (c->dead || kc_h2io_flush(&c->io))
			conn_close(c);
	}
}

/*
 * Once a second: closes the connections that never finished their preface
 * (or TLS handshake) within h2_handshake_timeout, or sent nothing for
 * h2_idle_timeout while no answer of theirs was pending, and resets the
 * streams still sending their request after h2_idle_timeout, as
 * libmicrohttpd times out the HTTP/1.1 face's connections.  Bounded: the
 * loop's connections and streams, once a second.
 */
static void sweep(struct h2loop *h)
{
	const struct kc_emu_profile *p = &h->e->prof;
	int64_t now = kc_clock_ns();
	if (now - h->swept_ns < KC_NS_PER_S)
		return;
	h->swept_ns = now;
	for (struct h2conn *c = h->conns; c; c = c->next) {
		if (c->dead)
			continue;
		if (!c->ready) {
			if (now - c->born_ns > p->h2_handshake_timeout_ns) {
				c->dead = true;
				mark_dirty(c);
			}
			continue;
		}
		bool busy = false;
		for (struct stream *s = c->streams; s; s = s->cnext) {
			if (s->st == ST_HEAD || s->st == ST_BODY) {
				if (now - s->born_ns > p->h2_idle_timeout_ns)
					stream_reset(s, NGHTTP2_CANCEL);
			} else {
				busy = true; /* the server owes it an answer */
			}
		}
		if (!busy && now - c->last_ns > p->h2_idle_timeout_ns) {
			nghttp2_session_terminate_session(c->io.s, NGHTTP2_NO_ERROR);
			c->dead = true; /* flush_dirty: the GOAWAY, best effort */
			(void)kc_h2io_flush(&c->io);
			mark_dirty(c);
		}
	}
}

static void timer_fire(struct h2loop *h, struct stream *s)
{
	struct kc_emu *e = h->e;
	if (s->wk == W_GHOST) {
		kc_emu_req_leave(e, &s->r);
		stream_free(h, s);
		return;
	}
	switch (s->wk) {
	case W_GHOST:
		break;
	case W_FINISH:
		kc_emu_req_leave(e, &s->r);
		deliver(s);
		break;
	case W_DELIVER:
		answer_invocation(s);
		break;
	case W_TRICKLE:
		s->trickle_ready = true;
		nghttp2_session_resume_data(s->c->io.s, s->id);
		break;
	}
	mark_dirty(s->c);
}

static void fire_due(struct h2loop *h)
{
	int64_t now = kc_clock_ns();
	/* Bounded per pass: a burst of due answers cannot starve the sockets. */
	for (int i = 0; i < 4096 && h->nheap > 0 && h->heap[0]->due_ns <= now; i++) {
		struct stream *s = h->heap[0];
		heap_remove(h, s);
		timer_fire(h, s);
	}
}

static void arm_timer(struct h2loop *h)
{
	int64_t due = h->nheap ? h->heap[0]->due_ns : 0;
	if (due == h->armed_ns)
		return;
	struct itimerspec its = {0};
	if (due > 0) {
		its.it_value.tv_sec = due / KC_NS_PER_S;
		its.it_value.tv_nsec = due % KC_NS_PER_S;
	}
	timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	h->armed_ns = due;
}

/* fault_close_after tripped: like a dead process, stop listening and drop
 * every connection (RST, no GOAWAY). */
static void die(struct h2loop *h)
{
	struct kc_emu_h2 *srv = h->srv;
	if (h->accepts && srv->listening) {
		/* Only loop 0 ever touches the listening socket. */
		epoll_ctl(h->efd, EPOLL_CTL_DEL, srv->lfd, NULL);
		close(srv->lfd);
		srv->lfd = -1;
		srv->listening = false;
	}
	for (struct h2conn *c = h->conns; c; c = c->next) {
		/* The answer that tripped close_after still goes out (best
		 * effort, what the socket takes now), as on HTTP/1.1. */
		if (!c->dead)
			(void)kc_h2io_flush(&c->io);
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		c->dead = true;
		mark_dirty(c);
	}
}

/* Stopping: every waiting invocation is answered 503, best effort. */
static void answer_pending(struct h2loop *h)
{
	while (h->nheap > 0) {
		struct stream *s = h->heap[0];
		heap_remove(h, s);
		if (s->wk == W_GHOST) {
			kc_emu_req_leave(h->e, &s->r);
			stream_free(h, s);
			continue;
		}
		if (s->wk == W_TRICKLE) {
			s->trickle_ready = true;
			s->trickle = false;
			nghttp2_session_resume_data(s->c->io.s, s->id);
		} else {
			if (s->wk == W_FINISH)
				kc_emu_req_leave(h->e, &s->r);
			kc_emu_req_stopping(&s->r);
			answer_invocation(s);
		}
		mark_dirty(s->c);
	}
}

static void *loop(void *arg)
{
	struct h2loop *h = arg;
	struct kc_emu_h2 *srv = h->srv;
	/* Default timer slack is 50 us; service deadlines want better. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct epoll_event evs[256];
	bool stop = false;
	while (!stop) {
		arm_timer(h);
		/* The timeout only bounds how late a dead server notices. */
		int n = epoll_wait(h->efd, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &srv->lfd) {
				accept_all(h);
			} else if (p == &srv->stopfd) {
				stop = true; /* never read: every loop sees it */
			} else if (p == &h->inbox_fd) {
				take_inbox(h);
			} else if (p == &h->tfd) {
				uint64_t x;
				if (read(h->tfd, &x, sizeof(x)) < 0) {
					/* spurious: the heap decides anyway */
				}
				h->armed_ns = 0;
			} else {
				struct h2conn *c = p;
				/* closing waits for flush_dirty: a later event of
				 * this batch may still point at c */
				if (evs[i].events & EPOLLIN)
					c->last_ns = kc_clock_ns();
				if (!c->dead && kc_h2io_readable(&c->io, evs[i].events) &&
				    kc_h2io_read(&c->io) < 0)
					c->dead = true;
				mark_dirty(c);
			}
		}
		fire_due(h);
		sweep(h);
		/* The epoll timeout (100 ms) bounds how late this looks. */
		if (h->accepts && srv->accept_rest_ns && srv->listening &&
		    kc_clock_ns() >= srv->accept_rest_ns) {
			srv->accept_rest_ns = 0;
			epoll_add(h->efd, srv->lfd, &srv->lfd);
		}
		if (atomic_load(&h->e->dead))
			die(h);
		flush_dirty(h);
	}
	answer_pending(h);
	flush_dirty(h);
	while (h->conns)
		conn_close(h->conns);
	return NULL;
}

/* ---- start / stop ------------------------------------------------------ */

static void free_loop(struct h2loop *h)
{
	if (h->pool) {
		for (int i = 0; i < h->npool; i++)
			free(h->pool[i].r.body);
	}
	free(h->pool);
	free(h->freel);
	free(h->heap);
	/* Sockets handed over but never taken (stopping). */
	for (int i = 0; i < h->inbox_n; i++)
		close(h->inbox[i]);
	pthread_mutex_destroy(&h->inbox_mu);
	int fds[] = {h->efd, h->tfd, h->inbox_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

static void free_h2(struct kc_emu_h2 *srv)
{
	if (srv->loops) {
		for (int i = 0; i < srv->nloops; i++)
			free_loop(&srv->loops[i]);
	}
	free(srv->loops);
	if (srv->cbs)
		nghttp2_session_callbacks_del(srv->cbs);
	SSL_CTX_free(srv->ctx);
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->stopfd >= 0)
		close(srv->stopfd);
	free(srv);
}

static void epoll_add(int efd, int fd, void *ptr)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
	epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
}

/* Allocates loop h's streams and descriptors (the thread starts later). */
static int loop_init(struct kc_emu_h2 *srv, struct h2loop *h, int npool, struct kc_diag *d)
{
	h->srv = srv;
	h->e = srv->e;
	h->ctx = srv->ctx;
	h->cbs = srv->cbs;
	h->npool = npool;
	h->pool = calloc((size_t)npool, sizeof(*h->pool));
	h->freel = calloc((size_t)npool, sizeof(*h->freel));
	h->heap = calloc((size_t)npool, sizeof(*h->heap));
	if (!h->pool || !h->freel || !h->heap)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %d HTTP/2 streams", npool);
	size_t store_max = kc_emu_store_max(srv->e);
	for (int i = 0; i < npool; i++) {
		h->pool[i].r.e = srv->e;
		h->pool[i].r.store_max = store_max;
		h->pool[i].r.mem = &srv->mem;
		h->pool[i].heap_idx = -1;
		h->freel[i] = &h->pool[npool - 1 - i];
	}
	h->nfree = npool;
	h->efd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	h->inbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0 || h->tfd < 0 || h->inbox_fd < 0)
		return kc_diag_set(d, KC_EIO, "epoll/timerfd/eventfd: %s", strerror(errno));
	epoll_add(h->efd, h->tfd, &h->tfd);
	epoll_add(h->efd, h->inbox_fd, &h->inbox_fd);
	epoll_add(h->efd, srv->stopfd, &srv->stopfd);
	if (h->accepts)
		epoll_add(h->efd, srv->lfd, &srv->lfd);
	return 0;
}

/* Stops and joins the loops that started. */
static void stop_loops(struct kc_emu_h2 *srv)
{
	uint64_t one = 1;
	if (write(srv->stopfd, &one, sizeof(one)) < 0) {
		/* an eventfd write cannot fail here; the joins would hang otherwise */
		KC_ASSERT(!"eventfd write failed");
	}
	for (int i = 0; i < srv->nloops; i++) {
		if (srv->loops[i].started)
			pthread_join(srv->loops[i].thread, NULL);
	}
}

int kc_emu_h2_start(struct kc_emu *e, struct kc_emu_h2 **out, struct kc_diag *d)
{
	const struct kc_emu_profile *p = &e->prof;
	int rc;
	struct kc_emu_h2 *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	srv->e = e;
	srv->lfd = srv->stopfd = -1;
	srv->conns_max = p->max_connections;
	atomic_init(&srv->nconns, 0);
	atomic_init(&srv->mem.used, 0);
	srv->mem.max = (size_t)p->h2_body_bytes_max;
	/* One loop per vCPU, as the HTTP/1.1 face has one worker per vCPU:
	 * the JPEG stage runs on the loops. */
	srv->nloops = p->threads;
	srv->loops = calloc((size_t)srv->nloops, sizeof(*srv->loops));
	if (!srv->loops) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	for (int i = 0; i < srv->nloops; i++) {
		/* Every loop's descriptors read as "none" until loop_init. */
		srv->loops[i].efd = srv->loops[i].tfd = srv->loops[i].inbox_fd = -1;
		pthread_mutex_init(&srv->loops[i].inbox_mu, NULL);
	}
	if (nghttp2_session_callbacks_new(&srv->cbs)) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(srv->cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(srv->cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(srv->cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(srv->cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(srv->cbs, on_stream_close);
	if (p->h2_mode == KC_EMU_H2_TLS &&
	    (rc = kc_h2io_tls_ctx(p->h2_cert_out[0] ? p->h2_cert_out : NULL, &srv->ctx, d)))
		goto fail;
	rc = kc_h2io_listen(p->h2_listen, &srv->lfd, &srv->port, d);
	if (rc)
		goto fail;
	srv->listening = true;
	srv->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->stopfd < 0) {
		rc = kc_diag_set(d, KC_EIO, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* The stream slots are split between the loops. */
	int per = p->h2_max_streams / srv->nloops;
	if (per < 16)
		per = 16;
	for (int i = 0; i < srv->nloops; i++) {
		srv->loops[i].accepts = i == 0;
		rc = loop_init(srv, &srv->loops[i], per, d);
		if (rc)
			goto fail;
	}
	for (int i = 0; i < srv->nloops; i++) {
		if (pthread_create(&srv->loops[i].thread, NULL, loop, &srv->loops[i])) {
			rc = kc_diag_set(d, KC_EINTERNAL, "cannot start the HTTP/2 threads");
			goto fail;
		}
		srv->loops[i].started = true;
	}
	kc_log(KC_LOG_INFO, "emulator: HTTP/2 (%s) listening on port %d, %d loop threads",
	       p->h2_mode == KC_EMU_H2_TLS ? "TLS" : "h2c", srv->port, srv->nloops);
	*out = srv;
	return 0;
fail:
	if (srv->stopfd >= 0)
		stop_loops(srv);
	free_h2(srv);
	return rc;
}

void kc_emu_h2_stop(struct kc_emu_h2 *srv)
{
	if (!srv)
		return;
	stop_loops(srv);
	free_h2(srv);
}
