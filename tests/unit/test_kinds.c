/* test_kinds.c - the scalable target's kind (issue 18): an inference
 * component's per-copy target, resource and dimension; serverless
 * provisioned concurrency; scale to zero in apply.sh and in the planner's
 * scale-to-zero model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/planzero.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/scenario.h"
#include "kneecap/traffic.h"

static struct kc_knee knee(double value)
{
	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.mode = KC_MODE_RPS;
	k.found = true;
	k.value = value;
	k.end = KC_END_CONVERGED;
	k.ended_by = KC_VERDICT_INFLIGHT_GROWTH;
	return k;
}

static void component_cfg(struct kc_recommend_cfg *c)
{
	kc_recommend_cfg_default(c);
	c->kind = KC_RES_COMPONENT;
	snprintf(c->component, sizeof(c->component), "tagger-ic");
	c->copies = 2;
}

static void test_table(void **state)
{
	(void)state;
	assert_string_equal(kc_resource_dimension(KC_RES_VARIANT),
			    "sagemaker:variant:DesiredInstanceCount");
	assert_string_equal(kc_resource_dimension(KC_RES_COMPONENT),
			    "sagemaker:inference-component:DesiredCopyCount");
	assert_string_equal(kc_resource_dimension(KC_RES_SERVERLESS),
			    "sagemaker:variant:DesiredProvisionedConcurrency");
	enum kc_resource_kind k;
	assert_int_equal(kc_resource_kind_parse("serverless", &k), KC_OK);
	assert_int_equal(k, KC_RES_SERVERLESS);
	assert_int_equal(kc_resource_kind_parse("lambda", &k), KC_EINVAL);
	enum kc_metric m;
	assert_int_equal(kc_metric_parse("SageMakerInferenceComponentInvocationsPerCopy", &m), KC_OK);
	assert_int_equal(m, KC_METRIC_INVOCATIONS);
}

static void test_component_per_copy(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	component_cfg(&c);
	struct kc_knee k = knee(200); /* 2 copies: 100 per copy */
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(fabs(r.knee_per_instance - 100) < 1e-9);
	assert_true(fabs(r.target_value - 4500) < 1e-9);
	assert_string_equal(kc_rec_metric_name(&r), "SageMakerInferenceComponentInvocationsPerCopy");
	assert_string_equal(kc_rec_metric_unit(&r), "invocations/copy/minute");
	c.metric_set = true;
	c.metric = KC_METRIC_CONCURRENCY;
	assert_int_equal(kc_recommend_compute(&c, &k, 40, &r, NULL), KC_OK);
	assert_string_equal(kc_rec_metric_name(&r),
			    "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution");
	assert_true(fabs(r.target_value - 3.0) < 1e-9); /* 0.75 x 100 x 0.040 s */
}

static void test_serverless(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	c.kind = KC_RES_SERVERLESS;
	c.max_concurrency = 20;
	struct kc_knee k = knee(100);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(fabs(r.target_value - 0.75) < 1e-9);
	assert_true(fabs(r.knee_per_instance - 5) < 1e-9);
	assert_string_equal(kc_rec_metric_name(&r), "SageMakerVariantProvisionedConcurrencyUtilization");
	c.max_capacity = 201;
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_EINVAL);
	/* Provisioned concurrency cannot exceed the endpoint's MaxConcurrency. */
	c.max_capacity = 21;
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_EINVAL);
	c.max_capacity = 20;
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_OK);
}

static void test_validate_zero(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	c.min_capacity = 0;
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_EINVAL); /* a variant keeps one */
	component_cfg(&c);
	c.min_capacity = 0;
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_OK);
	c.component[0] = '\0';
	assert_int_equal(kc_recommend_cfg_validate(&c, NULL), KC_EINVAL);
}

static void test_apply_sh_zero(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	component_cfg(&c);
	c.min_capacity = 0;
	struct kc_knee k = knee(200);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_recommend_apply_sh(&c, &r, &b, NULL), KC_OK);
	const char *s = b.data;
	assert_non_null(strstr(s, "component='tagger-ic'\n"));
	assert_null(strstr(s, "ENDPOINT_NAME")); /* a component's resource needs no endpoint */
	assert_non_null(strstr(s, "--resource-id \"inference-component/${component}\""));
	assert_non_null(strstr(s, "--min-capacity '0'"));
	const char *step = strstr(s, "step_arn=$(aws application-autoscaling put-scaling-policy");
	const char *alarm = strstr(s, "aws cloudwatch put-metric-alarm");
	assert_non_null(step);
	assert_non_null(alarm);
	assert_true(step < alarm); /* the ARN exists before the alarm names it */
	assert_non_null(strstr(alarm, "--alarm-actions \"$step_arn\""));
	assert_non_null(strstr(alarm, "'NoCapacityInvocationFailures'"));
	assert_non_null(strstr(step, "\"ScalingAdjustment\":1"));
	kc_buf_reset(&b);
	c.min_capacity = 1;
	assert_int_equal(kc_recommend_apply_sh(&c, &r, &b, NULL), KC_OK);
	assert_null(strstr(b.data, "StepScaling"));
	kc_buf_fini(&b);
}

static void test_from_scenario(void **state)
{
	(void)state;
	struct kc_scenario *sc = NULL;
	static const char ini[] = "[target]\ninference_component = tagger-ic\n"
				  "[recommend]\ncopies = 3\nmin_capacity = 0\n";
	assert_int_equal(kc_scenario_parse(&sc, "ic.ini", ini, NULL), KC_OK);
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	assert_int_equal(kc_recommend_cfg_from_scenario(&c, sc, NULL), KC_OK);
	assert_int_equal(c.kind, KC_RES_COMPONENT);
	assert_string_equal(c.component, "tagger-ic");
	assert_int_equal(c.copies, 3);
	assert_int_equal(c.min_capacity, 0);
	kc_scenario_free(sc);
	static const char bad[] = "[recommend]\nendpoint_kind = fargate\n";
	assert_int_equal(kc_scenario_parse(&sc, "bad.ini", bad, NULL), KC_OK);
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_recommend_cfg_from_scenario(&c, sc, &d), KC_EINVAL);
	assert_int_equal(d.line, 2);
	assert_string_equal(d.key, "endpoint_kind");
	kc_scenario_free(sc);
}

static void test_planzero(void **state)
{
	(void)state;
	/* 10 RPS, nothing from 01:00 to 05:00: one idle window, one wake. */
	static const char ini[] = "[traffic]\nbaseline = 10\ntrough = 0 from 01:00 to 05:00\n";
	struct kc_scenario *sc = NULL;
	assert_int_equal(kc_scenario_parse(&sc, "z.ini", ini, NULL), KC_OK);
	struct kc_traffic *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	assert_int_equal(kc_traffic_from_scenario(t, sc, NULL), KC_OK);
	struct kc_plan_zero_input in = {.traffic = t, .idle_to_zero_s = 960, .detect_s = 120,
					.provision_s = 300, .usd_per_copy_hour = 2.0};
	struct kc_plan_zero z;
	assert_int_equal(kc_plan_zero_simulate(&in, &z, NULL), KC_OK);
	assert_int_equal(z.wakes, 1);
	assert_int_equal(z.cold_s, 420);
	assert_int_equal(z.worst_cold_s, 420);
	assert_true(fabs(z.failed - 4200) < 1e-6);          /* 420 s x 10 RPS */
	assert_int_equal(z.zero_s, 4 * 3600 - 960 + 120);   /* idle after 16 min, + the alarm */
	assert_true(fabs(z.saved_usd_per_day - 2.0 * z.zero_s / 3600.0) < 1e-9);
	in.idle_to_zero_s = 0;
	assert_int_equal(kc_plan_zero_simulate(&in, &z, NULL), KC_EINVAL);
	free(t);
	kc_scenario_free(sc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_component_per_copy),
		cmocka_unit_test(test_serverless),
		cmocka_unit_test(test_validate_zero),
		cmocka_unit_test(test_apply_sh_zero),
		cmocka_unit_test(test_from_scenario),
		cmocka_unit_test(test_planzero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
