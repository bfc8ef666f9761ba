/*
 * runner.c - the engine object: configuration checks and construction.
 *
 * kc_engine_new validates the target once (URL, headers, limits), sizes the
 * load (threads, connections, slots, the memory budget) and builds every
 * worker's transport state.  The probe is in probe.c, the step coordinator
 * in coord.c.
 */
#include "engine_int.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"

/* Memory estimate (kc_load_size_check): a slot's libcurl handle beyond the
 * struct (measured about 13 KiB resident per slot), and a live connection's
 * receive and send buffers. */
#define SLOT_EXTRA_BYTES (16 * 1024)
#define CONN_BYTES (32 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kc_http_version_parse(const char *s, enum kc_http_version *out)
{
	if (!s)
		return KC_EPARSE;
	if (!strcmp(s, "1.1") || !strcasecmp(s, "http/1.1") || !strcmp(s, "1")) {
		*out = KC_HTTP_1_1;
		return KC_OK;
	}
	if (!strcmp(s, "2") || !strcasecmp(s, "h2") || !strcasecmp(s, "http/2")) {
		*out = KC_HTTP_2;
		return KC_OK;
	}
	if (!strcasecmp(s, "h2c")) {
		*out = KC_HTTP_2_PRIOR;
		return KC_OK;
	}
	return KC_EPARSE;
}

const char *kc_http_version_name(enum kc_http_version v)
{
	switch (v) {
	case KC_HTTP_2:
		return "2";
	case KC_HTTP_2_PRIOR:
		return "h2c";
	default:
		return "1.1";
	}
}

const char *kc_engine_libcurl_version(void)
{
	return curl_version();
}

static void engine_strings_free(struct kc_engine *e)
{
	free(e->url);
	free(e->method);
	free(e->host);
	free(e->path);
	free(e->cacert);
	free(e->proxy);
	free(e->client_cert);
	free(e->client_key);
	for (size_t i = 0; e->headers && i < e->nheaders; i++)
		free(e->headers[i]);
	free(e->headers);
	for (size_t i = 0; e->ctype_lines && i < e->cfg.nbodies; i++)
		free(e->ctype_lines[i]);
	free(e->ctype_lines);
}

void kc_engine_free(struct kc_engine *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; e->workers && i < e->threads; i++)
		kc_worker_fini(&e->workers[i]);
	free(e->workers);
	engine_strings_free(e);
	free(e);
}

/* Splits the URL with libcurl's own parser so we agree with what it sends. */
static int parse_url(struct kc_engine *e, struct kc_diag *d)
{
	CURLU *u = curl_url();
	if (!u)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	int rc = KC_OK;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	if (curl_url_set(u, CURLUPART_URL, e->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = kc_diag_set(d, KC_EINVAL, "bad URL '%s' (expected http://HOST[:PORT]/PATH)", e->url);
		goto out;
	}
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
		rc = kc_diag_set(d, KC_EINVAL, "bad URL '%s': scheme must be http or https", e->url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	size_t hl = strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
	size_t pl = (path ? strlen(path) : 1) + (query ? strlen(query) + 1 : 0) + 1;
	e->host = malloc(hl);
	e->path = malloc(pl);
	if (!e->host || !e->path) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(e->host, hl, "%s%s%s", host, port ? ":" : "", port ? port : "");
	snprintf(e->path, pl, "%s%s%s", path ? path : "/", query ? "?" : "", query ? query : "");
	if (!strcasecmp(scheme, "http") && e->cfg.http == KC_HTTP_2)
		kc_log(KC_LOG_WARN, "--http 2 on a cleartext URL uses HTTP/1.1; use --http h2c for cleartext HTTP/2");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

static int copy_headers(struct kc_engine *e, const struct kc_engine_config *cfg,
			struct kc_diag *d)
{
	if (cfg->nheaders > KC_ENGINE_MAX_HEADERS)
		return kc_diag_set(d, KC_EINVAL, "at most %d headers", KC_ENGINE_MAX_HEADERS);
	e->headers = calloc(cfg->nheaders + 1, sizeof(char *));
	if (!e->headers)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->nheaders; i++) {
		const char *h = cfg->headers[i];
		const char *colon = h ? strchr(h, ':') : NULL;
		if (!h || !colon || colon == h || strpbrk(h, "\r\n") || strlen(h) > 8192)
			return kc_diag_set(d, KC_EINVAL,
					   "bad header '%s' (expected 'Name: value')", h ? h : "");
		for (const char *p = h; p < colon; p++)
			if (*p == ' ' || *p == '\t')
				return kc_diag_set(d, KC_EINVAL, "bad header '%s': space in the name", h);
		if ((size_t)(colon - h) == 12 && !strncasecmp(h, "content-type", 12))
			e->user_content_type = true;
		e->headers[i] = strdup(h);
		if (!e->headers[i])
			return kc_diag_set(d, KC_ENOMEM, "out of memory");
		e->nheaders = i + 1;
	}
	return KC_OK;
}

static int make_ctype_lines(struct kc_engine *e, struct kc_diag *d)
{
	if (e->cfg.nbodies == 0)
		return KC_OK;
	e->ctype_lines = calloc(e->cfg.nbodies, sizeof(char *));
	if (!e->ctype_lines)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	if (e->user_content_type)
		return KC_OK;
	for (size_t i = 0; i < e->cfg.nbodies; i++) {
		const struct kc_body *b = &e->cfg.bodies[i];
		if (!b->data && b->len)
			return kc_diag_set(d, KC_EINVAL, "body %zu has no data", i);
		/* Without one, libcurl would claim a form; say "bytes" instead. */
		const char *ct = b->content_type ? b->content_type : "application/octet-stream";
		if (strpbrk(ct, "\r\n"))
			return kc_diag_set(d, KC_EINVAL, "bad content type for body %zu", i);
		size_t n = strlen(ct) + sizeof("Content-Type: ");
		e->ctype_lines[i] = malloc(n);
		if (!e->ctype_lines[i])
			return kc_diag_set(d, KC_ENOMEM, "out of memory");
		snprintf(e->ctype_lines[i], n, "Content-Type: %s", ct);
	}
	return KC_OK;
}

static int check_config(const struct kc_engine_config *c, struct kc_diag *d)
{
	if (!c || !c->url || !*c->url)
		return kc_diag_set(d, KC_EINVAL, "no target URL");
	if (c->threads > 1024)
		return kc_diag_set(d, KC_EINVAL, "threads %u: at most 1024", c->threads);
	if (c->connections > 100000)
		return kc_diag_set(d, KC_EINVAL, "connections %u per thread: at most 100000", c->connections);
	if (c->streams_per_connection > 10000)
		return kc_diag_set(d, KC_EINVAL, "streams per connection %u: at most 10000",
				   c->streams_per_connection);
	if (c->connect_timeout_ns < 0 || c->connect_timeout_ns > 3600 * KC_NS_PER_S)
		return kc_diag_set(d, KC_EINVAL, "connect timeout must be in 0..1h");
	if (c->request_timeout_ns < 0 || c->request_timeout_ns > 3600 * KC_NS_PER_S)
		return kc_diag_set(d, KC_EINVAL, "request timeout must be in 0..1h");
	if (c->max_inflight > 10000000)
		return kc_diag_set(d, KC_EINVAL, "max in-flight %u: at most 10000000", c->max_inflight);
	if (c->nbodies && !c->bodies)
		return kc_diag_set(d, KC_EINVAL, "bodies missing");
	if ((c->release_slack_ns < 0 && c->release_slack_ns != KC_RELEASE_SLACK_AUTO) ||
	    c->release_slack_ns > 10 * KC_NS_PER_MS)
		return kc_diag_set(d, KC_EINVAL, "release slack must be in 0..10ms");
	if ((c->proxy || c->client_cert || c->client_key) && c->client == KC_CLIENT_NATIVE)
		return kc_diag_set(d, KC_EINVAL, "a proxy or a client certificate needs --client curl");
	if (c->method && (!*c->method || strpbrk(c->method, " \t\r\n:") || strlen(c->method) > 32))
		return kc_diag_set(d, KC_EINVAL, "bad method '%s'", c->method);
	return KC_OK;
}

/* Copies what the engine keeps of the caller's configuration, so the caller
 * may free its strings once kc_engine_new returns. */
static int copy_config(struct kc_engine *e, const struct kc_engine_config *cfg,
		       struct kc_diag *d)
{
	int rc;
	e->cfg = *cfg;
	e->cfg.headers = NULL;
	e->cfg.nheaders = 0;
	e->cfg.cacert = NULL;
	e->url = strdup(cfg->url);
	e->method = strdup(cfg->method ? cfg->method : (cfg->nbodies ? "POST" : "GET"));
	if (!e->url || !e->method)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	for (char *p = e->method; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (!e->cfg.connect_timeout_ns)
		e->cfg.connect_timeout_ns = 5 * KC_NS_PER_S;
	if (!e->cfg.request_timeout_ns)
		e->cfg.request_timeout_ns = 30 * KC_NS_PER_S;
	if ((rc = parse_url(e, d)) || (rc = copy_headers(e, cfg, d)) ||
	    (rc = make_ctype_lines(e, d)))
		return rc;
	if (cfg->cacert && !(e->cacert = strdup(cfg->cacert)))
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	e->cfg.cacert = e->cacert;
	if ((cfg->proxy && !(e->proxy = strdup(cfg->proxy))) ||
	    (cfg->client_cert && !(e->client_cert = strdup(cfg->client_cert))) ||
	    (cfg->client_key && !(e->client_key = strdup(cfg->client_key))))
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	e->cfg.proxy = e->proxy;
	e->cfg.client_cert = e->client_cert;
	e->cfg.client_key = e->client_key;
	return KC_OK;
}

/* Threads, connections, streams and the in-flight cap: the defaults fitted
 * to the machine's limits, then the whole load checked against them. */
static int size_load(struct kc_engine *e, const struct kc_engine_config *cfg,
		     struct kc_diag *d)
{
	struct kc_sys_limits lim;
	kc_sys_limits_get(&lim);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	e->threads = cfg->threads ? cfg->threads : (uint32_t)(ncpu > 0 ? ncpu : 1);
	bool h2 = cfg->http != KC_HTTP_1_1;
	e->connections = cfg->connections ? cfg->connections
					  : (h2 ? KC_ENGINE_DEFAULT_CONNECTIONS_H2
						: KC_ENGINE_DEFAULT_CONNECTIONS_H1);
	if (!cfg->threads && !cfg->connections) {
		uint64_t per = e->connections;
		kc_load_size_fit(&e->threads, &per, &lim);
		e->connections = (uint32_t)per;
	}
	e->streams = h2 ? (cfg->streams_per_connection ? cfg->streams_per_connection
						      : KC_ENGINE_DEFAULT_STREAMS)
			: 1;
	uint64_t slots = (uint64_t)e->connections * e->streams;
	if (slots > 100000)
		return kc_diag_set(d, KC_EINVAL, "%llu request slots per thread: at most 100000",
				   (unsigned long long)slots);
	e->slots = (uint32_t)slots;
	e->max_inflight = cfg->max_inflight ? cfg->max_inflight : 10000;
	uint64_t floor_inflight = (uint64_t)e->slots * e->threads;
	if (e->max_inflight < floor_inflight)
		e->max_inflight = (uint32_t)floor_inflight;

	struct kc_load_size size = {
		.threads = e->threads,
		.connections_per_thread = e->connections,
		.bytes = (uint64_t)e->threads * e->slots * (sizeof(struct slot) + SLOT_EXTRA_BYTES) +
			 (uint64_t)e->threads * e->connections * CONN_BYTES +
			 (uint64_t)e->max_inflight * sizeof(struct pending),
	};
	return kc_load_size_check(&size, &lim, d);
}

int kc_engine_new(struct kc_engine **out, const struct kc_engine_config *cfg,
		  struct kc_diag *d)
{
	int rc = check_config(cfg, d);
	if (rc)
		return rc;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return kc_diag_set(d, KC_EINTERNAL, "libcurl failed to initialise");
	struct kc_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	if ((rc = copy_config(e, cfg, d)) || (rc = size_load(e, cfg, d)))
		goto fail;
	e->workers = calloc(e->threads, sizeof(*e->workers));
	if (!e->workers) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < e->threads; i++) {
		struct worker *w = &e->workers[i];
		w->e = e;
		w->index = i;
		w->timerfd = -1;
		w->cap_inflight = (e->max_inflight + e->threads - 1) / e->threads;
	}
	e->proto = kc_proto_choose(&e->cfg);
	kc_log(KC_LOG_DEBUG, "engine: requests go through the %s driver", e->proto->name);
	for (uint32_t i = 0; i < e->threads; i++)
		if ((rc = kc_worker_init(&e->workers[i], d)))
			goto fail;
	*out = e;
	return KC_OK;
fail:
	kc_engine_free(e);
	return rc;
}

uint32_t kc_engine_threads(const struct kc_engine *e) { return e->threads; }
uint32_t kc_engine_connections(const struct kc_engine *e) { return e->connections; }
uint32_t kc_engine_slots(const struct kc_engine *e) { return e->slots; }
uint32_t kc_engine_max_inflight(const struct kc_engine *e) { return e->max_inflight; }

int64_t kc_engine_step_slack_ns(const struct kc_engine *e, const struct kc_step_spec *spec)
{
	if (e->cfg.release_slack_ns != KC_RELEASE_SLACK_AUTO)
		return e->cfg.release_slack_ns;
	if (spec->mode != KC_STEP_RATE)
		return 0;
	double low = spec->rate_rps;
	if (spec->rate_end_rps > 0 && spec->rate_end_rps < low)
		low = spec->rate_end_rps;
	return low / e->threads >= KC_AUTO_SLACK_MIN_RPS ? KC_AUTO_SLACK_NS : 0;
}

void kc_engine_stop(struct kc_engine *e)
{
	if (e)
		atomic_store(&e->stop, true);
}

void kc_engine_reset_stop(struct kc_engine *e)
{
	atomic_store(&e->stop, false);
}

void kc_engine_end_window(struct kc_engine *e)
{
	if (e)
		atomic_store(&e->end_asked, true);
}

bool kc_engine_stopped(const struct kc_engine *e)
{
	return atomic_load(&((struct kc_engine *)(uintptr_t)e)->stop);
}

const char *kc_engine_host(const struct kc_engine *e)
{
	return e->host;
}
