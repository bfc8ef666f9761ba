/*
 * sigv4_int.h - what the signer (sigv4.c) and the canonical form
 * (sigv4canon.c) share: the signer's state, the header entry, the bounded
 * writer, and the canonical-request builder.  Not part of the public API.
 */
#ifndef KNEECAP_AWS_SIGV4_INT_H
#define KNEECAP_AWS_SIGV4_INT_H

#include "kneecap/sigv4.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct kc_diag;

#define QBUF_BYTES 16384   /* re-encoded query keys and values */
#define SEGMENTS_MAX 512   /* path segments kept by normalisation */

struct kc_sigv4_signer {
	char akid[KC_SIGV4_AKID_MAX + 1];
	size_t akid_len;
	char secret[KC_SIGV4_SECRET_MAX + 5]; /* "AWS4" + secret */
	size_t secret_len;                    /* including "AWS4" */
	char token[KC_SIGV4_TOKEN_MAX + 1];
	size_t token_len;
	char region[KC_SIGV4_SCOPE_PART_MAX + 1];
	char service[KC_SIGV4_SCOPE_PART_MAX + 1];
	bool keep_segments, no_encode, sign_sha256, omit_token;

	int64_t key_day; /* UTC day of the key in key_ctx, -1 when none */
	int64_t date_s;  /* the second date[] was formatted for, -1 none */
	char date[17];

	EVP_MD *md;
	EVP_MD_CTX *md_ctx;
	EVP_MAC *mac;
	EVP_MAC_CTX *mac_ctx; /* key derivation */
	EVP_MAC_CTX *key_ctx; /* keyed with kSigning */

	char creq[KC_SIGV4_SCRATCH_BYTES]; /* canonical request */
	size_t creq_len;
	size_t signed_off, signed_len; /* SignedHeaders line inside creq */
	char qbuf[QBUF_BYTES];
};

/* One header as it enters the canonical form. */
struct ent {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A bounded text writer: once it overflows it stays overflowed. */
struct wr {
	char *p;
	size_t len, cap;
	bool over;
};

static inline void wr_put(struct wr *w, const void *s, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static inline void wr_str(struct wr *w, const char *s) { wr_put(w, s, strlen(s)); }

static inline void wr_ch(struct wr *w, char c) { wr_put(w, &c, 1); }

static inline bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

/* Case-insensitive equality of a header name with a lowercase literal. */
bool kc_sigv4_name_is(const char *name, size_t len, const char *lit);

/* Orders two header names case-insensitively (<0, 0, >0). */
int kc_sigv4_name_cmp(const struct ent *a, const struct ent *b);

/*
 * Writes the canonical request for the headers e[0..n) (sorted here, in
 * place) into s->creq and remembers where its SignedHeaders line is.
 * Returns 0 or KC_ELIMIT (d says which bound; d may be NULL).
 */
int kc_sigv4_build_creq(struct kc_sigv4_signer *s, const char *method,
			const char *path, const char *query, struct ent *e,
			size_t n, const char *payload_hash, struct kc_diag *d);

/*
 * The stages, for tests.  Each writes its text (no trailing
 * newline) into out, NUL-terminated, and its length into *len; same returns
 * as kc_sigv4_sign.  They include the headers kc_sigv4_sign would add.
 */
int kc_sigv4_canonical_request(struct kc_sigv4_signer *s,
			       const struct kc_sigv4_request *req, char *out,
			       size_t outsz, size_t *len, struct kc_diag *d);
int kc_sigv4_string_to_sign(struct kc_sigv4_signer *s,
			    const struct kc_sigv4_request *req, char *out,
			    size_t outsz, size_t *len, struct kc_diag *d);

#endif
