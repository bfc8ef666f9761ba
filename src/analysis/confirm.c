/*
 * confirm.c - the confirmation step's plan, judgement and words (see
 * kneecap/confirm.h).  The verdict is kc_knee_judge itself: a second
 * definition of "healthy" here could pass a target the search would fail.
 */
#include "kneecap/confirm.h"

#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"

double kc_confirm_rate_per_instance(const struct kc_recommendation *rec)
{
	/* Serverless: TargetValue is a utilization, not a rate. */
	if (rec->metric == KC_METRIC_INVOCATIONS && rec->kind != KC_RES_SERVERLESS &&
	    rec->target_value > 0)
		return rec->target_value / 60.0;
	return rec->target_load;
}

void kc_confirm_plan(struct kc_confirm *c, const struct kc_recommendation *rec, int instances)
{
	memset(c, 0, sizeof(*c));
	c->metric = rec->metric;
	c->kind = rec->kind;
	c->target_value = rec->target_value;
	c->per_instance = kc_confirm_rate_per_instance(rec);
	c->instances = instances < 1 ? 1 : instances;
	c->offered = c->per_instance * c->instances;
	c->v.verdict = KC_VERDICT_HEALTHY;
}

void kc_confirm_judge(struct kc_confirm *c, const struct kc_health_cfg *h,
		      const struct kc_step_result *r)
{
	c->ran = true;
	c->arrived = kc_step_arrived(r);
	c->achieved = r->achieved;
	c->latency = r->latency;
	c->errors = r->errors;
	c->duration_s = (double)r->duration_ns / 1e9;
	kc_knee_judge(h, r, &c->v);
	c->healthy = c->v.valid && c->v.verdict == KC_VERDICT_HEALTHY;
}

int kc_confirm_describe(const struct kc_confirm *c, struct kc_buf *b)
{
	/* Per copy for a component (per unit of concurrency for serverless). */
	const char *one = c->kind == KC_RES_VARIANT ? "instance" : kc_resource_unit(c->kind);
	const char *many = c->kind == KC_RES_COMPONENT ? "copies"
			   : c->kind == KC_RES_SERVERLESS ? "concurrency" : "instances";
	int rc = kc_buf_printf(
		b, "confirmation: at TargetValue %.*f (%.2f RPS/%s", c->target_value < 100 ? 1 : 0,
		c->target_value, c->per_instance, one);
	if (!rc && c->instances > 1)
		rc = kc_buf_printf(b, " x %d %s = %.2f RPS", c->instances, many, c->offered);
	if (!rc)
		rc = kc_buf_printf(b, "): p50 %.1f ms, p99 %.1f ms, achieved %.*f of %.*f arrived/s, "
				      "%llu errors measured over %.0f s -> %s\n",
				   c->latency.p50, c->latency.p99, kc_rate_decimals(c->achieved),
				   kc_rate_figure(c->achieved), kc_rate_decimals(c->arrived),
				   kc_rate_figure(c->arrived), (unsigned long long)c->errors,
				   c->duration_s, kc_verdict_name(c->v.verdict));
	if (!rc && !c->healthy)
		rc = kc_buf_printf(b, "confirmation FAILED: the endpoint did not hold the recommended "
				      "target (%s%s); no scaling-policy.json or apply.sh written\n",
				   kc_verdict_name(c->v.verdict),
				   c->v.valid ? "" : ", the load generator fell behind");
	return rc ? KC_ENOMEM : KC_OK;
}
