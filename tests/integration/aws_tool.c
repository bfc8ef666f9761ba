/*
 * aws_tool.c - test driver for the botocore cross-checks (not installed).
 *
 *   aws_tool sign CASES.jsonl
 *     For each JSON line (a request, credentials and a time), signs it with
 *     kc_sigv4_sign and prints "ID<TAB>Authorization value<TAB>verdict",
 *     where verdict is what kc_sigv4_verify says about the headers botocore
 *     produced for the same case ("boto_headers").  Bodies are generated
 *     from (body_len, body_seed) and hashed here, as the payload pool would.
 *
 *   aws_tool frames SPEC.json PLAIN.bin SIGNED.bin
 *     Encodes SPEC's messages back to back into PLAIN.bin, and the same
 *     messages as signed envelopes (chain from SPEC's seed), followed by the
 *     final empty frame, into SIGNED.bin.
 *
 * Output never contains the secret key or the session token.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/sigv4.h"

#include "hex_int.h"

#define BODY_MAX (8u << 20)
#define HEADERS_MAX 64

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void make_body(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 31u + (i >> 8));
}

static int header_list(json_t *arr, struct kc_sigv4_header *h, size_t cap)
{
	size_t n = json_array_size(arr);
	if (n > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *kv = json_array_get(arr, i);
		const char *k = json_string_value(json_array_get(kv, 0));
		const char *v = json_string_value(json_array_get(kv, 1));
		if (!k || !v)
			return -1;
		h[i] = (struct kc_sigv4_header){k, strlen(k), v, strlen(v)};
	}
	return (int)n;
}

static int sign_one(json_t *c, uint8_t *body)
{
	struct kc_sigv4_config cfg = {
		.access_key_id = str(c, "akid"),
		.secret_access_key = str(c, "secret"),
		.session_token = str(c, "token"),
		.region = str(c, "region"),
		.service = str(c, "service"),
		.sign_content_sha256 = json_is_true(json_object_get(c, "sign_sha")),
	};
	struct kc_diag d;
	struct kc_sigv4_signer *s = NULL, *v = NULL;
	if (kc_sigv4_signer_new(&s, &cfg, &d) || kc_sigv4_signer_new(&v, &cfg, &d)) {
		fprintf(stderr, "signer: %s\n", d.msg);
		kc_sigv4_signer_free(s);
		return 1;
	}
	size_t blen = (size_t)json_integer_value(json_object_get(c, "body_len"));
	if (blen > BODY_MAX)
		blen = BODY_MAX;
	make_body(body, blen, (unsigned)json_integer_value(json_object_get(c, "body_seed")));
	uint8_t h[32];
	char hash[KC_SIGV4_HEX_LEN + 1];
	kc_sigv4_sha256(s, body, blen, h);
	kc_sigv4_hex(h, 32, hash);

	struct kc_sigv4_header hs[HEADERS_MAX], bh[HEADERS_MAX];
	int nh = header_list(json_object_get(c, "headers"), hs, HEADERS_MAX);
	int nb = header_list(json_object_get(c, "boto_headers"), bh, HEADERS_MAX);
	int rc = 1;
	if (nh < 0 || nb < 0) {
		fprintf(stderr, "bad headers in case %s\n", str(c, "id"));
		goto out;
	}
	struct kc_sigv4_request req = {
		.method = str(c, "method"), .path = str(c, "path"),
		.query = str(c, "query"), .headers = hs, .n_headers = (size_t)nh,
		.payload_hash = hash,
		.time_s = json_integer_value(json_object_get(c, "time")),
	};
	static char buf[KC_SIGV4_TOKEN_MAX + 1024];
	struct kc_sigv4_signed sg;
	if (kc_sigv4_sign(s, &req, buf, sizeof(buf), &sg, &d)) {
		printf("%s\tERROR %s\t-\n", str(c, "id"), d.msg);
		rc = 0;
		goto out;
	}
	/* The emulator's view: botocore's complete header set. */
	struct kc_sigv4_request got = req;
	got.headers = bh;
	got.n_headers = (size_t)nb;
	enum kc_sigv4_verdict vd = KC_SIGV4_BAD_SIGNATURE;
	if (kc_sigv4_verify(v, &got, req.time_s, 300, &vd))
		vd = KC_SIGV4_BAD_SIGNATURE;
	printf("%s\t%s\t%s\n", str(c, "id"), strstr(sg.authorization, ": ") + 2,
	       vd == KC_SIGV4_OK ? "OK" : kc_sigv4_verdict_str(vd));
	rc = 0;
out:
	kc_sigv4_signer_free(s);
	kc_sigv4_signer_free(v);
	return rc;
}

static int cmd_sign(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	uint8_t *body = malloc(BODY_MAX);
	static char line[1 << 16];
	int rc = body ? 0 : 1;
	while (!rc && fgets(line, sizeof(line), f)) {
		json_error_t e;
		json_t *c = json_loads(line, 0, &e);
		if (!c) {
			fprintf(stderr, "%s: %s\n", path, e.text);
			rc = 1;
			break;
		}
		rc = sign_one(c, body);
		json_decref(c);
	}
	free(body);
	fclose(f);
	return rc;
}

static int nibble(char c)
{
	int v = kc_hexval(c);
	return v < 0 ? 0 : v;
}

/* Hex to bytes, truncated at cap (sscanf would rescan the string per byte). */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]));
	return n;
}

/* Value storage for one message's byte-array/uuid headers. */
static uint8_t vals[HEADERS_MAX][32768];

static int encode_msg(json_t *m, uint8_t *out, size_t cap, size_t *len)
{
	json_t *hs = json_object_get(m, "headers");
	struct kc_es_header h[HEADERS_MAX];
	size_t n = json_array_size(hs);
	if (n > HEADERS_MAX)
		return KC_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(hs, i);
		const char *name = json_string_value(json_array_get(x, 0));
		int t = (int)json_integer_value(json_array_get(x, 1));
		json_t *v = json_array_get(x, 2);
		h[i] = (struct kc_es_header){.name = name, .name_len = strlen(name),
					     .type = (enum kc_es_type)t};
		if (t == KC_ES_STRING) {
			h[i].bytes = (const uint8_t *)json_string_value(v);
			h[i].len = strlen(json_string_value(v));
		} else if (t == KC_ES_BYTES || t == KC_ES_UUID) {
			h[i].len = unhex(json_string_value(v), vals[i], sizeof(vals[i]));
			h[i].bytes = vals[i];
		} else if (t > 1) {
			h[i].i = json_integer_value(v);
		}
	}
	static uint8_t pl[1 << 20];
	size_t pn = unhex(str(m, "payload_hex"), pl, sizeof(pl));
	struct kc_diag d;
	int rc = kc_es_encode(h, n, pl, pn, out, cap, len, NULL, &d);
	if (rc)
		fprintf(stderr, "encode: %s\n", d.msg);
	return rc;
}

static int cmd_frames(const char *spec, const char *plain, const char *signed_out)
{
	json_error_t e;
	json_t *j = json_load_file(spec, 0, &e);
	if (!j) {
		fprintf(stderr, "%s: %s\n", spec, e.text);
		return 1;
	}
	struct kc_sigv4_config cfg = {
		.access_key_id = str(j, "akid"), .secret_access_key = str(j, "secret"),
		.region = str(j, "region"), .service = str(j, "service"),
	};
	struct kc_sigv4_signer *s = NULL;
	struct kc_evsign ev;
	FILE *fp = fopen(plain, "wb"), *fs = fopen(signed_out, "wb");
	static uint8_t inner[(1 << 20) + 65536], outer[(1 << 20) + 65536 + 83];
	int rc = 1;
	if (!fp || !fs || kc_sigv4_signer_new(&s, &cfg, NULL) ||
	    kc_evsign_init(&ev, s, str(j, "seed")))
		goto out;
	int64_t t0 = json_integer_value(json_object_get(j, "time_ms"));
	json_t *msgs = json_object_get(j, "messages");
	size_t i;
	for (i = 0; i < json_array_size(msgs); i++) {
		size_t n, on;
		if (encode_msg(json_array_get(msgs, i), inner, sizeof(inner), &n))
			goto out;
		/* odd milliseconds on purpose: the signature date is the second */
		if (kc_evsign_sign(&ev, inner, n, t0 + (int64_t)i * 1007, outer,
				   sizeof(outer), &on))
			goto out;
		fwrite(inner, 1, n, fp);
		fwrite(outer, 1, on, fs);
	}
	size_t on;
	if (kc_evsign_sign(&ev, NULL, 0, t0 + (int64_t)i * 1007, outer, sizeof(outer), &on))
		goto out;
	fwrite(outer, 1, on, fs);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "frames: failed at a message\n");
	if (fp)
		fclose(fp);
	if (fs)
		fclose(fs);
	kc_sigv4_signer_free(s);
	json_decref(j);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sign") == 0)
		return cmd_sign(argv[2]);
	if (argc == 5 && strcmp(argv[1], "frames") == 0)
		return cmd_frames(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: aws_tool sign CASES.jsonl | frames SPEC PLAIN SIGNED\n");
	return 2;
}
