/*
 * plan_component.h - what `kneecap plan` does beyond an instance-based
 * variant: a result measured on an inference component plans copies (the
 * knee and the target are per copy, instances under them by
 * --copies-per-instance where ManagedInstanceScaling adds instances for
 * copies), and --min 0 lets the component scale to zero: the target
 * tracking simulation keeps one copy, the scale-to-zero model (planzero.h)
 * says what the idle hours save and what waking costs, and apply.sh gets
 * MinCapacity 0 with the StepScaling policy and its alarm.
 */
#ifndef KNEECAP_CLI_PLAN_COMPONENT_H
#define KNEECAP_CLI_PLAN_COMPONENT_H

#include <stdbool.h>

#include "kneecap/plan.h"
#include "kneecap/recommend.h"
#include "kneecap/resultdoc.h"

struct kc_buf;

struct plan_component {
	bool component;          /* the result is an inference component's */
	bool zero;               /* --min 0 */
	int copies_per_instance; /* >= 1 */
	char name[64];
};

/*
 * Reads the result's kind and the flags: --min 0 (*v_min is then "1" for
 * the target-tracking simulation, which keeps a copy) and
 * --copies-per-instance.  Returns 0, or -1 after printing why.
 */
int plan_component_configure(struct plan_component *pc, const struct kc_resultdoc *doc,
			     const char **v_min, const char *v_cpi);

/* A component's unit is a copy: the instance price over copies per
 * instance (unknown stays unknown). */
void plan_component_price(const struct plan_component *pc, double *usd_per_hour);

/* The component's resource, and MinCapacity 0 when scaling to zero, in c/r. */
void plan_component_apply_cfg(const struct plan_component *pc, struct kc_recommend_cfg *c,
			      struct kc_recommendation *r);

/* A scheduled action's MinCapacity in apply.sh: 0 where the baseline is
 * restored (the action named "relax", or one at the plan's Min) and the
 * component scales to zero; else action_min. */
int plan_component_sched_min(const struct plan_component *pc, int plan_min, const char *name,
			     int action_min);

/*
 * Appends the component's words to out: copies and the instances under
 * them at the simulated peak (run), and with --min 0 the scale-to-zero
 * model's failed requests, cold-start seconds and saving per day.
 * Returns 0, or -1 after printing why.
 */
int plan_component_text(const struct plan_component *pc, const struct kc_plan_input *in,
			const struct kc_plan_model *std, const struct kc_plan_run *run,
			struct kc_buf *out);

#endif
