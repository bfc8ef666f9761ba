/*
 * plan.h - the capacity planner: SageMaker target-tracking autoscaling
 * simulated second by second against a traffic shape (traffic.h), using
 * the knee measured by `kneecap find` as each instance's ceiling.
 *
 * Everything the simulator assumes beyond published facts is a field of
 * struct kc_plan_model, set by kc_plan_model_default() to the values in
 * ../shared/spec/autoscaling.md §6/§10 and overridable by the user; reports
 * label them "model assumptions".  Pure computation: no I/O, no clocks, no
 * threads; deterministic for the same input.
 */
#ifndef KNEECAP_PLAN_H
#define KNEECAP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/traffic.h"

struct kc_diag;

#define KC_PLAN_MAX_CAPACITY 1000  /* instances; far above any one variant */
#define KC_PLAN_MAX_SCHED 16       /* scheduled actions per plan */
#define KC_PLAN_MAX_CURVE 64       /* latency-curve points */

/* Which metric the target-tracking policy watches. */
enum kc_plan_metric {
	/* SageMakerVariantInvocationsPerInstance: 60 s Sum per instance. */
	KC_PLAN_STANDARD,
	/* SageMakerVariantConcurrentRequestsPerModelHighResolution: 10 s Max of
	 * in-flight requests (queued included) per instance. */
	KC_PLAN_HIGHRES,
};

/* The alarm and provisioning model for one metric.  Times in seconds. */
struct kc_plan_model {
	int64_t period_s;           /* metric period: 60 standard, 10 high-res */
	int64_t publish_lag_s;      /* datapoint visible this long after its period ends */
	int high_datapoints;        /* consecutive periods above target to scale out */
	int low_datapoints;         /* consecutive periods below low_ratio*target to scale in */
	double low_ratio;           /* 0.9 */
	int64_t provision_s;        /* request -> InService */
	int64_t scale_out_cooldown_s;
	int64_t scale_in_cooldown_s;
	int64_t timeout_s;          /* a request queued longer fails (SageMaker: 60 s) */
};

/*
 * Fills m with the defaults for metric: standard 60 s period, 3 high / 15
 * low datapoints; high-res 10 s period, 6 high (one minute) / 90 low; both
 * 60 s publication lag, 0.9 low ratio, cooldowns 60 s out / 300 s in, 60 s
 * timeout, and provision_s as given (the caller picks it per instance
 * family, spec §3: ~300 s GPU, ~180 s CPU).
 */
void kc_plan_model_default(struct kc_plan_model *m, enum kc_plan_metric metric,
			   int64_t provision_s);

/*
 * A scheduled action (cron-like): at minute `minute` of every hour matching
 * `hour` (-1 = every hour; hour_step > 1 = every hour_step hours starting at
 * hour), set MinCapacity (and MaxCapacity when max_cap > 0).
 */
struct kc_plan_sched {
	char name[48];
	int minute;        /* 0..59 */
	int hour;          /* -1 or 0..23 */
	int hour_step;     /* 0/1 = no step */
	int min_cap;       /* >= 1 */
	int max_cap;       /* 0 = leave MaxCapacity */
};

/*
 * Parses "cron(M H * * ? *) min N [max N]" (AWS's six-field cron; only
 * minute and hour may be other than * or ?; H may be *, N or N/STEP).
 * Returns 0 or KC_EINVAL with d->msg set.  *out untouched on failure.
 */
int kc_plan_sched_parse(const char *text, struct kc_plan_sched *out,
			struct kc_diag *d);

/* Writes the AWS schedule expression ("cron(58 * * * ? *)") into out. */
char *kc_plan_sched_cron(const struct kc_plan_sched *s, char *out, size_t outsz);

/* What the planner needs to know about the endpoint and the policy. */
struct kc_plan_input {
	const struct kc_traffic *traffic;  /* borrowed */
	double ceiling_rps;        /* knee per instance, requests/second (> 0) */
	double target_rps;         /* target-tracking target per instance, RPS (> 0) */
	double service_s;          /* per-request service time at low load, for the
	                              concurrency metric (Little's law) */
	int min_cap, max_cap;      /* 1 <= min <= max <= KC_PLAN_MAX_CAPACITY */
	double price_usd_per_hour; /* < 0 = unknown */
	double slo_ms;             /* p99 SLO for "time over SLO" */
	/* Measured p99 (ms) against per-instance load (RPS), ascending load;
	 * used below the ceiling; queueing delay is added on top. */
	size_t ncurve;
	double curve_rps[KC_PLAN_MAX_CURVE];
	double curve_p99_ms[KC_PLAN_MAX_CURVE];
	/* The standard metric counts the requests served, not those arriving:
	 * a utilisation (CPU, GPU) grows with completed work and stops at the
	 * ceiling, so a target above what the ceiling produces never fires.
	 * target_rps is then the per-instance load at which it reaches its
	 * target.  false for InvocationsPerInstance. */
	bool metric_served;
};

/* One simulated second. */
struct kc_plan_sample {
	float rate_rps;       /* arrivals */
	float capacity_rps;   /* in-service instances x ceiling */
	float queue;          /* requests waiting */
	float p99_ms;         /* approximate p99 of requests arriving now */
	uint16_t in_service;
	uint16_t pending;     /* requested, not yet InService */
	uint16_t min_cap;     /* MinCapacity in force */
};

/* The outcome of one simulated day (the second of two, so state is warm). */
struct kc_plan_run {
	enum kc_plan_metric metric;
	size_t nsched;
	struct kc_plan_sched sched[KC_PLAN_MAX_SCHED];
	struct kc_plan_sample *tl;      /* KC_TRAFFIC_DAY_S samples; owned */
	double worst_queue;             /* requests */
	int64_t worst_queue_at_s;       /* second of day */
	double worst_wait_s;            /* longest queueing delay */
	double worst_p99_ms;
	int64_t queue_s;                /* seconds with >= 1 request queued */
	int64_t longest_queue_window_s; /* longest run of such seconds */
	int64_t over_slo_s;             /* seconds whose p99 is over the SLO */
	double wait_request_s;          /* total queueing delay: sum of queue over seconds */
	double failed;                  /* requests that waited past timeout_s */
	double arrived;                 /* requests over the day */
	double instance_hours;          /* billed (requested through released) */
	double cost_usd_per_day;        /* < 0 when the price is unknown */
	int max_instances;              /* most in service */
	int max_desired;                /* most requested by the policy */
	int64_t scale_out_lag_s;        /* worst: load above target -> new instance InService; -1 none */
	int scale_outs;                 /* policy scale-out activities */
};

/*
 * Simulates two days in one-second steps and keeps the second.  Target
 * tracking follows spec §6: per-period datapoints visible after the
 * publication lag, AlarmHigh after high_datapoints breaching periods,
 * AlarmLow after low_datapoints under low_ratio x target, desired =
 * ceil(instances x metric / target) clamped to [Min, Max], pending
 * instances counted as already added, cooldowns as documented (A1),
 * scheduled actions acting immediately.  Arrivals above capacity queue
 * (fluid FIFO) and drain at capacity; requests queued past timeout_s fail.
 * Returns 0, KC_EINVAL (d says which input), KC_ENOMEM.  On success
 * *out owns a timeline; free it with kc_plan_run_fini().
 */
int kc_plan_simulate(const struct kc_plan_input *in, enum kc_plan_metric metric,
		     const struct kc_plan_model *model,
		     const struct kc_plan_sched *sched, size_t nsched,
		     struct kc_plan_run *out, struct kc_diag *d);

/* Frees the timeline; r may be NULL. */
void kc_plan_run_fini(struct kc_plan_run *r);

/* What the planner recommends, from the traffic shape and the input. */
struct kc_plan_advice {
	double peak_rps, low_rps, baseline_rps;
	int needed_at_peak;        /* ceil(peak / target): what target tracking wants */
	int needed_at_ceiling;     /* ceil(peak / ceiling): the least that avoids queueing */
	bool exceeds_max;          /* peak > max_cap x ceiling */
	int min_cap, max_cap;      /* recommended */
	bool min_for_peaks;        /* min_cap raised to carry sub-hourly peaks */
	size_t nsched;             /* recommended pre-warm / relax actions */
	struct kc_plan_sched sched[KC_PLAN_MAX_SCHED];
	int64_t lead_s;            /* pre-warm lead before each spike */
	/* Derived factor (fraction of the ceiling used as target). */
	double steepest_ramp_rps_per_s;
	int64_t lag_s;             /* detection + provisioning used */
	double factor_derived;     /* largest factor keeping arrivals under the knee; 0 if none */
	int factor_instances;      /* baseline fleet that factor implies */
	char reason[320];          /* one sentence */
};

/*
 * Computes the advice.  lag_s is the scale-out lag to assume (from a
 * reactive simulation's scale_out_lag_s, or detection + provisioning when
 * none was observed).  Pure arithmetic on the shape; never fails.
 */
void kc_plan_advise(const struct kc_plan_input *in, const struct kc_plan_model *model,
		    int64_t lag_s, struct kc_plan_advice *out);

/* Scale-out lag with no simulation: alarm window + one period + publication lag + provisioning. */
int64_t kc_plan_nominal_lag_s(const struct kc_plan_model *m);

#endif
