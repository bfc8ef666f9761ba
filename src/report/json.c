/*
 * json.c - result.json: the run's document, built with jansson from step
 * results and whatever extra sections the command adds.
 *
 * Key names follow DESIGN.md "What a run writes" and may be added to but
 * never renamed.  Latencies are milliseconds.  "stable" is null here: only
 * the knee finder judges stability.  This file renders; it never measures.
 */
#include "kneecap/result.h"
#include "result_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kneecap/hdr.h"
#include "kneecap/knee.h"

/* Caps the document at a size no sane run reaches (10k steps is ~20 MB). */
#define RESULT_JSON_MAX ((size_t)256 << 20)

void kc_result_env_detect(struct kc_result_env *env)
{
	KC_ASSERT(env);
	if (gethostname(env->host, sizeof(env->host)) != 0)
		snprintf(env->host, sizeof(env->host), "unknown");
	env->host[sizeof(env->host) - 1] = '\0';
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	env->cores = n > 0 ? (int)n : 1;
}

/* Rounds to microsecond resolution so the JSON does not carry float noise. */
static json_t *ms(double v)
{
	double r = (double)(int64_t)(v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0;
	return json_real(r);
}

static json_t *latency_json(const struct kc_latency *l)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "p50", ms(l->p50), "p90", ms(l->p90),
			 "p99", ms(l->p99), "p999", ms(l->p999), "max", ms(l->max), "mean",
			 ms(l->mean), "count", (json_int_t)l->count);
}

json_t *kc_step_to_json(const struct kc_step_result *s)
{
	json_t *o = json_object();
	json_t *ec = json_object();
	json_t *codes = json_object();
	if (!o || !ec || !codes)
		goto fail;
	for (int i = 0; i < KC_EC_COUNT; i++)
		if (json_object_set_new(ec, kc_errclass_name((enum kc_errclass)i),
					json_integer((json_int_t)s->errclass[i])))
			goto fail;
	for (int i = 0; i < s->ncodes && i < KC_STEP_MAX_CODES; i++) {
		char k[16];
		snprintf(k, sizeof(k), "%d", s->codes[i].code);
		if (json_object_set_new(codes, k, json_integer((json_int_t)s->codes[i].count)))
			goto fail;
	}
	json_t *more = json_pack(
		"{s:i,s:o,s:o,s:o,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:b,s:n,s:b}",
		"index", s->index,
		"offered", json_real(s->offered),
		"achieved", json_real((double)(int64_t)(s->achieved * 1000 + 0.5) / 1000),
		"duration_s", json_real((double)s->duration_ns / 1e9),
		"start_wall_ms", (json_int_t)s->start_wall_ms,
		"latency_ms", latency_json(&s->latency),
		"scheduled", (json_int_t)s->scheduled,
		"sent", (json_int_t)s->sent,
		"completed", (json_int_t)s->completed,
		"ok", (json_int_t)s->ok,
		"errors", (json_int_t)s->errors,
		"unfinished", (json_int_t)s->unfinished,
		"service_ms", latency_json(&s->service),
		"ttfb_ms", latency_json(&s->ttfb),
		"error_classes", ec,
		"inflight_max", (json_int_t)s->inflight_max,
		"inflight", json_pack("{s:o,s:o,s:o}", "start", json_real(s->inflight_start),
				      "end", json_real(s->inflight_end), "slope_per_s",
				      json_real(s->inflight_slope)),
		"lag_ms", json_pack("{s:o,s:o}", "p99", ms(s->lag_p99_ms), "max", ms(s->lag_max_ms)),
		"gen_cpu", json_real((double)(int64_t)(s->gen_cpu * 1e4 + 0.5) / 1e4),
		"status_codes", codes,
		"generator_bound", s->generator_bound,
		"stable",
		"partial", s->partial);
	ec = codes = NULL; /* stolen by json_pack (even on failure) */
	if (!more || json_object_update(o, more)) {
		json_decref(more);
		goto fail;
	}
	json_decref(more);
	if (s->response_stream) {
		/* InvokeEndpointWithResponseStream runs only: added, never in place of
		 * the keys above. */
		json_t *rs = json_pack("{s:o,s:o,s:o,s:I}", "ttfp_ms", latency_json(&s->ttfp),
				       "ttfp_service_ms", latency_json(&s->ttfp_service),
				       "part_gap_ms", latency_json(&s->part_gap), "parts",
				       (json_int_t)s->parts);
		if (!rs || json_object_update(o, rs)) {
			json_decref(rs);
			goto fail;
		}
		json_decref(rs);
	}
	/* only when the workers released arrivals late on purpose */
	if (s->release_slack_ms > 0 &&
	    json_object_set_new(o, "release_slack_ms", json_real(s->release_slack_ms)))
		goto fail;
	if (s->nsamples > 0) {
		/* What the endpoint said, for the first few errors of each class. */
		json_t *arr = json_array();
		for (int i = 0; arr && i < s->nsamples; i++) {
			json_t *x = json_pack("{s:s,s:i,s:s,s:s}", "class",
					      kc_errclass_name(s->samples[i].cls), "status",
					      s->samples[i].status, "code", s->samples[i].code,
					      "message", s->samples[i].message);
			/* bidirectional-stream errors carry an ErrorCode besides their type */
			if (x && s->samples[i].error_code[0])
				json_object_set_new(x, "error_code",
						    json_string(s->samples[i].error_code));
			json_array_append_new(arr, x);
		}
		if (!arr || json_object_set_new(o, "error_samples", arr))
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	json_decref(ec);
	json_decref(codes);
	return NULL;
}

json_t *kc_result_to_json(const struct kc_result *r)
{
	KC_ASSERT(r);
	json_t *steps = json_array();
	if (!steps)
		return NULL;
	for (size_t i = 0; i < r->nsteps; i++) {
		json_t *st = kc_step_to_json(&r->steps[i]);
		/* rps: the arrivals the schedule produced per second, the figure the
		 * verdict compares achieved with (knee.h kc_rate_figure), and
		 * achieved as that same figure. */
		if (st && (!r->mode || !strcmp(r->mode, "rps"))) {
			json_object_set_new(st, "arrived",
					    json_real(kc_rate_figure(kc_step_arrived(&r->steps[i]))));
			/* achieved as the table and steps.csv print it */
			json_object_set_new(st, "achieved",
					    json_real(kc_rate_figure(r->steps[i].achieved)));
		}
		json_t *more = r->step_extra ? json_array_get(r->step_extra, i) : NULL;
		if (st && json_is_object(more))
			json_object_update(st, more);
		if (json_array_append_new(steps, st)) {
			json_decref(steps);
			return NULL;
		}
	}
	json_t *env = json_pack("{s:s,s:i,s:s,s:s?,s:I}", "host", r->env.host, "cores",
				r->env.cores, "kneecap_version",
				r->env.kneecap_version ? r->env.kneecap_version : "",
				"libcurl_version", r->env.libcurl_version, "started_wall_ms",
				(json_int_t)r->env.started_wall_ms);
	/* "tool" and "schema" let readers (resultdoc.h) refuse what they cannot know. */
	json_t *doc = json_pack("{s:s,s:i,s:s,s:s?,s:O?,s:o,s:o,s:b}", "tool", KC_RESULT_TOOL, "schema",
				KC_RESULT_SCHEMA, "mode", r->mode ? r->mode : "rps",
				"target", r->target, "config", r->config, "environment", env,
				"steps", steps, "partial", r->partial);
	if (!doc)
		return NULL;
	/* Partial and why: a reader must never mistake a cut-short run for a whole one. */
	if (r->partial || r->interrupted || r->incomplete)
		json_object_set_new(doc, "partial", json_true());
	if (r->interrupted)
		json_object_set_new(doc, "interrupted", json_string(r->interrupted));
	if (r->incomplete)
		json_object_set_new(doc, "incomplete", json_string(r->incomplete));
	if (r->extra && json_is_object(r->extra) && json_object_update(doc, r->extra)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int dump_cb(const char *buf, size_t n, void *ud)
{
	return kc_buf_append(ud, buf, n) ? -1 : 0;
}

int kc_result_json_text(const struct kc_result *r, struct kc_buf *out)
{
	json_t *doc = kc_result_to_json(r);
	if (!doc)
		return KC_ENOMEM;
	size_t before = out->len;
	int rc = json_dump_callback(doc, dump_cb, out, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(doc);
	if (rc != 0) {
		out->len = before;
		return KC_ELIMIT;
	}
	return kc_buf_puts(out, "\n");
}

int kc_result_write_json(const struct kc_result *r, const char *path, struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, RESULT_JSON_MAX);
	int rc = kc_result_json_text(r, &b);
	if (rc) {
		kc_buf_fini(&b);
		return kc_diag_set(d, rc, "%s: cannot render the result (%s)", path, kc_strerror(rc));
	}
	rc = kc_write_file(path, b.data, b.len);
	kc_buf_fini(&b);
	if (rc)
		return kc_diag_set(d, rc, "%s: %s", path, strerror(errno));
	return KC_OK;
}
