/*
 * recommend.h - from a knee to autoscaling settings: the TargetValue in the
 * metric's units, scaling-policy.json, apply.sh, a short explanation, and
 * the result.json `knee` and `recommendation` objects.
 *
 * Pure: numbers and text in, text and jansson objects out; nothing is
 * written to disk or printed (the CLI does that).  Thread-safe: functions
 * touch only their arguments.
 */
#ifndef KNEECAP_RECOMMEND_H
#define KNEECAP_RECOMMEND_H

#include <stdbool.h>
#include <jansson.h>

#include "kneecap/knee.h"
#include "kneecap/search.h"

struct kc_buf;
struct kc_diag;
struct kc_scenario;

/* The Application Auto Scaling predefined metrics kneecap targets. */
enum kc_metric {
	KC_METRIC_INVOCATIONS,   /* SageMakerVariantInvocationsPerInstance: per instance per MINUTE */
	KC_METRIC_CONCURRENCY,   /* SageMakerVariantConcurrentRequestsPerModelHighResolution */
	KC_METRIC_COUNT
};

/* The PredefinedMetricType string. */
const char *kc_metric_name(enum kc_metric m);

/* The TargetValue unit in words ("invocations/instance/minute", "concurrent requests/instance"). */
const char *kc_metric_unit(enum kc_metric m);

/* Parses the full name or the short "invocations" / "concurrency". 0 or KC_EINVAL. */
int kc_metric_parse(const char *s, enum kc_metric *out);

#define KC_NAME_MAX 64     /* SageMaker endpoint/variant names: 1..63 characters */
#define KC_POLICY_NAME_MAX 256

struct kc_recommend_cfg {
	double factor;            /* 0.75: TargetValue = factor x knee per instance */
	double factor_low;        /* 0.70: the range printed beside the point */
	double factor_high;       /* 0.80 */
	bool metric_set;          /* false: invocations for rps, concurrency for streams */
	enum kc_metric metric;
	int instances;            /* instances behind the endpoint during the test; 1 */
	char instance_type[64];   /* label, e.g. "ml.g5.xlarge"; "" = unknown */
	int min_capacity;         /* 1 */
	int max_capacity;         /* 4 */
	int scale_out_cooldown_s; /* 60 */
	int scale_in_cooldown_s;  /* 300 */
	bool disable_scale_in;    /* false (omitted from the policy when false) */
	char endpoint_name[KC_NAME_MAX]; /* "" = apply.sh asks for $ENDPOINT_NAME */
	char variant[KC_NAME_MAX];       /* "AllTraffic" */
	char policy_name[KC_POLICY_NAME_MAX]; /* "" = derived: kneecap-<metric>-<target> */
	double usd_per_hour;      /* the user's price (--price); < 0 = none: use the table */
	char region[64];          /* "" = the AWS CLI's default */
	char profile[128];        /* "" = the AWS CLI's default */
};

/* Fills the defaults named above. */
void kc_recommend_cfg_default(struct kc_recommend_cfg *c);

/*
 * Checks c: factors in (0, 1] with low <= factor <= high, capacities
 * 1 <= min <= max, cooldowns >= 0, instances >= 1, names matching
 * SageMaker's ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, policy name printable.
 * Returns 0 or KC_EINVAL with d naming the key.
 */
int kc_recommend_cfg_validate(const struct kc_recommend_cfg *c, struct kc_diag *d);

/*
 * Reads [recommend] from sc over c: factor, factor_low, factor_high, metric,
 * instances, instance_type, min_capacity, max_capacity, scale_out_cooldown,
 * scale_in_cooldown (durations, bare number = seconds), disable_scale_in,
 * endpoint_name, variant, policy_name, usd_per_hour (the price override).  sc may be NULL.  Validates; errors
 * name "file:line: key: problem".  Returns 0 or KC_EINVAL; c untouched on
 * failure.
 */
int kc_recommend_cfg_from_scenario(struct kc_recommend_cfg *c, struct kc_scenario *sc,
				   struct kc_diag *d);

struct kc_recommendation {
	enum kc_load_mode mode;
	enum kc_metric metric;
	double knee_per_instance;   /* rps or streams, per instance */
	double factor, factor_low, factor_high;
	double target_load;         /* factor x knee per instance, rps or streams */
	/* In the metric's units (invocations/instance/minute, or concurrent
	 * requests/instance), rounded down: to a whole invocation per minute,
	 * or to 0.1 request. */
	double target_value, target_low, target_high;
	double aws_start_value;     /* the same at AWS's suggested starting factor 0.5 */
	double latency_ms_at_knee;  /* rps + concurrency metric: Little's-law conversion used */
	bool lower_bound;           /* the knee was a lower bound (max reached, ...) */
};

/*
 * Computes the recommendation for knee k.  latency_ms_at_knee is the mean
 * service latency at the knee step (needed only to turn an rps knee into a
 * concurrency target by Little's law; pass 0 otherwise).
 * Returns 0, KC_EINVAL (no knee found: d says why, from k->diagnosis) or
 * KC_EUNSUPPORTED (a streams knee has no invocation rate).  *out untouched
 * on failure.
 */
int kc_recommend_compute(const struct kc_recommend_cfg *c, const struct kc_knee *k,
			 double latency_ms_at_knee, struct kc_recommendation *out,
			 struct kc_diag *d);

/*
 * The TargetTrackingScalingPolicyConfiguration object (new reference):
 * TargetValue, PredefinedMetricSpecification.PredefinedMetricType,
 * ScaleOutCooldown, ScaleInCooldown, DisableScaleIn (only when true).
 * NULL when out of memory.
 */
json_t *kc_recommend_policy(const struct kc_recommend_cfg *c,
			    const struct kc_recommendation *r);

/*
 * scaling-policy.json as text (2-space indent, trailing newline), appended
 * to out.  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_policy_text(const struct kc_recommend_cfg *c,
			     const struct kc_recommendation *r, struct kc_buf *out);

/*
 * Appends s to out as one single-quoted POSIX shell word ('it'\''s').
 * Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_shell_quote(struct kc_buf *out, const char *s);

/*
 * apply.sh as text, appended to out: a `set -eu` POSIX shell script that
 * registers the scalable target (min/max capacity) and puts the policy from
 * file://scaling-policy.json (resolved next to the script).  Every value is
 * single-quoted.  With no endpoint name it requires $ENDPOINT_NAME.
 * Returns 0, KC_EINVAL (c invalid, d says why), KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_apply_sh(const struct kc_recommend_cfg *c,
			  const struct kc_recommendation *r, struct kc_buf *out,
			  struct kc_diag *d);

/*
 * Appends to an apply.sh from kc_recommend_apply_sh one put-scheduled-action
 * for the same resource: name, an AWS cron expression ("cron(58 * * * ? *)",
 * UTC) and the bounds it sets (max_cap 0 = MinCapacity only).  Every value
 * single-quoted.  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_apply_sh_scheduled(const struct kc_recommend_cfg *c, const char *name,
				    const char *cron, int min_cap, int max_cap,
				    struct kc_buf *out);

/*
 * A short explanation for the terminal, appended to out: the knee, what
 * ended the search, the target and its 70-80% range, why that range, and
 * how it compares with AWS's 0.5 starting factor.  r may be NULL (no knee:
 * then the diagnosis).  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_explain(const struct kc_recommend_cfg *c, const struct kc_knee *k,
			 const struct kc_knee_check *chk,
			 const struct kc_recommendation *r, struct kc_buf *out);

#define KC_KNEE_MAX_NOTES 6
#define KC_KNEE_NOTE_MAX 400

/*
 * The lines printed under the knee, which the report must carry too: the
 * search's warning ("a noisy step may have ended the search early"), the
 * latency inflation at the knee, Little's law and Kneedle.  Fills up to
 * cap notes; returns how many.
 */
size_t kc_knee_notes(const struct kc_knee *k, const struct kc_knee_check *chk,
		     char notes[][KC_KNEE_NOTE_MAX], size_t cap);

/* What set the knee's value, in words ("the highest healthy load", ...). */
void kc_knee_bound_note(const struct kc_knee *k, char *out, size_t n);

/* Why the target is 70-80% of the knee, one paragraph (as the terminal says it). */
const char *kc_recommend_why(void);

/*
 * result.json `knee`: {value, unit, per_instance, reason, end, ended_by,
 * lower_bound, upper, precision, steps, remeasures, diagnosis,
 * cross_checks{kneedle{found, offered, achieved}, latency_inflation{...},
 * little{...}}, bound, tested, knee_achieved, knee_unstable, bound_note,
 * notes[]}.  chk may be NULL.  New reference, NULL when out of memory.
 */
json_t *kc_knee_to_json(const struct kc_knee *k, const struct kc_knee_check *chk,
			int instances);

/*
 * result.json `recommendation`: {instance_type, metric, unit, factor,
 * target_value, target_low, target_high, factor_low, factor_high,
 * target_load, knee_per_instance, aws_start_factor, aws_start_value,
 * min_capacity, max_capacity, lower_bound, policy, why, endpoint_name (null
 * when not given), variant, region and profile (when given)}.  New reference.
 */
json_t *kc_recommend_to_json(const struct kc_recommend_cfg *c,
			     const struct kc_recommendation *r);

/*
 * One step's verdict: {verdict, valid, settled, generator_note,
 * achieved_ratio, error_rate, latency_ms, inflight_growth, inflight_tol}.
 * `settled` is false when a signal sat within the ambiguity band of its
 * threshold (the search measures such a load again); it was called
 * `stable` before, which read as the opposite of steps[].stable.
 */
json_t *kc_verdict_to_json(const struct kc_step_verdict *v);

/*
 * The keys a search adds to its step in result.json steps[]: stable (true
 * exactly when the verdict is healthy: one truth), verdict{} as above,
 * attempt, and `load_verdict` on a load's last attempt (the decision after
 * re-measures).  New reference, NULL when out of memory.
 */
json_t *kc_search_step_to_json(const struct kc_search_step *st);

#endif
