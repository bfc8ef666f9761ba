/*
 * respstream_int.h - what only the tests and the fuzzer read of the
 * response-stream reader (respstream.c).  Not part of the public API.
 */
#ifndef KNEECAP_AWS_RESPSTREAM_INT_H
#define KNEECAP_AWS_RESPSTREAM_INT_H

#include "kneecap/respstream.h"

/* "ok", "broken", "model_error", "stream_failure". */
const char *kc_rs_verdict_name(enum kc_rs_verdict v);

#endif
