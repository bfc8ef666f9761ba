/*
 * poolspolicy.c - endpoint config with InstancePools, the target-tracking
 * policy on the capacity-weighted metric, and the count publisher.
 *
 * Field names follow botocore's models: sagemaker ProductionVariant
 * (InstancePools[].InstanceType/Priority, RoutingConfig.RoutingStrategy)
 * and application-autoscaling CustomizedMetricSpecification.Metrics
 * (TargetTrackingMetricDataQuery: Id, Expression, Label, MetricStat,
 * ReturnData).  Invariant: every value in the shell script is a
 * single-quoted word (kc_shell_quote).
 */
#include "kneecap/poolspolicy.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *kc_pools_endpoint_config(const struct kc_pools *p, const char *config_name,
				 const char *model_name, const char *variant, int initial_count)
{
	json_t *pools = json_array();
	for (size_t i = 0; pools && i < p->n; i++) {
		json_t *e = json_pack("{s:s, s:I}", "InstanceType", p->pool[i].instance_type,
				      "Priority", (json_int_t)(i + 1));
		if (!e || json_array_append_new(pools, e)) {
			json_decref(pools);
			return NULL;
		}
	}
	if (!pools)
		return NULL;
	/* Requests go where capacity is: the weighted target assumes it. */
	json_t *v = json_pack("{s:s, s:s, s:I, s:o, s:{s:s}}", "VariantName", variant,
			      "ModelName", model_name, "InitialInstanceCount", (json_int_t)initial_count,
			      "InstancePools", pools, "RoutingConfig", "RoutingStrategy",
			      "LEAST_OUTSTANDING_REQUESTS");
	if (!v)
		return NULL;
	return json_pack("{s:s, s:[o]}", "EndpointConfigName", config_name, "ProductionVariants", v);
}

char *kc_pools_expression(const struct kc_pools *p, char *out, size_t outsz)
{
	size_t n = (size_t)snprintf(out, outsz, "invocations / (");
	for (size_t i = 0; i < p->n && n < outsz; i++) {
		if (p->pool[i].weight == 1.0)
			n += (size_t)snprintf(out + n, outsz - n, "%sn%zu", i ? " + " : "", i + 1);
		else
			n += (size_t)snprintf(out + n, outsz - n, "%s%.4g * n%zu", i ? " + " : "",
					      p->pool[i].weight, i + 1);
	}
	if (n < outsz)
		snprintf(out + n, outsz - n, ")");
	return out;
}

/* {"Id": id, "MetricStat": {...}, "ReturnData": false}, with an
 * InstanceType dimension when type is not NULL. */
static json_t *stat_query(const struct kc_recommend_cfg *c, const char *id, const char *label,
			  const char *ns, const char *name, const char *stat, const char *type)
{
	json_t *dims = json_pack("[{s:s, s:s}, {s:s, s:s}]", "Name", "EndpointName", "Value",
				 c->endpoint_name, "Name", "VariantName", "Value", c->variant);
	if (dims && type &&
	    json_array_append_new(dims, json_pack("{s:s, s:s}", "Name", "InstanceType", "Value", type))) {
		json_decref(dims);
		return NULL;
	}
	if (!dims)
		return NULL;
	return json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:o}, s:s}, s:b}", "Id", id, "Label", label,
			 "MetricStat", "Metric", "Namespace", ns, "MetricName", name,
			 "Dimensions", dims, "Stat", stat, "ReturnData", 0);
}

json_t *kc_pools_policy(const struct kc_recommend_cfg *c, const struct kc_pools *p,
			double target_value)
{
	json_t *q = json_array();
	json_t *inv = stat_query(c, "invocations", "invocations per minute", "AWS/SageMaker",
				 "Invocations", "Sum", NULL);
	if (!q || !inv || json_array_append_new(q, inv)) {
		json_decref(q);
		return NULL;
	}
	for (size_t i = 0; i < p->n; i++) {
		char id[32], label[128];
		snprintf(id, sizeof(id), "n%zu", i + 1);
		snprintf(label, sizeof(label), "%s instances (weight %.4g)", p->pool[i].instance_type,
			 p->pool[i].weight);
		json_t *e = stat_query(c, id, label, KC_POOLS_NAMESPACE, KC_POOLS_COUNT_METRIC,
				       "Average", p->pool[i].instance_type);
		if (!e || json_array_append_new(q, e)) {
			json_decref(q);
			return NULL;
		}
	}
	char expr[512], label[160];
	kc_pools_expression(p, expr, sizeof(expr));
	snprintf(label, sizeof(label), "invocations per minute per %s-equivalent instance",
		 p->pool[0].instance_type);
	json_t *w = json_pack("{s:s, s:s, s:s, s:b}", "Id", "weighted", "Expression", expr,
			      "Label", label, "ReturnData", 1);
	if (!w || json_array_append_new(q, w)) {
		json_decref(q);
		return NULL;
	}
	json_t *pol = json_pack("{s:f, s:{s:o}, s:I, s:I}", "TargetValue", target_value,
				"CustomizedMetricSpecification", "Metrics", q,
				"ScaleOutCooldown", (json_int_t)c->scale_out_cooldown_s,
				"ScaleInCooldown", (json_int_t)c->scale_in_cooldown_s);
	if (pol && c->disable_scale_in && json_object_set_new(pol, "DisableScaleIn", json_true())) {
		json_decref(pol);
		return NULL;
	}
	return pol;
}

int kc_pools_json_text(json_t *j, struct kc_buf *out)
{
	if (!j)
		return KC_ENOMEM;
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return KC_ENOMEM;
	int rc = kc_buf_puts(out, s);
	free(s);
	return rc ? rc : kc_buf_puts(out, "\n");
}

/* Appends "name=" and the quoted value, then a newline. */
static int assign(struct kc_buf *b, const char *name, const char *value)
{
	int rc = kc_buf_printf(b, "%s=", name);
	if (!rc)
		rc = kc_shell_quote(b, value);
	return rc ? rc : kc_buf_puts(b, "\n");
}

/* --region/--profile as apply.sh passes them. */
static int aws_globals(struct kc_buf *b, const struct kc_recommend_cfg *c)
{
	int rc = 0;
	if (c->region[0]) {
		rc = kc_buf_puts(b, " --region ");
		if (!rc)
			rc = kc_shell_quote(b, c->region);
	}
	if (!rc && c->profile[0]) {
		rc = kc_buf_puts(b, " --profile ");
		if (!rc)
			rc = kc_shell_quote(b, c->profile);
	}
	return rc;
}

int kc_pools_publish_sh(const struct kc_recommend_cfg *c, const struct kc_pools *p,
			struct kc_buf *out)
{
	int rc = kc_buf_puts(out,
		"#!/bin/sh\n"
		"# publish-pool-counts.sh - written by kneecap: the per-pool instance counts the\n"
		"# capacity-weighted scaling policy divides by.  Run it once a minute (cron,\n"
		"# EventBridge Scheduler): without fresh datapoints the policy's metric has no\n"
		"# data and target tracking does not act.  Needs an AWS CLI whose sagemaker\n"
		"# model knows InstancePools, and sagemaker:DescribeEndpoint and\n"
		"# cloudwatch:PutMetricData.  Two calls a minute, whatever the pool count.\n"
		"set -eu\n");
	if (!rc)
		rc = assign(out, "endpoint", c->endpoint_name);
	if (!rc)
		rc = assign(out, "variant", c->variant);
	/* Names and types match SageMaker's patterns (no quotes, no
	 * backslashes), so they can sit inside the query and the JSON. */
	if (!rc)
		rc = kc_buf_puts(out, "counts=$(aws sagemaker describe-endpoint --endpoint-name \"$endpoint\"");
	if (!rc)
		rc = aws_globals(out, c);
	if (!rc)
		rc = kc_buf_puts(out, " \\\n"
			"\t--query \"ProductionVariants[?VariantName=='$variant'] | [0].InstancePools[]"
			".[InstanceType, CurrentInstanceCount]\" --output text)\n"
			"data= sep=\n"
			"for type in");
	for (size_t i = 0; i < p->n && !rc; i++) {
		rc = kc_buf_puts(out, " ");
		if (!rc)
			rc = kc_shell_quote(out, p->pool[i].instance_type);
	}
	if (!rc)
		rc = kc_buf_printf(out, "; do\n"
			"\tn=$(printf '%%s\\n' \"$counts\" | awk -v t=\"$type\" '$1 == t { print $2 }')\n"
			"\tcase $n in ''|*[!0-9]*) n=0 ;; esac\n"
			"\tdata=\"$data$sep{\\\"MetricName\\\": \\\"%s\\\", \\\"Unit\\\": \\\"Count\\\", "
			"\\\"Value\\\": $n, \\\"Dimensions\\\": [\"\\\n"
			"\"{\\\"Name\\\": \\\"EndpointName\\\", \\\"Value\\\": \\\"$endpoint\\\"}, \"\\\n"
			"\"{\\\"Name\\\": \\\"VariantName\\\", \\\"Value\\\": \\\"$variant\\\"}, \"\\\n"
			"\"{\\\"Name\\\": \\\"InstanceType\\\", \\\"Value\\\": \\\"$type\\\"}]}\"\n"
			"\tsep=', '\n"
			"done\n"
			"aws cloudwatch put-metric-data", KC_POOLS_COUNT_METRIC);
	if (!rc)
		rc = aws_globals(out, c);
	if (!rc)
		rc = kc_buf_printf(out, " --namespace '%s' \\\n"
			"\t--metric-data \"[$data]\"\n", KC_POOLS_NAMESPACE);
	return rc;
}
