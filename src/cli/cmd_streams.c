/*
 * cmd_streams.c - `kneecap streams`: find how many concurrent bidirectional
 * streams an instance holds under a latency limit, and the
 * ConcurrentRequestsPerModel TargetValue that follows.
 *
 * Composes the layers: scenario + flags -> search config (analysis, streams
 * mode) -> stream driver (engine/streams) against the target, or against
 * the emulator's streaming half started on loopback when no target is given
 * -> knee and recommendation (analysis) -> result.json, steps.csv,
 * latency.hlog, scaling-policy.json and apply.sh (report).  Only this file
 * prints or exits.
 */
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

static const char usage_head[] =
	"usage: kneecap streams [SCENARIO.ini] [TARGET] [options]\n"
	"\n"
	"Find how many concurrent bidirectional streams an instance holds under a latency\n"
	"limit, and recommend the SageMakerVariantConcurrentRequestsPerModelHighResolution\n"
	"TargetValue (70-80% of it).  With no TARGET the emulator's streaming half runs on\n"
	"loopback with the scenario's [emulator] profile.\n"
	"\n"
	"TARGET: sagemaker:ENDPOINT[/VARIANT] (credentials and region as run finds them:\n"
	"        --region, AWS_REGION, AWS_DEFAULT_REGION, the profile; credentials from\n"
	"        the environment, --profile / shared files, credential_process,\n"
	"        container, IMDS) or http[s]://HOST[:PORT]/PATH\n"
	"\n";

static const char usage_tail[] =
	"Scenario section [streams] sets the same as the flags (flags win): chunk_bytes,\n"
	"chunk_interval, audio, threads, streams_per_connection, model_invocation_path,\n"
	"model_query_string, reply_match, audio_bytes_per_second, close_message.\n"
	"\n"
	"Examples:\n"
	"  kneecap streams scenarios/streams-g5-2xlarge.ini --out results/\n"
	"  kneecap streams sagemaker:my-asr-endpoint --region us-east-1 \\\n"
	"      --model-invocation-path v1/listen --latency-limit 400ms --max 256 --warmup 5s\n"
	"\n"
	"exit status:\n"
	"  0    a stream count was found and its recommendation written\n"
	"  1    the run completed without one (no knee, no recommendation)\n"
	"  2    bad usage or input\n"
	"  3    the target could not be reached at all (a target that answers, even\n"
	"       403, is reachable: warned about, and the search runs)\n"
	"  4    results could not be written, stdout included (the reason is\n"
	"       printed; no policy)\n"
	"  5    kneecap itself failed during the search (out of memory, threads)\n"
	"  130  interrupted by SIGINT, 143 by SIGTERM: what was measured is written,\n"
	"       marked \"partial\", knee.found false; never a recommendation, policy\n"
	"       or apply.sh\n";

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

/* kc_streams_stop for runout_catch_signals (async-signal-safe). */
static void stop_streams(void *st)
{
	kc_streams_stop(st);
}

static int bad(const char *opt, const char *val, const char *why)
{
	cli_error("streams: --%s '%s': %s", opt, val, why);
	return KC_EXIT_USAGE;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* --help: streams' words around the shared table with its defaults. */
static void print_usage(FILE *f)
{
	fputs(usage_head, f);
	cli_opts_help(f, CLI_STREAMS);
	fputs(usage_tail, f);
}

/* Where each table option streams takes is kept (as text: [streams] keys fill the rest). */
static const char **opt_slot(struct opts *o, int id)
{
	switch (id) {
	case CLI_O_SLO: return &o->limit;
	case CLI_O_STATISTIC: return &o->statistic;
	case CLI_O_START: return &o->start;
	case CLI_O_MAX: return &o->max;
	case CLI_O_STEP_DURATION: return &o->step_duration;
	case CLI_O_WARMUP: return &o->warmup;
	case CLI_O_CHUNK_BYTES: return &o->chunk_bytes;
	case CLI_O_CHUNK_INTERVAL: return &o->chunk_interval;
	case CLI_O_AUDIO: return &o->audio;
	case CLI_O_THREADS: return &o->threads;
	case CLI_O_STREAMS_PER_CONN: return &o->per_conn;
	case CLI_O_REGION: return &o->region;
	case CLI_O_PROFILE: return &o->profile;
	case CLI_O_ENDPOINT_URL: return &o->endpoint_url;
	case CLI_O_INVOCATION_PATH: return &o->invocation_path;
	case CLI_O_QUERY_STRING: return &o->query_string;
	case CLI_O_CACERT: return &o->cacert;
	case CLI_O_CONNECT_TIMEOUT: return &o->connect_timeout;
	case CLI_O_TIMEOUT: return &o->timeout;
	case CLI_O_INSTANCE_TYPE: return &o->instance_type;
	case CLI_O_OUT: return &o->out_dir;
	case CLI_O_EMULATOR_CAPTURE: return &o->capture;
	case CLI_O_REPLY_MATCH: return &o->reply_match;
	case CLI_O_AUDIO_RATE: return &o->audio_rate;
	case CLI_O_CLOSE_MESSAGE: return &o->close_message;
	default: return cli_rec_flag_slot(o->rec_flags, id);
	}
}

/* The shard options and the ladder (see streams_shard_check).  0 or KC_EXIT_USAGE. */
static int streams_shard_opt(struct opts *o, int id, const char *arg, const struct cli_val *v)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	switch (id) {
	case CLI_O_SHARD:
		return cli_shard_parse(&o->shard, arg);
	case CLI_O_SHARDS:
		return cli_shard_parse_count(&o->shard, v->i);
	case CLI_O_START_AT:
		o->start_at_text = arg;
		return cli_shard_parse_start_at(&o->shard, arg);
	case CLI_O_RUN_ID:
		if (!*arg || strlen(arg) >= sizeof(o->shard.run_id))
			return bad("run-id", arg, "must be 1..127 characters");
		o->run_id = arg;
		return 0;
	default:
		if (kc_ramp_parse(arg, &o->ramp, &d)) {
			cli_error("streams: --%s", d.msg);
			return KC_EXIT_USAGE;
		}
		o->ramp_text = arg;
		return 0;
	}
}

/* Returns 0 to go on, -1 after --help, or an exit status. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	struct option longopts[96];
	char shortopts[32];
	if (cli_opts_getopt(CLI_STREAMS, longopts, sizeof(longopts) / sizeof(longopts[0]),
			    shortopts, sizeof(shortopts))) {
		cli_error("streams: option table too large");
		return KC_EXIT_USAGE;
	}
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			cli_error("streams: %s '%s' (see kneecap streams --help)",
				  c == ':' ? "missing value for" : "bad option", argv[optind - 1]);
			return KC_EXIT_USAGE;
		}
		const struct cli_opt *t = c < 256 ? cli_opt_lookup(NULL, (char)c) : cli_opt_by_id(c);
		if (!t)
			return KC_EXIT_USAGE;
		if (t->id == CLI_O_HELP) {
			print_usage(stdout);
			return -1;
		}
		if (!(t->cmds & CLI_STREAMS))
			return cli_opt_refuse(CLI_STREAMS, t);
		struct cli_val v;
		if (cli_opt_value(CLI_STREAMS, t, optarg, &v))
			return KC_EXIT_USAGE;
		const char **slot = opt_slot(o, t->id);
		if (slot) {
			*slot = optarg;
			continue;
		}
		switch (t->id) {
		case CLI_O_HEADER:
			if (o->nuser_headers >= sizeof(o->user_headers) / sizeof(o->user_headers[0])) {
				cli_error("streams: -H '%s': too many headers (at most 8)", optarg);
				return KC_EXIT_USAGE;
			}
			if (!strchr(optarg, ':')) {
				cli_error("streams: -H '%s': expected 'Name: value'", optarg);
				return KC_EXIT_USAGE;
			}
			o->user_headers[o->nuser_headers++] = optarg;
			break;
		case CLI_O_INSECURE: o->insecure = true; break;
		case CLI_O_JSON: o->json = true; break;
		case CLI_O_EMULATOR_TLS: o->emulator_tls = true; break;
		case CLI_O_FIPS: o->fips = true; break;
		case CLI_O_DUALSTACK: o->dualstack = true; break;
		case CLI_O_VERBOSE: o->verbose++; break;
		case CLI_O_QUIET: o->quiet = 1; break;
		case CLI_O_SHARD:
		case CLI_O_SHARDS:
		case CLI_O_START_AT:
		case CLI_O_RUN_ID:
		case CLI_O_RAMP:
			if (streams_shard_opt(o, t->id, optarg, &v))
				return KC_EXIT_USAGE;
			break;
		default:
			return cli_opt_refuse(CLI_STREAMS, t);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (!o->scenario && ends_with(argv[i], ".ini")) {
			o->scenario = argv[i];
		} else if (!o->target) {
			o->target = argv[i];
		} else {
			cli_error("streams: unexpected argument '%s'", argv[i]);
			return KC_EXIT_USAGE;
		}
	}
	return 0;
}

/* Counts from flags or [streams] keys, through the shared parser and wording. */
static int opt_u32(const char *name, const char *v, int64_t lo, int64_t hi, uint32_t *out)
{
	char flag[64];
	int64_t x;
	if (!v)
		return 0;
	snprintf(flag, sizeof(flag), "--%s", name);
	if (cli_parse_int(CLI_STREAMS, flag, v, lo, hi, &x))
		return KC_EXIT_USAGE;
	*out = (uint32_t)x;
	return 0;
}

static int opt_dur(const char *name, const char *v, int64_t lo, int64_t *out)
{
	char flag[64];
	if (!v)
		return 0;
	snprintf(flag, sizeof(flag), "--%s", name);
	return cli_parse_duration(CLI_STREAMS, flag, v, lo, 24 * 3600 * KC_NS_PER_S, out);
}

/* ---- configuration -------------------------------------------------------- */

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

static int load_config(struct run *r)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	struct opts *o = &r->o;
	if (cli_scenario_load_flags(CLI_STREAMS, o->scenario, &r->sc, o->rec_flags))
		return KC_EXIT_USAGE;
	kc_search_cfg_default(&r->scfg, KC_MODE_STREAMS);
	kc_recommend_cfg_default(&r->rcfg);
	kc_emu_profile_defaults(&r->emu);
	kc_bidi_profile_defaults(&r->bp);
	if (kc_search_cfg_from_scenario(&r->scfg, r->sc, &d) ||
	    kc_recommend_cfg_from_scenario(&r->rcfg, r->sc, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	if (!o->target && r->sc &&
	    (kc_emu_profile_from_scenario(r->sc, &r->emu, &d) ||
	     kc_bidi_profile_from_scenario(r->sc, &r->bp, &d))) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	if (o->target && r->sc && kc_scenario_has_section(r->sc, "emulator")) {
		/* the profile is not used against a real target; read it so its
		 * keys are still checked */
		if (kc_emu_profile_from_scenario(r->sc, &r->emu, &d) ||
		    kc_bidi_profile_from_scenario(r->sc, &r->bp, &d)) {
			cli_diag_error("streams", &d);
			return KC_EXIT_USAGE;
		}
	}
	/* [target] fips, dualstack: the endpoint variants, as in run and find */
	struct { const char *key; bool *dst; } tk[] = {{"fips", &o->fips},
						     {"dualstack", &o->dualstack}};
	for (size_t i = 0; r->sc && i < sizeof(tk) / sizeof(tk[0]); i++) {
		bool b;
		int grc = kc_scenario_get_bool(r->sc, "target", tk[i].key, &b, &d);
		if (grc == 0)
			*tk[i].dst = *tk[i].dst || b;
		else if (grc != KC_ENOTFOUND) {
			cli_diag_error("streams", &d);
			return KC_EXIT_USAGE;
		}
	}
	/* [streams]: every key is also a flag, and the flag wins */
	struct { const char *key; const char **dst; } sk[] = {
		{"chunk_bytes", &o->chunk_bytes}, {"chunk_interval", &o->chunk_interval},
		{"audio", &o->audio}, {"threads", &o->threads},
		{"streams_per_connection", &o->per_conn},
		{"model_invocation_path", &o->invocation_path},
		{"model_query_string", &o->query_string}, {"reply_match", &o->reply_match},
		{"audio_bytes_per_second", &o->audio_rate}, {"close_message", &o->close_message},
	};
	for (size_t i = 0; r->sc && i < sizeof(sk) / sizeof(sk[0]); i++) {
		const char *v;
		int grc = kc_scenario_get_str(r->sc, "streams", sk[i].key, &v, &d);
		if (grc == 0 && !*sk[i].dst)
			*sk[i].dst = v;
		else if (grc && grc != KC_ENOTFOUND) {
			cli_diag_error("streams", &d);
			return KC_EXIT_USAGE;
		}
	}
	/* A file's chunk_interval is checked where it was written (file:line:key),
	 * units required as for every duration; the flag, when given, wins. */
	int64_t scratch_ns;
	int drc = r->sc ? kc_scenario_get_duration_ns(r->sc, "streams", "chunk_interval", KC_NS_PER_MS,
						     0, 3600 * KC_NS_PER_S, &scratch_ns, &d)
			: KC_ENOTFOUND;
	if (drc && drc != KC_ENOTFOUND) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	if (r->sc && kc_scenario_check_unused(r->sc, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	struct kc_search_cfg *c = &r->scfg;
	int rc;
	uint32_t u;
	if (o->start) {
		u = 0;
		if ((rc = opt_u32("start", o->start, 1, 1000000, &u)))
			return rc;
		c->start = u;
	}
	if (o->max) {
		u = 0;
		if ((rc = opt_u32("max", o->max, 1, 1000000, &u)))
			return rc;
		c->max = u;
	}
	if ((rc = opt_dur("step-duration", o->step_duration, 100 * KC_NS_PER_MS,
			  &c->step_duration_ns)) ||
	    (rc = opt_dur("warmup", o->warmup, 0, &c->warmup_ns)))
		return rc;
	if (o->limit) {
		int64_t ns = 0;
		if ((rc = opt_dur("latency-limit", o->limit, KC_NS_PER_US, &ns)))
			return rc;
		c->health.slo_set = true;
		c->health.slo_ms = (double)ns / 1e6;
	}
	if (o->statistic && kc_lat_stat_parse(o->statistic, &c->health.slo_stat))
		return bad("statistic", o->statistic, "want mean, p50, p90, p99 or p999");
	if (kc_search_cfg_validate(c, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	if (o->instance_type)
		snprintf(r->rcfg.instance_type, sizeof(r->rcfg.instance_type), "%s",
			 o->instance_type);
	return 0;
}

static int add_header(struct run *r, const char *name, const char *value)
{
	if (r->nheaders == sizeof(r->headers) / sizeof(r->headers[0]))
		return -1;
	snprintf(r->hdr_lines[r->nheaders], sizeof(r->hdr_lines[0]), "%s: %s", name, value);
	r->headers[r->nheaders] = r->hdr_lines[r->nheaders];
	r->nheaders++;
	return 0;
}

/* Starts the built-in emulator on loopback and points the run at it. */
static int setup_emulator_target(struct run *r, struct kc_diag *d)
{
	struct opts *o = &r->o;
	/* The emulator verifies what kneecap signs: with the scenario's
	 * keys, or a fixed fake pair so signing is always exercised. */
	if (!r->emu.sigv4_akid[0]) {
		snprintf(r->bp.akid, sizeof(r->bp.akid), "%s", FAKE_AKID);
		snprintf(r->bp.secret, sizeof(r->bp.secret), "%s", FAKE_SECRET);
	} else {
		snprintf(r->bp.akid, sizeof(r->bp.akid), "%s", r->emu.sigv4_akid);
		snprintf(r->bp.secret, sizeof(r->bp.secret), "%s", r->emu.sigv4_secret);
	}
	snprintf(r->bp.region, sizeof(r->bp.region), "%s", r->emu.sigv4_region);
	snprintf(r->bp.variant, sizeof(r->bp.variant), "%s", r->emu.variant);
	r->bp.capture_path = o->capture;
	r->bp.capture_stream = 2; /* the first stream after the probe's */
	if (o->emulator_tls)
		r->bp.tls = true;
	if (r->bp.tls) {
		/* kneecap verifies the emulator's fresh certificate as its CA */
		const char *tmp = getenv("TMPDIR");
		snprintf(r->cert_path, sizeof(r->cert_path), "%s/kneecap-emu-XXXXXX.pem",
			 tmp && *tmp ? tmp : "/tmp");
		int fd = mkstemps(r->cert_path, 4);
		if (fd < 0) {
			cli_error("streams: cannot create %s (%s)", r->cert_path, strerror(errno));
			r->cert_path[0] = '\0';
			return KC_EXIT_USAGE;
		}
		close(fd);
		r->bp.tls_cert_out = r->cert_path;
	}
	if (kc_bidi_start(&r->bp, "127.0.0.1:0", &r->bidi, d)) {
		cli_diag_error("streams: emulator", d);
		return KC_EXIT_USAGE;
	}
	snprintf(r->url, sizeof(r->url),
		 "%s://127.0.0.1:%d/endpoints/kneecap-emulator" KC_BIDI_PATH_SUFFIX,
		 r->bp.tls ? "https" : "http", kc_bidi_port(r->bidi));
	r->akid = r->bp.akid;
	r->secret = r->bp.secret;
	r->token = NULL;
	r->region = r->bp.region;
	return 0;
}

static int setup_target(struct run *r)
{
	struct opts *o = &r->o;
	struct kc_diag d;
	kc_diag_clear(&d);
	/* The region as run resolves it (--region, AWS_REGION, AWS_DEFAULT_REGION,
	 * the profile); an http(s) TARGET that names none signs for us-east-1. */
	struct kc_creds_opts ro = {.profile = o->profile, .region = o->region};
	int rrc = kc_creds_region(&ro, r->region_buf, sizeof(r->region_buf), NULL, &d);
	if (rrc && (rrc != KC_ENOTFOUND || (o->target && !strncmp(o->target, "sagemaker:", 10)))) {
		cli_diag_error("streams: region", &d);
		return KC_EXIT_USAGE;
	}
	r->region = rrc ? "us-east-1" : r->region_buf;
	kc_diag_clear(&d);
	r->akid = getenv("AWS_ACCESS_KEY_ID");
	r->secret = getenv("AWS_SECRET_ACCESS_KEY");
	r->token = getenv("AWS_SESSION_TOKEN");
	if ((o->fips || o->dualstack) && (!o->target || strncmp(o->target, "sagemaker:", 10))) {
		cli_error("streams: --%s goes with a sagemaker: TARGET", o->fips ? "fips"
										 : "dualstack");
		return KC_EXIT_USAGE;
	}
	if (!o->target)
		return setup_emulator_target(r, &d);
	if (strncmp(o->target, "sagemaker:", 10) == 0) {
		char ep[128], variant[128] = "";
		const char *name = o->target + 10;
		const char *slash = strchr(name, '/');
		snprintf(ep, sizeof(ep), "%.*s", slash ? (int)(slash - name) : (int)strlen(name),
			 name);
		if (slash)
			snprintf(variant, sizeof(variant), "%s", slash + 1);
		if (!kc_sagemaker_name_valid(ep) || (slash && !kc_sagemaker_name_valid(variant))) {
			cli_error("streams: target '%s': endpoint and variant names are 1-63 "
				  "letters, digits and hyphens", o->target);
			return KC_EXIT_USAGE;
		}
		/* One URL builder for every operation: port 8443 and an :authority
		 * that carries it for the bidirectional stream (aws-wire.md 3.1). */
		struct kc_sm_url u;
		unsigned variants = (o->fips ? KC_SM_FIPS : 0) | (o->dualstack ? KC_SM_DUALSTACK : 0);
		if (kc_sagemaker_build_url_v(KC_SM_BIDI, r->region, ep, o->endpoint_url, variants,
					     &u, &d)) {
			cli_diag_error("streams", &d);
			return KC_EXIT_USAGE;
		}
		snprintf(r->url, sizeof(r->url), "%s", u.url);
		if (!o->endpoint_url)
			snprintf(r->authority, sizeof(r->authority), "%s", u.host_header);
		if (variant[0])
			add_header(r, "x-amzn-sagemaker-target-variant", variant);
		snprintf(r->rcfg.endpoint_name, sizeof(r->rcfg.endpoint_name), "%.63s", ep);
		if (variant[0])
			snprintf(r->rcfg.variant, sizeof(r->rcfg.variant), "%.63s", variant);
		/* The AWS CLI's chain behind the refreshing provider run and find
		 * use: a search longer than temporary credentials live keeps
		 * signing with fresh ones.  The secret stays in the provider. */
		struct kc_creds_opts co = {.profile = o->profile, .region = o->region};
		if (kc_creds_provider_new(&r->creds, &co, &d)) {
			cli_diag_error("streams: credentials", &d);
			return KC_EXIT_USAGE;
		}
		char desc[512];
		const struct kc_creds *c = kc_creds_provider_acquire(r->creds);
		kc_creds_describe(c, desc, sizeof(desc));
		kc_creds_provider_release(r->creds, c);
		if (kc_creds_provider_start(r->creds, 0))
			kc_log(KC_LOG_WARN, "credential refresh thread not started; long runs may "
					    "outlive temporary credentials");
		kc_log(KC_LOG_INFO, "region %s; credentials: %s", r->region, desc);
		r->akid = r->secret = r->token = NULL;
	} else if (kc_url_is_http(o->target)) {
		snprintf(r->url, sizeof(r->url), "%s", o->target);
		if (!r->akid || !*r->akid || !r->secret || !*r->secret) {
			/* an emulator started elsewhere verifies with its own keys;
			 * these are the emulator's default fake pair */
			r->akid = FAKE_AKID;
			r->secret = FAKE_SECRET;
			r->token = NULL;
		}
	} else {
		cli_error("streams: target '%s': want sagemaker:ENDPOINT[/VARIANT] or http(s)://...",
			  o->target);
		return KC_EXIT_USAGE;
	}
	return 0;
}

static int build_driver(struct run *r)
{
	struct opts *o = &r->o;
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc;
	if (o->invocation_path) {
		if (!kc_bidi_invocation_path_valid(o->invocation_path))
			return bad("model-invocation-path", o->invocation_path,
				   "want segments of letters, digits, '.', '_', '-' joined by '/', "
				   "no leading slash, at most 100 bytes (e.g. v1/listen)");
		add_header(r, "x-amzn-sagemaker-model-invocation-path", o->invocation_path);
	}
	if (o->query_string) {
		if (!kc_bidi_query_string_valid(o->query_string))
			return bad("model-query-string", o->query_string,
				   "want key=value pairs joined by '&', values percent-encoded, "
				   "at most 2048 bytes");
		add_header(r, "x-amzn-sagemaker-model-query-string", o->query_string);
	}
	for (size_t i = 0; i < o->nuser_headers; i++) {
		const char *line = o->user_headers[i], *colon = strchr(line, ':');
		char hname[256];
		snprintf(hname, sizeof(hname), "%.*s", (int)(colon - line), line);
		for (char *p = hname; *p; p++) /* HTTP/2 field names are lowercase */
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		const char *val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		if (add_header(r, hname, val)) {
			cli_error("streams: -H '%s': too many headers", line);
			return KC_EXIT_USAGE;
		}
	}
	struct kc_streams_config *c = &r->stc;
	c->url = r->url;
	c->authority = r->authority[0] ? r->authority : NULL;
	c->headers = r->headers;
	c->nheaders = r->nheaders;
	c->access_key_id = r->akid;
	c->secret_access_key = r->secret;
	c->session_token = r->token;
	c->creds = r->creds;
	c->region = r->region;
	c->insecure = o->insecure;
	c->cacert = r->cert_path[0] ? r->cert_path : o->cacert;
	c->max_streams = (uint32_t)r->scfg.max;
	if ((rc = opt_dur("connect-timeout", o->connect_timeout, KC_NS_PER_MS,
			  &c->connect_timeout_ns)))
		return rc;
	if ((rc = opt_dur("timeout", o->timeout, KC_NS_PER_MS, &c->reply_timeout_ns)))
		return rc;
	uint32_t u = 0;
	if ((rc = opt_u32("chunk-bytes", o->chunk_bytes, 2, 65536, &u)))
		return rc;
	c->chunk_bytes = u;
	if ((rc = opt_dur("chunk-interval", o->chunk_interval, 5 * KC_NS_PER_MS,
			  &c->chunk_interval_ns)))
		return rc;
	u = 0;
	if ((rc = opt_u32("threads", o->threads, 1, 256, &u)))
		return rc;
	c->threads = u;
	u = 0;
	if ((rc = opt_u32("streams-per-connection", o->per_conn, 1, 100000, &u)))
		return rc;
	c->streams_per_connection = u;
	if (o->reply_match) {
		if (strcmp(o->reply_match, "fifo") == 0)
			c->match = KC_MATCH_FIFO;
		else if (strcmp(o->reply_match, "audio-time") == 0)
			c->match = KC_MATCH_AUDIO_TIME;
		else
			return bad("reply-match", o->reply_match, "want fifo or audio-time");
	}
	u = 0;
	if ((rc = opt_u32("audio-bytes-per-second", o->audio_rate, 1, 100000000, &u)))
		return rc;
	c->audio_bytes_per_s = u;
	if (o->close_message) {
		if (strlen(o->close_message) > 1024)
			return bad("close-message", "...", "at most 1024 bytes");
		c->close_message = o->close_message;
	}
	if (o->audio) {
		kc_buf_init(&r->audio, (size_t)256 << 20);
		r->have_audio = true;
		if (kc_buf_read_file(&r->audio, o->audio)) {
			cli_error("streams: --audio '%s': cannot read it (at most 256 MiB)", o->audio);
			return KC_EXIT_USAGE;
		}
		const uint8_t *p = (const uint8_t *)r->audio.data;
		size_t n = r->audio.len;
		if (n > 44 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0) {
			p += 44; /* canonical WAV header: send the samples */
			n -= 44;
		}
		c->audio = p;
		c->audio_len = n;
	}
	if (kc_streams_new(&r->st, c, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	return 0;
}

/* ---- output ----------------------------------------------------------------- */

static json_t *lat_json(const struct kc_latency *l)
{
	return json_pack("{s:f,s:f,s:f,s:f,s:f,s:I}", "p50", l->p50, "p90", l->p90, "p99",
			 l->p99, "max", l->max, "mean", l->mean, "count", (json_int_t)l->count);
}

static json_t *streams_json(const struct run *r)
{
	json_t *steps = json_array();
	for (size_t i = 0; i < r->nsteps; i++) {
		const struct kc_streams_info *f = &r->infos[i];
		json_array_append_new(steps, json_pack(
			"{s:f,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I}",
			"offered", r->steps[i].offered, "setup_ms", lat_json(&f->setup),
			"first_response_ms", lat_json(&f->first_response),
			"streams_opened", (json_int_t)f->streams_opened,
			"reopened", (json_int_t)f->reopened, "goaways", (json_int_t)f->goaways,
			"connections", (json_int_t)f->connections,
			"chunks_sent", (json_int_t)f->chunks_sent, "replies", (json_int_t)f->replies,
			"unmatched_replies", (json_int_t)f->unmatched, "held_mean", f->held_mean,
			"held_max", (json_int_t)f->held_max));
	}
	json_t *o = json_pack("{s:o,s:I,s:f,s:s,s:s}", "steps", steps,
			      "chunk_bytes", (json_int_t)kc_streams_chunk_bytes(r->st),
			      "chunk_interval_ms",
			      (double)kc_streams_chunk_interval_ns(r->st) / 1e6,
			      "latency_from", "intended chunk send time of the chunk a reply answers",
			      "reply_match", r->stc.match == KC_MATCH_AUDIO_TIME ? "audio-time" : "fifo");
	if (r->bidi) {
		struct kc_bidi_stats bs;
		kc_bidi_stats(r->bidi, &bs);
		int64_t lim = kc_bidi_model_limit(&r->bp, (int64_t)(r->scfg.health.slo_ms * 1e6));
		json_object_set_new(o, "emulator", json_pack(
			"{s:s,s:b,s:I,s:I,s:I,s:i,s:i,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"model", "L(n) = L0 if n <= S else L0*n/S per instance",
			"tls", (int)r->bp.tls, "tls_handshakes", (json_int_t)bs.tls_handshakes,
			"invocation_paths", (json_int_t)bs.invocation_paths,
			"query_strings", (json_int_t)bs.query_strings,
			"instances", r->bp.instances, "stream_limit", r->bp.stream_limit,
			"base_latency_ms", (double)r->bp.base_latency_ns / 1e6,
			"true_limit_under_slo", (json_int_t)lim,
			"streams_opened", (json_int_t)bs.streams_opened,
			"bad_signatures", (json_int_t)bs.bad_signatures,
			"bad_frames", (json_int_t)bs.bad_frames,
			"goaways_injected", (json_int_t)bs.goaways,
			"resets_injected", (json_int_t)bs.resets,
			"corrupted_injected", (json_int_t)bs.corrupted));
		json_t *em = json_object_get(o, "emulator");
		if (em) {
			json_object_set_new(em, "errors_injected",
					    json_integer((json_int_t)bs.errors_injected));
			json_object_set_new(em, "expired_tokens",
					    json_integer((json_int_t)bs.expired_tokens));
		}
	}
	return o;
}

static json_t *config_json(const struct run *r)
{
	const struct kc_search_cfg *c = &r->scfg;
	return json_pack("{s:s,s:f,s:s,s:f,s:f,s:f,s:f,s:I,s:s?}",
			 "target", r->o.target ? r->o.target : "emulator",
			 "latency_limit_ms", c->health.slo_ms,
			 "statistic", kc_lat_stat_name(c->health.slo_stat),
			 "start", c->start, "max", c->max,
			 "step_duration_s", (double)c->step_duration_ns / 1e9,
			 "warmup_s", (double)c->warmup_ns / 1e9,
			 "threads", (json_int_t)kc_streams_threads(r->st),
			 "scenario", r->o.scenario);
}

static void print_steps(FILE *f, const struct run *r)
{
	fprintf(f, "%7s %8s %10s %10s %10s %10s %8s %8s\n", "streams", "held", "mean_ms",
		"p50_ms", "p99_ms", "replies", "errors", "reopen");
	for (size_t i = 0; i < r->nsteps; i++) {
		const struct kc_step_result *s = &r->steps[i];
		fprintf(f, "%7.0f %8.1f %10.1f %10.1f %10.1f %10llu %8llu %8llu\n", s->offered,
			s->achieved, s->latency.mean, s->latency.p50, s->latency.p99,
			(unsigned long long)s->ok, (unsigned long long)s->errors,
			(unsigned long long)r->infos[i].reopened);
	}
}

static int finish(struct run *r, const struct kc_search *srch, int64_t started_ms)
{
	struct opts *o = &r->o;
	struct kc_knee knee;
	kc_search_result(srch, &knee);
	struct kc_knee_check chk;
	kc_knee_check(r->steps, r->nsteps, knee.knee_step, &chk);
	/* Little's law relates in-flight requests to throughput x latency; a
	 * stream is held for the whole step whatever its reply latency, so the
	 * check does not apply to stream counts. */
	chk.little_set = false;
	struct kc_recommendation rec;
	struct kc_diag d;
	kc_diag_clear(&d);
	int sig = runout_caught_signal();
	/* A search cut short (signal, failed interval log) recommends nothing. */
	bool cut_short = sig || knee.end == KC_END_INTERRUPTED || outdir_failed(&r->out);
	bool have_rec = !cut_short && kc_recommend_compute(&r->rcfg, &knee, 0, &rec, &d) == 0;
	json_t *extra = json_object();
	json_object_set_new(extra, "knee",
			    runout_knee_json(&knee, &chk, kc_recommend_units(&r->rcfg), cut_short));
	if (have_rec)
		json_object_set_new(extra, "recommendation", kc_recommend_to_json(&r->rcfg, &rec));
	json_object_set_new(extra, "streams", streams_json(r));
	/* How long the search took (warm-ups and drains included), as find says. */
	json_object_set_new(extra, "search",
			    json_pack("{s:s,s:i,s:f,s:f,s:s}", "end", kc_search_end_name(knee.end),
				      "steps", kc_search_nsteps(srch), "took_s",
				      (double)(kc_wall_ns() / KC_NS_PER_MS - started_ms) / 1e3,
				      "load_s", (double)knee.measured_ns / 1e9,
				      "diagnosis", knee.diagnosis));
	json_t *verdicts = json_array();
	for (int i = 0; i < kc_search_nsteps(srch); i++)
		json_array_append_new(verdicts, kc_verdict_to_json(&kc_search_step(srch, i)->v));
	json_object_set_new(extra, "verdicts", verdicts);
	/* steps[].stable and .verdict, as find writes them (one truth). */
	json_t *step_extra = json_array();
	for (int i = 0; step_extra && i < kc_search_nsteps(srch) && (size_t)i < r->nsteps; i++)
		json_array_append_new(step_extra, kc_search_step_to_json(kc_search_step(srch, i)));
	json_t *cfg = config_json(r);
	struct kc_result res = {.mode = "streams", .target = o->target ? o->target : "emulator",
				.config = cfg, .steps = r->steps, .nsteps = r->nsteps,
				.partial = cut_short, .interrupted = runout_signal_name(sig),
				.extra = extra, .step_extra = step_extra};
	kc_result_env_detect(&res.env);
	res.env.kneecap_version = KC_VERSION;
	res.env.started_wall_ms = started_ms;
	outdir_write_result(&r->out, &res, o->json, &r->rcfg, have_rec ? &rec : NULL);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	if (!o->json) {
		print_steps(stdout, r);
		if (kc_recommend_explain(&r->rcfg, &knee, &chk, have_rec ? &rec : NULL, &b) == 0)
			fwrite(b.data, 1, b.len, stdout);
	}
	kc_buf_fini(&b);
	outdir_list(&r->out, o->json ? stderr : stdout);
	fflush(stdout);
	json_decref(cfg);
	json_decref(extra);
	json_decref(step_extra);
	return runout_exit_status(&r->out, sig, have_rec ? KC_EXIT_OK : KC_EXIT_THRESHOLD);
}

/*
 * The first stream, as run and find probe: announced, bounded (PROBE_NS),
 * unreachable (3) only when nothing answered; a target that answers with
 * an error (403, other status, bad frames) is reachable and only warned
 * about, as run does for a 403.  A signal wins: the search then writes
 * partial results.  Returns 0 or an exit status.
 */
static int probe(struct run *r)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_log_enabled(KC_LOG_WARN)) {
		char lim[32];
		kc_format_duration(PROBE_NS, lim, sizeof(lim));
		fprintf(stderr, "kneecap: streams: probing %s (up to %s)\n",
			r->o.target ? r->o.target : "the emulator", lim);
	}
	int rc = kc_streams_probe(r->st, PROBE_NS, &d);
	if (runout_caught_signal() || rc == 0)
		return 0;
	if (rc == KC_EAUTH || rc == KC_EPROTO) {
		char msg[1024];
		kc_diag_format(&d, msg, sizeof(msg));
		kc_log(KC_LOG_WARN, "the target answered a first stream with an error: %s", msg);
		return 0;
	}
	if (rc == KC_ECONNECT || rc == KC_ETLS || rc == KC_ETIMEOUT) {
		cli_diag_error("streams: target unreachable", &d);
		return KC_EXIT_UNREACHABLE;
	}
	cli_diag_error("streams", &d);
	return KC_EXIT_INTERNAL;
}

static int search(struct run *r)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_search srch;
	if (kc_search_init(&srch, &r->scfg, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	int64_t started_ms = kc_wall_ns() / KC_NS_PER_MS;
	int rc = probe(r);
	if (rc)
		return rc;
	if (outdir_hlog_open(&r->out, started_ms))
		return KC_EXIT_WRITE;
	double offered;
	while (kc_search_next(&srch, &offered) == KC_SEARCH_RUN &&
	       r->nsteps < KC_SEARCH_MAX_STEPS && !runout_caught_signal()) {
		struct kc_streams_spec sp = {.index = (int)r->nsteps,
					     .streams = (uint32_t)(offered + 0.5),
					     .duration_ns = kc_search_step_ns(&srch),
					     .warmup_ns = r->scfg.warmup_ns};
		struct kc_step_result *st = &r->steps[r->nsteps];
		if (kc_streams_run_step(r->st, &sp, st, &r->infos[r->nsteps], &d)) {
			cli_diag_error("streams", &d);
			return KC_EXIT_INTERNAL;
		}
		r->nsteps++;
		if (!r->o.quiet)
			fprintf(stderr, "kneecap: step %zu: %u streams held %.1f, %s %.1f ms, "
				"%llu replies, %llu errors\n", r->nsteps, sp.streams, st->achieved,
				kc_lat_stat_name(r->scfg.health.slo_stat),
				kc_lat_stat_value(&st->latency, r->scfg.health.slo_stat),
				(unsigned long long)st->ok, (unsigned long long)st->errors);
		bool log_failed = false;
		if (st->latency_hist) {
			char tag[32];
			snprintf(tag, sizeof(tag), "streams=%u", sp.streams);
			kc_hdr_set_tag(st->latency_hist, tag);
			kc_hdr_set_times(st->latency_hist, st->start_wall_ms,
					 st->start_wall_ms + st->duration_ns / KC_NS_PER_MS);
			log_failed = outdir_hlog_interval(&r->out, st->latency_hist) != 0;
		}
		kc_search_record(&srch, st);
		if (st->partial || log_failed || runout_caught_signal())
			break;
	}
	outdir_hlog_close(&r->out, true);
	return finish(r, &srch, started_ms);
}

/* ---- shards: a fixed ladder of stream counts ------------------------------- */

/*
 * streams --shard: the --ramp ladder of stream counts (over all shards)
 * instead of the search, which cannot be split.  Shard I of N holds
 * floor(S/N) streams of a rung of S, one more when I < S mod N, so the
 * shards hold exactly S together; each needs at least one, hence S >= N.
 */
static int streams_shard_check(struct run *r)
{
	struct opts *o = &r->o;
	if (!o->shard.on) {
		if (o->ramp_text || o->shard.have_start_at || o->run_id) {
			cli_error("streams: --ramp, --start-at and --run-id go with --shard I/N or "
				  "--shards N (one process searches)");
			return KC_EXIT_USAGE;
		}
		return 0;
	}
	const struct kc_ramp *l = &o->ramp;
	if (!o->ramp_text) {
		cli_error("streams: --shard needs --ramp A:B:STEP in streams over all shards: shards "
			  "cannot search together (each step of a search follows from the last), "
			  "so they run a fixed ladder (e.g. --ramp 16:64:8)");
		return KC_EXIT_USAGE;
	}
	if (!o->target) {
		cli_error("streams: --shard needs a TARGET all shards load together (without one, "
			  "each shard would start an emulator of its own)");
		return KC_EXIT_USAGE;
	}
	if (l->from != (double)(int64_t)l->from || l->step != (double)(int64_t)l->step ||
	    l->to > 1000000)
		return bad("ramp", o->ramp_text, "stream counts are whole numbers up to 1000000");
	if (l->from < o->shard.count)
		return bad("ramp", o->ramp_text, "the first rung must hold at least one stream per "
			   "shard");
	if (l->nsteps > KC_SEARCH_MAX_STEPS)
		return bad("ramp", o->ramp_text, "at most 64 rungs");
	cli_shard_finish(&o->shard, o->run_id, r->scfg.step_duration_ns, r->scfg.warmup_ns);
	/* The driver is sized for this shard's part of the top rung. */
	r->scfg.max = (double)cli_shard_part(&o->shard, (int64_t)llround(l->to));
	return 0;
}

/* What every streams shard of one run must share, and how merge judges it. */
static json_t *streams_shard_config(const struct run *r)
{
	const struct opts *o = &r->o;
	json_t *cfg = json_pack(
		"{s:s,s:s,s:s,s:f,s:f,s:I,s:f,s:s,s:o,s:o,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}",
		"command", "streams",
			 "target", r->o.target, "ramp", r->o.ramp_text,
			 "step_duration_s", (double)r->scfg.step_duration_ns / 1e9,
			 "warmup_s", (double)r->scfg.warmup_ns / 1e9,
			 "chunk_bytes", (json_int_t)kc_streams_chunk_bytes(r->st),
			 "chunk_interval_ms", (double)kc_streams_chunk_interval_ns(r->st) / 1e6,
			 "reply_match", r->stc.match == KC_MATCH_AUDIO_TIME ? "audio-time" : "fifo",
			 "health", cli_shard_health_json(&r->scfg.health),
			 "recommend", cli_shard_rec_json(&r->rcfg),
			 "audio", o->audio, "audio_bytes_per_second", o->audio_rate,
			 "model_invocation_path", o->invocation_path,
			 "model_query_string", o->query_string, "close_message", o->close_message,
			 "stream_timeout", o->timeout);
	struct cli_shard_request rq = {
		.headers = o->user_headers, .nheaders = o->nuser_headers, .fips = o->fips,
		.dualstack = o->dualstack, .region = o->region, .endpoint_url = o->endpoint_url};
	if (cfg && cli_shard_add_request(cfg, &rq)) {
		json_decref(cfg);
		return NULL;
	}
	return cfg;
}

/* One shard's result: its steps, its streams figures, no knee (merge's, over every shard). */
static int shard_finish(struct run *r, int64_t started_ms)
{
	struct opts *o = &r->o;
	int sig = runout_caught_signal();
	bool partial = sig || outdir_failed(&r->out) ||
		       (r->nsteps && r->steps[r->nsteps - 1].partial) ||
		       r->nsteps < o->ramp.nsteps;
	json_t *sh = cli_shard_json(&o->shard, streams_shard_config(r), r->steps, r->nsteps);
	json_t *shsteps = json_object_get(sh, "steps");
	for (size_t k = 0; k < r->nsteps; k++)
		json_object_set_new(json_array_get(shsteps, k), "total_offered",
				    json_real(round(kc_ramp_value(&o->ramp, k))));
	json_t *extra = json_pack("{s:s,s:o,s:o}", "note", "one shard of a ladder: kneecap merge "
				  "of every shard finds the knee and the recommendation", "shard",
				  sh ? sh : json_null(), "streams", streams_json(r));
	json_t *cfg = config_json(r);
	struct kc_result res = {.mode = "streams", .target = o->target, .config = cfg,
				.steps = r->steps, .nsteps = r->nsteps, .partial = partial,
				.interrupted = runout_signal_name(sig), .extra = extra};
	kc_result_env_detect(&res.env);
	res.env.kneecap_version = KC_VERSION;
	res.env.started_wall_ms = started_ms;
	outdir_write_result(&r->out, &res, o->json, NULL, NULL);
	if (!o->json)
		print_steps(stdout, r);
	FILE *hf = o->json ? stderr : stdout;
	fprintf(hf, "shard %d of %d (run id '%s'): kneecap merge of every shard's --out finds "
		"the knee\n", o->shard.index, o->shard.count, o->shard.run_id);
	outdir_list(&r->out, hf);
	fflush(stdout);
	json_decref(cfg);
	json_decref(extra);
	return runout_exit_status(&r->out, sig, partial && !sig ? KC_EXIT_INTERNAL : KC_EXIT_OK);
}

static bool shard_stop(void)
{
	return runout_caught_signal() != 0;
}

/* The ladder, each rung in its common-clock slot, this shard's part of its streams. */
static int shard_ladder(struct run *r)
{
	struct opts *o = &r->o;
	struct kc_diag d;
	kc_diag_clear(&d);
	int64_t started_ms = kc_wall_ns() / KC_NS_PER_MS;
	cli_shard_clock_offset(&o->shard, r->url, o->insecure, r->stc.cacert);
	int rc = probe(r);
	if (rc)
		return rc;
	if (outdir_hlog_open(&r->out, started_ms))
		return KC_EXIT_WRITE;
	for (size_t k = 0; k < o->ramp.nsteps; k++) {
		cli_shard_wait(&o->shard, k, 5, shard_stop);
		if (runout_caught_signal())
			break;
		int64_t rung = llround(kc_ramp_value(&o->ramp, k));
		struct kc_streams_spec sp = {.index = (int)k,
					     .streams = (uint32_t)cli_shard_part(&o->shard, rung),
					     .duration_ns = r->scfg.step_duration_ns,
					     .warmup_ns = r->scfg.warmup_ns};
		struct kc_step_result *st = &r->steps[r->nsteps];
		if (kc_streams_run_step(r->st, &sp, st, &r->infos[r->nsteps], &d)) {
			cli_diag_error("streams", &d);
			break;
		}
		r->nsteps++;
		if (!o->quiet)
			fprintf(stderr, "kneecap: step %zu: %u of %lld streams held %.1f, mean %.1f ms, "
				"%llu replies, %llu errors\n", r->nsteps, sp.streams, (long long)rung,
				st->achieved, st->latency.mean, (unsigned long long)st->ok,
				(unsigned long long)st->errors);
		/* Tagged as run's shards are, so merge adds step to step. */
		bool log_failed = false;
		if (st->latency_hist) {
			char tag[32];
			snprintf(tag, sizeof(tag), "step-%zu", k);
			kc_hdr_set_tag(st->latency_hist, tag);
			kc_hdr_set_times(st->latency_hist, st->start_wall_ms,
					 st->start_wall_ms + st->duration_ns / KC_NS_PER_MS);
			log_failed = outdir_hlog_interval(&r->out, st->latency_hist) != 0;
		}
		if (st->partial || log_failed || runout_caught_signal())
			break;
	}
	outdir_hlog_close(&r->out, true);
	return shard_finish(r, started_ms);
}

int kc_cmd_streams(int argc, char **argv)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r) {
		cli_error("streams: out of memory");
		return KC_EXIT_INTERNAL;
	}
	int rc = parse_args(&r->o, argc, argv);
	if (rc < 0) {
		free(r);
		return KC_EXIT_OK;
	}
	if (rc)
		goto out;
	cli_log_init(r->o.verbose, r->o.quiet);
	/* Before anything can fail: an older run's files must not survive it. */
	if ((rc = outdir_open(&r->out, "streams", r->o.out_dir)))
		goto out;
	/* From here on a signal is a request for partial results, never a kill. */
	runout_catch_signals();
	if ((rc = load_config(r)) || (rc = streams_shard_check(r)) || (rc = setup_target(r)) ||
	    (rc = build_driver(r)))
		goto out;
	runout_set_stop(stop_streams, r->st);
	rc = r->o.shard.on ? shard_ladder(r) : search(r);
	runout_set_stop(NULL, NULL);
out:
	runout_release_signals();
	outdir_close(&r->out);
	for (size_t i = 0; i < r->nsteps; i++)
		kc_step_result_fini(&r->steps[i]);
	kc_streams_free(r->st);
	kc_bidi_stop(r->bidi);
	if (r->cert_path[0])
		unlink(r->cert_path);
	if (r->have_audio)
		kc_buf_fini(&r->audio);
	kc_scenario_free(r->sc);
	kc_creds_provider_stop(r->creds);
	kc_creds_provider_free(r->creds);
	free(r);
	return rc;
}
