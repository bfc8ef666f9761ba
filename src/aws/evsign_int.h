/*
 * evsign_int.h - what only the tests and the fuzzer read of the event
 * signature checker (evsign.c).  Not part of the public API.
 */
#ifndef KNEECAP_AWS_EVSIGN_INT_H
#define KNEECAP_AWS_EVSIGN_INT_H

#include "kneecap/evsign.h"

/* Returns a short static description of v; never NULL. */
const char *kc_evsign_verdict_str(enum kc_evsign_verdict v);

#endif
