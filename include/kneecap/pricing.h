/*
 * pricing.h - instance types and their hourly prices, from
 * data/instance-types.csv, and the cost per million inferences.
 *
 * A price that the table leaves empty is unknown: the module never invents
 * one.  A user-supplied price (--price) overrides the table.  There is no
 * built-in copy of the table; the caller passes its path.  A loaded table is
 * read-only, so lookups are thread-safe.
 */
#ifndef KNEECAP_PRICING_H
#define KNEECAP_PRICING_H

#include <stdbool.h>
#include <stddef.h>

struct kc_diag;
struct kc_pricing;

#define KC_PRICING_MAX_ROWS 512

struct kc_instance_info {
	char instance_type[48];     /* "ml.g5.xlarge" */
	int vcpu;
	double memory_gib;
	char accelerator[48];       /* "NVIDIA A10G" or "none" */
	int accelerator_count;
	double accelerator_memory_gib;
	bool price_known;           /* false: the cell was empty */
	double usd_per_hour;        /* meaningful only when price_known */
};

/*
 * Loads the CSV at path (header row naming at least instance_type and
 * usd_per_hour_us_east_1; RFC 4180 quoting).  Returns 0, KC_ENOTFOUND,
 * KC_EIO, KC_EPARSE (d names "path:line: column: problem") or KC_ELIMIT
 * (more than KC_PRICING_MAX_ROWS rows).  *out untouched on failure; free
 * with kc_pricing_free.
 */
int kc_pricing_load(struct kc_pricing **out, const char *path, struct kc_diag *d);

/* Frees p; p may be NULL. */
void kc_pricing_free(struct kc_pricing *p);

/* Row for an instance type (exact match), or NULL.  p may be NULL. */
const struct kc_instance_info *kc_pricing_find(const struct kc_pricing *p,
					       const char *instance_type);

/* Where a price came from. */
enum kc_price_source { KC_PRICE_UNKNOWN, KC_PRICE_TABLE, KC_PRICE_USER };

/* "unknown", "table" or "user". */
const char *kc_price_source_name(enum kc_price_source s);

/*
 * The hourly price to use for instance_type: override_usd_per_hour when it
 * is >= 0 (the user's --price), else the table's when known, else unknown
 * (*usd_per_hour set to 0).  p may be NULL.  Returns the source.
 */
enum kc_price_source kc_pricing_price(const struct kc_pricing *p, const char *instance_type,
				      double override_usd_per_hour, double *usd_per_hour);

/*
 * Cost per million inferences when serving a sustained total rate rate_rps
 * with instances each loaded at most target_rps_per_instance (the
 * recommended target load): instances needed N = ceil(rate / target),
 * cost = N x usd_per_hour / (rate_rps x 3600) x 1e6 USD.  At a rate that
 * fills every instance exactly to the target this is usd_per_hour /
 * (target x 3600) x 1e6, the figure the comparison table prints.
 * Returns 0 or KC_EINVAL (a non-positive or non-finite input); outputs
 * untouched on failure.  instances_out may be NULL.
 */
int kc_pricing_cost_per_million(double usd_per_hour, double rate_rps,
				double target_rps_per_instance, double *usd_out,
				int *instances_out);

#endif
