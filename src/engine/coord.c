/*
 * coord.c - the step coordinator.
 *
 * kc_engine_run_step starts one thread per worker for the step, then, on
 * the calling thread, wakes every 100 ms to sample in-flight requests and
 * every second to swap the workers' interval histograms (for progress and
 * the interval log), and finally joins the workers and merges their counts
 * and histograms into one struct kc_step_result.
 *
 * Invariant: the per-second intervals handed to the interval callback add up
 * exactly to the step's latency histogram, because both are built from the
 * same takes of the workers' recorders.  This file is not the hot path; it
 * may allocate per step, never per request.
 */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/log.h"

#define SAMPLE_NS (100 * KC_NS_PER_MS)
#define INTERVAL_NS KC_NS_PER_S
/* Workers start this long after the coordinator decides the step's origin. */
#define START_DELAY_NS (5 * KC_NS_PER_MS)
/* kc_engine_end_window ends the window this far after it was asked. */
#define CUT_AHEAD_NS (150 * KC_NS_PER_MS)
/* The drain outlasts the request timeout by this much (see kc_engine_run_step). */
#define DRAIN_SLACK_NS (250 * KC_NS_PER_MS)

struct step_state {
	struct kc_engine *e;
	const struct kc_step_spec *spec;
	const struct kc_engine_hooks *hooks;
	struct kc_hdr *interval;     /* one interval, all workers */
	struct kc_hdr *latency;      /* the step's total */
	struct kc_hdr *service;
	struct kc_hdr *scratch;      /* service interval */
	struct kc_hdr *ttfb, *lag;   /* merged from the workers after the join */
	int64_t start_ns, total_ns, win_start_ns, win_end_ns, end_ns, stop_seen_ns;
	int64_t wall_win_start_ms;
	double *samples;             /* in-flight samples inside the window */
	int64_t *sample_t;           /* their times, ns from window start */
	size_t nsamples, maxsamples;
	uint64_t inflight_max;
	uint64_t last_ok;
	int64_t last_take_ns;
};

static uint64_t sum_inflight(struct kc_engine *e)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < e->threads; i++)
		n += atomic_load_explicit(&e->workers[i].a_inflight, memory_order_relaxed);
	return n;
}

static void take_interval(struct step_state *st, int64_t now_ns, int64_t total_ns,
			  int64_t step_start_ns)
{
	struct kc_engine *e = st->e;
	int64_t now_ms = kc_wall_ns() / KC_NS_PER_MS;
	kc_hdr_reset(st->interval);
	kc_hdr_reset(st->scratch);
	for (uint32_t i = 0; i < e->threads; i++) {
		kc_hdr_recorder_take(&e->workers[i].latency_rec, st->interval, now_ms);
		kc_hdr_recorder_take(&e->workers[i].service_rec, st->scratch, now_ms);
	}
	kc_hdr_add(st->latency, st->interval);
	kc_hdr_add(st->service, st->scratch);
	if (st->hooks && st->hooks->interval) {
		char tag[32];
		snprintf(tag, sizeof(tag), "step-%d", st->spec->index);
		kc_hdr_set_tag(st->interval, tag);
		st->hooks->interval(st->hooks->ud, st->spec->index, st->interval);
	}
	uint64_t ok = 0, completed = 0, errors = 0;
	for (uint32_t i = 0; i < e->threads; i++) {
		ok += atomic_load_explicit(&e->workers[i].a_ok_in_window, memory_order_relaxed);
		completed += atomic_load_explicit(&e->workers[i].a_completed, memory_order_relaxed);
		errors += atomic_load_explicit(&e->workers[i].a_errors, memory_order_relaxed);
	}
	double secs = (double)(now_ns - st->last_take_ns) / 1e9;
	if (st->hooks && st->hooks->progress && secs > 0) {
		struct kc_progress p = {
			.step_index = st->spec->index,
			.offered = st->spec->mode == KC_STEP_RATE
					   ? kc_schedule_mean_rate(st->spec->rate_rps,
								   st->spec->rate_end_rps, total_ns,
								   now_ns - step_start_ns - 1,
								   now_ns - step_start_ns)
					   : st->spec->concurrency,
			.elapsed_ns = now_ns - step_start_ns,
			.total_ns = total_ns,
			.warming_up = now_ns - step_start_ns < st->spec->warmup_ns,
			.achieved_rps = (double)(ok - st->last_ok) / secs,
			.p50_ms = kc_hdr_value_at_percentile(st->interval, 50) / 1e3,
			.p99_ms = kc_hdr_value_at_percentile(st->interval, 99) / 1e3,
			.inflight = sum_inflight(e),
			.completed = completed,
			.errors = errors,
		};
		st->hooks->progress(st->hooks->ud, &p);
	}
	st->last_ok = ok;
	st->last_take_ns = now_ns;
}

static void step_state_fini(struct step_state *st)
{
	kc_hdr_free(st->interval);
	kc_hdr_free(st->scratch);
	kc_hdr_free(st->latency);
	kc_hdr_free(st->service);
	kc_hdr_free(st->ttfb);
	kc_hdr_free(st->lag);
	free(st->samples);
	free(st->sample_t);
}

static int check_spec(struct kc_engine *e, const struct kc_step_spec *s, struct kc_diag *d)
{
	if (!s)
		return kc_diag_set(d, KC_EINVAL, "no step");
	if (s->duration_ns <= 0 || s->duration_ns > 24 * 3600 * KC_NS_PER_S)
		return kc_diag_set(d, KC_EINVAL, "step duration must be in (0, 24h]");
	if (s->warmup_ns < 0 || s->warmup_ns > 3600 * KC_NS_PER_S)
		return kc_diag_set(d, KC_EINVAL, "warm-up must be in [0, 1h]");
	if (s->mode == KC_STEP_RATE) {
		if (!(s->rate_rps > 0) || !isfinite(s->rate_rps) || s->rate_rps > KC_ENGINE_MAX_RATE)
			return kc_diag_set(d, KC_EINVAL, "rate %g: must be in (0, %g] requests/s",
					   s->rate_rps, KC_ENGINE_MAX_RATE);
		if (s->rate_end_rps != 0 &&
		    (!(s->rate_end_rps > 0) || !isfinite(s->rate_end_rps) || s->rate_end_rps > KC_ENGINE_MAX_RATE))
			return kc_diag_set(d, KC_EINVAL, "end rate %g: must be in (0, %g] requests/s",
					   s->rate_end_rps, KC_ENGINE_MAX_RATE);
	} else if (s->mode == KC_STEP_CONCURRENCY) {
		uint64_t cap = (uint64_t)e->threads * e->slots;
		if (s->concurrency < 1 || s->concurrency > cap)
			return kc_diag_set(d, KC_EINVAL,
					   "concurrency %u: must be in 1..%llu (threads x connections)",
					   s->concurrency, (unsigned long long)cap);
	} else {
		return kc_diag_set(d, KC_EINVAL, "unknown step mode");
	}
	return KC_OK;
}

static int new_hist(struct kc_hdr **h)
{
	return kc_hdr_new(h, KC_ENGINE_HDR_LOWEST, KC_ENGINE_HDR_HIGHEST, KC_ENGINE_HDR_SIGFIGS);
}

/* Resets a worker's per-step state; its connections stay open. */
static void worker_prepare(struct worker *w, const struct kc_step_spec *spec,
			   int64_t start_ns, int64_t drain_ns, struct step_state *st)
{
	struct kc_engine *e = w->e;
	w->spec = spec;
	w->slack_ns = kc_engine_step_slack_ns(e, spec);
	w->start_ns = start_ns;
	w->win_start_ns = start_ns + spec->warmup_ns;
	w->win_end_ns = w->win_start_ns + spec->duration_ns;
	w->drain_end_ns = w->win_end_ns + drain_ns;
	memset(&w->c, 0, sizeof(w->c));
	w->partial = false;
	w->cpu_ns = 0;
	w->qhead = w->qlen = 0;
	kc_hdr_reset(w->ttfb);
	kc_hdr_reset(w->lag);
	if (e->cfg.response_stream) {
		kc_hdr_reset(w->ttfp);
		kc_hdr_reset(w->ttfp_svc);
		kc_hdr_reset(w->gap);
	}
	/* Drop whatever an earlier step left in the recorders. */
	int64_t now_ms = kc_wall_ns() / KC_NS_PER_MS;
	kc_hdr_recorder_take(&w->latency_rec, st->scratch, now_ms);
	kc_hdr_recorder_take(&w->service_rec, st->scratch, now_ms);
	kc_hdr_reset(st->scratch);
	atomic_store(&w->a_inflight, 0);
	atomic_store(&w->a_ok_in_window, 0);
	atomic_store(&w->a_completed, 0);
	atomic_store(&w->a_errors, 0);
	atomic_store(&w->a_done, false);
	if (spec->mode == KC_STEP_RATE) {
		int rc = kc_schedule_init(&w->sched, spec->rate_rps, spec->arrival, spec->seed,
					  start_ns, w->index, e->threads);
		KC_ASSERT(rc == KC_OK);
		if (spec->rate_end_rps > 0) {
			rc = kc_schedule_set_linear(&w->sched, spec->rate_end_rps,
						    spec->warmup_ns + spec->duration_ns);
			KC_ASSERT(rc == KC_OK);
		}
		/* The warm-up and the window each get the count their rate asks
		 * for: a window's offered load is then the load the verdict,
		 * the table and the knee speak of, with Poisson timing. */
		int64_t b[3] = {0, spec->warmup_ns, spec->warmup_ns + spec->duration_ns};
		int nb = 3;
		if (spec->warmup_ns == 0) /* no warm-up window: the bounds must ascend */
			b[1] = b[2], nb = 2;
		rc = kc_schedule_fix_counts(&w->sched, b, nb);
		KC_ASSERT(rc == KC_OK);
	} else {
		uint32_t c = spec->concurrency / e->threads +
			     (w->index < spec->concurrency % e->threads ? 1 : 0);
		w->concurrency = c < w->nslots ? c : w->nslots;
	}
}

static void inflight_trend(struct step_state *st, struct kc_step_result *r, int64_t window_ns)
{
	r->inflight_max = (uint32_t)(st->inflight_max > UINT32_MAX ? UINT32_MAX : st->inflight_max);
	if (st->nsamples == 0)
		return;
	double s0 = 0, s1 = 0;
	size_t n0 = 0, n1 = 0;
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (size_t i = 0; i < st->nsamples; i++) {
		double x = (double)st->sample_t[i] / 1e9, y = st->samples[i];
		if (st->sample_t[i] < KC_NS_PER_S) {
			s0 += y;
			n0++;
		}
		if (st->sample_t[i] >= window_ns - KC_NS_PER_S) {
			s1 += y;
			n1++;
		}
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
	}
	double n = (double)st->nsamples;
	r->inflight_start = n0 ? s0 / (double)n0 : st->samples[0];
	r->inflight_end = n1 ? s1 / (double)n1 : st->samples[st->nsamples - 1];
	double den = n * sxx - sx * sx;
	r->inflight_slope = den > 0 ? (n * sxy - sx * sy) / den : 0;
}

static void merge_workers(struct kc_engine *e, struct kc_step_result *r,
			  struct kc_hdr *ttfb, struct kc_hdr *lag, int64_t *cpu_ns)
{
	uint64_t codes_other = 0;
	for (uint32_t i = 0; i < e->threads; i++) {
		struct worker *w = &e->workers[i];
		r->scheduled += w->c.scheduled;
		r->sent += w->c.sent;
		r->completed += w->c.completed;
		r->ok += w->c.ok;
		for (int k = 0; k < KC_EC_COUNT; k++)
			r->errclass[k] += w->c.errclass[k];
		for (int k = 0; k < w->c.ncodes; k++) {
			int j = 0;
			while (j < r->ncodes && r->codes[j].code != w->c.codes[k].code)
				j++;
			if (j == r->ncodes) {
				if (r->ncodes == KC_STEP_MAX_CODES) {
					codes_other += w->c.codes[k].count;
					continue;
				}
				r->codes[j].code = w->c.codes[k].code;
				r->codes[j].count = 0;
				r->ncodes++;
			}
			r->codes[j].count += w->c.codes[k].count;
		}
		codes_other += w->c.codes_other;
		for (int k = 0; k < w->c.nsamples && r->nsamples < KC_STEP_MAX_SAMPLES; k++) {
			int same = 0;
			for (int j = 0; j < r->nsamples; j++)
				same += r->samples[j].cls == w->c.samples[k].cls;
			if (same < 2)
				r->samples[r->nsamples++] = w->c.samples[k];
		}
		kc_hdr_add(ttfb, w->ttfb);
		kc_hdr_add(lag, w->lag);
		*cpu_ns += w->cpu_ns;
		if (w->partial)
			r->partial = true;
	}
	for (int k = 0; k < KC_EC_COUNT; k++) {
		r->errors += r->errclass[k];
		/* One line per error class per step, never one per request. */
		for (uint32_t i = 0; i < e->threads; i++)
			if (e->workers[i].c.first_err[k][0]) {
				kc_log(KC_LOG_INFO, "step %d: %llu %s errors, first: %s", r->index,
				       (unsigned long long)r->errclass[k],
				       kc_errclass_name((enum kc_errclass)k),
				       e->workers[i].c.first_err[k]);
				break;
			}
	}
	if (codes_other)
		kc_log(KC_LOG_WARN, "step %d: %llu responses had more distinct status codes than %d",
		       r->index, (unsigned long long)codes_other, KC_STEP_MAX_CODES);
}

/*
 * response_stream: the workers' PayloadPart histograms into the result.
 * Summed into the first worker's (read after the join, reset before the
 * next step), so this allocates nothing.
 */
static void merge_stream(struct kc_engine *e, struct kc_step_result *r)
{
	struct worker *w0 = &e->workers[0];
	r->response_stream = true;
	r->parts = w0->c.parts;
	for (uint32_t i = 1; i < e->threads; i++) {
		struct worker *w = &e->workers[i];
		kc_hdr_add(w0->ttfp, w->ttfp);
		kc_hdr_add(w0->ttfp_svc, w->ttfp_svc);
		kc_hdr_add(w0->gap, w->gap);
		r->parts += w->c.parts;
	}
	kc_latency_from_hdr(&r->ttfp, w0->ttfp);
	kc_latency_from_hdr(&r->ttfp_service, w0->ttfp_svc);
	kc_latency_from_hdr(&r->part_gap, w0->gap);
}

static uint64_t window_ok(struct kc_engine *e)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < e->threads; i++)
		n += e->workers[i].c.ok_in_window;
	return n;
}

static int step_alloc(struct step_state *st)
{
	st->maxsamples = (size_t)(st->spec->duration_ns / SAMPLE_NS) + 16;
	st->samples = calloc(st->maxsamples, sizeof(double));
	st->sample_t = calloc(st->maxsamples, sizeof(int64_t));
	if (!st->samples || !st->sample_t || new_hist(&st->interval) || new_hist(&st->scratch) ||
	    new_hist(&st->latency) || new_hist(&st->service) || new_hist(&st->ttfb) ||
	    new_hist(&st->lag))
		return KC_ENOMEM;
	return KC_OK;
}

/* Starts every worker; on failure stops and joins those already running. */
static int start_workers(struct kc_engine *e, struct kc_diag *d)
{
	uint32_t started = 0;
	for (; started < e->threads; started++)
		if (pthread_create(&e->workers[started].thread, NULL, kc_worker_main,
				   &e->workers[started]) != 0)
			break;
	if (started == e->threads)
		return KC_OK;
	kc_engine_stop(e);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(e->workers[i].thread, NULL);
	kc_engine_reset_stop(e);
	return kc_diag_set(d, KC_EINTERNAL, "could not start worker thread %u", started);
}

static bool workers_done(struct kc_engine *e)
{
	for (uint32_t i = 0; i < e->threads; i++)
		if (!atomic_load_explicit(&e->workers[i].a_done, memory_order_acquire))
			return false;
	return true;
}

/*
 * The coordinator's loop while workers run: sample in-flight every 100 ms
 * (inside the window), take the interval histograms every second.  Ends when
 * every worker is done; bounded by the workers' own drain deadline.
 */
static void coordinate(struct step_state *st)
{
	struct kc_engine *e = st->e;
	st->last_take_ns = st->start_ns;
	int64_t next_take = st->start_ns + INTERVAL_NS;
	int64_t next_sample = st->start_ns + SAMPLE_NS;
	while (!workers_done(e)) {
		kc_sleep_until_ns(next_sample < next_take ? next_sample : next_take);
		int64_t now = kc_clock_ns();
		if (!st->stop_seen_ns && kc_engine_stopped(e))
			st->stop_seen_ns = now;
		if (atomic_exchange(&e->end_asked, false)) {
			/* Far enough ahead that every worker (which looks at least
			 * every POLL_CAP_MS) adopts it before it passes: no arrival
			 * at or after it has been sent by then. */
			int64_t cut = (now > st->win_start_ns ? now : st->win_start_ns) + CUT_AHEAD_NS;
			if (cut < st->win_end_ns) {
				st->win_end_ns = cut;
				atomic_store(&e->cut_ns, cut);
			}
		}
		if (now >= next_sample) {
			uint64_t inf = sum_inflight(e);
			if (now >= st->win_start_ns && now < st->win_end_ns &&
			    st->nsamples < st->maxsamples) {
				st->samples[st->nsamples] = (double)inf;
				st->sample_t[st->nsamples] = now - st->win_start_ns;
				st->nsamples++;
				if (inf > st->inflight_max)
					st->inflight_max = inf;
			}
			next_sample += SAMPLE_NS;
			if (next_sample <= now)
				next_sample = now + SAMPLE_NS;
		}
		if (now >= next_take) {
			take_interval(st, now, st->total_ns, st->start_ns);
			next_take += INTERVAL_NS;
			if (next_take <= now)
				next_take = now + INTERVAL_NS;
		}
	}
}

/* Builds the step result from the joined workers; moves the step histograms into it. */
static void assemble(struct step_state *st, struct kc_step_result *r)
{
	struct kc_engine *e = st->e;
	const struct kc_step_spec *spec = st->spec;
	memset(r, 0, sizeof(*r));
	r->index = spec->index;
	r->offered = spec->mode == KC_STEP_RATE
			     ? kc_schedule_mean_rate(spec->rate_rps, spec->rate_end_rps, st->total_ns,
						     spec->warmup_ns, st->total_ns)
			     : (double)spec->concurrency;
	r->start_wall_ms = st->wall_win_start_ms;
	int64_t cpu_ns = 0;
	merge_workers(e, r, st->ttfb, st->lag, &cpu_ns);
	/* The window, as kc_engine_end_window may have shortened it. */
	int64_t window_ns = st->win_end_ns - st->win_start_ns;
	if (r->partial) {
		/* The window ends where the stop was seen (or where the workers ended). */
		int64_t stop_at = st->stop_seen_ns ? st->stop_seen_ns : st->end_ns;
		window_ns = stop_at < st->win_end_ns ? stop_at - st->win_start_ns : window_ns;
		if (window_ns < 0)
			window_ns = 0;
	}
	r->duration_ns = window_ns;
	r->achieved = window_ns > 0 ? (double)window_ok(e) * 1e9 / (double)window_ns : 0;
	if (spec->mode == KC_STEP_CONCURRENCY)
		r->scheduled = r->sent;
	r->unfinished = r->errclass[KC_EC_UNFINISHED];
	kc_latency_from_hdr(&r->latency, st->latency);
	kc_latency_from_hdr(&r->service, st->service);
	kc_latency_from_hdr(&r->ttfb, st->ttfb);
	if (e->cfg.response_stream)
		merge_stream(e, r);
	inflight_trend(st, r, window_ns);
	if (spec->mode == KC_STEP_RATE) {
		r->lag_p99_ms = (double)kc_hdr_value_at_percentile(st->lag, 99) / 1e3;
		r->lag_max_ms = (double)kc_hdr_max(st->lag) / 1e3;
		r->release_slack_ms = (double)kc_engine_step_slack_ns(e, spec) / 1e6;
	}
	int64_t wall = st->end_ns - st->start_ns;
	r->gen_cpu = wall > 0 ? (double)cpu_ns / ((double)wall * e->threads) : 0;
	double lag_limit = e->cfg.gen_lag_p99_ms > 0 ? e->cfg.gen_lag_p99_ms : KC_GEN_LAG_P99_MS;
	/* The release slack is a wait the run asked for, not the generator
	 * falling behind. */
	r->generator_bound = r->lag_p99_ms - r->release_slack_ms > lag_limit ||
			     r->gen_cpu > KC_GEN_CPU_BUSY;
	r->latency_hist = st->latency;
	r->service_hist = st->service;
	st->latency = st->service = NULL;
}

int kc_engine_run_step(struct kc_engine *e, const struct kc_step_spec *spec,
		       const struct kc_engine_hooks *hooks,
		       struct kc_step_result *out, struct kc_diag *d)
{
	KC_ASSERT(e && out);
	int rc = check_spec(e, spec, d);
	if (rc)
		return rc;
	struct step_state st = {.e = e, .spec = spec, .hooks = hooks};
	if ((rc = step_alloc(&st))) {
		rc = kc_diag_set(d, rc, "out of memory for a step");
		goto out;
	}
	/* Workers start a little after now, so all of them see the same origin. */
	st.start_ns = kc_clock_ns() + START_DELAY_NS;
	st.total_ns = spec->warmup_ns + spec->duration_ns;
	st.win_start_ns = st.start_ns + spec->warmup_ns;
	st.win_end_ns = st.win_start_ns + spec->duration_ns;
	st.wall_win_start_ms = (kc_wall_ns() + START_DELAY_NS + spec->warmup_ns) / KC_NS_PER_MS;
	atomic_store(&e->end_asked, false);
	atomic_store(&e->cut_ns, 0);
	/* Every request sent inside the window meets its own timeout by
	 * win_end + timeout; the slack lets those timeouts be counted as such.
	 * What is left after it (sent late from the queue, or never sent) is
	 * unfinished: a stalled server ends a step within timeout + DRAIN_SLACK. */
	int64_t drain_ns = e->cfg.request_timeout_ns + DRAIN_SLACK_NS;
	for (uint32_t i = 0; i < e->threads; i++)
		worker_prepare(&e->workers[i], spec, st.start_ns, drain_ns, &st);
	if ((rc = start_workers(e, d)))
		goto out;
	coordinate(&st);
	for (uint32_t i = 0; i < e->threads; i++)
		pthread_join(e->workers[i].thread, NULL);
	st.end_ns = kc_clock_ns();
	take_interval(&st, st.end_ns, st.total_ns, st.start_ns);
	assemble(&st, out);
	rc = KC_OK;
out:
	step_state_fini(&st);
	return rc;
}
