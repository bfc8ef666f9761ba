/*
 * eventstream.h - AWS event-stream messages (application/vnd.amazon.eventstream).
 *
 * The binary framing of aws-wire.md section 5: a 12-byte prelude (total
 * length, headers length, prelude CRC-32), typed headers, a payload and a
 * message CRC-32.  Encoder and decoder are pure: bytes in, bytes out, no I/O,
 * no logging.  The streaming decoder takes arbitrary-sized pieces (HTTP/2
 * DATA frames) and buffers at most one message, in a buffer whose cap is
 * fixed at init; once grown it is reused, so steady state allocates nothing.
 *
 * The module's prefix is kc_es_ (event stream), kept short because every
 * stream-driver and emulator line uses it.
 *
 * Limits (spec 5.3, enforced on both sides): header block <= 128 KiB,
 * payload <= 16 MiB, total >= 16 bytes, string/byte-array value <= 32767
 * bytes, name 1..255 bytes, no duplicate header names, known types only.
 */
#ifndef KNEECAP_EVENTSTREAM_H
#define KNEECAP_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/err.h"

#define KC_ES_PRELUDE_BYTES 12
#define KC_ES_OVERHEAD_BYTES 16 /* prelude + message CRC */
#define KC_ES_HEADERS_MAX_BYTES (128 * 1024)
#define KC_ES_PAYLOAD_MAX_BYTES (16 * 1024 * 1024)
#define KC_ES_VALUE_MAX_BYTES 32767
#define KC_ES_MESSAGE_MAX_BYTES \
	(KC_ES_OVERHEAD_BYTES + KC_ES_HEADERS_MAX_BYTES + KC_ES_PAYLOAD_MAX_BYTES)

/* Header value types, numbered as on the wire. */
enum kc_es_type {
	KC_ES_BOOL_TRUE = 0,
	KC_ES_BOOL_FALSE = 1,
	KC_ES_BYTE = 2,       /* int8 */
	KC_ES_SHORT = 3,      /* int16 */
	KC_ES_INT = 4,        /* int32 */
	KC_ES_LONG = 5,       /* int64 */
	KC_ES_BYTES = 6,      /* uint16 length + bytes */
	KC_ES_STRING = 7,     /* uint16 length + UTF-8 */
	KC_ES_TIMESTAMP = 8,  /* int64 ms since the epoch */
	KC_ES_UUID = 9,       /* 16 bytes */
};

/*
 * One header.  For BYTES, STRING and UUID the value is (bytes, len) and
 * borrowed (in a decoded message: points into the message); UUID len is 16.
 * For BYTE..LONG and TIMESTAMP the value is i; for the bools it is the type.
 */
struct kc_es_header {
	const char *name;
	size_t name_len;
	enum kc_es_type type;
	int64_t i;
	const uint8_t *bytes;
	size_t len;
};

/* A message: headers (in wire order) and payload, all borrowed. */
struct kc_es_message {
	const struct kc_es_header *headers;
	size_t n_headers;
	const uint8_t *payload;
	size_t payload_len;
};

/* Why a message was refused (a decoder's or encoder's reason). */
enum kc_es_fault {
	KC_ES_FAULT_NONE = 0,
	KC_ES_FAULT_PRELUDE_CRC,   /* "Prelude checksum mismatch" */
	KC_ES_FAULT_MESSAGE_CRC,   /* "Message checksum mismatch" */
	KC_ES_FAULT_TOO_SHORT,     /* total_length < 16 or headers don't fit */
	KC_ES_FAULT_HEADERS_TOO_LONG,
	KC_ES_FAULT_PAYLOAD_TOO_LONG,
	KC_ES_FAULT_BAD_HEADER,    /* truncated header, empty name, bad length */
	KC_ES_FAULT_UNKNOWN_TYPE,
	KC_ES_FAULT_DUPLICATE_HEADER,
	KC_ES_FAULT_VALUE_TOO_LONG,
	KC_ES_FAULT_TOO_MANY_HEADERS, /* more than the caller's header array */
	KC_ES_FAULT_TOO_LARGE,        /* over the decoder's message cap */
	KC_ES_FAULT_NO_MEMORY,        /* the message buffer could not grow */
};

/* Returns a short static description of f; never NULL. */
const char *kc_es_fault_str(enum kc_es_fault f);

/* Helpers to build headers for the encoder. */
struct kc_es_header kc_es_string(const char *name, const char *value);
struct kc_es_header kc_es_timestamp(const char *name, int64_t ms);

/*
 * Encoded size of a message with these headers and payload_len payload
 * bytes, or 0 when it would break a limit (*fault says which; may be NULL).
 */
size_t kc_es_encoded_len(const struct kc_es_header *h, size_t n,
			 size_t payload_len, enum kc_es_fault *fault);

/*
 * Encodes one message into out (outsz bytes) and sets *len.  Returns 0,
 * KC_EINVAL (a limit or rule broken: *fault, if given, says which; d too),
 * or KC_ELIMIT (out too small).  out is untouched on failure except when
 * KC_ELIMIT is returned (then it may hold a partial message).
 */
int kc_es_encode(const struct kc_es_header *h, size_t n, const void *payload,
		 size_t payload_len, uint8_t *out, size_t outsz, size_t *len,
		 enum kc_es_fault *fault, struct kc_diag *d);

/*
 * Decodes exactly one complete message occupying p[0..len) (len must equal
 * its total_length).  Headers go into the caller's array hdrs[0..cap); the
 * message borrows from p.  Returns 0, or KC_ECRC (prelude or message
 * checksum) / KC_EPARSE (any other fault), with *fault set.
 */
int kc_es_decode(const uint8_t *p, size_t len, struct kc_es_header *hdrs,
		 size_t cap, struct kc_es_message *msg, enum kc_es_fault *fault);

/* Incremental decoder: caller-allocated, _init/_fini; one per stream, used
 * by one thread at a time. */
struct kc_es_decoder {
	uint8_t *buf;    /* partial message being gathered */
	size_t buf_len;  /* bytes gathered */
	size_t buf_cap;  /* bytes allocated */
	size_t max_bytes;/* largest message accepted */
	size_t need;     /* total_length once the prelude is known, else 0 */
	struct kc_es_header *hdrs;
	size_t hdr_cap;
	enum kc_es_fault fault; /* sticky: a failed stream cannot resync */
	uint64_t messages;      /* messages decoded so far */
};

/*
 * Prepares d to accept messages up to max_bytes (0 means
 * KC_ES_MESSAGE_MAX_BYTES) with at most max_headers headers each (0 means
 * 64).  Allocates the header array now; the message buffer grows on demand
 * up to max_bytes.  Returns 0, KC_EINVAL or KC_ENOMEM.
 */
int kc_es_decoder_init(struct kc_es_decoder *d, size_t max_bytes,
		       size_t max_headers);

/* Frees the decoder's memory; d may be NULL. */
void kc_es_decoder_fini(struct kc_es_decoder *d);

/*
 * Makes d ready for a new stream: drops any partial message, clears the
 * sticky fault and the message count, and keeps the buffers (so a decoder
 * reused for request after request allocates nothing once grown).
 */
void kc_es_decoder_reset(struct kc_es_decoder *d);

/*
 * Frees d's gathering buffer when it is larger than keep_bytes and holds
 * no partial message (call after kc_es_decoder_reset), so one huge message
 * does not keep its memory reserved for the decoder's lifetime.
 */
void kc_es_decoder_trim(struct kc_es_decoder *d, size_t keep_bytes);

/* True when d holds part of a message (a stream that ended here was cut). */
bool kc_es_decoder_pending(const struct kc_es_decoder *d);

/*
 * Feeds up to len bytes.  Sets *used to the bytes consumed and returns:
 *   1  one message is complete in *msg (valid until the next feed or fini;
 *      it may point into p or into the decoder's buffer); call again with
 *      the rest of the input (p + *used),
 *   0  all input consumed, no complete message yet,
 *   KC_ECRC / KC_EPARSE / KC_ELIMIT / KC_ENOMEM  the stream is broken
 *      (decoder fault says why; every later call returns the same error).
 * Whole messages inside p are decoded in place without copying.
 */
int kc_es_decoder_feed(struct kc_es_decoder *d, const uint8_t *p, size_t len,
		       size_t *used, struct kc_es_message *msg);

/* Finds a header by name in m, or NULL. */
const struct kc_es_header *kc_es_find(const struct kc_es_message *m,
				      const char *name);

#endif
