/*
 * shard.h - one process's slice of a load many processes drive together
 * (`run --shard I/N`, `--shards N` under a Kubernetes Indexed Job or Slurm),
 * the common wall clock its steps follow (`--start-at`), and what it
 * records so `kneecap merge` can add the shards exactly and refuse the
 * ones that do not belong together.
 */
#ifndef KNEECAP_CLI_SHARD_H
#define KNEECAP_CLI_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kneecap/engine.h"
#include "kneecap/knee.h"
#include "kneecap/recommend.h"
#include "kneecap/step.h"

struct kc_diag;
struct kc_jpeg_opts;
struct kc_pool;
struct kc_ramp;
struct kc_sm_opts;
struct runout;

/* Pause between the end of one step's slot and the next (drain room). */
#define SHARD_GAP_MS 1000

struct cli_shard {
	bool on;               /* --shard or --shards given */
	int index, count;      /* 0-based index of count */
	bool have_start_at;
	int64_t start_at_ms;   /* --start-at, ms since the epoch */
	int64_t period_ms;     /* a step's slot: warm-up + step + SHARD_GAP_MS */
	int64_t warmup_ms;
	char run_id[128];      /* --run-id, SLURM_JOB_ID, or the start time */
	const char *index_from;/* "--shard", "JOB_COMPLETION_INDEX", "SLURM_PROCID" */
	/* clock offset from the target's Date header */
	bool have_offset;
	int64_t clock_offset_ms;
	int64_t offset_unc_ms;  /* the offset is good to +- this */
	char offset_note[160];
};

/* --shard I/N or --shard env.  Prints "run: --shard ..." and returns KC_EXIT_USAGE on error. */
int cli_shard_parse(struct cli_shard *s, const char *arg);
/* --shards N: the index from JOB_COMPLETION_INDEX, else SLURM_PROCID. Same contract. */
int cli_shard_parse_count(struct cli_shard *s, int64_t n);
/* --start-at TIME: RFC 3339 (2026-12-07T04:00:00Z, offsets allowed) or Unix seconds. */
int cli_shard_parse_start_at(struct cli_shard *s, const char *arg);
/*
 * Parses TIME as --start-at does into ms since the epoch: Unix seconds
 * (digits, optional .fraction) or a strict RFC 3339 date-time.  0 or -1.
 */
int cli_shard_time_ms(const char *arg, int64_t *out_ms);

/*
 * Fills run_id (if not given) and the step slot; step_ns and warmup_ns as run
 * uses them.  -1 (said on stderr) when a shard has no run identity.
 */
int cli_shard_finish(struct cli_shard *s, const char *run_id, int64_t step_ns, int64_t warmup_ns);

/* How late a step may start behind its slot and still merge: its warm-up (at least 20 ms). */
int64_t cli_shard_late_ms(const struct cli_shard *s);

/* This shard's share of a total (rates): total / count. */
double cli_shard_rate(const struct cli_shard *s, double total);
/* This shard's share of a whole count (connections, concurrency), at least 1 when total > 0. */
int64_t cli_shard_part(const struct cli_shard *s, int64_t total);
/* The seed of this shard: independent arrivals for each shard (N Poisson streams at R/N). */
uint64_t cli_shard_seed(const struct cli_shard *s, uint64_t seed);

/*
 * With --start-at: sleeps until lead_ms before step k's slot starts (never
 * back in time) and returns the slot's start, ms since the epoch; -1
 * without --start-at or when stop() says so (checked every 100 ms).
 */
int64_t cli_shard_wait(const struct cli_shard *s, size_t k, int64_t lead_ms, bool (*stop)(void));

/*
 * Asks url for its Date header (HEAD, libcurl) and records the offset of
 * the local clock from it.  Date has whole seconds: when --start-at is more
 * than 2.5 s ahead, HEADs are repeated (every 20 ms, at most 1.2 s) until
 * Date ticks, which bounds the offset to about a round trip; otherwise one
 * HEAD gives it within +-500 ms.  Never fails the run: a note says why not.
 */
void cli_shard_clock_offset(struct cli_shard *s, const char *url, bool insecure, const char *cacert);

/*
 * result.json "shard": {index, count, run_id, index_from, start_at, start_at_ms, period_ms,
 * warmup_ms, clock_offset_ms, clock_offset_uncertainty_ms, clock_note, config, steps[{start_lag_ms, late}], host, cores,
 * service_hlog}.  config (stolen) is what every shard of a run must share; the
 * steps give each step's lag behind its slot (or behind the run's start).
 * service_hlog holds each step's service-time histogram as an interval log.
 * New reference, NULL on no memory.
 */
json_t *cli_shard_json(const struct cli_shard *s, json_t *config,
		       const struct kc_step_result *steps, size_t n);

/* What each request of a shard carries, for its config (cli_shard_add_request). */
struct cli_shard_request {
	const char *const *headers;      /* -H lines */
	size_t nheaders;
	const char *content_type;        /* --content-type or the body's, NULL: none given */
	bool response_stream, fips, dualstack;
	const char *region, *endpoint_url;
	const struct kc_sm_opts *sm;     /* SageMaker request options, NULL: none */
	const struct kc_pool *pool;      /* the bodies, NULL: none */
	const struct kc_jpeg_opts *jpeg; /* the synthetic pool's parameters, NULL: not synthetic */
};

/*
 * Adds to cfg (a shard's config, which merge compares whole) what each
 * request is: headers_sha256 (SHA-256 of the sorted -H lines: values may
 * hold tokens, so they are never written), content_type, response_stream,
 * region, endpoint_url, fips, dualstack, sagemaker{...} (custom attributes
 * by hash) and bodies{source, count, bytes_min, bytes_max, content_type,
 * bodies_sha256, jpeg{...}} (the bytes by hash: one --body path may hold
 * other bytes on another node).  Returns 0, or -1 when out of memory.
 */
int cli_shard_add_request(json_t *cfg, const struct cli_shard_request *r);

/* A fixed ladder as one shard drives it (run --ramp, find --shard). */
struct cli_ladder {
	const struct cli_shard *shard;
	const struct kc_ramp *ramp; /* NULL: base.rate_rps (and rate_end_rps) every step */
	struct kc_step_spec base;   /* mode, rates (totals), concurrency, durations, arrival, seed */
	const char *start_at_text;  /* for the "waiting" note */
};

/*
 * Runs nsteps steps of l on e, step k in its common-clock slot (with
 * --start-at), each at this shard's share of the rung's rate and its own
 * seed.  A signal, a partial step or a failed interval log (ctx->out) stops
 * it (*stopped).  Sets *done (steps with results).  Returns -1, or
 * KC_EXIT_INTERNAL after printing why a step could not run.
 */
int cli_shard_run_steps(struct kc_engine *e, const struct cli_ladder *l, struct runout *ctx,
			struct kc_step_result *steps, size_t nsteps, size_t *done, bool *stopped);

/*
 * The health thresholds and recommendation settings of find and streams
 * as a shard records them (in shard.config, so every shard must agree), and
 * read back by merge: the merged ladder is judged and recommended as the
 * command itself would have.  _json: new reference (NULL: no memory).
 * _read: defaults, then o's fields, validated; 0 or KC_EINVAL with d set.
 */
json_t *cli_shard_health_json(const struct kc_health_cfg *h);
int cli_shard_health_read(json_t *o, struct kc_health_cfg *h, struct kc_diag *d);
json_t *cli_shard_rec_json(const struct kc_recommend_cfg *c);
int cli_shard_rec_read(json_t *o, struct kc_recommend_cfg *c, struct kc_diag *d);

#endif
