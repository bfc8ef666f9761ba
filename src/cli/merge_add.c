/*
 * merge_add.c - `kneecap merge`: adding the shards of one step, exactly:
 * histograms interval by interval, counts, error classes and in-flight
 * levels summed (merge.h).
 */
#include "merge.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/engine.h"
#include "kneecap/hdr.h"
#include "kneecap/parse.h"

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
			return merge_refuse(dir, "%s, step %d: %s", what, k + 1, d.msg);
		rc = add(ud, &iv);
		kc_hdr_free(iv.hist);
		if (rc >= 0)
			return rc;
	}
}

/*
 * Whether a shard's generator fell behind in step j, by find's rule (its
 * engine flags a step whose send-lag p99 passes the health's max_lag, 100 ms
 * by default, or whose workers were busy), not by run's stricter 5 ms: the
 * merged ladder is judged as a search's steps are.
 */
bool merge_step_behind(json_t *j, double max_lag_ms)
{
	return merge_jnum(json_object_get(j, "lag_ms"), "p99") > max_lag_ms ||
	       merge_jnum(j, "gen_cpu") > KC_GEN_CPU_BUSY;
}

/* Sums the figures of one step of every shard into m (histograms: merge_hists). */
void merge_step(struct shard *sh, size_t n, size_t k, struct kc_step_result *m,
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
		m->offered += merge_jnum(j, "offered");
		m->achieved += merge_jnum(j, "achieved");
		int64_t w = merge_jint(j, "start_wall_ms");
		if (w < m->start_wall_ms)
			m->start_wall_ms = w;
		dur += (int64_t)llround(merge_jnum(j, "duration_s") * 1e9);
		m->scheduled += (uint64_t)merge_jint(j, "scheduled");
		m->sent += (uint64_t)merge_jint(j, "sent");
		m->completed += (uint64_t)merge_jint(j, "completed");
		m->ok += (uint64_t)merge_jint(j, "ok");
		m->errors += (uint64_t)merge_jint(j, "errors");
		m->unfinished += (uint64_t)merge_jint(j, "unfinished");
		json_t *ec = json_object_get(j, "error_classes");
		for (int c = 0; c < KC_EC_COUNT; c++)
			m->errclass[c] += (uint64_t)merge_jint(ec, kc_errclass_name((enum kc_errclass)c));
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
		m->inflight_max += (uint32_t)merge_jint(j, "inflight_max");
		json_t *inf = json_object_get(j, "inflight");
		m->inflight_start += merge_jnum(inf, "start");
		m->inflight_end += merge_jnum(inf, "end");
		m->inflight_slope += merge_jnum(inf, "slope_per_s");
		json_t *lag = json_object_get(j, "lag_ms");
		m->lag_p99_ms = fmax(m->lag_p99_ms, merge_jnum(lag, "p99"));
		m->lag_max_ms = fmax(m->lag_max_ms, merge_jnum(lag, "max"));
		m->gen_cpu = fmax(m->gen_cpu, merge_jnum(j, "gen_cpu"));
		m->generator_bound |= merge_step_behind(j, max_lag_ms);
		m->partial |= json_is_true(json_object_get(j, "partial"));
		/* No histogram of time to first byte is kept: the slowest shard's
		 * figures bound the merged ones from above. */
		json_t *t = json_object_get(j, "ttfb_ms");
		ttfb.p50 = fmax(ttfb.p50, merge_jnum(t, "p50"));
		ttfb.p90 = fmax(ttfb.p90, merge_jnum(t, "p90"));
		ttfb.p99 = fmax(ttfb.p99, merge_jnum(t, "p99"));
		ttfb.p999 = fmax(ttfb.p999, merge_jnum(t, "p999"));
		ttfb.max = fmax(ttfb.max, merge_jnum(t, "max"));
		ttfb.mean = fmax(ttfb.mean, merge_jnum(t, "mean"));
		ttfb.count += merge_jint(t, "count");
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
	int64_t origin = merge_jint(j, "start_wall_ms") - a->s->warmup_ms;
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
int merge_hists(struct shard *sh, size_t n, int k, struct kc_step_result *m,
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
		int64_t want = merge_jint(json_object_get(json_array_get(sh[i].steps, (size_t)k),
						    "latency_ms"), "count");
		if (rc < 0 && a.count != want)
			rc = merge_refuse(sh[i].dir, "latency.hlog holds %lld samples for step %d, "
				    "result.json %lld: not the log of this result",
				    (long long)a.count, k + 1, (long long)want);
	}
	struct step_acc sv = {.step = k, .dst = &m->service_hist};
	for (size_t i = 0; i < n && rc < 0; i++) {
		sv.s = &sh[i];
		sv.count = 0;
		rc = decode_step(sh[i].dir, "shard.service_hlog", &sh[i].svc, k, scratch,
				 add_interval, &sv);
		int64_t want = merge_jint(json_object_get(json_array_get(sh[i].steps, (size_t)k),
						    "service_ms"), "count");
		if (rc < 0 && sv.count != want)
			rc = merge_refuse(sh[i].dir, "shard.service_hlog holds %lld samples for step %d, "
				    "result.json %lld: not the log of this result",
				    (long long)sv.count, k + 1, (long long)want);
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


/* Latency summaries of one step over the shards (see merge_streams_step_json). */
static json_t *lat_bound(struct shard *sh, size_t n, size_t k, const char *key)
{
	double p50 = 0, p90 = 0, p99 = 0, max = 0, sum = 0;
	int64_t count = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(json_object_get(json_object_get(sh[i].doc, "streams"),
							    "steps"), k);
		json_t *l = json_object_get(st, key);
		int64_t c = merge_jint(l, "count");
		p50 = fmax(p50, merge_jnum(l, "p50"));
		p90 = fmax(p90, merge_jnum(l, "p90"));
		p99 = fmax(p99, merge_jnum(l, "p99"));
		max = fmax(max, merge_jnum(l, "max"));
		sum += merge_jnum(l, "mean") * (double)c;
		count += c;
	}
	return json_pack("{s:f,s:f,s:f,s:f,s:f,s:I,s:s}", "p50", p50, "p90", p90, "p99", p99,
			 "max", max, "mean", count ? sum / (double)count : 0.0, "count",
			 (json_int_t)count, "merged", "mean weighted by count; percentiles and max: "
			 "the highest shard's (an upper bound)");
}

json_t *merge_streams_step_json(struct shard *sh, size_t n, size_t k)
{
	static const char *const sums[] = {"streams_opened", "reopened", "goaways", "connections",
					   "chunks_sent", "replies", "unmatched_replies",
					   "held_max"};
	double offered = 0, held = 0;
	json_int_t tot[sizeof(sums) / sizeof(sums[0])] = {0};
	for (size_t i = 0; i < n; i++) {
		json_t *st = json_array_get(json_object_get(json_object_get(sh[i].doc, "streams"),
							    "steps"), k);
		offered += merge_jnum(st, "offered");
		held += merge_jnum(st, "held_mean");
		for (size_t x = 0; x < sizeof(sums) / sizeof(sums[0]); x++)
			tot[x] += merge_jint(st, sums[x]);
	}
	json_t *o = json_pack("{s:f,s:o,s:o,s:f}", "offered", offered, "setup_ms",
			      lat_bound(sh, n, k, "setup_ms"), "first_response_ms",
			      lat_bound(sh, n, k, "first_response_ms"), "held_mean", held);
	for (size_t x = 0; o && x < sizeof(sums) / sizeof(sums[0]); x++)
		json_object_set_new(o, sums[x], json_integer(tot[x]));
	/* Each shard's peak came at its own moment: their sum bounds the whole's. */
	if (o)
		json_object_set_new(o, "held_max_is", json_string("sum of the shards' maxima "
								  "(an upper bound)"));
	return o;
}
