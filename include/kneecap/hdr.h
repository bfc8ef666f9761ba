/*
 * hdr.h - HDR histograms (after Gil Tene's HdrHistogram) and a recorder
 * that lets one writer keep recording while a reader takes intervals.
 *
 * Values are int64_t in whatever unit the caller chooses (kneecap records
 * nanoseconds or microseconds; the unit is the caller's to remember).  A
 * histogram tracks [lowest, highest] with sigfigs (1..5) significant decimal
 * digits: any recorded value is reported back within 10^-sigfigs of itself.
 *
 * Threads: a struct kc_hdr has no locks; one thread writes it at a time.
 * A struct kc_hdr_recorder has one writer and one reader that may run
 * concurrently (the interval swap is wait-free for the writer).
 * Recording never allocates.
 */
#ifndef KNEECAP_HDR_H
#define KNEECAP_HDR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_hdr; /* opaque */

/*
 * Allocates a histogram for values in [lowest, highest] (lowest >= 1,
 * highest >= 2 * lowest) with sigfigs in 1..5.  Returns 0, KC_EINVAL or
 * KC_ENOMEM; *out is untouched on failure.
 */
int kc_hdr_new(struct kc_hdr **out, int64_t lowest, int64_t highest,
	       int sigfigs);

/* Frees h; h may be NULL. */
void kc_hdr_free(struct kc_hdr *h);

/* Allocates an empty histogram with the same range and precision as h. */
int kc_hdr_new_like(struct kc_hdr **out, const struct kc_hdr *h);

/*
 * Records value once (n times).  Returns false, and counts the value as out
 * of range (n times; once when n < 0), when value < 0, value > highest or
 * n < 0; the histogram is otherwise unchanged.  Never allocates, locks or
 * divides: safe on the per-request path.
 */
bool kc_hdr_record(struct kc_hdr *h, int64_t value);
bool kc_hdr_record_n(struct kc_hdr *h, int64_t value, int64_t n);

/*
 * Records value and, when value > expected_interval > 0, the values
 * value - k * expected_interval (k = 1, 2, ...) down to expected_interval:
 * the samples a stalled open-loop client would have taken (HdrHistogram's
 * recordValueWithExpectedInterval).  Returns false if value was out of range.
 */
bool kc_hdr_record_corrected(struct kc_hdr *h, int64_t value,
			     int64_t expected_interval);

/*
 * Adds every count of src into dst (their ranges may differ: then each
 * bucket of src is re-recorded at its lowest equivalent value).  dst's
 * out-of-range count also takes src's, so a merge equals recording the
 * union.  Returns the number of src samples that did not fit dst's range
 * (also counted there as out of range); 0 when all fit.
 */
int64_t kc_hdr_add(struct kc_hdr *dst, const struct kc_hdr *src);

/* Empties h (counts, min/max, out-of-range count, timestamps, tag). */
void kc_hdr_reset(struct kc_hdr *h);

/*
 * Queries.  None allocates or changes h; like every read of a struct kc_hdr
 * they must not race with a writer (take intervals through a recorder).
 */
/* Samples recorded (in range) since the last reset. */
int64_t kc_hdr_total_count(const struct kc_hdr *h);
/* Largest recorded value (equivalent-range representative); 0 if empty. */
int64_t kc_hdr_max(const struct kc_hdr *h);
/*
 * Mean, each sample standing for the middle of its equivalent range (as
 * HdrHistogram's getMean); 0 if empty.
 */
double kc_hdr_mean(const struct kc_hdr *h);
/* Value at percentile p (0..100), as HdrHistogram's getValueAtPercentile; 0 if empty. */
int64_t kc_hdr_value_at_percentile(const struct kc_hdr *h, double p);

/* Interval bounds carried by the histogram (ms since the epoch), for logs. */
void kc_hdr_set_times(struct kc_hdr *h, int64_t start_ms, int64_t end_ms);
void kc_hdr_get_times(const struct kc_hdr *h, int64_t *start_ms, int64_t *end_ms);
/* Optional tag (no spaces, commas or newlines; at most 63 bytes). Returns 0 or KC_EINVAL. */
int kc_hdr_set_tag(struct kc_hdr *h, const char *tag);

/*
 * A recorder: one writer thread records into the active histogram while a
 * reader thread swaps in a fresh one and takes the finished interval
 * (HdrHistogram's Recorder with a WriterReaderPhaser).
 */
struct kc_hdr_recorder {
	_Atomic(struct kc_hdr *) active;
	struct kc_hdr *inactive;
	atomic_int_fast64_t start_epoch;   /* writer enter counter (phaser) */
	atomic_int_fast64_t even_end;      /* writer exits in even phase */
	atomic_int_fast64_t odd_end;       /* writer exits in odd phase */
	int64_t interval_start_ms;
};

/*
 * Initializes a recorder with two histograms of the given shape (the
 * interval start is 0 until the first take).  Returns 0, KC_EINVAL or
 * KC_ENOMEM.
 */
int kc_hdr_recorder_init(struct kc_hdr_recorder *r, int64_t lowest,
			 int64_t highest, int sigfigs);

/* Frees both histograms; r may be NULL. */
void kc_hdr_recorder_fini(struct kc_hdr_recorder *r);

/*
 * Writer side, from one thread only (the phaser counts that thread out with
 * plain stores): records into the active interval; wait-free, no allocation,
 * no lock.  Returns false for an out-of-range value, as kc_hdr_record.
 */
bool kc_hdr_recorder_record(struct kc_hdr_recorder *r, int64_t value);

/*
 * Reader side: ends the current interval and adds it into into (which the
 * caller owns and may have any range); the recorder then records into a
 * fresh histogram.  Sets into's times to [interval start, now_ms].  Returns
 * the number of samples that did not fit into.  Only one reader at a time.
 */
int64_t kc_hdr_recorder_take(struct kc_hdr_recorder *r, struct kc_hdr *into,
			     int64_t now_ms);

#endif
