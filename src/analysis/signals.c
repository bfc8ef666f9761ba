/*
 * signals.c - CloudWatch series to per-step signals, and the signal table at
 * the knee (see signals.h).  Why "proportional" matters: target tracking
 * assumes its metric moves linearly with load per instance; a metric that
 * does not (GPU memory, latency until the cliff) cannot steer it.
 */
#include "kneecap/signals.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const struct kc_sig_def kc_sig_defs[KC_SIG_COUNT] = {
	[KC_SIG_INVOCATIONS] = {"Invocations", "AWS/SageMaker", "Sum", "/min", true, false},
	[KC_SIG_IPI] = {"InvocationsPerInstance", "AWS/SageMaker", "Sum", "/min", true, true},
	[KC_SIG_MODEL_LATENCY] = {"ModelLatency", "AWS/SageMaker", "Average", "us", false, false},
	[KC_SIG_OVERHEAD_LATENCY] = {"OverheadLatency", "AWS/SageMaker", "Average", "us", false,
				     false},
	[KC_SIG_CPU] = {"CPUUtilization", "/aws/sagemaker/Endpoints", "Average", "%", false, true},
	[KC_SIG_GPU] = {"GPUUtilization", "/aws/sagemaker/Endpoints", "Average", "%", false, true},
	[KC_SIG_GPU_MEM] = {"GPUMemoryUtilization", "/aws/sagemaker/Endpoints", "Average", "%",
			    false, true},
	[KC_SIG_CONCURRENT] = {"ConcurrentRequestsPerModel", "AWS/SageMaker", "Average",
			       "requests", false, true},
	[KC_SIG_4XX] = {"Invocation4XXErrors", "AWS/SageMaker", "Sum", "/min", true, false},
	[KC_SIG_5XX] = {"Invocation5XXErrors", "AWS/SageMaker", "Sum", "/min", true, false},
};

void kc_signals_queries(struct kc_cw_query *q, const char *endpoint, const char *variant,
			int period_s)
{
	for (int i = 0; i < KC_SIG_COUNT; i++) {
		snprintf(q[i].id, sizeof(q[i].id), "s%d", i);
		q[i].ns = kc_sig_defs[i].ns;
		q[i].metric = kc_sig_defs[i].name;
		q[i].stat = kc_sig_defs[i].stat;
		q[i].period_s = period_s;
		q[i].endpoint = endpoint;
		q[i].variant = variant;
	}
}

static const struct kc_cw_series *series_of(const struct kc_cw_series *s, size_t n, int i)
{
	char id[16];
	snprintf(id, sizeof(id), "s%d", i);
	for (size_t k = 0; k < n; k++)
		if (!strcmp(s[k].id, id))
			return &s[k];
	return NULL;
}

void kc_signals_align(const struct kc_cw_series *series, size_t nseries, int period_s,
		      const struct kc_step_result *steps, size_t n, struct kc_step_signals *out)
{
	for (size_t k = 0; k < n; k++) {
		struct kc_step_signals *o = &out[k];
		memset(o, 0, sizeof(*o));
		int64_t w0 = steps[k].start_wall_ms;
		int64_t w1 = w0 + steps[k].duration_ns / 1000000;
		/* Whole periods inside [w0, w1): starts aligned to the period. */
		int64_t p0 = (w0 + period_s * 1000LL - 1) / (period_s * 1000LL);
		int64_t p1 = w1 / (period_s * 1000LL);
		o->periods = p1 > p0 ? (int)(p1 - p0) : 0;
		for (int i = 0; i < KC_SIG_COUNT && o->periods; i++) {
			const struct kc_cw_series *s = series_of(series, nseries, i);
			double sum = 0;
			int m = 0;
			for (int j = 0; s && j < s->n; j++) {
				int64_t pi = s->ts[j] / period_s;
				if (pi >= p0 && pi < p1) {
					sum += s->val[j];
					m++;
				}
			}
			if (kc_sig_defs[i].per_minute) {
				/* A period without a datapoint had no invocations. */
				o->have[i] = m > 0 || i == KC_SIG_4XX || i == KC_SIG_5XX;
				o->v[i] = sum / ((double)o->periods * period_s) * 60.0;
			} else if (m) {
				o->have[i] = true;
				o->v[i] = sum / m;
			}
		}
	}
}

/* Least squares of y on x: correlation and intercept. */
static void fit(const double *x, const double *y, int n, double *r, double *icept)
{
	double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
	for (int i = 0; i < n; i++) {
		mx += x[i] / n;
		my += y[i] / n;
	}
	for (int i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	*r = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
	*icept = sxx > 0 ? my - sxy / sxx * mx : my;
}

void kc_signals_table(const struct kc_step_result *steps, const struct kc_step_signals *sig,
		      size_t n, int knee_step, const double targets[KC_SIG_COUNT],
		      struct kc_sig_row rows[KC_SIG_COUNT])
{
	double knee_load = knee_step >= 0 && (size_t)knee_step < n ? steps[knee_step].offered : 0;
	for (int i = 0; i < KC_SIG_COUNT; i++) {
		struct kc_sig_row *row = &rows[i];
		memset(row, 0, sizeof(*row));
		row->sig = (enum kc_sig)i;
		double x[64], y[64];
		int m = 0;
		for (size_t k = 0; k < n && m < 64; k++) {
			if (!sig[k].have[i] || steps[k].offered > knee_load || steps[k].partial)
				continue;
			x[m] = steps[k].achieved;
			y[m++] = sig[k].v[i];
		}
		row->points = m;
		if (knee_step >= 0 && (size_t)knee_step < n && sig[knee_step].have[i]) {
			row->have = true;
			row->at_knee = sig[knee_step].v[i];
		}
		double icept = 0;
		if (m >= 3) {
			fit(x, y, m, &row->r, &icept);
			row->proportional = row->r >= 0.95 && row->have &&
					    fabs(icept) <= 0.15 * fabs(row->at_knee);
		}
		if (targets && targets[i] > 0 && row->have) {
			row->judged = true;
			row->target = targets[i];
			row->fires = row->at_knee >= targets[i];
		}
	}
}

void kc_signals_sentence(const struct kc_sig_row *row, char *out, size_t outsz)
{
	const struct kc_sig_def *d = &kc_sig_defs[row->sig];
	const char *u = !strcmp(d->unit, "%") ? "%" : "";
	if (row->fires)
		snprintf(out, outsz, "%s reads %.0f%s at the knee: a %.0f%s target fires before "
			 "saturation.", d->name, row->at_knee, u, row->target, u);
	else
		snprintf(out, outsz, "%s reads %.0f%s at the knee: a %.0f%s target never fires "
			 "before saturation.", d->name, row->at_knee, u, row->target, u);
}

json_t *kc_step_signals_json(const struct kc_step_signals *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "periods", json_integer(s->periods));
	for (int i = 0; i < KC_SIG_COUNT; i++)
		json_object_set_new(o, kc_sig_defs[i].name,
				    s->have[i] ? json_real(s->v[i]) : json_null());
	return o;
}

json_t *kc_signals_table_json(const struct kc_sig_row rows[KC_SIG_COUNT])
{
	json_t *a = json_array();
	for (int i = 0; i < KC_SIG_COUNT; i++) {
		const struct kc_sig_row *r = &rows[i];
		json_t *o = json_pack("{s:s,s:s,s:o,s:i,s:f,s:b}", "metric", kc_sig_defs[i].name,
				      "unit", kc_sig_defs[i].unit, "at_knee",
				      r->have ? json_real(r->at_knee) : json_null(), "points",
				      r->points, "r", r->r, "proportional", r->proportional);
		if (r->judged) {
			char s[256];
			kc_signals_sentence(r, s, sizeof(s));
			json_object_set_new(o, "target", json_real(r->target));
			json_object_set_new(o, "fires_before_saturation", json_boolean(r->fires));
			json_object_set_new(o, "verdict", json_string(s));
		}
		json_array_append_new(a, o);
	}
	return a;
}
