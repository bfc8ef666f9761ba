/*
 * search.h - the search controller: which load to run next, and when the
 * knee is known.
 *
 * A pure state machine: the caller (the `find`/`streams` glue) asks for the
 * next load, runs it with the engine, and hands back the step result.  The
 * controller never runs anything itself, so it is driven in tests by a model
 * endpoint.  One struct kc_search per search; not thread-safe (one caller).
 *
 *     struct kc_search s;
 *     kc_search_init(&s, &cfg, &diag);
 *     double offered;
 *     while (kc_search_next(&s, &offered) == KC_SEARCH_RUN) {
 *         run a step at `offered` -> struct kc_step_result r;
 *         kc_search_record(&s, &r);
 *     }
 *     struct kc_knee knee;
 *     kc_search_result(&s, &knee);
 *
 * Strategy (DESIGN.md "The knee"): grow geometrically from `start` until a
 * step is unhealthy (bracket), then narrow [highest healthy, lowest
 * unhealthy] until hi/lo <= 1 + precision (rps) or hi - lo <= 1 (streams).
 * A cleanly saturated step also caps the bracket: the rate the endpoint
 * completed flat out is an upper bound on its knee, and a steadier number
 * than any verdict near capacity, where with Poisson arrivals the in-flight
 * count random-walks (a 20 s step at 50 rps delivers 1000 +- 32 requests).
 * When the unhealthy end was throughput-saturated, its achieved rate
 * estimates the capacity: the next probe goes just under that estimate and
 * the following few step by (1 + precision) up or down from it (this
 * closes a 2x bracket in 1-3 steps instead of 5); otherwise the bracket is
 * bisected at its geometric mean, or, when the latency objective ended it,
 * narrowed by interpolating where latency crosses the SLO.
 */
#ifndef KNEECAP_SEARCH_H
#define KNEECAP_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "kneecap/knee.h"

struct kc_diag;
struct kc_scenario;

#define KC_SEARCH_MAX_STEPS 64   /* hard bound on steps one search may run */

struct kc_search_cfg {
	enum kc_load_mode mode;
	double start;          /* first load; rps 10, streams 1 */
	double max;            /* highest load ever offered; rps 10000, streams 1024 */
	double growth;         /* geometric factor while bracketing; 2 */
	double precision;      /* rps: relative bracket width, 0.03; streams: fixed 1 stream */
	int max_steps;         /* 24, at most KC_SEARCH_MAX_STEPS */
	int max_remeasure;     /* extra measurements of one ambiguous load; 2 */
	int max_stepdown;      /* start unhealthy: step down at most this often; 6 */
	struct kc_health_cfg health;
	/* Engine settings read from [search] and carried for the glue (not used here). */
	int64_t step_duration_ns; /* 20 s (rps), 30 s (streams) */
	int64_t warmup_ns;        /* 5 s */
	int threads;              /* 0 = the engine picks */
};

/* Fills the defaults named above for mode. */
void kc_search_cfg_default(struct kc_search_cfg *c, enum kc_load_mode mode);

/*
 * Checks the whole configuration (max >= start, growth > 1, precision in
 * (0, 0.5], ...).  Returns 0 or KC_EINVAL with d naming the field.
 */
int kc_search_cfg_validate(const struct kc_search_cfg *c, struct kc_diag *d);

/*
 * Reads [search] from sc over c (which holds defaults or earlier values):
 * start, max, growth, precision, max_steps, max_remeasure, step_duration,
 * warmup, threads, slo (duration; bare number = ms), slo_percentile
 * (p50|p90|p99|p999|mean), max_error_rate, min_achieved_ratio, max_lag
 * (duration, bare = ms).  sc may be NULL.  Validates the result; errors
 * name "file:line: key: problem" (an SLO of 0, max below start, ...).
 * Returns 0 or KC_EINVAL; c is untouched on failure.
 */
int kc_search_cfg_from_scenario(struct kc_search_cfg *c, struct kc_scenario *sc,
				struct kc_diag *d);

enum kc_search_action { KC_SEARCH_RUN, KC_SEARCH_DONE };

/* Why the search ended.  Append-only; results store the names. */
enum kc_search_end {
	KC_END_NONE,            /* still running */
	KC_END_CONVERGED,       /* bracket within precision */
	KC_END_MAX_REACHED,     /* healthy at max: knee >= max (lower bound) */
	KC_END_GENERATOR_BOUND, /* the generator fell behind; knee is a lower bound */
	KC_END_ALL_ERRORS,      /* every request failed before any healthy step */
	KC_END_UNHEALTHY_AT_MIN,/* unhealthy even after stepping down from start */
	KC_END_MAX_STEPS,       /* step budget spent before the precision was reached */
	KC_END_INTERRUPTED,     /* a partial step: the run was stopped */
	KC_END_COUNT
};

/* "running", "converged", "max_reached", "generator_bound", "all_errors",
 * "unhealthy_at_min", "max_steps", "interrupted". */
const char *kc_search_end_name(enum kc_search_end e);

/* One recorded step, as the controller saw it. */
struct kc_search_step {
	double offered;           /* the load asked for */
	double delivered;         /* rps: arrivals the schedule produced / window; streams: offered */
	int attempt;              /* 0 first measurement of this load, 1.. re-measures */
	double achieved;          /* the step's achieved rate (rps or streams held) */
	struct kc_step_verdict v;
	bool healthy_final;       /* the load's verdict after re-measures (last attempt only) */
	enum kc_verdict final;    /* same, as a verdict (UNSTABLE when attempts disagreed) */
};

struct kc_search {
	struct kc_search_cfg cfg;
	int phase;                /* internal: bracket, stepdown, narrow, done */
	bool pending;             /* a RUN was handed out and not yet recorded */
	double next;              /* the load handed out */
	bool have_lo, have_hi;
	double lo, hi;            /* highest healthy / lowest unhealthy load */
	int lo_step, hi_step;     /* indexes into steps[] (last attempt), -1 none */
	enum kc_verdict hi_why;   /* the criterion that made hi unhealthy */
	bool hi_capped;           /* hi is the rate a saturated step completed */
	int stepdowns;
	/* re-measure bookkeeping for the current load */
	int attempts, healthy_votes;
	bool last_healthy;        /* the last decided load was healthy */
	/* capacity estimate from a throughput-saturated step */
	double est;
	int guide;                /* guided probes made (see search.c probe()) */
	double guide_load;        /* the last guided probe */
	enum kc_search_end end;
	char diagnosis[320];
	int nsteps;
	int remeasures;
	int gen_retries;          /* generator-bound re-measures of the current load */
	int64_t measured_ns;      /* sum of the recorded steps' measured windows */
	double saturated_max;     /* highest achieved rate of a saturated step of a
				     load decided unhealthy */
	double settled_cap;       /* > 0: the knee load was an ambiguous healthy call
				     taken as settled; the knee is at most this */
	struct kc_search_step steps[KC_SEARCH_MAX_STEPS];
};

/*
 * Starts a search.  Copies cfg (validated first).  Returns 0 or KC_EINVAL
 * with d set; s is usable (and DONE) only after a 0 return.
 */
int kc_search_init(struct kc_search *s, const struct kc_search_cfg *cfg,
		   struct kc_diag *d);

/*
 * KC_SEARCH_RUN with *offered set to the next load (rps, or a whole number
 * of streams), or KC_SEARCH_DONE (then *offered is untouched).  Calling it
 * again before kc_search_record returns the same load.
 */
enum kc_search_action kc_search_next(struct kc_search *s, double *offered);

/*
 * Records the result of the load kc_search_next handed out.  r is borrowed
 * (only its plain fields are read; its histograms are not touched).
 * Returns 0, or KC_EINVAL when no load was pending (a caller bug).
 */
int kc_search_record(struct kc_search *s, const struct kc_step_result *r);

/* Number of recorded steps, and step i (NULL when out of range). */
int kc_search_nsteps(const struct kc_search *s);
const struct kc_search_step *kc_search_step(const struct kc_search *s, int i);

/*
 * Which bound set the knee's value (result.json knee.bound).  Append-only;
 * results store the names.
 */
enum kc_knee_bound {
	KC_BOUND_TESTED,        /* the highest load tested healthy, as it was offered */
	KC_BOUND_SATURATED_MAX, /* the highest rate the endpoint completed while saturated */
	KC_BOUND_KNEE_ACHIEVED, /* the knee load's own achieved rate: its measurements
				   were unstable (ambiguous, or attempts disagreed) */
	KC_BOUND_SETTLED,       /* one precision step under the capped bracket end: the
				   knee load was healthy but ambiguous that close to the
				   capacity, and taken without a re-measure (search.c
				   settled()); the answer an unhealthy call would have led to */
	KC_BOUND_COUNT
};

/* "tested", "saturated_max", "knee_achieved" or "settled". */
const char *kc_knee_bound_name(enum kc_knee_bound b);

/*
 * Deciding a step's length while it runs (perf_analyzer-style stability
 * windows).  The caller feeds one sample per second of the measured window
 * (the engine's progress figures); kc_step_watch_feed says when the step
 * has settled and may end now (kc_engine_end_window).  The windows are g
 * seconds each, g chosen so each holds about 40 expected requests (1..5):
 *  - settled healthy: after at least min_s seconds (5 s, a quarter of the
 *    step, and 100 expected requests, whichever is longest), the last three windows
 *    agree on achieved rate (within +-10%, or 2 Poisson sigmas when wider)
 *    and on latency (mean per-second p50 within +-25% of their mean, the
 *    last no more than 15% over the first), the
 *    in-flight level does not rise across them nor since the window's
 *    first seconds (by more than the in-flight tolerance), and no request
 *    failed;
 *  - settled overloaded: after at least 5 s and a quarter of the step, the
 *    three windows
 *    agree on achieved rate, it is under 85% of offered, in-flight rose
 *    in each window by more than the tolerance, and since the window began
 *    by 2.5 times the tolerance the verdict will apply (a queue building at
 *    a steady capacity: more seconds add nothing but a longer drain).
 * The search enables it only where the verdict cannot hinge on it: on the
 * first attempt at a load that is not within 15% of a known capacity bound
 * (the narrowing probes near the knee, and every re-measure, run whole).
 */
#define KC_WATCH_RING 16

struct kc_watch_sample {
	double achieved_rps;      /* completions in the last second */
	double latency_ms;        /* the last second's median latency (p50: steadier
				     than a tail over a second's requests) */
	double inflight;          /* requests outstanding now */
	uint64_t errors;          /* failed so far in the window */
};

struct kc_step_watch {
	bool enabled;
	double offered;
	int group_s;              /* seconds per window */
	int min_s;                /* measured seconds before a healthy early end */
	int min_over_s;           /* ... before an overloaded early end */
	double inflight_tol;
	int n;                    /* samples fed */
	double first_inflight;    /* mean in-flight of the first window */
	struct kc_watch_sample ring[KC_WATCH_RING];
	bool settled;             /* said so once; later feeds return false */
};

/*
 * Prepares w for the step about to run at `offered` (the load
 * kc_search_next handed out), lasting step_ns of measured window.
 * w->enabled says whether it may end the step early at all.
 */
void kc_search_watch(const struct kc_search *s, double offered, int64_t step_ns,
		     struct kc_step_watch *w);

/* Feeds one second of the measured window; true once (the first time) when
 * the step has settled and may end now. */
bool kc_step_watch_feed(struct kc_step_watch *w, const struct kc_watch_sample *x);

/*
 * The measured window for the step kc_search_next handed out.  rps:
 * step_duration (a settled step ends early through kc_step_watch).
 * Streams, whose engine reports no per-second figures: a step while
 * bracketing (growing, or stepping down, from start) runs a third of
 * step_duration (at least 10 s, never more than step_duration), because
 * those loads are mostly far from the knee or far over it, and the mean
 * latency of thousands of replies is steady; every narrowing step runs
 * whole.  (A narrowing attempt ambiguous on the latency objective alone is
 * not re-measured when the bracket's ends predict the same side of it.)
 */
int64_t kc_search_step_ns(const struct kc_search *s);

/* The search's answer. */
struct kc_knee {
	bool found;               /* a healthy load exists (value is meaningful) */
	enum kc_load_mode mode;
	/* A sustainable load, all instances together: the highest load tested
	 * healthy (`tested`), but in rps mode never above saturated_max nor,
	 * when the knee load's measurements were unstable, above their mean
	 * achieved rate (knee_achieved).  `bound` says which one applied. */
	double value;
	double tested;            /* the highest load tested healthy, as offered */
	double knee_achieved;     /* mean achieved rate over the knee load's attempts */
	bool knee_unstable;       /* an attempt at the knee load was ambiguous, or they disagreed */
	enum kc_knee_bound bound;
	double upper;             /* lowest unhealthy load, 0 when none */
	bool upper_capped;        /* upper is not a load tried but the rate the endpoint
				     completed flat out in step upper_step (offered
				     upper_offered): no higher load can be healthy */
	double upper_offered;
	bool lower_bound;         /* the true knee may be higher than value */
	enum kc_search_end end;
	enum kc_verdict ended_by; /* criterion that made `upper` unhealthy (HEALTHY if none) */
	int knee_step;            /* index in the search's steps (= step results order), -1 none */
	int upper_step;
	int steps;                /* steps run, re-measures included */
	int remeasures;
	double precision;         /* achieved relative (rps) or absolute (streams) width */
	int64_t measured_ns;      /* load time spent: sum of measured windows (warm-up excluded) */
	/* The highest rate the endpoint completed in a saturated step
	 * (throughput short or in-flight growing) of a load decided unhealthy
	 * (an attempt its re-measures overruled does not count): what it can
	 * do flat out.
	 * A knee well under it (< 90%) ended by those criteria is suspicious,
	 * and the diagnosis says so.  0 when no step saturated. */
	double saturated_max;
	char diagnosis[320];      /* one line for the user; "" when converged */
};

/*
 * Fills out.  Meaningful once kc_search_next returned DONE (before that it
 * describes the search so far).  `reason` for result.json: the criterion
 * name when the search converged, the end name otherwise (kc_knee_reason).
 */
void kc_search_result(const struct kc_search *s, struct kc_knee *out);

/*
 * The knee of a fixed ladder (run --ramp, shards merged by `kneecap merge`):
 * steps judged in order of load against c; the knee is the highest healthy
 * load under the lowest unhealthy one, as a search's.  A ladder's rungs are
 * coarser than a search's precision, so when the lowest unhealthy step was
 * saturated (throughput or in-flight growth) the rate the endpoint completed
 * there flat out brackets the capacity: it caps the knee (as in a search),
 * and when it lies between the highest healthy rung and that step it is the
 * knee (bound saturated_max; rps only: a streams knee is always a rung).
 * Generator-bound or partial steps are never a knee and end the ladder (a
 * lower bound).  verdicts (n entries, may be NULL) receive each step's
 * verdict.  Pure; fills every field of out.
 */
void kc_ladder_knee(const struct kc_health_cfg *c, const struct kc_step_result *steps, size_t n,
		    struct kc_step_verdict *verdicts, struct kc_knee *out);

/* The knee's `reason` string for result.json (see kc_search_result). */
const char *kc_knee_reason(const struct kc_knee *k);

#endif
