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
 * SigV4 (optional): requests are verified with aws/sigv4.c's verifier
 * against the profile's key pair, service "sagemaker"; a failure is a 403
 * with an AWS-style body.  The body's SHA-256 needs the whole body, so
 * verification keeps every body (up to body_bytes_max).
 *
 * Memory: request contexts (one per allowed connection), the timer heap and
 * the JPEG decoders are allocated at start; body buffers grow to the
 * largest body a context has seen and are reused.
 *
 * The request's semantics (routing, body, SigV4, CPU stage, faults, model,
 * answer bodies) are the kc_emu_req_* functions of server_int.h, shared with
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
#include "model_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"
#include "kneecap/sigv4.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
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
/* SigV4: allowed clock skew, as AWS allows (5 minutes). */
#define SIGV4_SKEW_S 300
/* Timer entries fired per lock hold. */
#define FIRE_BATCH 64

static const char *const errc_names[KC_EMU_ERRC_COUNT] = {
	"model_error", "timeout", "overload", "injected", "validation",
	"too_large", "signature", "not_found", "method", "reset", "dead",
	"internal", "stream_error",
};

const char *kc_emu_err_class_name(enum kc_emu_err_class c)
{
	return (unsigned)c < KC_EMU_ERRC_COUNT ? errc_names[c] : "unknown";
}

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

static struct kc_emu_decoder *decoder_get(struct kc_emu *e)
{
	pthread_mutex_lock(&e->dec_mu);
	while (e->n_dec_free == 0)
		pthread_cond_wait(&e->dec_cv, &e->dec_mu);
	struct kc_emu_decoder *d = e->dec_free[--e->n_dec_free];
	pthread_mutex_unlock(&e->dec_mu);
	return d;
}

static void decoder_put(struct kc_emu *e, struct kc_emu_decoder *d)
{
	pthread_mutex_lock(&e->dec_mu);
	e->dec_free[e->n_dec_free++] = d;
	pthread_cond_signal(&e->dec_cv);
	pthread_mutex_unlock(&e->dec_mu);
}

void kc_emu_count_error(struct kc_emu *e, enum kc_emu_err_class c)
{
	pthread_mutex_lock(&e->mu);
	e->errors[c]++;
	pthread_mutex_unlock(&e->mu);
}

/* Appends s to out as JSON string content (no quotes); always terminates. */
static size_t json_escape(char *out, size_t outsz, const char *s)
{
	size_t n = 0;
	for (; *s && n + 7 < outsz; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, outsz - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return n;
}

static bool valid_endpoint_name(const char *s, size_t n)
{
	/* ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, 1..63 (sagemaker-runtime service model) */
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
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

/* ---- response bodies ----------------------------------------------- */

static const char *const tags[] = {
	"apparel", "footwear", "handbag", "watch", "jewelry", "electronics",
	"furniture", "kitchenware", "toy", "book", "cosmetics", "sportswear",
	"outdoor", "lighting", "home-decor", "accessory",
};
#define NTAGS ((int)(sizeof(tags) / sizeof(tags[0])))
#define TOP_TAGS 5

/* Tag probabilities as a classifier would answer: a pure function of the
 * body's hash, so the same image always gets the same tags. */
static void build_tags(struct req *r)
{
	struct kc_emu_rng g;
	kc_emu_rng_seed(&g, r->hash);
	int idx[NTAGS];
	for (int i = 0; i < NTAGS; i++)
		idx[i] = i;
	double w[TOP_TAGS], sum = 0;
	for (int i = 0; i < TOP_TAGS; i++) {
		int j = i + (int)(kc_emu_rng_u64(&g) % (uint64_t)(NTAGS - i));
		int t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		/* Geometric-ish weights: one dominant tag, a tail. */
		w[i] = (0.2 + kc_emu_rng_double(&g)) / (double)(1 << i);
		sum += w[i];
	}
	/* Highest probability first, as classifiers answer. */
	for (int i = 1; i < TOP_TAGS; i++) {
		for (int j = i; j > 0 && w[j] > w[j - 1]; j--) {
			double tw = w[j];
			w[j] = w[j - 1];
			w[j - 1] = tw;
			int ti = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = ti;
		}
	}
	size_t n = (size_t)snprintf(r->out, sizeof(r->out), "{\"predictions\":[");
	for (int i = 0; i < TOP_TAGS; i++)
		n += (size_t)snprintf(r->out + n, sizeof(r->out) - n,
				      "%s{\"label\":\"%s\",\"probability\":%.4f}",
				      i ? "," : "", tags[idx[i]], 0.98 * w[i] / sum);
	n += (size_t)snprintf(r->out + n, sizeof(r->out) - n,
			      "],\"image\":{\"width\":%d,\"height\":%d}}",
			      r->img_w, r->img_h);
	KC_ASSERT(n < sizeof(r->out));
	r->out_len = n;
}

static void build_error(struct kc_emu *e, struct req *r)
{
	char esc[300];
	json_escape(esc, sizeof(esc), r->msg);
	size_t n;
	if (r->status == 424) {
		/* ModelError's four members (sagemaker-runtime service model). */
		const char *name = e->prof.endpoint_name[0] ? e->prof.endpoint_name : "emulator";
		n = (size_t)snprintf(r->out, sizeof(r->out),
			"{\"message\":\"Received %s error (%d) from primary with message \\\"%s\\\". "
			"See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=%s"
			" in account 000000000000 for more information.\","
			"\"OriginalStatusCode\":%d,\"OriginalMessage\":\"%s\","
			"\"LogStreamArn\":\"arn:aws:logs:%s:000000000000:log-group:/aws/sagemaker/Endpoints/%s\"}",
			r->orig_status >= 500 || r->orig_status == 0 ? "server" : "client",
			r->orig_status, esc, e->prof.sigv4_region, r->orig_status, esc,
			e->prof.sigv4_region, name);
	} else if (r->status == 404 || r->status == 405) {
		n = (size_t)snprintf(r->out, sizeof(r->out), "{\"message\":\"%s\"}", esc);
	} else {
		n = (size_t)snprintf(r->out, sizeof(r->out), "{\"message\":\"%s\"}", esc);
	}
	r->out_len = n < sizeof(r->out) ? n : sizeof(r->out) - 1;
}

const char *kc_emu_req_error_type(const struct req *r)
{
	if (r->etype)
		return r->etype;
	switch (r->status) {
	case 400:
		return r->errc == KC_EMU_ERRC_VALIDATION ? "ValidationError" : "ThrottlingException";
	case 404:
		return "UnknownOperationException";
	case 405:
		return "MethodNotAllowed";
	case 413:
		return "ValidationError";
	default:
		return kc_emu_error_type(r->status);
	}
}

/* Sets r's outcome to an error. */
static void set_error(struct req *r, int status, enum kc_emu_err_class c,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void set_error(struct req *r, int status, enum kc_emu_err_class c,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->errc = c;
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

/* Counts r's answer and builds its body (see server_int.h). */
bool kc_emu_req_account(struct kc_emu *e, struct req *r, bool *die_out)
{
	int64_t now = kc_clock_ns();
	bool drop = atomic_load(&e->dead) || r->plan.reset;
	bool die = false;

	pthread_mutex_lock(&e->mu);
	if (r->in_flight) {
		e->in_flight--;
		r->in_flight = false;
	}
	if (atomic_load(&e->dead)) {
		e->errors[KC_EMU_ERRC_DEAD]++;
	} else if (r->plan.reset || r->plan.reset_mid) {
		e->errors[KC_EMU_ERRC_RESET]++;
	} else if (r->status == 200 && r->stream && r->plan.stream_error) {
		e->errors[KC_EMU_ERRC_STREAM]++;
	} else if (r->status == 200) {
		e->served++;
		e->lat_sum_ns += now - r->t_body_ns;
		e->wait_sum_ns += r->admit.start_ns - r->admit.arrival_ns;
		e->svc_sum_ns += r->admit.service_ns;
	} else {
		e->errors[r->errc]++;
	}
	if (!drop && e->prof.faults.close_after > 0 &&
	    ++e->answered == e->prof.faults.close_after)
		die = true;
	pthread_mutex_unlock(&e->mu);
	r->state = S_DONE;
	*die_out = die;
	if (drop)
		return true;
	if (r->status == 200)
		build_tags(r);
	else
		build_error(e, r);
	return false;
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

/* ---- the request path ---------------------------------------------- */

static void make_reqid(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	uint64_t a = kc_emu_rng_u64(&e->id_rng), b = ++e->reqid_seq;
	pthread_mutex_unlock(&e->mu);
	snprintf(r->reqid, sizeof(r->reqid), "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32
		 "-a%03" PRIx32 "-%012" PRIx64, (uint32_t)(a >> 32),
		 (uint32_t)(a >> 16) & 0xFFFF, (uint32_t)(a >> 4) & 0xFFF,
		 (uint32_t)(b >> 48) & 0xFFF, b & UINT64_C(0xFFFFFFFFFFFF));
}

static void body_append(struct kc_emu *e, struct req *r, const char *data, size_t n)
{
	uint64_t h = r->hash;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)data[i];
		h *= UINT64_C(0x100000001b3);
	}
	r->hash = h;
	r->body_total += n;
	if (r->body_total > e->prof.body_bytes_max) {
		r->too_large = true;
		return;
	}
	if (r->no_mem)
		return;
	size_t room = r->store_max > r->body_len ? r->store_max - r->body_len : 0;
	size_t take = n < room ? n : room;
	if (take == 0)
		return;
	if (r->mem && r->body_len + take > r->mem_held) {
		/* Budgeted in the same doubling steps as the buffer, so a
		 * reused buffer's old capacity is counted again when used. */
		size_t want = r->mem_held ? r->mem_held : 64 * 1024;
		while (want < r->body_len + take)
			want *= 2;
		if (want > r->store_max)
			want = r->store_max;
		size_t more = want - r->mem_held;
		size_t used = atomic_fetch_add(&r->mem->used, more);
		if (used + more > r->mem->max) {
			atomic_fetch_sub(&r->mem->used, more);
			r->no_mem = true;
			return;
		}
		r->mem_held = want;
	}
	if (r->body_len + take > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 64 * 1024;
		while (cap < r->body_len + take)
			cap *= 2;
		if (cap > r->store_max)
			cap = r->store_max;
		unsigned char *nb = realloc(r->body, cap);
		if (!nb) {
			/* Treat as oversize: answered, never a crash. */
			r->too_large = true;
			return;
		}
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
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

/*
 * Verifies r's SigV4 signature; on failure sets a 403 outcome and returns
 * false.  Only the headers the client listed in SignedHeaders count.  The
 * query string is not signed in: InvokeEndpoint has none.
 */
static bool verify_sigv4(struct kc_emu *e, struct req *r, const struct kc_emu_headers *hl)
{
	enum kc_sigv4_verdict v = KC_SIGV4_BAD_SIGNATURE;
	int rc = KC_ELIMIT;
	if (hl && !hl->overflow) {
		struct kc_sigv4_request sreq = {
			.method = "POST", .path = r->url, .query = NULL,
			.headers = hl->h, .n_headers = hl->n, .time_s = 0,
		};
		char hash[KC_SIGV4_HEX_LEN + 1];
		uint8_t digest[32];
		pthread_mutex_lock(&e->sig_mu);
		rc = kc_sigv4_sha256(e->signer, r->body ? r->body : (const void *)"",
				     r->body_len, digest);
		if (!rc) {
			kc_sigv4_hex(digest, sizeof(digest), hash);
			sreq.payload_hash = hash;
			rc = kc_sigv4_verify(e->signer, &sreq, kc_wall_ns() / KC_NS_PER_S,
					     SIGV4_SKEW_S, &v);
		}
		pthread_mutex_unlock(&e->sig_mu);
	}
	if (!rc && v == KC_SIGV4_OK)
		return true;
	/* The type AWS front ends answer for each case. */
	r->etype = v == KC_SIGV4_MISSING_AUTH ? "MissingAuthenticationTokenException"
		 : v == KC_SIGV4_WRONG_KEY_ID ? "UnrecognizedClientException"
		 : "InvalidSignatureException";
	if (v == KC_SIGV4_BAD_SIGNATURE && !rc)
		set_error(r, 403, KC_EMU_ERRC_SIGNATURE,
			  "The request signature we calculated does not match the signature "
			  "you provided. Check your AWS Secret Access Key and signing method.");
	else
		set_error(r, 403, KC_EMU_ERRC_SIGNATURE, "%s",
			  rc ? (hl && hl->too_large
				? "The request could not be verified (headers too large)"
				: "The request could not be verified (too many headers)")
			     : kc_sigv4_verdict_str(v));
	return false;
}

/*
 * The real CPU work a model server does before the accelerator: decode the
 * JPEG.  On failure sets the 424 outcome (the container would answer 400
 * and SageMaker wraps it as a ModelError) and returns false.
 */
static bool cpu_stage(struct kc_emu *e, struct req *r)
{
	if (e->prof.input != KC_EMU_INPUT_JPEG)
		return true;
	struct kc_emu_decoder *dd = decoder_get(e);
	char why[200];
	int rc = kc_emu_decode(dd, e->prof.cpu_decode, r->body, r->body_len,
			       &r->img_w, &r->img_h, why, sizeof(why));
	decoder_put(e, dd);
	if (!rc)
		return true;
	set_error(r, 424, KC_EMU_ERRC_MODEL, "%s", why);
	r->orig_status = 400;
	return false;
}

/* The whole body is in: SigV4, CPU stage, faults, model (server_int.h). */
bool kc_emu_req_admit(struct kc_emu *e, struct req *r, const struct kc_emu_headers *hl)
{
	r->t_body_ns = kc_clock_ns();
	pthread_mutex_lock(&e->mu);
	e->received++;
	pthread_mutex_unlock(&e->mu);

	if (r->too_large) {
		set_error(r, 413, KC_EMU_ERRC_TOO_LARGE,
			  "Request body of %" PRIu64 " bytes exceeds the %" PRIu64 "-byte limit",
			  r->body_total, e->prof.body_bytes_max);
		return false;
	}
	if (r->no_mem) {
		set_error(r, 503, KC_EMU_ERRC_INTERNAL, "emulator out of body memory");
		return false;
	}
	if (e->signer && !verify_sigv4(e, r, hl))
		return false;
	if (!cpu_stage(e, r))
		return false;

	int64_t now = kc_clock_ns();
	pthread_mutex_lock(&e->mu);
	kc_emu_faults_decide(&e->prof.faults, &e->rng, &r->plan);
	int inj = r->plan.status;
	/* Errors the front end raises come back at once; 424/500 come from
	 * the container, so they take their service time first. */
	bool front = inj == 400 || inj == 429 || inj == 503 || inj == 530;
	if (!front) {
		kc_emu_model_admit(e->model, now, r->t_head_ns + e->prof.timeout_ns, &r->admit);
		if (r->admit.kind != KC_EMU_ADMIT_OVERLOAD) {
			r->leave_pending = true;
			r->in_flight = true;
			e->in_flight++;
			struct kc_emu_model_counts c;
			kc_emu_model_counts(e->model, &c);
			if (c.queue_depth > e->queue_max)
				e->queue_max = c.queue_depth;
		}
	}
	pthread_mutex_unlock(&e->mu);

	if (front) {
		set_error(r, inj, KC_EMU_ERRC_INJECTED, "injected fault");
		return false;
	}
	switch (r->admit.kind) {
	case KC_EMU_ADMIT_OVERLOAD: {
		static const int st[] = {503, 400, 429};
		set_error(r, st[e->prof.queue_full_error], KC_EMU_ERRC_OVERLOAD,
			  "The instance's queue is full (%" PRId64 " waiting)", e->prof.queue_limit);
		return false;
	}
	case KC_EMU_ADMIT_TIMEOUT:
		set_error(r, 424, KC_EMU_ERRC_TIMEOUT,
			  "Your invocation timed out while waiting for a response from "
			  "container primary");
		r->orig_status = 0;
		break;
	case KC_EMU_ADMIT_SERVE:
		if (inj == 424) {
			set_error(r, 424, KC_EMU_ERRC_INJECTED, "injected model error");
			r->orig_status = 500;
		} else if (inj == 500) {
			set_error(r, 500, KC_EMU_ERRC_INJECTED, "injected internal failure");
		} else {
			r->status = 200;
		}
		break;
	}
	return true;
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

void kc_emu_req_leave(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	kc_emu_model_leave(e->model, &r->admit);
	pthread_mutex_unlock(&e->mu);
	r->leave_pending = false;
}

void kc_emu_req_stopping(struct req *r)
{
	set_error(r, 503, KC_EMU_ERRC_INTERNAL, "The emulator is stopping");
	r->plan.slow = false;
	r->plan.reset_mid = false;
}

/* First look at an invocation: route checks before any body is read. */
enum kc_emu_head kc_emu_req_head(struct kc_emu *e, struct req *r,
				 const char *content_length)
{
	/* route_request made url /endpoints/NAME/<operation>, NAME without '/'. */
	const char *name = r->url + sizeof("/endpoints/") - 1;
	const char *slash = strchr(name, '/');
	size_t name_len = slash ? (size_t)(slash - name) : strlen(name);
	make_reqid(e, r);
	if (!valid_endpoint_name(name, name_len)) {
		set_error(r, 400, KC_EMU_ERRC_VALIDATION,
			  "1 validation error detected: Value at 'endpointName' failed to "
			  "satisfy constraint: Member must satisfy regular expression pattern: "
			  "^[a-zA-Z0-9](-*[a-zA-Z0-9])*");
		r->route = R_ERROR;
	} else if (e->prof.endpoint_name[0] &&
		   (strlen(e->prof.endpoint_name) != name_len ||
		    memcmp(e->prof.endpoint_name, name, name_len) != 0)) {
		set_error(r, 400, KC_EMU_ERRC_VALIDATION,
			  "Endpoint %.*s of account 000000000000 not found.", (int)name_len, name);
		r->route = R_ERROR;
	}
	const char *cl = content_length;
	if (cl) {
		char *end = NULL;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (end != cl && errno == 0 && v > e->prof.body_bytes_max) {
			r->body_total = v;
			set_error(r, 413, KC_EMU_ERRC_TOO_LARGE,
				  "Request body of %llu bytes exceeds the %" PRIu64 "-byte limit",
				  v, e->prof.body_bytes_max);
			return KC_EMU_HEAD_ANSWER;
		}
	}
	if (r->route == R_ERROR)
		return KC_EMU_HEAD_READ;
	if (e->prof.faults.close_after > 0) {
		pthread_mutex_lock(&e->mu);
		bool over = ++e->invocations > e->prof.faults.close_after;
		pthread_mutex_unlock(&e->mu);
		if (over) {
			kc_emu_count_error(e, KC_EMU_ERRC_DEAD);
			return KC_EMU_HEAD_DROP;
		}
	}
	return KC_EMU_HEAD_READ;
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

/* Resets r for a new request and decides its route from the headers. */
static void route_request(struct kc_emu *e, struct req *r, const char *url,
			  const char *method)
{
	static const char ep[] = "/endpoints/";
	static const char inv[] = "/invocations";
	static const char rs[] = "/invocations-response-stream";
	r->t_head_ns = kc_clock_ns();
	r->url = url;
	r->etype = NULL;
	r->body_len = 0;
	r->body_total = 0;
	r->hash = UINT64_C(0xcbf29ce484222325);
	r->too_large = false;
	r->no_mem = false;
	r->leave_pending = false;
	r->in_flight = false;
	r->plan = (struct kc_emu_fault_plan){0};
	r->status = 0;
	r->errc = KC_EMU_ERRC_INTERNAL;
	r->orig_status = 0;
	r->msg[0] = '\0';
	r->img_w = r->img_h = 0;
	r->reqid[0] = '\0';
	r->state = S_READING;
	r->stream = false;
	r->name_len = 0;

	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) ||
		   !strcmp(method, MHD_HTTP_METHOD_HEAD);
	if (!strcmp(url, "/ping") || !strcmp(url, "/emulator/stats")) {
		r->route = !get ? R_BAD_METHOD : url[1] == 'p' ? R_PING : R_STATS;
		return;
	}
	size_t ul = strlen(url);
	r->route = R_NOT_FOUND;
	size_t tail = 0;
	if (ul > sizeof(ep) - 1 + sizeof(rs) - 1 && !strcmp(url + ul - (sizeof(rs) - 1), rs)) {
		tail = sizeof(rs) - 1;
		r->stream = true;
	} else if (ul > sizeof(ep) - 1 + sizeof(inv) - 1 &&
		   !strcmp(url + ul - (sizeof(inv) - 1), inv)) {
		tail = sizeof(inv) - 1;
	}
	if (!strncmp(url, ep, sizeof(ep) - 1) && tail) {
		size_t name_len = ul - (sizeof(ep) - 1) - tail;
		if (!memchr(url + sizeof(ep) - 1, '/', name_len)) {
			r->route = R_INVOKE;
			r->name_len = name_len;
			if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
				make_reqid(e, r);
				set_error(r, 405, KC_EMU_ERRC_METHOD,
					  "%s is not allowed here; InvokeEndpoint is POST", method);
				r->route = R_ERROR;
			}
		}
	}
}

const char *kc_emu_req_other(struct kc_emu *e, struct req *r, int *status,
			     const char **etype, const char **allow, char **owned)
{
	*etype = NULL;
	*allow = NULL;
	*owned = NULL;
	*status = 200;
	r->state = S_DONE;
	switch (r->route) {
	case R_PING:
		return "{}";
	case R_STATS:
		*owned = kc_emu_stats_json(e);
		return *owned;
	case R_BAD_METHOD:
		kc_emu_count_error(e, KC_EMU_ERRC_METHOD);
		*status = 405;
		*etype = "MethodNotAllowed";
		*allow = "GET";
		return "{\"message\":\"use GET\"}";
	case R_NOT_FOUND:
	default:
		kc_emu_count_error(e, KC_EMU_ERRC_NOT_FOUND);
		*status = 404;
		*etype = "UnknownOperationException";
		return "{\"message\":\"Unknown path: this emulator answers "
		       "POST /endpoints/NAME/invocations, "
		       "POST /endpoints/NAME/invocations-response-stream, "
		       "GET /ping and GET /emulator/stats\"}";
	}
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
	set_error(r, 413, KC_EMU_ERRC_TOO_LARGE,
		  "Request body exceeds the %" PRIu64 "-byte limit", e->prof.body_bytes_max);
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
		route_request(e, r, url, method);
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
				body_append(e, r, upload_data, *upload_data_size);
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

/* ---- shared with the HTTP/2 face (server_int.h) --------------------- */

size_t kc_emu_store_max(const struct kc_emu *e)
{
	const struct kc_emu_profile *p = &e->prof;
	if (e->signer)
		return (size_t)p->body_bytes_max; /* the hash needs it all */
	if (p->input == KC_EMU_INPUT_ANY)
		return 0;
	return p->cpu_decode != KC_EMU_DECODE_OFF ? (size_t)p->body_bytes_max : 4;
}

void kc_emu_req_route(struct kc_emu *e, struct req *r, const char *url,
		      const char *method)
{
	route_request(e, r, url, method);
}

void kc_emu_req_fail(struct kc_emu *e, struct req *r, int status,
		     enum kc_emu_err_class c, const char *msg)
{
	if (!r->reqid[0])
		make_reqid(e, r);
	set_error(r, status, c, "%s", msg);
	r->route = R_ERROR;
}

void kc_emu_req_body(struct kc_emu *e, struct req *r, const char *data, size_t n)
{
	body_append(e, r, data, n);
}

void kc_emu_req_abandon(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	if (r->leave_pending)
		kc_emu_model_leave(e->model, &r->admit);
	if (r->in_flight)
		e->in_flight--;
	pthread_mutex_unlock(&e->mu);
	r->leave_pending = false;
	r->in_flight = false;
}

void kc_emu_req_mem_release(struct req *r)
{
	if (r->mem && r->mem_held)
		atomic_fetch_sub(&r->mem->used, r->mem_held);
	r->mem_held = 0;
}

void kc_emu_req_detach(struct kc_emu *e, struct req *r)
{
	pthread_mutex_lock(&e->mu);
	if (r->in_flight)
		e->in_flight--;
	pthread_mutex_unlock(&e->mu);
	r->in_flight = false;
}

int64_t kc_emu_stall_until(const struct kc_emu *e, int64_t now_ns)
{
	int64_t end = kc_emu_faults_stall_end(&e->prof.faults, now_ns - e->start_ns);
	return end >= 0 ? e->start_ns + end : -1;
}

/* ---- stats --------------------------------------------------------- */

void kc_emu_stats(struct kc_emu *e, struct kc_emu_stats *out)
{
	KC_ASSERT(e && out);
	memset(out, 0, sizeof(*out));
	struct kc_emu_model_counts c;
	pthread_mutex_lock(&e->mu);
	kc_emu_model_counts(e->model, &c);
	out->received = e->received;
	out->served = e->served;
	memcpy(out->errors, e->errors, sizeof(out->errors));
	out->queue_depth_max = e->queue_max;
	out->in_flight = e->in_flight;
	if (e->served > 0) {
		out->latency_ms_mean = (double)e->lat_sum_ns / (double)e->served / 1e6;
		out->wait_ms_mean = (double)e->wait_sum_ns / (double)e->served / 1e6;
		out->service_ms_mean = (double)e->svc_sum_ns / (double)e->served / 1e6;
	}
	pthread_mutex_unlock(&e->mu);
	out->queue_depth = c.queue_depth;
	out->in_service = c.in_service;
	out->capacity_rps = e->capacity_rps;
	out->instances = e->prof.instances;
	out->slots = e->prof.slots;
	out->uptime_ns = kc_clock_ns() - e->start_ns;
	out->dead = atomic_load(&e->dead);
	out->closed_header_timeout = atomic_load(&e->closed_header);
	out->closed_body_timeout = atomic_load(&e->closed_body);
}

char *kc_emu_stats_json(struct kc_emu *e)
{
	struct kc_emu_stats s;
	kc_emu_stats(e, &s);
	json_t *errs = json_object();
	json_t *inst = json_array();
	json_t *root = json_object();
	if (!errs || !inst || !root)
		goto fail;
	int64_t total = 0;
	for (int i = 0; i < KC_EMU_ERRC_COUNT; i++) {
		json_object_set_new(errs, errc_names[i], json_integer(s.errors[i]));
		total += s.errors[i];
	}
	pthread_mutex_lock(&e->mu);
	for (int i = 0; i < e->prof.instances; i++) {
		struct kc_emu_model_counts c;
		kc_emu_model_instance_counts(e->model, i, &c);
		json_array_append_new(inst, json_pack("{sIsIsI}", "queue_depth",
			(json_int_t)c.queue_depth, "in_service", (json_int_t)c.in_service,
			"in_system", (json_int_t)c.in_system));
	}
	pthread_mutex_unlock(&e->mu);
	json_object_set_new(root, "nominal_capacity_rps", json_real(s.capacity_rps));
	json_object_set_new(root, "instances", json_integer(s.instances));
	json_object_set_new(root, "slots", json_integer(s.slots));
	json_object_set_new(root, "service_ms_mean_configured",
			    json_real((double)e->prof.service_ns_mean / 1e6));
	json_object_set_new(root, "service_dist",
			    json_string(e->prof.service_dist == KC_EMU_DIST_FIXED ? "fixed" : "lognormal"));
	json_object_set_new(root, "uptime_s", json_real((double)s.uptime_ns / 1e9));
	json_object_set_new(root, "received", json_integer(s.received));
	json_object_set_new(root, "served", json_integer(s.served));
	json_object_set_new(root, "errors_total", json_integer(total));
	json_object_set_new(root, "errors", errs);
	json_object_set_new(root, "queue_depth", json_integer(s.queue_depth));
	json_object_set_new(root, "queue_depth_max", json_integer(s.queue_depth_max));
	json_object_set_new(root, "in_service", json_integer(s.in_service));
	json_object_set_new(root, "in_flight", json_integer(s.in_flight));
	json_object_set_new(root, "latency_ms_mean", json_real(s.latency_ms_mean));
	json_object_set_new(root, "wait_ms_mean", json_real(s.wait_ms_mean));
	json_object_set_new(root, "service_ms_mean", json_real(s.service_ms_mean));
	json_object_set_new(root, "per_instance", inst);
	json_object_set_new(root, "dead", json_boolean(s.dead));
	json_object_set_new(root, "closed_slow_clients",
			    json_pack("{sIsI}", "header_timeout", (json_int_t)s.closed_header_timeout,
				      "body_timeout", (json_int_t)s.closed_body_timeout));
	char *txt = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return txt;
fail:
	json_decref(errs);
	json_decref(inst);
	json_decref(root);
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

/* Parses "HOST:PORT" / "[V6]:PORT" and returns a listening socket or -1. */
static int open_listener(const char *addr, int *port_out, struct kc_diag *d)
{
	char host[128];
	const char *port;
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');
		if (!close_br || close_br[1] != ':' || (size_t)(close_br - addr - 1) >= sizeof(host))
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not [IPV6]:PORT", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(close_br - addr - 1), addr + 1);
		port = close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host))
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not HOST:PORT", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		port = colon + 1;
	}
	char *end = NULL;
	long pv = strtol(port, &end, 10);
	if (!*port || *end || pv < 0 || pv > 65535)
		return kc_diag_set(d, KC_EINVAL, "listen address '%s': bad port", addr);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gr != 0)
		return kc_diag_set(d, KC_EINVAL, "listen address '%s': %s (use a numeric address)",
				   addr, gai_strerror(gr));
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		freeaddrinfo(ai);
		return kc_diag_set(d, KC_EIO, "socket: %s", strerror(errno));
	}
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		int err = errno;
		freeaddrinfo(ai);
		close(fd);
		return kc_diag_set(d, KC_EIO, "cannot listen on %s: %s", addr, strerror(err));
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		close(fd);
		return kc_diag_set(d, KC_EIO, "getsockname: %s", strerror(errno));
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
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

	int fd = open_listener(listen_addr, &e->port, d);
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
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
