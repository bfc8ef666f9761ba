/*
 * probe.c - kc_engine_probe: one request before the run, to tell an
 * unreachable or misconfigured target (DNS, connect, TLS, signing) from a
 * slow one, so the run does not measure a target that cannot answer.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/parse.h"

/* The probe's bounds: kc_engine_probe in engine.h. */
#define PROBE_MAX_NS (5 * KC_NS_PER_S)
/* Short: a silent server adds this to every run against it, and the run
 * itself (not the probe) is what measures a slow answer. */
#define PROBE_ANSWER_GRACE_NS (250 * KC_NS_PER_MS)
#define PROBE_POLL_MS 20

int64_t kc_engine_probe_limit_ns(const struct kc_engine *e)
{
	int64_t t = e->cfg.request_timeout_ns;
	return t < PROBE_MAX_NS ? t : PROBE_MAX_NS;
}
/*
 * Drives the probe's one transfer, bounded by limit_ns, and ends it as soon
 * as the status line is in (the body tells the probe nothing) or when the
 * request has been on a connection for PROBE_ANSWER_GRACE_NS without an
 * answer (*silent): a server that accepts and never answers is reachable,
 * and a probe that waited for it would only delay the run that measures it.
 */
static CURLcode probe_perform(const struct kc_engine *e, CURL *h, int64_t limit_ns,
			      bool *silent)
{
	CURLM *m = curl_multi_init();
	if (!m)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(m, h) != CURLM_OK) {
		curl_multi_cleanup(m);
		return CURLE_OUT_OF_MEMORY;
	}
	const int64_t t0 = kc_clock_ns();
	CURLcode cc = CURLE_OPERATION_TIMEDOUT;
	for (;;) {
		int running = 0, left = 0;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		bool done = false;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				cc = msg->data.result;
				done = true;
			}
		if (done)
			break;
		/* A stop (Ctrl-C) must not wait out a black-holed connect. */
		if (kc_engine_stopped(e)) {
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200) {
			cc = CURLE_OK;
			break;
		}
		curl_off_t sent_us = 0;
		curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &sent_us);
		int64_t elapsed = kc_clock_ns() - t0;
		if (sent_us > 0 && elapsed - (int64_t)sent_us * KC_NS_PER_US >= PROBE_ANSWER_GRACE_NS) {
			*silent = true;
			break;
		}
		/* libcurl's own timeout ends the transfer first; this is a backstop. */
		if (elapsed >= limit_ns + 100 * KC_NS_PER_MS)
			break;
		curl_multi_poll(m, NULL, 0, PROBE_POLL_MS, NULL);
	}
	curl_multi_remove_handle(m, h);
	curl_multi_cleanup(m);
	return cc;
}

/* Hands h the header list a worker slot would send (decorated once, kept in
 * s) and the first body. */
static int probe_request(struct kc_engine *e, CURL *h, struct slot *s, struct kc_diag *d)
{
	static const char expect_off[] = "Expect:";
	int n = 0;
	s->nodes[n++].data = (char *)(uintptr_t)expect_off;
	for (size_t i = 0; i < e->nheaders; i++)
		s->nodes[n++].data = e->headers[i];
	const struct kc_body *body = NULL;
	if (e->cfg.nbodies) {
		body = &e->cfg.bodies[0];
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
		if (e->ctype_lines[0])
			s->nodes[n++].data = e->ctype_lines[0];
	}
	if (e->cfg.decorate) {
		struct kc_request_info ri = {
			.method = e->method, .url = e->url, .host = e->host,
			.path = e->path, .body = body, .send_wall_ns = kc_wall_ns(),
		};
		if (e->cfg.decorate(e->cfg.decorate_ud, &ri, &s->decor) != 0)
			return kc_diag_set(d, KC_EAUTH, "could not sign the request");
		for (int i = 0; i < s->decor.n && i < KC_DECOR_MAX_HEADERS; i++)
			if (s->decor.line[i])
				s->nodes[n++].data = (char *)(uintptr_t)s->decor.line[i];
	}
	for (int i = 0; i < n - 1; i++)
		s->nodes[i].next = &s->nodes[i + 1];
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, &s->nodes[0]);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
	return KC_OK;
}

/* What a failed transfer says about the target: unreachable (an error) or
 * reachable but failing (KC_OK, status 0, for the run to count). */
static int probe_failure(const struct kc_engine *e, CURL *h, CURLcode cc, const char *errbuf,
			 int *status_out, struct kc_diag *d)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	if (cc == CURLE_ABORTED_BY_CALLBACK && kc_engine_stopped(e))
		return kc_diag_set(d, KC_EINTR, "stopped while probing %s", e->host);
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return kc_diag_set(d, KC_ETLS, "TLS failed for %s: %s", e->host, why);
	case CURLE_OPERATION_TIMEDOUT: {
		/* Connected but slow to answer is reachable: the run will count timeouts. */
		curl_off_t connect_us = 0;
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
		if (connect_us > 0) {
			if (status_out)
				*status_out = 0;
			return KC_OK;
		}
		return kc_diag_set(d, KC_ETIMEOUT, "%s did not accept a connection: %s", e->host, why);
	}
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return kc_diag_set(d, KC_ECONNECT, "cannot connect to %s: %s", e->host, why);
	default:
		/* Connected, but the exchange failed: reachable, count it in the run. */
		if (status_out)
			*status_out = 0;
		return KC_OK;
	}
}

/*
 * The probe goes through libcurl for every protocol, h2c included: its one
 * request on a fresh connection is not hit by curl issue 10634 (reused h2c
 * connections), and its errors read the same for every --http.
 */
int kc_engine_probe(struct kc_engine *e, int *status_out, struct kc_diag *d)
{
	CURL *h = curl_easy_init();
	if (!h)
		return kc_diag_set(d, KC_ENOMEM, "libcurl: cannot create an easy handle");
	int rc = kc_unary_setup_easy(e, h, d);
	if (rc) {
		curl_easy_cleanup(h);
		return rc;
	}
	struct slot *s = calloc(1, sizeof(*s));
	if (!s) {
		curl_easy_cleanup(h);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	if ((rc = probe_request(e, h, s, d)))
		goto out;
	int64_t limit = kc_engine_probe_limit_ns(e);
	int64_t conn_limit = e->cfg.connect_timeout_ns < limit ? e->cfg.connect_timeout_ns : limit;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(limit / KC_NS_PER_MS));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(conn_limit / KC_NS_PER_MS));
	bool silent = false;
	CURLcode cc = probe_perform(e, h, limit, &silent);
	if (silent) {
		/* Connected and asked: reachable.  The run will show the rest. */
		if (status_out)
			*status_out = 0;
		kc_format_duration(PROBE_ANSWER_GRACE_NS, s->errbuf, sizeof(s->errbuf));
		kc_diag_set(d, KC_OK, "%s took the request but had not answered after %s",
			    e->host, s->errbuf);
		rc = KC_OK;
	} else if (cc == CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status_out)
			*status_out = (int)status;
		rc = KC_OK;
	} else {
		rc = probe_failure(e, h, cc, s->errbuf, status_out, d);
	}
out:
	curl_easy_cleanup(h);
	free(s);
	return rc;
}
