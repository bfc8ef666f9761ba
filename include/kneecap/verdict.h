/*
 * verdict.h - a search's conclusion for people and for result.json: the
 * knee's explanation and notes, the `knee`, `recommendation`, per-step
 * `verdict` and `confirm` objects.
 *
 * Pure: text and jansson objects out.  Thread-safe.
 */
#ifndef KNEECAP_VERDICT_H
#define KNEECAP_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "kneecap/confirm.h"
#include "kneecap/knee.h"
#include "kneecap/recommend.h"
#include "kneecap/search.h"

struct kc_buf;

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

/*
 * result.json `confirm`: {offered, per_instance, instances, target_value,
 * arrived, achieved, latency_ms{p50,p90,p99,p999,max,mean}, errors,
 * duration_s, verdict, healthy, verdict_detail{...}}.  New reference, NULL
 * when out of memory.
 */
json_t *kc_confirm_to_json(const struct kc_confirm *c);

#endif
