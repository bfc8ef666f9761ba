/*
 * search.c - the knee search as a pure state machine.
 *
 * It proposes loads and learns from the step results it is handed; it does
 * not run load, read clocks or print.  Invariants: lo (highest healthy) <
 * hi (lowest unhealthy) whenever both exist; every load it proposes lies in
 * (0, max]; it never proposes more than cfg.max_steps steps in total; an
 * invalid (generator-bound) step ends the search and is never the knee.
 *
 * Why growth x2: the bracket phase costs log_g(knee/start) steps and the
 * narrowing phase log2(log(g)/log(1+precision)) bisections, so for a 50 rps
 * knee from 10 rps x2 costs 4 + 5 = 9 steps and x1.5 costs 5 + 4 = 9: a tie
 * on plain bisection.  But the overshot step carries the capacity (the rate
 * it completed flat out caps the bracket, and the next probe goes just
 * under it), so narrowing takes 1-2 steps; on the test model (knees 40-80
 * rps from 10) x1.5 averages 7.1 steps, x2 5.3 and x3 4.0.  x3 is not worth
 * its step: the overshot step runs at up to 3x capacity, queueing 2x
 * capacity per second (2,000 requests after 20 s at 50 rps, 40 s to drain,
 * close to SageMaker's 60 s timeout), where x2 queues at most 1x capacity
 * per second.
 */
#include "kneecap/search.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum { PH_BRACKET, PH_STEPDOWN, PH_NARROW, PH_DONE };

/* Guided probes allowed after the capacity estimate (see probe()). */
enum { GUIDE_SPENT = 4 };

static const char *const end_names[KC_END_COUNT] = {
	"running", "converged", "max_reached", "generator_bound", "all_errors",
	"unhealthy_at_min", "max_steps", "interrupted",
};

const char *kc_search_end_name(enum kc_search_end e)
{
	return (unsigned)e < KC_END_COUNT ? end_names[e] : "unknown";
}

/* ---- the state machine ---------------------------------------------- */

int kc_search_init(struct kc_search *s, const struct kc_search_cfg *cfg,
		   struct kc_diag *d)
{
	int rc = kc_search_cfg_validate(cfg, d);
	if (rc)
		return rc;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->phase = PH_BRACKET;
	s->next = cfg->start;
	s->lo_step = s->hi_step = -1;
	s->hi_why = KC_VERDICT_HEALTHY;
	s->end = KC_END_NONE;
	return KC_OK;
}

static bool streams(const struct kc_search *s)
{
	return s->cfg.mode == KC_MODE_STREAMS;
}

static bool converged(const struct kc_search *s)
{
	if (!s->have_lo || !s->have_hi)
		return false;
	if (streams(s))
		return s->hi - s->lo <= 1.0;
	/* 5% slack on the precision: delivered rates are counts / window and
	 * land a hair off the asked ones. */
	return s->hi <= s->lo * (1.0 + 1.05 * s->cfg.precision);
}

static void finish(struct kc_search *s, enum kc_search_end e)
{
	s->phase = PH_DONE;
	s->end = e;
}

enum kc_search_action kc_search_next(struct kc_search *s, double *offered)
{
	KC_ASSERT(s && offered);
	if (s->phase == PH_DONE)
		return KC_SEARCH_DONE;
	KC_ASSERT(s->next > 0 && s->next <= s->cfg.max);
	s->pending = true;
	*offered = s->next;
	return KC_SEARCH_RUN;
}

/*
 * The next load to try inside (lo, hi).  With a capacity estimate the first
 * probe goes just under it; then, for a few probes, a healthy answer steps
 * up by (1 + precision) and an unhealthy one down by the same, so a good
 * estimate closes the bracket in two probes and a slightly-off one in three
 * or four.  Otherwise (or after that) bisect at the geometric mean.
 */
/*
 * When the latency objective ended hi, interpolate where the statistic
 * crosses the SLO between the latencies measured at lo and hi (false
 * position), kept at least a quarter of the bracket away from either end
 * so a convex latency curve cannot stall it on one side.  Returns 0 when it
 * does not apply.
 */
static double interpolate(const struct kc_search *s)
{
	if (s->hi_why != KC_VERDICT_LATENCY_SLO || s->lo_step < 0 || s->hi_step < 0)
		return 0;
	double l_lo = s->steps[s->lo_step].v.latency_ms;
	double l_hi = s->steps[s->hi_step].v.latency_ms;
	double slo = s->cfg.health.slo_ms;
	if (!(l_hi > l_lo) || !(slo > l_lo) || !(slo < l_hi))
		return 0;
	double w = s->hi - s->lo;
	double x = s->lo + (slo - l_lo) / (l_hi - l_lo) * w;
	x = fmin(fmax(x, s->lo + w / 4.0), s->hi - w / 4.0);
	if (streams(s)) {
		x = round(x);
		x = fmin(fmax(x, s->lo + 1), s->hi - 1);
	}
	return x;
}

static double probe(struct kc_search *s)
{
	double x = interpolate(s);
	if (x > 0)
		return x;
	if (streams(s))
		return floor(s->lo + (s->hi - s->lo) / 2.0);
	double p = s->cfg.precision;
	if (s->guide == 0 && s->est > 0) {
		double a = s->est * (1.0 - p / 2.0);
		/* An estimate at or under lo still says "just above lo"; one at
		 * or over hi says "just under hi". */
		if (a <= s->lo * (1.0 + p / 4.0))
			a = s->lo * (1.0 + p);
		else if (a >= s->hi * (1.0 - p / 4.0))
			a = s->hi / (1.0 + p);
		if (a > s->lo * (1.0 + 1e-9) && a < s->hi * (1.0 - 1e-9)) {
			s->guide = 1;
			s->guide_load = a;
			return a;
		}
		s->guide = GUIDE_SPENT;
	} else if (s->guide > 0 && s->guide < GUIDE_SPENT) {
		/* Was the last guided probe healthy (it became lo) or not? */
		double n = s->last_healthy ? s->lo * (1.0 + p) : s->hi / (1.0 + p);
		s->guide++;
		if (n > s->lo * (1.0 + 1e-9) && n < s->hi * (1.0 - 1e-9)) {
			s->guide_load = n;
			return n;
		}
		s->guide = GUIDE_SPENT;
	}
	return sqrt(s->lo * s->hi);
}

/*
 * Error class names, as results store them (step.h: append-only).  The
 * stats layer owns kc_errclass_name; analysis links without stats, so it
 * keeps this copy, pinned to the enum's size.
 */
static const char *const errclass_names[] = {
	"connect", "timeout", "reset", "http4xx", "http5xx", "shed", "throttle",
	"auth", "model", "proto", "other", "stream", "model_stream", "unfinished",
	"internal_stream",
};
static_assert(sizeof(errclass_names) / sizeof(errclass_names[0]) == KC_EC_COUNT,
	      "one name per error class");

static const char *top_error(const struct kc_step_result *r, uint64_t *count)
{
	int best = -1;
	for (int i = 0; i < KC_EC_COUNT; i++)
		if (r->errclass[i] > 0 && (best < 0 || r->errclass[i] > r->errclass[best]))
			best = i;
	*count = best >= 0 ? r->errclass[best] : 0;
	return best >= 0 ? errclass_names[best] : "unclassified";
}

static const char *unit(const struct kc_search *s)
{
	return streams(s) ? "streams" : "rps";
}

/* A saturated step that completed under this share of the most a saturated
 * step completed was not flat out its whole window: it does not cap the
 * bracket (its own load does).  Steps whose queue was still forming
 * completed 79% and 87% of the flat-out rate in test_find_cpu.sh, and
 * capping there cost the knee 18%; a soft knee's first overloaded steps
 * complete ~94% and still cap, which keeps its search short. */
#define NOT_FLAT_OUT 0.93
/* Nor does one offered less than this much more than it completed: its
 * queue grew slowly, and a slowly growing queue still empties now and then
 * (the seed case's 49 rps step completed 46.4 of the 50 its server does;
 * capping there put the knee at 45.1). */
#define OVERLOADED 1.10

/*
 * An unhealthy load lowers the bracket's top: to the load itself, or to what
 * a cleanly saturated server completed flat out; and a saturated step gives
 * the guided probes their capacity estimate.
 */
static void lower_hi(struct kc_search *s, double load, int idx, enum kc_verdict why,
		     const struct kc_step_result *r, const struct kc_step_verdict *v)
{
	/* What the endpoint completed flat out: the saturated measurements
	 * of a load decided unhealthy.  A noisy "throughput" attempt that
	 * its re-measures overruled says nothing about capacity (a 2 s
	 * step at 10 rps can see 14 arrivals and complete 13.5). */
	for (int i = idx; !streams(s) && i >= 0 && s->steps[i].offered == load; i--) {
		const struct kc_search_step *a = &s->steps[i];
		if (a->v.verdict == KC_VERDICT_THROUGHPUT ||
		    a->v.verdict == KC_VERDICT_INFLIGHT_GROWTH)
			s->saturated_max = fmax(s->saturated_max, a->achieved);
	}
	if (!s->have_hi || load < s->hi) {
		s->hi = load;
		s->hi_step = idx;
		s->hi_why = why;
		s->hi_capped = false;
		s->have_hi = true;
	}
	/* A server that could not keep up tells us its capacity: what it
	 * completed flat out.  Overload often shows first as errors
	 * (requests timing out in the queue), so an errors verdict counts
	 * too while most requests still succeed; a poor estimate only
	 * costs the few guided probes before bisection takes over. */
	bool saturated = why == KC_VERDICT_THROUGHPUT ||
			 why == KC_VERDICT_INFLIGHT_GROWTH ||
			 (why == KC_VERDICT_ERRORS && v->error_rate < 0.5);
	if (!streams(s) && saturated && r->achieved > 0 && s->guide == 0 &&
	    v->achieved_ratio < s->cfg.health.min_achieved_ratio)
		s->est = r->achieved;
	/* A cleanly saturated step (short of throughput or queueing, no
	 * error excess) caps the knee: a work-conserving server that
	 * completed `achieved` per second flat out cannot keep up with
	 * more, so every load above it is unhealthy.  That rate, measured
	 * over a whole saturated window, is far steadier than any verdict
	 * near capacity, where the in-flight count random-walks.  Unless
	 * it completed much less (NOT_FLAT_OUT) than the most a saturated
	 * step did: a load just over capacity was not flat out all its
	 * window (its queue still forming, or the server slower for a
	 * while), and capping there pinned a knee 18% under what the same
	 * server completed flat out a step earlier (test_find_cpu.sh);
	 * its own load, above, bounds the bracket instead.  Likewise when it
	 * offered little more than it completed (OVERLOADED): a slowly
	 * growing queue still empties now and then. */
	bool clean = (why == KC_VERDICT_THROUGHPUT || why == KC_VERDICT_INFLIGHT_GROWTH) &&
		     v->error_rate <= s->cfg.health.max_error_rate &&
		     v->achieved_ratio < s->cfg.health.min_achieved_ratio &&
		     r->achieved >= NOT_FLAT_OUT * s->saturated_max &&
		     s->steps[idx].delivered >= OVERLOADED * r->achieved;
	if (!streams(s) && clean && r->achieved < s->hi &&
	    (!s->have_lo || r->achieved > s->lo)) {
		s->hi = r->achieved;
		s->hi_step = idx;
		s->hi_why = why;
		s->hi_capped = true;
	}
}

/* The load's outcome is decided: move the bracket and pick what is next. */
static void decide(struct kc_search *s, bool healthy, enum kc_verdict why,
		   const struct kc_step_result *r, const struct kc_step_verdict *v)
{
	double load = s->next;
	int idx = s->nsteps - 1;
	s->last_healthy = healthy;
	if (healthy) {
		if (!s->have_lo || load > s->lo) {
			s->lo = load;
			s->lo_step = idx;
			s->have_lo = true;
		}
	} else {
		lower_hi(s, load, idx, why, r, v);
	}

	switch (s->phase) {
	case PH_BRACKET:
		if (healthy) {
			if (load >= s->cfg.max) {
				snprintf(s->diagnosis, sizeof(s->diagnosis),
					 "still healthy at max = %g %s: the knee is above it "
					 "(raise max to find it)", s->cfg.max, unit(s));
				finish(s, KC_END_MAX_REACHED);
				return;
			}
			double n = load * s->cfg.growth;
			if (streams(s))
				n = fmax(load + 1, round(n));
			s->next = fmin(n, s->cfg.max);
			return;
		}
		if (!s->have_lo) {
			s->phase = PH_STEPDOWN;
			break;
		}
		s->phase = PH_NARROW;
		break;
	case PH_STEPDOWN:
		if (healthy)
			s->phase = PH_NARROW;
		break;
	default:
		break;
	}

	if (s->phase == PH_STEPDOWN) {
		double n = load / s->cfg.growth;
		if (streams(s))
			n = floor(n);
		if (s->stepdowns >= s->cfg.max_stepdown || n < (streams(s) ? 1 : 0.01) ||
		    (streams(s) && n >= load)) {
			snprintf(s->diagnosis, sizeof(s->diagnosis),
				 "unhealthy (%s) even at %g %s after stepping down %d "
				 "time(s) from start = %g: lower start, or check the endpoint",
				 kc_verdict_name(why), load, unit(s), s->stepdowns, s->cfg.start);
			finish(s, KC_END_UNHEALTHY_AT_MIN);
			return;
		}
		s->stepdowns++;
		s->next = n;
		return;
	}
	if (converged(s)) {
		finish(s, KC_END_CONVERGED);
		return;
	}
	s->next = probe(s);
	KC_ASSERT(s->next > s->lo && s->next < s->hi);
}

/* An invalid step (generator-bound or partial) ends the search. */
static void end_invalid(struct kc_search *s, struct kc_search_step *st,
			const struct kc_step_result *r)
{
	st->final = st->v.verdict;
	if (st->v.verdict != KC_VERDICT_GENERATOR_BOUND) {
		snprintf(s->diagnosis, sizeof(s->diagnosis),
			 "the run was stopped during the step at %g %s", st->offered, unit(s));
		finish(s, KC_END_INTERRUPTED);
		return;
	}
	char known[96] = "";
	if (s->have_lo)
		snprintf(known, sizeof(known),
			 "; the endpoint was healthy at %g %s, so its knee is at least that",
			 s->lo, unit(s));
	snprintf(s->diagnosis, sizeof(s->diagnosis),
		 "kneecap's load generator, not the endpoint, fell behind at %g %s "
		 "(send lag p99 %.0f ms, %llu shed): the step is invalid%s; "
		 "add generator threads (threads = N) or run a second generator",
		 st->offered, unit(s), r->lag_p99_ms,
		 (unsigned long long)r->errclass[KC_EC_SHED], known);
	finish(s, KC_END_GENERATOR_BOUND);
}

/*
 * Every request failed and nothing was ever healthy: a broken target (URL,
 * credentials, payload), not a knee of 0.  Returns true when it ended the
 * search.
 */
static bool end_all_errors(struct kc_search *s, struct kc_search_step *st,
			   const struct kc_step_result *r)
{
	uint64_t server_errors = r->errors - r->errclass[KC_EC_SHED];
	if (r->ok != 0 || server_errors == 0 || s->have_lo)
		return false;
	uint64_t n;
	const char *cls = top_error(r, &n);
	char code[32] = "";
	if (r->ncodes > 0)
		snprintf(code, sizeof(code), ", first HTTP status %d", r->codes[0].code);
	snprintf(s->diagnosis, sizeof(s->diagnosis),
		 "every request failed at %g %s (%llu errors, most '%s': %llu%s): "
		 "check the target, credentials and payload; no knee was measured",
		 st->offered, unit(s), (unsigned long long)server_errors, cls,
		 (unsigned long long)n, code);
	st->final = KC_VERDICT_ERRORS;
	finish(s, KC_END_ALL_ERRORS);
	return true;
}

/*
 * An ambiguous first attempt at a settled point is not measured again: a
 * load within the precision under a capped hi (the rate a saturated step
 * completed flat out).  Healthy, it ends the search with the knee bounded
 * by that rate and by this step's own achieved rate; unhealthy, it becomes
 * hi and one probe a precision lower follows.  Re-measuring it (two more
 * whole steps, then a majority) would only choose between those two
 * answers, which lie within one precision step of each other and of the
 * capacity the endpoint showed.
 */
static bool settled_streams(const struct kc_search *s, const struct kc_step_verdict *v);

static bool settled(const struct kc_search *s, const struct kc_step_verdict *v)
{
	if (streams(s))
		return settled_streams(s, v);
	if (!s->have_hi || !s->hi_capped)
		return false;
	double load = s->next;
	return load < s->hi && s->hi <= load * (1.0 + 1.05 * s->cfg.precision);
}

/*
 * Streams: latency rises with the stream count, so the bracket's two ends
 * predict it in between.  An attempt ambiguous only on the latency
 * objective is settled when the measurement and that prediction lie on the
 * same side of the objective and the measurement sits nearer the
 * prediction than the objective: a second measurement of a value that
 * agrees with its neighbours would say the same thing again.
 */
static bool settled_streams(const struct kc_search *s, const struct kc_step_verdict *v)
{
	const struct kc_health_cfg *h = &s->cfg.health;
	if (!h->slo_set || !s->have_lo || !s->have_hi || s->lo_step < 0 || s->hi_step < 0)
		return false;
	if ((v->verdict != KC_VERDICT_HEALTHY && v->verdict != KC_VERDICT_LATENCY_SLO) ||
	    v->error_rate > 0.5 * h->max_error_rate ||
	    v->achieved_ratio < h->min_achieved_ratio * (1.0 + h->ambiguity))
		return false;
	double x = s->next;
	double l_lo = s->steps[s->lo_step].v.latency_ms;
	double l_hi = s->steps[s->hi_step].v.latency_ms;
	if (!(x > s->lo && x < s->hi) || !(l_hi > l_lo))
		return false;
	double pred = l_lo + (x - s->lo) / (s->hi - s->lo) * (l_hi - l_lo);
	double m = v->latency_ms, slo = h->slo_ms;
	return (m > slo) == (pred > slo) && fabs(m - pred) < fabs(m - slo);
}

int kc_search_record(struct kc_search *s, const struct kc_step_result *r)
{
	KC_ASSERT(s && r);
	if (!s->pending || s->phase == PH_DONE || s->nsteps >= KC_SEARCH_MAX_STEPS)
		return KC_EINVAL;
	s->pending = false;

	struct kc_search_step *st = &s->steps[s->nsteps++];
	memset(st, 0, sizeof(*st));
	st->offered = s->next;
	st->delivered = s->next;
	if (!streams(s) && r->scheduled > 0 && r->duration_ns > 0)
		st->delivered = (double)r->scheduled / ((double)r->duration_ns / 1e9);
	st->attempt = s->attempts;
	st->achieved = r->achieved;
	kc_knee_judge(&s->cfg.health, r, &st->v);
	const struct kc_step_verdict *v = &st->v;
	if (st->attempt > 0)
		s->remeasures++;
	if (r->duration_ns > 0)
		s->measured_ns += r->duration_ns;

	if (!v->valid) {
		/* One generator hiccup (a busy machine, a page fault storm) earns
		 * one more measurement of the same load; a second one ends the
		 * search, because then the generator really is the bottleneck. */
		if (v->verdict == KC_VERDICT_GENERATOR_BOUND && s->gen_retries < 1 &&
		    s->nsteps < s->cfg.max_steps) {
			s->gen_retries++;
			st->final = v->verdict;
			return KC_OK; /* same load again: s->next unchanged */
		}
		end_invalid(s, st, r);
		return KC_OK;
	}
	s->gen_retries = 0;
	if (end_all_errors(s, st, r))
		return KC_OK;

	/* Re-measure policy: an ambiguous step, or attempts that disagree, earn
	 * another measurement of the same load, up to max_remeasure extra. */
	bool healthy = v->verdict == KC_VERDICT_HEALTHY;
	s->attempts++;
	s->healthy_votes += healthy;

	bool agree = s->healthy_votes == 0 || s->healthy_votes == s->attempts;
	bool settle = s->attempts == 1 && !v->stable && settled(s, v);
	bool want_more = s->attempts == 1 ? !v->stable && !settle : !agree;
	if (want_more && s->attempts <= s->cfg.max_remeasure &&
	    s->nsteps < s->cfg.max_steps) {
		s->pending = false;
		return KC_OK; /* same load again: s->next unchanged */
	}
	/* Majority decides; a tie is unhealthy (the conservative side). */
	bool load_healthy = 2 * s->healthy_votes > s->attempts;
	enum kc_verdict why = v->verdict;
	if (!load_healthy && !agree)
		why = KC_VERDICT_UNSTABLE;
	else if (!load_healthy && healthy) {
		/* last attempt healthy but the majority not: name an unhealthy one */
		for (int i = s->nsteps - 2; i >= 0 && i >= s->nsteps - s->attempts; i--)
			if (s->steps[i].v.verdict != KC_VERDICT_HEALTHY)
				why = s->steps[i].v.verdict;
	}
	st->healthy_final = load_healthy;
	st->final = load_healthy ? KC_VERDICT_HEALTHY : why;
	s->attempts = 0;
	s->healthy_votes = 0;

	/* A settled ambiguous healthy call ends the search; its knee is held
	 * to the load an unhealthy call would have led to (hi / (1 + p)), so
	 * either answer of the coin the ambiguity tossed gives the same knee. */
	if (settle && load_healthy && !streams(s))
		s->settled_cap = s->hi / (1.0 + s->cfg.precision);
	decide(s, load_healthy, why, r, v);
	if (s->phase != PH_DONE && s->nsteps >= s->cfg.max_steps) {
		snprintf(s->diagnosis, sizeof(s->diagnosis),
			 "step budget (max_steps = %d) spent with the knee between %g and %g %s: "
			 "raise max_steps or loosen precision",
			 s->cfg.max_steps, s->have_lo ? s->lo : 0.0,
			 s->have_hi ? s->hi : s->cfg.max, unit(s));
		finish(s, KC_END_MAX_STEPS);
	}
	return KC_OK;
}

int kc_search_nsteps(const struct kc_search *s)
{
	return s->nsteps;
}

const struct kc_search_step *kc_search_step(const struct kc_search *s, int i)
{
	return i >= 0 && i < s->nsteps ? &s->steps[i] : NULL;
}

static const char *const bound_names[KC_BOUND_COUNT] = {
	"tested", "saturated_max", "knee_achieved", "settled",
};

const char *kc_knee_bound_name(enum kc_knee_bound b)
{
	return (unsigned)b < KC_BOUND_COUNT ? bound_names[b] : "unknown";
}

/*
 * A knee is a load the endpoint sustains, so it cannot exceed what the
 * endpoint was seen to complete.  A load called healthy on noise (the
 * arrivals bunched early or late, the queue had not yet grown) can sit above the
 * rate the same server completed flat out; and a knee load whose own
 * measurements were ambiguous is only as good as what they completed.
 * The attempts at the knee load are the steps at knee_step and just
 * before it with the same offered load (a decided load is never offered
 * again).
 */
static void bound_knee(const struct kc_search *s, struct kc_knee *k)
{
	k->tested = k->value;
	k->bound = KC_BOUND_TESTED;
	if (!k->found || streams(s) || k->knee_step < 0)
		return;
	const struct kc_search_step *ks = &s->steps[k->knee_step];
	double sum = 0;
	int n = 0, healthy = 0;
	bool ambiguous = false;
	for (int i = k->knee_step; i >= 0 && s->steps[i].offered == ks->offered; i--) {
		const struct kc_search_step *a = &s->steps[i];
		if (!a->v.valid)
			continue;
		sum += a->achieved;
		n++;
		healthy += a->v.verdict == KC_VERDICT_HEALTHY;
		ambiguous = ambiguous || !a->v.stable;
	}
	k->knee_achieved = n > 0 ? sum / n : ks->achieved;
	k->knee_unstable = ambiguous || (healthy > 0 && healthy < n);
	if (s->saturated_max > 0 && s->saturated_max < k->value) {
		k->value = s->saturated_max;
		k->bound = KC_BOUND_SATURATED_MAX;
	}
	if (k->knee_unstable && k->knee_achieved > 0 && k->knee_achieved < k->value) {
		k->value = k->knee_achieved;
		k->bound = KC_BOUND_KNEE_ACHIEVED;
	}
	if (s->settled_cap > 0 && s->lo_step == k->knee_step && s->settled_cap < k->value) {
		k->value = s->settled_cap;
		k->bound = KC_BOUND_SETTLED;
	}
	/* One figure everywhere (terminal, result.json, report), rounded down
	 * so the printed knee never exceeds its bound. */
	k->value = kc_rate_figure_down(k->value);
}

void kc_search_result(const struct kc_search *s, struct kc_knee *out)
{
	KC_ASSERT(s && out);
	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.mode = s->cfg.mode;
	k.found = s->have_lo;
	k.value = s->have_lo ? s->lo : 0.0;
	k.upper = s->have_hi ? s->hi : 0.0;
	k.end = s->end;
	k.ended_by = s->have_hi ? s->hi_why : KC_VERDICT_HEALTHY;
	if (s->end == KC_END_GENERATOR_BOUND)
		k.ended_by = KC_VERDICT_GENERATOR_BOUND;
	k.knee_step = s->have_lo ? s->lo_step : -1;
	k.upper_step = s->have_hi ? s->hi_step : -1;
	k.upper_capped = s->have_hi && s->hi_capped;
	k.upper_offered = s->have_hi ? s->steps[s->hi_step].offered : 0.0;
	k.steps = s->nsteps;
	k.remeasures = s->remeasures;
	k.measured_ns = s->measured_ns;
	k.lower_bound = s->have_lo && s->end != KC_END_CONVERGED;
	if (s->have_lo && s->have_hi)
		k.precision = streams(s) ? s->hi - s->lo : (s->hi - s->lo) / s->lo;
	k.saturated_max = s->saturated_max;
	bound_knee(s, &k);
	snprintf(k.diagnosis, sizeof(k.diagnosis), "%s", s->diagnosis);
	bool capacity_end = k.ended_by == KC_VERDICT_THROUGHPUT ||
			    k.ended_by == KC_VERDICT_INFLIGHT_GROWTH ||
			    k.ended_by == KC_VERDICT_UNSTABLE;
	if (k.end == KC_END_CONVERGED && capacity_end && k.value > 0 &&
	    s->saturated_max > 1.1 * k.tested)
		snprintf(k.diagnosis, sizeof(k.diagnosis),
			 "check: the endpoint completed %.4g rps while overloaded, %.0f%% above "
			 "this knee; a noisy step may have ended the search early (re-run, or "
			 "lengthen step_duration)", s->saturated_max,
			 100.0 * (s->saturated_max / k.tested - 1.0));
	*out = k;
}

const char *kc_knee_reason(const struct kc_knee *k)
{
	if (k->end == KC_END_CONVERGED)
		return kc_verdict_name(k->ended_by);
	return kc_search_end_name(k->end);
}

/* ---- stability windows ------------------------------------------------ */

void kc_search_watch(const struct kc_search *s, double offered, int64_t step_ns,
		     struct kc_step_watch *w)
{
	memset(w, 0, sizeof(*w));
	w->offered = offered;
	double secs = (double)step_ns / 1e9;
	int g = offered > 0 ? (int)ceil(40.0 / offered) : 5;
	w->group_s = g < 1 ? 1 : g > 5 ? 5 : g;
	/* At least 100 expected requests: achieved is judged against the
	 * arrivals of the same window, and the one or two requests in flight
	 * across its edges must stay well inside the 3% the verdict allows. */
	w->min_s = (int)fmax(fmax(5.0, ceil(secs / 4.0)), offered > 0 ? ceil(100.0 / offered) : 0);
	w->min_over_s = (int)fmax(5.0, ceil(secs / 4.0));
	w->inflight_tol = s->cfg.health.inflight_growth_abs;
	/* Only the first attempt at a load far from any capacity bound: near
	 * the knee a few seconds more can turn the verdict, and a re-measure
	 * exists because the first attempt was ambiguous. */
	double bound = 0;
	if (s->have_hi)
		bound = s->hi;
	if (s->est > 0 && (bound == 0 || s->est < bound))
		bound = s->est;
	if (s->saturated_max > 0 && (bound == 0 || s->saturated_max < bound))
		bound = s->saturated_max;
	bool far = bound == 0 || offered < 0.85 * bound;
	w->enabled = !streams(s) && s->attempts == 0 && s->gen_retries == 0 && far &&
		     s->phase != PH_DONE && 3 * w->group_s <= (int)secs - 1 &&
		     w->min_s < (int)secs;
}

/* Mean of field f over window k (0 = oldest of the last three). */
static double window_mean(const struct kc_step_watch *w, int k, size_t off)
{
	double sum = 0;
	int g = w->group_s;
	for (int i = 0; i < g; i++) {
		int idx = w->n - 3 * g + k * g + i;
		const char *p = (const char *)&w->ring[idx % KC_WATCH_RING];
		double v;
		memcpy(&v, p + off, sizeof(v));
		sum += v;
	}
	return sum / g;
}

/* Do the three values lie within +-tol of their mean? */
static bool agree(const double v[3], double tol)
{
	double m = (v[0] + v[1] + v[2]) / 3.0;
	if (!(m > 0))
		return v[0] == 0 && v[1] == 0 && v[2] == 0;
	for (int i = 0; i < 3; i++)
		if (fabs(v[i] - m) > tol * m)
			return false;
	return true;
}

bool kc_step_watch_feed(struct kc_step_watch *w, const struct kc_watch_sample *x)
{
	if (!w->enabled || w->settled)
		return false;
	w->ring[w->n % KC_WATCH_RING] = *x;
	w->n++;
	int g = w->group_s;
	if (w->n <= g)
		w->first_inflight += x->inflight / g;
	/* The first sample's second began in the warm-up: count whole seconds. */
	if (w->n < 3 * g || w->n - 1 < w->min_s)
		return false;
	double rate[3], lat[3], inf[3];
	for (int k = 0; k < 3; k++) {
		rate[k] = window_mean(w, k, offsetof(struct kc_watch_sample, achieved_rps));
		lat[k] = window_mean(w, k, offsetof(struct kc_watch_sample, latency_ms));
		inf[k] = window_mean(w, k, offsetof(struct kc_watch_sample, inflight));
	}
	double mean_rate = (rate[0] + rate[1] + rate[2]) / 3.0;
	/* Poisson: a window of g seconds at rate r counts g*r +- sqrt(g*r). */
	double rate_tol = fmax(0.10, 2.0 / sqrt(fmax(1.0, mean_rate * g)));
	if (!agree(rate, rate_tol))
		return false;
	bool settled = false;
	/* Latency within +-25% of its mean, and not climbing (a queue starting
	 * to build shows in the tail before the in-flight count). */
	bool lat_flat = agree(lat, 0.25) && lat[2] <= 1.15 * lat[0];
	/* In-flight flat across the three windows and since the window's
	 * first seconds (a slow rise hides inside three short windows). */
	bool inf_flat = inf[2] <= inf[0] + w->inflight_tol &&
			inf[2] <= w->first_inflight + w->inflight_tol;
	if (x->errors == 0 && lat_flat && inf_flat)
		settled = true;
	else if (w->n - 1 >= w->min_over_s && mean_rate < 0.85 * w->offered &&
		 inf[1] > inf[0] + w->inflight_tol && inf[2] > inf[1] + w->inflight_tol) {
		/* The verdict calls in-flight growth clear only past twice its
		 * tolerance, which scales with the queue the warm-up left and
		 * with the arrivals' noise (knee.c judge_inflight): end when
		 * the rise since the window began is past that. */
		double tol = fmax(fmax(w->inflight_tol, 0.5 * w->first_inflight),
				  sqrt(w->offered * (w->n - 1)));
		settled = inf[2] - w->first_inflight > 2.5 * tol;
	}
	w->settled = settled;
	return settled;
}

int64_t kc_search_step_ns(const struct kc_search *s)
{
	int64_t full = s->cfg.step_duration_ns;
	if (!streams(s) || (s->phase != PH_BRACKET && s->phase != PH_STEPDOWN))
		return full;
	int64_t third = full / 3, floor_ns = 10 * KC_NS_PER_S;
	int64_t n = third > floor_ns ? third : floor_ns;
	return n < full ? n : full;
}

/* ---- a fixed ladder ----------------------------------------------------- */

/* The rung after `prev` in (offered, index) order; SIZE_MAX: the first. */
static size_t next_rung(const struct kc_step_result *steps, size_t n, size_t prev)
{
	size_t best = SIZE_MAX;
	for (size_t j = 0; j < n; j++) {
		if (prev != SIZE_MAX && (steps[j].offered < steps[prev].offered ||
					 (steps[j].offered == steps[prev].offered && j <= prev)))
			continue;
		if (best == SIZE_MAX || steps[j].offered < steps[best].offered)
			best = j;
	}
	return best;
}

void kc_ladder_knee(const struct kc_health_cfg *c, const struct kc_step_result *steps, size_t n,
		    struct kc_step_verdict *verdicts, struct kc_knee *out)
{
	KC_ASSERT(c && out && (steps || n == 0));
	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.mode = c->mode;
	k.knee_step = -1;
	k.upper_step = -1;
	k.end = KC_END_MAX_REACHED;
	k.ended_by = KC_VERDICT_HEALTHY;
	k.steps = (int)n;
	bool all_errors = true;
	for (size_t i = 0; i < n; i++) {
		struct kc_step_verdict v;
		kc_knee_judge(c, &steps[i], &v);
		if (verdicts)
			verdicts[i] = v;
		k.measured_ns += steps[i].duration_ns;
		if (steps[i].ok > 0)
			all_errors = false;
	}
	/* Rungs in load order, whatever order they ran in; any number of them
	 * (a --ramp may have 10,000), so the next one is found, not sorted. */
	for (size_t r = 0, i = SIZE_MAX; r < n; r++) {
		i = next_rung(steps, n, i);
		struct kc_step_verdict v;
		kc_knee_judge(c, &steps[i], &v);
		if (!v.valid || steps[i].partial) {
			k.end = steps[i].partial ? KC_END_INTERRUPTED : KC_END_GENERATOR_BOUND;
			k.ended_by = steps[i].partial ? KC_VERDICT_UNSTABLE : KC_VERDICT_GENERATOR_BOUND;
			break;
		}
		if (v.verdict == KC_VERDICT_HEALTHY) {
			k.found = true;
			k.tested = steps[i].offered;
			k.knee_step = (int)i;
			continue;
		}
		k.end = k.found ? KC_END_CONVERGED : all_errors ? KC_END_ALL_ERRORS
							    : KC_END_UNHEALTHY_AT_MIN;
		k.ended_by = v.verdict;
		k.upper = steps[i].offered;
		k.upper_step = (int)i;
		k.upper_offered = steps[i].offered;
		/* Streams: a held mean short of the rung is no stream count to
		 * recommend; the knee stays a rung. */
		if (c->mode == KC_MODE_RPS &&
		    (v.verdict == KC_VERDICT_THROUGHPUT || v.verdict == KC_VERDICT_INFLIGHT_GROWTH))
			k.saturated_max = steps[i].achieved;
		break;
	}
	k.value = k.tested;
	k.bound = KC_BOUND_TESTED;
	k.knee_achieved = k.knee_step >= 0 ? steps[k.knee_step].achieved : 0;
	k.lower_bound = k.found && k.end != KC_END_CONVERGED;
	if (k.found && k.saturated_max > 0 && k.saturated_max < k.upper) {
		/* Flat out the endpoint completed saturated_max: that is the
		 * capacity inside the bracket, finer than the rungs. */
		if (k.saturated_max != k.tested) {
			k.value = k.saturated_max;
			k.bound = KC_BOUND_SATURATED_MAX;
			/* As a search's capped bracket: upper is what the rung completed. */
			k.upper_capped = true;
			k.upper = k.saturated_max;
		}
	}
	/* The rungs' spacing bounds the answer, not the capped end. */
	if (k.found && k.upper_offered > 0)
		k.precision = (k.upper_offered - k.value) / k.value;
	if (!k.found)
		snprintf(k.diagnosis, sizeof(k.diagnosis), "no rung of the ladder was healthy%s",
			 k.end == KC_END_ALL_ERRORS ? ": every request failed" : "");
	else if (k.end == KC_END_MAX_REACHED)
		snprintf(k.diagnosis, sizeof(k.diagnosis),
			 "healthy at the top of the ladder (%.4g): the knee is at least that", k.value);
	else if (k.end == KC_END_GENERATOR_BOUND)
		snprintf(k.diagnosis, sizeof(k.diagnosis),
			 "the generator fell behind above %.4g: the knee is at least that; add shards",
			 k.value);
	*out = k;
}
