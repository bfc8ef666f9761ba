/*
 * smhost.c - the one table of SageMaker runtime host names: partition by
 * region, then FIPS and dual-stack variants, for the unary operations (port
 * 443) and the bidirectional stream (port 8443).
 *
 * The unary rows follow botocore's sagemaker-runtime 2017-05-13
 * endpoint-rule-set-1.json with partitions.json (tests/unit/test_smhost.c
 * holds what botocore 1.43.11 resolves).  The bidirectional stream's model
 * (sagemaker-runtime-http2) is not in botocore; its rows follow aws-wire.md
 * 3.1, which differs in one place: in the aws partition FIPS is
 * runtime-fips.sagemaker also with dual-stack.
 */
#include "kneecap/sagemaker.h"
#include "sagemaker_int.h"
#include "kneecap/creds.h"
#include "kneecap/err.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *prefix;       /* region prefix; "" matches the rest */
	enum kc_sm_partition part;
	const char *dns, *dual;   /* dual NULL: no dual-stack */
} partitions[] = {
	/* longest prefixes first: us-isob- before us-iso-, both before us- */
	{"us-isob-", KC_SM_PART_ISO_B, "sc2s.sgov.gov", NULL},
	{"us-iso-", KC_SM_PART_ISO, "c2s.ic.gov", NULL},
	{"us-gov-", KC_SM_PART_US_GOV, "amazonaws.com", "api.aws"},
	{"cn-", KC_SM_PART_CN, "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
	{"", KC_SM_PART_AWS, "amazonaws.com", "api.aws"},
};

static size_t part_row(const char *region)
{
	size_t i = 0;
	for (; partitions[i].prefix[0]; i++)
		if (!strncmp(region, partitions[i].prefix, strlen(partitions[i].prefix)))
			break;
	return i;
}

enum kc_sm_partition kc_sagemaker_partition(const char *region)
{
	return partitions[part_row(region ? region : "")].part;
}

int kc_sagemaker_host(enum kc_sm_op op, const char *region, unsigned variants,
		      char *host, size_t hostsz, int *port, struct kc_diag *d)
{
	if (!region || !kc_creds_region_valid(region))
		return kc_diag_set(d, KC_EINVAL, "region '%.63s' is not a region name",
				   region ? region : "");
	size_t r = part_row(region);
	bool fips = variants & KC_SM_FIPS, dual = variants & KC_SM_DUALSTACK;
	if (dual && !partitions[r].dual)
		return kc_diag_set(d, KC_EINVAL, "--dualstack: region %s's partition has no "
				   "dual-stack endpoints", region);
	const char *suffix = dual ? partitions[r].dual : partitions[r].dns;
	enum kc_sm_partition p = partitions[r].part;
	/* "runtime-fips.sagemaker" (aws; bidi in aws also with dual-stack),
	 * "runtime.sagemaker-fips" (elsewhere, and unary FIPS + dual-stack),
	 * or the plain name (no FIPS; us-gov's FIPS without dual-stack). */
	const char *name = "runtime.sagemaker";
	if (fips && p == KC_SM_PART_AWS && (!dual || op == KC_SM_BIDI))
		name = "runtime-fips.sagemaker";
	else if (fips && !(p == KC_SM_PART_US_GOV && !dual))
		name = "runtime.sagemaker-fips";
	if ((size_t)snprintf(host, hostsz, "%s.%s.%s", name, region, suffix) >= hostsz)
		return kc_diag_set(d, KC_ELIMIT, "host name for region '%.63s' is too long",
				   region);
	*port = op == KC_SM_BIDI ? 8443 : 443;
	return KC_OK;
}
