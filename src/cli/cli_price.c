/*
 * cli_price.c - where the CLI finds data/instance-types.csv, and price
 * lookups on top of analysis/pricing (which parses the table).
 */
#include "cli_price.h"
#include "kc_config.h"
#include "kneecap/err.h"
#include "kneecap/pricing.h"

#include <stdlib.h>
#include <unistd.h>

const char *cli_price_path(const char *flag)
{
	if (flag && *flag)
		return flag;
	const char *env = getenv("KNEECAP_PRICES");
	if (env && *env)
		return env;
	if (access("data/instance-types.csv", R_OK) == 0)
		return "data/instance-types.csv";
	/* Run from elsewhere: the copy in the source tree kneecap was built from. */
	if (access(KC_DATADIR "/instance-types.csv", R_OK) == 0)
		return KC_DATADIR "/instance-types.csv";
	return NULL;
}

int cli_price_lookup(const char *path, const char *instance_type,
		     double *usd_per_hour, struct kc_diag *d)
{
	struct kc_pricing *p = NULL;
	int rc = kc_pricing_load(&p, path, d);
	if (rc)
		return rc;
	const struct kc_instance_info *row = kc_pricing_find(p, instance_type);
	if (!row) {
		kc_pricing_free(p);
		return kc_diag_set(d, KC_ENOTFOUND, "%s: no row for '%s'", path, instance_type);
	}
	*usd_per_hour = row->price_known ? row->usd_per_hour : -1;
	kc_pricing_free(p);
	return KC_OK;
}

double cli_price_or_unknown(const char *path, const char *instance_type)
{
	double usd = -1;
	if (!path || !instance_type || !*instance_type ||
	    cli_price_lookup(path, instance_type, &usd, NULL))
		return -1;
	return usd;
}

int cli_price_vcpus(const char *path, const char *instance_type, int *vcpus,
		    struct kc_diag *d)
{
	struct kc_pricing *p = NULL;
	if (!path)
		return kc_diag_set(d, KC_ENOTFOUND, "no instance table (data/instance-types.csv)");
	int rc = kc_pricing_load(&p, path, d);
	if (rc)
		return rc;
	const struct kc_instance_info *row = kc_pricing_find(p, instance_type);
	if (row && row->vcpu > 0)
		*vcpus = row->vcpu;
	else
		rc = kc_diag_set(d, KC_ENOTFOUND, "%s: no vCPU count for %s", path, instance_type);
	kc_pricing_free(p);
	return rc;
}
