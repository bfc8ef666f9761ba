/*
 * knee.c - per-step health verdicts and the cross-checks behind a knee.
 *
 * This module judges numbers the engine measured; it does not search (that
 * is search.c) and it never measures.  Invariant: a step that the generator,
 * not the server, failed to drive is never "healthy" and never valid, so a
 * saturated client cannot masquerade as a server knee.
 */
#include "kneecap/knee.h"
#include "kneecap/err.h"

#include <math.h>
#include <string.h>

static const char *const verdict_names[KC_VERDICT_COUNT] = {
	"healthy", "throughput", "inflight_growth", "errors", "latency_slo",
	"generator_bound", "unstable",
};

const char *kc_verdict_name(enum kc_verdict v)
{
	return (unsigned)v < KC_VERDICT_COUNT ? verdict_names[v] : "unknown";
}

const char *kc_load_mode_name(enum kc_load_mode m)
{
	return m == KC_MODE_STREAMS ? "streams" : "rps";
}

int kc_rate_decimals(double v)
{
	return fabs(v) < 9.995 ? 2 : 1;
}

double kc_rate_figure(double v)
{
	if (!isfinite(v))
		return v;
	double scale = kc_rate_decimals(v) == 2 ? 100.0 : 10.0;
	return round(v * scale) / scale;
}

double kc_rate_figure_down(double v)
{
	if (!isfinite(v))
		return v;
	double scale = kc_rate_decimals(v) == 2 ? 100.0 : 10.0;
	/* The epsilon keeps 19.4 (binary 19.39999...) from flooring to 19.3. */
	return floor(v * scale + 1e-9) / scale;
}

double kc_step_arrived(const struct kc_step_result *s)
{
	double window_s = (double)s->duration_ns / 1e9;
	if (s->scheduled > 0 && window_s > 0)
		return (double)s->scheduled / window_s;
	return s->offered;
}

static const char *const stat_names[KC_STAT_COUNT] = {
	"p50", "p90", "p99", "p999", "mean",
};

const char *kc_lat_stat_name(enum kc_lat_stat s)
{
	return (unsigned)s < KC_STAT_COUNT ? stat_names[s] : "unknown";
}

int kc_lat_stat_parse(const char *name, enum kc_lat_stat *out)
{
	for (int i = 0; i < KC_STAT_COUNT; i++) {
		if (name && !strcmp(name, stat_names[i])) {
			*out = (enum kc_lat_stat)i;
			return KC_OK;
		}
	}
	return KC_EINVAL;
}

double kc_lat_stat_value(const struct kc_latency *l, enum kc_lat_stat s)
{
	switch (s) {
	case KC_STAT_P50: return l->p50;
	case KC_STAT_P90: return l->p90;
	case KC_STAT_P99: return l->p99;
	case KC_STAT_P999: return l->p999;
	case KC_STAT_MEAN: return l->mean;
	case KC_STAT_COUNT: break;
	}
	KC_ASSERT(!"bad latency statistic");
	return 0;
}

void kc_health_cfg_default(struct kc_health_cfg *c, enum kc_load_mode mode)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	c->min_achieved_ratio = 0.97;
	c->max_error_rate = 0.01;
	/* Streams: the seed's rule, "mean latency stays below 400 ms". */
	c->slo_set = mode == KC_MODE_STREAMS;
	c->slo_ms = mode == KC_MODE_STREAMS ? 400.0 : 0.0;
	c->slo_stat = mode == KC_MODE_STREAMS ? KC_STAT_MEAN : KC_STAT_P99;
	c->inflight_growth_abs = 4.0;
	c->inflight_growth_rel = 0.5;
	c->inflight_growth_z = 1.0;
	c->max_lag_ms = 100.0;
	c->ambiguity = 0.02;
}

int kc_health_cfg_validate(const struct kc_health_cfg *c, struct kc_diag *d)
{
	if (!(c->min_achieved_ratio > 0 && c->min_achieved_ratio <= 1))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "min_achieved_ratio",
				      "must be in (0, 1], e.g. 0.97");
	if (!(c->max_error_rate >= 0 && c->max_error_rate < 1))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max_error_rate",
				      "must be in [0, 1), e.g. 0.01");
	if (c->slo_set && !(c->slo_ms > 0 && isfinite(c->slo_ms)))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "slo",
				      "must be > 0 ms (leave it out for no latency objective)");
	if ((unsigned)c->slo_stat >= KC_STAT_COUNT)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "slo_percentile",
				      "must be p50, p90, p99, p999 or mean");
	if (!(c->inflight_growth_abs >= 0) || !(c->inflight_growth_rel >= 0) ||
	    !(c->inflight_growth_z >= 0))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "inflight_growth",
				      "tolerances must be >= 0");
	if (!(c->max_lag_ms > 0))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max_lag",
				      "must be > 0 ms");
	if (!(c->ambiguity >= 0 && c->ambiguity < 0.5))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "ambiguity",
				      "must be in [0, 0.5)");
	return KC_OK;
}

/* True when value sits within a relative band around threshold. */
static bool near(double value, double threshold, double band)
{
	if (threshold == 0)
		return false;
	return fabs(value - threshold) <= band * fabs(threshold);
}

/*
 * Did the server answer what it was sent?  The backlog the step left behind
 * (sent - completed) must stay within what a healthy step leaves in flight:
 * the fraction of sends the throughput criterion tolerates plus the
 * in-flight level the step started with.
 */
static bool server_kept_up(const struct kc_health_cfg *c,
			   const struct kc_step_result *s)
{
	double backlog = (double)s->sent - (double)s->completed;
	double allowed = (1.0 - c->min_achieved_ratio) * (double)s->sent +
			 s->inflight_start + 1.0;
	return backlog <= allowed;
}

/*
 * The in-flight criterion (knee.h documents the rule) and its ambiguity.
 * Returns whether the step is unhealthy after it.
 */
static bool judge_inflight(const struct kc_step_result *s, struct kc_step_verdict *v,
			   bool unhealthy)
{
	double diff = s->inflight_end - s->inflight_start;
	bool growing = v->inflight_growth > v->inflight_tol && diff > v->inflight_tol;
	if (!unhealthy && growing) {
		v->verdict = KC_VERDICT_INFLIGHT_GROWTH;
		unhealthy = true;
	}
	/* One signal over the tolerance and the other not, or either within a
	 * factor of two of it: ambiguous, measure again. */
	double lo = 0.5 * v->inflight_tol, hi = 2.0 * v->inflight_tol;
	bool g_mid = v->inflight_growth > lo && v->inflight_growth < hi;
	bool d_mid = diff > lo && diff < hi;
	if ((g_mid || d_mid) && !(v->inflight_growth >= hi && diff >= hi))
		v->stable = false;
	/* A server that completes less than it is sent must build a queue.
	 * Throughput short with neither errors nor a growing in-flight count
	 * contradicts itself (a counting or window-edge artefact): call it
	 * ambiguous so the search measures again. */
	if (v->verdict == KC_VERDICT_THROUGHPUT && v->inflight_growth < lo && diff < lo)
		v->stable = false;
	return unhealthy;
}

void kc_knee_judge(const struct kc_health_cfg *c, const struct kc_step_result *s,
		   struct kc_step_verdict *out)
{
	KC_ASSERT(c && s && out);
	struct kc_step_verdict v;
	memset(&v, 0, sizeof(v));
	v.valid = true;
	v.stable = true;
	v.verdict = KC_VERDICT_HEALTHY;

	/* Shed requests are the generator's, never the server's errors. */
	double finished = (double)s->ok + (double)s->errors;
	double server_errors = (double)s->errors - (double)s->errclass[KC_EC_SHED];
	v.error_rate = finished > 0 ? server_errors / finished : 0.0;
	double window_s = (double)s->duration_ns / 1e9;
	/* Compare with what the schedule actually produced in the window when
	 * it is known: the engine fixes a Poisson window's count, but a window
	 * cut short holds a random share of it, and a result from elsewhere
	 * may not have had its count fixed; neither is the server's doing. */
	double asked = s->offered, got = s->achieved;
	if (c->mode == KC_MODE_RPS) {
		/* ... and judged on the figures the reports print beside the
		 * verdict (kc_rate_figure), so every row reads true by hand. */
		asked = kc_rate_figure(kc_step_arrived(s));
		got = kc_rate_figure(s->achieved);
	}
	v.achieved_ratio = asked > 0 ? got / asked : 0.0;
	v.latency_ms = kc_lat_stat_value(&s->latency, c->slo_stat);
	/* The level the tolerance scales with is the lower end: a growing
	 * queue must not widen its own tolerance. */
	double level = fmin(s->inflight_start, s->inflight_end);
	v.inflight_growth = s->inflight_slope * window_s;
	double arrivals = s->scheduled > 0 ? (double)s->scheduled : s->offered * window_s;
	v.inflight_tol = fmax(fmax(c->inflight_growth_abs, c->inflight_growth_rel * level),
			      c->inflight_growth_z * sqrt(fmax(arrivals, 0.0)));

	/* 1. The generator gate. */
	bool shed = s->errclass[KC_EC_SHED] > 0;
	bool lagged = s->lag_p99_ms > c->max_lag_ms;
	if (s->generator_bound || ((shed || lagged) && server_kept_up(c, s))) {
		v.verdict = KC_VERDICT_GENERATOR_BOUND;
		v.valid = false;
		*out = v;
		return;
	}
	v.generator_note = shed || lagged;
	if (s->partial) {
		v.verdict = KC_VERDICT_UNSTABLE;
		v.valid = false;
		v.stable = false;
		*out = v;
		return;
	}

	/* 2. Errors: checked before throughput, because failed requests also
	 * lower achieved and the error is the more specific diagnosis. */
	bool unhealthy = false;
	if (finished > 0 && v.error_rate > c->max_error_rate) {
		v.verdict = KC_VERDICT_ERRORS;
		unhealthy = true;
	} else if (s->errclass[KC_EC_UNFINISHED] > 0) {
		/* Requests still unanswered a request timeout after the window
		 * ended: whatever the rate, the server did not keep up. */
		v.verdict = KC_VERDICT_ERRORS;
		unhealthy = true;
	} else if (finished == 0 && s->sent > 0) {
		/* Nothing came back at all: the server is not keeping up. */
		v.verdict = KC_VERDICT_THROUGHPUT;
		unhealthy = true;
	}
	if (c->max_error_rate > 0 && near(v.error_rate, c->max_error_rate, 5 * c->ambiguity))
		v.stable = false;

	/* 3. Throughput: achieved (successes/s) against offered.  Streams:
	 * streams held against streams asked. */
	/* The figures are decimals: 19.4 of 20.0 is 97% to a reader, and must
	 * not fail on the binary rounding of 19.4 / 20.0. */
	if (!unhealthy && v.achieved_ratio < c->min_achieved_ratio * (1.0 - 1e-12)) {
		v.verdict = KC_VERDICT_THROUGHPUT;
		unhealthy = true;
	}
	if (near(v.achieved_ratio, c->min_achieved_ratio, c->ambiguity / 2))
		v.stable = false;

	/* 4. In-flight trend (open-loop rps only: in streams mode the number of
	 * streams in flight is what the generator holds, not a queue). */
	if (c->mode == KC_MODE_RPS)
		unhealthy = judge_inflight(s, &v, unhealthy);

	/* 5. Latency objective. */
	if (c->slo_set) {
		if (!unhealthy && v.latency_ms > c->slo_ms) {
			v.verdict = KC_VERDICT_LATENCY_SLO;
			unhealthy = true;
		}
		if (near(v.latency_ms, c->slo_ms, c->ambiguity))
			v.stable = false;
	}
	*out = v;
}

/* ---- Kneedle -------------------------------------------------------- */

int kc_kneedle(const double *x, const double *y, size_t n)
{
	if (n < 3)
		return -1;
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		xmin = fmin(xmin, x[i]);
		xmax = fmax(xmax, x[i]);
		ymin = fmin(ymin, y[i]);
		ymax = fmax(ymax, y[i]);
	}
	if (!(xmax > xmin) || !(ymax > ymin))
		return -1;
	/* Count distinct x (the first of equal x values counts). */
	size_t distinct = 0;
	int best = -1;
	double best_d = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			if (x[j] == x[i])
				dup = true;
		if (dup)
			continue;
		distinct++;
		double xn = (x[i] - xmin) / (xmax - xmin);
		double yn = (y[i] - ymin) / (ymax - ymin);
		double d = yn - xn;
		if (d > best_d) {
			best_d = d;
			best = (int)i;
		}
	}
	/* A straight line has d == 0 everywhere; a bend needs some height. */
	if (distinct < 3 || best_d < 0.02)
		return -1;
	return best;
}

void kc_knee_check(const struct kc_step_result *steps, size_t n, int knee_idx,
		   struct kc_knee_check *out)
{
	KC_ASSERT(out && (n == 0 || steps));
	memset(out, 0, sizeof(*out));
	enum { CAP = 256 };
	double x[CAP], y[CAP];
	int map[CAP];
	size_t m = 0;
	int low = -1;
	for (size_t i = 0; i < n && m < CAP; i++) {
		const struct kc_step_result *s = &steps[i];
		if (s->generator_bound || s->partial || !(s->offered > 0))
			continue;
		x[m] = s->offered;
		y[m] = s->achieved;
		map[m] = (int)i;
		m++;
		if (s->latency.count > 0 &&
		    (low < 0 || s->offered < steps[low].offered))
			low = (int)i;
	}
	int k = kc_kneedle(x, y, m);
	if (k >= 0) {
		out->kneedle_found = true;
		out->kneedle_offered = steps[map[k]].offered;
		out->kneedle_achieved = steps[map[k]].achieved;
	}
	if (knee_idx < 0 || (size_t)knee_idx >= n)
		return;
	const struct kc_step_result *ks = &steps[knee_idx];
	if (low >= 0 && steps[low].latency.mean > 0) {
		out->inflation_set = true;
		out->latency_mean_low_ms = steps[low].latency.mean;
		out->latency_mean_knee_ms = ks->latency.mean;
		out->latency_inflation = ks->latency.mean / steps[low].latency.mean;
	}
	/* Little's law, L = lambda W: the engine counts a request in flight from
	 * its actual send to its response, which is the service time. */
	double w_s = (ks->service.count > 0 ? ks->service.mean : ks->latency.mean) / 1000.0;
	double predicted = ks->achieved * w_s;
	if (predicted > 0) {
		out->little_set = true;
		out->little_observed = 0.5 * (ks->inflight_start + ks->inflight_end);
		out->little_predicted = predicted;
		out->little_ratio = out->little_observed / predicted;
		out->little_consistent = out->little_ratio >= 0.5 && out->little_ratio <= 2.0;
	}
}
