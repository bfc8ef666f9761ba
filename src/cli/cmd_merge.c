/*
 * cmd_merge.c - `kneecap merge SHARD_DIR... --out DIR`: the shards of one
 * ladder (`run`, `find` or `streams` with `--ramp ... --shard I/N`) added
 * into the run one process would
 * have made, exactly: histograms add step by step and second by second,
 * counts and error classes sum, in-flight levels sum (the windows line up
 * on the common clock).  Then the knee finder and the recommender run on
 * the merged ladder and the same writers as find's write the same files,
 * with a shards[] section saying where each slice ran and how well.  The
 * ladder is judged and recommended with the settings the shards' command
 * recorded (find's and streams' thresholds and [recommend]).  This file is
 * the command and the writing; merge_read.c reads and checks the shards,
 * merge_add.c adds them.
 *
 * Shards that do not belong together are refused, naming the shard: another
 * run id or configuration, a missing, doubled or out-of-range index, other
 * steps, a latency or service log missing or not adding up to its
 * result.json, a clock off the others', or a step started later than the
 * other shards' by more than the warm-up at a rung that can move the knee
 * (unless --allow-late: then merged and flagged).
 */
#include "cli.h"
#include "merge.h"
#include "opts.h"
#include "outdir.h"
#include "runout.h"
#include "shard.h"
#include "kc_config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "kneecap/knee.h"
#include "kneecap/parse.h"
#include "kneecap/recommend.h"
#include "kneecap/result.h"
#include "kneecap/search.h"
#include "kneecap/verdict.h"

static const char usage[] =
	"usage: kneecap merge SHARD_DIR... --out DIR [options]\n"
	"\n"
	"Add the shards of one ladder (kneecap run, find or streams with --ramp\n"
	"A:B:STEP --shard I/N, or --shards N under a Kubernetes Indexed Job or\n"
	"Slurm) into one result, exactly: latency histograms add step by step and\n"
	"interval by interval, counts and error classes sum.  The knee finder and\n"
	"the recommender then run on the merged ladder with the thresholds and\n"
	"recommendation settings find and streams shards record (the options below\n"
	"override them), and DIR gets what find or streams writes: result.json\n"
	"(with shards[]), steps.csv, latency.hlog, scaling-policy.json, apply.sh.\n"
	"\n"
	"options:\n"
	"  --out DIR                  where the merged files go (required)\n"
	"  --allow-late               merge a shard that started a step later than the\n"
	"                             others by more than the warm-up, or whose clock\n"
	"                             is off theirs (flagged in shards[], the step and\n"
	"                             merge); refused otherwise\n"
	"  --slo D                    latency limit of a healthy step (default: the\n"
	"                             shards'; run shards: none)\n"
	"  --slo-percentile S         mean|p50|p90|p99|p999 (default: the shards';\n"
	"                             run shards: p99)\n"
	"  --max-error-rate F         errors / finished above F fails a step\n"
	"                             (default: the shards' setting)\n"
	"  --instance-type T          instance type the recommendation is for\n"
	"                             (default: the shards')\n"
	"  --instances N              instances behind the endpoint (default: the\n"
	"                             shards', else 1)\n"
	"  --json                     print result.json on stdout instead of the table\n"
	"  -q, --quiet                no notes on stderr\n"
	"  -h, --help                 this text\n"
	"\n"
	"exit status:\n"
	"  0    merged, a knee found and its recommendation written\n"
	"  1    merged, but no rung of the ladder was healthy (no knee)\n"
	"  2    bad usage, or shards that do not belong together (the error\n"
	"       names the shard)\n"
	"  4    results could not be written\n";

static int parse_args(struct merge_opts *o, int argc, char **argv, int *first)
{
	enum { O_OUT = 256, O_LATE, O_SLO, O_STAT, O_ERR, O_ITYPE, O_INST, O_JSON };
	static const struct option longopts[] = {
		{"out", required_argument, NULL, O_OUT},
		{"allow-late", no_argument, NULL, O_LATE},
		{"slo", required_argument, NULL, O_SLO},
		{"latency-limit", required_argument, NULL, O_SLO},
		{"slo-percentile", required_argument, NULL, O_STAT},
		{"max-error-rate", required_argument, NULL, O_ERR},
		{"instance-type", required_argument, NULL, O_ITYPE},
		{"instances", required_argument, NULL, O_INST},
		{"json", no_argument, NULL, O_JSON},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 1;
	opterr = 0;
	int c, li = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, &li)) != -1) {
		int64_t v;
		char flag[32];
		switch (c) {
		case O_OUT:
			o->out_dir = optarg;
			break;
		case O_LATE:
			o->allow_late = true;
			break;
		case O_SLO:
			/* units required, in the words run, find and streams use */
			snprintf(flag, sizeof(flag), "--%s", longopts[li].name);
			if (cli_parse_duration_in("merge", flag, optarg, KC_NS_PER_US,
						  3600 * KC_NS_PER_S, &v))
				return KC_EXIT_USAGE;
			o->have_slo = true;
			o->slo_ms = (double)v / 1e6;
			break;
		case O_STAT:
			if (kc_lat_stat_parse(optarg, &o->stat)) {
				cli_error("merge: --slo-percentile '%s': mean, p50, p90, p99 or p999", optarg);
				return KC_EXIT_USAGE;
			}
			o->have_stat = true;
			break;
		case O_ERR:
			if (kc_parse_double(optarg, 0, 1, &o->max_error_rate)) {
				cli_error("merge: --max-error-rate '%s': a fraction in 0..1", optarg);
				return KC_EXIT_USAGE;
			}
			o->have_error_rate = true;
			break;
		case O_ITYPE:
			o->instance_type = optarg;
			break;
		case O_INST:
			if (kc_parse_i64(optarg, 1, 100000, &v)) {
				cli_error("merge: --instances '%s': a whole number in 1..100000", optarg);
				return KC_EXIT_USAGE;
			}
			o->instances = (int)v;
			break;
		case O_JSON:
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return KC_EXIT_OK;
		default:
			cli_error("merge: %s '%s' (see kneecap merge --help)",
				  c == ':' ? "missing value for" : "bad option", argv[optind - 1]);
			return KC_EXIT_USAGE;
		}
	}
	if (!o->out_dir) {
		cli_error("merge: --out DIR is required (see kneecap merge --help)");
		return KC_EXIT_USAGE;
	}
	if (optind >= argc) {
		cli_error("merge: no SHARD_DIR (the --out directories of the shards)");
		return KC_EXIT_USAGE;
	}
	if (argc - optind > MAX_SHARDS) {
		cli_error("merge: at most %d shards", MAX_SHARDS);
		return KC_EXIT_USAGE;
	}
	*first = optind;
	return -1;
}

static json_t *shards_json(struct shard *sh, size_t n, double max_lag_ms)
{
	json_t *arr = json_array();
	for (int want = 0; arr && want < (int)n; want++) {
		for (size_t i = 0; i < n; i++) {
			struct shard *s = &sh[i];
			if (s->index != want)
				continue;
			double cpu = 0, lag99 = 0;
			int gb = 0;
			for (size_t k = 0; k < json_array_size(s->steps); k++) {
				json_t *j = json_array_get(s->steps, k);
				cpu = fmax(cpu, merge_jnum(j, "gen_cpu"));
				lag99 = fmax(lag99, merge_jnum(json_object_get(j, "lag_ms"), "p99"));
				gb += merge_step_behind(j, max_lag_ms);
			}
			json_t *env = json_object_get(s->doc, "environment");
			json_t *e = json_pack(
				"{s:i,s:s,s:O,s:O,s:I,s:I,s:O,s:O?,s:b,s:f,s:f,s:i,s:b,s:b}", "index",
				s->index, "dir", s->dir, "host", json_object_get(s->sh, "host"), "cores",
				json_object_get(s->sh, "cores"), "start_lag_ms", (json_int_t)s->max_lag_ms,
				"slot_lag_ms", (json_int_t)s->slot_lag_ms, "clock_offset_ms",
				json_object_get(s->sh, "clock_offset_ms"), "clock_offset_uncertainty_ms",
				json_object_get(s->sh, "clock_offset_uncertainty_ms"), "clock_skewed",
				s->skewed, "gen_cpu_max", cpu, "lag_p99_ms_max", lag99,
				"generator_bound_steps", gb, "generator_healthy", gb == 0, "late", s->late);
			if (e && env)
				json_object_set(e, "kneecap_version",
						json_object_get(env, "kneecap_version"));
			json_array_append_new(arr, e);
		}
	}
	return arr;
}

/* One merge: the shards read, the merged ladder, and what is said about it. */
struct merged {
	struct merge_opts o;
	struct shard *sh;
	size_t n;
	int count;
	bool any_late, streams, find;
	int64_t skew_ms;      /* spread of the shards' clock offsets */
	struct kc_health_cfg hc;
	struct kc_recommend_cfg rc;
	struct kc_step_result *steps;
	struct kc_step_verdict *verdicts;
	size_t nsteps;
	int64_t start_ms;
	struct kc_buf logbuf, scratch;
	struct kc_hlog_writer w;
	struct kc_knee knee;
	struct kc_knee_check chk;
	struct kc_recommendation rec;
	bool have_rec;
	struct outdir out;
	bool out_open;
};

/*
 * How the merged ladder is judged and recommended: as the shards' command
 * would (find and streams shards record their thresholds and recommendation
 * settings; run's only its error rate), then merge's own flags over that.
 */
static int merge_settings(struct merged *m)
{
	json_t *scfg = json_object_get(m->sh[0].sh, "config");
	struct kc_diag d;
	kc_diag_clear(&d);
	const char *cmd = json_string_value(json_object_get(scfg, "command"));
	m->find = cmd && !strcmp(cmd, "find");
	m->streams = m->sh[0].streams;
	if (cli_shard_health_read(json_object_get(scfg, "health"), &m->hc, &d) ||
	    cli_shard_rec_read(json_object_get(scfg, "recommend"), &m->rc, &d))
		return merge_refuse(m->sh[0].dir, "shard.config: %s", d.msg);
	if (m->streams != (m->hc.mode == KC_MODE_STREAMS))
		return merge_refuse(m->sh[0].dir, "shard.config.health is not for a %s run",
				    m->streams ? "streams" : "rps");
	if (!json_is_object(json_object_get(scfg, "health")))
		m->hc.max_error_rate = json_is_number(json_object_get(scfg, "max_error_rate"))
					       ? merge_jnum(scfg, "max_error_rate") : 0.01;
	if (m->o.have_error_rate)
		m->hc.max_error_rate = m->o.max_error_rate;
	if (m->o.have_slo) {
		m->hc.slo_set = true;
		m->hc.slo_ms = m->o.slo_ms;
	}
	if (m->o.have_stat)
		m->hc.slo_stat = m->o.stat;
	if (m->o.instances)
		m->rc.instances = m->o.instances;
	if (m->o.instance_type)
		snprintf(m->rc.instance_type, sizeof(m->rc.instance_type), "%s", m->o.instance_type);
	return -1;
}

/* Every step of every shard added: figures, histograms, the merged interval log. */
static int merge_all(struct merged *m)
{
	m->nsteps = json_array_size(m->sh[0].steps);
	m->steps = calloc(m->nsteps ? m->nsteps : 1, sizeof(*m->steps));
	m->verdicts = calloc(m->nsteps ? m->nsteps : 1, sizeof(*m->verdicts));
	if (!m->steps || !m->verdicts) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	m->start_ms = INT64_MAX;
	for (size_t k = 0; k < m->nsteps; k++) {
		merge_step(m->sh, m->n, k, &m->steps[k], m->hc.max_lag_ms);
		int64_t o0 = m->steps[k].start_wall_ms - m->sh[0].warmup_ms;
		if (o0 < m->start_ms)
			m->start_ms = o0;
	}
	if (!m->nsteps)
		m->start_ms = kc_wall_ns() / KC_NS_PER_MS;
	kc_buf_init(&m->logbuf, (size_t)1 << 31);
	kc_buf_init(&m->scratch, (size_t)1 << 30);
	if (kc_hlog_writer_init(&m->w, &m->logbuf, NULL, 1000.0) ||
	    kc_hlog_write_header(&m->w, m->start_ms, m->start_ms)) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	int status;
	for (size_t k = 0; k < m->nsteps; k++)
		if ((status = merge_hists(m->sh, m->n, (int)k, &m->steps[k], &m->w, &m->scratch)) >= 0)
			return status;
	return -1;
}

/* The knee of the merged ladder and its recommendation. */
static void merge_analyse(struct merged *m)
{
	kc_ladder_knee(&m->hc, m->steps, m->nsteps, m->verdicts, &m->knee);
	kc_knee_check(m->steps, m->nsteps, m->knee.knee_step, &m->chk);
	/* A stream is held the whole step whatever its latency: Little's law does not apply. */
	if (m->streams)
		m->chk.little_set = false;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (m->knee.found) {
		double lat = m->knee.knee_step >= 0 && !m->streams
				     ? m->steps[m->knee.knee_step].service.mean : 0;
		m->have_rec = kc_recommend_compute(&m->rc, &m->knee, lat, &m->rec, &d) == KC_OK;
	}
}

/* result.json's config and the per-step verdicts and late shards. */
static json_t *merge_config(const struct merged *m)
{
	json_t *config = json_deep_copy(json_object_get(m->sh[0].sh, "config"));
	if (!config)
		config = json_object();
	json_object_set_new(config, "shards", json_integer(m->count));
	json_object_set_new(config, "ladder", json_true());
	if (m->hc.slo_set) {
		json_object_set_new(config, "slo_ms", json_real(m->hc.slo_ms));
		json_object_set_new(config, "slo_percentile",
				    json_string(kc_lat_stat_name(m->hc.slo_stat)));
	}
	return config;
}

static json_t *merge_step_extra(const struct merged *m)
{
	json_t *step_extra = json_array();
	for (size_t k = 0; step_extra && k < m->nsteps; k++) {
		json_t *late = json_array();
		for (size_t i = 0; i < m->n; i++)
			if (m->sh[i].late_steps[k])
				json_array_append_new(late, json_integer(m->sh[i].index));
		json_array_append_new(step_extra,
				      json_pack("{s:b,s:o,s:o}", "stable",
						m->verdicts[k].verdict == KC_VERDICT_HEALTHY, "verdict",
						kc_verdict_to_json(&m->verdicts[k]), "late_shards", late));
	}
	return step_extra;
}

/* Streams shards: their streams section, its steps added (the figures streams writes). */
static json_t *merge_streams_json(const struct merged *m)
{
	json_t *st = json_deep_copy(json_object_get(m->sh[0].doc, "streams"));
	if (!st)
		st = json_object();
	json_object_del(st, "emulator");
	json_t *steps = json_array();
	for (size_t k = 0; steps && k < m->nsteps; k++)
		json_array_append_new(steps, merge_streams_step_json(m->sh, m->n, k));
	json_object_set_new(st, "steps", steps);
	return st;
}

static bool merge_any_skewed(const struct merged *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->sh[i].skewed)
			return true;
	return false;
}

static json_t *merge_extra(const struct merged *m)
{
	json_t *extra = json_object();
	if (!extra)
		return NULL;
	json_object_set_new(extra, "knee", runout_knee_json(&m->knee, &m->chk, kc_recommend_units(&m->rc), false));
	if (m->have_rec)
		json_object_set_new(extra, "recommendation", kc_recommend_to_json(&m->rc, &m->rec));
	if (m->streams)
		json_object_set_new(extra, "streams", merge_streams_json(m));
	json_object_set_new(extra, "shards", shards_json(m->sh, m->n, m->hc.max_lag_ms));
	json_object_set_new(extra, "merge",
			    json_pack("{s:O,s:i,s:b,s:I,s:b,s:s}", "run_id",
				      json_object_get(m->sh[0].sh, "run_id"), "count", m->count, "late",
				      m->any_late, "clock_skew_ms", (json_int_t)m->skew_ms, "clock_skewed",
				      merge_any_skewed(m), "ladder_knee",
				      m->streams ? "highest healthy rung under the lowest unhealthy one"
						 : "highest healthy rung under the lowest unhealthy one; the "
						   "rate completed flat out there when it lies between them"));
	return extra;
}

/* The table, the knee and the recommendation as find and streams explain them. */
static void merge_print(const struct merged *m)
{
	runout_print_table(stdout, m->steps, m->nsteps, m->streams ? "streams" : "offered");
	if (m->knee.found)
		printf("knee: %.*f %s over %d shards (%s)%s\n", m->streams ? 0 : 1, m->knee.value,
		       m->streams ? "streams" : "rps", m->count, kc_knee_reason(&m->knee),
		       m->any_late ? "  [late shards merged, flagged]" : "");
	else
		printf("no knee: %s\n", m->knee.diagnosis);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	if (kc_recommend_explain(&m->rc, &m->knee, &m->chk, m->have_rec ? &m->rec : NULL, &b) == 0 &&
	    b.data)
		fwrite(b.data, 1, b.len, stdout);
	kc_buf_fini(&b);
}

/* Writes the merged files and prints the answer.  Returns the exit status. */
static int merge_write(struct merged *m)
{
	int status = outdir_open(&m->out, "merge", m->o.out_dir);
	if (status)
		return status;
	m->out_open = true;
	outdir_write(&m->out, OUT_HLOG, m->logbuf.data ? m->logbuf.data : "", m->logbuf.len);
	json_t *config = merge_config(m), *extra = merge_extra(m), *step_extra = merge_step_extra(m);
	json_t *scfg = json_object_get(m->sh[0].sh, "config");
	json_t *env0 = json_object_get(m->sh[0].doc, "environment");
	struct kc_result_env env;
	memset(&env, 0, sizeof(env));
	kc_result_env_detect(&env);
	env.kneecap_version = KC_VERSION;
	env.libcurl_version = json_string_value(json_object_get(env0, "libcurl_version"));
	env.started_wall_ms = m->start_ms;
	const char *target = json_string_value(json_object_get(scfg, "target"));
	struct kc_result res = {
		.mode = m->streams ? "streams" : "rps", .target = target ? target : "",
		.config = config, .env = env, .steps = m->steps, .nsteps = m->nsteps,
		.extra = extra, .step_extra = step_extra,
		.incomplete = outdir_failed(&m->out) ? m->out.failed : NULL,
	};
	outdir_write_result(&m->out, &res, m->o.json, &m->rc, m->have_rec ? &m->rec : NULL);
	if (!m->o.json)
		merge_print(m);
	outdir_list(&m->out, m->o.json ? stderr : stdout);
	fflush(stdout);
	json_decref(config);
	json_decref(extra);
	json_decref(step_extra);
	return outdir_failed(&m->out) ? KC_EXIT_WRITE
	       : m->knee.found	      ? KC_EXIT_OK
				      : KC_EXIT_THRESHOLD;
}

static void merged_free(struct merged *m)
{
	if (m->out_open)
		outdir_close(&m->out);
	kc_hlog_writer_fini(&m->w);
	kc_buf_fini(&m->logbuf);
	kc_buf_fini(&m->scratch);
	for (size_t k = 0; m->steps && k < m->nsteps; k++)
		kc_step_result_fini(&m->steps[k]);
	free(m->steps);
	free(m->verdicts);
	for (size_t i = 0; m->sh && i < m->n; i++)
		merge_shard_free(&m->sh[i]);
	free(m->sh);
	free(m);
}

int kc_cmd_merge(int argc, char **argv)
{
	struct merged *m = calloc(1, sizeof(*m));
	if (!m) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	int first = 0;
	int status = parse_args(&m->o, argc, argv, &first);
	if (status >= 0) {
		free(m);
		return status;
	}
	cli_log_init(0, m->o.quiet);
	m->n = (size_t)(argc - first);
	m->sh = calloc(m->n, sizeof(*m->sh));
	if (!m->sh) {
		cli_error("merge: out of memory");
		status = KC_EXIT_INTERNAL;
		goto done;
	}
	for (size_t i = 0; i < m->n; i++)
		if ((status = merge_shard_load(&m->sh[i], argv[first + (int)i])) >= 0)
			goto done;
	if ((status = merge_check_together(m->sh, m->n, &m->count)) >= 0 ||
	    (status = merge_check_clock(&m->o, m->sh, m->n, &m->any_late, &m->skew_ms)) >= 0 ||
	    (status = merge_settings(m)) >= 0 || (status = merge_all(m)) >= 0)
		goto done;
	merge_analyse(m);
	/* A late rung above the first unhealthy one cannot move the knee: flagged only. */
	if ((status = merge_check_late(&m->o, m->sh, m->n, m->steps,
				       m->knee.upper_step >= 0 ? m->steps[m->knee.upper_step].offered
							       : INFINITY)) >= 0)
		goto done;
	status = merge_write(m);
done:
	merged_free(m);
	return status;
}
