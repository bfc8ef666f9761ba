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
 * The streams (deadline heap, requests, answers) are h2dispatch.c; this
 * file is the loop threads, their connections, and start/stop.
 *
 * Not here: HTTP/1.1 (server.c), the bidirectional stream path (bidi.c).
 */
#include "h2serve_int.h"

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

int kc_emu_h2_listen_port(const struct kc_emu_h2 *h)
{
	return h->port;
}

/* ---- the loop ----------------------------------------------------------- */

static void epoll_add(int efd, int fd, void *ptr);

static void conn_close(struct h2conn *c)
{
	struct h2loop *h = c->h;
	/* nghttp2_session_del calls no stream-close callbacks. */
	while (c->streams)
		h2s_stream_release(c->streams);
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
	h2s_mark_dirty(c);
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
				h2s_mark_dirty(c);
			}
			continue;
		}
		bool busy = false;
		for (struct stream *s = c->streams; s; s = s->cnext) {
			if (s->st == ST_HEAD || s->st == ST_BODY) {
				if (now - s->born_ns > p->h2_idle_timeout_ns)
					h2s_stream_reset(s, NGHTTP2_CANCEL);
			} else {
				busy = true; /* the server owes it an answer */
			}
		}
		if (!busy && now - c->last_ns > p->h2_idle_timeout_ns) {
			nghttp2_session_terminate_session(c->io.s, NGHTTP2_NO_ERROR);
			c->dead = true; /* flush_dirty: the GOAWAY, best effort */
			(void)kc_h2io_flush(&c->io);
			h2s_mark_dirty(c);
		}
	}
}

static void timer_fire(struct h2loop *h, struct stream *s)
{
	struct kc_emu *e = h->e;
	if (s->wk == W_GHOST) {
		kc_emu_req_leave(e, &s->r);
		h2s_stream_free(h, s);
		return;
	}
	switch (s->wk) {
	case W_GHOST:
		break;
	case W_FINISH:
		kc_emu_req_leave(e, &s->r);
		h2s_deliver(s);
		break;
	case W_DELIVER:
		h2s_answer_invocation(s);
		break;
	case W_TRICKLE:
		s->trickle_ready = true;
		nghttp2_session_resume_data(s->c->io.s, s->id);
		break;
	}
	h2s_mark_dirty(s->c);
}

static void fire_due(struct h2loop *h)
{
	int64_t now = kc_clock_ns();
	/* Bounded per pass: a burst of due answers cannot starve the sockets. */
	for (int i = 0; i < 4096 && h->nheap > 0 && h->heap[0]->due_ns <= now; i++) {
		struct stream *s = h->heap[0];
		h2s_heap_remove(h, s);
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
		h2s_mark_dirty(c);
	}
}

/* Stopping: every waiting invocation is answered 503, best effort. */
static void answer_pending(struct h2loop *h)
{
	while (h->nheap > 0) {
		struct stream *s = h->heap[0];
		h2s_heap_remove(h, s);
		if (s->wk == W_GHOST) {
			kc_emu_req_leave(h->e, &s->r);
			h2s_stream_free(h, s);
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
			h2s_answer_invocation(s);
		}
		h2s_mark_dirty(s->c);
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
				h2s_mark_dirty(c);
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
	h2s_callbacks_init(srv->cbs);
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
