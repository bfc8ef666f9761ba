/*
 * csv.c - steps.csv: one row per load step, a flat rendering of the steps
 * in result.json for spreadsheets and quick plots.  Numbers only, no
 * quoting needed; the columns are named in result.h and only ever appended.
 */
#include "kneecap/result.h"

#define RESULT_CSV_MAX ((size_t)64 << 20)

int kc_result_csv_text(const struct kc_result *r, struct kc_buf *out)
{
	KC_ASSERT(r && out);
	int rc = kc_buf_puts(out,
			     "step,offered,achieved,scheduled,completed,ok,errors,"
			     "p50_ms,p90_ms,p99_ms,p999_ms,max_ms,mean_ms,service_p99_ms,"
			     "inflight_max,inflight_slope,lag_p99_ms,generator_bound,partial\n");
	for (size_t i = 0; !rc && i < r->nsteps; i++) {
		const struct kc_step_result *s = &r->steps[i];
		rc = kc_buf_printf(out,
				   "%d,%.3f,%.3f,%llu,%llu,%llu,%llu,"
				   "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,"
				   "%u,%.3f,%.3f,%d,%d\n",
				   s->index, s->offered, s->achieved,
				   (unsigned long long)s->scheduled, (unsigned long long)s->completed,
				   (unsigned long long)s->ok, (unsigned long long)s->errors,
				   s->latency.p50, s->latency.p90, s->latency.p99, s->latency.p999,
				   s->latency.max, s->latency.mean, s->service.p99, s->inflight_max,
				   s->inflight_slope, s->lag_p99_ms, s->generator_bound ? 1 : 0,
				   s->partial ? 1 : 0);
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
		return kc_diag_set(d, rc, "%s: cannot write (%s)", path, kc_strerror(rc));
	return KC_OK;
}
