/*
 * bench_creds.c - what the engine pays per request for credentials and
 * error classification: acquire+release of the provider's snapshot (one
 * thread, then N threads contending), and kc_sagemaker_parse_error with a
 * header code (no allocation) versus a JSON body.  Run by hand:
 *   build/tests/bench/bench_creds [threads]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/sagemaker.h"

static const char *fake_env(const char *name, void *ud)
{
	(void)ud;
	if (!strcmp(name, "AWS_ACCESS_KEY_ID"))
		return "AKIABENCHEXAMPLE01";
	if (!strcmp(name, "AWS_SECRET_ACCESS_KEY"))
		return "benchsecretkey0123456789";
	if (!strcmp(name, "AWS_SESSION_TOKEN"))
		return "benchtoken0123456789";
	if (!strcmp(name, "AWS_EC2_METADATA_DISABLED"))
		return "true";
	return NULL;
}

#define ITERS 5000000L

static void *spin(void *arg)
{
	struct kc_creds_provider *p = arg;
	size_t sink = 0;
	for (long i = 0; i < ITERS; i++) {
		const struct kc_creds *c = kc_creds_provider_acquire(p);
		sink += (size_t)c->access_key_id[0];
		kc_creds_provider_release(p, c);
	}
	return (void *)sink;
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2;
	if (nth < 1 || nth > 64)
		nth = 2;
	struct kc_creds_opts o = {.getenv_fn = fake_env};
	struct kc_creds_provider *p;
	struct kc_diag d;
	if (kc_creds_provider_new(&p, &o, &d) < 0) {
		fprintf(stderr, "provider: %s\n", d.msg);
		return 1;
	}
	int64_t t = kc_clock_ns();
	spin(p);
	double one = (double)(kc_clock_ns() - t) / ITERS;
	printf("acquire+release, 1 thread: %.1f ns/op\n", one);

	pthread_t th[64];
	t = kc_clock_ns();
	for (int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, spin, p);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	double many = (double)(kc_clock_ns() - t) / ITERS;
	printf("acquire+release, %d threads contending: %.1f ns per op per thread "
	       "(wall / iterations)\n", nth, many);
	kc_creds_provider_free(p);

	static const char body[] = "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}";
	struct kc_sm_error e;
	const long N = 1000000;
	t = kc_clock_ns();
	for (long i = 0; i < N; i++)
		kc_sagemaker_parse_error(400, "ThrottlingException", 19, body, sizeof(body) - 1, 0, &e);
	printf("parse_error, header code only: %.1f ns/op\n", (double)(kc_clock_ns() - t) / N);
	t = kc_clock_ns();
	for (long i = 0; i < N; i++)
		kc_sagemaker_parse_error(400, NULL, 0, body, sizeof(body) - 1, KC_SM_PARSE_MESSAGE, &e);
	printf("parse_error, JSON body: %.1f ns/op\n", (double)(kc_clock_ns() - t) / N);
	return 0;
}
