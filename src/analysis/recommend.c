/*
 * recommend.c - turns a knee into target-tracking settings (the files made
 * from them are the report layer's: policy.c, verdict.c).
 *
 * It is not the capacity planner (plan.c simulates a traffic shape) and it
 * writes nothing to disk.  Invariants: TargetValue is always below the knee
 * (factor <= 1, rounded down), in the metric's own units (spec
 * autoscaling.md §2, §9: InvocationsPerInstance is per MINUTE).
 */
#include "kneecap/recommend.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *const metric_names[KC_METRIC_COUNT] = {
	"SageMakerVariantInvocationsPerInstance",
	"SageMakerVariantConcurrentRequestsPerModelHighResolution",
};

const char *kc_metric_name(enum kc_metric m)
{
	return (unsigned)m < KC_METRIC_COUNT ? metric_names[m] : "unknown";
}

/* ---- what the scalable target is ------------------------------------- */

/* One row per kind: what botocore's application-autoscaling model calls
 * its dimension and predefined metrics (checked against service-2.json). */
static const struct {
	const char *name, *dimension, *unit;
	const char *metrics[KC_METRIC_COUNT];
	const char *units[KC_METRIC_COUNT];
} kinds[KC_RES_COUNT] = {
	[KC_RES_VARIANT] = {"instance", "sagemaker:variant:DesiredInstanceCount", "instance",
		{"SageMakerVariantInvocationsPerInstance",
		 "SageMakerVariantConcurrentRequestsPerModelHighResolution"},
		{"invocations/instance/minute", "concurrent requests/instance"}},
	[KC_RES_COMPONENT] = {"component", "sagemaker:inference-component:DesiredCopyCount", "copy",
		{"SageMakerInferenceComponentInvocationsPerCopy",
		 "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"},
		{"invocations/copy/minute", "concurrent requests/copy"}},
	/* Serverless has one metric: in-use over provisioned concurrency. */
	[KC_RES_SERVERLESS] = {"serverless", "sagemaker:variant:DesiredProvisionedConcurrency",
		"provisioned concurrency",
		{"SageMakerVariantProvisionedConcurrencyUtilization",
		 "SageMakerVariantProvisionedConcurrencyUtilization"},
		{"provisioned concurrency utilization (0-1)",
		 "provisioned concurrency utilization (0-1)"}},
};

const char *kc_resource_kind_name(enum kc_resource_kind k)
{
	return (unsigned)k < KC_RES_COUNT ? kinds[k].name : "unknown";
}

int kc_resource_kind_parse(const char *s, enum kc_resource_kind *out)
{
	for (int k = 0; s && k < KC_RES_COUNT; k++)
		if (!strcmp(s, kinds[k].name)) {
			*out = (enum kc_resource_kind)k;
			return KC_OK;
		}
	return KC_EINVAL;
}

const char *kc_resource_dimension(enum kc_resource_kind k)
{
	return (unsigned)k < KC_RES_COUNT ? kinds[k].dimension : "unknown";
}

const char *kc_resource_unit(enum kc_resource_kind k)
{
	return (unsigned)k < KC_RES_COUNT ? kinds[k].unit : "unknown";
}

const char *kc_rec_metric_name(const struct kc_recommendation *r)
{
	if ((unsigned)r->kind >= KC_RES_COUNT || (unsigned)r->metric >= KC_METRIC_COUNT)
		return "unknown";
	return kinds[r->kind].metrics[r->metric];
}

const char *kc_rec_metric_unit(const struct kc_recommendation *r)
{
	if ((unsigned)r->kind >= KC_RES_COUNT || (unsigned)r->metric >= KC_METRIC_COUNT)
		return "unknown";
	return kinds[r->kind].units[r->metric];
}

int kc_metric_parse(const char *s, enum kc_metric *out)
{
	if (!s)
		return KC_EINVAL;
	if (!strcmp(s, metric_names[0]) || !strcmp(s, "invocations") ||
	    !strcmp(s, kinds[KC_RES_COMPONENT].metrics[KC_METRIC_INVOCATIONS])) {
		*out = KC_METRIC_INVOCATIONS;
		return KC_OK;
	}
	if (!strcmp(s, metric_names[1]) || !strcmp(s, "concurrency") ||
	    !strcmp(s, kinds[KC_RES_COMPONENT].metrics[KC_METRIC_CONCURRENCY])) {
		*out = KC_METRIC_CONCURRENCY;
		return KC_OK;
	}
	return KC_EINVAL;
}

void kc_recommend_cfg_default(struct kc_recommend_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->factor = 0.75;
	c->factor_low = 0.70;
	c->factor_high = 0.80;
	c->instances = 1;
	c->copies = 1;
	c->max_concurrency = 1;
	c->min_capacity = 1;
	c->max_capacity = 4;
	c->scale_out_cooldown_s = 60;
	c->scale_in_cooldown_s = 300;
	snprintf(c->variant, sizeof(c->variant), "AllTraffic");
	c->usd_per_hour = -1;
}

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int kc_recommend_cfg_validate(const struct kc_recommend_cfg *c, struct kc_diag *d)
{
	const char *k = NULL, *msg = NULL;
	if (!(c->factor > 0 && c->factor <= 1))
		k = "factor", msg = "must be in (0, 1], e.g. 0.75";
	else if (!(c->factor_low > 0 && c->factor_low <= 1))
		k = "factor_low", msg = "must be in (0, 1], e.g. 0.70";
	else if (!(c->factor_high > 0 && c->factor_high <= 1))
		k = "factor_high", msg = "must be in (0, 1], e.g. 0.80";
	else if (c->factor_low > c->factor)
		k = "factor_low", msg = "must not be above factor";
	else if (c->factor_high < c->factor)
		k = "factor_high", msg = "must not be below factor";
	else if (c->instances < 1)
		k = "instances", msg = "must be >= 1";
	else if ((unsigned)c->kind >= KC_RES_COUNT)
		k = "endpoint_kind", msg = "must be instance, component or serverless";
	else if (c->kind == KC_RES_COMPONENT && !c->component[0])
		k = "inference_component", msg = "endpoint_kind = component needs the component's name";
	else if (c->component[0] && !kc_sagemaker_name_valid(c->component))
		k = "inference_component", msg = "must be 1-63 letters, digits and inner hyphens";
	else if (c->copies < 1)
		k = "copies", msg = "must be >= 1";
	else if (c->max_concurrency < 1 || c->max_concurrency > 200)
		k = "max_concurrency", msg = "must be 1..200 (serverless MaxConcurrency)";
	else if (c->min_capacity < (c->kind == KC_RES_COMPONENT ? 0 : 1))
		k = "min_capacity", msg = c->kind == KC_RES_SERVERLESS
			? "must be >= 1 (provisioned concurrency is 1..200)"
			: "must be >= 1 (only an inference component scales to 0)";
	else if (c->max_capacity < c->min_capacity || c->max_capacity < 1)
		k = "max_capacity", msg = "must be >= min_capacity and >= 1";
	else if (c->kind == KC_RES_SERVERLESS && c->max_capacity > 200)
		k = "max_capacity", msg = "must be <= 200 (provisioned concurrency is 1..200)";
	else if (c->kind == KC_RES_SERVERLESS && c->max_capacity > c->max_concurrency)
		/* SageMaker: ProvisionedConcurrency must not exceed MaxConcurrency. */
		k = "max_capacity", msg = "must be <= max_concurrency (provisioned concurrency "
					  "cannot exceed the endpoint's MaxConcurrency)";
	else if (c->scale_out_cooldown_s < 0)
		k = "scale_out_cooldown", msg = "must be >= 0 s";
	else if (c->scale_in_cooldown_s < 0)
		k = "scale_in_cooldown", msg = "must be >= 0 s";
	else if (c->endpoint_name[0] && !kc_sagemaker_name_valid(c->endpoint_name))
		k = "endpoint_name", msg = "must be 1-63 letters, digits and inner hyphens (SageMaker's rule)";
	else if (!kc_sagemaker_name_valid(c->variant))
		k = "variant", msg = "must be 1-63 letters, digits and inner hyphens (SageMaker's rule)";
	else if (c->policy_name[0] && !printable(c->policy_name, 255))
		k = "policy_name", msg = "must be 1-255 printable characters";
	else if ((unsigned)c->metric >= KC_METRIC_COUNT)
		k = "metric", msg = "must be invocations or concurrency";
	if (k)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, k, "%s", msg);
	return KC_OK;
}

/* ---- [recommend] from a scenario ------------------------------------ */

static int opt(int rc)
{
	return rc == KC_ENOTFOUND ? KC_OK : rc;
}

static int get_name(struct kc_scenario *sc, const char *key, char *dst, size_t cap,
		    struct kc_diag *d)
{
	const char *v;
	if (kc_scenario_get_str(sc, "recommend", key, &v, d) != KC_OK)
		return KC_OK;
	if (strlen(v) >= cap) {
		struct kc_scenario_entry *e = kc_scenario_find(sc, "recommend", key);
		return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e ? e->line : 0, key,
				      "longer than %zu characters", cap - 1);
	}
	snprintf(dst, cap, "%s", v);
	return KC_OK;
}

static int get_int(struct kc_scenario *sc, const char *key, int lo, int hi, int *out,
		   struct kc_diag *d)
{
	int64_t v;
	int rc = kc_scenario_get_i64(sc, "recommend", key, lo, hi, &v, d);
	if (rc == KC_OK)
		*out = (int)v;
	return opt(rc);
}

static int get_secs(struct kc_scenario *sc, const char *key, int *out, struct kc_diag *d)
{
	int64_t ns;
	const int64_t s = INT64_C(1000000000);
	int rc = kc_scenario_get_duration_ns(sc, "recommend", key, s, 0, 86400 * s, &ns, d);
	if (rc == KC_OK)
		*out = (int)(ns / s);
	return opt(rc);
}

/* endpoint_kind, and [target] inference_component (the request option
 * names the component the policy is for). */
static int get_kind(struct kc_scenario *sc, struct kc_recommend_cfg *t, struct kc_diag *d)
{
	const char *v;
	if (kc_scenario_get_str(sc, "target", "inference_component", &v, d) == KC_OK) {
		struct kc_scenario_entry *e = kc_scenario_find(sc, "target", "inference_component");
		if (strlen(v) >= sizeof(t->component) || !kc_sagemaker_name_valid(v))
			return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e ? e->line : 0,
					      "inference_component",
					      "'%s' is not a SageMaker name (1-63 letters, digits, "
					      "inner hyphens)", v);
		snprintf(t->component, sizeof(t->component), "%s", v);
		t->kind = KC_RES_COMPONENT;
	}
	if (kc_scenario_get_str(sc, "recommend", "endpoint_kind", &v, d) != KC_OK)
		return KC_OK;
	if (kc_resource_kind_parse(v, &t->kind) != KC_OK) {
		struct kc_scenario_entry *e = kc_scenario_find(sc, "recommend", "endpoint_kind");
		return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e ? e->line : 0,
				      "endpoint_kind",
				      "'%s' is not one of: instance, component, serverless", v);
	}
	return KC_OK;
}

int kc_recommend_cfg_from_scenario(struct kc_recommend_cfg *c, struct kc_scenario *sc,
				   struct kc_diag *d)
{
	struct kc_recommend_cfg t = *c;
	const char *file = kc_scenario_name(sc);
	int rc;
	if ((rc = opt(kc_scenario_get_double(sc, "recommend", "factor", 0, 1e3, &t.factor, d))) ||
	    (rc = opt(kc_scenario_get_double(sc, "recommend", "factor_low", 0, 1e3, &t.factor_low, d))) ||
	    (rc = opt(kc_scenario_get_double(sc, "recommend", "factor_high", 0, 1e3, &t.factor_high, d))) ||
	    (rc = get_int(sc, "instances", 0, 10000, &t.instances, d)) ||
	    (rc = get_int(sc, "min_capacity", 0, 100000, &t.min_capacity, d)) ||
	    (rc = get_int(sc, "max_capacity", 0, 100000, &t.max_capacity, d)) ||
	    (rc = get_secs(sc, "scale_out_cooldown", &t.scale_out_cooldown_s, d)) ||
	    (rc = get_secs(sc, "scale_in_cooldown", &t.scale_in_cooldown_s, d)) ||
	    (rc = opt(kc_scenario_get_bool(sc, "recommend", "disable_scale_in", &t.disable_scale_in, d))) ||
	    (rc = opt(kc_scenario_get_double(sc, "recommend", "usd_per_hour", 0, 1e6, &t.usd_per_hour, d))) ||
	    (rc = get_name(sc, "instance_type", t.instance_type, sizeof(t.instance_type), d)) ||
	    (rc = get_name(sc, "endpoint_name", t.endpoint_name, sizeof(t.endpoint_name), d)) ||
	    (rc = get_name(sc, "variant", t.variant, sizeof(t.variant), d)) ||
	    (rc = get_name(sc, "policy_name", t.policy_name, sizeof(t.policy_name), d)) ||
	    (rc = get_int(sc, "copies", 0, 100000, &t.copies, d)) ||
	    (rc = get_int(sc, "max_concurrency", 0, 100000, &t.max_concurrency, d)) ||
	    (rc = get_kind(sc, &t, d)))
		return rc;
	const char *m;
	if (kc_scenario_get_str(sc, "recommend", "metric", &m, d) == KC_OK) {
		if (kc_metric_parse(m, &t.metric) != KC_OK) {
			struct kc_scenario_entry *e = kc_scenario_find(sc, "recommend", "metric");
			return kc_diag_set_at(d, KC_EINVAL, file, e ? e->line : 0, "metric",
					      "'%s' is not one of: invocations, concurrency, %s, %s",
					      m, metric_names[0], metric_names[1]);
		}
		t.metric_set = true;
	}
	rc = kc_recommend_cfg_validate(&t, d);
	if (rc) {
		struct kc_scenario_entry *e = d && d->key[0] ?
			kc_scenario_find(sc, "recommend", d->key) : NULL;
		if (!e && d && d->key[0])
			e = kc_scenario_find(sc, "target", d->key);
		if (e) {
			snprintf(d->file, sizeof(d->file), "%s", file);
			d->line = e->line;
		}
		return rc;
	}
	*c = t;
	return KC_OK;
}

/* ---- the numbers ---------------------------------------------------- */

static double round_down(double v, enum kc_metric m)
{
	/* Down, so the target never creeps above factor x knee. */
	if (m == KC_METRIC_INVOCATIONS)
		return floor(v + 1e-9);
	return floor(v * 10.0 + 1e-9) / 10.0;
}

int kc_recommend_units(const struct kc_recommend_cfg *c)
{
	return c->kind == KC_RES_COMPONENT ? c->copies
	       : c->kind == KC_RES_SERVERLESS ? c->max_concurrency : c->instances;
}

/*
 * Serverless provisioned concurrency: the metric is a utilization (in-use
 * over provisioned concurrency), so the TargetValue is the factor itself,
 * to 0.01; the knee per unit says what one provisioned concurrency carries.
 */
static void serverless_targets(const struct kc_recommend_cfg *c, struct kc_recommendation *r)
{
	r->target_value = floor(c->factor * 100.0 + 1e-9) / 100.0;
	r->target_low = floor(c->factor_low * 100.0 + 1e-9) / 100.0;
	r->target_high = floor(c->factor_high * 100.0 + 1e-9) / 100.0;
	r->aws_start_value = KC_AWS_START_FACTOR;
}

int kc_recommend_compute(const struct kc_recommend_cfg *c, const struct kc_knee *k,
			 double latency_ms_at_knee, struct kc_recommendation *out,
			 struct kc_diag *d)
{
	int rc = kc_recommend_cfg_validate(c, d);
	if (rc)
		return rc;
	if (!k->found || !(k->value > 0))
		return kc_diag_set(d, KC_EINVAL, "no knee to recommend from: %s",
				   k->diagnosis[0] ? k->diagnosis : kc_search_end_name(k->end));
	struct kc_recommendation r;
	memset(&r, 0, sizeof(r));
	r.mode = k->mode;
	r.kind = c->kind;
	r.metric = c->metric_set ? c->metric
		   : k->mode == KC_MODE_STREAMS ? KC_METRIC_CONCURRENCY : KC_METRIC_INVOCATIONS;
	/* rps: the per-unit knee as every output prints it (a figure,
	 * rounded down), so terminal, result.json and report agree. */
	int units = kc_recommend_units(c);
	r.knee_per_instance = k->mode == KC_MODE_RPS ? kc_rate_figure_down(k->value / units)
						     : k->value / units;
	r.factor = c->factor;
	r.factor_low = c->factor_low;
	r.factor_high = c->factor_high;
	r.target_load = c->factor * r.knee_per_instance;
	r.lower_bound = k->lower_bound;
	if (c->kind == KC_RES_SERVERLESS) {
		serverless_targets(c, &r);
		*out = r;
		return KC_OK;
	}

	/* Per-unit load -> metric units. */
	double per_unit;
	if (r.metric == KC_METRIC_INVOCATIONS) {
		if (k->mode == KC_MODE_STREAMS)
			return kc_diag_set(d, KC_EUNSUPPORTED,
					   "a streams knee has no invocation rate: use metric = concurrency");
		per_unit = 60.0; /* InvocationsPerInstance (PerCopy) is a per-minute Sum */
	} else if (k->mode == KC_MODE_STREAMS) {
		per_unit = 1.0;  /* one stream = one concurrent request */
	} else {
		/* Little's law: concurrency = throughput x time in the system. */
		if (!(latency_ms_at_knee > 0))
			return kc_diag_set(d, KC_EINVAL,
					   "a concurrency target from an rps knee needs the latency at the knee");
		per_unit = latency_ms_at_knee / 1000.0;
		r.latency_ms_at_knee = latency_ms_at_knee;
	}
	r.target_value = round_down(c->factor * r.knee_per_instance * per_unit, r.metric);
	r.target_low = round_down(c->factor_low * r.knee_per_instance * per_unit, r.metric);
	r.target_high = round_down(c->factor_high * r.knee_per_instance * per_unit, r.metric);
	r.aws_start_value = round_down(KC_AWS_START_FACTOR * r.knee_per_instance * per_unit, r.metric);
	if (!(r.target_value > 0))
		return kc_diag_set(d, KC_EINVAL,
				   "the target rounds to 0 %s (knee %g per %s): too small to track",
				   kc_rec_metric_unit(&r), r.knee_per_instance,
				   kc_resource_unit(r.kind));
	*out = r;
	return KC_OK;
}
