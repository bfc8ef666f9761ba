/* test_recommend.c - TargetValue arithmetic and units, the policy JSON,
 * apply.sh quoting, the explanation and the result.json objects. */
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
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scenario.h"

static struct kc_knee knee(enum kc_load_mode mode, double value)
{
	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.mode = mode;
	k.found = true;
	k.value = value;
	k.upper = value * 1.03;
	k.end = KC_END_CONVERGED;
	k.ended_by = KC_VERDICT_INFLIGHT_GROWTH;
	k.steps = 6;
	k.precision = 0.03;
	return k;
}

static void test_metric_names(void **state)
{
	(void)state;
	assert_string_equal(kc_metric_name(KC_METRIC_INVOCATIONS),
			    "SageMakerVariantInvocationsPerInstance");
	assert_string_equal(kc_metric_name(KC_METRIC_CONCURRENCY),
			    "SageMakerVariantConcurrentRequestsPerModelHighResolution");
	enum kc_metric m = KC_METRIC_INVOCATIONS;
	assert_int_equal(kc_metric_parse("concurrency", &m), KC_OK);
	assert_int_equal(m, KC_METRIC_CONCURRENCY);
	assert_int_equal(kc_metric_parse("SageMakerVariantInvocationsPerInstance", &m), KC_OK);
	assert_int_equal(m, KC_METRIC_INVOCATIONS);
	assert_int_equal(kc_metric_parse("CPUUtilization", &m), KC_EINVAL);
}

static void test_seed_case(void **state)
{
	(void)state;
	/* The seed: ~50 rps per ml.g5.xlarge, 75% -> 2250 invocations/minute. */
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	struct kc_knee k = knee(KC_MODE_RPS, 50);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_int_equal(r.metric, KC_METRIC_INVOCATIONS);
	assert_true(r.target_value == 2250);
	assert_true(r.target_low == 2100);
	assert_true(r.target_high == 2400);
	assert_true(r.aws_start_value == 1500);
	assert_true(fabs(r.target_load - 37.5) < 1e-9);
	/* The spec's example: 40 rps -> 2400 at factor 1. */
	c.factor = c.factor_high = 1.0;
	k = knee(KC_MODE_RPS, 40);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(r.target_value == 2400);
	/* Rounded down, never up: 49.3 rps x 0.75 x 60 = 2218.5 -> 2218. */
	kc_recommend_cfg_default(&c);
	k = knee(KC_MODE_RPS, 49.3);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(r.target_value == 2218);
	/* The knee per instance is the figure every output prints, rounded
	 * down: 49.25 -> 49.2 (49.2 x 45 = 2214). */
	k = knee(KC_MODE_RPS, 49.25);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(r.knee_per_instance == 49.2);
	assert_true(r.target_value == 2214);
}

static void test_instances(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	c.instances = 2;
	struct kc_knee k = knee(KC_MODE_RPS, 400); /* two instances behind the endpoint */
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_true(r.knee_per_instance == 200);
	assert_true(r.target_value == 9000); /* 200 x 0.75 x 60 */
}

static void test_streams_and_concurrency(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	struct kc_knee k = knee(KC_MODE_STREAMS, 10);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	assert_int_equal(r.metric, KC_METRIC_CONCURRENCY);
	assert_true(r.target_value == 7.5);
	assert_true(r.target_low == 7.0 && r.target_high == 8.0); /* the seed's "7 or 8" */
	/* A streams knee has no invocation rate. */
	struct kc_diag d;
	kc_diag_clear(&d);
	c.metric_set = true;
	c.metric = KC_METRIC_INVOCATIONS;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, &d), KC_EUNSUPPORTED);
	/* An rps knee to a concurrency target: Little's law with the latency. */
	c.metric = KC_METRIC_CONCURRENCY;
	k = knee(KC_MODE_RPS, 50);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, &d), KC_EINVAL);
	assert_int_equal(kc_recommend_compute(&c, &k, 80, &r, &d), KC_OK);
	assert_true(r.target_value == 3.0); /* 37.5/s x 0.08 s */
	assert_true(r.latency_ms_at_knee == 80);
}

static void test_no_knee(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	struct kc_knee k = knee(KC_MODE_RPS, 0);
	k.found = false;
	k.end = KC_END_ALL_ERRORS;
	strcpy(k.diagnosis, "every request failed at 10 rps");
	struct kc_recommendation r;
	memset(&r, 0x5a, sizeof(r));
	struct kc_recommendation before = r;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "every request failed"));
	assert_memory_equal(&r, &before, sizeof(r));
	struct kc_buf b;
	kc_buf_init(&b, 4096);
	assert_int_equal(kc_recommend_explain(&c, &k, NULL, NULL, &b), KC_OK);
	assert_non_null(strstr(b.data, "No knee: every request failed"));
	kc_buf_fini(&b);
	/* A tiny knee whose target rounds to zero is refused, not emitted as 0. */
	k = knee(KC_MODE_RPS, 0.01);
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, &d), KC_EINVAL);
}

static void test_validate(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	struct kc_diag d;
	kc_diag_clear(&d);
	kc_recommend_cfg_default(&c);
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_OK);
	assert_true(c.usd_per_hour < 0); /* no price unless the user gives one */
	c.factor = 1.2;
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "factor");
	kc_recommend_cfg_default(&c);
	c.factor = 0;
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_EINVAL);
	kc_recommend_cfg_default(&c);
	c.factor_low = 0.78;
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "factor_low");
	kc_recommend_cfg_default(&c);
	c.max_capacity = 0;
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "max_capacity");
	kc_recommend_cfg_default(&c);
	strcpy(c.endpoint_name, "my endpoint;rm -rf /");
	assert_int_equal(kc_recommend_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "endpoint_name");
	assert_true(kc_sagemaker_name_valid("product-tagger"));
	assert_true(kc_sagemaker_name_valid("a--b"));
	assert_false(kc_sagemaker_name_valid("-a"));
	assert_false(kc_sagemaker_name_valid("a-"));
	assert_false(kc_sagemaker_name_valid("a_b"));
	assert_false(kc_sagemaker_name_valid(""));
	char longname[80];
	memset(longname, 'a', 64);
	longname[64] = '\0';
	assert_false(kc_sagemaker_name_valid(longname));
	longname[63] = '\0';
	assert_true(kc_sagemaker_name_valid(longname));
}

static void test_policy_json(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	struct kc_knee k = knee(KC_MODE_RPS, 50);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	struct kc_buf b;
	kc_buf_init(&b, 4096);
	assert_int_equal(kc_recommend_policy_text(&c, &r, &b), KC_OK);
	json_error_t e;
	json_t *p = json_loads(b.data, 0, &e);
	assert_non_null(p);
	assert_true(json_real_value(json_object_get(p, "TargetValue")) == 2250.0);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(p, "PredefinedMetricSpecification"), "PredefinedMetricType")),
		"SageMakerVariantInvocationsPerInstance");
	assert_int_equal(json_integer_value(json_object_get(p, "ScaleOutCooldown")), 60);
	assert_int_equal(json_integer_value(json_object_get(p, "ScaleInCooldown")), 300);
	assert_null(json_object_get(p, "DisableScaleIn"));
	assert_int_equal(json_object_size(p), 4);
	json_decref(p);
	c.disable_scale_in = true;
	kc_buf_reset(&b);
	assert_int_equal(kc_recommend_policy_text(&c, &r, &b), KC_OK);
	p = json_loads(b.data, 0, &e);
	assert_true(json_is_true(json_object_get(p, "DisableScaleIn")));
	json_decref(p);
	kc_buf_fini(&b);
}

static void test_shell_quote(void **state)
{
	(void)state;
	struct kc_buf b;
	kc_buf_init(&b, 1024);
	assert_int_equal(kc_shell_quote(&b, "it's a \"test\" $HOME `x` \\"), KC_OK);
	assert_string_equal(b.data, "'it'\\''s a \"test\" $HOME `x` \\'");
	kc_buf_reset(&b);
	assert_int_equal(kc_shell_quote(&b, ""), KC_OK);
	assert_string_equal(b.data, "''");
	kc_buf_fini(&b);
}

static void test_apply_sh(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	strcpy(c.endpoint_name, "product-tagger");
	strcpy(c.region, "us-east-1");
	strcpy(c.profile, "team's profile");
	c.min_capacity = 2;
	c.max_capacity = 8;
	struct kc_knee k = knee(KC_MODE_RPS, 50);
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	struct kc_buf b;
	kc_buf_init(&b, 8192);
	assert_int_equal(kc_recommend_apply_sh(&c, &r, &b, NULL), KC_OK);
	assert_true(strncmp(b.data, "#!/bin/sh\n", 10) == 0);
	assert_non_null(strstr(b.data, "\nset -eu\n"));
	assert_non_null(strstr(b.data, "endpoint='product-tagger'\n"));
	assert_non_null(strstr(b.data, "variant='AllTraffic'\n"));
	assert_non_null(strstr(b.data, "aws application-autoscaling register-scalable-target"));
	assert_non_null(strstr(b.data, "--service-namespace 'sagemaker'"));
	assert_non_null(strstr(b.data, "--scalable-dimension 'sagemaker:variant:DesiredInstanceCount'"));
	assert_non_null(strstr(b.data, "--min-capacity '2'"));
	assert_non_null(strstr(b.data, "--max-capacity '8'"));
	assert_non_null(strstr(b.data, "--profile 'team'\\''s profile'"));
	assert_non_null(strstr(b.data, "--region 'us-east-1'"));
	assert_non_null(strstr(b.data, "--policy-type 'TargetTrackingScaling'"));
	assert_non_null(strstr(b.data,
		"--target-tracking-scaling-policy-configuration 'file://scaling-policy.json'"));
	assert_non_null(strstr(b.data, "--policy-name 'kneecap-invocations-2250'"));
	/* No endpoint name: the script demands ENDPOINT_NAME rather than
	 * guessing one. */
	c.endpoint_name[0] = '\0';
	kc_buf_reset(&b);
	assert_int_equal(kc_recommend_apply_sh(&c, &r, &b, NULL), KC_OK);
	assert_non_null(strstr(b.data, "${ENDPOINT_NAME:?"));
	/* An invalid name is refused, not quoted into a script. */
	strcpy(c.variant, "All Traffic");
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_recommend_apply_sh(&c, &r, &b, &d), KC_EINVAL);
	assert_string_equal(d.key, "variant");
	kc_buf_fini(&b);
}

static void test_explain_and_json(void **state)
{
	(void)state;
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	strcpy(c.instance_type, "ml.g5.xlarge");
	struct kc_knee k = knee(KC_MODE_RPS, 50);
	struct kc_knee_check chk;
	memset(&chk, 0, sizeof(chk));
	chk.inflation_set = true;
	chk.latency_inflation = 2.5;
	chk.latency_mean_knee_ms = 90;
	chk.latency_mean_low_ms = 36;
	chk.little_set = true;
	chk.little_observed = 4.4;
	chk.little_predicted = 4.5;
	chk.little_ratio = 4.4 / 4.5;
	chk.little_consistent = true;
	struct kc_recommendation r;
	assert_int_equal(kc_recommend_compute(&c, &k, 0, &r, NULL), KC_OK);
	struct kc_buf b;
	kc_buf_init(&b, 8192);
	assert_int_equal(kc_recommend_explain(&c, &k, &chk, &r, &b), KC_OK);
	assert_non_null(strstr(b.data, "Knee: 50 rps"));
	assert_non_null(strstr(b.data, "inflight_growth"));
	assert_non_null(strstr(b.data, "TargetValue 2250"));
	assert_non_null(strstr(b.data, "range 70-80%: 2100-2400"));
	assert_non_null(strstr(b.data, "0.5"));
	assert_non_null(strstr(b.data, "2.50x"));
	kc_buf_fini(&b);

	json_t *kj = kc_knee_to_json(&k, &chk, 1);
	assert_non_null(kj);
	assert_true(json_real_value(json_object_get(kj, "value")) == 50);
	assert_string_equal(json_string_value(json_object_get(kj, "unit")), "rps");
	assert_true(json_real_value(json_object_get(kj, "per_instance")) == 50);
	assert_string_equal(json_string_value(json_object_get(kj, "reason")), "inflight_growth");
	json_t *x = json_object_get(kj, "cross_checks");
	assert_non_null(json_object_get(x, "kneedle"));
	assert_true(json_is_true(json_object_get(json_object_get(x, "little"), "consistent")));
	json_decref(kj);

	json_t *rj = kc_recommend_to_json(&c, &r);
	assert_non_null(rj);
	const char *keys[] = {"instance_type", "metric", "factor", "target_value",
			      "target_low", "target_high", "policy"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(rj, keys[i]));
	assert_string_equal(json_string_value(json_object_get(rj, "instance_type")), "ml.g5.xlarge");
	assert_true(json_real_value(json_object_get(rj, "target_value")) == 2250);
	assert_true(json_real_value(json_object_get(
		json_object_get(rj, "policy"), "TargetValue")) == 2250);
	json_decref(rj);

	struct kc_step_verdict v;
	memset(&v, 0, sizeof(v));
	v.verdict = KC_VERDICT_ERRORS;
	v.valid = true;
	json_t *vj = kc_verdict_to_json(&v);
	assert_string_equal(json_string_value(json_object_get(vj, "verdict")), "errors");
	json_decref(vj);
}

static void test_from_scenario(void **state)
{
	(void)state;
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_scenario_parse(&sc, "s.ini",
		"[recommend]\n"
		"factor = 0.7\n"
		"factor_low = 0.6\n"
		"factor_high = 0.8\n"
		"metric = concurrency\n"
		"instances = 2\n"
		"instance_type = ml.g5.xlarge\n"
		"min_capacity = 2\n"
		"max_capacity = 8\n"
		"scale_out_cooldown = 30s\n"
		"scale_in_cooldown = 10m\n"
		"disable_scale_in = true\n"
		"endpoint_name = product-tagger\n"
		"variant = Blue\n"
		"policy_name = tagger policy\n"
		"usd_per_hour = 1.5\n", &d), KC_OK);
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	assert_int_equal(kc_recommend_cfg_from_scenario(&c, sc, &d), KC_OK);
	assert_true(c.factor == 0.7 && c.factor_low == 0.6 && c.factor_high == 0.8);
	assert_true(c.metric_set && c.metric == KC_METRIC_CONCURRENCY);
	assert_int_equal(c.instances, 2);
	assert_string_equal(c.instance_type, "ml.g5.xlarge");
	assert_int_equal(c.min_capacity, 2);
	assert_int_equal(c.max_capacity, 8);
	assert_int_equal(c.scale_out_cooldown_s, 30);
	assert_int_equal(c.scale_in_cooldown_s, 600);
	assert_true(c.disable_scale_in);
	assert_string_equal(c.endpoint_name, "product-tagger");
	assert_string_equal(c.variant, "Blue");
	assert_string_equal(c.policy_name, "tagger policy");
	assert_true(c.usd_per_hour == 1.5);
	assert_int_equal(kc_scenario_check_unused(sc, &d), KC_OK);
	kc_scenario_free(sc);

	struct { const char *text, *key; int line; const char *words; } bad[] = {
		{"[recommend]\nfactor = 1.5\n", "factor", 2, "(0, 1]"},
		{"[recommend]\nfactor = 0\n", "factor", 2, "(0, 1]"},
		{"[recommend]\n\nfactor_high = 0.7\n", "factor_high", 3, "below factor"},
		{"[recommend]\nmetric = cpu\n", "metric", 2, "invocations"},
		{"[recommend]\nmin_capacity = 4\nmax_capacity = 2\n", "max_capacity", 3, "min_capacity"},
		{"[recommend]\nendpoint_name = tagger;reboot\n", "endpoint_name", 2, "hyphens"},
		{"[recommend]\ninstances = 0\n", "instances", 2, ">= 1"},
		{"[recommend]\nscale_in_cooldown = soon\n", "scale_in_cooldown", 2, "duration"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kc_scenario_parse(&sc, "s.ini", bad[i].text, &d), KC_OK);
		kc_recommend_cfg_default(&c);
		struct kc_recommend_cfg before = c;
		kc_diag_clear(&d);
		assert_int_equal(kc_recommend_cfg_from_scenario(&c, sc, &d), KC_EINVAL);
		char msg[1024];
		kc_diag_format(&d, msg, sizeof(msg));
		if (strcmp(d.key, bad[i].key) || d.line != bad[i].line || !strstr(msg, bad[i].words))
			print_message("case %zu got: %s\n", i, msg);
		assert_string_equal(d.file, "s.ini");
		assert_string_equal(d.key, bad[i].key);
		assert_int_equal(d.line, bad[i].line);
		assert_non_null(strstr(msg, bad[i].words));
		assert_memory_equal(&c, &before, sizeof(c));
		kc_scenario_free(sc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_names),
		cmocka_unit_test(test_seed_case),
		cmocka_unit_test(test_instances),
		cmocka_unit_test(test_streams_and_concurrency),
		cmocka_unit_test(test_no_knee),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_policy_json),
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_apply_sh),
		cmocka_unit_test(test_explain_and_json),
		cmocka_unit_test(test_from_scenario),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
