/*
 * component.c - inference components and serverless hosting for the
 * emulator (component_int.h).
 *
 * Components: SageMaker routes an invocation that names
 * InferenceComponentName (X-Amzn-SageMaker-Inference-Component) to that
 * component's copies; an endpoint hosting components refuses an
 * invocation without one, and one naming a component it does not host,
 * with 400 ValidationError (the service model's only 400 error with a
 * Message).  The messages follow the endpoint's "... of account N not
 * found." shape; AWS's exact wording for components was not available to
 * check.
 *
 * Serverless: MaxConcurrency units each serve one request at a time (the
 * service model's MaxConcurrency); one more is throttled at once, as AWS
 * documents for invocations beyond an endpoint's maximum.  A unit idle for
 * serverless_idle goes cold; a request that finds no warm unit free waits
 * serverless_cold_start on a cold one (ModelSetupTime) before its service.
 */
#include "component_int.h"
#include "request_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* One NAME:COPIESxSLOTS[@SERVICE] item of length n. */
static int parse_one(struct kc_emu_component *c, const char *s, size_t n, char *why, size_t whysz)
{
	char item[160];
	if (n >= sizeof(item)) {
		snprintf(why, whysz, "component entry too long");
		return KC_EINVAL;
	}
	memcpy(item, s, n);
	item[n] = '\0';
	char *colon = strchr(item, ':');
	char *x = colon ? strchr(colon, 'x') : NULL;
	char *at = x ? strchr(x, '@') : NULL;
	if (!colon || !x) {
		snprintf(why, whysz, "'%s': expected NAME:COPIESxSLOTS[@SERVICE_TIME]", item);
		return KC_EINVAL;
	}
	*colon = *x = '\0';
	if (at)
		*at = '\0';
	int64_t copies, slots;
	if (!name_ok(item, strlen(item))) {
		snprintf(why, whysz, "'%s' is not a SageMaker name (letters, digits, inner "
			 "hyphens, <= 63)", item);
		return KC_EINVAL;
	}
	if (kc_parse_i64(colon + 1, 1, 1024, &copies) || kc_parse_i64(x + 1, 1, 65536, &slots)) {
		snprintf(why, whysz, "'%s': copies must be 1..1024 and slots 1..65536", item);
		return KC_EINVAL;
	}
	int64_t svc = 0;
	if (at && (kc_parse_duration_ns(at + 1, KC_NS_PER_MS, &svc) || svc < 1000 ||
		   svc > 60 * KC_NS_PER_S)) {
		snprintf(why, whysz, "'%s': service time must be a duration in 1us..60s", at + 1);
		return KC_EINVAL;
	}
	snprintf(c->name, sizeof(c->name), "%.63s", item);
	c->copies = (int)copies;
	c->slots = (int)slots;
	c->service_ns = svc;
	return KC_OK;
}

int kc_emu_components_parse(struct kc_emu_profile *p, const char *v, char *why, size_t whysz)
{
	struct kc_emu_component list[KC_EMU_COMPONENTS_MAX];
	int n = 0;
	for (const char *s = v; *s;) {
		while (*s == ' ' || *s == ',')
			s++;
		size_t len = strcspn(s, ",");
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len == 0)
			break;
		if (n == KC_EMU_COMPONENTS_MAX) {
			snprintf(why, whysz, "at most %d components", KC_EMU_COMPONENTS_MAX);
			return KC_EINVAL;
		}
		int rc = parse_one(&list[n], s, len, why, whysz);
		if (rc)
			return rc;
		for (int i = 0; i < n; i++)
			if (!strcmp(list[i].name, list[n].name)) {
				snprintf(why, whysz, "component '%s' listed twice", list[n].name);
				return KC_EINVAL;
			}
		n++;
		s += strcspn(s, ",");
	}
	/* A key written to host components that names none is a mistake, not
	 * a plain endpoint. */
	if (n == 0) {
		snprintf(why, whysz, "names no component (NAME:COPIESxSLOTS[@SERVICE],...)");
		return KC_EINVAL;
	}
	memcpy(p->components, list, sizeof(list[0]) * (size_t)n);
	p->n_components = n;
	return KC_OK;
}

int kc_emu_components_check(const struct kc_emu_profile *p, struct kc_diag *d)
{
	bool sls = p->serverless_max_concurrency > 0;
	if (sls && p->n_components > 0)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "components",
				      "a serverless endpoint hosts no inference components");
	if ((sls || p->n_components > 0) && p->instances != 1)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "instances",
				      "does not apply to %s (copies or MaxConcurrency do)",
				      sls ? "a serverless endpoint" : "inference components");
	if (sls && p->serverless_memory_mb % 1024)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "serverless_memory",
				      "%d is not one of 1024, 2048, ... 6144 (MB)",
				      p->serverless_memory_mb);
	if (p->serverless_provisioned > p->serverless_max_concurrency)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "serverless_provisioned",
				      "%d is more than serverless_max_concurrency (%d)",
				      p->serverless_provisioned, p->serverless_max_concurrency);
	return KC_OK;
}

static int64_t svc_of(const struct kc_emu_profile *p, const struct kc_emu_component *c)
{
	return c->service_ns > 0 ? c->service_ns : p->service_ns_mean;
}

double kc_emu_components_capacity_rps(const struct kc_emu_profile *p)
{
	if (p->serverless_max_concurrency > 0)
		return (double)p->serverless_max_concurrency * 1e9 / (double)p->service_ns_mean;
	double sum = 0;
	for (int i = 0; i < p->n_components; i++)
		sum += (double)p->components[i].copies * p->components[i].slots * 1e9 /
		       (double)svc_of(p, &p->components[i]);
	return sum;
}

char *kc_emu_components_describe(const struct kc_emu_profile *p, const char *dist, char *out,
				 size_t outsz)
{
	char svc[32], cold[32];
	if (p->serverless_max_concurrency > 0) {
		kc_format_duration(p->service_ns_mean, svc, sizeof(svc));
		kc_format_duration(p->serverless_cold_start_ns, cold, sizeof(cold));
		snprintf(out, outsz, "serverless, MaxConcurrency %d (%d provisioned), %d MB, %s %s "
			 "service, %s cold start -> %.1f RPS nominal", p->serverless_max_concurrency,
			 p->serverless_provisioned, p->serverless_memory_mb, dist, svc, cold,
			 kc_emu_components_capacity_rps(p));
		return out;
	}
	size_t n = (size_t)snprintf(out, outsz, "%d inference component%s:", p->n_components,
				    p->n_components == 1 ? "" : "s");
	for (int i = 0; i < p->n_components && n < outsz; i++) {
		const struct kc_emu_component *c = &p->components[i];
		kc_format_duration(svc_of(p, c), svc, sizeof(svc));
		n += (size_t)snprintf(out + n, outsz - n, "%s %s %d cop%s x %d slot%s, %s %s "
				      "service -> %.1f RPS", i ? ";" : "", c->name, c->copies,
				      c->copies == 1 ? "y" : "ies", c->slots, c->slots == 1 ? "" : "s",
				      dist, svc, (double)c->copies * c->slots * 1e9 /
				      (double)svc_of(p, c));
	}
	return out;
}

/* A component's copies as the instances of a model of their own. */
static void component_profile(const struct kc_emu_profile *p, const struct kc_emu_component *c,
			      struct kc_emu_profile *out)
{
	*out = *p;
	out->instances = c->copies;
	out->slots = c->slots;
	out->service_ns_mean = svc_of(p, c);
}

void kc_emu_hosting_main_profile(const struct kc_emu_profile *p, struct kc_emu_profile *out)
{
	*out = *p;
	if (p->serverless_max_concurrency > 0) {
		out->instances = 1;
		out->slots = p->serverless_max_concurrency;
	}
}

int kc_emu_hosting_init(struct kc_emu_hosting *h, const struct kc_emu_profile *p)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < p->n_components; i++) {
		struct kc_emu_profile cp;
		component_profile(p, &p->components[i], &cp);
		cp.seed = p->seed + (uint64_t)i + 1; /* each its own service-time stream */
		int rc = kc_emu_model_new(&h->ic[i], &cp);
		if (rc) {
			kc_emu_hosting_fini(h);
			return rc;
		}
	}
	for (int i = 0; i < KC_EMU_SERVERLESS_MAX; i++)
		h->last_done[i] = INT64_MIN / 2; /* cold since the beginning of time */
	return KC_OK;
}

void kc_emu_hosting_fini(struct kc_emu_hosting *h)
{
	for (int i = 0; i < KC_EMU_COMPONENTS_MAX; i++) {
		kc_emu_model_free(h->ic[i]);
		h->ic[i] = NULL;
	}
}

static const struct kc_sigv4_header *find_header(const struct kc_emu_headers *hl, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; hl && i < hl->n; i++)
		if (hl->h[i].name_len == n && !strncasecmp(hl->h[i].name, name, n))
			return &hl->h[i];
	return NULL;
}

struct kc_emu_model *kc_emu_hosting_pick(struct kc_emu_hosting *h, const struct kc_emu_profile *p,
					 struct kc_emu_model *main_model,
					 const struct kc_emu_headers *hl, int *ic,
					 char *why, size_t whysz)
{
	*ic = -1;
	const struct kc_sigv4_header *hd = find_header(hl, "x-amzn-sagemaker-inference-component");
	if (p->n_components == 0) {
		if (!hd)
			return main_model;
		snprintf(why, whysz, "Inference Component Name header is not allowed for endpoints "
			 "that host no inference components.");
		return NULL;
	}
	if (!hd || hd->value_len == 0) {
		snprintf(why, whysz, "Inference Component Name header is required for endpoints "
			 "to which you plan to deploy inference components.");
		return NULL;
	}
	for (int i = 0; i < p->n_components; i++)
		if (strlen(p->components[i].name) == hd->value_len &&
		    !memcmp(p->components[i].name, hd->value, hd->value_len)) {
			*ic = i;
			return h->ic[i];
		}
	snprintf(why, whysz, "Inference component %.*s of account 000000000000 not found.",
		 (int)(hd->value_len > 63 ? 63 : hd->value_len), hd->value);
	return NULL;
}

int kc_emu_serverless_unit(struct kc_emu_hosting *h, const struct kc_emu_profile *p,
			   int64_t in_system, int64_t now_ns, int64_t *extra_ns)
{
	*extra_ns = 0;
	int max = p->serverless_max_concurrency;
	if (in_system >= max) {
		h->throttled++;
		return -1;
	}
	int cold = -1;
	for (int i = 0; i < max; i++) {
		if (h->busy_until[i] > now_ns)
			continue;
		bool warm = i < p->serverless_provisioned ||
			    h->last_done[i] > now_ns - p->serverless_idle_ns;
		if (warm)
			return i;
		if (cold < 0)
			cold = i;
	}
	if (cold < 0) /* every unit busy though in_system < max: answers pending */
		return -1;
	*extra_ns = p->serverless_cold_start_ns;
	h->cold_starts++;
	return cold;
}

void kc_emu_serverless_busy(struct kc_emu_hosting *h, int unit, int64_t done_ns)
{
	if (unit < 0 || unit >= KC_EMU_SERVERLESS_MAX)
		return;
	h->busy_until[unit] = done_ns;
	h->last_done[unit] = done_ns;
}

json_t *kc_emu_hosting_json(const struct kc_emu_hosting *h, const struct kc_emu_profile *p)
{
	if (p->serverless_max_concurrency > 0)
		return json_pack("{s:{s:i, s:i, s:i, s:I, s:I}}", "serverless",
				 "max_concurrency", p->serverless_max_concurrency,
				 "provisioned", p->serverless_provisioned,
				 "memory_mb", p->serverless_memory_mb,
				 "cold_starts", (json_int_t)h->cold_starts,
				 "throttled", (json_int_t)h->throttled);
	if (p->n_components == 0)
		return NULL;
	json_t *list = json_array();
	for (int i = 0; list && i < p->n_components; i++) {
		struct kc_emu_model_counts c = {0};
		if (h->ic[i])
			kc_emu_model_counts(h->ic[i], &c);
		json_array_append_new(list, json_pack("{s:s, s:i, s:i, s:I, s:I}",
			"name", p->components[i].name, "copies", p->components[i].copies,
			"slots", p->components[i].slots, "served", (json_int_t)h->ic_served[i],
			"in_system", (json_int_t)c.in_system));
	}
	return list ? json_pack("{s:o}", "components", list) : NULL;
}
