/* test_schedule.c - arrival schedules, the RNG, ramps, and engine input checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/err.h"
#include "kneecap/schedule.h"

static void test_rng_deterministic(void **state)
{
	(void)state;
	struct kc_rng a, b, c;
	kc_rng_seed(&a, 42);
	kc_rng_seed(&b, 42);
	kc_rng_seed(&c, 43);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = kc_rng_next(&a), y = kc_rng_next(&b), z = kc_rng_next(&c);
		assert_true(x == y);
		differ += x != z;
	}
	assert_true(differ > 990);
	/* unit values lie in (0, 1] and average 1/2 */
	double sum = 0;
	for (int i = 0; i < 100000; i++) {
		double u = kc_rng_unit(&a);
		assert_true(u > 0 && u <= 1);
		sum += u;
	}
	assert_true(fabs(sum / 100000 - 0.5) < 0.01);
}

/* Pins the sequence: saved seeds and recorded runs replay only if it never changes. */
static void test_rng_golden(void **state)
{
	(void)state;
	struct kc_rng r;
	kc_rng_seed(&r, 42);
	assert_true(kc_rng_next(&r) == UINT64_C(0x15780b2e0c2ec716));
	assert_true(kc_rng_next(&r) == UINT64_C(0x6104d9866d113a7e));
	assert_true(kc_rng_next(&r) == UINT64_C(0xae17533239e499a1));
	assert_true(kc_rng_unit(&r) == 0x1.34752b8fc4cap-4);
}

static void test_uniform_spacing(void **state)
{
	(void)state;
	struct kc_schedule s;
	assert_int_equal(kc_schedule_init(&s, 1000, KC_ARRIVAL_UNIFORM, 1, 5000, 0, 1), KC_OK);
	for (int64_t k = 0; k < 10000; k++)
		assert_true(kc_schedule_next(&s) == 5000 + k * KC_NS_PER_MS);
	/* No drift: arrival 10^7 of a 3 rps schedule sits exactly where arithmetic says. */
	assert_int_equal(kc_schedule_init(&s, 3, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1), KC_OK);
	s.k = 10000000;
	assert_true(kc_schedule_peek(&s) == (int64_t)llround(1e7 * 1e9 / 3));
}

static void test_uniform_slices_interleave(void **state)
{
	(void)state;
	/* 4 slices of a 10k rps schedule produce exactly the 10k rps grid. */
	enum { N = 4, PER = 2500 };
	struct kc_schedule s[N];
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(kc_schedule_init(&s[i], 10000, KC_ARRIVAL_UNIFORM, 7, 0, i, N), KC_OK);
	static int64_t all[N * PER];
	for (int k = 0; k < PER; k++)
		for (int i = 0; i < N; i++)
			all[k * N + i] = kc_schedule_next(&s[i]);
	for (int j = 0; j < N * PER; j++)
		assert_true(all[j] == (int64_t)j * 100000);
}

static void test_poisson_mean_and_count(void **state)
{
	(void)state;
	/* Over 100 s at 1000 rps: ~100000 arrivals; mean gap 1 ms; CV ~ 1. */
	struct kc_schedule s;
	assert_int_equal(kc_schedule_init(&s, 1000, KC_ARRIVAL_POISSON, 99, 0, 0, 1), KC_OK);
	int64_t prev = 0, t;
	uint64_t n = 0;
	double sum = 0, sumsq = 0;
	while ((t = kc_schedule_next(&s)) < 100 * KC_NS_PER_S) {
		assert_true(t >= prev);
		double g = (double)(t - prev) / 1e6;
		sum += g;
		sumsq += g * g;
		prev = t;
		n++;
	}
	/* Poisson count over 100 s: mean 1e5, sd ~316; 5 sd bound. */
	assert_true(n > 100000 - 1600 && n < 100000 + 1600);
	double mean = sum / (double)n;
	double sd = sqrt(sumsq / (double)n - mean * mean);
	assert_true(fabs(mean - 1.0) < 0.02);
	assert_true(fabs(sd / mean - 1.0) < 0.03);
	/* A gap's share of exponential tail: P(gap > 3 ms) = e^-3 ~ 0.0498. */
}

static void test_poisson_deterministic_and_sliced(void **state)
{
	(void)state;
	struct kc_schedule a, b, c;
	kc_schedule_init(&a, 500, KC_ARRIVAL_POISSON, 1234, 0, 0, 1);
	kc_schedule_init(&b, 500, KC_ARRIVAL_POISSON, 1234, 0, 0, 1);
	kc_schedule_init(&c, 500, KC_ARRIVAL_POISSON, 1235, 0, 0, 1);
	int same_c = 0;
	for (int i = 0; i < 1000; i++) {
		int64_t x = kc_schedule_next(&a), y = kc_schedule_next(&b), z = kc_schedule_next(&c);
		assert_true(x == y);
		same_c += x == z;
	}
	assert_true(same_c < 10);
	/* 8 slices together keep the total rate: count arrivals over 50 s at 2000 rps. */
	uint64_t total = 0;
	for (uint32_t i = 0; i < 8; i++) {
		struct kc_schedule s;
		kc_schedule_init(&s, 2000, KC_ARRIVAL_POISSON, 5, 0, i, 8);
		while (kc_schedule_next(&s) < 50 * KC_NS_PER_S)
			total++;
	}
	/* mean 1e5, sd ~316 */
	assert_true(total > 100000 - 1600 && total < 100000 + 1600);
}

/* Arrivals of slices 0..n-1 in [a, b) ns, each slice fixed over bounds. */
static uint64_t fixed_count_in(double rate, double rate_end, int64_t ramp_ns, uint32_t n,
			       const int64_t *bounds, int nb, int64_t a, int64_t b)
{
	uint64_t c = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct kc_schedule s;
		assert_int_equal(kc_schedule_init(&s, rate, KC_ARRIVAL_POISSON, 77, 0, i, n), KC_OK);
		if (rate_end > 0)
			assert_int_equal(kc_schedule_set_linear(&s, rate_end, ramp_ns), KC_OK);
		assert_int_equal(kc_schedule_fix_counts(&s, bounds, nb), KC_OK);
		int64_t t, prev = 0;
		while ((t = kc_schedule_next(&s)) < b) {
			assert_true(t >= prev);
			prev = t;
			c += t >= a;
		}
	}
	return c;
}

static void test_poisson_fixed_counts(void **state)
{
	(void)state;
	const int64_t S = KC_NS_PER_S;
	/* Warm-up 1 s and a 3 s window at 1000 rps: exactly 1000 and 3000, for
	 * 1 slice or 7, where a Poisson count would be off by ~55. */
	int64_t b[3] = {0, 1 * S, 4 * S};
	for (uint32_t n = 1; n <= 7; n += 6) {
		assert_int_equal(fixed_count_in(1000, 0, 0, n, b, 3, 0, 1 * S), 1000);
		assert_int_equal(fixed_count_in(1000, 0, 0, n, b, 3, 1 * S, 4 * S), 3000);
	}
	/* Each window's own expectation rounds: at 1.4 rps the warm-up asks
	 * 1.4 (1) and the 3 s window 4.2 (4), not round(5.6) - round(1.4) = 5. */
	assert_int_equal(fixed_count_in(1.4, 0, 0, 1, b, 3, 0, 1 * S), 1);
	assert_int_equal(fixed_count_in(1.4, 0, 0, 1, b, 3, 1 * S, 4 * S), 4);
	/* A fractional expectation rounds: 2.5 s at 33.3 rps = 83.25 -> 83. */
	int64_t b2[2] = {0, 2500 * KC_NS_PER_MS};
	assert_int_equal(fixed_count_in(33.3, 0, 0, 3, b2, 2, 0, b2[1]), 83);
	/* A linear ramp 100 -> 300 rps over 4 s: N(4) = 800, N(1) = 125. */
	assert_int_equal(fixed_count_in(100, 300, 4 * S, 4, b, 3, 0, 1 * S), 125);
	assert_int_equal(fixed_count_in(100, 300, 4 * S, 4, b, 3, 1 * S, 4 * S), 675);
	/* After the last bound: Poisson at the rate (10 s at 1000: 1e4 +- 5 sd). */
	uint64_t after = fixed_count_in(1000, 0, 0, 2, b, 3, 4 * S, 14 * S);
	assert_true(after > 10000 - 500 && after < 10000 + 500);

	/* Poisson timing given the count: over one 100 s window at 1000 rps the
	 * gaps have mean 1 ms and CV 1, P(gap > 3 ms) = e^-3, and the arrivals
	 * are spread evenly (each 10 s holds ~1e4). */
	struct kc_schedule s;
	int64_t w[2] = {0, 100 * S};
	assert_int_equal(kc_schedule_init(&s, 1000, KC_ARRIVAL_POISSON, 9, 0, 0, 1), KC_OK);
	assert_int_equal(kc_schedule_fix_counts(&s, w, 2), KC_OK);
	int64_t prev = 0, t;
	uint64_t n = 0, tail = 0, dec[10] = {0};
	double sum = 0, sumsq = 0;
	while ((t = kc_schedule_next(&s)) < w[1]) {
		double g = (double)(t - prev) / 1e6;
		sum += g;
		sumsq += g * g;
		tail += g > 3.0;
		dec[t / (10 * S)]++;
		prev = t;
		n++;
	}
	assert_int_equal(n, 100000);
	double mean = sum / (double)n, sd = sqrt(sumsq / (double)n - mean * mean);
	assert_true(fabs(mean - 1.0) < 0.01);
	assert_true(fabs(sd / mean - 1.0) < 0.03);
	assert_true(fabs((double)tail / (double)n - exp(-3.0)) < 0.004);
	for (int i = 0; i < 10; i++)
		assert_true(dec[i] > 10000 - 500 && dec[i] < 10000 + 500);

	/* Deterministic for a seed; refused: bounds not from 0, not ascending,
	 * too many, or after the first arrival; uniform schedules unchanged. */
	struct kc_schedule x, y;
	kc_schedule_init(&x, 500, KC_ARRIVAL_POISSON, 3, 0, 0, 1);
	kc_schedule_init(&y, 500, KC_ARRIVAL_POISSON, 3, 0, 0, 1);
	kc_schedule_fix_counts(&x, b, 3);
	kc_schedule_fix_counts(&y, b, 3);
	for (int i = 0; i < 100; i++)
		assert_true(kc_schedule_next(&x) == kc_schedule_next(&y));
	int64_t bad1[2] = {1, 2 * S}, bad2[3] = {0, 2 * S, 2 * S}, many[6] = {0, 1, 2, 3, 4, 5};
	kc_schedule_init(&x, 500, KC_ARRIVAL_POISSON, 3, 0, 0, 1);
	assert_int_equal(kc_schedule_fix_counts(&x, bad1, 2), KC_EINVAL);
	assert_int_equal(kc_schedule_fix_counts(&x, bad2, 3), KC_EINVAL);
	assert_int_equal(kc_schedule_fix_counts(&x, many, 6), KC_EINVAL);
	assert_int_equal(kc_schedule_fix_counts(&x, b, 1), KC_EINVAL);
	kc_schedule_next(&x);
	assert_int_equal(kc_schedule_fix_counts(&x, b, 3), KC_EINVAL);
	/* A ramp set after the counts would leave them for the wrong rate. */
	kc_schedule_init(&x, 500, KC_ARRIVAL_POISSON, 3, 0, 0, 1);
	assert_int_equal(kc_schedule_fix_counts(&x, b, 3), KC_OK);
	assert_int_equal(kc_schedule_set_linear(&x, 900, 4 * S), KC_EINVAL);
	kc_schedule_init(&x, 500, KC_ARRIVAL_UNIFORM, 3, 0, 0, 1);
	kc_schedule_init(&y, 500, KC_ARRIVAL_UNIFORM, 3, 0, 0, 1);
	assert_int_equal(kc_schedule_fix_counts(&x, b, 3), KC_OK);
	for (int i = 0; i < 100; i++)
		assert_true(kc_schedule_next(&x) == kc_schedule_next(&y));
}

static void test_linear_ramp(void **state)
{
	(void)state;
	/* 100 -> 300 rps over 10 s: 2000 arrivals, gaps from 10 ms down to 3.33 ms. */
	struct kc_schedule s;
	assert_int_equal(kc_schedule_init(&s, 100, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1), KC_OK);
	assert_int_equal(kc_schedule_set_linear(&s, 300, 10 * KC_NS_PER_S), KC_OK);
	int64_t prev = kc_schedule_next(&s), first_gap = 0, last_gap = 0;
	assert_true(prev == 0);
	uint64_t n = 1;
	int64_t t;
	while ((t = kc_schedule_next(&s)) < 10 * KC_NS_PER_S) {
		assert_true(t > prev);
		if (n == 1)
			first_gap = t - prev;
		last_gap = t - prev;
		prev = t;
		n++;
	}
	assert_int_equal(n, 2000);
	assert_true(llabs(first_gap - 10 * KC_NS_PER_MS) < 50 * KC_NS_PER_US);
	assert_true(llabs(last_gap - 3333333) < 10 * KC_NS_PER_US);
	/* After the ramp the rate stays at 300. */
	int64_t t2 = kc_schedule_next(&s);
	assert_true(llabs((t2 - t) - 3333333) < 2 * KC_NS_PER_US);
	/* Mean rates: whole ramp 200, second half 250, past the end 300. */
	assert_true(fabs(kc_schedule_mean_rate(100, 300, 10 * KC_NS_PER_S, 0, 10 * KC_NS_PER_S) - 200) < 1e-9);
	assert_true(fabs(kc_schedule_mean_rate(100, 300, 10 * KC_NS_PER_S, 5 * KC_NS_PER_S,
					       10 * KC_NS_PER_S) - 250) < 1e-9);
	assert_true(fabs(kc_schedule_mean_rate(100, 300, 10 * KC_NS_PER_S, 10 * KC_NS_PER_S,
					       12 * KC_NS_PER_S) - 300) < 1e-9);
	assert_true(kc_schedule_mean_rate(100, 0, 0, 0, KC_NS_PER_S) == 100);
	/* A falling ramp and Poisson: counts near (r0 + r1) T / 2 = 2000 over 10 s, 4 slices. */
	uint64_t total = 0;
	for (uint32_t i = 0; i < 4; i++) {
		struct kc_schedule p;
		kc_schedule_init(&p, 300, KC_ARRIVAL_POISSON, 11, 0, i, 4);
		assert_int_equal(kc_schedule_set_linear(&p, 100, 10 * KC_NS_PER_S), KC_OK);
		int64_t last = -1, x;
		while ((x = kc_schedule_next(&p)) < 10 * KC_NS_PER_S) {
			assert_true(x >= last);
			last = x;
			total++;
		}
	}
	assert_true(total > 2000 - 230 && total < 2000 + 230); /* 5 sd */
	assert_int_equal(kc_schedule_set_linear(&s, 0, KC_NS_PER_S), KC_EINVAL);
	struct kc_schedule fresh;
	kc_schedule_init(&fresh, 10, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1);
	assert_int_equal(kc_schedule_set_linear(&fresh, 20, 0), KC_EINVAL);
}

static void test_schedule_rejects(void **state)
{
	(void)state;
	struct kc_schedule s;
	memset(&s, 0x5a, sizeof(s));
	struct kc_schedule before = s;
	assert_int_equal(kc_schedule_init(&s, 0, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1), KC_EINVAL);
	assert_int_equal(kc_schedule_init(&s, -5, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1), KC_EINVAL);
	assert_int_equal(kc_schedule_init(&s, NAN, KC_ARRIVAL_UNIFORM, 1, 0, 0, 1), KC_EINVAL);
	assert_int_equal(kc_schedule_init(&s, INFINITY, KC_ARRIVAL_POISSON, 1, 0, 0, 1), KC_EINVAL);
	assert_int_equal(kc_schedule_init(&s, 10, KC_ARRIVAL_UNIFORM, 1, 0, 2, 2), KC_EINVAL);
	assert_int_equal(kc_schedule_init(&s, 10, KC_ARRIVAL_UNIFORM, 1, 0, 0, 0), KC_EINVAL);
	assert_memory_equal(&s, &before, sizeof(s));
	enum kc_arrival a = KC_ARRIVAL_UNIFORM;
	assert_int_equal(kc_arrival_parse("poisson", &a), KC_OK);
	assert_int_equal(a, KC_ARRIVAL_POISSON);
	assert_int_equal(kc_arrival_parse("gaussian", &a), KC_EPARSE);
	assert_string_equal(kc_arrival_name(KC_ARRIVAL_UNIFORM), "uniform");
}

static void test_ramp(void **state)
{
	(void)state;
	struct kc_ramp r;
	struct kc_diag d;
	assert_int_equal(kc_ramp_parse("10:200:10", &r, &d), KC_OK);
	assert_int_equal(r.nsteps, 20);
	assert_true(kc_ramp_value(&r, 0) == 10);
	assert_true(kc_ramp_value(&r, 19) == 200);
	assert_int_equal(kc_ramp_parse("0.1:0.3:0.1", &r, &d), KC_OK);
	assert_int_equal(r.nsteps, 3);
	assert_int_equal(kc_ramp_parse("10:25:10", &r, &d), KC_OK);
	assert_int_equal(r.nsteps, 2);
	assert_true(kc_ramp_value(&r, 1) == 20);
	assert_int_equal(kc_ramp_parse("5:5:1", &r, &d), KC_OK);
	assert_int_equal(r.nsteps, 1);
	kc_diag_clear(&d);
	assert_int_equal(kc_ramp_parse("10:200", &r, &d), KC_EPARSE);
	assert_non_null(strstr(d.msg, "A:B:STEP"));
	assert_int_equal(kc_ramp_parse("10:200:10:5", &r, &d), KC_EPARSE);
	assert_int_equal(kc_ramp_parse("x:200:10", &r, &d), KC_EPARSE);
	assert_int_equal(kc_ramp_parse("0:200:10", &r, &d), KC_EINVAL);
	assert_int_equal(kc_ramp_parse("200:10:10", &r, &d), KC_EINVAL);
	assert_int_equal(kc_ramp_parse("10:200:0", &r, &d), KC_EINVAL);
	assert_int_equal(kc_ramp_parse("1:1000000:1", &r, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "at most"));
}

static void test_engine_rejects_bad_config(void **state)
{
	(void)state;
	struct kc_engine *e = (struct kc_engine *)(uintptr_t)0x1;
	struct kc_diag d;
	struct kc_engine_config c = {.url = "not a url", .threads = 1, .connections = 1};
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "bad URL"));
	c.url = "ftp://127.0.0.1/";
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "scheme"));
	c.url = "http://127.0.0.1:1/";
	const char *bad_hdr[] = {"NoColonHere"};
	c.headers = bad_hdr;
	c.nheaders = 1;
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "bad header"));
	c.nheaders = 0;
	c.threads = 100000;
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_EINVAL);
	assert_true(e == (struct kc_engine *)(uintptr_t)0x1); /* untouched */
}

static void test_engine_rejects_bad_step(void **state)
{
	(void)state;
	struct kc_engine *e = NULL;
	struct kc_diag d;
	struct kc_engine_config c = {.url = "http://127.0.0.1:1/", .threads = 1, .connections = 2};
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_OK);
	assert_int_equal(kc_engine_threads(e), 1);
	assert_int_equal(kc_engine_slots(e), 2);
	struct kc_step_result r;
	memset(&r, 0x5a, sizeof(r));
	struct kc_step_spec s = {.mode = KC_STEP_RATE, .rate_rps = 0, .duration_ns = KC_NS_PER_S};
	assert_int_equal(kc_engine_run_step(e, &s, NULL, &r, &d), KC_EINVAL);
	s.rate_rps = -1;
	assert_int_equal(kc_engine_run_step(e, &s, NULL, &r, &d), KC_EINVAL);
	s.rate_rps = 10;
	s.duration_ns = 0;
	assert_int_equal(kc_engine_run_step(e, &s, NULL, &r, &d), KC_EINVAL);
	s.mode = KC_STEP_CONCURRENCY;
	s.duration_ns = KC_NS_PER_S;
	s.concurrency = 3; /* more than 1 thread x 2 slots */
	assert_int_equal(kc_engine_run_step(e, &s, NULL, &r, &d), KC_EINVAL);
	assert_true(r.index == 0x5a5a5a5a);
	kc_engine_free(e);
}

static void test_engine_refused_counts_connect_errors(void **state)
{
	(void)state;
	/* Port 1 on loopback: refused at once; every measured arrival is a connect error. */
	struct kc_engine *e = NULL;
	struct kc_diag d;
	struct kc_engine_config c = {.url = "http://127.0.0.1:1/", .threads = 1, .connections = 4};
	assert_int_equal(kc_engine_new(&e, &c, &d), KC_OK);
	int status = -1;
	assert_int_equal(kc_engine_probe(e, &status, &d), KC_ECONNECT);
	assert_non_null(strstr(d.msg, "127.0.0.1:1"));
	struct kc_step_result r;
	struct kc_step_spec s = {.mode = KC_STEP_RATE, .rate_rps = 200,
				 .duration_ns = 300 * KC_NS_PER_MS, .arrival = KC_ARRIVAL_UNIFORM};
	assert_int_equal(kc_engine_run_step(e, &s, NULL, &r, &d), KC_OK);
	assert_int_equal(r.scheduled, 60);
	assert_int_equal(r.ok, 0);
	assert_int_equal(r.completed, 0);
	assert_int_equal(r.errclass[KC_EC_CONNECT], 60);
	assert_int_equal(r.errors, 60);
	assert_false(r.partial);
	kc_step_result_fini(&r);
	kc_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_deterministic),
		cmocka_unit_test(test_rng_golden),
		cmocka_unit_test(test_uniform_spacing),
		cmocka_unit_test(test_uniform_slices_interleave),
		cmocka_unit_test(test_poisson_mean_and_count),
		cmocka_unit_test(test_poisson_deterministic_and_sliced),
		cmocka_unit_test(test_poisson_fixed_counts),
		cmocka_unit_test(test_linear_ramp),
		cmocka_unit_test(test_schedule_rejects),
		cmocka_unit_test(test_ramp),
		cmocka_unit_test(test_engine_rejects_bad_config),
		cmocka_unit_test(test_engine_rejects_bad_step),
		cmocka_unit_test(test_engine_refused_counts_connect_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
