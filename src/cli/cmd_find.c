/*
 * cmd_find.c - `kneecap find`, the main job: search for the saturation knee
 * of one endpoint and turn it into an autoscaling TargetValue.
 *
 * This file only composes.  The scenario (file plus flags, every flag being
 * a scenario key) configures the search controller (analysis/search), the
 * recommender (analysis/recommend), the payload pool, the target and, when
 * no TARGET is given, the built-in emulator; the engine runs each step the
 * controller asks for; report/ renders what came out.  SIGINT/SIGTERM stop
 * the running step within about 100 ms and everything measured so far is
 * still written, marked partial.
 */
#include "cli.h"
#include "cli_price.h"
#include "find_args.h"
#include "find_confirm.h"
#include "opts.h"
#include "outdir.h"
#include "runout.h"
#include "scenario_find.h"
#include "shard.h"
#include "signals_cli.h"
#include "target.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/engine.h"
#include "kneecap/jpeg.h"
#include "kneecap/knee.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/pool.h"
#include "kneecap/pricing.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/result.h"
#include "kneecap/scenario.h"
#include "kneecap/schedule.h"
#include "kneecap/search.h"

/* Builds the payload pool the configuration asks for; *pool stays NULL for GET. */
static int build_pool(const struct cli_find_cfg *c, bool image_default, struct kc_pool **pool,
		      struct kc_diag *d)
{
	const char *src = c->payload_source;
	if (!src)
		src = image_default ? "jpeg" : "none";
	if (!strcmp(src, "none"))
		return KC_OK;
	if (!strcmp(src, "dir"))
		return kc_pool_load_dir(pool, c->payload_dir, d);
	if (!strcmp(src, "body"))
		return kc_pool_load_body(pool, c->payload_body, c->body_content_type, d);
	return kc_pool_new_jpeg(pool, &c->jpeg, d);
}

static json_t *config_json(const struct find_opts *o, const struct cli_find_cfg *c,
			   const struct kc_engine *e, const char *target_display,
			   const struct kc_pool *pool, bool emulated)
{
	const struct kc_search_cfg *s = &c->search;
	json_t *search = json_pack(
		"{s:f,s:f,s:f,s:f,s:i,s:i,s:f,s:f,s:f,s:f,s:s,s:s}",
		"start", s->start, "max", s->max, "growth", s->growth, "precision", s->precision,
		"max_steps", s->max_steps, "max_remeasure", s->max_remeasure,
		"step_duration_s", (double)s->step_duration_ns / 1e9,
		"warmup_s", (double)s->warmup_ns / 1e9,
		"min_achieved_ratio", s->health.min_achieved_ratio,
		"max_error_rate", s->health.max_error_rate,
		"slo_percentile", kc_lat_stat_name(s->health.slo_stat),
		"arrival", kc_arrival_name(c->arrival));
	if (search && s->health.slo_set)
		json_object_set_new(search, "slo_ms", json_real(s->health.slo_ms));
	if (search)
		json_object_set_new(search, "confirm", json_boolean(c->confirm));
	json_t *cfg = json_pack(
		"{s:s,s:s?,s:o,s:s,s:I,s:I,s:s,s:s,s:b,s:{s:s,s:I,s:I,s:i}}",
		"target", target_display, "scenario", o->scenario_path, "search", search,
		"instance_type", c->rec.instance_type,
		"threads", (json_int_t)kc_engine_threads(e),
		"connections_per_thread", (json_int_t)kc_engine_connections(e),
		"http", kc_http_version_name(c->http),
		"latency_from", "intended send time (coordinated-omission corrected); "
				"service_ms from the actual send",
		"emulated", emulated,
		"histogram", "unit", "us", "lowest", (json_int_t)KC_ENGINE_HDR_LOWEST, "highest",
		(json_int_t)KC_ENGINE_HDR_HIGHEST, "sigfigs", KC_ENGINE_HDR_SIGFIGS);
	if (!cfg)
		return NULL;
	if (s->health.slo_set)
		json_object_set_new(cfg, "slo_ms", json_real(s->health.slo_ms));
	if (c->topts.response_stream)
		json_object_set_new(cfg, "response_stream", json_true());
	json_object_set_new(cfg, "client", json_string(kc_engine_client(e)));
	if (pool) {
		struct kc_pool_summary ps;
		kc_pool_summary(pool, &ps);
		json_object_set_new(cfg, "payload",
				    json_pack("{s:I,s:f,s:I,s:I,s:s,s:s}", "count",
					      (json_int_t)ps.count, "bytes_mean", ps.bytes_mean,
					      "bytes_min", (json_int_t)ps.bytes_min, "bytes_max",
					      (json_int_t)ps.bytes_max, "content_type",
					      ps.content_type, "source", ps.source));
	}
	if (emulated) {
		char desc[256];
		kc_emu_profile_describe(&c->emu, desc, sizeof(desc));
		json_object_set_new(cfg, "emulator",
				    json_pack("{s:s,s:f,s:i,s:i}", "profile", desc, "capacity_rps",
					      kc_emu_profile_capacity_rps(&c->emu), "instances",
					      c->emu.instances, "slots", c->emu.slots));
	}
	return cfg;
}

/* The progress and interval hooks of one step, with the search's stability
 * watch in between: a settled step ends early (kc_engine_end_window). */
struct step_hooks {
	struct runout *ro;
	struct kc_engine *e;
	struct kc_step_watch watch;
};

static void step_progress(void *ud, const struct kc_progress *p)
{
	struct step_hooks *h = ud;
	runout_progress(h->ro, p);
	if (p->warming_up)
		return;
	struct kc_watch_sample x = {.achieved_rps = p->achieved_rps, .latency_ms = p->p50_ms,
				    .inflight = (double)p->inflight, .errors = p->errors};
	if (kc_step_watch_feed(&h->watch, &x))
		kc_engine_end_window(h->e);
}

static void step_interval(void *ud, int step_index, const struct kc_hdr *latency_us)
{
	struct step_hooks *h = ud;
	runout_interval(h->ro, step_index, latency_us);
}

/* The search loop.  Returns the number of steps recorded in steps[]. */
static int run_search(struct kc_engine *e, struct kc_search *s, const struct cli_find_cfg *c,
		      struct runout *ro, struct kc_step_result *steps, bool *interrupted,
		      struct kc_diag *d, int *fail)
{
	int n = 0;
	double offered;
	while (kc_search_next(s, &offered) == KC_SEARCH_RUN && n < KC_SEARCH_MAX_STEPS) {
		if (runout_caught_signal()) {
			*interrupted = true;
			break;
		}
		struct kc_step_spec spec = {
			.index = n,
			.mode = KC_STEP_RATE,
			.rate_rps = offered,
			.duration_ns = c->search.step_duration_ns,
			.warmup_ns = c->search.warmup_ns,
			.arrival = c->arrival,
			.seed = (uint64_t)n + 1,
		};
		struct step_hooks sh = {.ro = ro, .e = e};
		kc_search_watch(s, offered, spec.duration_ns, &sh.watch);
		struct kc_engine_hooks hooks = {
			.progress = step_progress, .interval = step_interval, .ud = &sh};
		if (kc_engine_run_step(e, &spec, &hooks, &steps[n], d)) {
			*fail = 1;
			break;
		}
		kc_search_record(s, &steps[n]);
		n++;
		if (steps[n - 1].partial || kc_engine_stopped(e)) {
			steps[n - 1].partial = true;
			*interrupted = true;
			break;
		}
		if (!ro->quiet) {
			runout_progress_end(ro);
			const struct kc_search_step *ss = kc_search_step(s, kc_search_nsteps(s) - 1);
			const struct kc_step_result *r = &steps[n - 1];
			double arrived = kc_step_arrived(r);
			fprintf(stderr, "kneecap: step %d: %.1f rps offered, %.*f arrived, %.*f achieved, "
					"p99 %.1f ms, %llu errors -> %s\n",
				n, r->offered, kc_rate_decimals(arrived), kc_rate_figure(arrived),
				kc_rate_decimals(r->achieved), kc_rate_figure(r->achieved), r->latency.p99,
				(unsigned long long)r->errors,
				ss ? kc_verdict_name(ss->v.verdict) : "?");
		}
	}
	return n;
}

/* Per-step verdicts, merged into steps[] as `stable`, `verdict` and `attempt`. */
static json_t *verdicts_json(const struct kc_search *s, int nsteps)
{
	json_t *verdicts = json_array();
	for (int i = 0; verdicts && i < kc_search_nsteps(s) && i < nsteps; i++) {
		json_array_append_new(verdicts, kc_search_step_to_json(kc_search_step(s, i)));
	}
	return verdicts;
}

/* result.json `cost`: the price and its source (never invented), cost per million at the target. */
static json_t *cost_json(const struct kc_recommend_cfg *rc, const struct kc_recommendation *rec)
{
	const char *pp = cli_price_path(NULL);
	struct kc_pricing *pr = NULL;
	if (pp && kc_pricing_load(&pr, pp, NULL) != KC_OK)
		pr = NULL;
	double usd = 0;
	enum kc_price_source psrc = kc_pricing_price(pr, rc->instance_type, rc->usd_per_hour, &usd);
	kc_pricing_free(pr);
	json_t *cost = json_pack("{s:s}", "price_source", kc_price_source_name(psrc));
	if (cost && psrc != KC_PRICE_UNKNOWN) {
		double per_m = 0;
		json_object_set_new(cost, "usd_per_hour", json_real(usd));
		if (kc_pricing_cost_per_million(usd, rec->target_load, rec->target_load, &per_m,
						NULL) == KC_OK)
			json_object_set_new(cost, "usd_per_million_at_target", json_real(per_m));
	}
	return cost;
}

/* The table, the explanation and where the files went. */
static void print_answer(FILE *f, const struct find_opts *o, const struct kc_recommend_cfg *rc,
			 const struct kc_search *srch,
			 const struct kc_step_result *steps, int nsteps, const struct kc_knee *knee,
			 const struct kc_knee_check *chk, const struct kc_recommendation *rec,
			 int64_t took_ns)
{
	fputc('\n', f);
	runout_print_search_table(f, steps, (size_t)nsteps, srch);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	if (kc_recommend_explain(rc, knee, chk, rec, &b) == 0)
		fprintf(f, "\n%s", b.data ? b.data : "");
	kc_buf_fini(&b);
	/* Load is what the steps measured; the wall clock adds probes, warm-ups
	 * cut short and the pauses between steps. */
	fprintf(f, "search: %d steps, %.0f s of load, %.0f s wall clock\n", nsteps,
		(double)knee->measured_ns / 1e9, (double)took_ns / 1e9);
}

/* The confirmation line; a failed confirmation is also said on stderr, even with -q. */
static void print_confirm(FILE *f, const struct kc_confirm *conf, bool quiet)
{
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	if (kc_confirm_describe(conf, &b) == 0 && b.data) {
		if (!quiet || f != stderr)
			fprintf(f, "%s", b.data);
		if (!conf->healthy)
			cli_error("find: the confirmation step at the recommended target was unhealthy (%s): "
				  "not writing scaling-policy.json or apply.sh",
				  kc_verdict_name(conf->v.verdict));
	}
	kc_buf_fini(&b);
}

/* One find run's state, shared by its phases so each stays short. */
struct find_run {
	struct find_opts o;
	struct kc_scenario *sc;
	struct cli_find_cfg c;
	struct kc_pool *pool;
	struct kc_emu *emu;
	struct kc_engine *e;
	struct cli_target t;
	struct kc_body *bodies;
	size_t nbodies;
	bool emulated;
	struct outdir out;
	struct runout ro;
	struct kc_search s;
	struct kc_step_result *steps;
	int nsteps;
	int64_t took_ns;
	bool cut_short;
	int fail, sig;
	struct kc_knee knee;
	struct kc_knee_check chk;
	struct kc_recommendation rec;
	bool have_rec;
	struct kc_confirm conf;
	struct cli_find_tail tail;
	struct kc_diag d;
};

/* Starts the emulator when there is no TARGET; writes the URL to load. */
static int find_start_emulator(struct find_run *f, char *url, size_t cap)
{
	if (!f->emulated) {
		snprintf(url, cap, "%s", f->o.target);
		return 0;
	}
	struct cli_find_cfg *c = &f->c;
	/* Every connection comes from this process: the per-client cap that
	 * guards a shared `serve` would only turn its own load into errors. */
	if (c->emu.max_connections_per_client == 0)
		c->emu.max_connections_per_client = c->emu.max_connections;
	if (kc_emu_start(&c->emu, "127.0.0.1:0", &f->emu, &f->d)) {
		cli_diag_error("find: emulator", &f->d);
		return KC_EXIT_USAGE;
	}
	const char *name = c->emu.endpoint_name[0] ? c->emu.endpoint_name
		: c->rec.endpoint_name[0] ? c->rec.endpoint_name : "kneecap-emulator";
	snprintf(url, cap, "http://127.0.0.1:%d/endpoints/%s/%s", kc_emu_port(f->emu), name,
		 c->topts.response_stream ? "invocations-response-stream" : "invocations");
	if (!f->o.quiet) {
		char desc[256];
		kc_emu_profile_describe(&c->emu, desc, sizeof(desc));
		fprintf(stderr, "kneecap: no TARGET: emulator on %s (%s)\n", url, desc);
	}
	return 0;
}

/* Opens the target and builds the engine (threads, connections, headers,
 * bodies), then probes it.  Returns 0 or an exit status. */
static int find_open_engine(struct find_run *f, const char *url)
{
	const struct cli_find_cfg *c = &f->c;
	uint32_t threads = c->search.threads > 0 ? (uint32_t)c->search.threads : 0;
	if (!threads) {
		long np = sysconf(_SC_NPROCESSORS_ONLN);
		threads = np > 0 ? (uint32_t)np : 1;
	}
	/* The emulator is a plain http:// URL; its stream path is already in it. */
	struct cli_target_opts topts = c->topts;
	if (f->emulated)
		topts.response_stream = false;
	if (cli_target_open(&f->t, url, &topts, threads, &f->d)) {
		cli_diag_error("find", &f->d);
		return KC_EXIT_USAGE;
	}
	if (f->emulated)
		f->t.response_stream = c->topts.response_stream;
	if (runout_pool_bodies(f->pool, f->t.content_type, &f->bodies, &f->nbodies)) {
		cli_error("find: out of memory");
		return KC_EXIT_INTERNAL;
	}
	uint32_t conns = 0;
	if (c->connections) {
		if ((uint64_t)c->connections < threads)
			threads = (uint32_t)c->connections;
		conns = (uint32_t)((c->connections + threads - 1) / threads);
	}
	if (f->t.sagemaker && c->method && strcmp(c->method, "POST")) {
		cli_error("find: a sagemaker: TARGET is invoked with POST (not --method %s)",
			  c->method);
		return KC_EXIT_USAGE;
	}
	/* The user's -H lines, then the target's own (SageMaker's headers), as run does. */
	const char *headers[KC_ENGINE_MAX_HEADERS];
	size_t nheaders = 0;
	for (size_t i = 0; i < f->o.nheaders && nheaders < KC_ENGINE_MAX_HEADERS; i++)
		headers[nheaders++] = f->o.headers[i];
	for (int i = 0; i < f->t.nheaders && nheaders < KC_ENGINE_MAX_HEADERS; i++)
		headers[nheaders++] = f->t.headers[i];
	/* An http(s) TARGET (the emulator too) is a plain URL: name the component
	 * as a sagemaker: TARGET's own headers do. */
	char ic_line[128];
	if (!f->t.sagemaker && c->topts.sm.inference_component &&
	    nheaders < KC_ENGINE_MAX_HEADERS) {
		snprintf(ic_line, sizeof(ic_line), "X-Amzn-SageMaker-Inference-Component: %.63s",
			 c->topts.sm.inference_component);
		headers[nheaders++] = ic_line;
	}
	struct kc_engine_config ec = {
		.method = c->method,
		.headers = headers,
		.nheaders = nheaders,
		.bodies = f->bodies,
		.nbodies = f->nbodies,
		/* Neither given: the engine's defaults, shrunk to fit ulimit -n. */
		.threads = c->search.threads > 0 || c->connections ? threads : 0,
		.connections = conns,
		.streams_per_connection = (uint32_t)c->streams,
		.http = c->http,
		.client = c->client,
		.proxy = c->proxy,
		.client_cert = c->client_cert,
		.client_key = c->client_key,
		.insecure = c->insecure,
		.cacert = c->cacert,
		.connect_timeout_ns = c->connect_timeout_ns,
		.request_timeout_ns = c->timeout_ns,
		.max_inflight = (uint32_t)c->max_inflight,
		.gen_lag_p99_ms = c->search.health.max_lag_ms,
	};
	cli_target_apply(&f->t, &ec);
	if (kc_engine_new(&f->e, &ec, &f->d)) {
		cli_diag_error("find", &f->d);
		return KC_EXIT_USAGE;
	}
	return runout_probe(f->e, "find");
}

/* The search, then the knee and (unless cut short) the recommendation. */
static void find_search(struct find_run *f)
{
	runout_set_stop(runout_stop_engine, f->e);
	int64_t t0 = kc_clock_ns();
	bool interrupted = false;
	f->nsteps = run_search(f->e, &f->s, &f->c, &f->ro, f->steps, &interrupted, &f->d,
			       &f->fail);
	f->took_ns = kc_clock_ns() - t0;
	runout_progress_end(&f->ro);
	f->sig = runout_caught_signal();
	/* A stop nobody asked for (the interval log failed) cuts the search short too. */
	f->cut_short = interrupted || f->sig || f->fail || outdir_failed(&f->out);
	if (f->fail)
		cli_diag_error("find", &f->d);
	if (f->sig && !f->o.quiet)
		fprintf(stderr, "kneecap: interrupted (%s): writing partial results, "
				"no recommendation\n", runout_signal_name(f->sig));
	if (f->t.sagemaker)
		runout_sagemaker_hints("find", f->steps, (size_t)f->nsteps);

	kc_search_result(&f->s, &f->knee);
	kc_knee_check(f->steps, (size_t)f->nsteps, f->knee.knee_step, &f->chk);
	/* A search cut short has not shown where the knee is: no TargetValue from it. */
	if (f->knee.found && !f->cut_short) {
		double lat = f->knee.knee_step >= 0 ? f->steps[f->knee.knee_step].service.mean : 0;
		f->have_rec = kc_recommend_compute(&f->c.rec, &f->knee, lat, &f->rec, &f->d) == KC_OK;
	}
}

/* The confirmation step at the recommended target, when asked for. */
static void find_confirm(struct find_run *f)
{
	struct kc_confirm *conf = &f->conf;
	if (!f->have_rec || !f->c.confirm)
		return;
	bool conf_partial = false;
	if (find_confirm_run(f->e, &f->c, &f->ro, &f->rec, f->nsteps, conf, &conf_partial,
			     &f->d)) {
		cli_diag_error("find: confirmation", &f->d);
		f->fail = 1;
		f->have_rec = false;
	}
	f->sig = runout_caught_signal();
	/* An interrupted confirmation is no confirmation: partial, no recommendation. */
	if (conf_partial || f->sig || outdir_failed(&f->out)) {
		f->cut_short = true;
		f->have_rec = false;
		conf->ran = false;
	}
	if (conf->ran && !f->o.quiet)
		fprintf(stderr, "kneecap: confirm: %.1f rps offered, %.*f arrived, %.*f achieved, "
				"p99 %.1f ms, %llu errors -> %s\n",
			conf->offered, kc_rate_decimals(conf->arrived), kc_rate_figure(conf->arrived),
			kc_rate_decimals(conf->achieved), kc_rate_figure(conf->achieved),
			conf->latency.p99, (unsigned long long)conf->errors,
			kc_verdict_name(conf->v.verdict));
	if (f->sig && !f->o.quiet)
		fprintf(stderr, "kneecap: interrupted (%s) during the confirmation step: writing "
				"partial results, no recommendation\n", runout_signal_name(f->sig));
}

/* result.json's find sections: knee, recommendation, search, cost, confirm. */
static json_t *find_extra_json(const struct find_run *f)
{
	json_t *extra = json_object();
	if (!extra)
		return NULL;
	json_object_set_new(extra, "knee",
			    runout_knee_json(&f->knee, &f->chk, kc_recommend_units(&f->c.rec), f->cut_short));
	if (f->have_rec) {
		json_t *jr = kc_recommend_to_json(&f->c.rec, &f->rec);
		/* A reader (plan) must know the target did not hold at its own rate. */
		if (jr && f->conf.ran)
			json_object_set_new(jr, "confirmed", json_boolean(f->conf.healthy));
		json_object_set_new(extra, "recommendation", jr);
	}
	json_object_set_new(extra, "search",
			    json_pack("{s:s,s:i,s:f,s:f,s:s}", "end", kc_search_end_name(f->knee.end),
				      "steps", f->nsteps, "took_s", (double)f->took_ns / 1e9,
				      "load_s", (double)f->knee.measured_ns / 1e9,
				      "diagnosis", f->knee.diagnosis));
	if (f->t.sagemaker)
		json_object_set_new(extra, "credentials", json_string(f->t.creds_desc));
	if (f->have_rec && f->c.rec.instance_type[0])
		json_object_set_new(extra, "cost", cost_json(&f->c.rec, &f->rec));
	if (f->conf.ran)
		json_object_set_new(extra, "confirm", kc_confirm_to_json(&f->conf));
	json_t *sig = cli_signals_json(&f->tail.signals);
	if (sig)
		json_object_set_new(extra, "signals", sig);
	return extra;
}

/* Writes the outputs, prints the answer; returns the exit status. */
static int find_finish(struct find_run *f, const struct kc_result_env *env)
{
	outdir_hlog_close(&f->out, true);
	/* The policy is written only for a target that held (or was not asked to be confirmed). */
	bool confirmed = !f->conf.ran || f->conf.healthy;
	json_t *verdicts = verdicts_json(&f->s, f->nsteps);
	cli_signals_steps_json(&f->tail.signals, verdicts);
	json_t *extra = find_extra_json(f);
	json_t *config = config_json(&f->o, &f->c, f->e, f->t.display, f->pool, f->emulated);
	struct kc_result res = {
		.mode = "rps", .target = f->t.display, .config = config, .env = *env,
		.steps = f->steps, .nsteps = (size_t)f->nsteps, .partial = f->cut_short,
		.interrupted = runout_signal_name(f->sig), .extra = extra, .step_extra = verdicts,
		.incomplete = outdir_failed(&f->out) ? f->out.failed : NULL,
	};
	/* The policy pair only with a confirmed recommendation and nothing failed. */
	outdir_write_result(&f->out, &res, f->o.json, &f->c.rec,
			    f->have_rec && confirmed ? &f->rec : NULL);
	runout_set_stop(NULL, NULL);
	json_decref(config);
	json_decref(extra);
	json_decref(verdicts);

	/* The human answer, on stdout unless --json took it. */
	FILE *hf = f->o.json ? stderr : stdout;
	if (!f->o.quiet || !f->o.json)
		print_answer(hf, &f->o, &f->c.rec, &f->s, f->steps, f->nsteps, &f->knee, &f->chk,
			     f->have_rec ? &f->rec : NULL, f->took_ns);
	if (f->conf.ran)
		print_confirm(hf, &f->conf, f->o.quiet);
	cli_signals_print(hf, &f->tail.signals);
	outdir_list(&f->out, hf);
	int status;
	if (runout_all_connect_errors(f->steps, (size_t)f->nsteps))
		status = KC_EXIT_UNREACHABLE;
	else if (f->fail)
		status = KC_EXIT_INTERNAL; /* the spec was checked: what failed is ours */
	else if (!f->have_rec || !confirmed)
		status = KC_EXIT_THRESHOLD;
	else
		status = KC_EXIT_OK;
	return runout_exit_status(&f->out, f->sig, status);
}

/*
 * find --shard: the ladder --ramp names instead of the search, which needs
 * every step's answer before it picks the next and so cannot be split.  A
 * shard takes 1/N of the connection pool here and 1/N of each rung's rate
 * as it runs.  Returns 0 or an exit status.
 */
static int find_shard_check(struct find_run *f)
{
	struct find_opts *o = &f->o;
	if (!o->shard.on) {
		if (o->ramp_text || o->shard.have_start_at || o->run_id) {
			cli_error("find: --ramp, --start-at and --run-id go with --shard I/N or --shards N "
				  "(one process searches; use kneecap run --ramp for a ladder)");
			return KC_EXIT_USAGE;
		}
		return 0;
	}
	if (!o->ramp_text) {
		cli_error("find: --shard needs --ramp A:B:STEP: shards cannot search together (each "
			  "step of a search follows from the last), so they run a fixed ladder; give "
			  "the rungs around the knee you expect, in requests/s over all shards "
			  "(e.g. --ramp 20:200:20)");
		return KC_EXIT_USAGE;
	}
	if (!o->target) {
		cli_error("find: --shard needs a TARGET all shards load together (without one, "
			  "each shard would start an emulator of its own; start kneecap serve)");
		return KC_EXIT_USAGE;
	}
	struct cli_find_cfg *c = &f->c;
	if (o->ramp.to > KC_ENGINE_MAX_RATE) {
		cli_error("find: --ramp '%s': rates must be at most 10000000 requests per second",
			  o->ramp_text);
		return KC_EXIT_USAGE;
	}
	if (cli_shard_finish(&o->shard, o->run_id, c->search.step_duration_ns, c->search.warmup_ns))
		return KC_EXIT_USAGE;
	c->connections = cli_shard_part(&o->shard, c->connections);
	c->max_inflight = cli_shard_part(&o->shard, c->max_inflight);
	return 0;
}

/* What every find shard of one run must share: the load, the request, and how merge judges. */
static json_t *find_shard_config(const struct find_run *f)
{
	const struct cli_find_cfg *c = &f->c;
	json_t *o = json_pack("{s:s,s:s,s:s,s:f,s:f,s:s,s:s?,s:s,s:f,s:b,s:o,s:o}",
			      "command", "find", "target", f->t.display, "ramp", f->o.ramp_text,
			      "step_duration_s", (double)c->search.step_duration_ns / 1e9,
			      "warmup_s", (double)c->search.warmup_ns / 1e9,
			      "arrival", kc_arrival_name(c->arrival), "method", c->method,
			      "http", kc_http_version_name(c->http),
			      "timeout_s", (double)c->timeout_ns / 1e9, "payload", f->pool != NULL,
			      "health", cli_shard_health_json(&c->search.health),
			      "recommend", cli_shard_rec_json(&c->rec));
	if (o)
		json_object_set_new(o, "max_error_rate", json_real(c->search.health.max_error_rate));
	/* What each request is; the synthetic pool is made from c->jpeg (build_pool). */
	bool synthetic = f->pool && (!c->payload_source || !strcmp(c->payload_source, "jpeg"));
	struct cli_shard_request rq = {
		.headers = f->o.headers, .nheaders = f->o.nheaders,
		.content_type = c->body_content_type, .response_stream = c->topts.response_stream,
		.fips = c->topts.fips, .dualstack = c->topts.dualstack, .region = c->topts.region,
		.endpoint_url = c->topts.endpoint_url, .sm = &c->topts.sm, .pool = f->pool,
		.jpeg = synthetic ? &c->jpeg : NULL};
	if (o && cli_shard_add_request(o, &rq)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One shard's ladder and its result (no knee: that is merge's, over every shard). */
static int find_shard_run(struct find_run *f, const struct kc_result_env *env)
{
	struct cli_shard *sh = &f->o.shard;
	/* A sagemaker: target is not asked (its runtime URL answers a HEAD unsigned only). */
	cli_shard_clock_offset(sh, f->o.target, f->c.insecure, f->c.cacert);
	struct cli_ladder l = {
		.shard = sh, .ramp = &f->o.ramp, .start_at_text = f->o.start_at_text,
		.base = {.mode = KC_STEP_RATE, .duration_ns = f->c.search.step_duration_ns,
			 .warmup_ns = f->c.search.warmup_ns, .arrival = f->c.arrival, .seed = 1},
	};
	size_t done = 0;
	bool stopped = false;
	runout_set_stop(runout_stop_engine, f->e);
	int status = cli_shard_run_steps(f->e, &l, &f->ro, f->steps, f->o.ramp.nsteps, &done,
					 &stopped);
	f->nsteps = (int)done;
	f->sig = runout_caught_signal();
	outdir_hlog_close(&f->out, true);
	json_t *config = config_json(&f->o, &f->c, f->e, f->t.display, f->pool, f->emulated);
	json_t *extra = json_pack("{s:s}", "note", "one shard of a ladder: kneecap merge of every "
				  "shard finds the knee and the recommendation");
	if (extra)
		json_object_set_new(extra, "shard",
				    cli_shard_json(sh, find_shard_config(f), f->steps, done));
	struct kc_result res = {
		.mode = "rps", .target = f->t.display, .config = config, .env = *env,
		.steps = f->steps, .nsteps = done, .partial = stopped || f->sig,
		.interrupted = runout_signal_name(f->sig), .extra = extra,
		.incomplete = outdir_failed(&f->out) ? f->out.failed : NULL,
	};
	outdir_write_result(&f->out, &res, f->o.json, NULL, NULL);
	runout_set_stop(NULL, NULL);
	json_decref(config);
	json_decref(extra);
	FILE *hf = f->o.json ? stderr : stdout;
	if (!f->o.json)
		runout_print_table(stdout, f->steps, done, "offered");
	fprintf(hf, "shard %d of %d (run id '%s'): kneecap merge of every shard's --out finds "
		"the knee\n", sh->index, sh->count, sh->run_id);
	outdir_list(&f->out, hf);
	if (status < 0 && done > 0 && !stopped && runout_all_connect_errors(f->steps, done))
		status = KC_EXIT_UNREACHABLE;
	if (status < 0)
		status = KC_EXIT_OK;
	return runout_exit_status(&f->out, f->sig, status);
}

/* Reads the configuration and opens the output directory, the payload
 * pool, the target and the engine.  Returns 0 or an exit status. */
static int find_prepare(struct find_run *f)
{
	if (cli_find_cfg_read(f->sc, &f->c, &f->o.target, &f->d)) {
		cli_diag_error("find", &f->d);
		return KC_EXIT_USAGE;
	}
	if (cli_signals_check(&f->c.topts))
		return KC_EXIT_USAGE;
	int status = find_shard_check(f);
	if (status)
		return status;
	status = outdir_open(&f->out, "find", f->o.out_dir);
	if (status)
		return status;
	/* From here on a signal is a request for partial results, never a kill. */
	runout_catch_signals();
	f->emulated = !f->o.target;
	bool image_default = f->emulated || kc_sagemaker_is_target(f->o.target);
	if (build_pool(&f->c, image_default, &f->pool, &f->d)) {
		cli_diag_error("find: payload", &f->d);
		return KC_EXIT_USAGE;
	}
	char url[1100];
	if ((status = find_start_emulator(f, url, sizeof(url))) != 0)
		return status;
	if ((status = find_open_engine(f, url)) != 0)
		return status;
	if (kc_search_init(&f->s, &f->c.search, &f->d)) {
		cli_diag_error("find", &f->d);
		return KC_EXIT_USAGE;
	}
	size_t cap = f->o.shard.on && f->o.ramp.nsteps > KC_SEARCH_MAX_STEPS ? f->o.ramp.nsteps
									     : KC_SEARCH_MAX_STEPS;
	f->steps = calloc(cap, sizeof(*f->steps));
	if (!f->steps) {
		cli_error("find: out of memory");
		return KC_EXIT_INTERNAL;
	}
	return 0;
}

int kc_cmd_find(int argc, char **argv)
{
	struct find_run *f = calloc(1, sizeof(*f));
	if (!f) {
		cli_error("find: out of memory");
		return KC_EXIT_INTERNAL;
	}
	int status = find_parse_args(argc, argv, &f->o, &f->sc);
	if (status >= 0)
		goto done;
	cli_log_init(f->o.verbose, f->o.quiet);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kc_diag_clear(&f->d);
	outdir_open(&f->out, "find", NULL);
	if ((status = find_prepare(f)) != 0)
		goto done;
	runout_init(&f->ro, "find", &f->out, f->o.quiet);
	f->ro.engine = f->e;
	struct kc_result_env env;
	runout_env_detect(&env);
	if (outdir_hlog_open(&f->out, env.started_wall_ms)) {
		status = KC_EXIT_WRITE;
		goto done;
	}
	if (f->o.shard.on) {
		status = find_shard_run(f, &env);
		goto done;
	}
	find_search(f);
	find_confirm(f);
	/* The endpoint's own metrics for every step (sagemaker: targets), not
	 * waited for when interrupted; then the alarm apply.sh ends with. */
	cli_find_tail_run(&f->tail, &f->t, &f->c.topts,
			  f->c.search.health.slo_set ? f->c.search.health.slo_ms : 0, f->steps,
			  (size_t)f->nsteps, f->knee.knee_step,
			  f->have_rec && f->rec.metric == KC_METRIC_INVOCATIONS ? f->rec.target_value : 0,
			  f->conf.ran ? &f->conf.latency : NULL, f->o.quiet, runout_caught_signal(),
			  &f->out.alarm);
	status = find_finish(f, &env);
done:
	for (int i = 0; f->steps && i < f->nsteps; i++)
		kc_step_result_fini(&f->steps[i]);
	free(f->steps);
	cli_signals_fini(&f->tail.signals);
	free(f->bodies);
	kc_engine_free(f->e);
	cli_target_close(&f->t);
	runout_release_signals();
	outdir_close(&f->out);
	kc_emu_stop(f->emu);
	kc_pool_free(f->pool);
	kc_scenario_free(f->sc);
	free(f);
	return status;
}
