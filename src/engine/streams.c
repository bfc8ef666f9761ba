/*
 * streams.c - the stream driver (streams.h): nghttp2 client sessions on
 * non-blocking sockets (h2c with prior knowledge, or TLS with ALPN h2),
 * holding K bidirectional streams per step with paced, signed chunks.
 * This file: each stream's state machine (open, send, close) and the
 * worker loop.  Connections and session callbacks are in streams_conn.c,
 * configuration and the object's life in streams_setup.c, running a step
 * and merging its figures in streams_step.c (streams_int.h holds the state).
 *
 * Each worker thread runs one epoll loop over its own connections and
 * stream slots.  Time is cut into ticks (chunk interval / TICKS); stream j
 * sends on tick j % TICKS of every interval, so sends are spread evenly and
 * a tick only visits its own slots.  A slot owns a frame buffer sized for
 * one signed chunk, a reply decoder, and a ring of the send times of its
 * unanswered chunks; all of them are allocated by kc_streams_new.  nghttp2
 * pulls a slot's frame through the data provider and the slot builds the
 * next one only when the previous frame is gone, so a stream never has
 * more than one frame queued (flow control backs up into latency, which
 * is measured from the intended send time).
 *
 * Not here: the search (analysis/search.c), output (report/), the
 * emulator, the synthetic audio (payload/audio.c).  Invariant: a slot is
 * on at most one connection, and a connection's nstreams counts the slots
 * that point at it.
 */
#include "kneecap/engine.h"
#include "kneecap/streams.h"

#include "streams_int.h"

/* ---- streams -------------------------------------------------------------- */

static uint32_t conn_room(const struct conn *c)
{
	if (c->goaway || c->net.st == KC_H2NET_DEAD)
		return 0;
	uint32_t lim = c->w->s->per_conn;
	uint32_t peer = nghttp2_session_get_remote_settings(
		c->net.s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
	if (peer < lim)
		lim = peer;
	return c->nstreams < lim ? lim - c->nstreams : 0;
}

/* nghttp2_nv takes writable pointers but copies the bytes (submit_request) */
#define NV(n, v, vl) {(uint8_t *)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE}

/* Opens slot sl on c: signs the request (the chain's seed) and submits it. */
static int stream_open(struct worker *w, struct conn *c, struct slot *sl, int64_t now)
{
	struct kc_streams *s = w->s;
	struct kc_sigv4_header h[3 + EXTRA_MAX];
	size_t nh = 0;
	h[nh++] = (struct kc_sigv4_header){"host", 4, s->authority, strlen(s->authority)};
	h[nh++] = (struct kc_sigv4_header){"content-type", 12,
					   "application/vnd.amazon.eventstream", 34};
	for (size_t i = 0; i < s->nextra; i++)
		h[nh++] = (struct kc_sigv4_header){s->extra_name[i], strlen(s->extra_name[i]),
						   s->extra_value[i], strlen(s->extra_value[i])};
	struct kc_sigv4_request req = {
		.method = "POST", .path = s->path, .query = s->query[0] ? s->query : NULL,
		.headers = h, .n_headers = nh, .payload_hash = KC_SIGV4_STREAMING_EVENTS,
		.time_s = kc_wall_ns() / KC_NS_PER_S,
	};
	struct kc_sigv4_signed sg;
	struct kc_ssign *gs = kc_ssigners_hold(&w->sig);
	if (!gs || kc_sigv4_sign(gs->sg, &req, w->sigbuf, sizeof(w->sigbuf), &sg, NULL) ||
	    kc_evsign_init(&sl->chain, gs->sg, sg.signature)) {
		kc_ssigners_put(&w->sig, gs);
		kc_sx_count_err(w, KC_EC_AUTH);
		return -1;
	}
	char fullpath[1600];
	int pl = snprintf(fullpath, sizeof(fullpath), "%s%s%s", s->path, s->query[0] ? "?" : "",
			  s->query);
	nghttp2_nv nv[8 + EXTRA_MAX];
	size_t n = 0;
	const char *scheme = s->ctx ? "https" : "http";
	nghttp2_nv base[] = {
		NV(":method", "POST", 4),
		NV(":scheme", scheme, strlen(scheme)),
		NV(":authority", s->authority, strlen(s->authority)),
		NV(":path", fullpath, (size_t)pl),
		NV("content-type", "application/vnd.amazon.eventstream", 34),
	};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		nv[n++] = base[i];
	/* the signer's lines are "Name: value"; nghttp2 wants lower-case names */
	const char *lines[] = {sg.date, sg.token, sg.content_sha256, sg.authorization};
	char names[4][32];
	for (size_t i = 0; i < 4; i++) {
		if (!lines[i])
			continue;
		const char *colon = strchr(lines[i], ':');
		size_t nl = (size_t)(colon - lines[i]);
		KC_ASSERT(nl < sizeof(names[i]));
		for (size_t j = 0; j < nl; j++)
			names[i][j] = (char)(lines[i][j] >= 'A' && lines[i][j] <= 'Z'
						     ? lines[i][j] + 32 : lines[i][j]);
		nv[n++] = (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)(uintptr_t)(colon + 2), nl,
				       strlen(colon + 2), NGHTTP2_NV_FLAG_NONE};
	}
	for (size_t i = 0; i < s->nextra; i++)
		nv[n++] = (nghttp2_nv){(uint8_t *)s->extra_name[i], (uint8_t *)s->extra_value[i],
				       strlen(s->extra_name[i]), strlen(s->extra_value[i]),
				       NGHTTP2_NV_FLAG_NONE};
	nghttp2_data_provider dp = {.source.ptr = sl, .read_callback = kc_sx_chunk_read_cb};
	int32_t id = nghttp2_submit_request(c->net.s, NULL, nv, n, &dp, sl);
	if (id < 0) {
		kc_ssigners_put(&w->sig, gs);
		kc_sx_count_err(w, KC_EC_OTHER);
		return -1;
	}
	sl->c = c;
	sl->id = id;
	sl->gs = gs;
	sl->chunk_no = 0; /* a stream's audio time starts at 0 on the server too */
	sl->st = S_OPENING;
	w->n_idle--;
	sl->opened_ns = now;
	c->nstreams++;
	w->k.opened++;
	return 0;
}

/* Builds and queues the next chunk of sl (intended at t_int). */
static void stream_send(struct worker *w, struct slot *sl, int64_t t_int, int64_t now)
{
	struct kc_streams *s = w->s;
	if (sl->rcount == RING) {
		kc_sx_fail_stream(w, sl->c, sl, KC_EC_TIMEOUT);
		return;
	}
	size_t off = (size_t)((sl->chunk_no * s->chunk_bytes +
			       (size_t)(sl - w->slots) * 4096) % (s->audio_len - s->chunk_bytes + 1));
	struct kc_es_header hh[4] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "PayloadPart"),
		kc_es_string(":content-type", "application/octet-stream"),
		kc_es_string("DataType", "BINARY"),
	};
	size_t inner_len, outer_len;
	if (kc_es_encode(hh, 4, s->audio + off, s->chunk_bytes, w->scratch, sizeof(w->scratch),
			 &inner_len, NULL, NULL) ||
	    kc_evsign_sign(&sl->chain, w->scratch, inner_len, kc_wall_ns() / KC_NS_PER_MS,
			   sl->buf, s->frame_bytes, &outer_len)) {
		kc_sx_fail_stream(w, sl->c, sl, KC_EC_OTHER);
		return;
	}
	sl->off = 0;
	sl->len = outer_len;
	kc_sx_ring_push(sl, t_int, now); /* records chunk_no as the chunk's number */
	sl->chunk_no++;
	if (t_int >= w->t_win && t_int < w->t_end) {
		w->k.chunks++;
		int64_t lag = now - t_int;
		if (lag > w->k.lag_ns_max)
			w->k.lag_ns_max = lag;
		kc_sx_record(w->lag, lag);
	}
	nghttp2_session_resume_data(sl->c->net.s, sl->id);
}

static void stream_close(struct worker *w, struct slot *sl)
{
	if (sl->st == S_OPENING) {
		/* not answered yet: cancel rather than wait */
		nghttp2_submit_rst_stream(sl->c->net.s, NGHTTP2_FLAG_NONE, sl->id, NGHTTP2_CANCEL);
		nghttp2_session_set_stream_user_data(sl->c->net.s, sl->id, NULL);
		kc_sx_slot_reset(w, sl);
		return;
	}
	if (sl->st != S_OPEN || sl->len > 0)
		return; /* a frame is still going out: try next tick */
	size_t len;
	if (w->s->close_len && !sl->ctrl_sent) {
		/* the application's own end of input (e.g. Deepgram's
		 * CloseStream), a UTF8 PayloadPart before the end frame */
		struct kc_es_header hh[4] = {
			kc_es_string(":message-type", "event"),
			kc_es_string(":event-type", "PayloadPart"),
			kc_es_string(":content-type", "application/octet-stream"),
			kc_es_string("DataType", "UTF8"),
		};
		size_t inner_len;
		sl->ctrl_sent = true;
		if (kc_es_encode(hh, 4, w->s->close_msg, w->s->close_len, w->scratch,
				 sizeof(w->scratch), &inner_len, NULL, NULL) ||
		    kc_evsign_sign(&sl->chain, w->scratch, inner_len, kc_wall_ns() / KC_NS_PER_MS,
				   sl->buf, w->s->frame_bytes, &len)) {
			kc_sx_fail_stream(w, sl->c, sl, KC_EC_OTHER);
			return;
		}
		sl->off = 0;
		sl->len = len;
		nghttp2_session_resume_data(sl->c->net.s, sl->id);
		return;
	}
	if (kc_evsign_sign(&sl->chain, NULL, 0, kc_wall_ns() / KC_NS_PER_MS, sl->buf,
			   KC_EVSIGN_OVERHEAD_BYTES, &len)) {
		kc_sx_fail_stream(w, sl->c, sl, KC_EC_OTHER);
		return;
	}
	sl->off = 0;
	sl->len = len;
	sl->closing_sent = true;
	sl->st = S_CLOSING;
	w->n_open--;
	nghttp2_session_resume_data(sl->c->net.s, sl->id);
}

/* Puts idle wanted slots on connections with room, opening connections. */
static void place(struct worker *w, int64_t now)
{
	uint32_t ci = 0;
	for (uint32_t i = 0; i < w->want && w->n_idle > 0; i++) {
		struct slot *sl = &w->slots[i];
		if (sl->st != S_IDLE || sl->not_before_ns > now)
			continue;
		struct conn *c = NULL;
		for (; ci < w->nconns; ci++) {
			if (conn_room(w->conns[ci]) > 0) {
				c = w->conns[ci];
				break;
			}
		}
		if (!c) {
			c = kc_sx_conn_open(w);
			if (!c)
				return;
			ci = w->nconns - 1;
		}
		if (stream_open(w, c, sl, now))
			return;
	}
}

/* Sends due chunks of one tick's slots and checks reply timeouts. */
static void tick(struct worker *w, uint32_t t, int64_t now)
{
	struct kc_streams *s = w->s;
	for (uint32_t i = t; i < w->want; i += TICKS) {
		struct slot *sl = &w->slots[i];
		if (sl->st != S_OPEN)
			continue;
		if (sl->rcount > 0 && now - sl->t_act[sl->rhead] > s->reply_timeout_ns) {
			kc_sx_fail_stream(w, sl->c, sl, KC_EC_TIMEOUT);
			continue;
		}
		if (sl->len == 0 && now >= sl->next_send_ns) {
			int64_t ti = sl->next_send_ns;
			sl->next_send_ns += s->interval_ns;
			stream_send(w, sl, ti, now);
		}
	}
}


/*
 * The loop ended (stopped, or the drain deadline passed) with streams still
 * open: their unanswered chunks of the window are unfinished (an error)
 * and their wait so far goes into the latency histogram as a lower bound,
 * so an interrupted stall does not read as zero errors.  Streams the
 * server closed normally left nothing here (kc_sx_slot_reset empties the ring).
 */
static void count_unfinished(struct worker *w, int64_t now)
{
	for (uint32_t i = 0; i < w->want; i++) {
		const struct slot *sl = &w->slots[i];
		if (sl->st == S_IDLE)
			continue;
		for (uint32_t j = 0; j < sl->rcount; j++) {
			int64_t ti = sl->t_int[(sl->rhead + j) % RING];
			if (ti < w->t_win || ti >= w->t_end)
				continue;
			w->k.err[KC_EC_UNFINISHED]++;
			kc_sx_record(w->lat, now - ti);
		}
	}
}

void *kc_sx_worker_main(void *arg)
{
	struct worker *w = arg;
	struct kc_streams *s = w->s;
	int64_t tick_ns = s->interval_ns / TICKS;
	uint64_t tick_no = 0;
	int64_t last = w->t0;
	struct epoll_event evs[128];
	int64_t cpu0 = kc_thread_cpu_ns();
	for (;;) {
		int64_t now = kc_clock_ns();
		bool stop = atomic_load_explicit(&s->stop, memory_order_relaxed);
		if (!w->draining && (now >= w->t_end || stop)) {
			w->draining = true;
			w->t_drain = now + (stop ? 0 : s->reply_timeout_ns);
		}
		/* streams held, integrated over the window */
		uint32_t open = w->n_open;
		if (now > w->t_win && last < w->t_end) {
			int64_t a = last > w->t_win ? last : w->t_win;
			int64_t b = now < w->t_end ? now : w->t_end;
			if (b > a)
				w->k.held_ns_sum += (double)open * (double)(b - a);
			if (open > w->k.held_max)
				w->k.held_max = open;
		}
		last = now;
		if (w->draining) {
			bool busy = false;
			for (uint32_t i = 0; i < w->want; i++) {
				struct slot *sl = &w->slots[i];
				if (sl->st == S_OPEN || sl->st == S_OPENING)
					stream_close(w, sl);
				busy |= sl->st != S_IDLE;
			}
			if (!busy || now >= w->t_drain)
				break;
		} else {
			place(w, now);
			while (w->t0 + (int64_t)tick_no * tick_ns <= now) {
				tick(w, (uint32_t)(tick_no % TICKS), now);
				tick_no++;
			}
		}
		for (uint32_t i = 0; i < w->nconns;) {
			struct conn *c = w->conns[i];
			/* the TLS handshake too: a peer that accepts TCP and never
			 * answers the ClientHello would hold the connection forever */
			if (c->net.st != KC_H2NET_READY && c->net.st != KC_H2NET_DEAD &&
			    now - c->net.started_ns > s->connect_timeout_ns) {
				snprintf(w->conn_err, sizeof(w->conn_err), "%s timed out",
					 c->net.st == KC_H2NET_TLS ? "TLS handshake" : "connect");
				c->net.st = KC_H2NET_DEAD;
				kc_sx_count_err(w, KC_EC_CONNECT);
			}
			if (c->net.st == KC_H2NET_READY && kc_sx_conn_flush(c))
				c->net.st = KC_H2NET_DEAD;
			if (c->net.st == KC_H2NET_DEAD) {
				/* A connection that never got ready: wait before the
				 * next attempt rather than hammer a failing server
				 * every tick.  GOAWAY and lost ready connections
				 * reconnect at once. */
				if (c->net.was_ready == false)
					w->connect_after_ns = now + CONNECT_BACKOFF_NS;
				kc_sx_conn_free(w, c, true);
				continue; /* the array was compacted into i */
			}
			i++;
		}
		int64_t next = w->t0 + (int64_t)tick_no * tick_ns;
		if (w->draining)
			next = now + 5 * KC_NS_PER_MS;
		int64_t wait = next - kc_clock_ns();
		if (wait < 0)
			wait = 0;
		struct timespec ts = {wait / KC_NS_PER_S, wait % KC_NS_PER_S};
		int n = epoll_pwait2(w->efd, evs, 128, &ts, NULL);
		for (int i = 0; i < n; i++)
			kc_sx_conn_event(w, evs[i].data.ptr, evs[i].events);
	}
	count_unfinished(w, kc_clock_ns());
	while (w->nconns)
		kc_sx_conn_free(w, w->conns[w->nconns - 1], false);
	w->cpu_ns = kc_thread_cpu_ns() - cpu0;
	return NULL;
}
