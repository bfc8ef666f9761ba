/*
 * merge.h - what `kneecap merge` (cmd_merge.c) shares between its parts:
 * reading and checking the shards (merge_read.c) and adding them step by
 * step (merge_add.c).  Internal to the CLI.
 */
#ifndef KNEECAP_CLI_MERGE_H
#define KNEECAP_CLI_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kneecap/buf.h"
#include "kneecap/hlog.h"
#include "kneecap/knee.h"
#include "kneecap/step.h"

#define MAX_SHARDS 4096

/* An interval log kept as text with its lines indexed by step, so it is
 * decoded one step at a time (a decoded histogram is ~180 KiB; 64 shards x
 * 30 steps x 30 seconds of them would not fit in memory together). */
struct span {
	size_t off, len;
	int step;
};

struct logidx {
	const char *data;
	size_t len;
	size_t hdr_len;       /* the header lines: data[0..hdr_len) */
	struct span *lines;
	size_t nlines;
};

struct shard {
	bool streams;          /* mode "streams" (else "rps") */
	const char *dir;
	json_t *doc;          /* result.json */
	json_t *sh;           /* doc.shard (borrowed) */
	json_t *steps;        /* doc.steps (borrowed) */
	int index;
	int64_t warmup_ms;
	struct kc_buf log;    /* latency.hlog */
	struct logidx lat, svc; /* latency.hlog; shard.service_hlog (data borrowed from doc) */
	int64_t max_lag_ms;   /* behind the earliest shard's start of a step, at most */
	int64_t slot_lag_ms;  /* behind the step's slot on its own clock, at most */
	bool late;            /* some step started later than the others' by more than the warm-up */
	bool *late_steps;     /* ... which */
	int64_t *step_lag_ms; /* per step: behind the earliest shard's start of it */
	bool skewed;          /* its clock is off the others' (offset from the target's Date) */
};

struct merge_opts {
	const char *out_dir;
	bool allow_late, json, quiet;
	bool have_slo;
	double slo_ms;
	bool have_stat;
	enum kc_lat_stat stat;
	bool have_error_rate;
	double max_error_rate;
	const char *instance_type;
	int instances;        /* 0: the shards' setting */
};


/* Prints "merge: DIR: msg" and returns KC_EXIT_USAGE. */
int merge_refuse(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* o[key] as a whole number / a number (0 when absent). */
int64_t merge_jint(json_t *o, const char *key);
double merge_jnum(json_t *o, const char *key);

/* Loads DIR/result.json and DIR/latency.hlog into s.  Returns -1 or an exit status. */
int merge_shard_load(struct shard *s, const char *dir);
/* Frees what merge_shard_load took (s itself is the caller's). */
void merge_shard_free(struct shard *s);
/* Checks that the shards are the N slices of one run; *count_out = N.  -1 or an exit status. */
int merge_check_together(struct shard *sh, size_t n, int *count_out);
/*
 * Each shard's lag per step behind the other shards' start of it and late
 * flags; shards whose clock offsets (from the target's Date header) spread
 * wider than the warm-up plus their uncertainty are refused, naming them,
 * unless o->allow_late (then flagged skewed).  *skew_ms: that spread.
 * Returns -1 or an exit status.
 */
int merge_check_clock(const struct merge_opts *o, struct shard *sh, size_t n, bool *any_late,
		      int64_t *skew_ms);
/*
 * Refuses (unless o->allow_late) a shard late at a rung that can change the
 * knee: any rung offered no more than `decisive` (the first unhealthy
 * rung's load; rungs above it are only flagged).  Returns -1 or a status.
 */
int merge_check_late(const struct merge_opts *o, struct shard *sh, size_t n,
		     const struct kc_step_result *steps, double decisive);

/* Whether a shard's generator fell behind in step j (find's rule, not run's 5 ms). */
bool merge_step_behind(json_t *j, double max_lag_ms);
/* Sums the figures of step k of every shard into m (histograms: merge_hists). */
void merge_step(struct shard *sh, size_t n, size_t k, struct kc_step_result *m,
		double max_lag_ms);
/*
 * Step k's histograms of every shard added into m's and, second by second,
 * into the merged log w (tag: step-K).  Returns -1 or an exit status.
 */
int merge_hists(struct shard *sh, size_t n, int k, struct kc_step_result *m,
		struct kc_hlog_writer *w, struct kc_buf *scratch);
/*
 * Streams shards: step k of result.json streams.steps[] over every shard:
 * counts and streams held summed; setup and first-response times as the
 * count-weighted mean, their percentiles and maximum the highest shard's (an
 * upper bound: the stream driver keeps no histogram of them).  New reference.
 */
json_t *merge_streams_step_json(struct shard *sh, size_t n, size_t k);

#endif
