/*
 * seedgen.c - writes the generated seeds of the evsign and hlog corpora:
 * frames signed by kneecap's event signer with fuzz_evsign.c's key, seed
 * and time (one event; three events and the end frame; one with a flipped
 * signature byte; one with a frame after the end), and kneecap's V2
 * encodings and interval log of known histograms.  Built, never run by the
 * test suites; run it by hand when the formats change:
 *
 *   build-dev/tests/fuzz/seedgen tests/fuzz/corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "kneecap/sigv4.h"

/* Must match fuzz_evsign.c. */
#define FZ_SEED "5b6b06b0e7f0a9c2a1dbb0a5e8e0c1b7d7f7e7b7c4d9e9f3a2b1c0d9e8f7a6b5"
#define FZ_TIME_MS INT64_C(1700000000000)

static int put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "seedgen: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

static int evsign_seeds(const char *dir)
{
	struct kc_sigv4_config cfg = {
		.access_key_id = "AKIDFUZZEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzFUZZFAKEKEY",
		.session_token = "FQoGZXIvYXdzEFAKETOKEN",
		.region = "us-east-1",
		.service = "sagemaker",
	};
	struct kc_sigv4_signer *s = NULL;
	if (kc_sigv4_signer_new(&s, &cfg, NULL))
		return 1;
	static uint8_t stream[8192], other[8192];
	size_t len = 0, n = 0, one = 0;
	struct kc_evsign e;
	int rc = kc_evsign_init(&e, s, FZ_SEED);
	static const char *const payloads[] = {"{\"audio\":\"AAAA\"}", "chunk-2 bytes", "third"};
	for (int i = 0; !rc && i < 3; i++) {
		struct kc_es_header h[2] = {kc_es_string(":event-type", "PayloadPart"),
					    kc_es_string(":message-type", "event")};
		uint8_t inner[512];
		size_t in = 0;
		rc = kc_es_encode(h, 2, payloads[i], strlen(payloads[i]), inner, sizeof(inner),
				  &in, NULL, NULL);
		if (!rc)
			rc = kc_evsign_sign(&e, inner, in, FZ_TIME_MS + i * 1000, stream + len,
					    sizeof(stream) - len, &n);
		len += rc ? 0 : n;
		if (i == 0)
			one = len;
	}
	size_t before_end = len;
	if (!rc)
		rc = kc_evsign_sign(&e, NULL, 0, FZ_TIME_MS + 4000, stream + len,
				    sizeof(stream) - len, &n);
	kc_sigv4_signer_free(s);
	if (rc)
		return 1;
	len += n;
	rc |= put(dir, "evsign/one_signed_event", stream, one);
	rc |= put(dir, "evsign/three_events_and_end", stream, len);
	/* A byte inside the third event's :chunk-signature value. */
	memcpy(other, stream, len);
	other[before_end - 10] ^= 1;
	rc |= put(dir, "evsign/bad_signature_event3", other, len);
	size_t extra = before_end > 200 ? 200 : before_end;
	memcpy(other, stream, len);
	memcpy(other + len, stream, extra);
	rc |= put(dir, "evsign/frame_after_end", other, len + extra);
	return rc;
}

static int hlog_seeds(const char *dir)
{
	struct kc_hdr *h = NULL, *h2 = NULL;
	if (kc_hdr_new(&h, 1, INT64_C(3600000000), 3) || kc_hdr_new(&h2, 1, INT64_C(60000000000), 2))
		return 1;
	for (int i = 1; i <= 1000; i++)
		kc_hdr_record(h, i * 997);
	kc_hdr_record_n(h, 250000000, 3);
	kc_hdr_record(h2, 5);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	int rc = kc_hlog_encode(h, &b) || put(dir, "hlog/v2_uncompressed.bin", b.data, b.len);
	kc_buf_reset(&b);
	rc |= kc_hlog_encode_compressed(h, &b) || put(dir, "hlog/v2_compressed.bin", b.data, b.len);
	kc_buf_reset(&b);
	struct kc_hlog_writer w;
	rc |= kc_hlog_writer_init(&w, &b, NULL, 1e6) ||
	      kc_hlog_write_header(&w, FZ_TIME_MS, FZ_TIME_MS);
	kc_hdr_set_tag(h, "step-1");
	kc_hdr_set_times(h, FZ_TIME_MS, FZ_TIME_MS + 1000);
	kc_hdr_set_times(h2, FZ_TIME_MS + 1000, FZ_TIME_MS + 2000);
	rc |= kc_hlog_write_interval(&w, h) || kc_hlog_write_interval(&w, h2) ||
	      put(dir, "hlog/kneecap_two_intervals.hlog", b.data, b.len);
	kc_hlog_writer_fini(&w);
	kc_buf_fini(&b);
	kc_hdr_free(h);
	kc_hdr_free(h2);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: seedgen CORPUS_DIR\n");
		return 2;
	}
	int rc = evsign_seeds(argv[1]) | hlog_seeds(argv[1]);
	return rc ? 1 : 0;
}
