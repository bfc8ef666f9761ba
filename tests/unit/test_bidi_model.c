/*
 * test_bidi_model.c - the emulator's stream model (exact limits), its
 * scenario keys, and one short loopback exchange between the stream driver
 * and the emulator's streaming half: replies arrive after the model's
 * latency, signatures verify, a wrong secret is refused and counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "kneecap/bidi.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"
#include "kneecap/step.h"
#include "kneecap/streams.h"

#define MS KC_NS_PER_MS

static struct kc_bidi_profile prof(int instances, int s, int64_t l0_ns)
{
	struct kc_bidi_profile p;
	kc_bidi_profile_defaults(&p);
	p.instances = instances;
	p.stream_limit = s;
	p.base_latency_ns = l0_ns;
	return p;
}

static void test_latency_shape(void **st)
{
	(void)st;
	struct kc_bidi_profile p = prof(1, 8, 300 * MS);
	assert_int_equal(kc_bidi_model_latency_ns(&p, 1), 300 * MS);
	assert_int_equal(kc_bidi_model_latency_ns(&p, 8), 300 * MS);
	assert_int_equal(kc_bidi_model_latency_ns(&p, 10), 375 * MS);
	assert_int_equal(kc_bidi_model_latency_ns(&p, 11), 412500 * KC_NS_PER_US);
	assert_int_equal(kc_bidi_model_latency_ns(&p, 16), 600 * MS);
}

/* The seed's example and the 200-stream profile (scenarios/streams-*.ini). */
static void test_limits_of_the_profiles(void **st)
{
	(void)st;
	struct kc_bidi_profile g5 = prof(1, 8, 300 * MS);
	assert_int_equal(kc_bidi_model_limit(&g5, 400 * MS), 10);
	struct kc_bidi_profile big = prof(1, 100, 498750 * KC_NS_PER_US);
	assert_int_equal(kc_bidi_model_limit(&big, 1000 * MS), 200);
	/* instances multiply */
	struct kc_bidi_profile two = prof(2, 8, 300 * MS);
	assert_int_equal(kc_bidi_model_limit(&two, 400 * MS), 20);
	/* a bound under the base latency holds nothing */
	assert_int_equal(kc_bidi_model_limit(&g5, 299 * MS), 0);
	/* exactly at the base latency: S streams */
	assert_int_equal(kc_bidi_model_limit(&g5, 300 * MS), 8);
}

/* The closed form agrees with a brute-force scan over many shapes. */
static void test_limit_matches_scan(void **st)
{
	(void)st;
	for (int s = 1; s <= 64; s += 7) {
		for (int64_t l0 = 10 * MS; l0 <= 500 * MS; l0 += 37 * MS) {
			struct kc_bidi_profile p = prof(1, s, l0);
			for (int64_t b = 5 * MS; b <= 2000 * MS; b += 113 * MS) {
				int64_t n = 0;
				for (int64_t k = 1; k <= 100000; k++) {
					if (kc_bidi_model_latency_ns(&p, k) > b)
						break;
					n = k;
				}
				assert_int_equal(kc_bidi_model_limit(&p, b), n);
			}
		}
	}
}

static void test_scenario_keys(void **st)
{
	(void)st;
	struct kc_scenario *sc;
	struct kc_diag d;
	const char *good = "[emulator]\nstream_limit = 12\nstream_base_latency = 250ms\n"
			   "stream_instances = 2\nstream_verify = false\n"
			   "stream_fault_goaway_after = 5\nstream_tls = yes\n";
	assert_int_equal(kc_scenario_parse(&sc, "t.ini", good, &d), 0);
	struct kc_bidi_profile p;
	kc_bidi_profile_defaults(&p);
	assert_int_equal(kc_bidi_profile_from_scenario(sc, &p, &d), 0);
	assert_int_equal(p.stream_limit, 12);
	assert_int_equal(p.base_latency_ns, 250 * MS);
	assert_int_equal(p.instances, 2);
	assert_false(p.verify);
	assert_int_equal(p.fault_goaway_after, 5);
	assert_true(p.tls);
	assert_int_equal(kc_scenario_check_unused(sc, &d), 0);
	kc_scenario_free(sc);

	const char *bad = "[emulator]\nstream_limit = 0\n";
	assert_int_equal(kc_scenario_parse(&sc, "t.ini", bad, &d), 0);
	kc_bidi_profile_defaults(&p);
	assert_int_equal(kc_bidi_profile_from_scenario(sc, &p, &d), KC_EINVAL);
	assert_int_equal(d.line, 2);
	assert_string_equal(d.key, "stream_limit");
	kc_scenario_free(sc);

	p.base_latency_ns = 0;
	assert_int_equal(kc_bidi_profile_check(&p, &d), KC_EINVAL);
}

static void test_header_patterns(void **st)
{
	(void)st;
	assert_true(kc_bidi_invocation_path_valid("v1/listen"));
	assert_true(kc_bidi_invocation_path_valid("a.b_c-d"));
	assert_false(kc_bidi_invocation_path_valid("/v1/listen"));
	assert_false(kc_bidi_invocation_path_valid("v1//listen"));
	assert_false(kc_bidi_invocation_path_valid("v1/listen/"));
	assert_false(kc_bidi_invocation_path_valid("v1/lis ten"));
	assert_false(kc_bidi_invocation_path_valid(""));
	char longp[102];
	memset(longp, 'a', 101);
	longp[101] = '\0';
	assert_false(kc_bidi_invocation_path_valid(longp));
	assert_true(kc_bidi_query_string_valid("model=nova-3&encoding=linear16&sample_rate=16000"));
	assert_true(kc_bidi_query_string_valid("keywords=hello%20world"));
	assert_true(kc_bidi_query_string_valid("a=1"));
	assert_false(kc_bidi_query_string_valid("a="));
	assert_false(kc_bidi_query_string_valid("=1"));
	assert_false(kc_bidi_query_string_valid("a=1&"));
	assert_false(kc_bidi_query_string_valid("a=hello world"));
	assert_false(kc_bidi_query_string_valid("a=%2"));
	assert_false(kc_bidi_query_string_valid("_a=1"));
	assert_false(kc_bidi_query_string_valid(""));
}

static int run_once(const struct kc_bidi_profile *p, const char *secret, uint32_t streams,
		    struct kc_step_result *r, struct kc_bidi_stats *bs)
{
	struct kc_bidi *b;
	struct kc_diag d;
	if (kc_bidi_start(p, "127.0.0.1:0", &b, &d))
		return -1;
	char url[200];
	snprintf(url, sizeof(url),
		 "http://127.0.0.1:%d/endpoints/ep/invocations-bidirectional-stream",
		 kc_bidi_port(b));
	struct kc_streams_config c = {.url = url, .access_key_id = "AKIDTEST",
				      .secret_access_key = secret, .region = "us-east-1",
				      .max_streams = 16, .chunk_interval_ns = 50 * MS,
				      .chunk_bytes = 1600};
	struct kc_streams *s;
	int rc = kc_streams_new(&s, &c, &d);
	if (rc == 0) {
		struct kc_streams_spec sp = {.streams = streams, .warmup_ns = 200 * MS,
					     .duration_ns = 500 * MS};
		rc = kc_streams_run_step(s, &sp, r, NULL, &d);
		kc_streams_free(s);
	}
	kc_bidi_stats(b, bs);
	kc_bidi_stop(b);
	return rc;
}

/* stream_fault_error: items, defaults, explicit status and ErrorCode, refusals. */
static void test_fault_errors(void **st)
{
	(void)st;
	struct kc_bidi_profile p;
	kc_bidi_profile_defaults(&p);
	char why[256];
	assert_int_equal(kc_bidi_fault_errors_parse(&p, "2:InputValidationError, "
						    "3:ThrottlingException@429,"
						    "4:ModelStreamError/StreamBroken,5:InternalStreamFailure",
						    why, sizeof(why)), 0);
	assert_int_equal(p.n_fault_errors, 4);
	assert_int_equal(p.fault_errors[0].status, 400);
	assert_string_equal(p.fault_errors[0].error_code, "InputValidationError");
	assert_int_equal(p.fault_errors[1].status, 429);
	assert_int_equal(p.fault_errors[2].status, 0);
	assert_string_equal(p.fault_errors[2].error_code, "StreamBroken");
	assert_null(kc_bidi_fault_error_for(&p, 4, true));
	assert_ptr_equal(kc_bidi_fault_error_for(&p, 4, false), &p.fault_errors[2]);
	assert_ptr_equal(kc_bidi_fault_error_for(&p, 3, true), &p.fault_errors[1]);
	char json[256];
	size_t n = kc_bidi_fault_error_json(&p.fault_errors[2], json, sizeof(json));
	assert_true(n > 0);
	assert_non_null(strstr(json, "\"ErrorCode\":\"StreamBroken\""));
	n = kc_bidi_fault_error_json(&p.fault_errors[3], json, sizeof(json));
	assert_null(strstr(json, "ErrorCode"));
	static const char *const bad[] = {"x", "0:ModelError", "2:NoSuchError",
					  "2:ModelStreamError@500", "2:ModelError@200",
					  "2:ModelError/quo\"te"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kc_bidi_profile q;
		kc_bidi_profile_defaults(&q);
		assert_int_equal(kc_bidi_fault_errors_parse(&q, bad[i], why, sizeof(why)), KC_EINVAL);
	}
	struct kc_bidi_profile q;
	kc_bidi_profile_defaults(&q);
	assert_int_equal(kc_bidi_fault_errors_parse(&q, "1:ModelError,2:ModelError,3:ModelError,"
						    "4:ModelError,5:ModelError,6:ModelError,"
						    "7:ModelError,8:ModelError,9:ModelError",
						    why, sizeof(why)), KC_EINVAL);
}

static void test_loopback_exchange(void **st)
{
	(void)st;
	struct kc_bidi_profile p = prof(1, 2, 40 * MS);
	snprintf(p.akid, sizeof(p.akid), "AKIDTEST");
	snprintf(p.secret, sizeof(p.secret), "right");
	struct kc_step_result r;
	struct kc_bidi_stats bs;
	/* 4 streams on S = 2: every reply takes 40 * 4 / 2 = 80 ms */
	assert_int_equal(run_once(&p, "right", 4, &r, &bs), 0);
	assert_true(r.ok >= 30);
	assert_int_equal(r.errors, 0);
	assert_true(r.achieved > 3.9 && r.achieved < 4.01);
	assert_true(r.service.p50 >= 79.0);
	assert_true(r.service.p50 < 200.0); /* loose: shared CI machines stall */
	assert_int_equal(bs.bad_signatures, 0);
	assert_int_equal(bs.bad_frames, 0);
	assert_true(bs.finished >= 4); /* every stream ended with the empty frame */
	kc_step_result_fini(&r);

	/* a wrong secret: the emulator refuses the seed with 403 */
	assert_int_equal(run_once(&p, "wrong", 2, &r, &bs), 0);
	assert_int_equal(r.ok, 0);
	assert_true(r.errclass[KC_EC_AUTH] > 0);
	assert_true(bs.bad_signatures > 0);
	kc_step_result_fini(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_shape),
		cmocka_unit_test(test_limits_of_the_profiles),
		cmocka_unit_test(test_limit_matches_scan),
		cmocka_unit_test(test_scenario_keys),
		cmocka_unit_test(test_header_patterns),
		cmocka_unit_test(test_fault_errors),
		cmocka_unit_test(test_loopback_exchange),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
