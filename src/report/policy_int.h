/*
 * policy_int.h - the pieces of apply.sh that depend on what the scalable
 * target is (a variant, an inference component, a serverless variant's
 * provisioned concurrency), shared by policy.c and policy_kind.c.
 * Pure text builders, like policy.c; every value is a single-quoted word.
 */
#ifndef KNEECAP_REPORT_POLICY_INT_H
#define KNEECAP_REPORT_POLICY_INT_H

#include <stddef.h>

#include "kneecap/recommend.h"

struct kc_buf;

/* Appends " \\\n  --flag 'value'" (an option and its quoted value).  0 or KC_ENOMEM/KC_ELIMIT. */
int kc_policy_opt_arg(struct kc_buf *b, const char *flag, const char *value);

/* Appends --service-namespace, --resource-id, --scalable-dimension (by c->kind),
 * --region and --profile.  0 or KC_ENOMEM/KC_ELIMIT. */
int kc_policy_common_args(struct kc_buf *b, const struct kc_recommend_cfg *c);

/* What the derived policy name kneecap-<what>-<target> says of r:
 * "invocations", "concurrency-per-copy", "provisioned-concurrency", ... */
const char *kc_policy_name_label(const struct kc_recommendation *r);

/* "variant", "inference component", "serverless variant's provisioned concurrency". */
const char *kc_policy_resource_words(enum kc_resource_kind k);

/* The shell variables the resource id is built from (endpoint= and variant=,
 * or component=), no trailing newline.  0 or KC_ENOMEM/KC_ELIMIT. */
int kc_policy_names_sh(const struct kc_recommend_cfg *c, struct kc_buf *b);

/* The scale-from-zero part of a component's apply.sh: a StepScaling policy
 * whose ARN the script captures, and the CloudWatch alarm on
 * NoCapacityInvocationFailures that triggers it.  0 or KC_ENOMEM/KC_ELIMIT. */
int kc_policy_scale_from_zero_sh(const struct kc_recommend_cfg *c, struct kc_buf *b);

#endif
