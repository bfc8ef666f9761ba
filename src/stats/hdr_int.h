/*
 * hdr_int.h - the layout of struct kc_hdr, shared by hdr.c and hlog.c (the
 * interval-log codec needs the counts array) and by tests.  Not part of the
 * public API: nothing outside src/stats/ and tests/ includes it.
 */
#ifndef KNEECAP_STATS_HDR_INT_H
#define KNEECAP_STATS_HDR_INT_H

#include "kneecap/hdr.h"

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

#endif
