/*
 * evsign.h - chained SigV4 signing of event-stream messages (aws-wire.md 3.4).
 *
 * Each outgoing event (an encoded inner message) is wrapped in an outer
 * message with headers `:date` (timestamp) and `:chunk-signature` (32 raw
 * bytes) and the inner message as payload.  Each signature chains from the
 * previous one, starting from the seed: the hex signature of the request
 * that opened the stream.  Input ends with one signed empty frame.
 *
 * A struct kc_evsign belongs to one stream and one thread (the chain makes
 * events strictly sequential); it borrows a signer, which must outlive it
 * and belong to the same thread.  Signing allocates nothing.
 */
#ifndef KNEECAP_EVSIGN_H
#define KNEECAP_EVSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/eventstream.h"
#include "kneecap/sigv4.h"

/* Outer message = inner + 83 bytes (16 framing + 15 :date + 52 signature). */
#define KC_EVSIGN_OVERHEAD_BYTES 83
#define KC_EVSIGN_DATE_HEADER_BYTES 15

struct kc_evsign {
	struct kc_sigv4_signer *signer; /* borrowed */
	char prior[KC_SIGV4_HEX_LEN + 1]; /* previous signature, hex */
	bool finished;                    /* the empty frame was signed/seen */
	uint64_t events;                  /* frames signed or verified */
};

/*
 * Starts a chain from seed_hex (64 lowercase hex digits).  Returns 0 or
 * KC_EINVAL (seed malformed).
 */
int kc_evsign_init(struct kc_evsign *e, struct kc_sigv4_signer *s,
		   const char *seed_hex);

/*
 * One chained signature over arbitrary header bytes and payload:
 * HMAC(kSigning(day of time_s), "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n
 * <prior>\n<hex sha256(hdr)>\n<hex sha256(payload)>").  The building block of
 * kc_evsign_sign, exposed for test vectors.  Returns 0, KC_EINVAL (time out
 * of range or prior malformed) or KC_EINTERNAL.
 */
int kc_evsign_signature(struct kc_sigv4_signer *s, const char *prior_hex,
			int64_t time_s, const void *hdr, size_t hdr_len,
			const void *payload, size_t payload_len,
			uint8_t sig[32]);

/* Writes the 15-byte encoding of header `:date` = time_ms into out. */
void kc_evsign_date_header(int64_t time_ms, uint8_t out[15]);

/*
 * Signs the encoded inner message inner[0..inner_len) at time_ms (ms since
 * the epoch; the signature's date is its whole second) and writes the outer
 * message into out (inner_len + 83 bytes needed), setting *len.  inner_len 0
 * signs the final empty frame; after it the chain is finished and further
 * calls return KC_EINVAL.  Returns 0, KC_EINVAL, KC_ELIMIT (out too small or
 * inner over the payload limit) or KC_EINTERNAL.  On failure the chain is
 * unchanged.
 */
int kc_evsign_sign(struct kc_evsign *e, const void *inner, size_t inner_len,
		   int64_t time_ms, uint8_t *out, size_t outsz, size_t *len);

/* Why a received outer frame failed (emulator side). */
enum kc_evsign_verdict {
	KC_EVSIGN_OK = 0,
	KC_EVSIGN_MALFORMED,     /* no :date timestamp / 32-byte :chunk-signature */
	KC_EVSIGN_SKEWED,        /* :date outside now +- skew */
	KC_EVSIGN_BAD_SIGNATURE, /* does not chain from the prior signature */
	KC_EVSIGN_AFTER_END,     /* a frame after the final empty frame */
};

/*
 * Checks one decoded outer frame against the chain (the signature compared
 * with CRYPTO_memcmp).  On KC_EVSIGN_OK the chain advances (and finishes on
 * an empty payload); on any other verdict it is unchanged.  now_ms is the
 * server clock; skew_ms < 0 disables the clock check.  Returns 0 with
 * *verdict set, or KC_EINTERNAL.
 */
int kc_evsign_verify(struct kc_evsign *e, const struct kc_es_message *outer,
		     int64_t now_ms, int64_t skew_ms,
		     enum kc_evsign_verdict *verdict);

#endif
