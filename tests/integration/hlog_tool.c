/*
 * hlog_tool.c - kneecap's side of test_hlog_java.sh.
 *
 *   hlog_tool write FILE   writes an interval log with kneecap's writer from
 *                          known distributions (tags, 125 ms-aligned times)
 *                          and prints one line of figures per interval
 *   hlog_tool read FILE    reads FILE with kneecap's reader and prints the
 *                          same figures; exit 1 on a reader error
 *   hlog_tool pct FILE     reads FILE and prints each interval's percentile
 *                          distribution (kc_hdr_iter_percentiles, 5 ticks)
 *   hlog_tool sum TAG FILE...  adds every interval tagged TAG in the FILEs
 *                          into one histogram and prints its figures (what
 *                          `kneecap merge` must get for that step)
 *
 * Figures: tag start_ms end_ms count min max mean p50 p90 p99 p99.9, the
 * format tests/integration/java/HlogCheck.java prints.  A test helper, so it
 * prints (the library never does).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "hdr_int.h"

#define BASE_MS INT64_C(1700000000000)
#define HOUR_US INT64_C(3600000000)

static void figures(const struct kc_hdr *h)
{
	int64_t s = 0, e = 0;
	kc_hdr_get_times(h, &s, &e);
	const char *tag = kc_hdr_tag(h)[0] ? kc_hdr_tag(h) : "-";
	printf("%s %lld %lld %lld %lld %lld %.6f %lld %lld %lld %lld\n", tag,
	       (long long)s, (long long)e, (long long)kc_hdr_total_count(h),
	       (long long)kc_hdr_min(h), (long long)kc_hdr_max(h), kc_hdr_mean(h),
	       (long long)kc_hdr_value_at_percentile(h, 50.0),
	       (long long)kc_hdr_value_at_percentile(h, 90.0),
	       (long long)kc_hdr_value_at_percentile(h, 99.0),
	       (long long)kc_hdr_value_at_percentile(h, 99.9));
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int emit(struct kc_hlog_writer *w, struct kc_hdr *h, const char *tag,
		int64_t start_ms, int64_t end_ms)
{
	if (kc_hdr_set_tag(h, tag) != 0)
		return KC_EINVAL;
	kc_hdr_set_times(h, start_ms, end_ms);
	int rc = kc_hlog_write_interval(w, h);
	if (rc == 0)
		figures(h);
	kc_hdr_free(h);
	return rc;
}

static struct kc_hdr *mk(int64_t lo, int64_t hi, int sf)
{
	struct kc_hdr *h = NULL;
	if (kc_hdr_new(&h, lo, hi, sf) != 0) {
		fprintf(stderr, "hlog_tool: cannot make a histogram\n");
		exit(1);
	}
	return h;
}

static int do_write(const char *path)
{
	FILE *fp = fopen(path, "w");
	if (!fp)
		return KC_EIO;
	struct kc_hlog_writer w;
	int rc = kc_hlog_writer_init(&w, NULL, fp, 1000.0);
	if (rc == 0)
		rc = kc_hlog_write_header(&w, BASE_MS, BASE_MS);

	struct kc_hdr *h = mk(1, HOUR_US, 3);
	for (int64_t v = 1; v <= 100000; v++)
		kc_hdr_record(h, v);
	if (rc == 0)
		rc = emit(&w, h, "uniform", BASE_MS, BASE_MS + 1000);
	else
		kc_hdr_free(h);

	h = mk(1, HOUR_US, 3);
	uint64_t seed = 7;
	for (int i = 0; i < 50000; i++) {
		double u = (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
		kc_hdr_record(h, (int64_t)(-log(1.0 - u) * 20000.0));
	}
	if (rc == 0)
		rc = emit(&w, h, NULL, BASE_MS + 1000, BASE_MS + 2125);
	else
		kc_hdr_free(h);

	h = mk(1, HOUR_US, 3);
	for (int i = 0; i < 100; i++)
		kc_hdr_record_corrected(h, 1000, 1000);
	kc_hdr_record_corrected(h, 100000000, 1000);
	if (rc == 0)
		rc = emit(&w, h, "stall", BASE_MS + 2125, BASE_MS + 3250);
	else
		kc_hdr_free(h);

	h = mk(1000, INT64_C(1000000000000), 2);
	for (int64_t v = 1000; v < INT64_C(1000000000000); v = v * 3 + 7)
		kc_hdr_record_n(h, v, 1 + v % 5);
	if (rc == 0)
		rc = emit(&w, h, "wide", BASE_MS + 3250, BASE_MS + 60000);
	else
		kc_hdr_free(h);

	h = mk(1, HOUR_US, 3);
	if (rc == 0)
		rc = emit(&w, h, "empty", BASE_MS + 60000, BASE_MS + 61000);
	else
		kc_hdr_free(h);

	kc_hlog_writer_fini(&w);
	if (fclose(fp) != 0 && rc == 0)
		rc = KC_EIO;
	return rc;
}

static void percentiles(const struct kc_hdr *h)
{
	printf("# %s\n", kc_hdr_tag(h)[0] ? kc_hdr_tag(h) : "-");
	struct kc_hdr_iter it;
	kc_hdr_iter_percentiles(&it, h, 5);
	while (kc_hdr_iter_next(&it))
		printf("%lld %.9f %lld %lld\n", (long long)it.value, it.percentile,
		       (long long)it.count_to_value, (long long)it.count_at_value);
}

static int do_read(const char *path, bool pct)
{
	struct kc_buf b;
	kc_buf_init(&b, (size_t)256 << 20);
	int rc = kc_buf_read_file(&b, path);
	if (rc != 0) {
		kc_buf_fini(&b);
		return rc;
	}
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, b.data, b.len);
	struct kc_hlog_interval iv;
	struct kc_diag d;
	kc_diag_clear(&d);
	while ((rc = kc_hlog_reader_next(&r, &iv, &d)) == 1) {
		if (pct)
			percentiles(iv.hist);
		else
			figures(iv.hist);
		kc_hdr_free(iv.hist);
	}
	if (rc < 0)
		fprintf(stderr, "hlog_tool: %s: %s\n", path, d.msg);
	kc_buf_fini(&b);
	return rc;
}

/* Adds FILE's intervals tagged tag into *sum. */
static int sum_file(const char *path, const char *tag, struct kc_hdr **sum)
{
	struct kc_buf b;
	kc_buf_init(&b, (size_t)256 << 20);
	int rc = kc_buf_read_file(&b, path);
	if (rc != 0) {
		kc_buf_fini(&b);
		return rc;
	}
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, b.data, b.len);
	struct kc_hlog_interval iv;
	struct kc_diag d;
	kc_diag_clear(&d);
	while ((rc = kc_hlog_reader_next(&r, &iv, &d)) == 1) {
		if (strcmp(kc_hdr_tag(iv.hist), tag) == 0) {
			if (!*sum && kc_hdr_new_like(sum, iv.hist) != 0)
				rc = KC_ENOMEM;
			else
				kc_hdr_add(*sum, iv.hist);
		}
		kc_hdr_free(iv.hist);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		fprintf(stderr, "hlog_tool: %s: %s\n", path, d.msg);
	kc_buf_fini(&b);
	return rc;
}

static int do_sum(const char *tag, int nfiles, char **files)
{
	struct kc_hdr *sum = NULL;
	int rc = 0;
	for (int i = 0; i < nfiles && rc >= 0; i++)
		rc = sum_file(files[i], tag, &sum);
	if (rc >= 0 && sum) {
		kc_hdr_set_tag(sum, tag);
		figures(sum);
	}
	kc_hdr_free(sum);
	return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "sum") == 0) {
		int rc = do_sum(argv[2], argc - 3, argv + 3);
		return rc < 0 ? 1 : 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: hlog_tool read|write|pct FILE | sum TAG FILE...\n");
		return 2;
	}
	int rc;
	if (strcmp(argv[1], "write") == 0)
		rc = do_write(argv[2]);
	else if (strcmp(argv[1], "read") == 0)
		rc = do_read(argv[2], false);
	else if (strcmp(argv[1], "pct") == 0)
		rc = do_read(argv[2], true);
	else
		return 2;
	if (rc < 0) {
		fprintf(stderr, "hlog_tool: %s: %s\n", argv[1], kc_strerror(rc));
		return 1;
	}
	return 0;
}
