/*
 * fuzz_respstream.c - the response-stream reader over arbitrary bodies.
 *
 * Checks on every input: fed whole and fed in pseudo-random pieces (each
 * with its own arrival time), the reader reaches the same verdict, the
 * same part count and payload bytes, and the callback sees every part in
 * order with gaps equal to the differences of their arrival times; a
 * reader reused after kc_rs_begin gives the same answer again; a verdict
 * other than OK always says why.  The reader is capped at 64 KiB so one
 * input stays fast.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/respstream.h"
#include "respstream_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_BYTES (64 * 1024)

struct seen {
	uint32_t next;     /* index the next part must have */
	int64_t last_at;
	uint64_t bytes;
};

static void on_part(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns, size_t len)
{
	struct seen *s = ud;
	if (index != s->next)
		abort(); /* parts out of order or skipped */
	if (index == 0 ? gap_ns != -1 : gap_ns != at_ns - s->last_at)
		abort();
	s->next++;
	s->last_at = at_ns;
	s->bytes += len;
}

struct outcome {
	enum kc_rs_verdict v;
	uint32_t parts;
	uint64_t bytes;
};

static struct outcome run(struct kc_rs *rs, const uint8_t *data, size_t size, uint32_t seed)
{
	struct seen s = {0};
	kc_rs_begin(rs);
	size_t off = 0;
	uint32_t x = seed | 1;
	int64_t t = 1000;
	while (off < size) {
		size_t piece = size - off;
		if (seed) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			piece = 1 + (x >> 9) % ((x & 0x100) ? 4096 : 13);
			if (piece > size - off)
				piece = size - off;
		}
		/* A copy of exactly the piece, so ASan sees reads past it. */
		uint8_t *chunk = malloc(piece);
		if (!chunk)
			abort();
		memcpy(chunk, data + off, piece);
		kc_rs_feed(rs, chunk, piece, t, on_part, &s);
		free(chunk);
		off += piece;
		t += 7;
	}
	struct outcome o = {kc_rs_end(rs), rs->parts, rs->part_bytes};
	if (s.next != rs->parts || s.bytes != rs->part_bytes)
		abort(); /* the callback and the counters disagree */
	if (o.v != KC_RS_OK && rs->code[0] == '\0')
		abort(); /* a failure must say why */
	if (!kc_rs_verdict_name(o.v))
		abort();
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FZ_MAX_BYTES)
		return 0;
	struct kc_rs rs;
	if (kc_rs_init(&rs, FZ_MAX_BYTES) != 0)
		abort();
	struct outcome whole = run(&rs, data, size, 0);
	uint32_t seed = (uint32_t)size * 2654435761u;
	if (size)
		seed ^= (uint32_t)data[0] << 8 | data[size - 1];
	struct outcome pieces = run(&rs, data, size, seed | 2);
	struct outcome again = run(&rs, data, size, 0);
	if (whole.v != pieces.v || whole.parts != pieces.parts || whole.bytes != pieces.bytes ||
	    whole.v != again.v || whole.parts != again.parts || whole.bytes != again.bytes)
		abort(); /* the answer depends on the split or on the reader's past */
	kc_rs_fini(&rs);
	return 0;
}
