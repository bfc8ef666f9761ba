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
#include "streams_cmd.h"

/* kc_streams_stop for runout_catch_signals (async-signal-safe). */
static void stop_streams(void *st)
{
	kc_streams_stop(st);
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
	return streams_finish(r, &srch, started_ms);
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
		return streams_bad("ramp", o->ramp_text, "stream counts are whole numbers up to 1000000");
	if (l->from < o->shard.count)
		return streams_bad("ramp", o->ramp_text, "the first rung must hold at least one stream per "
			   "shard");
	if (l->nsteps > KC_SEARCH_MAX_STEPS)
		return streams_bad("ramp", o->ramp_text, "at most 64 rungs");
	if (cli_shard_finish(&o->shard, o->run_id, r->scfg.step_duration_ns, r->scfg.warmup_ns))
		return KC_EXIT_USAGE;
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
	json_t *cfg = streams_config_json(r);
	struct kc_result res = {.mode = "streams", .target = o->target, .config = cfg,
				.steps = r->steps, .nsteps = r->nsteps, .partial = partial,
				.interrupted = runout_signal_name(sig), .extra = extra};
	kc_result_env_detect(&res.env);
	res.env.kneecap_version = KC_VERSION;
	res.env.started_wall_ms = started_ms;
	outdir_write_result(&r->out, &res, o->json, NULL, NULL);
	if (!o->json)
		streams_print_steps(stdout, r);
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
	int rc = streams_parse_args(&r->o, argc, argv);
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
	if ((rc = streams_load_config(r)) || (rc = streams_shard_check(r)) || (rc = streams_setup_target(r)) ||
	    (rc = streams_build_driver(r)))
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
