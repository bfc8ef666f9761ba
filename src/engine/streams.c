/*
 * streams.c - the stream driver (streams.h): nghttp2 client sessions on
 * non-blocking sockets (h2c with prior knowledge, or TLS with ALPN h2),
 * holding K bidirectional streams per step with paced, signed chunks.
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
 * emulator.  Invariant: a slot is on at most one connection, and a
 * connection's nstreams counts the slots that point at it.
 */
#include "kneecap/engine.h"
#include "kneecap/streams.h"

#include "h2net_int.h"
#include "kneecap/net.h"
#include "kneecap/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "streamerr.h"
#include "streamsign.h"

#include "kneecap/clock.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/hdr.h"
#include "kneecap/log.h"
#include "kneecap/sigv4.h"

#define TICKS 20                 /* send ticks per chunk interval */
#define RING 64                  /* unanswered chunks per stream */
#define INNER_HDR_MAX 160        /* inner headers + framing of a chunk */
#define EXTRA_MAX 16
#define CLOSE_MAX 1024           /* close message bytes */
#define CONNECT_BACKOFF_NS (50 * KC_NS_PER_MS)
#define CONNS_PER_WORKER_MAX 2048
#define REPLY_MSG_MAX (256 * 1024)
/* Memory estimate of one live connection (TLS, nghttp2 session, buffers). */
#define STREAMS_CONN_BYTES (64 * 1024)
#define HDR_LOW 1
#define HDR_HIGH INT64_C(3600000000) /* 1 h in us */
#define HDR_SIG 3

enum slot_state { S_IDLE, S_OPENING, S_OPEN, S_CLOSING };

struct conn;

struct slot {
	enum slot_state st;
	struct conn *c;
	int32_t id;
	bool closing_sent;    /* the empty frame is in buf */
	bool ctrl_sent;       /* the close message is (or was) in buf */
	bool first_seen;
	bool mine;            /* we reset it: do not count its close */
	int status;
	int64_t opened_ns;    /* request submitted */
	int64_t next_send_ns; /* intended time of the next chunk */
	uint64_t chunk_no;
	/* unanswered chunks: intended and actual send times */
	int64_t t_int[RING], t_act[RING];
	uint64_t seq[RING];   /* chunk number of each unanswered chunk */
	uint32_t rhead, rcount;
	/* the frame nghttp2 is pulling */
	uint8_t *buf;
	size_t off, len;
	struct kc_evsign chain;
	struct kc_ssign *gs;  /* the signer chain borrows; NULL when idle */
	struct kc_es_decoder dec;
	/* an error response before the stream: its type header and body */
	char errtype[64];
	size_t errtype_len;
	char *ebody;          /* allocated on the error path only */
	size_t ebody_len;
	int64_t not_before_ns; /* refused: reopen no sooner (kept across resets) */
};

struct conn {
	struct kc_h2net net;  /* socket, TLS and session (h2net_int.h) */
	struct worker *w;
	bool goaway;
	uint32_t nstreams;
};

struct counters {
	uint64_t chunks, replies, unmatched, opened, reopened, goaways, conns;
	uint64_t err[KC_EC_COUNT];
	struct kc_serr_samples samp; /* what the errors said */
	double held_ns_sum;   /* integral of open streams over the window, stream*ns */
	uint32_t held_max;
	int64_t lag_ns_max;
};

struct worker {
	struct kc_streams *s;
	int idx;
	pthread_t thread;
	int efd;
	struct kc_ssigners sig;   /* per credentials generation (streamsign.h) */
	struct slot *slots;
	uint32_t nslots;     /* allocated */
	uint32_t want;       /* streams this step */
	uint32_t n_idle;     /* slots [0, want) in S_IDLE: place() has work */
	uint32_t n_open;     /* slots in S_OPEN: the streams held */
	struct conn *conns[CONNS_PER_WORKER_MAX];
	uint32_t nconns;
	uint8_t *frame_mem;
	uint8_t scratch[65536 + INNER_HDR_MAX]; /* inner message being signed */
	char sigbuf[1024 + KC_SIGV4_TOKEN_MAX];
	struct kc_hdr *lat, *svc, *ttfb, *setup, *lag;
	struct counters k;
	int64_t cpu_ns;      /* this worker's thread CPU during the step */
	char conn_err[160];  /* why the last connection failed (no secrets) */
	int64_t connect_after_ns; /* back-off after a failed connection attempt */
	/* step timing */
	int64_t t0, t_win, t_end, t_drain;
	bool draining;
};

struct kc_streams {
	char scheme_https;
	char host[256];
	char port[8];
	char authority[300];
	char path[512];
	char query[1024];
	char extra_name[EXTRA_MAX][64];
	char extra_value[EXTRA_MAX][2048];
	size_t nextra;
	char akid[KC_SIGV4_AKID_MAX + 1];
	char secret[KC_SIGV4_SECRET_MAX + 1];
	char token[KC_SIGV4_TOKEN_MAX + 1];
	char region[64];
	struct kc_creds_provider *creds; /* borrowed; NULL: the keys above */
	uint8_t *synth;        /* synthetic PCM, when no audio was given */
	const uint8_t *audio;
	size_t audio_len;
	size_t chunk_bytes;
	size_t frame_bytes;    /* one signed frame: chunk or close message */
	int64_t interval_ns;
	enum kc_streams_match match;
	double audio_rate;     /* bytes per second of audio (audio-time rule) */
	char close_msg[CLOSE_MAX + 1];
	size_t close_len;
	uint32_t threads, max_streams, per_conn;
	int64_t connect_timeout_ns, reply_timeout_ns;
	SSL_CTX *ctx;
	struct sockaddr_storage addr; /* resolved at each step's start */
	socklen_t addrlen;            /* 0: did not resolve */
	struct worker *workers;
	atomic_bool stop;
};

/* ---- helpers -------------------------------------------------------------- */

static void ring_push(struct slot *sl, int64_t ti, int64_t ta)
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

static void count_err(struct worker *w, enum kc_errclass c)
{
	if (counting(w))
		w->k.err[c]++;
}

static void conn_mark_out(struct conn *c);

/* Detaches a slot from its connection; it becomes IDLE (to be reopened). */
static void slot_reset(struct worker *w, struct slot *sl)
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

static ssize_t chunk_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
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

static void record(struct kc_hdr *h, int64_t ns)
{
	kc_hdr_record(h, ns / KC_NS_PER_US > 0 ? ns / KC_NS_PER_US : 1);
}

static void fail_stream(struct worker *w, struct conn *c, struct slot *sl, enum kc_errclass ec)
{
	count_err(w, ec);
	if (sl->id > 0 && c && c->net.s)
		nghttp2_submit_rst_stream(c->net.s, NGHTTP2_FLAG_NONE, sl->id, NGHTTP2_CANCEL);
	if (sl->id > 0 && c && c->net.s)
		nghttp2_session_set_stream_user_data(c->net.s, sl->id, NULL);
	slot_reset(w, sl);
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
	fail_stream(w, c, sl, ec);
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
		record(w->setup, now - sl->opened_ns);
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
		fail_stream(w, c, sl, kc_serr_event(&w->k.samp, counting(w), m));
		return;
	}
	const struct kc_es_header *cs = kc_es_find(m, "CompletionState");
	if (cs && cs->len == 7 && memcmp(cs->bytes, "PARTIAL", 7) == 0)
		return; /* a part of a reply: the reply completes later */
	if (!sl->first_seen) {
		sl->first_seen = true;
		if (now >= w->t_win)
			record(w->ttfb, now - sl->opened_ns);
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
		record(w->lat, now - ti);
		record(w->svc, now - ta);
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
			fail_stream(w, c, sl, KC_EC_PROTO);
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
		slot_reset(w, sl); /* finished normally */
		return 0;
	}
	if (code == NGHTTP2_REFUSED_STREAM) {
		/* never processed (GOAWAY or the peer's stream limit): retry */
		slot_reset(w, sl);
		w->k.reopened++;
		return 0;
	}
	if (sl->st == S_OPENING && sl->status && sl->status != 200) {
		/* reset before the error body ended: classify what came */
		prestream_error(w, NULL, sl);
		return 0;
	}
	fail_stream(w, NULL, sl, code == NGHTTP2_NO_ERROR ? KC_EC_PROTO : KC_EC_RESET);
	return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_free(struct worker *w, struct conn *c, bool count)
{
	for (uint32_t i = 0; i < w->want; i++) {
		struct slot *sl = &w->slots[i];
		if (sl->c != c)
			continue;
		if (count && sl->st != S_CLOSING)
			count_err(w, KC_EC_RESET);
		slot_reset(w, sl);
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
static int conn_flush(struct conn *c)
{
	return kc_h2net_flush(&c->net);
}

static struct conn *conn_open(struct worker *w)
{
	struct kc_streams *s = w->s;
	if (w->nconns >= CONNS_PER_WORKER_MAX || kc_clock_ns() < w->connect_after_ns)
		return NULL;
	if (!s->addrlen) {
		count_err(w, KC_EC_CONNECT); /* the name did not resolve */
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
		count_err(w, KC_EC_CONNECT);
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

static void conn_event(struct worker *w, struct conn *c, uint32_t ev)
{
	if (c->net.st == KC_H2NET_CONNECTING || c->net.st == KC_H2NET_TLS) {
		if (conn_progress(c)) {
			c->net.st = KC_H2NET_DEAD;
			count_err(w, KC_EC_CONNECT);
			return;
		}
		if (c->net.st != KC_H2NET_READY)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int rc = kc_h2net_read(&c->net);
		if (rc == -2)
			count_err(w, KC_EC_PROTO);
		if (rc)
			c->net.st = KC_H2NET_DEAD;
	}
}

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
		count_err(w, KC_EC_AUTH);
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
	nghttp2_data_provider dp = {.source.ptr = sl, .read_callback = chunk_read_cb};
	int32_t id = nghttp2_submit_request(c->net.s, NULL, nv, n, &dp, sl);
	if (id < 0) {
		kc_ssigners_put(&w->sig, gs);
		count_err(w, KC_EC_OTHER);
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
		fail_stream(w, sl->c, sl, KC_EC_TIMEOUT);
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
		fail_stream(w, sl->c, sl, KC_EC_OTHER);
		return;
	}
	sl->off = 0;
	sl->len = outer_len;
	ring_push(sl, t_int, now); /* records chunk_no as the chunk's number */
	sl->chunk_no++;
	if (t_int >= w->t_win && t_int < w->t_end) {
		w->k.chunks++;
		int64_t lag = now - t_int;
		if (lag > w->k.lag_ns_max)
			w->k.lag_ns_max = lag;
		record(w->lag, lag);
	}
	nghttp2_session_resume_data(sl->c->net.s, sl->id);
}

static void stream_close(struct worker *w, struct slot *sl)
{
	if (sl->st == S_OPENING) {
		/* not answered yet: cancel rather than wait */
		nghttp2_submit_rst_stream(sl->c->net.s, NGHTTP2_FLAG_NONE, sl->id, NGHTTP2_CANCEL);
		nghttp2_session_set_stream_user_data(sl->c->net.s, sl->id, NULL);
		slot_reset(w, sl);
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
			fail_stream(w, sl->c, sl, KC_EC_OTHER);
			return;
		}
		sl->off = 0;
		sl->len = len;
		nghttp2_session_resume_data(sl->c->net.s, sl->id);
		return;
	}
	if (kc_evsign_sign(&sl->chain, NULL, 0, kc_wall_ns() / KC_NS_PER_MS, sl->buf,
			   KC_EVSIGN_OVERHEAD_BYTES, &len)) {
		fail_stream(w, sl->c, sl, KC_EC_OTHER);
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
			c = conn_open(w);
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
			fail_stream(w, sl->c, sl, KC_EC_TIMEOUT);
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
 * server closed normally left nothing here (slot_reset empties the ring).
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
			record(w->lat, now - ti);
		}
	}
}

static void *worker_main(void *arg)
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
				count_err(w, KC_EC_CONNECT);
			}
			if (c->net.st == KC_H2NET_READY && conn_flush(c))
				c->net.st = KC_H2NET_DEAD;
			if (c->net.st == KC_H2NET_DEAD) {
				/* A connection that never got ready: wait before the
				 * next attempt rather than hammer a failing server
				 * every tick.  GOAWAY and lost ready connections
				 * reconnect at once. */
				if (c->net.was_ready == false)
					w->connect_after_ns = now + CONNECT_BACKOFF_NS;
				conn_free(w, c, true);
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
			conn_event(w, evs[i].data.ptr, evs[i].events);
	}
	count_unfinished(w, kc_clock_ns());
	while (w->nconns)
		conn_free(w, w->conns[w->nconns - 1], false);
	w->cpu_ns = kc_thread_cpu_ns() - cpu0;
	return NULL;
}

/* ---- object --------------------------------------------------------------- */

static int parse_url(struct kc_streams *s, const struct kc_streams_config *cfg,
		     struct kc_diag *d)
{
	struct kc_url u;
	int rc = kc_url_parse(cfg->url, &u, d);
	if (rc)
		return rc;
	s->scheme_https = u.https;
	snprintf(s->host, sizeof(s->host), "%s", u.host);
	snprintf(s->port, sizeof(s->port), "%s", u.port);
	snprintf(s->authority, sizeof(s->authority), "%s",
		 cfg->authority ? cfg->authority : u.hostport);
	snprintf(s->path, sizeof(s->path), "%s", u.path);
	snprintf(s->query, sizeof(s->query), "%s", u.query);
	return 0;
}

static int parse_headers(struct kc_streams *s, const struct kc_streams_config *cfg,
			 struct kc_diag *d)
{
	if (cfg->nheaders > EXTRA_MAX)
		return kc_diag_set(d, KC_EINVAL, "at most %d extra headers", EXTRA_MAX);
	for (size_t i = 0; i < cfg->nheaders; i++) {
		const char *line = cfg->headers[i];
		const char *colon = strchr(line, ':');
		if (!colon || colon == line || (size_t)(colon - line) >= sizeof(s->extra_name[0]))
			return kc_diag_set(d, KC_EINVAL, "header '%s': want 'Name: value'", line);
		size_t nl = (size_t)(colon - line);
		for (size_t j = 0; j < nl; j++) {
			char ch = line[j];
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
				return kc_diag_set(d, KC_EINVAL, "header '%s': bad name", line);
			s->extra_name[s->nextra][j] = ch;
		}
		s->extra_name[s->nextra][nl] = '\0';
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (strlen(v) >= sizeof(s->extra_value[0]) || strpbrk(v, "\r\n"))
			return kc_diag_set(d, KC_EINVAL, "header '%.*s': bad value", (int)nl, line);
		snprintf(s->extra_value[s->nextra], sizeof(s->extra_value[0]), "%s", v);
		s->nextra++;
	}
	return 0;
}

static int tls_ctx(struct kc_streams *s, const struct kc_streams_config *cfg,
		   struct kc_diag *d)
{
	return kc_h2net_tls_ctx(&s->ctx, cfg->insecure, cfg->cacert, d);
}

/* One second of a 440 Hz tone with a little noise, 16 kHz 16-bit LE mono. */
static uint8_t *synth_pcm(size_t *len)
{
	size_t n = 16000;
	uint8_t *p = malloc(n * 2);
	if (!p)
		return NULL;
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		double v = 8000.0 * sin(2.0 * 3.14159265358979 * 440.0 * (double)i / 16000.0) +
			   (double)(x % 512) - 256.0;
		int16_t sv = (int16_t)v;
		p[2 * i] = (uint8_t)((uint16_t)sv & 0xff);
		p[2 * i + 1] = (uint8_t)((uint16_t)sv >> 8);
	}
	*len = n * 2;
	return p;
}

void kc_streams_free(struct kc_streams *s)
{
	if (!s)
		return;
	if (s->workers) {
		for (uint32_t i = 0; i < s->threads; i++) {
			struct worker *w = &s->workers[i];
			if (w->slots) {
				for (uint32_t j = 0; j < w->nslots; j++) {
					kc_es_decoder_fini(&w->slots[j].dec);
					free(w->slots[j].ebody);
				}
			}
			free(w->slots);
			free(w->frame_mem);
			kc_ssigners_fini(&w->sig);
			kc_hdr_free(w->lat);
			kc_hdr_free(w->svc);
			kc_hdr_free(w->ttfb);
			kc_hdr_free(w->setup);
			kc_hdr_free(w->lag);
			if (w->efd >= 0)
				close(w->efd);
		}
		free(s->workers);
	}
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	free(s->synth);
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
	OPENSSL_cleanse(s->token, sizeof(s->token));
	free(s);
}

static int worker_init(struct kc_streams *s, struct worker *w, uint32_t nslots,
		       struct kc_diag *d)
{
	w->s = s;
	w->efd = epoll_create1(EPOLL_CLOEXEC);
	if (w->efd < 0)
		return kc_diag_set(d, KC_EIO, "epoll_create1: %s", strerror(errno));
	struct kc_sigv4_config sc = {
		.access_key_id = s->akid, .secret_access_key = s->secret,
		.session_token = s->token[0] ? s->token : NULL, .region = s->region,
		.service = "sagemaker", .sign_content_sha256 = true,
	};
	/* with a provider its current snapshot, refreshed per stream */
	int rc = kc_ssigners_init(&w->sig, s->creds, &sc, d);
	if (rc)
		return rc;
	size_t frame = s->frame_bytes;
	w->nslots = nslots;
	w->slots = calloc(nslots, sizeof(*w->slots));
	w->frame_mem = malloc(frame * nslots);
	if (!w->slots || !w->frame_mem)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %u stream slots", nslots);
	for (uint32_t i = 0; i < nslots; i++) {
		w->slots[i].buf = w->frame_mem + frame * i;
		if (kc_es_decoder_init(&w->slots[i].dec, REPLY_MSG_MAX, 16)) {
			w->nslots = i;
			return kc_diag_set(d, KC_ENOMEM, "out of memory for reply decoders");
		}
	}
	struct kc_hdr **hs[] = {&w->lat, &w->svc, &w->ttfb, &w->setup, &w->lag};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		if (kc_hdr_new(hs[i], HDR_LOW, HDR_HIGH, HDR_SIG))
			return kc_diag_set(d, KC_ENOMEM, "out of memory for histograms");
	}
	return 0;
}

/* Copies credentials, chunking, matching and audio from cfg, with defaults. */
static int take_settings(struct kc_streams *s, const struct kc_streams_config *cfg,
			 struct kc_diag *d)
{
	int rc;
	s->creds = cfg->creds;
	if (s->creds) {
		if (!cfg->region || snprintf(s->region, sizeof(s->region), "%s", cfg->region) >=
					    (int)sizeof(s->region))
			return kc_diag_set(d, KC_EINVAL, "region missing or too long");
	} else if (!cfg->access_key_id || !cfg->secret_access_key || !cfg->region ||
	    snprintf(s->akid, sizeof(s->akid), "%s", cfg->access_key_id) >= (int)sizeof(s->akid) ||
	    snprintf(s->secret, sizeof(s->secret), "%s", cfg->secret_access_key) >=
		    (int)sizeof(s->secret) ||
	    snprintf(s->token, sizeof(s->token), "%s",
		     cfg->session_token ? cfg->session_token : "") >= (int)sizeof(s->token) ||
	    snprintf(s->region, sizeof(s->region), "%s", cfg->region) >= (int)sizeof(s->region)) {
		rc = kc_diag_set(d, KC_EINVAL, "credentials or region missing or too long");
		return rc;
	}
	s->chunk_bytes = cfg->chunk_bytes ? cfg->chunk_bytes : 3200;
	s->interval_ns = cfg->chunk_interval_ns ? cfg->chunk_interval_ns : 100 * KC_NS_PER_MS;
	s->match = cfg->match;
	s->audio_rate = cfg->audio_bytes_per_s ? (double)cfg->audio_bytes_per_s : 32000.0;
	if (cfg->close_message) {
		s->close_len = strlen(cfg->close_message);
		if (s->close_len > CLOSE_MAX) {
			rc = kc_diag_set(d, KC_EINVAL, "close message over %d bytes", CLOSE_MAX);
			return rc;
		}
		memcpy(s->close_msg, cfg->close_message, s->close_len);
	}
	s->frame_bytes = (s->chunk_bytes > CLOSE_MAX ? s->chunk_bytes : CLOSE_MAX) +
			 INNER_HDR_MAX + KC_EVSIGN_OVERHEAD_BYTES;
	s->max_streams = cfg->max_streams ? cfg->max_streams : 10000;
	s->per_conn = cfg->streams_per_connection ? cfg->streams_per_connection : 100;
	s->connect_timeout_ns = cfg->connect_timeout_ns ? cfg->connect_timeout_ns : 5 * KC_NS_PER_S;
	s->reply_timeout_ns = cfg->reply_timeout_ns ? cfg->reply_timeout_ns : 10 * KC_NS_PER_S;
	if (s->chunk_bytes > 65536 || s->interval_ns < TICKS * KC_NS_PER_MS / 4 ||
	    s->max_streams > 1000000) {
		rc = kc_diag_set(d, KC_EINVAL, "chunk at most 64 KiB, interval at least 5 ms, "
				 "at most 1000000 streams");
		return rc;
	}
	if (cfg->audio) {
		s->audio = cfg->audio;
		s->audio_len = cfg->audio_len;
	} else {
		s->synth = synth_pcm(&s->audio_len);
		if (!s->synth) {
			rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
			return rc;
		}
		s->audio = s->synth;
	}
	if (s->audio_len < s->chunk_bytes) {
		rc = kc_diag_set(d, KC_EINVAL, "audio (%zu bytes) is shorter than one chunk (%zu)",
				 s->audio_len, s->chunk_bytes);
		return rc;
	}
	return 0;
}

/* Sizes the worker pool (one thread per 2000 streams, at most the cores
 * unless asked) and allocates every worker's slots. */
static int make_workers(struct kc_streams *s, const struct kc_streams_config *cfg,
			struct kc_diag *d)
{
	int rc;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t t = cfg->threads ? cfg->threads : (s->max_streams + 1999) / 2000;
	if (!cfg->threads && cores > 0 && t > (uint32_t)cores)
		t = (uint32_t)cores;
	if (t < 1)
		t = 1;
	if (t > 256)
		t = 256;
	/* Sockets and memory first, before any slot exists. */
	uint64_t per_thread = (s->max_streams + t - 1) / t;
	uint64_t conns = (per_thread + s->per_conn - 1) / s->per_conn;
	struct kc_load_size size = {
		.threads = t,
		.connections_per_thread = conns,
		.bytes = (uint64_t)t * (per_thread * (sizeof(struct slot) + s->frame_bytes) +
					conns * STREAMS_CONN_BYTES),
	};
	struct kc_sys_limits lim;
	kc_sys_limits_get(&lim);
	if ((rc = kc_load_size_check(&size, &lim, d)))
		return rc;
	s->workers = calloc(t, sizeof(*s->workers));
	if (!s->workers) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		return rc;
	}
	s->threads = t;
	for (uint32_t i = 0; i < t; i++)
		s->workers[i].efd = -1;
	for (uint32_t i = 0; i < t; i++) {
		s->workers[i].idx = (int)i;
		rc = worker_init(s, &s->workers[i], (s->max_streams + t - 1) / t, d);
		if (rc)
			return rc;
	}
	return 0;
}

int kc_streams_new(struct kc_streams **out, const struct kc_streams_config *cfg,
		   struct kc_diag *d)
{
	struct kc_streams *s = calloc(1, sizeof(*s));
	if (!s)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	int rc = parse_url(s, cfg, d);
	if (!rc)
		rc = parse_headers(s, cfg, d);
	if (!rc)
		rc = take_settings(s, cfg, d);
	if (!rc && s->scheme_https)
		rc = tls_ctx(s, cfg, d);
	if (!rc)
		rc = make_workers(s, cfg, d);
	if (rc) {
		kc_streams_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kc_streams_stop(struct kc_streams *s)
{
	atomic_store(&s->stop, true);
}

uint32_t kc_streams_threads(const struct kc_streams *s) { return s->threads; }
size_t kc_streams_chunk_bytes(const struct kc_streams *s) { return s->chunk_bytes; }
int64_t kc_streams_chunk_interval_ns(const struct kc_streams *s) { return s->interval_ns; }

/* Resolves the target once per step: workers never block on DNS. */
static void resolve(struct kc_streams *s)
{
	kc_net_resolve(s->host, s->port, &s->addr, &s->addrlen);
}

/* Readies a worker's first `want` slots, counters and clocks for a step. */
static void worker_prepare(struct worker *w, uint32_t want, int64_t t0,
			   const struct kc_streams_spec *spec)
{
	w->want = want;
	for (uint32_t j = 0; j < want; j++) {
		slot_reset(w, &w->slots[j]);
		w->slots[j].chunk_no = 0;
	}
	w->n_idle = want;
	w->n_open = 0;
	memset(&w->k, 0, sizeof(w->k));
	struct kc_hdr *hs[] = {w->lat, w->svc, w->ttfb, w->setup, w->lag};
	for (size_t j = 0; j < sizeof(hs) / sizeof(hs[0]); j++)
		kc_hdr_reset(hs[j]);
	w->t0 = t0;
	w->t_win = t0 + spec->warmup_ns;
	w->t_end = w->t_win + spec->duration_ns;
	w->draining = false;
	w->nconns = 0;
	w->cpu_ns = 0;
	w->conn_err[0] = '\0';
	w->connect_after_ns = 0;
}

/* The workers' results added up (histograms owned; NULL when out of memory). */
struct merged {
	struct kc_hdr *lat, *svc, *ttfb, *setup, *lag;
	struct counters k;
	double cpu_ns;
};

static void merged_fini(struct merged *m)
{
	kc_hdr_free(m->lat);
	kc_hdr_free(m->svc);
	kc_hdr_free(m->ttfb);
	kc_hdr_free(m->setup);
	kc_hdr_free(m->lag);
}

static int merge(struct kc_streams *s, uint32_t nw, struct merged *m)
{
	memset(m, 0, sizeof(*m));
	struct kc_hdr **hs[] = {&m->lat, &m->svc, &m->ttfb, &m->setup, &m->lag};
	for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		if (kc_hdr_new(hs[i], HDR_LOW, HDR_HIGH, HDR_SIG)) {
			merged_fini(m);
			return KC_ENOMEM;
		}
	}
	struct counters *k = &m->k;
	for (uint32_t i = 0; i < nw; i++) {
		struct worker *w = &s->workers[i];
		kc_hdr_add(m->lat, w->lat);
		kc_hdr_add(m->svc, w->svc);
		kc_hdr_add(m->ttfb, w->ttfb);
		kc_hdr_add(m->setup, w->setup);
		kc_hdr_add(m->lag, w->lag);
		k->chunks += w->k.chunks;
		k->replies += w->k.replies;
		k->unmatched += w->k.unmatched;
		k->opened += w->k.opened;
		k->reopened += w->k.reopened;
		k->goaways += w->k.goaways;
		k->conns += w->k.conns;
		for (int c = 0; c < KC_EC_COUNT; c++)
			k->err[c] += w->k.err[c];
		kc_serr_merge(k->samp.s, &k->samp.n, &w->k.samp);
		k->held_ns_sum += w->k.held_ns_sum;
		k->held_max += w->k.held_max;
		if (w->k.lag_ns_max > k->lag_ns_max)
			k->lag_ns_max = w->k.lag_ns_max;
		/* the workers' own CPU: an in-process emulator does not count */
		m->cpu_ns += (double)w->cpu_ns;
	}
	return 0;
}

/* Fills the step result from the merged figures; takes lat and svc. */
static void fill_step(const struct kc_streams *s, const struct kc_streams_spec *spec,
		      struct merged *m, double wall_ns, uint32_t nw, int64_t wall0_ms,
		      struct kc_step_result *out)
{
	const struct counters *k = &m->k;
	int64_t win = spec->duration_ns;
	memset(out, 0, sizeof(*out));
	out->index = spec->index;
	out->offered = spec->streams;
	out->achieved = k->held_ns_sum / (double)win;
	out->start_wall_ms = wall0_ms + spec->warmup_ns / KC_NS_PER_MS;
	out->duration_ns = win;
	out->scheduled = out->sent = k->chunks;
	out->completed = out->ok = k->replies;
	for (int c = 0; c < KC_EC_COUNT; c++) {
		out->errclass[c] = k->err[c];
		out->errors += k->err[c];
	}
	out->unfinished = k->err[KC_EC_UNFINISHED];
	memcpy(out->samples, k->samp.s, sizeof(out->samples));
	out->nsamples = k->samp.n;
	kc_latency_from_hdr(&out->latency, m->lat);
	kc_latency_from_hdr(&out->service, m->svc);
	kc_latency_from_hdr(&out->ttfb, m->ttfb);
	/* streams held stand in for requests in flight */
	out->inflight_max = k->held_max;
	out->inflight_start = out->inflight_end = out->achieved;
	out->lag_p99_ms = (double)kc_hdr_value_at_percentile(m->lag, 99.0) / 1000.0;
	out->lag_max_ms = (double)k->lag_ns_max / 1e6;
	out->gen_cpu = m->cpu_ns / ((double)nw * wall_ns);
	/* Sending fell behind its schedule.  Unlike a unary request, a chunk
	 * late by less than half an interval still lands in its own slot of
	 * audio time, and its lateness is inside the measured latency anyway
	 * (latency runs from the intended send), so the lag gate is half an
	 * interval rather than the unary engine's 5 ms. */
	out->generator_bound = out->lag_p99_ms > (double)s->interval_ns / 2e6 ||
			       out->gen_cpu > 0.90;
	out->partial = atomic_load(&s->stop);
	out->latency_hist = m->lat;
	out->service_hist = m->svc;
	m->lat = m->svc = NULL;
}

static void fill_info(const struct merged *m, double held_mean, struct kc_streams_info *info)
{
	memset(info, 0, sizeof(*info));
	kc_latency_from_hdr(&info->setup, m->setup);
	kc_latency_from_hdr(&info->first_response, m->ttfb);
	info->streams_opened = m->k.opened;
	info->reopened = m->k.reopened;
	info->goaways = m->k.goaways;
	info->connections = m->k.conns;
	info->chunks_sent = m->k.chunks;
	info->replies = m->k.replies;
	info->unmatched = m->k.unmatched;
	info->held_mean = held_mean;
	info->held_max = m->k.held_max;
}

int kc_streams_run_step(struct kc_streams *s, const struct kc_streams_spec *spec,
			struct kc_step_result *out, struct kc_streams_info *info,
			struct kc_diag *d)
{
	if (spec->streams < 1 || spec->streams > s->max_streams)
		return kc_diag_set(d, KC_EINVAL, "streams must be in 1..%u", s->max_streams);
	if (spec->duration_ns <= 0 || spec->warmup_ns < 0)
		return kc_diag_set(d, KC_EINVAL, "step duration must be > 0");
	resolve(s);
	uint32_t nw = s->threads < spec->streams ? s->threads : spec->streams;
	int64_t t0 = kc_clock_ns();
	int64_t wall0_ms = kc_wall_ns() / KC_NS_PER_MS;
	uint32_t started = 0;
	for (uint32_t i = 0; i < nw; i++) {
		struct worker *w = &s->workers[i];
		worker_prepare(w, spec->streams / nw + (i < spec->streams % nw), t0, spec);
		if (pthread_create(&w->thread, NULL, worker_main, w))
			break;
		started++;
	}
	for (uint32_t i = 0; i < started; i++)
		pthread_join(s->workers[i].thread, NULL);
	if (started < nw)
		return kc_diag_set(d, KC_EINTERNAL, "cannot start a stream worker thread");
	double wall_ns = (double)(kc_clock_ns() - t0);
	struct merged m;
	if (merge(s, nw, &m))
		return kc_diag_set(d, KC_ENOMEM, "out of memory for step histograms");
	fill_step(s, spec, &m, wall_ns, nw, wall0_ms, out);
	if (info)
		fill_info(&m, out->achieved, info);
	merged_fini(&m);
	return 0;
}

/* One probe stream for a window of window_ns; its replies and errors. */
static int probe_once(struct kc_streams *s, int64_t timeout_ns, int64_t window_ns,
		      uint64_t *ok, uint64_t e[KC_EC_COUNT], struct kc_diag *d)
{
	int64_t saved = s->reply_timeout_ns;
	s->reply_timeout_ns = timeout_ns;
	struct kc_streams_spec sp = {.index = -1, .streams = 1, .warmup_ns = 0,
				     .duration_ns = window_ns};
	struct kc_step_result r;
	int rc = kc_streams_run_step(s, &sp, &r, NULL, d);
	s->reply_timeout_ns = saved;
	if (rc)
		return rc;
	/* the replies of the window count once they arrive (the step drains) */
	*ok = r.ok;
	memcpy(e, r.errclass, sizeof(r.errclass));
	kc_step_result_fini(&r);
	return 0;
}

int kc_streams_probe(struct kc_streams *s, int64_t timeout_ns, struct kc_diag *d)
{
	uint64_t ok = 0, e[KC_EC_COUNT];
	/* A second, longer try before giving up: on a loaded machine the first
	 * connection (TLS handshake included) can miss a short window, and a
	 * target that is really unreachable fails both the same way. */
	int64_t windows[] = {2 * s->interval_ns, 10 * s->interval_ns};
	/* Both tries, windows and reply waits, fit timeout_ns: what is left
	 * after the windows is split between the two replies' waits. */
	if (windows[0] + windows[1] > timeout_ns / 2) {
		windows[0] = timeout_ns / 12;
		windows[1] = timeout_ns / 4;
	}
	int64_t reply_ns = (timeout_ns - windows[0] - windows[1]) / 2;
	for (size_t i = 0; i < 2; i++) {
		int rc = probe_once(s, reply_ns, windows[i], &ok, e, d);
		if (rc)
			return rc;
		if (ok > 0)
			return 0;
	}
	if (e[KC_EC_CONNECT]) {
		const char *why = s->workers[0].conn_err;
		return kc_diag_set(d, strncmp(why, "TLS", 3) == 0 ? KC_ETLS : KC_ECONNECT,
				   "cannot connect to %s:%s (%s)", s->host, s->port,
				   why[0] ? why : "no address");
	}
	if (e[KC_EC_AUTH])
		return kc_diag_set(d, KC_EAUTH, "the endpoint refused the signature (403)");
	if (e[KC_EC_HTTP4XX] || e[KC_EC_HTTP5XX] || e[KC_EC_PROTO] || e[KC_EC_MODEL])
		return kc_diag_set(d, KC_EPROTO, "the endpoint did not accept the stream "
				   "(status %s)", e[KC_EC_HTTP4XX] ? "4xx" : "5xx or bad frames");
	static const enum kc_errclass ended[] = {KC_EC_THROTTLE, KC_EC_MODEL_STREAM,
						 KC_EC_INTERNAL_STREAM, KC_EC_STREAM};
	for (size_t i = 0; i < sizeof(ended) / sizeof(ended[0]); i++)
		if (e[ended[i]])
			return kc_diag_set(d, KC_EPROTO, "the probe stream failed (%s)",
					   kc_errclass_name(ended[i]));
	return kc_diag_set(d, KC_ETIMEOUT, "no reply on a probe stream from %s:%s within %lld ms",
			   s->host, s->port, (long long)(reply_ns / KC_NS_PER_MS));
}
