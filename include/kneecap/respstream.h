/*
 * respstream.h - reading one InvokeEndpointWithResponseStream body as it
 * arrives: which bytes are PayloadParts, when each one came, and whether
 * the stream ended well (aws-wire.md sections 2.2 and 5).
 *
 * Pure: bytes and times in, counts and a verdict out; no clock, no I/O, no
 * logging.  One struct kc_rs per connection slot, reused request after
 * request (kc_rs_begin), so steady state allocates nothing: the event-stream
 * decoder's buffer grows to the largest message seen, up to the cap given
 * at init.  One thread at a time.
 *
 * Rules followed: PayloadPart is `:message-type event` with `:event-type
 * PayloadPart`; other event types are ignored (the spec says to); an
 * `exception` message (ModelStreamError, InternalStreamFailure, others) or
 * an `error` message ends the stream as failed; so does a frame that does
 * not decode (bad prelude or CRC, over the cap) or a body that ends in the
 * middle of a message.  Nothing after a failure is looked at.
 */
#ifndef KNEECAP_RESPSTREAM_H
#define KNEECAP_RESPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/eventstream.h"

/* How a response stream ended (or stands, before kc_rs_end). */
enum kc_rs_verdict {
	KC_RS_OK,              /* only well-formed messages so far, no exception */
	KC_RS_BROKEN,          /* not a valid event stream: bad frame or cut short */
	KC_RS_MODEL_ERROR,     /* a ModelStreamError exception event */
	KC_RS_STREAM_FAILURE,  /* any other exception (InternalStreamFailure, ...) or error message */
};

#define KC_RS_CODE_MAX 64
/* Decoder buffer kept across requests by kc_rs_begin; larger ones are freed. */
#define KC_RS_KEEP_BYTES (1024 * 1024)
#define KC_RS_DETAIL_MAX 256

struct kc_rs {
	struct kc_es_decoder dec;
	enum kc_rs_verdict verdict;
	uint32_t parts;          /* PayloadParts so far in this stream */
	uint64_t part_bytes;     /* their payload bytes */
	int64_t first_ns;        /* arrival of the first PayloadPart; 0: none yet */
	int64_t last_ns;         /* arrival of the latest PayloadPart */
	/* Why it failed: the exception type or error code, or the decoder's
	 * fault; detail holds the first bytes of the exception payload (JSON)
	 * or a sentence.  Both NUL-terminated; "" while the verdict is OK. */
	char code[KC_RS_CODE_MAX];
	char detail[KC_RS_DETAIL_MAX];
	size_t detail_len;
};

/*
 * Called for every PayloadPart as it is decoded: index counts from 0 in
 * this stream, at_ns is the arrival time given to kc_rs_feed, gap_ns is
 * at_ns minus the previous part's arrival (-1 for the first part),
 * payload_len the part's Bytes length.
 */
typedef void (*kc_rs_part_cb)(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns,
			      size_t payload_len);

/*
 * Prepares s for messages of at most max_bytes (0: KC_ES_MESSAGE_MAX_BYTES).
 * Returns 0, KC_EINVAL or KC_ENOMEM.
 */
int kc_rs_init(struct kc_rs *s, size_t max_bytes);

/* Frees s's buffers; s may be NULL. */
void kc_rs_fini(struct kc_rs *s);

/* Starts a new stream on s (a new response), keeping its buffers up to
 * KC_RS_KEEP_BYTES (a larger decoder buffer is freed; it regrows on demand). */
void kc_rs_begin(struct kc_rs *s);

/*
 * Feeds len body bytes that arrived at at_ns (any split: a message may
 * span calls).  Calls cb (may be NULL) for each PayloadPart completed.
 * Returns the verdict so far; once it is not KC_RS_OK later calls do
 * nothing and return it again.  Never fails otherwise, never reads outside
 * p[0..len).
 */
enum kc_rs_verdict kc_rs_feed(struct kc_rs *s, const void *p, size_t len, int64_t at_ns,
			      kc_rs_part_cb cb, void *ud);

/*
 * The body ended: a partial message left in the decoder makes the stream
 * KC_RS_BROKEN ("truncated").  Returns the final verdict.
 */
enum kc_rs_verdict kc_rs_end(struct kc_rs *s);

#endif
