/*
 * signals_cli.c - find's server-side signals (see signals_cli.h).
 *
 * Timing: CloudWatch has the SageMaker endpoint metrics at one-minute
 * resolution (ConcurrentRequestsPerModel also at 10 s) and publishes a minute about one
 * to two minutes after it ends, so kneecap asks Period 60 by default and
 * waits two periods after the last step before asking; a step shorter than
 * one whole aligned period gets no signals and is counted as short.  The
 * emulator publishes at its own metric_period, and --cloudwatch-period
 * must match it (1s in the tests).
 */
#include "signals_cli.h"
#include "cli.h"
#include "runout.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kneecap/clock.h"
#include "kneecap/cloudwatch.h"
#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scrub.h"
#include "kneecap/policy.h"

int cli_signals_parse_policy(const char *s, enum kc_sig *sig, double *target)
{
	const char *eq = s ? strchr(s, '=') : NULL;
	if (!eq)
		return KC_EINVAL;
	char name[128];
	snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
	/* Predefined types name the metric: SageMakerVariantInvocationsPerInstance,
	 * SageMakerVariantConcurrentRequestsPerModelHighResolution. */
	size_t nl = strlen(name);
	if (nl > 14 && !strcmp(name + nl - 14, "HighResolution"))
		name[nl - 14] = '\0';
	const char *n = !strncmp(name, "SageMakerVariant", 16) ? name + 16 : name;
	for (int i = 0; i < KC_SIG_COUNT; i++)
		if (kc_sig_defs[i].policy && !strcmp(kc_sig_defs[i].name, n))
			return kc_parse_double(eq + 1, 0, 1e12, target) ? KC_EINVAL
			       : (*sig = (enum kc_sig)i, 0);
	return KC_EINVAL;
}

struct call {
	struct kc_cw_client cw;
	const struct kc_cw_query *q;
	int64_t t0, t1;
	struct kc_cw_series *series;
	size_t nseries;
	const char *endpoint, *variant;
	struct kc_cw_policy pol;
	int pol_rc;
	struct kc_diag d;
};

static int with_creds(void *ud, const struct kc_creds *c);

/* One round of calls with the target's credentials; false with s->reason set on failure. */
static bool ask(struct cli_signals *s, struct cli_target *t, struct call *k)
{
	k->nseries = 0;
	kc_diag_clear(&k->d);
	if (!cli_target_with_creds(t, with_creds, k))
		return true;
	snprintf(s->reason, sizeof(s->reason), "%s", k->d.msg[0] ? k->d.msg : "no credentials");
	return false;
}

static int with_creds(void *ud, const struct kc_creds *c)
{
	struct call *k = ud;
	k->cw.akid = c->access_key_id;
	k->cw.secret = c->secret_access_key;
	k->cw.token = c->session_token;
	int rc = kc_cw_get_metric_data(&k->cw, k->q, KC_SIG_COUNT, k->t0, k->t1, k->series,
				       KC_SIG_COUNT, &k->nseries, &k->d);
	if (!rc && k->endpoint) {
		struct kc_diag d2;
		kc_diag_clear(&d2);
		k->pol_rc = kc_aas_describe_policy(&k->cw, k->endpoint, k->variant, &k->pol, &d2);
	}
	return rc;
}

/* Period and wait from the options.  Returns 0 or KC_EINVAL. */
static int read_timing(const struct cli_target_opts *o, int *period_s, int64_t *wait_ns)
{
	int64_t p = 60 * KC_NS_PER_S;
	/* CloudWatch's periods: 1, 5, 10, 30 s (high resolution) or a multiple of 60 s. */
	int64_t ps = p / KC_NS_PER_S;
	if (o->cloudwatch_period && (kc_parse_duration_ns(o->cloudwatch_period, KC_NS_PER_S, &p) ||
				     p < KC_NS_PER_S || p % KC_NS_PER_S || p > 86400 * KC_NS_PER_S ||
				     ((ps = p / KC_NS_PER_S) % 60 && ps != 1 && ps != 5 && ps != 10 &&
				      ps != 30))) {
		cli_error("find: --cloudwatch-period %s: 1s, 5s, 10s, 30s or a multiple of 60s, "
			  "up to 1d", o->cloudwatch_period);
		return KC_EINVAL;
	}
	*period_s = (int)(p / KC_NS_PER_S);
	*wait_ns = 2 * p;
	if (o->cloudwatch_wait && (kc_parse_duration_ns(o->cloudwatch_wait, KC_NS_PER_S, wait_ns) ||
				   *wait_ns < 0 || *wait_ns > 3600 * KC_NS_PER_S)) {
		cli_error("find: --cloudwatch-wait %s: a duration up to 1h", o->cloudwatch_wait);
		return KC_EINVAL;
	}
	return 0;
}

/* Sleeps until wait_ns after the last step's end (wall clock). */
static void wait_publication(const struct kc_step_result *steps, size_t n, int64_t wait_ns)
{
	int64_t end_ms = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t e = steps[i].start_wall_ms + steps[i].duration_ns / 1000000;
		end_ms = e > end_ms ? e : end_ms;
	}
	/* A signal cuts the sleep short: sleep again for what is left, unless it
	 * was a stop (Ctrl-C: partial results, never a wait). */
	for (int64_t left; (left = end_ms * 1000000 + wait_ns - kc_wall_ns()) > 0;) {
		struct timespec ts = {left / KC_NS_PER_S, left % KC_NS_PER_S};
		if (nanosleep(&ts, NULL) == 0 || runout_caught_signal())
			break;
	}
}

static void set_targets(struct cli_signals *s, double ipi_target, double targets[KC_SIG_COUNT])
{
	memset(targets, 0, sizeof(double) * KC_SIG_COUNT);
	targets[KC_SIG_CPU] = 70;
	targets[KC_SIG_GPU] = 70;
	targets[KC_SIG_IPI] = ipi_target;
	enum kc_sig sig;
	double t;
	char spec[200];
	snprintf(spec, sizeof(spec), "%s=%.17g", s->policy_metric, s->policy_target);
	if (s->policy_metric[0] && !cli_signals_parse_policy(spec, &sig, &t))
		targets[sig] = t;
}

/* The query window: whole periods around every step. */
static void window(const struct kc_step_result *steps, size_t n, int period_s, int64_t *t0,
		   int64_t *t1)
{
	int64_t lo = INT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t a = steps[i].start_wall_ms / 1000;
		int64_t b = (steps[i].start_wall_ms + steps[i].duration_ns / 1000000 + 999) / 1000;
		lo = a < lo ? a : lo;
		hi = b > hi ? b : hi;
	}
	*t0 = lo / period_s * period_s;
	*t1 = (hi + period_s - 1) / period_s * period_s;
}

int cli_signals_collect(struct cli_signals *s, struct cli_target *t,
			const struct cli_target_opts *o, const struct kc_step_result *steps,
			size_t n, int knee_step, double ipi_target, bool quiet)
{
	memset(s, 0, sizeof(*s));
	if (!t->sagemaker || n == 0)
		return 0;
	s->asked = true;
	int64_t wait_ns;
	enum kc_sig sig;
	if (read_timing(o, &s->period_s, &wait_ns))
		return KC_EINVAL;
	if (o->current_policy) {
		if (cli_signals_parse_policy(o->current_policy, &sig, &s->policy_target)) {
			cli_error("find: --current-policy %s: METRIC=TARGET with METRIC one of "
				  "CPUUtilization, GPUUtilization, GPUMemoryUtilization, "
				  "InvocationsPerInstance, ConcurrentRequestsPerModel", o->current_policy);
			return KC_EINVAL;
		}
		snprintf(s->policy_metric, sizeof(s->policy_metric), "%s", kc_sig_defs[sig].name);
		s->policy_source = "--current-policy";
	}
	struct kc_cw_query q[KC_SIG_COUNT];
	const char *variant = t->sm.variant[0] ? t->sm.variant : "AllTraffic";
	kc_signals_queries(q, t->sm.endpoint, variant, s->period_s);
	struct call *k = calloc(1, sizeof(*k));
	struct kc_cw_series *series = calloc(KC_SIG_COUNT, sizeof(*series));
	s->per_step = calloc(n, sizeof(*s->per_step));
	if (!k || !series || !s->per_step) {
		snprintf(s->reason, sizeof(s->reason), "out of memory");
		goto out;
	}
	k->cw = (struct kc_cw_client){.region = t->region, .endpoint_url = o->cloudwatch_endpoint_url};
	k->q = q;
	k->series = series;
	k->endpoint = o->current_policy ? NULL : t->sm.endpoint;
	k->variant = variant;
	window(steps, n, s->period_s, &k->t0, &k->t1);
	/* Ask once before waiting for publication: an unreachable, unresolvable
	 * or forbidden CloudWatch is said now, not after minutes of waiting. */
	if (!ask(s, t, k))
		goto out;
	s->wait_s = (double)wait_ns / 1e9;
	if (!quiet && wait_ns > 0)
		fprintf(stderr, "kneecap: waiting up to %.0f s for CloudWatch to publish the last "
				"step's metrics (--cloudwatch-wait)\n", s->wait_s);
	wait_publication(steps, n, wait_ns);
	if (!ask(s, t, k))
		goto out;
	s->available = true;
	s->n = n;
	kc_signals_align(series, k->nseries, s->period_s, steps, n, s->per_step);
	for (size_t i = 0; i < n; i++)
		s->short_steps += s->per_step[i].periods == 0;
	if (s->short_steps && !quiet)
		fprintf(stderr, "kneecap: warning: %d of %zu steps held no whole %d s CloudWatch period "
				"and have no signals (a step needs at least two periods of measured "
				"window to hold one for sure: --step-duration)\n",
			s->short_steps, n, s->period_s);
	if (!o->current_policy && k->pol_rc == 0) {
		char spec[300];
		snprintf(spec, sizeof(spec), "%s=%.17g", k->pol.metric, k->pol.target);
		if (!cli_signals_parse_policy(spec, &sig, &s->policy_target)) {
			snprintf(s->policy_metric, sizeof(s->policy_metric), "%s",
				 kc_sig_defs[sig].name);
			s->policy_source = "DescribeScalingPolicies";
		}
	}
	double targets[KC_SIG_COUNT];
	set_targets(s, ipi_target, targets);
	if (knee_step >= 0) {
		kc_signals_table(steps, s->per_step, n, knee_step, targets, s->rows);
		s->have_table = true;
	}
out:
	/* The reason may quote the server's error message: it goes to stderr
	 * and result.json, so it passes the secret scrubber like every string
	 * a server sent. */
	kc_scrub_str(s->reason, sizeof(s->reason), 0);
	if (!s->available && !quiet)
		fprintf(stderr, "kneecap: warning: the endpoint's CloudWatch signals are unavailable "
				"(%s); the run goes on without them\n", s->reason);
	free(k);
	free(series);
	return 0;
}

json_t *cli_signals_json(const struct cli_signals *s)
{
	if (!s->asked)
		return NULL;
	json_t *o = json_pack("{s:b,s:i,s:f,s:s}", "available", s->available, "period_s",
			      s->period_s, "waited_s", s->wait_s, "resolution",
			      "SageMaker publishes these metrics at one-minute resolution "
			      "(ConcurrentRequestsPerModel also at 10 s; every metric is asked at "
			      "the same period here); a step gets only the whole periods inside "
			      "its window, and a step shorter than one period gets none");
	if (!s->available) {
		json_object_set_new(o, "reason", json_string(s->reason));
		return o;
	}
	json_object_set_new(o, "short_steps", json_integer(s->short_steps));
	if (s->policy_metric[0])
		json_object_set_new(o, "current_policy",
				    json_pack("{s:s,s:f,s:s}", "metric", s->policy_metric, "target",
					      s->policy_target, "source", s->policy_source));
	if (s->have_table) {
		json_object_set_new(o, "table", kc_signals_table_json(s->rows));
		json_t *v = json_array();
		for (int i = 0; i < KC_SIG_COUNT; i++) {
			char line[256];
			if (!s->rows[i].judged)
				continue;
			kc_signals_sentence(&s->rows[i], line, sizeof(line));
			json_array_append_new(v, json_string(line));
		}
		json_object_set_new(o, "verdict", v);
	}
	return o;
}

void cli_signals_steps_json(const struct cli_signals *s, json_t *step_extra)
{
	if (!s->available || !json_is_array(step_extra))
		return;
	for (size_t i = 0; i < s->n && i < json_array_size(step_extra); i++) {
		json_t *o = json_array_get(step_extra, i);
		if (json_is_object(o))
			json_object_set_new(o, "signals", kc_step_signals_json(&s->per_step[i]));
	}
}

void cli_signals_print(FILE *f, const struct cli_signals *s)
{
	if (!s->asked)
		return;
	if (!s->available) {
		fprintf(f, "signals: unavailable (%s)\n", s->reason);
		return;
	}
	if (!s->have_table) {
		fprintf(f, "signals: read (period %d s), no knee to judge them at\n", s->period_s);
		return;
	}
	fprintf(f, "signals at the knee (CloudWatch, period %d s%s):\n", s->period_s,
		s->short_steps ? "; some steps were shorter than one period" : "");
	fprintf(f, "  %-28s %12s %-9s %s\n", "metric", "at knee", "unit", "moves with load");
	for (int i = 0; i < KC_SIG_COUNT; i++) {
		const struct kc_sig_row *r = &s->rows[i];
		char v[32] = "-";
		if (r->have)
			snprintf(v, sizeof(v), "%.1f", r->at_knee);
		fprintf(f, "  %-28s %12s %-9s %s\n", kc_sig_defs[i].name, v, kc_sig_defs[i].unit,
			r->points < 3 ? "too few steps" : r->proportional ? "proportional" : "no");
	}
	if (s->policy_metric[0])
		fprintf(f, "  current policy (%s): %s = %g\n", s->policy_source, s->policy_metric,
			s->policy_target);
	for (int i = 0; i < KC_SIG_COUNT; i++) {
		char line[256];
		if (!s->rows[i].judged)
			continue;
		kc_signals_sentence(&s->rows[i], line, sizeof(line));
		fprintf(f, "  %s\n", line);
	}
}

void cli_signals_fini(struct cli_signals *s)
{
	free(s->per_step);
	s->per_step = NULL;
}

int cli_alarm_prepare(struct kc_alarm_cfg *a, const char *topic, double slo_ms, double p99_ms,
		      const char *p99_where, char *why, size_t whysz)
{
	if (!topic)
		return 1;
	if (strncmp(topic, "arn:", 4) || !strstr(topic, ":sns:") || strchr(topic, ' ')) {
		cli_error("find: --alarm-topic %s: expected an SNS topic ARN "
			  "(arn:aws:sns:REGION:ACCOUNT:NAME)", topic);
		return KC_EINVAL;
	}
	memset(a, 0, sizeof(*a));
	a->topic_arn = topic;
	if (slo_ms > 0) {
		a->threshold_us = slo_ms * 1000.0;
		snprintf(why, whysz, "the SLO, p99 %.1f ms", slo_ms);
	} else if (p99_ms > 0) {
		a->threshold_us = 2.0 * p99_ms * 1000.0;
		snprintf(why, whysz, "2 x the p99 measured %s, %.1f ms", p99_where, p99_ms);
	} else {
		return 1; /* nothing measured: no recommendation, no apply.sh either */
	}
	a->why = why;
	return 0;
}

int cli_signals_check(const struct cli_target_opts *o)
{
	int period_s;
	int64_t wait_ns;
	enum kc_sig sig;
	double target;
	struct kc_alarm_cfg a;
	char w[64];
	if (read_timing(o, &period_s, &wait_ns))
		return KC_EINVAL;
	if (o->current_policy && cli_signals_parse_policy(o->current_policy, &sig, &target)) {
		cli_error("find: --current-policy %s: METRIC=TARGET with METRIC one of "
			  "CPUUtilization, GPUUtilization, GPUMemoryUtilization, "
			  "InvocationsPerInstance, ConcurrentRequestsPerModel", o->current_policy);
		return KC_EINVAL;
	}
	return cli_alarm_prepare(&a, o->alarm_topic, 1, 0, "", w, sizeof(w)) < 0 ? KC_EINVAL : 0;
}

void cli_find_tail_run(struct cli_find_tail *ft, struct cli_target *t,
		       const struct cli_target_opts *o, double slo_ms,
		       const struct kc_step_result *steps, size_t n, int knee_step,
		       double ipi_target, const struct kc_latency *conf, bool quiet,
		       bool interrupted, const struct kc_alarm_cfg **alarm_out)
{
	if (!interrupted)
		cli_signals_collect(&ft->signals, t, o, steps, n, knee_step, ipi_target, quiet);
	double p99 = conf ? conf->p99 : knee_step >= 0 ? steps[knee_step].latency.p99 : 0;
	int ar = cli_alarm_prepare(&ft->alarm, o->alarm_topic, slo_ms, p99,
				   conf ? "at the target" : "at the knee", ft->why, sizeof(ft->why));
	*alarm_out = ar == 0 ? &ft->alarm : NULL;
}
