/*
 * html.h - the self-contained HTML report: one file with inline CSS and
 * inline SVG charts (svg.h), no scripts, no fonts, images or links fetched
 * from anywhere, readable in light and dark mode and in print.  Every
 * string that came from a result file is escaped.
 *
 * Also declares struct kc_plan_view, the plan's outcome as both the HTML
 * and the terminal renderers (term.h) take it.
 */
#ifndef KNEECAP_HTML_H
#define KNEECAP_HTML_H

#include <stddef.h>

#include "kneecap/plan.h"
#include "kneecap/resultdoc.h"

struct kc_buf;

#define KC_PLAN_VIEW_MAX_RUNS 6

/* One simulated variant, with what it is called in tables and charts. */
struct kc_plan_view_run {
	const char *name;                  /* "reactive only (standard metric)" */
	const struct kc_plan_run *run;     /* borrowed */
	const struct kc_plan_model *model; /* borrowed */
};

struct kc_plan_view {
	const struct kc_resultdoc *doc;    /* the measured result */
	const char *traffic_name;          /* scenario path, for the header */
	const struct kc_traffic *traffic;
	const struct kc_plan_input *in;
	const struct kc_plan_advice *advice;
	size_t nruns;
	struct kc_plan_view_run runs[KC_PLAN_VIEW_MAX_RUNS];
	/* Indexes into runs[] of the two timelines drawn side by side. */
	size_t timeline_a, timeline_b;
	/* in->min_cap / max_cap came from the user (flag or [plan]), not the advice. */
	bool min_given, max_given;
};

/*
 * Where the plan's MinCapacity/MaxCapacity come from (given, or recommended
 * for this traffic) and, when they differ from what find's apply.sh
 * registered (the result's recommendation), why.  Writes one sentence
 * (no markup) into out.
 */
void kc_plan_bounds_note(const struct kc_plan_view *v, char *out, size_t n);

/*
 * Appends the report for ndocs results (>= 1): per result the verdict,
 * latency percentiles vs offered load with knee and target, achieved vs
 * offered, the percentile spectrum per step, errors per step, config and
 * environment; with two or more, the instance-type comparison and the cost
 * per million inferences.  usd_per_hour[i] < 0 means the price of docs[i]
 * is unknown ("price unknown", never a guess).  Returns 0 or the buffer's
 * KC_ELIMIT / KC_ENOMEM.
 */
int kc_html_report(struct kc_buf *out, const struct kc_resultdoc *docs, size_t ndocs,
		   const double *usd_per_hour);

/*
 * Appends the capacity plan page: verdict (instances at the peak, a peak
 * beyond MaxCapacity x ceiling in red), recommended Min/Max and scheduled
 * actions, the derived factor, the comparison table, the model
 * assumptions, and the timelines.  Same returns.
 */
int kc_html_plan(struct kc_buf *out, const struct kc_plan_view *v);

/*
 * Cost per million inferences at a per-instance rate: usd_per_hour /
 * (rps x 3600) x 1e6.  NAN when either is unknown or not positive.
 */
double kc_html_cost_per_million(double usd_per_hour, double rps);

struct kc_buf;
/*
 * The report's signal table (signals_html.c): each CloudWatch metric's value
 * at the knee, whether it moved in proportion to load below it, and the
 * verdicts on targets; or why the signals are unavailable.  Appends
 * nothing when s was not asked.  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_html_signals(struct kc_buf *b, const struct kc_rd_signals *s);
#endif
