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
 * This file is not the scheduler (worker.c), not the coordinator
 * (runner.c) and not the accounting (acct.c); it is the `--client curl`
 * driver of proto.h (and HTTP/2 over TLS), plus the probe's easy setup.
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
#include "proto.h"

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
		kc_rs_feed(&s->rs, ptr, n, kc_clock_ns(), kc_acct_on_part, s);
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
	 * No proxy unless one is given, whatever http_proxy says: load through a
	 * proxy measures the proxy, and the environment lookup costs getenv()
	 * calls per request.
	 */
	SETOPT(easy, CURLOPT_PROXY, e->proxy ? e->proxy : "");
	if (e->client_cert)
		SETOPT(easy, CURLOPT_SSLCERT, e->client_cert);
	if (e->client_key)
		SETOPT(easy, CURLOPT_SSLKEY, e->client_key);
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

/* kc_proto_curl's init: a multi handle, and an easy handle per slot. */
static int curl_init(struct worker *w, struct kc_diag *d)
{
	struct kc_engine *e = w->e;
	w->multi = curl_multi_init();
	if (!w->multi)
		return kc_diag_set(d, KC_ENOMEM, "libcurl: cannot create a multi handle");
	if (e->cfg.http != KC_HTTP_1_1)
		curl_multi_setopt(w->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)e->connections);
	if (e->cfg.http != KC_HTTP_1_1) {
		/* HTTP/2: at most `connections` connections, streams multiplexed on them. */
		curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)e->connections);
		curl_multi_setopt(w->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)e->streams);
	}
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
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
			curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_body);
			curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
		}
	}
	return KC_OK;
}

static void curl_fini(struct worker *w)
{
	for (uint32_t i = 0; w->slots && i < w->nslots; i++) {
		struct slot *s = &w->slots[i];
		if (!s->easy)
			continue;
		if (s->busy && w->multi)
			curl_multi_remove_handle(w->multi, s->easy);
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	w->multi = NULL;
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

static bool curl_start(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		       int64_t now_ns)
{
	struct kc_engine *e = w->e;
	if (!kc_acct_prepare(w, s, intended_ns, measured, now_ns))
		return false;
	s->hdr = HDR_NONE;
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

static void release(struct worker *w, struct slot *s)
{
	curl_multi_remove_handle(w->multi, s->easy);
	kc_acct_release(w, s);
}

/* Accounts a finished transfer and releases its slot. */
static void curl_finish(struct worker *w, struct slot *s, CURLcode rc, int64_t now_ns)
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
	kc_acct_account(w, s, &o, now_ns);
	release(w, s);
}

static void curl_abandon(struct worker *w, struct slot *s)
{
	if (s->busy)
		release(w, s);
}

static void curl_step_begin(struct worker *w)
{
	(void)w;
}

static void curl_perform(struct worker *w)
{
	int running = 0;
	curl_multi_perform(w->multi, &running);
}

static struct slot *curl_reap(struct worker *w, int64_t now_ns)
{
	int left = 0;
	CURLMsg *m;
	while ((m = curl_multi_info_read(w->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct slot *s = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		KC_ASSERT(s && s->busy);
		curl_finish(w, s, m->data.result, now_ns);
		return s;
	}
	return NULL;
}

static void curl_wait(struct worker *w, int64_t deadline_ns)
{
	/* The timerfd wakes the poll at the deadline (curl_multi_poll counts in
	 * milliseconds).  It is never read: it is re-armed (and so cleared)
	 * before each wait; one armed in the past has fired and would keep the
	 * poll awake, so it is left out. */
	int64_t now = kc_clock_ns();
	kc_worker_arm_timer(w, deadline_ns, now);
	int64_t left = deadline_ns > now ? deadline_ns - now : 0;
	struct curl_waitfd wfd = {.fd = w->timerfd, .events = CURL_WAIT_POLLIN};
	curl_multi_poll(w->multi, &wfd, w->armed_ns > now ? 1 : 0,
			(int)(left / KC_NS_PER_MS) + 1, NULL);
}

const struct kc_proto kc_proto_curl = {
	.name = "curl",
	.init = curl_init,
	.fini = curl_fini,
	.step_begin = curl_step_begin,
	.start = curl_start,
	.perform = curl_perform,
	.reap = curl_reap,
	.wait = curl_wait,
	.abandon = curl_abandon,
};
