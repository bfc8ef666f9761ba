/*
 * policy.h - scaling-policy.json and apply.sh from a recommendation.
 *
 * Pure: text and jansson objects out, nothing written to disk (the CLI's
 * writer does that).  Thread-safe: functions touch only their arguments.
 */
#ifndef KNEECAP_POLICY_H
#define KNEECAP_POLICY_H

#include <jansson.h>

#include "kneecap/recommend.h"

struct kc_buf;
struct kc_diag;

/*
 * The TargetTrackingScalingPolicyConfiguration object (new reference):
 * TargetValue, PredefinedMetricSpecification.PredefinedMetricType,
 * ScaleOutCooldown, ScaleInCooldown, DisableScaleIn (only when true).
 * NULL when out of memory.
 */
json_t *kc_recommend_policy(const struct kc_recommend_cfg *c,
			    const struct kc_recommendation *r);

/*
 * The StepScalingPolicyConfiguration that wakes an inference component
 * scaled to zero (spec autoscaling.md §1.5): ChangeInCapacity +1 copy when
 * its NoCapacityInvocationFailures alarm fires (any breach, Maximum),
 * Cooldown = the scale-out cooldown.  New reference; NULL when out of memory.
 */
json_t *kc_recommend_step_from_zero(const struct kc_recommend_cfg *c);

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
 * single-quoted.  With no endpoint name it requires $ENDPOINT_NAME (not
 * for a component: its resource id is inference-component/NAME).  A
 * component with min_capacity 0 also gets the StepScaling policy of
 * kc_recommend_step_from_zero and `aws cloudwatch put-metric-alarm` on
 * NoCapacityInvocationFailures whose AlarmActions is that policy's ARN,
 * captured from put-scaling-policy's output.
 * Returns 0, KC_EINVAL (c invalid, d says why), KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_apply_sh(const struct kc_recommend_cfg *c,
			  const struct kc_recommendation *r, struct kc_buf *out,
			  struct kc_diag *d);

/*
 * As kc_recommend_apply_sh, for a scaling-policy.json on a customized
 * metric (e.g. the capacity-weighted one of mixed instance pools): kind
 * names it in the derived policy name ("kneecap-KIND-TARGET"), unit says
 * what TargetValue counts in the header comment.  Same returns.
 */
int kc_recommend_apply_sh_custom(const struct kc_recommend_cfg *c,
				 const struct kc_recommendation *r, const char *kind,
				 const char *unit, struct kc_buf *out, struct kc_diag *d);

/*
 * Appends to an apply.sh from kc_recommend_apply_sh one put-scheduled-action
 * for the same resource: name, an AWS cron expression ("cron(58 * * * ? *)",
 * UTC) and the bounds it sets (max_cap 0 = MinCapacity only).  Every value
 * single-quoted.  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_recommend_apply_sh_scheduled(const struct kc_recommend_cfg *c, const char *name,
				    const char *cron, int min_cap, int max_cap,
				    struct kc_buf *out);

/* The latency alarm apply.sh may end with (alarm.c). */
struct kc_alarm_cfg {
	const char *topic_arn; /* SNS topic the alarm notifies (--alarm-topic) */
	double threshold_us;   /* ModelLatency p99 threshold, MICROseconds */
	const char *why;       /* where the threshold came from, for the comment */
};
/*
 * Appends to an apply.sh from kc_recommend_apply_sh one `aws cloudwatch
 * put-metric-alarm` on the variant's ModelLatency p99 (1-minute periods, 3
 * of 3 breaching) that notifies a->topic_arn and has no scaling action.
 * Returns 0, KC_EINVAL (no topic or threshold), KC_ENOMEM or KC_ELIMIT.
 */
int kc_alarm_apply_sh(const struct kc_alarm_cfg *a, struct kc_buf *out);
#endif
