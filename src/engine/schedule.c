/*
 * schedule.c - arrival schedules and the RNG behind Poisson arrivals.
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

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void kc_rng_seed(struct kc_rng *rng, uint64_t seed)
{
	KC_ASSERT(rng);
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t kc_rng_next(struct kc_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double kc_rng_unit(struct kc_rng *rng)
{
	/* 53 random bits -> [0, 1), then flip to (0, 1] so -log(u) is finite. */
	double u = (double)(kc_rng_next(rng) >> 11) * 0x1.0p-53;
	return 1.0 - u;
}

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
		double per_slice = rate_rps / nslices;
		s->poisson_ns = -log(kc_rng_unit(&s->rng)) * 1e9 / per_slice;
	}
	return KC_OK;
}

static int64_t uniform_at(const struct kc_schedule *s, uint64_t k)
{
	/* Arrival index in the whole schedule, then its time from the index. */
	double idx = (double)s->slice + (double)k * (double)s->nslices;
	return s->start_ns + (int64_t)llround(idx * 1e9 / s->rate_rps);
}

int64_t kc_schedule_peek(const struct kc_schedule *s)
{
	if (s->arrival == KC_ARRIVAL_UNIFORM)
		return uniform_at(s, s->k);
	return s->start_ns + (int64_t)llround(s->poisson_ns);
}

int64_t kc_schedule_next(struct kc_schedule *s)
{
	int64_t t = kc_schedule_peek(s);
	s->k++;
	if (s->arrival == KC_ARRIVAL_POISSON) {
		double per_slice = s->rate_rps / s->nslices;
		s->poisson_ns += -log(kc_rng_unit(&s->rng)) * 1e9 / per_slice;
	}
	return t;
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
