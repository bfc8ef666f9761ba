/*
 * h1unary.c - the native HTTP/1.1 client (kc_proto_h1): each connection
 * slot owns one keep-alive connection on the engine's own transport
 * (h2net.c: non-blocking socket, TLS with ALPN http/1.1), requests are
 * written with one sendmsg (head + body from the payload pool, never
 * copied; over TLS, two SSL_writes), responses read by the llhttp codec
 * (h1.c).
 *
 * Why not libcurl: it spends ~63k instructions per request in URL parsing,
 * header formatting and state machines this engine does not need; here the
 * request head is formatted once per payload (kc_h1_format_head) and only
 * the decorator's lines (SigV4) are added per request.
 *
 * Finished requests wait on the worker's done stack until worker.c reaps
 * them; they are accounted by kc_acct_account like every driver's.  Error
 * classes, as the libcurl path's: refused/unreachable/TLS handshake ->
 * connect; connect or request past its timeout -> timeout; closed before
 * or during the response -> reset (a keep-alive connection the server
 * closed before one byte of the response came is retried once on a fresh
 * connection, as libcurl does); bytes that are not HTTP/1.1 (a cut or
 * oversized header block, bad chunk sizes) -> proto.  Redirects are not
 * followed (a 3xx is a response).  Not here: proxies and client
 * certificates (--client curl), HTTP/2 (h2unary.c, libcurl over TLS).
 * Invariant: a busy slot's request is either on its connection (c->active)
 * or on the done stack (c->done), never both.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "h1.h"
#include "h2net_int.h"
#include "kneecap/net.h"
#include "kneecap/url.h"
#include "kneecap/clock.h"
#include "kneecap/log.h"
#include "proto.h"

/* Granularity of the per-request timeout check. */
#define TIMEOUT_CHECK_NS (10 * KC_NS_PER_MS)
/* epoll data of the timerfd (connections carry slot << 32 | generation). */
#define TIMER_TAG UINT64_MAX
#define RBUF_BYTES 65536

struct h1conn {
	struct kc_h2net net;   /* net.fd < 0: no connection */
	struct kc_h1_resp resp;
	struct slot *s;
	uint32_t gen;          /* bumped per connection: stale epoll events are dropped */
	uint32_t nreq;         /* responses read on this connection */
	/* the current request */
	bool active;           /* on this connection, not finished */
	bool done;             /* on the done stack */
	bool failed_at_start;  /* finished inside start: reap after a wait */
	bool retried;          /* sent again on a fresh connection once */
	bool responded;
	long status;
	int64_t first_byte_ns; /* 0: none yet */
	enum kc_errclass ec;
	const char *why;
	const char *seg[2];    /* head, body */
	size_t seg_len[2];
	int seg_i;             /* segment being written; 2: all written */
	size_t seg_off;
	char *head;            /* decorated head (the payload's head + decorator lines) */
	size_t head_cap;
	char err[KC_H2NET_ERR_MAX];
};

struct kc_h1u {
	struct worker *w;
	int efd;
	char hostname[256];
	char port[8];
	struct sockaddr_storage addr;
	socklen_t addrlen;     /* 0: did not resolve */
	SSL_CTX *tls;          /* https:// */
	bool head_method;
	size_t nheads;
	char **prefix;         /* per payload: head without the final CRLF */
	size_t *prefix_len;
	char **full;           /* per payload: the whole head (no decorator) */
	size_t *full_len;
	struct h1conn *conns;  /* one per slot */
	uint32_t *done;
	uint32_t ndone;
	int64_t next_check_ns;
	char rbuf[RBUF_BYTES];
};

/* ---- connections ----------------------------------------------------------- */

static void conn_close(struct kc_h1u *u, struct h1conn *c)
{
	(void)u;
	if (c->net.fd >= 0)
		kc_h2net_close(&c->net);
	c->net.fd = -1;
	c->gen++;
	c->nreq = 0;
}

static void *tag_of(struct h1conn *c)
{
	return (void *)(uintptr_t)(((uint64_t)c->s->index << 32) | c->gen);
}

/* Starts a connection for c; false with c->err set. */
static bool conn_open(struct kc_h1u *u, struct h1conn *c)
{
	conn_close(u, c);
	if (!u->addrlen) {
		snprintf(c->err, sizeof(c->err), "cannot resolve %.120s", u->hostname);
		return false;
	}
	if (kc_h2net_open(&c->net, u->efd, tag_of(c), &u->addr, u->addrlen, NULL, NULL, c->err,
			  sizeof(c->err))) {
		c->net.fd = -1;
		return false;
	}
	return true;
}

/* Puts the request on the done stack with what happened to it. */
static void finish(struct kc_h1u *u, struct h1conn *c, bool responded, enum kc_errclass ec,
		   const char *why)
{
	if (c->done)
		return;
	c->active = false;
	c->done = true;
	c->responded = responded;
	c->ec = ec;
	c->why = why;
	KC_ASSERT(u->ndone < u->w->nslots);
	u->done[u->ndone++] = c->s->index;
}

/* The request failed on c's connection, which is closed. */
static void fail(struct kc_h1u *u, struct h1conn *c, enum kc_errclass ec, const char *why)
{
	if (why && why != c->err)
		snprintf(c->err, sizeof(c->err), "%s", why);
	conn_close(u, c);
	finish(u, c, false, ec, c->err);
}

static void write_request(struct kc_h1u *u, struct h1conn *c);

/*
 * The connection died before one byte of the response: on a reused
 * connection (the server closed it while idle, or as the request left) the
 * request goes once more on a fresh one; else it is a reset.
 */
static void lost(struct kc_h1u *u, struct h1conn *c, const char *why)
{
	if (c->nreq > 0 && !c->retried && !c->resp.got_bytes) {
		c->retried = true;
		c->seg_i = 0;
		c->seg_off = 0;
		if (!conn_open(u, c)) {
			finish(u, c, false, KC_EC_CONNECT, c->err);
			return;
		}
		kc_h1_resp_begin(&c->resp, u->head_method, u->w->e->cfg.sagemaker_errors);
		return;
	}
	fail(u, c, KC_EC_RESET, why);
}

/* A whole response arrived; extra: bytes followed it (never expected). */
static void complete(struct kc_h1u *u, struct h1conn *c, bool extra)
{
	struct slot *s = c->s;
	c->status = c->resp.status;
	if (c->resp.errtype_len) {
		memcpy(s->errtype, c->resp.errtype, c->resp.errtype_len + 1);
		s->errtype_len = c->resp.errtype_len;
	}
	/* a response that came before the whole request left (an early 413)
	 * leaves the connection mid-request: it cannot carry the next one */
	if (extra || !c->resp.keep_alive || c->seg_i < 2)
		conn_close(u, c);
	else
		c->nreq++;
	finish(u, c, true, KC_EC_OTHER, NULL);
}

/* Reads what the socket has into the codec. */
static void conn_read(struct kc_h1u *u, struct h1conn *c)
{
	for (int i = 0; i < 16 && c->net.fd >= 0; i++) {
		ssize_t r = kc_net_recv(c->net.fd, c->net.ssl, (uint8_t *)u->rbuf, sizeof(u->rbuf),
					 NULL);
		if (r == 0)
			return;
		if (!c->active) {
			/* an idle connection: the server closed it, or sent bytes
			 * nobody asked for; either way it is done */
			conn_close(u, c);
			return;
		}
		if (r < 0) {
			int e = kc_h1_resp_eof(&c->resp);
			if (e == KC_H1_DONE)
				complete(u, c, false);
			else if (e == KC_H1_NOTHING)
				lost(u, c, "connection closed before any response");
			else if (e == KC_H1_BAD)
				fail(u, c, KC_EC_PROTO, c->resp.why);
			else
				fail(u, c, KC_EC_RESET, c->resp.why);
			return;
		}
		if (!c->first_byte_ns)
			c->first_byte_ns = kc_clock_ns();
		size_t used = 0;
		int e = kc_h1_resp_feed(&c->resp, u->rbuf, (size_t)r, &used);
		if (e == KC_H1_DONE) {
			complete(u, c, used < (size_t)r);
			return;
		}
		if (e == KC_H1_BAD) {
			fail(u, c, KC_EC_PROTO, c->resp.why);
			return;
		}
		/* drained: the next read would block (TLS hands over one record
		 * per read: go on while the record has more) */
		if ((size_t)r < sizeof(u->rbuf) && !(c->net.ssl && SSL_pending(c->net.ssl) > 0))
			return;
	}
}

/* Writes what is left of the request; EPOLLOUT only while bytes wait. */
static void write_request(struct kc_h1u *u, struct h1conn *c)
{
	while (c->seg_i < 2) {
		ssize_t r;
		if (!c->net.ssl) {
			struct iovec iov[2];
			int n = 0;
			for (int i = c->seg_i; i < 2; i++) {
				size_t off = i == c->seg_i ? c->seg_off : 0;
				if (c->seg_len[i] > off)
					iov[n++] = (struct iovec){(void *)(uintptr_t)(c->seg[i] + off),
								  c->seg_len[i] - off};
			}
			if (n == 0) {
				c->seg_i = 2;
				break;
			}
			struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
			r = sendmsg(c->net.fd, &m, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				r = 0;
		} else {
			size_t left = c->seg_len[c->seg_i] - c->seg_off;
			r = left ? kc_net_send(c->net.fd, c->net.ssl,
					       (const uint8_t *)c->seg[c->seg_i] + c->seg_off, left)
				 : 0;
			if (!left) {
				c->seg_i++;
				c->seg_off = 0;
				continue;
			}
		}
		if (r < 0) {
			/* the server may have answered and closed (an early error
			 * response): read what it said before calling it lost */
			uint32_t gen = c->gen;
			conn_read(u, c);
			/* unless the read finished it or already sent it again */
			if (c->active && c->gen == gen)
				lost(u, c, "connection lost while sending the request");
			return;
		}
		if (r == 0)
			break;
		size_t k = (size_t)r;
		while (c->seg_i < 2 && k >= c->seg_len[c->seg_i] - c->seg_off) {
			k -= c->seg_len[c->seg_i] - c->seg_off;
			c->seg_i++;
			c->seg_off = 0;
		}
		if (c->seg_i < 2)
			c->seg_off += k;
	}
	kc_h2net_want_out(&c->net, c->seg_i < 2);
}

/* Handles epoll events of c: connect and TLS progress, writes, reads. */
static void conn_event(struct kc_h1u *u, struct h1conn *c, uint32_t ev)
{
	if (c->net.fd < 0)
		return;
	if (c->net.st == KC_H2NET_CONNECTING || c->net.st == KC_H2NET_TLS) {
		if (kc_h2net_progress(&c->net, u->tls, u->hostname, c->err, sizeof(c->err))) {
			conn_close(u, c);
			if (c->active)
				finish(u, c, false, KC_EC_CONNECT, c->err);
			return;
		}
		if (c->net.st != KC_H2NET_READY)
			return;
		if (c->active)
			write_request(u, c);
		else
			kc_h2net_want_out(&c->net, false);
		if (c->net.fd < 0 || !c->net.ssl)
			return;
		/* OpenSSL may hold decrypted bytes already: read them now */
		ev |= EPOLLIN;
	}
	if ((ev & EPOLLOUT) && c->active && c->seg_i < 2)
		write_request(u, c);
	if (c->net.fd >= 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(u, c);
}

/* ---- the driver ------------------------------------------------------------ */

/* Body bytes of the final response: response streams and error bodies. */
static void on_body(void *ud, int status, const char *p, size_t n)
{
	struct h1conn *c = ud;
	struct slot *s = c->s;
	const struct kc_engine_config *cfg = &s->w->e->cfg;
	if (status >= 200 && status < 300) {
		if (cfg->response_stream)
			kc_rs_feed(&s->rs, p, n, kc_clock_ns(), kc_acct_on_part, s);
		return;
	}
	if (status >= 400 && cfg->sagemaker_errors && s->ebody_len < sizeof(s->ebody)) {
		size_t room = sizeof(s->ebody) - s->ebody_len;
		size_t k = n < room ? n : room;
		memcpy(s->ebody + s->ebody_len, p, k);
		s->ebody_len += k;
	}
}

/* Points c's segments at the request: the payload's head (decorated when
 * a decorator added lines) and the pooled body. */
static bool set_request(struct kc_h1u *u, struct h1conn *c)
{
	struct slot *s = c->s;
	struct kc_engine *e = u->w->e;
	size_t bi = e->cfg.nbodies ? s->body_index : 0;
	if (!e->cfg.decorate || s->decor.n == 0) {
		c->seg[0] = u->full[bi];
		c->seg_len[0] = u->full_len[bi];
	} else {
		size_t need = u->prefix_len[bi] + 2;
		for (int i = 0; i < s->decor.n && i < KC_DECOR_MAX_HEADERS; i++)
			if (s->decor.line[i])
				need += strlen(s->decor.line[i]) + 2;
		if (need > c->head_cap) {
			/* grows once to the largest signed head, then stays */
			char *h = realloc(c->head, need + 256);
			if (!h)
				return false;
			c->head = h;
			c->head_cap = need + 256;
		}
		char *p = c->head;
		memcpy(p, u->prefix[bi], u->prefix_len[bi]);
		p += u->prefix_len[bi];
		for (int i = 0; i < s->decor.n && i < KC_DECOR_MAX_HEADERS; i++) {
			if (!s->decor.line[i])
				continue;
			size_t l = strlen(s->decor.line[i]);
			memcpy(p, s->decor.line[i], l);
			p += l;
			*p++ = '\r';
			*p++ = '\n';
		}
		*p++ = '\r';
		*p++ = '\n';
		c->seg[0] = c->head;
		c->seg_len[0] = (size_t)(p - c->head);
	}
	if (e->cfg.nbodies) {
		c->seg[1] = e->cfg.bodies[bi].data;
		c->seg_len[1] = e->cfg.bodies[bi].len;
	} else {
		c->seg[1] = NULL;
		c->seg_len[1] = 0;
	}
	c->seg_i = 0;
	c->seg_off = 0;
	return true;
}

static bool h1_start(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		     int64_t now_ns)
{
	struct kc_h1u *u = w->h1;
	if (!kc_acct_prepare(w, s, intended_ns, measured, now_ns))
		return false;
	struct h1conn *c = &u->conns[s->index];
	c->active = true;
	c->done = c->failed_at_start = c->retried = c->responded = false;
	c->status = 0;
	c->first_byte_ns = 0;
	c->why = NULL;
	if (!set_request(u, c)) {
		snprintf(c->err, sizeof(c->err), "out of memory for a request head");
		c->failed_at_start = true;
		finish(u, c, false, KC_EC_OTHER, c->err);
		return true;
	}
	kc_h1_resp_begin(&c->resp, u->head_method, w->e->cfg.sagemaker_errors);
	if (c->net.fd < 0 && !conn_open(u, c)) {
		/* reaped after the next wait, so a closed loop cannot spin */
		c->failed_at_start = true;
		finish(u, c, false, KC_EC_CONNECT, c->err);
		return true;
	}
	if (c->net.st == KC_H2NET_READY)
		write_request(u, c);
	return true;
}

/* Fails the requests past the request timeout and connects past theirs. */
static void check_timeouts(struct kc_h1u *u, int64_t now)
{
	struct worker *w = u->w;
	const struct kc_engine_config *cfg = &w->e->cfg;
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct h1conn *c = &u->conns[i];
		if (!c->active)
			continue;
		if (c->net.fd >= 0 && c->net.st != KC_H2NET_READY &&
		    now - c->net.started_ns > cfg->connect_timeout_ns)
			fail(u, c, KC_EC_TIMEOUT, "connect timed out");
		else if (now - w->slots[i].sent_ns >= cfg->request_timeout_ns)
			fail(u, c, KC_EC_TIMEOUT, "request timed out");
	}
}

static void h1_perform(struct worker *w)
{
	struct kc_h1u *u = w->h1;
	int64_t now = kc_clock_ns();
	if (now >= u->next_check_ns) {
		check_timeouts(u, now);
		u->next_check_ns = now + TIMEOUT_CHECK_NS;
	}
}

static struct slot *h1_reap(struct worker *w, int64_t now_ns)
{
	struct kc_h1u *u = w->h1;
	for (uint32_t k = u->ndone; k-- > 0;) {
		uint32_t i = u->done[k];
		struct h1conn *c = &u->conns[i];
		if (c->failed_at_start)
			continue;
		u->done[k] = u->done[--u->ndone];
		struct slot *s = &w->slots[i];
		KC_ASSERT(s->busy);
		struct kc_outcome o = {.responded = c->responded, .status = c->status,
				       .ttfb_us = -1, .ec = c->ec, .why = c->why};
		if (c->responded && c->first_byte_ns)
			o.ttfb_us = (c->first_byte_ns - s->sent_ns) / KC_NS_PER_US;
		kc_acct_account(w, s, &o, now_ns);
		c->done = false;
		kc_acct_release(w, s);
		return s;
	}
	return NULL;
}

static void poll_events(struct kc_h1u *u, int64_t deadline_ns)
{
	struct epoll_event evs[64];
	int n = kc_worker_epoll(u->w, u->efd, evs, 64, deadline_ns);
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		if (tag == TIMER_TAG)
			continue; /* edge-triggered: never read (see h1_init) */
		uint32_t slot = (uint32_t)(tag >> 32);
		if (slot >= u->w->nslots)
			continue;
		struct h1conn *c = &u->conns[slot];
		/* an event of a connection closed earlier in this batch */
		if (c->gen != (uint32_t)tag || c->net.fd < 0)
			continue;
		conn_event(u, c, evs[i].events);
	}
}

static void h1_wait(struct worker *w, int64_t deadline_ns)
{
	struct kc_h1u *u = w->h1;
	/* what is left on the done stack failed while being started */
	poll_events(u, kc_proto_wait_until(u->ndone, deadline_ns));
	for (uint32_t i = 0; i < u->ndone; i++)
		u->conns[u->done[i]].failed_at_start = false;
}

static void h1_step_begin(struct worker *w)
{
	struct kc_h1u *u = w->h1;
	/* idle connections the server closed between steps */
	poll_events(u, 0);
	u->next_check_ns = 0;
}

static void h1_abandon(struct worker *w, struct slot *s)
{
	struct kc_h1u *u = w->h1;
	if (!s->busy)
		return;
	struct h1conn *c = &u->conns[s->index];
	if (c->done) {
		for (uint32_t k = 0; k < u->ndone; k++)
			if (u->done[k] == s->index) {
				u->done[k] = u->done[--u->ndone];
				break;
			}
	} else {
		/* mid-request: the connection's state is unknown */
		conn_close(u, c);
	}
	c->active = c->done = c->failed_at_start = false;
	kc_acct_release(w, s);
}

/* ---- set-up ---------------------------------------------------------------- */

/* Formats every payload's request head once. */
static int make_heads(struct kc_h1u *u, struct kc_diag *d)
{
	struct kc_engine *e = u->w->e;
	u->nheads = e->cfg.nbodies ? e->cfg.nbodies : 1;
	u->prefix = calloc(u->nheads, sizeof(*u->prefix));
	u->prefix_len = calloc(u->nheads, sizeof(*u->prefix_len));
	u->full = calloc(u->nheads, sizeof(*u->full));
	u->full_len = calloc(u->nheads, sizeof(*u->full_len));
	if (!u->prefix || !u->prefix_len || !u->full || !u->full_len)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	for (size_t i = 0; i < u->nheads; i++) {
		const char *ct = e->cfg.nbodies ? e->ctype_lines[i] : NULL;
		int64_t blen = e->cfg.nbodies ? (int64_t)e->cfg.bodies[i].len : -1;
		size_t n;
		u->prefix[i] = kc_h1_format_head(e->method, e->host, e->path, e->headers,
						 e->nheaders, ct, blen, &n);
		if (!u->prefix[i] || !(u->full[i] = malloc(n + 3)))
			return kc_diag_set(d, KC_ENOMEM, "out of memory");
		u->prefix_len[i] = n;
		memcpy(u->full[i], u->prefix[i], n);
		memcpy(u->full[i] + n, "\r\n", 3);
		u->full_len[i] = n + 2;
	}
	return KC_OK;
}

static void h1_fini(struct worker *w)
{
	struct kc_h1u *u = w ? w->h1 : NULL;
	if (!u)
		return;
	for (uint32_t i = 0; u->conns && i < w->nslots; i++) {
		conn_close(u, &u->conns[i]);
		free(u->conns[i].head);
	}
	for (size_t i = 0; i < u->nheads; i++) {
		if (u->prefix)
			free(u->prefix[i]);
		if (u->full)
			free(u->full[i]);
	}
	free(u->prefix);
	free(u->prefix_len);
	free(u->full);
	free(u->full_len);
	if (u->tls)
		SSL_CTX_free(u->tls);
	if (u->efd >= 0)
		close(u->efd);
	free(u->conns);
	free(u->done);
	free(u);
	w->h1 = NULL;
}

static int h1_init(struct worker *w, struct kc_diag *d)
{
	struct kc_engine *e = w->e;
	struct kc_h1u *u = calloc(1, sizeof(*u));
	if (!u)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	w->h1 = u;
	u->w = w;
	u->efd = -1;
	bool tls = !strncasecmp(e->url, "https://", 8);
	if (kc_url_split_hostport(e->host, tls ? "443" : "80", u->hostname, sizeof(u->hostname),
				  u->port, sizeof(u->port)))
		return kc_diag_set(d, KC_EINVAL, "bad host '%s'", e->host);
	int rc;
	if (tls) {
		static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
		if ((rc = kc_net_tls_client_ctx(&u->tls, alpn, sizeof(alpn), e->cfg.insecure,
						 e->cfg.cacert, d)))
			return rc;
	}
	u->head_method = !strcmp(e->method, "HEAD");
	if ((rc = make_heads(u, d)))
		return rc;
	/* Resolved once: workers never block on DNS during a step. */
	kc_net_resolve(u->hostname, u->port, &u->addr, &u->addrlen);
	u->conns = calloc(w->nslots, sizeof(*u->conns));
	u->done = calloc(w->nslots, sizeof(*u->done));
	if (!u->conns || !u->done)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %u connections", w->nslots);
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct h1conn *c = &u->conns[i];
		c->s = &w->slots[i];
		c->net.fd = -1;
		kc_h1_resp_init(&c->resp, on_body, c);
	}
	u->efd = epoll_create1(EPOLL_CLOEXEC);
	if (u->efd < 0)
		return kc_diag_set(d, KC_EIO, "epoll_create1: %s", strerror(errno));
	/* The timer wakes epoll only on kernels without epoll_pwait2.
	 * Edge-triggered: kc_worker_epoll re-arms it (which clears it) before
	 * every wait, so it is never read. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = TIMER_TAG};
	if (epoll_ctl(u->efd, EPOLL_CTL_ADD, w->timerfd, &ev))
		return kc_diag_set(d, KC_EIO, "epoll_ctl: %s", strerror(errno));
	return KC_OK;
}

const struct kc_proto kc_proto_h1 = {
	.name = "http/1.1",
	.init = h1_init,
	.fini = h1_fini,
	.step_begin = h1_step_begin,
	.start = h1_start,
	.perform = h1_perform,
	.reap = h1_reap,
	.wait = h1_wait,
	.abandon = h1_abandon,
};
