/*
 * policy.c - the files a team applies with the AWS CLI: scaling-policy.json
 * (the target-tracking configuration) and apply.sh (register the scalable
 * target, put the policy, scheduled actions).
 *
 * Invariant: every value placed in apply.sh is a single-quoted shell word.
 */
#include "kneecap/policy.h"
#include "policy_int.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scaling-policy.json -------------------------------------------- */

json_t *kc_recommend_policy(const struct kc_recommend_cfg *c,
			    const struct kc_recommendation *r)
{
	json_t *spec = json_pack("{s:s}", "PredefinedMetricType", kc_rec_metric_name(r));
	if (!spec)
		return NULL;
	json_t *p = json_pack("{s:f, s:o, s:I, s:I}",
			      "TargetValue", r->target_value,
			      "PredefinedMetricSpecification", spec,
			      "ScaleOutCooldown", (json_int_t)c->scale_out_cooldown_s,
			      "ScaleInCooldown", (json_int_t)c->scale_in_cooldown_s);
	if (p && c->disable_scale_in && json_object_set_new(p, "DisableScaleIn", json_true())) {
		json_decref(p);
		return NULL;
	}
	return p;
}

int kc_recommend_policy_text(const struct kc_recommend_cfg *c,
			     const struct kc_recommendation *r, struct kc_buf *out)
{
	json_t *p = kc_recommend_policy(c, r);
	if (!p)
		return KC_ENOMEM;
	char *s = json_dumps(p, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(p);
	if (!s)
		return KC_ENOMEM;
	int rc = kc_buf_puts(out, s);
	free(s);
	return rc ? rc : kc_buf_puts(out, "\n");
}

/* ---- apply.sh -------------------------------------------------------- */

int kc_shell_quote(struct kc_buf *out, const char *s)
{
	/* Inside single quotes nothing is special except the quote itself,
	 * which closes, is escaped, and reopens: ' -> '\'' */
	int rc = kc_buf_puts(out, "'");
	for (const char *p = s; !rc && *p; p++)
		rc = *p == '\'' ? kc_buf_puts(out, "'\\''") : kc_buf_append(out, p, 1);
	return rc ? rc : kc_buf_puts(out, "'");
}

/* Appends " \\\n  --flag 'value'" (an option and its quoted value). */
static int opt_arg(struct kc_buf *b, const char *flag, const char *value)
{
	int rc = kc_buf_printf(b, " \\\n  %s ", flag);
	return rc ? rc : kc_shell_quote(b, value);
}

static int common_args(struct kc_buf *b, const struct kc_recommend_cfg *c)
{
	int rc = opt_arg(b, "--service-namespace", "sagemaker");
	/* The resource id is built in the script from $endpoint so that the
	 * no-name case and the named case share one shape. */
	if (!rc && c->kind == KC_RES_COMPONENT)
		rc = kc_buf_puts(b, " \\\n  --resource-id \"inference-component/${component}\"");
	else if (!rc)
		rc = kc_buf_puts(b, " \\\n  --resource-id \"endpoint/${endpoint}/variant/${variant}\"");
	if (!rc)
		rc = opt_arg(b, "--scalable-dimension", kc_resource_dimension(c->kind));
	if (!rc && c->region[0])
		rc = opt_arg(b, "--region", c->region);
	if (!rc && c->profile[0])
		rc = opt_arg(b, "--profile", c->profile);
	return rc;
}

/* apply.sh for a policy of the given kind (in the derived policy name) whose
 * TargetValue is counted in unit (in the header comment). */
static int apply_sh(const struct kc_recommend_cfg *c, const struct kc_recommendation *r,
		    const char *kind, const char *unit, struct kc_buf *out, struct kc_diag *d)
{
	int rc = kc_recommend_cfg_validate(c, d);
	if (rc)
		return rc;
	char num[64], policy[KC_POLICY_NAME_MAX];
	if (c->policy_name[0])
		snprintf(policy, sizeof(policy), "%s", c->policy_name);
	else
		snprintf(policy, sizeof(policy), "kneecap-%s-%g", kind, r->target_value);

	struct kc_buf *b = out;
	rc = kc_buf_printf(b,
		"#!/bin/sh\n"
		"# apply.sh - written by kneecap: register the SageMaker %s as a\n"
		"# scalable target and attach the target-tracking policy in\n"
		"# scaling-policy.json (TargetValue %g %s, %.0f%% of the knee).\n"
		"# Review it, then run it with AWS credentials that may call\n"
		"# application-autoscaling.  Every value is single-quoted on purpose.\n"
		"set -eu\n"
		"# file://scaling-policy.json is read relative to this directory.\n"
		"cd \"$(dirname \"$0\")\"\n",
		kc_policy_resource_words(c->kind), r->target_value, unit, c->factor * 100.0);
	if (!rc)
		rc = kc_policy_names_sh(c, b);
	if (!rc)
		rc = kc_buf_puts(b, "\n\naws application-autoscaling register-scalable-target");
	if (!rc)
		rc = common_args(b, c);
	snprintf(num, sizeof(num), "%d", c->min_capacity);
	if (!rc)
		rc = opt_arg(b, "--min-capacity", num);
	snprintf(num, sizeof(num), "%d", c->max_capacity);
	if (!rc)
		rc = opt_arg(b, "--max-capacity", num);
	if (!rc)
		rc = kc_buf_puts(b, "\n\naws application-autoscaling put-scaling-policy");
	if (!rc)
		rc = opt_arg(b, "--policy-name", policy);
	if (!rc)
		rc = common_args(b, c);
	if (!rc)
		rc = opt_arg(b, "--policy-type", "TargetTrackingScaling");
	if (!rc)
		rc = opt_arg(b, "--target-tracking-scaling-policy-configuration",
			     "file://scaling-policy.json");
	if (!rc)
		rc = kc_buf_puts(b, "\n");
	if (!rc && c->kind == KC_RES_COMPONENT && c->min_capacity == 0)
		rc = kc_policy_scale_from_zero_sh(c, b);
	return rc;
}

int kc_recommend_apply_sh(const struct kc_recommend_cfg *c,
			  const struct kc_recommendation *r, struct kc_buf *out,
			  struct kc_diag *d)
{
	return apply_sh(c, r, kc_policy_name_label(r), kc_rec_metric_unit(r), out, d);
}

int kc_recommend_apply_sh_custom(const struct kc_recommend_cfg *c,
				 const struct kc_recommendation *r, const char *kind,
				 const char *unit, struct kc_buf *out, struct kc_diag *d)
{
	return apply_sh(c, r, kind, unit, out, d);
}

int kc_recommend_apply_sh_scheduled(const struct kc_recommend_cfg *c, const char *name,
				    const char *cron, int min_cap, int max_cap,
				    struct kc_buf *out)
{
	char action[64];
	if (max_cap > 0)
		snprintf(action, sizeof(action), "MinCapacity=%d,MaxCapacity=%d", min_cap, max_cap);
	else
		snprintf(action, sizeof(action), "MinCapacity=%d", min_cap);
	int rc = kc_buf_puts(out, "\naws application-autoscaling put-scheduled-action");
	if (!rc)
		rc = common_args(out, c);
	if (!rc)
		rc = opt_arg(out, "--scheduled-action-name", name);
	if (!rc)
		rc = opt_arg(out, "--schedule", cron);
	if (!rc)
		rc = opt_arg(out, "--scalable-target-action", action);
	return rc ? rc : kc_buf_puts(out, "\n");
}

/* ---- for the other apply.sh writers (policy_int.h) ------------------- */

int kc_policy_opt_arg(struct kc_buf *b, const char *flag, const char *value)
{
	return opt_arg(b, flag, value);
}

int kc_policy_common_args(struct kc_buf *b, const struct kc_recommend_cfg *c)
{
	return common_args(b, c);
}
