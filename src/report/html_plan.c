/*
 * html_plan.c - the plan page of the HTML report (kc_html_plan): the
 * recommendation's verdict, the schedule table, the assumptions, one
 * timeline per simulated run and the day overview.  Same rules as html.c:
 * one self-contained file, every string from a file escaped.
 */
#include "kneecap/html.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/plan.h"
#include "kneecap/svg.h"

#include "html_int.h"
#include "out_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cron_line(struct kc_out *o, const struct kc_plan_sched *s)
{
	char cron[48];
	kc_plan_sched_cron(s, cron, sizeof(cron));
	kc_out_pf(o, "<tr><td><code>%s</code></td><td>", cron);
	kc_html_esc(o, s->name);
	kc_out_pf(o, "</td><td class=\"n\">%d</td><td class=\"n\">", s->min_cap);
	if (s->max_cap)
		kc_out_pf(o, "%d", s->max_cap);
	else
		kc_out_puts(o, "unchanged");
	kc_out_puts(o, "</td></tr>\n");
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

static void plan_verdict(struct kc_out *o, const struct kc_plan_view *v)
{
	const struct kc_plan_advice *a = v->advice;
	const struct kc_plan_input *in = v->in;
	char x[6][32];
	kc_out_puts(o, "<div class=\"kc-verdict\">\n");
	kc_out_pf(o, "<p class=\"kc-big\">At the peak of %s RPS, target tracking wants %d instances "
	      "(peak &divide; target %s RPS per instance); %d is the least that keeps arrivals "
	      "under the %s RPS ceiling.</p>\n",
	   kc_html_num(a->peak_rps, 0, x[0], 32), a->needed_at_peak, kc_html_num(in->target_rps, 1, x[1], 32),
	   a->needed_at_ceiling, kc_html_num(in->ceiling_rps, 1, x[2], 32));
	if (a->exceeds_max)
		kc_out_pf(o, "<p class=\"kc-alert\">The traffic peak of %s RPS exceeds MaxCapacity %d &times; "
		      "ceiling %s RPS = %s RPS. Requests will queue and fail at every peak. "
		      "Raise MaxCapacity to at least %d (%d to stay at the target).</p>\n",
		   kc_html_num(a->peak_rps, 0, x[0], 32), in->max_cap, kc_html_num(in->ceiling_rps, 1, x[1], 32),
		   kc_html_num(in->max_cap * in->ceiling_rps, 0, x[2], 32), a->needed_at_ceiling,
		   a->needed_at_peak);
	char bounds[700];
	kc_plan_bounds_note(v, bounds, sizeof(bounds));
	kc_out_pf(o, "<p>Recommended: <strong>MinCapacity %d</strong>, <strong>MaxCapacity %d</strong>. "
	      "Min carries the %s RPS baseline under the target and is never "
	      "below 2, so replacing one instance does not leave the baseline on nothing; Max is "
	      "the largest known peak at the target plus 25%% for surprises.</p>\n"
	      "<p class=\"kc-bounds\">Simulated with ",
	   a->min_cap, a->max_cap, kc_html_num(a->baseline_rps, 0, x[4], 32));
	kc_html_esc(o, bounds);
	kc_out_puts(o, "</p>\n");
	kc_out_pf(o, "<p><strong>Target factor derived from the traffic:</strong> %s "
	      "(beside the 0.70&ndash;0.80 default and AWS's 0.5). ",
	   a->factor_derived > 0 ? kc_html_num(a->factor_derived, 2, x[3], 32) : "none");
	kc_html_esc(o, a->reason);
	kc_out_puts(o, "</p>\n</div>\n");
	if (a->nsched) {
		kc_out_pf(o, "<h3>Recommended scheduled actions (pre-warm %llds ahead of each known spike: "
		      "provisioning + one publication lag)</h3>\n<table>\n<tr><th>schedule (UTC)</th>"
		      "<th>name</th><th class=\"n\">MinCapacity</th><th class=\"n\">MaxCapacity</th></tr>\n",
		   (long long)a->lead_s);
		for (size_t i = 0; i < a->nsched; i++)
			cron_line(o, &a->sched[i]);
		kc_out_puts(o, "</table>\n<pre>");
		for (size_t i = 0; i < a->nsched; i++) {
			char cron[48];
			kc_plan_sched_cron(&a->sched[i], cron, sizeof(cron));
			/* The resource from the result; a missing endpoint name stays a
			 * shell variable the reader must set, as in apply.sh. */
			const struct kc_resultdoc *d = v->doc;
			kc_out_puts(o, "aws application-autoscaling put-scheduled-action --service-namespace sagemaker "
				 "--scalable-dimension sagemaker:variant:DesiredInstanceCount "
				 "--resource-id endpoint/");
			kc_html_esc(o, d && d->endpoint_name[0] ? d->endpoint_name : "${ENDPOINT_NAME}");
			kc_out_puts(o, "/variant/");
			kc_html_esc(o, d && d->variant[0] ? d->variant : "AllTraffic");
			kc_out_puts(o, " --scheduled-action-name ");
			kc_html_esc(o, a->sched[i].name);
			kc_out_pf(o, " --schedule '%s' --scalable-target-action MinCapacity=%d,MaxCapacity=%d\n",
			   cron, a->sched[i].min_cap, a->sched[i].max_cap ? a->sched[i].max_cap : in->max_cap);
		}
		kc_out_puts(o, "</pre>\n");
	}
}

static void plan_table(struct kc_out *o, const struct kc_plan_view *v)
{
	char x[8][32];
	kc_out_pf(o, "<h2>Simulated day, side by side</h2>\n<table>\n<tr><th>variant</th>"
	      "<th class=\"n\">worst queue (requests)</th><th class=\"n\">longest queueing window</th>"
	      "<th class=\"n\">seconds queueing / day</th><th class=\"n\">total queueing delay "
	      "(request-seconds / day)</th><th class=\"n\">time over SLO (%s ms) / day</th>"
	      "<th class=\"n\">worst p99 ms</th><th class=\"n\">failed / day</th>"
	      "<th class=\"n\">max instances</th><th class=\"n\">instance-hours / day</th>"
	      "<th class=\"n\">cost / day</th></tr>\n", kc_html_num(v->in->slo_ms, 0, x[0], 32));
	for (size_t i = 0; i < v->nruns; i++) {
		const struct kc_plan_run *r = v->runs[i].run;
		kc_out_puts(o, "<tr><td>");
		kc_html_esc(o, v->runs[i].name);
		for (size_t k = 0; k < r->nsched; k++) {
			char cron[48];
			kc_plan_sched_cron(&r->sched[k], cron, sizeof(cron));
			kc_out_pf(o, "%s<code>%s</code>&nbsp;min&nbsp;%d", k ? "; " : "<br><span class=\"kc-muted\">",
			   cron, r->sched[k].min_cap);
			if (k + 1 == r->nsched)
				kc_out_puts(o, "</span>");
		}
		kc_out_pf(o, "</td><td class=\"n\">%s</td><td class=\"n\">%llds</td><td class=\"n\">%llds</td>"
		      "<td class=\"n\">%s</td><td class=\"n\">%llds</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		      "<td class=\"n\">%d</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
		   kc_html_num(r->worst_queue, 0, x[0], 32), (long long)r->longest_queue_window_s,
		   (long long)r->queue_s, kc_html_num(r->wait_request_s, 0, x[5], 32), (long long)r->over_slo_s,
		   kc_html_num(r->worst_p99_ms, 0, x[1], 32),
		   kc_html_num(r->failed, 0, x[2], 32), r->max_instances, kc_html_num(r->instance_hours, 1, x[3], 32),
		   r->cost_usd_per_day >= 0 ? kc_html_num(r->cost_usd_per_day, 2, x[4], 32) : "price unknown");
	}
	kc_out_puts(o, "</table>\n");
	if (v->advice->nsched && v->advice->sched[0].max_cap &&
	    v->advice->sched[0].max_cap != v->in->max_cap)
		kc_out_pf(o, "<p class=\"kc-muted\">Variants with the recommended pre-warm also apply its "
		      "MaxCapacity %d.</p>\n", v->advice->sched[0].max_cap);
	if (v->in->price_usd_per_hour >= 0)
		kc_out_pf(o, "<p class=\"kc-muted\">Cost at $%s per instance-hour, billed from the request "
		      "(model assumption).</p>\n", kc_html_num(v->in->price_usd_per_hour, 4, x[0], 32));
	else
		kc_out_puts(o, "<p class=\"kc-muted\">Price unknown for this instance type: pass "
			 "<code>--price</code> to see cost per day.</p>\n");
}

static void assumptions(struct kc_out *o, const struct kc_plan_view *v)
{
	kc_out_puts(o, "<h2>Model assumptions</h2>\n<p class=\"kc-muted\">Not published by AWS; "
		 "observed or inferred (see the spec's &sect;10). Override them with flags.</p>\n"
		 "<table>\n<tr><th>variant</th><th class=\"n\">period</th><th class=\"n\">publication lag</th>"
		 "<th class=\"n\">alarm high</th><th class=\"n\">alarm low</th>"
		 "<th class=\"n\">provisioning</th><th class=\"n\">cooldown out / in</th>"
		 "<th class=\"n\">timeout</th></tr>\n");
	for (size_t i = 0; i < v->nruns; i++) {
		const struct kc_plan_model *m = v->runs[i].model;
		kc_out_puts(o, "<tr><td>");
		kc_html_esc(o, v->runs[i].name);
		kc_out_pf(o, "</td><td class=\"n\">%llds</td><td class=\"n\">%llds</td><td class=\"n\">%d &times; "
		      "%llds above target</td><td class=\"n\">%d &times; %llds below %.0f%%</td>"
		      "<td class=\"n\">%llds</td><td class=\"n\">%llds / %llds</td><td class=\"n\">%llds</td></tr>\n",
		   (long long)m->period_s, (long long)m->publish_lag_s, m->high_datapoints,
		   (long long)m->period_s, m->low_datapoints, (long long)m->period_s,
		   m->low_ratio * 100, (long long)m->provision_s, (long long)m->scale_out_cooldown_s,
		   (long long)m->scale_in_cooldown_s, (long long)m->timeout_s);
	}
	kc_out_puts(o, "</table>\n<p class=\"kc-muted\">Desired capacity = ceil(instances &times; metric "
		 "&divide; target), clamped to [Min, Max]; pending instances count as added; arrivals "
		 "above in-service capacity queue and drain at capacity (fluid model); approximate p99 = "
		 "measured p99 at that load + queueing delay.</p>\n");
}

/* Draws one variant's timeline over [t0, t1) seconds of the day, every step_s. */
static void timeline(struct kc_out *o, const struct kc_plan_view *v, size_t ri,
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
	kc_out_puts(o, "<div>\n<h3>");
	kc_html_esc(o, v->runs[ri].name);
	kc_out_puts(o, "</h3>\n");
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
	kc_html_chart(o, &c1, false);
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
	kc_html_chart(o, &c2, false);
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
	kc_html_chart(o, &c3, false);
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
	kc_html_chart(o, &c4, false);
	kc_out_puts(o, "</div>\n");
	free(x);
}

static void day_overview(struct kc_out *o, const struct kc_plan_view *v)
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
	kc_html_chart(o, &c, false);
	free(x);
}

int kc_html_plan(struct kc_buf *b, const struct kc_plan_view *v)
{
	KC_ASSERT(b && v && v->doc && v->in && v->advice && v->nruns >= 1);
	KC_ASSERT(v->timeline_a < v->nruns && v->timeline_b < v->nruns);
	struct kc_out o = {.b = b};
	char x[4][32];
	kc_html_head(&o, "kneecap capacity plan");
	kc_out_puts(&o, "<h1>kneecap capacity plan</h1>\n<p class=\"kc-muted\">Result <code>");
	kc_html_esc(&o, v->doc->path);
	kc_out_puts(&o, "</code>");
	if (v->doc->instance_type[0]) {
		kc_out_puts(&o, " (");
		kc_html_esc(&o, v->doc->instance_type);
		kc_out_puts(&o, ")");
	}
	kc_out_puts(&o, ", traffic <code>");
	kc_html_esc(&o, v->traffic_name ? v->traffic_name : "");
	kc_out_pf(&o, "</code>. Ceiling %s RPS per instance, target %s RPS per instance (%s "
	       "invocations/instance/minute), Min %d, Max %d. One simulated day in one-second "
	       "steps (after a day of warm-up).</p>\n",
	   kc_html_num(v->in->ceiling_rps, 1, x[0], 32), kc_html_num(v->in->target_rps, 1, x[1], 32),
	   kc_html_num(v->in->target_rps * 60, 0, x[2], 32), v->in->min_cap, v->in->max_cap);
	plan_verdict(&o, v);
	plan_table(&o, v);

	/* The window around the worst spike of the first timeline. */
	const struct kc_plan_run *ra = v->runs[v->timeline_a].run;
	int64_t at = ra->worst_queue > 0 ? ra->worst_queue_at_s : 0;
	if (ra->worst_queue <= 0 && v->traffic->npeaks)
		at = v->traffic->peaks[0].at_s + v->traffic->peaks[0].every_s;
	int64_t t0 = (at - 12 * 60) / 60 * 60, t1 = t0 + 36 * 60;
	kc_out_pf(&o, "<h2>Timelines around the worst spike (%02lld:%02lld&ndash;%02lld:%02lld UTC)</h2>\n"
	       "<div class=\"kc-grid2\">\n",
	   (long long)(((t0 % 86400) + 86400) % 86400 / 3600), (long long)(((t0 % 3600) + 3600) % 3600 / 60),
	   (long long)(((t1 % 86400) + 86400) % 86400 / 3600), (long long)(((t1 % 3600) + 3600) % 3600 / 60));
	timeline(&o, v, v->timeline_a, t0, t1, 5);
	timeline(&o, v, v->timeline_b, t0, t1, 5);
	kc_out_puts(&o, "</div>\n");
	day_overview(&o, v);
	assumptions(&o, v);
	kc_out_puts(&o, "<h2>Traffic shape</h2>\n<table>\n");
	kc_out_pf(&o, "<tr><th>baseline</th><td>%s RPS</td></tr>\n", kc_html_num(v->traffic->baseline_rps, 1, x[0], 32));
	for (size_t i = 0; i < v->traffic->npeaks; i++) {
		char dsc[160];
		kc_traffic_peak_describe(&v->traffic->peaks[i], dsc, sizeof(dsc));
		kc_out_puts(&o, "<tr><th>peak ");
		kc_html_esc(&o, v->traffic->peaks[i].name);
		kc_out_puts(&o, "</th><td>");
		kc_html_esc(&o, dsc);
		kc_out_puts(&o, "</td></tr>\n");
	}
	for (size_t i = 0; i < v->traffic->ntroughs; i++) {
		const struct kc_traffic_trough *t = &v->traffic->troughs[i];
		kc_out_puts(&o, "<tr><th>trough ");
		kc_html_esc(&o, t->name);
		kc_out_pf(&o, "</th><td>%s RPS from %02lld:%02lld to %02lld:%02lld</td></tr>\n",
		   kc_html_num(t->rate_rps, 1, x[0], 32), (long long)(t->from_s / 3600),
		   (long long)(t->from_s % 3600 / 60), (long long)(t->to_s / 3600),
		   (long long)(t->to_s % 3600 / 60));
	}
	kc_out_puts(&o, "</table>\n<p class=\"kc-muted\">Written by kneecap. This file is self-contained: "
		  "it loads nothing from the network.</p>\n</body>\n</html>\n");
	return o.rc;
}
