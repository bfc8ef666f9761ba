/*
 * result.h - a run's result document and its renderings: result.json (the
 * source of truth, DESIGN.md "What a run writes") and steps.csv.
 *
 * struct kc_result only borrows: the steps, the config object and the extra
 * sections stay the caller's.  `run` fills mode, config and steps; `find`
 * adds its knee and recommendation as extra top-level keys; `streams`
 * uses mode "streams".  The writers never open a socket and never print.
 */
#ifndef KNEECAP_RESULT_H
#define KNEECAP_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/step.h"

/* Where and with what the numbers were produced. */
struct kc_result_env {
	char host[256];              /* gethostname() */
	int cores;                   /* online CPUs */
	const char *kneecap_version; /* borrowed */
	const char *libcurl_version; /* borrowed; may be NULL */
	int64_t started_wall_ms;     /* run start, ms since the epoch */
};

/* Written into every result.json as "tool" and "schema" (the layout
 * version): readers (resultdoc.h) refuse other tools and newer schemas. */
#define KC_RESULT_TOOL "kneecap"
#define KC_RESULT_SCHEMA 1

struct kc_result {
	const char *mode;            /* "rps" or "streams" */
	const char *target;          /* as the user gave it (never with secrets) */
	json_t *config;              /* borrowed object, may be NULL */
	struct kc_result_env env;
	const struct kc_step_result *steps; /* borrowed array */
	size_t nsteps;
	bool partial;                /* the run was interrupted or cut short */
	const char *interrupted;     /* "SIGINT" / "SIGTERM" when a signal stopped the run, or NULL */
	const char *incomplete;      /* why results are missing (an output that could not be
					written: "out/latency.hlog: No space left on device"), or NULL */
	json_t *extra;               /* borrowed object whose keys are added at top level
					(knee, recommendation, ...); may be NULL */
	json_t *step_extra;          /* borrowed array: element i's keys are added to
					steps[i] (find's verdicts); may be NULL */
};

/* Fills host and cores; kneecap_version/libcurl_version/started are the caller's. */
void kc_result_env_detect(struct kc_result_env *env);

/*
 * One step as JSON: offered, achieved, latency_ms{p50,p90,p99,p999,max,mean,count},
 * service_ms{...}, ttfb_ms{...}, errors, error_classes{name: n}, status_codes{"code": n},
 * inflight_max, inflight{start,end,slope_per_s}, lag_ms{p99,max}, gen_cpu,
 * generator_bound, stable (null: not judged), partial, and the raw counts
 * (scheduled, sent, completed, ok, unfinished).
 * Response-stream steps (s->response_stream) add ttfp_ms{...} (first
 * PayloadPart from the intended send), ttfp_service_ms{...} (from the
 * actual send), part_gap_ms{...} and parts.
 * Returns a new reference, or NULL when out of memory.
 */
json_t *kc_step_to_json(const struct kc_step_result *s);

/* The whole document; a new reference, or NULL when out of memory. */
json_t *kc_result_to_json(const struct kc_result *r);

/* Appends the document (indented, trailing newline) to out. Returns 0, KC_ENOMEM or KC_ELIMIT. */
int kc_result_json_text(const struct kc_result *r, struct kc_buf *out);

/*
 * steps.csv: a header row and one row per step with index, offered,
 * achieved, scheduled, completed, ok, errors, p50_ms, p90_ms, p99_ms,
 * p999_ms, max_ms, mean_ms, service_p99_ms, inflight_max, inflight_slope,
 * lag_p99_ms, generator_bound, partial; when any step is a response-stream
 * step, then ttfp_{p50,p90,p99,max}_ms, part_gap_{p50,p90,p99,max}_ms,
 * stream_errors, model_stream_errors; then always unfinished, arrived
 * (rps: the arrivals the schedule sent per second, kc_rate_figure;
 * streams: offered) and verdict (step_extra[i].verdict.verdict, "" when
 * not judged).  In rps mode achieved is the printed figure too, so each
 * row reads the way its verdict was judged.  Appends to out.
 * Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_result_csv_text(const struct kc_result *r, struct kc_buf *out);

#endif
