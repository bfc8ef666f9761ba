/* test_knee.c - per-step verdicts, the generator gate, Kneedle and the
 * Little's-law cross-check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/knee.h"

/* A healthy 20 s step at `rps` with 35 ms latency (no histograms). */
static struct kc_step_result step(double rps)
{
	struct kc_step_result s;
	memset(&s, 0, sizeof(s));
	s.offered = rps;
	s.achieved = rps;
	s.duration_ns = INT64_C(20000000000);
	s.scheduled = (uint64_t)(rps * 20);
	s.sent = s.scheduled;
	s.completed = s.scheduled;
	s.ok = s.scheduled;
	s.latency = (struct kc_latency){.p50 = 35, .p90 = 40, .p99 = 50, .p999 = 60,
					.max = 70, .mean = 36, .count = (int64_t)s.ok};
	s.service = s.latency;
	s.inflight_start = rps * 0.036;
	s.inflight_end = rps * 0.036;
	s.inflight_max = (uint32_t)(rps * 0.036 * 2 + 1);
	s.lag_p99_ms = 1;
	return s;
}

static struct kc_health_cfg rps_cfg(void)
{
	struct kc_health_cfg c;
	kc_health_cfg_default(&c, KC_MODE_RPS);
	return c;
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(kc_verdict_name(KC_VERDICT_HEALTHY), "healthy");
	assert_string_equal(kc_verdict_name(KC_VERDICT_THROUGHPUT), "throughput");
	assert_string_equal(kc_verdict_name(KC_VERDICT_INFLIGHT_GROWTH), "inflight_growth");
	assert_string_equal(kc_verdict_name(KC_VERDICT_ERRORS), "errors");
	assert_string_equal(kc_verdict_name(KC_VERDICT_LATENCY_SLO), "latency_slo");
	assert_string_equal(kc_verdict_name(KC_VERDICT_GENERATOR_BOUND), "generator_bound");
	assert_string_equal(kc_verdict_name(KC_VERDICT_UNSTABLE), "unstable");
	assert_string_equal(kc_verdict_name(KC_VERDICT_COUNT), "unknown");
	enum kc_lat_stat st = KC_STAT_P50;
	assert_int_equal(kc_lat_stat_parse("p999", &st), KC_OK);
	assert_int_equal(st, KC_STAT_P999);
	assert_int_equal(kc_lat_stat_parse("p95", &st), KC_EINVAL);
	assert_int_equal(st, KC_STAT_P999);
	assert_string_equal(kc_lat_stat_name(KC_STAT_MEAN), "mean");
	assert_string_equal(kc_load_mode_name(KC_MODE_STREAMS), "streams");
}

static void test_defaults(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	assert_true(c.min_achieved_ratio == 0.97);
	assert_true(c.max_error_rate == 0.01);
	assert_false(c.slo_set);
	assert_int_equal(c.slo_stat, KC_STAT_P99);
	assert_int_equal(kc_health_cfg_validate(&c, NULL), KC_OK);
	kc_health_cfg_default(&c, KC_MODE_STREAMS);
	assert_true(c.slo_set);
	assert_true(c.slo_ms == 400);
	assert_int_equal(c.slo_stat, KC_STAT_MEAN);
	struct kc_diag d;
	kc_diag_clear(&d);
	c.slo_ms = 0;
	assert_int_equal(kc_health_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "slo");
	c = rps_cfg();
	c.min_achieved_ratio = 1.5;
	assert_int_equal(kc_health_cfg_validate(&c, &d), KC_EINVAL);
	assert_string_equal(d.key, "min_achieved_ratio");
}

static void test_healthy(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(40);
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	assert_true(v.valid);
	assert_true(v.stable);
	assert_false(v.generator_note);
	assert_true(fabs(v.achieved_ratio - 1.0) < 1e-9);
	assert_true(v.error_rate == 0);
	assert_true(v.latency_ms == 50); /* p99 by default */
}

static void test_throughput(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(80);
	s.achieved = 50; /* capacity */
	s.ok = 1000;
	s.completed = 1000;
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_THROUGHPUT);
	assert_true(v.valid);
	assert_true(fabs(v.achieved_ratio - 0.625) < 1e-9);
	/* ... but short throughput with no queue growing contradicts itself:
	 * ambiguous, to be measured again. */
	assert_false(v.stable);
	s.inflight_slope = 30;
	s.inflight_end = s.inflight_start + 600;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_THROUGHPUT);
	assert_true(v.stable);
	/* 96.5% of what the schedule produced: just under 97%, and ambiguous. */
	s = step(50);
	s.achieved = 48.25;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_THROUGHPUT);
	assert_false(v.stable);
	/* The ratio is against what the schedule produced in the window, so
	 * a Poisson window that happened to hold 5% fewer arrivals is fine. */
	s = step(50);
	s.scheduled = 950;
	s.achieved = 47.5;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
}

static void test_inflight_growth(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(51);
	/* Just over a 50 rps capacity: achieved ratio passes (0.98), but the
	 * queue grows 4/s: 80 requests over the step, well over the
	 * tolerance (1.0 x sqrt(1020 arrivals) = 32). */
	s.achieved = 50;
	s.inflight_start = 2;
	s.inflight_end = 82;
	s.inflight_slope = 4.0;
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_INFLIGHT_GROWTH);
	assert_true(fabs(v.inflight_growth - 80) < 1e-9);
	assert_true(fabs(v.inflight_tol - sqrt(1020.0)) < 1e-9);
	assert_true(v.stable);
	/* +25 over the step: inside the Poisson noise of 1020 arrivals. */
	s.inflight_end = 27;
	s.inflight_slope = 1.25;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);

	/* Noisy seconds: the slope projects +30 (over the tolerance of
	 * sqrt(800) = 28) but start and end agree: healthy, and ambiguous. */
	s = step(40);
	s.inflight_start = 2;
	s.inflight_end = 3;
	s.inflight_slope = 1.5;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	assert_false(v.stable); /* the slope sits between tol/2 and 2 tol */

	/* High but flat level: +3 on a level of 40 is noise, not a trend. */
	s = step(1000);
	s.inflight_start = 40;
	s.inflight_end = 43;
	s.inflight_slope = 0.15;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	assert_true(v.stable);
	assert_true(v.inflight_tol >= 20);

	/* Falling in-flight (a queue draining) is healthy. */
	s = step(40);
	s.inflight_start = 20;
	s.inflight_end = 2;
	s.inflight_slope = -0.9;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);

	/* Streams mode ignores the in-flight trend (streams are held open). */
	kc_health_cfg_default(&c, KC_MODE_STREAMS);
	s = step(10);
	s.latency.mean = 100;
	s.inflight_start = 0;
	s.inflight_end = 10;
	s.inflight_slope = 1;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
}

static void test_errors(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(40);
	s.ok = 780;
	s.errors = 20; /* 2.5% */
	s.errclass[KC_EC_HTTP5XX] = 20;
	s.achieved = 39;
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_ERRORS);
	assert_true(fabs(v.error_rate - 0.025) < 1e-9);
	/* 0.5%: under the 1% default. */
	s = step(40);
	s.ok = 796;
	s.errors = 4;
	s.errclass[KC_EC_TIMEOUT] = 4;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	/* A configured 0 tolerance fails on a single error. */
	c.max_error_rate = 0;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_ERRORS);
}

/* A request with no outcome when the step ended fails the step at any rate. */
static void test_unfinished(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(40);
	s.ok = 796; /* 0.5% errors, all unfinished: under the 1% error rate */
	s.completed = 796;
	s.errors = s.unfinished = s.errclass[KC_EC_UNFINISHED] = 4;
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v);
	assert_true(v.valid);
	assert_int_equal(v.verdict, KC_VERDICT_ERRORS);
	/* One in ten thousand is still a failure. */
	s = step(500);
	s.ok -= 1;
	s.completed -= 1;
	s.errors = s.unfinished = s.errclass[KC_EC_UNFINISHED] = 1;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_ERRORS);
	/* Interrupted: partial decides (never a recommendation either way). */
	s.partial = true;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_UNSTABLE);
	assert_false(v.valid);
}

static void test_latency_slo(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_result s = step(40);
	s.latency.p99 = 120;
	struct kc_step_verdict v;
	kc_knee_judge(&c, &s, &v); /* no SLO: latency alone never fails */
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	c.slo_set = true;
	c.slo_ms = 100;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_LATENCY_SLO);
	assert_true(v.latency_ms == 120);
	c.slo_stat = KC_STAT_P50;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	assert_true(v.latency_ms == 35);
	/* Right at the SLO: ambiguous. */
	c.slo_stat = KC_STAT_P99;
	s.latency.p99 = 101;
	kc_knee_judge(&c, &s, &v);
	assert_false(v.stable);
	/* Streams: mean under 400 ms. */
	kc_health_cfg_default(&c, KC_MODE_STREAMS);
	s = step(12);
	s.latency.mean = 450;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_LATENCY_SLO);
}

static void test_generator_gate(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_verdict v;
	/* The engine says so: invalid, whatever else the step shows. */
	struct kc_step_result s = step(400);
	s.generator_bound = true;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_GENERATOR_BOUND);
	assert_false(v.valid);

	/* Lag far behind schedule while the server answered everything sent:
	 * the client is the bottleneck. */
	s = step(400);
	s.sent = 6000; /* of 8000 scheduled */
	s.completed = 6000;
	s.ok = 6000;
	s.achieved = 300;
	s.lag_p99_ms = 900;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_GENERATOR_BOUND);
	assert_false(v.valid);

	/* Shed because the server is drowning (sent >> completed): judged as
	 * the server's failure, with a note, and still valid. */
	s = step(100);
	s.sent = 1900;
	s.completed = 1000;
	s.ok = 1000;
	s.errors = 100;
	s.errclass[KC_EC_SHED] = 100;
	s.achieved = 50;
	s.inflight_start = 5;
	s.inflight_end = 256;
	s.inflight_slope = 12;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_THROUGHPUT);
	assert_true(v.valid);
	assert_true(v.generator_note);
	/* shed requests do not count as server errors */
	assert_true(v.error_rate == 0);

	/* A partial step (interrupted) is invalid and unstable. */
	s = step(40);
	s.partial = true;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_UNSTABLE);
	assert_false(v.valid);
}

static void test_rate_figures(void **state)
{
	(void)state;
	assert_int_equal(kc_rate_decimals(9.87), 2);
	assert_int_equal(kc_rate_decimals(9.996), 1); /* prints 10.0, not 10.00 */
	assert_int_equal(kc_rate_decimals(19.35), 1);
	assert_true(kc_rate_figure(19.36) == 19.4);
	assert_true(kc_rate_figure(9.876) == 9.88);
	assert_true(kc_rate_figure(1234.56) == 1234.6);
	assert_true(kc_rate_figure_down(19.67) == 19.6);
	assert_true(kc_rate_figure_down(19.4) == 19.4);   /* binary 19.3999... */
	assert_true(kc_rate_figure_down(9.876) == 9.87);
	struct kc_step_result s = step(20);
	s.scheduled = 392;
	assert_true(fabs(kc_step_arrived(&s) - 19.6) < 1e-12);
	s.scheduled = 0;
	assert_true(kc_step_arrived(&s) == 20);
}

/*
 * Every healthy row reads true by hand: achieved >= 97% of the arrivals
 * printed beside it, on the printed (rounded) figures.  19.36 of 19.96 is
 * 96.99% unrounded but 19.4 of 20.0 printed: healthy, as a reader checks.
 */
static void test_rows_read_true(void **state)
{
	(void)state;
	struct kc_health_cfg c = rps_cfg();
	struct kc_step_verdict v;
	struct kc_step_result s = step(20);
	s.scheduled = 20 * 1996 / 100;     /* 399 arrivals: 19.95/s */
	s.achieved = 19.36;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_HEALTHY);
	assert_true(fabs(v.achieved_ratio - 19.4 / 20.0) < 1e-12);
	/* ... and 19.34 of 19.96 prints 19.3 of 20.0: short. */
	s.achieved = 19.34;
	kc_knee_judge(&c, &s, &v);
	assert_int_equal(v.verdict, KC_VERDICT_THROUGHPUT);
	/* A sweep: no healthy row whose printed figures say otherwise. */
	int healthy = 0;
	for (int arr = 180; arr <= 2200; arr += 7) {
		for (int pct = 940; pct <= 1000; pct++) {
			s = step(arr / 20.0);
			s.offered = 50;             /* the nominal rate plays no part */
			s.scheduled = (uint64_t)arr;
			s.achieved = arr / 20.0 * pct / 1000.0 + 0.0004 * (pct % 7);
			kc_knee_judge(&c, &s, &v);
			if (v.verdict != KC_VERDICT_HEALTHY)
				continue;
			healthy++;
			double got = kc_rate_figure(s.achieved);
			double asked = kc_rate_figure(kc_step_arrived(&s));
			assert_true(got >= 0.97 * asked - 1e-9);
		}
	}
	assert_true(healthy > 1000);
}

static void test_kneedle(void **state)
{
	(void)state;
	/* achieved = min(offered, 50) */
	double x[] = {10, 20, 40, 80, 60, 45};
	double y[] = {10, 20, 40, 50, 50, 45};
	int k = kc_kneedle(x, y, 6);
	assert_true(k >= 0);
	assert_true(x[k] == 45);
	/* A straight line has no knee. */
	double yl[] = {10, 20, 40, 80, 60, 45};
	assert_int_equal(kc_kneedle(x, yl, 6), -1);
	/* Too few distinct points. */
	double x2[] = {10, 10, 20};
	double y2[] = {10, 10, 15};
	assert_int_equal(kc_kneedle(x2, y2, 3), -1);
	assert_int_equal(kc_kneedle(x, y, 2), -1);
	/* Soft curve y = x / (1 + x/50): the bend is in the middle third. */
	double xs[20], ys[20];
	for (int i = 0; i < 20; i++) {
		xs[i] = 10.0 * (i + 1);
		ys[i] = xs[i] / (1 + xs[i] / 50.0);
	}
	k = kc_kneedle(xs, ys, 20);
	assert_true(k >= 0);
	assert_true(xs[k] >= 40 && xs[k] <= 110);
}

static void test_check(void **state)
{
	(void)state;
	struct kc_step_result st[5];
	double rates[] = {10, 20, 40, 80, 50};
	for (int i = 0; i < 5; i++) {
		st[i] = step(rates[i]);
		if (rates[i] > 50) {
			st[i].achieved = 50;
			st[i].latency.mean = 3000;
		}
	}
	st[4].latency.mean = 72;
	st[4].service.mean = 40;
	st[4].inflight_start = 1.9;
	st[4].inflight_end = 2.1;
	struct kc_knee_check chk;
	kc_knee_check(st, 5, 4, &chk);
	assert_true(chk.kneedle_found);
	assert_true(chk.kneedle_offered == 50);
	assert_true(chk.inflation_set);
	assert_true(fabs(chk.latency_inflation - 2.0) < 1e-9); /* 72 / 36 */
	assert_true(chk.little_set);
	assert_true(fabs(chk.little_predicted - 2.0) < 1e-9);  /* 50/s x 40 ms */
	assert_true(fabs(chk.little_ratio - 1.0) < 1e-9);
	assert_true(chk.little_consistent);
	/* In-flight far above throughput x latency: inconsistent. */
	st[4].inflight_start = st[4].inflight_end = 9;
	kc_knee_check(st, 5, 4, &chk);
	assert_false(chk.little_consistent);
	/* Generator-bound steps are left out of Kneedle. */
	st[3].generator_bound = true;
	kc_knee_check(st, 5, -1, &chk);
	assert_false(chk.inflation_set);
	assert_false(chk.little_set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_throughput),
		cmocka_unit_test(test_inflight_growth),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unfinished),
		cmocka_unit_test(test_latency_slo),
		cmocka_unit_test(test_generator_gate),
		cmocka_unit_test(test_rate_figures),
		cmocka_unit_test(test_rows_read_true),
		cmocka_unit_test(test_kneedle),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
