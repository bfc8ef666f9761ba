/*
 * cmd_merge.c - `kneecap merge SHARD_DIR... --out DIR`: the shards of one
 * run (`run --ramp ... --shard I/N`) added into the run one process would
 * have made, exactly: histograms add step by step and second by second,
 * counts and error classes sum, in-flight levels sum (the windows line up
 * on the common clock).  Then the knee finder and the recommender run on
 * the merged ladder and the same writers as find's write the same files,
 * with a shards[] section saying where each slice ran and how well.
 *
 * Shards that do not belong together are refused, naming the shard: another
 * run id or configuration, a missing or doubled index, other steps, a log
 * that does not add up to its result.json, or a step that started later
 * than its warm-up (unless --allow-late: then merged and flagged).
 */
#include "cli.h"
#include "outdir.h"
#include "runout.h"
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
	"Add the shards of one run (kneecap run --ramp A:B:STEP --shard I/N, or\n"
	"--shards N under a Kubernetes Indexed Job or Slurm) into one result,\n"
	"exactly: latency histograms add step by step and interval by interval,\n"
	"counts and error classes sum.  The knee finder and the recommender then\n"
	"run on the merged ladder, and DIR gets what find writes: result.json\n"
	"(with shards[]), steps.csv, latency.hlog, scaling-policy.json, apply.sh.\n"
	"\n"
	"options:\n"
	"  --out DIR                  where the merged files go (required)\n"
	"  --allow-late               merge a shard whose step started later than its\n"
	"                             warm-up (flagged in shards[] and the step);\n"
	"                             refused otherwise\n"
	"  --slo D                    latency limit of a healthy step (default none)\n"
	"  --slo-percentile S         mean|p50|p90|p99|p999 (default p99)\n"
	"  --max-error-rate F         errors / finished above F fails a step\n"
	"                             (default: the shards' run setting)\n"
	"  --instance-type T          instance type the recommendation is for\n"
	"  --instances N              instances behind the endpoint (default 1)\n"
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

#define MAX_SHARDS 4096

/* An interval log kept as text with its lines indexed by step, so it is
 * decoded one step at a time (a decoded histogram is ~180 KiB; 64 shards x
 * 30 steps x 30 seconds of them would not fit in memory together). */
struct span {
	size_t off, len;
	int step;
};

struct logidx {
	const char *data;
	size_t len;
	size_t hdr_len;       /* the header lines: data[0..hdr_len) */
	struct span *lines;
	size_t nlines;
};

struct shard {
	const char *dir;
	json_t *doc;          /* result.json */
	json_t *sh;           /* doc.shard (borrowed) */
	json_t *steps;        /* doc.steps (borrowed) */
	int index;
	int64_t warmup_ms;
	struct kc_buf log;    /* latency.hlog */
	struct logidx lat, svc; /* latency.hlog; shard.service_hlog (data borrowed from doc) */
	int64_t max_lag_ms;
	bool late;
};

struct merge_opts {
	const char *out_dir;
	bool allow_late, json, quiet;
	bool have_slo;
	double slo_ms;
	enum kc_lat_stat stat;
	bool have_error_rate;
	double max_error_rate;
	const char *instance_type;
	int instances;
};

static int refuse(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const char *dir, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("merge: %s: %s", dir, msg);
	return KC_EXIT_USAGE;
}

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
	o->stat = KC_STAT_P99;
	o->instances = 1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		int64_t v;
		switch (c) {
		case O_OUT:
			o->out_dir = optarg;
			break;
		case O_LATE:
			o->allow_late = true;
			break;
		case O_SLO:
			if (kc_parse_duration_ns(optarg, KC_NS_PER_MS, &v) || v <= 0) {
				cli_error("merge: --slo '%s': not a duration (e.g. 250ms)", optarg);
				return KC_EXIT_USAGE;
			}
			o->have_slo = true;
			o->slo_ms = (double)v / 1e6;
			break;
		case O_STAT:
			if (kc_lat_stat_parse(optarg, &o->stat)) {
				cli_error("merge: --slo-percentile '%s': mean, p50, p90, p99 or p999", optarg);
				return KC_EXIT_USAGE;
			}
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

static void shard_free(struct shard *s)
{
	free(s->lat.lines);
	free(s->svc.lines);
	kc_buf_fini(&s->log);
	json_decref(s->doc);
}

/* "step-K," at p -> K, or -1. */
static int step_of_line(const char *p, size_t len)
{
	if (len < 10 || strncmp(p, "Tag=step-", 9))
		return -1;
	int k = 0;
	size_t i = 9;
	for (; i < len && p[i] >= '0' && p[i] <= '9' && k < (1 << 20); i++)
		k = k * 10 + (p[i] - '0');
	return i > 9 && i < len && p[i] == ',' ? k : -1;
}

/* Indexes an interval log: header lines, then one step-K interval per line (K < nsteps). */
static int index_log(const char *dir, const char *what, const char *data, size_t len,
		     size_t nsteps, struct logidx *x)
{
	memset(x, 0, sizeof(*x));
	x->data = data;
	x->len = len;
	size_t cap = 0;
	int line = 0;
	bool body = false;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (data + off)) : len - off;
		line++;
		if (l == 0 || (l == 1 && data[off] == '\r')) {
			/* blank */
		} else if (!body && (data[off] == '#' || data[off] == '"')) {
			x->hdr_len = off + l + (nl ? 1 : 0);
		} else {
			body = true;
			int k = step_of_line(data + off, l);
			if (k < 0 || (size_t)k >= nsteps)
				return refuse(dir, "%s line %d: not an interval of one of the run's %zu "
					      "steps (Tag=step-K)", what, line, nsteps);
			if (x->nlines == cap) {
				cap = cap ? cap * 2 : 64;
				struct span *n = realloc(x->lines, cap * sizeof(*n));
				if (!n) {
					cli_error("merge: out of memory");
					return KC_EXIT_INTERNAL;
				}
				x->lines = n;
			}
			x->lines[x->nlines++] = (struct span){off, l, k};
		}
		off += l + (nl ? 1 : 0);
	}
	return -1;
}

/*
 * Decodes the step-k intervals of x and hands each to add(ud, interval),
 * which must not keep it (it is freed after).  Returns -1 or an exit status.
 */
static int decode_step(const char *dir, const char *what, const struct logidx *x, int k,
		       struct kc_buf *scratch, int (*add)(void *ud, struct kc_hlog_interval *iv),
		       void *ud)
{
	kc_buf_reset(scratch);
	if (kc_buf_append(scratch, x->data, x->hdr_len)) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	for (size_t i = 0; i < x->nlines; i++)
		if (x->lines[i].step == k &&
		    (kc_buf_append(scratch, x->data + x->lines[i].off, x->lines[i].len) ||
		     kc_buf_append(scratch, "\n", 1))) {
			cli_error("merge: out of memory");
			return KC_EXIT_INTERNAL;
		}
	struct kc_hlog_reader r;
	kc_hlog_reader_init(&r, scratch->data ? scratch->data : "", scratch->len);
	for (;;) {
		struct kc_hlog_interval iv;
		struct kc_diag d;
		kc_diag_clear(&d);
		int rc = kc_hlog_reader_next(&r, &iv, &d);
		if (rc == 0)
			return -1;
		if (rc < 0)
			return refuse(dir, "%s, step %d: %s", what, k + 1, d.msg);
		rc = add(ud, &iv);
		kc_hdr_free(iv.hist);
		if (rc >= 0)
			return rc;
	}
}

static int64_t jint(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static double jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* Loads DIR/result.json and DIR/latency.hlog.  Returns -1 or an exit status. */
static int shard_load(struct shard *s, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	char path[4200];
	snprintf(path, sizeof(path), "%s/result.json", dir);
	json_error_t je;
	s->doc = json_load_file(path, 0, &je);
	if (!s->doc)
		return refuse(dir, "result.json: %s (line %d)", je.text, je.line);
	json_t *tool = json_object_get(s->doc, "tool");
	if (!json_is_string(tool) || strcmp(json_string_value(tool), KC_RESULT_TOOL))
		return refuse(dir, "result.json is not kneecap's");
	json_t *mode = json_object_get(s->doc, "mode");
	if (!json_is_string(mode) || strcmp(json_string_value(mode), "rps"))
		return refuse(dir, "not an rps run (merge adds the shards of kneecap run)");
	s->sh = json_object_get(s->doc, "shard");
	s->steps = json_object_get(s->doc, "steps");
	if (!json_is_object(s->sh) || !json_is_array(s->steps))
		return refuse(dir, "not a shard: result.json has no \"shard\" (run with --shard I/N "
			      "or --shards N)");
	if (json_is_true(json_object_get(s->doc, "partial")))
		return refuse(dir, "the shard's run was cut short (partial): its steps are not whole");
	s->index = (int)jint(s->sh, "index");
	s->warmup_ms = jint(s->sh, "warmup_ms");
	size_t n = json_array_size(s->steps);
	kc_buf_init(&s->log, (size_t)1 << 30);
	snprintf(path, sizeof(path), "%s/latency.hlog", dir);
	if (kc_buf_read_file(&s->log, path))
		return refuse(dir, "latency.hlog: cannot read it (every shard writes one with --out)");
	int rc = index_log(dir, "latency.hlog", s->log.data ? s->log.data : "", s->log.len, n,
			   &s->lat);
	if (rc >= 0)
		return rc;
	json_t *svc = json_object_get(s->sh, "service_hlog");
	if (json_is_string(svc) &&
	    (rc = index_log(dir, "shard.service_hlog", json_string_value(svc),
			    json_string_length(svc), n, &s->svc)) >= 0)
		return rc;
	return -1;
}

/* The first key whose values differ between two config objects, or NULL. */
static const char *first_diff(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;
	json_object_foreach(a, k, v)
		if (!json_equal(v, json_object_get(b, k)))
			return k;
	json_object_foreach(b, k, v)
		if (!json_object_get(a, k))
			return k;
	return NULL;
}

/* Checks that the shards are the N slices of one run.  Returns -1 or an exit status. */
static int check_together(struct shard *sh, size_t n, int *count_out)
{
	struct shard *a = &sh[0];
	const char *run = json_string_value(json_object_get(a->sh, "run_id"));
	int count = (int)jint(a->sh, "count");
	size_t nsteps = json_array_size(a->steps);
	for (size_t i = 0; i < n; i++) {
		struct shard *s = &sh[i];
		const char *r = json_string_value(json_object_get(s->sh, "run_id"));
		if (!r || !run || strcmp(r, run))
			return refuse(s->dir, "a shard of another run (run id '%s', %s has '%s')",
				      r ? r : "", a->dir, run ? run : "");
		const char *k = first_diff(json_object_get(a->sh, "config"),
					   json_object_get(s->sh, "config"));
		if (k)
			return refuse(s->dir, "another configuration than %s (%s differs)", a->dir, k);
		if (jint(s->sh, "count") != count)
			return refuse(s->dir, "one of %lld shards, %s one of %d",
				      (long long)jint(s->sh, "count"), a->dir, count);
		if (jint(s->sh, "period_ms") != jint(a->sh, "period_ms") ||
		    !json_equal(json_object_get(s->sh, "start_at_ms"),
				json_object_get(a->sh, "start_at_ms")))
			return refuse(s->dir, "another clock than %s (--start-at or step slots differ)",
				      a->dir);
		if (json_array_size(s->steps) != nsteps)
			return refuse(s->dir, "misaligned steps: %zu steps, %s has %zu",
				      json_array_size(s->steps), a->dir, nsteps);
		for (size_t k2 = 0; k2 < nsteps; k2++) {
			double x = jnum(json_array_get(s->steps, k2), "offered");
			double y = jnum(json_array_get(a->steps, k2), "offered");
			if (fabs(x - y) > 1e-6 * fmax(1, y))
				return refuse(s->dir, "misaligned steps: step %zu offered %.6g, %s %.6g",
					      k2 + 1, x, a->dir, y);
		}
		for (size_t j = 0; j < i; j++)
			if (sh[j].index == s->index)
				return refuse(s->dir, "shard %d of %d again (also %s)", s->index, count,
					      sh[j].dir);
	}
	if ((size_t)count != n) {
		/* Name the first index nobody brought. */
		for (int want = 0; want < count; want++) {
			bool have = false;
			for (size_t i = 0; i < n && !have; i++)
				have = sh[i].index == want;
			if (!have) {
				cli_error("merge: shard %d of %d is missing (%zu of %d given; run id '%s')",
					  want, count, n, count, run ? run : "");
				return KC_EXIT_USAGE;
			}
		}
		cli_error("merge: %zu shards given for a run of %d", n, count);
		return KC_EXIT_USAGE;
	}
	*count_out = count;
	return -1;
}

/* Each shard's lag per step (behind its slot, or behind the earliest shard) and late flags. */
static int check_clock(const struct merge_opts *o, struct shard *sh, size_t n, bool *any_late)
{
	size_t nsteps = json_array_size(sh[0].steps);
	bool common = !json_is_null(json_object_get(sh[0].sh, "start_at_ms"));
	int64_t tol = sh[0].warmup_ms > 20 ? sh[0].warmup_ms : 20;
	for (size_t k = 0; k < nsteps; k++) {
		int64_t first = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			int64_t w = jint(json_array_get(sh[i].steps, k), "start_wall_ms");
			if (w < first)
				first = w;
		}
		for (size_t i = 0; i < n; i++) {
			struct shard *s = &sh[i];
			json_t *ss = json_array_get(json_object_get(s->sh, "steps"), k);
			int64_t lag = common ? jint(ss, "start_lag_ms")
					     : jint(json_array_get(s->steps, k), "start_wall_ms") - first;
			if (lag > s->max_lag_ms)
				s->max_lag_ms = lag;
			if (lag > tol && !s->late) {
				s->late = true;
				*any_late = true;
				if (!o->allow_late) {
					refuse(s->dir, "shard %d started step %zu %lld ms late, more than "
					       "its warm-up (%lld ms): its window missed the others' "
					       "(--allow-late merges it, flagged)", s->index, k + 1,
					       (long long)lag, (long long)s->warmup_ms);
					return KC_EXIT_USAGE;
				}
			}
		}
	}
	return -1;
}

/*
 * Whether a shard's generator fell behind in step j, by find's rule (its
 * engine flags a step whose send-lag p99 passes the health's max_lag, 100 ms
 * by default, or whose workers were busy), not by run's stricter 5 ms: the
 * merged ladder is judged as a search's steps are.
 */
static bool shard_step_behind(json_t *j, double max_lag_ms)
{
	return jnum(json_object_get(j, "lag_ms"), "p99") > max_lag_ms ||
	       jnum(j, "gen_cpu") > KC_GEN_CPU_BUSY;
}

/* Sums the figures of one step of every shard into m (histograms: merge_hists). */
static void merge_step(struct shard *sh, size_t n, size_t k, struct kc_step_result *m,
		       double max_lag_ms)
{
	memset(m, 0, sizeof(*m));
	m->index = (int)k;
	int64_t dur = 0;
	m->start_wall_ms = INT64_MAX;
	struct kc_latency ttfb = {0};
	for (size_t i = 0; i < n; i++) {
		struct shard *s = &sh[i];
		json_t *j = json_array_get(s->steps, k);
		m->offered += jnum(j, "offered");
		m->achieved += jnum(j, "achieved");
		int64_t w = jint(j, "start_wall_ms");
		if (w < m->start_wall_ms)
			m->start_wall_ms = w;
		dur += (int64_t)llround(jnum(j, "duration_s") * 1e9);
		m->scheduled += (uint64_t)jint(j, "scheduled");
		m->sent += (uint64_t)jint(j, "sent");
		m->completed += (uint64_t)jint(j, "completed");
		m->ok += (uint64_t)jint(j, "ok");
		m->errors += (uint64_t)jint(j, "errors");
		m->unfinished += (uint64_t)jint(j, "unfinished");
		json_t *ec = json_object_get(j, "error_classes");
		for (int c = 0; c < KC_EC_COUNT; c++)
			m->errclass[c] += (uint64_t)jint(ec, kc_errclass_name((enum kc_errclass)c));
		const char *code;
		json_t *cv;
		json_object_foreach(json_object_get(j, "status_codes"), code, cv) {
			int64_t c;
			if (kc_parse_i64(code, 0, 999, &c))
				continue;
			int x = 0;
			while (x < m->ncodes && m->codes[x].code != (int)c)
				x++;
			if (x == m->ncodes && m->ncodes < KC_STEP_MAX_CODES)
				m->codes[m->ncodes++].code = (int)c;
			if (x < m->ncodes)
				m->codes[x].count += (uint64_t)json_integer_value(cv);
		}
		/* In-flight requests of the whole are the shards' together. */
		m->inflight_max += (uint32_t)jint(j, "inflight_max");
		json_t *inf = json_object_get(j, "inflight");
		m->inflight_start += jnum(inf, "start");
		m->inflight_end += jnum(inf, "end");
		m->inflight_slope += jnum(inf, "slope_per_s");
		json_t *lag = json_object_get(j, "lag_ms");
		m->lag_p99_ms = fmax(m->lag_p99_ms, jnum(lag, "p99"));
		m->lag_max_ms = fmax(m->lag_max_ms, jnum(lag, "max"));
		m->gen_cpu = fmax(m->gen_cpu, jnum(j, "gen_cpu"));
		m->generator_bound |= shard_step_behind(j, max_lag_ms);
		m->partial |= json_is_true(json_object_get(j, "partial"));
		/* No histogram of time to first byte is kept: the slowest shard's
		 * figures bound the merged ones from above. */
		json_t *t = json_object_get(j, "ttfb_ms");
		ttfb.p50 = fmax(ttfb.p50, jnum(t, "p50"));
		ttfb.p90 = fmax(ttfb.p90, jnum(t, "p90"));
		ttfb.p99 = fmax(ttfb.p99, jnum(t, "p99"));
		ttfb.p999 = fmax(ttfb.p999, jnum(t, "p999"));
		ttfb.max = fmax(ttfb.max, jnum(t, "max"));
		ttfb.mean = fmax(ttfb.mean, jnum(t, "mean"));
		ttfb.count += jint(t, "count");
	}
	m->duration_ns = n ? dur / (int64_t)n : 0;
	m->ttfb = ttfb;
}

/* One merged interval of the log: step k, second j of the step's slot. */
struct mslot {
	int step;
	int64_t sec;
	int64_t start_ms, end_ms;
	struct kc_hdr *h;
};

static int mslot_cmp(const void *a, const void *b)
{
	const struct mslot *x = a, *y = b;
	if (x->step != y->step)
		return x->step < y->step ? -1 : 1;
	return x->sec < y->sec ? -1 : x->sec > y->sec;
}

/* What decode_step's callbacks add into: one step of the merged run. */
struct step_acc {
	struct shard *s;      /* the shard being read */
	int step;
	int64_t count;        /* its samples in this step */
	struct kc_hdr **dst;  /* step histogram (latency or service) */
	struct mslot *slots;  /* latency: the step's seconds, all shards */
	size_t nslots, cap;
};

static int add_interval(void *ud, struct kc_hlog_interval *iv)
{
	struct step_acc *a = ud;
	a->count += kc_hdr_total_count(iv->hist);
	if (!a->slots && a->cap == 0) {
		/* service: the step's sum only */
		if (!*a->dst && kc_hdr_new_like(a->dst, iv->hist))
			goto nomem;
		kc_hdr_add(*a->dst, iv->hist);
		return -1;
	}
	/* latency: into the second's slot; the step's sum is the slots' (one add each) */
	int64_t st, en;
	kc_hdr_get_times(iv->hist, &st, &en);
	json_t *j = json_array_get(a->s->steps, (size_t)a->step);
	int64_t origin = jint(j, "start_wall_ms") - a->s->warmup_ms;
	int64_t sec = (int64_t)floor((double)(st - origin) / 1000.0 + 0.5);
	size_t y = 0;
	while (y < a->nslots && a->slots[y].sec != sec)
		y++;
	if (y == a->nslots) {
		if (a->nslots == a->cap) {
			size_t cap = a->cap * 2;
			struct mslot *n = realloc(a->slots, cap * sizeof(*n));
			if (!n)
				goto nomem;
			a->slots = n;
			a->cap = cap;
		}
		a->slots[y] = (struct mslot){a->step, sec, st, en, NULL};
		if (kc_hdr_new_like(&a->slots[y].h, iv->hist))
			goto nomem;
		a->nslots++;
	}
	kc_hdr_add(a->slots[y].h, iv->hist);
	if (st < a->slots[y].start_ms)
		a->slots[y].start_ms = st;
	if (en > a->slots[y].end_ms)
		a->slots[y].end_ms = en;
	return -1;
nomem:
	cli_error("merge: out of memory");
	return KC_EXIT_INTERNAL;
}

/*
 * Step k's histograms: the latency intervals of every shard added into the
 * step's histogram and, second by second of the step's slot (which the
 * common clock lines up), into the merged intervals, appended to the merged
 * log w; the service histograms into the step's.  Each shard's intervals
 * must add up to the count its result.json gives.  Returns -1 or an exit status.
 */
static int merge_hists(struct shard *sh, size_t n, int k, struct kc_step_result *m,
		       struct kc_hlog_writer *w, struct kc_buf *scratch)
{
	struct step_acc a = {.step = k, .cap = 64};
	a.slots = calloc(a.cap, sizeof(*a.slots));
	int rc = -1;
	if (!a.slots) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	for (size_t i = 0; i < n && rc < 0; i++) {
		a.s = &sh[i];
		a.count = 0;
		rc = decode_step(sh[i].dir, "latency.hlog", &sh[i].lat, k, scratch, add_interval, &a);
		int64_t want = jint(json_object_get(json_array_get(sh[i].steps, (size_t)k),
						    "latency_ms"), "count");
		if (rc < 0 && a.count != want)
			rc = refuse(sh[i].dir, "latency.hlog holds %lld samples for step %d, "
				    "result.json %lld: not the log of this result",
				    (long long)a.count, k + 1, (long long)want);
	}
	struct step_acc sv = {.step = k, .dst = &m->service_hist};
	for (size_t i = 0; i < n && rc < 0; i++) {
		sv.s = &sh[i];
		rc = decode_step(sh[i].dir, "shard.service_hlog", &sh[i].svc, k, scratch,
				 add_interval, &sv);
	}
	qsort(a.slots, a.nslots, sizeof(*a.slots), mslot_cmp);
	for (size_t y = 0; y < a.nslots; y++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "step-%d", k);
		kc_hdr_set_tag(a.slots[y].h, tag);
		kc_hdr_set_times(a.slots[y].h, a.slots[y].start_ms, a.slots[y].end_ms);
		if (rc < 0 && !m->latency_hist && kc_hdr_new_like(&m->latency_hist, a.slots[y].h)) {
			cli_error("merge: out of memory");
			rc = KC_EXIT_INTERNAL;
		}
		if (rc < 0)
			kc_hdr_add(m->latency_hist, a.slots[y].h);
		if (rc < 0 && kc_hlog_write_interval(w, a.slots[y].h)) {
			cli_error("merge: out of memory for the merged log");
			rc = KC_EXIT_INTERNAL;
		}
		kc_hdr_free(a.slots[y].h);
	}
	free(a.slots);
	if (m->latency_hist)
		kc_latency_from_hdr(&m->latency, m->latency_hist);
	if (m->service_hist)
		kc_latency_from_hdr(&m->service, m->service_hist);
	return rc;
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
				cpu = fmax(cpu, jnum(j, "gen_cpu"));
				lag99 = fmax(lag99, jnum(json_object_get(j, "lag_ms"), "p99"));
				gb += shard_step_behind(j, max_lag_ms);
			}
			json_t *env = json_object_get(s->doc, "environment");
			json_t *e = json_pack(
				"{s:i,s:s,s:O,s:O,s:I,s:O,s:f,s:f,s:i,s:b,s:b}", "index", s->index, "dir",
				s->dir, "host", json_object_get(s->sh, "host"), "cores",
				json_object_get(s->sh, "cores"), "start_lag_ms", (json_int_t)s->max_lag_ms,
				"clock_offset_ms", json_object_get(s->sh, "clock_offset_ms"), "gen_cpu_max",
				cpu, "lag_p99_ms_max", lag99, "generator_bound_steps", gb,
				"generator_healthy", gb == 0, "late", s->late);
			if (e && env)
				json_object_set(e, "kneecap_version",
						json_object_get(env, "kneecap_version"));
			json_array_append_new(arr, e);
		}
	}
	return arr;
}

int kc_cmd_merge(int argc, char **argv)
{
	struct merge_opts o;
	memset(&o, 0, sizeof(o));
	int first = 0;
	int status = parse_args(&o, argc, argv, &first);
	if (status >= 0)
		return status;
	cli_log_init(0, o.quiet);
	size_t n = (size_t)(argc - first);
	struct shard *sh = calloc(n, sizeof(*sh));
	struct kc_step_result *steps = NULL;
	struct kc_step_verdict *verdicts = NULL;
	size_t nsteps = 0;
	json_t *config = NULL, *extra = NULL, *step_extra = NULL;
	struct outdir out;
	bool out_open = false;
	struct kc_buf logbuf = {0}, scratch = {0};
	struct kc_hlog_writer w;
	memset(&w, 0, sizeof(w));
	if (!sh) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((status = shard_load(&sh[i], argv[first + (int)i])) >= 0)
			goto done;
	int count = 0;
	bool any_late = false;
	if ((status = check_together(sh, n, &count)) >= 0 ||
	    (status = check_clock(&o, sh, n, &any_late)) >= 0)
		goto done;

	json_t *scfg = json_object_get(sh[0].sh, "config");
	struct kc_health_cfg hc;
	kc_health_cfg_default(&hc, KC_MODE_RPS);
	hc.max_error_rate = o.have_error_rate ? o.max_error_rate : jnum(scfg, "max_error_rate");
	if (!o.have_error_rate && !json_is_number(json_object_get(scfg, "max_error_rate")))
		hc.max_error_rate = 0.01;
	hc.slo_set = o.have_slo;
	hc.slo_ms = o.slo_ms;
	hc.slo_stat = o.stat;
	nsteps = json_array_size(sh[0].steps);
	steps = calloc(nsteps ? nsteps : 1, sizeof(*steps));
	verdicts = calloc(nsteps ? nsteps : 1, sizeof(*verdicts));
	if (!steps || !verdicts) {
		status = KC_EXIT_INTERNAL;
		goto done;
	}
	int64_t start_ms = INT64_MAX;
	for (size_t k = 0; k < nsteps; k++) {
		merge_step(sh, n, k, &steps[k], hc.max_lag_ms);
		int64_t o0 = steps[k].start_wall_ms - sh[0].warmup_ms;
		if (o0 < start_ms)
			start_ms = o0;
	}
	if (!nsteps)
		start_ms = kc_wall_ns() / KC_NS_PER_MS;
	kc_buf_init(&logbuf, (size_t)1 << 31);
	kc_buf_init(&scratch, (size_t)1 << 30);
	if (kc_hlog_writer_init(&w, &logbuf, NULL, 1000.0) ||
	    kc_hlog_write_header(&w, start_ms, start_ms)) {
		status = KC_EXIT_INTERNAL;
		goto done;
	}
	for (size_t k = 0; k < nsteps; k++)
		if ((status = merge_hists(sh, n, (int)k, &steps[k], &w, &scratch)) >= 0)
			goto done;

	struct kc_knee knee;
	kc_ladder_knee(&hc, steps, nsteps, verdicts, &knee);
	struct kc_knee_check chk;
	kc_knee_check(steps, nsteps, knee.knee_step, &chk);
	struct kc_recommend_cfg rc;
	kc_recommend_cfg_default(&rc);
	rc.instances = o.instances;
	if (o.instance_type)
		snprintf(rc.instance_type, sizeof(rc.instance_type), "%s", o.instance_type);
	struct kc_recommendation rec;
	bool have_rec = false;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (knee.found) {
		double lat = knee.knee_step >= 0 ? steps[knee.knee_step].service.mean : 0;
		have_rec = kc_recommend_compute(&rc, &knee, lat, &rec, &d) == KC_OK;
	}

	if ((status = outdir_open(&out, "merge", o.out_dir)) != 0)
		goto done;
	out_open = true;
	outdir_write(&out, OUT_HLOG, logbuf.data ? logbuf.data : "", logbuf.len);

	config = json_deep_copy(scfg);
	if (!config)
		config = json_object();
	json_object_set_new(config, "shards", json_integer(count));
	json_object_set_new(config, "ladder", json_true());
	if (o.have_slo) {
		json_object_set_new(config, "slo_ms", json_real(o.slo_ms));
		json_object_set_new(config, "slo_percentile", json_string(kc_lat_stat_name(o.stat)));
	}
	extra = json_object();
	step_extra = json_array();
	for (size_t k = 0; k < nsteps; k++) {
		json_t *late = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *ss = json_array_get(json_object_get(sh[i].sh, "steps"), k);
			if (json_is_true(json_object_get(ss, "late")))
				json_array_append_new(late, json_integer(sh[i].index));
		}
		json_t *se = json_pack("{s:b,s:o,s:o}", "stable",
				       verdicts[k].verdict == KC_VERDICT_HEALTHY, "verdict",
				       kc_verdict_to_json(&verdicts[k]), "late_shards", late);
		json_array_append_new(step_extra, se);
	}
	json_object_set_new(extra, "knee", runout_knee_json(&knee, &chk, rc.instances, false));
	if (have_rec)
		json_object_set_new(extra, "recommendation", kc_recommend_to_json(&rc, &rec));
	json_object_set_new(extra, "shards", shards_json(sh, n, hc.max_lag_ms));
	json_object_set_new(extra, "merge",
			    json_pack("{s:O,s:i,s:b,s:s}", "run_id",
				      json_object_get(sh[0].sh, "run_id"), "count", count, "late",
				      any_late, "ladder_knee",
				      "highest healthy rung under the lowest unhealthy one; the rate "
				      "completed flat out there when it lies between them"));
	json_t *env0 = json_object_get(sh[0].doc, "environment");
	struct kc_result_env env;
	memset(&env, 0, sizeof(env));
	kc_result_env_detect(&env);
	env.kneecap_version = KC_VERSION;
	env.libcurl_version = json_string_value(json_object_get(env0, "libcurl_version"));
	env.started_wall_ms = start_ms;
	struct kc_result res = {
		.mode = "rps", .target = json_string_value(json_object_get(scfg, "target")),
		.config = config, .env = env, .steps = steps, .nsteps = nsteps,
		.extra = extra, .step_extra = step_extra,
		.incomplete = outdir_failed(&out) ? out.failed : NULL,
	};
	if (!res.target)
		res.target = "";
	outdir_write_result(&out, &res, o.json, &rc, have_rec ? &rec : NULL);
	if (!o.json) {
		runout_print_table(stdout, steps, nsteps, "offered");
		if (knee.found)
			printf("knee: %.1f rps over %d shards (%s)%s\n", knee.value, count,
			       kc_knee_reason(&knee), any_late ? "  [late shards merged, flagged]" : "");
		else
			printf("no knee: %s\n", knee.diagnosis);
		if (have_rec)
			printf("recommendation: %s TargetValue %.0f (%.0f..%.0f)\n",
			       kc_metric_name(rec.metric), rec.target_value, rec.target_low,
			       rec.target_high);
	}
	outdir_list(&out, o.json ? stderr : stdout);
	fflush(stdout);
	status = outdir_failed(&out) ? KC_EXIT_WRITE : knee.found ? KC_EXIT_OK : KC_EXIT_THRESHOLD;
done:
	if (out_open)
		outdir_close(&out);
	kc_hlog_writer_fini(&w);
	kc_buf_fini(&logbuf);
	kc_buf_fini(&scratch);
	for (size_t k = 0; steps && k < nsteps; k++)
		kc_step_result_fini(&steps[k]);
	free(steps);
	free(verdicts);
	for (size_t i = 0; i < n; i++)
		shard_free(&sh[i]);
	free(sh);
	json_decref(config);
	json_decref(extra);
	json_decref(step_extra);
	return status;
}
