/*
 * imds_int.h - the metadata credential clients (imds.c): the chain calls
 * the two sources, and tests and the fuzzer reach the container URL rule
 * directly.  Not part of the public API.
 */
#ifndef KNEECAP_AWS_IMDS_INT_H
#define KNEECAP_AWS_IMDS_INT_H

#include <stddef.h>

struct kc_creds;
struct kc_creds_opts;
struct kc_diag;

/*
 * Builds the container credentials URL: "http://169.254.170.2" + rel when
 * rel is set (it wins), else full, which must be https or name a loopback
 * address, localhost, 169.254.170.2, 169.254.170.23 or fd00:ec2::23.
 * Returns 0, KC_ENOTFOUND (both unset), KC_EINVAL (d says why), KC_ELIMIT.
 */
int kc_creds_container_url(const char *rel, const char *full, char *out,
			   size_t outsz, struct kc_diag *d);

/*
 * Container credentials from AWS_CONTAINER_CREDENTIALS_{RELATIVE,FULL}_URI
 * (with the authorization token or token file, if set).  Returns 0,
 * KC_ENOTFOUND when unset (added to tried), or the error of a configured
 * source that failed (d says why).
 */
int kc_creds_from_container(struct kc_creds *out, const struct kc_creds_opts *o,
			    char *tried, size_t triedsz, struct kc_diag *d);

/*
 * EC2 instance metadata: session token, role name, the role's credentials.
 * Returns 0, KC_ENOTFOUND when disabled, silent or without a role (added
 * to tried), or the error of an IMDS that answered badly (d says why).
 */
int kc_creds_from_imds(struct kc_creds *out, const struct kc_creds_opts *o,
		       char *tried, size_t triedsz, struct kc_diag *d);

#endif
