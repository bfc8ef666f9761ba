/*
 * runout.h - what the load-driving commands (run, find, streams) share on
 * the way out: live progress on stderr, the per-second interval log,
 * the --out directory, and the step table on stdout.
 */
#ifndef KNEECAP_CLI_RUNOUT_H
#define KNEECAP_CLI_RUNOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kneecap/engine.h"
#include "kneecap/hlog.h"
#include "kneecap/step.h"
#include "outdir.h"

struct kc_buf;

/* Progress and interval-log state for one command run. */
struct runout {
	const char *cmd;      /* "run", "find": prefixes messages */
	bool quiet;
	bool tty;             /* stderr is a terminal: one refreshing line */
	const char *unit;     /* "rps" or "streams", for the progress line */
	const char *label;    /* the progress line's name for the step; NULL: "step N" */
	int64_t last_plain_ns;
	bool line_open;
	struct outdir *out;   /* the interval log goes here; NULL: none */
	struct kc_engine *engine; /* stopped when the interval log cannot be written */
};

/*
 * Sends e's first request: 0 when the target answered (a status >= 400 is
 * only warned about), else prints why under cmd and returns the exit status
 * (unreachable for connect, TLS and timeout failures; bad input otherwise).
 * A signal (runout_catch_signals) stops the probe and returns 0: the
 * caller's loop sees runout_caught_signal() and writes partial results.
 */
int runout_probe(struct kc_engine *e, const char *cmd);

/*
 * Until runout_release_signals, from the start of a command: the first
 * SIGINT or SIGTERM is remembered and calls the stop function set by
 * runout_set_stop, if any, so what was measured is still written, marked
 * partial; later signals only stop again.  One run at a time.
 */
void runout_catch_signals(void);
/*
 * What a signal calls from now on: stop(ud), async-signal-safe
 * (kc_engine_stop, kc_streams_stop); called at once when a signal already
 * came.  stop NULL: nothing.
 */
void runout_set_stop(void (*stop)(void *ud), void *ud);
/* Restores the handlers runout_catch_signals replaced (no-op when none). */
void runout_release_signals(void);
/* The signal caught since runout_catch_signals (SIGINT, SIGTERM), or 0. */
int runout_caught_signal(void);
/* "SIGINT" / "SIGTERM" for sig, NULL for 0. */
const char *runout_signal_name(int sig);
/* kc_engine_stop for runout_catch_signals. */
void runout_stop_engine(void *engine);

/* Prepares r; out may be NULL (no interval log). */
void runout_init(struct runout *r, const char *cmd, struct outdir *out, bool quiet);

struct kc_result_env;
/* Fills env for result.json: the host detected now, kneecap's and libcurl's versions, the wall-clock start. */
void runout_env_detect(struct kc_result_env *env);

/*
 * Engine hooks: progress line (progress.c: on a terminal one line cut to its
 * width and rewritten in place, "—" for figures not measured yet; else a
 * plain line every 5 s) and interval log; ud is the struct runout.
 */
void runout_progress(void *ud, const struct kc_progress *p);
void runout_interval(void *ud, int step_index, const struct kc_hdr *latency_us);

/* Clears a refreshing progress line (a terminal) so the next output starts on a clean line. */
void runout_progress_end(struct runout *r);

/* Prints the step table (offered, achieved, percentiles, errors). */
void runout_print_table(FILE *f, const struct kc_step_result *s, size_t n,
			const char *unit);

struct kc_search;
/*
 * The step table of a search (find): as runout_print_table, plus the
 * arrivals the schedule actually produced per second beside the nominal
 * offered rate, and each row's verdict, judged on the figures printed in
 * that row (achieved against arrived).  steps[i] is search step i.
 */
void runout_print_search_table(FILE *f, const struct kc_step_result *s, size_t n,
			       const struct kc_search *srch);

/* True when every error of every step was a connect failure and nothing completed. */
bool runout_all_connect_errors(const struct kc_step_result *s, size_t n);

struct kc_pool;
/*
 * The engine's view of a payload pool: one struct kc_body per entry,
 * borrowed from the pool (bytes, length, content type, SHA-256), built once
 * so requests never copy or hash.  content_type, when not NULL, replaces the
 * entries' own.  Returns 0 or KC_ENOMEM; free *bodies with free().
 */
int runout_pool_bodies(const struct kc_pool *pool, const char *content_type,
		       struct kc_body **bodies, size_t *n);

/*
 * For a SageMaker target: prints one hint line per kind of error the run
 * met (auth, throttling, model errors), once, not per request or step.
 */
void runout_sagemaker_hints(const char *cmd, const struct kc_step_result *s, size_t n);

/*
 * The exit status of a run that got as far as writing its results, by
 * precedence: KC_EXIT_WRITE when out failed, KC_EXIT_SIGINT/SIGTERM when
 * interrupted (sig), else status (the command's own verdict).
 */
int runout_exit_status(const struct outdir *out, int sig, int status);

struct kc_knee;
struct kc_knee_check;
/*
 * result.json's "knee" (kc_knee_to_json), except that for a search cut
 * short (signal, failed step or write) it says found: false and keeps the
 * highest healthy load only as healthy_up_to (and _per_instance), with no
 * "value": an interrupted search never publishes a knee.  NULL: no memory.
 */
json_t *runout_knee_json(const struct kc_knee *k, const struct kc_knee_check *chk, int instances,
			 bool cut_short);

#endif
