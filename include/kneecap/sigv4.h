/*
 * sigv4.h - AWS Signature Version 4, header form (spec: aws-wire.md section 4).
 *
 * A signer holds one key pair (plus optional session token), a region and a
 * service, and signs requests whose payload hash the caller already knows:
 * the payload pool hashes each body once, the signer never reads a body.
 * The time is always a parameter, so signatures are reproducible in tests.
 *
 * Threading: a struct kc_sigv4_signer is owned by ONE thread at a time.  Its
 * signing-key cache, OpenSSL contexts and scratch buffers are unsynchronised,
 * so each worker thread (and each emulator thread that verifies) creates its
 * own signer (kc_sigv4_signer_new, about 60 KiB, at start-up) — the key cache
 * is per signer, per thread, and needs no lock.  Signing then allocates
 * nothing in kneecap's code.
 *
 * Secrets: the secret key and session token are copied into the signer and
 * wiped (OPENSSL_cleanse) by kc_sigv4_signer_free.  No function here logs
 * anything, and no diagnostic text ever contains the secret or the token.
 */
#ifndef KNEECAP_SIGV4_H
#define KNEECAP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/err.h"

/* Bounds on what a signer accepts (input longer than these is KC_ELIMIT). */
#define KC_SIGV4_AKID_MAX 128        /* access key id, bytes */
#define KC_SIGV4_SECRET_MAX 128      /* secret access key, bytes */
#define KC_SIGV4_TOKEN_MAX 8192      /* session token, bytes */
#define KC_SIGV4_SCOPE_PART_MAX 63   /* region or service name, bytes */
#define KC_SIGV4_HEADERS_MAX 64      /* headers in one request */
#define KC_SIGV4_QUERY_MAX 128       /* query parameters in one request */
#define KC_SIGV4_SCRATCH_BYTES 32768 /* canonical request, bytes */

#define KC_SIGV4_HEX_LEN 64 /* a SHA-256 or signature in lowercase hex */

/* The empty-body payload hash and the bidirectional-stream literal. */
#define KC_SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define KC_SIGV4_STREAMING_EVENTS "STREAMING-AWS4-HMAC-SHA256-EVENTS"

/* How a signer canonicalises; the defaults (all false) are right for every
 * service except S3 and are what SageMaker needs.  S3 would set both path
 * flags. */
struct kc_sigv4_config {
	const char *access_key_id;     /* required */
	const char *secret_access_key; /* required */
	const char *session_token;     /* NULL or "" for long-term keys */
	const char *region;            /* e.g. "us-east-1" */
	const char *service;           /* e.g. "sagemaker" */
	/* Sign the path without removing dot segments and duplicate slashes
	 * (S3; the v4 suite's "normalize": false).  SageMaker: false. */
	bool keep_path_segments;
	/* Sign the path bytes without encoding them again (S3 signs the wire
	 * path as is).  SageMaker: false (non-S3 services double-encode). */
	bool path_encoded_once;
	/* Send and sign x-amz-content-sha256 with the payload hash. */
	bool sign_content_sha256;
	/* Legacy variant (v4 suite only): add X-Amz-Security-Token AFTER
	 * signing, so it is not a signed header. */
	bool omit_session_token;
};

/* One request header; name and value need not be NUL-terminated. */
struct kc_sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A request as the signer sees it.  All pointers are borrowed. */
struct kc_sigv4_request {
	const char *method;  /* "GET", "POST", ... */
	const char *path;    /* without the query; as sent on the wire
			      * (already %-encoded) or raw: it is encoded
			      * once more either way ("double encoding"
			      * for non-S3 services) */
	const char *query;   /* without '?'; NULL or "" when none.  Decoded
			      * and re-encoded: '+' is a literal plus (not
			      * a space), a '%' without two hex digits is a
			      * literal '%', empty pieces ("&&") are skipped */
	const struct kc_sigv4_header *headers; /* must include Host */
	size_t n_headers;
	const char *payload_hash; /* lowercase hex SHA-256 of the body, or a
				   * literal such as STREAMING-...-EVENTS */
	int64_t time_s;           /* signing time, seconds since the epoch, UTC */
};

/* The header lines to add, written into the caller's buffer by
 * kc_sigv4_sign.  Each line is "Name: value", NUL-terminated; pointers point
 * into that buffer.  token and content_sha256 are NULL when not sent. */
struct kc_sigv4_signed {
	const char *date;           /* "X-Amz-Date: 20150830T123600Z" */
	const char *token;          /* "X-Amz-Security-Token: ..." */
	const char *content_sha256; /* "X-Amz-Content-SHA256: ..." */
	const char *authorization;  /* "Authorization: AWS4-HMAC-SHA256 ..." */
	char signature[KC_SIGV4_HEX_LEN + 1]; /* the signature, hex */
};

struct kc_sigv4_signer;

/*
 * Creates a signer from cfg (strings are copied; cfg may be freed after).
 * Returns 0 and sets *out, or KC_EINVAL (missing or malformed field, named in
 * d), KC_ELIMIT (a field over its bound), KC_ENOMEM, KC_EINTERNAL (OpenSSL
 * lacks HMAC/SHA-256).  *out is untouched on failure.
 */
int kc_sigv4_signer_new(struct kc_sigv4_signer **out,
			const struct kc_sigv4_config *cfg, struct kc_diag *d);

/* Wipes the secrets and frees the signer; s may be NULL. */
void kc_sigv4_signer_free(struct kc_sigv4_signer *s);

/*
 * Replaces the credentials (refreshed temporary keys) and drops the cached
 * signing key.  Same returns as kc_sigv4_signer_new; on failure the signer
 * keeps its old credentials.
 */
int kc_sigv4_signer_set_creds(struct kc_sigv4_signer *s, const char *akid,
			      const char *secret, const char *token,
			      struct kc_diag *d);

/*
 * Signs req: returns 0 and fills *out with the header lines to add, written
 * into buf (bufsz bytes; 512 + token length is always enough).  Headers named
 * Authorization, X-Amz-Date, X-Amz-Security-Token (and X-Amz-Content-SHA256
 * when the signer sends it) in req are ignored: the signer supplies them.
 * User-Agent, Expect, X-Amzn-Trace-Id, Connection and Transfer-Encoding are
 * never signed (proxies and libcurl may change them).
 * Returns KC_EINVAL (no Host header, bad method/time/hash, d says which),
 * KC_ELIMIT (too many headers/params, request too large for the scratch
 * buffer, or buf too small), KC_EINTERNAL (OpenSSL failed).  kneecap code
 * allocates nothing here; OpenSSL 3.0's HMAC re-initialisation makes a few
 * small allocations of its own (EVP_MD_CTX_copy_ex), served from glibc's
 * per-thread cache.
 */
int kc_sigv4_sign(struct kc_sigv4_signer *s, const struct kc_sigv4_request *req,
		  char *buf, size_t bufsz, struct kc_sigv4_signed *out,
		  struct kc_diag *d);

/* SHA-256 of p[0..n) with the signer's contexts.  Returns 0 or
 * KC_EINTERNAL. */
int kc_sigv4_sha256(struct kc_sigv4_signer *s, const void *p, size_t n,
		    uint8_t out[32]);

/*
 * HMAC-SHA256 keyed with kSigning for the UTC day of time_s (derived once per
 * day and cached inside the signer; the key itself never leaves it).  Used
 * by event signing.  Returns 0, KC_EINVAL (time out of range) or
 * KC_EINTERNAL.
 */
int kc_sigv4_hmac_signing(struct kc_sigv4_signer *s, int64_t time_s,
			  const void *msg, size_t len, uint8_t mac[32]);

/* The signer's credential scope, "20150830/us-east-1/service/aws4_request",
 * for time_s, into out (at least 128 bytes).  Returns 0 or KC_EINVAL. */
int kc_sigv4_scope(const struct kc_sigv4_signer *s, int64_t time_s, char *out,
		   size_t outsz);

/* Writes "YYYYMMDDTHHMMSSZ" (17 bytes with NUL) for time_s.  Returns 0 or
 * KC_EINVAL (before 1970 or after 9999). */
int kc_sigv4_amz_date(int64_t time_s, char out[17]);

/*
 * The payload hash to pass as kc_sigv4_request.payload_hash: lowercase hex
 * SHA-256 of body[0..n) into hex (65 bytes with NUL).  For the payload pool,
 * once per body at start-up; needs no signer, thread-safe.  Returns 0 or
 * KC_EINTERNAL.
 */
int kc_sigv4_payload_hash(const void *body, size_t n, char hex[65]);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void kc_sigv4_hex(const uint8_t *p, size_t n, char *out);

/* Why a received request failed verification (0 = it verified). */
enum kc_sigv4_verdict {
	KC_SIGV4_OK = 0,
	KC_SIGV4_MISSING_AUTH,       /* no Authorization header */
	KC_SIGV4_MALFORMED_AUTH,     /* Authorization does not parse */
	KC_SIGV4_MISSING_HEADER,     /* X-Amz-Date absent, a SignedHeaders
				      * entry absent, or host/x-amz-date or the
				      * token not signed */
	KC_SIGV4_WRONG_KEY_ID,       /* credential's access key id unknown */
	KC_SIGV4_WRONG_SCOPE,        /* date/region/service of the scope wrong */
	KC_SIGV4_SKEWED,             /* X-Amz-Date outside now +- skew */
	KC_SIGV4_BAD_TOKEN,          /* security token missing or different */
	KC_SIGV4_BAD_SIGNATURE,      /* signature does not match */
};

/* Returns a short static description of v; never NULL. */
const char *kc_sigv4_verdict_str(enum kc_sigv4_verdict v);

/*
 * Verifies a received request against this signer's key pair, region and
 * service (the emulator's side).  req->time_s is ignored; now_s is the
 * server's clock and skew_s the allowed difference (300 in AWS).  The
 * canonical request is rebuilt from exactly the headers SignedHeaders lists.
 * When the signer has a session token, the request must carry and sign the
 * same token.  The signature is compared with CRYPTO_memcmp.
 * Returns 0 and sets *verdict (KC_SIGV4_OK or a reason), or KC_ELIMIT /
 * KC_EINTERNAL when the check itself could not run.  No allocation.
 */
int kc_sigv4_verify(struct kc_sigv4_signer *s,
		    const struct kc_sigv4_request *req, int64_t now_s,
		    int64_t skew_s, enum kc_sigv4_verdict *verdict);

#endif
