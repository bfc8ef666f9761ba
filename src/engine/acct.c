/*
 * acct.c - the driver-independent half of a worker: its slots, waiting
 * queue and histograms, the start of a request on a slot (body rotation,
 * decorator) and the accounting of a finished one (latency, service time,
 * TTFB, status codes, error classes, SageMaker error samples, response
 * stream samples).  Every driver (libcurl in unary.c, HTTP/1.1 in
 * h1unary.c, h2c in h2unary.c) starts and finishes requests here, so the
 * three count exactly alike; none of them calls another.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/log.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scrub.h"
#include "proto.h"

/* Cached decorations per worker: enough for the synthetic pool's 32 bodies. */
#define DCACHE_MAX 64

struct kc_decor_cache {
	bool valid;
	size_t bi;
	int64_t sec;
	uint64_t gen;   /* decorate_generation when made */
	struct kc_decor_out out;
};

int kc_worker_init(struct worker *w, struct kc_diag *d)
{
	struct kc_engine *e = w->e;
	w->timerfd = -1;
	w->proto = e->proto;
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
		if (e->cfg.response_stream && kc_rs_init(&s->rs, KC_ENGINE_STREAM_MESSAGE_MAX))
			return kc_diag_set(d, KC_ENOMEM, "out of memory for stream readers");
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
	if (e->cfg.decorate && e->cfg.decorate_per_second) {
		size_t n = e->cfg.nbodies ? e->cfg.nbodies : 1;
		w->ndcache = (uint32_t)(n < DCACHE_MAX ? n : DCACHE_MAX);
		w->dcache = calloc(w->ndcache, sizeof(*w->dcache));
		if (!w->dcache)
			return kc_diag_set(d, KC_ENOMEM, "out of memory for signed headers");
	}
	return w->proto->init(w, d);
}

void kc_worker_fini(struct worker *w)
{
	if (!w)
		return;
	if (w->proto)
		w->proto->fini(w);
	for (uint32_t i = 0; w->slots && i < w->nslots; i++)
		kc_rs_fini(&w->slots[i].rs);
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
	free(w->dcache);
}

/*
 * response_stream: PayloadParts of a measured request are timed as they are
 * decoded (arrival = when the driver handed the bytes over) and held in the
 * slot until the request's verdict (commit_parts): a stream that fails
 * later must not add samples.  Gaps past KC_SLOT_GAPS_MAX go straight
 * into the histogram (bounded memory wins over exactness there).
 */
void kc_acct_on_part(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns, size_t len)
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

/* Copies the lines of src into dst's own buffer; false when they do not fit
 * (a decorator may keep its lines elsewhere than in buf). */
static bool copy_decor(struct kc_decor_out *dst, const struct kc_decor_out *src)
{
	size_t off = 0;
	int n = 0;
	for (int i = 0; i < src->n && i < KC_DECOR_MAX_HEADERS; i++) {
		if (!src->line[i])
			continue;
		size_t l = strlen(src->line[i]) + 1;
		if (l > sizeof(dst->buf) - off)
			return false;
		memcpy(dst->buf + off, src->line[i], l);
		dst->line[n++] = dst->buf + off;
		off += l;
	}
	dst->n = n;
	return true;
}

/*
 * Runs the decorator for s's request, or with decorate_per_second reuses
 * the lines signed for the same body in the same second: SigV4 is then
 * computed once per body and second per worker, not per request.  The
 * lines are copied into the slot, so a later re-signing never changes a
 * request already started.
 */
static int decorate(struct worker *w, struct slot *s, const struct kc_request_info *ri)
{
	struct kc_engine *e = w->e;
	if (!w->dcache)
		return e->cfg.decorate(e->cfg.decorate_ud, ri, &s->decor);
	struct kc_decor_cache *dc = &w->dcache[ri->body_index % w->ndcache];
	int64_t sec = ri->send_wall_ns / KC_NS_PER_S;
	uint64_t gen = e->cfg.decorate_generation ? e->cfg.decorate_generation(e->cfg.decorate_ud)
						  : 0;
	if (!dc->valid || dc->bi != ri->body_index || dc->sec != sec || dc->gen != gen) {
		dc->valid = false;
		int rc = e->cfg.decorate(e->cfg.decorate_ud, ri, &dc->out);
		if (rc)
			return rc;
		dc->valid = true;
		dc->bi = ri->body_index;
		dc->sec = sec;
		dc->gen = gen;
	}
	if (copy_decor(&s->decor, &dc->out))
		return 0;
	return e->cfg.decorate(e->cfg.decorate_ud, ri, &s->decor);
}

bool kc_acct_prepare(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
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
		if (decorate(w, s, &ri) != 0) {
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

enum kc_errclass kc_acct_classify_status(long status)
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
		return kc_acct_classify_status(status);
	struct kc_sm_error err;
	kc_sagemaker_parse_error((int)status, s->errtype_len ? s->errtype : NULL, s->errtype_len,
				 s->ebody, s->ebody_len, 0, &err);
	enum kc_errclass ec = kc_engine_sm_errclass(err.cls, (int)status);
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
	/* ModelStreamError is the model's, InternalStreamFailure the service's */
	enum kc_errclass ec = v == KC_RS_BROKEN ? KC_EC_STREAM
			      : kc_engine_stream_exception_class(s->rs.code, strlen(s->rs.code));
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
		kc_scrub_copy(err.error_code, sizeof(err.error_code), x->error_code,
			      sizeof(x->error_code), 0);
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

void kc_acct_release(struct worker *w, struct slot *s)
{
	s->busy = false;
	KC_ASSERT(w->nfree < w->nslots);
	w->free_stack[w->nfree++] = s->index;
}

void kc_acct_account(struct worker *w, struct slot *s, const struct kc_outcome *o,
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

void kc_worker_arm_timer(struct worker *w, int64_t at_ns, int64_t now_ns)
{
	/* Re-arming also clears a fired timer (the kernel resets its tick count). */
	if (at_ns == w->armed_ns && at_ns > now_ns)
		return;
	struct itimerspec its = {0};
	if (at_ns > 0) {
		its.it_value.tv_sec = (time_t)(at_ns / KC_NS_PER_S);
		its.it_value.tv_nsec = (long)(at_ns % KC_NS_PER_S);
	}
	timerfd_settime(w->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	w->armed_ns = at_ns;
}

/* Whether epoll_pwait2 works here: unknown (0), yes (1), no (-1); set once. */
static atomic_int have_pwait2;

int kc_worker_epoll(struct worker *w, int efd, struct epoll_event *evs, int max,
		    int64_t deadline_ns)
{
	int64_t now = kc_clock_ns();
	int64_t left = deadline_ns > now ? deadline_ns - now : 0;
	if (atomic_load_explicit(&have_pwait2, memory_order_relaxed) >= 0) {
		struct timespec ts = {.tv_sec = (time_t)(left / KC_NS_PER_S),
				      .tv_nsec = (long)(left % KC_NS_PER_S)};
		int n = epoll_pwait2(efd, evs, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS) {
			atomic_store_explicit(&have_pwait2, 1, memory_order_relaxed);
			return n;
		}
		atomic_store_explicit(&have_pwait2, -1, memory_order_relaxed);
	}
	/* An older kernel: the timerfd in efd wakes us at the deadline. */
	kc_worker_arm_timer(w, deadline_ns, now);
	return epoll_wait(efd, evs, max, (int)((left + KC_NS_PER_MS - 1) / KC_NS_PER_MS));
}
