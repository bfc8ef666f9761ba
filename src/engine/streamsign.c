/*
 * streamsign.c - a worker's stream signers per credentials generation (see
 * streamsign.h).  Allocation happens at start and at a credentials refresh
 * only; holding and dropping a signer is a counter.
 */
#include "streamsign.h"

#include <stdlib.h>

#include "kneecap/creds.h"
#include "kneecap/err.h"

static void ssign_free(struct kc_ssign *g)
{
	if (g) {
		kc_sigv4_signer_free(g->sg);
		free(g);
	}
}

/* A signer for the provider's snapshot now, or for cfg's keys without one. */
static int ssign_new(struct kc_ssigners *ss, struct kc_ssign **out, struct kc_diag *d)
{
	struct kc_ssign *g = calloc(1, sizeof(*g));
	if (!g)
		return KC_ENOMEM;
	struct kc_sigv4_config sc = ss->cfg;
	const struct kc_creds *c = NULL;
	if (ss->creds) {
		c = kc_creds_provider_acquire(ss->creds);
		g->gen = kc_creds_provider_generation(ss->creds);
		sc.access_key_id = c->access_key_id;
		sc.secret_access_key = c->secret_access_key;
		sc.session_token = c->session_token;
	}
	int rc = kc_sigv4_signer_new(&g->sg, &sc, d);
	if (c)
		kc_creds_provider_release(ss->creds, c);
	if (rc) {
		free(g);
		return rc;
	}
	*out = g;
	return KC_OK;
}

int kc_ssigners_init(struct kc_ssigners *ss, struct kc_creds_provider *creds,
		     const struct kc_sigv4_config *cfg, struct kc_diag *d)
{
	ss->cur = ss->retired = NULL;
	ss->creds = creds;
	ss->cfg = *cfg;
	int rc = ssign_new(ss, &ss->cur, d);
	/* the static keys are in the signer now; refreshes take the provider's */
	ss->cfg.access_key_id = ss->cfg.secret_access_key = ss->cfg.session_token = NULL;
	return rc;
}

struct kc_ssign *kc_ssigners_hold(struct kc_ssigners *ss)
{
	if (ss->creds && kc_creds_provider_generation(ss->creds) != ss->cur->gen) {
		struct kc_ssign *g;
		if (ssign_new(ss, &g, NULL))
			return NULL;
		struct kc_ssign *old = ss->cur;
		ss->cur = g;
		if (old->refs == 0) {
			ssign_free(old);
		} else {
			old->next = ss->retired;
			ss->retired = old;
		}
	}
	ss->cur->refs++;
	return ss->cur;
}

void kc_ssigners_put(struct kc_ssigners *ss, struct kc_ssign *g)
{
	if (!g)
		return;
	KC_ASSERT(g->refs > 0);
	if (--g->refs > 0 || g == ss->cur)
		return;
	for (struct kc_ssign **p = &ss->retired; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	ssign_free(g);
}

void kc_ssigners_fini(struct kc_ssigners *ss)
{
	ssign_free(ss->cur);
	ss->cur = NULL;
	while (ss->retired) {
		struct kc_ssign *g = ss->retired;
		ss->retired = g->next;
		ssign_free(g);
	}
}
