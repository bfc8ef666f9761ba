/*
 * plan.c - the capacity planner: Application Auto Scaling target tracking
 * for a SageMaker variant, simulated in one-second steps over a day of
 * traffic (../shared/spec/autoscaling.md §6), and the advice drawn from it.
 *
 * The simulator is a model, not a replay: it follows the published facts
 * (desired capacity proportional to metric / target, pending capacity counted
 * as added, cooldown semantics, scheduled actions acting at once, 60 s
 * container timeout) and fills the gaps with the assumptions in
 * struct kc_plan_model (alarm datapoint counts, publication lag, the 0.9
 * scale-in ratio, provisioning time), each of which the user can override.
 * The queue is a fluid FIFO of one-second cohorts: arrivals above capacity
 * wait, capacity serves the oldest first, and a cohort older than the
 * timeout fails.  It does not model per-request randomness (Poisson bursts
 * below capacity), so its latency is the deterministic part only: the
 * measured p99 at that load plus the queueing delay.
 *
 * Invariants: 1 <= in_service + pending, MinCapacity <= desired <= Max
 * after every policy action; the queue ring never holds more than
 * timeout_s + 2 cohorts.  Pure: no I/O, clocks or threads.
 */
#include "kneecap/plan.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY KC_TRAFFIC_DAY_S
#define MAX_DATAPOINTS 256      /* ring of visible metric datapoints */
#define QRING 4096              /* queue cohorts; timeout_s is capped below it */
#define LOW_RESET_S 600         /* a crossing forgotten after this long below target */

void kc_plan_model_default(struct kc_plan_model *m, enum kc_plan_metric metric,
			   int64_t provision_s)
{
	KC_ASSERT(m);
	memset(m, 0, sizeof(*m));
	m->publish_lag_s = 60;   /* B1: publication + reaction add 1-2 min; model 1 */
	m->low_ratio = 0.9;      /* A5: AlarmLow at 0.9 x target */
	m->provision_s = provision_s;
	m->scale_out_cooldown_s = 60;  /* kneecap's recommendation (DESIGN.md) */
	m->scale_in_cooldown_s = 300;
	m->timeout_s = 60;       /* S11: /invocations must answer within 60 s */
	if (metric == KC_PLAN_HIGHRES) {
		m->period_s = 10;        /* S1: emitted every 10 s */
		m->high_datapoints = 6;  /* B1: scale-out alarm after one minute */
		m->low_datapoints = 90;  /* B1: 90 ten-second datapoints */
	} else {
		m->period_s = 60;
		m->high_datapoints = 3;  /* A5: 3 datapoints within 3 minutes */
		m->low_datapoints = 15;  /* A5: 15 datapoints within 15 minutes */
	}
}

int64_t kc_plan_nominal_lag_s(const struct kc_plan_model *m)
{
	/* A ramp can start just after a period began: one more period to fill. */
	return (int64_t)m->high_datapoints * m->period_s + m->period_s +
	       m->publish_lag_s + m->provision_s;
}

/* ---- scheduled actions ------------------------------------------------ */

static int parse_int_word(const char *w, int lo, int hi, int *out)
{
	int64_t v;
	if (kc_parse_i64(w, lo, hi, &v))
		return KC_EINVAL;
	*out = (int)v;
	return KC_OK;
}

/* Splits s in place at spaces into at most cap words; returns how many
 * there were (cap + 1 when there were more). */
static size_t words(char *s, char **w, size_t cap)
{
	size_t n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return n;
		if (n == cap)
			return cap + 1;
		w[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
	}
}

int kc_plan_sched_parse(const char *text, struct kc_plan_sched *out,
			struct kc_diag *d)
{
	char buf[256];
	if (strlen(text) >= sizeof(buf))
		return kc_diag_set(d, KC_EINVAL, "scheduled action longer than %zu characters",
				   sizeof(buf) - 1);
	snprintf(buf, sizeof(buf), "%s", text);
	char *p = buf;
	while (*p == ' ')
		p++;
	char *close = strchr(p, ')');
	if (strncmp(p, "cron(", 5) || !close)
		return kc_diag_set(d, KC_EINVAL,
				   "expected 'cron(M H * * ? *) min N [max N]', got '%s'", text);
	*close = '\0';
	char *f[7];
	size_t nf = words(p + 5, f, 7);
	struct kc_plan_sched sc = {.hour = -1};
	if (nf != 6)
		return kc_diag_set(d, KC_EINVAL,
				   "cron() needs six fields: Minutes Hours Day-of-month Month Day-of-week Year");
	if (parse_int_word(f[0], 0, 59, &sc.minute))
		return kc_diag_set(d, KC_EINVAL, "cron minute '%s' must be a number 0..59", f[0]);
	if (strcmp(f[1], "*")) {
		char *slash = strchr(f[1], '/');
		if (slash)
			*slash = '\0';
		if (parse_int_word(f[1], 0, 23, &sc.hour) ||
		    (slash && parse_int_word(slash + 1, 1, 24, &sc.hour_step)))
			return kc_diag_set(d, KC_EINVAL,
					   "cron hour must be *, 0..23 or H/STEP");
	}
	for (int i = 2; i < 6; i++)
		if (strcmp(f[i], "*") && strcmp(f[i], "?"))
			return kc_diag_set(d, KC_EINVAL,
					   "cron field %d '%s': the planner simulates one day, so day, month, "
					   "weekday and year must be * or ?", i + 1, f[i]);
	char *w[8];
	size_t nw = words(close + 1, w, 8);
	bool have_min = false;
	if (nw % 2 || nw > 4)
		return kc_diag_set(d, KC_EINVAL,
				   "after cron(...) expected 'min N' and optionally 'max N' (1..%d)",
				   KC_PLAN_MAX_CAPACITY);
	for (size_t i = 0; i < nw; i += 2) {
		const char *k = w[i], *v = w[i + 1];
		int *dst = !strcmp(k, "min") ? &sc.min_cap : !strcmp(k, "max") ? &sc.max_cap : NULL;
		if (!dst || parse_int_word(v, 1, KC_PLAN_MAX_CAPACITY, dst))
			return kc_diag_set(d, KC_EINVAL,
					   "after cron(...) expected 'min N' and optionally 'max N' (1..%d)",
					   KC_PLAN_MAX_CAPACITY);
		if (dst == &sc.min_cap)
			have_min = true;
	}
	if (!have_min)
		return kc_diag_set(d, KC_EINVAL, "a scheduled action needs 'min N'");
	if (sc.max_cap && sc.max_cap < sc.min_cap)
		return kc_diag_set(d, KC_EINVAL, "max %d is below min %d", sc.max_cap, sc.min_cap);
	*out = sc;
	return KC_OK;
}

char *kc_plan_sched_cron(const struct kc_plan_sched *s, char *out, size_t outsz)
{
	char h[32];
	if (s->hour < 0)
		snprintf(h, sizeof(h), "*");
	else if (s->hour_step > 1)
		snprintf(h, sizeof(h), "%d/%d", s->hour, s->hour_step);
	else
		snprintf(h, sizeof(h), "%d", s->hour);
	snprintf(out, outsz, "cron(%d %s * * ? *)", s->minute, h);
	return out;
}

static bool sched_due(const struct kc_plan_sched *s, int64_t t)
{
	if (t % 60)
		return false;
	int minute = (int)(t % 3600 / 60), hour = (int)(t % DAY / 3600);
	if (minute != s->minute)
		return false;
	if (s->hour < 0)
		return true;
	if (s->hour_step > 1)
		return hour >= s->hour && (hour - s->hour) % s->hour_step == 0;
	return hour == s->hour;
}

/* ---- the simulation ---------------------------------------------------- */

struct datapoint {
	double value;   /* in the metric's unit, per instance */
	double total;   /* the same for the whole variant, for the capacity formula */
	int64_t visible_s;
};

struct sim {
	const struct kc_plan_input *in;
	const struct kc_plan_model *m;
	enum kc_plan_metric metric;
	double target;          /* per instance, metric units per datapoint */
	int min_cap, max_cap;
	int in_service, npending;
	int64_t ready_s[KC_PLAN_MAX_CAPACITY];  /* pending: InService at */
	bool by_policy[KC_PLAN_MAX_CAPACITY];   /* pending: requested by the policy */
	int64_t last_out_s, last_in_s;
	int last_out_desired;
	/* metric period being accumulated */
	double acc_value, acc_total;
	/* datapoints: published or waiting to be */
	struct datapoint dp[MAX_DATAPOINTS];
	size_t dp_head, dp_n;   /* ring; dp_n counts all, visible or not */
	size_t dp_visible;      /* how many of the oldest are visible (<= dp_n) */
	/* fluid FIFO queue */
	double q_amt[QRING];
	int64_t q_at[QRING];
	size_t q_head, q_n;
	double q_sum;
	/* scale-out lag measurement */
	int64_t cross_s, below_since_s;
};

static int desired(const struct sim *s) { return s->in_service + s->npending; }

/* ceil(a / b) as an instance count, saturating above KC_PLAN_MAX_CAPACITY so
 * an absurd shape cannot overflow the int. */
static int ceil_div(double a, double b)
{
	double v = ceil(a / b - 1e-9);
	if (!(v > 0))
		return 0;
	return v > KC_PLAN_MAX_CAPACITY + 1 ? KC_PLAN_MAX_CAPACITY + 1 : (int)v;
}

static int clamp_cap(const struct sim *s, int n)
{
	if (n < s->min_cap)
		n = s->min_cap;
	if (n > s->max_cap)
		n = s->max_cap;
	return n;
}

static void add_instances(struct sim *s, int n, int64_t t, bool policy)
{
	for (int i = 0; i < n && s->npending + s->in_service < KC_PLAN_MAX_CAPACITY; i++) {
		s->ready_s[s->npending] = t + s->m->provision_s;
		s->by_policy[s->npending] = policy;
		s->npending++;
	}
}

/* Removes capacity down to want: pending requests are cancelled first
 * (newest first), then instances in service. */
static void remove_instances(struct sim *s, int want)
{
	while (desired(s) > want && s->npending > 0)
		s->npending--;
	while (desired(s) > want && s->in_service > 1)
		s->in_service--;
}

static void apply_sched(struct sim *s, const struct kc_plan_sched *a, int64_t t)
{
	s->min_cap = a->min_cap;
	if (a->max_cap > 0)
		s->max_cap = a->max_cap;
	if (s->max_cap < s->min_cap)
		s->max_cap = s->min_cap;
	/* A4: current below the new min -> scale out to min; above the new
	 * max -> scale in to max.  Cooldowns do not apply (A1). */
	if (desired(s) < s->min_cap)
		add_instances(s, s->min_cap - desired(s), t, false);
	else if (desired(s) > s->max_cap)
		remove_instances(s, s->max_cap);
}

static void push_datapoint(struct sim *s, double value, double total, int64_t visible_s)
{
	if (s->dp_n == MAX_DATAPOINTS) { /* drop the oldest; it was already seen */
		s->dp_head = (s->dp_head + 1) % MAX_DATAPOINTS;
		s->dp_n--;
		if (s->dp_visible)
			s->dp_visible--;
	}
	struct datapoint *p = &s->dp[(s->dp_head + s->dp_n) % MAX_DATAPOINTS];
	p->value = value;
	p->total = total;
	p->visible_s = visible_s;
	s->dp_n++;
}

static const struct datapoint *visible_back(const struct sim *s, size_t k)
{
	/* k = 0 is the newest visible datapoint */
	KC_ASSERT(k < s->dp_visible);
	return &s->dp[(s->dp_head + s->dp_visible - 1 - k) % MAX_DATAPOINTS];
}

/* The alarms look at the newest visible datapoints when one is published. */
static void evaluate(struct sim *s, int64_t t, int *scale_outs)
{
	const struct kc_plan_model *m = s->m;
	const struct datapoint *last = visible_back(s, 0);
	bool high = s->dp_visible >= (size_t)m->high_datapoints;
	for (int k = 0; high && k < m->high_datapoints; k++)
		high = visible_back(s, (size_t)k)->value > s->target;
	bool low = s->dp_visible >= (size_t)m->low_datapoints;
	for (int k = 0; low && k < m->low_datapoints; k++)
		low = visible_back(s, (size_t)k)->value < m->low_ratio * s->target;

	/* §1.4 model: desired = ceil(instances x metric / target); for a
	 * per-instance metric that is ceil(variant total / target).  The
	 * epsilon keeps 220/40 = 5.5 -> 6 but 240/40 = 6 -> 6, not 7. */
	int want = clamp_cap(s, ceil_div(last->total, s->target));
	if (high && want > desired(s)) {
		/* During a scale-out cooldown only a larger scale-out acts;
		 * pending capacity already counts (A1), so want > desired is it. */
		bool cooling = t < s->last_out_s + m->scale_out_cooldown_s;
		if (!cooling || want > s->last_out_desired) {
			add_instances(s, want - desired(s), t, true);
			s->last_out_s = t;
			s->last_out_desired = want;
			s->last_in_s = INT64_MIN / 2; /* a scale-out ends the scale-in cooldown */
			(*scale_outs)++;
		}
	} else if (low && want < desired(s) && t >= s->last_in_s + m->scale_in_cooldown_s) {
		remove_instances(s, want);
		s->last_in_s = t;
	}
}

static double base_p99_ms(const struct kc_plan_input *in, double per_instance_rps)
{
	if (in->ncurve == 0)
		return 0;
	if (per_instance_rps <= in->curve_rps[0])
		return in->curve_p99_ms[0];
	for (size_t i = 1; i < in->ncurve; i++) {
		if (per_instance_rps <= in->curve_rps[i]) {
			double x0 = in->curve_rps[i - 1], x1 = in->curve_rps[i];
			double f = x1 > x0 ? (per_instance_rps - x0) / (x1 - x0) : 1;
			return in->curve_p99_ms[i - 1] + f * (in->curve_p99_ms[i] - in->curve_p99_ms[i - 1]);
		}
	}
	return in->curve_p99_ms[in->ncurve - 1];
}

/* Serves up to cap requests from the queue head; returns how many. */
static double serve(struct sim *s, double cap)
{
	double served = 0;
	while (s->q_n && cap > 0) {
		double take = s->q_amt[s->q_head] < cap ? s->q_amt[s->q_head] : cap;
		s->q_amt[s->q_head] -= take;
		cap -= take;
		served += take;
		if (s->q_amt[s->q_head] <= 1e-9) {
			s->q_head = (s->q_head + 1) % QRING;
			s->q_n--;
		}
	}
	s->q_sum -= served;
	if (s->q_sum < 1e-9)
		s->q_sum = 0;
	return served;
}

static int check_input(const struct kc_plan_input *in, const struct kc_plan_model *m,
		       size_t nsched, struct kc_diag *d)
{
	if (!in->traffic)
		return kc_diag_set(d, KC_EINVAL, "no traffic shape");
	if (!(in->ceiling_rps > 0) || !(in->target_rps > 0))
		return kc_diag_set(d, KC_EINVAL, "the ceiling and the target must be > 0 RPS per instance");
	if (in->min_cap < 1 || in->max_cap < in->min_cap || in->max_cap > KC_PLAN_MAX_CAPACITY)
		return kc_diag_set(d, KC_EINVAL,
				   "capacity must satisfy 1 <= MinCapacity (%d) <= MaxCapacity (%d) <= %d",
				   in->min_cap, in->max_cap, KC_PLAN_MAX_CAPACITY);
	if (m->period_s < 1 || DAY % m->period_s || m->high_datapoints < 1 ||
	    m->low_datapoints < 1 || m->high_datapoints > MAX_DATAPOINTS / 2 ||
	    m->low_datapoints > MAX_DATAPOINTS / 2 || m->publish_lag_s < 0 ||
	    m->publish_lag_s > 3600 || !(m->low_ratio > 0 && m->low_ratio <= 1) ||
	    m->provision_s < 0 || m->provision_s > 7200 || m->timeout_s < 1 ||
	    m->timeout_s > QRING - 8 || m->scale_out_cooldown_s < 0 || m->scale_in_cooldown_s < 0)
		return kc_diag_set(d, KC_EINVAL, "a model assumption is out of range");
	if (nsched > KC_PLAN_MAX_SCHED)
		return kc_diag_set(d, KC_EINVAL, "more than %d scheduled actions", KC_PLAN_MAX_SCHED);
	return KC_OK;
}

/* Pending instances that are ready go into service; true if one the policy
 * requested landed (for the scale-out lag). */
static bool land_pending(struct sim *s, int64_t t)
{
	bool landed_policy = false;
	for (int i = 0; i < s->npending;) {
		if (s->ready_s[i] <= t) {
			landed_policy |= s->by_policy[i];
			s->ready_s[i] = s->ready_s[s->npending - 1];
			s->by_policy[i] = s->by_policy[s->npending - 1];
			s->npending--;
			s->in_service++;
		} else {
			i++;
		}
	}
	KC_ASSERT(s->in_service >= 1);
	return landed_policy;
}

/* What one second of the queue did. */
struct second {
	double rate, cap, served, failed, wait_s, p99_ms;
};

/* Arrivals join the FIFO, capacity serves the oldest, cohorts that have
 * waited out the container timeout fail (S11). */
static void run_queue(struct sim *s, int64_t t, struct second *x)
{
	x->rate = kc_traffic_rate_at(s->in->traffic, (double)(t % DAY));
	x->cap = s->in_service * s->in->ceiling_rps;
	if (x->rate > 0) {
		KC_ASSERT(s->q_n < QRING);
		s->q_amt[(s->q_head + s->q_n) % QRING] = x->rate;
		s->q_at[(s->q_head + s->q_n) % QRING] = t;
		s->q_n++;
		s->q_sum += x->rate;
	}
	x->served = serve(s, x->cap);
	x->failed = 0;
	while (s->q_n && s->q_at[s->q_head] <= t - s->m->timeout_s) {
		x->failed += s->q_amt[s->q_head];
		s->q_sum -= s->q_amt[s->q_head];
		s->q_head = (s->q_head + 1) % QRING;
		s->q_n--;
	}
	if (s->q_sum < 1e-9)
		s->q_sum = 0;
	x->wait_s = s->q_sum / x->cap;
	if (x->wait_s > (double)s->m->timeout_s)
		x->wait_s = (double)s->m->timeout_s;
	x->p99_ms = base_p99_ms(s->in, x->served / s->in_service) + x->wait_s * 1000.0;
}

/* Accumulates the metric, publishes datapoints, lets the alarms act. */
static int run_metric(struct sim *s, int64_t t, const struct second *x)
{
	const struct kc_plan_model *m = s->m;
	if (s->metric == KC_PLAN_STANDARD) {
		/* InvocationsPerInstance: each request counts 1/instances active (S2);
		 * a utilisation policy follows the work served instead. */
		double r = s->in->metric_served ? x->served : x->rate;
		s->acc_value += r / s->in_service;
		s->acc_total += r;
	} else {
		/* ConcurrentRequestsPerModel (Max statistic): in flight including
		 * queued, per instance; Little's law for those in service. */
		double conc = x->served * s->in->service_s + s->q_sum;
		if (conc / s->in_service > s->acc_value) {
			s->acc_value = conc / s->in_service;
			s->acc_total = conc;
		}
	}
	if ((t + 1) % m->period_s == 0) {
		push_datapoint(s, s->acc_value, s->acc_total, t + 1 + m->publish_lag_s);
		s->acc_value = s->acc_total = 0;
	}
	int scale_outs = 0;
	while (s->dp_visible < s->dp_n &&
	       s->dp[(s->dp_head + s->dp_visible) % MAX_DATAPOINTS].visible_s <= t) {
		s->dp_visible++;
		evaluate(s, t, &scale_outs);
	}
	return scale_outs;
}

/* Scale-out lag: from load per instance first above the target to the
 * first policy-requested instance landing. */
static void track_lag(struct sim *s, int64_t t, double rate, bool landed_policy,
		      struct kc_plan_run *out)
{
	bool above = rate / s->in_service > s->in->target_rps;
	if (above && s->cross_s < 0)
		s->cross_s = t;
	if (above)
		s->below_since_s = -1;
	else if (s->below_since_s < 0)
		s->below_since_s = t;
	if (s->cross_s >= 0 && landed_policy) {
		if (out && t - s->cross_s > out->scale_out_lag_s)
			out->scale_out_lag_s = t - s->cross_s;
		s->cross_s = -1;
	} else if (s->cross_s >= 0 && s->below_since_s >= 0 &&
		   t - s->below_since_s > LOW_RESET_S) {
		s->cross_s = -1;
	}
}

static void record(const struct sim *s, int64_t t, const struct second *x,
		   struct kc_plan_run *out, struct kc_plan_sample *rec)
{
	rec->rate_rps = (float)x->rate;
	rec->capacity_rps = (float)x->cap;
	rec->queue = (float)s->q_sum;
	rec->p99_ms = (float)x->p99_ms;
	rec->in_service = (uint16_t)s->in_service;
	rec->pending = (uint16_t)s->npending;
	rec->min_cap = (uint16_t)s->min_cap;
	out->arrived += x->rate;
	out->failed += x->failed;
	out->wait_request_s += s->q_sum;
	out->instance_hours += (s->in_service + s->npending) / 3600.0;
	if (s->in_service > out->max_instances)
		out->max_instances = s->in_service;
	if (desired(s) > out->max_desired)
		out->max_desired = desired(s);
	if (s->q_sum > out->worst_queue) {
		out->worst_queue = s->q_sum;
		out->worst_queue_at_s = t % DAY;
	}
	if (x->wait_s > out->worst_wait_s)
		out->worst_wait_s = x->wait_s;
	if (x->p99_ms > out->worst_p99_ms)
		out->worst_p99_ms = x->p99_ms;
	if (x->p99_ms > s->in->slo_ms)
		out->over_slo_s++;
}

/* One second of the world: schedule, instances, queue, metric and alarms.
 * out/rec are NULL during the warm-up day. */
static void step(struct sim *s, const struct kc_plan_sched *sched, size_t nsched,
		 int64_t t, struct kc_plan_run *out, struct kc_plan_sample *rec)
{
	for (size_t i = 0; i < nsched; i++)
		if (sched_due(&sched[i], t % DAY))
			apply_sched(s, &sched[i], t);
	bool landed_policy = land_pending(s, t);
	struct second x;
	run_queue(s, t, &x);
	int scale_outs = run_metric(s, t, &x);
	track_lag(s, t, x.rate, landed_policy, out);
	if (out) {
		out->scale_outs += scale_outs;
		record(s, t, &x, out, rec);
	}
}

int kc_plan_simulate(const struct kc_plan_input *in, enum kc_plan_metric metric,
		     const struct kc_plan_model *model,
		     const struct kc_plan_sched *sched, size_t nsched,
		     struct kc_plan_run *out, struct kc_diag *d)
{
	KC_ASSERT(in && model && out);
	int rc = check_input(in, model, nsched, d);
	if (rc)
		return rc;
	if (metric == KC_PLAN_HIGHRES && !(in->service_s > 0))
		return kc_diag_set(d, KC_EINVAL,
				   "the high-resolution (concurrency) metric needs a service time > 0");
	struct sim *s = calloc(1, sizeof(*s));
	struct kc_plan_run r = {.metric = metric, .scale_out_lag_s = -1};
	r.tl = calloc(DAY, sizeof(*r.tl));
	if (!s || !r.tl) {
		free(s);
		free(r.tl);
		return KC_ENOMEM;
	}
	s->in = in;
	s->m = model;
	s->metric = metric;
	/* Target in the datapoint's unit: invocations per instance per period,
	 * or concurrent requests per instance (target RPS x service time). */
	s->target = metric == KC_PLAN_STANDARD ? in->target_rps * (double)model->period_s
					       : in->target_rps * in->service_s;
	s->min_cap = in->min_cap;
	s->max_cap = in->max_cap;
	s->in_service = in->min_cap;
	s->last_out_s = s->last_in_s = INT64_MIN / 2;
	s->cross_s = s->below_since_s = -1;
	r.nsched = nsched;
	if (nsched)
		memcpy(r.sched, sched, nsched * sizeof(*sched));

	/* Day one warms the state (fleet size, alarms, schedules in force);
	 * day two is the one reported. */
	for (int64_t t = 0; t < DAY; t++)
		step(s, sched, nsched, t, NULL, NULL);
	int64_t run_s = 0;
	for (int64_t t = DAY; t < 2 * DAY; t++) {
		step(s, sched, nsched, t, &r, &r.tl[t - DAY]);
		if (r.tl[t - DAY].queue >= 1) {
			r.queue_s++;
			run_s++;
			if (run_s > r.longest_queue_window_s)
				r.longest_queue_window_s = run_s;
		} else {
			run_s = 0;
		}
	}
	r.cost_usd_per_day = in->price_usd_per_hour >= 0
				     ? r.instance_hours * in->price_usd_per_hour : -1;
	free(s);
	*out = r;
	return KC_OK;
}

void kc_plan_run_fini(struct kc_plan_run *r)
{
	if (!r)
		return;
	free(r->tl);
	r->tl = NULL;
}

/* ---- advice ------------------------------------------------------------ */

static void add_sched(struct kc_plan_advice *a, const char *name, int64_t at_in_period,
		      const struct kc_traffic_peak *p, int min_cap, int max_cap)
{
	if (a->nsched == KC_PLAN_MAX_SCHED)
		return;
	struct kc_plan_sched *s = &a->sched[a->nsched++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s%s%s", name, p->name[0] ? "-" : "", p->name);
	s->minute = (int)(at_in_period % 3600 / 60);
	s->hour = p->every_s <= 3600 ? -1 : (int)(at_in_period / 3600);
	s->hour_step = p->every_s > 3600 && p->every_s < DAY ? (int)(p->every_s / 3600) : 0;
	s->min_cap = min_cap;
	s->max_cap = max_cap;
}

/*
 * The largest factor f (of the ceiling, as the target) for which arrivals
 * stay under the fleet's ceiling until new capacity lands: the fleet before
 * the steepest ramp is what target tracking keeps for its level at f
 * (clamped to Min/Max); the policy notices when arrivals cross f x ceiling
 * per instance and capacity lands lag_s later; everything the shape climbs
 * in between must fit under instances x ceiling.
 */
static void derive_factor(const struct kc_plan_input *in, int64_t ramp_at, int64_t lag_s,
			  struct kc_plan_advice *a)
{
	double level = kc_traffic_rate_at(in->traffic, (double)ramp_at);
	a->factor_derived = 0;
	a->factor_instances = 0;
	for (int pct = 95; pct >= 5; pct--) {
		double f = pct / 100.0;
		int n = ceil_div(level, f * in->ceiling_rps);
		if (n < in->min_cap)
			n = in->min_cap;
		if (n > in->max_cap)
			n = in->max_cap;
		double trigger = n * f * in->ceiling_rps;
		/* first second at or after the ramp start above the trigger */
		int64_t cross = -1;
		for (int64_t t = ramp_at; t < ramp_at + 3 * 3600 && cross < 0; t++)
			if (kc_traffic_rate_at(in->traffic, (double)t) > trigger)
				cross = t;
		double reach = 0;
		if (cross >= 0)
			for (int64_t t = cross; t <= cross + lag_s; t++) {
				double r = kc_traffic_rate_at(in->traffic, (double)t);
				if (r > reach)
					reach = r;
			}
		if (reach <= n * in->ceiling_rps + 1e-9) {
			a->factor_derived = f;
			a->factor_instances = n;
			return;
		}
	}
}

/*
 * Pre-warm: each known peak gets MinCapacity = what target tracking will
 * want at its top, set early enough for the instances to be InService
 * before the ramp (provisioning plus one publication lag of margin for the
 * action's own delay, rounded up to whole minutes, the finest cron
 * granularity), and relaxed the minute after it ends.
 */
static void plan_prewarm(const struct kc_plan_input *in, const struct kc_plan_model *model,
			 struct kc_plan_advice *a)
{
	const struct kc_traffic *tr = in->traffic;
	a->lead_s = (model->provision_s + model->publish_lag_s + 59) / 60 * 60;
	/* Peaks more often than hourly come back before scale-in (15 minutes
	 * below target) could act, and too often for a pair of cron actions:
	 * MinCapacity itself carries them. */
	for (size_t i = 0; i < tr->npeaks; i++) {
		int need = ceil_div(tr->peaks[i].rate_rps, in->target_rps);
		if (tr->peaks[i].every_s < 3600 && need > a->min_cap) {
			a->min_cap = need > KC_PLAN_MAX_CAPACITY ? KC_PLAN_MAX_CAPACITY : need;
			a->min_for_peaks = true;
		}
	}
	if (a->max_cap < a->min_cap)
		a->max_cap = a->min_cap;
	for (size_t i = 0; i < tr->npeaks; i++) {
		const struct kc_traffic_peak *p = &tr->peaks[i];
		if (p->every_s < 3600 || a->needed_at_peak <= a->min_cap)
			continue; /* sub-hourly peaks: Min carries them (above) */
		int64_t pre = ((p->at_s - a->lead_s) % p->every_s + p->every_s) % p->every_s;
		int64_t end = p->at_s + p->ramp_s + p->hold_s + p->down_s;
		int64_t relax = ((end + 59) / 60 * 60 + 60) % p->every_s;
		add_sched(a, "prewarm", pre, p, a->needed_at_peak, a->max_cap);
		add_sched(a, "relax", relax, p, a->min_cap, a->max_cap);
	}
}

/* Why the factor is what it is, in one sentence, from the steepest ramp. */
static void plan_reason(const struct kc_plan_input *in, int64_t ramp_at, int64_t lag_s,
			struct kc_plan_advice *a)
{
	/* What the ramp can add while capacity is on its way: its slope times
	 * the lag, but never more than the climb to the top of the shape. */
	double climb = a->steepest_ramp_rps_per_s * (double)lag_s;
	double room = a->peak_rps - kc_traffic_rate_at(in->traffic, (double)ramp_at);
	if (climb > room)
		climb = room;
	char instead[96];
	if (a->min_for_peaks)
		snprintf(instead, sizeof(instead), "hold MinCapacity at %d for peaks this frequent",
			 a->min_cap);
	else
		snprintf(instead, sizeof(instead), "pre-warm with scheduled actions");
	if (a->steepest_ramp_rps_per_s <= 0)
		snprintf(a->reason, sizeof(a->reason),
			 "The shape has no ramps, so the 70-80%% default holds: nothing climbs faster "
			 "than target tracking reacts.");
	else if (a->factor_derived >= 0.8)
		snprintf(a->reason, sizeof(a->reason),
			 "The steepest ramp (%.2f RPS/s) climbs at most %.0f RPS in the %llds it takes "
			 "new capacity to land, which fits in the headroom left by up to %.0f%%, so the "
			 "70-80%% default is safe.",
			 a->steepest_ramp_rps_per_s, climb, (long long)lag_s, a->factor_derived * 100);
	else if (a->factor_derived >= 0.5)
		snprintf(a->reason, sizeof(a->reason),
			 "The steepest ramp (%.2f RPS/s) climbs %.0f RPS in the %llds scale-out lag; only "
			 "a target at or below %.0f%% of the ceiling leaves room for it, so lower the "
			 "factor or pre-warm.",
			 a->steepest_ramp_rps_per_s, climb, (long long)lag_s, a->factor_derived * 100);
	else if (a->factor_derived > 0)
		snprintf(a->reason, sizeof(a->reason),
			 "The steepest ramp (%.2f RPS/s) outruns the %llds scale-out lag: only a factor "
			 "of %.2f keeps arrivals under the knee, which sizes the baseline for the spike, "
			 "so keep 70-80%% and %s instead.",
			 a->steepest_ramp_rps_per_s, (long long)lag_s, a->factor_derived, instead);
	else
		snprintf(a->reason, sizeof(a->reason),
			 "The steepest ramp (%.2f RPS/s) outruns the %llds scale-out lag: no factor down "
			 "to 0.05 keeps arrivals under the knee until new capacity lands, so keep 70-80%% "
			 "and %s instead.",
			 a->steepest_ramp_rps_per_s, (long long)lag_s, instead);
}

void kc_plan_advise(const struct kc_plan_input *in, const struct kc_plan_model *model,
		    int64_t lag_s, struct kc_plan_advice *out)
{
	KC_ASSERT(in && model && out && in->traffic);
	struct kc_plan_advice a;
	memset(&a, 0, sizeof(a));
	const struct kc_traffic *tr = in->traffic;
	a.peak_rps = kc_traffic_peak_rps(tr);
	a.low_rps = kc_traffic_low_rps(tr);
	a.baseline_rps = tr->baseline_rps;
	a.needed_at_peak = ceil_div(a.peak_rps, in->target_rps);
	a.needed_at_ceiling = ceil_div(a.peak_rps, in->ceiling_rps);
	if (a.needed_at_peak < 1)
		a.needed_at_peak = 1;
	if (a.needed_at_ceiling < 1)
		a.needed_at_ceiling = 1;
	a.exceeds_max = a.peak_rps > in->max_cap * in->ceiling_rps + 1e-9;

	/* Min: the baseline under target, and never one instance alone, so a
	 * replaced or failing instance does not leave the baseline on nothing.
	 * Max: the largest known peak at target plus 25% for surprises. */
	a.min_cap = ceil_div(a.baseline_rps, in->target_rps);
	if (a.min_cap < 2)
		a.min_cap = 2;
	a.max_cap = ceil_div(1.25 * a.peak_rps, in->target_rps);
	if (a.max_cap < a.needed_at_peak)
		a.max_cap = a.needed_at_peak;
	if (a.max_cap < a.min_cap)
		a.max_cap = a.min_cap;
	if (a.max_cap > KC_PLAN_MAX_CAPACITY)
		a.max_cap = KC_PLAN_MAX_CAPACITY;
	plan_prewarm(in, model, &a);

	int64_t ramp_at = 0;
	a.steepest_ramp_rps_per_s = kc_traffic_steepest_ramp(tr, &ramp_at);
	a.lag_s = lag_s;
	derive_factor(in, ramp_at, lag_s, &a);
	plan_reason(in, ramp_at, lag_s, &a);
	*out = a;
}
