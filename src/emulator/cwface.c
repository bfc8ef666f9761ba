/*
 * cwface.c - the emulator's CloudWatch face.
 *
 * Counters: one bucket per metric_period of wall-clock time (a ring of
 * RING buckets), fed under e->mu by every invocation's answer.  What each
 * metric means here, per instance (SageMaker publishes per variant, the
 * utilisations averaged over its instances):
 *   Invocations, Invocation4XXErrors/5XXErrors   answers counted (Sum)
 *   InvocationsPerInstance                       Invocations / instances
 *   ModelLatency       microseconds from admission to the model's answer
 *                      (queue wait inside the container plus service)
 *   OverheadLatency    microseconds from the request's headers to its
 *                      admission (body, signature check, the CPU stage)
 *   CPUUtilization     cpu_ms_per_request of CPU per answered invocation,
 *                      as CloudWatch counts it: percent summed over the
 *                      vCPUs (0..100 x vcpus)
 *   GPUUtilization     busy slot time / (slots x period), percent
 *   GPUMemoryUtilization  the model's footprint (gpu_memory_util)
 *   ConcurrentRequestsPerModel  requests in flight per instance, sampled
 *                      at each answer (Average, Maximum)
 * Statistics: Sum, Average, Minimum, Maximum, SampleCount; percentiles
 * (p99 ...) get no datapoints here (the real service has them).
 *
 * The wire: POST / with a form body Action=GetMetricData (query protocol,
 * XML answer) or with X-Amz-Target AnyScaleFrontendService.
 * DescribeScalingPolicies (JSON 1.1).  With the profile's SigV4 key set the
 * signature is verified (signing names monitoring, application-autoscaling).
 * cloudwatch_deny answers AccessDenied to everything.
 */
#include "cw_int.h"
#include "h2io_int.h"
#include "server_int.h"

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/sigv4.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RING 4096
#define BODY_MAX (1u << 20)
#define KV_MAX 4096

struct bucket {
	int64_t idx;        /* wall_ns / period; -1: empty */
	int64_t inv, e4, e5;
	int64_t lat_n;
	double model_sum, model_min, model_max;   /* us */
	double over_sum, over_min, over_max;      /* us */
	double cpu_ms;
	double gpu_busy_ns;
	double conc_sum;
	int64_t conc_n, conc_max;
};

struct kc_emu_cw {
	struct kc_emu *e;
	struct MHD_Daemon *mhd;
	int port;
	int64_t period_ns;
	int64_t first_idx;               /* the bucket the face started in */
	struct bucket ring[RING];        /* under e->mu */
	pthread_mutex_t sig_mu;
	struct kc_sigv4_signer *sig_cw, *sig_aas;
};

/* ---- counting ---------------------------------------------------------- */

static struct bucket *bucket_at(struct kc_emu_cw *cw, int64_t idx)
{
	struct bucket *b = &cw->ring[idx % RING];
	if (b->idx != idx) {
		memset(b, 0, sizeof(*b));
		b->idx = idx;
	}
	return b;
}

/* Spreads busy slot time [t0, t1) (wall ns) over the buckets it covers. */
static void add_busy(struct kc_emu_cw *cw, int64_t t0, int64_t t1)
{
	for (int64_t idx = t0 / cw->period_ns; t0 < t1; idx++) {
		int64_t end = (idx + 1) * cw->period_ns;
		int64_t piece = (t1 < end ? t1 : end) - t0;
		bucket_at(cw, idx)->gpu_busy_ns += (double)piece;
		t0 += piece;
	}
}

static void minmax(double v, double *mn, double *mx, bool first)
{
	if (first || v < *mn)
		*mn = v;
	if (first || v > *mx)
		*mx = v;
}

void kc_emu_cw_record(struct kc_emu *e, const struct req *r, int64_t now_ns)
{
	struct kc_emu_cw *cw = e->cw;
	if (!cw)
		return;
	int64_t wall = kc_wall_ns();
	int64_t off = wall - now_ns; /* monotonic -> wall */
	struct bucket *b = bucket_at(cw, wall / cw->period_ns);
	b->inv++;
	if (r->status >= 400 && r->status < 500)
		b->e4++;
	else if (r->status >= 500)
		b->e5++;
	int64_t conc = e->in_flight + 1;
	b->conc_sum += (double)conc;
	b->conc_n++;
	if (conc > b->conc_max)
		b->conc_max = conc;
	if (r->status != 200)
		return;
	double model_us = (double)(r->admit.done_ns - r->admit.arrival_ns) / 1e3;
	double over_us = (double)(r->admit.arrival_ns - r->t_head_ns) / 1e3;
	minmax(model_us, &b->model_min, &b->model_max, b->lat_n == 0);
	minmax(over_us, &b->over_min, &b->over_max, b->lat_n == 0);
	b->lat_n++;
	b->model_sum += model_us;
	b->over_sum += over_us;
	b->cpu_ms += e->prof.cpu_ms_per_request;
	add_busy(cw, r->admit.start_ns + off, r->admit.done_ns + off);
}

/* ---- statistics over a window ------------------------------------------ */

enum mkind { M_INV, M_IPI, M_E4, M_E5, M_MODEL, M_OVER, M_CPU, M_GPU, M_GMEM, M_CONC };

static const struct {
	const char *name, *ns;
	enum mkind k;
} metrics[] = {
	{"Invocations", "AWS/SageMaker", M_INV},
	{"InvocationsPerInstance", "AWS/SageMaker", M_IPI},
	{"Invocation4XXErrors", "AWS/SageMaker", M_E4},
	{"Invocation5XXErrors", "AWS/SageMaker", M_E5},
	{"ModelLatency", "AWS/SageMaker", M_MODEL},
	{"OverheadLatency", "AWS/SageMaker", M_OVER},
	{"ConcurrentRequestsPerModel", "AWS/SageMaker", M_CONC},
	{"CPUUtilization", "/aws/sagemaker/Endpoints", M_CPU},
	{"GPUUtilization", "/aws/sagemaker/Endpoints", M_GPU},
	{"GPUMemoryUtilization", "/aws/sagemaker/Endpoints", M_GMEM},
};

/* A window's sums: buckets [i0, i1). */
struct win {
	struct bucket s;
	int64_t nb;    /* buckets */
	bool first;
};

static void win_add(struct win *w, const struct bucket *b)
{
	struct bucket *s = &w->s;
	w->nb++;
	s->inv += b->inv;
	s->e4 += b->e4;
	s->e5 += b->e5;
	if (b->lat_n) {
		bool first = s->lat_n == 0;
		minmax(b->model_min, &s->model_min, &s->model_max, first);
		minmax(b->model_max, &s->model_min, &s->model_max, false);
		minmax(b->over_min, &s->over_min, &s->over_max, first);
		minmax(b->over_max, &s->over_min, &s->over_max, false);
	}
	s->lat_n += b->lat_n;
	s->model_sum += b->model_sum;
	s->over_sum += b->over_sum;
	s->cpu_ms += b->cpu_ms;
	s->gpu_busy_ns += b->gpu_busy_ns;
	s->conc_sum += b->conc_sum;
	s->conc_n += b->conc_n;
	if (b->conc_max > s->conc_max)
		s->conc_max = b->conc_max;
}

/* The statistic stat of metric k over window w of period_s: false when no
 * datapoint (no traffic for the request metrics, an unknown statistic). */
static bool win_stat(const struct kc_emu_cw *cw, const struct win *w, enum mkind k,
		     const char *stat, double period_s, double *out)
{
	const struct kc_emu_profile *p = &cw->e->prof;
	const struct bucket *s = &w->s;
	double inst = p->instances, v = 0, n = 1;
	bool sum = !strcmp(stat, "Sum"), cnt = !strcmp(stat, "SampleCount");
	bool avg = !strcmp(stat, "Average"), mx = !strcmp(stat, "Maximum");
	bool mn = !strcmp(stat, "Minimum");
	if (!sum && !cnt && !avg && !mx && !mn)
		return false;
	switch (k) {
	case M_INV: case M_IPI: case M_E4: case M_E5:
		if (!s->inv)
			return false;
		v = k == M_INV ? (double)s->inv : k == M_IPI ? (double)s->inv / inst
		    : k == M_E4 ? (double)s->e4 : (double)s->e5;
		n = (double)s->inv;
		*out = sum ? v : cnt ? n : avg ? v / n : mx ? (v > 0 ? 1 : 0) : (v >= n ? 1 : 0);
		return true;
	case M_MODEL: case M_OVER:
		if (!s->lat_n)
			return false;
		v = k == M_MODEL ? s->model_sum : s->over_sum;
		n = (double)s->lat_n;
		*out = sum ? v : cnt ? n : avg ? v / n
		       : mx ? (k == M_MODEL ? s->model_max : s->over_max)
		       : (k == M_MODEL ? s->model_min : s->over_min);
		return true;
	case M_CONC:
		if (!s->conc_n)
			return false;
		v = s->conc_sum / (double)s->conc_n / inst;
		*out = cnt ? (double)s->conc_n : mx ? (double)s->conc_max / inst
		       : sum ? s->conc_sum / inst : v;
		return true;
	default:
		break;
	}
	if (k == M_CPU) {
		v = s->cpu_ms / (period_s * 1000.0) / inst * 100.0;
		if (v > 100.0 * p->vcpus)
			v = 100.0 * p->vcpus;
	} else if (k == M_GPU) {
		v = s->gpu_busy_ns / (period_s * 1e9 * p->slots * inst) * 100.0;
		v = v > 100 ? 100 : v;
	} else {
		v = p->gpu_memory_util;
	}
	*out = cnt ? (double)w->nb : sum ? v * (double)w->nb : v;
	return true;
}

/* ---- the form ---------------------------------------------------------- */

struct form {
	char *k[KV_MAX], *v[KV_MAX];
	int n;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes s in place ('+' is a space in a form). */
static void url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

/* Splits body (modified) into decoded pairs. */
static void form_parse(char *body, struct form *f)
{
	f->n = 0;
	for (char *save = NULL, *p = strtok_r(body, "&", &save); p && f->n < KV_MAX;
	     p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		url_decode(p);
		if (eq)
			url_decode(eq);
		f->k[f->n] = p;
		f->v[f->n++] = eq ? eq : (char *)"";
	}
}

static const char *form_get(const struct form *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *form_get(const struct form *f, const char *fmt, ...)
{
	char key[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->k[i], key))
			return f->v[i];
	return NULL;
}

static bool parse_iso(const char *s, int64_t *out)
{
	struct tm tm = {0};
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return true;
}

static void put_iso(struct kc_buf *b, int64_t t)
{
	char s[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	kc_buf_puts(b, s);
}

/* ---- answers ----------------------------------------------------------- */

struct answer {
	unsigned status;
	const char *ctype;
	struct kc_buf body;
};

static void xml_error(struct answer *a, unsigned status, const char *code, const char *msg)
{
	a->status = status;
	a->ctype = "text/xml";
	kc_buf_reset(&a->body);
	kc_buf_printf(&a->body, "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/"
				"2010-08-01/\"><Error><Type>Sender</Type><Code>%s</Code><Message>%s"
				"</Message></Error><RequestId>00000000-0000-0000-0000-000000000000"
				"</RequestId></ErrorResponse>", code, msg);
}

static int metric_kind(const char *ns, const char *name)
{
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		if (!strcmp(metrics[i].name, name) && !strcmp(metrics[i].ns, ns))
			return (int)metrics[i].k;
	return -1;
}

/* True when query N's dimensions name this endpoint and variant. */
static bool dims_match(const struct kc_emu_cw *cw, const struct form *f, int q)
{
	const struct kc_emu_profile *p = &cw->e->prof;
	for (int k = 1; k <= 10; k++) {
		const char *name = form_get(f, "MetricDataQueries.member.%d.MetricStat.Metric."
					    "Dimensions.member.%d.Name", q, k);
		const char *val = form_get(f, "MetricDataQueries.member.%d.MetricStat.Metric."
					   "Dimensions.member.%d.Value", q, k);
		if (!name)
			break;
		if (!strcmp(name, "EndpointName") && p->endpoint_name[0] &&
		    strcmp(val ? val : "", p->endpoint_name))
			return false;
		if (!strcmp(name, "VariantName") && strcmp(val ? val : "", p->variant))
			return false;
	}
	return true;
}

/* One MetricDataResults member for query q over [t0, t1). */
static void one_result(struct kc_emu_cw *cw, const struct form *f, int q, int64_t t0,
		       int64_t t1, int64_t per, struct answer *a)
{
	const char *ns = form_get(f, "MetricDataQueries.member.%d.MetricStat.Metric.Namespace", q);
	const char *name = form_get(f, "MetricDataQueries.member.%d.MetricStat.Metric.MetricName",
				    q);
	const char *stat = form_get(f, "MetricDataQueries.member.%d.MetricStat.Stat", q);
	const char *id = form_get(f, "MetricDataQueries.member.%d.Id", q);
	int k = ns && name ? metric_kind(ns, name) : -1;
	struct kc_buf *b = &a->body;
	kc_buf_printf(b, "<member><Id>%s</Id><Label>%s</Label>", id, name ? name : "");
	struct kc_buf vals;
	kc_buf_init(&vals, 1u << 24);
	kc_buf_puts(b, "<Timestamps>");
	int64_t pb = per / (cw->period_ns / KC_NS_PER_S); /* buckets per window */
	int64_t now_idx = kc_wall_ns() / cw->period_ns;
	/* Only the windows the ring still holds: a StartTime of 1970 must not
	 * walk decades of empty periods while holding the model's lock. */
	int64_t oldest = now_idx - RING + 1 > cw->first_idx ? now_idx - RING + 1 : cw->first_idx;
	int64_t lo = oldest * cw->period_ns / KC_NS_PER_S;
	int64_t hi = (now_idx + 1) * cw->period_ns / KC_NS_PER_S;
	if (t0 < lo)
		t0 = lo;
	if (t1 > hi)
		t1 = hi;
	bool wanted = k >= 0 && stat && dims_match(cw, f, q);
	for (int64_t t = (t0 + per - 1) / per * per; wanted && t + per <= t1; t += per) {
		int64_t i0 = t * KC_NS_PER_S / cw->period_ns;
		if (i0 < cw->first_idx || i0 + pb > now_idx || now_idx - i0 >= RING)
			continue; /* before the face, not yet over, or forgotten */
		struct win w = {.nb = 0};
		for (int64_t i = i0; i < i0 + pb; i++) {
			const struct bucket *bk = &cw->ring[i % RING];
			struct bucket zero = {.idx = i};
			win_add(&w, bk->idx == i ? bk : &zero);
		}
		double v;
		if (!win_stat(cw, &w, (enum mkind)k, stat, (double)per, &v))
			continue;
		kc_buf_puts(b, "<member>");
		put_iso(b, t);
		kc_buf_puts(b, "</member>");
		kc_buf_printf(&vals, "<member>%.6f</member>", v);
	}
	kc_buf_printf(b, "</Timestamps><Values>%s</Values><StatusCode>Complete</StatusCode>"
			 "</member>", vals.data ? vals.data : "");
	kc_buf_fini(&vals);
}

static void get_metric_data(struct kc_emu_cw *cw, const struct form *f, struct answer *a)
{
	int64_t t0, t1;
	if (!parse_iso(form_get(f, "StartTime"), &t0) || !parse_iso(form_get(f, "EndTime"), &t1)) {
		xml_error(a, 400, "MissingParameter", "StartTime and EndTime are required");
		return;
	}
	int64_t base_s = cw->period_ns / KC_NS_PER_S;
	for (int q = 1; form_get(f, "MetricDataQueries.member.%d.Id", q); q++) {
		const char *ps = form_get(f, "MetricDataQueries.member.%d.MetricStat.Period", q);
		long per = ps ? strtol(ps, NULL, 10) : 0;
		/* At most a day (CloudWatch's periods go no higher for these). */
		if (per <= 0 || per % base_s || per > 86400) {
			char msg[160];
			snprintf(msg, sizeof(msg), "The parameter MetricDataQueries.member.%d."
				 "MetricStat.Period must be a multiple of %lld.", q, (long long)base_s);
			xml_error(a, 400, "InvalidParameterValue", msg);
			return;
		}
	}
	a->status = 200;
	a->ctype = "text/xml";
	kc_buf_puts(&a->body, "<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/"
			      "doc/2010-08-01/\"><GetMetricDataResult><MetricDataResults>");
	pthread_mutex_lock(&cw->e->mu);
	for (int q = 1; form_get(f, "MetricDataQueries.member.%d.Id", q); q++) {
		long per = strtol(form_get(f, "MetricDataQueries.member.%d.MetricStat.Period", q),
				  NULL, 10);
		one_result(cw, f, q, t0, t1, per, a);
	}
	pthread_mutex_unlock(&cw->e->mu);
	kc_buf_puts(&a->body, "</MetricDataResults><Messages/></GetMetricDataResult>"
			      "<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000"
			      "</RequestId></ResponseMetadata></GetMetricDataResponse>");
}

static void json_answer(struct answer *a, unsigned status, json_t *doc)
{
	a->status = status;
	a->ctype = "application/x-amz-json-1.1";
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	kc_buf_reset(&a->body);
	kc_buf_puts(&a->body, s ? s : "{}");
	free(s);
	json_decref(doc);
}

/* The profile's scaling_policy "METRIC=TARGET" as a target-tracking policy. */
static json_t *policy_json(const struct kc_emu_profile *p, const char *rid)
{
	char metric[128];
	const char *eq = strchr(p->scaling_policy, '=');
	if (!eq)
		return NULL;
	snprintf(metric, sizeof(metric), "%.*s", (int)(eq - p->scaling_policy), p->scaling_policy);
	double target = strtod(eq + 1, NULL);
	json_t *cfg;
	if (!strncmp(metric, "SageMakerVariant", 16)) {
		cfg = json_pack("{s:f,s:{s:s}}", "TargetValue", target,
				"PredefinedMetricSpecification", "PredefinedMetricType", metric);
	} else {
		bool sm = metric_kind("AWS/SageMaker", metric) >= 0;
		cfg = json_pack("{s:f,s:{s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}}", "TargetValue", target,
				"CustomizedMetricSpecification", "MetricName", metric, "Namespace",
				sm ? "AWS/SageMaker" : "/aws/sagemaker/Endpoints", "Statistic",
				"Average", "Dimensions", "Name", "EndpointName", "Value",
				p->endpoint_name, "Name", "VariantName", "Value", p->variant);
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:i,s:[]}", "PolicyARN",
			 "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:emulator",
			 "PolicyName", "current", "ServiceNamespace", "sagemaker", "ResourceId", rid,
			 "ScalableDimension", "sagemaker:variant:DesiredInstanceCount", "PolicyType",
			 "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration", cfg,
			 "CreationTime", 1700000000, "Alarms");
}

static void describe_policies(struct kc_emu_cw *cw, const char *body, struct answer *a)
{
	const struct kc_emu_profile *p = &cw->e->prof;
	json_t *req = json_loads(body, 0, NULL);
	char rid[200];
	snprintf(rid, sizeof(rid), "endpoint/%s/variant/%s", p->endpoint_name, p->variant);
	const char *sns = json_string_value(json_object_get(req, "ServiceNamespace"));
	if (!req || !sns || strcmp(sns, "sagemaker")) {
		json_decref(req);
		json_answer(a, 400, json_pack("{s:s,s:s}", "__type", "ValidationException",
					      "message", "ServiceNamespace sagemaker is required"));
		return;
	}
	json_t *list = json_array();
	const char *id = json_string_value(json_object_get(req, "ResourceId"));
	bool asked = !id || !strcmp(id, rid);
	json_t *pol = asked ? policy_json(p, rid) : NULL;
	if (pol)
		json_array_append_new(list, pol);
	json_decref(req);
	json_answer(a, 200, json_pack("{s:o}", "ScalingPolicies", list));
}

/* ---- HTTP -------------------------------------------------------------- */

struct conn {
	struct kc_buf body;
};

struct hdrs {
	struct kc_sigv4_header h[KC_SIGV4_HEADERS_MAX];
	size_t n;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	(void)kind;
	struct hdrs *h = cls;
	if (h->n < KC_SIGV4_HEADERS_MAX)
		h->h[h->n++] = (struct kc_sigv4_header){k, strlen(k), v ? v : "", v ? strlen(v) : 0};
	return MHD_YES;
}

/* Verifies the request's SigV4 with the face's signer for its service. */
static bool verified(struct kc_emu_cw *cw, struct MHD_Connection *c, const char *url,
		     const struct kc_buf *body, bool aas)
{
	struct kc_sigv4_signer *s = aas ? cw->sig_aas : cw->sig_cw;
	if (!s)
		return true;
	struct hdrs h = {.n = 0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &h);
	char hash[65];
	kc_sigv4_payload_hash(body->data ? body->data : "", body->len, hash);
	struct kc_sigv4_request req = {.method = "POST", .path = url, .headers = h.h,
				       .n_headers = h.n, .payload_hash = hash};
	enum kc_sigv4_verdict v = KC_SIGV4_BAD_SIGNATURE;
	pthread_mutex_lock(&cw->sig_mu);
	int rc = kc_sigv4_verify(s, &req, kc_wall_ns() / KC_NS_PER_S, 300, &v);
	pthread_mutex_unlock(&cw->sig_mu);
	return rc == 0 && v == KC_SIGV4_OK;
}

static void dispatch(struct kc_emu_cw *cw, struct MHD_Connection *c, const char *url,
		     struct conn *cn, struct answer *a)
{
	const char *tgt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
	bool aas = tgt && strstr(tgt, "AnyScaleFrontendService.");
	if (!verified(cw, c, url, &cn->body, aas)) {
		if (aas)
			json_answer(a, 403, json_pack("{s:s,s:s}", "__type",
				    "InvalidSignatureException", "message", "signature mismatch"));
		else
			xml_error(a, 403, "SignatureDoesNotMatch", "signature mismatch");
	} else if (cw->e->prof.cloudwatch_deny) {
		const char *msg = "User: arn:aws:iam::000000000000:user/kneecap is not authorized "
				  "to perform this operation";
		if (aas)
			json_answer(a, 400, json_pack("{s:s,s:s}", "__type", "AccessDeniedException",
						      "message", msg));
		else
			xml_error(a, 403, "AccessDenied", msg);
	} else if (aas) {
		if (strcmp(tgt, "AnyScaleFrontendService.DescribeScalingPolicies"))
			json_answer(a, 400, json_pack("{s:s,s:s}", "__type", "UnknownOperationException",
						      "message", "only DescribeScalingPolicies"));
		else
			describe_policies(cw, cn->body.data ? cn->body.data : "", a);
	} else {
		struct form *f = malloc(sizeof(*f));
		char *copy = strdup(cn->body.data ? cn->body.data : "");
		if (!f || !copy) {
			xml_error(a, 500, "InternalFailure", "out of memory");
		} else {
			form_parse(copy, f);
			const char *act = form_get(f, "Action");
			if (!act || strcmp(act, "GetMetricData"))
				xml_error(a, 400, "InvalidAction", "only GetMetricData is answered");
			else
				get_metric_data(cw, f, a);
		}
		free(copy);
		free(f);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	(void)version;
	struct kc_emu_cw *cw = cls;
	struct conn *cn = *con_cls;
	if (!cn) {
		if (!(cn = calloc(1, sizeof(*cn))))
			return MHD_NO;
		kc_buf_init(&cn->body, BODY_MAX);
		*con_cls = cn;
		return MHD_YES;
	}
	if (*size) {
		if (kc_buf_append(&cn->body, data, *size))
			return MHD_NO;
		*size = 0;
		return MHD_YES;
	}
	struct answer a = {.status = 405};
	kc_buf_init(&a.body, 64u << 20);
	if (strcmp(method, "POST"))
		xml_error(&a, 405, "InvalidAction", "use POST");
	else
		dispatch(cw, c, url, cn, &a);
	struct MHD_Response *r = MHD_create_response_from_buffer(
		a.body.len, a.body.data ? a.body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
	kc_buf_fini(&a.body);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", a.ctype ? a.ctype : "text/xml");
	MHD_add_response_header(r, "x-amzn-RequestId", "00000000-0000-0000-0000-000000000000");
	enum MHD_Result ret = MHD_queue_response(c, a.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode t)
{
	(void)cls, (void)c, (void)t;
	struct conn *cn = *con_cls;
	if (cn) {
		kc_buf_fini(&cn->body);
		free(cn);
	}
	*con_cls = NULL;
}

static int new_signer(const struct kc_emu_profile *p, const char *svc,
		      struct kc_sigv4_signer **out, struct kc_diag *d)
{
	struct kc_sigv4_config sc = {.access_key_id = p->sigv4_akid,
				     .secret_access_key = p->sigv4_secret,
				     .region = p->sigv4_region[0] ? p->sigv4_region : "us-east-1",
				     .service = svc};
	return kc_sigv4_signer_new(out, &sc, d);
}

int kc_emu_cw_start(struct kc_emu *e, struct kc_diag *d)
{
	struct kc_emu_cw *cw = calloc(1, sizeof(*cw));
	if (!cw)
		return kc_diag_set(d, KC_ENOMEM, "metrics face: out of memory");
	pthread_mutex_init(&cw->sig_mu, NULL);
	cw->e = e;
	cw->period_ns = e->prof.metric_period_ns;
	cw->first_idx = kc_wall_ns() / cw->period_ns;
	for (int i = 0; i < RING; i++)
		cw->ring[i].idx = -1;
	int fd = -1, rc = 0;
	if (e->prof.sigv4_akid[0]) {
		rc = new_signer(&e->prof, "monitoring", &cw->sig_cw, d);
		rc = rc ? rc : new_signer(&e->prof, "application-autoscaling", &cw->sig_aas, d);
	}
	rc = rc ? rc : kc_h2io_listen(e->prof.metrics_listen, &fd, &cw->port, d);
	if (!rc) {
		cw->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
					   on_request, cw, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
					   MHD_OPTION_CONNECTION_LIMIT, 64u,
					   MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					   MHD_OPTION_NOTIFY_COMPLETED, on_done, cw, MHD_OPTION_END);
		if (!cw->mhd) {
			close(fd);
			rc = kc_diag_set(d, KC_EIO, "metrics face: libmicrohttpd failed on %s",
					 e->prof.metrics_listen);
		}
	}
	if (rc) {
		kc_emu_cw_stop(cw);
		return rc;
	}
	pthread_mutex_lock(&e->mu);
	e->cw = cw;
	pthread_mutex_unlock(&e->mu);
	return 0;
}

void kc_emu_cw_stop(struct kc_emu_cw *cw)
{
	if (!cw)
		return;
	if (cw->mhd)
		MHD_stop_daemon(cw->mhd);
	kc_sigv4_signer_free(cw->sig_cw);
	kc_sigv4_signer_free(cw->sig_aas);
	pthread_mutex_destroy(&cw->sig_mu);
	free(cw);
}

int kc_emu_cw_port(const struct kc_emu_cw *cw)
{
	return cw ? cw->port : -1;
}
