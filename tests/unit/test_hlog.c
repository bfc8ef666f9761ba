/*
 * test_hlog.c - the .hlog codec: the V2 encoding byte for byte against the
 * Java reference, compressed round trips, writer + reader round trips,
 * a log written by HdrHistogram's Java writer (tests/data/hlog), and bad
 * input: every corrupt or truncated line is an error naming its line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "hdr_int.h"

#define HOUR_US INT64_C(3600000000)

static struct kc_hdr *new_hdr(int64_t lo, int64_t hi, int sf)
{
	struct kc_hdr *h = NULL;
	assert_int_equal(kc_hdr_new(&h, lo, hi, sf), KC_OK);
	return h;
}

static void assert_same_hist(const struct kc_hdr *a, const struct kc_hdr *b)
{
	assert_int_equal(kc_hdr_lowest(a), kc_hdr_lowest(b));
	assert_int_equal(kc_hdr_highest(a), kc_hdr_highest(b));
	assert_int_equal(kc_hdr_sigfigs(a), kc_hdr_sigfigs(b));
	assert_int_equal(a->counts_len, b->counts_len);
	assert_memory_equal(a->counts, b->counts, (size_t)a->counts_len * sizeof(int64_t));
	assert_int_equal(kc_hdr_total_count(a), kc_hdr_total_count(b));
	assert_int_equal(kc_hdr_min(a), kc_hdr_min(b));
	assert_int_equal(kc_hdr_max(a), kc_hdr_max(b));
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/*
 * Vector from HdrHistogram 2.1.11 (Java): new Histogram(1, 1000000, 3),
 * values 0, 5 and 5000, encodeIntoByteBuffer.
 */
static void test_encode_matches_java(void **state)
{
	(void)state;
	static const char java_hex[] =
		"1c849313000000060000000000000003000000000000000100000000000f4240"
		"3ff0000000000000020702b73302";
	struct kc_hdr *h = new_hdr(1, 1000000, 3);
	kc_hdr_record(h, 0);
	kc_hdr_record(h, 5);
	kc_hdr_record(h, 5000);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_hlog_encode(h, &b), 0);
	char hex[256] = "";
	assert_true(b.len * 2 < sizeof(hex));
	for (size_t i = 0; i < b.len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)b.data[i]);
	assert_string_equal(hex, java_hex);
	/* And it decodes back to the same histogram. */
	struct kc_hdr *back = NULL;
	assert_int_equal(kc_hlog_decode(b.data, b.len, 0, &back, NULL), 0);
	assert_same_hist(h, back);
	kc_hdr_free(back);
	kc_buf_fini(&b);
	kc_hdr_free(h);
}

static void test_compressed_round_trip(void **state)
{
	(void)state;
	static const struct { int64_t lo, hi; int sf; } shapes[] = {
		{1, HOUR_US, 3}, {1, 1000, 1}, {1000, INT64_C(1) << 45, 2},
		{1, INT64_MAX, 5}, {7, 100000, 4},
	};
	uint64_t seed = 1;
	struct kc_buf b;
	kc_buf_init(&b, (size_t)64 << 20);
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct kc_hdr *h = new_hdr(shapes[k].lo, shapes[k].hi, shapes[k].sf);
		for (int i = 0; i < 5000; i++) {
			int64_t v = (int64_t)(rng_next(&seed) % (uint64_t)shapes[k].hi);
			kc_hdr_record_n(h, v, 1 + (int64_t)(rng_next(&seed) % 1000));
		}
		kc_hdr_record_n(h, shapes[k].hi, INT64_C(1) << 40); /* 9-byte counts */
		kc_buf_reset(&b);
		assert_int_equal(kc_hlog_encode_compressed(h, &b), 0);
		struct kc_hdr *back = NULL;
		struct kc_diag d;
		kc_diag_clear(&d);
		int rc = kc_hlog_decode(b.data, b.len, INT64_C(1) << 24, &back, &d);
		if (rc != 0)
			fail_msg("shape %zu: %s", k, d.msg);
		assert_same_hist(h, back);
		assert_true(kc_hdr_mean(h) == kc_hdr_mean(back));
		kc_hdr_free(back);
		kc_hdr_free(h);
	}
	/* An empty histogram encodes too. */
	struct kc_hdr *e = new_hdr(1, HOUR_US, 3), *back = NULL;
	kc_buf_reset(&b);
	assert_int_equal(kc_hlog_encode_compressed(e, &b), 0);
	assert_int_equal(kc_hlog_decode(b.data, b.len, 0, &back, NULL), 0);
	assert_int_equal(kc_hdr_total_count(back), 0);
	kc_hdr_free(back);
	kc_hdr_free(e);
	kc_buf_fini(&b);
}

/* Writes a three-interval log into out. */
static void write_log(struct kc_buf *out, int64_t base_ms)
{
	struct kc_hlog_writer w;
	assert_int_equal(kc_hlog_writer_init(&w, out, NULL, 1000.0), 0);
	assert_int_equal(kc_hlog_write_header(&w, base_ms, base_ms), 0);
	for (int k = 0; k < 3; k++) {
		struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
		for (int64_t v = 1; v <= 1000 * (k + 1); v++)
			kc_hdr_record(h, v * 37);
		if (k != 1) {
			char tag[16];
			snprintf(tag, sizeof(tag), "step-%d", k);
			assert_int_equal(kc_hdr_set_tag(h, tag), 0);
		}
		kc_hdr_set_times(h, base_ms + 1000 * k + 1, base_ms + 1000 * (k + 1) + 1);
		assert_int_equal(kc_hlog_write_interval(&w, h), 0);
		kc_hdr_free(h);
	}
	kc_hlog_writer_fini(&w);
}

static void test_writer_reader_round_trip(void **state)
{
	(void)state;
	const int64_t base = INT64_C(1700000000123);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	write_log(&b, base);
	assert_non_null(strstr(b.data, "#[BaseTime: 1700000000.123 (seconds since epoch)]\n"));
	assert_non_null(strstr(b.data, "\n\"StartTimestamp\",\"Interval_Length\","
				       "\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"));
	assert_non_null(strstr(b.data, "\nTag=step-0,0.001,1.000,37.023,HISTF"));
	assert_non_null(strstr(b.data, "\n1.001,1.000,"));

	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, b.data, b.len);
	struct kc_hlog_interval iv;
	struct kc_diag d;
	for (int k = 0; k < 3; k++) {
		kc_diag_clear(&d);
		int rc = kc_hlog_reader_next(&r, &iv, &d);
		if (rc != 1)
			fail_msg("interval %d: rc %d %s", k, rc, d.msg);
		assert_int_equal(iv.line, 6 + k);
		assert_string_equal(iv.tag, k == 1 ? "" : (k == 0 ? "step-0" : "step-2"));
		assert_string_equal(kc_hdr_tag(iv.hist), iv.tag);
		int64_t s = 0, e = 0;
		kc_hdr_get_times(iv.hist, &s, &e);
		assert_int_equal(s, base + 1000 * k + 1);
		assert_int_equal(e, base + 1000 * (k + 1) + 1);
		assert_true(fabs(iv.length_s - 1.0) < 1e-9);
		assert_int_equal(kc_hdr_total_count(iv.hist), 1000 * (k + 1));
		assert_true(fabs(iv.max_column - (double)kc_hdr_max(iv.hist) / 1000.0) < 0.001);
		kc_hdr_free(iv.hist);
	}
	assert_int_equal(kc_hlog_reader_next(&r, &iv, &d), 0);
	assert_int_equal(kc_hlog_reader_next(&r, &iv, &d), 0);
	kc_buf_fini(&b);

	/* The FILE* sink writes the same bytes. */
	FILE *fp = tmpfile();
	assert_non_null(fp);
	struct kc_hlog_writer w;
	struct kc_buf bb;
	kc_buf_init(&bb, 1 << 20);
	assert_int_equal(kc_hlog_writer_init(&w, NULL, fp, 1000.0), 0);
	assert_int_equal(kc_hlog_write_header(&w, base, base), 0);
	kc_hlog_writer_fini(&w);
	assert_int_equal(kc_hlog_writer_init(&w, &bb, NULL, 1000.0), 0);
	assert_int_equal(kc_hlog_write_header(&w, base, base), 0);
	kc_hlog_writer_fini(&w);
	long n = ftell(fp);
	assert_int_equal(n, (long)bb.len);
	rewind(fp);
	char got[1024];
	assert_true(n < (long)sizeof(got));
	assert_int_equal(fread(got, 1, (size_t)n, fp), (size_t)n);
	assert_memory_equal(got, bb.data, (size_t)n);
	fclose(fp);
	kc_buf_fini(&bb);

	/* Exactly one sink, a positive ratio. */
	assert_int_equal(kc_hlog_writer_init(&w, NULL, NULL, 1000.0), KC_EINVAL);
	assert_int_equal(kc_hlog_writer_init(&w, &bb, NULL, 0.0), KC_EINVAL);
}

/* Figures as tests/integration/java/HlogCheck.java prints them. */
static void figures(const struct kc_hdr *h, char *out, size_t n)
{
	int64_t s = 0, e = 0;
	kc_hdr_get_times(h, &s, &e);
	snprintf(out, n, "%s %lld %lld %lld %lld %lld %.6f %lld %lld %lld %lld",
		 kc_hdr_tag(h)[0] ? kc_hdr_tag(h) : "-", (long long)s, (long long)e,
		 (long long)kc_hdr_total_count(h), (long long)kc_hdr_min(h),
		 (long long)kc_hdr_max(h), kc_hdr_mean(h),
		 (long long)kc_hdr_value_at_percentile(h, 50.0),
		 (long long)kc_hdr_value_at_percentile(h, 90.0),
		 (long long)kc_hdr_value_at_percentile(h, 99.0),
		 (long long)kc_hdr_value_at_percentile(h, 99.9));
}

static void read_data_file(struct kc_buf *b, const char *name)
{
	const char *dir = getenv("KC_TESTDATA");
	assert_non_null(dir);
	char path[1024];
	snprintf(path, sizeof(path), "%s/hlog/%s", dir, name);
	kc_buf_init(b, 1 << 20);
	assert_int_equal(kc_buf_read_file(b, path), 0);
}

/* A log written by HdrHistogram's Java HistogramLogWriter (tests/data/hlog/README.md). */
static void test_reads_java_log(void **state)
{
	(void)state;
	struct kc_buf log, want;
	read_data_file(&log, "java-2.1.11.hlog");
	read_data_file(&want, "java-2.1.11.figures");
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, log.data, log.len);
	struct kc_hlog_interval iv;
	struct kc_diag d;
	kc_diag_clear(&d);
	char *line = want.data;
	int n = 0, rc;
	while ((rc = kc_hlog_reader_next(&r, &iv, &d)) == 1) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		char got[512];
		figures(iv.hist, got, sizeof(got));
		assert_string_equal(got, line);
		line = nl + 1;
		kc_hdr_free(iv.hist);
		n++;
	}
	if (rc != 0)
		fail_msg("%s", d.msg);
	assert_int_equal(n, 5);
	assert_string_equal(line, "");
	kc_buf_fini(&want);
	kc_buf_fini(&log);
}

/* Reads text expecting an error on line want_line; the message names it. */
static void expect_bad(const char *text, int want_err, int want_line)
{
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, text, strlen(text));
	struct kc_hlog_interval iv;
	memset(&iv, 0x5a, sizeof(iv));
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc;
	int guard = 0;
	while ((rc = kc_hlog_reader_next(&r, &iv, &d)) == 1 && guard++ < 100)
		kc_hdr_free(iv.hist);
	if (rc != want_err)
		fail_msg("rc %d, want %d (%s) for:\n%s", rc, want_err, d.msg, text);
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "line %d: ", want_line);
	if (strncmp(d.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", d.msg, prefix);
}

static void test_bad_lines_name_their_line(void **state)
{
	(void)state;
	/* A good histogram to splice into lines. */
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3);
	for (int64_t v = 1; v < 100000; v += 7)
		kc_hdr_record(h, v);
	kc_hdr_set_times(h, 1000, 2000);
	struct kc_buf good;
	kc_buf_init(&good, 1 << 20);
	struct kc_hlog_writer w;
	assert_int_equal(kc_hlog_writer_init(&w, &good, NULL, 1000.0), 0);
	assert_int_equal(kc_hlog_write_interval(&w, h), 0);
	kc_hlog_writer_fini(&w);
	good.data[--good.len] = '\0'; /* drop the newline */
	const char *b64 = strrchr(good.data, ',') + 1;

	char text[8192];
	const char *head = "#[StartTime: 1.000 (seconds since epoch), x]\n#c\n";
	snprintf(text, sizeof(text), "%s%s\n%s\n", head, good.data, "0.1,0.2,0.3");
	expect_bad(text, KC_EPARSE, 4);
	snprintf(text, sizeof(text), "#[StartTime: soon]\n%s\n", good.data);
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "\n\n#[BaseTime: ]\n");
	expect_bad(text, KC_EPARSE, 3);
	snprintf(text, sizeof(text), "%s\nx,1,2,%s\n", good.data, b64);
	expect_bad(text, KC_EPARSE, 2);
	snprintf(text, sizeof(text), "%s\n1,nan,2,%s\n", good.data, b64);
	expect_bad(text, KC_EPARSE, 2);
	snprintf(text, sizeof(text), "1,1,1,%s,extra\n", b64);
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "Tag=,1,1,1,%s\n", b64);
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "Tag=%0100d,1,1,1,%s\n", 0, b64);
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "Tag=a b,1,1,1,%s\n", b64);
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "1,1,1,%s!\n", b64);   /* not base64 */
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "1,1,1,%.*s\n", (int)strlen(b64) - 4, b64); /* truncated */
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "1,1,1,AAAAAAAAAAAA\n"); /* zero cookie */
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "1,1,1,HIST\n");
	expect_bad(text, KC_EPARSE, 1);
	snprintf(text, sizeof(text), "%s\n1,1,1,\n", good.data);
	expect_bad(text, KC_EPARSE, 2);
	snprintf(text, sizeof(text), "1,1\n");
	expect_bad(text, KC_EPARSE, 1);
	/* The error leaves the reader after the bad line: the next good one reads. */
	snprintf(text, sizeof(text), "junk\n%s\n", good.data);
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, text, strlen(text));
	struct kc_hlog_interval iv;
	assert_int_equal(kc_hlog_reader_next(&r, &iv, NULL), KC_EPARSE);
	assert_int_equal(kc_hlog_reader_next(&r, &iv, NULL), 1);
	assert_int_equal(iv.line, 2);
	kc_hdr_free(iv.hist);
	/* A line longer than the bound is refused before it is decoded. */
	kc_hlog_reader_init(&r, good.data, good.len);
	r.max_line_bytes = 100;
	struct kc_diag d;
	assert_int_equal(kc_hlog_reader_next(&r, &iv, &d), KC_ELIMIT);
	assert_non_null(strstr(d.msg, "line 1:"));
	kc_buf_fini(&good);
	kc_hdr_free(h);
}

/* Crafted encodings: lengths and shapes that lie. */
static void test_decode_rejects_lies(void **state)
{
	(void)state;
	struct kc_hdr *h = new_hdr(1, HOUR_US, 3), *out = NULL;
	for (int64_t v = 1; v < 3000; v++)
		kc_hdr_record(h, v);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_hlog_encode(h, &b), 0);
	uint8_t *p = (uint8_t *)b.data;
	struct kc_diag d;
	/* Payload length beyond the bytes present. */
	p[4] = 0x7f;
	assert_int_equal(kc_hlog_decode(p, b.len, 0, &out, &d), KC_EPARSE);
	p[4] = 0;
	/* Truncated payload: ends inside a number, or simply fewer counts. */
	assert_int_equal(kc_hlog_decode(p, b.len - 1, 0, &out, &d), KC_EPARSE);
	/* Bad shapes. */
	p[15] = 9; /* sigfigs */
	assert_int_equal(kc_hlog_decode(p, b.len, 0, &out, &d), KC_EPARSE);
	p[15] = 3;
	p[11] = 1; /* normalizing offset */
	assert_int_equal(kc_hlog_decode(p, b.len, 0, &out, &d), KC_EUNSUPPORTED);
	p[11] = 0;
	/* V1 cookie. */
	p[3] = 0x12;
	assert_int_equal(kc_hlog_decode(p, b.len, 0, &out, &d), KC_EUNSUPPORTED);
	p[3] = 0x13;
	/* A shape needing more counts than the caller allows. */
	assert_int_equal(kc_hlog_decode(p, b.len, 1000, &out, &d), KC_ELIMIT);
	/* Counts past the end of the array. */
	struct kc_buf c;
	kc_buf_init(&c, 1 << 20);
	kc_buf_append(&c, p, 40);
	static const uint8_t run_past[] = {0x81, 0x80, 0x80, 0x80, 0x10, 0x02}; /* -(huge) zeros, 1 */
	kc_buf_append(&c, run_past, sizeof(run_past));
	uint8_t *q = (uint8_t *)c.data;
	q[4] = q[5] = q[6] = 0;
	q[7] = sizeof(run_past);
	assert_int_equal(kc_hlog_decode(q, c.len, 0, &out, &d), KC_EPARSE);
	assert_null(out);
	/* A zlib bomb claim: header inflates fine but promises a huge payload. */
	uint8_t head[40];
	memcpy(head, p, 40);
	head[4] = 0x7f; /* payload 2 GB */
	uint8_t z[256];
	uLongf zlen = sizeof(z);
	assert_int_equal(compress2(z + 8, &zlen, head, 40, 9), Z_OK);
	z[0] = 0x1c; z[1] = 0x84; z[2] = 0x93; z[3] = 0x14;
	z[4] = z[5] = z[6] = 0;
	z[7] = (uint8_t)zlen;
	assert_int_equal(kc_hlog_decode(z, 8 + zlen, 0, &out, &d), KC_ELIMIT);
	/* Compressed length beyond the data. */
	z[6] = 1;
	assert_int_equal(kc_hlog_decode(z, 8 + zlen, 0, &out, &d), KC_EPARSE);
	/* Compressed garbage. */
	memset(z + 8, 0xab, 32);
	z[6] = 0;
	z[7] = 32;
	assert_int_equal(kc_hlog_decode(z, 40, 0, &out, &d), KC_EPARSE);
	assert_null(out);
	kc_buf_fini(&c);
	kc_buf_fini(&b);
	kc_hdr_free(h);
}

/*
 * Every prefix of a valid log and many single-byte corruptions of it:
 * the reader answers an interval, the end, or an error, and never crashes
 * (ASan/UBSan watch the reads).  Bounded: a few thousand parses.
 */
static void test_garbage_never_crashes(void **state)
{
	(void)state;
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	write_log(&b, INT64_C(1700000000000));
	char *copy = malloc(b.len + 1);
	assert_non_null(copy);
	uint64_t seed = 99;
	int errors = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = b.len;
		memcpy(copy, b.data, b.len);
		if (round < 600) {
			n = (size_t)(rng_next(&seed) % (b.len + 1)); /* truncation */
		} else {
			int flips = 1 + (int)(rng_next(&seed) % 4);
			for (int k = 0; k < flips; k++)
				copy[rng_next(&seed) % b.len] = (char)rng_next(&seed);
		}
		struct kc_hlog_reader r;
		kc_hlog_reader_init(&r, copy, n);
		struct kc_hlog_interval iv;
		int rc, guard = 0;
		while ((rc = kc_hlog_reader_next(&r, &iv, NULL)) != 0 && guard++ < 64) {
			if (rc == 1)
				kc_hdr_free(iv.hist);
			else
				errors++;
		}
	}
	assert_true(errors > 0); /* the corruption did reach the decoder */
	free(copy);
	kc_buf_fini(&b);
}

/*
 * Shards (kneecap merge): 16 shards each log their seconds of one step as
 * interval lines; the lines are read back and added.  The sum equals one
 * histogram fed every value: every percentile, the mean, min, max, and the
 * count equals the sum of the shards' counts.
 */
static void test_shards_merge_through_log(void **state)
{
	(void)state;
	enum { SHARDS = 16, SECONDS = 5 };
	struct kc_hdr *all = new_hdr(1, HOUR_US, 3);
	struct kc_hdr *merged = new_hdr(1, HOUR_US, 3);
	uint64_t seed = 7;
	int64_t want = 0;
	for (int sh = 0; sh < SHARDS; sh++) {
		struct kc_buf log;
		kc_buf_init(&log, (size_t)16 << 20);
		struct kc_hlog_writer w;
		assert_int_equal(kc_hlog_writer_init(&w, &log, NULL, 1000.0), KC_OK);
		assert_int_equal(kc_hlog_write_header(&w, 1700000000000, 1700000000000), KC_OK);
		for (int sec = 0; sec < SECONDS; sec++) {
			struct kc_hdr *iv = new_hdr(1, HOUR_US, 3);
			/* Each shard its own latency level, a long tail every few hundred. */
			int n = 100 + (int)(rng_next(&seed) % 400);
			for (int i = 0; i < n; i++) {
				uint64_t r = rng_next(&seed);
				int64_t v = 2000 + sh * 300 + (int64_t)(r % 20000);
				if (r % 293 == 0)
					v *= 40;
				kc_hdr_record(iv, v);
				kc_hdr_record(all, v);
				want++;
			}
			kc_hdr_set_tag(iv, "step-0");
			kc_hdr_set_times(iv, 1700000000000 + sec * 1000, 1700000001000 + sec * 1000);
			assert_int_equal(kc_hlog_write_interval(&w, iv), KC_OK);
			kc_hdr_free(iv);
		}
		kc_hlog_writer_fini(&w);
		struct kc_hlog_reader r;
		kc_hlog_reader_init(&r, log.data, log.len);
		struct kc_hlog_interval got;
		int lines = 0;
		while (kc_hlog_reader_next(&r, &got, NULL) == 1) {
			assert_string_equal(got.tag, "step-0");
			assert_int_equal(kc_hdr_add(merged, got.hist), 0);
			kc_hdr_free(got.hist);
			lines++;
		}
		assert_int_equal(lines, SECONDS);
		kc_buf_fini(&log);
	}
	assert_int_equal(kc_hdr_total_count(merged), want);
	assert_same_hist(merged, all);
	const double pct[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		assert_int_equal(kc_hdr_value_at_percentile(merged, pct[i]),
				 kc_hdr_value_at_percentile(all, pct[i]));
	assert_true(kc_hdr_mean(merged) == kc_hdr_mean(all));
	kc_hdr_free(merged);
	kc_hdr_free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_matches_java),
		cmocka_unit_test(test_compressed_round_trip),
		cmocka_unit_test(test_writer_reader_round_trip),
		cmocka_unit_test(test_reads_java_log),
		cmocka_unit_test(test_bad_lines_name_their_line),
		cmocka_unit_test(test_decode_rejects_lies),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_shards_merge_through_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
