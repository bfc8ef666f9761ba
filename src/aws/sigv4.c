/*
 * sigv4.c - AWS Signature Version 4 in the header form, and its verifier.
 *
 * What it is: the canonical request (built in sigv4canon.c), string to
 * sign, signing-key derivation and Authorization header of aws-wire.md
 * section 4 (checked against the aws-c-auth v4 suite and botocore), plus
 * the server-side check the emulator uses.  What it is not: a body hasher
 * (the payload pool hashes each body once and hands the hex in), a
 * credential resolver (aws/creds), or a presigned-URL (query) signer.
 *
 * Invariant: signing allocates nothing.  Everything a signature needs lives
 * in the signer, which belongs to one thread: the OpenSSL digest and MAC
 * contexts, a one-entry signing-key cache keyed by UTC day (the secret,
 * region and service are fixed per signer, so the day is the whole key), and
 * a bounded scratch area the canonical request is built in.  SHA-256 and
 * HMAC come from libcrypto (EVP), fetched once at creation; kSigning lives
 * only inside a keyed EVP_MAC_CTX that each signature re-initialises.
 * (OpenSSL 3.0 itself allocates a little inside HMAC re-initialisation;
 * that is the only allocation on the signing path.)
 */
#include "kneecap/sigv4.h"
#include "sigv4_int.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXTRA_HEADERS 3    /* x-amz-date, token, content-sha256 */
#define SECONDS_PER_DAY INT64_C(86400)
#define TIME_MAX_S INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static void digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

int kc_sigv4_amz_date(int64_t time_s, char out[17])
{
	if (time_s < 0 || time_s > TIME_MAX_S)
		return KC_EINVAL;
	time_t t = (time_t)time_s;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return KC_EINVAL;
	/* By hand rather than strftime: this runs once per signature. */
	digits(out, tm.tm_year + 1900, 4);
	digits(out + 4, tm.tm_mon + 1, 2);
	digits(out + 6, tm.tm_mday, 2);
	out[8] = 'T';
	digits(out + 9, tm.tm_hour, 2);
	digits(out + 11, tm.tm_min, 2);
	digits(out + 13, tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = '\0';
	return KC_OK;
}

/* The signer's date for time_s, formatted once per distinct second. */
static int signer_date(struct kc_sigv4_signer *s, int64_t time_s, char out[17])
{
	if (time_s != s->date_s) {
		int rc = kc_sigv4_amz_date(time_s, s->date);
		if (rc)
			return rc;
		s->date_s = time_s;
	}
	memcpy(out, s->date, 17);
	return KC_OK;
}

void kc_sigv4_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hexl[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexl[p[i] >> 4];
		out[2 * i + 1] = hexl[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int sha256(struct kc_sigv4_signer *s, const void *p, size_t n,
		  uint8_t out[32])
{
	unsigned int len = 0;
	if (EVP_DigestInit_ex2(s->md_ctx, s->md, NULL) != 1 ||
	    EVP_DigestUpdate(s->md_ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(s->md_ctx, out, &len) != 1 || len != 32)
		return KC_EINTERNAL;
	return KC_OK;
}

static int hmac(struct kc_sigv4_signer *s, const void *key, size_t klen,
		const void *msg, size_t n, uint8_t out[32])
{
	size_t len = 0;
	if (EVP_MAC_init(s->mac_ctx, key, klen, NULL) != 1 ||
	    EVP_MAC_update(s->mac_ctx, msg, n) != 1 ||
	    EVP_MAC_final(s->mac_ctx, out, &len, 32) != 1 || len != 32)
		return KC_EINTERNAL;
	return KC_OK;
}

int kc_sigv4_payload_hash(const void *body, size_t n, char hex[65])
{
	KC_ASSERT((body || n == 0) && hex);
	uint8_t h[32];
	unsigned int len = 0;
	if (EVP_Digest(n ? body : "", n, h, &len, EVP_sha256(), NULL) != 1 ||
	    len != 32)
		return KC_EINTERNAL;
	kc_sigv4_hex(h, 32, hex);
	return KC_OK;
}

int kc_sigv4_sha256(struct kc_sigv4_signer *s, const void *p, size_t n,
		    uint8_t out[32])
{
	KC_ASSERT(s && (p || n == 0) && out);
	return sha256(s, p, n, out);
}

/* Makes key_ctx hold kSigning for the UTC day of time_s, deriving it
 * (4 HMACs) only when the day changes.  key_ctx keeps the key's padded
 * state, so each signature re-initialises it without re-keying. */
static int ensure_key(struct kc_sigv4_signer *s, int64_t time_s)
{
	char date[17];
	if (kc_sigv4_amz_date(time_s, date))
		return KC_EINVAL;
	int64_t day = time_s / SECONDS_PER_DAY;
	if (day == s->key_day)
		return KC_OK;
	uint8_t k1[32], k2[32], k3[32], k4[32];
	int rc = hmac(s, s->secret, s->secret_len, date, 8, k1);
	if (!rc)
		rc = hmac(s, k1, 32, s->region, strlen(s->region), k2);
	if (!rc)
		rc = hmac(s, k2, 32, s->service, strlen(s->service), k3);
	if (!rc)
		rc = hmac(s, k3, 32, "aws4_request", 12, k4);
	if (!rc && EVP_MAC_init(s->key_ctx, k4, 32, NULL) != 1)
		rc = KC_EINTERNAL;
	s->key_day = rc ? -1 : day;
	OPENSSL_cleanse(k1, 32);
	OPENSSL_cleanse(k2, 32);
	OPENSSL_cleanse(k3, 32);
	OPENSSL_cleanse(k4, 32);
	return rc;
}

int kc_sigv4_hmac_signing(struct kc_sigv4_signer *s, int64_t time_s,
			  const void *msg, size_t len, uint8_t mac[32])
{
	KC_ASSERT(s && (msg || len == 0) && mac);
	int rc = ensure_key(s, time_s);
	if (rc)
		return rc;
	size_t n = 0;
	/* NULL key: restart from the stored kSigning state (OpenSSL HMAC). */
	if (EVP_MAC_init(s->key_ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(s->key_ctx, msg, len) != 1 ||
	    EVP_MAC_final(s->key_ctx, mac, &n, 32) != 1 || n != 32)
		return KC_EINTERNAL;
	return KC_OK;
}

int kc_sigv4_scope(const struct kc_sigv4_signer *s, int64_t time_s, char *out,
		   size_t outsz)
{
	char date[17];
	if (kc_sigv4_amz_date(time_s, date))
		return KC_EINVAL;
	int n = snprintf(out, outsz, "%.8s/%s/%s/aws4_request", date, s->region,
			 s->service);
	return n < 0 || (size_t)n >= outsz ? KC_ELIMIT : KC_OK;
}

static bool excluded(const struct kc_sigv4_signer *s, const char *name,
		     size_t len)
{
	static const char *const never[] = {
		"authorization", "user-agent", "expect", "x-amzn-trace-id",
		"connection", "transfer-encoding", "x-amz-date",
		"x-amz-security-token",
	};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (kc_sigv4_name_is(name, len, never[i]))
			return true;
	return s->sign_sha256 && kc_sigv4_name_is(name, len, "x-amz-content-sha256");
}

/*
 * A header name must be an RFC 9110 token: anything else cannot go on the
 * wire as signed, and a name with a blank or ';' makes SignedHeaders
 * ambiguous, so the verifier could not rebuild the request (values are
 * left alone: the v4 suite signs folded multi-line values).
 */
static bool header_name_ok(const struct kc_sigv4_header *h)
{
	if (h->name_len == 0)
		return false;
	for (size_t i = 0; i < h->name_len; i++) {
		unsigned char c = (unsigned char)h->name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (c == 0 || !strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

static bool hash_ok(const char *h)
{
	size_t n = h ? strlen(h) : 0;
	return n > 0 && n <= 128 && !strpbrk(h, "\r\n");
}

/* Builds the canonical request of a request being signed (req's headers plus
 * the ones the signer adds) into s->creq. */
static int creq_for_sign(struct kc_sigv4_signer *s,
			 const struct kc_sigv4_request *req, char date[17],
			 struct kc_diag *d)
{
	KC_ASSERT(s && req);
	if (!req->method || !*req->method || strpbrk(req->method, " \r\n"))
		return kc_diag_set(d, KC_EINVAL, "sigv4: missing or bad method");
	if (!hash_ok(req->payload_hash))
		return kc_diag_set(d, KC_EINVAL, "sigv4: missing payload hash");
	if (signer_date(s, req->time_s, date))
		return kc_diag_set(d, KC_EINVAL, "sigv4: time %lld out of range",
				   (long long)req->time_s);
	if (req->n_headers > KC_SIGV4_HEADERS_MAX)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: over %d headers",
				   KC_SIGV4_HEADERS_MAX);
	struct ent e[KC_SIGV4_HEADERS_MAX + EXTRA_HEADERS];
	size_t n = 0;
	bool host = false;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct kc_sigv4_header *h = &req->headers[i];
		KC_ASSERT(h->name && (h->value || h->value_len == 0));
		if (!header_name_ok(h))
			return kc_diag_set(d, KC_EINVAL, "sigv4: header %zu: the name is "
					   "not an HTTP token", i + 1);
		if (excluded(s, h->name, h->name_len))
			continue;
		host = host || kc_sigv4_name_is(h->name, h->name_len, "host");
		e[n++] = (struct ent){h->name, h->name_len,
				      h->value ? h->value : "", h->value_len};
	}
	if (!host)
		return kc_diag_set(d, KC_EINVAL, "sigv4: request has no Host header");
	e[n++] = (struct ent){"x-amz-date", 10, date, 16};
	if (s->token_len && !s->omit_token)
		e[n++] = (struct ent){"x-amz-security-token", 20, s->token,
				      s->token_len};
	if (s->sign_sha256)
		e[n++] = (struct ent){"x-amz-content-sha256", 20,
				      req->payload_hash,
				      strlen(req->payload_hash)};
	return kc_sigv4_build_creq(s, req->method, req->path, req->query, e, n,
				   req->payload_hash, d);
}

/* String to sign for the canonical request in s->creq, into sts (>= 192). */
static int sts_from_creq(struct kc_sigv4_signer *s, const char date[17],
			 char *sts, size_t stsz, size_t *len)
{
	uint8_t h[32];
	char hex[KC_SIGV4_HEX_LEN + 1];
	int rc = sha256(s, s->creq, s->creq_len, h);
	if (rc)
		return rc;
	kc_sigv4_hex(h, 32, hex);
	int n = snprintf(sts, stsz, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s",
			 date, date, s->region, s->service, hex);
	if (n < 0 || (size_t)n >= stsz)
		return KC_ELIMIT;
	*len = (size_t)n;
	return KC_OK;
}

static int signature_hex(struct kc_sigv4_signer *s, int64_t time_s,
			 const char *sts, size_t len, char out[65])
{
	uint8_t sig[32];
	int rc = kc_sigv4_hmac_signing(s, time_s, sts, len, sig);
	if (!rc)
		kc_sigv4_hex(sig, 32, out);
	return rc;
}

int kc_sigv4_canonical_request(struct kc_sigv4_signer *s,
			       const struct kc_sigv4_request *req, char *out,
			       size_t outsz, size_t *len, struct kc_diag *d)
{
	char date[17];
	int rc = creq_for_sign(s, req, date, d);
	if (rc)
		return rc;
	if (s->creq_len + 1 > outsz)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: output buffer too small");
	memcpy(out, s->creq, s->creq_len);
	out[s->creq_len] = '\0';
	*len = s->creq_len;
	return KC_OK;
}

int kc_sigv4_string_to_sign(struct kc_sigv4_signer *s,
			    const struct kc_sigv4_request *req, char *out,
			    size_t outsz, size_t *len, struct kc_diag *d)
{
	char date[17], sts[256];
	size_t n = 0;
	int rc = creq_for_sign(s, req, date, d);
	if (rc)
		return rc;
	rc = sts_from_creq(s, date, sts, sizeof(sts), &n);
	if (rc)
		return kc_diag_set(d, rc, "sigv4: string to sign failed");
	if (n + 1 > outsz)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: output buffer too small");
	memcpy(out, sts, n + 1);
	*len = n;
	return KC_OK;
}

int kc_sigv4_sign(struct kc_sigv4_signer *s, const struct kc_sigv4_request *req,
		  char *buf, size_t bufsz, struct kc_sigv4_signed *out,
		  struct kc_diag *d)
{
	KC_ASSERT(buf && out);
	char date[17], sts[256], sig[KC_SIGV4_HEX_LEN + 1];
	size_t stslen = 0;
	int rc = creq_for_sign(s, req, date, d);
	if (rc)
		return rc;
	rc = sts_from_creq(s, date, sts, sizeof(sts), &stslen);
	if (!rc)
		rc = signature_hex(s, req->time_s, sts, stslen, sig);
	if (rc)
		return kc_diag_set(d, rc, "sigv4: OpenSSL failed while signing");

	/* Lay the lines out one after the other, each NUL-terminated. */
	struct wr w = {buf, 0, bufsz, false};
	size_t o_date = w.len;
	wr_str(&w, "X-Amz-Date: ");
	wr_put(&w, date, 17);
	size_t o_tok = w.len;
	if (s->token_len) {
		wr_str(&w, "X-Amz-Security-Token: ");
		wr_put(&w, s->token, s->token_len);
		wr_ch(&w, '\0');
	}
	size_t o_sha = w.len;
	if (s->sign_sha256) {
		wr_str(&w, "X-Amz-Content-SHA256: ");
		wr_str(&w, req->payload_hash);
		wr_ch(&w, '\0');
	}
	size_t o_auth = w.len;
	wr_str(&w, "Authorization: AWS4-HMAC-SHA256 Credential=");
	wr_put(&w, s->akid, s->akid_len);
	wr_ch(&w, '/');
	wr_put(&w, date, 8);
	wr_ch(&w, '/');
	wr_str(&w, s->region);
	wr_ch(&w, '/');
	wr_str(&w, s->service);
	wr_str(&w, "/aws4_request, SignedHeaders=");
	wr_put(&w, s->creq + s->signed_off, s->signed_len);
	wr_str(&w, ", Signature=");
	wr_put(&w, sig, KC_SIGV4_HEX_LEN + 1);
	if (w.over)
		return kc_diag_set(d, KC_ELIMIT,
				   "sigv4: header buffer of %zu bytes too small",
				   bufsz);
	out->date = buf + o_date;
	out->token = s->token_len ? buf + o_tok : NULL;
	out->content_sha256 = s->sign_sha256 ? buf + o_sha : NULL;
	out->authorization = buf + o_auth;
	memcpy(out->signature, sig, sizeof(out->signature));
	return KC_OK;
}

static int set_creds(struct kc_sigv4_signer *s, const char *akid,
		     const char *secret, const char *token, struct kc_diag *d)
{
	if (!akid || !*akid || strpbrk(akid, "/, \r\n"))
		return kc_diag_set(d, KC_EINVAL, "sigv4: missing or malformed "
				   "access key id");
	if (!secret || !*secret)
		return kc_diag_set(d, KC_EINVAL, "sigv4: missing secret access key");
	size_t al = strlen(akid), sl = strlen(secret);
	size_t tl = token ? strlen(token) : 0;
	if (al > KC_SIGV4_AKID_MAX)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: access key id over %d "
				   "bytes", KC_SIGV4_AKID_MAX);
	if (sl > KC_SIGV4_SECRET_MAX)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: secret access key over "
				   "%d bytes", KC_SIGV4_SECRET_MAX);
	if (tl > KC_SIGV4_TOKEN_MAX)
		return kc_diag_set(d, KC_ELIMIT, "sigv4: session token over %d "
				   "bytes", KC_SIGV4_TOKEN_MAX);
	if (tl && strpbrk(token, "\r\n"))
		return kc_diag_set(d, KC_EINVAL, "sigv4: session token contains "
				   "a line break");
	OPENSSL_cleanse(s->secret, sizeof(s->secret));
	OPENSSL_cleanse(s->token, sizeof(s->token));
	memcpy(s->akid, akid, al + 1);
	s->akid_len = al;
	memcpy(s->secret, "AWS4", 4);
	memcpy(s->secret + 4, secret, sl + 1);
	s->secret_len = sl + 4;
	if (tl)
		memcpy(s->token, token, tl + 1);
	s->token[tl] = '\0';
	s->token_len = tl;
	s->key_day = -1;
	s->date_s = -1;
	return KC_OK;
}

int kc_sigv4_signer_set_creds(struct kc_sigv4_signer *s, const char *akid,
			      const char *secret, const char *token,
			      struct kc_diag *d)
{
	KC_ASSERT(s);
	return set_creds(s, akid, secret, token, d);
}

static bool scope_part_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;
	if (n == 0 || n > KC_SIGV4_SCOPE_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(is_unreserved((unsigned char)p[i])))
			return false;
	return true;
}

int kc_sigv4_signer_new(struct kc_sigv4_signer **out,
			const struct kc_sigv4_config *cfg, struct kc_diag *d)
{
	KC_ASSERT(out && cfg);
	if (!scope_part_ok(cfg->region))
		return kc_diag_set(d, KC_EINVAL, "sigv4: region must be 1-%d of "
				   "[A-Za-z0-9._~-]", KC_SIGV4_SCOPE_PART_MAX);
	if (!scope_part_ok(cfg->service))
		return kc_diag_set(d, KC_EINVAL, "sigv4: service must be 1-%d of "
				   "[A-Za-z0-9._~-]", KC_SIGV4_SCOPE_PART_MAX);
	struct kc_sigv4_signer *s = calloc(1, sizeof(*s));
	if (!s)
		return kc_diag_set(d, KC_ENOMEM, "sigv4: out of memory");
	int rc = set_creds(s, cfg->access_key_id, cfg->secret_access_key,
			   cfg->session_token, d);
	if (rc)
		goto free_signer;
	memcpy(s->region, cfg->region, strlen(cfg->region) + 1);
	memcpy(s->service, cfg->service, strlen(cfg->service) + 1);
	s->keep_segments = cfg->keep_path_segments;
	s->no_encode = cfg->path_encoded_once;
	s->sign_sha256 = cfg->sign_content_sha256;
	s->omit_token = cfg->omit_session_token;

	rc = kc_diag_set(d, KC_EINTERNAL, "sigv4: OpenSSL has no SHA-256/HMAC");
	s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->md_ctx = EVP_MD_CTX_new();
	s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->mac_ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
	s->key_ctx = s->mac ? EVP_MAC_CTX_new(s->mac) : NULL;
	if (!s->md || !s->md_ctx || !s->mac_ctx || !s->key_ctx)
		goto free_signer;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_CTX_set_params(s->mac_ctx, params) != 1 ||
	    EVP_MAC_CTX_set_params(s->key_ctx, params) != 1)
		goto free_signer;
	kc_diag_clear(d);
	*out = s;
	return KC_OK;

free_signer:
	kc_sigv4_signer_free(s);
	return rc;
}

void kc_sigv4_signer_free(struct kc_sigv4_signer *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->mac_ctx);
	EVP_MAC_CTX_free(s->key_ctx);
	EVP_MAC_free(s->mac);
	EVP_MD_CTX_free(s->md_ctx);
	EVP_MD_free(s->md);
	/* The canonical request carries the token; wipe everything. */
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

const char *kc_sigv4_verdict_str(enum kc_sigv4_verdict v)
{
	switch (v) {
	case KC_SIGV4_OK: return "signature verified";
	case KC_SIGV4_MISSING_AUTH: return "missing Authorization header";
	case KC_SIGV4_MALFORMED_AUTH: return "malformed Authorization header";
	case KC_SIGV4_MISSING_HEADER: return "a required header is missing or unsigned";
	case KC_SIGV4_WRONG_KEY_ID: return "unknown access key id";
	case KC_SIGV4_WRONG_SCOPE: return "credential scope does not match";
	case KC_SIGV4_SKEWED: return "request time too skewed";
	case KC_SIGV4_BAD_TOKEN: return "security token missing or invalid";
	case KC_SIGV4_BAD_SIGNATURE: return "signature does not match";
	}
	return "unknown verdict";
}

static const struct kc_sigv4_header *find_header(const struct kc_sigv4_request *r,
						 const char *lit)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (kc_sigv4_name_is(r->headers[i].name, r->headers[i].name_len, lit))
			return &r->headers[i];
	return NULL;
}

/* Parses "YYYYMMDDTHHMMSSZ" into seconds since the epoch. */
static bool parse_amz_date(const char *p, size_t n, int64_t *t)
{
	if (n != 16 || p[8] != 'T' || p[15] != 'Z')
		return false;
	int v[6];
	static const int at[6] = {0, 4, 6, 9, 11, 13}, w[6] = {4, 2, 2, 2, 2, 2};
	for (int k = 0; k < 6; k++) {
		v[k] = 0;
		for (int i = 0; i < w[k]; i++) {
			char c = p[at[k] + i];
			if (c < '0' || c > '9')
				return false;
			v[k] = v[k] * 10 + (c - '0');
		}
	}
	struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1,
			.tm_mday = v[2], .tm_hour = v[3], .tm_min = v[4],
			.tm_sec = v[5]};
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 60)
		return false;
	*t = (int64_t)timegm(&tm);
	return true;
}

/* Finds "key=" inside the Authorization parameters; value ends at ',' or end. */
static bool auth_param(const char *p, size_t n, const char *key,
		       const char **v, size_t *vlen)
{
	size_t kl = strlen(key);
	size_t i = 0;
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == ','))
			i++;
		size_t j = i;
		while (j < n && p[j] != ',')
			j++;
		if (j - i > kl && memcmp(p + i, key, kl) == 0 && p[i + kl] == '=') {
			*v = p + i + kl + 1;
			*vlen = j - i - kl - 1;
			while (*vlen && (*v)[*vlen - 1] == ' ')
				(*vlen)--;
			return true;
		}
		i = j;
	}
	return false;
}

static bool list_has(const char *list, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && list[j] != ';')
			j++;
		if (j - i == l && memcmp(list + i, lit, l) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/* The three parts of a received Authorization header (borrowed). */
struct auth_parts {
	const char *cred, *list, *sig;
	size_t cred_len, list_len, sig_len;
};

static enum kc_sigv4_verdict parse_auth(const struct kc_sigv4_request *req,
					struct auth_parts *ap)
{
	const struct kc_sigv4_header *auth = find_header(req, "authorization");
	if (!auth)
		return KC_SIGV4_MISSING_AUTH;
	static const char alg[] = "AWS4-HMAC-SHA256 ";
	const char *a = auth->value;
	size_t an = auth->value_len;
	if (an < sizeof(alg) || memcmp(a, alg, sizeof(alg) - 1) != 0)
		return KC_SIGV4_MALFORMED_AUTH;
	a += sizeof(alg) - 1;
	an -= sizeof(alg) - 1;
	if (!auth_param(a, an, "Credential", &ap->cred, &ap->cred_len) ||
	    !auth_param(a, an, "SignedHeaders", &ap->list, &ap->list_len) ||
	    !auth_param(a, an, "Signature", &ap->sig, &ap->sig_len) ||
	    ap->sig_len != KC_SIGV4_HEX_LEN || ap->list_len == 0 ||
	    !memchr(ap->cred, '/', ap->cred_len))
		return KC_SIGV4_MALFORMED_AUTH;
	return KC_SIGV4_OK;
}

/* Exactly the headers SignedHeaders (list, listn bytes) names, each name's
 * values in arrival order, into e[0..*n) (at most KC_SIGV4_HEADERS_MAX). */
static enum kc_sigv4_verdict signed_ents(const struct kc_sigv4_request *req,
					 const char *list, size_t listn,
					 struct ent *e, size_t *np, int *rc)
{
	size_t n = 0;
	for (size_t i = 0; i < listn;) {
		size_t j = i;
		while (j < listn && list[j] != ';')
			j++;
		bool found = false;
		for (size_t k = 0; k < req->n_headers; k++) {
			const struct kc_sigv4_header *h = &req->headers[k];
			if (h->name_len != j - i)
				continue;
			struct ent probe = {list + i, j - i, NULL, 0};
			struct ent cand = {h->name, h->name_len, NULL, 0};
			if (kc_sigv4_name_cmp(&probe, &cand) != 0)
				continue;
			if (n == KC_SIGV4_HEADERS_MAX) {
				*rc = KC_ELIMIT;
				return KC_SIGV4_BAD_SIGNATURE;
			}
			e[n++] = (struct ent){h->name, h->name_len, h->value,
					      h->value_len};
			found = true;
		}
		if (!found)
			return KC_SIGV4_MISSING_HEADER;
		i = j + 1;
	}
	*np = n;
	return KC_SIGV4_OK;
}

static enum kc_sigv4_verdict check_request(struct kc_sigv4_signer *s,
					   const struct kc_sigv4_request *req,
					   int64_t now_s, int64_t skew_s, int *rc)
{
	*rc = KC_OK;
	struct auth_parts ap;
	enum kc_sigv4_verdict v = parse_auth(req, &ap);
	if (v != KC_SIGV4_OK)
		return v;
	const char *cred = ap.cred, *list = ap.list, *sig = ap.sig;
	size_t credn = ap.cred_len, listn = ap.list_len;
	/* Credential = akid/YYYYMMDD/region/service/aws4_request */
	const char *slash = memchr(cred, '/', credn);
	size_t akl = (size_t)(slash - cred);
	if (akl != s->akid_len || memcmp(cred, s->akid, akl) != 0)
		return KC_SIGV4_WRONG_KEY_ID;
	const struct kc_sigv4_header *dh = find_header(req, "x-amz-date");
	if (!dh || !list_has(list, listn, "x-amz-date") ||
	    !list_has(list, listn, "host") || !find_header(req, "host"))
		return KC_SIGV4_MISSING_HEADER;
	int64_t t;
	if (!parse_amz_date(dh->value, dh->value_len, &t))
		return KC_SIGV4_MALFORMED_AUTH;
	char scope[3 * KC_SIGV4_SCOPE_PART_MAX];
	int sn = snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request",
			  dh->value, s->region, s->service);
	if (sn < 0 || (size_t)sn >= sizeof(scope) || (size_t)sn != credn - akl - 1 ||
	    memcmp(scope, slash + 1, (size_t)sn) != 0)
		return KC_SIGV4_WRONG_SCOPE;
	if (t < now_s - skew_s || t > now_s + skew_s)
		return KC_SIGV4_SKEWED;
	if (s->token_len) {
		const struct kc_sigv4_header *th =
			find_header(req, "x-amz-security-token");
		if (!th || th->value_len != s->token_len ||
		    CRYPTO_memcmp(th->value, s->token, s->token_len) != 0)
			return KC_SIGV4_BAD_TOKEN;
		if (!list_has(list, listn, "x-amz-security-token"))
			return KC_SIGV4_MISSING_HEADER;
	}
	/* A copy: the query re-encoding below reuses the scratch areas. */
	char hash[129];
	if (req->payload_hash) {
		if (!hash_ok(req->payload_hash)) {
			*rc = KC_EINVAL;
			return KC_SIGV4_BAD_SIGNATURE;
		}
		snprintf(hash, sizeof(hash), "%s", req->payload_hash);
	} else {
		const struct kc_sigv4_header *ch =
			find_header(req, "x-amz-content-sha256");
		if (!ch || ch->value_len == 0 || ch->value_len >= sizeof(hash))
			return KC_SIGV4_MISSING_HEADER;
		memcpy(hash, ch->value, ch->value_len);
		hash[ch->value_len] = '\0';
	}

	struct ent e[KC_SIGV4_HEADERS_MAX];
	size_t n = 0;
	v = signed_ents(req, list, listn, e, &n, rc);
	if (v != KC_SIGV4_OK)
		return v;
	char date[17];
	memcpy(date, dh->value, 16);
	date[16] = '\0';
	*rc = kc_sigv4_build_creq(s, req->method, req->path, req->query, e, n,
				  hash, NULL);
	if (*rc)
		return KC_SIGV4_BAD_SIGNATURE;
	char sts[256], want[KC_SIGV4_HEX_LEN + 1];
	size_t stslen;
	*rc = sts_from_creq(s, date, sts, sizeof(sts), &stslen);
	if (!*rc)
		*rc = signature_hex(s, t, sts, stslen, want);
	if (*rc)
		return KC_SIGV4_BAD_SIGNATURE;
	if (CRYPTO_memcmp(want, sig, KC_SIGV4_HEX_LEN) != 0)
		return KC_SIGV4_BAD_SIGNATURE;
	return KC_SIGV4_OK;
}

int kc_sigv4_verify(struct kc_sigv4_signer *s,
		    const struct kc_sigv4_request *req, int64_t now_s,
		    int64_t skew_s, enum kc_sigv4_verdict *verdict)
{
	KC_ASSERT(s && req && verdict);
	if (!req->method || req->n_headers > 4 * KC_SIGV4_HEADERS_MAX)
		return KC_ELIMIT;
	int rc;
	enum kc_sigv4_verdict v = check_request(s, req, now_s, skew_s, &rc);
	if (rc)
		return rc;
	*verdict = v;
	return KC_OK;
}
