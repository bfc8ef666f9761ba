/*
 * verdict.c - what a search concluded, in words and in result.json: the
 * knee and its notes, the recommendation, each step's verdict and the
 * confirmation step.
 */
#include "kneecap/verdict.h"
#include "kneecap/policy.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/sagemaker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (k->bound == KC_BOUND_SATURATED_MAX && k->value > k->tested)
		/* A ladder's: the capacity lies between two rungs. */
		snprintf(out, n, "the most the endpoint completed while saturated, between the "
			 "highest rung healthy (%g %s) and the next", k->tested, u);
	else if (k->bound == KC_BOUND_SATURATED_MAX)
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
			"Knee: %g %s (%g per %s) - %s; %s. "
			"Found in %d steps (%d re-measured, %.0f s of load), bracket within %.1f%s.\n",
			k->value, u, r->knee_per_instance, kc_resource_unit(r->kind), what, above, k->steps, k->remeasures,
			(double)k->measured_ns / 1e9,
			k->mode == KC_MODE_STREAMS ? k->precision : k->precision * 100.0,
			k->mode == KC_MODE_STREAMS ? " stream(s)" : "%");
	else
		rc = kc_buf_printf(out, "Knee: at least %g %s (%g per %s): %s\n",
				   k->value, u, r->knee_per_instance, kc_resource_unit(r->kind),
				   k->diagnosis);
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
		kc_rec_metric_name(r), r->target_value, kc_rec_metric_unit(r),
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
			      "metric", kc_rec_metric_name(r),
			      "unit", kc_rec_metric_unit(r),
			      "factor", r->factor,
			      "target_value", r->target_value,
			      "target_low", r->target_low,
			      "target_high", r->target_high,
			      "factor_low", r->factor_low,
			      "factor_high", r->factor_high,
			      "target_load", r->target_load,
			      "knee_per_instance", r->knee_per_instance,
			      "aws_start_factor", KC_AWS_START_FACTOR,
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
		json_object_set_new(o, "endpoint_kind", json_string(kc_resource_kind_name(r->kind)));
		json_object_set_new(o, "scalable_dimension",
				    json_string(kc_resource_dimension(r->kind)));
		json_object_set_new(o, "capacity_unit", json_string(kc_resource_unit(r->kind)));
		if (r->kind == KC_RES_COMPONENT) {
			json_object_set_new(o, "inference_component", json_string(c->component));
			json_object_set_new(o, "copies", json_integer(c->copies));
			json_object_set_new(o, "knee_per_copy", json_real(r->knee_per_instance));
		}
		if (r->kind == KC_RES_COMPONENT && c->min_capacity == 0)
			json_object_set_new(o, "scale_from_zero", kc_recommend_step_from_zero(c));
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

json_t *kc_confirm_to_json(const struct kc_confirm *c)
{
	json_t *j = json_pack(
		"{s:f,s:f,s:i,s:f,s:f,s:f,s:{s:f,s:f,s:f,s:f,s:f,s:f},s:I,s:f,s:s,s:b}",
		"offered", c->offered, "per_instance", c->per_instance, "instances", c->instances,
		"target_value", c->target_value, "arrived", kc_rate_figure(c->arrived),
		"achieved", kc_rate_figure(c->achieved), "latency_ms", "p50", c->latency.p50,
		"p90", c->latency.p90, "p99", c->latency.p99, "p999", c->latency.p999, "max",
		c->latency.max, "mean", c->latency.mean, "errors", (json_int_t)c->errors,
		"duration_s", c->duration_s, "verdict", kc_verdict_name(c->v.verdict), "healthy",
		c->healthy);
	if (j)
		json_object_set_new(j, "verdict_detail", kc_verdict_to_json(&c->v));
	return j;
}
