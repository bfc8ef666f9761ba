/*
 * fuzz_evsign.c - the event-signature verifier on arbitrary frames, and the
 * sign/verify round trip on arbitrary payloads.
 *
 * A: the input is a stream of outer event-stream frames (as a client would
 *    send on a bidirectional stream), decoded incrementally and each checked
 *    with kc_evsign_verify against a chain started from a fixed seed, with
 *    and without the clock check.  A refused frame must leave the chain as
 *    it was; after the final empty frame nothing else may verify.
 * B: the input cut into pieces (sizes from its first byte) is signed as a
 *    chain of events and then verified by a second chain: every frame must
 *    verify, in order, and the final empty frame must finish both chains.
 * The seeds for A are frames signed with FZ_SEED at FZ_TIME_MS onwards by
 * the same key, so the fuzzer starts from streams that verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "evsign_int.h"
#include "kneecap/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEED "5b6b06b0e7f0a9c2a1dbb0a5e8e0c1b7d7f7e7b7c4d9e9f3a2b1c0d9e8f7a6b5"
#define FZ_TIME_MS INT64_C(1700000000000)
#define FZ_MAX_INPUT 16384
#define FZ_MAX_FRAMES 128
/* The round trip signs at most this many pieces: signing dominates the time. */
#define FZ_RT_FRAMES 16

static struct kc_sigv4_signer *signer(void)
{
	static struct kc_sigv4_signer *s;
	if (s)
		return s;
	struct kc_sigv4_config cfg = {
		.access_key_id = "AKIDFUZZEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzFUZZFAKEKEY",
		.session_token = "FQoGZXIvYXdzEFAKETOKEN",
		.region = "us-east-1",
		.service = "sagemaker",
	};
	if (kc_sigv4_signer_new(&s, &cfg, NULL) != 0)
		abort();
	return s;
}

static void verify_stream(const uint8_t *data, size_t size, int64_t skew_ms)
{
	struct kc_evsign chain;
	if (kc_evsign_init(&chain, signer(), FZ_SEED) != 0)
		abort();
	struct kc_es_decoder d;
	if (kc_es_decoder_init(&d, FZ_MAX_INPUT + 256, 16) != 0)
		abort();
	size_t off = 0;
	for (int i = 0; i < FZ_MAX_FRAMES && off < size; i++) {
		size_t used = 0;
		struct kc_es_message m;
		int rc = kc_es_decoder_feed(&d, data + off, size - off, &used, &m);
		off += used;
		if (rc != 1)
			break;
		struct kc_evsign before = chain;
		enum kc_evsign_verdict v = KC_EVSIGN_OK;
		if (kc_evsign_verify(&chain, &m, FZ_TIME_MS + 1000, skew_ms, &v) != 0)
			abort();
		if (!kc_evsign_verdict_str(v))
			abort();
		if (v != KC_EVSIGN_OK) {
			if (memcmp(chain.prior, before.prior, sizeof(chain.prior)) != 0 ||
			    chain.finished != before.finished || chain.events != before.events)
				abort(); /* a refused frame moved the chain */
		} else if (before.finished || chain.events != before.events + 1) {
			abort(); /* accepted after the end, or not counted */
		}
	}
	kc_es_decoder_fini(&d);
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct kc_evsign tx, rx;
	if (kc_evsign_init(&tx, signer(), FZ_SEED) != 0 ||
	    kc_evsign_init(&rx, signer(), FZ_SEED) != 0)
		abort();
	size_t step = size ? (size_t)data[0] % 61 + 1 : 1;
	if (step < size / (FZ_RT_FRAMES - 2) + 1)
		step = size / (FZ_RT_FRAMES - 2) + 1; /* every piece fits the loop */
	static uint8_t out[FZ_MAX_INPUT + KC_EVSIGN_OVERHEAD_BYTES];
	size_t off = 0;
	int64_t t = FZ_TIME_MS;
	for (int i = 0; i < FZ_RT_FRAMES; i++) {
		size_t n = size - off < step ? size - off : step;
		size_t len = 0;
		if (kc_evsign_sign(&tx, data + off, n, t, out, sizeof(out), &len) != 0)
			abort();
		if (len != n + KC_EVSIGN_OVERHEAD_BYTES)
			abort();
		struct kc_es_header h[4];
		struct kc_es_message m;
		enum kc_es_fault f;
		if (kc_es_decode(out, len, h, 4, &m, &f) != 0)
			abort(); /* the signer wrote a frame the decoder refuses */
		if (m.payload_len != n || (n && memcmp(m.payload, data + off, n) != 0))
			abort();
		enum kc_evsign_verdict v;
		if (kc_evsign_verify(&rx, &m, t + 500, 300000, &v) != 0 ||
		    v != KC_EVSIGN_OK)
			abort(); /* the verifier refuses what the signer signed */
		if (strcmp(tx.prior, rx.prior) != 0)
			abort();
		if (n == 0)
			break;
		off += n;
		t += 250;
	}
	if (off == size && (!tx.finished || !rx.finished))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FZ_MAX_INPUT)
		return 0;
	verify_stream(data, size, -1);
	verify_stream(data, size, 300000);
	round_trip(data, size);
	return 0;
}
