/* test_confirm.c - the confirmation step: which rate it runs, that it is
 * judged exactly as a search step, its result.json object and its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/confirm.h"
#include "kneecap/verdict.h"

static struct kc_recommendation rec_inv(double tv, double load)
{
	struct kc_recommendation r;
	memset(&r, 0, sizeof(r));
	r.metric = KC_METRIC_INVOCATIONS;
	r.target_value = tv;
	r.target_load = load;
	return r;
}

/* A step at rate rps over 10 s that achieved ratio x of it with errs errors. */
static struct kc_step_result step(double rps, double ratio, uint64_t errs)
{
	struct kc_step_result s;
	memset(&s, 0, sizeof(s));
	s.offered = rps;
	s.duration_ns = 10000000000LL;
	s.scheduled = (uint64_t)(rps * 10);
	s.sent = s.scheduled;
	s.ok = (uint64_t)(rps * ratio * 10) - errs;
	s.completed = s.ok + errs;
	s.errors = errs;
	s.errclass[KC_EC_HTTP5XX] = errs;
	s.achieved = (double)s.ok / 10.0;
	s.latency = (struct kc_latency){.p50 = 41.0, .p90 = 60, .p99 = 80.5, .p999 = 90, .max = 95,
					.mean = 45, .count = (int64_t)s.completed};
	s.service = s.latency;
	s.inflight_start = s.inflight_end = 2;
	return s;
}

static void test_rate_follows_target_value(void **state)
{
	(void)state;
	/* 2250 invocations/instance/minute is 37.5 rps, not the unrounded load. */
	struct kc_recommendation r = rec_inv(2250, 37.6);
	assert_true(fabs(kc_confirm_rate_per_instance(&r) - 37.5) < 1e-9);
	r.metric = KC_METRIC_CONCURRENCY;
	r.target_value = 3.1;
	assert_true(fabs(kc_confirm_rate_per_instance(&r) - 37.6) < 1e-9);
}

static void test_plan_multi_instance(void **state)
{
	(void)state;
	struct kc_recommendation r = rec_inv(1200, 20);
	struct kc_confirm c;
	kc_confirm_plan(&c, &r, 3);
	assert_false(c.ran);
	assert_int_equal(c.instances, 3);
	assert_true(fabs(c.per_instance - 20) < 1e-9);
	assert_true(fabs(c.offered - 60) < 1e-9);
	kc_confirm_plan(&c, &r, 0);
	assert_int_equal(c.instances, 1);
	assert_true(fabs(c.offered - 20) < 1e-9);
}

static void test_judge_same_as_search(void **state)
{
	(void)state;
	struct kc_health_cfg h;
	kc_health_cfg_default(&h, KC_MODE_RPS);
	struct kc_recommendation r = rec_inv(2250, 37.5);
	struct kc_confirm c;
	struct kc_step_verdict v;

	struct kc_step_result ok = step(37.5, 1.0, 0);
	kc_confirm_plan(&c, &r, 1);
	kc_confirm_judge(&c, &h, &ok);
	kc_knee_judge(&h, &ok, &v);
	assert_true(c.ran);
	assert_int_equal(c.v.verdict, v.verdict);
	assert_true(c.healthy);

	struct kc_step_result slow = step(37.5, 0.8, 0);
	kc_confirm_judge(&c, &h, &slow);
	kc_knee_judge(&h, &slow, &v);
	assert_int_equal(c.v.verdict, v.verdict);
	assert_int_equal(c.v.verdict, KC_VERDICT_THROUGHPUT);
	assert_false(c.healthy);

	struct kc_step_result bad = step(37.5, 1.0, 40);
	kc_confirm_judge(&c, &h, &bad);
	assert_int_equal(c.v.verdict, KC_VERDICT_ERRORS);
	assert_false(c.healthy);

	struct kc_step_result gen = step(37.5, 1.0, 0);
	gen.generator_bound = true;
	kc_confirm_judge(&c, &h, &gen);
	assert_false(c.healthy);
}

static void test_json_and_line(void **state)
{
	(void)state;
	struct kc_health_cfg h;
	kc_health_cfg_default(&h, KC_MODE_RPS);
	struct kc_recommendation r = rec_inv(2250, 37.5);
	struct kc_confirm c;
	kc_confirm_plan(&c, &r, 2);
	struct kc_step_result s = step(75, 1.0, 0);
	kc_confirm_judge(&c, &h, &s);
	json_t *j = kc_confirm_to_json(&c);
	assert_non_null(j);
	assert_true(fabs(json_real_value(json_object_get(j, "offered")) - 75) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(j, "achieved")) - 75) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(json_object_get(j, "latency_ms"), "p99")) -
			 80.5) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "healthy");
	assert_true(json_is_true(json_object_get(j, "healthy")));
	json_decref(j);

	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_confirm_describe(&c, &b), 0);
	assert_non_null(strstr(b.data, "at TargetValue 2250 (37.50 RPS/instance x 2 instances = 75.00 RPS)"));
	assert_non_null(strstr(b.data, "p99 80.5 ms"));
	assert_non_null(strstr(b.data, "0 errors measured"));
	assert_null(strstr(b.data, "FAILED"));
	kc_buf_fini(&b);

	struct kc_step_result bad = step(75, 0.5, 0);
	kc_confirm_judge(&c, &h, &bad);
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_confirm_describe(&c, &b), 0);
	assert_non_null(strstr(b.data, "confirmation FAILED"));
	assert_non_null(strstr(b.data, "no scaling-policy.json or apply.sh written"));
	kc_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_follows_target_value),
		cmocka_unit_test(test_plan_multi_instance),
		cmocka_unit_test(test_judge_same_as_search),
		cmocka_unit_test(test_json_and_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
