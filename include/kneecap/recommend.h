/*
 * recommend.h - from a knee to autoscaling settings: the TargetValue in the
 * metric's units, its range and the capacity bounds.  The files and words
 * made from a recommendation live in the report layer (policy.h for
 * scaling-policy.json and apply.sh, verdict.h for the explanation and the
 * result.json objects).
 *
 * Pure: numbers in, numbers out; nothing is
 * written to disk or printed (the CLI does that).  Thread-safe: functions
 * touch only their arguments.
 */
#ifndef KNEECAP_RECOMMEND_H
#define KNEECAP_RECOMMEND_H

#include <stdbool.h>

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

/*
 * What the scalable target is (spec autoscaling.md §1.5, §2, §8): the
 * resource id, the scalable dimension, the predefined metrics and the unit
 * the knee is divided into all follow from it.
 */
enum kc_resource_kind {
	KC_RES_VARIANT,    /* endpoint/E/variant/V, DesiredInstanceCount, per instance */
	KC_RES_COMPONENT,  /* inference-component/NAME, DesiredCopyCount, per copy */
	KC_RES_SERVERLESS, /* endpoint/E/variant/V, DesiredProvisionedConcurrency */
	KC_RES_COUNT
};

/* "instance", "component" or "serverless" (the [recommend] endpoint_kind values). */
const char *kc_resource_kind_name(enum kc_resource_kind k);

/* Parses one of kc_resource_kind_name's words.  0 or KC_EINVAL. */
int kc_resource_kind_parse(const char *s, enum kc_resource_kind *out);

/* The ScalableDimension ("sagemaker:inference-component:DesiredCopyCount", ...). */
const char *kc_resource_dimension(enum kc_resource_kind k);

/* What one unit of capacity is called ("instance", "copy", "provisioned concurrency"). */
const char *kc_resource_unit(enum kc_resource_kind k);

/* AWS's suggested starting target as a fraction of the maximum (spec
 * autoscaling.md §4: SageMaker DG load-test page, CDK @default). */
#define KC_AWS_START_FACTOR 0.5

/* The PredefinedMetricType string. */
const char *kc_metric_name(enum kc_metric m);

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
	enum kc_resource_kind kind; /* variant; component when inference_component is set */
	char component[KC_NAME_MAX]; /* the inference component (kind component) */
	int copies;               /* component copies behind the endpoint during the test; 1 */
	int max_concurrency;      /* serverless: MaxConcurrency during the test; 1 */
	char policy_name[KC_POLICY_NAME_MAX]; /* "" = derived: kneecap-<metric>-<target> */
	double usd_per_hour;      /* the user's price (--price); < 0 = none: use the table */
	char region[64];          /* "" = the AWS CLI's default */
	char profile[128];        /* "" = the AWS CLI's default */
};

/* How many units of capacity carried the measured load: copies for a
 * component, max_concurrency for serverless, else instances. */
int kc_recommend_units(const struct kc_recommend_cfg *c);

/* Fills the defaults named above. */
void kc_recommend_cfg_default(struct kc_recommend_cfg *c);

/*
 * Checks c: factors in (0, 1] with low <= factor <= high, capacities
 * 1 <= min <= max (a component may scale to min 0; serverless provisioned
 * concurrency is 1..200), a component named when kind is component, cooldowns >= 0, instances >= 1, names matching
 * SageMaker's ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, policy name printable.
 * Returns 0 or KC_EINVAL with d naming the key.
 */
int kc_recommend_cfg_validate(const struct kc_recommend_cfg *c, struct kc_diag *d);

/*
 * Reads [recommend] from sc over c: factor, factor_low, factor_high, metric,
 * instances, instance_type, min_capacity, max_capacity, scale_out_cooldown,
 * scale_in_cooldown (durations, bare number = seconds), disable_scale_in,
 * endpoint_name, variant, policy_name, usd_per_hour (the price override),
 * endpoint_kind (instance|component|serverless), copies, max_concurrency,
 * and [target] inference_component (which makes the kind component unless
 * endpoint_kind says otherwise).  sc may be NULL.  Validates; errors
 * name "file:line: key: problem".  Returns 0 or KC_EINVAL; c untouched on
 * failure.
 */
int kc_recommend_cfg_from_scenario(struct kc_recommend_cfg *c, struct kc_scenario *sc,
				   struct kc_diag *d);

struct kc_recommendation {
	enum kc_load_mode mode;
	enum kc_metric metric;
	enum kc_resource_kind kind;
	double knee_per_instance;   /* rps or streams, per unit of capacity (instance,
				     * copy, or one serverless concurrency) */
	double factor, factor_low, factor_high;
	double target_load;         /* factor x knee per instance, rps or streams */
	/* In the metric's units (invocations/instance/minute, or concurrent
	 * requests/instance; per copy for a component; a utilization fraction
	 * for serverless), rounded down: to a whole invocation per minute,
	 * to 0.1 request, or to 0.01. */
	double target_value, target_low, target_high;
	double aws_start_value;     /* the same at AWS's suggested starting factor 0.5 */
	double latency_ms_at_knee;  /* rps + concurrency metric: Little's-law conversion used */
	bool lower_bound;           /* the knee was a lower bound (max reached, ...) */
};

/* The PredefinedMetricType of r (its kind's name for r->metric). */
const char *kc_rec_metric_name(const struct kc_recommendation *r);

/* The TargetValue unit of r in words ("invocations/copy/minute", ...). */
const char *kc_rec_metric_unit(const struct kc_recommendation *r);

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

#endif
