/*
 * run_args.h - `kneecap run`'s command line (run_args.c).
 */
#ifndef KNEECAP_CLI_RUN_ARGS_H
#define KNEECAP_CLI_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shard.h"

#include "kneecap/engine.h"
#include "kneecap/sagemaker.h"
#include "kneecap/schedule.h"

#define MAX_HEADERS KC_ENGINE_MAX_HEADERS

/* Everything run's flags set, checked against each other and the TARGET. */
struct run_opts {
	const char *target;
	double rate;
	bool have_rate;
	int64_t concurrency;
	const char *ramp_text;
	struct kc_ramp ramp;
	const char *linear_text;
	double linear_from, linear_to;
	int64_t duration_ns, step_duration_ns, warmup_ns;
	bool have_duration, have_step_duration;
	enum kc_arrival arrival;
	uint64_t seed;
	int64_t threads, connections, streams, max_inflight;
	enum kc_http_version http;
	int64_t timeout_ns, connect_timeout_ns, release_slack_ns;
	bool release_slack_given; /* else the engine's automatic slack */
	bool insecure;
	const char *cacert;
	const char *method;
	const char *headers[MAX_HEADERS];
	size_t nheaders;
	const char *body_file;
	const char *payload;      /* "jpeg": the synthetic pool */
	const char *payload_dir;
	const char *region, *profile, *endpoint_url; /* sagemaker: targets */
	struct kc_sm_opts sm;     /* --accept, --target-model, ... (content type below) */
	bool fips, dualstack;
	bool response_stream;
	const char *content_type;
	const char *out_dir;
	bool json, quiet;
	int verbose;
	double max_error_rate;    /* fraction; default 0.01 */
	double max_p_ms[3];       /* --max-p50, --max-p90, --max-p99; 0 = none */
	enum kc_client client;
	const char *proxy, *client_cert, *client_key;
	struct cli_shard shard;   /* --shard, --shards, --start-at */
	const char *run_id, *start_at_text;
};

/*
 * Parses argv into o (defaults first), checks what goes with what and slices
 * a shard's share.  Returns -1 to go on, or an exit status (KC_EXIT_OK after
 * --help).
 */
int run_parse_args(struct run_opts *o, int argc, char **argv);

#endif
