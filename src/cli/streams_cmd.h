/*
 * streams_cmd.h - the pieces of `kneecap streams` (cli layer only):
 * streams_args.c reads the flags and the scenario, streams_driver.c builds
 * the target and the stream driver, streams_out.c writes the results, and
 * cmd_streams.c runs the probe and the search (or the shard ladder).
 */
#ifndef KC_CLI_STREAMS_CMD_H
#define KC_CLI_STREAMS_CMD_H

#include "cli.h"
#include "opts.h"
#include "outdir.h"
#include "runout.h"
#include "shard.h"

#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "kc_config.h"
#include "kneecap/bidi.h"
#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/creds.h"
#include "kneecap/emulator.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "kneecap/log.h"
#include "kneecap/knee.h"
#include "kneecap/parse.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/sagemaker.h"
#include "kneecap/schedule.h"
#include "kneecap/result.h"
#include "kneecap/scenario.h"
#include "kneecap/search.h"
#include "kneecap/streams.h"
#include "kneecap/url.h"

/* The first stream's bound, as run's and find's probe. */
#define PROBE_NS (5 * KC_NS_PER_S)
#define FAKE_AKID "AKIDKNEECAPEMULATOR"
#define FAKE_SECRET "kneecap-emulator-secret-not-a-real-key"

struct opts {
	const char *scenario, *target;
	const char *limit, *statistic, *start, *max, *step_duration, *warmup;
	const char *chunk_bytes, *chunk_interval, *audio, *threads, *per_conn;
	const char *region, *endpoint_url, *invocation_path, *query_string, *profile;
	const char *cacert, *instance_type, *out_dir, *capture;
	const char *reply_match, *audio_rate, *close_message, *connect_timeout, *timeout;
	const char *rec_flags[CLI_REC_FLAGS]; /* the recommendation's, as scenario keys */
	const char *user_headers[8]; /* -H lines */
	size_t nuser_headers;
	bool insecure, json, emulator_tls;
	bool fips, dualstack;        /* endpoint variants (flags or [target] keys) */
	int verbose, quiet;
	/* --shard: a fixed ladder of stream counts instead of the search */
	struct cli_shard shard;
	const char *ramp_text, *run_id, *start_at_text;
	struct kc_ramp ramp;
};

struct run {
	struct opts o;
	struct kc_scenario *sc;
	struct kc_search_cfg scfg;
	struct kc_recommend_cfg rcfg;
	struct kc_emu_profile emu;
	struct kc_bidi_profile bp;
	struct kc_bidi *bidi;
	char cert_path[256];      /* the emulator's certificate (TLS), removed at exit */
	char url[2048], authority[300];
	const char *headers[16];
	char hdr_lines[16][2200];
	size_t nheaders;
	const char *akid, *secret, *token, *region;
	struct kc_creds_provider *creds; /* sagemaker: targets: the refreshing chain */
	char region_buf[64];
	struct kc_buf audio;
	bool have_audio;
	struct kc_streams_config stc;
	struct kc_streams *st;
	/* results */
	struct kc_step_result steps[KC_SEARCH_MAX_STEPS];
	struct kc_streams_info infos[KC_SEARCH_MAX_STEPS];
	size_t nsteps;
	struct outdir out;
};

/* Prints "streams: --opt 'val': why" and returns KC_EXIT_USAGE. */
int streams_bad(const char *opt, const char *val, const char *why);
/* Reads argv into o.  0 to go on, -1 after --help, or an exit status. */
int streams_parse_args(struct opts *o, int argc, char **argv);
/* Parses an optional count flag v into *out within [lo, hi]; 0 or KC_EXIT_USAGE. */
int streams_opt_u32(const char *name, const char *v, int64_t lo, int64_t hi, uint32_t *out);
/* Parses an optional duration flag v (units required) into *out, at least lo. */
int streams_opt_dur(const char *name, const char *v, int64_t lo, int64_t *out);
/* Reads the scenario and the search flags into r.  0 or an exit status. */
int streams_load_config(struct run *r);
/* Points r at its target (URL, credentials, region) or starts the emulator. */
int streams_setup_target(struct run *r);
/* Builds the stream driver r->st from the flags.  0 or an exit status. */
int streams_build_driver(struct run *r);
/* The streams-only block of result.json. */
json_t *streams_json(const struct run *r);
/* The config block of result.json. */
json_t *streams_config_json(const struct run *r);
/* The steps table for the terminal. */
void streams_print_steps(FILE *f, const struct run *r);
/* Knee, recommendation and every output file of a finished search. */
int streams_finish(struct run *r, const struct kc_search *srch, int64_t started_ms);

#endif
