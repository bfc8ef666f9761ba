/*
 * pools.c - mixed instance pools: capacity weights from each pool's knee,
 * and target tracking simulated while new instances come from a fallback
 * pool with its own, lower knee.
 *
 * The simulator follows plan.c's model of the standard metric (per-period
 * datapoints visible after the publication lag, alarm datapoint counts,
 * cooldowns, provisioning time, the 60 s timeout) but keeps one instance
 * count per pool, which plan.c's single-ceiling fleet cannot.  Its queue is
 * one fluid backlog, not plan.c's cohorts: the question here is whether a
 * policy holds every pool under its knee, not the exact wait.
 *
 * Routing assumption: SageMaker's LEAST_OUTSTANDING_REQUESTS sends each
 * instance work in proportion to how fast it finishes it, so all instances
 * run at the same fraction of their own knee (rate / fleet capacity).  With
 * random routing a weighted metric could not protect a mixed fleet either;
 * the endpoint-config snippet therefore asks for least outstanding requests.
 *
 * Invariants: 1 <= in service; desired = in service + pending stays within
 * [MinCapacity, MaxCapacity] after every policy action; a pool never holds
 * more instances than its availability.  Pure: no I/O, clocks, threads.
 */
#include "kneecap/pools.h"
#include "kneecap/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY KC_TRAFFIC_DAY_S
#define NDP 256   /* ring of metric datapoints */

int kc_pools_find(const struct kc_pools *p, const char *instance_type)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->pool[i].instance_type, instance_type))
			return (int)i;
	return -1;
}

int kc_pools_add(struct kc_pools *p, const char *instance_type, double knee_rps,
		 struct kc_diag *d)
{
	if (p->n == KC_POOLS_MAX)
		return kc_diag_set(d, KC_EINVAL, "at most %d instance pools (InstancePoolList)",
				   KC_POOLS_MAX);
	if (!instance_type || !instance_type[0] ||
	    strlen(instance_type) >= sizeof(p->pool[0].instance_type))
		return kc_diag_set(d, KC_EINVAL, "a pool needs an instance type (e.g. ml.g6.2xlarge)");
	if (kc_pools_find(p, instance_type) >= 0)
		return kc_diag_set(d, KC_EINVAL, "instance type %s named twice: one pool per type",
				   instance_type);
	if (!(knee_rps > 0) || !isfinite(knee_rps))
		return kc_diag_set(d, KC_EINVAL, "%s: the knee per instance must be > 0 RPS",
				   instance_type);
	struct kc_pool *q = &p->pool[p->n++];
	memset(q, 0, sizeof(*q));
	snprintf(q->instance_type, sizeof(q->instance_type), "%s", instance_type);
	q->knee_rps = knee_rps;
	q->available = -1;
	for (size_t i = 0; i < p->n; i++)
		p->pool[i].weight = p->pool[i].knee_rps / p->pool[0].knee_rps;
	return KC_OK;
}

double kc_pools_weighted_count(const struct kc_pools *p, const int *counts)
{
	double w = 0;
	for (size_t i = 0; i < p->n; i++)
		w += counts[i] * p->pool[i].weight;
	return w;
}

/* ---- the simulation ---------------------------------------------------- */

struct psim {
	const struct kc_pools_sim_in *in;
	const struct kc_pools *p;
	const struct kc_plan_model *m;
	enum kc_pools_policy policy;
	double target;          /* per datapoint: invocations per period per (equivalent) instance */
	int in_service[KC_POOLS_MAX];
	int npending;
	int64_t ready_s[KC_PLAN_MAX_CAPACITY];
	unsigned char pend_pool[KC_PLAN_MAX_CAPACITY];
	int64_t last_out_s, last_in_s;
	int last_out_desired;
	int deficit;            /* instances the policy wanted that no pool had */
	double acc;             /* metric of the period being accumulated */
	double dp_value[NDP];
	int dp_n_in_service[NDP];
	int64_t dp_visible_s[NDP];
	size_t dp_head, dp_n, dp_visible;
	double queue;
};

static int total_in_service(const struct psim *s)
{
	int n = 0;
	for (size_t i = 0; i < s->p->n; i++)
		n += s->in_service[i];
	return n;
}

static int desired(const struct psim *s) { return total_in_service(s) + s->npending; }

/* Instances of pool i in service or on their way. */
static int held(const struct psim *s, size_t i)
{
	int n = s->in_service[i];
	for (int k = 0; k < s->npending; k++)
		n += s->pend_pool[k] == i;
	return n;
}

/* The highest-priority pool that can still give an instance, or -1. */
static int next_pool(const struct psim *s)
{
	for (size_t i = 0; i < s->p->n; i++)
		if (s->p->pool[i].available < 0 || held(s, i) < s->p->pool[i].available)
			return (int)i;
	return -1;
}

/* Requests n instances; returns how many no pool could give. */
static int add_instances(struct psim *s, int n, int64_t t)
{
	for (; n > 0 && desired(s) < KC_PLAN_MAX_CAPACITY; n--) {
		int i = next_pool(s);
		if (i < 0)
			return n;
		s->ready_s[s->npending] = t + s->m->provision_s;
		s->pend_pool[s->npending] = (unsigned char)i;
		s->npending++;
	}
	return 0;
}

/* Down to want: pending first (newest first), then in service from the
 * lowest-priority pool (model assumption: the fallback is released first). */
static void remove_instances(struct psim *s, int want)
{
	while (desired(s) > want && s->npending > 0)
		s->npending--;
	for (size_t i = s->p->n; i-- > 0;)
		while (desired(s) > want && s->in_service[i] > 0 && total_in_service(s) > 1)
			s->in_service[i]--;
}

static void land_pending(struct psim *s, int64_t t)
{
	for (int k = 0; k < s->npending;) {
		if (s->ready_s[k] <= t) {
			s->in_service[s->pend_pool[k]]++;
			s->ready_s[k] = s->ready_s[s->npending - 1];
			s->pend_pool[k] = s->pend_pool[s->npending - 1];
			s->npending--;
		} else {
			k++;
		}
	}
}

static size_t dp_at(const struct psim *s, size_t back)
{
	return (s->dp_head + s->dp_visible - 1 - back) % NDP;
}

static int clamp_cap(const struct psim *s, double v)
{
	double c = ceil(v - 1e-9);
	if (!(c >= s->in->min_cap))
		return s->in->min_cap;
	return c > s->in->max_cap ? s->in->max_cap : (int)c;
}

/* The alarms judge the newest visible datapoints (plan.c's rules). */
static void evaluate(struct psim *s, int64_t t)
{
	const struct kc_plan_model *m = s->m;
	size_t last = dp_at(s, 0);
	bool high = s->dp_visible >= (size_t)m->high_datapoints;
	for (int k = 0; high && k < m->high_datapoints; k++)
		high = s->dp_value[dp_at(s, (size_t)k)] > s->target;
	bool low = s->dp_visible >= (size_t)m->low_datapoints;
	for (int k = 0; low && k < m->low_datapoints; k++)
		low = s->dp_value[dp_at(s, (size_t)k)] < m->low_ratio * s->target;
	/* Target tracking's proportional step: the capacity that produced the
	 * datapoint times metric / target. */
	int want = clamp_cap(s, s->dp_n_in_service[last] * s->dp_value[last] / s->target);
	if (high && want > desired(s)) {
		bool cooling = t < s->last_out_s + m->scale_out_cooldown_s;
		if (!cooling || want > s->last_out_desired) {
			s->deficit = add_instances(s, want - desired(s), t);
			s->last_out_s = t;
			s->last_out_desired = want;
			s->last_in_s = INT64_MIN / 2;
		}
	} else if (low && want < desired(s) && t >= s->last_in_s + m->scale_in_cooldown_s) {
		remove_instances(s, want);
		s->last_in_s = t;
		s->deficit = 0;
	}
}

static void run_metric(struct psim *s, int64_t t, double rate)
{
	const struct kc_plan_model *m = s->m;
	double denom = s->policy == KC_POOLS_WEIGHTED ? kc_pools_weighted_count(s->p, s->in_service)
						      : (double)total_in_service(s);
	s->acc += rate / denom;
	if ((t + 1) % m->period_s == 0) {
		if (s->dp_n == NDP) {
			s->dp_head = (s->dp_head + 1) % NDP;
			s->dp_n--;
			if (s->dp_visible)
				s->dp_visible--;
		}
		size_t k = (s->dp_head + s->dp_n) % NDP;
		s->dp_value[k] = s->acc;
		s->dp_n_in_service[k] = total_in_service(s);
		s->dp_visible_s[k] = t + 1 + m->publish_lag_s;
		s->dp_n++;
		s->acc = 0;
	}
	while (s->dp_visible < s->dp_n &&
	       s->dp_visible_s[(s->dp_head + s->dp_visible) % NDP] <= t) {
		s->dp_visible++;
		evaluate(s, t);
	}
}

/* One second: instances land, the queue moves, the metric and alarms act;
 * out is NULL on the warm-up day.  mean_n counts seconds per pool. */
static void step(struct psim *s, int64_t t, struct kc_pools_sim_out *out, int64_t *mean_n)
{
	land_pending(s, t);
	double rate = kc_traffic_rate_at(s->in->traffic, (double)(t % DAY));
	double cap = 0;
	for (size_t i = 0; i < s->p->n; i++)
		cap += s->in_service[i] * s->p->pool[i].knee_rps;
	double failed = 0;
	s->queue += rate - cap;
	if (s->queue < 0)
		s->queue = 0;
	if (s->queue > cap * (double)s->m->timeout_s) {
		failed = s->queue - cap * (double)s->m->timeout_s;
		s->queue -= failed;
	}
	run_metric(s, t, rate);
	if (!out)
		return;
	double load = rate / cap;
	for (size_t i = 0; i < s->p->n; i++) {
		if (s->in_service[i] > out->peak_instances[i])
			out->peak_instances[i] = s->in_service[i];
		if (!s->in_service[i])
			continue;
		if (load > out->worst_load[i])
			out->worst_load[i] = load;
		out->mean_load[i] += load;
		mean_n[i]++;
		if (load > 1 + 1e-9)
			out->over_knee_s[i]++;
	}
	if (s->deficit > 0)
		out->unavailable_s++;
	if (s->queue > out->worst_queue)
		out->worst_queue = s->queue;
	out->failed += failed;
	out->arrived += rate;
	out->instance_hours += desired(s) / 3600.0;
}

static int check(const struct kc_pools_sim_in *in, const struct kc_plan_model *m,
		 struct kc_diag *d)
{
	if (!in->traffic || !in->pools || in->pools->n < 1)
		return kc_diag_set(d, KC_EINVAL, "no traffic shape or no pools");
	if (!(in->target_rps > 0))
		return kc_diag_set(d, KC_EINVAL, "the target must be > 0 RPS per instance");
	if (in->min_cap < 1 || in->max_cap < in->min_cap || in->max_cap > KC_PLAN_MAX_CAPACITY)
		return kc_diag_set(d, KC_EINVAL,
				   "capacity must satisfy 1 <= MinCapacity (%d) <= MaxCapacity (%d) <= %d",
				   in->min_cap, in->max_cap, KC_PLAN_MAX_CAPACITY);
	if (m->period_s < 1 || DAY % m->period_s || m->high_datapoints < 1 ||
	    m->low_datapoints < 1 || m->high_datapoints > NDP / 2 || m->low_datapoints > NDP / 2 ||
	    m->publish_lag_s < 0 || m->publish_lag_s > 3600 ||
	    !(m->low_ratio > 0 && m->low_ratio <= 1) || m->provision_s < 0 ||
	    m->provision_s > 7200 || m->timeout_s < 1 || m->scale_out_cooldown_s < 0 ||
	    m->scale_in_cooldown_s < 0)
		return kc_diag_set(d, KC_EINVAL, "a model assumption is out of range");
	int avail = 0;
	for (size_t i = 0; i < in->pools->n; i++) {
		if (in->pools->pool[i].available < 0)
			return KC_OK;
		avail += in->pools->pool[i].available;
	}
	if (avail < in->min_cap)
		return kc_diag_set(d, KC_EINVAL,
				   "the pools have %d instances available, fewer than MinCapacity %d",
				   avail, in->min_cap);
	return KC_OK;
}

int kc_pools_simulate(const struct kc_pools_sim_in *in, enum kc_pools_policy policy,
		      const struct kc_plan_model *m, struct kc_pools_sim_out *out,
		      struct kc_diag *d)
{
	KC_ASSERT(in && m && out);
	int rc = check(in, m, d);
	if (rc)
		return rc;
	struct psim *s = calloc(1, sizeof(*s));
	if (!s)
		return kc_diag_set(d, KC_ENOMEM, "out of memory for the simulation (%zu bytes)",
				   sizeof(*s));
	s->in = in;
	s->p = in->pools;
	s->m = m;
	s->policy = policy;
	s->target = in->target_rps * (double)m->period_s;
	s->last_out_s = s->last_in_s = INT64_MIN / 2;
	/* MinCapacity at the start, from the pools in priority order. */
	add_instances(s, in->min_cap, 0);
	for (int k = 0; k < s->npending; k++)
		s->ready_s[k] = 0;
	land_pending(s, 0);

	struct kc_pools_sim_out r;
	memset(&r, 0, sizeof(r));
	int64_t mean_n[KC_POOLS_MAX] = {0};
	for (int64_t t = 0; t < DAY; t++)
		step(s, t, NULL, NULL);
	for (int64_t t = DAY; t < 2 * DAY; t++)
		step(s, t, &r, mean_n);
	for (size_t i = 0; i < s->p->n; i++) {
		r.mean_load[i] = mean_n[i] ? r.mean_load[i] / (double)mean_n[i] : 0;
		r.end_instances[i] = s->in_service[i];
	}
	free(s);
	*out = r;
	return KC_OK;
}
