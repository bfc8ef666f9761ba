/*
 * cloudwatch.h - CloudWatch GetMetricData, as the endpoint's own metrics are
 * read per load step.
 *
 * Protocol: botocore's cloudwatch model (2010-08-01) says "protocol":
 * "query": a form-encoded POST (Action=GetMetricData&Version=2010-08-01&...)
 * answered with XML (GetMetricDataResponse).  The real service accepts it and
 * Debian's botocore speaks it, so this client speaks it too; the newer JSON
 * and CBOR wire forms are not used.  SigV4 signing name "monitoring"; the
 * host is monitoring.REGION.amazonaws.com (.com.cn in cn-* regions) unless
 * an endpoint URL is given.  HTTP goes through libcurl, XML through libxml2.
 *
 * Resolution: SageMaker publishes its endpoint metrics at one-minute
 * resolution (ConcurrentRequestsPerModel also at 10 s), so a real query
 * asks Period 60;
 * the emulator publishes at the period its profile says (1 s in tests).
 */
#ifndef KNEECAP_CLOUDWATCH_H
#define KNEECAP_CLOUDWATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
struct kc_buf;
struct kc_diag;

#define KC_CW_SIGNING_NAME "monitoring"
#define KC_CW_MAX_QUERIES 100   /* GetMetricData's own limit is 500 */
#define KC_CW_MAX_POINTS 4096   /* datapoints kept per query */

/* One MetricDataQuery over a SageMaker variant's metric. */
struct kc_cw_query {
	char id[32];           /* ^[a-z][a-zA-Z0-9_]*$ */
	const char *ns;        /* "AWS/SageMaker", "/aws/sagemaker/Endpoints" */
	const char *metric;    /* "ModelLatency" */
	const char *stat;      /* "Average", "Sum", "Maximum", "p99" */
	int period_s;          /* 60 for SageMaker's metrics */
	const char *endpoint;  /* dimension EndpointName */
	const char *variant;   /* dimension VariantName */
};

/* One MetricDataResult: timestamps (epoch s, period starts) and values. */
struct kc_cw_series {
	char id[32];
	char status[24];       /* "Complete", "PartialData", ... */
	int n;
	int64_t ts[KC_CW_MAX_POINTS];
	double val[KC_CW_MAX_POINTS];
};

/* Where and as whom the client calls. */
struct kc_cw_client {
	const char *region;       /* required */
	const char *endpoint_url; /* NULL or "": the partition's host */
	const char *akid, *secret, *token; /* token NULL for long-term keys */
	long timeout_ms;          /* per HTTP call; 0: 10 s */
	int64_t now_s;            /* signing time; 0: the wall clock */
};

/* The default URL for region ("https://monitoring.REGION.amazonaws.com/")
 * into out.  Returns 0 or KC_EINVAL (bad region) / KC_ELIMIT. */
int kc_cw_default_url(const char *region, char *out, size_t outsz);

/*
 * Appends the form-encoded GetMetricData body for queries q[0..n) over
 * [start_s, end_s) (ScanBy TimestampAscending) to out; next_token NULL or
 * "" for the first page.  Returns 0, KC_EINVAL (bad id or period) or
 * KC_ENOMEM.
 */
int kc_cw_build_body(const struct kc_cw_query *q, size_t n, int64_t start_s, int64_t end_s,
		     const char *next_token, struct kc_buf *out, struct kc_diag *d);

/*
 * Parses a GetMetricDataResponse into out[0..cap), merging pages by Id
 * (appends when out already has the id: *n counts the distinct ids).  The
 * NextToken, if any, is copied into next (nextsz bytes; "" when none).
 * Returns 0 or KC_EPARSE (not XML, not that response) / KC_ELIMIT.
 */
int kc_cw_parse_response(const char *xml, size_t len, struct kc_cw_series *out, size_t cap,
			 size_t *n, char *next, size_t nextsz, struct kc_diag *d);

/*
 * Parses a query-protocol ErrorResponse: its Code into code and Message into
 * msg (both cut to fit, "" when absent).  Returns 0 or KC_EPARSE.
 */
int kc_cw_parse_error(const char *xml, size_t len, char *code, size_t codesz, char *msg,
		      size_t msgsz);

/*
 * Calls GetMetricData (following NextToken, at most 20 pages) and fills
 * out[0..cap) with one series per query id; *n is how many.  Returns 0,
 * KC_EAUTH (403 or AccessDenied / signature errors: d has CloudWatch's
 * code and message), KC_ECONNECT / KC_ETIMEOUT, KC_EPROTO (another error
 * answer, d says which), KC_EPARSE, KC_EINVAL, KC_ENOMEM.  Blocking; needs
 * curl_global_init.  No secret ever reaches d.
 */
int kc_cw_get_metric_data(const struct kc_cw_client *c, const struct kc_cw_query *q, size_t nq,
			  int64_t start_s, int64_t end_s, struct kc_cw_series *out, size_t cap,
			  size_t *n, struct kc_diag *d);

/* The target-tracking policy a variant has, as DescribeScalingPolicies says. */
struct kc_cw_policy {
	char name[256];
	char metric[128];  /* predefined type or the customised metric's name */
	double target;
};

/*
 * Application Auto Scaling DescribeScalingPolicies (JSON 1.1 protocol,
 * X-Amz-Target AnyScaleFrontendService.DescribeScalingPolicies, signing
 * name application-autoscaling) for endpoint/ENDPOINT/variant/VARIANT;
 * endpoint_url NULL or "" for the partition's host.  Fills the first
 * TargetTrackingScaling policy into *out; returns 0, KC_ENOTFOUND (none),
 * or the errors of kc_cw_get_metric_data.
 */
int kc_aas_describe_policy(const struct kc_cw_client *c, const char *endpoint,
			   const char *variant, struct kc_cw_policy *out, struct kc_diag *d);
#endif
