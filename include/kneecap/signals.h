/*
 * signals.h - the endpoint's own CloudWatch metrics per load step, and the
 * signal table at the knee: which metric moves with load, what it reads at
 * saturation, and whether a target-tracking target on it would ever fire.
 *
 * Pure: series in (struct kc_cw_series from GetMetricData), numbers out.
 * Alignment: a step gets the periods [t, t + period) that lie wholly inside
 * its measured window; a step shorter than one period (or not aligned to
 * one) gets none and is marked, never given a neighbour's numbers.
 */
#ifndef KNEECAP_SIGNALS_H
#define KNEECAP_SIGNALS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kneecap/cloudwatch.h"
#include "kneecap/step.h"

enum kc_sig {
	KC_SIG_INVOCATIONS, KC_SIG_IPI, KC_SIG_MODEL_LATENCY, KC_SIG_OVERHEAD_LATENCY,
	KC_SIG_CPU, KC_SIG_GPU, KC_SIG_GPU_MEM, KC_SIG_CONCURRENT, KC_SIG_4XX, KC_SIG_5XX,
	KC_SIG_COUNT
};

/* What each signal is in CloudWatch and how a step's value is made. */
struct kc_sig_def {
	const char *name;    /* MetricName */
	const char *ns;      /* Namespace */
	const char *stat;    /* statistic asked */
	const char *unit;    /* of the step value: "/min", "us", "%", "requests" */
	bool per_minute;     /* Sum per period -> per minute over the step */
	bool policy;         /* a target-tracking candidate */
};
extern const struct kc_sig_def kc_sig_defs[KC_SIG_COUNT];

/* One step's signals. */
struct kc_step_signals {
	int periods;                 /* whole periods inside the step */
	bool have[KC_SIG_COUNT];
	double v[KC_SIG_COUNT];
};

/* Fills q[0..KC_SIG_COUNT) with one query per signal. */
void kc_signals_queries(struct kc_cw_query *q, const char *endpoint, const char *variant,
			int period_s);

/* Aligns the series (ids "s0".."s9", as kc_signals_queries names them) to
 * each step's window; out[0..n). */
void kc_signals_align(const struct kc_cw_series *series, size_t nseries, int period_s,
		      const struct kc_step_result *steps, size_t n, struct kc_step_signals *out);

/* One row of the signal table. */
struct kc_sig_row {
	enum kc_sig sig;
	bool have;            /* a value at the knee */
	double at_knee;
	int points;           /* steps up to the knee with a value */
	double r;             /* correlation with achieved load below the knee */
	bool proportional;    /* r >= 0.95 and the line passes near the origin */
	bool judged;          /* a target was given for this metric */
	double target;
	bool fires;           /* the metric reaches target at or before the knee */
};

/*
 * The table for the steps up to knee_step (their load = achieved rps):
 * one row per signal.  targets[sig] > 0 judges that signal against it.
 */
void kc_signals_table(const struct kc_step_result *steps, const struct kc_step_signals *sig,
		      size_t n, int knee_step, const double targets[KC_SIG_COUNT],
		      struct kc_sig_row rows[KC_SIG_COUNT]);

/* The verdict sentence for a judged row ("CPUUtilization reads 35% at the
 * knee: a 70% target never fires before saturation."), into out. */
void kc_signals_sentence(const struct kc_sig_row *row, char *out, size_t outsz);

/* result.json's per-step "signals" object; NULL when the step has none. */
json_t *kc_step_signals_json(const struct kc_step_signals *s);
/* The table as a JSON array of rows with their verdicts. */
json_t *kc_signals_table_json(const struct kc_sig_row rows[KC_SIG_COUNT]);
#endif
