/*
 * cmd_run.c - `kneecap run`: fixed or ramped load against one HTTP target,
 * open loop (--rate, --ramp) or closed loop (--concurrency), with live
 * progress on stderr, a summary table on stdout and, with --out DIR,
 * result.json, steps.csv and latency.hlog.
 *
 * This file parses and composes: the engine measures, report/ renders.
 * SIGINT/SIGTERM stop the load within about 100 ms; whatever was measured
 * is still written, marked "partial".
 */
#include "cli.h"
#include "opts.h"
#include "outdir.h"
#include "runout.h"
#include "shard.h"
#include "target.h"
#include "kc_config.h"

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
#include "kneecap/url.h"

static const char usage_head[] =
	"usage: kneecap run TARGET --rate R | --concurrency N | --ramp A:B:STEP [options]\n"
	"\n"
	"Drive fixed or ramped load against a target and report latency per step.\n"
	"Open loop by default: requests leave on schedule whether or not earlier\n"
	"ones returned, and latency counts from the intended send time.  Give exactly\n"
	"one of --rate, --ramp, --linear or --concurrency.  TARGET is http(s)://...\n"
	"or sagemaker:ENDPOINT[/VARIANT] (SigV4-signed POSTs, body --payload jpeg by\n"
	"default).  Thresholds (--max-error-rate, --max-p50/90/99) are checked on\n"
	"every step; a failed one exits 1.\n"
	"\n";

static const char usage_tail[] =
	"\n"
	"Examples:\n"
	"  kneecap run http://127.0.0.1:8080/predict --rate 200 --duration 30s \\\n"
	"      -H 'Authorization: Bearer T' --body req.json --max-p99 250ms\n"
	"  kneecap run sagemaker:my-endpoint --ramp 10:100:10 --step-duration 20s \\\n"
	"      --region us-east-1 --out results/\n"
	"\n"
	"exit status:\n"
	"  0    ok: every step within the thresholds\n"
	"  1    the run completed but a threshold failed (error rate, latency)\n"
	"  2    bad usage or input\n"
	"  3    the target could not be reached at all\n"
	"  4    results could not be written, stdout included (the reason is\n"
	"       printed; result.json, when it could still be written, says\n"
	"       \"incomplete\")\n"
	"  5    kneecap itself failed during the run (cannot start threads, out of\n"
	"       memory): the steps measured before are written\n"
	"  130  interrupted by SIGINT, 143 by SIGTERM: what was measured is written,\n"
	"       marked \"partial\"\n";

#define MAX_HEADERS KC_ENGINE_MAX_HEADERS

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
	bool insecure;
	const char *cacert;
	const char *method;
	const char *headers[MAX_HEADERS];
	size_t nheaders;
	const char *body_file;
	const char *payload;      /* "jpeg": the synthetic pool */
	const char *payload_dir;
	const char *region, *profile, *endpoint_url; /* sagemaker: targets */
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

static const char *const pct_names[3] = {"p50", "p90", "p99"};


static int bad(const char *opt, const char *val, const char *why)
{
	cli_error("run: %s '%s': %s", opt, val ? val : "", why);
	return KC_EXIT_USAGE;
}

/* --help: the table's options with their defaults, framed by run's own words. */
static void print_usage(FILE *f)
{
	fputs(usage_head, f);
	cli_opts_help(f, CLI_RUN);
	fputs(usage_tail, f);
}

/* Stores one parsed option.  Returns -1 to go on, or an exit status. */
static int parse_one(struct run_opts *o, const struct cli_opt *opt, const char *arg)
{
	struct cli_val v;
	if (!(opt->cmds & CLI_RUN))
		return cli_opt_refuse(CLI_RUN, opt);
	if (cli_opt_value(CLI_RUN, opt, arg, &v))
		return KC_EXIT_USAGE;
	struct kc_diag d;
	switch (opt->id) {
	case CLI_O_RATE:
		o->rate = v.f;
		o->have_rate = true;
		break;
	case CLI_O_CONCURRENCY:
		o->concurrency = v.i;
		break;
	case CLI_O_RAMP:
		kc_diag_clear(&d);
		if (kc_ramp_parse(arg, &o->ramp, &d)) {
			cli_error("run: --%s", d.msg);
			return KC_EXIT_USAGE;
		}
		if (o->ramp.to > KC_ENGINE_MAX_RATE)
			return bad("--ramp", arg, "rates must be at most 10000000 requests per second");
		o->ramp_text = arg;
		break;
	case CLI_O_LINEAR: {
		char tmp[64];
		const char *colon = strchr(arg, ':');
		if (!colon || (size_t)(colon - arg) >= sizeof(tmp))
			return bad("--linear", arg, "expected A:B, e.g. 100:1000");
		memcpy(tmp, arg, (size_t)(colon - arg));
		tmp[colon - arg] = '\0';
		if (cli_parse_rate(CLI_RUN, "--linear", tmp, &o->linear_from) ||
		    cli_parse_rate(CLI_RUN, "--linear", colon + 1, &o->linear_to))
			return KC_EXIT_USAGE;
		o->linear_text = arg;
		break;
	}
	case CLI_O_DURATION:
		o->duration_ns = v.i;
		o->have_duration = true;
		break;
	case CLI_O_STEP_DURATION:
		o->step_duration_ns = v.i;
		o->have_step_duration = true;
		break;
	case CLI_O_WARMUP:
		o->warmup_ns = v.i;
		break;
	case CLI_O_ARRIVAL:
		if (kc_arrival_parse(arg, &o->arrival))
			return bad("--arrival", arg, "must be uniform or poisson");
		break;
	case CLI_O_SEED:
		o->seed = (uint64_t)v.i;
		break;
	case CLI_O_THREADS:
		o->threads = v.i;
		break;
	case CLI_O_CONNECTIONS:
		o->connections = v.i;
		break;
	case CLI_O_STREAMS:
		o->streams = v.i;
		break;
	case CLI_O_MAX_INFLIGHT:
		o->max_inflight = v.i;
		break;
	case CLI_O_HTTP:
		if (kc_http_version_parse(arg, &o->http))
			return bad("--http", arg, "must be 1.1, 2 or h2c");
		break;
	case CLI_O_CLIENT:
		if (kc_client_parse(arg, &o->client))
			return bad("--client", arg, "must be native or curl");
		break;
	case CLI_O_PROXY:
		o->proxy = arg;
		break;
	case CLI_O_RELEASE_SLACK:
		o->release_slack_ns = v.i;
		break;
	case CLI_O_CERT:
		o->client_cert = arg;
		break;
	case CLI_O_KEY:
		o->client_key = arg;
		break;
	case CLI_O_TIMEOUT:
		o->timeout_ns = v.i;
		break;
	case CLI_O_CONNECT_TIMEOUT:
		o->connect_timeout_ns = v.i;
		break;
	case CLI_O_INSECURE:
		o->insecure = true;
		break;
	case CLI_O_CACERT:
		o->cacert = arg;
		break;
	case CLI_O_METHOD:
		o->method = arg;
		break;
	case CLI_O_HEADER:
		if (o->nheaders >= MAX_HEADERS)
			return bad("-H", arg, "too many headers (at most 64)");
		o->headers[o->nheaders++] = arg;
		break;
	case CLI_O_BODY:
		o->body_file = arg;
		break;
	case CLI_O_PAYLOAD:
		if (strcmp(arg, "jpeg") != 0)
			return bad("--payload", arg, "the only synthetic payload is 'jpeg'");
		o->payload = arg;
		break;
	case CLI_O_PAYLOAD_DIR:
		o->payload_dir = arg;
		break;
	case CLI_O_REGION:
		o->region = arg;
		break;
	case CLI_O_PROFILE:
		o->profile = arg;
		break;
	case CLI_O_ENDPOINT_URL:
		o->endpoint_url = arg;
		break;
	case CLI_O_RESPONSE_STREAM:
		o->response_stream = true;
		break;
	case CLI_O_CONTENT_TYPE:
		o->content_type = arg;
		break;
	case CLI_O_OUT:
		o->out_dir = arg;
		break;
	case CLI_O_MAX_ERROR_RATE: {
		char num[64];
		size_t len = strlen(arg);
		bool pct = len > 0 && arg[len - 1] == '%';
		if (len == 0 || len >= sizeof(num))
			return bad("--max-error-rate", arg, "expected a fraction or a percentage");
		memcpy(num, arg, len - pct);
		num[len - pct] = '\0';
		double frac;
		if (kc_parse_double(num, 0, pct ? 100 : 1, &frac))
			return bad("--max-error-rate", arg,
				   "expected a fraction in 0..1 or a percentage in 0%..100%");
		o->max_error_rate = pct ? frac / 100 : frac;
		break;
	}
	case CLI_O_MAX_P50:
	case CLI_O_MAX_P90:
	case CLI_O_MAX_P99:
		o->max_p_ms[opt->id - CLI_O_MAX_P50] = (double)v.i / 1e6;
		break;
	case CLI_O_SHARD:
		if (cli_shard_parse(&o->shard, arg))
			return KC_EXIT_USAGE;
		break;
	case CLI_O_SHARDS:
		if (cli_shard_parse_count(&o->shard, v.i))
			return KC_EXIT_USAGE;
		break;
	case CLI_O_START_AT:
		if (cli_shard_parse_start_at(&o->shard, arg))
			return KC_EXIT_USAGE;
		o->start_at_text = arg;
		break;
	case CLI_O_RUN_ID:
		if (!*arg || strlen(arg) >= sizeof(o->shard.run_id))
			return bad("--run-id", arg, "must be 1..127 characters");
		o->run_id = arg;
		break;
	case CLI_O_JSON:
		o->json = true;
		break;
	case CLI_O_QUIET:
		o->quiet = true;
		break;
	case CLI_O_VERBOSE:
		o->verbose++;
		break;
	default:
		return cli_opt_refuse(CLI_RUN, opt);
	}
	return -1;
}

static int parse_args(struct run_opts *o, int argc, char **argv)
{
	o->duration_ns = 30 * KC_NS_PER_S;
	o->step_duration_ns = 10 * KC_NS_PER_S;
	o->seed = 1;
	o->max_error_rate = 0.01;
	struct option longopts[96];
	char shortopts[32];
	if (cli_opts_getopt(CLI_RUN, longopts, sizeof(longopts) / sizeof(longopts[0]), shortopts,
			    sizeof(shortopts))) {
		cli_error("run: option table too large");
		return KC_EXIT_USAGE;
	}
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			const char *name = argv[optind - 1];
			cli_error("run: %s '%s' (see kneecap run --help)",
				  c == ':' ? "missing value for" : "bad option", name);
			return KC_EXIT_USAGE;
		}
		const struct cli_opt *opt = c < 256 ? cli_opt_lookup(NULL, (char)c) : cli_opt_by_id(c);
		if (opt && opt->id == CLI_O_HELP) {
			print_usage(stdout);
			return KC_EXIT_OK;
		}
		int rc = opt ? parse_one(o, opt, optarg) : KC_EXIT_USAGE;
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc) {
		cli_error("run: no TARGET (e.g. kneecap run http://127.0.0.1:8080/ --rate 100)");
		return KC_EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		cli_error("run: unexpected argument '%s' after TARGET", argv[optind + 1]);
		return KC_EXIT_USAGE;
	}
	o->target = argv[optind];
	int modes = o->have_rate + (o->concurrency > 0) + (o->ramp_text != NULL) +
		    (o->linear_text != NULL);
	if (modes != 1) {
		cli_error("run: give exactly one of --rate, --concurrency, --ramp or --linear");
		return KC_EXIT_USAGE;
	}
	if (o->ramp_text && o->have_duration) {
		cli_error("run: with --ramp, each step lasts --step-duration (not --duration)");
		return KC_EXIT_USAGE;
	}
	if (!o->ramp_text && o->have_step_duration) {
		cli_error("run: --step-duration goes with --ramp; use --duration");
		return KC_EXIT_USAGE;
	}
	bool sm = kc_sagemaker_is_target(o->target);
	if (!sm && (o->region || o->profile || o->endpoint_url)) {
		cli_error("run: --region, --profile and --endpoint-url go with a sagemaker: TARGET");
		return KC_EXIT_USAGE;
	}
	if (!sm && o->response_stream) {
		cli_error("run: --response-stream goes with a sagemaker: TARGET "
			  "(InvokeEndpointWithResponseStream)");
		return KC_EXIT_USAGE;
	}
	if (sm) {
		if (o->method && strcmp(o->method, "POST")) {
			cli_error("run: a sagemaker: TARGET is invoked with POST");
			return KC_EXIT_USAGE;
		}
		if (!o->body_file && !o->payload_dir)
			o->payload = "jpeg";
	} else if (!kc_url_is_http(o->target)) {
		cli_error("run: bad TARGET '%s': expected http://HOST[:PORT]/PATH or https://...",
			  o->target);
		return KC_EXIT_USAGE;
	}
	if ((o->body_file != NULL) + (o->payload != NULL) + (o->payload_dir != NULL) > 1) {
		cli_error("run: give at most one of --body, --payload or --payload-dir");
		return KC_EXIT_USAGE;
	}
	if (o->content_type && !o->body_file) {
		cli_error("run: --content-type needs --body");
		return KC_EXIT_USAGE;
	}
	cli_shard_finish(&o->shard, o->run_id, o->ramp_text ? o->step_duration_ns : o->duration_ns,
			 o->warmup_ns);
	if (o->shard.on) {
		/* This process's slice of the pool; the rate is sliced per step. */
		if (o->concurrency && o->concurrency < o->shard.count) {
			cli_error("run: --concurrency %lld cannot be split over %d shards",
				  (long long)o->concurrency, o->shard.count);
			return KC_EXIT_USAGE;
		}
		o->concurrency = cli_shard_part(&o->shard, o->concurrency);
		o->connections = cli_shard_part(&o->shard, o->connections);
		o->max_inflight = cli_shard_part(&o->shard, o->max_inflight);
	}
	return -1;
}

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
	if (cfg && o->release_slack_ns)
		json_object_set_new(cfg, "release_slack_ms", json_real((double)o->release_slack_ns / 1e6));
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
 * load as a total over the shards, and what each request is.
 */
static json_t *shard_config(const struct run_opts *o, const struct kc_pool *pool)
{
	return json_pack("{s:s,s:s,s:s?,s:f,s:s?,s:s,s:f,s:f,s:f,s:s?,s:s,s:s?,s:s?,s:b,s:f,s:I}",
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
	if (runout_pool_bodies(*pool, NULL, bodies, nbodies)) {
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
				     .endpoint_url = o->endpoint_url,
				     .response_stream = o->response_stream};
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
		.client = o->client, .proxy = o->proxy, .release_slack_ns = o->release_slack_ns,
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

static bool shard_stop(void)
{
	return runout_caught_signal() != 0;
}

/*
 * Runs the steps; a signal or a failed interval-log write stops the
 * engine.  Sets *done (steps with results) and *stopped.  Returns -1 or an
 * exit status.
 */
static int run_steps(struct kc_engine *e, const struct run_opts *o, struct runout *ctx,
		     struct kc_step_result *steps, size_t nsteps, size_t *done, bool *stopped)
{
	struct kc_engine_hooks hooks = {.progress = runout_progress, .interval = runout_interval,
					.ud = ctx};
	int status = -1;
	int64_t wait_ms = o->shard.have_start_at ? o->shard.start_at_ms - kc_wall_ns() / KC_NS_PER_MS : 0;
	if (!o->quiet && wait_ms > 1000)
		fprintf(stderr, "kneecap: run: waiting %.1f s for --start-at %s\n", (double)wait_ms / 1e3,
			o->start_at_text);
	for (size_t i = 0; i < nsteps; i++) {
		if (runout_caught_signal()) {
			*stopped = true;
			break;
		}
		/* On the common clock, every shard starts step i at the same instant
		 * (the engine starts its workers 5 ms after it is called). */
		cli_shard_wait(&o->shard, i, 5, shard_stop);
		if (runout_caught_signal()) {
			*stopped = true;
			break;
		}
		const struct cli_shard *sh = &o->shard;
		struct kc_step_spec spec = {
			.index = (int)i,
			.mode = o->concurrency ? KC_STEP_CONCURRENCY : KC_STEP_RATE,
			.rate_rps = cli_shard_rate(sh, o->ramp_text     ? kc_ramp_value(&o->ramp, i)
							: o->linear_text ? o->linear_from
									 : o->rate),
			.rate_end_rps = o->linear_text ? cli_shard_rate(sh, o->linear_to) : 0,
			.concurrency = (uint32_t)o->concurrency,
			.duration_ns = o->ramp_text ? o->step_duration_ns : o->duration_ns,
			.warmup_ns = o->warmup_ns,
			.arrival = o->arrival,
			.seed = cli_shard_seed(sh, o->seed) + i,
		};
		struct kc_diag d;
		kc_diag_clear(&d);
		if (kc_engine_run_step(e, &spec, &hooks, &steps[i], &d)) {
			runout_progress_end(ctx);
			cli_diag_error("run", &d);
			/* The spec was checked before the run: what fails here is ours. */
			status = KC_EXIT_INTERNAL;
			break;
		}
		(*done)++;
		if (steps[i].partial || kc_engine_stopped(e) || runout_caught_signal() ||
		    (ctx->out && outdir_failed(ctx->out))) {
			steps[i].partial = true;
			*stopped = true;
			break;
		}
	}
	runout_progress_end(ctx);
	return status;
}

int kc_cmd_run(int argc, char **argv)
{
	struct run_opts o;
	memset(&o, 0, sizeof(o));
	int status = parse_args(&o, argc, argv);
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
	runout_env_init(&env);
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
