/*
 * test_hdr.c - HDR histogram: layout and precision, percentiles on known
 * distributions, merge, coordinated-omission correction, range edges,
 * iteration, the step summary, and the recorder under a concurrent writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/hdr.h"
#include "kneecap/step.h"
#include "hdr_int.h"

#define HOUR_US INT64_C(3600000000)

static struct kc_hdr *new_hdr(int64_t lo, int64_t hi, int sf)
{
	struct kc_hdr *h = NULL;
	assert_int_equal(kc_hdr_new(&h, lo, hi, sf), KC_OK);
	assert_non_null(h);
	return h;
}

/* |got - want| within want * 10^-sigfigs (what the histogram promises). */
static void assert_within(int64_t got, int64_t want, int sigfigs)
{
	double tol = (double)want * pow(10.0, -sigfigs);
	if (fabs((double)got - (double)want) > tol)
		fail_msg("got %lld, want %lld (+-%.1f)", (long long)got,
			 (long long)want, tol);
}

static void test_new_rejects_bad_shapes(void **state)
{
	(void)state;
	struct kc_hdr *h = (struct kc_hdr *)(uintptr_t)0x1;
	assert_int_equal(kc_hdr_new(&h, 0, 100, 3), KC_EINVAL);
	assert_int_equal(kc_hdr_new(&h, 1, 1, 3), KC_EINVAL);
	assert_int_equal(kc_hdr_new(&h, 10, 19, 3), KC_EINVAL);
	assert_int_equal(kc_hdr_new(&h, 1, 100, 0), KC_EINVAL);
	assert_int_equal(kc_hdr_new(&h, 1, 100, 6), KC_EINVAL);
	assert_int_equal(kc_hdr_new(&h, INT64_C(1) << 50, INT64_MAX, 5), KC_EINVAL);
	assert_ptr_equal(h, (struct kc_hdr *)(uintptr_t)0x1); /* untouched */
	kc_hdr_free(NULL);
}

/* The layout HdrHistogram derives for (1, 3600e6, 3): 2048 sub-buckets, 23 buckets. */
static void test_layout_matches_reference(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	assert_int_equal(h->sub_bucket_count, 2048);
	assert_int_equal(h->unit_magnitude, 0);
	assert_int_equal(h->bucket_count, 22);
	assert_int_equal(h->counts_len, 23 * 1024);
	/* Values below 2048 are exact; above, ranges double per bucket. */
	assert_int_equal(kc_hdr_lowest_equivalent(h, 2047), 2047);
	assert_int_equal(kc_hdr_highest_equivalent(h, 2048), 2049);
	assert_int_equal(kc_hdr_lowest_equivalent(h, 10007), 10000);
	assert_int_equal(kc_hdr_highest_equivalent(h, 10007), 10007);
	/* sigfigs 2 -> 256 sub-buckets; lowest 1000 -> unit magnitude 9. */
	struct kc_hdr *g = new_hdr(1000, HOUR_US, 2);
	assert_int_equal(g->sub_bucket_count, 256);
	assert_int_equal(g->unit_magnitude, 9);
	assert_int_equal(kc_hdr_lowest_equivalent(g, 1000), 512);
	kc_hdr_free(g);
	kc_hdr_free(h);
}

/* Every index maps back to a value that maps to the same index. */
static void test_index_round_trip(void **state)
{
	(void)state;
	for (int sf = 1; sf <= 5; sf++) {
		struct kc_hdr *h = new_hdr(1, HOUR_US, sf);
		for (int32_t i = 0; i < h->counts_len; i++) {
			int64_t v = kc_hdr_value_from_index(h, i);
			if (v > h->highest)
				break;
			assert_int_equal(kc_hdr_index_of(h, v), i);
			assert_int_equal(kc_hdr_index_of(h, kc_hdr_highest_equivalent(h, v)), i);
		}
		/* Precision: every value's range is within 10^-sf of it. */
		for (int64_t v = 1; v < HOUR_US; v = v * 3 + 1) {
			int64_t lo = kc_hdr_lowest_equivalent(h, v);
			int64_t hi = kc_hdr_highest_equivalent(h, v);
			assert_true(lo <= v && v <= hi);
			assert_true((double)(hi - lo) <= (double)v * pow(10.0, -sf));
		}
		kc_hdr_free(h);
	}
}

static void test_uniform_percentiles(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	for (int64_t v = 1; v <= 1000000; v++)
		assert_true(kc_hdr_record(h, v));
	assert_int_equal(kc_hdr_total_count(h), 1000000);
	assert_within(kc_hdr_value_at_percentile(h, 50.0), 500000, 3);
	assert_within(kc_hdr_value_at_percentile(h, 90.0), 900000, 3);
	assert_within(kc_hdr_value_at_percentile(h, 99.0), 990000, 3);
	assert_within(kc_hdr_value_at_percentile(h, 99.9), 999000, 3);
	assert_within(kc_hdr_value_at_percentile(h, 100.0), 1000000, 3);
	assert_int_equal(kc_hdr_value_at_percentile(h, 0.0), 1);
	assert_int_equal(kc_hdr_min(h), 1);
	assert_within(kc_hdr_max(h), 1000000, 3);
	assert_within((int64_t)kc_hdr_mean(h), 500000, 3);
	/* stddev of U(1, 1e6) is 1e6 / sqrt(12). */
	assert_within((int64_t)kc_hdr_stddev(h), (int64_t)(1e6 / sqrt(12.0)), 3);
	kc_hdr_free(h);
}

/* Small exact cases whose answers follow from the reference's rounding. */
static void test_percentile_rounding(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	for (int64_t v = 1; v <= 4; v++)
		kc_hdr_record(h, v);
	assert_int_equal(kc_hdr_value_at_percentile(h, 25.0), 1);
	assert_int_equal(kc_hdr_value_at_percentile(h, 30.0), 2); /* ceil(1.2) */
	assert_int_equal(kc_hdr_value_at_percentile(h, 50.0), 2);
	assert_int_equal(kc_hdr_value_at_percentile(h, 50.1), 3);
	assert_int_equal(kc_hdr_value_at_percentile(h, 100.0), 4);
	assert_int_equal(kc_hdr_value_at_percentile(h, 250.0), 4);
	assert_int_equal(kc_hdr_value_at_percentile(h, -3.0), 1);
	assert_true(kc_hdr_mean(h) == 2.5);
	kc_hdr_free(h);
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic test data. */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void assert_same_counts(const struct kc_hdr *a, const struct kc_hdr *b)
{
	assert_int_equal(a->counts_len, b->counts_len);
	assert_memory_equal(a->counts, b->counts, (size_t)a->counts_len * sizeof(int64_t));
	assert_int_equal(kc_hdr_total_count(a), kc_hdr_total_count(b));
	assert_int_equal(kc_hdr_min(a), kc_hdr_min(b));
	assert_int_equal(kc_hdr_max(a), kc_hdr_max(b));
	assert_int_equal(kc_hdr_out_of_range(a), kc_hdr_out_of_range(b));
}

static void test_merge_equals_union(void **state)
{
	(void)state;
	struct kc_hdr *a = new_hdr(1, HOUR_US, 3), *b = new_hdr(1, HOUR_US, 3);
	struct kc_hdr *u = new_hdr(1, HOUR_US, 3);
	uint64_t s = 42;
	for (int i = 0; i < 20000; i++) {
		int64_t v = (int64_t)(rng_next(&s) % 5000000);
		kc_hdr_record(i % 3 ? a : b, v);
		kc_hdr_record(u, v);
	}
	kc_hdr_record(b, -5); /* out of range travels too */
	kc_hdr_record(u, -5);
	assert_int_equal(kc_hdr_add(a, b), 0);
	assert_same_counts(a, u);
	assert_true(kc_hdr_mean(a) == kc_hdr_mean(u));
	assert_int_equal(kc_hdr_value_at_percentile(a, 99.0),
			 kc_hdr_value_at_percentile(u, 99.0));

	/* Differing ranges: a wider destination re-records by representative. */
	struct kc_hdr *wide = new_hdr(1, INT64_C(1) << 40, 3);
	assert_int_equal(kc_hdr_add(wide, u), 0);
	assert_int_equal(kc_hdr_total_count(wide), kc_hdr_total_count(u));
	assert_int_equal(kc_hdr_value_at_percentile(wide, 90.0),
			 kc_hdr_value_at_percentile(u, 90.0));
	/* A narrower one counts what does not fit. */
	struct kc_hdr *narrow = new_hdr(1, 1000000, 3);
	int64_t above = 0;
	for (int32_t i = 0; i < u->counts_len; i++)
		if (u->counts[i] && kc_hdr_value_from_index(u, i) > 1000000)
			above += u->counts[i];
	assert_true(above > 0);
	assert_int_equal(kc_hdr_add(narrow, u), above);
	assert_int_equal(kc_hdr_out_of_range(narrow), above + 1);
	assert_int_equal(kc_hdr_total_count(narrow), kc_hdr_total_count(u) - above);
	kc_hdr_free(narrow);
	kc_hdr_free(wide);
	kc_hdr_free(u);
	kc_hdr_free(b);
	kc_hdr_free(a);
}

/*
 * HdrHistogram's documented stall example, in microseconds: 100 samples of
 * 1 ms taken at a 1 ms expected interval, then one 100 s stall.  Corrected
 * recording fills in the 99,999 samples a client on schedule would have
 * taken during the stall (99.999 s, 99.998 s, ... 1 ms).
 */
static void test_corrected_stall(void **state)
{
	(void)state;
	struct kc_hdr *raw = new_hdr(1, HOUR_US, 3), *cor = new_hdr(1, HOUR_US, 3);
	for (int i = 0; i < 100; i++) {
		kc_hdr_record(raw, 1000);
		assert_true(kc_hdr_record_corrected(cor, 1000, 1000));
	}
	kc_hdr_record(raw, 100000000);
	assert_true(kc_hdr_record_corrected(cor, 100000000, 1000));

	assert_int_equal(kc_hdr_total_count(raw), 101);
	assert_int_equal(kc_hdr_value_at_percentile(raw, 99.0), 1000);
	assert_int_equal(kc_hdr_total_count(cor), 100 + 100000);
	/* p50: the 50,050th sample = 100 at 1 ms, then 1 ms, 2 ms, ... 49,950 ms. */
	assert_int_equal(kc_hdr_value_at_percentile(cor, 50.0),
			 kc_hdr_highest_equivalent(cor, 49950000));
	assert_int_equal(kc_hdr_value_at_percentile(cor, 90.0),
			 kc_hdr_highest_equivalent(cor, 89990000));
	assert_int_equal(kc_hdr_value_at_percentile(cor, 99.0),
			 kc_hdr_highest_equivalent(cor, 98999000));
	assert_int_equal(kc_hdr_max(cor), kc_hdr_highest_equivalent(cor, 100000000));
	assert_int_equal(kc_hdr_min(cor), 1000);
	/* No correction when the value is within the interval, or interval <= 0. */
	kc_hdr_reset(cor);
	kc_hdr_record_corrected(cor, 900, 1000);
	kc_hdr_record_corrected(cor, 5000, 0);
	assert_int_equal(kc_hdr_total_count(cor), 2);
	kc_hdr_free(cor);
	kc_hdr_free(raw);
}

/* The bucketed fill-in equals recording every missing sample one by one. */
static void test_corrected_equals_naive(void **state)
{
	(void)state;
	struct kc_hdr *fast = new_hdr(1, HOUR_US, 3), *slow = new_hdr(1, HOUR_US, 3);
	uint64_t s = 5;
	for (int round = 0; round < 300; round++) {
		int64_t iv = 1 + (int64_t)(rng_next(&s) % (round < 150 ? 50 : 200000));
		int64_t v = (int64_t)(rng_next(&s) % (round < 150 ? 300000 : 3000000));
		kc_hdr_record_corrected(fast, v, iv);
		kc_hdr_record(slow, v);
		for (int64_t m = v - iv; m >= iv; m -= iv)
			kc_hdr_record(slow, m);
	}
	assert_same_counts(fast, slow);
	/* A one-hour stall at a 1 us interval stays cheap: 3.6e9 samples. */
	kc_hdr_reset(fast);
	assert_true(kc_hdr_record_corrected(fast, HOUR_US, 1));
	assert_int_equal(kc_hdr_total_count(fast), HOUR_US);
	assert_int_equal(kc_hdr_min(fast), 1);
	assert_within(kc_hdr_value_at_percentile(fast, 50.0), HOUR_US / 2, 3);
	kc_hdr_free(slow);
	kc_hdr_free(fast);
}

static void test_extremes_and_out_of_range(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	assert_true(kc_hdr_record(h, 0));
	assert_true(kc_hdr_record(h, 1));
	assert_true(kc_hdr_record(h, HOUR_US));
	assert_false(kc_hdr_record(h, -1));
	assert_false(kc_hdr_record(h, HOUR_US + 1));
	assert_false(kc_hdr_record(h, INT64_MAX));
	assert_false(kc_hdr_record(h, INT64_MIN));
	assert_false(kc_hdr_record_n(h, INT64_MAX, 7));
	assert_false(kc_hdr_record_corrected(h, -10, 3));
	assert_int_equal(kc_hdr_total_count(h), 3);
	assert_int_equal(kc_hdr_out_of_range(h), 4 + 7 + 1);
	assert_int_equal(kc_hdr_min(h), 0);
	assert_int_equal(kc_hdr_max(h), kc_hdr_highest_equivalent(h, HOUR_US));
	assert_true(kc_hdr_max(h) >= HOUR_US);
	assert_within(kc_hdr_value_at_percentile(h, 100.0), HOUR_US, 3);

	/* The widest shape there is: all of int64. */
	struct kc_hdr *w = new_hdr(1, INT64_MAX, 3);
	assert_true(kc_hdr_record(w, INT64_MAX));
	assert_true(kc_hdr_record(w, INT64_MAX - 1));
	assert_int_equal(kc_hdr_max(w), INT64_MAX);
	assert_int_equal(kc_hdr_value_at_percentile(w, 50.0), INT64_MAX);
	assert_true(kc_hdr_mean(w) > 9e18);
	kc_hdr_free(w);

	/* Empty histogram answers zeros. */
	kc_hdr_reset(h);
	assert_int_equal(kc_hdr_total_count(h), 0);
	assert_int_equal(kc_hdr_out_of_range(h), 0);
	assert_int_equal(kc_hdr_min(h), 0);
	assert_int_equal(kc_hdr_max(h), 0);
	assert_int_equal(kc_hdr_value_at_percentile(h, 99.0), 0);
	assert_true(kc_hdr_mean(h) == 0.0 && kc_hdr_stddev(h) == 0.0);
	kc_hdr_free(h);
}

static void test_reset_times_tag(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 2);
	kc_hdr_record_n(h, 12345, 10);
	kc_hdr_set_times(h, 1000, 2000);
	assert_int_equal(kc_hdr_set_tag(h, "step-3"), 0);
	assert_int_equal(kc_hdr_set_tag(h, "a,b"), KC_EINVAL);
	assert_int_equal(kc_hdr_set_tag(h, "a b"), KC_EINVAL);
	char longtag[80];
	memset(longtag, 'x', sizeof(longtag) - 1);
	longtag[79] = '\0';
	assert_int_equal(kc_hdr_set_tag(h, longtag), KC_EINVAL);
	assert_string_equal(kc_hdr_tag(h), "step-3");
	int64_t s = 0, e = 0;
	kc_hdr_get_times(h, &s, &e);
	assert_true(s == 1000 && e == 2000);
	struct kc_hdr *like = NULL;
	assert_int_equal(kc_hdr_new_like(&like, h), 0);
	assert_int_equal(kc_hdr_sigfigs(like), 2);
	assert_int_equal(kc_hdr_highest(like), HOUR_US);
	assert_int_equal(kc_hdr_lowest(like), 1);
	kc_hdr_reset(h);
	assert_int_equal(kc_hdr_total_count(h), 0);
	assert_string_equal(kc_hdr_tag(h), "");
	kc_hdr_get_times(h, &s, &e);
	assert_true(s == 0 && e == 0);
	for (int32_t i = 0; i < h->counts_len; i++)
		assert_int_equal(h->counts[i], 0);
	kc_hdr_free(like);
	kc_hdr_free(h);
}

static void test_percentile_iterator(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	for (int64_t v = 1; v <= 10000; v++)
		kc_hdr_record(h, v * 10);
	struct kc_hdr_iter it;
	kc_hdr_iter_percentiles(&it, h, 5);
	int steps = 0;
	double last_pct = -1.0;
	int64_t last_value = -1, last_count = -1;
	while (kc_hdr_iter_next(&it)) {
		assert_true(steps < 10000);
		assert_true(it.percentile >= last_pct);
		assert_true(it.value >= last_value);
		assert_true(it.count_to_value >= last_count);
		/* The step's value sits at or above its percentile. */
		assert_true(it.value >= kc_hdr_value_at_percentile(h, it.percentile) ||
			    it.percentile >= 100.0);
		if (steps == 0) {
			assert_true(it.percentile == 0.0);
			assert_int_equal(it.value, 10);
			assert_int_equal(it.count_to_value, 1);
		}
		last_pct = it.percentile;
		last_value = it.value;
		last_count = it.count_to_value;
		steps++;
	}
	assert_true(last_pct == 100.0);
	assert_int_equal(last_value, kc_hdr_max(h));
	assert_int_equal(last_count, 10000);
	/*
	 * Levels: 5 ticks per half distance -> 0, 10, 20, ... 50, then 55, 60,
	 * ... so the sixth step is 50% and the value is the 5000th sample.
	 */
	kc_hdr_iter_percentiles(&it, h, 5);
	for (int i = 0; i < 6; i++)
		assert_true(kc_hdr_iter_next(&it));
	assert_true(fabs(it.percentile - 50.0) < 1e-9);
	assert_int_equal(it.value, kc_hdr_highest_equivalent(h, 50000));
	assert_false(kc_hdr_iter_next(&it) && it.percentile < 50.0);

	/* Empty histogram: no steps. */
	kc_hdr_reset(h);
	kc_hdr_iter_percentiles(&it, h, 5);
	assert_false(kc_hdr_iter_next(&it));
	kc_hdr_free(h);
}

/* Counts near 2^63 (a decoded log can carry them): the double of the total
 * rounds up past it, and the top percentile must still find the last value
 * (a fuzzed .hlog once got 0 for p100 and a larger p50). */
static void test_percentile_huge_counts(void **state)
{
	(void)state;
	struct kc_hdr *h = NULL;
	assert_int_equal(kc_hdr_new(&h, 1, 3600000000, 3), 0);
	assert_true(kc_hdr_record_n(h, 997, INT64_C(4902185925100000000)));
	assert_true(kc_hdr_record_n(h, 992767, 21740));
	int64_t p50 = kc_hdr_value_at_percentile(h, 50.0);
	int64_t p100 = kc_hdr_value_at_percentile(h, 100.0);
	/* 3 digits: the bucket's highest equivalent is within 0.1%. */
	assert_true(p50 >= 997 && p50 <= 998);
	assert_true(p100 >= 992767 && p100 <= 993791);
	assert_true(p50 <= p100);
	kc_hdr_free(h);
}

static void test_latency_summary(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	for (int64_t v = 1; v <= 1000; v++)
		kc_hdr_record(h, v * 1000); /* 1..1000 ms */
	struct kc_latency l;
	kc_latency_from_hdr(&l, h);
	assert_int_equal(l.count, 1000);
	assert_true(fabs(l.p50 - 500.0) <= 0.5);
	assert_true(fabs(l.p99 - 990.0) <= 1.0);
	assert_true(fabs(l.max - 1000.0) <= 1.0);
	assert_true(fabs(l.mean - 500.5) <= 0.6);
	kc_latency_from_hdr(&l, NULL);
	assert_int_equal(l.count, 0);
	assert_string_equal(kc_errclass_name(KC_EC_CONNECT), "connect");
	assert_string_equal(kc_errclass_name(KC_EC_THROTTLE), "throttle");
	assert_string_equal(kc_errclass_name(KC_EC_COUNT), "other");
	struct kc_step_result s;
	memset(&s, 0, sizeof(s));
	s.latency_hist = h;
	kc_step_result_fini(&s);
	assert_null(s.latency_hist);
	kc_step_result_fini(NULL);
}

/* ---- recorder --------------------------------------------------------- */

#define REC_N 400000

struct rec_ctx {
	struct kc_hdr_recorder r;
	atomic_bool writer_done;
};

static void *writer_main(void *p)
{
	struct rec_ctx *c = p;
	for (int64_t i = 0; i < REC_N; i++)
		kc_hdr_recorder_record(&c->r, 1 + (i % 100000));
	atomic_store(&c->writer_done, true);
	return NULL;
}

static void test_recorder_intervals_sum(void **state)
{
	(void)state;
	struct rec_ctx c;
	assert_int_equal(kc_hdr_recorder_init(&c.r, 1, HOUR_US, 3), 0);
	atomic_init(&c.writer_done, false);
	kc_hdr_recorder_set_start(&c.r, 100);
	struct kc_hdr *interval = new_hdr(1, HOUR_US, 3);
	struct kc_hdr *sum = new_hdr(1, HOUR_US, 3);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, writer_main, &c), 0);
	int takes = 0, busy_takes = 0;
	int64_t now = 100;
	/* Bounded: the writer finishes in well under 1e6 takes. */
	while (!atomic_load(&c.writer_done) && takes < 1000000) {
		kc_hdr_reset(interval);
		now += 1;
		assert_int_equal(kc_hdr_recorder_take(&c.r, interval, now), 0);
		int64_t s = 0, e = 0;
		kc_hdr_get_times(interval, &s, &e);
		assert_true(s == now - 1 && e == now);
		if (kc_hdr_total_count(interval) > 0)
			busy_takes++;
		kc_hdr_add(sum, interval);
		takes++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("recorder: %d takes, %d with samples\n", takes, busy_takes);
	kc_hdr_reset(interval);
	kc_hdr_recorder_take(&c.r, interval, now + 1);
	kc_hdr_add(sum, interval);
	assert_int_equal(kc_hdr_total_count(sum), REC_N);
	/* Exactly what one histogram recording the same values would hold. */
	struct kc_hdr *ref = new_hdr(1, HOUR_US, 3);
	for (int64_t i = 0; i < REC_N; i++)
		kc_hdr_record(ref, 1 + (i % 100000));
	assert_same_counts(sum, ref);
	/* Corrected recording and out-of-range through the recorder. */
	assert_true(kc_hdr_recorder_record_corrected(&c.r, 5000, 1000));
	assert_false(kc_hdr_recorder_record(&c.r, -1));
	kc_hdr_reset(interval);
	kc_hdr_recorder_take(&c.r, interval, now + 2);
	assert_int_equal(kc_hdr_total_count(interval), 5);
	assert_int_equal(kc_hdr_out_of_range(interval), 1);
	kc_hdr_free(ref);
	kc_hdr_free(sum);
	kc_hdr_free(interval);
	kc_hdr_recorder_fini(&c.r);
	kc_hdr_recorder_fini(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_shapes),
		cmocka_unit_test(test_layout_matches_reference),
		cmocka_unit_test(test_index_round_trip),
		cmocka_unit_test(test_uniform_percentiles),
		cmocka_unit_test(test_percentile_rounding),
		cmocka_unit_test(test_merge_equals_union),
		cmocka_unit_test(test_corrected_stall),
		cmocka_unit_test(test_corrected_equals_naive),
		cmocka_unit_test(test_extremes_and_out_of_range),
		cmocka_unit_test(test_reset_times_tag),
		cmocka_unit_test(test_percentile_iterator),
		cmocka_unit_test(test_percentile_huge_counts),
		cmocka_unit_test(test_latency_summary),
		cmocka_unit_test(test_recorder_intervals_sum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
