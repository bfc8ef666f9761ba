/*
 * resultdoc_int.h - what only the tests read of a loaded result
 * document (resultdoc.c).  Not part of the public API.
 */
#ifndef KNEECAP_REPORT_RESULTDOC_INT_H
#define KNEECAP_REPORT_RESULTDOC_INT_H

#include "kneecap/resultdoc.h"

/* Value of a flattened config key ("instance_type"), or NULL. */
const char *kc_resultdoc_config(const struct kc_resultdoc *doc, const char *key);

#endif
