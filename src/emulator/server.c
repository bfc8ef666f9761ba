/*
 * server.c - the emulator's HTTP/1.1 face (libmicrohttpd) and its service
 * clock: one stand-in SageMaker real-time endpoint with a known capacity.
 *
 * A request's life: MHD worker threads read the body (bounded by
 * body_bytes_max; an oversize Content-Length is answered 413 before the body
 * is read, an oversize chunked body as soon as it passes the limit), run
 * the real CPU stage (JPEG decode), draw its faults, and ask the model
 * (model.c) when its slot frees and when it is done.  The
 * connection is then suspended and parked in a min-heap of deadlines; one
 * timer thread sleeps on CLOCK_MONOTONIC absolute deadlines, tells the model
 * the request left, and resumes the connection, whose handler then queues
 * the answer.  No thread ever sleeps for a request, so the queue grows
 * exactly when the offered load passes the model's capacity, not when a
 * thread pool runs out.
 *
 * Memory: request contexts (one per allowed connection), the timer heap and
 * the JPEG decoders are allocated at start; body buffers grow to the
 * largest body a context has seen and are reused.
 *
 * The request's semantics (routing, body, SigV4, CPU stage, faults, model,
 * answer bodies) are the kc_emu_req_* functions of request.c, shared with
 * the HTTP/2 face (h2serve.c, started here when h2_listen is set); only the
 * MHD plumbing is this file's own.
 *
 * Hostile clients: a per-client connection cap (MHD's per-IP limit) keeps
 * a share of the connections for other addresses and GET /ping, and the
 * slow-client guard closes connections whose headers or body do not
 * arrive in time (see "the slow-client guard" below).  A chunked body past
 * body_bytes_max is answered 413 as soon as it passes it.
 *
 * Locks: `mu` guards the model, the fault RNG and the counters; `tmu`
 * guards the timer heap and the stopping flag.  Order: tmu, then MHD's own
 * (MHD_suspend_connection takes it); mu is never held with either.  `gmu`
 * guards the guard's connection records; nothing else is taken under it.
 */
#include "decode_int.h"
#include "faults_int.h"
#include "h2io_int.h"
#include "model_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"
#include "kneecap/sigv4.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Discard at most this much of a chunked oversize body, then drop it. */
#define DISCARD_BYTES_MAX (INT64_C(64) * 1024 * 1024)
/* Timer entries fired per lock hold. */
#define FIRE_BATCH 64

/* ---- timer heap (under tmu) ---------------------------------------- */

static bool before(const struct req *a, const struct req *b)
{
	return a->due_ns < b->due_ns;
}

static void heap_push(struct kc_emu *e, struct req *r)
{
	KC_ASSERT(e->heap_n < e->heap_cap);
	int i = e->heap_n++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!before(r, e->heap[p]))
			break;
		e->heap[i] = e->heap[p];
		i = p;
	}
	e->heap[i] = r;
}

static struct req *heap_pop(struct kc_emu *e)
{
	KC_ASSERT(e->heap_n > 0);
	struct req *top = e->heap[0];
	struct req *last = e->heap[--e->heap_n];
	int i = 0, n = e->heap_n;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct req *mv = last;
		if (l < n && before(e->heap[l], mv)) {
			m = l;
			mv = e->heap[l];
		}
		if (r < n && before(e->heap[r], mv))
			m = r;
		if (m == i)
			break;
		e->heap[i] = e->heap[m];
		i = m;
	}
	if (n > 0)
		e->heap[i] = last;
	return top;
}

/*
 * Suspends r's connection until due_ns, when the timer thread acts on kind.
 * Returns false (nothing suspended) once the emulator is stopping: the
 * caller answers at once.  Called from MHD handler or reader callbacks only.
 */
static bool park(struct kc_emu *e, struct req *r, int64_t due_ns, enum tkind kind)
{
	pthread_mutex_lock(&e->tmu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->tmu);
		return false;
	}
	/* Suspend before the timer can see r: resuming a connection that is
	 * not suspended is undefined in MHD. */
	MHD_suspend_connection(r->conn);
	r->state = S_PARKED;
	r->due_ns = due_ns;
	r->tkind = kind;
	bool wake = e->heap_n == 0 || due_ns < e->heap[0]->due_ns;
	heap_push(e, r);
	if (wake)
		pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	return true;
}

/* Puts an already suspended r back in the heap (a stall deferred it). */
static bool repark(struct kc_emu *e, struct req *r, int64_t due_ns)
{
	pthread_mutex_lock(&e->tmu);
	bool ok = !e->stopping;
	if (ok) {
		r->due_ns = due_ns;
		r->tkind = TK_DELIVER;
		heap_push(e, r);
	}
	pthread_mutex_unlock(&e->tmu);
	return ok;
}

/* ---- small helpers ------------------------------------------------- */

static struct req *pool_get(struct kc_emu *e)
{
	pthread_mutex_lock(&e->pool_mu);
	struct req *r = e->free_reqs;
	if (r)
		e->free_reqs = r->next_free;
	pthread_mutex_unlock(&e->pool_mu);
	return r;
}

static void pool_put(struct kc_emu *e, struct req *r)
{
	r->state = S_FREE;
	r->conn = NULL;
	pthread_mutex_lock(&e->pool_mu);
	r->next_free = e->free_reqs;
	e->free_reqs = r;
	pthread_mutex_unlock(&e->pool_mu);
}

/* ---- the slow-client guard (HTTP/1.1) ------------------------------- */

/*
 * libmicrohttpd's connection timeout is an idle timeout: one byte now and
 * then resets it, so a client that trickles its headers (slowloris) or its
 * body holds a connection for ever, and a few thousand of them hold all of
 * them.  The guard gives each connection a deadline for what it owes next
 * (headers: header_timeout from the connection, or from the request line on
 * a kept-alive one; body: body_timeout since the last body bytes) and a
 * thread shuts down, every GUARD_PERIOD_NS, the sockets past theirs; MHD
 * then sees the end of the stream and closes the connection itself.  The
 * records live from MHD's STARTED to its CLOSED notification, and MHD
 * closes the descriptor only after CLOSED: the shutdown under gmu can never
 * hit a descriptor number reused by a newer connection.
 */

/* A kept-alive connection's next request line is due within this (MHD's
 * idle timeout, which a trickle would otherwise reset without end). */
#define KEEPALIVE_NS (INT64_C(300) * KC_NS_PER_S)
#define GUARD_PERIOD_NS (INT64_C(250) * KC_NS_PER_MS)

static struct kc_emu_conn *conn_rec(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Sets what conn owes next and by when (its MHD thread only). */
static void guard_set(struct MHD_Connection *conn, enum gphase ph, int64_t deadline_ns)
{
	struct kc_emu_conn *c = conn_rec(conn);
	if (!c)
		return;
	/* Deadline first: the guard reads the phase, then the deadline. */
	atomic_store(&c->deadline_ns, deadline_ns);
	atomic_store(&c->phase, (int)ph);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct kc_emu *e = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		pthread_mutex_lock(&e->gmu);
		struct kc_emu_conn *c = e->free_conns;
		if (c && ci) {
			e->free_conns = c->next;
			c->fd = ci->connect_fd;
			c->closing = false;
			atomic_store(&c->deadline_ns, kc_clock_ns() + e->prof.header_timeout_ns);
			atomic_store(&c->phase, (int)G_HEAD);
			c->prev = NULL;
			c->next = e->live_conns;
			if (e->live_conns)
				e->live_conns->prev = c;
			e->live_conns = c;
			*socket_context = c;
		}
		pthread_mutex_unlock(&e->gmu);
		return;
	}
	struct kc_emu_conn *c = *socket_context;
	if (!c)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&e->gmu);
	if (c->prev)
		c->prev->next = c->next;
	else
		e->live_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->fd = -1;
	c->next = e->free_conns;
	e->free_conns = c;
	pthread_mutex_unlock(&e->gmu);
}

/* The request line is in: on a kept-alive connection the headers' clock
 * starts now; on a new one it started at the connection. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct kc_emu *e = cls;
	(void)uri;
	struct kc_emu_conn *c = conn_rec(conn);
	if (c && atomic_load(&c->phase) == (int)G_IDLE)
		guard_set(conn, G_HEAD, kc_clock_ns() + e->prof.header_timeout_ns);
	return NULL; /* the request's con_cls: on_request sets it */
}

static void *guard_main(void *arg)
{
	struct kc_emu *e = arg;
	pthread_mutex_lock(&e->gmu);
	while (!e->gstop) {
		int64_t now = kc_clock_ns();
		for (struct kc_emu_conn *c = e->live_conns; c; c = c->next) {
			int ph = atomic_load(&c->phase);
			if (c->closing || ph == (int)G_BUSY || atomic_load(&c->deadline_ns) > now)
				continue;
			c->closing = true;
			(void)shutdown(c->fd, SHUT_RDWR);
			atomic_fetch_add(ph == (int)G_BODY ? &e->closed_body : &e->closed_header, 1);
			kc_log(KC_LOG_DEBUG, "emulator: closed a connection whose %s did not "
			       "arrive in time", ph == (int)G_BODY ? "request body" : "request headers");
		}
		int64_t due = kc_clock_ns() + GUARD_PERIOD_NS;
		struct timespec ts = {.tv_sec = (time_t)(due / KC_NS_PER_S),
				      .tv_nsec = (long)(due % KC_NS_PER_S)};
		pthread_cond_timedwait(&e->gcv, &e->gmu, &ts);
	}
	pthread_mutex_unlock(&e->gmu);
	return NULL;
}

static void guard_stop(struct kc_emu *e)
{
	if (!e->guard_started)
		return;
	pthread_mutex_lock(&e->gmu);
	e->gstop = true;
	pthread_cond_signal(&e->gcv);
	pthread_mutex_unlock(&e->gmu);
	pthread_join(e->guard, NULL);
	e->guard_started = false;
}
/* ---- answering ----------------------------------------------------- */

static void reset_socket(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci) {
		/* Linger 0: close() sends RST instead of FIN, like a crash. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		(void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
}

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max);
static ssize_t half_read(void *cls, uint64_t pos, char *buf, size_t max);
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);

void kc_emu_mark_dying(struct kc_emu *e)
{
	pthread_mutex_lock(&e->tmu);
	e->die_pending = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
}

/* Queues r's answer on its connection (handler thread, connection not
 * suspended).  Returns what the access handler must return. */
static enum MHD_Result respond(struct kc_emu *e, struct req *r)
{
	bool die;
	if (kc_emu_req_account(e, r, &die)) {
		reset_socket(r->conn);
		return MHD_NO;
	}
	struct MHD_Response *resp;
	bool stream = r->stream && r->status == 200;
	if (stream) {
		/* Chunked (size unknown); stream_read paces the parts. */
		r->sparts = 0;
		r->sdone = false;
		r->sbuf_len = r->sbuf_off = 0;
		r->s0_ns = kc_clock_ns();
		r->trickle_ready = true; /* the first part is due now */
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, sizeof(r->sbuf),
							 stream_read, r, NULL);
	} else if (r->plan.reset_mid) {
		resp = MHD_create_response_from_callback(r->out_len, 1024, half_read, r, NULL);
	} else if (r->plan.slow) {
		r->trickle_ready = true;
		resp = MHD_create_response_from_callback(r->out_len, 1024, trickle_read, r, NULL);
	} else {
		resp = MHD_create_response_from_buffer(r->out_len, r->out, MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	if (stream) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/vnd.amazon.eventstream");
		MHD_add_response_header(resp, "X-Amzn-SageMaker-Content-Type", "application/json");
	} else {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	}
	MHD_add_response_header(resp, "x-amzn-RequestId", r->reqid);
	if (r->status == 200)
		MHD_add_response_header(resp, "x-Amzn-Invoked-Production-Variant", e->prof.variant);
	else
		MHD_add_response_header(resp, "X-Amzn-ErrorType", kc_emu_req_error_type(r));
	if (r->status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	if (die)
		kc_emu_mark_dying(e);
	return ret;
}

/* Answers now, or parks the answer until a stall window ends. */
static enum MHD_Result deliver(struct kc_emu *e, struct req *r)
{
	int64_t end = kc_emu_stall_until(e, kc_clock_ns());
	if (end >= 0 && park(e, r, end, TK_DELIVER))
		return MHD_YES;
	return respond(e, r);
}

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	struct kc_emu *e = r->e;
	if (pos >= r->out_len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (!r->trickle_ready) {
		/* Wait a slow_interval with the connection suspended; MHD calls
		 * again at the same position once the timer resumes it. */
		if (!park(e, r, kc_clock_ns() + e->prof.faults.slow_interval_ns, TK_TRICKLE))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		return 0;
	}
	r->trickle_ready = false;
	size_t n = (size_t)e->prof.faults.slow_chunk_bytes;
	if (n > max)
		n = max;
	if (n > r->out_len - (size_t)pos)
		n = r->out_len - (size_t)pos;
	memcpy(buf, r->out + pos, n);
	return (ssize_t)n;
}

/*
 * fault_reset_mid: the full Content-Length is announced, the first half of
 * the body sent, then the connection is reset (linger 0), as when a server
 * dies while answering.  The client sees a 200 and a short body.
 */
static ssize_t half_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	size_t half = r->out_len / 2;
	if (pos >= half) {
		reset_socket(r->conn);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = half - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, r->out + pos, n);
	return (ssize_t)n;
}

/*
 * Encodes the next message of r's response stream into r->sbuf: PayloadPart
 * k carries bytes [k*L/n, (k+1)*L/n) of the JSON answer (L bytes, n parts),
 * so the parts concatenate to what /invocations answers.  With
 * fault_stream_error the message after half the parts is a ModelStreamError
 * and the stream ends there.
 */
static void stream_encode_next(struct kc_emu *e, struct req *r)
{
	int n = e->prof.stream_parts;
	size_t len = 0;
	int rc;
	if (r->plan.stream_error && r->sparts == n / 2) {
		static const char payload[] =
			"{\"Message\":\"Injected fault: the model stream broke mid-response\","
			"\"ErrorCode\":\"StreamBroken\"}";
		struct kc_es_header h[] = {
			kc_es_string(":message-type", "exception"),
			kc_es_string(":exception-type", "ModelStreamError"),
			kc_es_string(":content-type", "application/json"),
		};
		rc = kc_es_encode(h, 3, payload, sizeof(payload) - 1, r->sbuf, sizeof(r->sbuf),
				  &len, NULL, NULL);
		r->sdone = true;
	} else {
		size_t a = r->out_len * (size_t)r->sparts / (size_t)n;
		size_t b = r->out_len * (size_t)(r->sparts + 1) / (size_t)n;
		struct kc_es_header h[] = {
			kc_es_string(":message-type", "event"),
			kc_es_string(":event-type", "PayloadPart"),
			kc_es_string(":content-type", "application/octet-stream"),
		};
		rc = kc_es_encode(h, 3, r->out + a, b - a, r->sbuf, sizeof(r->sbuf), &len,
				  NULL, NULL);
		r->sparts++;
		r->sdone = r->sparts == n;
	}
	/* sbuf holds the largest answer (out) in one part plus these headers. */
	KC_ASSERT(rc == KC_OK);
	r->sbuf_len = len;
	r->sbuf_off = 0;
}

/*
 * The response-stream body: MHD asks for bytes; a part that is not due yet
 * parks the connection (suspended, no thread waits) until the timer thread
 * resumes it at the part's time, as trickle_read does.
 */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *r = cls;
	struct kc_emu *e = r->e;
	(void)pos;
	if (r->sbuf_off == r->sbuf_len) {
		if (r->sdone)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (r->plan.reset_mid && r->sparts >= e->prof.stream_parts / 2) {
			reset_socket(r->conn);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (!r->trickle_ready) {
			int64_t due = r->s0_ns + r->sparts * e->prof.stream_part_gap_ns;
			if (kc_clock_ns() < due) {
				if (!park(e, r, due, TK_TRICKLE))
					return MHD_CONTENT_READER_END_WITH_ERROR;
				return 0;
			}
		}
		stream_encode_next(e, r);
		/* The next part waits for its time unless parts leave back to back. */
		r->trickle_ready = e->prof.stream_part_gap_ns == 0;
	}
	size_t k = r->sbuf_len - r->sbuf_off;
	if (k > max)
		k = max;
	memcpy(buf, r->sbuf + r->sbuf_off, k);
	r->sbuf_off += k;
	return (ssize_t)k;
}

/* A one-off JSON answer that is not an invocation (ping, stats, 404). */
static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status,
				   char *body, enum MHD_ResponseMemoryMode mode,
				   const char *err_type)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), body, mode);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (err_type)
		MHD_add_response_header(resp, "X-Amzn-ErrorType", err_type);
	if (status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, size_t key_size,
				      const char *value, size_t value_size)
{
	struct kc_emu_headers *hl = cls;
	(void)kind;
	if (hl->n >= KC_SIGV4_HEADERS_MAX) {
		hl->overflow = true;
		return MHD_NO;
	}
	hl->h[hl->n++] = (struct kc_sigv4_header){key, key_size, value ? value : "",
						   value ? value_size : 0};
	return MHD_YES;
}

/* The whole body is in: admit it, then park until done or answer now. */
static enum MHD_Result body_done(struct kc_emu *e, struct req *r)
{
	struct kc_emu_headers hl = {.n = 0, .overflow = false};
	if (e->signer)
		MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_header, &hl);
	if (!kc_emu_req_admit(e, r, &hl))
		return deliver(e, r);
	if (park(e, r, r->admit.done_ns, TK_FINISH))
		return MHD_YES;
	/* Stopping: leave the model and answer now. */
	kc_emu_req_leave(e, r);
	kc_emu_req_stopping(r);
	return respond(e, r);
}

/* First call for an invocation (MHD): the checks above, acted on. */
static enum MHD_Result invocation_start(struct kc_emu *e, struct req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	switch (kc_emu_req_head(e, r, cl)) {
	case KC_EMU_HEAD_ANSWER:
		/* Answer before reading: MHD closes the connection after this
		 * response instead of draining a huge body. */
		guard_set(r->conn, G_BUSY, 0);
		return respond(e, r);
	case KC_EMU_HEAD_DROP:
		reset_socket(r->conn);
		return MHD_NO;
	case KC_EMU_HEAD_READ:
		break;
	}
	return MHD_YES;
}
/* Answers a request that is not a served invocation, body consumed. */
static enum MHD_Result answer_other(struct kc_emu *e, struct req *r)
{
	if (r->route == R_ERROR)
		return respond(e, r);
	KC_ASSERT(r->route != R_INVOKE);
	int status;
	const char *etype, *allow;
	char *owned;
	const char *body = kc_emu_req_other(e, r, &status, &etype, &allow, &owned);
	if (!body)
		return MHD_NO;
	struct MHD_Response *resp = owned
		? MHD_create_response_from_buffer(strlen(owned), owned, MHD_RESPMEM_MUST_FREE)
		: MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
						  MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(owned);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (etype)
		MHD_add_response_header(resp, "X-Amzn-ErrorType", etype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * A chunked body (no Content-Length) passed max_body while arriving.
 * libmicrohttpd 0.9.75 refuses to queue a response before the body has
 * ended, and an endless upload never ends: the 413 is written on the socket
 * here, with Connection: close, and the rest of the body is read and
 * dropped (S_DRAIN, at most DISCARD_BYTES_MAX, under body_timeout) so that
 * a client still sending gets the answer and a FIN, not a reset.  A client
 * that reads while it sends (curl) stops at the 413.
 */
static enum MHD_Result answer_413_now(struct kc_emu *e, struct req *r)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "Request body exceeds the %" PRIu64 "-byte limit",
		 e->prof.body_bytes_max);
	kc_emu_req_fail(e, r, 413, KC_EMU_ERRC_TOO_LARGE, msg);
	bool die;
	bool drop = kc_emu_req_account(e, r, &die);
	if (die)
		kc_emu_mark_dying(e);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (drop || !ci) {
		reset_socket(r->conn);
		return MHD_NO;
	}
	char head[512];
	int hn = snprintf(head, sizeof(head),
			  "HTTP/1.1 413 Payload Too Large\r\n"
			  "Content-Type: application/json\r\n"
			  "x-amzn-RequestId: %s\r\n"
			  "X-Amzn-ErrorType: %s\r\n"
			  "Connection: close\r\n"
			  "Content-Length: %zu\r\n\r\n",
			  r->reqid, kc_emu_req_error_type(r), r->out_len);
	KC_ASSERT(hn > 0 && (size_t)hn < sizeof(head));
	struct iovec iov[2] = {{head, (size_t)hn}, {r->out, r->out_len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	/* Under 1 KiB into an empty send buffer: it fits, or the peer is gone. */
	ssize_t sent = sendmsg(ci->connect_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent != (ssize_t)((size_t)hn + r->out_len))
		return MHD_NO;
	r->state = S_DRAIN;
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct kc_emu *e = cls;
	struct req *r = *con_cls;
	(void)version;

	if (!r) {
		if (atomic_load(&e->dead)) {
			kc_emu_count_error(e, KC_EMU_ERRC_DEAD);
			reset_socket(conn);
			return MHD_NO;
		}
		r = pool_get(e);
		if (!r) {
			/* Cannot happen while the pool matches MHD's connection limit. */
			kc_emu_count_error(e, KC_EMU_ERRC_INTERNAL);
			return answer_json(conn, 503,
					   (char *)"{\"message\":\"too many connections\"}",
					   MHD_RESPMEM_PERSISTENT, "ServiceUnavailable");
		}
		*con_cls = r;
		r->conn = conn;
		/* The headers are in; from now on the body must keep coming. */
		guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
		kc_emu_req_route(e, r, url, method);
		if (r->route != R_INVOKE)
			return MHD_YES;
		return invocation_start(e, r);
	}

	switch (r->state) {
	case S_READING:
		if (*upload_data_size > 0) {
			guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
			if (r->body_total > (uint64_t)DISCARD_BYTES_MAX) {
				kc_emu_count_error(e, KC_EMU_ERRC_TOO_LARGE);
				return MHD_NO;
			}
			if (r->route == R_INVOKE)
				kc_emu_req_body(e, r, upload_data, *upload_data_size);
			else
				r->body_total += *upload_data_size;
			*upload_data_size = 0;
			if (r->too_large && r->route == R_INVOKE)
				return answer_413_now(e, r);
			return MHD_YES;
		}
		guard_set(conn, G_BUSY, 0);
		if (r->route != R_INVOKE)
			return answer_other(e, r);
		return body_done(e, r);
	case S_DRAIN:
		if (*upload_data_size == 0)
			return MHD_NO; /* all read: the close is a clean FIN */
		guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
		r->body_total += *upload_data_size;
		*upload_data_size = 0;
		return r->body_total > (uint64_t)DISCARD_BYTES_MAX ? MHD_NO : MHD_YES;
	case S_READY:
		return respond(e, r);
	default:
		/* An answer is queued; swallow whatever else arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct kc_emu *e = cls;
	struct req *r = *con_cls;
	(void)toe;
	/* Kept alive (or closing): the next request line is due. */
	guard_set(conn, G_IDLE, kc_clock_ns() + KEEPALIVE_NS);
	if (!r)
		return;
	*con_cls = NULL;
	KC_ASSERT(r->state != S_PARKED);
	kc_emu_req_abandon(e, r);
	pool_put(e, r);
}
/* ---- the timer thread ---------------------------------------------- */

static void fire(struct kc_emu *e, struct req *r, bool stopping)
{
	if (r->tkind == TK_FINISH)
		kc_emu_req_leave(e, r);
	if (r->tkind == TK_TRICKLE) {
		/* Mid-response: the reader callback sends the next chunk. */
		r->trickle_ready = true;
		r->state = S_DONE;
	} else if (stopping) {
		kc_emu_req_stopping(r);
		r->state = S_READY;
	} else {
		int64_t end = kc_emu_stall_until(e, kc_clock_ns());
		if (end >= 0 && repark(e, r, end))
			return;
		r->state = S_READY;
	}
	MHD_resume_connection(r->conn);
}

/* fault_close_after tripped: stop accepting (connects are refused) and let
 * every later request on an open connection be dropped. */
static void die(struct kc_emu *e)
{
	atomic_store(&e->dead, true);
	/* e->listen_fd is already -1: the socket belongs to MHD, which hands
	 * it back here. */
	MHD_socket fd = MHD_quiesce_daemon(e->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	kc_log(KC_LOG_WARN, "emulator: fault_close_after=%" PRId64 " reached, "
	       "the server is now dead", e->prof.faults.close_after);
}

static void *timer_main(void *arg)
{
	struct kc_emu *e = arg;
	/* Default timer slack is 50 us; service deadlines want better. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct req *batch[FIRE_BATCH];
	pthread_mutex_lock(&e->tmu);
	for (;;) {
		/* A request may trip close_after before kc_emu_start has stored
		 * e->mhd: die() waits until it is published (under tmu). */
		if (e->die_pending && e->mhd_ready) {
			e->die_pending = false;
			pthread_mutex_unlock(&e->tmu);
			die(e);
			pthread_mutex_lock(&e->tmu);
			continue;
		}
		if (e->stopping)
			break;
		if (e->heap_n == 0) {
			pthread_cond_wait(&e->tcv, &e->tmu);
			continue;
		}
		int64_t now = kc_clock_ns();
		if (e->heap[0]->due_ns > now) {
			int64_t due = e->heap[0]->due_ns;
			struct timespec ts = {.tv_sec = (time_t)(due / KC_NS_PER_S),
					      .tv_nsec = (long)(due % KC_NS_PER_S)};
			pthread_cond_timedwait(&e->tcv, &e->tmu, &ts);
			continue;
		}
		int n = 0;
		while (n < FIRE_BATCH && e->heap_n > 0 && e->heap[0]->due_ns <= now)
			batch[n++] = heap_pop(e);
		pthread_mutex_unlock(&e->tmu);
		for (int i = 0; i < n; i++)
			fire(e, batch[i], false);
		pthread_mutex_lock(&e->tmu);
	}
	/* Stopping: every parked connection must be resumed before
	 * MHD_stop_daemon, or MHD panics. */
	while (e->heap_n > 0) {
		struct req *r = heap_pop(e);
		pthread_mutex_unlock(&e->tmu);
		fire(e, r, true);
		pthread_mutex_lock(&e->tmu);
	}
	pthread_mutex_unlock(&e->tmu);
	return NULL;
}
/* ---- start / stop -------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	kc_log(KC_LOG_DEBUG, "emulator: libmicrohttpd: %s", msg);
}
static void free_emu(struct kc_emu *e)
{
	if (e->dec) {
		for (int i = 0; i < e->n_dec; i++)
			kc_emu_decoder_fini(&e->dec[i]);
	}
	if (e->reqs) {
		for (int i = 0; i < kc_emu_profile_conn_limit(&e->prof); i++)
			free(e->reqs[i].body);
	}
	free(e->dec);
	free(e->dec_free);
	free(e->reqs);
	free(e->heap);
	free(e->conns);
	kc_emu_model_free(e->model);
	kc_sigv4_signer_free(e->signer);
	pthread_mutex_destroy(&e->sig_mu);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->pool_mu);
	pthread_mutex_destroy(&e->dec_mu);
	pthread_cond_destroy(&e->dec_cv);
	pthread_mutex_destroy(&e->tmu);
	pthread_cond_destroy(&e->tcv);
	pthread_mutex_destroy(&e->gmu);
	pthread_cond_destroy(&e->gcv);
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	free(e);
}

/* Allocates everything an emulator needs before it opens a socket. */
static int new_emu(const struct kc_emu_profile *p, struct kc_emu **out,
		   struct kc_diag *d)
{
	int rc;
	struct kc_emu *e = calloc(1, sizeof(*e));
	if (!e)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	e->prof = *p;
	e->listen_fd = -1;
	e->capacity_rps = kc_emu_profile_capacity_rps(p);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->pool_mu, NULL);
	pthread_mutex_init(&e->dec_mu, NULL);
	pthread_cond_init(&e->dec_cv, NULL);
	pthread_mutex_init(&e->tmu, NULL);
	pthread_mutex_init(&e->sig_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are kc_clock_ns */
	pthread_cond_init(&e->tcv, &ca);
	pthread_cond_init(&e->gcv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&e->gmu, NULL);
	atomic_init(&e->dead, false);
	/* Faults and request ids use a stream apart from the model's. */
	kc_emu_rng_seed(&e->rng, p->seed ^ UINT64_C(0x5eed0fa017c0ffee));
	kc_emu_rng_seed(&e->id_rng, (uint64_t)kc_wall_ns());

	rc = kc_emu_model_new(&e->model, p);
	if (rc) {
		rc = kc_diag_set(d, rc, "emulator profile out of range");
		goto fail;
	}
	int n = kc_emu_profile_conn_limit(p);
	e->reqs = calloc((size_t)n, sizeof(*e->reqs));
	e->heap = calloc((size_t)n, sizeof(*e->heap));
	e->conns = calloc((size_t)n, sizeof(*e->conns));
	e->n_dec = p->threads;
	e->dec = calloc((size_t)e->n_dec, sizeof(*e->dec));
	e->dec_free = calloc((size_t)e->n_dec, sizeof(*e->dec_free));
	if (!e->reqs || !e->heap || !e->conns || !e->dec || !e->dec_free) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	e->heap_cap = n;
	if (p->sigv4_akid[0]) {
		struct kc_sigv4_config sc = {
			.access_key_id = p->sigv4_akid,
			.secret_access_key = p->sigv4_secret,
			.region = p->sigv4_region,
			.service = "sagemaker", /* InvokeEndpoint's signing name */
		};
		rc = kc_sigv4_signer_new(&e->signer, &sc, d);
		if (rc)
			goto fail;
		/* A client's request may quote it back (a misconfigured proxy);
		 * whatever the emulator logs is scrubbed of it. */
		kc_scrub_register(p->sigv4_secret);
	}
	size_t store_max = kc_emu_store_max(e);
	for (int i = n - 1; i >= 0; i--) {
		e->reqs[i].e = e;
		e->reqs[i].store_max = store_max;
		e->reqs[i].next_free = e->free_reqs;
		e->free_reqs = &e->reqs[i];
	}
	for (int i = n - 1; i >= 0; i--) {
		e->conns[i].fd = -1;
		e->conns[i].next = e->free_conns;
		e->free_conns = &e->conns[i];
	}
	for (int i = 0; i < e->n_dec; i++) {
		if (kc_emu_decoder_init(&e->dec[i])) {
			rc = kc_diag_set(d, KC_ENOMEM, "cannot create a TurboJPEG decoder");
			goto fail;
		}
		e->dec_free[e->n_dec_free++] = &e->dec[i];
	}
	*out = e;
	return KC_OK;
fail:
	free_emu(e);
	return rc;
}

int kc_emu_start(const struct kc_emu_profile *p, const char *listen_addr,
		 struct kc_emu **out, struct kc_diag *d)
{
	KC_ASSERT(p && listen_addr && out);
	int rc = kc_emu_profile_check(p, d);
	if (rc)
		return rc;
	if (p->threads < 1 || p->max_connections < 16 || p->body_bytes_max < 1)
		return kc_diag_set(d, KC_EINVAL, "threads, max_connections or max_body out of range");
	struct kc_emu *e;
	rc = new_emu(p, &e, d);
	if (rc)
		return rc;
	int n = kc_emu_profile_conn_limit(p);

	int fd;
	rc = kc_h2io_listen(listen_addr, &fd, &e->port, d);
	if (rc)
		goto fail;
	e->listen_fd = fd;
	e->start_ns = kc_clock_ns();

	if (pthread_create(&e->timer, NULL, timer_main, e) != 0) {
		rc = kc_diag_set(d, KC_ENOMEM, "cannot start the timer thread");
		goto fail;
	}
	e->timer_started = true;
	if (pthread_create(&e->guard, NULL, guard_main, e) != 0) {
		rc = kc_diag_set(d, KC_ENOMEM, "cannot start the slow-client guard thread");
		goto fail;
	}
	e->guard_started = true;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	e->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(p->threads > 1 ? p->threads : 0),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)n,
		/* Past its cap a client's new connections are closed at once,
		 * so one address cannot starve the others or /ping. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)kc_emu_profile_client_cap(p),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(KEEPALIVE_NS / KC_NS_PER_S),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, e,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, e,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, e,
		MHD_OPTION_END);
	if (!e->mhd) {
		rc = kc_diag_set(d, KC_EIO, "libmicrohttpd failed to start on %s", listen_addr);
		goto fail;
	}
	/* Published under tmu: the timer thread reads e->mhd in die(). */
	pthread_mutex_lock(&e->tmu);
	e->listen_fd = -1; /* MHD owns it now */
	e->mhd_ready = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	kc_log(KC_LOG_INFO, "emulator: listening on port %d, %.1f RPS nominal",
	       e->port, e->capacity_rps);
	if (p->h2_listen[0]) {
		rc = kc_emu_h2_start(e, &e->h2, d);
		if (rc) {
			kc_emu_stop(e);
			return rc;
		}
	}
	*out = e;
	return KC_OK;
fail:
	guard_stop(e);
	if (e->timer_started) {
		pthread_mutex_lock(&e->tmu);
		e->stopping = true;
		pthread_cond_signal(&e->tcv);
		pthread_mutex_unlock(&e->tmu);
		pthread_join(e->timer, NULL);
	}
	free_emu(e);
	return rc;
}

int kc_emu_port(const struct kc_emu *e)
{
	KC_ASSERT(e);
	return e->port;
}

int kc_emu_h2_port(const struct kc_emu *e)
{
	KC_ASSERT(e);
	return e->h2 ? kc_emu_h2_listen_port(e->h2) : -1;
}

void kc_emu_stop(struct kc_emu *e)
{
	if (!e)
		return;
	kc_emu_h2_stop(e->h2);
	e->h2 = NULL;
	pthread_mutex_lock(&e->tmu);
	e->stopping = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	pthread_join(e->timer, NULL);
	guard_stop(e);
	MHD_stop_daemon(e->mhd);
	free_emu(e);
}
