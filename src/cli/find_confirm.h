/*
 * find_confirm.h - find's confirmation step: one step at the recommended
 * target after the search (kneecap/confirm.h has the pure part).
 */
#ifndef KNEECAP_CLI_FIND_CONFIRM_H
#define KNEECAP_CLI_FIND_CONFIRM_H

#include <stdbool.h>

#include "kneecap/confirm.h"
#include "kneecap/engine.h"
#include "runout.h"
#include "scenario_find.h"

struct kc_diag;

/*
 * Runs one step at rec's target (R per instance x the scenario's
 * instances) with the search's step duration, warm-up and arrivals, shows
 * it on the progress line as "confirm", writes its latency to ro's interval
 * log as one interval tagged "confirm" (never among the search's
 * intervals), and judges it with the search's health configuration into
 * *out.  *partial is set when a signal or a stop cut the step short.
 * Returns 0, or the engine's error code with d set.
 */
int find_confirm_run(struct kc_engine *e, const struct cli_find_cfg *c, struct runout *ro,
		     const struct kc_recommendation *rec, int index, struct kc_confirm *out,
		     bool *partial, struct kc_diag *d);

#endif
