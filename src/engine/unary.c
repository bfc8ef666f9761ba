/*
 * unary.c - the libcurl side of unary requests: one easy handle per
 * connection slot, configured once, re-added to the worker's multi handle
 * for every request.
 *
 * Nothing here allocates per request: the header list is made of nodes the
 * slot owns, pointing at strings the engine owns or at the slot's fixed
 * decorator lines; the body is borrowed (CURLOPT_POSTFIELDS does not copy).
 * With response_stream, 2xx bodies are read as event streams by the slot's
 * kc_rs reader as they arrive (PayloadPart times go into the worker's
 * histograms from the write callback); its buffer is reused per request.
 * This file is not the scheduler (worker.c) and not the coordinator
 * (runner.c); it only starts, classifies and accounts transfers.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/log.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scrub.h"

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

/*
 * With sagemaker_errors: keep the first bytes of an error response's body
 * (the JSON that names the error) in the slot's fixed buffer; 2xx bodies
 * are still discarded unread.
 */
static size_t keep_error_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 400 && s->ebody_len < sizeof(s->ebody)) {
		size_t room = sizeof(s->ebody) - s->ebody_len;
		size_t k = n < room ? n : room;
		memcpy(s->ebody + s->ebody_len, ptr, k);
		s->ebody_len += k;
	}
	return n;
}

/*
 * response_stream: PayloadParts of a measured request are timed as they are
 * decoded (arrival = when libcurl handed the bytes over) and held in the
 * slot until the request's verdict (commit_parts): a stream that fails
 * later must not add samples.  Gaps past KC_SLOT_GAPS_MAX go straight
 * into the histogram (bounded memory wins over exactness there).
 */
static void on_part(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns, size_t len)
{
	struct slot *s = ud;
	(void)len;
	if (!s->measured)
		return;
	if (index == 0) {
		s->first_part_ns = at_ns;
	} else if (s->ngaps < KC_SLOT_GAPS_MAX) {
		int64_t us = gap_ns / KC_NS_PER_US;
		s->gap_us[s->ngaps++] = us > INT32_MAX ? INT32_MAX : (int32_t)us;
	} else {
		kc_hdr_record(s->w->gap, gap_ns / KC_NS_PER_US);
	}
}

/* An ok stream's PayloadPart samples go into the worker's histograms. */
static void commit_parts(struct worker *w, struct slot *s)
{
	w->c.parts += s->rs.parts;
	if (s->first_part_ns) {
		kc_hdr_record(w->ttfp, (s->first_part_ns - s->intended_ns) / KC_NS_PER_US);
		kc_hdr_record(w->ttfp_svc, (s->first_part_ns - s->sent_ns) / KC_NS_PER_US);
	}
	for (uint32_t i = 0; i < s->ngaps; i++)
		kc_hdr_record(w->gap, s->gap_us[i]);
}

/*
 * response_stream: a 2xx body is an event stream, decoded as it arrives in
 * the slot's reader (no copy unless a message spans two reads); error
 * bodies are kept as without streams.
 */
static size_t stream_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		kc_rs_feed(&s->rs, ptr, n, kc_clock_ns(), on_part, s);
		return n;
	}
	if (s->w->e->cfg.sagemaker_errors)
		return keep_error_body(ptr, size, nmemb, ud);
	return n;
}

/*
 * Every header line: tracks the header block (a status line opens one, the
 * empty line ends it; 1xx blocks open and end before the final one) and,
 * with sagemaker_errors, keeps the X-Amzn-ErrorType header's value
 * (SageMaker names its error there).
 */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct slot *s = ud;
	size_t n = size * nmemb;
	if (n >= 5 && !strncmp(ptr, "HTTP/", 5))
		s->hdr = HDR_OPEN;
	else if (s->hdr == HDR_OPEN && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n'))
		s->hdr = HDR_DONE;
	if (!s->w->e->cfg.sagemaker_errors)
		return n;
	static const char name[] = "x-amzn-errortype:";
	const size_t nl = sizeof(name) - 1;
	if (n > nl && !strncasecmp(ptr, name, nl)) {
		const char *v = ptr + nl, *end = ptr + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		size_t k = (size_t)(end - v);
		if (k >= sizeof(s->errtype))
			k = sizeof(s->errtype) - 1;
		memcpy(s->errtype, v, k);
		s->errtype[k] = '\0';
		s->errtype_len = k;
	}
	return n;
}

#define SETOPT(h, opt, val)                                                   \
	do {                                                                  \
		CURLcode rc_ = curl_easy_setopt((h), (opt), (val));           \
		if (rc_ != CURLE_OK)                                          \
			return kc_diag_set(d, KC_EUNSUPPORTED, "libcurl: %s: %s", \
					   #opt, curl_easy_strerror(rc_));    \
	} while (0)

int kc_unary_setup_easy(struct kc_engine *e, CURL *easy, struct kc_diag *d)
{
	const struct kc_engine_config *c = &e->cfg;
	SETOPT(easy, CURLOPT_URL, e->url);
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_WRITEFUNCTION, discard_body);
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout_ns / KC_NS_PER_MS));
	SETOPT(easy, CURLOPT_TIMEOUT_MS, (long)(c->request_timeout_ns / KC_NS_PER_MS));
	SETOPT(easy, CURLOPT_TCP_NODELAY, 1L);
	SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
	/*
	 * No proxy, whatever http_proxy says: load through a proxy measures the
	 * proxy, and the environment lookup costs getenv() calls per request.
	 */
	SETOPT(easy, CURLOPT_PROXY, "");
	long ver = CURL_HTTP_VERSION_1_1;
	if (c->http == KC_HTTP_2)
		ver = CURL_HTTP_VERSION_2TLS;
	else if (c->http == KC_HTTP_2_PRIOR)
		ver = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
	SETOPT(easy, CURLOPT_HTTP_VERSION, ver);
	if (c->http != KC_HTTP_1_1)
		SETOPT(easy, CURLOPT_PIPEWAIT, 1L);
	SETOPT(easy, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SETOPT(easy, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->cacert)
		SETOPT(easy, CURLOPT_CAINFO, c->cacert);
	if (c->nbodies > 0) {
		/* POST (or the given method) with a borrowed body set per request. */
		SETOPT(easy, CURLOPT_POST, 1L);
		if (strcmp(e->method, "POST") != 0)
			SETOPT(easy, CURLOPT_CUSTOMREQUEST, e->method);
	} else if (!strcmp(e->method, "HEAD")) {
		SETOPT(easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(e->method, "GET") != 0) {
		SETOPT(easy, CURLOPT_CUSTOMREQUEST, e->method);
	}
	return KC_OK;
}

/* Links a slot's header nodes once: "Expect:" first so the head never moves. */
static void slot_link_base(struct kc_engine *e, struct slot *s)
{
	static const char expect_off[] = "Expect:";
	int n = 0;
	s->nodes[n++].data = (char *)(uintptr_t)expect_off;
	for (size_t i = 0; i < e->nheaders; i++)
		s->nodes[n++].data = e->headers[i];
	for (int i = 0; i < n - 1; i++)
		s->nodes[i].next = &s->nodes[i + 1];
	s->nodes[n - 1].next = NULL;
	s->nbase = n;
}

int kc_unary_worker_init(struct worker *w, struct kc_diag *d)
{
	struct kc_engine *e = w->e;
	/* h2c runs on nghttp2 (h2unary.c): the slots get no curl handles. */
	const bool curl = e->cfg.http != KC_HTTP_2_PRIOR;
	w->timerfd = -1;
	if (curl) {
		w->multi = curl_multi_init();
		if (!w->multi)
			return kc_diag_set(d, KC_ENOMEM, "libcurl: cannot create a multi handle");
	}
	if (curl && e->cfg.http != KC_HTTP_1_1)
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (curl)
		curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)e->connections);
	if (curl && e->cfg.http != KC_HTTP_1_1) {
		/* HTTP/2: at most `connections` connections, streams multiplexed on them. */
		curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)e->connections);
		curl_multi_setopt(w->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)e->streams);
	}

	w->nslots = e->slots;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->free_stack = calloc(w->nslots, sizeof(*w->free_stack));
	w->qcap = w->cap_inflight;
	w->queue = calloc(w->qcap ? w->qcap : 1, sizeof(*w->queue));
	if (!w->slots || !w->free_stack || !w->queue)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for %u connection slots", w->nslots);
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		s->w = w;
		s->index = i;
		w->free_stack[w->nfree++] = w->nslots - 1 - i;
		if (!curl)
			continue;
		s->easy = curl_easy_init();
		if (!s->easy)
			return kc_diag_set(d, KC_ENOMEM, "libcurl: cannot create an easy handle");
		int rc = kc_unary_setup_easy(e, s->easy, d);
		if (rc)
			return rc;
		slot_link_base(e, s);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, &s->nodes[0]);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
		if (e->cfg.sagemaker_errors) {
			curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, keep_error_body);
			curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		}
		if (e->cfg.response_stream) {
			if (kc_rs_init(&s->rs, KC_ENGINE_STREAM_MESSAGE_MAX))
				return kc_diag_set(d, KC_ENOMEM, "out of memory for stream readers");
			curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_body);
			curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		}
	}
	w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->timerfd < 0)
		return kc_diag_set(d, KC_EIO, "timerfd_create failed");
	int rc = kc_hdr_recorder_init(&w->latency_rec, KC_ENGINE_HDR_LOWEST,
				      KC_ENGINE_HDR_HIGHEST, KC_ENGINE_HDR_SIGFIGS);
	if (!rc)
		rc = kc_hdr_recorder_init(&w->service_rec, KC_ENGINE_HDR_LOWEST,
					  KC_ENGINE_HDR_HIGHEST, KC_ENGINE_HDR_SIGFIGS);
	if (!rc)
		rc = kc_hdr_new(&w->ttfb, KC_ENGINE_HDR_LOWEST, KC_ENGINE_HDR_HIGHEST,
				KC_ENGINE_HDR_SIGFIGS);
	if (!rc)
		rc = kc_hdr_new(&w->lag, KC_ENGINE_HDR_LOWEST, KC_ENGINE_HDR_HIGHEST,
				KC_ENGINE_HDR_SIGFIGS);
	if (!rc && e->cfg.response_stream) {
		rc = kc_hdr_new_like(&w->ttfp, w->lag);
		if (!rc)
			rc = kc_hdr_new_like(&w->ttfp_svc, w->lag);
		if (!rc)
			rc = kc_hdr_new_like(&w->gap, w->lag);
	}
	if (rc)
		return kc_diag_set(d, rc, "out of memory for histograms");
	return curl ? KC_OK : kc_h2u_worker_init(w, d);
}

void kc_unary_worker_fini(struct worker *w)
{
	if (!w)
		return;
	kc_h2u_worker_fini(w);
	for (uint32_t i = 0; w->slots && i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		if (!s->easy)
			continue;
		if (s->busy && w->multi)
			curl_multi_remove_handle(w->multi, s->easy);
		curl_easy_cleanup(s->easy);
		kc_rs_fini(&s->rs);
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->timerfd >= 0)
		close(w->timerfd);
	free(w->slots);
	free(w->free_stack);
	free(w->queue);
	kc_hdr_recorder_fini(&w->latency_rec);
	kc_hdr_recorder_fini(&w->service_rec);
	kc_hdr_free(w->ttfb);
	kc_hdr_free(w->lag);
	kc_hdr_free(w->ttfp);
	kc_hdr_free(w->ttfp_svc);
	kc_hdr_free(w->gap);
}

/* Chains the per-request nodes (content type, decorator lines) after the base. */
static void slot_link_request(struct slot *s, const char *ctype)
{
	int n = s->nbase;
	if (ctype)
		s->nodes[n++].data = (char *)(uintptr_t)ctype;
	for (int i = 0; i < s->decor.n && i < KC_DECOR_MAX_HEADERS; i++)
		if (s->decor.line[i])
			s->nodes[n++].data = (char *)(uintptr_t)s->decor.line[i];
	for (int i = s->nbase - 1; i < n - 1; i++)
		s->nodes[i].next = &s->nodes[i + 1];
	s->nodes[n - 1].next = NULL;
}

bool kc_unary_prepare(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		      int64_t now_ns)
{
	struct kc_engine *e = w->e;
	const struct kc_body *body = NULL;
	size_t bi = 0;
	if (e->cfg.nbodies > 0) {
		bi = (size_t)(w->body_seq++ % e->cfg.nbodies);
		body = &e->cfg.bodies[bi];
	}
	if (e->cfg.decorate) {
		struct kc_request_info ri = {
			.method = e->method, .url = e->url, .host = e->host,
			.path = e->path, .body_index = bi, .body = body,
			.send_wall_ns = kc_wall_ns(), .worker = w->index,
			.slot = s->index,
		};
		if (e->cfg.decorate(e->cfg.decorate_ud, &ri, &s->decor) != 0) {
			if (measured)
				w->c.errclass[KC_EC_AUTH]++;
			return false;
		}
	}
	s->busy = true;
	s->measured = measured;
	s->intended_ns = intended_ns;
	s->sent_ns = now_ns;
	s->body_index = bi;
	s->errbuf[0] = '\0';
	s->hdr = HDR_NONE;
	s->errtype_len = 0;
	s->ebody_len = 0;
	s->first_part_ns = 0;
	s->ngaps = 0;
	if (e->cfg.response_stream)
		kc_rs_begin(&s->rs);
	if (measured)
		w->c.sent++;
	return true;
}

bool kc_unary_start(struct worker *w, struct slot *s, int64_t intended_ns,
		    bool measured, int64_t now_ns)
{
	struct kc_engine *e = w->e;
	if (!kc_unary_prepare(w, s, intended_ns, measured, now_ns))
		return false;
	const char *ctype = NULL;
	if (e->cfg.nbodies > 0) {
		const struct kc_body *body = &e->cfg.bodies[s->body_index];
		ctype = e->ctype_lines[s->body_index];
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body->data);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	}
	slot_link_request(s, ctype);
	curl_multi_add_handle(w->multi, s->easy);
	return true;
}

enum kc_errclass kc_unary_classify_curl(CURLcode rc, const char *errbuf, bool hdr_open)
{
	/* libcurl 7.88's words for a response it could not parse (http_chunks.c,
	 * http.c); a plain recv() failure reads "Recv failure: ...". */
	if (rc == CURLE_RECV_ERROR && errbuf &&
	    (strstr(errbuf, "chunked-encoding") || strstr(errbuf, "response header")))
		return KC_EC_PROTO;
	/* The header block began and the connection closed before it ended. */
	if (hdr_open && (rc == CURLE_OK || rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING))
		return KC_EC_PROTO;
	/* A header line past libcurl's 100 KB limit: "Out of memory". */
	if (hdr_open && rc == CURLE_OUT_OF_MEMORY)
		return KC_EC_PROTO;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return KC_EC_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return KC_EC_TIMEOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return KC_EC_RESET;
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return KC_EC_PROTO;
	default:
		return KC_EC_OTHER;
	}
}

enum kc_errclass kc_unary_classify_status(long status)
{
	if (status == 429)
		return KC_EC_THROTTLE;
	if (status == 401 || status == 403)
		return KC_EC_AUTH;
	if (status == 424)
		return KC_EC_MODEL;
	if (status >= 400 && status < 500)
		return KC_EC_HTTP4XX;
	if (status >= 500 && status < 600)
		return KC_EC_HTTP5XX;
	return KC_EC_OTHER;
}

static void count_code(struct wcounts *c, int code)
{
	for (int i = 0; i < c->ncodes; i++)
		if (c->codes[i].code == code) {
			c->codes[i].count++;
			return;
		}
	if (c->ncodes < KC_STEP_MAX_CODES) {
		c->codes[c->ncodes].code = code;
		c->codes[c->ncodes].count = 1;
		c->ncodes++;
	} else {
		c->codes_other++;
	}
}

/*
 * Classifies a non-2xx response.  For SageMaker the error type decides
 * (400 ThrottlingException is throttling, not a client bug); the first two
 * responses of each class are kept, message included, for result.json.
 */
static enum kc_errclass classify_response(struct worker *w, struct slot *s, long status)
{
	if (!w->e->cfg.sagemaker_errors)
		return kc_unary_classify_status(status);
	struct kc_sm_error err;
	kc_sagemaker_parse_error((int)status, s->errtype_len ? s->errtype : NULL, s->errtype_len,
				 s->ebody, s->ebody_len, 0, &err);
	enum kc_errclass ec = kc_sagemaker_errclass_to_step(err.cls, (int)status);
	int same = 0;
	for (int i = 0; i < w->c.nsamples; i++)
		same += w->c.samples[i].cls == ec;
	if (same < 2 && w->c.nsamples < KC_STEP_MAX_SAMPLES) {
		/* Only here is the body parsed for its message (jansson allocates). */
		kc_sagemaker_parse_error((int)status, s->errtype_len ? s->errtype : NULL,
					 s->errtype_len, s->ebody, s->ebody_len,
					 KC_SM_PARSE_MESSAGE, &err);
		struct kc_error_sample *x = &w->c.samples[w->c.nsamples++];
		x->cls = ec;
		x->status = (int)status;
		/* What the endpoint said may echo our own credentials back. */
		kc_scrub_copy(err.code, sizeof(err.code), x->code, sizeof(x->code), 0);
		kc_scrub_copy(err.message, sizeof(err.message), x->message, sizeof(x->message), 0);
	}
	return ec;
}

/*
 * A 2xx response whose event stream failed: its class, and for the first
 * two of each class a sample with what the stream said (the exception's
 * Message, or why the frames did not decode).
 */
static enum kc_errclass classify_stream(struct worker *w, struct slot *s,
					enum kc_rs_verdict v, long status)
{
	enum kc_errclass ec = v == KC_RS_MODEL_ERROR ? KC_EC_MODEL_STREAM : KC_EC_STREAM;
	int same = 0;
	for (int i = 0; i < w->c.nsamples; i++)
		same += w->c.samples[i].cls == ec;
	if (same >= 2 || w->c.nsamples >= KC_STEP_MAX_SAMPLES)
		return ec;
	struct kc_error_sample *x = &w->c.samples[w->c.nsamples++];
	x->cls = ec;
	x->status = (int)status;
	kc_scrub_copy(s->rs.code, sizeof(s->rs.code), x->code, sizeof(x->code), 0);
	x->message[0] = '\0';
	if (v != KC_RS_BROKEN) {
		/* An exception's payload is JSON {"Message": ...}; jansson allocates,
		 * which happens for these few samples only. */
		struct kc_sm_error err;
		kc_sagemaker_parse_error(0, s->rs.code, strlen(s->rs.code), s->rs.detail,
					 s->rs.detail_len, KC_SM_PARSE_MESSAGE, &err);
		kc_scrub_copy(err.message, sizeof(err.message), x->message, sizeof(x->message), 0);
	}
	if (!x->message[0]) {
		size_t i = 0;
		for (; s->rs.detail[i] && i + 1 < sizeof(x->message); i++) {
			unsigned char c = (unsigned char)s->rs.detail[i];
			x->message[i] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
		}
		x->message[i] = '\0';
		kc_scrub_str(x->message, sizeof(x->message), 0);
	}
	return ec;
}

static void release(struct worker *w, struct slot *s)
{
	curl_multi_remove_handle(w->multi, s->easy);
	s->busy = false;
	KC_ASSERT(w->nfree < w->nslots);
	w->free_stack[w->nfree++] = s->index;
}

void kc_unary_account(struct worker *w, struct slot *s, const struct kc_outcome *o,
		      int64_t now_ns)
{
	bool ok = o->responded && o->status >= 200 && o->status < 300;
	enum kc_rs_verdict sv = KC_RS_OK;
	if (ok && w->e->cfg.response_stream) {
		/* A 200 whose stream broke or carried an exception is no success;
		 * nor is one with no PayloadPart (no answer, no first-part time). */
		sv = kc_rs_end(&s->rs);
		if (sv == KC_RS_OK && s->rs.parts == 0) {
			sv = KC_RS_BROKEN;
			snprintf(s->rs.code, sizeof(s->rs.code), "NoPayloadPart");
			snprintf(s->rs.detail, sizeof(s->rs.detail),
				 "the event stream ended without a PayloadPart");
			s->rs.detail_len = strlen(s->rs.detail);
		}
		ok = sv == KC_RS_OK;
	}
	if (ok && now_ns >= w->win_start_ns && now_ns < w->win_end_ns)
		w->c.ok_in_window++;
	if (!s->measured)
		return;
	if (o->responded) {
		w->c.completed++;
		int64_t lat_us = (now_ns - s->intended_ns) / KC_NS_PER_US;
		int64_t svc_us = (now_ns - s->sent_ns) / KC_NS_PER_US;
		kc_hdr_recorder_record(&w->latency_rec, lat_us);
		kc_hdr_recorder_record(&w->service_rec, svc_us);
		if (o->ttfb_us >= 0)
			kc_hdr_record(w->ttfb, o->ttfb_us);
		if (ok) {
			w->c.ok++;
			if (w->e->cfg.response_stream)
				commit_parts(w, s);
		} else if (sv != KC_RS_OK) {
			w->c.errclass[classify_stream(w, s, sv, o->status)]++;
		} else {
			w->c.errclass[classify_response(w, s, o->status)]++;
			count_code(&w->c, (int)o->status);
		}
	} else if (w->c.errclass[o->ec]++ == 0) {
		kc_scrub_copy(o->why, o->why ? strlen(o->why) : 0, w->c.first_err[o->ec],
			      sizeof(w->c.first_err[o->ec]), 0);
	}
}

void kc_unary_finish(struct worker *w, struct slot *s, CURLcode rc, int64_t now_ns)
{
	/* libcurl ends a transfer OK when the connection closes inside the
	 * header block: that is no response. */
	bool cut = rc == CURLE_OK && s->hdr == HDR_OPEN;
	struct kc_outcome o = {.responded = rc == CURLE_OK && !cut, .ttfb_us = -1};
	if (cut) {
		o.ec = KC_EC_PROTO;
		o.why = "the connection closed inside the response's header block";
	} else if (rc == CURLE_OK) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &o.status);
		curl_off_t ttfb_us = 0;
		if (curl_easy_getinfo(s->easy, CURLINFO_STARTTRANSFER_TIME_T, &ttfb_us) == CURLE_OK)
			o.ttfb_us = (int64_t)ttfb_us;
	} else {
		o.ec = kc_unary_classify_curl(rc, s->errbuf, s->hdr == HDR_OPEN);
		o.why = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
	}
	kc_unary_account(w, s, &o, now_ns);
	release(w, s);
}

void kc_unary_abandon(struct worker *w, struct slot *s)
{
	if (s->busy)
		release(w, s);
}
