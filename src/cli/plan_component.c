/*
 * plan_component.c - `kneecap plan` for an inference component: copies as
 * the unit of capacity, instances under them, and scale to zero
 * (plan_component.h).
 */
#include "plan_component.h"
#include "cli.h"

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/planzero.h"
#include "kneecap/sagemaker.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int plan_component_configure(struct plan_component *pc, const struct kc_resultdoc *doc,
			     const char **v_min, const char *v_cpi)
{
	memset(pc, 0, sizeof(*pc));
	pc->copies_per_instance = 1;
	pc->component = !strcmp(doc->endpoint_kind, "component") &&
			kc_sagemaker_name_valid(doc->inference_component);
	if (pc->component)
		snprintf(pc->name, sizeof(pc->name), "%s", doc->inference_component);
	if (v_cpi) {
		int64_t n;
		if (kc_parse_i64(v_cpi, 1, 1000, &n)) {
			cli_error("plan: --copies-per-instance '%s' must be 1..1000", v_cpi);
			return -1;
		}
		pc->copies_per_instance = (int)n;
	}
	if (*v_min && !strcmp(*v_min, "0")) {
		if (!pc->component) {
			cli_error("plan: --min 0: only an inference component scales to zero (%s is "
				  "an instance-based variant's result)", doc->path);
			return -1;
		}
		pc->zero = true;
		*v_min = "1"; /* target tracking between 1 and Max; zero is modelled apart */
	}
	return 0;
}

void plan_component_price(const struct plan_component *pc, double *usd_per_hour)
{
	if (pc->component && *usd_per_hour >= 0)
		*usd_per_hour /= pc->copies_per_instance;
}

void plan_component_apply_cfg(const struct plan_component *pc, struct kc_recommend_cfg *c,
			      struct kc_recommendation *r)
{
	if (!pc->component)
		return;
	c->kind = r->kind = KC_RES_COMPONENT;
	snprintf(c->component, sizeof(c->component), "%s", pc->name);
	if (pc->zero)
		c->min_capacity = 0;
}

static int zero_text(const struct plan_component *pc, const struct kc_plan_input *in,
		     const struct kc_plan_model *std, struct kc_buf *out)
{
	struct kc_plan_zero_input zi = {
		.traffic = in->traffic,
		/* Target tracking's scale-in: low datapoints of zero, published. */
		.idle_to_zero_s = std->low_datapoints * std->period_s + std->publish_lag_s,
		/* The NoCapacityInvocationFailures alarm: one 60 s period, published. */
		.detect_s = 60 + std->publish_lag_s,
		.provision_s = std->provision_s,
		.usd_per_copy_hour = in->price_usd_per_hour, /* per copy already */
	};
	struct kc_plan_zero z;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_plan_zero_simulate(&zi, &z, &d)) {
		cli_diag_error("plan: scale to zero", &d);
		return -1;
	}
	char usd[64] = "price unknown";
	if (z.saved_usd_per_day >= 0)
		snprintf(usd, sizeof(usd), "%.2f USD/day", z.saved_usd_per_day);
	return kc_buf_printf(out,
		"scale to zero (MinCapacity 0): no copy for %.2f h/day (%s saved against Min 1); "
		"%d wake%s/day, each %lld s from the first failed request to a copy InService "
		"(alarm %lld s + provisioning %lld s), %lld cold-start s/day in all; %.0f of %.0f "
		"requests/day fail meanwhile (%.3f%%, NoCapacityInvocationFailures).  Model "
		"assumptions: zero after %lld s without traffic.\n",
		z.saved_copy_hours, usd, z.wakes, z.wakes == 1 ? "" : "s",
		(long long)z.worst_cold_s, (long long)zi.detect_s, (long long)zi.provision_s,
		(long long)z.cold_s, z.failed, z.arrived,
		z.arrived > 0 ? 100.0 * z.failed / z.arrived : 0.0,
		(long long)zi.idle_to_zero_s) ? -1 : 0;
}

int plan_component_text(const struct plan_component *pc, const struct kc_plan_input *in,
			const struct kc_plan_model *std, const struct kc_plan_run *run,
			struct kc_buf *out)
{
	if (!pc->component)
		return 0;
	int inst = (run->max_desired + pc->copies_per_instance - 1) / pc->copies_per_instance;
	if (kc_buf_printf(out,
		"inference component %s: the plan's capacity unit is a copy (%.4g RPS per copy "
		"at the knee, target %.4g); at most %d cop%s, %d instance%s under them at %d "
		"cop%s per instance (ManagedInstanceScaling).\n",
		pc->name, in->ceiling_rps, in->target_rps, run->max_desired,
		run->max_desired == 1 ? "y" : "ies", inst, inst == 1 ? "" : "s",
		pc->copies_per_instance, pc->copies_per_instance == 1 ? "y" : "ies"))
		return -1;
	return pc->zero ? zero_text(pc, in, std, out) : 0;
}

int plan_component_sched_min(const struct plan_component *pc, int plan_min, const char *name,
			     int action_min)
{
	/* The action that restores the baseline (the planner's "relax", or
	 * one back to the plan's Min) restores zero, not the one copy the
	 * target-tracking simulation keeps. */
	return pc->zero && (action_min <= plan_min || !strcmp(name, "relax")) ? 0 : action_min;
}
