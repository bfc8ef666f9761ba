/*
 * schedule.h - arrival schedules for open-loop load: when each request is
 * meant to leave, independent of when earlier requests came back.
 *
 * A schedule is pure arithmetic on nanoseconds: no clock, no threads.  The
 * caller gives it a start time and asks for intended send times one by one.
 * Work is split between N workers by slicing: worker i of N takes the
 * uniform arrivals i, i+N, i+2N, ... (so N workers together keep exactly the
 * asked spacing), or for Poisson arrivals an independent Poisson process of
 * rate/N with its own seed (the superposition of independent Poisson
 * processes is a Poisson process of the summed rate).  kc_schedule_fix_counts
 * then fixes how many arrivals fall in given windows, timing still random.
 *
 * Poisson arrivals draw from kneecap/rng.h, deterministic for a seed, so
 * tests and reruns see the same arrivals.
 */
#ifndef KNEECAP_SCHEDULE_H
#define KNEECAP_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "kneecap/err.h"
#include "kneecap/rng.h"

enum kc_arrival {
	KC_ARRIVAL_UNIFORM, /* evenly spaced, 1/rate apart */
	KC_ARRIVAL_POISSON, /* exponential inter-arrival times, mean 1/rate */
};

/* Returns "uniform" or "poisson". */
const char *kc_arrival_name(enum kc_arrival a);

/* Parses "uniform" or "poisson". Returns 0 or KC_EPARSE (*out untouched). */
int kc_arrival_parse(const char *s, enum kc_arrival *out);

#define KC_SCHED_MAX_WINDOWS 4

struct kc_schedule {
	double rate_rps;       /* whole-schedule rate (all slices together) */
	enum kc_arrival arrival;
	int64_t start_ns;      /* time of arrival 0 of the whole schedule */
	uint32_t slice;        /* this slice's index, 0..nslices-1 */
	uint32_t nslices;
	uint64_t k;            /* arrivals this slice has produced */
	double poisson_v;      /* Poisson: virtual position of the next arrival */
	double rate_end_rps;   /* linear ramp: the rate at ramp_ns (0: constant) */
	int64_t ramp_ns;
	struct kc_rng rng;
	/* Poisson with fixed counts (kc_schedule_fix_counts): window i spans
	 * virtual positions [fix_v[i], fix_v[i+1]) and holds fix_cnt[i] of
	 * this slice's arrivals; fix_left of the current one are still due. */
	int fix_n, fix_win;
	double fix_v[KC_SCHED_MAX_WINDOWS + 1];
	uint64_t fix_cnt[KC_SCHED_MAX_WINDOWS];
	uint64_t fix_left;
};

/*
 * Prepares slice `slice` of `nslices` of a schedule of rate_rps arrivals per
 * second starting at start_ns.  rate_rps must be > 0 and finite; nslices >= 1
 * and slice < nslices.  Returns 0 or KC_EINVAL (s untouched).
 * Poisson slices draw from a stream seeded by (seed, slice).
 */
int kc_schedule_init(struct kc_schedule *s, double rate_rps,
		     enum kc_arrival arrival, uint64_t seed, int64_t start_ns,
		     uint32_t slice, uint32_t nslices);

/*
 * Returns the intended send time (ns, same clock as start_ns) of this
 * slice's next arrival and advances.  Times never decrease.  Uniform times
 * are computed from the arrival index, not accumulated, so they do not
 * drift over long runs.
 */
int64_t kc_schedule_next(struct kc_schedule *s);

/* Returns the time kc_schedule_next would return, without advancing. */
int64_t kc_schedule_peek(const struct kc_schedule *s);

/*
 * Makes an initialized schedule a linear ramp: the rate goes from its
 * rate_rps at start_ns to rate_end_rps at start_ns + ramp_ns and stays
 * there after.  Uniform arrivals keep exact spacing for the instantaneous
 * rate; Poisson arrivals become a non-homogeneous Poisson process (by time
 * change: unit-rate events mapped through the inverse cumulative rate).
 * Call before the first kc_schedule_next and kc_schedule_fix_counts.
 * rate_end_rps > 0, ramp_ns > 0.  Returns 0 or KC_EINVAL (s untouched).
 */
int kc_schedule_set_linear(struct kc_schedule *s, double rate_end_rps, int64_t ramp_ns);

/*
 * Fixes how many Poisson arrivals fall in each window [bounds_ns[i],
 * bounds_ns[i+1]) from the start (bounds_ns[0] = 0, ascending, at most
 * KC_SCHED_MAX_WINDOWS windows): all slices together get each window's
 * expected count, rounded, shared between slices as uniform arrivals are;
 * within a window a slice's arrivals are placed as that many
 * independent draws from the rate (Poisson timing given the count).  After
 * the last bound arrivals are Poisson again.  So a window's offered load is
 * the asked rate, not a Poisson count's +-1/sqrt(n).  Uniform schedules are
 * exact already (no change).  Call after kc_schedule_set_linear, before the
 * first kc_schedule_next.  Returns 0 or KC_EINVAL (s untouched).
 */
int kc_schedule_fix_counts(struct kc_schedule *s, const int64_t *bounds_ns, int nbounds);

/*
 * Mean offered rate (rps) of a schedule with these parameters over
 * [from_ns, to_ns] measured from its start (constant when rate_end_rps or
 * ramp_ns is 0).
 */
double kc_schedule_mean_rate(double rate_rps, double rate_end_rps, int64_t ramp_ns,
			     int64_t from_ns, int64_t to_ns);

/*
 * A stepped ramp A:B:STEP, e.g. "10:200:10" = 10, 20, ..., 200 (B included
 * when it lies on the grid; a last step never exceeds B).
 */
#define KC_RAMP_MAX_STEPS 10000

struct kc_ramp {
	double from, to, step;
	size_t nsteps;
};

/*
 * Parses "A:B:STEP" with A > 0, B >= A, STEP > 0 and at most
 * KC_RAMP_MAX_STEPS steps.  Returns 0, KC_EPARSE or KC_EINVAL with a
 * one-line reason in d; *out untouched on failure.
 */
int kc_ramp_parse(const char *s, struct kc_ramp *out, struct kc_diag *d);

/* The offered load of step i (0-based, i < nsteps). */
double kc_ramp_value(const struct kc_ramp *r, size_t i);

#endif
