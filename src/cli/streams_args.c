/*
 * streams_args.c - `kneecap streams` flags and scenario (streams_cmd.h):
 * the shared option table with streams' own, the [streams] keys (the flag
 * wins) and the search configuration they make.
 */
#include "streams_cmd.h"

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

int streams_bad(const char *opt, const char *val, const char *why)
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
			return streams_bad("run-id", arg, "must be 1..127 characters");
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
int streams_parse_args(struct opts *o, int argc, char **argv)
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
int streams_opt_u32(const char *name, const char *v, int64_t lo, int64_t hi, uint32_t *out)
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

int streams_opt_dur(const char *name, const char *v, int64_t lo, int64_t *out)
{
	char flag[64];
	if (!v)
		return 0;
	snprintf(flag, sizeof(flag), "--%s", name);
	return cli_parse_duration(CLI_STREAMS, flag, v, lo, 24 * 3600 * KC_NS_PER_S, out);
}
/* The [target] endpoint variants and the [streams] keys (a flag given
 * wins), then the check that every key of the file was used. */
static int read_scenario_keys(struct run *r, struct kc_diag *d)
{
	struct opts *o = &r->o;
	/* [target] fips, dualstack: the endpoint variants, as in run and find */
	struct { const char *key; bool *dst; } tk[] = {{"fips", &o->fips},
						     {"dualstack", &o->dualstack}};
	for (size_t i = 0; r->sc && i < sizeof(tk) / sizeof(tk[0]); i++) {
		bool b;
		int grc = kc_scenario_get_bool(r->sc, "target", tk[i].key, &b, d);
		if (grc == 0)
			*tk[i].dst = *tk[i].dst || b;
		else if (grc != KC_ENOTFOUND) {
			cli_diag_error("streams", d);
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
		int grc = kc_scenario_get_str(r->sc, "streams", sk[i].key, &v, d);
		if (grc == 0 && !*sk[i].dst)
			*sk[i].dst = v;
		else if (grc && grc != KC_ENOTFOUND) {
			cli_diag_error("streams", d);
			return KC_EXIT_USAGE;
		}
	}
	/* A file's chunk_interval is checked where it was written (file:line:key),
	 * units required as for every duration; the flag, when given, wins. */
	int64_t scratch_ns;
	int drc = r->sc ? kc_scenario_get_duration_ns(r->sc, "streams", "chunk_interval", KC_NS_PER_MS,
						     0, 3600 * KC_NS_PER_S, &scratch_ns, d)
			: KC_ENOTFOUND;
	if (drc && drc != KC_ENOTFOUND) {
		cli_diag_error("streams", d);
		return KC_EXIT_USAGE;
	}
	if (r->sc && kc_scenario_check_unused(r->sc, d)) {
		cli_diag_error("streams", d);
		return KC_EXIT_USAGE;
	}
	return 0;
}

int streams_load_config(struct run *r)
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
	int rc = read_scenario_keys(r, &d);
	if (rc)
		return rc;
	struct kc_search_cfg *c = &r->scfg;
	uint32_t u;
	if (o->start) {
		u = 0;
		if ((rc = streams_opt_u32("start", o->start, 1, 1000000, &u)))
			return rc;
		c->start = u;
	}
	if (o->max) {
		u = 0;
		if ((rc = streams_opt_u32("max", o->max, 1, 1000000, &u)))
			return rc;
		c->max = u;
	}
	if ((rc = streams_opt_dur("step-duration", o->step_duration, 100 * KC_NS_PER_MS,
			  &c->step_duration_ns)) ||
	    (rc = streams_opt_dur("warmup", o->warmup, 0, &c->warmup_ns)))
		return rc;
	if (o->limit) {
		int64_t ns = 0;
		if ((rc = streams_opt_dur("latency-limit", o->limit, KC_NS_PER_US, &ns)))
			return rc;
		c->health.slo_set = true;
		c->health.slo_ms = (double)ns / 1e6;
	}
	if (o->statistic && kc_lat_stat_parse(o->statistic, &c->health.slo_stat))
		return streams_bad("statistic", o->statistic, "want mean, p50, p90, p99 or p999");
	if (kc_search_cfg_validate(c, &d)) {
		cli_diag_error("streams", &d);
		return KC_EXIT_USAGE;
	}
	if (o->instance_type)
		snprintf(r->rcfg.instance_type, sizeof(r->rcfg.instance_type), "%s",
			 o->instance_type);
	return 0;
}
