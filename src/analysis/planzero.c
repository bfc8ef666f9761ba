/*
 * planzero.c - scale to zero over a traffic shape (planzero.h).
 *
 * A three-state machine per second: ACTIVE (at least one copy), ZERO (none,
 * nothing billed), WAKING (a request found no copy: the alarm, then the
 * copy's provisioning).  Invariant: a request is served only in ACTIVE;
 * every arrival in WAKING fails, as SageMaker answers while no capacity
 * exists (S6, B1).  The copy is billed from when the step policy requests
 * it (detect_s into WAKING), as the main planner bills instances.
 */
#include "kneecap/planzero.h"

#include "kneecap/err.h"

#include <string.h>

#define DAY 86400

enum zstate { Z_ACTIVE, Z_ZERO, Z_WAKING };

struct zsim {
	enum zstate st;
	int64_t idle_s;    /* consecutive seconds without arrivals (ACTIVE) */
	int64_t wake_at;   /* WAKING: the first failed request */
};

static void zstep(const struct kc_plan_zero_input *in, struct zsim *z, int64_t t,
		  struct kc_plan_zero *out)
{
	double rate = kc_traffic_rate_at(in->traffic, (double)(t % DAY));
	switch (z->st) {
	case Z_ACTIVE:
		z->idle_s = rate > 0 ? 0 : z->idle_s + 1;
		if (z->idle_s > in->idle_to_zero_s) /* gone after that many idle seconds */
			z->st = Z_ZERO;
		break;
	case Z_ZERO:
		if (rate > 0) {
			z->st = Z_WAKING;
			z->wake_at = t;
			if (out)
				out->wakes++;
		}
		break;
	case Z_WAKING:
		break;
	}
	if (out)
		out->arrived += rate;
	if (z->st == Z_ZERO && out)
		out->zero_s++;
	if (z->st != Z_WAKING)
		return;
	int64_t in_wake = t - z->wake_at;
	if (out) {
		out->failed += rate;
		out->cold_s++;
		if (in_wake + 1 > out->worst_cold_s)
			out->worst_cold_s = in_wake + 1;
		if (in_wake < in->detect_s)
			out->zero_s++; /* no copy requested yet: nothing billed */
	}
	if (in_wake + 1 >= in->detect_s + in->provision_s) {
		z->st = Z_ACTIVE;
		z->idle_s = 0;
	}
}

int kc_plan_zero_simulate(const struct kc_plan_zero_input *in, struct kc_plan_zero *out,
			  struct kc_diag *d)
{
	if (!in->traffic)
		return kc_diag_set(d, KC_EINVAL, "no traffic shape");
	if (in->idle_to_zero_s < 1 || in->idle_to_zero_s > DAY || in->detect_s < 0 ||
	    in->detect_s > 3600 || in->provision_s < 0 || in->provision_s > 7200)
		return kc_diag_set(d, KC_EINVAL, "a scale-to-zero model assumption is out of range");
	struct zsim z = {Z_ACTIVE, 0, 0};
	struct kc_plan_zero r;
	memset(&r, 0, sizeof(r));
	for (int64_t t = 0; t < DAY; t++)
		zstep(in, &z, t, NULL);
	for (int64_t t = DAY; t < 2 * DAY; t++)
		zstep(in, &z, t, &r);
	r.saved_copy_hours = (double)r.zero_s / 3600.0;
	r.saved_usd_per_day = in->usd_per_copy_hour >= 0 ? r.saved_copy_hours * in->usd_per_copy_hour
							 : -1;
	*out = r;
	return KC_OK;
}
