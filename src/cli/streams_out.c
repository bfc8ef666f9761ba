/*
 * streams_out.c - `kneecap streams` output (streams_cmd.h): result.json's
 * streams-only blocks, the steps table, and the knee, recommendation and
 * files written at the end of a search.
 */
#include "streams_cmd.h"

static json_t *lat_json(const struct kc_latency *l)
{
	return json_pack("{s:f,s:f,s:f,s:f,s:f,s:I}", "p50", l->p50, "p90", l->p90, "p99",
			 l->p99, "max", l->max, "mean", l->mean, "count", (json_int_t)l->count);
}

json_t *streams_json(const struct run *r)
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

json_t *streams_config_json(const struct run *r)
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

void streams_print_steps(FILE *f, const struct run *r)
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

int streams_finish(struct run *r, const struct kc_search *srch, int64_t started_ms)
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
	json_t *cfg = streams_config_json(r);
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
		streams_print_steps(stdout, r);
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
