/*
 * html.c - the self-contained HTML report for results and plans.
 *
 * One file, nothing fetched: CSS inline in <style>, charts inline as SVG
 * (svg.c), no <script>, no fonts, no images, no links to the network.  It
 * must open from a laptop with no connection and print on paper, so
 * colours come from CSS variables switched by prefers-color-scheme and a
 * print block.  Every string that came from a file goes through esc()
 * (kc_svg_escape): result.json is input, and input may carry markup.
 * This module renders; it does not compute capacity (plan.c does).
 */
#include "kneecap/html.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/knee.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W 620
#define CHART_H 300
#define MAX_SPECTRUM 6

static const char css[] =
	":root{color-scheme:light dark;--bg:#fff;--fg:#1d1d1f;--muted:#5f6368;--box:#f3f5f8;"
	"--line:#d0d4da;--bad:#c62828;--ok:#1b7f3b}\n"
	"@media (prefers-color-scheme:dark){:root{--bg:#16181c;--fg:#e8eaed;--muted:#a0a6ad;"
	"--box:#22262c;--line:#3a3f47;--bad:#ff6b6b;--ok:#5fd38a}\n"
	".kc-s0{stroke:#56B4E9}.kc-f0{fill:#56B4E9}.kc-s1{stroke:#F0C05A}.kc-f1{fill:#F0C05A}"
	".kc-s2{stroke:#3FD1A8}.kc-f2{fill:#3FD1A8}.kc-s3{stroke:#E6A0C4}.kc-f3{fill:#E6A0C4}"
	".kc-s4{stroke:#9AD4F5}.kc-f4{fill:#9AD4F5}.kc-s5{stroke:#FF8A50}.kc-f5{fill:#FF8A50}"
	".kc-s6{stroke:#B0B0B0}.kc-f6{fill:#B0B0B0}.kc-s7{stroke:#D9B45A}.kc-f7{fill:#D9B45A}"
	".kc-s8{stroke:#ff6b6b}.kc-f8{fill:#ff6b6b}}\n"
	"@media print{:root{--bg:#fff;--fg:#000;--muted:#333;--box:#fff}section,figure{break-inside:avoid}"
	".kc-verdict{border:1px solid #000}}\n"
	"body{background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,'Segoe UI',"
	"sans-serif;margin:0 auto;max-width:1320px;padding:16px 24px}\n"
	"h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid "
	"var(--line)}h3{font-size:1.05em}\n"
	".kc-muted{color:var(--muted)}.kc-verdict{background:var(--box);border-radius:8px;padding:"
	"10px 16px;margin:12px 0}.kc-verdict p{margin:.3em 0}.kc-big{font-size:1.25em;font-weight:600}\n"
	".kc-bad{color:var(--bad);font-weight:600}.kc-alert{border:2px solid var(--bad);color:var(--bad);"
	"border-radius:8px;padding:8px 14px;font-weight:600}.kc-good{color:var(--ok);font-weight:600}\n"
	"table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}"
	"th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}"
	"td.n,th.n{text-align:right}\n"
	".kc-grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:8px 24px}\n"
	"figure{margin:8px 0}svg.kc-chart{max-width:100%;height:auto;color:var(--fg)}"
	"svg .kc-title{font-weight:600;font-size:13px}svg .kc-mark{font-size:11px}"
	"svg .kc-na{fill:var(--muted)}\n"
	"code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}"
	"pre{background:var(--box);padding:8px 12px;border-radius:6px;overflow-x:auto;white-space:pre-wrap}\n"
	"details summary{cursor:pointer}\n";

/* ---- small helpers ------------------------------------------------------ */

struct out {
	struct kc_buf *b;
	int rc;
};

static void puts_(struct out *o, const char *s)
{
	if (!o->rc)
		o->rc = kc_buf_puts(o->b, s);
}

static void esc(struct out *o, const char *s)
{
	if (!o->rc)
		o->rc = kc_svg_escape(o->b, s);
}

__attribute__((format(printf, 2, 3)))
static void pf(struct out *o, const char *fmt, ...)
{
	if (o->rc)
		return;
	va_list ap;
	va_start(ap, fmt);
	o->rc = kc_buf_vprintf(o->b, fmt, ap);
	va_end(ap);
}

static void chart(struct out *o, const struct kc_svg_chart *c, bool bars)
{
	if (o->rc)
		return;
	puts_(o, "<figure>\n");
	int rc = bars ? kc_svg_bar_chart(o->b, c) : kc_svg_line_chart(o->b, c);
	if (rc == KC_EINVAL) {
		pf(o, "<p class=\"kc-muted\">(");
		esc(o, c->title);
		pf(o, ": no data to draw)</p>\n");
	} else if (rc) {
		o->rc = rc;
	}
	puts_(o, "</figure>\n");
}

static const char *num(double v, int dec, char *buf, size_t n)
{
	if (!isfinite(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.*f", dec, v);
	return buf;
}

static void head(struct out *o, const char *title)
{
	puts_(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		 "<meta name=\"color-scheme\" content=\"light dark\">\n<title>");
	esc(o, title);
	puts_(o, "</title>\n<style>\n");
	puts_(o, css);
	puts_(o, "</style>\n</head>\n<body>\n");
}

static void kv_table(struct out *o, const char *caption, const struct kc_rd_kv *kv, size_t n)
{
	pf(o, "<h3>%s</h3>\n", caption);
	if (!n) {
		puts_(o, "<p class=\"kc-muted\">not recorded in this result</p>\n");
		return;
	}
	puts_(o, "<table>\n");
	for (size_t i = 0; i < n; i++) {
		puts_(o, "<tr><th>");
		esc(o, kv[i].key);
		puts_(o, "</th><td><code>");
		esc(o, kv[i].value);
		puts_(o, "</code></td></tr>\n");
	}
	puts_(o, "</table>\n");
}

double kc_html_cost_per_million(double usd_per_hour, double rps)
{
	if (!(usd_per_hour >= 0) || !(rps > 0))
		return NAN;
	return usd_per_hour / (rps * 3600.0) * 1e6;
}

/* ---- one result --------------------------------------------------------- */

static const char *unit_of(const struct kc_resultdoc *d)
{
	return strcmp(d->mode, "streams") ? "RPS" : "streams";
}

/* A plain `run` is a fixed load, not a search: say so, not "no knee found". */
static void run_summary(struct out *o, const struct kc_resultdoc *d)
{
	char a[32];
	const char *l = d->run_load;
	if (!strcmp(l, "rate") && isfinite(d->run_rate))
		pf(o, "<p class=\"kc-big\">Fixed-rate run at %s %s (%zu step%s)</p>\n",
		   num(d->run_rate, kc_rate_decimals(d->run_rate), a, sizeof(a)), unit_of(d),
		   d->nsteps, d->nsteps == 1 ? "" : "s");
	else if (!strcmp(l, "concurrency") && isfinite(d->run_concurrency))
		pf(o, "<p class=\"kc-big\">Closed-loop run at %s concurrent requests (%zu step%s)</p>\n",
		   num(d->run_concurrency, 0, a, sizeof(a)), d->nsteps, d->nsteps == 1 ? "" : "s");
	else if (!strcmp(l, "ramp") || !strcmp(l, "linear"))
		pf(o, "<p class=\"kc-big\">Ramped run (%zu step%s)</p>\n", d->nsteps,
		   d->nsteps == 1 ? "" : "s");
	else
		pf(o, "<p class=\"kc-big\">Fixed-load run (%zu step%s)</p>\n", d->nsteps,
		   d->nsteps == 1 ? "" : "s");
	puts_(o, "<p>A run measures the load it was given; it does not search for a knee, so "
		 "this result has no ceiling or target. <code>kneecap find</code> searches for "
		 "them.</p>\n");
}

/* Everything the terminal printed under the knee: warnings first. */
static void warnings(struct out *o, const struct kc_resultdoc *d)
{
	/* A knee that is only a lower bound (max reached, generator-bound)
	 * carries its diagnosis outside the notes: say it here too. */
	bool diag = d->has_knee && d->knee_found && d->diagnosis[0];
	for (size_t i = 0; diag && i < d->nnotes; i++)
		if (strstr(d->notes[i], d->diagnosis))
			diag = false;
	if (!d->nnotes && !diag)
		return;
	puts_(o, "<div class=\"kc-warnings\"><h3>Warnings and checks</h3>\n<ul id=\"kc-notes\">\n");
	if (diag) {
		puts_(o, "<li class=\"kc-bad\">The knee is a lower bound: ");
		esc(o, d->diagnosis);
		puts_(o, "</li>\n");
	}
	for (size_t i = 0; i < d->nnotes; i++) {
		bool warn = !strncmp(d->notes[i], "Note - ", 7) || strstr(d->notes[i], "inconsistent");
		pf(o, "<li%s>", warn ? " class=\"kc-bad\"" : "");
		esc(o, d->notes[i]);
		puts_(o, "</li>\n");
	}
	puts_(o, "</ul></div>\n");
}

/*
 * find's confirmation step: the latency measured at the recommended target,
 * which no search step shows, and whether the target held (the policy was
 * written only if it did).
 */
static void confirmation(struct out *o, const struct kc_resultdoc *d)
{
	if (!d->has_confirm)
		return;
	char a[6][32];
	bool ok = d->confirm_healthy;
	puts_(o, "<div class=\"kc-verdict\" id=\"kc-confirm\">\n<h3>Confirmation at the recommended "
		 "target</h3>\n");
	pf(o, "<p>One step at TargetValue %s (%s RPS/instance",
	   num(d->confirm_target_value, d->confirm_target_value < 100 ? 1 : 0, a[0], 32),
	   num(d->confirm_per_instance, 2, a[1], 32));
	if (d->confirm_instances > 1)
		pf(o, " &times; %d instances = %s RPS", d->confirm_instances,
		   num(d->confirm_offered, 2, a[2], 32));
	pf(o, "), run after the search and kept out of its steps: p50 %s ms, p99 %s ms, ",
	   num(d->confirm_latency.p50, 1, a[3], 32), num(d->confirm_latency.p99, 1, a[4], 32));
	pf(o, "achieved %s of %s arrived per second, %s errors",
	   num(d->confirm_achieved, d->confirm_achieved < 10 ? 2 : 1, a[0], 32),
	   num(d->confirm_arrived, d->confirm_arrived < 10 ? 2 : 1, a[1], 32),
	   num(d->confirm_errors, 0, a[2], 32));
	if (isfinite(d->confirm_duration_s))
		pf(o, " over %s s", num(d->confirm_duration_s, 0, a[5], 32));
	puts_(o, ".</p>\n");
	pf(o, "<p class=\"%s\">Verdict: ", ok ? "kc-good" : "kc-bad");
	esc(o, d->confirm_verdict[0] ? d->confirm_verdict : "unknown");
	puts_(o, ok ? " &mdash; the target held.</p>\n"
		    : " &mdash; the endpoint did not hold the recommended target: no scaling policy "
		      "or apply.sh was written.</p>\n");
	puts_(o, "</div>\n");
}

static void verdict(struct out *o, const struct kc_resultdoc *d, double price)
{
	char a[32], b[32], c[32];
	puts_(o, "<div class=\"kc-verdict\">\n");
	if (d->has_knee && d->knee_found) {
		pf(o, "<p class=\"kc-big\">Ceiling: %s %s per instance",
		   num(d->knee_per_instance, kc_rate_decimals(d->knee_per_instance), a, sizeof(a)),
		   unit_of(d));
		if (d->instance_type[0]) {
			puts_(o, " on ");
			esc(o, d->instance_type);
		}
		puts_(o, "</p>\n<p>What ended the search: ");
		esc(o, d->knee_reason[0] ? d->knee_reason : "not recorded");
		if (d->search_steps >= 0) {
			pf(o, ". Found in %d steps (%d re-measured", d->search_steps,
			   d->search_remeasures > 0 ? d->search_remeasures : 0);
			if (isfinite(d->measured_s))
				pf(o, ", %.0f s of load", d->measured_s);
			puts_(o, ")");
			if (isfinite(d->precision) && d->precision > 0) {
				bool streams = !strcmp(d->mode, "streams");
				pf(o, ", bracket within %.1f%s", streams ? d->precision : d->precision * 100.0,
				   streams ? " stream(s)" : "%");
			}
		}
		puts_(o, ".</p>\n");
		if (d->knee_bound_note[0]) {
			puts_(o, "<p class=\"kc-bound\">The ceiling is ");
			esc(o, d->knee_bound_note);
			if (d->knee_bound[0]) {
				puts_(o, " <span class=\"kc-muted\">(bound: <code>");
				esc(o, d->knee_bound);
				puts_(o, "</code>)</span>");
			}
			puts_(o, ".</p>\n");
		}
	} else if (!d->searched) {
		run_summary(o, d);
	} else {
		puts_(o, "<p class=\"kc-bad\">No knee in this result: the search did not find one");
		if (d->diagnosis[0]) {
			puts_(o, ": ");
			esc(o, d->diagnosis);
		}
		puts_(o, ".</p>\n");
	}
	if (isfinite(d->slo_ms)) {
		pf(o, "<p class=\"kc-slo\">Latency objective: %s at most %s ms; a step above it "
		      "is unhealthy (the dashed line on the latency chart).</p>\n",
		   d->slo_stat[0] ? d->slo_stat : "p99", num(d->slo_ms, 0, a, sizeof(a)));
	}
	if (d->has_rec) {
		pf(o, "<p class=\"kc-big\">Recommended target: %s", num(d->target_value, d->target_value < 100 ? 1 : 0, a, sizeof(a)));
		puts_(o, " <code>");
		esc(o, d->metric);
		pf(o, "</code></p>\n<p>Range %s&ndash;%s (70&ndash;80%% of the ceiling), factor %s.",
		   num(d->target_low, d->target_low < 100 ? 1 : 0, a, sizeof(a)), num(d->target_high, d->target_high < 100 ? 1 : 0, b, sizeof(b)),
		   num(d->factor, 2, c, sizeof(c)));
		if (strstr(d->metric, "InvocationsPerInstance"))
			puts_(o, " The metric is invocations per instance per <em>minute</em>: "
				 "RPS &times; 60.");
		puts_(o, " AWS's own starting point is a safety factor of 0.5.</p>\n");
		puts_(o, "<p class=\"kc-why\">");
		esc(o, d->why[0] ? d->why : kc_recommend_why());
		puts_(o, "</p>\n");
	}
	double tr = kc_resultdoc_target_rps(d);
	if (price >= 0 && isnan(tr))
		pf(o, "<p>Price: $%s per instance-hour (cost per million inferences applies to "
		      "request-rate runs).</p>\n", num(price, 4, a, sizeof(a)));
	else if (price >= 0)
		pf(o, "<p>Price: $%s per instance-hour; at the target, $%s per million inferences.</p>\n",
		   num(price, 4, a, sizeof(a)),
		   num(kc_html_cost_per_million(price, tr), 3, b, sizeof(b)));
	else
		puts_(o, "<p>Price unknown for this instance type (no verified price in "
			 "data/instance-types.csv); cost per million inferences not computed.</p>\n");
	puts_(o, "</div>\n");
}

static double target_total(const struct kc_resultdoc *d)
{
	if (!d->has_rec)
		return NAN;
	double tr = kc_resultdoc_target_rps(d);
	if (!isnan(tr))
		return tr * kc_resultdoc_instances(d);
	return d->target_value * kc_resultdoc_instances(d); /* streams */
}

/*
 * A result's steps as the arrays the charts draw, in offered order: a
 * bisecting search visits loads out of order, and run order would zigzag.
 * The lines go through one point per load, its last measurement (the one
 * that decided it); earlier measurements of a re-measured load are drawn
 * as separate markers, so a line never turns back on itself.
 */
struct series_data {
	size_t n;           /* points on the lines (one per load) */
	size_t nre;         /* re-measured points (earlier attempts) */
	size_t *order;      /* line point k -> step index, by offered load */
	double *x, *p50, *p90, *p99, *p999, *mx, *ach, *err;
	double *rx, *rp99, *rach;
	double storage[];
};

/* True when a later step measured the same load again. */
static bool superseded(const struct kc_resultdoc *d, size_t i)
{
	for (size_t j = i + 1; j < d->nsteps; j++)
		if (d->steps[j].offered == d->steps[i].offered)
			return true;
	return false;
}

static struct series_data *series_new(const struct kc_resultdoc *d)
{
	size_t n = d->nsteps, m = n ? n : 1;
	struct series_data *s = calloc(1, sizeof(*s) + 11 * m * sizeof(double));
	size_t *order = calloc(m, sizeof(size_t));
	if (!s || !order) {
		free(s);
		free(order);
		return NULL;
	}
	s->order = order;
	double *p = s->storage;
	double **cols[11] = {&s->x, &s->p50, &s->p90, &s->p99, &s->p999, &s->mx, &s->ach,
			     &s->err, &s->rx, &s->rp99, &s->rach};
	for (size_t c = 0; c < 11; c++)
		*cols[c] = p + c * m;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct kc_rd_step *st = &d->steps[i];
		if (superseded(d, i)) {
			s->rx[s->nre] = st->offered;
			s->rp99[s->nre] = st->latency.p99;
			s->rach[s->nre] = st->achieved;
			s->nre++;
			continue;
		}
		order[k++] = i;
	}
	s->n = k;
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && d->steps[order[j]].offered < d->steps[order[j - 1]].offered; j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (size_t i = 0; i < k; i++) {
		const struct kc_rd_step *st = &d->steps[order[i]];
		s->x[i] = st->offered;
		s->p50[i] = st->latency.p50;
		s->p90[i] = st->latency.p90;
		s->p99[i] = st->latency.p99;
		s->p999[i] = st->latency.p999;
		s->mx[i] = st->latency.max;
		s->ach[i] = st->achieved;
		s->err[i] = st->errors;
	}
	return s;
}

static void series_free(struct series_data *s)
{
	if (s)
		free(s->order);
	free(s);
}

static void chart_latency(struct out *o, const struct kc_resultdoc *d, const struct series_data *s)
{
	const char *u = unit_of(d);
	char kl[64], tl[64], sl[64];
	bool knee = d->has_knee && d->knee_found;
	snprintf(kl, sizeof(kl), "knee %.*f %s", kc_rate_decimals(d->knee_value), d->knee_value, u);
	snprintf(tl, sizeof(tl), "target %.1f %s", target_total(d), u);
	snprintf(sl, sizeof(sl), "SLO %s %.0f ms", d->slo_stat[0] ? d->slo_stat : "p99", d->slo_ms);
	struct kc_svg_mark xm[2] = {
		{.at = knee ? d->knee_value : NAN, .label = kl, .color = KC_SVG_BAD},
		{.at = target_total(d), .label = tl, .color = 2, .dashed = true},
	};
	struct kc_svg_mark ym[1] = {
		{.at = d->slo_ms, .label = sl, .color = KC_SVG_BAD, .dashed = true},
	};
	size_t n = s->n;
	struct kc_svg_series lat[6] = {
		{.name = "p50", .x = s->x, .y = s->p50, .n = n, .color = 0, .markers = true},
		{.name = "p90", .x = s->x, .y = s->p90, .n = n, .color = 2, .markers = true},
		{.name = "p99", .x = s->x, .y = s->p99, .n = n, .color = 1, .markers = true},
		{.name = "p99.9", .x = s->x, .y = s->p999, .n = n, .color = 3, .markers = true},
		{.name = "max", .x = s->x, .y = s->mx, .n = n, .color = 6, .markers = true, .dashed = true},
		{.name = "p99, re-measured", .x = s->rx, .y = s->rp99, .n = s->nre, .color = 5,
		 .markers = true, .no_line = true},
	};
	struct kc_svg_chart c = {
		.title = "Latency percentiles vs offered load (log scale)",
		.desc = "Latency from the intended send time at each load step, by offered load; "
			"earlier measurements of a re-measured load are separate markers; the knee, "
			"the recommended target and the latency objective are marked.",
		.width = CHART_W, .height = CHART_H,
		.x = {.label = "offered load", .unit = u, .min = NAN, .max = NAN, .include_zero = true},
		.y = {.label = "latency", .unit = "ms", .scale = KC_SVG_LOG10, .min = NAN, .max = NAN},
		.series = lat, .nseries = s->nre ? 6 : 5, .xmarks = xm, .nxmarks = 2,
		.ymarks = ym, .nymarks = isfinite(d->slo_ms) ? 1 : 0,
	};
	chart(o, &c, false);
	struct kc_svg_series thr[3] = {
		{.name = "achieved", .x = s->x, .y = s->ach, .n = n, .color = 0, .markers = true},
		{.name = "ideal (achieved = offered)", .x = s->x, .y = s->x, .n = n, .color = 6,
		 .dashed = true},
		{.name = "achieved, re-measured", .x = s->rx, .y = s->rach, .n = s->nre, .color = 5,
		 .markers = true, .no_line = true},
	};
	struct kc_svg_chart c2 = {
		.title = "Achieved vs offered throughput",
		.desc = "Completions per second against the offered load; the gap is what the "
			"endpoint could not keep up with.",
		.width = CHART_W, .height = CHART_H,
		.x = {.label = "offered load", .unit = u, .min = NAN, .max = NAN, .include_zero = true},
		.y = {.label = "achieved", .unit = u, .min = NAN, .max = NAN, .include_zero = true},
		.series = thr, .nseries = s->nre ? 3 : 2, .xmarks = xm, .nxmarks = 1,
	};
	chart(o, &c2, false);
}

/* Spectrum: percentile on a "nines" axis, -log10(1 - q), so the tail gets
 * the room it deserves; max drawn one decade past p99.9.  Up to
 * MAX_SPECTRUM steps spread across the offered range. */
static void chart_spectrum(struct out *o, const struct kc_resultdoc *d, const struct series_data *s)
{
	static const double nines[5] = {0.30103, 1, 2, 3, 4};
	static const char *const nine_labels[5] = {"p50", "p90", "p99", "p99.9", "max"};
	double sy[MAX_SPECTRUM][5];
	char names[MAX_SPECTRUM][40];
	struct kc_svg_series sp[MAX_SPECTRUM];
	size_t n = s->n, ns = n < MAX_SPECTRUM ? n : MAX_SPECTRUM;
	for (size_t k = 0; k < ns; k++) {
		size_t i = s->order[ns > 1 ? k * (n - 1) / (ns - 1) : 0];
		const struct kc_latency *l = &d->steps[i].latency;
		sy[k][0] = l->p50;
		sy[k][1] = l->p90;
		sy[k][2] = l->p99;
		sy[k][3] = l->p999;
		sy[k][4] = l->max;
		snprintf(names[k], sizeof(names[k]), "%.*f %s", kc_rate_decimals(d->steps[i].offered),
			 d->steps[i].offered, unit_of(d));
		sp[k] = (struct kc_svg_series){.name = names[k], .x = nines, .y = sy[k], .n = 5,
					       .color = (int)(k % KC_SVG_PALETTE), .markers = true};
	}
	struct kc_svg_chart c = {
		.title = "Latency percentile spectrum per step (log scales)",
		.desc = "HDR-style percentile distribution: each line is one load step; the x axis "
			"spreads the tail by nines.",
		.width = CHART_W, .height = CHART_H,
		.x = {.label = "percentile", .min = 0, .max = 4, .nticks = 5, .ticks = nines,
		      .tick_labels = nine_labels},
		.y = {.label = "latency", .unit = "ms", .scale = KC_SVG_LOG10, .min = NAN, .max = NAN},
		.series = sp, .nseries = ns,
	};
	chart(o, &c, false);
}

/* Errors per load, in load order; no chart at all when every step had none. */
static void chart_errors(struct out *o, const struct kc_resultdoc *d, const struct series_data *s)
{
	double total = 0;
	for (size_t i = 0; i < d->nsteps; i++)
		total += d->steps[i].errors;
	if (!(total > 0)) {
		puts_(o, "<p class=\"kc-noerrors\">No errors in any step.</p>\n");
		return;
	}
	size_t n = s->n;
	char (*cat)[24] = calloc(n ? n : 1, sizeof(*cat));
	const char **catp = calloc(n ? n : 1, sizeof(char *));
	if (!cat || !catp) {
		free(cat);
		free(catp);
		o->rc = KC_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(cat[i], sizeof(cat[i]), "%.*f", kc_rate_decimals(s->x[i]), s->x[i]);
		catp[i] = cat[i];
	}
	struct kc_svg_series es = {.name = "errors", .y = s->err, .n = n, .color = KC_SVG_BAD};
	struct kc_svg_chart c = {
		.title = "Errors per step, by offered load",
		.desc = "Failed requests counted in each load step (the deciding measurement of "
			"each load), labelled by offered load.",
		.width = CHART_W, .height = CHART_H,
		.x = {.label = "offered load", .unit = unit_of(d)},
		.y = {.label = "errors", .unit = "requests", .min = NAN, .max = NAN},
		.series = &es, .nseries = 1, .categories = catp, .ncategories = n,
	};
	if (n)
		chart(o, &c, true);
	free(cat);
	free(catp);
}

static void result_charts(struct out *o, const struct kc_resultdoc *d)
{
	struct series_data *s = series_new(d);
	if (!s) {
		o->rc = KC_ENOMEM;
		return;
	}
	puts_(o, "<div class=\"kc-grid2\">\n");
	chart_latency(o, d, s);
	chart_spectrum(o, d, s);
	chart_errors(o, d, s);
	puts_(o, "</div>\n");
	series_free(s);
}

/* Every step in run order with the verdict the terminal printed beside it. */
static void steps_table(struct out *o, const struct kc_resultdoc *d)
{
	char a[9][32];
	bool arrived = false;
	for (size_t i = 0; i < d->nsteps; i++)
		arrived = arrived || isfinite(d->steps[i].arrived);
	puts_(o, "<h3>Steps</h3>\n<table class=\"kc-steps\">\n<tr><th class=\"n\">step</th>"
		 "<th class=\"n\">offered</th>");
	if (arrived)
		puts_(o, "<th class=\"n\">arrived</th>");
	puts_(o, "<th class=\"n\">achieved</th><th class=\"n\">p50 ms</th><th class=\"n\">p90 ms</th>"
		 "<th class=\"n\">p99 ms</th><th class=\"n\">p99.9 ms</th><th class=\"n\">max ms</th>"
		 "<th class=\"n\">errors</th><th>verdict</th></tr>\n");
	for (size_t i = 0; i < d->nsteps; i++) {
		const struct kc_rd_step *s = &d->steps[i];
		pf(o, "<tr><td class=\"n\">%zu</td><td class=\"n\">%s</td>", i + 1,
		   num(s->offered, 1, a[0], 32));
		if (arrived)
			pf(o, "<td class=\"n\">%s</td>",
			   num(s->arrived, kc_rate_decimals(s->arrived), a[7], 32));
		pf(o, "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%.0f</td>",
		   num(s->achieved, kc_rate_decimals(s->achieved), a[1], 32),
		   num(s->latency.p50, 2, a[2], 32), num(s->latency.p90, 2, a[3], 32),
		   num(s->latency.p99, 2, a[4], 32), num(s->latency.p999, 2, a[5], 32),
		   num(s->latency.max, 2, a[6], 32), s->errors);
		if (s->verdict[0]) {
			pf(o, "<td class=\"kc-verdict-cell%s\">", strcmp(s->verdict, "healthy") ? " kc-bad" : "");
			esc(o, s->verdict);
			if (s->attempt > 0)
				pf(o, " (re-measure %d)", s->attempt);
			if (s->ambiguous)
				puts_(o, " (ambiguous)");
			puts_(o, "</td></tr>\n");
		} else {
			puts_(o, "<td class=\"kc-verdict-cell kc-muted\">not judged</td></tr>\n");
		}
	}
	puts_(o, "</table>\n");
	bool judged = false;
	for (size_t i = 0; i < d->nsteps; i++)
		judged = judged || d->steps[i].verdict[0];
	if (arrived && judged)
		puts_(o, "<p class=\"kc-muted\">offered: the rate asked; arrived: the arrivals the "
			 "schedule actually sent per second (Poisson counts vary). healthy: achieved "
			 "&ge; 97% of arrived, no in-flight growth, errors under the limit.</p>\n");
}

static void compare(struct out *o, const struct kc_resultdoc *docs, size_t n,
		    const double *price)
{
	char a[5][32];
	puts_(o, "<h2>Instance types compared</h2>\n<table>\n<tr><th>instance type</th><th>file</th>"
		 "<th class=\"n\">ceiling / instance</th><th class=\"n\">target</th>"
		 "<th class=\"n\">target RPS / instance</th><th class=\"n\">$ / hour</th>"
		 "<th class=\"n\">$ / million inferences at target</th></tr>\n");
	double *cpm = calloc(n, sizeof(double));
	const char **cat = calloc(n, sizeof(char *));
	if (!cpm || !cat) {
		free(cpm);
		free(cat);
		o->rc = KC_ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct kc_resultdoc *d = &docs[i];
		double tr = kc_resultdoc_target_rps(d);
		cpm[i] = kc_html_cost_per_million(price[i], tr);
		cat[i] = d->instance_type[0] ? d->instance_type : d->path;
		puts_(o, "<tr><td>");
		esc(o, d->instance_type[0] ? d->instance_type : "(unlabelled)");
		puts_(o, "</td><td><code>");
		esc(o, d->path);
		pf(o, "</code></td><td class=\"n\">%s %s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
		   num(d->has_knee ? d->knee_per_instance : NAN, 1, a[0], 32), unit_of(d),
		   num(d->has_rec ? d->target_value : NAN, d->target_value < 100 ? 1 : 0, a[1], 32), num(tr, 1, a[2], 32),
		   price[i] >= 0 ? num(price[i], 4, a[3], 32) : "price unknown",
		   isfinite(cpm[i]) ? num(cpm[i], 3, a[4], 32)
				    : price[i] < 0 ? "price unknown" : "-");
	}
	puts_(o, "</table>\n");
	struct kc_svg_series s = {.name = "USD per million inferences at the target", .y = cpm,
				  .n = n, .color = 0};
	struct kc_svg_chart c = {
		.title = "Cost per million inferences at the recommended target",
		.desc = "Hourly on-demand price divided by the inferences one instance serves in an "
			"hour at the target; n/a where the price is unknown.",
		.width = CHART_W, .height = CHART_H,
		.x = {.label = "instance type"},
		.y = {.label = "cost", .unit = "USD per million", .min = NAN, .max = NAN},
		.series = &s, .nseries = 1, .categories = cat, .ncategories = n,
	};
	chart(o, &c, true);
	free(cpm);
	free(cat);
}

int kc_html_report(struct kc_buf *b, const struct kc_resultdoc *docs, size_t ndocs,
		   const double *usd_per_hour)
{
	KC_ASSERT(b && docs && ndocs >= 1 && usd_per_hour);
	struct out o = {.b = b};
	head(&o, "kneecap capacity report");
	puts_(&o, "<h1>kneecap capacity report</h1>\n<p class=\"kc-muted\">From ");
	for (size_t i = 0; i < ndocs; i++) {
		if (i)
			puts_(&o, ", ");
		puts_(&o, "<code>");
		esc(&o, docs[i].path);
		puts_(&o, "</code>");
	}
	puts_(&o, ". Latency is measured from each request's intended send time.</p>\n");
	if (ndocs > 1)
		compare(&o, docs, ndocs, usd_per_hour);
	for (size_t i = 0; i < ndocs; i++) {
		const struct kc_resultdoc *d = &docs[i];
		puts_(&o, "<section>\n<h2>");
		esc(&o, d->instance_type[0] ? d->instance_type : "Result");
		puts_(&o, " <span class=\"kc-muted\">(");
		esc(&o, d->path);
		pf(&o, ", %s mode)</span></h2>\n", strcmp(d->mode, "streams") ? "rps" : "streams");
		verdict(&o, d, usd_per_hour[i]);
		confirmation(&o, d);
		if (!o.rc)
			o.rc = kc_html_signals(o.b, &d->signals);
		warnings(&o, d);
		result_charts(&o, d);
		steps_table(&o, d);
		puts_(&o, "<div class=\"kc-grid2\"><div>\n");
		kv_table(&o, "Configuration", d->config, d->nconfig);
		puts_(&o, "</div><div>\n");
		kv_table(&o, "Environment", d->env, d->nenv);
		puts_(&o, "</div></div>\n</section>\n");
	}
	puts_(&o, "<p class=\"kc-muted\">Written by kneecap. This file is self-contained: it loads "
		  "nothing from the network.</p>\n</body>\n</html>\n");
	return o.rc;
}

/* ---- the plan ------------------------------------------------------------ */

static void cron_line(struct out *o, const struct kc_plan_sched *s)
{
	char cron[48];
	kc_plan_sched_cron(s, cron, sizeof(cron));
	pf(o, "<tr><td><code>%s</code></td><td>", cron);
	esc(o, s->name);
	pf(o, "</td><td class=\"n\">%d</td><td class=\"n\">", s->min_cap);
	if (s->max_cap)
		pf(o, "%d", s->max_cap);
	else
		puts_(o, "unchanged");
	puts_(o, "</td></tr>\n");
}

void kc_plan_bounds_note(const struct kc_plan_view *v, char *out, size_t n)
{
	const struct kc_plan_input *in = v->in;
	const struct kc_plan_advice *a = v->advice;
	const struct kc_resultdoc *d = v->doc;
	size_t len = 0;
#define ADD(...) do { if (len < n) len += (size_t)snprintf(out + len, n - len, __VA_ARGS__); } while (0)
	if (n)
		out[0] = '\0';
	ADD("Min %d / Max %d: ", in->min_cap, in->max_cap);
	if (v->min_given && v->max_given)
		ADD("you gave both");
	else if (v->min_given)
		ADD("you gave Min; Max is recommended for this traffic");
	else if (v->max_given)
		ADD("you gave Max; Min is recommended for this traffic");
	else
		ADD("recommended for this traffic");
	int fmin = d ? d->rec_min_capacity : 0, fmax = d ? d->rec_max_capacity : 0;
	if (fmin > 0 && fmax > 0) {
		if (fmin == in->min_cap && fmax == in->max_cap) {
			ADD("; the same as find's apply.sh");
		} else {
			ADD("; find's apply.sh registered Min %d / Max %d (its [recommend] "
			    "min_capacity / max_capacity, chosen without a traffic shape)", fmin, fmax);
			if (in->max_cap > fmax)
				ADD(": this day's peak of %.0f RPS needs %d instances at the target, so "
				    "Max %d would queue at every peak", a->peak_rps, a->needed_at_peak, fmax);
			else if (in->max_cap < fmax)
				ADD(": Max %d already holds the largest peak at the target plus 25%%",
				    in->max_cap);
			if (in->min_cap != fmin)
				ADD("%s Min %d carries the %.0f RPS baseline under the target and is "
				    "never below 2", in->max_cap != fmax ? ";" : ":", in->min_cap,
				    a->baseline_rps);
			ADD(". The plan's apply.sh registers Min %d / Max %d", in->min_cap, in->max_cap);
		}
	}
	ADD(".");
#undef ADD
}

static void plan_verdict(struct out *o, const struct kc_plan_view *v)
{
	const struct kc_plan_advice *a = v->advice;
	const struct kc_plan_input *in = v->in;
	char x[6][32];
	puts_(o, "<div class=\"kc-verdict\">\n");
	pf(o, "<p class=\"kc-big\">At the peak of %s RPS, target tracking wants %d instances "
	      "(peak &divide; target %s RPS per instance); %d is the least that keeps arrivals "
	      "under the %s RPS ceiling.</p>\n",
	   num(a->peak_rps, 0, x[0], 32), a->needed_at_peak, num(in->target_rps, 1, x[1], 32),
	   a->needed_at_ceiling, num(in->ceiling_rps, 1, x[2], 32));
	if (a->exceeds_max)
		pf(o, "<p class=\"kc-alert\">The traffic peak of %s RPS exceeds MaxCapacity %d &times; "
		      "ceiling %s RPS = %s RPS. Requests will queue and fail at every peak. "
		      "Raise MaxCapacity to at least %d (%d to stay at the target).</p>\n",
		   num(a->peak_rps, 0, x[0], 32), in->max_cap, num(in->ceiling_rps, 1, x[1], 32),
		   num(in->max_cap * in->ceiling_rps, 0, x[2], 32), a->needed_at_ceiling,
		   a->needed_at_peak);
	char bounds[700];
	kc_plan_bounds_note(v, bounds, sizeof(bounds));
	pf(o, "<p>Recommended: <strong>MinCapacity %d</strong>, <strong>MaxCapacity %d</strong>. "
	      "Min carries the %s RPS baseline under the target and is never "
	      "below 2, so replacing one instance does not leave the baseline on nothing; Max is "
	      "the largest known peak at the target plus 25%% for surprises.</p>\n"
	      "<p class=\"kc-bounds\">Simulated with ",
	   a->min_cap, a->max_cap, num(a->baseline_rps, 0, x[4], 32));
	esc(o, bounds);
	puts_(o, "</p>\n");
	pf(o, "<p><strong>Target factor derived from the traffic:</strong> %s "
	      "(beside the 0.70&ndash;0.80 default and AWS's 0.5). ",
	   a->factor_derived > 0 ? num(a->factor_derived, 2, x[3], 32) : "none");
	esc(o, a->reason);
	puts_(o, "</p>\n</div>\n");
	if (a->nsched) {
		pf(o, "<h3>Recommended scheduled actions (pre-warm %llds ahead of each known spike: "
		      "provisioning + one publication lag)</h3>\n<table>\n<tr><th>schedule (UTC)</th>"
		      "<th>name</th><th class=\"n\">MinCapacity</th><th class=\"n\">MaxCapacity</th></tr>\n",
		   (long long)a->lead_s);
		for (size_t i = 0; i < a->nsched; i++)
			cron_line(o, &a->sched[i]);
		puts_(o, "</table>\n<pre>");
		for (size_t i = 0; i < a->nsched; i++) {
			char cron[48];
			kc_plan_sched_cron(&a->sched[i], cron, sizeof(cron));
			/* The resource from the result; a missing endpoint name stays a
			 * shell variable the reader must set, as in apply.sh. */
			const struct kc_resultdoc *d = v->doc;
			puts_(o, "aws application-autoscaling put-scheduled-action --service-namespace sagemaker "
				 "--scalable-dimension sagemaker:variant:DesiredInstanceCount "
				 "--resource-id endpoint/");
			esc(o, d && d->endpoint_name[0] ? d->endpoint_name : "${ENDPOINT_NAME}");
			puts_(o, "/variant/");
			esc(o, d && d->variant[0] ? d->variant : "AllTraffic");
			puts_(o, " --scheduled-action-name ");
			esc(o, a->sched[i].name);
			pf(o, " --schedule '%s' --scalable-target-action MinCapacity=%d,MaxCapacity=%d\n",
			   cron, a->sched[i].min_cap, a->sched[i].max_cap ? a->sched[i].max_cap : in->max_cap);
		}
		puts_(o, "</pre>\n");
	}
}

static void plan_table(struct out *o, const struct kc_plan_view *v)
{
	char x[8][32];
	pf(o, "<h2>Simulated day, side by side</h2>\n<table>\n<tr><th>variant</th>"
	      "<th class=\"n\">worst queue (requests)</th><th class=\"n\">longest queueing window</th>"
	      "<th class=\"n\">seconds queueing / day</th><th class=\"n\">total queueing delay "
	      "(request-seconds / day)</th><th class=\"n\">time over SLO (%s ms) / day</th>"
	      "<th class=\"n\">worst p99 ms</th><th class=\"n\">failed / day</th>"
	      "<th class=\"n\">max instances</th><th class=\"n\">instance-hours / day</th>"
	      "<th class=\"n\">cost / day</th></tr>\n", num(v->in->slo_ms, 0, x[0], 32));
	for (size_t i = 0; i < v->nruns; i++) {
		const struct kc_plan_run *r = v->runs[i].run;
		puts_(o, "<tr><td>");
		esc(o, v->runs[i].name);
		for (size_t k = 0; k < r->nsched; k++) {
			char cron[48];
			kc_plan_sched_cron(&r->sched[k], cron, sizeof(cron));
			pf(o, "%s<code>%s</code>&nbsp;min&nbsp;%d", k ? "; " : "<br><span class=\"kc-muted\">",
			   cron, r->sched[k].min_cap);
			if (k + 1 == r->nsched)
				puts_(o, "</span>");
		}
		pf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%llds</td><td class=\"n\">%llds</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%llds</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%d</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
		   num(r->worst_queue, 0, x[0], 32), (long long)r->longest_queue_window_s,
		   (long long)r->queue_s, num(r->wait_request_s, 0, x[5], 32), (long long)r->over_slo_s,
		   num(r->worst_p99_ms, 0, x[1], 32),
		   num(r->failed, 0, x[2], 32), r->max_instances, num(r->instance_hours, 1, x[3], 32),
		   r->cost_usd_per_day >= 0 ? num(r->cost_usd_per_day, 2, x[4], 32) : "price unknown");
	}
	puts_(o, "</table>\n");
	if (v->advice->nsched && v->advice->sched[0].max_cap &&
	    v->advice->sched[0].max_cap != v->in->max_cap)
		pf(o, "<p class=\"kc-muted\">Variants with the recommended pre-warm also apply its "
		      "MaxCapacity %d.</p>\n", v->advice->sched[0].max_cap);
	if (v->in->price_usd_per_hour >= 0)
		pf(o, "<p class=\"kc-muted\">Cost at $%s per instance-hour, billed from the request "
		      "(model assumption).</p>\n", num(v->in->price_usd_per_hour, 4, x[0], 32));
	else
		puts_(o, "<p class=\"kc-muted\">Price unknown for this instance type: pass "
			 "<code>--price</code> to see cost per day.</p>\n");
}

static void assumptions(struct out *o, const struct kc_plan_view *v)
{
	puts_(o, "<h2>Model assumptions</h2>\n<p class=\"kc-muted\">Not published by AWS; "
		 "observed or inferred (see the spec's &sect;10). Override them with flags.</p>\n"
		 "<table>\n<tr><th>variant</th><th class=\"n\">period</th><th class=\"n\">publication lag</th>"
		 "<th class=\"n\">alarm high</th><th class=\"n\">alarm low</th>"
		 "<th class=\"n\">provisioning</th><th class=\"n\">cooldown out / in</th>"
		 "<th class=\"n\">timeout</th></tr>\n");
	for (size_t i = 0; i < v->nruns; i++) {
		const struct kc_plan_model *m = v->runs[i].model;
		puts_(o, "<tr><td>");
		esc(o, v->runs[i].name);
		pf(o, "</td><td class=\"n\">%llds</td><td class=\"n\">%llds</td><td class=\"n\">%d &times; "
		      "%llds above target</td><td class=\"n\">%d &times; %llds below %.0f%%</td>"
		      "<td class=\"n\">%llds</td><td class=\"n\">%llds / %llds</td><td class=\"n\">%llds</td></tr>\n",
		   (long long)m->period_s, (long long)m->publish_lag_s, m->high_datapoints,
		   (long long)m->period_s, m->low_datapoints, (long long)m->period_s,
		   m->low_ratio * 100, (long long)m->provision_s, (long long)m->scale_out_cooldown_s,
		   (long long)m->scale_in_cooldown_s, (long long)m->timeout_s);
	}
	puts_(o, "</table>\n<p class=\"kc-muted\">Desired capacity = ceil(instances &times; metric "
		 "&divide; target), clamped to [Min, Max]; pending instances count as added; arrivals "
		 "above in-service capacity queue and drain at capacity (fluid model); approximate p99 = "
		 "measured p99 at that load + queueing delay.</p>\n");
}

/* Draws one variant's timeline over [t0, t1) seconds of the day, every step_s. */
static void timeline(struct out *o, const struct kc_plan_view *v, size_t ri,
		     int64_t t0, int64_t t1, int64_t step_s)
{
	const struct kc_plan_run *r = v->runs[ri].run;
	size_t n = (size_t)((t1 - t0) / step_s);
	double *x = calloc(n ? n * 8 : 1, sizeof(double));
	if (!x) {
		o->rc = KC_ENOMEM;
		return;
	}
	double *rate = x + n, *cap = rate + n, *q = cap + n, *p99 = q + n, *ins = p99 + n,
	       *pend = ins + n, *minc = pend + n;
	for (size_t i = 0; i < n; i++) {
		int64_t t = t0 + (int64_t)i * step_s;
		int64_t k = ((t % KC_TRAFFIC_DAY_S) + KC_TRAFFIC_DAY_S) % KC_TRAFFIC_DAY_S;
		const struct kc_plan_sample *s = &r->tl[k];
		x[i] = (double)t;
		rate[i] = s->rate_rps;
		cap[i] = s->capacity_rps;
		/* Show the worst second of the step so short bursts are not lost. */
		double qm = 0, pm = 0;
		for (int64_t j = 0; j < step_s; j++) {
			const struct kc_plan_sample *u = &r->tl[(k + j) % KC_TRAFFIC_DAY_S];
			if (u->queue > qm) qm = u->queue;
			if (u->p99_ms > pm) pm = u->p99_ms;
		}
		q[i] = qm;
		p99[i] = pm;
		ins[i] = s->in_service;
		pend[i] = s->in_service + s->pending;
		minc[i] = s->min_cap;
	}
	char title[160];
	puts_(o, "<div>\n<h3>");
	esc(o, v->runs[ri].name);
	puts_(o, "</h3>\n");
	struct kc_svg_series s1[2] = {
		{.name = "arrivals", .x = x, .y = rate, .n = n, .color = 0},
		{.name = "in-service capacity", .x = x, .y = cap, .n = n, .color = 2, .step = true},
	};
	snprintf(title, sizeof(title), "Traffic vs capacity: %s", v->runs[ri].name);
	struct kc_svg_chart c1 = {
		.title = title, .width = CHART_W, .height = 260,
		.x = {.label = "time of day (UTC)", .min = (double)t0, .max = (double)t1, .clock = true},
		.y = {.label = "rate", .unit = "RPS", .min = NAN, .max = NAN, .include_zero = true},
		.series = s1, .nseries = 2,
	};
	chart(o, &c1, false);
	struct kc_svg_series s2[3] = {
		{.name = "requested (in service + pending)", .x = x, .y = pend, .n = n, .color = 1,
		 .step = true, .dashed = true},
		{.name = "in service", .x = x, .y = ins, .n = n, .color = 2, .step = true},
		{.name = "MinCapacity", .x = x, .y = minc, .n = n, .color = 6, .step = true, .dashed = true},
	};
	snprintf(title, sizeof(title), "Instances: %s", v->runs[ri].name);
	struct kc_svg_chart c2 = {
		.title = title, .width = CHART_W, .height = 240,
		.x = {.label = "time of day (UTC)", .min = (double)t0, .max = (double)t1, .clock = true},
		.y = {.label = "instances", .min = NAN, .max = NAN, .include_zero = true},
		.series = s2, .nseries = 3,
	};
	chart(o, &c2, false);
	struct kc_svg_series s3 = {.name = "queued requests", .x = x, .y = q, .n = n, .color = KC_SVG_BAD};
	snprintf(title, sizeof(title), "Queue: %s", v->runs[ri].name);
	struct kc_svg_chart c3 = {
		.title = title, .width = CHART_W, .height = 240,
		.x = {.label = "time of day (UTC)", .min = (double)t0, .max = (double)t1, .clock = true},
		.y = {.label = "queue", .unit = "requests", .min = 0, .max = NAN, .include_zero = true},
		.series = &s3, .nseries = 1,
	};
	if (r->worst_queue < 1)
		c3.y.max = 10; /* an empty queue still gets a readable axis */
	chart(o, &c3, false);
	char slo[48];
	snprintf(slo, sizeof(slo), "SLO %.0f ms", v->in->slo_ms);
	struct kc_svg_mark ym = {.at = v->in->slo_ms, .label = slo, .color = KC_SVG_BAD, .dashed = true};
	struct kc_svg_series s4 = {.name = "approx. p99", .x = x, .y = p99, .n = n, .color = 3};
	snprintf(title, sizeof(title), "Approximate p99 latency: %s", v->runs[ri].name);
	struct kc_svg_chart c4 = {
		.title = title, .width = CHART_W, .height = 240,
		.x = {.label = "time of day (UTC)", .min = (double)t0, .max = (double)t1, .clock = true},
		.y = {.label = "p99", .unit = "ms", .scale = KC_SVG_LOG10, .min = NAN, .max = NAN},
		.series = &s4, .nseries = 1, .ymarks = &ym, .nymarks = 1,
	};
	chart(o, &c4, false);
	puts_(o, "</div>\n");
	free(x);
}

static void day_overview(struct out *o, const struct kc_plan_view *v)
{
	enum { N = 1440 };
	double *x = calloc(N * 4, sizeof(double));
	if (!x) {
		o->rc = KC_ENOMEM;
		return;
	}
	double *rate = x + N, *ca = rate + N, *cb = ca + N;
	const struct kc_plan_run *ra = v->runs[v->timeline_a].run, *rb = v->runs[v->timeline_b].run;
	for (int i = 0; i < N; i++) {
		x[i] = i * 60.0;
		double mr = 0;
		for (int j = 0; j < 60; j++)
			if (ra->tl[i * 60 + j].rate_rps > mr)
				mr = ra->tl[i * 60 + j].rate_rps;
		rate[i] = mr;
		ca[i] = ra->tl[i * 60].capacity_rps;
		cb[i] = rb->tl[i * 60].capacity_rps;
	}
	struct kc_svg_series s[3] = {
		{.name = "arrivals (peak per minute)", .x = x, .y = rate, .n = N, .color = 0},
		{.name = v->runs[v->timeline_a].name, .x = x, .y = ca, .n = N, .color = 1, .step = true},
		{.name = v->runs[v->timeline_b].name, .x = x, .y = cb, .n = N, .color = 2, .step = true,
		 .dashed = true},
	};
	char ceil_l[64];
	snprintf(ceil_l, sizeof(ceil_l), "MaxCapacity x ceiling = %.0f RPS",
		 v->in->max_cap * v->in->ceiling_rps);
	struct kc_svg_mark ym = {.at = v->in->max_cap * v->in->ceiling_rps, .label = ceil_l,
				 .color = KC_SVG_BAD, .dashed = true};
	struct kc_svg_chart c = {
		.title = "The whole day: arrivals and in-service capacity",
		.desc = "Traffic shape over 24 hours with the capacity each variant keeps in service.",
		.width = 1240, .height = 300,
		.x = {.label = "time of day (UTC)", .min = 0, .max = KC_TRAFFIC_DAY_S, .clock = true},
		.y = {.label = "rate", .unit = "RPS", .min = NAN, .max = NAN, .include_zero = true},
		.series = s, .nseries = 3, .ymarks = &ym, .nymarks = 1,
	};
	chart(o, &c, false);
	free(x);
}

int kc_html_plan(struct kc_buf *b, const struct kc_plan_view *v)
{
	KC_ASSERT(b && v && v->doc && v->in && v->advice && v->nruns >= 1);
	KC_ASSERT(v->timeline_a < v->nruns && v->timeline_b < v->nruns);
	struct out o = {.b = b};
	char x[4][32];
	head(&o, "kneecap capacity plan");
	puts_(&o, "<h1>kneecap capacity plan</h1>\n<p class=\"kc-muted\">Result <code>");
	esc(&o, v->doc->path);
	puts_(&o, "</code>");
	if (v->doc->instance_type[0]) {
		puts_(&o, " (");
		esc(&o, v->doc->instance_type);
		puts_(&o, ")");
	}
	puts_(&o, ", traffic <code>");
	esc(&o, v->traffic_name ? v->traffic_name : "");
	pf(&o, "</code>. Ceiling %s RPS per instance, target %s RPS per instance (%s "
	       "invocations/instance/minute), Min %d, Max %d. One simulated day in one-second "
	       "steps (after a day of warm-up).</p>\n",
	   num(v->in->ceiling_rps, 1, x[0], 32), num(v->in->target_rps, 1, x[1], 32),
	   num(v->in->target_rps * 60, 0, x[2], 32), v->in->min_cap, v->in->max_cap);
	plan_verdict(&o, v);
	plan_table(&o, v);

	/* The window around the worst spike of the first timeline. */
	const struct kc_plan_run *ra = v->runs[v->timeline_a].run;
	int64_t at = ra->worst_queue > 0 ? ra->worst_queue_at_s : 0;
	if (ra->worst_queue <= 0 && v->traffic->npeaks)
		at = v->traffic->peaks[0].at_s + v->traffic->peaks[0].every_s;
	int64_t t0 = (at - 12 * 60) / 60 * 60, t1 = t0 + 36 * 60;
	pf(&o, "<h2>Timelines around the worst spike (%02lld:%02lld&ndash;%02lld:%02lld UTC)</h2>\n"
	       "<div class=\"kc-grid2\">\n",
	   (long long)(((t0 % 86400) + 86400) % 86400 / 3600), (long long)(((t0 % 3600) + 3600) % 3600 / 60),
	   (long long)(((t1 % 86400) + 86400) % 86400 / 3600), (long long)(((t1 % 3600) + 3600) % 3600 / 60));
	timeline(&o, v, v->timeline_a, t0, t1, 5);
	timeline(&o, v, v->timeline_b, t0, t1, 5);
	puts_(&o, "</div>\n");
	day_overview(&o, v);
	assumptions(&o, v);
	puts_(&o, "<h2>Traffic shape</h2>\n<table>\n");
	pf(&o, "<tr><th>baseline</th><td>%s RPS</td></tr>\n", num(v->traffic->baseline_rps, 1, x[0], 32));
	for (size_t i = 0; i < v->traffic->npeaks; i++) {
		char dsc[160];
		kc_traffic_peak_describe(&v->traffic->peaks[i], dsc, sizeof(dsc));
		puts_(&o, "<tr><th>peak ");
		esc(&o, v->traffic->peaks[i].name);
		puts_(&o, "</th><td>");
		esc(&o, dsc);
		puts_(&o, "</td></tr>\n");
	}
	for (size_t i = 0; i < v->traffic->ntroughs; i++) {
		const struct kc_traffic_trough *t = &v->traffic->troughs[i];
		puts_(&o, "<tr><th>trough ");
		esc(&o, t->name);
		pf(&o, "</th><td>%s RPS from %02lld:%02lld to %02lld:%02lld</td></tr>\n",
		   num(t->rate_rps, 1, x[0], 32), (long long)(t->from_s / 3600),
		   (long long)(t->from_s % 3600 / 60), (long long)(t->to_s / 3600),
		   (long long)(t->to_s % 3600 / 60));
	}
	puts_(&o, "</table>\n<p class=\"kc-muted\">Written by kneecap. This file is self-contained: "
		  "it loads nothing from the network.</p>\n</body>\n</html>\n");
	return o.rc;
}
