/*
 * sagemaker_int.h - what only the tests and the fuzzer reach of the
 * SageMaker runtime helpers (sagemaker.c, smhost.c).  Not part of the public API.
 */
#ifndef KNEECAP_AWS_SAGEMAKER_INT_H
#define KNEECAP_AWS_SAGEMAKER_INT_H

#include "kneecap/sagemaker.h"

/* kc_sagemaker_build_url_v with no variants. */
int kc_sagemaker_build_url(enum kc_sm_op op, const char *region,
			   const char *endpoint, const char *endpoint_url,
			   struct kc_sm_url *out, struct kc_diag *d);

/* The partition of a region name (aws when no other pattern matches). */
enum kc_sm_partition kc_sagemaker_partition(const char *region);

/* Stable names: "none", "model", "throttle", "unavailable", "validation", "auth", "internal", "other". */
const char *kc_sagemaker_errclass_name(enum kc_sm_errclass c);

#endif
