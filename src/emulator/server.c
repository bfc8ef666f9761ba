/*
 * server.c - one `kneecap serve` instance: a stand-in SageMaker real-time
 * endpoint with a known capacity.  It allocates what the instance needs
 * (model, request contexts, timer heap, decoders, signer), opens the
 * listener, and starts and stops the parts: the timer thread (timer.c),
 * the slow-client guard (guard.c), the HTTP/1.1 face (mhd.c) and, when
 * h2_listen is set, the HTTP/2 face (h2serve.c).  Both faces share the
 * request logic of request.c on this one struct kc_emu.
 *
 * Memory: request contexts (one per allowed connection), the timer heap and
 * the JPEG decoders are allocated at start; body buffers grow to the
 * largest body a context has seen and are reused.
 *
 * Locks (struct kc_emu): `mu` guards the model, the RNGs and the counters;
 * `tmu` the timer heap and the stopping flag; `gmu` the guard's records.
 * Order: tmu, then MHD's own (MHD_suspend_connection takes it); mu is never
 * held with either, and nothing else is taken under gmu.
 */
#include "decode_int.h"
#include "guard_int.h"
#include "h2io_int.h"
#include "mhd_int.h"
#include "model_int.h"
#include "server_int.h"
#include "timer_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/net.h"
#include "kneecap/scrub.h"
#include "kneecap/sigv4.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void free_emu(struct kc_emu *e)
{
	if (e->dec) {
		for (int i = 0; i < e->n_dec; i++)
			kc_emu_decoder_fini(&e->dec[i]);
	}
	if (e->reqs) {
		for (int i = 0; i < kc_emu_profile_conn_limit(&e->prof); i++)
			free(e->reqs[i].body);
	}
	free(e->dec);
	free(e->dec_free);
	free(e->reqs);
	free(e->heap);
	free(e->conns);
	kc_emu_model_free(e->model);
	kc_emu_hosting_fini(&e->host);
	kc_sigv4_signer_free(e->signer);
	pthread_mutex_destroy(&e->sig_mu);
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->pool_mu);
	pthread_mutex_destroy(&e->dec_mu);
	pthread_cond_destroy(&e->dec_cv);
	pthread_mutex_destroy(&e->tmu);
	pthread_cond_destroy(&e->tcv);
	pthread_mutex_destroy(&e->gmu);
	pthread_cond_destroy(&e->gcv);
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	free(e);
}

/* Allocates everything an emulator needs before it opens a socket. */
static int new_emu(const struct kc_emu_profile *p, struct kc_emu **out,
		   struct kc_diag *d)
{
	int rc;
	struct kc_emu *e = calloc(1, sizeof(*e));
	if (!e)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	e->prof = *p;
	e->listen_fd = -1;
	e->capacity_rps = kc_emu_profile_capacity_rps(p);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->pool_mu, NULL);
	pthread_mutex_init(&e->dec_mu, NULL);
	pthread_cond_init(&e->dec_cv, NULL);
	pthread_mutex_init(&e->tmu, NULL);
	pthread_mutex_init(&e->sig_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are kc_clock_ns */
	pthread_cond_init(&e->tcv, &ca);
	pthread_cond_init(&e->gcv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&e->gmu, NULL);
	atomic_init(&e->dead, false);
	/* Faults and request ids use a stream apart from the model's. */
	kc_rng_seed(&e->rng, p->seed ^ UINT64_C(0x5eed0fa017c0ffee));
	kc_rng_seed(&e->id_rng, (uint64_t)kc_wall_ns());

	struct kc_emu_profile mp;
	kc_emu_hosting_main_profile(p, &mp);
	rc = kc_emu_model_new(&e->model, &mp);
	if (!rc)
		rc = kc_emu_hosting_init(&e->host, p);
	if (rc) {
		rc = kc_diag_set(d, rc, "emulator profile out of range");
		goto fail;
	}
	int n = kc_emu_profile_conn_limit(p);
	e->reqs = calloc((size_t)n, sizeof(*e->reqs));
	e->heap = calloc((size_t)n, sizeof(*e->heap));
	e->conns = calloc((size_t)n, sizeof(*e->conns));
	e->n_dec = p->threads;
	e->dec = calloc((size_t)e->n_dec, sizeof(*e->dec));
	e->dec_free = calloc((size_t)e->n_dec, sizeof(*e->dec_free));
	if (!e->reqs || !e->heap || !e->conns || !e->dec || !e->dec_free) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory");
		goto fail;
	}
	e->heap_cap = n;
	if (p->sigv4_akid[0]) {
		struct kc_sigv4_config sc = {
			.access_key_id = p->sigv4_akid,
			.secret_access_key = p->sigv4_secret,
			.region = p->sigv4_region,
			.service = "sagemaker", /* InvokeEndpoint's signing name */
		};
		rc = kc_sigv4_signer_new(&e->signer, &sc, d);
		if (rc)
			goto fail;
		/* A client's request may quote it back (a misconfigured proxy);
		 * whatever the emulator logs is scrubbed of it. */
		kc_scrub_register(p->sigv4_secret);
	}
	size_t store_max = kc_emu_store_max(e);
	for (int i = n - 1; i >= 0; i--) {
		e->reqs[i].e = e;
		e->reqs[i].store_max = store_max;
		e->reqs[i].next_free = e->free_reqs;
		e->free_reqs = &e->reqs[i];
	}
	for (int i = n - 1; i >= 0; i--) {
		e->conns[i].fd = -1;
		e->conns[i].next = e->free_conns;
		e->free_conns = &e->conns[i];
	}
	for (int i = 0; i < e->n_dec; i++) {
		if (kc_emu_decoder_init(&e->dec[i])) {
			rc = kc_diag_set(d, KC_ENOMEM, "cannot create a TurboJPEG decoder");
			goto fail;
		}
		e->dec_free[e->n_dec_free++] = &e->dec[i];
	}
	*out = e;
	return KC_OK;
fail:
	free_emu(e);
	return rc;
}

int kc_emu_start(const struct kc_emu_profile *p, const char *listen_addr,
		 struct kc_emu **out, struct kc_diag *d)
{
	KC_ASSERT(p && listen_addr && out);
	int rc = kc_emu_profile_check(p, d);
	if (rc)
		return rc;
	if (p->threads < 1 || p->max_connections < 16 || p->body_bytes_max < 1)
		return kc_diag_set(d, KC_EINVAL, "threads, max_connections or max_body out of range");
	struct kc_emu *e;
	rc = new_emu(p, &e, d);
	if (rc)
		return rc;
	int fd;
	rc = kc_net_listen(listen_addr, &fd, &e->port, d);
	if (rc)
		goto fail;
	e->listen_fd = fd;
	e->start_ns = kc_clock_ns();

	rc = kc_emu_timer_start(e, d);
	if (!rc)
		rc = kc_emu_guard_start(e, d);
	if (!rc)
		rc = kc_emu_mhd_start(e, listen_addr, d);
	if (rc)
		goto fail;
	kc_log(KC_LOG_INFO, "emulator: listening on port %d, %.1f RPS nominal",
	       e->port, e->capacity_rps);
	if (p->metrics_listen[0] && (rc = kc_emu_cw_start(e, d)) != 0) {
		kc_emu_stop(e);
		return rc;
	}
	if (p->h2_listen[0]) {
		rc = kc_emu_h2_start(e, &e->h2, d);
		if (rc) {
			kc_emu_stop(e);
			return rc;
		}
	}
	*out = e;
	return KC_OK;
fail:
	kc_emu_guard_stop(e);
	kc_emu_timer_stop(e);
	free_emu(e);
	return rc;
}

int kc_emu_port(const struct kc_emu *e)
{
	KC_ASSERT(e);
	return e->port;
}

int kc_emu_metrics_port(const struct kc_emu *e)
{
	KC_ASSERT(e);
	return kc_emu_cw_port(e->cw);
}

int kc_emu_h2_port(const struct kc_emu *e)
{
	KC_ASSERT(e);
	return e->h2 ? kc_emu_h2_listen_port(e->h2) : -1;
}

void kc_emu_stop(struct kc_emu *e)
{
	if (!e)
		return;
	kc_emu_h2_stop(e->h2);
	e->h2 = NULL;
	/* Unpublished first: the HTTP/1.1 face still answers (and counts) until
	 * it stops below. */
	pthread_mutex_lock(&e->mu);
	struct kc_emu_cw *cw = e->cw;
	e->cw = NULL;
	pthread_mutex_unlock(&e->mu);
	kc_emu_cw_stop(cw);
	kc_emu_timer_stop(e);
	kc_emu_guard_stop(e);
	kc_emu_mhd_stop(e);
	free_emu(e);
}
