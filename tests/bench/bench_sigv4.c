/*
 * bench_sigv4.c - what signing costs per request and per event (run by hand).
 *
 * Signs the InvokeEndpoint request kneecap sends (POST of a JPEG with
 * Content-Type, Accept, a custom attribute and a session token) for bodies of
 * 1 KB, 300 KB and 5 MB, side by side.  The body hash is computed once per
 * payload, as the payload pool does, so the per-signature cost must not
 * depend on the body size; the one-time hash cost is printed next to it to
 * show what hashing per request would have cost.  Also: one event signature
 * (3200-byte PCM chunk = 100 ms of 16 kHz 16-bit audio), and the emulator's
 * verification of a request.
 *
 * usage: bench_sigv4 [ITERATIONS]   (default 200000; prints a table)
 *        bench_sigv4 ITERATIONS BODY_BYTES
 *          hash one body once, then only sign ITERATIONS times (for
 *          tests/bench/sigv4_callgrind.sh, which counts instructions)
 * Figures are thread CPU time, fastest of 5 runs, so a shared machine's
 * preemptions stay out; compare the columns with each other, not across
 * machines (for cross-machine claims use callgrind instruction counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/parse.h"
#include "kneecap/sigv4.h"

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}
#define T0 INT64_C(1736942400)
#define REPEATS 5

static struct kc_sigv4_signer *signer(void)
{
	struct kc_sigv4_config cfg = {
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = "IQoJb3JpZ2luX2VjEXAMPLETOKENAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
				 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		.region = "us-east-1", .service = "sagemaker",
	};
	struct kc_sigv4_signer *s = NULL;
	struct kc_diag d;
	if (kc_sigv4_signer_new(&s, &cfg, &d)) {
		fprintf(stderr, "bench_sigv4: %s\n", d.msg);
		exit(1);
	}
	return s;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Fastest of REPEATS runs, in thread CPU ns per signature: CPU time and the
 * minimum keep a busy shared machine's preemptions out of the figure. */
static double ns_per_sign(struct kc_sigv4_signer *s, const char *hash, long n)
{
	static const struct kc_sigv4_header hs[] = {
		H("Host", "runtime.sagemaker.us-east-1.amazonaws.com"),
		H("Content-Type", "image/jpeg"),
		H("Accept", "application/json"),
		H("X-Amzn-SageMaker-Custom-Attributes", "trace=abc123"),
	};
	struct kc_sigv4_request req = {
		.method = "POST", .path = "/endpoints/my-endpoint/invocations",
		.headers = hs, .n_headers = 4, .payload_hash = hash, .time_s = T0,
	};
	char buf[2048];
	struct kc_sigv4_signed out;
	int64_t r[REPEATS];
	unsigned sink = 0;
	for (int k = 0; k < REPEATS; k++) {
		int64_t t = kc_thread_cpu_ns();
		for (long i = 0; i < n; i++) {
			req.time_s = T0 + i / 1000; /* a new X-Amz-Date every so often */
			if (kc_sigv4_sign(s, &req, buf, sizeof(buf), &out, NULL))
				exit(1);
			sink += (unsigned char)out.signature[0];
		}
		r[k] = kc_thread_cpu_ns() - t;
	}
	qsort(r, REPEATS, sizeof(r[0]), cmp_i64);
	if (sink == 1)
		puts("");
	return (double)r[0] / (double)n;
}

static double ns_hash_once(struct kc_sigv4_signer *s, const uint8_t *body, size_t n,
			   char hex[65])
{
	uint8_t h[32];
	int64_t best = INT64_MAX;
	for (int k = 0; k < REPEATS; k++) {
		int64_t t = kc_thread_cpu_ns();
		kc_sigv4_sha256(s, body, n, h);
		t = kc_thread_cpu_ns() - t;
		if (t < best)
			best = t;
	}
	kc_sigv4_hex(h, 32, hex);
	return (double)best;
}

static double ns_per_event(struct kc_sigv4_signer *s, size_t chunk, long n)
{
	static uint8_t pcm[4096], inner[8192], outer[8192];
	struct kc_es_header h[] = {
		kc_es_string(":message-type", "event"),
		kc_es_string(":event-type", "PayloadPart"),
		kc_es_string("DataType", "BINARY"),
		kc_es_string(":content-type", "application/octet-stream"),
	};
	int64_t r[REPEATS];
	for (int k = 0; k < REPEATS; k++) {
		struct kc_evsign e;
		kc_evsign_init(&e, s, "4ba7d46fabfdc5148bc12a5bd373011b870be6cfe6aff45f40a8bb8c2819c880");
		int64_t t = kc_thread_cpu_ns();
		for (long i = 0; i < n; i++) {
			size_t in, on;
			pcm[0] = (uint8_t)i;
			/* encode + sign: what the stream driver does per chunk */
			if (kc_es_encode(h, 4, pcm, chunk, inner, sizeof(inner), &in, NULL, NULL) ||
			    kc_evsign_sign(&e, inner, in, T0 * 1000 + i * 100, outer,
					   sizeof(outer), &on))
				exit(1);
		}
		r[k] = kc_thread_cpu_ns() - t;
	}
	qsort(r, REPEATS, sizeof(r[0]), cmp_i64);
	return (double)r[0] / (double)n;
}

static double ns_per_verify(struct kc_sigv4_signer *s, struct kc_sigv4_signer *v, long n)
{
	struct kc_sigv4_header hs[8] = {
		H("Host", "runtime.sagemaker.us-east-1.amazonaws.com"),
		H("Content-Type", "image/jpeg"),
		H("Accept", "application/json"),
	};
	struct kc_sigv4_request req = {
		.method = "POST", .path = "/endpoints/my-endpoint/invocations",
		.headers = hs, .n_headers = 3, .payload_hash = KC_SIGV4_EMPTY_SHA256,
		.time_s = T0,
	};
	static char buf[2048];
	struct kc_sigv4_signed out;
	if (kc_sigv4_sign(s, &req, buf, sizeof(buf), &out, NULL))
		exit(1);
	const char *lines[] = {out.date, out.token, out.authorization};
	for (int i = 0; i < 3; i++) {
		const char *c = strstr(lines[i], ": ");
		hs[3 + i] = (struct kc_sigv4_header){lines[i], (size_t)(c - lines[i]),
						     c + 2, strlen(c + 2)};
	}
	req.n_headers = 6;
	int64_t r[REPEATS];
	for (int k = 0; k < REPEATS; k++) {
		int64_t t = kc_thread_cpu_ns();
		for (long i = 0; i < n; i++) {
			enum kc_sigv4_verdict vd;
			if (kc_sigv4_verify(v, &req, T0, 300, &vd) || vd != KC_SIGV4_OK)
				exit(1);
		}
		r[k] = kc_thread_cpu_ns() - t;
	}
	qsort(r, REPEATS, sizeof(r[0]), cmp_i64);
	return (double)r[0] / (double)n;
}

int main(int argc, char **argv)
{
	int64_t n = 200000, only = -1;
	if ((argc > 1 && kc_parse_i64(argv[1], 1, INT64_C(100000000), &n)) ||
	    (argc > 2 && kc_parse_i64(argv[2], 0, INT64_C(1) << 30, &only)) || argc > 3) {
		fprintf(stderr, "usage: bench_sigv4 [ITERATIONS [BODY_BYTES]]\n");
		return 2;
	}
	struct kc_sigv4_signer *s = signer(), *v = signer();
	if (only >= 0) {
		uint8_t *b = calloc(1, (size_t)only + 1);
		char hex[65];
		if (!b || kc_sigv4_payload_hash(b, (size_t)only, hex))
			return 1;
		free(b);
		ns_per_sign(s, hex, (long)n);
		kc_sigv4_signer_free(s);
		kc_sigv4_signer_free(v);
		return 0;
	}
	static const size_t sizes[] = {1024, 300 * 1024, 5 * 1024 * 1024};
	static const char *names[] = {"1 KB", "300 KB", "5 MB"};
	uint8_t *body = malloc(sizes[2]);
	if (!body)
		return 1;
	for (size_t i = 0; i < sizes[2]; i++)
		body[i] = (uint8_t)(i * 2654435761u >> 24);
	printf("SigV4 InvokeEndpoint signature (session token, 4 headers), %lld signatures x %d runs,\n"
	       "thread CPU ns, fastest run\n",
	       (long long)n, REPEATS);
	printf("%-8s %16s %22s %14s\n", "body", "ns/signature", "hash once (ns, pool)", "hash/signature");
	for (int i = 0; i < 3; i++) {
		char hex[65];
		double h = ns_hash_once(s, body, sizes[i], hex);
		double sg = ns_per_sign(s, hex, (long)n);
		printf("%-8s %16.0f %22.0f %13.1fx\n", names[i], sg, h, h / sg);
	}
	printf("\nevent signing (encode inner PayloadPart + sign envelope), CPU ns, fastest run\n");
	printf("%-24s %12.0f ns/event\n", "320 B chunk (10 ms)", ns_per_event(s, 320, (long)n / 2));
	printf("%-24s %12.0f ns/event\n", "3200 B chunk (100 ms)", ns_per_event(s, 3200, (long)n / 2));
	printf("\nverification (emulator side): %.0f ns/request\n", ns_per_verify(s, v, (long)n / 2));
	free(body);
	kc_sigv4_signer_free(s);
	kc_sigv4_signer_free(v);
	return 0;
}
