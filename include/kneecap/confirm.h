/*
 * confirm.h - the confirmation step of `find`: after the search, one step
 * at the recommended target, judged by the same verdict the search uses, so
 * the reader sees the latency the endpoint actually has at the TargetValue
 * it is told to apply, and a target that does not hold is never applied.
 *
 * Pure: the plan (which rate), the judgement and the words; the CLI runs
 * the step.  A confirmation step is not a search step: it never enters the
 * knee finder's series.
 */
#ifndef KNEECAP_CONFIRM_H
#define KNEECAP_CONFIRM_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "kneecap/knee.h"
#include "kneecap/recommend.h"
#include "kneecap/step.h"

struct kc_buf;

/* One confirmation: what was asked, what was measured, the verdict. */
struct kc_confirm {
	bool ran;                  /* a step was measured (false: planned only) */
	enum kc_metric metric;
	enum kc_resource_kind kind; /* what per_instance is per: instance, copy, ... */
	double target_value;       /* T, in the metric's units */
	double per_instance;       /* R: requests/second per instance at T */
	int instances;             /* instances behind the endpoint during the test */
	double offered;            /* R x instances: the rate the step offers */
	double arrived;            /* arrivals the schedule sent per second */
	double achieved;
	struct kc_latency latency; /* ms, from the intended send time */
	uint64_t errors;
	double duration_s;         /* measured window */
	struct kc_step_verdict v;
	bool healthy;              /* verdict healthy and the step valid (not generator-bound) */
};

/*
 * The requests/second per instance that rec's TargetValue stands for: T / 60
 * for SageMakerVariantInvocationsPerInstance (so the step runs exactly the
 * rounded figure that is applied), otherwise the target load.
 */
double kc_confirm_rate_per_instance(const struct kc_recommendation *rec);

/* Fills c's plan from rec and the instance count (< 1 counts as 1); clears the rest. */
void kc_confirm_plan(struct kc_confirm *c, const struct kc_recommendation *rec, int instances);

/*
 * Records step r into c and judges it with kc_knee_judge under h (the
 * search's own health configuration), so a confirmation and a search step
 * at the same figures get the same verdict.
 */
void kc_confirm_judge(struct kc_confirm *c, const struct kc_health_cfg *h,
		      const struct kc_step_result *r);


/*
 * The terminal line: "at TargetValue T (R RPS/instance): p50 .., p99 ..,
 * achieved .., errors .. measured -> verdict", plus, when unhealthy, why
 * the policy was not written.  Appends to b; returns 0 or KC_ENOMEM.
 */
int kc_confirm_describe(const struct kc_confirm *c, struct kc_buf *b);

#endif
