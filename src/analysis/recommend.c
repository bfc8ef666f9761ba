/*
 * recommend.c - turns a knee into target-tracking settings and the files a
 * team applies with the AWS CLI.
 *
 * It is not the capacity planner (plan.c simulates a traffic shape) and it
 * writes nothing to disk.  Invariants: TargetValue is always below the knee
 * (factor <= 1, rounded down), in the metric's own units (spec
 * autoscaling.md §2, §9: InvocationsPerInstance is per MINUTE), and every
 * value placed in apply.sh is a single-quoted shell word.
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

#define AWS_START_FACTOR 0.5 /* spec §4: SageMaker DG load-test page, CDK @default */

static const char *const metric_names[KC_METRIC_COUNT] = {
	"SageMakerVariantInvocationsPerInstance",
	"SageMakerVariantConcurrentRequestsPerModelHighResolution",
};

const char *kc_metric_name(enum kc_metric m)
{
	return (unsigned)m < KC_METRIC_COUNT ? metric_names[m] : "unknown";
}

const char *kc_metric_unit(enum kc_metric m)
{
	return m == KC_METRIC_INVOCATIONS ? "invocations/instance/minute"
					  : "concurrent requests/instance";
}

int kc_metric_parse(const char *s, enum kc_metric *out)
{
	if (!s)
		return KC_EINVAL;
	if (!strcmp(s, metric_names[0]) || !strcmp(s, "invocations")) {
		*out = KC_METRIC_INVOCATIONS;
		return KC_OK;
	}
	if (!strcmp(s, metric_names[1]) || !strcmp(s, "concurrency")) {
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
	else if (c->min_capacity < 1)
		k = "min_capacity", msg = "must be >= 1 (a SageMaker instance-based variant keeps one)";
	else if (c->max_capacity < c->min_capacity)
		k = "max_capacity", msg = "must be >= min_capacity";
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
	    (rc = get_name(sc, "policy_name", t.policy_name, sizeof(t.policy_name), d)))
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
	r.metric = c->metric_set ? c->metric
		   : k->mode == KC_MODE_STREAMS ? KC_METRIC_CONCURRENCY : KC_METRIC_INVOCATIONS;
	/* rps: the per-instance knee as every output prints it (a figure,
	 * rounded down), so terminal, result.json and report agree. */
	r.knee_per_instance = k->mode == KC_MODE_RPS ? kc_rate_figure_down(k->value / c->instances)
						     : k->value / c->instances;
	r.factor = c->factor;
	r.factor_low = c->factor_low;
	r.factor_high = c->factor_high;
	r.target_load = c->factor * r.knee_per_instance;
	r.lower_bound = k->lower_bound;

	/* Per-instance load -> metric units. */
	double per_unit;
	if (r.metric == KC_METRIC_INVOCATIONS) {
		if (k->mode == KC_MODE_STREAMS)
			return kc_diag_set(d, KC_EUNSUPPORTED,
					   "a streams knee has no invocation rate: use metric = concurrency");
		per_unit = 60.0; /* InvocationsPerInstance is a per-minute Sum */
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
	r.aws_start_value = round_down(AWS_START_FACTOR * r.knee_per_instance * per_unit, r.metric);
	if (!(r.target_value > 0))
		return kc_diag_set(d, KC_EINVAL,
				   "the target rounds to 0 %s (knee %g per instance): too small to track",
				   kc_metric_unit(r.metric), r.knee_per_instance);
	*out = r;
	return KC_OK;
}

/* ---- scaling-policy.json -------------------------------------------- */

json_t *kc_recommend_policy(const struct kc_recommend_cfg *c,
			    const struct kc_recommendation *r)
{
	json_t *spec = json_pack("{s:s}", "PredefinedMetricType", kc_metric_name(r->metric));
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
	if (!rc)
		rc = kc_buf_puts(b, " \\\n  --resource-id \"endpoint/${endpoint}/variant/${variant}\"");
	if (!rc)
		rc = opt_arg(b, "--scalable-dimension", "sagemaker:variant:DesiredInstanceCount");
	if (!rc && c->region[0])
		rc = opt_arg(b, "--region", c->region);
	if (!rc && c->profile[0])
		rc = opt_arg(b, "--profile", c->profile);
	return rc;
}

int kc_recommend_apply_sh(const struct kc_recommend_cfg *c,
			  const struct kc_recommendation *r, struct kc_buf *out,
			  struct kc_diag *d)
{
	int rc = kc_recommend_cfg_validate(c, d);
	if (rc)
		return rc;
	char num[64], policy[KC_POLICY_NAME_MAX];
	if (c->policy_name[0])
		snprintf(policy, sizeof(policy), "%s", c->policy_name);
	else
		snprintf(policy, sizeof(policy), "kneecap-%s-%g",
			 r->metric == KC_METRIC_INVOCATIONS ? "invocations" : "concurrency",
			 r->target_value);

	struct kc_buf *b = out;
	rc = kc_buf_printf(b,
		"#!/bin/sh\n"
		"# apply.sh - written by kneecap: register the SageMaker variant as a\n"
		"# scalable target and attach the target-tracking policy in\n"
		"# scaling-policy.json (TargetValue %g %s, %.0f%% of the knee).\n"
		"# Review it, then run it with AWS credentials that may call\n"
		"# application-autoscaling.  Every value is single-quoted on purpose.\n"
		"set -eu\n"
		"# file://scaling-policy.json is read relative to this directory.\n"
		"cd \"$(dirname \"$0\")\"\n",
		r->target_value, kc_metric_unit(r->metric), c->factor * 100.0);
	if (!rc && c->endpoint_name[0]) {
		rc = kc_buf_puts(b, "endpoint=");
		if (!rc)
			rc = kc_shell_quote(b, c->endpoint_name);
		if (!rc)
			rc = kc_buf_puts(b, "\n");
	} else if (!rc) {
		rc = kc_buf_puts(b,
			"# No endpoint name was given to kneecap: set ENDPOINT_NAME.\n"
			"endpoint=\"${ENDPOINT_NAME:?set ENDPOINT_NAME to the SageMaker endpoint name}\"\n");
	}
	if (!rc)
		rc = kc_buf_puts(b, "variant=");
	if (!rc)
		rc = kc_shell_quote(b, c->variant);
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
	return rc;
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

/* ---- explanation ----------------------------------------------------- */

static const char why_text[] =
	"Why 70-80%: target tracking scales out only after the metric has been above "
	"the target for minutes, and new instances take minutes more; the headroom "
	"between target and knee absorbs growth meanwhile without a queue. Lower is "
	"safer and costs more instances; AWS's suggested starting point is 0.5 of the "
	"maximum, which this knee measurement lets you raise.";

const char *kc_recommend_why(void)
{
	return why_text;
}

void kc_knee_bound_note(const struct kc_knee *k, char *out, size_t n)
{
	const char *u = kc_load_mode_name(k->mode);
	if (k->bound == KC_BOUND_SATURATED_MAX)
		snprintf(out, n, "the most the endpoint completed while saturated (%g %s tested "
			 "healthy is more than it sustains)", k->tested, u);
	else if (k->bound == KC_BOUND_KNEE_ACHIEVED)
		snprintf(out, n, "what the knee load completed (%g %s tested healthy, but its "
			 "measurements were unstable)", k->tested, u);
	else if (k->bound == KC_BOUND_SETTLED)
		snprintf(out, n, "one precision step under what the endpoint completed flat out "
			 "(%g %s tested healthy, ambiguously, that close to it)", k->tested, u);
	else
		snprintf(out, n, "the highest healthy load");
}

size_t kc_knee_notes(const struct kc_knee *k, const struct kc_knee_check *chk,
		     char notes[][KC_KNEE_NOTE_MAX], size_t cap)
{
	size_t n = 0;
	if (n < cap && k->found && k->end == KC_END_CONVERGED && k->diagnosis[0])
		snprintf(notes[n++], KC_KNEE_NOTE_MAX, "Note - %s.", k->diagnosis);
	if (n < cap && k->found && chk && chk->inflation_set)
		snprintf(notes[n++], KC_KNEE_NOTE_MAX,
			 "Mean latency at the knee is %.2fx the lowest-load step (%.1f ms vs %.1f ms).",
			 chk->latency_inflation, chk->latency_mean_knee_ms, chk->latency_mean_low_ms);
	if (n < cap && k->found && chk && chk->little_set)
		snprintf(notes[n++], KC_KNEE_NOTE_MAX,
			 "Little's law at the knee: %.1f in flight observed vs %.1f predicted "
			 "(throughput x latency)%s.", chk->little_observed, chk->little_predicted,
			 chk->little_consistent ? "" : " - inconsistent: check the measurement");
	if (n < cap && k->found && chk && chk->kneedle_found)
		snprintf(notes[n++], KC_KNEE_NOTE_MAX,
			 "Kneedle on achieved-vs-offered puts the bend at %g %s.",
			 chk->kneedle_offered, kc_load_mode_name(k->mode));
	return n;
}

int kc_recommend_explain(const struct kc_recommend_cfg *c, const struct kc_knee *k,
			 const struct kc_knee_check *chk,
			 const struct kc_recommendation *r, struct kc_buf *out)
{
	const char *u = kc_load_mode_name(k->mode);
	int rc = 0;
	if (!k->found || !r)
		return kc_buf_printf(out, "No knee: %s\n",
				     k->diagnosis[0] ? k->diagnosis : kc_search_end_name(k->end));
	char above[160];
	if (k->upper_capped)
		snprintf(above, sizeof(above),
			 "offered %g %s, the endpoint completed only %.4g (%s), so no load above "
			 "that is healthy", k->upper_offered, u, k->upper, kc_verdict_name(k->ended_by));
	else
		snprintf(above, sizeof(above), "%g %s was unhealthy (%s)", k->upper, u,
			 kc_verdict_name(k->ended_by));
	/* Say which bound set the number when it is not the load tested. */
	char what[200];
	kc_knee_bound_note(k, what, sizeof(what));
	if (k->end == KC_END_CONVERGED)
		rc = kc_buf_printf(out,
			"Knee: %g %s (%g per instance) - %s; %s. "
			"Found in %d steps (%d re-measured, %.0f s of load), bracket within %.1f%s.\n",
			k->value, u, r->knee_per_instance, what, above, k->steps, k->remeasures,
			(double)k->measured_ns / 1e9,
			k->mode == KC_MODE_STREAMS ? k->precision : k->precision * 100.0,
			k->mode == KC_MODE_STREAMS ? " stream(s)" : "%");
	else
		rc = kc_buf_printf(out, "Knee: at least %g %s (%g per instance): %s\n",
				   k->value, u, r->knee_per_instance, k->diagnosis);
	char notes[KC_KNEE_MAX_NOTES][KC_KNEE_NOTE_MAX];
	size_t nn = kc_knee_notes(k, chk, notes, KC_KNEE_MAX_NOTES);
	for (size_t i = 0; i < nn && !rc; i++)
		rc = kc_buf_printf(out, "  %s\n", notes[i]);
	if (rc)
		return rc;
	return kc_buf_printf(out,
		"Target: %s TargetValue %g %s = %.0f%% of the knee (range %.0f-%.0f%%: %g-%g).\n"
		"  Why 70-80%%: target tracking scales out only after the metric has been above\n"
		"  the target for minutes, and new instances take minutes more; the headroom\n"
		"  between target and knee absorbs growth meanwhile without a queue. Lower is\n"
		"  safer and costs more instances; AWS's suggested starting point is 0.5 of the\n"
		"  maximum (TargetValue %g), which this knee measurement lets you raise.\n",
		kc_metric_name(r->metric), r->target_value, kc_metric_unit(r->metric),
		c->factor * 100.0, c->factor_low * 100.0, c->factor_high * 100.0,
		r->target_low, r->target_high, r->aws_start_value);
}

/* ---- result.json objects --------------------------------------------- */

json_t *kc_knee_to_json(const struct kc_knee *k, const struct kc_knee_check *chk,
			int instances)
{
	if (instances < 1)
		instances = 1;
	json_t *o = json_pack("{s:f, s:s, s:f, s:s, s:s, s:s, s:b, s:b, s:i, s:i, s:s}",
			      "value", k->value,
			      "unit", kc_load_mode_name(k->mode),
			      "per_instance", k->mode == KC_MODE_RPS ?
				      kc_rate_figure_down(k->value / instances) : k->value / instances,
			      "reason", kc_knee_reason(k),
			      "end", kc_search_end_name(k->end),
			      "ended_by", kc_verdict_name(k->ended_by),
			      "found", k->found,
			      "lower_bound", k->lower_bound,
			      "steps", k->steps,
			      "remeasures", k->remeasures,
			      "diagnosis", k->diagnosis);
	if (!o)
		return NULL;
	int rc = 0;
	rc |= json_object_set_new(o, "instances", json_integer(instances));
	rc |= json_object_set_new(o, "upper", k->upper > 0 ? json_real(k->upper) : json_null());
	rc |= json_object_set_new(o, "upper_capped", json_boolean(k->upper_capped));
	rc |= json_object_set_new(o, "precision", json_real(k->precision));
	rc |= json_object_set_new(o, "measured_s", json_real((double)k->measured_ns / 1e9));
	rc |= json_object_set_new(o, "saturated_max", json_real(k->saturated_max));
	/* Which bound set `value`: the load tested healthy, saturated_max, or
	 * the knee load's own achieved rate (its measurements were unstable). */
	rc |= json_object_set_new(o, "bound", json_string(kc_knee_bound_name(k->bound)));
	rc |= json_object_set_new(o, "tested", json_real(k->tested));
	rc |= json_object_set_new(o, "knee_achieved", json_real(k->knee_achieved));
	rc |= json_object_set_new(o, "knee_unstable", json_boolean(k->knee_unstable));
	/* What the terminal prints about the knee, for the report to carry. */
	char what[200];
	kc_knee_bound_note(k, what, sizeof(what));
	rc |= json_object_set_new(o, "bound_note", json_string(what));
	char notes[KC_KNEE_MAX_NOTES][KC_KNEE_NOTE_MAX];
	size_t nn = kc_knee_notes(k, chk, notes, KC_KNEE_MAX_NOTES);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < nn; i++)
		json_array_append_new(arr, json_string(notes[i]));
	rc |= arr ? json_object_set_new(o, "notes", arr) : -1;
	if (chk) {
		json_t *x = json_pack("{s:{s:b, s:f, s:f}, s:{s:b, s:f, s:f, s:f}, s:{s:b, s:f, s:f, s:f, s:b}}",
			"kneedle", "found", chk->kneedle_found, "offered", chk->kneedle_offered,
			"achieved", chk->kneedle_achieved,
			"latency_inflation", "set", chk->inflation_set,
			"ratio", chk->latency_inflation, "mean_ms_low", chk->latency_mean_low_ms,
			"mean_ms_knee", chk->latency_mean_knee_ms,
			"little", "set", chk->little_set, "observed_inflight", chk->little_observed,
			"predicted_inflight", chk->little_predicted, "ratio", chk->little_ratio,
			"consistent", chk->little_consistent);
		rc |= x ? json_object_set_new(o, "cross_checks", x) : -1;
	}
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *kc_recommend_to_json(const struct kc_recommend_cfg *c,
			     const struct kc_recommendation *r)
{
	json_t *policy = kc_recommend_policy(c, r);
	if (!policy)
		return NULL;
	json_t *o = json_pack("{s:s?, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f,"
			      " s:i, s:i, s:b, s:o}",
			      "instance_type", c->instance_type[0] ? c->instance_type : NULL,
			      "metric", kc_metric_name(r->metric),
			      "unit", kc_metric_unit(r->metric),
			      "factor", r->factor,
			      "target_value", r->target_value,
			      "target_low", r->target_low,
			      "target_high", r->target_high,
			      "factor_low", r->factor_low,
			      "factor_high", r->factor_high,
			      "target_load", r->target_load,
			      "knee_per_instance", r->knee_per_instance,
			      "aws_start_factor", AWS_START_FACTOR,
			      "aws_start_value", r->aws_start_value,
			      "min_capacity", c->min_capacity,
			      "max_capacity", c->max_capacity,
			      "lower_bound", r->lower_bound,
			      "policy", policy);
	if (o) {
		json_object_set_new(o, "why", json_string(why_text));
		/* What apply.sh registers, so `plan` can write the same resource. */
		json_object_set_new(o, "endpoint_name", c->endpoint_name[0] ?
				    json_string(c->endpoint_name) : json_null());
		json_object_set_new(o, "variant", json_string(c->variant));
		if (c->region[0])
			json_object_set_new(o, "region", json_string(c->region));
		if (c->profile[0])
			json_object_set_new(o, "profile", json_string(c->profile));
	}
	return o;
}

json_t *kc_verdict_to_json(const struct kc_step_verdict *v)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:f, s:f, s:f, s:f, s:f}",
			 "verdict", kc_verdict_name(v->verdict),
			 "valid", v->valid,
			 "settled", v->stable,
			 "generator_note", v->generator_note,
			 "achieved_ratio", v->achieved_ratio,
			 "error_rate", v->error_rate,
			 "latency_ms", v->latency_ms,
			 "inflight_growth", v->inflight_growth,
			 "inflight_tol", v->inflight_tol);
}

json_t *kc_search_step_to_json(const struct kc_search_step *st)
{
	json_t *o = json_pack("{s:b, s:o, s:i}", "stable", st->v.verdict == KC_VERDICT_HEALTHY,
			      "verdict", kc_verdict_to_json(&st->v), "attempt", st->attempt);
	/* final is only set on the attempt that decided its load. */
	bool decided = st->healthy_final || st->final != KC_VERDICT_HEALTHY;
	if (o && decided &&
	    json_object_set_new(o, "load_verdict", json_string(kc_verdict_name(st->final)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}
