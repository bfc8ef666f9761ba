/*
 * run_args.c - `kneecap run`'s command line: its usage text, the shared
 * option table's values stored by group (the load, each request, the
 * sagemaker: target, outputs, shards), and the checks of what goes with
 * what once the TARGET is known.
 */
#include "cli.h"
#include "opts.h"
#include "run_args.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "kneecap/clock.h"
#include "kneecap/parse.h"
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

/* An option another group of parse_one handles. */
#define NOT_HERE (-2)

/* The load: its rate or concurrency, shape over time, arrivals and seed.  Returns -1 to go on, NOT_HERE, or an exit status. */
static int load_option(struct run_opts *o, const struct cli_opt *opt, const char *arg,
		       const struct cli_val *v)
{
	switch (opt->id) {
	case CLI_O_RATE:
		o->rate = v->f;
		o->have_rate = true;
		break;
	case CLI_O_CONCURRENCY:
		o->concurrency = v->i;
		break;
	case CLI_O_RAMP: {
		struct kc_diag d;
		kc_diag_clear(&d);
		if (kc_ramp_parse(arg, &o->ramp, &d)) {
			cli_error("run: --%s", d.msg);
			return KC_EXIT_USAGE;
		}
		if (o->ramp.to > KC_ENGINE_MAX_RATE)
			return bad("--ramp", arg, "rates must be at most 10000000 requests per second");
		o->ramp_text = arg;
		break;
	}
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
		o->duration_ns = v->i;
		o->have_duration = true;
		break;
	case CLI_O_STEP_DURATION:
		o->step_duration_ns = v->i;
		o->have_step_duration = true;
		break;
	case CLI_O_WARMUP:
		o->warmup_ns = v->i;
		break;
	case CLI_O_ARRIVAL:
		if (kc_arrival_parse(arg, &o->arrival))
			return bad("--arrival", arg, "must be uniform or poisson");
		break;
	case CLI_O_SEED:
		o->seed = (uint64_t)v->i;
		break;
	default:
		return NOT_HERE;
	}
	return -1;
}

/*
 * The target and each request: threads, connections, transport, TLS,
 * headers, body and payload.  Returns -1 to go on, NOT_HERE,
 * or an exit status.
 */
static int request_option(struct run_opts *o, const struct cli_opt *opt, const char *arg,
			  const struct cli_val *v)
{
	switch (opt->id) {
	case CLI_O_THREADS:
		o->threads = v->i;
		break;
	case CLI_O_CONNECTIONS:
		o->connections = v->i;
		break;
	case CLI_O_STREAMS:
		o->streams = v->i;
		break;
	case CLI_O_MAX_INFLIGHT:
		o->max_inflight = v->i;
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
		o->release_slack_ns = v->i;
		o->release_slack_given = true;
		break;
	case CLI_O_CERT:
		o->client_cert = arg;
		break;
	case CLI_O_KEY:
		o->client_key = arg;
		break;
	case CLI_O_TIMEOUT:
		o->timeout_ns = v->i;
		break;
	case CLI_O_CONNECT_TIMEOUT:
		o->connect_timeout_ns = v->i;
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
	case CLI_O_CONTENT_TYPE:
		o->content_type = arg;
		break;
	default:
		return NOT_HERE;
	}
	return -1;
}

/*
 * A sagemaker: TARGET's options: AWS profile, region and endpoint, the
 * response stream, and the InvokeEndpoint request options.  Returns -1 to
 * go on, NOT_HERE, or an exit status.
 */
static int sagemaker_option(struct run_opts *o, const struct cli_opt *opt, const char *arg,
			    const struct cli_val *v)
{
	switch (opt->id) {
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
	case CLI_O_FIPS:
		o->fips = true;
		break;
	case CLI_O_DUALSTACK:
		o->dualstack = true;
		break;
	case CLI_O_ACCEPT:
		o->sm.accept = arg;
		break;
	case CLI_O_TARGET_MODEL:
		o->sm.target_model = arg;
		break;
	case CLI_O_TARGET_CONTAINER:
		o->sm.target_container_hostname = arg;
		break;
	case CLI_O_CUSTOM_ATTRIBUTES:
		o->sm.custom_attributes = arg;
		break;
	case CLI_O_INFERENCE_ID:
		o->sm.inference_id = arg;
		break;
	case CLI_O_INFERENCE_COMPONENT:
		o->sm.inference_component = arg;
		break;
	case CLI_O_SESSION_ID:
		o->sm.session_id = arg;
		break;
	case CLI_O_ENABLE_EXPLANATIONS:
		o->sm.enable_explanations = arg;
		break;
	default:
		return NOT_HERE;
	}
	return -1;
}

/* Where results go, what is printed and the thresholds that fail a run.  Returns -1 to go on, NOT_HERE, or an exit status. */
static int output_option(struct run_opts *o, const struct cli_opt *opt, const char *arg,
			 const struct cli_val *v)
{
	switch (opt->id) {
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
		o->max_p_ms[opt->id - CLI_O_MAX_P50] = (double)v->i / 1e6;
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
		return NOT_HERE;
	}
	return -1;
}

/*
 * This process's share of a sharded run: --shard, --shards, --start-at,
 * --run-id.  Returns -1 to go on, NOT_HERE, or an exit status.
 */
static int shard_option(struct run_opts *o, const struct cli_opt *opt, const char *arg,
			const struct cli_val *v)
{
	switch (opt->id) {
	case CLI_O_SHARD:
		if (cli_shard_parse(&o->shard, arg))
			return KC_EXIT_USAGE;
		break;
	case CLI_O_SHARDS:
		if (cli_shard_parse_count(&o->shard, v->i))
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
	default:
		return NOT_HERE;
	}
	return -1;
}

/* Stores one parsed option.  Returns -1 to go on, or an exit status. */
static int parse_one(struct run_opts *o, const struct cli_opt *opt, const char *arg)
{
	struct cli_val v;
	if (!(opt->cmds & CLI_RUN))
		return cli_opt_refuse(CLI_RUN, opt);
	if (cli_opt_value(CLI_RUN, opt, arg, &v))
		return KC_EXIT_USAGE;
	int rc = load_option(o, opt, arg, &v);
	if (rc == NOT_HERE)
		rc = request_option(o, opt, arg, &v);
	if (rc == NOT_HERE)
		rc = sagemaker_option(o, opt, arg, &v);
	if (rc == NOT_HERE)
		rc = output_option(o, opt, arg, &v);
	if (rc == NOT_HERE)
		rc = shard_option(o, opt, arg, &v);
	return rc == NOT_HERE ? cli_opt_refuse(CLI_RUN, opt) : rc;
}

/*
 * What goes with which TARGET: the AWS and InvokeEndpoint options with a
 * sagemaker: one (POST, a JPEG body by default), http(s):// otherwise, one
 * body source.  Returns -1 to go on, or an exit status.
 */
static int check_target(struct run_opts *o)
{
	bool sm = kc_sagemaker_is_target(o->target);
	if (!sm && (o->region || o->profile || o->endpoint_url || o->fips || o->dualstack)) {
		cli_error("run: --region, --profile, --endpoint-url, --fips and --dualstack go with "
			  "a sagemaker: TARGET");
		return KC_EXIT_USAGE;
	}
	const char *smset = o->sm.accept ? "accept" : o->sm.target_model ? "target-model"
		: o->sm.target_container_hostname ? "target-container-hostname"
		: o->sm.custom_attributes ? "custom-attributes" : o->sm.inference_id ? "inference-id"
		: o->sm.inference_component ? "inference-component"
		: o->sm.session_id ? "session-id"
		: o->sm.enable_explanations ? "enable-explanations" : NULL;
	if (!sm && smset) {
		cli_error("run: --%s is a SageMaker request option: it goes with a sagemaker: "
			  "TARGET (for any other header use -H)", smset);
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
	if (o->content_type && !o->body_file && !sm) {
		cli_error("run: --content-type needs --body");
		return KC_EXIT_USAGE;
	}
	return -1;
}

/* This shard's slice of the concurrency, connections and in-flight cap.  Returns -1 or an exit status. */
static int slice_for_shard(struct run_opts *o)
{
	if (o->shard.on && o->concurrency) {
		/* A closed loop's shards are no ladder of rates: merge would judge counts as RPS. */
		cli_error("run: --concurrency cannot be sharded (--shard/--shards take --rate, "
			  "--ramp or --linear)");
		return KC_EXIT_USAGE;
	}
	if (cli_shard_finish(&o->shard, o->run_id, o->ramp_text ? o->step_duration_ns : o->duration_ns,
			     o->warmup_ns))
		return KC_EXIT_USAGE;
	if (o->shard.on) {
		/* This process's slice of the pool; the rate is sliced per step. */
		o->connections = cli_shard_part(&o->shard, o->connections);
		o->max_inflight = cli_shard_part(&o->shard, o->max_inflight);
	}
	return -1;
}

int run_parse_args(struct run_opts *o, int argc, char **argv)
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
	int rc = check_target(o);
	if (rc >= 0)
		return rc;
	return slice_for_shard(o);
}
