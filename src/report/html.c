/*
 * html.c - the self-contained HTML report for results and plans.
 *
 * One file, nothing fetched: CSS inline in <style>, charts inline as SVG
 * (svg.c), no <script>, no fonts, no images, no links to the network.  It
 * must open from a laptop with no connection and print on paper, so
 * colours come from CSS variables switched by prefers-color-scheme and a
 * print block.  Every string that came from a file goes through kc_html_esc()
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

#include "html_int.h"
#include "out_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void kc_html_esc(struct kc_out *o, const char *s)
{
	if (!o->rc)
		o->rc = kc_svg_escape(o->b, s);
}

void kc_html_chart(struct kc_out *o, const struct kc_svg_chart *c, bool bars)
{
	if (o->rc)
		return;
	kc_out_puts(o, "<figure>\n");
	int rc = bars ? kc_svg_bar_chart(o->b, c) : kc_svg_line_chart(o->b, c);
	if (rc == KC_EINVAL) {
		kc_out_pf(o, "<p class=\"kc-muted\">(");
		kc_html_esc(o, c->title);
		kc_out_pf(o, ": no data to draw)</p>\n");
	} else if (rc) {
		o->rc = rc;
	}
	kc_out_puts(o, "</figure>\n");
}

const char *kc_html_num(double v, int dec, char *buf, size_t n)
{
	if (!isfinite(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.*f", dec, v);
	return buf;
}

void kc_html_head(struct kc_out *o, const char *title)
{
	kc_out_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		 "<meta name=\"color-scheme\" content=\"light dark\">\n<title>");
	kc_html_esc(o, title);
	kc_out_puts(o, "</title>\n<style>\n");
	kc_out_puts(o, css);
	kc_out_puts(o, "</style>\n</head>\n<body>\n");
}

static void kv_table(struct kc_out *o, const char *caption, const struct kc_rd_kv *kv, size_t n)
{
	kc_out_pf(o, "<h3>%s</h3>\n", caption);
	if (!n) {
		kc_out_puts(o, "<p class=\"kc-muted\">not recorded in this result</p>\n");
		return;
	}
	kc_out_puts(o, "<table>\n");
	for (size_t i = 0; i < n; i++) {
		kc_out_puts(o, "<tr><th>");
		kc_html_esc(o, kv[i].key);
		kc_out_puts(o, "</th><td><code>");
		kc_html_esc(o, kv[i].value);
		kc_out_puts(o, "</code></td></tr>\n");
	}
	kc_out_puts(o, "</table>\n");
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
static void run_summary(struct kc_out *o, const struct kc_resultdoc *d)
{
	char a[32];
	const char *l = d->run_load;
	if (!strcmp(l, "rate") && isfinite(d->run_rate))
		kc_out_pf(o, "<p class=\"kc-big\">Fixed-rate run at %s %s (%zu step%s)</p>\n",
		   kc_html_num(d->run_rate, kc_rate_decimals(d->run_rate), a, sizeof(a)), unit_of(d),
		   d->nsteps, d->nsteps == 1 ? "" : "s");
	else if (!strcmp(l, "concurrency") && isfinite(d->run_concurrency))
		kc_out_pf(o, "<p class=\"kc-big\">Closed-loop run at %s concurrent requests (%zu step%s)</p>\n",
		   kc_html_num(d->run_concurrency, 0, a, sizeof(a)), d->nsteps, d->nsteps == 1 ? "" : "s");
	else if (!strcmp(l, "ramp") || !strcmp(l, "linear"))
		kc_out_pf(o, "<p class=\"kc-big\">Ramped run (%zu step%s)</p>\n", d->nsteps,
		   d->nsteps == 1 ? "" : "s");
	else
		kc_out_pf(o, "<p class=\"kc-big\">Fixed-load run (%zu step%s)</p>\n", d->nsteps,
		   d->nsteps == 1 ? "" : "s");
	kc_out_puts(o, "<p>A run measures the load it was given; it does not search for a knee, so "
		 "this result has no ceiling or target. <code>kneecap find</code> searches for "
		 "them.</p>\n");
}

/* Everything the terminal printed under the knee: warnings first. */
static void warnings(struct kc_out *o, const struct kc_resultdoc *d)
{
	/* A knee that is only a lower bound (max reached, generator-bound)
	 * carries its diagnosis outside the notes: say it here too. */
	bool diag = d->has_knee && d->knee_found && d->diagnosis[0];
	for (size_t i = 0; diag && i < d->nnotes; i++)
		if (strstr(d->notes[i], d->diagnosis))
			diag = false;
	if (!d->nnotes && !diag)
		return;
	kc_out_puts(o, "<div class=\"kc-warnings\"><h3>Warnings and checks</h3>\n<ul id=\"kc-notes\">\n");
	if (diag) {
		kc_out_puts(o, "<li class=\"kc-bad\">The knee is a lower bound: ");
		kc_html_esc(o, d->diagnosis);
		kc_out_puts(o, "</li>\n");
	}
	for (size_t i = 0; i < d->nnotes; i++) {
		bool warn = !strncmp(d->notes[i], "Note - ", 7) || strstr(d->notes[i], "inconsistent");
		kc_out_pf(o, "<li%s>", warn ? " class=\"kc-bad\"" : "");
		kc_html_esc(o, d->notes[i]);
		kc_out_puts(o, "</li>\n");
	}
	kc_out_puts(o, "</ul></div>\n");
}

/*
 * find's confirmation step: the latency measured at the recommended target,
 * which no search step shows, and whether the target held (the policy was
 * written only if it did).
 */
static void confirmation(struct kc_out *o, const struct kc_resultdoc *d)
{
	if (!d->has_confirm)
		return;
	char a[6][32];
	bool ok = d->confirm_healthy;
	kc_out_puts(o, "<div class=\"kc-verdict\" id=\"kc-confirm\">\n<h3>Confirmation at the recommended "
		 "target</h3>\n");
	kc_out_pf(o, "<p>One step at TargetValue %s (%s RPS/instance",
	   kc_html_num(d->confirm_target_value, d->confirm_target_value < 100 ? 1 : 0, a[0], 32),
	   kc_html_num(d->confirm_per_instance, 2, a[1], 32));
	if (d->confirm_instances > 1)
		kc_out_pf(o, " &times; %d instances = %s RPS", d->confirm_instances,
		   kc_html_num(d->confirm_offered, 2, a[2], 32));
	kc_out_pf(o, "), run after the search and kept out of its steps: p50 %s ms, p99 %s ms, ",
	   kc_html_num(d->confirm_latency.p50, 1, a[3], 32), kc_html_num(d->confirm_latency.p99, 1, a[4], 32));
	kc_out_pf(o, "achieved %s of %s arrived per second, %s errors",
	   kc_html_num(d->confirm_achieved, d->confirm_achieved < 10 ? 2 : 1, a[0], 32),
	   kc_html_num(d->confirm_arrived, d->confirm_arrived < 10 ? 2 : 1, a[1], 32),
	   kc_html_num(d->confirm_errors, 0, a[2], 32));
	if (isfinite(d->confirm_duration_s))
		kc_out_pf(o, " over %s s", kc_html_num(d->confirm_duration_s, 0, a[5], 32));
	kc_out_puts(o, ".</p>\n");
	kc_out_pf(o, "<p class=\"%s\">Verdict: ", ok ? "kc-good" : "kc-bad");
	kc_html_esc(o, d->confirm_verdict[0] ? d->confirm_verdict : "unknown");
	kc_out_puts(o, ok ? " &mdash; the target held.</p>\n"
		    : " &mdash; the endpoint did not hold the recommended target: no scaling policy "
		      "or apply.sh was written.</p>\n");
	kc_out_puts(o, "</div>\n");
}

static void verdict(struct kc_out *o, const struct kc_resultdoc *d, double price)
{
	char a[32], b[32], c[32];
	kc_out_puts(o, "<div class=\"kc-verdict\">\n");
	if (d->has_knee && d->knee_found) {
		kc_out_pf(o, "<p class=\"kc-big\">Ceiling: %s %s per instance",
		   kc_html_num(d->knee_per_instance, kc_rate_decimals(d->knee_per_instance), a, sizeof(a)),
		   unit_of(d));
		if (d->instance_type[0]) {
			kc_out_puts(o, " on ");
			kc_html_esc(o, d->instance_type);
		}
		kc_out_puts(o, "</p>\n<p>What ended the search: ");
		kc_html_esc(o, d->knee_reason[0] ? d->knee_reason : "not recorded");
		if (d->search_steps >= 0) {
			kc_out_pf(o, ". Found in %d steps (%d re-measured", d->search_steps,
			   d->search_remeasures > 0 ? d->search_remeasures : 0);
			if (isfinite(d->measured_s))
				kc_out_pf(o, ", %.0f s of load", d->measured_s);
			kc_out_puts(o, ")");
			if (isfinite(d->precision) && d->precision > 0) {
				bool streams = !strcmp(d->mode, "streams");
				kc_out_pf(o, ", bracket within %.1f%s", streams ? d->precision : d->precision * 100.0,
				   streams ? " stream(s)" : "%");
			}
		}
		kc_out_puts(o, ".</p>\n");
		if (d->knee_bound_note[0]) {
			kc_out_puts(o, "<p class=\"kc-bound\">The ceiling is ");
			kc_html_esc(o, d->knee_bound_note);
			if (d->knee_bound[0]) {
				kc_out_puts(o, " <span class=\"kc-muted\">(bound: <code>");
				kc_html_esc(o, d->knee_bound);
				kc_out_puts(o, "</code>)</span>");
			}
			kc_out_puts(o, ".</p>\n");
		}
	} else if (!d->searched) {
		run_summary(o, d);
	} else {
		kc_out_puts(o, "<p class=\"kc-bad\">No knee in this result: the search did not find one");
		if (d->diagnosis[0]) {
			kc_out_puts(o, ": ");
			kc_html_esc(o, d->diagnosis);
		}
		kc_out_puts(o, ".</p>\n");
	}
	if (isfinite(d->slo_ms)) {
		kc_out_pf(o, "<p class=\"kc-slo\">Latency objective: %s at most %s ms; a step above it "
		      "is unhealthy (the dashed line on the latency chart).</p>\n",
		   d->slo_stat[0] ? d->slo_stat : "p99", kc_html_num(d->slo_ms, 0, a, sizeof(a)));
	}
	if (d->has_rec) {
		kc_out_pf(o, "<p class=\"kc-big\">Recommended target: %s", kc_html_num(d->target_value, d->target_value < 100 ? 1 : 0, a, sizeof(a)));
		kc_out_puts(o, " <code>");
		kc_html_esc(o, d->metric);
		kc_out_pf(o, "</code></p>\n<p>Range %s&ndash;%s (70&ndash;80%% of the ceiling), factor %s.",
		   kc_html_num(d->target_low, d->target_low < 100 ? 1 : 0, a, sizeof(a)), kc_html_num(d->target_high, d->target_high < 100 ? 1 : 0, b, sizeof(b)),
		   kc_html_num(d->factor, 2, c, sizeof(c)));
		if (strstr(d->metric, "InvocationsPerInstance"))
			kc_out_puts(o, " The metric is invocations per instance per <em>minute</em>: "
				 "RPS &times; 60.");
		kc_out_puts(o, " AWS's own starting point is a safety factor of 0.5.</p>\n");
		kc_out_puts(o, "<p class=\"kc-why\">");
		kc_html_esc(o, d->why[0] ? d->why : kc_recommend_why());
		kc_out_puts(o, "</p>\n");
	}
	double tr = kc_resultdoc_target_rps(d);
	if (price >= 0 && isnan(tr))
		kc_out_pf(o, "<p>Price: $%s per instance-hour (cost per million inferences applies to "
		      "request-rate runs).</p>\n", kc_html_num(price, 4, a, sizeof(a)));
	else if (price >= 0)
		kc_out_pf(o, "<p>Price: $%s per instance-hour; at the target, $%s per million inferences.</p>\n",
		   kc_html_num(price, 4, a, sizeof(a)),
		   kc_html_num(kc_html_cost_per_million(price, tr), 3, b, sizeof(b)));
	else
		kc_out_puts(o, "<p>Price unknown for this instance type (no verified price in "
			 "data/instance-types.csv); cost per million inferences not computed.</p>\n");
	kc_out_puts(o, "</div>\n");
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

static void chart_latency(struct kc_out *o, const struct kc_resultdoc *d, const struct series_data *s)
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
	kc_html_chart(o, &c, false);
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
	kc_html_chart(o, &c2, false);
}

/* Spectrum: percentile on a "nines" axis, -log10(1 - q), so the tail gets
 * the room it deserves; max drawn one decade past p99.9.  Up to
 * MAX_SPECTRUM steps spread across the offered range. */
static void chart_spectrum(struct kc_out *o, const struct kc_resultdoc *d, const struct series_data *s)
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
	kc_html_chart(o, &c, false);
}

/* Errors per load, in load order; no chart at all when every step had none. */
static void chart_errors(struct kc_out *o, const struct kc_resultdoc *d, const struct series_data *s)
{
	double total = 0;
	for (size_t i = 0; i < d->nsteps; i++)
		total += d->steps[i].errors;
	if (!(total > 0)) {
		kc_out_puts(o, "<p class=\"kc-noerrors\">No errors in any step.</p>\n");
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
		kc_html_chart(o, &c, true);
	free(cat);
	free(catp);
}

static void result_charts(struct kc_out *o, const struct kc_resultdoc *d)
{
	struct series_data *s = series_new(d);
	if (!s) {
		o->rc = KC_ENOMEM;
		return;
	}
	kc_out_puts(o, "<div class=\"kc-grid2\">\n");
	chart_latency(o, d, s);
	chart_spectrum(o, d, s);
	chart_errors(o, d, s);
	kc_out_puts(o, "</div>\n");
	series_free(s);
}

/* Every step in run order with the verdict the terminal printed beside it. */
static void steps_table(struct kc_out *o, const struct kc_resultdoc *d)
{
	char a[9][32];
	bool arrived = false;
	for (size_t i = 0; i < d->nsteps; i++)
		arrived = arrived || isfinite(d->steps[i].arrived);
	kc_out_puts(o, "<h3>Steps</h3>\n<table class=\"kc-steps\">\n<tr><th class=\"n\">step</th>"
		 "<th class=\"n\">offered</th>");
	if (arrived)
		kc_out_puts(o, "<th class=\"n\">arrived</th>");
	kc_out_puts(o, "<th class=\"n\">achieved</th><th class=\"n\">p50 ms</th><th class=\"n\">p90 ms</th>"
		 "<th class=\"n\">p99 ms</th><th class=\"n\">p99.9 ms</th><th class=\"n\">max ms</th>"
		 "<th class=\"n\">errors</th><th>verdict</th></tr>\n");
	for (size_t i = 0; i < d->nsteps; i++) {
		const struct kc_rd_step *s = &d->steps[i];
		kc_out_pf(o, "<tr><td class=\"n\">%zu</td><td class=\"n\">%s</td>", i + 1,
		   kc_html_num(s->offered, 1, a[0], 32));
		if (arrived)
			kc_out_pf(o, "<td class=\"n\">%s</td>",
			   kc_html_num(s->arrived, kc_rate_decimals(s->arrived), a[7], 32));
		kc_out_pf(o, "<td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%.0f</td>",
		   kc_html_num(s->achieved, kc_rate_decimals(s->achieved), a[1], 32),
		   kc_html_num(s->latency.p50, 2, a[2], 32), kc_html_num(s->latency.p90, 2, a[3], 32),
		   kc_html_num(s->latency.p99, 2, a[4], 32), kc_html_num(s->latency.p999, 2, a[5], 32),
		   kc_html_num(s->latency.max, 2, a[6], 32), s->errors);
		if (s->verdict[0]) {
			kc_out_pf(o, "<td class=\"kc-verdict-cell%s\">", strcmp(s->verdict, "healthy") ? " kc-bad" : "");
			kc_html_esc(o, s->verdict);
			if (s->attempt > 0)
				kc_out_pf(o, " (re-measure %d)", s->attempt);
			if (s->ambiguous)
				kc_out_puts(o, " (ambiguous)");
			kc_out_puts(o, "</td></tr>\n");
		} else {
			kc_out_puts(o, "<td class=\"kc-verdict-cell kc-muted\">not judged</td></tr>\n");
		}
	}
	kc_out_puts(o, "</table>\n");
	bool judged = false;
	for (size_t i = 0; i < d->nsteps; i++)
		judged = judged || d->steps[i].verdict[0];
	if (arrived && judged)
		kc_out_puts(o, "<p class=\"kc-muted\">offered: the rate asked; arrived: the arrivals the "
			 "schedule actually sent per second (the count the rate asks for, but a step "
			 "ended early). healthy: achieved &ge; 97% of arrived, no in-flight growth, "
			 "errors under the limit.</p>\n");
}

static void compare(struct kc_out *o, const struct kc_resultdoc *docs, size_t n,
		    const double *price)
{
	char a[5][32];
	kc_out_puts(o, "<h2>Instance types compared</h2>\n<table>\n<tr><th>instance type</th><th>file</th>"
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
		kc_out_puts(o, "<tr><td>");
		kc_html_esc(o, d->instance_type[0] ? d->instance_type : "(unlabelled)");
		kc_out_puts(o, "</td><td><code>");
		kc_html_esc(o, d->path);
		kc_out_pf(o, "</code></td><td class=\"n\">%s %s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
		   kc_html_num(d->has_knee ? d->knee_per_instance : NAN, 1, a[0], 32), unit_of(d),
		   kc_html_num(d->has_rec ? d->target_value : NAN, d->target_value < 100 ? 1 : 0, a[1], 32), kc_html_num(tr, 1, a[2], 32),
		   price[i] >= 0 ? kc_html_num(price[i], 4, a[3], 32) : "price unknown",
		   isfinite(cpm[i]) ? kc_html_num(cpm[i], 3, a[4], 32)
				    : price[i] < 0 ? "price unknown" : "-");
	}
	kc_out_puts(o, "</table>\n");
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
	kc_html_chart(o, &c, true);
	free(cpm);
	free(cat);
}

int kc_html_report(struct kc_buf *b, const struct kc_resultdoc *docs, size_t ndocs,
		   const double *usd_per_hour)
{
	KC_ASSERT(b && docs && ndocs >= 1 && usd_per_hour);
	struct kc_out o = {.b = b};
	kc_html_head(&o, "kneecap capacity report");
	kc_out_puts(&o, "<h1>kneecap capacity report</h1>\n<p class=\"kc-muted\">From ");
	for (size_t i = 0; i < ndocs; i++) {
		if (i)
			kc_out_puts(&o, ", ");
		kc_out_puts(&o, "<code>");
		kc_html_esc(&o, docs[i].path);
		kc_out_puts(&o, "</code>");
	}
	kc_out_puts(&o, ". Latency is measured from each request's intended send time.</p>\n");
	if (ndocs > 1)
		compare(&o, docs, ndocs, usd_per_hour);
	for (size_t i = 0; i < ndocs; i++) {
		const struct kc_resultdoc *d = &docs[i];
		kc_out_puts(&o, "<section>\n<h2>");
		kc_html_esc(&o, d->instance_type[0] ? d->instance_type : "Result");
		kc_out_puts(&o, " <span class=\"kc-muted\">(");
		kc_html_esc(&o, d->path);
		kc_out_pf(&o, ", %s mode)</span></h2>\n", strcmp(d->mode, "streams") ? "rps" : "streams");
		verdict(&o, d, usd_per_hour[i]);
		confirmation(&o, d);
		if (!o.rc)
			o.rc = kc_html_signals(o.b, &d->signals);
		warnings(&o, d);
		result_charts(&o, d);
		steps_table(&o, d);
		kc_out_puts(&o, "<div class=\"kc-grid2\"><div>\n");
		kv_table(&o, "Configuration", d->config, d->nconfig);
		kc_out_puts(&o, "</div><div>\n");
		kv_table(&o, "Environment", d->env, d->nenv);
		kc_out_puts(&o, "</div></div>\n</section>\n");
	}
	kc_out_puts(&o, "<p class=\"kc-muted\">Written by kneecap. This file is self-contained: it loads "
		  "nothing from the network.</p>\n</body>\n</html>\n");
	return o.rc;
}
