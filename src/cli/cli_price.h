/*
 * cli_price.h - the on-demand price of an instance type, from
 * data/instance-types.csv (../shared/data/README.md describes the columns).
 * An empty price cell means unknown: callers print "price unknown" and
 * never substitute a guess.
 */
#ifndef KNEECAP_CLI_PRICE_H
#define KNEECAP_CLI_PRICE_H

struct kc_diag;

/*
 * The price table to use: flag if given, else $KNEECAP_PRICES, else
 * data/instance-types.csv when it exists in the working directory; NULL
 * when there is none.
 */
const char *cli_price_path(const char *flag);

/*
 * Looks up instance_type in the CSV at path.  Returns 0 with *usd_per_hour
 * set (-1 when the row's price is empty, i.e. unknown); KC_ENOTFOUND when
 * the type is not listed; KC_EIO / KC_EPARSE (d says which file and line)
 * for an unreadable or malformed table.  *usd_per_hour untouched on error.
 */
int cli_price_lookup(const char *path, const char *instance_type,
		     double *usd_per_hour, struct kc_diag *d);

/* As cli_price_lookup, but any failure yields -1 (unknown). */
double cli_price_or_unknown(const char *path, const char *instance_type);

/* The vCPUs of instance_type in the table at path into *vcpus.  Returns 0,
 * or KC_ENOTFOUND / KC_EPARSE / KC_EIO with d saying why. */
int cli_price_vcpus(const char *path, const char *instance_type, int *vcpus,
		    struct kc_diag *d);
#endif
