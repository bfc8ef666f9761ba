/*
 * bidi.c - the emulator's streaming half: an h2c server (nghttp2) for
 * SageMaker's bidirectional stream path, with the stream-count latency model
 * of bidi.h.
 *
 * One thread runs an epoll loop over the listening socket, the connections,
 * a timerfd armed at the earliest due reply and an eventfd for stop.  Each
 * connection has its own nghttp2 server session; nghttp2 does no I/O, the
 * loop reads into it and writes what it produces.  Every stream occupies one
 * slot of a table allocated at start; a slot's pending replies are a fixed
 * ring of due times, and the slots with pending replies sit in an indexed
 * min-heap keyed by their earliest due time, so the timer always fires for
 * the next reply of the whole server.  Nothing is allocated per chunk.
 *
 * With TLS the same loop drives non-blocking OpenSSL handshakes (ALPN must
 * select h2); the socket/TLS/nghttp2 plumbing is h2io.c, shared with the
 * InvokeEndpoint face (h2serve.c).
 *
 * The profile and latency model are bidimodel.c; the request side of a
 * stream (headers, signatures, event frames, injected errors) is bidireq.c.
 *
 * Invariant: a slot is in the heap exactly when its reply ring is non-empty,
 * and the slot's heap_idx says where.  Not here: HTTP/1.1 (the unary half in
 * server.c serves that).
 */
#include "bidi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

void kc_bidi_stats(struct kc_bidi *b, struct kc_bidi_stats *out)
{
	memset(out, 0, sizeof(*out));
#define LOAD(f) out->f = atomic_load_explicit(&b->f, memory_order_relaxed);
	STAT_FIELDS(LOAD)
#undef LOAD
}

int kc_bidi_port(const struct kc_bidi *b) { return b->port; }

/* ---- heap of slots by earliest due reply -------------------------------- */

static int64_t slot_key(const struct kc_bidi *b, uint32_t i)
{
	const struct slot *s = &b->slots[i];
	return s->due[s->rhead];
}

static void heap_swap(struct kc_bidi *b, uint32_t x, uint32_t y)
{
	uint32_t t = b->heap[x];
	b->heap[x] = b->heap[y];
	b->heap[y] = t;
	b->slots[b->heap[x]].heap_idx = (int)x;
	b->slots[b->heap[y]].heap_idx = (int)y;
}

static void heap_up(struct kc_bidi *b, uint32_t i)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (slot_key(b, b->heap[p]) <= slot_key(b, b->heap[i]))
			break;
		heap_swap(b, p, i);
		i = p;
	}
}

static void heap_down(struct kc_bidi *b, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < b->nheap && slot_key(b, b->heap[l]) < slot_key(b, b->heap[m]))
			m = l;
		if (r < b->nheap && slot_key(b, b->heap[r]) < slot_key(b, b->heap[m]))
			m = r;
		if (m == i)
			return;
		heap_swap(b, m, i);
		i = m;
	}
}

void bidi_heap_push(struct kc_bidi *b, uint32_t si)
{
	KC_ASSERT(b->slots[si].heap_idx < 0 && b->nheap < b->nslots);
	b->heap[b->nheap] = si;
	b->slots[si].heap_idx = (int)b->nheap;
	b->nheap++;
	heap_up(b, b->nheap - 1);
}

static void heap_remove(struct kc_bidi *b, uint32_t si)
{
	int i = b->slots[si].heap_idx;
	if (i < 0)
		return;
	uint32_t last = b->nheap - 1;
	if ((uint32_t)i != last) {
		heap_swap(b, (uint32_t)i, last);
		b->nheap--;
		heap_down(b, (uint32_t)i);
		heap_up(b, (uint32_t)i);
	} else {
		b->nheap--;
	}
	b->slots[si].heap_idx = -1;
}

/* ---- connections ------------------------------------------------------- */

void bidi_mark_dirty(struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = c->b->dirty;
	c->b->dirty = c;
}

void bidi_slot_release(struct kc_bidi *b, struct slot *s)
{
	if (!s->in_use)
		return;
	uint32_t si = (uint32_t)(s - b->slots);
	heap_remove(b, si);
	if (s->counted) {
		b->inst_n[s->inst]--;
		atomic_fetch_sub_explicit(&b->streams_open, 1, memory_order_relaxed);
	}
	s->in_use = false;
	s->c = NULL;
	b->free_slots[b->nfree++] = si;
}

static void conn_close(struct conn *c)
{
	struct kc_bidi *b = c->b;
	/* nghttp2_session_del does not call on_stream_close: free the slots. */
	for (uint32_t i = 0; i < b->nslots; i++) {
		if (b->slots[i].in_use && b->slots[i].c == c)
			bidi_slot_release(b, &b->slots[i]);
	}
	kc_h2io_close(&c->io);
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	b->nconns--;
	/* a dirty connection is unlinked from the dirty list by the caller */
	free(c);
}

/* ---- replies ------------------------------------------------------------ */

ssize_t bidi_reply_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	(void)ses;
	(void)id;
	(void)ud;
	struct slot *s = src->ptr;
	size_t avail = s->out_len - s->out_off;
	if (avail == 0) {
		if (s->eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return 0;
		}
		return NGHTTP2_ERR_DEFERRED;
	}
	size_t n = avail < len ? avail : len;
	memcpy(buf, s->out + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out_len)
		s->out_off = s->out_len = 0;
	if (s->out_len == 0 && s->eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Encodes the next reply into the slot's out buffer; false when full. */
static bool reply_encode(struct kc_bidi *b, struct slot *s)
{
	/* Deepgram-shaped: the audio span this reply covers, in seconds of
	 * 16 kHz 16-bit mono, so a client can match replies by audio time. */
	char body[160];
	uint32_t pl = s->plen[s->rhead];
	int blen = snprintf(body, sizeof(body),
			    "{\"type\":\"Results\",\"start\":%.5f,\"duration\":%.5f,"
			    "\"is_final\":false,\"seq\":%llu}",
			    (double)s->audio_done / 32000.0, (double)pl / 32000.0,
			    (unsigned long long)s->seq_out);
	struct kc_es_header h[4] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "PayloadPart"),
		kc_es_string(":content-type", "application/octet-stream"),
		kc_es_string("DataType", "UTF8"),
	};
	if (s->out_off > 0 && s->out_len + 256 > OUT_CAP) {
		memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
		s->out_len -= s->out_off;
		s->out_off = 0;
	}
	size_t len;
	if (kc_es_encode(h, 4, body, (size_t)blen, s->out + s->out_len,
			 OUT_CAP - s->out_len, &len, NULL, NULL))
		return false;
	b->replies_total++;
	if (b->p.fault_corrupt_reply && b->replies_total == b->p.fault_corrupt_reply) {
		s->out[s->out_len + len - 1] ^= 0x5a; /* break the message CRC */
		INC(b, corrupted);
	}
	s->out_len += len;
	s->seq_out++;
	s->audio_done += pl;
	INC(b, replies);
	return true;
}

void bidi_maybe_finish(struct slot *s)
{
	if (s->client_done && s->rcount == 0 && !s->eof) {
		s->eof = true;
		nghttp2_session_resume_data(s->c->io.s, s->id);
		bidi_mark_dirty(s->c);
	}
}

/* Sends every reply that is due by now_ns, in due order. */
static void replies_due(struct kc_bidi *b, int64_t now_ns)
{
	while (b->nheap > 0) {
		uint32_t si = b->heap[0];
		struct slot *s = &b->slots[si];
		if (s->due[s->rhead] > now_ns)
			break;
		if (!reply_encode(b, s)) {
			/* nghttp2 has not taken the earlier replies (flow control):
			 * try again shortly rather than spin. */
			s->due[s->rhead] = now_ns + KC_NS_PER_MS;
			heap_down(b, 0);
			continue;
		}
		s->rhead = (s->rhead + 1) % RING;
		s->rcount--;
		if (s->rcount == 0)
			heap_remove(b, si);
		else
			heap_down(b, 0);
		nghttp2_session_resume_data(s->c->io.s, s->id);
		bidi_mark_dirty(s->c);
		bidi_maybe_finish(s);
	}
}

/* ---- the loop ------------------------------------------------------------ */

static void accept_all(struct kc_bidi *b)
{
	for (;;) {
		int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = b->nconns < CONNS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->b = b;
		if (kc_h2io_open(&c->io, fd, b->efd, c, b->ctx, b->cbs, c)) {
			free(c);
			continue;
		}
		/* A large connection window: replies are small, requests are
		 * paced audio; the limit that matters is streams, not bytes. */
		nghttp2_settings_entry iv[] = {
			{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, b->p.max_concurrent},
			{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
		};
		nghttp2_submit_settings(c->io.s, NGHTTP2_FLAG_NONE, iv, 2);
		nghttp2_session_set_local_window_size(c->io.s, NGHTTP2_FLAG_NONE, 0, 1 << 24);
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->nconns++;
		INC(b, connections);
		bidi_mark_dirty(c);
	}
}

static void flush_dirty(struct kc_bidi *b)
{
	while (b->dirty) {
		struct conn *c = b->dirty;
		b->dirty = c->next_dirty;
		c->dirty = false;
		if (c->dead || kc_h2io_flush(&c->io))
			conn_close(c);
	}
}

static void arm_timer(struct kc_bidi *b)
{
	int64_t due = b->nheap ? slot_key(b, b->heap[0]) : 0;
	if (due == b->armed_ns)
		return;
	struct itimerspec its = {0};
	if (due > 0) {
		its.it_value.tv_sec = due / KC_NS_PER_S;
		its.it_value.tv_nsec = due % KC_NS_PER_S;
	}
	timerfd_settime(b->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	b->armed_ns = due;
}

static void *loop(void *arg)
{
	struct kc_bidi *b = arg;
	struct epoll_event evs[256];
	for (;;) {
		arm_timer(b);
		int n = epoll_wait(b->efd, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			break;
		bool stop = false;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &b->lfd) {
				accept_all(b);
			} else if (p == &b->stopfd) {
				stop = true;
			} else if (p == &b->tfd) {
				uint64_t x;
				if (read(b->tfd, &x, sizeof(x)) < 0) {
					/* spurious: the heap decides anyway */
				}
				b->armed_ns = 0;
			} else {
				struct conn *c = p;
				/* closing happens in flush_dirty, after every event of
				 * this batch: a later event may still point at c */
				if (!c->dead && kc_h2io_readable(&c->io, evs[i].events)) {
					int r = kc_h2io_read(&c->io);
					if (r < 0)
						c->dead = true;
					else if (r > 0)
						INC(b, tls_handshakes);
				}
				bidi_mark_dirty(c);
			}
		}
		replies_due(b, kc_clock_ns());
		flush_dirty(b);
		if (stop)
			break;
	}
	while (b->conns)
		conn_close(b->conns);
	return NULL;
}

/* ---- start/stop ------------------------------------------------------------ */

static void free_bidi(struct kc_bidi *b)
{
	if (!b)
		return;
	if (b->slots) {
		for (uint32_t i = 0; i < b->nslots; i++)
			kc_es_decoder_fini(&b->slots[i].dec);
	}
	free(b->slots);
	free(b->free_slots);
	free(b->heap);
	kc_sigv4_signer_free(b->verifier);
	if (b->ctx)
		SSL_CTX_free(b->ctx);
	if (b->cbs)
		nghttp2_session_callbacks_del(b->cbs);
	if (b->capture)
		fclose(b->capture);
	int fds[] = {b->lfd, b->efd, b->tfd, b->stopfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
	}
	free(b);
}

int kc_bidi_start(const struct kc_bidi_profile *p, const char *listen_addr,
		  struct kc_bidi **out, struct kc_diag *d)
{
	int rc = kc_bidi_profile_check(p, d);
	if (rc)
		return rc;
	struct kc_bidi *b = calloc(1, sizeof(*b));
	if (!b)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	b->p = *p;
	b->p.capture_path = NULL;
	b->p.tls_cert_out = NULL;
	b->lfd = b->efd = b->tfd = b->stopfd = -1;
	b->nslots = p->max_streams;
	b->slots = calloc(b->nslots, sizeof(*b->slots));
	b->free_slots = calloc(b->nslots, sizeof(*b->free_slots));
	b->heap = calloc(b->nslots, sizeof(*b->heap));
	if (!b->slots || !b->free_slots || !b->heap) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory for %u stream slots", b->nslots);
		goto fail;
	}
	for (uint32_t i = 0; i < b->nslots; i++) {
		/* the decoder's message buffer grows on first use only */
		if (kc_es_decoder_init(&b->slots[i].dec, MSG_MAX, 8)) {
			for (uint32_t j = 0; j < i; j++)
				kc_es_decoder_fini(&b->slots[j].dec);
			free(b->slots);
			b->slots = NULL;
			rc = kc_diag_set(d, KC_ENOMEM, "out of memory for stream decoders");
			goto fail;
		}
		b->slots[i].heap_idx = -1;
		b->free_slots[i] = b->nslots - 1 - i;
	}
	b->nfree = b->nslots;
	if (p->verify && p->akid[0]) {
		struct kc_sigv4_config sc = {.access_key_id = p->akid,
					     .secret_access_key = p->secret,
					     .region = p->region, .service = "sagemaker"};
		rc = kc_sigv4_signer_new(&b->verifier, &sc, d);
		if (rc)
			goto fail;
	}
	if (p->capture_path) {
		b->capture = fopen(p->capture_path, "wb");
		if (!b->capture) {
			rc = kc_diag_set(d, KC_EIO, "%s: %s", p->capture_path, strerror(errno));
			goto fail;
		}
	}
	if (p->tls && (rc = kc_h2io_tls_ctx(p->tls_cert_out, &b->ctx, d)))
		goto fail;
	rc = kc_h2io_listen(listen_addr, &b->lfd, &b->port, d);
	if (rc)
		goto fail;
	if (nghttp2_session_callbacks_new(&b->cbs)) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	bidi_callbacks_init(b->cbs);
	b->efd = epoll_create1(EPOLL_CLOEXEC);
	b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	b->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0 || b->tfd < 0 || b->stopfd < 0) {
		rc = kc_diag_set(d, KC_EIO, "epoll/timerfd/eventfd: %s", strerror(errno));
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN};
	ev.data.ptr = &b->lfd;
	epoll_ctl(b->efd, EPOLL_CTL_ADD, b->lfd, &ev);
	ev.data.ptr = &b->tfd;
	epoll_ctl(b->efd, EPOLL_CTL_ADD, b->tfd, &ev);
	ev.data.ptr = &b->stopfd;
	epoll_ctl(b->efd, EPOLL_CTL_ADD, b->stopfd, &ev);
	if (pthread_create(&b->thread, NULL, loop, b)) {
		rc = kc_diag_set(d, KC_EINTERNAL, "cannot start the stream server thread");
		goto fail;
	}
	*out = b;
	return 0;
fail:
	free_bidi(b);
	return rc;
}

void kc_bidi_stop(struct kc_bidi *b)
{
	if (!b)
		return;
	uint64_t one = 1;
	if (write(b->stopfd, &one, sizeof(one)) < 0) {
		/* an eventfd write cannot fail here; the join would hang otherwise */
		KC_ASSERT(!"eventfd write failed");
	}
	pthread_join(b->thread, NULL);
	free_bidi(b);
}
