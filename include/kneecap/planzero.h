/*
 * planzero.h - what scaling an inference component to zero costs and saves
 * over a traffic shape (spec autoscaling.md §1.5, §3): with MinCapacity 0
 * target tracking removes the last copy once the traffic has been zero for
 * its scale-in window; the next request finds no copy and fails
 * (NoCapacityInvocationFailures), the alarm on that metric fires the
 * StepScaling policy one period and the publication lag later, and a copy
 * (with its instance, under ManagedInstanceScaling) is InService after the
 * provisioning delay.  Every request arriving meanwhile fails.
 *
 * Pure computation beside the target-tracking simulation (plan.h), which
 * keeps MinCapacity >= 1; deterministic, no I/O.
 */
#ifndef KNEECAP_PLANZERO_H
#define KNEECAP_PLANZERO_H

#include <stdint.h>

#include "kneecap/traffic.h"

struct kc_diag;

struct kc_plan_zero_input {
	const struct kc_traffic *traffic; /* borrowed */
	int64_t idle_to_zero_s;  /* zero traffic this long and the last copy is gone */
	int64_t detect_s;        /* first failed request -> step policy acts */
	int64_t provision_s;     /* the copy requested -> InService */
	double usd_per_copy_hour; /* < 0 = unknown */
};

/* Day two of two simulated days (state warm from day one). */
struct kc_plan_zero {
	int wakes;               /* scale-outs from zero */
	double failed;           /* requests failed while no copy was InService */
	int64_t cold_s;          /* seconds from the first failed request to a copy InService, summed */
	int64_t worst_cold_s;    /* the longest such wait */
	int64_t zero_s;          /* seconds no copy was billed */
	double saved_copy_hours; /* against MinCapacity 1: a copy kept through those seconds */
	double saved_usd_per_day; /* < 0 when the price is unknown */
	double arrived;          /* requests over the day */
};

/*
 * Simulates in one-second steps.  Returns 0, or KC_EINVAL (d says which
 * input is out of range).  *out untouched on failure.
 */
int kc_plan_zero_simulate(const struct kc_plan_zero_input *in, struct kc_plan_zero *out,
			  struct kc_diag *d);

#endif
