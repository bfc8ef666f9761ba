/*
 * hlog.h - the HdrHistogram interval log (.hlog), format version 1.3, with
 * histograms in the V2 compressed encoding, so HdrHistogram's own tools
 * (HistogramLogReader, HistogramLogProcessor, HistogramLogAnalyzer) read
 * what kneecap writes and kneecap reads what they write.
 *
 * A log is text:
 *   #[Logged with kneecap]
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
 *   #[BaseTime: 1700000000.000 (seconds since epoch)]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 *   Tag=step-1,0.000,1.000,12.345,HISTFAAAA...
 * Each interval line holds its start (seconds after BaseTime), its length
 * (seconds), its max value divided by a unit ratio (for people), and the
 * histogram: the V2 encoding (big-endian header; counts as zig-zag LEB128
 * with runs of zeros as negative numbers), DEFLATEd in a zlib stream behind
 * an 8-byte header, then base64.
 *
 * The codec does no I/O of its own beyond the optional FILE* sink of the
 * writer; the reader is a pure function of the bytes it is given, bounds
 * every allocation, and never trusts a length it reads.
 */
#ifndef KNEECAP_HLOG_H
#define KNEECAP_HLOG_H

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/hdr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Cookies of the V2 encodings (the low nibble of byte 3 may vary: 0x13, 0x14). */
#define KC_HLOG_V2_COOKIE 0x1c849303u
#define KC_HLOG_V2_COMPRESSED_COOKIE 0x1c849304u
/* Size of the V2 header before the counts payload. */
#define KC_HLOG_V2_HEADER_BYTES 40
/* Default bound on a decoded histogram's counts array (entries; 8 bytes each). */
#define KC_HLOG_MAX_COUNTS_DEFAULT (INT64_C(1) << 22)
/* Default bound on one log line, in bytes. */
#define KC_HLOG_MAX_LINE_DEFAULT ((size_t)16 << 20)

/* ---- the histogram codec (exposed for tests, fuzzers and other tools) ---- */

/*
 * Appends h's V2 encoding (uncompressed) to out.  Returns 0, KC_ELIMIT or
 * KC_ENOMEM (out unchanged on failure).
 */
int kc_hlog_encode(const struct kc_hdr *h, struct kc_buf *out);

/*
 * Appends h's V2 compressed encoding (the bytes a log line base64-encodes)
 * to out.  Returns 0, KC_ELIMIT or KC_ENOMEM (out unchanged on failure).
 */
int kc_hlog_encode_compressed(const struct kc_hdr *h, struct kc_buf *out);

/*
 * Decodes a V2 encoding, compressed (cookie 0x1c8493x4) or not (0x1c8493x3),
 * from p[0..n) into a new histogram of the encoded range and precision.
 * max_counts bounds the counts array the header may ask for (0 means
 * KC_HLOG_MAX_COUNTS_DEFAULT); decompression never produces more than that
 * shape can need.  Returns 0 and *out (the caller frees it with
 * kc_hdr_free), or KC_EPARSE (malformed), KC_EUNSUPPORTED (V0/V1 or
 * normalized encodings), KC_ELIMIT (larger than max_counts) or KC_ENOMEM,
 * with a message in d (which may be NULL); *out untouched on failure.
 */
int kc_hlog_decode(const void *p, size_t n, int64_t max_counts,
		   struct kc_hdr **out, struct kc_diag *d);

/* ---- writer ------------------------------------------------------------ */

struct kc_hlog_writer {
	struct kc_buf *buf;          /* sink: append here ... */
	FILE *fp;                    /* ... or write here (exactly one is set) */
	int64_t base_ms;             /* interval starts are written relative to this */
	double max_value_unit_ratio; /* Interval_Max column = max / ratio */
	struct kc_buf scratch;       /* one line at a time */
};

/*
 * Prepares a writer into buf (borrowed; must outlive the writer) or fp
 * (borrowed; the writer neither flushes nor closes it): exactly one of them
 * is non-NULL.  max_value_unit_ratio divides the max column: 1000 turns
 * microseconds into milliseconds, 1e6 nanoseconds into milliseconds (Java's
 * default).  Returns 0 or KC_EINVAL.
 */
int kc_hlog_writer_init(struct kc_hlog_writer *w, struct kc_buf *buf, FILE *fp,
			double max_value_unit_ratio);

/*
 * Writes the header: a comment, the format version, StartTime (start_ms,
 * ms since the epoch), BaseTime (base_ms, which later interval starts are
 * relative to) and the legend line.  Returns 0, KC_ELIMIT, KC_ENOMEM or
 * KC_EIO.
 */
int kc_hlog_write_header(struct kc_hlog_writer *w, int64_t start_ms,
			 int64_t base_ms);

/*
 * Writes one interval line for h: its tag (if any), its times (from
 * kc_hdr_get_times, relative to base_ms), its max and its compressed
 * counts.  Returns 0, KC_ELIMIT, KC_ENOMEM or KC_EIO.
 */
int kc_hlog_write_interval(struct kc_hlog_writer *w, const struct kc_hdr *h);

/* Frees the writer's scratch space; w may be NULL. */
void kc_hlog_writer_fini(struct kc_hlog_writer *w);

/* ---- reader ------------------------------------------------------------ */

struct kc_hlog_reader {
	const char *data;        /* borrowed; must outlive the reader */
	size_t len, pos;
	int line;                /* number of the last line consumed (1-based) */
	double start_time_s;     /* from #[StartTime: ...], 0 if none yet */
	double base_time_s;      /* from #[BaseTime: ...], or deduced */
	bool have_start, have_base;
	int64_t max_counts;      /* bound on each histogram (entries) */
	size_t max_line_bytes;   /* bound on one line */
};

struct kc_hlog_interval {
	char tag[64];            /* "" when the line has no tag */
	double start_s;          /* absolute start, seconds since the epoch */
	double length_s;         /* interval length, seconds */
	double max_column;       /* the Interval_Max column as written */
	int line;                /* where the interval was read */
	struct kc_hdr *hist;     /* owned by the caller: kc_hdr_free it */
};

/*
 * Prepares a reader over data[0..len) with the default bounds (callers may
 * lower r->max_counts and r->max_line_bytes afterwards).
 */
void kc_hlog_reader_init(struct kc_hlog_reader *r, const void *data, size_t len);

/*
 * Reads up to the next interval line.  Returns 1 and fills *iv (its hist
 * has the tag and [start, end] ms set, rounded to the ms), 0 at the end of
 * the data, or a negative kc_err (KC_EPARSE, KC_EUNSUPPORTED, KC_ELIMIT,
 * KC_ENOMEM) with d (may be NULL) naming the line: "line 7: ...".  After an
 * error the reader stands after the bad line, so calling again skips it.
 * Timestamps follow Java's HistogramLogReader: relative to BaseTime when
 * given; without one, relative to StartTime unless they look absolute.
 * *iv is untouched unless 1 is returned.
 */
int kc_hlog_reader_next(struct kc_hlog_reader *r, struct kc_hlog_interval *iv,
			struct kc_diag *d);

#endif
