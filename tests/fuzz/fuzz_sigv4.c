/*
 * fuzz_sigv4.c - SigV4 canonicalisation of arbitrary paths, queries and
 * headers, and the verifier on what the signer produced.
 *
 * Input, split at '\n':
 *   line 1  flags: a digit; bit 0 keep_path_segments, bit 1
 *           path_encoded_once, bit 2 sign_content_sha256, bit 3 no token
 *   line 2  method
 *   line 3  path
 *   line 4  query
 *   line 5+ headers "name:value" (a line without ':' is a name with an
 *           empty value)
 * Invariants, whenever the signer accepts the request:
 *  - neither the canonical request, the string to sign nor the signed
 *    header lines contain the secret key (unless the input itself does);
 *  - signing twice gives the same signature;
 *  - the verifier, given the request plus the signed header lines, says
 *    KC_SIGV4_OK; and says something else once one signed byte changes.
 * Headers the signer supplies itself (Authorization, X-Amz-Date,
 * X-Amz-Security-Token, X-Amz-Content-SHA256) are dropped from the input
 * first, as a client would not send them twice.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kneecap/sigv4.h"
#include "sigv4_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzFUZZFAKEKEY"
#define FZ_TOKEN "FQoGZXIvYXdzEFAKETOKENdGhpcyBpcyBub3QgYSByZWFsIHRva2Vu"
#define FZ_TIME_S INT64_C(1440938160)
#define FZ_MAX_INPUT 8192

static struct kc_sigv4_signer *signers[16];

static struct kc_sigv4_signer *signer_for(unsigned flags)
{
	flags &= 15;
	if (signers[flags])
		return signers[flags];
	struct kc_sigv4_config cfg = {
		.access_key_id = "AKIDFUZZEXAMPLE",
		.secret_access_key = FZ_SECRET,
		.session_token = (flags & 8) ? NULL : FZ_TOKEN,
		.region = "us-east-1",
		.service = "sagemaker",
		.keep_path_segments = flags & 1,
		.path_encoded_once = flags & 2,
		.sign_content_sha256 = flags & 4,
	};
	if (kc_sigv4_signer_new(&signers[flags], &cfg, NULL) != 0)
		abort();
	return signers[flags];
}

static void no_secret(const char *p, size_t n)
{
	size_t k = strlen(FZ_SECRET);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, FZ_SECRET, k) == 0)
			abort();
}

static int is_signer_header(const char *name, size_t n)
{
	static const char *const own[] = {"authorization", "x-amz-date",
					  "x-amz-security-token",
					  "x-amz-content-sha256"};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strlen(own[i]) == n && strncasecmp(name, own[i], n) == 0)
			return 1;
	return 0;
}

/* Adds "Name: value" (as written by the signer) to the header array. */
static void add_line(struct kc_sigv4_header *h, size_t *n, const char *line)
{
	const char *colon = strchr(line, ':');
	if (!colon || colon[1] != ' ')
		abort(); /* the signer wrote a malformed line */
	h[*n] = (struct kc_sigv4_header){line, (size_t)(colon - line), colon + 2,
					 strlen(colon + 2)};
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FZ_MAX_INPUT)
		return 0;
	/* NUL-terminated copy; lines are cut in place. */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int has_secret = memmem(text, size, FZ_SECRET, strlen(FZ_SECRET)) != NULL;

	char *fields[4] = {"0", "GET", "/", ""};
	struct kc_sigv4_header hdrs[KC_SIGV4_HEADERS_MAX + 4];
	size_t nh = 0;
	char *p = text;
	for (int i = 0; p && i < 4 + KC_SIGV4_HEADERS_MAX; i++) {
		char *nl = memchr(p, '\n', (size_t)(text + size - p));
		if (nl)
			*nl = '\0';
		if (i < 4) {
			fields[i] = p;
		} else {
			char *c = strchr(p, ':');
			size_t name_len = c ? (size_t)(c - p) : strlen(p);
			const char *v = c ? c + 1 : "";
			if (!is_signer_header(p, name_len))
				hdrs[nh++] = (struct kc_sigv4_header){p, name_len, v, strlen(v)};
		}
		p = nl ? nl + 1 : NULL;
	}
	unsigned flags = (unsigned)(fields[0][0] - '0');
	struct kc_sigv4_signer *s = signer_for(flags);
	struct kc_sigv4_request req = {
		.method = fields[1],
		.path = fields[2],
		.query = fields[3],
		.headers = hdrs,
		.n_headers = nh,
		.payload_hash = KC_SIGV4_EMPTY_SHA256,
		.time_s = FZ_TIME_S,
	};

	static char cr[KC_SIGV4_SCRATCH_BYTES + 1];
	size_t len = 0;
	if (kc_sigv4_canonical_request(s, &req, cr, sizeof(cr), &len, NULL) == 0) {
		if (len >= sizeof(cr) || cr[len] != '\0')
			abort();
		if (!has_secret)
			no_secret(cr, len);
	}
	if (kc_sigv4_string_to_sign(s, &req, cr, sizeof(cr), &len, NULL) == 0)
		no_secret(cr, len);

	char buf1[1024 + sizeof(FZ_TOKEN)], buf2[sizeof(buf1)];
	struct kc_sigv4_signed o1, o2;
	int rc1 = kc_sigv4_sign(s, &req, buf1, sizeof(buf1), &o1, NULL);
	int rc2 = kc_sigv4_sign(s, &req, buf2, sizeof(buf2), &o2, NULL);
	if (rc1 != rc2)
		abort();
	if (rc1 == 0) {
		if (strcmp(o1.signature, o2.signature) != 0 ||
		    strcmp(o1.authorization, o2.authorization) != 0)
			abort();
		no_secret(buf1, sizeof(buf1));
		/* The request as it goes on the wire: the input's headers plus
		 * the signer's lines. */
		struct kc_sigv4_header wire[KC_SIGV4_HEADERS_MAX + 8];
		memcpy(wire, hdrs, nh * sizeof(hdrs[0]));
		size_t nw = nh;
		add_line(wire, &nw, o1.date);
		add_line(wire, &nw, o1.authorization);
		if (o1.token)
			add_line(wire, &nw, o1.token);
		if (o1.content_sha256)
			add_line(wire, &nw, o1.content_sha256);
		struct kc_sigv4_request vreq = req;
		vreq.headers = wire;
		vreq.n_headers = nw;
		vreq.time_s = 0; /* ignored by the verifier */
		enum kc_sigv4_verdict v = KC_SIGV4_BAD_SIGNATURE;
		int vrc = kc_sigv4_verify(s, &vreq, FZ_TIME_S + 10, 300, &v);
		if (vrc == 0 && v != KC_SIGV4_OK) {
			/* The verifier refuses what the signer signed. */
			fprintf(stderr, "verifier: %s\n%s\n", kc_sigv4_verdict_str(v),
				o1.authorization);
			abort();
		}
		/* One changed byte in the method must break the signature. */
		if (vrc == 0) {
			vreq.method = strcmp(req.method, "PUT") ? "PUT" : "GET";
			if (kc_sigv4_verify(s, &vreq, FZ_TIME_S + 10, 300, &v) == 0 &&
			    v == KC_SIGV4_OK)
				abort();
		}
	}
	free(text);
	return 0;
}
