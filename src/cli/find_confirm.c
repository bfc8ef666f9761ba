/*
 * find_confirm.c - runs find's confirmation step.  It goes through the
 * engine exactly as a search step does, so its numbers are comparable with
 * the table's, but it is kept out of the search's series: the knee was
 * decided before it ran and must not move because of it.
 */
#include "find_confirm.h"

#include <stdio.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/hdr.h"

int find_confirm_run(struct kc_engine *e, const struct cli_find_cfg *c, struct runout *ro,
		     const struct kc_recommendation *rec, int index, struct kc_confirm *out,
		     bool *partial, struct kc_diag *d)
{
	kc_confirm_plan(out, rec, kc_recommend_units(&c->rec));
	*partial = false;
	struct kc_step_spec spec = {
		.index = index,
		.mode = KC_STEP_RATE,
		.rate_rps = out->offered,
		.duration_ns = c->search.step_duration_ns,
		.warmup_ns = c->search.warmup_ns,
		.arrival = c->arrival,
		/* Its own arrivals, not a replay of any search step's. */
		.seed = 0xc0f1c0f1ULL,
	};
	/* No per-second intervals: the log gets the whole step once, tagged. */
	struct kc_engine_hooks hooks = {.progress = runout_progress, .ud = ro};
	const char *was = ro->label;
	ro->label = "confirm";
	struct kc_step_result r;
	memset(&r, 0, sizeof(r));
	int rc = kc_engine_run_step(e, &spec, &hooks, &r, d);
	ro->label = was;
	runout_progress_end(ro);
	if (rc) {
		kc_step_result_fini(&r);
		return rc;
	}
	*partial = r.partial || kc_engine_stopped(e);
	kc_confirm_judge(out, &c->search.health, &r);
	if (r.latency_hist && ro->out && kc_hdr_total_count(r.latency_hist) > 0) {
		kc_hdr_set_times(r.latency_hist, r.start_wall_ms,
				 r.start_wall_ms + r.duration_ns / KC_NS_PER_MS);
		if (kc_hdr_set_tag(r.latency_hist, "confirm") == 0)
			outdir_hlog_interval(ro->out, r.latency_hist);
	}
	kc_step_result_fini(&r);
	return 0;
}
