/*
 * policy_kind.c - what apply.sh says differently for an inference
 * component or a serverless variant: the names its resource id is built
 * from, the policy's default name, and a component's scale from zero.
 *
 * Scale from zero (spec autoscaling.md §1.5, SageMaker DG "Scale an
 * endpoint to zero instances"): with no copy running there is no per-copy
 * metric for target tracking to act on and every request fails; SageMaker
 * counts those in NoCapacityInvocationFailures (AWS/SageMaker, dimension
 * InferenceComponentName).  A CloudWatch alarm on it drives a StepScaling
 * policy that adds one copy; target tracking takes over from there.
 */
#include "policy_int.h"

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/policy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kc_policy_name_label(const struct kc_recommendation *r)
{
	bool inv = r->metric == KC_METRIC_INVOCATIONS;
	if (r->kind == KC_RES_SERVERLESS)
		return "provisioned-concurrency";
	if (r->kind == KC_RES_COMPONENT)
		return inv ? "invocations-per-copy" : "concurrency-per-copy";
	return inv ? "invocations" : "concurrency";
}

const char *kc_policy_resource_words(enum kc_resource_kind k)
{
	return k == KC_RES_COMPONENT ? "inference component"
	       : k == KC_RES_SERVERLESS ? "serverless variant's provisioned concurrency"
	       : "variant";
}

static int assign(struct kc_buf *b, const char *var, const char *value)
{
	int rc = kc_buf_printf(b, "%s=", var);
	if (!rc)
		rc = kc_shell_quote(b, value);
	return rc;
}

int kc_policy_names_sh(const struct kc_recommend_cfg *c, struct kc_buf *b)
{
	if (c->kind == KC_RES_COMPONENT)
		return assign(b, "component", c->component);
	int rc;
	if (c->endpoint_name[0]) {
		rc = assign(b, "endpoint", c->endpoint_name);
		if (!rc)
			rc = kc_buf_puts(b, "\n");
	} else {
		rc = kc_buf_puts(b,
			"# No endpoint name was given to kneecap: set ENDPOINT_NAME.\n"
			"endpoint=\"${ENDPOINT_NAME:?set ENDPOINT_NAME to the SageMaker endpoint name}\"\n");
	}
	return rc ? rc : assign(b, "variant", c->variant);
}

json_t *kc_recommend_step_from_zero(const struct kc_recommend_cfg *c)
{
	/* Lower bound 0 with no upper bound: any breach of the alarm's
	 * threshold (one failed request) adds one copy. */
	return json_pack("{s:s, s:s, s:I, s:[{s:f, s:i}]}",
			 "AdjustmentType", "ChangeInCapacity",
			 "MetricAggregationType", "Maximum",
			 "Cooldown", (json_int_t)c->scale_out_cooldown_s,
			 "StepAdjustments", "MetricIntervalLowerBound", 0.0,
			 "ScalingAdjustment", 1);
}

/* The put-scaling-policy call whose PolicyARN the script keeps in $step_arn. */
static int step_policy_sh(const struct kc_recommend_cfg *c, struct kc_buf *b)
{
	char name[KC_POLICY_NAME_MAX];
	const char *base = c->policy_name[0] ? c->policy_name : "kneecap";
	/* PolicyName is at most 256 characters: room for the suffix. */
	snprintf(name, sizeof(name), "%.*s-scale-from-zero", 200, base);
	json_t *step = kc_recommend_step_from_zero(c);
	char *text = step ? json_dumps(step, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(step);
	if (!text)
		return KC_ENOMEM;
	int rc = kc_buf_puts(b,
		"\n# Scale from zero: with no copy running, requests fail and count in\n"
		"# NoCapacityInvocationFailures; this StepScaling policy adds one copy when\n"
		"# the alarm below fires, then the target-tracking policy takes over.\n"
		"step_arn=$(aws application-autoscaling put-scaling-policy");
	if (!rc)
		rc = kc_policy_opt_arg(b, "--policy-name", name);
	if (!rc)
		rc = kc_policy_common_args(b, c);
	if (!rc)
		rc = kc_policy_opt_arg(b, "--policy-type", "StepScaling");
	if (!rc)
		rc = kc_policy_opt_arg(b, "--step-scaling-policy-configuration", text);
	if (!rc)
		rc = kc_policy_opt_arg(b, "--query", "PolicyARN");
	if (!rc)
		rc = kc_policy_opt_arg(b, "--output", "text");
	if (!rc)
		rc = kc_buf_puts(b, ")\n: \"${step_arn:?put-scaling-policy returned no PolicyARN}\"\n");
	free(text);
	return rc;
}

int kc_policy_scale_from_zero_sh(const struct kc_recommend_cfg *c, struct kc_buf *b)
{
	int rc = step_policy_sh(c, b);
	if (!rc)
		rc = kc_buf_puts(b, "\naws cloudwatch put-metric-alarm"
				    " \\\n  --alarm-name \"kneecap-${component}-scale-from-zero\""
				    " \\\n  --alarm-actions \"$step_arn\"");
	static const char *const args[][2] = {
		{"--namespace", "AWS/SageMaker"},
		{"--metric-name", "NoCapacityInvocationFailures"},
		{"--statistic", "Maximum"},
		{"--period", "60"},
		{"--evaluation-periods", "1"},
		{"--datapoints-to-alarm", "1"},
		{"--threshold", "1"},
		{"--comparison-operator", "GreaterThanOrEqualToThreshold"},
		{"--treat-missing-data", "missing"},
	};
	if (!rc)
		rc = kc_buf_puts(b, " \\\n  --dimensions \"Name=InferenceComponentName,Value=${component}\"");
	for (size_t i = 0; !rc && i < sizeof(args) / sizeof(args[0]); i++)
		rc = kc_policy_opt_arg(b, args[i][0], args[i][1]);
	if (!rc && c->region[0])
		rc = kc_policy_opt_arg(b, "--region", c->region);
	if (!rc && c->profile[0])
		rc = kc_policy_opt_arg(b, "--profile", c->profile);
	return rc ? rc : kc_buf_puts(b, "\n");
}
