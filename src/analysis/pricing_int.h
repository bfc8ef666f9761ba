/*
 * pricing_int.h - the price table's rows as the tests walk them
 * (pricing.c).  Not part of the public API.
 */
#ifndef KNEECAP_ANALYSIS_PRICING_INT_H
#define KNEECAP_ANALYSIS_PRICING_INT_H

#include "kneecap/pricing.h"

/* Number of rows, and row i (NULL when out of range). */
size_t kc_pricing_count(const struct kc_pricing *p);
const struct kc_instance_info *kc_pricing_row(const struct kc_pricing *p, size_t i);

#endif
