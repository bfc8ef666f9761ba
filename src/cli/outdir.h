/*
 * outdir.h - the one place run, find and streams write their --out files.
 *
 * A run owns its --out directory: the names it may write are removed when
 * it starts (only those names), every file goes to NAME.tmp in the same
 * directory and is renamed into place once written, flushed, synced and
 * closed, so a reader never sees half a file and an older run's policy
 * never survives a newer run that produced none.  The interval log is the
 * one file written during the run: it grows as latency.hlog.tmp (what a
 * SIGKILL leaves) and becomes latency.hlog at the end.  Every failure is
 * printed once, with the OS reason, and remembered so the command exits
 * KC_EXIT_WRITE.
 */
#ifndef KNEECAP_CLI_OUTDIR_H
#define KNEECAP_CLI_OUTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kneecap/buf.h"
#include "kneecap/hlog.h"

struct kc_hdr;
struct kc_recommend_cfg;
struct kc_result;
struct kc_recommendation;

/* The files a load-driving command may write, in the order they are listed. */
enum out_file { OUT_RESULT, OUT_STEPS, OUT_HLOG, OUT_POLICY, OUT_APPLY, OUT_NFILES };

struct outdir {
	const char *cmd;        /* "run", "find", "streams": prefixes messages */
	const char *dir;        /* NULL: the command writes no files */
	unsigned present;       /* bit f set: DIR/name(f) was written by this run */
	int err;                /* errno of the first failure, 0 while none */
	char failed[4400];      /* "DIR/NAME: reason" of the first failure */
	/* the interval log, written while the run goes on */
	int hlog_fd;            /* -1 when closed */
	struct kc_buf hlog_buf; /* one encoded interval at a time */
	struct kc_hlog_writer hlog;
	bool hlog_open;
	/* find --alarm-topic: apply.sh ends with this latency alarm; NULL none */
	const struct kc_alarm_cfg *alarm;
};

/* The file name of f ("result.json", ...). */
const char *outdir_name(enum out_file f);

/*
 * Prepares o for cmd.  With a dir: creates it and its missing parents,
 * then removes every name of enum out_file and its .tmp from it (nothing
 * else).  dir may be NULL (nothing is ever written).  Returns 0, or
 * KC_EXIT_WRITE after printing why.
 */
int outdir_open(struct outdir *o, const char *cmd, const char *dir);

/*
 * Writes n bytes as DIR/name(f) (temp name, write, fsync, close, rename;
 * apply.sh made executable).  Returns 0, or -1 after printing
 * "kneecap: CMD: DIR/NAME: reason" (o->err set).  Without a dir: 0.
 */
int outdir_write(struct outdir *o, enum out_file f, const void *p, size_t n);

/*
 * Writes the results of a run: result.json, then steps.csv, from res
 * (when something already failed, res says so first: partial, incomplete =
 * the failure); then, with rec and no failure so far, scaling-policy.json
 * and apply.sh for rec, both or neither (when apply.sh fails the policy
 * just written is removed again; pass rec only for a run that completed
 * with a recommendation); then, with print_json, the document on stdout,
 * dir or not, last so a reader that quits cannot cost the files.  A failed
 * stdout write is a failure like a file's.  Returns 0 or -1 (printed).
 */
int outdir_write_result(struct outdir *o, struct kc_result *res, bool print_json,
			const struct kc_recommend_cfg *c, const struct kc_recommendation *rec);

/*
 * Starts DIR/latency.hlog.tmp with the interval-log header (values in
 * microseconds, max column in milliseconds).  Returns 0 or -1 (printed).
 */
int outdir_hlog_open(struct outdir *o, int64_t start_ms);

/*
 * Appends one interval and hands it to the kernel (so a SIGKILL loses at
 * most the interval being written).  Returns 0, or -1 after printing the
 * failure (later calls then return -1 without writing).  Safe from the
 * engine's interval hook: one caller at a time.
 */
int outdir_hlog_interval(struct outdir *o, const struct kc_hdr *h);

/*
 * Ends the interval log: with keep and no failure, syncs it and renames it
 * to DIR/latency.hlog; otherwise removes the temp file (a log that lost
 * data is not kept).  Returns 0 or -1 (printed).  Does nothing when not open.
 */
int outdir_hlog_close(struct outdir *o, bool keep);

/* True once any write failed. */
bool outdir_failed(const struct outdir *o);

/*
 * Prints, on one line, the files that exist now because this run wrote
 * them: "wrote DIR/{result.json,steps.csv}" or "wrote nothing to DIR".
 * Nothing without a dir.
 */
void outdir_list(const struct outdir *o, FILE *f);

/* Closes what is still open (the interval log is removed, not kept). */
void outdir_close(struct outdir *o);

#endif
