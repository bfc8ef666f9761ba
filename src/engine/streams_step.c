/*
 * streams_step.c - one step of the stream driver (streams.h): readying the
 * workers, running them, merging their counters and histograms into the
 * step's figures, and the probe that checks the target before a search.
 */
#include "kneecap/engine.h"
#include "kneecap/streams.h"

#include "streams_int.h"


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
		kc_sx_slot_reset(w, &w->slots[j]);
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
		if (pthread_create(&w->thread, NULL, kc_sx_worker_main, w))
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
