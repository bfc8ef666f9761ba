/*
 * cmd_plan.c - `kneecap plan`: simulate target-tracking autoscaling on a
 * traffic shape and write a capacity plan (text on the terminal, HTML).
 *
 * It composes: the measured result (resultdoc), the scenario's [traffic]
 * and [plan] sections, the planner (analysis/plan) run for several
 * variants, and the renderers (report/term, report/html).  Flags override
 * [plan] keys.  Exit 1 when the traffic peak exceeds MaxCapacity x ceiling:
 * the plan completed, but the capacity it was given fails the shape.
 */
#include "cli.h"
#include "opts.h"
#include "plan_current.h"
#include "cli_price.h"
#include "plan_component.h"
#include "kneecap/buf.h"
#include "kneecap/html.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/plan.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/resultdoc.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scenario.h"
#include "kneecap/term.h"
#include "kneecap/traffic.h"

#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NS_PER_S INT64_C(1000000000)

static const char usage_text[] =
	"usage: kneecap plan RESULT.json --traffic SCENARIO [options]\n"
	"\n"
	"Simulate target-tracking autoscaling on a traffic shape and write a capacity plan.\n"
	"\n"
	"  --traffic FILE       scenario with a [traffic] section (docs/traffic.md) and an\n"
	"                       optional [plan] section with the keys below\n"
	"  --min N, --max N     MinCapacity / MaxCapacity (default: the recommended ones);\n"
	"                       --min 0 on an inference component's result: scale to zero\n"
	"  --copies-per-instance N   a component's copies per instance (default 1)\n"
	"  --target N           TargetValue, invocations per instance per minute\n"
	"                       (default: the result's recommendation)\n"
	"  --provision DUR      new instance to InService (default 300s GPU, 180s CPU;\n"
	"                       model assumption)\n"
	"  --price USD          price per instance-hour (default: --prices table)\n"
	"  --prices FILE        instance price table (default data/instance-types.csv)\n"
	"  --slo DUR            p99 SLO for 'time over SLO' (default: the result's, else\n"
	"                       the p99 at the knee)\n"
	"  --schedule 'cron(M H * * ? *) min N [max N]'   your scheduled action (repeatable);\n"
	"                       default: the planner's recommended pre-warm\n"
	"  --publish-lag DUR    metric publication lag (default 60s)\n"
	"  --alarm-high N       breaching datapoints to scale out (default 3 standard)\n"
	"  --alarm-low N        low datapoints to scale in (default 15 standard)\n"
	"  --cooldown-out DUR, --cooldown-in DUR   (default: the result's policy, else 60s/300s)\n"
	"  --current-policy METRIC=TARGET   also simulate the team's own target-tracking\n"
	"                       policy (reactive only) beside the recommended one; a\n"
	"                       utilisation (CPUUtilization=70) needs the result's CloudWatch\n"
	"                       signal table (find on a sagemaker: target)\n"
	"  --out DIR            write DIR/plan.html, DIR/plan.txt, DIR/timeline.csv, and\n"
	"                       DIR/apply.sh + DIR/scaling-policy.json: the scalable target\n"
	"                       with the plan's Min/Max, the policy, and one scheduled\n"
	"                       action per pre-warm action, on the result's endpoint\n"
	"  -o FILE              the HTML path (default plan.html, or DIR/plan.html)\n"
	"\n"
	"Examples:\n"
	"  kneecap plan out/result.json --traffic tests/data/traffic/seed-day.ini -o plan.html\n"
	"  kneecap plan out/result.json --traffic day.ini --provision 4m --out plan/\n"
	"\n"
	"exit status: 0 ok, 1 the traffic peak exceeds MaxCapacity x ceiling, 2 bad input\n"
	"(a result without a knee, as an interrupted search's), 4 an output (stdout\n"
	"included) could not be written, with the reason.\n";

struct opts {
	const char *result, *traffic, *prices, *out_dir, *html;
	const char *v_min, *v_max, *v_target, *v_provision, *v_price, *v_slo;
	const char *v_lag, *v_high, *v_low, *v_cout, *v_cin, *v_cpi, *v_current;
	const char *sched[KC_PLAN_MAX_SCHED];
	size_t nsched;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct cli_valued valued[] = {
		{"--traffic", offsetof(struct opts, traffic)},
		{"--prices", offsetof(struct opts, prices)},
		{"--out", offsetof(struct opts, out_dir)},
		{"-o", offsetof(struct opts, html)},
		{"--output", offsetof(struct opts, html)},
		{"--min", offsetof(struct opts, v_min)},
		{"--max", offsetof(struct opts, v_max)},
		{"--target", offsetof(struct opts, v_target)},
		{"--provision", offsetof(struct opts, v_provision)},
		{"--price", offsetof(struct opts, v_price)},
		{"--slo", offsetof(struct opts, v_slo)},
		{"--publish-lag", offsetof(struct opts, v_lag)},
		{"--alarm-high", offsetof(struct opts, v_high)},
		{"--alarm-low", offsetof(struct opts, v_low)},
		{"--cooldown-out", offsetof(struct opts, v_cout)},
		{"--cooldown-in", offsetof(struct opts, v_cin)},
		{"--copies-per-instance", offsetof(struct opts, v_cpi)},
		{"--current-policy", offsetof(struct opts, v_current)},
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--schedule")) {
			if (i + 1 >= argc || o->nsched == KC_PLAN_MAX_SCHED) {
				cli_error("plan: --schedule needs a value (at most %d)", KC_PLAN_MAX_SCHED);
				return -1;
			}
			o->sched[o->nsched++] = argv[++i];
			continue;
		}
		int took = cli_take_valued("plan", valued, sizeof(valued) / sizeof(valued[0]), o,
					   argc, argv, &i);
		if (took < 0)
			return -1;
		if (took)
			continue;
		if (a[0] == '-' && a[1]) {
			cli_error("plan: unknown option '%s' (see kneecap plan --help)", a);
			return -1;
		}
		if (o->result) {
			cli_error("plan: one RESULT.json only (got '%s' and '%s')", o->result, a);
			return -1;
		}
		o->result = a;
	}
	if (!o->result || !o->traffic) {
		cli_error("plan: needs RESULT.json and --traffic SCENARIO (see kneecap plan --help)");
		return -1;
	}
	return 0;
}

/* A flag value, else the [plan] key, parsed as an integer in [lo, hi]. */
static int get_i64(const char *flag, const char *fname, struct kc_scenario *sc,
		   const char *key, int64_t lo, int64_t hi, int64_t *out)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	if (flag) {
		kc_scenario_find(sc, "plan", key); /* the flag overrides: the key is known */
		if (kc_parse_i64(flag, lo, hi, out)) {
			cli_error("plan: %s '%s' must be an integer in %lld..%lld", fname, flag,
				  (long long)lo, (long long)hi);
			return -1;
		}
		return 1;
	}
	int rc = kc_scenario_get_i64(sc, "plan", key, lo, hi, out, &d);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc) {
		cli_diag_error("plan", &d);
		return -1;
	}
	return 1;
}

static int get_dur_s(const char *flag, const char *fname, struct kc_scenario *sc,
		     const char *key, int64_t unit_ns, int64_t hi_s, double *out_s)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	int64_t ns;
	if (flag) {
		kc_scenario_find(sc, "plan", key);
		double bare;
		/* Units required, as in run, find, streams and every scenario file. */
		if (kc_parse_double(flag, -1e300, 1e300, &bare) == KC_OK && bare != 0) {
			cli_error("plan: %s '%s': a duration needs a unit (5s, 500ms)", fname, flag);
			return -1;
		}
		if (kc_parse_duration_ns(flag, unit_ns, &ns) || ns > hi_s * NS_PER_S) {
			cli_error("plan: %s '%s' must be a duration up to %llds (e.g. 180s, 3m, 500ms)",
				  fname, flag, (long long)hi_s);
			return -1;
		}
		*out_s = (double)ns / 1e9;
		return 1;
	}
	int rc = kc_scenario_get_duration_ns(sc, "plan", key, unit_ns, 0, hi_s * NS_PER_S, &ns, &d);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc) {
		cli_diag_error("plan", &d);
		return -1;
	}
	*out_s = (double)ns / 1e9;
	return 1;
}

static bool accelerated(const char *type)
{
	static const char *const prefixes[] = {"ml.g", "ml.p", "ml.inf", "ml.trn"};
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(type, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* Latency curve, SLO and service time from the measured steps. */
static void from_steps(const struct kc_resultdoc *doc, struct kc_plan_input *in)
{
	int inst = kc_resultdoc_instances(doc);
	double knee_p99 = NAN, best = INFINITY, low_load = INFINITY;
	in->service_s = NAN;
	for (size_t i = 0; i < doc->nsteps; i++) {
		const struct kc_rd_step *s = &doc->steps[i];
		if (!s->stable || !isfinite(s->latency.p99))
			continue;
		double per = s->offered / inst;
		if (fabs(s->offered - doc->knee_value) < best) {
			best = fabs(s->offered - doc->knee_value);
			knee_p99 = s->latency.p99;
		}
		if (per < low_load) {
			low_load = per;
			double svc = isfinite(s->service.p50) ? s->service.p50 : s->latency.p50;
			in->service_s = svc / 1000.0;
		}
		if (per > in->ceiling_rps * 1.001 || in->ncurve == KC_PLAN_MAX_CURVE)
			continue;
		/* insertion by load */
		size_t j = in->ncurve++;
		while (j > 0 && in->curve_rps[j - 1] > per) {
			in->curve_rps[j] = in->curve_rps[j - 1];
			in->curve_p99_ms[j] = in->curve_p99_ms[j - 1];
			j--;
		}
		in->curve_rps[j] = per;
		in->curve_p99_ms[j] = s->latency.p99;
	}
	if (isnan(in->slo_ms))
		in->slo_ms = isfinite(doc->slo_ms) ? doc->slo_ms : knee_p99;
	if (isnan(in->slo_ms)) {
		in->slo_ms = 1000;
		kc_log(KC_LOG_WARN, "no SLO in the result and no healthy step to take one from: "
		       "'time over SLO' uses 1000 ms (give --slo)");
	}
}

static int load_sched(struct opts *o, struct kc_scenario *sc, struct kc_plan_sched *out,
		      size_t *n)
{
	struct kc_diag d;
	*n = 0;
	for (size_t i = 0; i < o->nsched; i++) {
		kc_diag_clear(&d);
		if (kc_plan_sched_parse(o->sched[i], &out[*n], &d)) {
			cli_error("plan: --schedule: %s", d.msg);
			return -1;
		}
		snprintf(out[*n].name, sizeof(out[*n].name), "schedule-%zu", i + 1);
		(*n)++;
	}
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (strcmp(e->section, "plan") ||
		    (strcmp(e->key, "schedule") && strncmp(e->key, "schedule.", 9)))
			continue;
		e->used = true;
		if (o->nsched)
			continue; /* flags replace the scenario's schedule */
		kc_diag_clear(&d);
		if (*n == KC_PLAN_MAX_SCHED ||
		    kc_plan_sched_parse(e->value, &out[*n], &d)) {
			char msg[sizeof(d.msg)];
			snprintf(msg, sizeof(msg), "%s", *n == KC_PLAN_MAX_SCHED ? "too many schedules" : d.msg);
			kc_diag_set_at(&d, KC_EINVAL, kc_scenario_name(sc), e->line, e->key, "%s", msg);
			cli_diag_error("plan", &d);
			return -1;
		}
		snprintf(out[*n].name, sizeof(out[*n].name), "%s",
			 e->key[8] == '.' ? e->key + 9 : "schedule");
		(*n)++;
	}
	return 0;
}

static int check_plan_keys(struct kc_scenario *sc)
{
	for (size_t i = 0; i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		if (!strcmp(e->section, "plan") && !e->used) {
			struct kc_diag d;
			kc_diag_set_at(&d, KC_EINVAL, kc_scenario_name(sc), e->line, e->key,
				       "unknown key in [plan] (see kneecap plan --help)");
			cli_diag_error("plan", &d);
			return -1;
		}
	}
	return 0;
}

struct setup {
	struct kc_plan_input in;
	struct kc_plan_model std, hires;
	struct kc_plan_sched user[KC_PLAN_MAX_SCHED];
	size_t nuser;
	bool min_given, max_given;
	struct plan_component pc;
};

/* The alarm/provisioning model for both metrics, with the user's overrides
 * (datapoint counts apply to the standard metric only). */
static int configure_model(struct opts *o, const struct kc_resultdoc *doc, struct kc_scenario *sc,
			   struct setup *s, double prov)
{
	int64_t v;
	double x;
	int r;
	kc_plan_model_default(&s->std, KC_PLAN_STANDARD, (int64_t)prov);
	kc_plan_model_default(&s->hires, KC_PLAN_HIGHRES, (int64_t)prov);
	if (isfinite(doc->scale_out_cooldown_s) && doc->scale_out_cooldown_s >= 0)
		s->std.scale_out_cooldown_s = s->hires.scale_out_cooldown_s = (int64_t)doc->scale_out_cooldown_s;
	if (isfinite(doc->scale_in_cooldown_s) && doc->scale_in_cooldown_s >= 0)
		s->std.scale_in_cooldown_s = s->hires.scale_in_cooldown_s = (int64_t)doc->scale_in_cooldown_s;
	if ((r = get_dur_s(o->v_lag, "--publish-lag", sc, "publish_lag", NS_PER_S, 3600, &x)) < 0)
		return -1;
	if (r)
		s->std.publish_lag_s = s->hires.publish_lag_s = (int64_t)x;
	if ((r = get_dur_s(o->v_cout, "--cooldown-out", sc, "cooldown_out", NS_PER_S, 86400, &x)) < 0)
		return -1;
	if (r)
		s->std.scale_out_cooldown_s = s->hires.scale_out_cooldown_s = (int64_t)x;
	if ((r = get_dur_s(o->v_cin, "--cooldown-in", sc, "cooldown_in", NS_PER_S, 86400, &x)) < 0)
		return -1;
	if (r)
		s->std.scale_in_cooldown_s = s->hires.scale_in_cooldown_s = (int64_t)x;
	/* High-res keeps its own counts (B1): one count cannot mean the same
	 * for a 60 s and a 10 s period. */
	if ((r = get_i64(o->v_high, "--alarm-high", sc, "alarm_high", 1, 100, &v)) < 0)
		return -1;
	if (r)
		s->std.high_datapoints = (int)v;
	if ((r = get_i64(o->v_low, "--alarm-low", sc, "alarm_low", 1, 100, &v)) < 0)
		return -1;
	if (r)
		s->std.low_datapoints = (int)v;
	return 0;
}

static int configure(struct opts *o, const struct kc_resultdoc *doc, struct kc_scenario *sc,
		     const struct kc_traffic *traffic, struct setup *s)
{
	struct kc_plan_input *in = &s->in;
	if (strcmp(doc->mode, "rps")) {
		cli_error("plan: %s is a %s run; plan needs a request-rate (rps) result",
			  doc->path, doc->mode);
		return -1;
	}
	if (!doc->has_knee || !doc->knee_found || !(doc->knee_per_instance > 0)) {
		if (doc->partial)
			cli_error("plan: %s is a partial result (%s) without a knee: the search "
				  "did not finish, so there is no ceiling to plan with", doc->path,
				  doc->interrupted[0] ? doc->interrupted : "cut short");
		else
			cli_error("plan: %s has no knee, so there is no ceiling to plan with",
				  doc->path);
		return -1;
	}
	if (doc->partial)
		cli_error("plan: warning: %s is a partial result (%s)", doc->path,
			  doc->interrupted[0] ? doc->interrupted : "incomplete");
	in->traffic = traffic;
	in->ceiling_rps = doc->knee_per_instance;
	in->target_rps = kc_resultdoc_target_rps(doc);
	in->slo_ms = NAN;
	int64_t v;
	int r;
	if ((r = get_i64(o->v_target, "--target", sc, "target", 1, 100000000, &v)) < 0)
		return -1;
	if (r)
		in->target_rps = (double)v / 60.0;
	else if (doc->has_confirm && !doc->confirm_healthy) {
		cli_error("plan: %s: the recommended target failed find's confirmation step, so "
			  "plan will not use it; give --target (invocations/instance/minute)",
			  doc->path);
		return -1;
	}
	if (!(in->target_rps > 0)) {
		cli_error("plan: %s has no recommended target; give --target (invocations/instance/minute)",
			  doc->path);
		return -1;
	}
	if (plan_component_configure(&s->pc, doc, &o->v_min, o->v_cpi))
		return -1;
	if ((r = get_i64(o->v_min, "--min", sc, "min", 1, KC_PLAN_MAX_CAPACITY, &v)) < 0)
		return -1;
	s->min_given = r;
	in->min_cap = r ? (int)v : 0;
	if ((r = get_i64(o->v_max, "--max", sc, "max", 1, KC_PLAN_MAX_CAPACITY, &v)) < 0)
		return -1;
	s->max_given = r;
	in->max_cap = r ? (int)v : 0;

	double prov = accelerated(doc->instance_type) ? 300 : 180, x;
	if ((r = get_dur_s(o->v_provision, "--provision", sc, "provision", NS_PER_S, 7200, &prov)) < 0)
		return -1;
	in->price_usd_per_hour = -1;
	if (o->v_price) {
		kc_scenario_find(sc, "plan", "price");
		if (kc_parse_double(o->v_price, 0, 1e6, &in->price_usd_per_hour)) {
			cli_error("plan: --price '%s' must be USD per instance-hour", o->v_price);
			return -1;
		}
	} else {
		struct kc_diag d;
		kc_diag_clear(&d);
		r = kc_scenario_get_double(sc, "plan", "price", 0, 1e6, &in->price_usd_per_hour, &d);
		if (r == KC_ENOTFOUND)
			in->price_usd_per_hour = cli_price_or_unknown(cli_price_path(o->prices),
								      doc->instance_type);
		else if (r) {
			cli_diag_error("plan", &d);
			return -1;
		}
	}
	if ((r = get_dur_s(o->v_slo, "--slo", sc, "slo", NS_PER_S / 1000, 3600, &x)) < 0)
		return -1;
	if (r)
		in->slo_ms = x * 1000;
	from_steps(doc, in);
	plan_component_price(&s->pc, &in->price_usd_per_hour);

	if (configure_model(o, doc, sc, s, prov))
		return -1;
	if (load_sched(o, sc, s->user, &s->nuser) || check_plan_keys(sc))
		return -1;
	return 0;
}

/* The timelines as CSV, one row per 10 s of the simulated day, every variant
 * side by side, for whoever wants to plot them their own way. */
static int timeline_csv(struct kc_buf *b, const struct kc_plan_view *v)
{
	int rc = kc_buf_puts(b, "time_s,time,arrivals_rps");
	for (size_t i = 0; i < v->nruns && !rc; i++)
		rc = kc_buf_printf(b, ",v%zu_capacity_rps,v%zu_in_service,v%zu_pending,v%zu_min_capacity,"
				      "v%zu_queue,v%zu_p99_ms", i + 1, i + 1, i + 1, i + 1, i + 1, i + 1);
	if (!rc)
		rc = kc_buf_puts(b, "\n");
	for (int t = 0; t < KC_TRAFFIC_DAY_S && !rc; t += 10) {
		const struct kc_plan_sample *s0 = &v->runs[0].run->tl[t];
		rc = kc_buf_printf(b, "%d,%02d:%02d:%02d,%.3f", t, t / 3600, t % 3600 / 60, t % 60,
				   (double)s0->rate_rps);
		for (size_t i = 0; i < v->nruns && !rc; i++) {
			const struct kc_plan_sample *s = &v->runs[i].run->tl[t];
			rc = kc_buf_printf(b, ",%.3f,%u,%u,%u,%.1f,%.1f", (double)s->capacity_rps,
					   (unsigned)s->in_service, (unsigned)s->pending,
					   (unsigned)s->min_cap, (double)s->queue, (double)s->p99_ms);
		}
		if (!rc)
			rc = kc_buf_puts(b, "\n");
	}
	return rc;
}

static int write_outputs(const struct opts *o, const struct kc_buf *text, const struct kc_buf *html,
			 const struct kc_plan_view *v)
{
	char path[4096];
	const char *hp = o->html;
	if (o->out_dir) {
		if (mkdir(o->out_dir, 0777) && errno != EEXIST) {
			cli_error("plan: cannot create %s: %s", o->out_dir, strerror(errno));
			return -1;
		}
		snprintf(path, sizeof(path), "%s/plan.txt", o->out_dir);
		if (kc_write_file(path, text->data, text->len)) {
			cli_error("plan: cannot write %s: %s", path, strerror(errno));
			return -1;
		}
		struct kc_buf csv;
		kc_buf_init(&csv, 32u << 20);
		snprintf(path, sizeof(path), "%s/timeline.csv", o->out_dir);
		int rc = timeline_csv(&csv, v);
		if (!rc)
			rc = kc_write_file(path, csv.data, csv.len);
		kc_buf_fini(&csv);
		if (rc) {
			cli_error("plan: cannot write %s: %s", path,
				  rc == KC_EIO ? strerror(errno) : "out of memory");
			return -1;
		}
		if (!hp) {
			snprintf(path, sizeof(path), "%s/plan.html", o->out_dir);
			hp = path;
		}
	}
	if (!hp)
		hp = "plan.html";
	if (kc_write_file(hp, html->data, html->len)) {
		cli_error("plan: cannot write %s: %s", hp, strerror(errno));
		return -1;
	}
	printf("plan: %s\n", hp);
	return 0;
}

/*
 * --out DIR: scaling-policy.json and apply.sh for what was simulated: the
 * result's policy (target, cooldowns as the plan used them), the plan's
 * Min/Max, and one put-scheduled-action per pre-warm action (the user's
 * schedule, else the recommended one), on the endpoint and variant the
 * result names.
 */
static int write_apply(const struct opts *o, const struct kc_resultdoc *doc,
		       const struct setup *s, const struct kc_plan_advice *adv)
{
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	struct kc_recommendation r;
	memset(&r, 0, sizeof(r));
	r.mode = KC_MODE_RPS;
	if (kc_metric_parse(doc->metric, &r.metric))
		r.metric = KC_METRIC_INVOCATIONS;
	c.metric_set = true;
	c.metric = r.metric;
	/* The plan simulated target_rps; in the invocations metric that is the
	 * TargetValue x 60, whole invocations per minute. */
	r.target_value = r.metric == KC_METRIC_INVOCATIONS ? floor(s->in.target_rps * 60.0 + 1e-9)
							   : doc->target_value;
	if (doc->factor > 0 && doc->factor <= 1) {
		c.factor = doc->factor;
		c.factor_low = fmin(c.factor_low, c.factor);
		c.factor_high = fmax(c.factor_high, c.factor);
	}
	c.min_capacity = s->in.min_cap;
	c.max_capacity = s->in.max_cap;
	plan_component_apply_cfg(&s->pc, &c, &r);
	c.scale_out_cooldown_s = (int)s->std.scale_out_cooldown_s;
	c.scale_in_cooldown_s = (int)s->std.scale_in_cooldown_s;
	c.disable_scale_in = doc->disable_scale_in;
	if (kc_sagemaker_name_valid(doc->endpoint_name))
		snprintf(c.endpoint_name, sizeof(c.endpoint_name), "%s", doc->endpoint_name);
	if (kc_sagemaker_name_valid(doc->variant))
		snprintf(c.variant, sizeof(c.variant), "%s", doc->variant);
	snprintf(c.region, sizeof(c.region), "%s", doc->region);
	snprintf(c.profile, sizeof(c.profile), "%s", doc->profile);

	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_buf b;
	kc_buf_init(&b, 1u << 20);
	char path[4096];
	int rc = kc_recommend_policy_text(&c, &r, &b);
	snprintf(path, sizeof(path), "%s/scaling-policy.json", o->out_dir);
	if (!rc && kc_write_file(path, b.data, b.len))
		rc = KC_EIO;
	kc_buf_reset(&b);
	if (!rc && (rc = kc_recommend_apply_sh(&c, &r, &b, &d)) != 0)
		cli_diag_error("plan: apply.sh", &d);
	const struct kc_plan_sched *pre = s->nuser ? s->user : adv->sched;
	size_t npre = s->nuser ? s->nuser : adv->nsched;
	for (size_t i = 0; i < npre && !rc; i++) {
		char cron[48];
		kc_plan_sched_cron(&pre[i], cron, sizeof(cron));
		/* An action that leaves MaxCapacity restates the registered one,
		 * as plan.html prints it. */
		rc = kc_recommend_apply_sh_scheduled(&c, pre[i].name, cron,
						     plan_component_sched_min(&s->pc, s->in.min_cap,
									      pre[i].name, pre[i].min_cap),
						     pre[i].max_cap ? pre[i].max_cap : c.max_capacity,
						     &b);
	}
	snprintf(path, sizeof(path), "%s/apply.sh", o->out_dir);
	if (!rc && (kc_write_file(path, b.data, b.len) || chmod(path, 0755)))
		rc = KC_EIO;
	int err = errno;
	kc_buf_fini(&b);
	if (rc) {
		cli_error("plan: cannot write %s/{scaling-policy.json,apply.sh}: %s", o->out_dir,
			  rc == KC_EIO ? strerror(err) : "not rendered");
		return -1;
	}
	printf("plan: %s (MinCapacity %d, MaxCapacity %d, %zu scheduled action%s)\n", path,
	       c.min_capacity, c.max_capacity, npre, npre == 1 ? "" : "s");
	return 0;
}

/* Min/Max not given: take the recommended ones (computed with open bounds). */
static int default_bounds(struct setup *s, struct kc_plan_advice *adv)
{
	if (!s->min_given || !s->max_given) {
		struct kc_plan_input open = s->in;
		open.min_cap = 1;
		open.max_cap = KC_PLAN_MAX_CAPACITY;
		kc_plan_advise(&open, &s->std, kc_plan_nominal_lag_s(&s->std), adv);
		if (!s->min_given)
			s->in.min_cap = adv->min_cap;
		if (!s->max_given)
			s->in.max_cap = adv->max_cap > s->in.min_cap ? adv->max_cap : s->in.min_cap;
	}
	if (s->in.max_cap < s->in.min_cap) {
		cli_error("plan: MaxCapacity %d is below MinCapacity %d", s->in.max_cap, s->in.min_cap);
		return -1;
	}
	return 0;
}

/*
 * The variants side by side.  Reactive-only on the standard metric runs
 * first: it measures the scale-out lag the advice (and its derived factor)
 * uses, and the advice supplies the pre-warm when the user gave none.
 * Returns 0 or the simulator's error (d set); *nruns counts runs to free.
 */
static int simulate_all(struct setup *s, struct kc_plan_advice *adv, struct kc_plan_run *runs,
			size_t *nruns, struct kc_plan_view *v, struct kc_diag *d)
{
	int rc = kc_plan_simulate(&s->in, KC_PLAN_STANDARD, &s->std, NULL, 0, &runs[0], d);
	if (rc)
		return rc;
	v->runs[0] = (struct kc_plan_view_run){"reactive only, standard metric (60 s)", &runs[0],
					       &s->std};
	*nruns = 1;
	int64_t lag = runs[0].scale_out_lag_s >= 0 ? runs[0].scale_out_lag_s
						   : kc_plan_nominal_lag_s(&s->std);
	kc_plan_advise(&s->in, &s->std, lag, adv);
	const struct kc_plan_sched *pre = s->nuser ? s->user : adv->sched;
	size_t npre = s->nuser ? s->nuser : adv->nsched;
	struct {
		const char *name;
		enum kc_plan_metric metric;
		const struct kc_plan_model *model;
		const struct kc_plan_sched *sched;
		size_t nsched;
	} variants[] = {
		{s->nuser ? "reactive + your schedule, standard metric"
			  : "reactive + recommended pre-warm, standard metric",
		 KC_PLAN_STANDARD, &s->std, pre, npre},
		{"reactive only, high-resolution metric (10 s)", KC_PLAN_HIGHRES, &s->hires, NULL, 0},
		{s->nuser ? "reactive + your schedule, high-resolution metric"
			  : "reactive + recommended pre-warm, high-resolution metric",
		 KC_PLAN_HIGHRES, &s->hires, pre, npre},
		{"reactive + recommended pre-warm, standard metric", KC_PLAN_STANDARD, &s->std,
		 adv->sched, adv->nsched},
	};
	size_t nvar = s->nuser && adv->nsched ? 4 : 3;
	bool warned = false;
	for (size_t i = 0; i < nvar; i++) {
		/* No schedule to try (no known spikes worth one): the "pre-warm"
		 * variant would only repeat the reactive one. */
		if (variants[i].sched == pre && npre == 0)
			continue;
		/* The concurrency metric needs a service time (Little's law); a
		 * result without latency steps has none, so skip, don't guess. */
		if (variants[i].metric == KC_PLAN_HIGHRES && !(s->in.service_s > 0)) {
			if (!warned)
				kc_log(KC_LOG_WARN, "no measured service time in the result: the "
				       "high-resolution (concurrency) variants are left out");
			warned = true;
			continue;
		}
		rc = kc_plan_simulate(&s->in, variants[i].metric, variants[i].model, variants[i].sched,
				      variants[i].nsched, &runs[*nruns], d);
		if (rc)
			return rc;
		v->runs[*nruns] = (struct kc_plan_view_run){variants[i].name, &runs[*nruns],
							    variants[i].model};
		(*nruns)++;
	}
	v->nruns = *nruns;
	return 0;
}

int kc_cmd_plan(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	struct opts o = {0};
	if (parse_args(argc, argv, &o))
		return KC_EXIT_USAGE;
	int status = KC_EXIT_USAGE;
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_resultdoc doc;
	struct kc_scenario *sc = NULL;
	struct kc_traffic *traffic = calloc(1, sizeof(*traffic));
	struct setup *s = calloc(1, sizeof(*s));
	struct kc_plan_advice *adv = calloc(1, sizeof(*adv));
	struct kc_plan_run runs[KC_PLAN_VIEW_MAX_RUNS];
	size_t nruns = 0;
	struct kc_buf text, html;
	kc_buf_init(&text, 1u << 20);
	kc_buf_init(&html, 64u << 20);
	bool have_doc = false;
	if (!traffic || !s || !adv) {
		cli_error("plan: out of memory");
		goto done;
	}
	if (kc_resultdoc_load(&doc, o.result, &d)) {
		cli_diag_error("plan", &d);
		goto done;
	}
	have_doc = true;
	/* The simulator counts instances (or a component's copies); a serverless
	 * endpoint scales provisioned concurrency, which it does not model: say
	 * so rather than write an instance policy AWS would refuse. */
	if (!strcmp(doc.endpoint_kind, "serverless")) {
		cli_error("plan: %s is a serverless endpoint's result: plan simulates instances and "
			  "inference component copies, not provisioned concurrency (use find's "
			  "scaling-policy.json and apply.sh)", o.result);
		status = KC_EXIT_USAGE;
		goto done;
	}
	if (kc_scenario_load(&sc, o.traffic, &d) || kc_traffic_from_scenario(traffic, sc, &d)) {
		cli_diag_error("plan", &d);
		goto done;
	}
	if (configure(&o, &doc, sc, traffic, s))
		goto done;

	if (default_bounds(s, adv))
		goto done;
	struct kc_plan_view v = {.doc = &doc, .traffic_name = o.traffic, .traffic = traffic,
				 .in = &s->in, .advice = adv, .timeline_a = 0, .timeline_b = 1,
				 .min_given = s->min_given, .max_given = s->max_given};
	if (simulate_all(s, adv, runs, &nruns, &v, &d))
		goto simfail;
	char cur_name[200];
	if (o.v_current && nruns < KC_PLAN_VIEW_MAX_RUNS) {
		if (plan_current_simulate(o.v_current, o.result, &doc, &s->in, &s->std, &runs[nruns],
					  cur_name, sizeof(cur_name), &d))
			goto simfail;
		v.runs[nruns] = (struct kc_plan_view_run){cur_name, &runs[nruns], &s->std};
		v.nruns = ++nruns;
	}
	if (kc_term_plan(&text, &v) || kc_html_plan(&html, &v) ||
	    plan_component_text(&s->pc, &s->in, &s->std, &runs[0], &text)) {
		cli_error("plan: output too large or out of memory");
		goto done;
	}
	fputs(text.data ? text.data : "", stdout);
	if (o.v_current)
		plan_current_compare(stdout, &v);
	if (write_outputs(&o, &text, &html, &v) || (o.out_dir && write_apply(&o, &doc, s, adv))) {
		status = KC_EXIT_WRITE;
		goto done;
	}
	status = adv->exceeds_max ? KC_EXIT_THRESHOLD : KC_EXIT_OK;
	goto done;
simfail:
	cli_diag_error("plan", &d);
done:
	for (size_t i = 0; i < nruns; i++)
		kc_plan_run_fini(&runs[i]);
	if (have_doc)
		kc_resultdoc_fini(&doc);
	kc_scenario_free(sc);
	free(traffic);
	free(s);
	free(adv);
	kc_buf_fini(&text);
	kc_buf_fini(&html);
	return status;
}
