/*
 * shard.c - a shard's slice of the load, its wall-clock step slots and what
 * it records for `kneecap merge` (shard.h).
 */
#include "shard.h"
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/hdr.h"
#include "kneecap/hlog.h"
#include "kneecap/jpeg.h"
#include "kneecap/parse.h"
#include "kneecap/pool.h"
#include "kneecap/sagemaker.h"
#include "kneecap/sigv4.h"
#include "kneecap/url.h"

static int bad(const char *flag, const char *v, const char *why)
{
	cli_error("%s '%s': %s", flag, v ? v : "", why);
	return KC_EXIT_USAGE;
}

/* An environment variable as a whole number in lo..hi; -1 when absent, -2 when bad. */
static int64_t env_int(const char *name, int64_t lo, int64_t hi)
{
	const char *v = getenv(name);
	int64_t x;
	if (!v || !*v)
		return -1;
	return kc_parse_i64(v, lo, hi, &x) ? -2 : x;
}

int cli_shard_parse(struct cli_shard *s, const char *arg)
{
	if (!strcmp(arg, "env")) {
		int64_t i = env_int("SLURM_PROCID", 0, 99999), n = env_int("SLURM_NTASKS", 1, 100000);
		if (i < 0 || n < 0)
			return bad("--shard", arg, "needs SLURM_PROCID and SLURM_NTASKS (srun sets them)");
		if (i >= n)
			return bad("--shard", arg, "SLURM_PROCID is not below SLURM_NTASKS");
		s->index = (int)i;
		s->count = (int)n;
		s->index_from = "SLURM_PROCID";
		s->on = true;
		return 0;
	}
	const char *slash = strchr(arg, '/');
	char num[32];
	int64_t i, n;
	if (!slash || (size_t)(slash - arg) >= sizeof(num))
		return bad("--shard", arg, "expected I/N (0-based: 0/4 .. 3/4) or env");
	memcpy(num, arg, (size_t)(slash - arg));
	num[slash - arg] = '\0';
	if (kc_parse_i64(num, 0, 99999, &i) || kc_parse_i64(slash + 1, 1, 100000, &n))
		return bad("--shard", arg, "expected I/N with whole numbers, N in 1..100000");
	if (i >= n)
		return bad("--shard", arg, "I counts from 0 and must be below N");
	s->index = (int)i;
	s->count = (int)n;
	s->index_from = "--shard";
	s->on = true;
	return 0;
}

int cli_shard_parse_count(struct cli_shard *s, int64_t n)
{
	char nt[24];
	snprintf(nt, sizeof(nt), "%lld", (long long)n);
	int64_t i = env_int("JOB_COMPLETION_INDEX", 0, 99999);
	const char *from = "JOB_COMPLETION_INDEX";
	if (i == -1) {
		i = env_int("SLURM_PROCID", 0, 99999);
		from = "SLURM_PROCID";
		int64_t tasks = env_int("SLURM_NTASKS", 1, 100000);
		if (i >= 0 && tasks >= 0 && tasks != n)
			return bad("--shards", nt, "SLURM_NTASKS differs from N");
	}
	if (i == -2)
		return bad("--shards", nt, "JOB_COMPLETION_INDEX or SLURM_PROCID is not a whole number");
	if (i < 0)
		return bad("--shards", nt, "needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or "
			   "SLURM_PROCID (srun); elsewhere use --shard I/N");
	if (i >= n)
		return bad("--shards", nt, "the index from the environment is not below N");
	s->index = (int)i;
	s->count = (int)n;
	s->index_from = from;
	s->on = true;
	return 0;
}

/* The n decimal digits at p as a number, or -1 when one is not a digit (stops at NUL). */
static int fixed_digits(const char *p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-mo-d of the proleptic Gregorian calendar (y >= 1). */
static int64_t days_since_epoch(int y, int mo, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t leaps = (int64_t)(y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
	int64_t leaps70 = 1969 / 4 - 1969 / 100 + 1969 / 400;
	return 365 * (int64_t)(y - 1970) + (leaps - leaps70) + before[mo - 1] +
	       (mo > 2 && leap_year(y)) + (d - 1);
}

/*
 * RFC 3339 section 5.6 date-time, fixed width and nothing else:
 * YYYY-MM-DD(T|t| )HH:MM:SS[.DIGITS](Z|z|+HH:MM|-HH:MM), every field in
 * its range (the day within its month, leap years counted; second 60 for
 * a leap second).  sscanf and strtod would take signs, spaces, short
 * fields and exponents, and timegm would roll 02-31 into March.
 */
static int rfc3339_ms(const char *p, int64_t *out_ms)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = fixed_digits(p, 4);
	if (y < 1 || p[4] != '-')
		return -1;
	int mo = fixed_digits(p + 5, 2);
	if (mo < 1 || mo > 12 || p[7] != '-')
		return -1;
	int d = fixed_digits(p + 8, 2);
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap_year(y)))
		return -1;
	if (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
		return -1;
	int h = fixed_digits(p + 11, 2);
	if (h < 0 || h > 23 || p[13] != ':')
		return -1;
	int mi = fixed_digits(p + 14, 2);
	if (mi < 0 || mi > 59 || p[16] != ':')
		return -1;
	int sec = fixed_digits(p + 17, 2);
	if (sec < 0 || sec > 60)
		return -1;
	p += 19;
	int64_t frac_ns = 0;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 9)
				frac_ns = frac_ns * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 9; n++)
			frac_ns *= 10;
	}
	int64_t off_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = fixed_digits(p + 1, 2);
		if (oh < 0 || oh > 23 || p[3] != ':')
			return -1;
		int om = fixed_digits(p + 4, 2);
		if (om < 0 || om > 59)
			return -1;
		off_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	int64_t t = days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
	*out_ms = t * 1000 + (frac_ns + 500000) / 1000000;
	return 0;
}

int cli_shard_time_ms(const char *arg, int64_t *out_ms)
{
	/* Unix seconds: digits with an optional fraction (no sign, exponent or space). */
	size_t nd = strspn(arg, "0123456789");
	bool unix_s = nd > 0 && (!arg[nd] || (arg[nd] == '.' &&
					       !arg[nd + 1 + strspn(arg + nd + 1, "0123456789")]));
	double secs;
	if (unix_s && kc_parse_double(arg, 1e9, 1e11, &secs) == 0) {
		*out_ms = (int64_t)llround(secs * 1000);
		return 0;
	}
	return rfc3339_ms(arg, out_ms);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* SHA-256 (hex) of n strings joined by newlines, sorted first when asked.  0 or -1. */
static int strings_sha256(const char *const *v, size_t n, bool sort, char hex[65])
{
	const char **c = malloc((n ? n : 1) * sizeof(*c));
	size_t len = 0;
	if (!c)
		return -1;
	for (size_t i = 0; i < n; i++) {
		c[i] = v[i];
		len += strlen(v[i]) + 1;
	}
	if (sort)
		qsort(c, n, sizeof(*c), cmp_str);
	char *all = malloc(len + 1), *w = all;
	if (!all) {
		free(c);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(c[i]);
		memcpy(w, c[i], k);
		w += k;
		*w++ = '\n';
	}
	int rc = kc_sigv4_payload_hash(all, len, hex);
	free(all);
	free(c);
	return rc ? -1 : 0;
}

static json_t *bodies_json(const struct kc_pool *pool, const struct kc_jpeg_opts *jo)
{
	struct kc_pool_summary ps;
	kc_pool_summary(pool, &ps);
	size_t n = kc_pool_count(pool);
	const char **h = malloc((n ? n : 1) * sizeof(*h));
	char hex[65];
	if (!h)
		return NULL;
	for (size_t i = 0; i < n; i++)
		h[i] = kc_pool_get(pool, i)->sha256_hex;
	int rc = strings_sha256(h, n, false, hex);
	free(h);
	if (rc)
		return NULL;
	json_t *b = json_pack("{s:s,s:I,s:I,s:I,s:s?,s:s}", "source", ps.source, "count",
			      (json_int_t)ps.count, "bytes_min", (json_int_t)ps.bytes_min,
			      "bytes_max", (json_int_t)ps.bytes_max, "content_type", ps.content_type,
			      "bodies_sha256", hex);
	if (b && jo) {
		json_t *j = json_pack("{s:i,s:i,s:i,s:s,s:b,s:I,s:i,s:I,s:i}", "width", jo->width_px,
				      "height", jo->height_px, "quality", jo->quality,
				      "subsampling", kc_jpeg_subsamp_name(jo->subsamp),
				      "progressive", jo->progressive, "seed", (json_int_t)jo->seed,
				      "detail", jo->detail, "size_kb", (json_int_t)jo->size_kb,
				      "variety", jo->variety);
		if (!j || json_object_set_new(b, "jpeg", j)) {
			json_decref(b);
			return NULL;
		}
	}
	return b;
}

int cli_shard_add_request(json_t *cfg, const struct cli_shard_request *r)
{
	char hex[65];
	if (strings_sha256(r->headers, r->nheaders, true, hex))
		return -1;
	json_t *req = json_pack("{s:s,s:s?,s:b,s:s?,s:s?,s:b,s:b}", "headers_sha256", hex,
				"content_type", r->content_type, "response_stream",
				r->response_stream, "region", r->region, "endpoint_url",
				r->endpoint_url, "fips", r->fips, "dualstack", r->dualstack);
	if (!req)
		return -1;
	if (r->sm) {
		const struct kc_sm_opts *o = r->sm;
		json_t *sm = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}",
				       "accept", o->accept, "target_variant", o->target_variant,
				       "target_model", o->target_model, "target_container_hostname",
				       o->target_container_hostname, "inference_id", o->inference_id,
				       "inference_component", o->inference_component, "session_id",
				       o->session_id, "enable_explanations", o->enable_explanations,
				       "content_type", o->content_type);
		/* Custom attributes are the caller's own text: compared by hash. */
		const char *ca = o->custom_attributes;
		if (sm && ca && !strings_sha256(&ca, 1, false, hex))
			json_object_set_new(sm, "custom_attributes_sha256", json_string(hex));
		if (!sm || json_object_set_new(req, "sagemaker", sm))
			goto fail;
	}
	if (r->pool) {
		json_t *b = bodies_json(r->pool, r->jpeg);
		if (!b || json_object_set_new(req, "bodies", b))
			goto fail;
	}
	if (json_object_update(cfg, req))
		goto fail;
	json_decref(req);
	return 0;
fail:
	json_decref(req);
	return -1;
}

int cli_shard_parse_start_at(struct cli_shard *s, const char *arg)
{
	if (cli_shard_time_ms(arg, &s->start_at_ms))
		return bad("--start-at", arg, "expected RFC 3339 (2026-12-07T04:00:00Z) or Unix "
			   "seconds (1796616000)");
	s->have_start_at = true;
	return 0;
}

int cli_shard_finish(struct cli_shard *s, const char *run_id, int64_t step_ns, int64_t warmup_ns)
{
	s->warmup_ms = warmup_ns / KC_NS_PER_MS;
	s->period_ms = (warmup_ns + step_ns) / KC_NS_PER_MS + SHARD_GAP_MS;
	if (run_id)
		snprintf(s->run_id, sizeof(s->run_id), "%s", run_id);
	else if (getenv("SLURM_JOB_ID") && *getenv("SLURM_JOB_ID"))
		snprintf(s->run_id, sizeof(s->run_id), "slurm-%s", getenv("SLURM_JOB_ID"));
	else if (s->have_start_at)
		snprintf(s->run_id, sizeof(s->run_id), "start-%lld", (long long)s->start_at_ms);
	else
		s->run_id[0] = '\0';
	if (!s->on) {
		s->index = 0;
		s->count = 1;
		return 0;
	}
	/* Without a run identity two unrelated runs' shards could merge. */
	if (!s->run_id[0]) {
		cli_error("--shard needs to know its run: give --run-id ID or --start-at TIME "
			  "(Slurm's SLURM_JOB_ID names it too), the same for every shard");
		return -1;
	}
	return 0;
}

int64_t cli_shard_late_ms(const struct cli_shard *s)
{
	return s->warmup_ms > 20 ? s->warmup_ms : 20;
}

double cli_shard_rate(const struct cli_shard *s, double total)
{
	return s->on ? total / s->count : total;
}

int64_t cli_shard_part(const struct cli_shard *s, int64_t total)
{
	if (!s->on || total <= 0)
		return total;
	int64_t part = total / s->count + (s->index < total % s->count ? 1 : 0);
	return part > 0 ? part : 1;
}

uint64_t cli_shard_seed(const struct cli_shard *s, uint64_t seed)
{
	if (!s->on || s->index == 0)
		return seed;
	/* A splitmix64 step of the index, so no two shards share an arrival sequence. */
	uint64_t z = (uint64_t)s->index * 0x9e3779b97f4a7c15u;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return seed ^ z ^ (z >> 31);
}

int64_t cli_shard_wait(const struct cli_shard *s, size_t k, int64_t lead_ms, bool (*stop)(void))
{
	if (!s->have_start_at)
		return -1;
	int64_t slot = s->start_at_ms + (int64_t)k * s->period_ms;
	int64_t until_ns = (slot - lead_ms) * KC_NS_PER_MS;
	for (;;) {
		if (stop && stop())
			return -1;
		int64_t now = kc_wall_ns();
		if (now >= until_ns)
			return slot;
		int64_t left = until_ns - now;
		if (left > 100 * KC_NS_PER_MS)
			left = 100 * KC_NS_PER_MS;
		struct timespec ts = {.tv_sec = left / KC_NS_PER_S, .tv_nsec = left % KC_NS_PER_S};
		nanosleep(&ts, NULL);
	}
}

static size_t date_header(char *buf, size_t size, size_t n, void *ud)
{
	size_t len = size * n;
	char *out = ud;
	if (len > 5 && !strncasecmp(buf, "Date:", 5) && !out[0]) {
		size_t l = len - 5 < 127 ? len - 5 : 127;
		memcpy(out, buf + 5, l);
		out[l] = '\0';
	}
	return len;
}

/* One HEAD on c: its Date header in seconds (-1 none) and the local wall times around it. */
static CURLcode head_date(CURL *c, int64_t *t0, int64_t *t1, time_t *date)
{
	char buf[128] = "";
	curl_easy_setopt(c, CURLOPT_HEADERDATA, (void *)buf);
	*t0 = kc_wall_ns();
	CURLcode rc = curl_easy_perform(c);
	*t1 = kc_wall_ns();
	*date = rc == CURLE_OK && buf[0] ? curl_getdate(buf, NULL) : (time_t)-1;
	return rc;
}

void cli_shard_clock_offset(struct cli_shard *s, const char *url, bool insecure, const char *cacert)
{
	s->have_offset = false;
	if (!kc_url_is_http(url)) {
		snprintf(s->offset_note, sizeof(s->offset_note), "not an http(s) target: not measured");
		return;
	}
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(s->offset_note, sizeof(s->offset_note), "libcurl: no handle");
		return;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, date_header);
	if (insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	int64_t t0, t1;
	time_t d;
	CURLcode rc = head_date(c, &t0, &t1, &d);
	if (rc != CURLE_OK || d == (time_t)-1) {
		curl_easy_cleanup(c);
		snprintf(s->offset_note, sizeof(s->offset_note), "%s%s",
			 rc != CURLE_OK ? "no answer to HEAD: " : "the target sent no Date header",
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "");
		return;
	}
	/* Date has whole seconds: ask again (about every 20 ms, for at most
	 * 1.2 s) until it ticks; the tick lies between the request before and
	 * the one that saw it, which bounds the offset far better than +-500 ms. */
	int64_t prev_t0 = t0, limit = t0 + 1200 * KC_NS_PER_MS;
	/* Only while the common start is far enough ahead not to be delayed by it. */
	if (!s->have_start_at || s->start_at_ms * KC_NS_PER_MS - t0 < 2500 * KC_NS_PER_MS)
		limit = 0;
	time_t prev = d;
	int64_t tick_lo = 0, tick_hi = 0;
	while (kc_wall_ns() < limit) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		int64_t a, b;
		time_t x;
		if (head_date(c, &a, &b, &x) != CURLE_OK || x == (time_t)-1)
			break;
		if (x != prev) {
			tick_lo = prev_t0;
			tick_hi = b;
			d = x;
			break;
		}
		prev_t0 = a;
	}
	curl_easy_cleanup(c);
	if (tick_hi) {
		int64_t tick_ms = (tick_lo + tick_hi) / 2 / KC_NS_PER_MS;
		s->clock_offset_ms = tick_ms - (int64_t)d * 1000;
		s->offset_unc_ms = (tick_hi - tick_lo) / 2 / KC_NS_PER_MS + 1;
		snprintf(s->offset_note, sizeof(s->offset_note),
			 "local clock minus the target's Date header, +-%lld ms (from when Date ticked)",
			 (long long)s->offset_unc_ms);
	} else {
		int64_t mid_ms = (t0 + t1) / 2 / KC_NS_PER_MS;
		s->clock_offset_ms = mid_ms - ((int64_t)d * 1000 + 500);
		s->offset_unc_ms = 500 + (t1 - t0) / 2 / KC_NS_PER_MS;
		snprintf(s->offset_note, sizeof(s->offset_note),
			 "local clock minus the target's Date header, +-500 ms (Date has whole seconds)");
	}
	s->have_offset = true;
}

/* Each step's service-time histogram, as an interval log (tags step-K). */
static json_t *service_hlog(const struct kc_step_result *steps, size_t n)
{
	struct kc_buf b;
	kc_buf_init(&b, (size_t)64 << 20);
	struct kc_hlog_writer w;
	json_t *out = NULL;
	if (kc_hlog_writer_init(&w, &b, NULL, 1000.0))
		return NULL;
	int64_t base = n ? steps[0].start_wall_ms : 0;
	if (kc_hlog_write_header(&w, base, base))
		goto done;
	for (size_t i = 0; i < n; i++) {
		struct kc_hdr *h = steps[i].service_hist;
		if (!h)
			continue;
		char tag[32];
		snprintf(tag, sizeof(tag), "step-%d", steps[i].index);
		kc_hdr_set_tag(h, tag);
		kc_hdr_set_times(h, steps[i].start_wall_ms,
				 steps[i].start_wall_ms + steps[i].duration_ns / KC_NS_PER_MS);
		if (kc_hlog_write_interval(&w, h))
			goto done;
	}
	out = json_stringn(b.data ? b.data : "", b.len);
done:
	kc_hlog_writer_fini(&w);
	kc_buf_fini(&b);
	return out;
}

json_t *cli_shard_json(const struct cli_shard *s, json_t *config,
		       const struct kc_step_result *steps, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *st = json_pack("{s:i,s:I}", "index", steps[i].index, "window_start_ms",
				       (json_int_t)steps[i].start_wall_ms);
		if (st && s->have_start_at) {
			int64_t slot = s->start_at_ms + (int64_t)steps[i].index * s->period_ms;
			int64_t lag = steps[i].start_wall_ms - s->warmup_ms - slot;
			json_object_set_new(st, "start_lag_ms", json_integer((json_int_t)lag));
			json_object_set_new(st, "late", json_boolean(lag > cli_shard_late_ms(s)));
		}
		json_array_append_new(arr, st);
	}
	char host[256] = "unknown";
	gethostname(host, sizeof(host) - 1);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	json_t *o = json_pack("{s:i,s:i,s:s,s:s,s:o,s:I,s:I,s:s,s:i,s:o,s:o,s:s,s:o}",
			      "index", s->index, "count", s->count, "run_id", s->run_id,
			      "index_from", s->index_from ? s->index_from : "none",
			      "start_at_ms", s->have_start_at ? json_integer(s->start_at_ms) : json_null(),
			      "period_ms", (json_int_t)s->period_ms, "warmup_ms",
			      (json_int_t)s->warmup_ms, "host", host, "cores", (int)cores,
			      "config", config ? config : json_null(),
			      "clock_offset_ms",
			      s->have_offset ? json_integer(s->clock_offset_ms) : json_null(),
			      "clock_note", s->offset_note, "steps", arr ? arr : json_array());
	if (o)
		json_object_set_new(o, "clock_offset_uncertainty_ms",
				    s->have_offset ? json_integer(s->offset_unc_ms) : json_null());
	json_t *svc = service_hlog(steps, n);
	if (o && svc)
		json_object_set_new(o, "service_hlog", svc);
	else
		json_decref(svc);
	return o;
}
