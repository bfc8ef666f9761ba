/*
 * test_signals.c - CloudWatch's query-protocol body and XML answer
 * (aws/cloudwatch.c), the per-step alignment and the signal table
 * (analysis/signals.c), the latency alarm's apply.sh lines (report/alarm.c)
 * and the planner's utilisation policy (plan.c metric_served).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/cloudwatch.h"
#include "kneecap/err.h"
#include "kneecap/policy.h"
#include "kneecap/signals.h"

static void test_body(void **state)
{
	(void)state;
	struct kc_cw_query q = {.id = "s0", .ns = "AWS/SageMaker", .metric = "ModelLatency",
				.stat = "p99", .period_s = 60, .endpoint = "my ep",
				.variant = "AllTraffic"};
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	struct kc_diag d;
	assert_int_equal(kc_cw_build_body(&q, 1, 1796612400, 1796616000, "tok/1", &b, &d), 0);
	assert_non_null(strstr(b.data, "Action=GetMetricData&Version=2010-08-01&StartTime="
				       "2026-12-07T03%3A00%3A00Z&EndTime=2026-12-07T04%3A00%3A00Z"));
	assert_non_null(strstr(b.data, "MetricDataQueries.member.1.MetricStat.Metric.Namespace="
				       "AWS%2FSageMaker"));
	assert_non_null(strstr(b.data, "Dimensions.member.1.Value=my%20ep"));
	assert_non_null(strstr(b.data, "MetricStat.Period=60"));
	assert_non_null(strstr(b.data, "&NextToken=tok%2F1"));
	kc_buf_reset(&b);
	strcpy(q.id, "Bad");
	assert_int_equal(kc_cw_build_body(&q, 1, 0, 60, NULL, &b, &d), KC_EINVAL);
	kc_buf_fini(&b);
}

static void test_parse(void **state)
{
	(void)state;
	const char *xml =
		"<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
		"<GetMetricDataResult><MetricDataResults>"
		"<member><Id>s1</Id><Timestamps><member>2026-12-07T03:00:00Z</member>"
		"<member>2026-12-07T03:01:00.000Z</member></Timestamps>"
		"<Values><member>1.5</member><member>2</member></Values>"
		"<StatusCode>PartialData</StatusCode></member>"
		"</MetricDataResults><NextToken>abc</NextToken></GetMetricDataResult>"
		"</GetMetricDataResponse>";
	struct kc_cw_series *s = calloc(2, sizeof(*s));
	size_t n = 0;
	char next[16];
	struct kc_diag d;
	assert_int_equal(kc_cw_parse_response(xml, strlen(xml), s, 2, &n, next, sizeof(next), &d),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(s[0].id, "s1");
	assert_string_equal(s[0].status, "PartialData");
	assert_string_equal(next, "abc");
	assert_int_equal(s[0].n, 2);
	assert_int_equal(s[0].ts[1], 1796612460);
	assert_true(s[0].val[0] == 1.5 && s[0].val[1] == 2.0);
	/* A second page appends to the same id. */
	assert_int_equal(kc_cw_parse_response(xml, strlen(xml), s, 2, &n, next, sizeof(next), &d),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].n, 4);
	assert_int_equal(kc_cw_parse_response("<x/>", 4, s, 2, &n, NULL, 0, &d), KC_EPARSE);
	char code[32], msg[64];
	const char *err = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
			  "<Message>no</Message></Error></ErrorResponse>";
	assert_int_equal(kc_cw_parse_error(err, strlen(err), code, sizeof(code), msg, sizeof(msg)),
			 0);
	assert_string_equal(code, "AccessDenied");
	free(s);
}

/* Steps of 3 s at loads 10..50 with 1 s periods; CPU 0.8%/rps, GPU 2%/rps
 * capped at 100, GPU memory flat. */
static void make_steps(struct kc_step_result *st, struct kc_cw_series *se, int n)
{
	memset(se, 0, sizeof(*se) * KC_SIG_COUNT);
	for (int i = 0; i < KC_SIG_COUNT; i++)
		snprintf(se[i].id, sizeof(se[i].id), "s%d", i);
	for (int k = 0; k < n; k++) {
		double load = 10.0 * (k + 1);
		memset(&st[k], 0, sizeof(st[k]));
		st[k].offered = st[k].achieved = load;
		st[k].start_wall_ms = 1796612400000LL + k * 3000 + 500; /* not on a period edge */
		st[k].duration_ns = 3000000000LL;
		for (int t = 0; t < 4; t++) {
			int64_t ts = 1796612400 + k * 3 + t;
			double v[KC_SIG_COUNT] = {0};
			v[KC_SIG_IPI] = v[KC_SIG_INVOCATIONS] = load;
			v[KC_SIG_CPU] = 0.8 * load;
			v[KC_SIG_GPU] = 2.0 * load > 100 ? 100 : 2.0 * load;
			v[KC_SIG_GPU_MEM] = 40;
			for (int i = 0; i < KC_SIG_COUNT; i++) {
				if (t == 3 || i == KC_SIG_MODEL_LATENCY)
					continue;
				se[i].ts[se[i].n] = ts;
				se[i].val[se[i].n++] = v[i];
			}
		}
	}
}

static void test_align_table(void **state)
{
	(void)state;
	struct kc_step_result st[5];
	struct kc_cw_series *se = calloc(KC_SIG_COUNT, sizeof(*se));
	make_steps(st, se, 5);
	struct kc_step_signals sig[5];
	kc_signals_align(se, KC_SIG_COUNT, 1, st, 5, sig);
	/* [x.5, x+3.5) holds the whole periods x+1 and x+2 only. */
	assert_int_equal(sig[0].periods, 2);
	assert_true(sig[2].have[KC_SIG_IPI]);
	assert_true(sig[2].v[KC_SIG_IPI] == 30 * 60.0); /* per minute */
	assert_false(sig[2].have[KC_SIG_MODEL_LATENCY]);
	double targets[KC_SIG_COUNT] = {0};
	targets[KC_SIG_CPU] = 70;
	targets[KC_SIG_GPU] = 70;
	struct kc_sig_row rows[KC_SIG_COUNT];
	kc_signals_table(st, sig, 5, 4, targets, rows);
	assert_true(rows[KC_SIG_CPU].have && rows[KC_SIG_CPU].at_knee == 40);
	assert_true(rows[KC_SIG_CPU].proportional);
	assert_true(rows[KC_SIG_CPU].judged && !rows[KC_SIG_CPU].fires);
	assert_true(rows[KC_SIG_GPU].fires);
	assert_false(rows[KC_SIG_GPU_MEM].proportional);
	assert_true(rows[KC_SIG_IPI].proportional);
	char line[200];
	kc_signals_sentence(&rows[KC_SIG_CPU], line, sizeof(line));
	assert_string_equal(line, "CPUUtilization reads 40% at the knee: a 70% target never "
				  "fires before saturation.");
	/* A step shorter than one period gets nothing, never a neighbour's numbers. */
	st[1].duration_ns = 400000000LL;
	kc_signals_align(se, KC_SIG_COUNT, 1, st, 5, sig);
	assert_int_equal(sig[1].periods, 0);
	assert_false(sig[1].have[KC_SIG_CPU]);
	free(se);
}

static void test_alarm(void **state)
{
	(void)state;
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	struct kc_alarm_cfg a = {.topic_arn = "arn:aws:sns:us-east-1:1:o'call",
				 .threshold_us = 250000, .why = "the SLO"};
	assert_int_equal(kc_alarm_apply_sh(&a, &b), 0);
	assert_non_null(strstr(b.data, "--threshold '250000'"));
	assert_non_null(strstr(b.data, "--extended-statistic 'p99'"));
	assert_non_null(strstr(b.data, "--alarm-actions 'arn:aws:sns:us-east-1:1:o'\\''call'"));
	assert_null(strstr(b.data, "autoscaling"));
	a.threshold_us = 0;
	assert_int_equal(kc_alarm_apply_sh(&a, &b), KC_EINVAL);
	kc_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_align_table),
		cmocka_unit_test(test_alarm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
