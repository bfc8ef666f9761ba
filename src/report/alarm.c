/*
 * alarm.c - apply.sh's latency alarm: `aws cloudwatch put-metric-alarm` on
 * the variant's ModelLatency p99 that notifies an SNS topic and never
 * scales.  Why not scale on latency: it is a step function (flat until
 * saturation, then a cliff), which breaks target tracking's assumption of
 * a metric linear in capacity; a breach should page a human instead.
 * ModelLatency is published in MICROseconds, so the threshold is too.
 */
#include "kneecap/policy.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <stdio.h>
#include <string.h>

static int arg(struct kc_buf *b, const char *flag, const char *value)
{
	int rc = kc_buf_printf(b, " \\\n\t%s ", flag);
	return rc ? rc : kc_shell_quote(b, value);
}

int kc_alarm_apply_sh(const struct kc_alarm_cfg *a, struct kc_buf *out)
{
	if (!a || !a->topic_arn || !a->topic_arn[0] || !(a->threshold_us > 0))
		return KC_EINVAL;
	char thr[32], ms[32];
	snprintf(thr, sizeof(thr), "%.0f", a->threshold_us);
	snprintf(ms, sizeof(ms), "%.1f", a->threshold_us / 1000.0);
	int rc = kc_buf_printf(out,
		"\n# Page a human on latency, never scale on it: ModelLatency p99 above %s us\n"
		"# (%s ms; %s) for 3 of 3 one-minute periods notifies the\n"
		"# SNS topic.  The alarm has no scaling action.  ModelLatency is in\n"
		"# MICROseconds and counts the container's time only (not the network or\n"
		"# SageMaker's own overhead, which is OverheadLatency).\n"
		"aws cloudwatch put-metric-alarm",
		thr, ms, a->why ? a->why : "the latency objective");
	rc = rc ? rc : kc_buf_puts(out, " \\\n\t--alarm-name \"kneecap-${endpoint}-${variant}-"
					"ModelLatency-p99\"");
	rc = rc ? rc : arg(out, "--alarm-description",
			   "kneecap: ModelLatency p99 above the latency objective (page, do not scale)");
	rc = rc ? rc : arg(out, "--namespace", "AWS/SageMaker");
	rc = rc ? rc : arg(out, "--metric-name", "ModelLatency");
	rc = rc ? rc : kc_buf_puts(out, " \\\n\t--dimensions \"Name=EndpointName,Value=${endpoint}\" "
					"\"Name=VariantName,Value=${variant}\"");
	rc = rc ? rc : arg(out, "--extended-statistic", "p99");
	rc = rc ? rc : arg(out, "--period", "60");
	rc = rc ? rc : arg(out, "--evaluation-periods", "3");
	rc = rc ? rc : arg(out, "--datapoints-to-alarm", "3");
	rc = rc ? rc : arg(out, "--threshold", thr);
	rc = rc ? rc : arg(out, "--comparison-operator", "GreaterThanThreshold");
	rc = rc ? rc : arg(out, "--treat-missing-data", "notBreaching");
	rc = rc ? rc : arg(out, "--unit", "Microseconds");
	rc = rc ? rc : arg(out, "--alarm-actions", a->topic_arn);
	rc = rc ? rc : kc_buf_puts(out, "\n");
	return rc;
}
