/*
 * step.c - the little behaviour struct kc_step_result needs: error-class
 * names, freeing the histograms a step owns, and turning a microsecond
 * histogram into the millisecond summary results carry.  It lives in stats/
 * because it depends on nothing above the histogram.
 */
#include "kneecap/step.h"

#include "kneecap/err.h"
#include "kneecap/hdr.h"

#include <assert.h>
#include <string.h>

static const char *const errclass_names[] = {
	[KC_EC_CONNECT] = "connect",
	[KC_EC_TIMEOUT] = "timeout",
	[KC_EC_RESET] = "reset",
	[KC_EC_HTTP4XX] = "http4xx",
	[KC_EC_HTTP5XX] = "http5xx",
	[KC_EC_SHED] = "shed",
	[KC_EC_THROTTLE] = "throttle",
	[KC_EC_AUTH] = "auth",
	[KC_EC_MODEL] = "model",
	[KC_EC_PROTO] = "proto",
	[KC_EC_OTHER] = "other",
	[KC_EC_STREAM] = "stream",
	[KC_EC_MODEL_STREAM] = "model_stream",
	[KC_EC_UNFINISHED] = "unfinished",
	[KC_EC_INTERNAL_STREAM] = "internal_stream",
};
static_assert(sizeof(errclass_names) / sizeof(errclass_names[0]) == KC_EC_COUNT,
	      "one name per error class");

const char *kc_errclass_name(enum kc_errclass c)
{
	if ((int)c < 0 || c >= KC_EC_COUNT)
		return "other";
	return errclass_names[c];
}

void kc_step_result_fini(struct kc_step_result *s)
{
	if (!s)
		return;
	kc_hdr_free(s->latency_hist);
	kc_hdr_free(s->service_hist);
	s->latency_hist = NULL;
	s->service_hist = NULL;
}

void kc_latency_from_hdr(struct kc_latency *out, const struct kc_hdr *h_us)
{
	KC_ASSERT(out);
	memset(out, 0, sizeof(*out));
	if (!h_us || kc_hdr_total_count(h_us) == 0)
		return;
	out->count = kc_hdr_total_count(h_us);
	out->p50 = (double)kc_hdr_value_at_percentile(h_us, 50.0) / 1000.0;
	out->p90 = (double)kc_hdr_value_at_percentile(h_us, 90.0) / 1000.0;
	out->p99 = (double)kc_hdr_value_at_percentile(h_us, 99.0) / 1000.0;
	out->p999 = (double)kc_hdr_value_at_percentile(h_us, 99.9) / 1000.0;
	out->max = (double)kc_hdr_max(h_us) / 1000.0;
	out->mean = kc_hdr_mean(h_us) / 1000.0;
}
