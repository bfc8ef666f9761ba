/*
 * bench_hdr.c - what recording and interval swaps cost (run by hand, never
 * in CI; timings on a shared machine are indicative, instruction counts
 * under callgrind are the figure to compare across changes).
 *
 *   bench_hdr [N]   N records per measurement (default 20,000,000)
 *
 * Prints ns per kc_hdr_record, per kc_hdr_recorder_record (the phaser
 * adds two atomic increments), per corrected record with no stall, and per
 * kc_hdr_recorder_take for a (1 us, 1 h, 3 digits) histogram, alone and
 * with a writer thread recording at full speed meanwhile.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "kneecap/clock.h"
#include "kneecap/hdr.h"

#define HOUR_US INT64_C(3600000000)
#define NVALUES 65536 /* power of two: the index is a mask */

static int64_t values[NVALUES];

static void fill_values(void)
{
	uint64_t s = 12345;
	for (int i = 0; i < NVALUES; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		/* Latency-like: mostly 1-50 ms, a tail to seconds. */
		int64_t v = 1000 + (int64_t)((s >> 33) % 49000);
		if ((s & 0xff) == 0)
			v *= 100;
		values[i] = v;
	}
}

static double per_op(int64_t t0, int64_t t1, int64_t n)
{
	return (double)(t1 - t0) / (double)n;
}

struct writer_arg {
	struct kc_hdr_recorder *r;
	atomic_bool stop;
	int64_t recorded;
};

static void *writer_main(void *p)
{
	struct writer_arg *a = p;
	int64_t n = 0;
	while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
		kc_hdr_recorder_record(a->r, values[n & (NVALUES - 1)]);
		n++;
	}
	a->recorded = n;
	return NULL;
}

int main(int argc, char **argv)
{
	int64_t n = argc > 1 ? atoll(argv[1]) : 20000000;
	if (n < 1000 || n > INT64_C(10000000000)) {
		fprintf(stderr, "usage: bench_hdr [N in 1000..1e10]\n");
		return 2;
	}
	fill_values();
	struct kc_hdr *h = NULL, *into = NULL;
	if (kc_hdr_new(&h, 1, HOUR_US, 3) != 0 || kc_hdr_new(&into, 1, HOUR_US, 3) != 0)
		return 1;

	/* Warm the counts array and the branch predictors. */
	for (int64_t i = 0; i < NVALUES * 4; i++)
		kc_hdr_record(h, values[i & (NVALUES - 1)]);

	int64_t t0 = kc_clock_ns();
	for (int64_t i = 0; i < n; i++)
		kc_hdr_record(h, values[i & (NVALUES - 1)]);
	int64_t t1 = kc_clock_ns();
	printf("kc_hdr_record               %6.2f ns/op  (%lld ops)\n", per_op(t0, t1, n),
	       (long long)n);

	t0 = kc_clock_ns();
	for (int64_t i = 0; i < n; i++)
		kc_hdr_record_corrected(h, values[i & (NVALUES - 1)], HOUR_US);
	t1 = kc_clock_ns();
	printf("kc_hdr_record_corrected     %6.2f ns/op  (no stall)\n", per_op(t0, t1, n));

	struct kc_hdr_recorder r;
	if (kc_hdr_recorder_init(&r, 1, HOUR_US, 3) != 0)
		return 1;
	t0 = kc_clock_ns();
	for (int64_t i = 0; i < n; i++)
		kc_hdr_recorder_record(&r, values[i & (NVALUES - 1)]);
	t1 = kc_clock_ns();
	printf("kc_hdr_recorder_record      %6.2f ns/op  (one writer, no reader)\n",
	       per_op(t0, t1, n));

	const int64_t takes = 2000;
	t0 = kc_clock_ns();
	for (int64_t i = 0; i < takes; i++) {
		kc_hdr_recorder_record(&r, values[i & (NVALUES - 1)]);
		kc_hdr_recorder_take(&r, into, i);
	}
	t1 = kc_clock_ns();
	printf("kc_hdr_recorder_take        %6.0f ns/op  (swap + add + reset, 1 us..1 h, 3 digits)\n",
	       per_op(t0, t1, takes));

	/* Takes while a writer records flat out on another thread. */
	struct writer_arg wa = {.r = &r, .recorded = 0};
	atomic_init(&wa.stop, false);
	pthread_t t;
	if (pthread_create(&t, NULL, writer_main, &wa) != 0)
		return 1;
	kc_sleep_ns(10 * KC_NS_PER_MS);
	int64_t total = 0;
	t0 = kc_clock_ns();
	for (int64_t i = 0; i < takes; i++) {
		kc_hdr_reset(into);
		kc_hdr_recorder_take(&r, into, i);
		total += kc_hdr_total_count(into);
	}
	t1 = kc_clock_ns();
	atomic_store(&wa.stop, true);
	pthread_join(t, NULL);
	kc_hdr_reset(into);
	kc_hdr_recorder_take(&r, into, 0);
	total += kc_hdr_total_count(into);
	printf("kc_hdr_recorder_take        %6.0f ns/op  (writer running: %lld records "
	       "taken, %lld written)\n",
	       per_op(t0, t1, takes), (long long)total, (long long)wa.recorded);
	kc_hdr_recorder_fini(&r);
	kc_hdr_free(into);
	kc_hdr_free(h);
	return total > 0 ? 0 : 1;
}
