/*
 * pools.h - mixed instance pools: a SageMaker variant whose InstancePools
 * list up to five instance types by priority (SageMaker provisions from the
 * first and falls back to the next when capacity is short).  Each pool's
 * knee is measured separately (one `kneecap find` per instance type); from
 * them this module derives the capacity weights of a weighted target and
 * simulates target tracking while new instances come from the fallback.
 *
 * Why weights: SageMakerVariantInvocationsPerInstance divides by the number
 * of instances, whatever their type, so a target derived from the first
 * pool's knee overloads a fleet made of slower fallback instances.  Counted
 * in first-pool equivalents (weight = knee / first pool's knee), the same
 * target means the same fraction of the knee on every pool.
 *
 * Pure computation: no I/O, clocks or threads; deterministic.
 */
#ifndef KNEECAP_POOLS_H
#define KNEECAP_POOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/plan.h"
#include "kneecap/traffic.h"

struct kc_diag;

#define KC_POOLS_MAX 5    /* InstancePoolList: 1..5 pools, Priority 1..5 */

struct kc_pool {
	char instance_type[64];  /* "ml.g6.2xlarge" */
	double knee_rps;         /* knee per instance, requests/second (> 0) */
	double weight;           /* knee_rps / the first pool's knee_rps */
	int available;           /* instances SageMaker can get from it; -1 = no limit */
};

/* The pools in priority order: pool[0] has Priority 1. */
struct kc_pools {
	size_t n;
	struct kc_pool pool[KC_POOLS_MAX];
};

/*
 * Appends a pool (next priority) with its per-instance knee and no
 * availability limit, and recomputes every weight against pool[0].
 * Returns 0 or KC_EINVAL (more than five pools, a repeated or empty type,
 * a knee <= 0; d says which).
 */
int kc_pools_add(struct kc_pools *p, const char *instance_type, double knee_rps,
		 struct kc_diag *d);

/* The pool of that instance type, or -1. */
int kc_pools_find(const struct kc_pools *p, const char *instance_type);

/* sum of counts[i] x weight[i]: the fleet in first-pool equivalents. */
double kc_pools_weighted_count(const struct kc_pools *p, const int *counts);

/* Which metric the simulated policy tracks. */
enum kc_pools_policy {
	/* SageMakerVariantInvocationsPerInstance: invocations / instances. */
	KC_POOLS_UNWEIGHTED,
	/* invocations / capacity-weighted instance count (metric math). */
	KC_POOLS_WEIGHTED,
};

struct kc_pools_sim_in {
	const struct kc_traffic *traffic;  /* borrowed */
	const struct kc_pools *pools;      /* borrowed */
	double target_rps;   /* per first-pool instance (TargetValue / 60), > 0 */
	int min_cap, max_cap;
};

/* What one simulated day (the second of two) did to each pool. */
struct kc_pools_sim_out {
	int peak_instances[KC_POOLS_MAX];  /* most in service at once */
	int end_instances[KC_POOLS_MAX];   /* in service at the end of the day */
	/* Offered load per instance as a fraction of the pool's own knee:
	 * the worst second, and the mean over seconds the pool had instances. */
	double worst_load[KC_POOLS_MAX];
	double mean_load[KC_POOLS_MAX];
	int64_t over_knee_s[KC_POOLS_MAX]; /* seconds above its knee while in service */
	int64_t unavailable_s;   /* seconds the policy wanted capacity no pool had */
	double worst_queue;      /* requests */
	double failed;           /* requests that waited past the model's timeout */
	double arrived;
	double instance_hours;
};

/*
 * Simulates two days in one-second steps with the standard-metric model m
 * (period, publication lag, alarm datapoints, cooldowns, provisioning,
 * timeout: plan.h) and reports the second.  New instances come from the
 * highest-priority pool with availability left; scale-in removes pending
 * instances, then the lowest-priority pool's first.  Requests are routed in
 * proportion to capacity (LEAST_OUTSTANDING_REQUESTS), so every instance
 * carries the same fraction of its own knee; arrivals above the fleet's
 * capacity queue and fail after m->timeout_s.  Desired capacity follows
 * target tracking: ceil(instances x metric / target).
 * Returns 0, KC_EINVAL (d says which input) or KC_ENOMEM (d says so).
 */
int kc_pools_simulate(const struct kc_pools_sim_in *in, enum kc_pools_policy policy,
		      const struct kc_plan_model *m, struct kc_pools_sim_out *out,
		      struct kc_diag *d);

#endif
