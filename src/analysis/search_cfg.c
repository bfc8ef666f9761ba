/*
 * search_cfg.c - the knee search's settings: their defaults per load mode,
 * the checks every configuration passes before a search starts, and the
 * [search] section of a scenario read into them (search.c is the state
 * machine that runs on them).
 */
#include "kneecap/search.h"
#include "kneecap/step.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void kc_search_cfg_default(struct kc_search_cfg *c, enum kc_load_mode mode)
{
	memset(c, 0, sizeof(*c));
	c->mode = mode;
	bool streams = mode == KC_MODE_STREAMS;
	c->start = streams ? 1 : 10;
	c->max = streams ? 1024 : 10000;
	c->growth = 2.0;
	c->precision = streams ? 1.0 : 0.03;
	c->max_steps = 24;
	c->max_remeasure = 2;
	c->max_stepdown = 6;
	kc_health_cfg_default(&c->health, mode);
	c->step_duration_ns = (streams ? 30 : 20) * INT64_C(1000000000);
	c->warmup_ns = 5 * INT64_C(1000000000);
	c->threads = 0;
}

int kc_search_cfg_validate(const struct kc_search_cfg *c, struct kc_diag *d)
{
	bool streams = c->mode == KC_MODE_STREAMS;
	if (!(c->start > 0 && isfinite(c->start)))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "start", "must be > 0");
	if (!(c->max > 0 && isfinite(c->max)))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max", "must be > 0");
	if (c->max < c->start)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max",
				      "%g is below start (%g): max is the highest load to try",
				      c->max, c->start);
	if (streams && (c->start != floor(c->start) || c->max != floor(c->max)))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, c->start != floor(c->start) ? "start" : "max",
				      "stream counts must be whole numbers");
	if (!(c->growth > 1.0 && c->growth <= 10.0))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "growth",
				      "must be in (1, 10], e.g. 2");
	if (!streams && !(c->precision >= 0.005 && c->precision <= 0.5))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "precision",
				      "must be in [0.005, 0.5] (a fraction: 0.03 = +-3%%)");
	if (c->max_steps < 2 || c->max_steps > KC_SEARCH_MAX_STEPS)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max_steps",
				      "must be in 2..%d", KC_SEARCH_MAX_STEPS);
	if (c->max_remeasure < 0 || c->max_remeasure > 4)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max_remeasure",
				      "must be in 0..4");
	if (c->max_stepdown < 0 || c->max_stepdown > 20)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "max_stepdown",
				      "must be in 0..20");
	if (c->step_duration_ns < INT64_C(1000000000))
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "step_duration",
				      "must be at least 1s (the in-flight trend needs seconds)");
	if (c->warmup_ns < 0)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "warmup", "must be >= 0");
	if (c->threads < 0)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "threads", "must be >= 0");
	if (c->health.mode != c->mode)
		return kc_diag_set_at(d, KC_EINVAL, NULL, 0, "mode",
				      "health and search modes differ (a caller bug)");
	return kc_health_cfg_validate(&c->health, d);
}

/* ---- [search] from a scenario --------------------------------------- */

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

static int get_double(struct kc_scenario *sc, const char *key, double lo,
		      double hi, double *out, struct kc_diag *d)
{
	int rc = kc_scenario_get_double(sc, "search", key, lo, hi, out, d);
	return rc == KC_ENOTFOUND ? KC_OK : rc;
}

static int get_int(struct kc_scenario *sc, const char *key, int lo, int hi,
		   int *out, struct kc_diag *d)
{
	int64_t v;
	int rc = kc_scenario_get_i64(sc, "search", key, lo, hi, &v, d);
	if (rc == KC_ENOTFOUND)
		return KC_OK;
	if (rc == KC_OK)
		*out = (int)v;
	return rc;
}

static int get_dur(struct kc_scenario *sc, const char *key, int64_t unit,
		   int64_t lo, int64_t hi, int64_t *out, struct kc_diag *d)
{
	int rc = kc_scenario_get_duration_ns(sc, "search", key, unit, lo, hi, out, d);
	return rc == KC_ENOTFOUND ? KC_OK : rc;
}

int kc_search_cfg_from_scenario(struct kc_search_cfg *c, struct kc_scenario *sc,
				struct kc_diag *d)
{
	struct kc_search_cfg t = *c;
	int rc;
	const char *file = kc_scenario_name(sc);
	if ((rc = get_double(sc, "start", 0, KC_ENGINE_MAX_RATE, &t.start, d)) ||
	    (rc = get_double(sc, "max", 0, KC_ENGINE_MAX_RATE, &t.max, d)) ||
	    (rc = get_double(sc, "growth", 0, 1e3, &t.growth, d)) ||
	    (rc = get_double(sc, "precision", 0, 1e3, &t.precision, d)) ||
	    (rc = get_int(sc, "max_steps", 0, 100000, &t.max_steps, d)) ||
	    (rc = get_int(sc, "max_remeasure", 0, 100000, &t.max_remeasure, d)) ||
	    (rc = get_int(sc, "threads", 0, 4096, &t.threads, d)) ||
	    (rc = get_dur(sc, "step_duration", NS_PER_S, 0, 3600 * NS_PER_S,
			  &t.step_duration_ns, d)) ||
	    (rc = get_dur(sc, "warmup", NS_PER_S, 0, 3600 * NS_PER_S, &t.warmup_ns, d)) ||
	    (rc = get_double(sc, "max_error_rate", 0, 1, &t.health.max_error_rate, d)) ||
	    (rc = get_double(sc, "min_achieved_ratio", 0, 1, &t.health.min_achieved_ratio, d)))
		return rc;

	int64_t ns = 0;
	rc = kc_scenario_get_duration_ns(sc, "search", "slo", NS_PER_MS, 0,
					 3600 * NS_PER_S, &ns, d);
	if (rc == KC_OK) {
		if (ns <= 0) {
			struct kc_scenario_entry *e = kc_scenario_find(sc, "search", "slo");
			return kc_diag_set_at(d, KC_EINVAL, file, e ? e->line : 0, "slo",
					      "an SLO of 0 can never be met: give a latency "
					      "such as 250ms, or leave slo out for none");
		}
		t.health.slo_set = true;
		t.health.slo_ms = (double)ns / (double)NS_PER_MS;
	} else if (rc != KC_ENOTFOUND) {
		return rc;
	}
	const char *stat;
	if (kc_scenario_get_str(sc, "search", "slo_percentile", &stat, d) == KC_OK &&
	    kc_lat_stat_parse(stat, &t.health.slo_stat) != KC_OK) {
		struct kc_scenario_entry *e = kc_scenario_find(sc, "search", "slo_percentile");
		return kc_diag_set_at(d, KC_EINVAL, file, e ? e->line : 0, "slo_percentile",
				      "'%s' is not one of: p50, p90, p99, p999, mean", stat);
	}
	if ((rc = get_dur(sc, "max_lag", NS_PER_MS, 0, 3600 * NS_PER_S, &ns, d)))
		return rc;
	if (kc_scenario_find(sc, "search", "max_lag"))
		t.health.max_lag_ms = (double)ns / (double)NS_PER_MS;

	rc = kc_search_cfg_validate(&t, d);
	if (rc) {
		/* Point the message at the line of the key it is about. */
		struct kc_scenario_entry *e = d && d->key[0] ?
			kc_scenario_find(sc, "search", d->key) : NULL;
		if (e && d) {
			snprintf(d->file, sizeof(d->file), "%s", file);
			d->line = e->line;
		}
		return rc;
	}
	*c = t;
	return KC_OK;
}
