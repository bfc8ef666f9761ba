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
 * Invariant: a slot is in the heap exactly when its reply ring is non-empty,
 * and the slot's heap_idx says where.  Not here: HTTP/1.1 (the unary half in
 * server.c serves that).
 */
#include "kneecap/bidi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "h2io_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/log.h"
#include "kneecap/scenario.h"
#include "kneecap/sigv4.h"

#define RING 64            /* pending replies per stream */
#define OUT_CAP 4096       /* encoded replies waiting for nghttp2 per stream */
#define HDR_BYTES 2048     /* initial request headers kept for verification */
#define HDR_MAX 24
#define CONN_WBUF 65536
#define CONNS_MAX 8192
#define INSTANCES_MAX 1024
#define MSG_MAX (64 * 1024)  /* largest request event accepted */
#define SKEW_MS (5 * 60 * 1000)

/* ---- profile ----------------------------------------------------------- */

void kc_bidi_profile_defaults(struct kc_bidi_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->instances = 1;
	p->stream_limit = 8;
	p->base_latency_ns = 300 * KC_NS_PER_MS;
	p->max_concurrent = 100;
	p->max_streams = 16384;
	p->verify = true;
	snprintf(p->variant, sizeof(p->variant), "AllTraffic");
	snprintf(p->region, sizeof(p->region), "us-east-1");
}

int kc_bidi_profile_check(const struct kc_bidi_profile *p, struct kc_diag *d)
{
	if (p->instances < 1 || p->instances > INSTANCES_MAX)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_instances",
				      "must be in 1..%d", INSTANCES_MAX);
	if (p->stream_limit < 1)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_limit", "must be >= 1");
	if (p->base_latency_ns < KC_NS_PER_MS || p->base_latency_ns > 600 * KC_NS_PER_S)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_base_latency",
				      "must be in 1ms..600s");
	if (p->max_concurrent < 1)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_max_concurrent", "must be >= 1");
	if (p->max_streams < 1 || p->max_streams > 1000000)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_max_streams",
				      "must be in 1..1000000");
	return 0;
}

int kc_bidi_profile_from_scenario(struct kc_scenario *sc, struct kc_bidi_profile *p,
				  struct kc_diag *d)
{
	static const char S[] = "emulator";
	int64_t v;
	int rc;
#define GET_I(key, lo, hi, field)                                              \
	rc = kc_scenario_get_i64(sc, S, key, lo, hi, &v, d);                   \
	if (rc == 0)                                                           \
		field = v;                                                     \
	else if (rc != KC_ENOTFOUND)                                           \
		return rc;
	GET_I("stream_instances", 1, INSTANCES_MAX, p->instances)
	GET_I("stream_limit", 1, 1000000, p->stream_limit)
	GET_I("stream_max_concurrent", 1, 1000000, p->max_concurrent)
	GET_I("stream_max_streams", 1, 1000000, p->max_streams)
	GET_I("stream_fault_goaway_after", 0, INT64_MAX, p->fault_goaway_after)
	GET_I("stream_fault_reset", 0, INT64_MAX, p->fault_reset_stream)
	GET_I("stream_fault_corrupt", 0, INT64_MAX, p->fault_corrupt_reply)
#undef GET_I
	const char *fe;
	rc = kc_scenario_get_str(sc, S, "stream_fault_error", &fe, d);
	if (rc == 0) {
		char why[256];
		if (kc_bidi_fault_errors_parse(p, fe, why, sizeof(why)))
			return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), 0,
					      "stream_fault_error", "%s", why);
	} else if (rc != KC_ENOTFOUND) {
		return rc;
	}
	rc = kc_scenario_get_duration_ns(sc, S, "stream_base_latency", KC_NS_PER_MS,
					 KC_NS_PER_MS, 600 * KC_NS_PER_S, &v, d);
	if (rc == 0)
		p->base_latency_ns = v;
	else if (rc != KC_ENOTFOUND)
		return rc;
	bool b;
	rc = kc_scenario_get_bool(sc, S, "stream_verify", &b, d);
	if (rc == 0)
		p->verify = b;
	else if (rc != KC_ENOTFOUND)
		return rc;
	rc = kc_scenario_get_bool(sc, S, "stream_tls", &b, d);
	if (rc == 0)
		p->tls = b;
	else if (rc != KC_ENOTFOUND)
		return rc;
	return 0;
}

int64_t kc_bidi_model_latency_ns(const struct kc_bidi_profile *p, int64_t n)
{
	KC_ASSERT(p->stream_limit >= 1);
	if (n <= p->stream_limit)
		return p->base_latency_ns;
	/* Processor sharing: S streams' worth of accelerator split n ways. */
	return (int64_t)((double)p->base_latency_ns * (double)n / (double)p->stream_limit);
}

int64_t kc_bidi_model_limit(const struct kc_bidi_profile *p, int64_t bound_ns)
{
	if (p->base_latency_ns > bound_ns)
		return 0;
	/* Largest n with L0 * n / S <= B, and at least S. */
	int64_t n = (int64_t)((double)bound_ns * p->stream_limit / (double)p->base_latency_ns);
	while (n > p->stream_limit && kc_bidi_model_latency_ns(p, n) > bound_ns)
		n--; /* guard the double rounding */
	while (kc_bidi_model_latency_ns(p, n + 1) <= bound_ns)
		n++;
	if (n < p->stream_limit)
		n = p->stream_limit;
	return n * p->instances;
}

static bool path_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

bool kc_bidi_invocation_path_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100 || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '/') {
			if (s[i + 1] == '/')
				return false; /* empty segment */
		} else if (!path_char(s[i])) {
			return false;
		}
	}
	return true;
}

static bool hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool kc_bidi_query_string_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 2048)
		return false;
	const char *p = s;
	for (;;) {
		/* key */
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
		p++;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		       (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			p++;
		if (*p++ != '=')
			return false;
		/* value: one or more unreserved characters or %XX */
		const char *v = p;
		for (;;) {
			if (path_char(*p) || *p == '~') {
				p++;
			} else if (*p == '%' && hex_digit(p[1]) && hex_digit(p[2])) {
				p += 3;
			} else {
				break;
			}
		}
		if (p == v)
			return false;
		if (*p == '\0')
			return true;
		if (*p++ != '&')
			return false;
	}
}

/* ---- server state ------------------------------------------------------ */

struct conn;

struct slot {
	struct conn *c;
	int32_t id;            /* HTTP/2 stream id */
	bool in_use;
	bool counted;          /* counted as open on its instance */
	bool bad;              /* header storage overflowed */
	bool client_done;      /* END_STREAM from the client */
	bool final_seen;       /* the empty signed frame arrived */
	bool eof;              /* no more reply bytes: send END_STREAM */
	bool chunk_seen;
	bool verifying;
	bool stream_failed;    /* an injected exception event ended its replies */
	int inst;
	uint64_t ordinal;      /* 1-based stream number since start */
	int heap_idx;          /* -1 when not in the heap */
	/* pending replies */
	int64_t due[RING];
	uint32_t plen[RING];   /* payload bytes of the chunk each reply answers */
	uint64_t audio_done;   /* payload bytes answered so far */
	uint32_t rhead, rcount;
	int64_t last_due;
	uint64_t seq_out;
	/* reply bytes nghttp2 has not taken yet */
	uint8_t out[OUT_CAP];
	size_t out_off, out_len;
	struct kc_es_decoder dec;
	struct kc_evsign chain;
	/* initial request headers (verification) */
	char hbuf[HDR_BYTES];
	size_t hlen;
	struct kc_sigv4_header hdrs[HDR_MAX];
	int nh;
	const char *method, *path, *authority;
	size_t path_len;
};

struct conn {
	struct kc_h2io io;     /* socket, TLS and nghttp2 session (h2io.c) */
	struct kc_bidi *b;
	bool dead;             /* the peer is gone: close without writing */
	bool dirty;
	struct conn *next_dirty;
	struct conn *prev, *next; /* all connections */
};

#define STAT_FIELDS(X) X(connections) X(streams_opened) X(streams_open) \
	X(streams_open_max) X(chunks) X(replies) X(finished) X(bad_frames) \
	X(bad_signatures) X(overflows) X(goaways) X(resets) X(corrupted) \
	X(tls_handshakes) X(invocation_paths) X(query_strings) X(errors_injected) \
	X(expired_tokens)

struct kc_bidi {
	struct kc_bidi_profile p;
	int lfd, efd, tfd, stopfd;
	int port;
	pthread_t thread;
	struct slot *slots;
	uint32_t nslots;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *heap;        /* slot indexes ordered by due[rhead] */
	uint32_t nheap;
	int64_t armed_ns;
	int64_t inst_n[INSTANCES_MAX];
	uint64_t rr;
	struct conn *conns;
	int nconns;
	struct conn *dirty;
	struct kc_sigv4_signer *verifier;
	SSL_CTX *ctx;          /* TLS: NULL for h2c */
	nghttp2_session_callbacks *cbs; /* every connection's, made at start */
	FILE *capture;
	uint64_t replies_total;
#define DECL(f) _Atomic uint64_t f;
	STAT_FIELDS(DECL)
#undef DECL
};

#define INC(b, f) atomic_fetch_add_explicit(&(b)->f, 1, memory_order_relaxed)

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

static void heap_push(struct kc_bidi *b, uint32_t si)
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

static void mark_dirty(struct conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = c->b->dirty;
	c->b->dirty = c;
}

static void slot_release(struct kc_bidi *b, struct slot *s)
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
			slot_release(b, &b->slots[i]);
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

static ssize_t reply_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
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

static void maybe_finish(struct slot *s)
{
	if (s->client_done && s->rcount == 0 && !s->eof) {
		s->eof = true;
		nghttp2_session_resume_data(s->c->io.s, s->id);
		mark_dirty(s->c);
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
		mark_dirty(s->c);
		maybe_finish(s);
	}
}

/* ---- request events ------------------------------------------------------ */

static void stream_fail(struct slot *s, uint32_t code)
{
	nghttp2_submit_rst_stream(s->c->io.s, NGHTTP2_FLAG_NONE, s->id, code);
	mark_dirty(s->c);
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
	mark_dirty(s->c);
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
		heap_push(b, si);
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
	mark_dirty(s->c);
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
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = reply_read_cb};
	nghttp2_submit_response(s->c->io.s, s->id, nv, 3, &dp);
	mark_dirty(s->c);
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
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = reply_read_cb};
	nghttp2_submit_response(c->io.s, s->id, nv, 3, &dp);
	mark_dirty(c);
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
		maybe_finish(s);
	}
	return 0;
}

static int on_stream_close(nghttp2_session *ses, int32_t id, uint32_t code, void *ud)
{
	(void)code;
	struct conn *c = ud;
	struct slot *s = nghttp2_session_get_stream_user_data(ses, id);
	if (s)
		slot_release(c->b, s);
	return 0;
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
		mark_dirty(c);
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
				mark_dirty(c);
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
	nghttp2_session_callbacks_set_on_begin_headers_callback(b->cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(b->cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(b->cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(b->cbs, on_data_chunk_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(b->cbs, on_stream_close);
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
