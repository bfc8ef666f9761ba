/*
 * mhd.c - the emulator's HTTP/1.1 face (libmicrohttpd).
 *
 * A request's life: MHD worker threads read the body (bounded by
 * body_bytes_max; an oversize Content-Length is answered 413 before the body
 * is read, an oversize chunked body as soon as it passes the limit) and
 * hand it to request.c (SigV4, the CPU stage, faults, the model), which
 * says when its answer is due.  The connection is then suspended and
 * parked with the timer thread (timer.c) until then, and resumed to queue
 * the answer.  Only the MHD plumbing is this file's own: what a request
 * means is request.c's, shared with the HTTP/2 face.
 *
 * Hostile clients: a per-client connection cap (MHD's per-IP limit) keeps
 * a share of the connections for other addresses and GET /ping, and the
 * slow-client guard (guard.c) closes connections whose headers or body do
 * not arrive in time.  A chunked body past body_bytes_max is answered 413
 * as soon as it passes it.
 *
 * Memory: request contexts (one per allowed connection) are allocated at
 * start; body buffers grow to the largest body a context has seen and are
 * reused.
 */
#include "guard_int.h"
#include "mhd_int.h"
#include "server_int.h"
#include "timer_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/log.h"
#include "kneecap/sigv4.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Discard at most this much of a chunked oversize body, then drop it. */
#define DISCARD_BYTES_MAX (INT64_C(64) * 1024 * 1024)

/* ---- request contexts (one per allowed connection) ----------------- */

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
	if (end >= 0 && kc_emu_park(e, r, end, TK_DELIVER))
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
		if (!kc_emu_park(e, r, kc_clock_ns() + e->prof.faults.slow_interval_ns, TK_TRICKLE))
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
				if (!kc_emu_park(e, r, due, TK_TRICKLE))
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

/*
 * A JSON answer that is not an invocation's (ping, stats, 404, 405, no
 * free request context); a MUST_FREE body is freed whatever happens.
 */
static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status,
				   char *body, enum MHD_ResponseMemoryMode mode,
				   const char *err_type, const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (err_type)
		MHD_add_response_header(resp, "X-Amzn-ErrorType", err_type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
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

/* ---- the request path ---------------------------------------------- */

/* The whole body is in: admit it, then park until done or answer now. */
static enum MHD_Result body_done(struct kc_emu *e, struct req *r)
{
	struct kc_emu_headers hl = {.n = 0, .overflow = false};
	/* The verifier needs them all, the hosting the inference-component one. */
	MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_header, &hl);
	if (!kc_emu_req_admit(e, r, &hl))
		return deliver(e, r);
	if (kc_emu_park(e, r, r->admit.done_ns, TK_FINISH))
		return MHD_YES;
	/* Stopping: leave the model and answer now. */
	kc_emu_req_leave(e, r);
	kc_emu_req_stopping(r);
	return respond(e, r);
}

/* First call for an invocation (MHD): kc_emu_req_head's checks, acted on. */
static enum MHD_Result invocation_start(struct kc_emu *e, struct req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	switch (kc_emu_req_head(e, r, cl)) {
	case KC_EMU_HEAD_ANSWER:
		/* Answer before reading: MHD closes the connection after this
		 * response instead of draining a huge body. */
		kc_emu_guard_busy(r->conn);
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
	if (owned)
		return answer_json(r->conn, (unsigned)status, owned, MHD_RESPMEM_MUST_FREE,
				   etype, allow);
	return answer_json(r->conn, (unsigned)status, (char *)(uintptr_t)body,
			   MHD_RESPMEM_PERSISTENT, etype, allow);
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
					   MHD_RESPMEM_PERSISTENT, "ServiceUnavailable", NULL);
		}
		*con_cls = r;
		r->conn = conn;
		/* The headers are in; from now on the body must keep coming. */
		kc_emu_guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
		kc_emu_req_route(e, r, url, method);
		if (r->route != R_INVOKE)
			return MHD_YES;
		return invocation_start(e, r);
	}

	switch (r->state) {
	case S_READING:
		if (*upload_data_size > 0) {
			kc_emu_guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
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
		kc_emu_guard_busy(conn);
		if (r->route != R_INVOKE)
			return answer_other(e, r);
		return body_done(e, r);
	case S_DRAIN:
		if (*upload_data_size == 0)
			return MHD_NO; /* all read: the close is a clean FIN */
		kc_emu_guard_set(conn, G_BODY, kc_clock_ns() + e->prof.body_timeout_ns);
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
	/* Kept alive (or closing): the next request is due. */
	kc_emu_guard_idle(e, conn);
	if (!r)
		return;
	*con_cls = NULL;
	KC_ASSERT(r->state != S_PARKED);
	kc_emu_req_abandon(e, r);
	pool_put(e, r);
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

/* MHD's idle timeout: never before the guard's keepalive_timeout. */
static unsigned mhd_timeout_s(const struct kc_emu_profile *p)
{
	int64_t ns = p->keepalive_timeout_ns + KC_NS_PER_S;
	return (unsigned)((ns > MHD_IDLE_NS ? ns : MHD_IDLE_NS) / KC_NS_PER_S);
}

int kc_emu_mhd_start(struct kc_emu *e, const char *listen_addr, struct kc_diag *d)
{
	const struct kc_emu_profile *p = &e->prof;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	e->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)e->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(p->threads > 1 ? p->threads : 0),
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)kc_emu_profile_conn_limit(p),
		/* Past its cap a client's new connections are closed at once,
		 * so one address cannot starve the others or /ping. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)kc_emu_profile_client_cap(p),
		MHD_OPTION_CONNECTION_TIMEOUT, mhd_timeout_s(p),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
		MHD_OPTION_NOTIFY_CONNECTION, kc_emu_guard_on_connection, e,
		MHD_OPTION_URI_LOG_CALLBACK, kc_emu_guard_on_uri, e,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, e,
		MHD_OPTION_END);
	if (!e->mhd)
		return kc_diag_set(d, KC_EIO, "libmicrohttpd failed to start on %s", listen_addr);
	/* Published under tmu: the timer thread reads e->mhd in die(). */
	pthread_mutex_lock(&e->tmu);
	e->listen_fd = -1; /* MHD owns it now */
	e->mhd_ready = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	return KC_OK;
}

void kc_emu_mhd_stop(struct kc_emu *e)
{
	if (e->mhd)
		MHD_stop_daemon(e->mhd);
	e->mhd = NULL;
}
