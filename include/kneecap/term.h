/*
 * term.h - the plain-text renderings printed on the terminal: a result's
 * verdict, the instance-type comparison table, and the capacity plan.
 * Text is appended to a struct kc_buf; the CLI prints it.  Strings from
 * files are printed as they are, with control characters replaced, so a
 * result cannot drive the terminal.
 */
#ifndef KNEECAP_TERM_H
#define KNEECAP_TERM_H

#include <stddef.h>

#include "kneecap/html.h"

struct kc_buf;

/* Appends the verdict of one result (ceiling, target and range, what ended
 * the search, price or "price unknown").  Returns 0 or the buffer's error. */
int kc_term_verdict(struct kc_buf *out, const struct kc_resultdoc *doc, double usd_per_hour);

/* Appends the comparison table of several results.  Same returns. */
int kc_term_compare(struct kc_buf *out, const struct kc_resultdoc *docs, size_t n,
		    const double *usd_per_hour);

/* Appends the plan: verdict, the red-flag line when the peak exceeds
 * MaxCapacity x ceiling, recommendations, the side-by-side table and the
 * model assumptions.  Same returns. */
int kc_term_plan(struct kc_buf *out, const struct kc_plan_view *v);

#endif
