/*
 * h2unary.c - unary requests over h2c (cleartext HTTP/2 with prior
 * knowledge) on nghttp2, for `--http h2c`.
 *
 * Why not libcurl: Debian 12's libcurl 7.88.1 fails every transfer on a
 * reused h2c connection (curl issue 10634, fixed in 8.0.0), so a load test
 * over h2c through it measures nothing.  HTTP/1.1 and HTTP/2 over TLS stay
 * on libcurl (unary.c).
 *
 * Each worker owns up to `connections` live h2c connections (h2net.c does
 * the socket and session I/O) and sends each request as one stream on the
 * least loaded of them, at most `streams` per connection (fewer when the
 * peer's SETTINGS_MAX_CONCURRENT_STREAMS is lower: nghttp2 then holds the
 * request until a stream closes, and the wait counts in its latency).  The
 * body is read from the engine's borrowed payload by a data provider.  A
 * finished request waits on the worker's done stack until worker.c reaps
 * it; accounting goes through kc_acct_account (acct.c), as every
 * driver's does, so all count the same way.  Connection failures finish
 * their streams as KC_EC_CONNECT (never connected) or KC_EC_RESET (lost or
 * RST_STREAM); a GOAWAY retires its connection and a new one is opened on
 * demand.  A stream the server refused (REFUSED_STREAM, or past a GOAWAY's
 * last stream id: RFC 9113 8.7 guarantees it was not processed) is sent
 * once more on another connection, as libcurl does, keeping its send time
 * so the detour counts in its latency; refused twice, it is a reset.
 *
 * Also HTTP/2 over TLS (ALPN h2, --http 2 to an https:// URL) on the
 * native client.  Not here: scheduling, queueing and shedding (worker.c),
 * response event streams (refused with h2c for now; libcurl carries them
 * over TLS).
 * Invariant: a busy slot's request is on exactly one of: a connection
 * (req->c set, counted in its nstreams), the retry stack (refused, to be
 * sent again), the done stack.  Nothing allocates per request except
 * nghttp2's own stream state.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "h2net_int.h"
#include "kneecap/net.h"
#include "kneecap/url.h"
#include "kneecap/clock.h"
#include "kneecap/log.h"
#include "proto.h"

/* Granularity of the per-request timeout check. */
#define TIMEOUT_CHECK_NS (10 * KC_NS_PER_MS)
/* nv entries: 4 pseudo-headers, user headers, type, length, decorator lines. */
#define NV_MAX (4 + KC_ENGINE_MAX_HEADERS + 2 + KC_DECOR_MAX_HEADERS)
#define NAME_MAX_BYTES 64
/* Timeouts in a row (no response ended between them) that retire a
 * connection: a timed-out stream stops counting against its connection at
 * once, so a peer that stopped reading would otherwise keep being chosen
 * and time out every later request. */
#define STUCK_TIMEOUTS 3

struct h2conn {
	struct kc_h2net net;
	struct kc_h2u *u;
	bool goaway;          /* retired: no new streams */
	bool goaway_rcvd;     /* the server sent GOAWAY with last_id */
	int32_t last_id;      /* streams above it were not processed */
	bool goaway_sent;     /* nghttp2 ended the session on an error of the server's */
	uint32_t nstreams;    /* requests on it (slots pointing here) */
	uint32_t timeouts;    /* requests timed out since a response last ended */
};

/* The h2 side of one slot's current request. */
struct h2req {
	struct h2conn *c;     /* NULL: not on a connection */
	int32_t id;
	bool done;            /* on the done stack */
	bool ended;           /* the response's END_STREAM arrived */
	bool failed_at_start; /* finished inside kc_h2u_start: reap after a wait */
	bool retried;         /* refused once and sent again */
	bool retry_pending;   /* on the retry stack */
	bool rst_rcvd;        /* the server sent RST_STREAM */
	int status;
	int64_t ttfb_ns;      /* first response HEADERS, 0: none yet */
	size_t body_off;      /* bytes of the body the data provider gave */
	enum kc_errclass ec;  /* when !ended */
	const char *why;      /* static or the worker's conn_err */
	char clen[24];        /* content-length value */
};

struct kc_h2u {
	struct worker *w;
	int efd;
	char timer_tag;       /* epoll data.ptr of the timerfd */
	SSL_CTX *tls;         /* https:// (--http 2): TLS with ALPN h2; NULL: h2c */
	char hostname[256];   /* for getaddrinfo */
	char port[8];
	struct sockaddr_storage addr;
	socklen_t addrlen;    /* 0: did not resolve */
	nghttp2_session_callbacks *cb;
	struct h2conn **conns;
	uint32_t nconns_cap;
	struct h2req *reqs;   /* per slot */
	uint32_t *done;       /* slot indices of finished requests */
	uint32_t ndone;
	uint32_t *retry;      /* slot indices of refused requests to send again */
	uint32_t nretry;
	int64_t next_check_ns;
	/* the user's headers, names lowercased (HTTP/2), connection-specific ones dropped */
	nghttp2_nv base[KC_ENGINE_MAX_HEADERS];
	size_t nbase;
	char base_names[KC_ENGINE_MAX_HEADERS][NAME_MAX_BYTES];
	/* scratch for one request's header list */
	nghttp2_nv nv[NV_MAX];
	char dnames[KC_DECOR_MAX_HEADERS][NAME_MAX_BYTES];
	char conn_err[KC_H2NET_ERR_MAX];
};

/* ---- finishing requests ---------------------------------------------------- */

/* Takes slot off the retry stack. */
static void unretry(struct kc_h2u *u, uint32_t slot)
{
	for (uint32_t k = 0; k < u->nretry; k++)
		if (u->retry[k] == slot) {
			u->retry[k] = u->retry[--u->nretry];
			break;
		}
	u->reqs[slot].retry_pending = false;
}

/* Unhooks r from its connection (the stream, if any, stays open there). */
static void detach(struct h2req *r)
{
	if (r->c) {
		KC_ASSERT(r->c->nstreams > 0);
		r->c->nstreams--;
		if (r->id > 0 && r->c->net.s)
			nghttp2_session_set_stream_user_data(r->c->net.s, r->id, NULL);
	}
	r->c = NULL;
}

/* Detaches r from its connection and puts its slot on the done stack. */
static void finish(struct kc_h2u *u, uint32_t slot, enum kc_errclass ec, const char *why)
{
	struct h2req *r = &u->reqs[slot];
	if (r->done)
		return;
	if (r->retry_pending)
		unretry(u, slot);
	detach(r);
	r->done = true;
	if (!r->ended) {
		r->ec = ec;
		r->why = why;
	}
	KC_ASSERT(u->ndone < u->w->nslots);
	u->done[u->ndone++] = slot;
}

/*
 * The server refused the request (it did not process it): puts it on the
 * retry stack the first time (kc_h2u_perform sends it again), else finishes
 * it as a reset.
 */
static void refuse(struct kc_h2u *u, uint32_t slot, const char *why)
{
	struct h2req *r = &u->reqs[slot];
	if (r->done || r->retry_pending)
		return;
	if (r->retried || r->ended || r->status) {
		finish(u, slot, KC_EC_RESET,
		       r->retried ? why : "stream refused after its response began");
		return;
	}
	detach(r);
	r->id = 0;
	r->retried = true;
	r->retry_pending = true;
	KC_ASSERT(u->nretry < u->w->nslots);
	u->retry[u->nretry++] = slot;
}

/* The slot of stream id on c, or NULL when the stream is no longer ours. */
static struct h2req *req_of(struct h2conn *c, int32_t id, uint32_t *slot)
{
	struct slot *s = nghttp2_session_get_stream_user_data(c->net.s, id);
	if (!s)
		return NULL;
	struct h2req *r = &c->u->reqs[s->index];
	if (r->c != c || r->id != id || r->done)
		return NULL;
	*slot = s->index;
	return r;
}

/* ---- nghttp2 callbacks ----------------------------------------------------- */

static ssize_t body_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ses;
	(void)id;
	struct h2conn *c = ud;
	struct slot *s = src->ptr;
	struct h2req *r = &c->u->reqs[s->index];
	const struct kc_body *b = &c->u->w->e->cfg.bodies[s->body_index];
	if (r->c != c || r->id != id)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* a stale stream */
	size_t left = b->len - r->body_off;
	size_t n = left < len ? left : len;
	if (n)
		memcpy(buf, (const uint8_t *)b->data + r->body_off, n);
	r->body_off += n;
	if (r->body_off == b->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *ses, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *ud)
{
	(void)ses;
	(void)flags;
	struct h2conn *c = ud;
	uint32_t slot;
	if (f->hd.type != NGHTTP2_HEADERS)
		return 0;
	struct h2req *r = req_of(c, f->hd.stream_id, &slot);
	if (!r)
		return 0;
	if (namelen == 7 && !memcmp(name, ":status", 7)) {
		if (valuelen == 3)
			r->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
		return 0;
	}
	static const char et[] = "x-amzn-errortype";
	if (c->u->w->e->cfg.sagemaker_errors && namelen == sizeof(et) - 1 &&
	    !memcmp(name, et, namelen)) {
		/* SageMaker names its error here (kc_acct_account reads it) */
		struct slot *s = &c->u->w->slots[slot];
		size_t k = valuelen < sizeof(s->errtype) - 1 ? valuelen : sizeof(s->errtype) - 1;
		memcpy(s->errtype, value, k);
		s->errtype[k] = '\0';
		s->errtype_len = k;
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	(void)ses;
	struct h2conn *c = ud;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		/* nghttp2 closes the streams past last_stream_id (REFUSED_STREAM) */
		c->goaway = true;
		c->goaway_rcvd = true;
		c->last_id = f->goaway.last_stream_id;
		return 0;
	}
	if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA &&
	    f->hd.type != NGHTTP2_RST_STREAM)
		return 0;
	uint32_t slot;
	struct h2req *r = req_of(c, f->hd.stream_id, &slot);
	if (!r)
		return 0;
	if (f->hd.type == NGHTTP2_RST_STREAM) {
		r->rst_rcvd = true; /* on_stream_close follows */
		return 0;
	}
	if (f->hd.type == NGHTTP2_HEADERS && !r->ttfb_ns && r->status >= 200)
		r->ttfb_ns = kc_clock_ns();
	if ((f->hd.flags & NGHTTP2_FLAG_END_STREAM) && r->status >= 200) {
		r->ended = true;
		c->timeouts = 0;
	}
	return 0;
}

static int on_data(nghttp2_session *ses, uint8_t flags, int32_t id, const uint8_t *data,
		   size_t len, void *ud)
{
	(void)ses;
	(void)flags;
	struct h2conn *c = ud;
	uint32_t slot;
	struct h2req *r = req_of(c, id, &slot);
	if (!r || r->status < 400 || !c->u->w->e->cfg.sagemaker_errors)
		return 0; /* bodies are read and dropped; only error bodies are kept */
	struct slot *s = &c->u->w->slots[slot];
	if (s->ebody_len < sizeof(s->ebody)) {
		size_t room = sizeof(s->ebody) - s->ebody_len;
		size_t k = len < room ? len : room;
		memcpy(s->ebody + s->ebody_len, data, k);
		s->ebody_len += k;
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud)
{
	(void)ses;
	struct h2conn *c = ud;
	uint32_t slot;
	struct h2req *r = req_of(c, id, &slot);
	if (!r)
		return 0;
	/* A whole response is a response whatever the close code says (a
	 * server may reset the request side with NO_ERROR once it answered). */
	if (code == NGHTTP2_REFUSED_STREAM && !r->ended)
		refuse(c->u, slot, "stream refused twice (GOAWAY or stream limit)");
	else if (code == NGHTTP2_NO_ERROR)
		finish(c->u, slot, KC_EC_RESET, "stream closed before the response ended");
	else if (r->rst_rcvd || code == NGHTTP2_CANCEL)
		finish(c->u, slot, KC_EC_RESET, "stream reset by the server");
	else /* nghttp2 reset it: the response broke HTTP/2 (e.g. content-length) */
		finish(c->u, slot, KC_EC_PROTO, "the server sent an invalid HTTP/2 response");
	return 0;
}

/* A GOAWAY nghttp2 sends with an error code ends the session on a fault
 * of the server's: the connection's streams then end as protocol errors. */
static int on_frame_send(nghttp2_session *ses, const nghttp2_frame *f, void *ud)
{
	(void)ses;
	struct h2conn *c = ud;
	if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR) {
		c->goaway = true;
		c->goaway_sent = true;
	}
	return 0;
}

/*
 * A request's HEADERS that nghttp2 did not send: once a GOAWAY arrived (or
 * nghttp2 sent one), the requests still queued behind
 * MAX_CONCURRENT_STREAMS are dropped, and a stream that was never opened
 * gets no stream-close callback.  They never left, so they are refused.
 */
static int on_frame_not_send(nghttp2_session *ses, const nghttp2_frame *f, int err, void *ud)
{
	(void)ses;
	struct h2conn *c = ud;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct kc_h2u *u = c->u;
	for (uint32_t i = 0; i < u->w->nslots; i++) {
		struct h2req *r = &u->reqs[i];
		if (r->c != c || r->id != f->hd.stream_id || r->done)
			continue;
		if (err == NGHTTP2_ERR_START_STREAM_NOT_ALLOWED || err == NGHTTP2_ERR_STREAM_CLOSED ||
		    err == NGHTTP2_ERR_SESSION_CLOSING)
			refuse(u, i, "stream refused twice (GOAWAY or stream limit)");
		else
			finish(u, i, KC_EC_PROTO, nghttp2_strerror(err));
		break;
	}
	return 0;
}

/* ---- connections ----------------------------------------------------------- */

/* Finishes every request on c with ec and closes c. */
static void conn_drop(struct kc_h2u *u, uint32_t ci, enum kc_errclass ec, const char *why)
{
	struct h2conn *c = u->conns[ci];
	struct worker *w = u->w;
	for (uint32_t i = 0; c->nstreams > 0 && i < w->nslots; i++) {
		if (!w->slots[i].busy || u->reqs[i].c != c)
			continue;
		/* past the GOAWAY's last stream id: not processed, safe to resend */
		if (c->goaway_rcvd && u->reqs[i].id > c->last_id)
			refuse(u, i, "stream refused twice (GOAWAY)");
		else
			finish(u, i, ec, why);
	}
	kc_h2net_close(&c->net);
	free(c);
	u->conns[ci] = NULL;
}

/* Opens connection ci.  Returns it, or NULL with u->conn_err set. */
static struct h2conn *conn_open(struct kc_h2u *u, uint32_t ci)
{
	if (!u->addrlen) {
		snprintf(u->conn_err, sizeof(u->conn_err), "cannot resolve %.120s", u->hostname);
		return NULL;
	}
	/* Per connection, not per request: a connection lives across steps. */
	struct h2conn *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(u->conn_err, sizeof(u->conn_err), "out of memory");
		return NULL;
	}
	c->u = u;
	if (kc_h2net_open(&c->net, u->efd, c, &u->addr, u->addrlen, u->cb, c, u->conn_err,
			  sizeof(u->conn_err))) {
		free(c);
		return NULL;
	}
	u->conns[ci] = c;
	return c;
}

/* Handles epoll events of c: connect progress, then reads. */
static void conn_event(struct kc_h2u *u, struct h2conn *c, uint32_t ev)
{
	uint32_t ci = 0;
	while (ci < u->nconns_cap && u->conns[ci] != c)
		ci++;
	KC_ASSERT(ci < u->nconns_cap);
	if (c->net.st == KC_H2NET_CONNECTING || c->net.st == KC_H2NET_TLS) {
		if (kc_h2net_progress(&c->net, u->tls, u->hostname, u->conn_err, sizeof(u->conn_err))) {
			conn_drop(u, ci, KC_EC_CONNECT, u->conn_err);
			return;
		}
		if (c->net.st != KC_H2NET_READY)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int rc = kc_h2net_read(&c->net);
		if (rc == -2 || (rc && c->goaway_sent))
			conn_drop(u, ci, KC_EC_PROTO, "the server sent invalid HTTP/2");
		else if (rc)
			conn_drop(u, ci, KC_EC_RESET, "connection closed by the server");
	}
}

/*
 * Picks the connection for a new stream: the least loaded live one with
 * room; else a new one while fewer than `connections` are live; else the
 * least loaded live one (the stream waits in nghttp2).  Returns its index,
 * or -1 with u->conn_err set.
 */
static int pick_conn(struct kc_h2u *u)
{
	struct kc_engine *e = u->w->e;
	int best = -1, free_ci = -1;
	uint32_t live = 0, best_n = UINT32_MAX;
	for (uint32_t i = 0; i < u->nconns_cap; i++) {
		struct h2conn *c = u->conns[i];
		if (!c) {
			if (free_ci < 0)
				free_ci = (int)i;
			continue;
		}
		if (c->goaway || c->net.st == KC_H2NET_DEAD)
			continue;
		live++;
		if (c->nstreams < best_n) {
			best_n = c->nstreams;
			best = (int)i;
		}
	}
	uint32_t room = e->streams;
	if (best >= 0) {
		uint32_t peer = nghttp2_session_get_remote_settings(
			u->conns[best]->net.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
		if (peer < room)
			room = peer;
		/* spread over the connections as h2load does: open another
		 * while the least loaded one is busy */
		if (best_n == 0 || (best_n < room && live >= e->connections))
			return best;
	}
	if (live < e->connections && free_ci >= 0 && conn_open(u, (uint32_t)free_ci))
		return free_ci;
	if (best >= 0)
		return best;
	if (free_ci < 0)
		snprintf(u->conn_err, sizeof(u->conn_err),
			 "no connection: every one is closing after GOAWAY");
	return -1;
}

/* ---- requests -------------------------------------------------------------- */

#define NV_LIT(n, v, vl) \
	((nghttp2_nv){(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, (vl), \
		      NGHTTP2_NV_FLAG_NONE})

/* Lowercases a "Name: value" line's name into name[]; false if it does not fit. */
static bool split_line(const char *line, char *name, size_t cap, size_t *nl, const char **v)
{
	const char *colon = strchr(line, ':');
	if (!colon || colon == line || (size_t)(colon - line) >= cap)
		return false;
	size_t n = (size_t)(colon - line);
	for (size_t i = 0; i < n; i++) {
		char ch = line[i];
		name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
	}
	name[n] = '\0';
	const char *p = colon + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	*nl = n;
	*v = p;
	return true;
}

/* Builds the request's header list in u->nv; returns its length. */
static size_t build_nv(struct kc_h2u *u, struct slot *s, struct h2req *r)
{
	struct kc_engine *e = u->w->e;
	size_t n = 0;
	u->nv[n++] = NV_LIT(":method", e->method, strlen(e->method));
	if (u->tls)
		u->nv[n++] = NV_LIT(":scheme", "https", 5);
	else
		u->nv[n++] = NV_LIT(":scheme", "http", 4);
	u->nv[n++] = NV_LIT(":authority", e->host, strlen(e->host));
	u->nv[n++] = NV_LIT(":path", e->path, strlen(e->path));
	for (size_t i = 0; i < u->nbase; i++)
		u->nv[n++] = u->base[i];
	if (e->cfg.nbodies > 0) {
		const char *ct = e->ctype_lines[s->body_index];
		if (ct) /* "Content-Type: x" */
			u->nv[n++] = NV_LIT("content-type", ct + 14, strlen(ct + 14));
		int k = snprintf(r->clen, sizeof(r->clen), "%zu", e->cfg.bodies[s->body_index].len);
		u->nv[n++] = NV_LIT("content-length", r->clen, (size_t)k);
	}
	for (int i = 0; e->cfg.decorate && i < s->decor.n && i < KC_DECOR_MAX_HEADERS; i++) {
		size_t nl;
		const char *v;
		if (!s->decor.line[i] ||
		    !split_line(s->decor.line[i], u->dnames[i], NAME_MAX_BYTES, &nl, &v))
			continue;
		u->nv[n++] = (nghttp2_nv){(uint8_t *)u->dnames[i], (uint8_t *)(uintptr_t)v, nl,
					  strlen(v), NGHTTP2_NV_FLAG_NONE};
	}
	KC_ASSERT(n <= NV_MAX);
	return n;
}

static bool submit(struct kc_h2u *u, struct slot *s, struct h2req *r);

static bool kc_h2u_start(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		  int64_t now_ns)
{
	struct kc_h2u *u = w->h2;
	if (!kc_acct_prepare(w, s, intended_ns, measured, now_ns))
		return false;
	struct h2req *r = &u->reqs[s->index];
	*r = (struct h2req){0};
	if (submit(u, s, r))
		return true;
	/* Finished now, reaped after the next wait (see kc_h2u_reap). */
	r->failed_at_start = true;
	finish(u, s->index, KC_EC_CONNECT, u->conn_err);
	return true;
}

/* Sends the requests the server refused once more (see refuse). */
static void resend_refused(struct kc_h2u *u)
{
	while (u->nretry > 0) {
		uint32_t slot = u->retry[--u->nretry];
		struct h2req *r = &u->reqs[slot];
		r->retry_pending = false;
		r->rst_rcvd = false;
		r->body_off = 0;
		if (!submit(u, &u->w->slots[slot], r))
			finish(u, slot, KC_EC_CONNECT, u->conn_err);
	}
}

/* Puts s's request on a connection (r is zeroed but for retried); true
 * when submitted, else false with u->conn_err set. */
static bool submit(struct kc_h2u *u, struct slot *s, struct h2req *r)
{
	struct worker *w = u->w;
	/* Two tries: a connection whose stream ids ran out is retired. */
	for (int attempt = 0; attempt < 2; attempt++) {
		int ci = pick_conn(u);
		if (ci < 0)
			break;
		struct h2conn *c = u->conns[ci];
		size_t n = build_nv(u, s, r);
		nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read_cb};
		int32_t id = nghttp2_submit_request(c->net.s, NULL, u->nv, n,
						    w->e->cfg.nbodies ? &dp : NULL, s);
		if (id > 0) {
			r->c = c;
			r->id = id;
			c->nstreams++;
			return true;
		}
		c->goaway = true;
		snprintf(u->conn_err, sizeof(u->conn_err), "nghttp2: %s", nghttp2_strerror(id));
	}
	return false;
}

/* Fails the requests that outlived the request timeout. */
static void check_timeouts(struct kc_h2u *u, int64_t now)
{
	struct worker *w = u->w;
	int64_t limit = w->e->cfg.request_timeout_ns;
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		struct h2req *r = &u->reqs[i];
		if (!s->busy || r->done || now - s->sent_ns < limit)
			continue;
		if (r->c && r->id > 0)
			nghttp2_submit_rst_stream(r->c->net.s, NGHTTP2_FLAG_NONE, r->id, NGHTTP2_CANCEL);
		/* retired: no new streams; dropped once its streams are gone */
		if (r->c && ++r->c->timeouts >= STUCK_TIMEOUTS)
			r->c->goaway = true;
		finish(u, i, KC_EC_TIMEOUT, "request timed out");
	}
}

static void kc_h2u_perform(struct worker *w)
{
	struct kc_h2u *u = w->h2;
	resend_refused(u);
	int64_t now = kc_clock_ns();
	if (now >= u->next_check_ns) {
		check_timeouts(u, now);
		u->next_check_ns = now + TIMEOUT_CHECK_NS;
	}
	for (uint32_t i = 0; i < u->nconns_cap; i++) {
		struct h2conn *c = u->conns[i];
		if (!c)
			continue;
		if (c->net.st != KC_H2NET_READY) {
			if (now - c->net.started_ns > w->e->cfg.connect_timeout_ns)
				conn_drop(u, i, KC_EC_TIMEOUT, "connect timed out");
			continue;
		}
		if (kc_h2net_flush(&c->net))
			conn_drop(u, i, c->goaway_sent ? KC_EC_PROTO : KC_EC_RESET,
				  c->goaway_sent ? "the server sent invalid HTTP/2"
				  : c->goaway	 ? "connection closed after GOAWAY"
						 : "connection lost");
		else if (c->goaway && c->nstreams == 0)
			conn_drop(u, i, KC_EC_RESET, "connection closed after GOAWAY");
	}
}

static struct slot *kc_h2u_reap(struct worker *w, int64_t now_ns)
{
	struct kc_h2u *u = w->h2;
	for (uint32_t k = u->ndone; k-- > 0;) {
		uint32_t i = u->done[k];
		struct h2req *r = &u->reqs[i];
		/* a request that failed while being started waits for the next
		 * kc_h2u_wait, so a closed loop cannot restart it in a busy loop */
		if (r->failed_at_start)
			continue;
		u->done[k] = u->done[--u->ndone];
		struct slot *s = &w->slots[i];
		KC_ASSERT(s->busy);
		struct kc_outcome o = {.responded = r->ended, .status = r->status, .ttfb_us = -1,
				       .ec = r->ec, .why = r->why};
		if (r->ended && r->ttfb_ns)
			o.ttfb_us = (r->ttfb_ns - s->sent_ns) / KC_NS_PER_US;
		kc_acct_account(w, s, &o, now_ns);
		r->done = false;
		s->busy = false;
		KC_ASSERT(w->nfree < w->nslots);
		w->free_stack[w->nfree++] = s->index;
		return s;
	}
	return NULL;
}

/* Reads the events epoll has until deadline_ns. */
static void poll_events(struct kc_h2u *u, int64_t deadline_ns)
{
	struct epoll_event evs[64];
	int n = kc_worker_epoll(u->w, u->efd, evs, 64, deadline_ns);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &u->timer_tag) {
			uint64_t ticks;
			/* drained so a fired timer does not keep epoll awake */
			if (read(u->w->timerfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				kc_log(KC_LOG_DEBUG, "timerfd read: %s", strerror(errno));
			continue;
		}
		/* a connection dropped earlier in this batch is gone: skip it */
		bool live = false;
		for (uint32_t k = 0; k < u->nconns_cap && !live; k++)
			live = u->conns[k] == evs[i].data.ptr;
		if (live)
			conn_event(u, evs[i].data.ptr, evs[i].events);
	}
}

static void kc_h2u_wait(struct worker *w, int64_t deadline_ns)
{
	struct kc_h2u *u = w->h2;
	/* what is left on the done stack failed while being started */
	poll_events(u, kc_proto_wait_until(u->ndone, deadline_ns));
	for (uint32_t i = 0; i < u->ndone; i++)
		u->reqs[u->done[i]].failed_at_start = false;
}

static void kc_h2u_step_begin(struct worker *w)
{
	struct kc_h2u *u = w->h2;
	/* what arrived while no step ran: SETTINGS, PINGs, a GOAWAY, a close */
	poll_events(u, 0);
	kc_h2u_perform(w);
	u->next_check_ns = 0;
}

static void kc_h2u_abandon(struct worker *w, struct slot *s)
{
	struct kc_h2u *u = w->h2;
	if (!s->busy)
		return;
	struct h2req *r = &u->reqs[s->index];
	if (r->retry_pending) {
		unretry(u, s->index);
	} else if (r->done) {
		for (uint32_t k = 0; k < u->ndone; k++)
			if (u->done[k] == s->index) {
				u->done[k] = u->done[--u->ndone];
				break;
			}
	} else if (r->c) {
		struct h2conn *c = r->c;
		if (r->id > 0) {
			nghttp2_submit_rst_stream(c->net.s, NGHTTP2_FLAG_NONE, r->id, NGHTTP2_CANCEL);
			nghttp2_session_set_stream_user_data(c->net.s, r->id, NULL);
		}
		c->nstreams--;
		kc_h2net_flush(&c->net);
	}
	*r = (struct h2req){0};
	s->busy = false;
	KC_ASSERT(w->nfree < w->nslots);
	w->free_stack[w->nfree++] = s->index;
}

/* ---- set-up ---------------------------------------------------------------- */

/* Connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2; TE only
 * with a value other than "trailers"), Host, which :authority replaces,
 * and Content-Length, which build_nv writes from the body (a second one
 * makes the server reject the request). */
static bool forbidden(const char *name, const char *value)
{
	static const char *const no[] = {"connection", "keep-alive", "proxy-connection",
					 "transfer-encoding", "upgrade", "host", "expect",
					 "content-length"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (!strcmp(name, no[i]))
			return true;
	return !strcmp(name, "te") && strcasecmp(value, "trailers") != 0;
}

static int kc_h2u_worker_init(struct worker *w, struct kc_diag *d)
{
	struct kc_engine *e = w->e;
	struct kc_h2u *u = calloc(1, sizeof(*u));
	if (!u)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	w->h2 = u;
	u->w = w;
	u->efd = -1;
	if (e->cfg.http == KC_HTTP_2_PRIOR && strncasecmp(e->url, "http://", 7) != 0)
		return kc_diag_set(d, KC_EINVAL, "--http h2c is cleartext: the target must be "
				   "http://, not '%s' (use --http 2 for https://)", e->url);
	if (e->cfg.response_stream)
		return kc_diag_set(d, KC_EUNSUPPORTED, "--response-stream is not supported with "
				   "--http h2c yet; use --http 1.1 or --http 2");
	const bool tls = !strncasecmp(e->url, "https://", 8);
	if (kc_url_split_hostport(e->host, tls ? "443" : "80", u->hostname, sizeof(u->hostname),
				  u->port, sizeof(u->port)))
		return kc_diag_set(d, KC_EINVAL, "bad host '%s'", e->host);
	/* HTTP/2 over TLS (--http 2 to an https:// URL): ALPN must pick h2 */
	int rc = tls ? kc_h2net_tls_ctx(&u->tls, e->cfg.insecure, e->cfg.cacert, d) : KC_OK;
	if (rc)
		return rc;
	/* Resolved once: workers never block on DNS during a step. */
	kc_net_resolve(u->hostname, u->port, &u->addr, &u->addrlen);
	/* GOAWAY leaves connections closing beside their replacements. */
	u->nconns_cap = 2 * e->connections + 2;
	u->conns = calloc(u->nconns_cap, sizeof(*u->conns));
	u->reqs = calloc(w->nslots, sizeof(*u->reqs));
	u->done = calloc(w->nslots, sizeof(*u->done));
	u->retry = calloc(w->nslots, sizeof(*u->retry));
	if (!u->conns || !u->reqs || !u->done || !u->retry)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %u streams", w->nslots);
	if (nghttp2_session_callbacks_new(&u->cb))
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	nghttp2_session_callbacks_set_on_header_callback(u->cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(u->cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(u->cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(u->cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(u->cb, on_frame_not_send);
	nghttp2_session_callbacks_set_on_frame_send_callback(u->cb, on_frame_send);
	for (size_t i = 0; i < e->nheaders; i++) {
		size_t nl;
		const char *v;
		if (!split_line(e->headers[i], u->base_names[u->nbase], NAME_MAX_BYTES, &nl, &v))
			return kc_diag_set(d, KC_EINVAL, "header '%s': name too long for h2c",
					   e->headers[i]);
		if (forbidden(u->base_names[u->nbase], v))
			continue;
		u->base[u->nbase] = (nghttp2_nv){(uint8_t *)u->base_names[u->nbase],
						 (uint8_t *)(uintptr_t)v, nl, strlen(v),
						 NGHTTP2_NV_FLAG_NONE};
		u->nbase++;
	}
	u->efd = epoll_create1(EPOLL_CLOEXEC);
	if (u->efd < 0)
		return kc_diag_set(d, KC_EIO, "epoll_create1: %s", strerror(errno));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &u->timer_tag};
	if (epoll_ctl(u->efd, EPOLL_CTL_ADD, w->timerfd, &ev))
		return kc_diag_set(d, KC_EIO, "epoll_ctl: %s", strerror(errno));
	return KC_OK;
}

static void kc_h2u_worker_fini(struct worker *w)
{
	struct kc_h2u *u = w ? w->h2 : NULL;
	if (!u)
		return;
	for (uint32_t i = 0; u->conns && i < u->nconns_cap; i++)
		if (u->conns[i]) {
			kc_h2net_close(&u->conns[i]->net);
			free(u->conns[i]);
		}
	if (u->cb)
		nghttp2_session_callbacks_del(u->cb);
	if (u->tls)
		SSL_CTX_free(u->tls);
	if (u->efd >= 0)
		close(u->efd);
	free(u->conns);
	free(u->reqs);
	free(u->done);
	free(u->retry);
	free(u);
	w->h2 = NULL;
}

const struct kc_proto kc_proto_h2c = {
	.name = "http/2",
	.init = kc_h2u_worker_init,
	.fini = kc_h2u_worker_fini,
	.step_begin = kc_h2u_step_begin,
	.start = kc_h2u_start,
	.perform = kc_h2u_perform,
	.reap = kc_h2u_reap,
	.wait = kc_h2u_wait,
	.abandon = kc_h2u_abandon,
};
