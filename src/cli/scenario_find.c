/*
 * scenario_find.c - find's scenario checks, read into scratch settings.
 *
 * The order and the ranges follow cmd_find.c's read_config() so that the
 * first error reported is the one find reports; test_serve_slow.sh compares
 * the two commands' messages on the same bad files.
 */
#include "scenario_find.h"

#include "cli.h"
#include "target.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/jpeg.h"
#include "kneecap/recommend.h"
#include "kneecap/scenario.h"
#include "kneecap/search.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The [payload] keys find reads itself; the others are the JPEG factory's. */
static bool payload_own_key(const char *key)
{
	return !strcmp(key, "source") || !strcmp(key, "dir") || !strcmp(key, "body") ||
	       !strcmp(key, "body_content_type");
}

static int check_payload(struct kc_scenario *sc, struct kc_diag *d)
{
	static const char *const sources[] = {"jpeg", "dir", "body", "none", NULL};
	const char *source = NULL, *dir = NULL, *body = NULL, *ctype = NULL;
	int src, rc;
	if ((rc = kc_scenario_get_enum(sc, "payload", "source", sources, &src, d)) == KC_OK)
		source = sources[src];
	else if (rc != KC_ENOTFOUND)
		return rc;
	kc_scenario_get_str(sc, "payload", "dir", &dir, d);
	kc_scenario_get_str(sc, "payload", "body", &body, d);
	kc_scenario_get_str(sc, "payload", "body_content_type", &ctype, d);
	struct kc_jpeg_opts jpeg;
	kc_jpeg_opts_default(&jpeg);
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (strcmp(e->section, "payload") || payload_own_key(e->key))
			continue;
		struct kc_diag jd;
		kc_diag_clear(&jd);
		rc = kc_jpeg_opts_set(&jpeg, e->key, e->value, &jd);
		if (rc == KC_ENOTFOUND)
			continue; /* left unused: reported as an unknown key */
		e->used = true;
		if (rc)
			return kc_diag_set_at(d, KC_EINVAL,
					      e->line ? kc_scenario_name(sc) : "command line",
					      e->line, e->key, "%s", jd.msg);
	}
	if (source && !strcmp(source, "dir") && !dir)
		return kc_diag_set(d, KC_EINVAL, "[payload] source = dir needs dir = DIR (--payload-dir)");
	if (source && !strcmp(source, "body") && !body)
		return kc_diag_set(d, KC_EINVAL, "[payload] source = body needs body = FILE (--body)");
	return KC_OK;
}

static int check_target(struct kc_scenario *sc, struct kc_diag *d)
{
	int64_t i64;
	bool b;
	int rc;
	if ((rc = kc_scenario_get_i64(sc, "target", "connections", 1, 100000, &i64, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_i64(sc, "target", "max_inflight", 1, 10000000, &i64, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_duration_ns(sc, "target", "timeout", KC_NS_PER_S, KC_NS_PER_MS,
					      3600 * KC_NS_PER_S, &i64, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_duration_ns(sc, "target", "connect_timeout", KC_NS_PER_S,
					      KC_NS_PER_MS, 600 * KC_NS_PER_S, &i64, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	static const char *const https[] = {"1.1", "2", "h2c", NULL};
	int v;
	if ((rc = kc_scenario_get_enum(sc, "target", "http", https, &v, d)) && rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_bool(sc, "target", "insecure", &b, d)) && rc != KC_ENOTFOUND)
		return rc;
	const char *s;
	kc_scenario_get_str(sc, "target", "cacert", &s, d);
	static const char *const arrivals[] = {"uniform", "poisson", NULL};
	if ((rc = kc_scenario_get_enum(sc, "search", "arrival", arrivals, &v, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	return KC_OK;
}

int cli_scenario_check_as_find(struct kc_scenario *sc, struct kc_diag *d)
{
	struct kc_search_cfg search;
	struct kc_recommend_cfg rec;
	struct kc_emu_profile emu;
	struct cli_target_opts topts;
	memset(&topts, 0, sizeof(topts));
	kc_search_cfg_default(&search, KC_MODE_RPS);
	kc_recommend_cfg_default(&rec);
	kc_emu_profile_defaults(&emu);
	int rc = kc_search_cfg_from_scenario(&search, sc, d);
	if (!rc)
		rc = kc_recommend_cfg_from_scenario(&rec, sc, d);
	if (!rc)
		rc = kc_emu_profile_from_scenario(sc, &emu, d);
	if (!rc)
		rc = kc_emu_profile_check(&emu, d);
	if (!rc) {
		const char *url = NULL;
		rc = cli_target_opts_from_scenario(&topts, sc, &url, d);
	}
	if (!rc)
		rc = check_payload(sc, d);
	if (!rc)
		rc = check_target(sc, d);
	if (rc)
		return rc;
	/* [traffic] and [plan] belong to `kneecap plan`; find allows them. */
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (!strcmp(e->section, "traffic") || !strcmp(e->section, "plan"))
			e->used = true;
	}
	return kc_scenario_check_unused(sc, d);
}
