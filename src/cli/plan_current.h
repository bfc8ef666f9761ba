/*
 * plan_current.h - `plan --current-policy METRIC=TARGET`: the team's own
 * target-tracking policy simulated on the same traffic shape, Min/Max and
 * alarm model as the recommended one, so its failed requests, queueing and
 * cost per day sit beside the recommendation's.
 */
#ifndef KNEECAP_CLI_PLAN_CURRENT_H
#define KNEECAP_CLI_PLAN_CURRENT_H
#include <stddef.h>
#include <stdio.h>
#include "kneecap/plan.h"
#include "kneecap/resultdoc.h"

/*
 * Simulates spec over in (reactive only, no scheduled actions) into *run
 * and names it in name[namesz].  InvocationsPerInstance needs nothing more;
 * a utilisation (CPUUtilization, GPUUtilization, ...) needs result.json's
 * signal table (find on a sagemaker: target): its value at the knee sets
 * the load at which it reaches TARGET, proportionally below the knee, and
 * it never passes that value since the instance serves no more.  Returns 0,
 * or KC_EINVAL / KC_ENOTFOUND / KC_ENOMEM with d saying why.
 */
int plan_current_simulate(const char *spec, const char *result_path,
			  const struct kc_resultdoc *doc, const struct kc_plan_input *in,
			  const struct kc_plan_model *std, struct kc_plan_run *run, char *name,
			  size_t namesz, struct kc_diag *d);
struct kc_plan_view;
/* One line: the current policy (the view's last run) beside the recommended
 * policy (the pre-warmed standard-metric run): failed requests, queueing,
 * cost per day. */
void plan_current_compare(FILE *f, const struct kc_plan_view *v);
#endif
