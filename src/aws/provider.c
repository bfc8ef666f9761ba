/*
 * provider.c - the refreshing credential provider (see creds.h): one
 * immutable, reference-counted snapshot at a time, swapped under a mutex
 * by tick, which a background thread may call on a period.
 *
 * Readers hold the mutex only for a pointer copy and a counter increment;
 * the last reader of an old snapshot frees it (kc_creds_fini wipes it).
 */
#include "kneecap/creds.h"
#include "creds_int.h"
#include "provider_int.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define ADVISORY_RETRY_NS (INT64_C(60) * KC_NS_PER_S)
#define MANDATORY_RETRY_NS (INT64_C(10) * KC_NS_PER_S)

struct snap {
	atomic_int refs;
	struct kc_creds c; /* first member after refs; container_of below */
};

struct kc_creds_provider {
	struct kc_creds_opts opts;
	pthread_mutex_t mu;         /* guards cur and gen */
	struct snap *cur;
	uint64_t gen;
	pthread_mutex_t refresh_mu; /* one refresh at a time; guards retry_at */
	int64_t retry_at_wall_ns;   /* no attempt before this (after a failure) */
	int last_err;               /* last refresh error, for log-once */
	/* background thread */
	pthread_mutex_t th_mu;
	pthread_cond_t th_cv;
	pthread_t th;
	bool running, stop;
	int64_t period_ns;
};

static struct snap *snap_of(const struct kc_creds *c)
{
	return (struct snap *)(void *)((char *)(uintptr_t)c - offsetof(struct snap, c));
}

static void snap_unref(struct snap *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		kc_creds_fini(&s->c);
		free(s);
	}
}

static int snap_new(struct snap **out, const struct kc_creds_opts *o, struct kc_diag *d)
{
	struct snap *s = calloc(1, sizeof(*s));
	if (!s)
		return KC_ENOMEM;
	int rc = kc_creds_resolve(o, &s->c, d);
	if (rc < 0) {
		free(s);
		return rc;
	}
	atomic_init(&s->refs, 1);
	*out = s;
	return KC_OK;
}

int kc_creds_provider_new(struct kc_creds_provider **out,
			  const struct kc_creds_opts *opts, struct kc_diag *d)
{
	KC_ASSERT(out && opts);
	struct kc_creds_provider *p = calloc(1, sizeof(*p));
	if (!p)
		return KC_ENOMEM;
	p->opts = *opts;
	int rc = snap_new(&p->cur, &p->opts, d);
	if (rc < 0) {
		free(p);
		return rc;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->refresh_mu, NULL);
	pthread_mutex_init(&p->th_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->th_cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return KC_OK;
}

void kc_creds_provider_free(struct kc_creds_provider *p)
{
	if (!p)
		return;
	kc_creds_provider_stop(p);
	snap_unref(p->cur);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->refresh_mu);
	pthread_mutex_destroy(&p->th_mu);
	pthread_cond_destroy(&p->th_cv);
	free(p);
}

const struct kc_creds *kc_creds_provider_acquire(struct kc_creds_provider *p)
{
	KC_ASSERT(p);
	pthread_mutex_lock(&p->mu);
	struct snap *s = p->cur;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&p->mu);
	return &s->c;
}

void kc_creds_provider_release(struct kc_creds_provider *p, const struct kc_creds *c)
{
	(void)p;
	if (c)
		snap_unref(snap_of(c));
}

uint64_t kc_creds_provider_generation(struct kc_creds_provider *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t g = p->gen;
	pthread_mutex_unlock(&p->mu);
	return g;
}

/* Returns 0 (nothing due / refreshed), or the refresh error; *mandatory set. */
static int tick(struct kc_creds_provider *p, bool *mandatory, struct kc_diag *d)
{
	*mandatory = false;
	pthread_mutex_lock(&p->refresh_mu);
	int64_t now = kc_creds_wall_now(&p->opts);
	pthread_mutex_lock(&p->mu);
	int64_t exp = p->cur->c.expiration_wall_ns;
	pthread_mutex_unlock(&p->mu);
	int rc = KC_OK;
	if (!exp || exp - now > KC_CREDS_ADVISORY_NS || now < p->retry_at_wall_ns)
		goto out;
	*mandatory = exp - now <= KC_CREDS_MANDATORY_NS;
	struct snap *s = NULL;
	rc = snap_new(&s, &p->opts, d);
	if (rc < 0) {
		p->retry_at_wall_ns = now + (*mandatory ? MANDATORY_RETRY_NS : ADVISORY_RETRY_NS);
		goto out;
	}
	/* A source that hands back the same short-lived credentials again
	 * must not be asked every tick; but credentials that live less than
	 * two minutes are asked again at half their life, before they expire. */
	if (s->c.expiration_wall_ns && s->c.expiration_wall_ns - now <= KC_CREDS_ADVISORY_NS) {
		int64_t half = (s->c.expiration_wall_ns - now) / 2;
		p->retry_at_wall_ns = now + (half < ADVISORY_RETRY_NS ? (half > 0 ? half : 0)
								       : ADVISORY_RETRY_NS);
	} else
		p->retry_at_wall_ns = 0;
	pthread_mutex_lock(&p->mu);
	struct snap *old = p->cur;
	p->cur = s;
	p->gen++;
	pthread_mutex_unlock(&p->mu);
	snap_unref(old);
	if (kc_log_enabled(KC_LOG_INFO)) {
		char desc[900];
		kc_log(KC_LOG_INFO, "aws credentials refreshed: %s",
		       kc_creds_describe(&s->c, desc, sizeof(desc)));
	}
out:
	pthread_mutex_unlock(&p->refresh_mu);
	return rc;
}

int kc_creds_provider_tick(struct kc_creds_provider *p, struct kc_diag *d)
{
	KC_ASSERT(p);
	bool mandatory;
	return tick(p, &mandatory, d);
}

static void *refresh_main(void *arg)
{
	struct kc_creds_provider *p = arg;
	pthread_mutex_lock(&p->th_mu);
	while (!p->stop) {
		pthread_mutex_unlock(&p->th_mu);
		struct kc_diag d;
		kc_diag_clear(&d);
		bool mandatory;
		int rc = tick(p, &mandatory, &d);
		if (rc < 0 && rc != p->last_err) {
			char msg[1024];
			kc_log(mandatory ? KC_LOG_ERROR : KC_LOG_WARN,
			       "aws credentials: %s refresh failed: %s",
			       mandatory ? "mandatory" : "advisory",
			       kc_diag_format(&d, msg, sizeof(msg)));
		}
		p->last_err = rc;
		pthread_mutex_lock(&p->th_mu);
		if (p->stop)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t t = (int64_t)ts.tv_sec * KC_NS_PER_S + ts.tv_nsec + p->period_ns;
		ts.tv_sec = (time_t)(t / KC_NS_PER_S);
		ts.tv_nsec = (long)(t % KC_NS_PER_S);
		while (!p->stop && pthread_cond_timedwait(&p->th_cv, &p->th_mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&p->th_mu);
	return NULL;
}

int kc_creds_provider_start(struct kc_creds_provider *p, int64_t period_ns)
{
	KC_ASSERT(p);
	pthread_mutex_lock(&p->th_mu);
	if (p->running) {
		pthread_mutex_unlock(&p->th_mu);
		return KC_EINVAL;
	}
	p->period_ns = period_ns > 0 ? period_ns : KC_NS_PER_S;
	p->stop = false;
	int e = pthread_create(&p->th, NULL, refresh_main, p);
	if (!e)
		p->running = true;
	pthread_mutex_unlock(&p->th_mu);
	return e ? (e == EAGAIN ? KC_ENOMEM : KC_EIO) : KC_OK;
}

void kc_creds_provider_stop(struct kc_creds_provider *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->th_mu);
	bool running = p->running;
	p->stop = true;
	pthread_cond_broadcast(&p->th_cv);
	pthread_mutex_unlock(&p->th_mu);
	if (running) {
		pthread_join(p->th, NULL);
		pthread_mutex_lock(&p->th_mu);
		p->running = false;
		pthread_mutex_unlock(&p->th_mu);
	}
}
