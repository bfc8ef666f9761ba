/*
 * csv.c - steps.csv: one row per load step, a flat rendering of the steps
 * in result.json for spreadsheets and quick plots.  Numbers only, no
 * quoting needed; the columns are named in result.h and only ever appended.
 */
#include "kneecap/result.h"
#include "result_int.h"
#include "kneecap/knee.h"
#include "kneecap/signals.h"

#include <errno.h>
#include <string.h>

#define RESULT_CSV_MAX ((size_t)64 << 20)

/* find's CloudWatch signals (step_extra[i].signals): cw_periods and one
 * cw_METRIC column each, after verdict; empty cells where a step has none. */
static int signal_cells(struct kc_buf *out, const json_t *sig, bool header)
{
	int rc = kc_buf_puts(out, header ? ",cw_periods" : ",");
	json_t *p = json_object_get(sig, "periods");
	if (!rc && !header && json_is_integer(p))
		rc = kc_buf_printf(out, "%lld", (long long)json_integer_value(p));
	for (int i = 0; !rc && i < KC_SIG_COUNT; i++) {
		json_t *v = json_object_get(sig, kc_sig_defs[i].name);
		if (header)
			rc = kc_buf_printf(out, ",cw_%s", kc_sig_defs[i].name);
		else if (json_is_number(v))
			rc = kc_buf_printf(out, ",%.3f", json_number_value(v));
		else
			rc = kc_buf_puts(out, ",");
	}
	return rc;
}

int kc_result_csv_text(const struct kc_result *r, struct kc_buf *out)
{
	KC_ASSERT(r && out);
	/* Response-stream runs append their columns; other runs keep the old set. */
	bool rs = false;
	for (size_t i = 0; i < r->nsteps; i++)
		rs = rs || r->steps[i].response_stream;
	int rc = kc_buf_puts(out,
			     "step,offered,achieved,scheduled,completed,ok,errors,"
			     "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,service_p99_ms,"
			     "inflight_max,inflight_slope,lag_p99_ms,generator_bound,partial");
	if (!rc && rs)
		rc = kc_buf_puts(out, ",ttfp_p50_ms,ttfp_p90_ms,ttfp_p99_ms,ttfp_max_ms,"
				 "part_gap_p50_ms,part_gap_p90_ms,part_gap_p99_ms,part_gap_max_ms,"
				 "stream_errors,model_stream_errors");
	bool sig = false;
	for (size_t i = 0; r->step_extra && i < r->nsteps; i++)
		sig = sig || json_object_get(json_array_get(r->step_extra, i), "signals");
	/* Last, so every earlier column keeps its position. */
	if (!rc)
		rc = kc_buf_puts(out, ",unfinished,arrived,verdict");
	if (!rc && sig)
		rc = signal_cells(out, NULL, true);
	if (!rc)
		rc = kc_buf_puts(out, "\n");
	bool rps = !r->mode || !strcmp(r->mode, "rps");
	for (size_t i = 0; !rc && i < r->nsteps; i++) {
		const struct kc_step_result *s = &r->steps[i];
		rc = kc_buf_printf(out,
				   "%d,%.3f,%.3f,%llu,%llu,%llu,%llu,"
				   "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,"
				   "%u,%.3f,%.3f,%d,%d",
				   s->index, s->offered, rps ? kc_rate_figure(s->achieved) : s->achieved,
				   (unsigned long long)s->scheduled, (unsigned long long)s->completed,
				   (unsigned long long)s->ok, (unsigned long long)s->errors,
				   s->latency.p50, s->latency.p90, s->latency.p99, s->latency.p999,
				   s->latency.max, s->latency.mean, s->service.p99, s->inflight_max,
				   s->inflight_slope, s->lag_p99_ms, s->generator_bound ? 1 : 0,
				   s->partial ? 1 : 0);
		if (!rc && rs)
			rc = kc_buf_printf(out, ",%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%llu,%llu",
					   s->ttfp.p50, s->ttfp.p90, s->ttfp.p99, s->ttfp.max,
					   s->part_gap.p50, s->part_gap.p90, s->part_gap.p99,
					   s->part_gap.max,
					   /* not the model's: bad frames, InternalStreamFailure */
					   (unsigned long long)(s->errclass[KC_EC_STREAM] +
								s->errclass[KC_EC_INTERNAL_STREAM]),
					   (unsigned long long)s->errclass[KC_EC_MODEL_STREAM]);
		/* The verdict the search wrote into the step (result.h step_extra),
		 * judged on the figures in this row: achieved against arrived. */
		const char *verdict = "";
		json_t *x = r->step_extra ? json_array_get(r->step_extra, i) : NULL;
		json_t *v = json_object_get(json_object_get(x, "verdict"), "verdict");
		if (json_is_string(v))
			verdict = json_string_value(v);
		double arrived = rps ? kc_rate_figure(kc_step_arrived(s)) : s->offered;
		if (!rc)
			rc = kc_buf_printf(out, ",%llu,%.3f,%s", (unsigned long long)s->unfinished,
					   arrived, verdict);
		if (!rc && sig)
			rc = signal_cells(out, json_object_get(x, "signals"), false);
		if (!rc)
			rc = kc_buf_puts(out, "\n");
	}
	return rc;
}

int kc_result_write_csv(const struct kc_result *r, const char *path, struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, RESULT_CSV_MAX);
	int rc = kc_result_csv_text(r, &b);
	if (!rc)
		rc = kc_write_file(path, b.data ? b.data : "", b.len);
	kc_buf_fini(&b);
	if (rc)
		return kc_diag_set(d, rc, "%s: %s", path,
				   rc == KC_EIO ? strerror(errno) : kc_strerror(rc));
	return KC_OK;
}
