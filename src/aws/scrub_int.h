/*
 * scrub_int.h - the scrubber's registry as the tests see it (scrub.c).
 * Not part of the public API.
 */
#ifndef KNEECAP_AWS_SCRUB_INT_H
#define KNEECAP_AWS_SCRUB_INT_H

#include "kneecap/scrub.h"

/* Forgets every registered secret, wiping the copies (tests, teardown). */
void kc_scrub_clear(void);

/* The number of secrets registered (tests, diagnostics). */
int kc_scrub_count(void);

#endif
