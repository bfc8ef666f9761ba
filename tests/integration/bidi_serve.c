/*
 * bidi_serve.c - runs the emulator's streaming half alone: for benchmarks
 * that must measure kneecap's stream driver in a process of its own, and
 * for tests that need a TLS emulator kneecap does not trust.
 *
 * usage: bidi_serve STREAM_LIMIT BASE_LATENCY_MS MAX_STREAMS [tls]
 * Prints "port N" on stdout, serves until stdin reaches end of file, then
 * prints the emulator's counters.  Signature verification is off (the
 * emulator would otherwise be the bottleneck).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/bidi.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"

int main(int argc, char **argv)
{
	bool tls = argc == 5 && strcmp(argv[4], "tls") == 0;
	bool verify = argc == 5 && strcmp(argv[4], "verify") == 0;
	if (argc != 4 && !tls && !verify) {
		fprintf(stderr, "usage: bidi_serve STREAM_LIMIT BASE_LATENCY_MS MAX_STREAMS [tls|verify]\n");
		return 2;
	}
	struct kc_bidi_profile p;
	kc_bidi_profile_defaults(&p);
	p.stream_limit = atoi(argv[1]);
	p.base_latency_ns = atoll(argv[2]) * KC_NS_PER_MS;
	p.max_streams = (uint32_t)atoi(argv[3]);
	snprintf(p.akid, sizeof(p.akid), "AKIDKNEECAPEMULATOR");
	snprintf(p.secret, sizeof(p.secret), "kneecap-emulator-secret-not-a-real-key");
	/* a throughput bench: the emulator skips verification so that it, not
	 * kneecap, is never the bottleneck (the integration tests verify) */
	p.verify = verify; /* "verify": signatures checked, a wrong key is a 403 */
	p.tls = tls;       /* a self-signed certificate no client trusts */
	struct kc_bidi *b;
	struct kc_diag d;
	if (kc_bidi_start(&p, "127.0.0.1:0", &b, &d)) {
		fprintf(stderr, "bidi_serve: %s\n", d.msg);
		return 1;
	}
	printf("port %d\n", kc_bidi_port(b));
	fflush(stdout);
	while (getchar() != EOF) {
	}
	struct kc_bidi_stats s;
	kc_bidi_stats(b, &s);
	printf("emulator: %llu connections, %llu streams opened, max %llu open, %llu chunks, "
	       "%llu replies, %llu bad signatures, %llu bad frames, %llu expired tokens\n",
	       (unsigned long long)s.connections, (unsigned long long)s.streams_opened,
	       (unsigned long long)s.streams_open_max, (unsigned long long)s.chunks,
	       (unsigned long long)s.replies, (unsigned long long)s.bad_signatures,
	       (unsigned long long)s.bad_frames, (unsigned long long)s.expired_tokens);
	kc_bidi_stop(b);
	return 0;
}
