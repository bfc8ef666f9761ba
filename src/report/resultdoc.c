/*
 * resultdoc.c - result.json read back with jansson for `report` and `plan`.
 *
 * The writer (report/json.c) owns the layout; this reader depends only on
 * the keys DESIGN.md lists as agreed, plus "tool" and "schema", which let
 * it refuse what it cannot read instead of guessing.  It is strict about
 * types of the keys it uses (a string where a number belongs is an error
 * naming the key) and tolerant of keys it does not use.  No I/O except
 * reading the one file in kc_resultdoc_load.
 */
#include "kneecap/resultdoc.h"
#include "resultdoc_int.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int num(json_t *obj, const char *key, double *out, bool required,
	       const char *where, const char *name, struct kc_diag *d)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return kc_diag_set(d, KC_EINVAL, "%s: missing \"%s%s\"", name,
					   where, key);
		*out = NAN;
		return KC_OK;
	}
	if (!json_is_number(v))
		return kc_diag_set(d, KC_EINVAL, "%s: %s\"%s\" is not a number", name, where, key);
	*out = json_number_value(v);
	return KC_OK;
}

static void str(json_t *obj, const char *key, char *out, size_t outsz)
{
	json_t *v = json_object_get(obj, key);
	snprintf(out, outsz, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int latency(json_t *obj, const char *key, struct kc_latency *out,
		   bool required, const char *where, const char *name, struct kc_diag *d)
{
	json_t *l = json_object_get(obj, key);
	struct kc_latency v = {.p50 = NAN, .p90 = NAN, .p99 = NAN, .p999 = NAN,
			       .max = NAN, .mean = NAN};
	if (!json_is_object(l)) {
		if (required)
			return kc_diag_set(d, KC_EINVAL, "%s: missing object \"%s%s\"", name, where, key);
		*out = v;
		return KC_OK;
	}
	char w[96];
	snprintf(w, sizeof(w), "%s%s.", where, key);
	int rc = num(l, "p50", &v.p50, required, w, name, d);
	if (!rc) rc = num(l, "p90", &v.p90, false, w, name, d);
	if (!rc) rc = num(l, "p99", &v.p99, required, w, name, d);
	if (!rc) rc = num(l, "p999", &v.p999, false, w, name, d);
	if (!rc) rc = num(l, "max", &v.max, false, w, name, d);
	if (!rc) rc = num(l, "mean", &v.mean, false, w, name, d);
	if (!rc)
		*out = v;
	return rc;
}

/* Flattens an object into "a.b" = "value" rows for display. */
static void flatten(json_t *v, const char *prefix, struct kc_rd_kv *kv, size_t *n, int depth)
{
	if (*n >= KC_RESULTDOC_MAX_KV || depth > 6)
		return;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c) {
			char p[96];
			snprintf(p, sizeof(p), "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten(c, p, kv, n, depth + 1);
		}
		return;
	}
	struct kc_rd_kv *e = &kv[*n];
	snprintf(e->key, sizeof(e->key), "%s", prefix);
	if (json_is_string(v)) {
		snprintf(e->value, sizeof(e->value), "%s", json_string_value(v));
	} else if (json_is_array(v) && json_array_size(v) > 8) {
		snprintf(e->value, sizeof(e->value), "[%zu items]", json_array_size(v));
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
		snprintf(e->value, sizeof(e->value), "%s", s ? s : "?");
		free(s);
	}
	(*n)++;
}

static int steps(json_t *root, struct kc_resultdoc *doc, const char *name,
		 struct kc_diag *d)
{
	json_t *arr = json_object_get(root, "steps");
	if (!json_is_array(arr))
		return kc_diag_set(d, KC_EINVAL, "%s: no \"steps\" array", name);
	size_t n = json_array_size(arr);
	if (n > KC_RESULTDOC_MAX_STEPS)
		return kc_diag_set(d, KC_ELIMIT, "%s: more than %d steps", name,
				   KC_RESULTDOC_MAX_STEPS);
	doc->steps = calloc(n ? n : 1, sizeof(*doc->steps));
	if (!doc->steps)
		return KC_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);
		struct kc_rd_step *st = &doc->steps[i];
		char where[48];
		snprintf(where, sizeof(where), "steps[%zu].", i);
		if (!json_is_object(s))
			return kc_diag_set(d, KC_EINVAL, "%s: steps[%zu] is not an object", name, i);
		int rc = num(s, "offered", &st->offered, true, where, name, d);
		if (!rc) rc = num(s, "achieved", &st->achieved, true, where, name, d);
		if (!rc) rc = latency(s, "latency_ms", &st->latency, true, where, name, d);
		if (!rc) rc = latency(s, "service_ms", &st->service, false, where, name, d);
		if (!rc) rc = num(s, "errors", &st->errors, false, where, name, d);
		if (!rc) rc = num(s, "inflight_max", &st->inflight_max, false, where, name, d);
		if (rc)
			return rc;
		if (isnan(st->errors))
			st->errors = 0;
		json_t *stable = json_object_get(s, "stable");
		/* Absent or null: not judged (a plain `run`), so not marked unstable. */
		st->stable = stable && !json_is_null(stable) ? json_is_true(stable) : true;
		if (num(s, "arrived", &st->arrived, false, where, name, NULL))
			st->arrived = NAN;
		json_t *v = json_object_get(s, "verdict");
		if (json_is_object(v)) {
			str(v, "verdict", st->verdict, sizeof(st->verdict));
			/* "settled"; results before the rename called it "stable" */
			json_t *settled = json_object_get(v, "settled");
			if (!settled)
				settled = json_object_get(v, "stable");
			st->ambiguous = json_is_false(settled);
		} else if (json_is_string(v)) {
			str(s, "verdict", st->verdict, sizeof(st->verdict));
		}
		json_t *att = json_object_get(s, "attempt");
		st->attempt = json_is_integer(att) ? (int)json_integer_value(att) : 0;
		doc->nsteps++;
	}
	return KC_OK;
}

/* confirm{}: optional, and a malformed one is shown as absent rather than refused. */
static void confirm(json_t *c, struct kc_resultdoc *doc, const char *name)
{
	if (!json_is_object(c))
		return;
	doc->has_confirm = true;
	struct {
		const char *key;
		double *out;
	} nums[] = {
		{"offered", &doc->confirm_offered}, {"per_instance", &doc->confirm_per_instance},
		{"target_value", &doc->confirm_target_value}, {"arrived", &doc->confirm_arrived},
		{"achieved", &doc->confirm_achieved}, {"errors", &doc->confirm_errors},
		{"duration_s", &doc->confirm_duration_s},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		if (num(c, nums[i].key, nums[i].out, false, "confirm.", name, NULL))
			*nums[i].out = NAN;
	json_t *n = json_object_get(c, "instances");
	doc->confirm_instances = json_is_integer(n) ? (int)json_integer_value(n) : 1;
	if (latency(c, "latency_ms", &doc->confirm_latency, false, "confirm.", name, NULL))
		doc->confirm_latency = (struct kc_latency){NAN, NAN, NAN, NAN, NAN, NAN, 0};
	str(c, "verdict", doc->confirm_verdict, sizeof(doc->confirm_verdict));
	doc->confirm_healthy = json_is_true(json_object_get(c, "healthy"));
}

/* "tool", "schema" and "mode": is this a result this build can read? */
static int check_kind(json_t *root, struct kc_resultdoc *doc, const char *name,
		      struct kc_diag *d)
{
	if (!json_is_object(root))
		return kc_diag_set(d, KC_EINVAL, "%s: not a JSON object", name);
	json_t *tool = json_object_get(root, "tool");
	if (!json_is_string(tool) || strcmp(json_string_value(tool), "kneecap"))
		return kc_diag_set(d, KC_EUNSUPPORTED,
				   "%s: not a kneecap result (\"tool\" is %s%s%s, expected \"kneecap\")",
				   name, json_is_string(tool) ? "\"" : "",
				   json_is_string(tool) ? json_string_value(tool) : "missing",
				   json_is_string(tool) ? "\"" : "");
	json_t *schema = json_object_get(root, "schema");
	if (!json_is_integer(schema))
		return kc_diag_set(d, KC_EUNSUPPORTED, "%s: no integer \"schema\" version", name);
	json_int_t sv = json_integer_value(schema);
	if (sv > KC_RESULTDOC_SCHEMA)
		return kc_diag_set(d, KC_EUNSUPPORTED,
				   "%s: written by a newer kneecap (schema %lld; this build reads "
				   "schema %d) - upgrade kneecap to read it",
				   name, (long long)sv, KC_RESULTDOC_SCHEMA);
	if (sv < 1)
		return kc_diag_set(d, KC_EUNSUPPORTED, "%s: schema %lld is not a kneecap schema",
				   name, (long long)sv);
	str(root, "mode", doc->mode, sizeof(doc->mode));
	if (strcmp(doc->mode, "rps") && strcmp(doc->mode, "streams"))
		return kc_diag_set(d, KC_EINVAL, "%s: \"mode\" must be \"rps\" or \"streams\"", name);
	return KC_OK;
}

/* knee{}: the value, how the search ended, its notes. */
static int knee_obj(json_t *knee, struct kc_resultdoc *doc, const char *name,
		    struct kc_diag *d)
{
	int rc;
	doc->has_knee = true;
	/* A search cut short writes found: false and no value (what it saw
	 * healthy is only healthy_up_to): not a knee, and never read as one. */
	json_t *fk = json_object_get(knee, "found");
	rc = num(knee, "value", &doc->knee_value, !json_is_false(fk), "knee.", name, d);
	if (!rc) rc = num(knee, "per_instance", &doc->knee_per_instance, false, "knee.", name, d);
	if (rc)
		return rc;
	if (isnan(doc->knee_value))
		doc->knee_value = doc->knee_per_instance = 0;
	if (isnan(doc->knee_per_instance))
		doc->knee_per_instance = doc->knee_value;
	str(knee, "unit", doc->knee_unit, sizeof(doc->knee_unit));
	str(knee, "reason", doc->knee_reason, sizeof(doc->knee_reason));
	json_t *ns = json_object_get(knee, "steps"), *nr = json_object_get(knee, "remeasures");
	doc->search_steps = json_is_integer(ns) ? (int)json_integer_value(ns) : -1;
	doc->search_remeasures = json_is_integer(nr) ? (int)json_integer_value(nr) : -1;
	if (num(knee, "measured_s", &doc->measured_s, false, "knee.", name, NULL))
		doc->measured_s = NAN;
	if (num(knee, "precision", &doc->precision, false, "knee.", name, NULL))
		doc->precision = NAN;
	json_t *found = json_object_get(knee, "found");
	doc->knee_found = found ? json_is_true(found) : doc->knee_value > 0;
	str(knee, "bound", doc->knee_bound, sizeof(doc->knee_bound));
	str(knee, "bound_note", doc->knee_bound_note, sizeof(doc->knee_bound_note));
	str(knee, "diagnosis", doc->diagnosis, sizeof(doc->diagnosis));
	json_t *notes = json_object_get(knee, "notes");
	for (size_t i = 0; i < json_array_size(notes) && doc->nnotes < KC_RESULTDOC_MAX_NOTES; i++)
		if (json_is_string(json_array_get(notes, i)))
			snprintf(doc->notes[doc->nnotes++], sizeof(doc->notes[0]), "%s",
				 json_string_value(json_array_get(notes, i)));
	return KC_OK;
}

/* recommendation{}: the target value, its resource and its policy's cooldowns. */
static int recommendation(json_t *rec, struct kc_resultdoc *doc, const char *name,
			  struct kc_diag *d)
{
	int rc;
	doc->has_rec = true;
	str(rec, "instance_type", doc->instance_type, sizeof(doc->instance_type));
	str(rec, "metric", doc->metric, sizeof(doc->metric));
	rc = num(rec, "factor", &doc->factor, false, "recommendation.", name, d);
	if (!rc) rc = num(rec, "target_value", &doc->target_value, true, "recommendation.", name, d);
	if (!rc) rc = num(rec, "target_low", &doc->target_low, false, "recommendation.", name, d);
	if (!rc) rc = num(rec, "target_high", &doc->target_high, false, "recommendation.", name, d);
	if (rc)
		return rc;
	str(rec, "why", doc->why, sizeof(doc->why));
	str(rec, "endpoint_name", doc->endpoint_name, sizeof(doc->endpoint_name));
	str(rec, "variant", doc->variant, sizeof(doc->variant));
	str(rec, "endpoint_kind", doc->endpoint_kind, sizeof(doc->endpoint_kind));
	str(rec, "inference_component", doc->inference_component,
	    sizeof(doc->inference_component));
	json_t *cp = json_object_get(rec, "copies");
	doc->copies = json_is_integer(cp) ? (int)json_integer_value(cp) : 0;
	str(rec, "region", doc->region, sizeof(doc->region));
	str(rec, "profile", doc->profile, sizeof(doc->profile));
	json_t *mn = json_object_get(rec, "min_capacity"), *mx = json_object_get(rec, "max_capacity");
	doc->rec_min_capacity = json_is_integer(mn) ? (int)json_integer_value(mn) : 0;
	doc->rec_max_capacity = json_is_integer(mx) ? (int)json_integer_value(mx) : 0;
	json_t *pol = json_object_get(rec, "policy");
	if (json_is_object(pol)) {
		json_t *c = json_object_get(pol, "TargetTrackingScalingPolicyConfiguration");
		if (!json_is_object(c))
			c = pol;
		num(c, "ScaleOutCooldown", &doc->scale_out_cooldown_s, false, "", name, NULL);
		num(c, "ScaleInCooldown", &doc->scale_in_cooldown_s, false, "", name, NULL);
		doc->disable_scale_in = json_is_true(json_object_get(c, "DisableScaleIn"));
	}
	return KC_OK;
}

/* config{}: every setting flattened, and the few the report reads. */
static void config(json_t *cfg, struct kc_resultdoc *doc)
{
	flatten(cfg, "", doc->config, &doc->nconfig, 0);
	json_t *slo = json_object_get(cfg, "slo_ms");
	if (!json_is_number(slo))
		slo = json_object_get(json_object_get(cfg, "search"), "slo_ms");
	if (json_is_number(slo) && json_number_value(slo) > 0)
		doc->slo_ms = json_number_value(slo);
	if (!doc->instance_type[0])
		str(cfg, "instance_type", doc->instance_type, sizeof(doc->instance_type));
	str(json_object_get(cfg, "search"), "slo_percentile", doc->slo_stat,
	    sizeof(doc->slo_stat));
	if (!doc->searched)
		str(cfg, "load", doc->run_load, sizeof(doc->run_load));
	json_t *rate = json_object_get(cfg, "rate"), *conc = json_object_get(cfg, "concurrency");
	doc->run_rate = json_is_number(rate) ? json_number_value(rate) : NAN;
	doc->run_concurrency = json_is_number(conc) ? json_number_value(conc) : NAN;
}

/* A sagemaker:ENDPOINT[/VARIANT] target names the resource itself. */
static void target_names(json_t *root, json_t *cfg, struct kc_resultdoc *doc)
{
	json_t *target = json_object_get(root, "target");
	if (!json_is_string(target))
		target = json_object_get(cfg, "target");
	if (!doc->endpoint_name[0] && json_is_string(target) &&
	    !strncmp(json_string_value(target), "sagemaker:", 10)) {
		const char *t = json_string_value(target) + 10;
		const char *slash = strchr(t, '/');
		size_t n = slash ? (size_t)(slash - t) : strlen(t);
		if (n < sizeof(doc->endpoint_name))
			snprintf(doc->endpoint_name, sizeof(doc->endpoint_name), "%.*s", (int)n, t);
		if (slash && !doc->variant[0])
			snprintf(doc->variant, sizeof(doc->variant), "%s", slash + 1);
	}
}

static int parse_root(json_t *root, struct kc_resultdoc *doc, const char *name,
		      struct kc_diag *d)
{
	int rc = check_kind(root, doc, name, d);
	if (!rc)
		rc = steps(root, doc, name, d);
	if (rc)
		return rc;

	json_t *partial = json_object_get(root, "partial");
	doc->partial = json_is_true(partial);
	str(root, "interrupted", doc->interrupted, sizeof(doc->interrupted));
	json_t *knee = json_object_get(root, "knee");
	doc->search_steps = doc->search_remeasures = -1;
	doc->measured_s = doc->precision = NAN;
	if (json_is_object(knee) && (rc = knee_obj(knee, doc, name, d)))
		return rc;
	json_t *search = json_object_get(root, "search");
	doc->searched = json_is_object(knee) || json_is_object(search);
	if (!doc->diagnosis[0] && json_is_object(search))
		str(search, "diagnosis", doc->diagnosis, sizeof(doc->diagnosis));
	json_t *rec = json_object_get(root, "recommendation");
	doc->scale_out_cooldown_s = doc->scale_in_cooldown_s = NAN;
	if (json_is_object(rec) && (rc = recommendation(rec, doc, name, d)))
		return rc;
	confirm(json_object_get(root, "confirm"), doc, name);
	json_t *cfg = json_object_get(root, "config");
	doc->slo_ms = NAN;
	doc->run_rate = doc->run_concurrency = NAN;
	if (json_is_object(cfg))
		config(cfg, doc);
	target_names(root, cfg, doc);
	json_t *env = json_object_get(root, "environment");
	if (json_is_object(env))
		flatten(env, "", doc->env, &doc->nenv, 0);
	return KC_OK;
}

int kc_resultdoc_parse(struct kc_resultdoc *out, const char *name,
		       const char *text, size_t len, struct kc_diag *d)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return kc_diag_set(d, KC_EPARSE, "%s:%d: not valid JSON: %s", name, je.line, je.text);
	struct kc_resultdoc *doc = calloc(1, sizeof(*doc));
	if (!doc) {
		json_decref(root);
		return KC_ENOMEM;
	}
	snprintf(doc->path, sizeof(doc->path), "%s", name);
	int rc = parse_root(root, doc, name, d);
	if (!rc)
		kc_rd_signals_parse(json_object_get(root, "signals"), &doc->signals);
	json_decref(root);
	if (rc) {
		kc_resultdoc_fini(doc);
		free(doc);
		return rc;
	}
	*out = *doc;
	free(doc);
	return KC_OK;
}

int kc_resultdoc_load(struct kc_resultdoc *out, const char *path, struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, KC_RESULTDOC_MAX_BYTES);
	int rc = kc_buf_read_text(&b, path, "JSON", d);
	if (!rc)
		rc = kc_resultdoc_parse(out, path, b.data, b.len, d);
	kc_buf_fini(&b);
	return rc;
}

void kc_resultdoc_fini(struct kc_resultdoc *doc)
{
	if (!doc)
		return;
	free(doc->steps);
	doc->steps = NULL;
	doc->nsteps = 0;
}

const char *kc_resultdoc_config(const struct kc_resultdoc *doc, const char *key)
{
	for (size_t i = 0; i < doc->nconfig; i++)
		if (!strcmp(doc->config[i].key, key))
			return doc->config[i].value;
	return NULL;
}

int kc_resultdoc_instances(const struct kc_resultdoc *doc)
{
	if (doc->has_knee && doc->knee_per_instance > 0 && doc->knee_value > 0) {
		long n = lround(doc->knee_value / doc->knee_per_instance);
		if (n >= 1 && n <= 10000)
			return (int)n;
	}
	return 1;
}

double kc_resultdoc_target_rps(const struct kc_resultdoc *doc)
{
	if (strcmp(doc->mode, "rps") || !doc->has_rec)
		return NAN;
	/* InvocationsPerInstance is per minute (spec §2): 2400 -> 40 RPS. */
	if ((strstr(doc->metric, "InvocationsPerInstance") ||
	     strstr(doc->metric, "InvocationsPerCopy")) && doc->target_value > 0)
		return doc->target_value / 60.0;
	if (doc->has_knee && doc->factor > 0)
		return doc->factor * doc->knee_per_instance;
	return NAN;
}
