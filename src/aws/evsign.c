/*
 * evsign.c - chained event signing for bidirectional event streams.
 *
 * What it is: aws-wire.md 3.4 — the AWS4-HMAC-SHA256-PAYLOAD string to sign,
 * the outer envelope (:date, :chunk-signature, inner message as payload),
 * the final empty frame, and the matching check for the emulator.  What it
 * is not: the encoder of inner messages (eventstream.c) or the signer of the
 * opening request (sigv4.c, whose signature seeds the chain).
 *
 * Invariant: e->prior always holds the last signature that was emitted or
 * accepted, so a failed call leaves the chain where it was.
 */
#include "kneecap/evsign.h"
#include "evsign_int.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

static bool hex64_ok(const char *h)
{
	if (!h || strlen(h) != KC_SIGV4_HEX_LEN)
		return false;
	for (size_t i = 0; i < KC_SIGV4_HEX_LEN; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

int kc_evsign_init(struct kc_evsign *e, struct kc_sigv4_signer *s,
		   const char *seed_hex)
{
	KC_ASSERT(e && s);
	if (!hex64_ok(seed_hex))
		return KC_EINVAL;
	*e = (struct kc_evsign){.signer = s};
	memcpy(e->prior, seed_hex, KC_SIGV4_HEX_LEN + 1);
	return KC_OK;
}

void kc_evsign_date_header(int64_t time_ms, uint8_t out[15])
{
	static const uint8_t name[7] = {5, ':', 'd', 'a', 't', 'e', KC_ES_TIMESTAMP};
	memcpy(out, name, sizeof(name));
	uint64_t v = (uint64_t)time_ms;
	for (int i = 0; i < 8; i++)
		out[7 + i] = (uint8_t)(v >> (56 - 8 * i));
}

int kc_evsign_signature(struct kc_sigv4_signer *s, const char *prior_hex,
			int64_t time_s, const void *hdr, size_t hdr_len,
			const void *payload, size_t payload_len,
			uint8_t sig[32])
{
	KC_ASSERT(s && sig && (hdr || hdr_len == 0) &&
		  (payload || payload_len == 0));
	char date[17], scope[160], hh[KC_SIGV4_HEX_LEN + 1],
		ph[KC_SIGV4_HEX_LEN + 1], sts[512];
	uint8_t h[32];
	if (!hex64_ok(prior_hex) || kc_sigv4_amz_date(time_s, date) ||
	    kc_sigv4_scope(s, time_s, scope, sizeof(scope)))
		return KC_EINVAL;
	int rc = kc_sigv4_sha256(s, hdr, hdr_len, h);
	if (rc)
		return rc;
	kc_sigv4_hex(h, 32, hh);
	rc = kc_sigv4_sha256(s, payload, payload_len, h);
	if (rc)
		return rc;
	kc_sigv4_hex(h, 32, ph);
	int n = snprintf(sts, sizeof(sts),
			 "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", date,
			 scope, prior_hex, hh, ph);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return KC_EINTERNAL;
	return kc_sigv4_hmac_signing(s, time_s, sts, (size_t)n, sig);
}

/* Floor division: the signature's date is the whole second containing t. */
static int64_t ms_to_s(int64_t ms) { return ms >= 0 ? ms / 1000 : -1; }

int kc_evsign_sign(struct kc_evsign *e, const void *inner, size_t inner_len,
		   int64_t time_ms, uint8_t *out, size_t outsz, size_t *len)
{
	KC_ASSERT(e && e->signer && out && len && (inner || inner_len == 0));
	if (e->finished || time_ms < 0)
		return KC_EINVAL;
	if (inner_len > KC_ES_PAYLOAD_MAX_BYTES ||
	    outsz < inner_len + KC_EVSIGN_OVERHEAD_BYTES)
		return KC_ELIMIT;
	uint8_t date_hdr[KC_EVSIGN_DATE_HEADER_BYTES], sig[32];
	kc_evsign_date_header(time_ms, date_hdr);
	int rc = kc_evsign_signature(e->signer, e->prior, ms_to_s(time_ms),
				     date_hdr, sizeof(date_hdr), inner,
				     inner_len, sig);
	if (rc)
		return rc;
	/* :date first, :chunk-signature last, as the Java signer orders them. */
	struct kc_es_header h[2] = {
		kc_es_timestamp(":date", time_ms),
		{.name = ":chunk-signature", .name_len = 16,
		 .type = KC_ES_BYTES, .bytes = sig, .len = 32},
	};
	rc = kc_es_encode(h, 2, inner, inner_len, out, outsz, len, NULL, NULL);
	if (rc)
		return rc;
	KC_ASSERT(*len == inner_len + KC_EVSIGN_OVERHEAD_BYTES);
	kc_sigv4_hex(sig, 32, e->prior);
	e->finished = inner_len == 0;
	e->events++;
	return KC_OK;
}

const char *kc_evsign_verdict_str(enum kc_evsign_verdict v)
{
	switch (v) {
	case KC_EVSIGN_OK: return "event signature verified";
	case KC_EVSIGN_MALFORMED: return "event lacks :date or :chunk-signature";
	case KC_EVSIGN_SKEWED: return "event :date too skewed";
	case KC_EVSIGN_BAD_SIGNATURE: return "event signature does not match";
	case KC_EVSIGN_AFTER_END: return "event after the final empty frame";
	}
	return "unknown verdict";
}

int kc_evsign_verify(struct kc_evsign *e, const struct kc_es_message *outer,
		     int64_t now_ms, int64_t skew_ms,
		     enum kc_evsign_verdict *verdict)
{
	KC_ASSERT(e && e->signer && outer && verdict);
	if (e->finished) {
		*verdict = KC_EVSIGN_AFTER_END;
		return KC_OK;
	}
	const struct kc_es_header *dh = kc_es_find(outer, ":date");
	const struct kc_es_header *sh = kc_es_find(outer, ":chunk-signature");
	if (!dh || dh->type != KC_ES_TIMESTAMP || dh->i < 0 || !sh ||
	    sh->type != KC_ES_BYTES || sh->len != 32) {
		*verdict = KC_EVSIGN_MALFORMED;
		return KC_OK;
	}
	if (skew_ms >= 0 && (dh->i < now_ms - skew_ms || dh->i > now_ms + skew_ms)) {
		*verdict = KC_EVSIGN_SKEWED;
		return KC_OK;
	}
	uint8_t date_hdr[KC_EVSIGN_DATE_HEADER_BYTES], sig[32];
	kc_evsign_date_header(dh->i, date_hdr);
	int rc = kc_evsign_signature(e->signer, e->prior, ms_to_s(dh->i),
				     date_hdr, sizeof(date_hdr), outer->payload,
				     outer->payload_len, sig);
	if (rc == KC_EINVAL) {
		*verdict = KC_EVSIGN_MALFORMED; /* :date beyond year 9999 */
		return KC_OK;
	}
	if (rc)
		return rc;
	if (CRYPTO_memcmp(sig, sh->bytes, 32) != 0) {
		*verdict = KC_EVSIGN_BAD_SIGNATURE;
		return KC_OK;
	}
	kc_sigv4_hex(sig, 32, e->prior);
	e->finished = outer->payload_len == 0;
	e->events++;
	*verdict = KC_EVSIGN_OK;
	return KC_OK;
}
