/*
 * streamsign.h - which credentials sign a bidirectional stream.  A stream
 * signs its request (the seed) and then every event with one signer; an
 * open stream keeps the credentials that signed its seed (aws-wire.md 6.7).
 * With a refreshing provider, a refresh makes a new signer for streams
 * opened from then on, and the old one lives until the last stream seeded
 * with it ends.  Engine-internal; one per worker, single-threaded (the
 * provider itself is thread-safe).
 */
#ifndef KNEECAP_ENGINE_STREAMSIGN_H
#define KNEECAP_ENGINE_STREAMSIGN_H

#include <stdint.h>

#include "kneecap/sigv4.h"

struct kc_creds_provider;
struct kc_diag;

/* One signer and the streams that borrow it. */
struct kc_ssign {
	struct kc_sigv4_signer *sg;
	uint64_t gen;           /* the provider's generation it was made from */
	uint32_t refs;          /* streams whose event chain borrows sg */
	struct kc_ssign *next;  /* in the retired list */
};

struct kc_ssigners {
	struct kc_ssign *cur;      /* new streams are seeded with this one */
	struct kc_ssign *retired;  /* older ones still borrowed */
	struct kc_creds_provider *creds; /* borrowed; NULL: cur never changes */
	struct kc_sigv4_config cfg; /* region, service, flags; keys come per signer */
};

/*
 * Makes the first signer: from creds' current snapshot when creds is set,
 * else from cfg's keys (copied by the signer).  cfg is kept for later
 * signers without its keys, so its region and service strings must stay
 * valid while ss is used.  Returns 0, KC_ENOMEM or the signer's error (d
 * says why).
 */
int kc_ssigners_init(struct kc_ssigners *ss, struct kc_creds_provider *creds,
		     const struct kc_sigv4_config *cfg, struct kc_diag *d);

/*
 * The signer a stream opened now is seeded with, its reference taken:
 * after a provider refresh, a new one (allocated then, never otherwise).
 * NULL when the new signer cannot be made (out of memory, bad keys).
 */
struct kc_ssign *kc_ssigners_hold(struct kc_ssigners *ss);

/* Drops a stream's reference; a retired signer goes with its last stream. g may be NULL. */
void kc_ssigners_put(struct kc_ssigners *ss, struct kc_ssign *g);

/* Frees every signer, borrowed or not. */
void kc_ssigners_fini(struct kc_ssigners *ss);

#endif
