/*
 * bidimodel.c - the streaming emulator's profile and stream-count latency
 * model (bidi.h), and the checks of the invocation path and query string a
 * stream is opened with.  No I/O: the server is bidi.c.
 */
#include "bidi_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"

/* ---- profile ----------------------------------------------------------- */

void kc_bidi_profile_defaults(struct kc_bidi_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->instances = 1;
	p->stream_limit = 8;
	p->base_latency_ns = 300 * KC_NS_PER_MS;
	p->max_concurrent = 100;
	p->max_streams = 16384;
	p->verify = true;
	snprintf(p->variant, sizeof(p->variant), "AllTraffic");
	snprintf(p->region, sizeof(p->region), "us-east-1");
}

int kc_bidi_profile_check(const struct kc_bidi_profile *p, struct kc_diag *d)
{
	if (p->instances < 1 || p->instances > INSTANCES_MAX)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_instances",
				      "must be in 1..%d", INSTANCES_MAX);
	if (p->stream_limit < 1)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_limit", "must be >= 1");
	if (p->base_latency_ns < KC_NS_PER_MS || p->base_latency_ns > 600 * KC_NS_PER_S)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_base_latency",
				      "must be in 1ms..600s");
	if (p->max_concurrent < 1)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_max_concurrent", "must be >= 1");
	if (p->max_streams < 1 || p->max_streams > 1000000)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "stream_max_streams",
				      "must be in 1..1000000");
	return 0;
}

int kc_bidi_profile_from_scenario(struct kc_scenario *sc, struct kc_bidi_profile *p,
				  struct kc_diag *d)
{
	static const char S[] = "emulator";
	int64_t v;
	int rc;
#define GET_I(key, lo, hi, field)                                              \
	rc = kc_scenario_get_i64(sc, S, key, lo, hi, &v, d);                   \
	if (rc == 0)                                                           \
		field = v;                                                     \
	else if (rc != KC_ENOTFOUND)                                           \
		return rc;
	GET_I("stream_instances", 1, INSTANCES_MAX, p->instances)
	GET_I("stream_limit", 1, 1000000, p->stream_limit)
	GET_I("stream_max_concurrent", 1, 1000000, p->max_concurrent)
	GET_I("stream_max_streams", 1, 1000000, p->max_streams)
	GET_I("stream_fault_goaway_after", 0, INT64_MAX, p->fault_goaway_after)
	GET_I("stream_fault_reset", 0, INT64_MAX, p->fault_reset_stream)
	GET_I("stream_fault_corrupt", 0, INT64_MAX, p->fault_corrupt_reply)
#undef GET_I
	const char *fe;
	rc = kc_scenario_get_str(sc, S, "stream_fault_error", &fe, d);
	if (rc == 0) {
		char why[256];
		if (kc_bidi_fault_errors_parse(p, fe, why, sizeof(why)))
			return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), 0,
					      "stream_fault_error", "%s", why);
	} else if (rc != KC_ENOTFOUND) {
		return rc;
	}
	rc = kc_scenario_get_duration_ns(sc, S, "stream_base_latency", KC_NS_PER_MS,
					 KC_NS_PER_MS, 600 * KC_NS_PER_S, &v, d);
	if (rc == 0)
		p->base_latency_ns = v;
	else if (rc != KC_ENOTFOUND)
		return rc;
	bool b;
	rc = kc_scenario_get_bool(sc, S, "stream_verify", &b, d);
	if (rc == 0)
		p->verify = b;
	else if (rc != KC_ENOTFOUND)
		return rc;
	rc = kc_scenario_get_bool(sc, S, "stream_tls", &b, d);
	if (rc == 0)
		p->tls = b;
	else if (rc != KC_ENOTFOUND)
		return rc;
	return 0;
}

int64_t kc_bidi_model_latency_ns(const struct kc_bidi_profile *p, int64_t n)
{
	KC_ASSERT(p->stream_limit >= 1);
	if (n <= p->stream_limit)
		return p->base_latency_ns;
	/* Processor sharing: S streams' worth of accelerator split n ways. */
	return (int64_t)((double)p->base_latency_ns * (double)n / (double)p->stream_limit);
}

int64_t kc_bidi_model_limit(const struct kc_bidi_profile *p, int64_t bound_ns)
{
	if (p->base_latency_ns > bound_ns)
		return 0;
	/* Largest n with L0 * n / S <= B, and at least S. */
	int64_t n = (int64_t)((double)bound_ns * p->stream_limit / (double)p->base_latency_ns);
	while (n > p->stream_limit && kc_bidi_model_latency_ns(p, n) > bound_ns)
		n--; /* guard the double rounding */
	while (kc_bidi_model_latency_ns(p, n + 1) <= bound_ns)
		n++;
	if (n < p->stream_limit)
		n = p->stream_limit;
	return n * p->instances;
}

static bool path_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

bool kc_bidi_invocation_path_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100 || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '/') {
			if (s[i + 1] == '/')
				return false; /* empty segment */
		} else if (!path_char(s[i])) {
			return false;
		}
	}
	return true;
}

static bool hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool kc_bidi_query_string_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 2048)
		return false;
	const char *p = s;
	for (;;) {
		/* key */
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
		p++;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		       (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			p++;
		if (*p++ != '=')
			return false;
		/* value: one or more unreserved characters or %XX */
		const char *v = p;
		for (;;) {
			if (path_char(*p) || *p == '~') {
				p++;
			} else if (*p == '%' && hex_digit(p[1]) && hex_digit(p[2])) {
				p += 3;
			} else {
				break;
			}
		}
		if (p == v)
			return false;
		if (*p == '\0')
			return true;
		if (*p++ != '&')
			return false;
	}
}
