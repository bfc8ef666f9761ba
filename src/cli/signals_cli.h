/*
 * signals_cli.h - find's server-side signals: after the search, the
 * endpoint's own CloudWatch metrics for every step's window (GetMetricData,
 * cloudwatch.h), the team's current policy (--current-policy or
 * DescribeScalingPolicies), and the signal table at the knee.  Any failure
 * (no permission, no data) is one warning: the run goes on, its exit status
 * unchanged, and result.json says the signals are unavailable and why.
 */
#ifndef KNEECAP_CLI_SIGNALS_H
#define KNEECAP_CLI_SIGNALS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include "kneecap/policy.h"
#include "kneecap/signals.h"
#include "target.h"

struct cli_signals {
	bool asked;              /* a sagemaker: target: signals were read */
	bool available;          /* GetMetricData answered */
	char reason[600];        /* why not, when !available */
	int period_s;            /* the Period asked */
	double wait_s;           /* waited after the last step for publication */
	struct kc_step_signals *per_step; /* n of them, or NULL */
	size_t n;
	int short_steps;         /* steps with no whole period inside */
	bool have_table;
	struct kc_sig_row rows[KC_SIG_COUNT];
	char policy_metric[128]; /* the current policy, "" when unknown */
	double policy_target;
	const char *policy_source; /* "--current-policy", "DescribeScalingPolicies" */
};

/*
 * Reads the signals for steps[0..n) of target t (nothing unless it is a
 * sagemaker: target) and judges them at knee_step; ipi_target is the
 * recommended InvocationsPerInstance target (0: none).  Prints one warning
 * on stderr when they are unavailable (unless quiet).  Returns 0, or
 * KC_EINVAL for a bad option value (the caller's usage error).
 */
int cli_signals_collect(struct cli_signals *s, struct cli_target *t,
			const struct cli_target_opts *o, const struct kc_step_result *steps,
			size_t n, int knee_step, double ipi_target, bool quiet);
/* result.json's "signals" section; a new reference or NULL (not asked). */
json_t *cli_signals_json(const struct cli_signals *s);
/* Adds "signals" to each object of step_extra (find's per-step array). */
void cli_signals_steps_json(const struct cli_signals *s, json_t *step_extra);
/* The signal table and its verdicts for humans. */
void cli_signals_print(FILE *f, const struct cli_signals *s);
/* Frees what collect allocated. */
void cli_signals_fini(struct cli_signals *s);
/* Parses "METRIC=TARGET" (SageMakerVariant prefix allowed) into the signal
 * and target.  Returns 0 or KC_EINVAL. */
int cli_signals_parse_policy(const char *s, enum kc_sig *sig, double *target);
struct kc_alarm_cfg;
/*
 * apply.sh's latency alarm for --alarm-topic ARN (NULL: none, returns 1):
 * threshold the SLO when one is set (slo_ms > 0), else 2 x p99_ms, the p99
 * measured at the target (why says which, into why[whysz]).  Returns 0
 * with *a filled, 1 for no alarm (no topic, or neither an SLO nor a p99),
 * or KC_EINVAL (not an SNS topic ARN; printed).
 */
int cli_alarm_prepare(struct kc_alarm_cfg *a, const char *topic, double slo_ms, double p99_ms,
		      const char *p99_where, char *why, size_t whysz);
/* Checks find's signal and alarm options (--cloudwatch-period/-wait,
 * --current-policy, --alarm-topic) before any load.  Returns 0 or KC_EINVAL
 * (printed). */
int cli_signals_check(const struct cli_target_opts *o);

/* What find does after its search: the signals and the alarm. */
struct cli_find_tail {
	struct cli_signals signals;
	struct kc_alarm_cfg alarm;
	char why[160];
};
/*
 * Collects the signals (not when interrupted) and prepares the alarm from
 * the SLO (slo_ms > 0) or the p99 at the target (conf, when the
 * confirmation ran) or at the knee; *alarm_out is the alarm apply.sh ends
 * with, or NULL.  Options were checked by cli_signals_check.
 */
void cli_find_tail_run(struct cli_find_tail *ft, struct cli_target *t,
		       const struct cli_target_opts *o, double slo_ms,
		       const struct kc_step_result *steps, size_t n, int knee_step,
		       double ipi_target, const struct kc_latency *conf, bool quiet,
		       bool interrupted, const struct kc_alarm_cfg **alarm_out);
#endif
