/*
 * cmd_run.c - `kneecap run`: fixed or ramped load against one HTTP target,
 * open loop (--rate, --ramp) or closed loop (--concurrency), with live
 * progress on stderr, a summary table on stdout and, with --out DIR,
 * result.json, steps.csv and latency.hlog.
 *
 * This file composes (run_args.c reads the command line): the engine
 * measures, report/ renders.
 * SIGINT/SIGTERM stop the load within about 100 ms; whatever was measured
 * is still written, marked "partial".
 */
#include "cli.h"
#include "opts.h"
#include "outdir.h"
#include "run_args.h"
#include "runout.h"
#include "shard.h"
#include "target.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/hdr.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/sagemaker.h"
#include "kneecap/jpeg.h"
#include "kneecap/pool.h"
#include "kneecap/result.h"
#include "kneecap/schedule.h"

static const char *const pct_names[3] = {"p50", "p90", "p99"};

/* ---- outputs ---- */

static json_t *config_json(const struct run_opts *o, struct kc_engine *e,
			   const struct kc_pool *pool)
{
	json_t *names = json_array();
	for (size_t i = 0; i < o->nheaders; i++) {
		/* Header names only: values may carry tokens. */
		const char *colon = strchr(o->headers[i], ':');
		json_array_append_new(names, json_stringn(o->headers[i],
							  colon ? (size_t)(colon - o->headers[i]) : 0));
	}
	const char *load = o->have_rate ? "rate"
			   : o->concurrency ? "concurrency"
			   : o->linear_text ? "linear" : "ramp";
	json_t *cfg = json_pack(
		"{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:f,s:f,s:f,s:s,s:s,s:o,s:s?,s:I,"
		"s:b,s:s,s:{s:s,s:I,s:I,s:i}}",
		"target", o->target, "load", load, "arrival", kc_arrival_name(o->arrival),
		"threads", (json_int_t)kc_engine_threads(e),
		"connections_per_thread", (json_int_t)kc_engine_connections(e),
		"slots_per_thread", (json_int_t)kc_engine_slots(e),
		"max_inflight", (json_int_t)kc_engine_max_inflight(e),
		"seed", (json_int_t)o->seed, "http", kc_http_version_name(o->http),
		"concurrency", (json_int_t)o->concurrency,
		"warmup_s", (double)o->warmup_ns / 1e9,
		"timeout_s", (double)(o->timeout_ns ? o->timeout_ns : 30 * KC_NS_PER_S) / 1e9,
		"connect_timeout_s",
		(double)(o->connect_timeout_ns ? o->connect_timeout_ns : 5 * KC_NS_PER_S) / 1e9,
		"method", o->method ? o->method : (pool ? "POST" : "GET"),
		"latency_from", "intended send time (coordinated-omission corrected); "
				"service_ms from the actual send",
		"header_names", names, "body_file", o->body_file, "bodies", (json_int_t)0,
		"tls_verify", !o->insecure, "ramp", o->ramp_text ? o->ramp_text : "",
		"histogram", "unit", "us", "lowest", (json_int_t)KC_ENGINE_HDR_LOWEST, "highest",
		(json_int_t)KC_ENGINE_HDR_HIGHEST, "sigfigs", KC_ENGINE_HDR_SIGFIGS);
	if (cfg && o->have_rate)
		json_object_set_new(cfg, "rate", json_real(o->rate));
	if (cfg && pool) {
		struct kc_pool_summary ps;
		kc_pool_summary(pool, &ps);
		json_object_set_new(cfg, "bodies", json_integer((json_int_t)ps.count));
		json_object_set_new(cfg, "payload",
				    json_pack("{s:s,s:I,s:f,s:I,s:I,s:s,s:s?}", "source", ps.source,
					      "count", (json_int_t)ps.count, "bytes_mean", ps.bytes_mean,
					      "bytes_min", (json_int_t)ps.bytes_min, "bytes_max",
					      (json_int_t)ps.bytes_max, "content_type", ps.content_type,
					      "dir", o->payload_dir));
	}
	if (cfg && o->endpoint_url)
		json_object_set_new(cfg, "endpoint_url", json_string(o->endpoint_url));
	if (cfg && o->region)
		json_object_set_new(cfg, "region", json_string(o->region));
	if (cfg && o->response_stream)
		json_object_set_new(cfg, "response_stream", json_true());
	if (cfg)
		json_object_set_new(cfg, "client", json_string(kc_engine_client(e)));
	if (cfg && o->release_slack_given && o->release_slack_ns)
		json_object_set_new(cfg, "release_slack_ms", json_real((double)o->release_slack_ns / 1e6));
	else if (cfg && !o->release_slack_given)
		/* each step's result says the slack it used (release_slack_ms) */
		json_object_set_new(cfg, "release_slack", json_string("auto"));
	if (cfg && o->linear_text)
		json_object_set_new(cfg, "linear", json_pack("{s:f,s:f}", "from", o->linear_from,
							      "to", o->linear_to));
	if (cfg)
		json_object_set_new(cfg, "step_duration_s",
				    json_real((double)(o->ramp_text ? o->step_duration_ns
								    : o->duration_ns) / 1e9));
	return cfg;
}

/*
 * What every shard of one run must share (merge compares it whole): the
 * load as a total over the shards, and what each request is.  NULL when
 * out of memory.
 */
static json_t *shard_config(const struct run_opts *o, const struct kc_pool *pool)
{
	json_t *cfg = json_pack(
		"{s:s,s:s,s:s?,s:f,s:s?,s:s,s:f,s:f,s:f,s:s?,s:s,s:s?,s:s?,s:b,s:f,s:I}",
		"target", o->target,
		"load", o->have_rate ? "rate" : o->concurrency ? "concurrency"
			: o->linear_text ? "linear" : "ramp",
		"ramp", o->ramp_text, "rate", o->have_rate ? o->rate : 0.0,
		"linear", o->linear_text, "arrival", kc_arrival_name(o->arrival),
		"warmup_s", (double)o->warmup_ns / 1e9,
		"step_duration_s",
		(double)(o->ramp_text ? o->step_duration_ns : o->duration_ns) / 1e9,
		"max_error_rate", o->max_error_rate, "method", o->method,
		"http", kc_http_version_name(o->http), "body_file", o->body_file,
		"payload_dir", o->payload_dir, "payload", pool != NULL,
		"timeout_s", (double)(o->timeout_ns ? o->timeout_ns : 30 * KC_NS_PER_S) / 1e9,
		"seed", (json_int_t)o->seed);
	/* run builds the synthetic pool from the factory's defaults (load_payload). */
	struct kc_jpeg_opts jo;
	kc_jpeg_opts_default(&jo);
	struct cli_shard_request rq = {
		.headers = o->headers, .nheaders = o->nheaders, .content_type = o->content_type,
		.response_stream = o->response_stream, .fips = o->fips, .dualstack = o->dualstack,
		.region = o->region, .endpoint_url = o->endpoint_url, .sm = &o->sm, .pool = pool,
		.jpeg = pool && o->payload && !o->body_file && !o->payload_dir ? &jo : NULL};
	if (cfg && cli_shard_add_request(cfg, &rq)) {
		json_decref(cfg);
		return NULL;
	}
	return cfg;
}

/*
 * Judges every step against the thresholds, printing one line per failure.
 * Adds "thresholds" to extra.  Returns true when all held.
 */
static bool check_thresholds(const struct run_opts *o, const struct kc_step_result *steps,
			     size_t n, json_t *extra)
{
	bool pass = true;
	json_t *failed = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct kc_step_result *s = &steps[i];
		double finished = (double)s->ok + (double)s->errors;
		double rate = finished > 0 ? (double)s->errors / finished : 0;
		char why[256];
		if (rate > o->max_error_rate) {
			snprintf(why, sizeof(why),
				 "step %zu: error rate %.2f%% (%llu of %.0f) above --max-error-rate %g%%",
				 i + 1, rate * 100, (unsigned long long)s->errors, finished,
				 o->max_error_rate * 100);
			cli_error("run: %s", why);
			json_array_append_new(failed, json_string(why));
			pass = false;
		}
		const double got[3] = {s->latency.p50, s->latency.p90, s->latency.p99};
		for (int k = 0; k < 3; k++) {
			if (o->max_p_ms[k] > 0 && got[k] > o->max_p_ms[k]) {
				snprintf(why, sizeof(why), "step %zu: %s %.2f ms above --max-%s %g ms",
					 i + 1, pct_names[k], got[k], pct_names[k], o->max_p_ms[k]);
				cli_error("run: %s", why);
				json_array_append_new(failed, json_string(why));
				pass = false;
			}
		}
	}
	json_t *t = json_pack("{s:f,s:b,s:o}", "max_error_rate", o->max_error_rate, "passed", pass,
			      "failed", failed);
	for (int k = 0; t && k < 3; k++) {
		char key[16];
		snprintf(key, sizeof(key), "max_%s_ms", pct_names[k]);
		if (o->max_p_ms[k] > 0)
			json_object_set_new(t, key, json_real(o->max_p_ms[k]));
	}
	json_object_set_new(extra, "thresholds", t);
	return pass;
}

/* result.json and steps.csv into out, then the document or the table on stdout. */
static void write_outputs(const struct run_opts *o, struct outdir *out, struct kc_result *res)
{
	outdir_write_result(out, res, o->json, NULL, NULL);
	if (!o->json)
		runout_print_table(stdout, res->steps, res->nsteps, "offered");
	outdir_list(out, o->json ? stderr : stdout);
	fflush(stdout);
}

/* ---- the command ---- */

/*
 * Builds the payload pool a body option asks for (none: *pool stays NULL)
 * and the engine's view of it: one struct kc_body per entry, borrowed from
 * the pool, built once here so requests never copy or hash.  Returns -1 or
 * an exit status.
 */
static int load_payload(const struct run_opts *o, struct kc_pool **pool, struct kc_body **bodies,
			size_t *nbodies)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = 0;
	const char *what = "--body";
	if (o->body_file) {
		rc = kc_pool_load_body(pool, o->body_file, o->content_type, &d);
	} else if (o->payload_dir) {
		what = "--payload-dir";
		rc = kc_pool_load_dir(pool, o->payload_dir, &d);
	} else if (o->payload) {
		what = "--payload jpeg";
		struct kc_jpeg_opts jo;
		kc_jpeg_opts_default(&jo);
		rc = kc_pool_new_jpeg(pool, &jo, &d);
	} else {
		return -1;
	}
	if (rc) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "run: %s", what);
		cli_diag_error(prefix, &d);
		return KC_EXIT_USAGE;
	}
	/* --content-type with a sagemaker: TARGET: every body is sent as that type */
	const char *ct = kc_sagemaker_is_target(o->target) ? o->content_type : NULL;
	if (runout_pool_bodies(*pool, ct, bodies, nbodies)) {
		cli_error("run: out of memory");
		return KC_EXIT_INTERNAL;
	}
	return -1;
}

/*
 * Makes the engine and checks the target answers.  --connections is the
 * total over threads (as wrk's -c); closed loop defaults to one connection
 * per outstanding request.  Returns -1 with *out set, or an exit status.
 */
static int make_engine(const struct run_opts *o, const struct kc_body *bodies, size_t nbodies,
		       struct cli_target *t, struct kc_engine **out)
{
	uint32_t threads = (uint32_t)o->threads;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (uint32_t)n : 1;
	}
	int64_t total = o->connections ? o->connections : o->concurrency;
	uint32_t conns = 0;
	if (total) {
		if ((uint64_t)total < threads)
			threads = (uint32_t)total; /* at least one connection per thread */
		conns = (uint32_t)((total + threads - 1) / threads);
	}
	struct kc_diag d;
	kc_diag_clear(&d);
	struct cli_target_opts to = {.region = o->region, .profile = o->profile,
				     .endpoint_url = o->endpoint_url, .sm = o->sm,
				     .response_stream = o->response_stream, .fips = o->fips,
				     .dualstack = o->dualstack};
	/* a sagemaker: TARGET sends --content-type with every body (the
	 * synthetic JPEGs too); with --body it is that body's type anyway */
	if (kc_sagemaker_is_target(o->target))
		to.sm.content_type = o->content_type;
	if (cli_target_open(t, o->target, &to, threads, &d)) {
		cli_diag_error("run", &d);
		return KC_EXIT_USAGE;
	}
	/* The user's -H lines, then the target's own (SageMaker's headers). */
	const char *headers[MAX_HEADERS];
	size_t nheaders = 0;
	for (size_t i = 0; i < o->nheaders && nheaders < MAX_HEADERS; i++)
		headers[nheaders++] = o->headers[i];
	for (int i = 0; i < t->nheaders && nheaders < MAX_HEADERS; i++)
		headers[nheaders++] = t->headers[i];
	struct kc_engine_config cfg = {
		.method = t->sagemaker ? "POST" : o->method,
		.headers = headers, .nheaders = nheaders,
		.bodies = bodies, .nbodies = nbodies,
		/* Neither given: the engine's defaults, shrunk to fit ulimit -n. */
		.threads = o->threads || total ? threads : 0, .connections = conns,
		.streams_per_connection = (uint32_t)o->streams, .http = o->http,
		.client = o->client, .proxy = o->proxy, .release_slack_ns = o->release_slack_given ? o->release_slack_ns : KC_RELEASE_SLACK_AUTO,
		.client_cert = o->client_cert, .client_key = o->client_key,
		.insecure = o->insecure, .cacert = o->cacert,
		.connect_timeout_ns = o->connect_timeout_ns, .request_timeout_ns = o->timeout_ns,
		.max_inflight = (uint32_t)o->max_inflight,
	};
	cli_target_apply(t, &cfg);
	struct kc_engine *e = NULL;
	if (kc_engine_new(&e, &cfg, &d)) {
		cli_diag_error("run", &d);
		return KC_EXIT_USAGE;
	}
	uint64_t slots = (uint64_t)kc_engine_threads(e) * kc_engine_slots(e);
	if ((uint64_t)o->concurrency > slots) {
		cli_error("run: --concurrency %lld needs that many connections (have %llu); "
			  "raise --connections", (long long)o->concurrency, (unsigned long long)slots);
		kc_engine_free(e);
		return KC_EXIT_USAGE;
	}
	int status = runout_probe(e, "run");
	if (status) {
		kc_engine_free(e);
		return status;
	}
	*out = e;
	return -1;
}

/* The steps: run's load as a ladder of one or more rungs, on the shard's clock. */
static int run_steps(struct kc_engine *e, const struct run_opts *o, struct runout *ctx,
		     struct kc_step_result *steps, size_t nsteps, size_t *done, bool *stopped)
{
	struct cli_ladder l = {
		.shard = &o->shard, .ramp = o->ramp_text ? &o->ramp : NULL,
		.start_at_text = o->start_at_text,
		.base = {
			.mode = o->concurrency ? KC_STEP_CONCURRENCY : KC_STEP_RATE,
			.rate_rps = o->linear_text ? o->linear_from : o->rate,
			.rate_end_rps = o->linear_text ? o->linear_to : 0,
			.concurrency = (uint32_t)o->concurrency,
			.duration_ns = o->ramp_text ? o->step_duration_ns : o->duration_ns,
			.warmup_ns = o->warmup_ns,
			.arrival = o->arrival,
			.seed = o->seed,
		},
	};
	return cli_shard_run_steps(e, &l, ctx, steps, nsteps, done, stopped);
}

int kc_cmd_run(int argc, char **argv)
{
	struct run_opts o;
	memset(&o, 0, sizeof(o));
	int status = run_parse_args(&o, argc, argv);
	if (status >= 0)
		return status;
	cli_log_init(o.verbose, o.quiet);
	struct outdir out;
	if ((status = outdir_open(&out, "run", o.out_dir)) != 0)
		return status;
	/* From here on a signal is a request for partial results, never a kill. */
	runout_catch_signals();
	struct kc_pool *pool = NULL;
	struct kc_body *bodies = NULL;
	size_t nbodies = 0;
	struct kc_engine *e = NULL;
	struct cli_target t;
	memset(&t, 0, sizeof(t));
	if ((status = load_payload(&o, &pool, &bodies, &nbodies)) >= 0 ||
	    (status = make_engine(&o, bodies, nbodies, &t, &e)) >= 0)
		goto out_body;

	if (o.shard.on || o.shard.have_start_at)
		cli_shard_clock_offset(&o.shard, o.target, o.insecure, o.cacert);
	size_t nsteps = o.ramp_text ? o.ramp.nsteps : 1;
	struct kc_step_result *steps = calloc(nsteps, sizeof(*steps));
	if (!steps) {
		cli_error("run: out of memory");
		status = KC_EXIT_INTERNAL;
		goto out_engine;
	}
	struct runout ctx;
	runout_init(&ctx, "run", &out, o.quiet);
	ctx.engine = e;
	struct kc_result_env env;
	runout_env_detect(&env);
	if (outdir_hlog_open(&out, env.started_wall_ms)) {
		status = KC_EXIT_WRITE;
		goto out_steps;
	}
	size_t done = 0;
	bool stopped = false;
	runout_set_stop(runout_stop_engine, e);
	status = run_steps(e, &o, &ctx, steps, nsteps, &done, &stopped);
	int sig = runout_caught_signal();
	if (sig && !o.quiet)
		fprintf(stderr, "kneecap: interrupted (%s): writing partial results\n",
			runout_signal_name(sig));
	if (t.sagemaker)
		runout_sagemaker_hints("run", steps, done);
	/* A log is kept only for a run that ended its own way or by a signal. */
	outdir_hlog_close(&out, true);
	json_t *config = config_json(&o, e, pool);
	json_t *extra = json_object();
	bool pass = check_thresholds(&o, steps, done, extra);
	if (o.shard.on || o.shard.have_start_at)
		json_object_set_new(extra, "shard", cli_shard_json(&o.shard, shard_config(&o, pool),
								    steps, done));
	struct kc_result res = {
		.mode = "rps", .target = o.target, .config = config, .env = env,
		.steps = steps, .nsteps = done, .partial = stopped || sig,
		.interrupted = runout_signal_name(sig), .extra = extra,
		.incomplete = outdir_failed(&out) ? out.failed : NULL,
	};
	if (done > 0 || sig)
		write_outputs(&o, &out, &res);
	else
		outdir_list(&out, o.json ? stderr : stdout);
	runout_set_stop(NULL, NULL);
	json_decref(config);
	json_decref(extra);
	if (status < 0 && done > 0 && !stopped && runout_all_connect_errors(steps, done)) {
		cli_error("run: no request reached the target (all connect errors)");
		status = KC_EXIT_UNREACHABLE;
	}
	if (status < 0)
		status = pass ? KC_EXIT_OK : KC_EXIT_THRESHOLD;
	/* sig as the files say it: a signal while they were written finds them whole. */
	status = runout_exit_status(&out, sig, status);
out_steps:
	for (size_t i = 0; i < nsteps; i++)
		kc_step_result_fini(&steps[i]);
	free(steps);
out_engine:
	kc_engine_free(e);
out_body:
	runout_release_signals();
	outdir_close(&out);
	cli_target_close(&t);
	free(bodies);
	kc_pool_free(pool);
	return status;
}
