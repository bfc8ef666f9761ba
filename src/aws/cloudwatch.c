/*
 * cloudwatch.c - CloudWatch GetMetricData over the query protocol and
 * Application Auto Scaling DescribeScalingPolicies over JSON 1.1, both
 * signed with SigV4 and sent through libcurl (the control plane's HTTP).
 *
 * Why the query protocol: botocore's cloudwatch model says "query", the
 * real service accepts it, and the emulator's face answers it too, so one
 * independent client (botocore) can check both ends.
 */
#include "kneecap/cloudwatch.h"
#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/sigv4.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESP_MAX (64u << 20)
#define MAX_PAGES 20

int kc_cw_default_url(const char *region, char *out, size_t outsz)
{
	if (!region || !*region || strlen(region) > 32 || strspn(region,
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		return KC_EINVAL;
	bool cn = !strncmp(region, "cn-", 3);
	int k = snprintf(out, outsz, "https://monitoring.%s.amazonaws.com%s/", region,
			 cn ? ".cn" : "");
	return k < 0 || (size_t)k >= outsz ? KC_ELIMIT : 0;
}

/* RFC 3986 unreserved characters stay, everything else is %XX (the query
 * protocol's form encoding, as botocore writes it). */
static int form_put(struct kc_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			rc = kc_buf_append(b, p, 1);
		else
			rc = kc_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		if (rc)
			return rc;
	}
	return 0;
}

static void iso8601(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool id_ok(const char *id)
{
	if (!(id[0] >= 'a' && id[0] <= 'z'))
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
	       strlen(id);
}

/* One MetricDataQueries.member.N group. */
static int put_query(struct kc_buf *b, const struct kc_cw_query *q, size_t i)
{
	const char *pre = "&MetricDataQueries.member.";
	int rc = kc_buf_printf(b, "%s%zu.Id=", pre, i);
	rc = rc ? rc : form_put(b, q->id);
	rc = rc ? rc : kc_buf_printf(b, "%s%zu.MetricStat.Metric.Namespace=", pre, i);
	rc = rc ? rc : form_put(b, q->ns);
	rc = rc ? rc : kc_buf_printf(b, "%s%zu.MetricStat.Metric.MetricName=", pre, i);
	rc = rc ? rc : form_put(b, q->metric);
	int dim = 0;
	const char *names[2] = {"EndpointName", "VariantName"};
	const char *vals[2] = {q->endpoint, q->variant};
	for (int k = 0; k < 2 && !rc; k++) {
		if (!vals[k] || !*vals[k])
			continue;
		dim++;
		rc = kc_buf_printf(b, "%s%zu.MetricStat.Metric.Dimensions.member.%d.Name=%s"
				      "%s%zu.MetricStat.Metric.Dimensions.member.%d.Value=",
				   pre, i, dim, names[k], pre, i, dim);
		rc = rc ? rc : form_put(b, vals[k]);
	}
	rc = rc ? rc : kc_buf_printf(b, "%s%zu.MetricStat.Period=%d", pre, i, q->period_s);
	rc = rc ? rc : kc_buf_printf(b, "%s%zu.MetricStat.Stat=", pre, i);
	rc = rc ? rc : form_put(b, q->stat);
	rc = rc ? rc : kc_buf_printf(b, "%s%zu.ReturnData=true", pre, i);
	return rc;
}

int kc_cw_build_body(const struct kc_cw_query *q, size_t n, int64_t start_s, int64_t end_s,
		     const char *next_token, struct kc_buf *out, struct kc_diag *d)
{
	if (n == 0 || n > KC_CW_MAX_QUERIES || end_s <= start_s)
		return kc_diag_set(d, KC_EINVAL, "GetMetricData: %zu queries over %lld..%lld s", n,
				   (long long)start_s, (long long)end_s);
	char t0[32], t1[32];
	iso8601(start_s, t0);
	iso8601(end_s, t1);
	int rc = kc_buf_puts(out, "Action=GetMetricData&Version=2010-08-01&StartTime=");
	rc = rc ? rc : form_put(out, t0);
	rc = rc ? rc : kc_buf_puts(out, "&EndTime=");
	rc = rc ? rc : form_put(out, t1);
	rc = rc ? rc : kc_buf_puts(out, "&ScanBy=TimestampAscending");
	for (size_t i = 0; i < n && !rc; i++) {
		if (!id_ok(q[i].id) || q[i].period_s <= 0 || !q[i].ns || !q[i].metric || !q[i].stat)
			return kc_diag_set(d, KC_EINVAL, "GetMetricData: bad query %zu (%s)", i,
					   q[i].id);
		rc = put_query(out, &q[i], i + 1);
	}
	if (!rc && next_token && *next_token) {
		rc = kc_buf_puts(out, "&NextToken=");
		rc = rc ? rc : form_put(out, next_token);
	}
	return rc ? kc_diag_set(d, KC_ENOMEM, "GetMetricData: body too large") : 0;
}

/* ---- XML --------------------------------------------------------------- */

static bool named(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* The element's text into out (cut to fit); "" when absent. */
static void text_of(const xmlNode *n, char *out, size_t outsz)
{
	out[0] = '\0';
	if (!n)
		return;
	xmlChar *s = xmlNodeGetContent(n);
	if (s) {
		snprintf(out, outsz, "%s", (const char *)s);
		xmlFree(s);
	}
}

/* "2026-12-07T03:04:05Z" or with fractional seconds or "+00:00". */
static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return KC_EPARSE;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static struct kc_cw_series *series_for(struct kc_cw_series *out, size_t cap, size_t *n,
				       const char *id)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(out[i].id, id))
			return &out[i];
	if (*n >= cap)
		return NULL;
	struct kc_cw_series *s = &out[(*n)++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->status[0] = '\0';
	s->n = 0;
	return s;
}

/* One MetricDataResults member: pairs Timestamps[i] with Values[i]. */
static int parse_member(const xmlNode *m, struct kc_cw_series *out, size_t cap, size_t *n,
			struct kc_diag *d)
{
	char id[sizeof(out->id)], buf[64];
	text_of(child(m, "Id"), id, sizeof(id));
	struct kc_cw_series *s = series_for(out, cap, n, id);
	if (!s)
		return kc_diag_set(d, KC_ELIMIT, "GetMetricData: more than %zu results", cap);
	text_of(child(m, "StatusCode"), s->status, sizeof(s->status));
	const xmlNode *tc = child(child(m, "Timestamps"), "member");
	const xmlNode *vc = child(child(m, "Values"), "member");
	for (; tc && vc; tc = tc->next, vc = vc->next) {
		while (tc && !named(tc, "member"))
			tc = tc->next;
		while (vc && !named(vc, "member"))
			vc = vc->next;
		if (!tc || !vc)
			break;
		if (s->n >= KC_CW_MAX_POINTS)
			return kc_diag_set(d, KC_ELIMIT, "GetMetricData: over %d points for %s",
					   KC_CW_MAX_POINTS, id);
		text_of(tc, buf, sizeof(buf));
		if (parse_time(buf, &s->ts[s->n]))
			return kc_diag_set(d, KC_EPARSE, "GetMetricData: bad timestamp '%s'", buf);
		text_of(vc, buf, sizeof(buf));
		char *end = NULL;
		s->val[s->n] = strtod(buf, &end);
		if (end == buf)
			return kc_diag_set(d, KC_EPARSE, "GetMetricData: bad value '%s'", buf);
		s->n++;
	}
	return 0;
}

static xmlDoc *read_xml(const char *xml, size_t len)
{
	if (len > RESP_MAX)
		return NULL;
	return xmlReadMemory(xml, (int)len, "response.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
				     XML_PARSE_NOWARNING);
}

int kc_cw_parse_response(const char *xml, size_t len, struct kc_cw_series *out, size_t cap,
			 size_t *n, char *next, size_t nextsz, struct kc_diag *d)
{
	if (next && nextsz)
		next[0] = '\0';
	xmlDoc *doc = read_xml(xml, len);
	const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!named(root, "GetMetricDataResponse")) {
		xmlFreeDoc(doc);
		return kc_diag_set(d, KC_EPARSE, "GetMetricData: the answer is not a "
						 "GetMetricDataResponse");
	}
	const xmlNode *res = child(root, "GetMetricDataResult");
	int rc = 0;
	for (const xmlNode *m = child(child(res, "MetricDataResults"), "member"); m && !rc;
	     m = m->next)
		if (named(m, "member"))
			rc = parse_member(m, out, cap, n, d);
	if (!rc && next && nextsz) {
		text_of(child(res, "NextToken"), next, nextsz);
		/* A token cut to fit would be refused by the next call. */
		if (strlen(next) + 1 >= nextsz)
			rc = kc_diag_set(d, KC_ELIMIT, "CloudWatch: a NextToken over %zu bytes",
					 nextsz - 1);
	}
	xmlFreeDoc(doc);
	return rc;
}

int kc_cw_parse_error(const char *xml, size_t len, char *code, size_t codesz, char *msg,
		      size_t msgsz)
{
	code[0] = msg[0] = '\0';
	xmlDoc *doc = read_xml(xml, len);
	const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	const xmlNode *err = named(root, "ErrorResponse") ? child(root, "Error")
			     : named(root, "Response") ? child(child(root, "Errors"), "Error")
			     : NULL;
	if (err) {
		text_of(child(err, "Code"), code, codesz);
		text_of(child(err, "Message"), msg, msgsz);
	}
	xmlFreeDoc(doc);
	return err ? 0 : KC_EPARSE;
}

/* ---- signed HTTP ------------------------------------------------------- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
	return kc_buf_append(ud, p, size * n) == KC_OK ? size * n : 0;
}

/* "host[:port]" and the path of url, as SigV4 signs them. */
static int url_parts(const char *url, char *host, size_t hostsz, char *path, size_t pathsz)
{
	CURLU *u = curl_url();
	char *h = NULL, *port = NULL, *p = NULL, *scheme = NULL;
	int rc = KC_EINVAL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK &&
	    (!strcmp(scheme, "http") || !strcmp(scheme, "https"))) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		int k = port ? snprintf(host, hostsz, "%s:%s", h, port)
			     : snprintf(host, hostsz, "%s", h);
		int k2 = snprintf(path, pathsz, "%s", p);
		rc = k < 0 || (size_t)k >= hostsz || k2 < 0 || (size_t)k2 >= pathsz ? KC_ELIMIT : 0;
	}
	curl_free(h);
	curl_free(port);
	curl_free(p);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

struct call {
	const char *service, *url, *content_type, *amz_target;
	const struct kc_buf *body;
	long status;
	struct kc_buf resp;
};

/* The signed header lines (Host, Content-Type, X-Amz-Target, X-Amz-Date,
 * token, Authorization) for one POST. */
static int sign_call(const struct kc_cw_client *c, struct call *k, struct curl_slist **hdrs,
		     struct kc_diag *d)
{
	char host[300], path[1024], hash[65], ct[160], tgt[160], hostl[320];
	int rc = url_parts(k->url, host, sizeof(host), path, sizeof(path));
	if (rc)
		return kc_diag_set(d, rc, "%s: bad endpoint URL", k->service);
	kc_sigv4_payload_hash(k->body->data ? k->body->data : "", k->body->len, hash);
	snprintf(ct, sizeof(ct), "Content-Type: %s", k->content_type);
	snprintf(hostl, sizeof(hostl), "Host: %s", host);
	struct kc_sigv4_header h[3] = {
		{"Host", 4, host, strlen(host)},
		{"Content-Type", 12, k->content_type, strlen(k->content_type)},
		{"X-Amz-Target", 12, k->amz_target ? k->amz_target : "", 0},
	};
	size_t nh = 2;
	if (k->amz_target) {
		h[2].value_len = strlen(k->amz_target);
		snprintf(tgt, sizeof(tgt), "X-Amz-Target: %s", k->amz_target);
		nh = 3;
	}
	struct kc_sigv4_config sc = {.access_key_id = c->akid, .secret_access_key = c->secret,
				     .session_token = c->token, .region = c->region,
				     .service = k->service};
	struct kc_sigv4_signer *s = NULL;
	if ((rc = kc_sigv4_signer_new(&s, &sc, d)) != 0)
		return rc;
	struct kc_sigv4_request req = {.method = "POST", .path = path, .headers = h,
				       .n_headers = nh, .payload_hash = hash,
				       .time_s = c->now_s ? c->now_s : kc_wall_ns() / 1000000000};
	size_t bufsz = 1024 + (c->token ? strlen(c->token) : 0);
	char *buf = malloc(bufsz);
	struct kc_sigv4_signed out;
	rc = buf ? kc_sigv4_sign(s, &req, buf, bufsz, &out, d) : KC_ENOMEM;
	kc_sigv4_signer_free(s);
	if (!rc) {
		const char *lines[] = {hostl, ct, nh == 3 ? tgt : NULL, out.date, out.token,
				       out.authorization, "Expect:"};
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
			if (lines[i])
				*hdrs = curl_slist_append(*hdrs, lines[i]);
	}
	free(buf);
	return rc;
}

static int map_curl(CURLcode cc, const char *svc, struct kc_diag *d)
{
	int rc = cc == CURLE_OPERATION_TIMEDOUT ? KC_ETIMEOUT
		 : cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ? KC_ECONNECT
		 : cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ? KC_ETLS
		 : KC_EIO;
	return kc_diag_set(d, rc, "%s: %s", svc, curl_easy_strerror(cc));
}

/* Signs and POSTs k->body to k->url: 0 with k->status and k->resp set. */
static int post(const struct kc_cw_client *c, struct call *k, struct kc_diag *d)
{
	struct curl_slist *hdrs = NULL;
	int rc = sign_call(c, k, &hdrs, d);
	if (rc) {
		curl_slist_free_all(hdrs);
		return rc;
	}
	CURL *h = curl_easy_init();
	if (!h) {
		curl_slist_free_all(hdrs);
		return kc_diag_set(d, KC_ENOMEM, "%s: curl_easy_init failed", k->service);
	}
	long tmo = c->timeout_ms > 0 ? c->timeout_ms : 10000;
	curl_easy_setopt(h, CURLOPT_URL, k->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, k->body->data ? k->body->data : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)k->body->len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k->resp);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &k->status);
	else
		rc = map_curl(cc, k->service, d);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return rc;
}

/* An error answer into a kc_err: denied and signature problems are KC_EAUTH. */
static int answer_error(struct call *k, const char *code, const char *msg, struct kc_diag *d)
{
	/* Credential errors by name: a bad NextToken (InvalidNextToken) is not one. */
	bool auth = k->status == 401 || k->status == 403 || strstr(code, "AccessDenied") ||
		    strstr(code, "Signature") || strstr(code, "Unrecognized") ||
		    strstr(code, "ExpiredToken") || strstr(code, "InvalidClientTokenId") ||
		    strstr(code, "NotAuthorized");
	return kc_diag_set(d, auth ? KC_EAUTH : KC_EPROTO, "%s: HTTP %ld %s%s%s", k->service,
			   k->status, code[0] ? code : "(no error code)", msg[0] ? ": " : "", msg);
}

int kc_cw_get_metric_data(const struct kc_cw_client *c, const struct kc_cw_query *q, size_t nq,
			  int64_t start_s, int64_t end_s, struct kc_cw_series *out, size_t cap,
			  size_t *n, struct kc_diag *d)
{
	char url[512], next[2048] = "";
	*n = 0;
	if (c->endpoint_url && *c->endpoint_url)
		snprintf(url, sizeof(url), "%s", c->endpoint_url);
	else if (kc_cw_default_url(c->region, url, sizeof(url)))
		return kc_diag_set(d, KC_EINVAL, "CloudWatch: bad region '%s'", c->region);
	int rc = 0;
	char prev[sizeof(next)] = "";
	for (int page = 0; !rc; page++) {
		/* Pages without end, or a server repeating its token, would make
		 * partial series look complete: say so instead. */
		if (page == MAX_PAGES || (next[0] && !strcmp(next, prev)))
			return kc_diag_set(d, KC_ELIMIT, "CloudWatch: GetMetricData still had more "
					   "after %d pages (NextToken %s)", page,
					   page == MAX_PAGES ? "not exhausted" : "repeated");
		snprintf(prev, sizeof(prev), "%s", next);
		struct kc_buf body;
		kc_buf_init(&body, 1u << 20);
		struct call k = {.service = KC_CW_SIGNING_NAME, .url = url, .body = &body,
				 .content_type = "application/x-www-form-urlencoded; charset=utf-8"};
		kc_buf_init(&k.resp, RESP_MAX);
		rc = kc_cw_build_body(q, nq, start_s, end_s, next, &body, d);
		rc = rc ? rc : post(c, &k, d);
		if (!rc && k.status != 200) {
			char code[128], msg[512];
			kc_cw_parse_error(k.resp.data ? k.resp.data : "", k.resp.len, code,
					  sizeof(code), msg, sizeof(msg));
			rc = answer_error(&k, code, msg, d);
		} else if (!rc) {
			rc = kc_cw_parse_response(k.resp.data ? k.resp.data : "", k.resp.len, out, cap,
						  n, next, sizeof(next), d);
		}
		kc_buf_fini(&body);
		kc_buf_fini(&k.resp);
		if (!next[0])
			break;
	}
	return rc;
}

/* ---- Application Auto Scaling ------------------------------------------ */

/* The first TargetTrackingScaling policy of a DescribeScalingPolicies answer. */
static int pick_policy(const char *text, size_t len, struct kc_cw_policy *out,
		       struct kc_diag *d)
{
	json_t *root = json_loadb(text, len, 0, NULL);
	json_t *pol = root ? json_object_get(root, "ScalingPolicies") : NULL;
	if (!json_is_array(pol)) {
		json_decref(root);
		return kc_diag_set(d, KC_EPARSE, "DescribeScalingPolicies: no ScalingPolicies");
	}
	size_t i;
	json_t *p;
	int rc = KC_ENOTFOUND;
	json_array_foreach(pol, i, p) {
		json_t *cfg = json_object_get(p, "TargetTrackingScalingPolicyConfiguration");
		if (!cfg)
			continue;
		const char *name = json_string_value(json_object_get(p, "PolicyName"));
		json_t *pre = json_object_get(cfg, "PredefinedMetricSpecification");
		json_t *cus = json_object_get(cfg, "CustomizedMetricSpecification");
		const char *m = pre ? json_string_value(json_object_get(pre, "PredefinedMetricType"))
			      : json_string_value(json_object_get(cus, "MetricName"));
		snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
		snprintf(out->metric, sizeof(out->metric), "%s", m ? m : "");
		out->target = json_number_value(json_object_get(cfg, "TargetValue"));
		rc = 0;
		break;
	}
	json_decref(root);
	return rc == KC_ENOTFOUND ? kc_diag_set(d, rc, "no target-tracking policy") : rc;
}

int kc_aas_describe_policy(const struct kc_cw_client *c, const char *endpoint,
			   const char *variant, struct kc_cw_policy *out, struct kc_diag *d)
{
	char url[512];
	if (c->endpoint_url && *c->endpoint_url)
		snprintf(url, sizeof(url), "%s", c->endpoint_url);
	else if (kc_cw_default_url(c->region, url, sizeof(url)))
		/* The same region check as CloudWatch's: nothing but a region name
		 * may go into the host the signed request is sent to. */
		return kc_diag_set(d, KC_EINVAL, "application-autoscaling: bad region");
	else
		snprintf(url, sizeof(url), "https://application-autoscaling.%s.amazonaws.com%s/",
			 c->region, !strncmp(c->region, "cn-", 3) ? ".cn" : "");
	char rid[256];
	snprintf(rid, sizeof(rid), "endpoint/%s/variant/%s", endpoint, variant);
	json_t *req = json_pack("{s:s,s:s,s:s}", "ServiceNamespace", "sagemaker", "ResourceId",
				rid, "ScalableDimension", "sagemaker:variant:DesiredInstanceCount");
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return kc_diag_set(d, KC_ENOMEM, "application-autoscaling: out of memory");
	struct kc_buf body = {.data = text, .len = strlen(text)};
	struct call k = {.service = "application-autoscaling", .url = url, .body = &body,
			 .content_type = "application/x-amz-json-1.1",
			 .amz_target = "AnyScaleFrontendService.DescribeScalingPolicies"};
	kc_buf_init(&k.resp, 4u << 20);
	int rc = post(c, &k, d);
	if (!rc && k.status != 200) {
		json_t *e = json_loadb(k.resp.data ? k.resp.data : "", k.resp.len, 0, NULL);
		const char *code = json_string_value(json_object_get(e, "__type"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		code = code && strchr(code, '#') ? strchr(code, '#') + 1 : code;
		rc = answer_error(&k, code ? code : "", msg ? msg : "", d);
		json_decref(e);
	} else if (!rc) {
		rc = pick_policy(k.resp.data ? k.resp.data : "", k.resp.len, out, d);
	}
	free(text);
	kc_buf_fini(&k.resp);
	return rc;
}
