/*
 * merge_read.c - `kneecap merge`: reading each shard's result.json and
 * interval logs, and refusing shards that do not belong together (merge.h).
 */
#include "merge.h"
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/result.h"

int merge_refuse(const char *dir, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("merge: %s: %s", dir, msg);
	return KC_EXIT_USAGE;
}

int64_t merge_jint(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

double merge_jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

void merge_shard_free(struct shard *s)
{
	free(s->lat.lines);
	free(s->svc.lines);
	free(s->late_steps);
	free(s->step_lag_ms);
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
				return merge_refuse(dir, "%s line %d: not an interval of one of the run's %zu "
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

/* Loads DIR/result.json and DIR/latency.hlog.  Returns -1 or an exit status. */
int merge_shard_load(struct shard *s, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	char path[4200];
	snprintf(path, sizeof(path), "%s/result.json", dir);
	json_error_t je;
	s->doc = json_load_file(path, 0, &je);
	if (!s->doc)
		return merge_refuse(dir, "result.json: %s (line %d)", je.text, je.line);
	json_t *tool = json_object_get(s->doc, "tool");
	if (!json_is_string(tool) || strcmp(json_string_value(tool), KC_RESULT_TOOL))
		return merge_refuse(dir, "result.json is not kneecap's");
	json_t *mode = json_object_get(s->doc, "mode");
	if (!json_is_string(mode) || (strcmp(json_string_value(mode), "rps") &&
				      strcmp(json_string_value(mode), "streams")))
		return merge_refuse(dir, "neither an rps nor a streams run");
	s->streams = !strcmp(json_string_value(mode), "streams");
	s->sh = json_object_get(s->doc, "shard");
	s->steps = json_object_get(s->doc, "steps");
	if (!json_is_object(s->sh) || !json_is_array(s->steps))
		return merge_refuse(dir, "not a shard: result.json has no \"shard\" (run with --shard I/N "
			      "or --shards N)");
	if (json_is_true(json_object_get(s->doc, "partial")))
		return merge_refuse(dir, "the shard's run was cut short (partial): its steps are not whole");
	json_t *ix = json_object_get(s->sh, "index");
	if (!json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) >= MAX_SHARDS)
		return merge_refuse(dir, "shard.index is not a shard index (0..%d)", MAX_SHARDS - 1);
	s->index = (int)json_integer_value(ix);
	s->warmup_ms = merge_jint(s->sh, "warmup_ms");
	size_t n = json_array_size(s->steps);
	kc_buf_init(&s->log, (size_t)1 << 30);
	snprintf(path, sizeof(path), "%s/latency.hlog", dir);
	if (kc_buf_read_file(&s->log, path))
		return merge_refuse(dir, "latency.hlog: cannot read it (every shard writes one with --out)");
	int rc = index_log(dir, "latency.hlog", s->log.data ? s->log.data : "", s->log.len, n,
			   &s->lat);
	if (rc >= 0)
		return rc;
	/* Without it the merged service times would be the other shards' only. */
	json_t *svc = json_object_get(s->sh, "service_hlog");
	if (!json_is_string(svc))
		return merge_refuse(dir, "result.json has no shard.service_hlog (each shard records "
				    "its service times there)");
	if ((rc = index_log(dir, "shard.service_hlog", json_string_value(svc),
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

/*
 * Step k's load over all shards as the shard saw it: streams shards record
 * the rung (their own counts differ by one when it does not divide); rate
 * shards each offer the same 1/N.
 */
static double step_total(struct shard *s, size_t k)
{
	json_t *ss = json_array_get(json_object_get(s->sh, "steps"), k);
	if (json_is_number(json_object_get(ss, "total_offered")))
		return merge_jnum(ss, "total_offered");
	return merge_jnum(json_array_get(s->steps, k), "offered");
}

/* Checks that the shards are the N slices of one run.  Returns -1 or an exit status. */
int merge_check_together(struct shard *sh, size_t n, int *count_out)
{
	struct shard *a = &sh[0];
	const char *run = json_string_value(json_object_get(a->sh, "run_id"));
	int count = (int)merge_jint(a->sh, "count");
	size_t nsteps = json_array_size(a->steps);
	for (size_t i = 0; i < n; i++) {
		struct shard *s = &sh[i];
		const char *r = json_string_value(json_object_get(s->sh, "run_id"));
		if (!r || !run || strcmp(r, run))
			return merge_refuse(s->dir, "a shard of another run (run id '%s', %s has '%s')",
				      r ? r : "", a->dir, run ? run : "");
		const char *k = first_diff(json_object_get(a->sh, "config"),
					   json_object_get(s->sh, "config"));
		if (k)
			return merge_refuse(s->dir, "another configuration than %s (%s differs)", a->dir, k);
		if (merge_jint(s->sh, "count") != count)
			return merge_refuse(s->dir, "one of %lld shards, %s one of %d",
				      (long long)merge_jint(s->sh, "count"), a->dir, count);
		if (merge_jint(s->sh, "period_ms") != merge_jint(a->sh, "period_ms") ||
		    !json_equal(json_object_get(s->sh, "start_at_ms"),
				json_object_get(a->sh, "start_at_ms")))
			return merge_refuse(s->dir, "another clock than %s (--start-at or step slots differ)",
				      a->dir);
		if (json_array_size(s->steps) != nsteps)
			return merge_refuse(s->dir, "misaligned steps: %zu steps, %s has %zu",
				      json_array_size(s->steps), a->dir, nsteps);
		for (size_t k2 = 0; k2 < nsteps; k2++) {
			double x = step_total(s, k2), y = step_total(a, k2);
			if (fabs(x - y) > 1e-6 * fmax(1, y))
				return merge_refuse(s->dir, "misaligned steps: step %zu offered %.6g, %s %.6g",
					      k2 + 1, x, a->dir, y);
		}
		if (s->index < 0 || s->index >= count)
			return merge_refuse(s->dir, "shard index %d is out of range for %d shards "
					    "(0..%d)", s->index, count, count - 1);
		for (size_t j = 0; j < i; j++)
			if (sh[j].index == s->index)
				return merge_refuse(s->dir, "shard %d of %d again (also %s)", s->index, count,
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

/* The shard's clock offset and its uncertainty (+-500 ms when not recorded); false: none. */
static bool shard_offset(const struct shard *s, int64_t *off, int64_t *unc)
{
	json_t *o = json_object_get(s->sh, "clock_offset_ms");
	if (!json_is_integer(o))
		return false;
	*off = json_integer_value(o);
	json_t *u = json_object_get(s->sh, "clock_offset_uncertainty_ms");
	*unc = json_is_integer(u) && json_integer_value(u) >= 0 ? json_integer_value(u) : 500;
	return true;
}

struct offset {
	int64_t off, unc;
};

static int cmp_offset(const void *a, const void *b)
{
	int64_t x = ((const struct offset *)a)->off, y = ((const struct offset *)b)->off;
	return (x > y) - (x < y);
}

/* Names and flags the shards whose clock is off the median shard's by more than the warm-up
 * plus both uncertainties; both ends of the spread when none is.  Returns how many. */
static size_t name_skewed(struct shard *sh, size_t n, struct offset med, size_t lo, size_t hi,
			  char *names, size_t cap)
{
	size_t len = 0, named = 0;
	int64_t off, unc;
	bool any = false;
	for (int pass = 0; pass < 2 && !any; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (!shard_offset(&sh[i], &off, &unc))
				continue;
			bool out = pass == 0 ? llabs(off - med.off) > sh[0].warmup_ms + unc + med.unc
					     : i == lo || i == hi;
			if (!out)
				continue;
			any = sh[i].skewed = sh[i].late = true;
			if (named++ < 8 && len + 64 < cap)
				len += (size_t)snprintf(names + len, cap - len, "%sshard %d (%s, %+lld ms)",
							named > 1 ? ", " : "", sh[i].index, sh[i].dir,
							(long long)(off - med.off));
		}
	}
	return named;
}

/*
 * Each shard measured its step starts on its own clock: one N seconds off
 * would line its windows up with the wrong instant yet report no lag.  The
 * offsets from the target's Date header must agree within the warm-up plus
 * their uncertainty.
 */
static int check_skew(const struct merge_opts *o, struct shard *sh, size_t n, bool *any_late,
		      int64_t *skew_ms)
{
	struct offset *offs = calloc(n ? n : 1, sizeof(*offs));
	if (!offs) {
		cli_error("merge: out of memory");
		return KC_EXIT_INTERNAL;
	}
	size_t m = 0, lo = 0, hi = 0;
	int64_t off, unc, lo_unc = 0, hi_unc = 0, min = INT64_MAX, max = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		if (!shard_offset(&sh[i], &off, &unc))
			continue;
		offs[m++] = (struct offset){off, unc};
		if (off < min)
			min = off, lo = i, lo_unc = unc;
		if (off > max)
			max = off, hi = i, hi_unc = unc;
	}
	*skew_ms = m ? max - min : 0;
	if (m < 2 || max - min <= sh[0].warmup_ms + lo_unc + hi_unc) {
		free(offs);
		return -1;
	}
	qsort(offs, m, sizeof(*offs), cmp_offset);
	struct offset med = offs[m / 2];
	free(offs);
	char names[600] = "";
	size_t named = name_skewed(sh, n, med, lo, hi, names, sizeof(names));
	*any_late = true;
	if (o->allow_late)
		return -1;
	cli_error("merge: the shards' clocks differ by %lld ms (clock_offset_ms from the target's "
		  "Date header), more than the warm-up (%lld ms) plus their uncertainty: %s%s off "
		  "the others' (--allow-late merges them, flagged)",
		  (long long)(max - min), (long long)sh[0].warmup_ms, names, named > 8 ? ", ..." : "");
	return KC_EXIT_USAGE;
}

/*
 * Each shard's lag per step behind the earliest shard's start of that step
 * (on the common clock: their lags behind the slot compared), and its lag
 * behind the slot itself, reported apart: an overloaded rung's drain may
 * delay every shard's next rung alike, and windows that still overlap merge.
 */
int merge_check_clock(const struct merge_opts *o, struct shard *sh, size_t n, bool *any_late,
		      int64_t *skew_ms)
{
	size_t nsteps = json_array_size(sh[0].steps);
	bool common = !json_is_null(json_object_get(sh[0].sh, "start_at_ms"));
	int64_t tol = sh[0].warmup_ms > 20 ? sh[0].warmup_ms : 20;
	for (size_t i = 0; i < n; i++)
		if (!(sh[i].late_steps = calloc(nsteps ? nsteps : 1, sizeof(bool))) ||
		    !(sh[i].step_lag_ms = calloc(nsteps ? nsteps : 1, sizeof(int64_t)))) {
			cli_error("merge: out of memory");
			return KC_EXIT_INTERNAL;
		}
	for (size_t k = 0; k < nsteps; k++) {
		int64_t first = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			json_t *ss = json_array_get(json_object_get(sh[i].sh, "steps"), k);
			int64_t w = common ? merge_jint(ss, "start_lag_ms")
					   : merge_jint(json_array_get(sh[i].steps, k), "start_wall_ms");
			if (w < first)
				first = w;
		}
		for (size_t i = 0; i < n; i++) {
			struct shard *s = &sh[i];
			json_t *ss = json_array_get(json_object_get(s->sh, "steps"), k);
			int64_t slot = merge_jint(ss, "start_lag_ms");
			int64_t lag = (common ? slot : merge_jint(json_array_get(s->steps, k),
								  "start_wall_ms")) - first;
			if (common && slot > s->slot_lag_ms)
				s->slot_lag_ms = slot;
			s->step_lag_ms[k] = lag;
			if (lag > s->max_lag_ms)
				s->max_lag_ms = lag;
			if (lag > tol)
				s->late = s->late_steps[k] = *any_late = true;
		}
	}
	return check_skew(o, sh, n, any_late, skew_ms);
}

int merge_check_late(const struct merge_opts *o, struct shard *sh, size_t n,
		     const struct kc_step_result *steps, double decisive)
{
	if (o->allow_late)
		return -1;
	size_t nsteps = json_array_size(sh[0].steps);
	for (size_t i = 0; i < n; i++) {
		struct shard *s = &sh[i];
		for (size_t k = 0; k < nsteps; k++) {
			if (!s->late_steps[k] || steps[k].offered > decisive)
				continue;
			return merge_refuse(s->dir, "shard %d started step %zu %lld ms late, more than "
					    "its warm-up (%lld ms) behind the other shards: its window "
					    "missed theirs (--allow-late merges it, flagged)", s->index,
					    k + 1, (long long)s->step_lag_ms[k],
					    (long long)s->warmup_ms);
		}
	}
	return -1;
}
