/*
 * shard_ladder.c - the fixed ladder a shard drives (run --ramp, find and
 * streams with --shard), one step per common-clock slot, and the analysis
 * settings a shard hands to `kneecap merge` (shard.h).
 */
#include "shard.h"
#include "cli.h"
#include "runout.h"

#include <stdio.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/err.h"
#include "kneecap/schedule.h"

static bool shard_stop(void)
{
	return runout_caught_signal() != 0;
}

int cli_shard_run_steps(struct kc_engine *e, const struct cli_ladder *l, struct runout *ctx,
			struct kc_step_result *steps, size_t nsteps, size_t *done, bool *stopped)
{
	const struct cli_shard *sh = l->shard;
	struct kc_engine_hooks hooks = {.progress = runout_progress, .interval = runout_interval,
					.ud = ctx};
	int status = -1;
	int64_t wait_ms = sh->have_start_at ? sh->start_at_ms - kc_wall_ns() / KC_NS_PER_MS : 0;
	if (!ctx->quiet && wait_ms > 1000)
		fprintf(stderr, "kneecap: %s: waiting %.1f s for --start-at %s\n", ctx->cmd,
			(double)wait_ms / 1e3, l->start_at_text ? l->start_at_text : "");
	for (size_t i = 0; i < nsteps; i++) {
		/* On the common clock, every shard starts step i at the same instant
		 * (the engine starts its workers 5 ms after it is called). */
		if (!runout_caught_signal())
			cli_shard_wait(sh, i, 5, shard_stop);
		if (runout_caught_signal()) {
			*stopped = true;
			break;
		}
		struct kc_step_spec spec = l->base;
		spec.index = (int)i;
		spec.rate_rps = cli_shard_rate(sh, l->ramp ? kc_ramp_value(l->ramp, i) : l->base.rate_rps);
		if (l->base.rate_end_rps > 0)
			spec.rate_end_rps = cli_shard_rate(sh, l->base.rate_end_rps);
		spec.seed = cli_shard_seed(sh, l->base.seed) + i;
		struct kc_diag d;
		kc_diag_clear(&d);
		if (kc_engine_run_step(e, &spec, &hooks, &steps[i], &d)) {
			runout_progress_end(ctx);
			cli_diag_error(ctx->cmd, &d);
			/* The spec was checked before the run: what fails here is ours. */
			status = KC_EXIT_INTERNAL;
			break;
		}
		(*done)++;
		if (steps[i].partial || kc_engine_stopped(e) || runout_caught_signal() ||
		    (ctx->out && outdir_failed(ctx->out))) {
			steps[i].partial = true;
			*stopped = true;
			break;
		}
	}
	runout_progress_end(ctx);
	return status;
}

json_t *cli_shard_health_json(const struct kc_health_cfg *h)
{
	json_t *o = json_pack("{s:s,s:f,s:f,s:b,s:f,s:s,s:f,s:f,s:f,s:f,s:f}",
			      "mode", kc_load_mode_name(h->mode),
			      "min_achieved_ratio", h->min_achieved_ratio,
			      "max_error_rate", h->max_error_rate, "slo_set", h->slo_set,
			      "slo_ms", h->slo_ms, "slo_percentile", kc_lat_stat_name(h->slo_stat),
			      "inflight_growth_abs", h->inflight_growth_abs,
			      "inflight_growth_rel", h->inflight_growth_rel,
			      "inflight_growth_z", h->inflight_growth_z, "max_lag_ms", h->max_lag_ms,
			      "ambiguity", h->ambiguity);
	return o;
}

static void num(json_t *o, const char *k, double *dst)
{
	json_t *v = json_object_get(o, k);
	if (json_is_number(v))
		*dst = json_number_value(v);
}

static void str(json_t *o, const char *k, char *dst, size_t cap)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		snprintf(dst, cap, "%s", json_string_value(v));
}

int cli_shard_health_read(json_t *o, struct kc_health_cfg *h, struct kc_diag *d)
{
	const char *m = json_string_value(json_object_get(o, "mode"));
	kc_health_cfg_default(h, m && !strcmp(m, "streams") ? KC_MODE_STREAMS : KC_MODE_RPS);
	if (!json_is_object(o))
		return 0;
	num(o, "min_achieved_ratio", &h->min_achieved_ratio);
	num(o, "max_error_rate", &h->max_error_rate);
	num(o, "slo_ms", &h->slo_ms);
	num(o, "inflight_growth_abs", &h->inflight_growth_abs);
	num(o, "inflight_growth_rel", &h->inflight_growth_rel);
	num(o, "inflight_growth_z", &h->inflight_growth_z);
	num(o, "max_lag_ms", &h->max_lag_ms);
	num(o, "ambiguity", &h->ambiguity);
	if (json_is_boolean(json_object_get(o, "slo_set")))
		h->slo_set = json_is_true(json_object_get(o, "slo_set"));
	const char *st = json_string_value(json_object_get(o, "slo_percentile"));
	if (st && kc_lat_stat_parse(st, &h->slo_stat))
		return kc_diag_set(d, KC_EINVAL, "health: slo_percentile '%s'", st);
	return kc_health_cfg_validate(h, d);
}

json_t *cli_shard_rec_json(const struct kc_recommend_cfg *c)
{
	json_t *o = json_pack("{s:f,s:f,s:f,s:i,s:s,s:s,s:i,s:i,s:i,s:i,s:b,s:s,s:s,s:s,s:f,s:s,"
			      "s:s}",
			      "factor", c->factor, "factor_low", c->factor_low, "factor_high",
			      c->factor_high, "instances", c->instances, "instance_type",
			      c->instance_type, "metric", c->metric_set ? kc_metric_name(c->metric) : "",
			      "min_capacity", c->min_capacity, "max_capacity", c->max_capacity,
			      "scale_out_cooldown_s", c->scale_out_cooldown_s, "scale_in_cooldown_s",
			      c->scale_in_cooldown_s, "disable_scale_in", c->disable_scale_in,
			      "endpoint_name", c->endpoint_name, "variant", c->variant, "policy_name",
			      c->policy_name, "usd_per_hour", c->usd_per_hour, "region", c->region,
			      "profile", c->profile);
	/* What the knee is divided by and which policy shape merge writes: a
	 * component's copies, a serverless MaxConcurrency. */
	json_t *kind = json_pack("{s:s,s:s,s:i,s:i}", "endpoint_kind", kc_resource_kind_name(c->kind),
				 "inference_component", c->component, "copies", c->copies,
				 "max_concurrency", c->max_concurrency);
	if (!o || !kind || json_object_update(o, kind)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(kind);
	return o;
}

int cli_shard_rec_read(json_t *o, struct kc_recommend_cfg *c, struct kc_diag *d)
{
	kc_recommend_cfg_default(c);
	if (!json_is_object(o))
		return 0;
	double x;
	num(o, "factor", &c->factor);
	num(o, "factor_low", &c->factor_low);
	num(o, "factor_high", &c->factor_high);
	num(o, "usd_per_hour", &c->usd_per_hour);
	struct { const char *k; int *dst; } ints[] = {
		{"instances", &c->instances}, {"min_capacity", &c->min_capacity},
		{"copies", &c->copies}, {"max_concurrency", &c->max_concurrency},
		{"max_capacity", &c->max_capacity}, {"scale_out_cooldown_s", &c->scale_out_cooldown_s},
		{"scale_in_cooldown_s", &c->scale_in_cooldown_s}};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		x = *ints[i].dst;
		num(o, ints[i].k, &x);
		*ints[i].dst = (int)x;
	}
	c->disable_scale_in = json_is_true(json_object_get(o, "disable_scale_in"));
	str(o, "instance_type", c->instance_type, sizeof(c->instance_type));
	str(o, "endpoint_name", c->endpoint_name, sizeof(c->endpoint_name));
	str(o, "variant", c->variant, sizeof(c->variant));
	str(o, "policy_name", c->policy_name, sizeof(c->policy_name));
	str(o, "region", c->region, sizeof(c->region));
	str(o, "profile", c->profile, sizeof(c->profile));
	str(o, "inference_component", c->component, sizeof(c->component));
	const char *kind = json_string_value(json_object_get(o, "endpoint_kind"));
	if (kind && kc_resource_kind_parse(kind, &c->kind))
		return kc_diag_set(d, KC_EINVAL, "recommend: endpoint_kind '%s'", kind);
	const char *m = json_string_value(json_object_get(o, "metric"));
	if (m && *m) {
		if (kc_metric_parse(m, &c->metric))
			return kc_diag_set(d, KC_EINVAL, "recommend: metric '%s'", m);
		c->metric_set = true;
	}
	return kc_recommend_cfg_validate(c, d);
}
