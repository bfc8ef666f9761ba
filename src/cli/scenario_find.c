/*
 * scenario_find.c - find's reading of a scenario: the one place its
 * sections, ranges and order are known, so serve and find cannot drift.
 */
#include "scenario_find.h"

#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"

/*
 * Against the emulator (no TARGET), the units the knee is divided by
 * default to what it hosts: the named component's copies, or a serverless
 * profile's MaxConcurrency, unless [recommend] says otherwise.
 */
static void units_from_emulator(struct kc_scenario *sc, struct cli_find_cfg *c)
{
	struct kc_recommend_cfg *r = &c->rec;
	if (r->kind == KC_RES_COMPONENT && !kc_scenario_find(sc, "recommend", "copies"))
		for (int i = 0; i < c->emu.n_components; i++)
			if (!strcmp(c->emu.components[i].name, r->component))
				r->copies = c->emu.components[i].copies;
	if (r->kind == KC_RES_SERVERLESS && c->emu.serverless_max_concurrency > 0 &&
	    !kc_scenario_find(sc, "recommend", "max_concurrency"))
		r->max_concurrency = c->emu.serverless_max_concurrency;
}

/* [payload]: the source, its file or folder, and the JPEG factory's options. */
static int read_payload(struct kc_scenario *sc, struct cli_find_cfg *c, struct kc_diag *d)
{
	int rc;
	static const char *const sources[] = {"jpeg", "dir", "body", "none", NULL};
	int src;
	if ((rc = kc_scenario_get_enum(sc, "payload", "source", sources, &src, d)) == KC_OK)
		c->payload_source = sources[src];
	else if (rc != KC_ENOTFOUND)
		return rc;
	kc_scenario_get_str(sc, "payload", "dir", &c->payload_dir, d);
	kc_scenario_get_str(sc, "payload", "body", &c->payload_body, d);
	kc_scenario_get_str(sc, "payload", "body_content_type", &c->body_content_type, d);
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (strcmp(e->section, "payload") || !strcmp(e->key, "source") ||
		    !strcmp(e->key, "dir") || !strcmp(e->key, "body") ||
		    !strcmp(e->key, "body_content_type"))
			continue;
		struct kc_diag jd;
		kc_diag_clear(&jd);
		rc = kc_jpeg_opts_set(&c->jpeg, e->key, e->value, &jd);
		if (rc == KC_ENOTFOUND)
			continue; /* left unused: reported as an unknown key below */
		e->used = true;
		if (rc)
			return kc_diag_set_at(d, KC_EINVAL, e->line ? kc_scenario_name(sc) : "command line",
					      e->line, e->key, "%s", jd.msg);
	}
	if (c->payload_source && !strcmp(c->payload_source, "dir") && !c->payload_dir)
		return kc_diag_set(d, KC_EINVAL, "[payload] source = dir needs dir = DIR (--payload-dir)");
	if (c->payload_source && !strcmp(c->payload_source, "body") && !c->payload_body)
		return kc_diag_set(d, KC_EINVAL, "[payload] source = body needs body = FILE (--body)");
	return KC_OK;
}

/* The engine's settings ([target]) and how steps run ([search] confirm, arrival). */
static int read_engine(struct kc_scenario *sc, struct cli_find_cfg *c, struct kc_diag *d)
{
	int rc;
	if ((rc = kc_scenario_get_i64(sc, "target", "connections", 1, 100000, &c->connections, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_i64(sc, "target", "max_inflight", 1, 10000000, &c->max_inflight, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_duration_ns(sc, "target", "timeout", KC_NS_PER_S, KC_NS_PER_MS,
					      3600 * KC_NS_PER_S, &c->timeout_ns, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_duration_ns(sc, "target", "connect_timeout", KC_NS_PER_S,
					      KC_NS_PER_MS, 600 * KC_NS_PER_S,
					      &c->connect_timeout_ns, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	static const char *const https[] = {"1.1", "2", "h2c", NULL};
	int hv;
	if ((rc = kc_scenario_get_enum(sc, "target", "http", https, &hv, d)) == KC_OK)
		c->http = hv == 0 ? KC_HTTP_1_1 : hv == 1 ? KC_HTTP_2 : KC_HTTP_2_PRIOR;
	else if (rc != KC_ENOTFOUND)
		return rc;
	static const char *const clients[] = {"native", "curl", NULL};
	int cv;
	if ((rc = kc_scenario_get_enum(sc, "target", "client", clients, &cv, d)) == KC_OK)
		c->client = cv == 0 ? KC_CLIENT_NATIVE : KC_CLIENT_CURL;
	else if (rc != KC_ENOTFOUND)
		return rc;
	if ((rc = kc_scenario_get_bool(sc, "target", "insecure", &c->insecure, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	kc_scenario_get_str(sc, "target", "cacert", &c->cacert, d);
	if ((rc = kc_scenario_get_i64(sc, "target", "streams", 1, 10000, &c->streams, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	kc_scenario_get_str(sc, "target", "proxy", &c->proxy, d);
	kc_scenario_get_str(sc, "target", "cert", &c->client_cert, d);
	kc_scenario_get_str(sc, "target", "key", &c->client_key, d);
	kc_scenario_get_str(sc, "target", "method", &c->method, d);
	c->confirm = true;
	if ((rc = kc_scenario_get_bool(sc, "search", "confirm", &c->confirm, d)) &&
	    rc != KC_ENOTFOUND)
		return rc;
	static const char *const arrivals[] = {"uniform", "poisson", NULL};
	int av;
	if ((rc = kc_scenario_get_enum(sc, "search", "arrival", arrivals, &av, d)) == KC_OK)
		c->arrival = av == 0 ? KC_ARRIVAL_UNIFORM : KC_ARRIVAL_POISSON;
	else if (rc != KC_ENOTFOUND)
		return rc;
	return KC_OK;
}

int cli_find_cfg_read(struct kc_scenario *sc, struct cli_find_cfg *c, const char **target,
		      struct kc_diag *d)
{
	kc_search_cfg_default(&c->search, KC_MODE_RPS);
	kc_recommend_cfg_default(&c->rec);
	kc_emu_profile_defaults(&c->emu);
	kc_jpeg_opts_default(&c->jpeg);
	c->http = KC_HTTP_1_1;
	c->arrival = KC_ARRIVAL_POISSON;
	int rc = kc_search_cfg_from_scenario(&c->search, sc, d);
	if (!rc)
		rc = kc_recommend_cfg_from_scenario(&c->rec, sc, d);
	if (!rc)
		rc = kc_emu_profile_from_scenario(sc, &c->emu, d);
	if (!rc)
		rc = kc_emu_profile_check(&c->emu, d);
	if (rc)
		return rc;
	const char *url = NULL;
	if ((rc = cli_target_opts_from_scenario(&c->topts, sc, &url, d)))
		return rc;
	if (!*target)
		*target = url;
	if (!*target)
		units_from_emulator(sc, c);

	if ((rc = read_payload(sc, c, d)) || (rc = read_engine(sc, c, d)))
		return rc;

	/* [traffic] and [plan] belong to `kneecap plan`; a find scenario may carry them. */
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (!strcmp(e->section, "traffic") || !strcmp(e->section, "plan"))
			e->used = true;
	}
	return kc_scenario_check_unused(sc, d);
}

int cli_scenario_check_as_find(struct kc_scenario *sc, struct kc_diag *d)
{
	struct cli_find_cfg scratch;
	memset(&scratch, 0, sizeof(scratch));
	const char *target = NULL;
	return cli_find_cfg_read(sc, &scratch, &target, d);
}
