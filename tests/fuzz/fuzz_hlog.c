/*
 * fuzz_hlog.c - the .hlog interval-log reader and the V2 histogram decoder
 * over arbitrary bytes.
 *
 * The whole input is read as a log (text seeds reach the reader's header,
 * timestamp and base64 paths) and also given to kc_hlog_decode as one
 * encoded histogram (binary seeds reach the V2 and zlib paths, which the
 * fuzzer could hardly reach through base64).  Every histogram that comes
 * out is encoded again, compressed and not, and decoded back: the copy must
 * hold the same count, min and max.  One of the two encoders per histogram,
 * chosen by its count: walks over the counts dominate the time per input.
 * Bounds are lowered so one input stays fast; the defaults are not what is
 * tested here.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kneecap/buf.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "hdr_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_COUNTS (INT64_C(1) << 16)
#define FZ_MAX_INTERVALS 16

static void roundtrip(const struct kc_hdr *h, int compressed)
{
	struct kc_buf b;
	kc_buf_init(&b, (size_t)16 << 20);
	int rc = compressed ? kc_hlog_encode_compressed(h, &b) : kc_hlog_encode(h, &b);
	if (rc != 0)
		abort(); /* anything decoded must be encodable */
	struct kc_hdr *c = NULL;
	if (kc_hlog_decode(b.data, b.len, FZ_MAX_COUNTS, &c, NULL) != 0)
		abort(); /* ... and what kneecap encodes, it decodes */
	if (kc_hdr_total_count(c) != kc_hdr_total_count(h) ||
	    kc_hdr_min(c) != kc_hdr_min(h) || kc_hdr_max(c) != kc_hdr_max(h))
		abort();
	kc_hdr_free(c);
	kc_buf_fini(&b);
}

static void check(const struct kc_hdr *h)
{
	int64_t n = kc_hdr_total_count(h);
	if (n < 0)
		abort();
	/* The percentile walk must terminate and stay within range. */
	if (n > 0) {
		int64_t p50 = kc_hdr_value_at_percentile(h, 50.0);
		int64_t p100 = kc_hdr_value_at_percentile(h, 100.0);
		if (p50 > p100)
			abort();
	}
	/* One round trip per input is enough to check both encoders; the
	 * choice follows the count so both are exercised across inputs. */
	roundtrip(h, (int)(n & 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, data, size);
	r.max_counts = FZ_MAX_COUNTS;
	r.max_line_bytes = 1 << 20;
	for (int i = 0; i < FZ_MAX_INTERVALS; i++) {
		struct kc_hlog_interval iv;
		struct kc_diag d;
		size_t before = r.pos;
		int rc = kc_hlog_reader_next(&r, &iv, &d);
		if (rc == 0)
			break;
		if (rc == 1) {
			check(iv.hist);
			kc_hdr_free(iv.hist);
		} else if (r.pos == before) {
			abort(); /* an error must move past the bad line */
		}
	}
	struct kc_hdr *h = NULL;
	if (kc_hlog_decode(data, size, FZ_MAX_COUNTS, &h, NULL) == 0) {
		check(h);
		kc_hdr_free(h);
	}
	return 0;
}
