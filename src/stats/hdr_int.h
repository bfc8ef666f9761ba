/*
 * hdr_int.h - the layout of struct kc_hdr, shared by hdr.c and hlog.c (the
 * interval-log codec needs the counts array) and by tests.  Not part of the
 * public API: nothing outside src/stats/ and tests/ includes it.
 */
#ifndef KNEECAP_STATS_HDR_INT_H
#define KNEECAP_STATS_HDR_INT_H

#include "kneecap/hdr.h"

#include <stdbool.h>
#include <stdint.h>

#define KC_HDR_TAG_MAX 64

/*
 * Layout after HdrHistogram (Gil Tene): values are split into buckets, each
 * twice as wide as the one before; every bucket holds sub_bucket_count
 * sub-buckets of equal width, and every bucket after the first shares its
 * lower half with the previous bucket, so only the upper half is stored.
 */
struct kc_hdr {
	int64_t lowest;             /* lowest discernible value (>= 1) */
	int64_t highest;            /* highest trackable value */
	int sigfigs;                /* 1..5 */
	int unit_magnitude;         /* floor(log2(lowest)) */
	int sub_bucket_half_count_magnitude;
	int sub_bucket_count_magnitude;
	int32_t sub_bucket_count;   /* 2^ceil(log2(2 * 10^sigfigs)) */
	int32_t sub_bucket_half_count;
	int64_t sub_bucket_mask;    /* (sub_bucket_count - 1) << unit_magnitude */
	int leading_zero_count_base;
	int bucket_count;
	int32_t counts_len;

	int64_t total_count;
	int64_t out_of_range;
	int64_t min_value;          /* smallest recorded raw value; INT64_MAX when empty */
	int64_t max_value;          /* largest recorded raw value; 0 when empty */
	int64_t start_ms, end_ms;
	char tag[KC_HDR_TAG_MAX];
	int64_t *counts;            /* counts_len entries */
};

/* Index in counts of value (0 <= value <= the top of the counts range). */
int32_t kc_hdr_index_of(const struct kc_hdr *h, int64_t value);
/* The lowest value that counts[index] stands for. */
int64_t kc_hdr_value_from_index(const struct kc_hdr *h, int32_t index);
int64_t kc_hdr_lowest_equivalent(const struct kc_hdr *h, int64_t value);
int64_t kc_hdr_highest_equivalent(const struct kc_hdr *h, int64_t value);
int64_t kc_hdr_median_equivalent(const struct kc_hdr *h, int64_t value);
/* Number of counts entries a histogram of this shape needs; 0 if the shape is invalid. */
int64_t kc_hdr_counts_len_for(int64_t lowest, int64_t highest, int sigfigs);
/*
 * Recomputes total_count, min_value and max_value from counts (after a
 * decoder filled counts directly).
 */
void kc_hdr_recount(struct kc_hdr *h);

/*
 * Queries and set-ups only the tests and test tools use (the public API
 * reads a histogram through count, max, mean and percentiles).
 */
/* Samples rejected as out of range since the last reset. */
int64_t kc_hdr_out_of_range(const struct kc_hdr *h);
/* Smallest recorded value (equivalent-range representative); 0 if empty. */
int64_t kc_hdr_min(const struct kc_hdr *h);
/* Standard deviation, as HdrHistogram's getStdDeviation; 0 if empty. */
double kc_hdr_stddev(const struct kc_hdr *h);
/* The shape h was made with (a decoded histogram: the shape in its header). */
int64_t kc_hdr_lowest(const struct kc_hdr *h);
int64_t kc_hdr_highest(const struct kc_hdr *h);
int kc_hdr_sigfigs(const struct kc_hdr *h);
/* The tag, or "" when none. */
const char *kc_hdr_tag(const struct kc_hdr *h);

/* Percentile iteration (the classic percentile distribution of hlog_tool). */
struct kc_hdr_iter {
	/* public, valid after kc_hdr_iter_next() returned true */
	int64_t value;             /* highest equivalent value at this step */
	double percentile;         /* percentile reached by this step (0..100) */
	int64_t count_to_value;    /* cumulative count up to value */
	int64_t count_at_value;    /* count in this step's bucket */
	/* private */
	const struct kc_hdr *h;
	int64_t total, seen;       /* total count; cumulative count through idx */
	double next_pct;           /* the percentile level the next step waits for */
	int32_t ticks_per_half;
	int32_t idx;               /* counts index under the cursor */
	bool fresh;                /* counts[idx] not yet added to seen */
	bool done, reached_last;
};

/*
 * Prepares a percentile iterator whose steps are ticks_per_half_distance per
 * halving of the distance to 100% (HdrHistogram's PercentileIterator).
 */
void kc_hdr_iter_percentiles(struct kc_hdr_iter *it, const struct kc_hdr *h,
			     int ticks_per_half_distance);

/*
 * Advances the iterator; false when done.  After true: value is the highest
 * value equivalent to the step's bucket, percentile the level this step
 * reached (as Java's getPercentileLevelIteratedTo; the last step is 100),
 * count_to_value the samples at or below value.  The histogram must not
 * change while an iterator walks it.
 */
bool kc_hdr_iter_next(struct kc_hdr_iter *it);

/*
 * Sets the start (ms since the epoch) of the interval being recorded; the
 * next kc_hdr_recorder_take reports [start_ms, now_ms].  Reader side only.
 */
void kc_hdr_recorder_set_start(struct kc_hdr_recorder *r, int64_t start_ms);
/* kc_hdr_recorder_record with kc_hdr_record_corrected's back-fill. */
bool kc_hdr_recorder_record_corrected(struct kc_hdr_recorder *r, int64_t value,
				      int64_t expected_interval);

#endif
