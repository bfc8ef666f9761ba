/*
 * target.c - TARGET resolution and SigV4 signing for sagemaker: targets.
 *
 * Signing runs on the engine's worker threads through the request
 * decorator.  A SigV4 signer is single-threaded, so each worker gets its own,
 * made on its first request (one allocation per worker for the whole run);
 * it writes the header lines into the connection slot's buffer, so a
 * signed request allocates nothing in kneecap's code.
 * Credentials come from a refreshing provider; a worker notices a refresh
 * by the provider's generation counter and reloads its signer.
 */
#include "target.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/scenario.h"
#include "kneecap/url.h"
#include "kneecap/sigv4.h"

struct worker_signer {
	struct kc_sigv4_signer *signer;
	uint64_t generation;
	bool failed;
};

struct sm_signing {
	struct kc_creds_provider *creds;
	char region[64];
	const struct cli_target *t;
	uint32_t nworkers;
	struct worker_signer *w; /* one per worker, touched only by that worker */
};

static int worker_signer_load(struct sm_signing *g, struct worker_signer *ws)
{
	const struct kc_creds *c = kc_creds_provider_acquire(g->creds);
	uint64_t gen = kc_creds_provider_generation(g->creds);
	int rc;
	if (!ws->signer) {
		struct kc_sigv4_config sc = {
			.access_key_id = c->access_key_id,
			.secret_access_key = c->secret_access_key,
			.session_token = c->session_token,
			.region = g->region,
			.service = KC_SM_SIGNING_NAME,
		};
		rc = kc_sigv4_signer_new(&ws->signer, &sc, NULL);
	} else {
		rc = kc_sigv4_signer_set_creds(ws->signer, c->access_key_id,
					       c->secret_access_key, c->session_token, NULL);
	}
	kc_creds_provider_release(g->creds, c);
	if (!rc)
		ws->generation = gen;
	return rc;
}

/* The credentials' generation: lines signed under an older one are stale. */
static uint64_t signing_generation(void *ud)
{
	struct sm_signing *g = ud;
	return kc_creds_provider_generation(g->creds);
}

/* The engine's decorator: adds X-Amz-Date, X-Amz-Security-Token and Authorization. */
static int sign_request(void *ud, const struct kc_request_info *req,
			struct kc_decor_out *out)
{
	struct sm_signing *g = ud;
	if (req->worker >= g->nworkers)
		return KC_EINTERNAL;
	struct worker_signer *ws = &g->w[req->worker];
	if (ws->failed)
		return KC_EAUTH;
	if (!ws->signer || ws->generation != kc_creds_provider_generation(g->creds)) {
		if (worker_signer_load(g, ws)) {
			ws->failed = true;
			kc_log(KC_LOG_ERROR, "cannot set up request signing on worker %u",
			       req->worker);
			return KC_EAUTH;
		}
	}
	const struct cli_target *t = g->t;
	struct kc_sigv4_header h[KC_SM_MAX_HEADERS + 2];
	size_t n = 0;
	h[n++] = (struct kc_sigv4_header){"host", 4, req->host, strlen(req->host)};
	const char *ct = req->body && req->body->content_type ? req->body->content_type
							      : t->content_type;
	if (ct)
		h[n++] = (struct kc_sigv4_header){"content-type", 12, ct, strlen(ct)};
	for (int i = 0; i < t->smh.n; i++) {
		if (!strcmp(t->smh.h[i].name, "content-type"))
			continue;
		h[n++] = (struct kc_sigv4_header){t->smh.h[i].name, strlen(t->smh.h[i].name),
						  t->smh.h[i].value, strlen(t->smh.h[i].value)};
	}
	const char *path = req->path;
	struct kc_sigv4_request r = {
		.method = req->method,
		.path = path,
		.headers = h,
		.n_headers = n,
		.payload_hash = req->body && req->body->sha256_hex ? req->body->sha256_hex
								   : KC_SIGV4_EMPTY_SHA256,
		.time_s = req->send_wall_ns / 1000000000,
	};
	/* The signer writes its lines into the slot's buffer; the engine points at them. */
	struct kc_sigv4_signed sig;
	int rc = kc_sigv4_sign(ws->signer, &r, out->buf, sizeof(out->buf), &sig, NULL);
	if (rc)
		return rc;
	out->n = 0;
	out->line[out->n++] = sig.date;
	if (sig.token)
		out->line[out->n++] = sig.token;
	if (sig.content_sha256)
		out->line[out->n++] = sig.content_sha256;
	out->line[out->n++] = sig.authorization;
	return KC_OK;
}

static int open_sagemaker(struct cli_target *t, const char *target,
			  const struct cli_target_opts *o, uint32_t threads,
			  struct kc_diag *d)
{
	int rc = kc_sagemaker_parse_target(target, &t->sm, d);
	if (rc)
		return rc;
	struct kc_creds_opts co = {.profile = o->profile, .region = o->region};
	enum kc_region_source rsrc;
	rc = kc_creds_region(&co, t->region, sizeof(t->region), &rsrc, d);
	if (rc)
		return rc;
	struct kc_sm_url u;
	enum kc_sm_op op = o->response_stream ? KC_SM_RESPONSE_STREAM : KC_SM_INVOKE;
	t->response_stream = o->response_stream;
	unsigned variants = (o->fips ? KC_SM_FIPS : 0) | (o->dualstack ? KC_SM_DUALSTACK : 0);
	rc = kc_sagemaker_build_url_v(op, t->region, t->sm.endpoint, o->endpoint_url, variants,
				      &u, d);
	if (rc)
		return rc;
	snprintf(t->url, sizeof(t->url), "%s", u.url);
	struct kc_sm_opts smo = o->sm;
	if (t->sm.variant[0] && !smo.target_variant)
		smo.target_variant = t->sm.variant;
	rc = kc_sagemaker_build_headers(op, &smo, &t->smh, d);
	if (rc)
		return rc;
	for (int i = 0; i < t->smh.n; i++) {
		/* Content-Type travels with each body (image/jpeg for the synthetic
		 * pool); it is replaced only when the user asked for one. */
		if (!strcmp(t->smh.h[i].name, "content-type")) {
			if (o->sm.content_type)
				t->content_type = t->smh.h[i].value;
			continue;
		}
		snprintf(t->lines[t->nheaders], sizeof(t->lines[0]), "%s: %s", t->smh.h[i].name,
			 t->smh.h[i].value);
		t->headers[t->nheaders] = t->lines[t->nheaders];
		t->nheaders++;
	}
	struct sm_signing *g = calloc(1, sizeof(*g));
	if (!g)
		return KC_ENOMEM;
	g->w = calloc(threads ? threads : 1, sizeof(*g->w));
	if (!g->w) {
		free(g);
		return KC_ENOMEM;
	}
	g->nworkers = threads ? threads : 1;
	g->t = t;
	snprintf(g->region, sizeof(g->region), "%s", t->region);
	t->signing = g;
	rc = kc_creds_provider_new(&g->creds, &co, d);
	if (rc)
		return rc;
	const struct kc_creds *c = kc_creds_provider_acquire(g->creds);
	kc_creds_describe(c, t->creds_desc, sizeof(t->creds_desc));
	kc_creds_provider_release(g->creds, c);
	if (kc_creds_provider_start(g->creds, 0))
		kc_log(KC_LOG_WARN, "credential refresh thread not started; long runs may "
				    "outlive temporary credentials");
	kc_log(KC_LOG_INFO, "region %s (%s); credentials: %s", t->region,
	       kc_region_source_name(rsrc), t->creds_desc);
	return KC_OK;
}

int cli_target_open(struct cli_target *t, const char *target,
		    const struct cli_target_opts *o, uint32_t threads,
		    struct kc_diag *d)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->display, sizeof(t->display), "%s", target);
	if (kc_sagemaker_is_target(target)) {
		t->sagemaker = true;
		int rc = open_sagemaker(t, target, o, threads, d);
		if (rc)
			cli_target_close(t);
		return rc;
	}
	if (o->response_stream)
		return kc_diag_set(d, KC_EINVAL,
				   "response streams (InvokeEndpointWithResponseStream) need a "
				   "sagemaker:ENDPOINT TARGET, not '%s'", target);
	if (!kc_url_is_http(target))
		return kc_diag_set(d, KC_EINVAL,
				   "bad TARGET '%s': expected http(s)://HOST[:PORT]/PATH or "
				   "sagemaker:ENDPOINT[/VARIANT]", target);
	if (strlen(target) >= sizeof(t->url))
		return kc_diag_set(d, KC_EINVAL, "TARGET is longer than %zu bytes",
				   sizeof(t->url) - 1);
	snprintf(t->url, sizeof(t->url), "%s", target);
	return KC_OK;
}

void cli_target_close(struct cli_target *t)
{
	if (!t || !t->signing)
		return;
	struct sm_signing *g = t->signing;
	for (uint32_t i = 0; i < g->nworkers; i++)
		kc_sigv4_signer_free(g->w[i].signer);
	if (g->creds) {
		kc_creds_provider_stop(g->creds);
		kc_creds_provider_free(g->creds);
	}
	free(g->w);
	free(g);
	t->signing = NULL;
}

void cli_target_apply(struct cli_target *t, struct kc_engine_config *cfg)
{
	cfg->url = t->url;
	cfg->sagemaker_errors = t->sagemaker;
	cfg->response_stream = t->response_stream;
	/* KNEECAP_CLIENT sets the default of --client (the test matrix runs
	 * the engine tests once per client this way); a bad value is ignored */
	const char *client = getenv("KNEECAP_CLIENT");
	if (cfg->client == KC_CLIENT_DEFAULT && client)
		kc_client_parse(client, &cfg->client);
	if (t->signing) {
		cfg->decorate = sign_request;
		cfg->decorate_ud = t->signing;
		/* a signature covers the body's hash and X-Amz-Date's second only */
		cfg->decorate_per_second = true;
		cfg->decorate_generation = signing_generation;
	}
}

int cli_target_with_creds(struct cli_target *t,
			  int (*fn)(void *ud, const struct kc_creds *c), void *ud)
{
	if (!t->signing)
		return KC_EAUTH;
	const struct kc_creds *c = kc_creds_provider_acquire(t->signing->creds);
	int rc = fn(ud, c);
	kc_creds_provider_release(t->signing->creds, c);
	return rc;
}

int cli_target_opts_from_scenario(struct cli_target_opts *o, struct kc_scenario *sc,
				  const char **target, struct kc_diag *d)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"region", offsetof(struct cli_target_opts, region)},
		{"endpoint_url", offsetof(struct cli_target_opts, endpoint_url)},
		{"profile", offsetof(struct cli_target_opts, profile)},
		{"content_type", offsetof(struct cli_target_opts, sm.content_type)},
		{"accept", offsetof(struct cli_target_opts, sm.accept)},
		{"target_variant", offsetof(struct cli_target_opts, sm.target_variant)},
		{"target_model", offsetof(struct cli_target_opts, sm.target_model)},
		{"custom_attributes", offsetof(struct cli_target_opts, sm.custom_attributes)},
		{"inference_id", offsetof(struct cli_target_opts, sm.inference_id)},
		{"inference_component", offsetof(struct cli_target_opts, sm.inference_component)},
		{"target_container_hostname",
		 offsetof(struct cli_target_opts, sm.target_container_hostname)},
		{"session_id", offsetof(struct cli_target_opts, sm.session_id)},
		{"enable_explanations", offsetof(struct cli_target_opts, sm.enable_explanations)},
		{"cloudwatch_endpoint_url", offsetof(struct cli_target_opts, cloudwatch_endpoint_url)},
		{"cloudwatch_period", offsetof(struct cli_target_opts, cloudwatch_period)},
		{"cloudwatch_wait", offsetof(struct cli_target_opts, cloudwatch_wait)},
		{"current_policy", offsetof(struct cli_target_opts, current_policy)},
		{"alarm_topic", offsetof(struct cli_target_opts, alarm_topic)},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v;
		if (kc_scenario_get_str(sc, "target", keys[i].key, &v, d) == KC_OK)
			*(const char **)((char *)o + keys[i].off) = v;
	}
	const char *v;
	if (target && kc_scenario_get_str(sc, "target", "url", &v, d) == KC_OK)
		*target = v;
	static const struct {
		const char *key;
		size_t off;
	} flags[] = {
		{"response_stream", offsetof(struct cli_target_opts, response_stream)},
		{"fips", offsetof(struct cli_target_opts, fips)},
		{"dualstack", offsetof(struct cli_target_opts, dualstack)},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int rc = kc_scenario_get_bool(sc, "target", flags[i].key,
					      (bool *)((char *)o + flags[i].off), d);
		if (rc && rc != KC_ENOTFOUND)
			return rc;
	}
	return KC_OK;
}
