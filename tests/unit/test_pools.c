/* test_pools.c - mixed instance pools: the weights, the fallback simulation
 * (a fallback pool whose knee is 40% lower), and the policy and endpoint
 * config renderers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/plan.h"
#include "kneecap/pools.h"
#include "kneecap/poolspolicy.h"
#include "kneecap/recommend.h"
#include "kneecap/scenario.h"
#include "kneecap/traffic.h"

static void traffic_from(const char *text, struct kc_traffic *t)
{
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_scenario_parse(&sc, "t.ini", text, &d), KC_OK);
	assert_int_equal(kc_traffic_from_scenario(t, sc, &d), KC_OK);
	kc_scenario_free(sc);
}

/* ml.g6.2xlarge 40 RPS per instance, ml.g6e.2xlarge 24 (40% lower). */
static void two_pools(struct kc_pools *p)
{
	struct kc_diag d;
	memset(p, 0, sizeof(*p));
	assert_int_equal(kc_pools_add(p, "ml.g6.2xlarge", 40, &d), KC_OK);
	assert_int_equal(kc_pools_add(p, "ml.g6e.2xlarge", 24, &d), KC_OK);
}

static void test_weights(void **state)
{
	(void)state;
	struct kc_pools p;
	struct kc_diag d;
	two_pools(&p);
	assert_int_equal(p.n, 2);
	assert_true(fabs(p.pool[0].weight - 1.0) < 1e-12);
	assert_true(fabs(p.pool[1].weight - 0.6) < 1e-12);
	assert_int_equal(p.pool[1].available, -1);
	int counts[2] = {2, 5};
	assert_true(fabs(kc_pools_weighted_count(&p, counts) - 5.0) < 1e-9);
	assert_int_equal(kc_pools_find(&p, "ml.g6e.2xlarge"), 1);
	assert_int_equal(kc_pools_find(&p, "ml.g5.xlarge"), -1);
	/* One pool per type, a knee > 0, at most five. */
	assert_int_equal(kc_pools_add(&p, "ml.g6.2xlarge", 10, &d), KC_EINVAL);
	assert_int_equal(kc_pools_add(&p, "ml.g5.xlarge", 0, &d), KC_EINVAL);
	assert_int_equal(kc_pools_add(&p, "", 10, &d), KC_EINVAL);
	assert_int_equal(kc_pools_add(&p, "ml.g5.xlarge", 10, &d), KC_OK);
	assert_int_equal(kc_pools_add(&p, "ml.g5.2xlarge", 10, &d), KC_OK);
	assert_int_equal(kc_pools_add(&p, "ml.g5.4xlarge", 10, &d), KC_OK);
	assert_int_equal(kc_pools_add(&p, "ml.g5.8xlarge", 10, &d), KC_EINVAL);
	assert_true(fabs(p.pool[4].weight - 0.25) < 1e-12);
}

struct run {
	struct kc_traffic tr;
	struct kc_pools p;
	struct kc_plan_model m;
	struct kc_pools_sim_in in;
};

/* 300 RPS all day, TargetValue 1800/min (75% of the first knee), Min 2, Max 20. */
static void flat_day(struct run *r, int first_available)
{
	memset(r, 0, sizeof(*r));
	traffic_from("[traffic]\nbaseline = 300\n", &r->tr);
	two_pools(&r->p);
	r->p.pool[0].available = first_available;
	kc_plan_model_default(&r->m, KC_PLAN_STANDARD, 300);
	r->in = (struct kc_pools_sim_in){.traffic = &r->tr, .pools = &r->p, .target_rps = 30,
					 .min_cap = 2, .max_cap = 20};
}

/* Only two ml.g6.2xlarge to be had: the rest of the fleet is the fallback. */
static void test_fallback_unweighted_overloads(void **state)
{
	(void)state;
	struct run r;
	struct kc_pools_sim_out u, w;
	struct kc_diag d;
	flat_day(&r, 2);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_UNWEIGHTED, &r.m, &u, &d), KC_OK);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_OK);
	/* Per instance: 300 / 30 = 10 instances, 2 + 8 fallback, 272 RPS of
	 * capacity for 300 RPS: every instance at 110% of its knee all day. */
	assert_int_equal(u.peak_instances[0], 2);
	assert_int_equal(u.peak_instances[1], 8);
	assert_true(u.worst_load[1] > 1.09 && u.worst_load[1] < 1.12);
	assert_int_equal(u.over_knee_s[1], KC_TRAFFIC_DAY_S);
	assert_true(u.failed > 1e5);
	/* Weighted: 2 + 0.6 x n = 10 equivalents -> 14 fallback instances, 416
	 * RPS of capacity: 72% of the knee, the factor the target meant. */
	assert_int_equal(w.peak_instances[0], 2);
	assert_int_equal(w.peak_instances[1], 14);
	assert_true(w.worst_load[1] > 0.70 && w.worst_load[1] <= 0.75 + 1e-9);
	assert_int_equal(w.over_knee_s[0], 0);
	assert_int_equal(w.over_knee_s[1], 0);
	assert_true(w.failed == 0);
	assert_true(w.worst_queue == 0);
	assert_int_equal(w.unavailable_s, 0);
	assert_true(w.instance_hours > u.instance_hours);
}

/* No shortage: both policies keep to the first pool and agree. */
static void test_no_shortage_same(void **state)
{
	(void)state;
	struct run r;
	struct kc_pools_sim_out u, w;
	struct kc_diag d;
	flat_day(&r, -1);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_UNWEIGHTED, &r.m, &u, &d), KC_OK);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_OK);
	assert_int_equal(u.peak_instances[0], 10);
	assert_int_equal(u.peak_instances[1], 0);
	assert_int_equal(w.peak_instances[0], 10);
	assert_int_equal(w.peak_instances[1], 0);
	assert_true(fabs(u.worst_load[0] - 0.75) < 1e-9);
	assert_true(fabs(u.instance_hours - w.instance_hours) < 1e-9);
	assert_int_equal(u.over_knee_s[0], 0);
}

/* A slow day climb with a fallback shortage: reactive scaling keeps up,
 * so the weighted policy never crosses a knee; then the fallback is
 * released first when the climb ends. */
static void test_ramp_and_release(void **state)
{
	(void)state;
	struct run r;
	struct kc_pools_sim_out u, w;
	struct kc_diag d;
	flat_day(&r, 2);
	traffic_from("[traffic]\nbaseline = 60\npeak = 300 ramp 2h hold 4h down 2h every 1d at 08:00\n",
		     &r.tr);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_UNWEIGHTED, &r.m, &u, &d), KC_OK);
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_OK);
	assert_true(u.over_knee_s[1] > 3600);
	assert_true(u.worst_load[1] > 1.1);
	assert_int_equal(w.over_knee_s[1], 0);
	assert_true(w.worst_load[1] < 1.0);
	assert_true(w.failed == 0);
	/* The fallback pool carries the same fraction as the first pool. */
	assert_true(fabs(w.mean_load[0] - w.mean_load[1]) < 0.2);
	/* Back at the 60 RPS baseline, the fallback was released first (one
	 * stays: ceil(3 instances x 23 / 30) is still 3, as target tracking
	 * counts instances, not weights). */
	assert_true(w.peak_instances[1] >= 10);
	assert_int_equal(w.end_instances[0], 2);
	assert_int_equal(w.end_instances[1], 1);
}

/* Both pools capped: the policy wants more than there is. */
static void test_unavailable(void **state)
{
	(void)state;
	struct run r;
	struct kc_pools_sim_out w;
	struct kc_diag d;
	flat_day(&r, 2);
	r.p.pool[1].available = 3;
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_OK);
	assert_int_equal(w.peak_instances[1], 3);
	assert_true(w.unavailable_s > 0);
	assert_true(w.over_knee_s[1] > 0);
	/* Fewer instances available than MinCapacity is refused. */
	r.p.pool[1].available = 0;
	r.in.min_cap = 3;
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_EINVAL);
	r.in.min_cap = 2;
	r.in.target_rps = 0;
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_EINVAL);
}

/*
 * The build links this test with -Wl,--wrap=calloc: every calloc in it and
 * the static libraries comes here, and fails once when asked.
 */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
static int calloc_fail_next;
void *__wrap_calloc(size_t n, size_t size)
{
	if (calloc_fail_next) {
		calloc_fail_next = 0;
		return NULL;
	}
	return __real_calloc(n, size);
}

/* Out of memory is reported, with a message, not an empty diagnostic. */
static void test_out_of_memory(void **state)
{
	(void)state;
	struct run r;
	struct kc_pools_sim_out w;
	struct kc_diag d;
	flat_day(&r, 2);
	kc_diag_clear(&d);
	calloc_fail_next = 1;
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_ENOMEM);
	assert_int_equal(calloc_fail_next, 0);
	assert_non_null(strstr(d.msg, "out of memory"));
	/* And the next one, with memory, works. */
	assert_int_equal(kc_pools_simulate(&r.in, KC_POOLS_WEIGHTED, &r.m, &w, &d), KC_OK);
}

static void test_policy_json(void **state)
{
	(void)state;
	struct kc_pools p;
	two_pools(&p);
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	snprintf(c.endpoint_name, sizeof(c.endpoint_name), "stt");
	char expr[256];
	assert_string_equal(kc_pools_expression(&p, expr, sizeof(expr)),
			    "invocations / (n1 + 0.6 * n2)");
	json_t *pol = kc_pools_policy(&c, &p, 1800);
	assert_non_null(pol);
	assert_true(json_real_value(json_object_get(pol, "TargetValue")) == 1800);
	assert_null(json_object_get(pol, "PredefinedMetricSpecification"));
	json_t *q = json_object_get(json_object_get(pol, "CustomizedMetricSpecification"), "Metrics");
	assert_int_equal(json_array_size(q), 4);
	for (size_t i = 0; i < 4; i++) {
		json_t *e = json_array_get(q, i);
		assert_true(json_is_boolean(json_object_get(e, "ReturnData")));
		assert_int_equal(json_is_true(json_object_get(e, "ReturnData")), i == 3);
	}
	json_t *n2 = json_object_get(json_object_get(json_array_get(q, 2), "MetricStat"), "Metric");
	json_t *dims = json_object_get(n2, "Dimensions");
	assert_string_equal(json_string_value(json_object_get(n2, "Namespace")), KC_POOLS_NAMESPACE);
	assert_string_equal(json_string_value(json_object_get(json_array_get(dims, 2), "Value")),
			    "ml.g6e.2xlarge");
	json_decref(pol);

	json_t *ec = kc_pools_endpoint_config(&p, "stt-pools", "m", "AllTraffic", 2);
	json_t *v = json_array_get(json_object_get(ec, "ProductionVariants"), 0);
	json_t *ip = json_object_get(v, "InstancePools");
	assert_int_equal(json_array_size(ip), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ip, 1), "Priority")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ip, 1), "InstanceType")),
			    "ml.g6e.2xlarge");
	assert_null(json_object_get(v, "InstanceType"));
	json_decref(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_fallback_unweighted_overloads),
		cmocka_unit_test(test_no_shortage_same),
		cmocka_unit_test(test_ramp_and_release),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_policy_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
