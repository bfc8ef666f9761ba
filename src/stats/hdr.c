/*
 * hdr.c - HDR histograms after Gil Tene's HdrHistogram (the published
 * algorithm of org.HdrHistogram.AbstractHistogram, 2.1.x), and the recorder
 * that swaps interval histograms under a single writer.
 *
 * What it is: a fixed array of 64-bit counts indexed by a value's bucket
 * (its power of two above the unit) and sub-bucket (its top bits), so any
 * value is kept within 10^-sigfigs of itself.  Recording is a clz, two
 * shifts and an increment: no allocation, no lock, no division.  Queries
 * (percentiles, mean, iteration) follow the Java reference so our figures
 * equal what HdrHistogram tools print for the same counts.
 *
 * What it is not: thread-safe on its own (one writer at a time), nor an
 * auto-resizing histogram; values outside [0, highest] are counted as out of
 * range and otherwise ignored.  No I/O here: the log codec is hlog.c.
 */
#include "hdr_int.h"

#include "kneecap/err.h"

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* ---- layout ---------------------------------------------------------- */

struct shape {
	int unit_magnitude;
	int sub_bucket_count_magnitude;
	int sub_bucket_half_count_magnitude;
	int32_t sub_bucket_count;
	int bucket_count;
	int64_t counts_len;
};

/*
 * Derives the layout (AbstractHistogram's constructor): sub_bucket_count is
 * the power of two that holds 2 * 10^sigfigs unit-wide sub-buckets, so the
 * relative error stays under 10^-sigfigs across the whole range.
 */
static int shape_for(int64_t lowest, int64_t highest, int sigfigs,
		     struct shape *s)
{
	if (lowest < 1 || sigfigs < 1 || sigfigs > 5 || highest / 2 < lowest)
		return KC_EINVAL;
	int64_t single_unit = 2;
	for (int i = 0; i < sigfigs; i++)
		single_unit *= 10;
	int mag = 0;
	while ((INT64_C(1) << mag) < single_unit)
		mag++; /* ceil(log2(2 * 10^sigfigs)) */
	s->sub_bucket_count_magnitude = mag;
	s->sub_bucket_half_count_magnitude = mag > 1 ? mag - 1 : 0;
	s->unit_magnitude = 63 - __builtin_clzll((unsigned long long)lowest);
	if (s->unit_magnitude + s->sub_bucket_half_count_magnitude > 61)
		return KC_EINVAL;
	s->sub_bucket_count = (int32_t)1 << mag;

	/* getBucketsNeededToCoverValue */
	int64_t smallest_untrackable = (int64_t)s->sub_bucket_count
				       << s->unit_magnitude;
	int buckets = 1;
	while (smallest_untrackable <= highest) {
		if (smallest_untrackable > INT64_MAX / 2) {
			buckets++;
			break;
		}
		smallest_untrackable <<= 1;
		buckets++;
	}
	s->bucket_count = buckets;
	s->counts_len = (int64_t)(buckets + 1) * (s->sub_bucket_count / 2);
	return 0;
}

int64_t kc_hdr_counts_len_for(int64_t lowest, int64_t highest, int sigfigs)
{
	struct shape s;
	if (shape_for(lowest, highest, sigfigs, &s) != 0)
		return 0;
	return s.counts_len;
}

static inline int bucket_index(const struct kc_hdr *h, int64_t value)
{
	/* value | mask is never 0, so clz is defined. */
	return h->leading_zero_count_base -
	       __builtin_clzll((unsigned long long)(value | h->sub_bucket_mask));
}

static inline int32_t sub_bucket_index(const struct kc_hdr *h, int64_t value,
				       int bucket)
{
	return (int32_t)(value >> (bucket + h->unit_magnitude));
}

static inline int32_t counts_index(const struct kc_hdr *h, int bucket,
				   int32_t sub)
{
	int32_t base = (int32_t)(bucket + 1) << h->sub_bucket_half_count_magnitude;
	return base + (sub - h->sub_bucket_half_count);
}

static inline int32_t index_of(const struct kc_hdr *h, int64_t value)
{
	int b = bucket_index(h, value);
	return counts_index(h, b, sub_bucket_index(h, value, b));
}

int32_t kc_hdr_index_of(const struct kc_hdr *h, int64_t value)
{
	return index_of(h, value);
}

int64_t kc_hdr_value_from_index(const struct kc_hdr *h, int32_t index)
{
	int bucket = (index >> h->sub_bucket_half_count_magnitude) - 1;
	int32_t sub = (index & (h->sub_bucket_half_count - 1)) +
		      h->sub_bucket_half_count;
	if (bucket < 0) {
		sub -= h->sub_bucket_half_count;
		bucket = 0;
	}
	/* Unsigned: the last bucket's upper indexes lie past INT64_MAX. */
	return (int64_t)((uint64_t)sub << (bucket + h->unit_magnitude));
}

static int64_t equivalent_range_size(const struct kc_hdr *h, int64_t value)
{
	int b = bucket_index(h, value);
	int32_t sub = sub_bucket_index(h, value, b);
	int adj = sub >= h->sub_bucket_count ? b + 1 : b;
	return INT64_C(1) << (h->unit_magnitude + adj);
}

int64_t kc_hdr_lowest_equivalent(const struct kc_hdr *h, int64_t value)
{
	int b = bucket_index(h, value);
	int32_t sub = sub_bucket_index(h, value, b);
	return (int64_t)sub << (b + h->unit_magnitude);
}

int64_t kc_hdr_highest_equivalent(const struct kc_hdr *h, int64_t value)
{
	int64_t lo = kc_hdr_lowest_equivalent(h, value);
	int64_t size = equivalent_range_size(h, value);
	/* The top range may reach past INT64_MAX; saturate instead of wrapping. */
	if (lo > INT64_MAX - size)
		return INT64_MAX;
	return lo + size - 1;
}

int64_t kc_hdr_median_equivalent(const struct kc_hdr *h, int64_t value)
{
	return kc_hdr_lowest_equivalent(h, value) +
	       (equivalent_range_size(h, value) >> 1);
}

/*
 * Counts beyond the max value's index are all zero (every path that adds a
 * count also raises max_value), so loops over counts stop there: an
 * interval swap then costs what the interval used, not the whole range.
 */
static int32_t used_len(const struct kc_hdr *h)
{
	int32_t n = index_of(h, h->max_value) + 1;
	return n < h->counts_len ? n : h->counts_len;
}

/* ---- life cycle ------------------------------------------------------ */

int kc_hdr_new(struct kc_hdr **out, int64_t lowest, int64_t highest,
	       int sigfigs)
{
	KC_ASSERT(out);
	struct shape s;
	int rc = shape_for(lowest, highest, sigfigs, &s);
	if (rc != 0)
		return rc;
	if (s.counts_len > INT32_MAX)
		return KC_EINVAL;
	struct kc_hdr *h = calloc(1, sizeof(*h));
	if (!h)
		return KC_ENOMEM;
	h->counts = calloc((size_t)s.counts_len, sizeof(int64_t));
	if (!h->counts) {
		free(h);
		return KC_ENOMEM;
	}
	h->lowest = lowest;
	h->highest = highest;
	h->sigfigs = sigfigs;
	h->unit_magnitude = s.unit_magnitude;
	h->sub_bucket_count_magnitude = s.sub_bucket_count_magnitude;
	h->sub_bucket_half_count_magnitude = s.sub_bucket_half_count_magnitude;
	h->sub_bucket_count = s.sub_bucket_count;
	h->sub_bucket_half_count = s.sub_bucket_count / 2;
	h->sub_bucket_mask = (int64_t)(s.sub_bucket_count - 1) << s.unit_magnitude;
	h->leading_zero_count_base =
		64 - s.unit_magnitude - s.sub_bucket_half_count_magnitude - 1;
	h->bucket_count = s.bucket_count;
	h->counts_len = (int32_t)s.counts_len;
	h->min_value = INT64_MAX;
	*out = h;
	return 0;
}

void kc_hdr_free(struct kc_hdr *h)
{
	if (!h)
		return;
	free(h->counts);
	free(h);
}

int kc_hdr_new_like(struct kc_hdr **out, const struct kc_hdr *h)
{
	KC_ASSERT(h);
	return kc_hdr_new(out, h->lowest, h->highest, h->sigfigs);
}

void kc_hdr_reset(struct kc_hdr *h)
{
	KC_ASSERT(h);
	memset(h->counts, 0, (size_t)used_len(h) * sizeof(int64_t));
	h->total_count = 0;
	h->out_of_range = 0;
	h->min_value = INT64_MAX;
	h->max_value = 0;
	h->start_ms = h->end_ms = 0;
	h->tag[0] = '\0';
}

void kc_hdr_recount(struct kc_hdr *h)
{
	h->total_count = 0;
	h->min_value = INT64_MAX;
	h->max_value = 0;
	for (int32_t i = 0; i < h->counts_len; i++) {
		if (h->counts[i] == 0)
			continue;
		int64_t v = kc_hdr_value_from_index(h, i);
		h->total_count += h->counts[i];
		if (v < h->min_value)
			h->min_value = v;
		h->max_value = v; /* index order is value order */
	}
}

/* ---- recording ------------------------------------------------------- */

/* The record path: a clz, shifts, one add to the counts; inlined into callers. */
static inline bool record(struct kc_hdr *h, int64_t value, int64_t n)
{
	if (value < 0 || value > h->highest || n < 0) {
		h->out_of_range += n > 0 ? n : 1;
		return false;
	}
	h->counts[index_of(h, value)] += n;
	h->total_count += n;
	if (value < h->min_value)
		h->min_value = value;
	if (value > h->max_value)
		h->max_value = value;
	return true;
}

bool kc_hdr_record_n(struct kc_hdr *h, int64_t value, int64_t n)
{
	return record(h, value, n);
}

bool kc_hdr_record(struct kc_hdr *h, int64_t value)
{
	return record(h, value, 1);
}

/*
 * recordValueWithExpectedInterval: a value far longer than the interval at
 * which an open-loop client would have sent means the samples it would have
 * taken meanwhile were never taken; record them, each one interval shorter:
 * value - k * interval for k = 1 .. value / interval - 1.
 * The reference records them one by one (3.6e9 records for a 1-hour stall
 * at a 1 us interval).  Here every sub-bucket takes all of the sequence's
 * terms that fall in it with one add, so the work is bounded by the counts
 * array, not by value / interval; the counts are the same.  This path may
 * divide: it runs only when a stall is being filled in.
 */
bool kc_hdr_record_corrected(struct kc_hdr *h, int64_t value,
			     int64_t expected_interval)
{
	if (!record(h, value, 1))
		return false;
	const int64_t iv = expected_interval;
	if (iv <= 0 || value < 2 * iv)
		return true;
	int64_t left = value / iv - 1;       /* terms still to record */
	int64_t cur = value - iv;           /* the largest term not recorded */
	while (left > 0) {
		int32_t i = index_of(h, cur);
		int64_t lo = kc_hdr_value_from_index(h, i);
		int64_t m = (cur - lo) / iv + 1;
		if (m > left)
			m = left;
		h->counts[i] += m;
		h->total_count += m;
		left -= m;
		cur -= m * iv;
	}
	int64_t smallest = cur + iv;
	if (smallest < h->min_value)
		h->min_value = smallest;
	return true;
}

int64_t kc_hdr_add(struct kc_hdr *dst, const struct kc_hdr *src)
{
	KC_ASSERT(dst && src);
	int64_t lost = 0;
	dst->out_of_range += src->out_of_range;
	bool same = dst->lowest == src->lowest && dst->sigfigs == src->sigfigs &&
		    dst->counts_len == src->counts_len &&
		    dst->highest >= src->highest;
	if (same) {
		for (int32_t i = 0, n = used_len(src); i < n; i++)
			dst->counts[i] += src->counts[i];
		dst->total_count += src->total_count;
		if (src->total_count > 0) {
			if (src->min_value < dst->min_value)
				dst->min_value = src->min_value;
			if (src->max_value > dst->max_value)
				dst->max_value = src->max_value;
		}
		return 0;
	}
	/* Different layouts: re-record each bucket by its representative. */
	for (int32_t i = 0, n = used_len(src); i < n; i++) {
		int64_t c = src->counts[i];
		if (c == 0)
			continue;
		int64_t v = kc_hdr_value_from_index(src, i);
		if (!kc_hdr_record_n(dst, v, c))
			lost += c;
	}
	return lost;
}

/* ---- queries --------------------------------------------------------- */

int64_t kc_hdr_total_count(const struct kc_hdr *h) { return h->total_count; }
int64_t kc_hdr_out_of_range(const struct kc_hdr *h) { return h->out_of_range; }
int64_t kc_hdr_lowest(const struct kc_hdr *h) { return h->lowest; }
int64_t kc_hdr_highest(const struct kc_hdr *h) { return h->highest; }
int kc_hdr_sigfigs(const struct kc_hdr *h) { return h->sigfigs; }

int64_t kc_hdr_min(const struct kc_hdr *h)
{
	if (h->total_count == 0)
		return 0;
	return kc_hdr_lowest_equivalent(h, h->min_value);
}

int64_t kc_hdr_max(const struct kc_hdr *h)
{
	if (h->total_count == 0 || h->max_value == 0)
		return 0;
	return kc_hdr_highest_equivalent(h, h->max_value);
}

/* getMean: each bucket stands for its median-equivalent value. */
double kc_hdr_mean(const struct kc_hdr *h)
{
	if (h->total_count == 0)
		return 0.0;
	double total = 0.0;
	for (int32_t i = 0, n = used_len(h); i < n; i++) {
		if (h->counts[i] == 0)
			continue;
		int64_t v = kc_hdr_value_from_index(h, i);
		total += (double)kc_hdr_median_equivalent(h, v) *
			 (double)h->counts[i];
	}
	return total / (double)h->total_count;
}

double kc_hdr_stddev(const struct kc_hdr *h)
{
	if (h->total_count == 0)
		return 0.0;
	double mean = kc_hdr_mean(h);
	double dev_total = 0.0;
	for (int32_t i = 0, n = used_len(h); i < n; i++) {
		if (h->counts[i] == 0)
			continue;
		int64_t v = kc_hdr_value_from_index(h, i);
		double d = (double)kc_hdr_median_equivalent(h, v) - mean;
		dev_total += d * d * (double)h->counts[i];
	}
	return sqrt(dev_total / (double)h->total_count);
}

/*
 * getValueAtPercentile (2.1.11): the first bucket whose cumulative count
 * reaches ceil(p * total / 100), p nudged down one ulp so that an exact
 * product is not rounded past its bucket; report the bucket's highest
 * equivalent value (lowest for p == 0).
 */
int64_t kc_hdr_value_at_percentile(const struct kc_hdr *h, double p)
{
	if (h->total_count == 0)
		return 0;
	double req = nextafter(p, -INFINITY);
	if (!(req > 0.0))
		req = 0.0; /* also catches NaN */
	if (req > 100.0)
		req = 100.0;
	double fp_count = req * (double)h->total_count / 100.0;
	/* Near 2^63 the double rounds past the count (and past INT64_MAX, where
	 * the conversion is undefined): the last recorded value is wanted. */
	int64_t want = fp_count < (double)h->total_count ? (int64_t)ceil(fp_count)
							 : h->total_count;
	if (want < 1)
		want = 1;
	int64_t run = 0;
	for (int32_t i = 0; i < h->counts_len; i++) {
		run += h->counts[i];
		if (run >= want) {
			int64_t v = kc_hdr_value_from_index(h, i);
			return p == 0.0 ? kc_hdr_lowest_equivalent(h, v)
					: kc_hdr_highest_equivalent(h, v);
		}
	}
	return 0;
}

/* ---- times and tag --------------------------------------------------- */

void kc_hdr_set_times(struct kc_hdr *h, int64_t start_ms, int64_t end_ms)
{
	h->start_ms = start_ms;
	h->end_ms = end_ms;
}

void kc_hdr_get_times(const struct kc_hdr *h, int64_t *start_ms,
		      int64_t *end_ms)
{
	if (start_ms)
		*start_ms = h->start_ms;
	if (end_ms)
		*end_ms = h->end_ms;
}

int kc_hdr_set_tag(struct kc_hdr *h, const char *tag)
{
	if (!tag) {
		h->tag[0] = '\0';
		return 0;
	}
	size_t n = strlen(tag);
	if (n >= KC_HDR_TAG_MAX)
		return KC_EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (c <= ' ' || c == ',' || c >= 0x7f)
			return KC_EINVAL;
	}
	memcpy(h->tag, tag, n + 1);
	return 0;
}

const char *kc_hdr_tag(const struct kc_hdr *h) { return h->tag; }

/* ---- percentile iteration -------------------------------------------- */

/*
 * After PercentileIterator: walk the counts in value order; a step is
 * reported when the cumulative percentile reaches the next level, and the
 * levels get denser as they near 100% (ticks_per_half per halving of the
 * remaining distance).  One last step at 100% closes the walk.
 */
void kc_hdr_iter_percentiles(struct kc_hdr_iter *it, const struct kc_hdr *h,
			     int ticks_per_half_distance)
{
	KC_ASSERT(it && h);
	memset(it, 0, sizeof(*it));
	it->h = h;
	it->ticks_per_half = ticks_per_half_distance > 0 ? ticks_per_half_distance : 1;
	it->total = h->total_count;
	it->next_pct = 0.0;
	it->idx = 0;
	it->fresh = true;
}

static void next_level(struct kc_hdr_iter *it)
{
	double to = it->next_pct;
	double halvings = floor(log(100.0 / (100.0 - to)) / log(2.0));
	/* At 100% the distance is 0 and log is inf: cap, in doubles, no overflow. */
	if (!(halvings < 1000.0))
		halvings = 1000.0;
	double ticks = (double)it->ticks_per_half * ldexp(1.0, (int)halvings + 1);
	it->next_pct = to + 100.0 / ticks;
}

bool kc_hdr_iter_next(struct kc_hdr_iter *it)
{
	const struct kc_hdr *h = it->h;
	if (it->done || it->total == 0)
		return false;
	if (it->seen >= it->total) {
		if (it->reached_last) {
			it->done = true;
			return false;
		}
		/* One additional last step to 100%. */
		it->reached_last = true;
		it->next_pct = 100.0;
	}
	while (it->idx < h->counts_len) {
		int64_t c = h->counts[it->idx];
		if (it->fresh) {
			it->seen += c;
			it->fresh = false;
		}
		if (c != 0) {
			double cur = 100.0 * (double)it->seen / (double)it->total;
			if (cur >= it->next_pct) {
				int64_t v = kc_hdr_value_from_index(h, it->idx);
				it->value = kc_hdr_highest_equivalent(h, v);
				it->percentile = it->next_pct;
				it->count_to_value = it->seen;
				it->count_at_value = c;
				if (it->reached_last)
					it->done = true;
				else
					next_level(it);
				return true;
			}
		}
		it->idx++;
		it->fresh = true;
	}
	it->done = true;
	return false;
}

/* ---- recorder -------------------------------------------------------- */

/*
 * The recorder is HdrHistogram's Recorder over a WriterReaderPhaser.  A
 * writer announces itself by incrementing start_epoch (whose sign says the
 * phase), records into whatever `active` points to, then counts itself out
 * in the end counter of its phase.  The reader publishes the spare
 * histogram as active, flips the phase by swapping start_epoch, and waits
 * until the old phase's end counter equals the value start_epoch had at the
 * flip: then no writer can still be touching the old histogram.  Writers
 * never wait; the reader waits only for writers already mid-record.
 * All phaser operations are seq_cst so that a writer that enters after the
 * flip is ordered after the reader's store of the new active pointer.
 */
int kc_hdr_recorder_init(struct kc_hdr_recorder *r, int64_t lowest,
			 int64_t highest, int sigfigs)
{
	KC_ASSERT(r);
	struct kc_hdr *a = NULL, *b = NULL;
	int rc = kc_hdr_new(&a, lowest, highest, sigfigs);
	if (rc != 0)
		return rc;
	rc = kc_hdr_new(&b, lowest, highest, sigfigs);
	if (rc != 0) {
		kc_hdr_free(a);
		return rc;
	}
	atomic_init(&r->active, a);
	r->inactive = b;
	atomic_init(&r->start_epoch, 0);
	atomic_init(&r->even_end, 0);
	atomic_init(&r->odd_end, INT64_MIN);
	r->interval_start_ms = 0;
	return 0;
}

void kc_hdr_recorder_fini(struct kc_hdr_recorder *r)
{
	if (!r)
		return;
	kc_hdr_free(atomic_load(&r->active));
	kc_hdr_free(r->inactive);
	atomic_store(&r->active, NULL);
	r->inactive = NULL;
}

void kc_hdr_recorder_set_start(struct kc_hdr_recorder *r, int64_t start_ms)
{
	r->interval_start_ms = start_ms;
}

/*
 * Counts the writer out of the phase it entered in.  The recorder has one
 * writer, so only this thread ever increments an end counter (the reader
 * only re-initializes the counter of the phase no writer is in), and a
 * load plus a release store replaces the locked add Java's multi-writer
 * phaser needs: one atomic read-modify-write per record instead of two.
 */
static inline void writer_exit(struct kc_hdr_recorder *r, int_fast64_t entered)
{
	atomic_int_fast64_t *end = entered < 0 ? &r->odd_end : &r->even_end;
	int_fast64_t v = atomic_load_explicit(end, memory_order_relaxed);
	atomic_store_explicit(end, v + 1, memory_order_release);
}

bool kc_hdr_recorder_record(struct kc_hdr_recorder *r, int64_t value)
{
	int_fast64_t e = atomic_fetch_add(&r->start_epoch, 1);
	struct kc_hdr *h = atomic_load(&r->active);
	bool ok = record(h, value, 1);
	writer_exit(r, e);
	return ok;
}

bool kc_hdr_recorder_record_corrected(struct kc_hdr_recorder *r, int64_t value,
				      int64_t expected_interval)
{
	int_fast64_t e = atomic_fetch_add(&r->start_epoch, 1);
	struct kc_hdr *h = atomic_load(&r->active);
	bool ok = kc_hdr_record_corrected(h, value, expected_interval);
	writer_exit(r, e);
	return ok;
}

/* WriterReaderPhaser.flipPhase. */
static void flip_phase(struct kc_hdr_recorder *r)
{
	bool next_even = atomic_load(&r->start_epoch) < 0;
	int_fast64_t initial = next_even ? 0 : INT64_MIN;
	atomic_store(next_even ? &r->even_end : &r->odd_end, initial);
	int_fast64_t at_flip = atomic_exchange(&r->start_epoch, initial);
	atomic_int_fast64_t *old_end = next_even ? &r->odd_end : &r->even_end;
	/* Bounded by the writers mid-record at the flip: each finishes one record. */
	while (atomic_load_explicit(old_end, memory_order_acquire) != at_flip)
		sched_yield();
}

int64_t kc_hdr_recorder_take(struct kc_hdr_recorder *r, struct kc_hdr *into,
			     int64_t now_ms)
{
	KC_ASSERT(r && into && r->inactive);
	struct kc_hdr *fresh = r->inactive;
	struct kc_hdr *done = atomic_exchange(&r->active, fresh);
	flip_phase(r);
	int64_t lost = kc_hdr_add(into, done);
	kc_hdr_set_times(into, r->interval_start_ms, now_ms);
	r->interval_start_ms = now_ms;
	kc_hdr_reset(done);
	r->inactive = done;
	return lost;
}
