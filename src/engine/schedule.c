/*
 * schedule.c - arrival schedules (Poisson ones draw from kneecap/rng.h).
 *
 * Pure arithmetic: this file never reads a clock.  The invariant is that a
 * slice's times never decrease and that, for uniform arrivals, N slices
 * together produce exactly the arrivals k/rate for k = 0, 1, 2, ... with no
 * accumulated rounding drift (each time is computed from its index).
 */
#include "kneecap/schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kneecap/clock.h"
#include "kneecap/parse.h"

const char *kc_arrival_name(enum kc_arrival a)
{
	return a == KC_ARRIVAL_POISSON ? "poisson" : "uniform";
}

int kc_arrival_parse(const char *s, enum kc_arrival *out)
{
	if (!s)
		return KC_EPARSE;
	if (!strcasecmp(s, "uniform") || !strcasecmp(s, "constant")) {
		*out = KC_ARRIVAL_UNIFORM;
		return KC_OK;
	}
	if (!strcasecmp(s, "poisson")) {
		*out = KC_ARRIVAL_POISSON;
		return KC_OK;
	}
	return KC_EPARSE;
}

int kc_schedule_init(struct kc_schedule *s, double rate_rps,
		     enum kc_arrival arrival, uint64_t seed, int64_t start_ns,
		     uint32_t slice, uint32_t nslices)
{
	if (!s || !(rate_rps > 0) || !isfinite(rate_rps) || rate_rps > 1e9 ||
	    nslices == 0 || slice >= nslices)
		return KC_EINVAL;
	if (arrival != KC_ARRIVAL_UNIFORM && arrival != KC_ARRIVAL_POISSON)
		return KC_EINVAL;
	memset(s, 0, sizeof(*s));
	s->rate_rps = rate_rps;
	s->arrival = arrival;
	s->start_ns = start_ns;
	s->slice = slice;
	s->nslices = nslices;
	/* Distinct, reproducible streams per slice: mix the slice into the seed. */
	kc_rng_seed(&s->rng, seed ^ (UINT64_C(0xd1b54a32d192ed03) * (slice + 1)));
	if (arrival == KC_ARRIVAL_POISSON) {
		/* The first arrival is itself one exponential gap after start. */
		s->poisson_v = -log(kc_rng_unit(&s->rng)) * nslices;
	}
	return KC_OK;
}

int kc_schedule_set_linear(struct kc_schedule *s, double rate_end_rps, int64_t ramp_ns)
{
	if (!s || !(rate_end_rps > 0) || !isfinite(rate_end_rps) || rate_end_rps > 1e9 ||
	    ramp_ns <= 0 || s->k != 0 || s->fix_n > 0)
		return KC_EINVAL;
	s->rate_end_rps = rate_end_rps;
	s->ramp_ns = ramp_ns;
	return KC_OK;
}

/*
 * Every arrival has a virtual position v in the whole schedule's arrival
 * count: its index for uniform arrivals, a unit-rate Poisson event times
 * nslices for Poisson ones.  Its time is the t where the cumulative rate
 * N(t) reaches v.  Constant: N(t) = r t.  Linear over T: N(t) = r0 t +
 * (r1 - r0) t^2 / 2T up to T, then N(T) + r1 (t - T).
 */
static int64_t time_of(const struct kc_schedule *s, double v)
{
	double r0 = s->rate_rps;
	if (s->ramp_ns <= 0)
		return s->start_ns + (int64_t)llround(v * 1e9 / r0);
	double r1 = s->rate_end_rps, T = (double)s->ramp_ns / 1e9;
	double nT = (r0 + r1) * T / 2;
	double t;
	if (v <= nT) {
		double a = (r1 - r0) / (2 * T);
		/* Root of a t^2 + r0 t - v = 0 in the form that does not cancel. */
		t = 2 * v / (r0 + sqrt(r0 * r0 + 4 * a * v));
	} else {
		t = T + (v - nT) / r1;
	}
	return s->start_ns + (int64_t)llround(t * 1e9);
}

/* The cumulative rate N(t) at t_ns from the start: time_of's inverse. */
static double count_at(const struct kc_schedule *s, int64_t t_ns)
{
	double t = (double)t_ns / 1e9, r0 = s->rate_rps;
	if (s->ramp_ns <= 0)
		return r0 * t;
	double r1 = s->rate_end_rps, T = (double)s->ramp_ns / 1e9;
	if (t <= T)
		return r0 * t + (r1 - r0) * t * t / (2 * T);
	return (r0 + r1) * T / 2 + r1 * (t - T);
}

/* Arrivals k in [0, K) with k = slice mod nslices: the uniform share. */
static uint64_t share(uint64_t K, uint32_t slice, uint32_t n)
{
	return K > slice ? (K - slice + n - 1) / n : 0;
}

/*
 * Sets poisson_v to this slice's next position after `from`.  In a window
 * with m arrivals left, the next is the least of m uniform draws over the
 * rest of it: from + (end - from)(1 - U^(1/m)), the order statistics of
 * a Poisson process given its count, drawn in order.
 */
static void draw(struct kc_schedule *s, double from)
{
	while (s->fix_win < s->fix_n) {
		if (s->fix_left > 0) {
			double end = s->fix_v[s->fix_win + 1];
			double u = kc_rng_unit(&s->rng);
			double v = from - (end - from) * expm1(log(u) / (double)s->fix_left);
			s->poisson_v = fmin(fmax(v, from), end); /* an ulp's rounding */
			s->fix_left--;
			return;
		}
		from = s->fix_v[++s->fix_win];
		if (s->fix_win < s->fix_n)
			s->fix_left = s->fix_cnt[s->fix_win];
	}
	s->poisson_v = from - log(kc_rng_unit(&s->rng)) * s->nslices;
}

int kc_schedule_fix_counts(struct kc_schedule *s, const int64_t *bounds_ns, int nbounds)
{
	if (!s || !bounds_ns || nbounds < 2 || nbounds > KC_SCHED_MAX_WINDOWS + 1 ||
	    bounds_ns[0] != 0 || s->k != 0)
		return KC_EINVAL;
	for (int i = 1; i < nbounds; i++)
		if (bounds_ns[i] <= bounds_ns[i - 1])
			return KC_EINVAL;
	if (s->arrival != KC_ARRIVAL_POISSON)
		return KC_OK;
	/* Each window's own expectation rounded (the window is what a step
	 * measures), numbered on from the windows before it so that the
	 * slices' shares add up to it exactly. */
	uint64_t K = 0;
	s->fix_v[0] = 0.0;
	for (int i = 1; i < nbounds; i++) {
		s->fix_v[i] = count_at(s, bounds_ns[i]);
		uint64_t m = (uint64_t)llround(s->fix_v[i] - s->fix_v[i - 1]);
		s->fix_cnt[i - 1] = share(K + m, s->slice, s->nslices) - share(K, s->slice, s->nslices);
		K += m;
	}
	s->fix_n = nbounds - 1;
	s->fix_win = 0;
	s->fix_left = s->fix_cnt[0];
	draw(s, 0.0);
	return KC_OK;
}

int64_t kc_schedule_peek(const struct kc_schedule *s)
{
	if (s->arrival == KC_ARRIVAL_UNIFORM)
		return time_of(s, (double)s->slice + (double)s->k * (double)s->nslices);
	return time_of(s, s->poisson_v);
}

int64_t kc_schedule_next(struct kc_schedule *s)
{
	int64_t t = kc_schedule_peek(s);
	s->k++;
	if (s->arrival == KC_ARRIVAL_POISSON)
		draw(s, s->poisson_v);
	return t;
}

double kc_schedule_mean_rate(double rate_rps, double rate_end_rps, int64_t ramp_ns,
			     int64_t from_ns, int64_t to_ns)
{
	if (rate_end_rps <= 0 || ramp_ns <= 0 || to_ns <= from_ns)
		return rate_rps;
	/* Integral of the piecewise-linear rate over [from, to], divided by its length. */
	double T = (double)ramp_ns / 1e9, a = (double)from_ns / 1e9, b = (double)to_ns / 1e9;
	double slope = (rate_end_rps - rate_rps) / T;
	double area = 0;
	double lo = a, hi = b < T ? b : T;
	if (hi > lo)
		area += rate_rps * (hi - lo) + slope * (hi * hi - lo * lo) / 2;
	lo = a > T ? a : T;
	if (b > lo)
		area += rate_end_rps * (b - lo);
	return area / (b - a);
}

int kc_ramp_parse(const char *s, struct kc_ramp *out, struct kc_diag *d)
{
	char tmp[128];
	if (!s || strlen(s) >= sizeof(tmp))
		return kc_diag_set(d, KC_EPARSE, "ramp: expected A:B:STEP, e.g. 10:200:10");
	memcpy(tmp, s, strlen(s) + 1);
	char *c1 = strchr(tmp, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || strchr(c2 + 1, ':'))
		return kc_diag_set(d, KC_EPARSE, "ramp '%s': expected A:B:STEP, e.g. 10:200:10", s);
	*c1 = *c2 = '\0';
	double a, b, st;
	if (kc_parse_double(tmp, 0, 1e9, &a) || kc_parse_double(c1 + 1, 0, 1e9, &b) ||
	    kc_parse_double(c2 + 1, 0, 1e9, &st))
		return kc_diag_set(d, KC_EPARSE, "ramp '%s': A, B and STEP must be numbers in 0..1e9", s);
	if (!(a > 0) || !(st > 0))
		return kc_diag_set(d, KC_EINVAL, "ramp '%s': A and STEP must be > 0", s);
	if (b < a)
		return kc_diag_set(d, KC_EINVAL, "ramp '%s': B must be >= A", s);
	/* Small epsilon so 0.1:0.3:0.1 includes 0.3 despite binary rounding. */
	double n = floor((b - a) / st + 1e-9) + 1;
	if (n > KC_RAMP_MAX_STEPS)
		return kc_diag_set(d, KC_EINVAL, "ramp '%s': %.0f steps, at most %d", s, n,
				   KC_RAMP_MAX_STEPS);
	out->from = a;
	out->to = b;
	out->step = st;
	out->nsteps = (size_t)n;
	return KC_OK;
}

double kc_ramp_value(const struct kc_ramp *r, size_t i)
{
	KC_ASSERT(i < r->nsteps);
	double v = r->from + (double)i * r->step;
	return v > r->to ? r->to : v;
}
