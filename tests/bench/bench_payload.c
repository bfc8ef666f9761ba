/*
 * bench_payload.c - how fast the payload factory and pool are, and proof
 * that the request path neither copies nor rehashes a body.
 *
 * Run by hand (ninja -C build tests/bench/bench_payload && ./build/tests/bench/bench_payload).
 * Single-threaded throughout: the figures are per core.  Times are this
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other processes on a
 * shared machine inflate them less than wall time; each figure is the best
 * of a few rounds.
 */
#include "kneecap/jpeg.h"
#include "kneecap/pool.h"
#include "pool_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 3
#define POOL_N 32
#define GETS 50000000ULL

/* This thread's CPU time in nanoseconds. */
static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int die(const char *what, const struct kc_diag *d)
{
	fprintf(stderr, "bench_payload: %s: %s\n", what, d->msg);
	return 1;
}

/* Makes n images with o; returns the best round's ns and the sizes. */
static int synth(const struct kc_jpeg_opts *o, int n, int64_t *best_ns,
		 double *mean_bytes, double *mean_trials)
{
	struct kc_diag d;
	*best_ns = INT64_MAX;
	for (int r = 0; r < ROUNDS; r++) {
		struct kc_jpeg_gen *g = NULL;
		if (kc_jpeg_gen_new(&g, o, &d))
			return die("gen_new", &d);
		double bytes = 0, trials = 0;
		int64_t t0 = cpu_ns();
		for (int i = 0; i < n; i++) {
			struct kc_jpeg_image img;
			if (kc_jpeg_gen_make(g, (uint64_t)i, &img, &d)) {
				kc_jpeg_gen_free(g);
				return die("make", &d);
			}
			bytes += (double)img.len_bytes;
			trials += img.trials;
			kc_jpeg_image_fini(&img);
		}
		int64_t dt = cpu_ns() - t0;
		kc_jpeg_gen_free(g);
		if (dt < *best_ns)
			*best_ns = dt;
		*mean_bytes = bytes / n;
		*mean_trials = trials / n;
	}
	return 0;
}

static int bench_synth(const char *label, const struct kc_jpeg_opts *o)
{
	int64_t ns;
	double bytes, trials;
	if (synth(o, POOL_N, &ns, &bytes, &trials))
		return 1;
	double per_s = POOL_N / (ns / 1e9);
	double mp = (double)o->width_px * o->height_px / 1e6;
	printf("synth+encode %-34s %6.1f images/s  %6.1f MP/s  %5.2f ms/image  mean %4.0f KB  %.2f encodes/image\n",
	       label, per_s, per_s * mp, ns / 1e6 / POOL_N, bytes / 1024, trials);
	return 0;
}

/* The whole pool build, calibration and hashing included, best of ROUNDS. */
static int bench_pool(const char *label, const struct kc_jpeg_opts *o)
{
	struct kc_diag d;
	int64_t best = INT64_MAX;
	struct kc_pool_summary s = {0};
	for (int r = 0; r < ROUNDS; r++) {
		struct kc_pool *p = NULL;
		int64_t t0 = cpu_ns();
		if (kc_pool_new_jpeg(&p, o, &d))
			return die("pool", &d);
		int64_t dt = cpu_ns() - t0;
		best = dt < best ? dt : best;
		kc_pool_summary(p, &s);
		kc_pool_free(p);
	}
	printf("pool build   %-34s %6.1f ms for %zu images (mean %.0f KB, min %zu, max %zu bytes)\n",
	       label, best / 1e6, s.count, s.bytes_mean / 1024, s.bytes_min, s.bytes_max);
	return 0;
}

/*
 * The request path: what a worker does per request is kc_pool_get and a
 * read of bytes/len/sha256_hex.  Every get must return a pointer into the
 * pool (the same one for the same slot, every time) and the pool's hash
 * counter must not move.
 */
static int bench_get(void)
{
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	struct kc_pool *p = NULL;
	struct kc_diag d;
	o.variety = POOL_N;
	if (kc_pool_new_jpeg(&p, &o, &d))
		return die("pool", &d);
	const unsigned char *first[POOL_N];
	for (int i = 0; i < POOL_N; i++)
		first[i] = kc_pool_get(p, (uint64_t)i)->bytes;
	uint64_t hashes_before = kc_pool_hash_count(p);
	uint64_t mismatches = 0, sum = 0;
	int64_t t0 = cpu_ns();
	for (uint64_t seq = 0; seq < GETS; seq++) {
		const struct kc_payload *e = kc_pool_get(p, seq);
		mismatches += e->bytes != first[seq % POOL_N];
		sum += e->len_bytes + (unsigned char)e->sha256_hex[0];
	}
	int64_t dt = cpu_ns() - t0;
	uint64_t hashes_after = kc_pool_hash_count(p);
	printf("kc_pool_get  %llu gets: %.2f ns/get; bodies copied: %llu (every get returned the pool's own pointer: %s)\n",
	       (unsigned long long)GETS, (double)dt / GETS,
	       (unsigned long long)mismatches, mismatches ? "NO" : "yes");
	printf("             SHA-256 computed: %llu before the gets, %llu after, for %zu entries (%s) [checksum %llu]\n",
	       (unsigned long long)hashes_before, (unsigned long long)hashes_after,
	       kc_pool_count(p),
	       hashes_after == kc_pool_count(p) ? "once per entry" : "REHASHED",
	       (unsigned long long)sum);
	int bad = mismatches != 0 || hashes_after != kc_pool_count(p);
	kc_pool_free(p);
	return bad;
}

int main(void)
{
	struct kc_jpeg_opts o;
	int rc = 0;
	kc_jpeg_opts_default(&o);
	rc |= bench_synth("1024x1024 420 q85 detail 250", &o);
	o.detail = 0;
	rc |= bench_synth("1024x1024 420 q85 detail 0", &o);
	kc_jpeg_opts_default(&o);
	o.subsamp = KC_JPEG_444;
	o.progressive = true;
	rc |= bench_synth("1024x1024 444 progressive", &o);
	static const unsigned sizes_kb[] = {80, 200, 600};
	for (int i = 0; i < 3; i++) {
		char label[64];
		kc_jpeg_opts_default(&o);
		o.size_kb = sizes_kb[i];
		snprintf(label, sizeof(label), "1024x1024 420 --size-kb %u", sizes_kb[i]);
		rc |= bench_synth(label, &o);
	}
	kc_jpeg_opts_default(&o);
	o.variety = POOL_N;
	rc |= bench_pool("1024x1024 defaults", &o);
	o.size_kb = 200;
	rc |= bench_pool("1024x1024 --size-kb 200", &o);
	rc |= bench_get();
	return rc;
}
