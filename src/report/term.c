/*
 * term.c - plain-text verdicts and tables for the terminal.
 *
 * The same numbers as the HTML report, laid out for a fixed-width screen
 * and for pasting into a change request.  No colour codes: output is often
 * piped or logged.  Strings from files pass through clean() so a crafted
 * result.json cannot send escape sequences to the terminal.
 */
#include "kneecap/term.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/knee.h"

#include "out_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Copies s with control characters replaced by '?'. */
static const char *clean(const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	out[i] = '\0';
	return out;
}

static const char *num(double v, int dec, char *buf, size_t n)
{
	if (!isfinite(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.*f", dec, v);
	return buf;
}

int kc_term_verdict(struct kc_buf *b, const struct kc_resultdoc *d, double price)
{
	struct kc_out o = {.b = b};
	char c1[420], x[4][32];
	const char *u = strcmp(d->mode, "streams") ? "RPS" : "streams";
	kc_out_pf(&o, "%s", clean(d->path, c1, sizeof(c1)));
	if (d->instance_type[0])
		kc_out_pf(&o, " (%s)", clean(d->instance_type, c1, sizeof(c1)));
	kc_out_pf(&o, "\n");
	if (d->has_knee && d->knee_found) {
		kc_out_pf(&o, "  ceiling:   %s %s per instance\n",
		   num(d->knee_per_instance, kc_rate_decimals(d->knee_per_instance), x[0], 32), u);
		kc_out_pf(&o, "  ended by:  %s\n", clean(d->knee_reason[0] ? d->knee_reason : "not recorded",
						  c1, sizeof(c1)));
		if (d->search_steps >= 0 && isfinite(d->measured_s))
			kc_out_pf(&o, "  search:    %d steps (%d re-measured, %.0f s of load)\n", d->search_steps,
			   d->search_remeasures > 0 ? d->search_remeasures : 0, d->measured_s);
		if (d->knee_bound[0] && strcmp(d->knee_bound, "tested"))
			kc_out_pf(&o, "  bound:     %s\n", clean(d->knee_bound_note, c1, sizeof(c1)));
		bool diag = d->diagnosis[0] != '\0';
		for (size_t i = 0; i < d->nnotes; i++) {
			kc_out_pf(&o, "  %s\n", clean(d->notes[i], c1, sizeof(c1)));
			if (strstr(d->notes[i], d->diagnosis))
				diag = false;
		}
		if (diag)
			kc_out_pf(&o, "  the knee is a lower bound: %s\n", clean(d->diagnosis, c1, sizeof(c1)));
	} else if (!d->searched) {
		/* A plain run measured the load it was given; it never searched. */
		if (!strcmp(d->run_load, "rate") && isfinite(d->run_rate))
			kc_out_pf(&o, "  fixed-rate run at %s %s, %zu step(s): no knee search (kneecap find "
			       "searches)\n", num(d->run_rate, kc_rate_decimals(d->run_rate), x[0], 32),
			   u, d->nsteps);
		else
			kc_out_pf(&o, "  %s run, %zu step(s): no knee search (kneecap find searches)\n",
			   d->run_load[0] ? clean(d->run_load, c1, sizeof(c1)) : "fixed-load", d->nsteps);
	} else {
		kc_out_pf(&o, "  no knee: the search did not find one%s%s\n", d->diagnosis[0] ? ": " : "",
		   clean(d->diagnosis, c1, sizeof(c1)));
	}
	if (d->has_rec) {
		kc_out_pf(&o, "  target:    %s %s (range %s-%s, factor %s; AWS starts at 0.5)\n",
		   num(d->target_value, d->target_value < 100 ? 1 : 0, x[0], 32), clean(d->metric, c1, sizeof(c1)),
		   num(d->target_low, d->target_low < 100 ? 1 : 0, x[1], 32), num(d->target_high, d->target_high < 100 ? 1 : 0, x[2], 32),
		   num(d->factor, 2, x[3], 32));
	}
	if (d->has_confirm)
		kc_out_pf(&o, "  confirmed: at the target: p50 %s ms, p99 %s ms, achieved %s/s, %s errors -> %s%s\n",
		   num(d->confirm_latency.p50, 1, x[0], 32), num(d->confirm_latency.p99, 1, x[1], 32),
		   num(d->confirm_achieved, d->confirm_achieved < 10 ? 2 : 1, x[2], 32),
		   num(d->confirm_errors, 0, x[3], 32), clean(d->confirm_verdict, c1, sizeof(c1)),
		   d->confirm_healthy ? "" : " (the target did not hold: no policy written)");
	double tr = kc_resultdoc_target_rps(d);
	if (price >= 0 && isnan(tr))
		kc_out_pf(&o, "  price:     $%s/hour (cost per million inferences applies to request-rate runs)\n",
		   num(price, 4, x[0], 32));
	else if (price >= 0)
		kc_out_pf(&o, "  price:     $%s/hour; $%s per million inferences at the target\n",
		   num(price, 4, x[0], 32), num(kc_html_cost_per_million(price, tr), 3, x[1], 32));
	else
		kc_out_pf(&o, "  price:     price unknown (cost per million not computed)\n");
	return o.rc;
}

int kc_term_compare(struct kc_buf *b, const struct kc_resultdoc *docs, size_t n,
		    const double *price)
{
	struct kc_out o = {.b = b};
	char c1[64], x[5][32];
	kc_out_pf(&o, "%-20s %14s %10s %12s %12s %18s\n", "instance type", "ceiling/inst", "target",
	   "target RPS", "$/hour", "$/M inferences");
	for (size_t i = 0; i < n; i++) {
		const struct kc_resultdoc *d = &docs[i];
		double tr = kc_resultdoc_target_rps(d);
		double cpm = kc_html_cost_per_million(price[i], tr);
		kc_out_pf(&o, "%-20s %14s %10s %12s %12s %18s\n",
		   clean(d->instance_type[0] ? d->instance_type : "(unlabelled)", c1, sizeof(c1)),
		   num(d->has_knee ? d->knee_per_instance : NAN, 1, x[0], 32),
		   num(d->has_rec ? d->target_value : NAN, d->target_value < 100 ? 1 : 0, x[1], 32), num(tr, 1, x[2], 32),
		   price[i] >= 0 ? num(price[i], 4, x[3], 32) : "unknown",
		   isfinite(cpm) ? num(cpm, 3, x[4], 32) : price[i] < 0 ? "price unknown" : "-");
	}
	return o.rc;
}

int kc_term_plan(struct kc_buf *b, const struct kc_plan_view *v)
{
	struct kc_out o = {.b = b};
	const struct kc_plan_advice *a = v->advice;
	const struct kc_plan_input *in = v->in;
	char x[8][32], c1[720];
	kc_out_pf(&o, "capacity plan: ceiling %s RPS/instance, target %s RPS/instance (%s/min), Min %d, Max %d\n",
	   num(in->ceiling_rps, 1, x[0], 32), num(in->target_rps, 1, x[1], 32),
	   num(in->target_rps * 60, 0, x[2], 32), in->min_cap, in->max_cap);
	char bounds[700];
	kc_plan_bounds_note(v, bounds, sizeof(bounds));
	kc_out_pf(&o, "%s\n", clean(bounds, c1, sizeof(c1)));
	kc_out_pf(&o, "peak %s RPS -> target tracking wants %d instances at the spike "
	       "(%d keep arrivals under the ceiling)\n",
	   num(a->peak_rps, 0, x[0], 32), a->needed_at_peak, a->needed_at_ceiling);
	if (a->exceeds_max)
		kc_out_pf(&o, "!! PEAK EXCEEDS CAPACITY: %s RPS > MaxCapacity %d x ceiling %s RPS = %s RPS; "
		       "raise MaxCapacity to at least %d (%d at the target)\n",
		   num(a->peak_rps, 0, x[0], 32), in->max_cap, num(in->ceiling_rps, 1, x[1], 32),
		   num(in->max_cap * in->ceiling_rps, 0, x[2], 32), a->needed_at_ceiling,
		   a->needed_at_peak);
	kc_out_pf(&o, "recommended: MinCapacity %d (baseline under target, at least 2), MaxCapacity %d "
	       "(largest peak at target + 25%%)\n", a->min_cap, a->max_cap);
	for (size_t i = 0; i < a->nsched; i++) {
		char cron[48];
		kc_plan_sched_cron(&a->sched[i], cron, sizeof(cron));
		kc_out_pf(&o, "  scheduled %-18s %-22s MinCapacity=%d\n", a->sched[i].name, cron,
		   a->sched[i].min_cap);
	}
	kc_out_pf(&o, "factor: derived %s | default 0.70-0.80 | AWS 0.5\n  %s\n",
	   a->factor_derived > 0 ? num(a->factor_derived, 2, x[0], 32) : "none",
	   clean(a->reason, c1, sizeof(c1)));
	kc_out_pf(&o, "\n%-44s %8s %8s %8s %10s %9s %8s %7s %9s %10s\n", "variant", "worstQ", "window",
	   "queue s", "wait req-s", "overSLO s", "failed", "max N", "inst-h", "$/day");
	for (size_t i = 0; i < v->nruns; i++) {
		const struct kc_plan_run *r = v->runs[i].run;
		kc_out_pf(&o, "%-44s %8s %7llds %8lld %10s %9lld %8s %7d %9s %10s\n",
		   clean(v->runs[i].name, c1, 45), num(r->worst_queue, 0, x[0], 32),
		   (long long)r->longest_queue_window_s, (long long)r->queue_s,
		   num(r->wait_request_s, 0, x[4], 32),
		   (long long)r->over_slo_s, num(r->failed, 0, x[1], 32), r->max_instances,
		   num(r->instance_hours, 1, x[2], 32),
		   r->cost_usd_per_day >= 0 ? num(r->cost_usd_per_day, 2, x[3], 32) : "unknown");
	}
	kc_out_pf(&o, "(SLO p99 %s ms; worstQ in requests; window = longest run of seconds with a queue;\n"
	       " wait req-s = total queueing delay, request-seconds per day)\n",
	   num(in->slo_ms, 0, x[0], 32));
	const struct kc_plan_model *m = v->runs[0].model;
	kc_out_pf(&o, "model assumptions: period %llds, publication lag %llds, alarm %d high / %d low "
	       "datapoints (low at %.0f%% of target), provisioning %llds, cooldowns %llds out / "
	       "%llds in, timeout %llds\n",
	   (long long)m->period_s, (long long)m->publish_lag_s, m->high_datapoints,
	   m->low_datapoints, m->low_ratio * 100, (long long)m->provision_s,
	   (long long)m->scale_out_cooldown_s, (long long)m->scale_in_cooldown_s,
	   (long long)m->timeout_s);
	return o.rc;
}
