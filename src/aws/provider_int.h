/*
 * provider_int.h - the refreshing provider's single step (provider.c):
 * its thread calls it, and tests drive it directly with a fake clock.
 * Not part of the public API.
 */
#ifndef KNEECAP_AWS_PROVIDER_INT_H
#define KNEECAP_AWS_PROVIDER_INT_H

struct kc_creds_provider;
struct kc_diag;

/*
 * Applies the refresh policy once, at the provider's clock: resolves and
 * swaps when inside the advisory window and no retry is pending.  Returns 0
 * when nothing was due or the refresh worked; a negative kc_err when a due
 * refresh failed (d says why; the old snapshot stays in place).  Blocking
 * like kc_creds_resolve.  Thread-safe (one refresh at a time).
 */
int kc_creds_provider_tick(struct kc_creds_provider *p, struct kc_diag *d);

#endif
