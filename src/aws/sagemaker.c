/*
 * sagemaker.c - SageMaker runtime request shapes and error classification.
 *
 * What this is: the string work between "sagemaker:my-ep/variant" and the
 * bytes the engine puts on the wire (URL, SigV4 host value, headers), and
 * between an error response and a counted error class.  What it is not: a
 * client (no sockets), a signer (sigv4.c), or an event-stream decoder.
 *
 * Every input here may come from a user or a peer, so every check is a
 * bounded scan and every output fits a fixed buffer.  The error parser is
 * meant to be fuzzed: it must accept any bytes without crashing, and it
 * allocates only when it has to read a JSON body.
 */
#include "kneecap/sagemaker.h"
#include "sagemaker_int.h"
#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TARGET_PREFIX "sagemaker:"

/* ------------------------------------------------------------------ */
/* name and value rules from the service model                          */

/* Printable ASCII (0x20-0x7e) of min..max characters. */
static bool is_printable(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= max || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
			return false;
	return n >= min;
}

/* \A\S[\p{Print}]*\z restricted to ASCII, 1..max characters. */
static bool is_printable_nonspace_start(const char *s, size_t max)
{
	return is_printable(s, 1, max) && s[0] != ' ';
}

/* ^[A-Za-z0-9\-._]+(?:/[A-Za-z0-9\-._]+)*$, at most 100 characters. */
static bool is_invocation_path(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100 || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '/' && s[i + 1] == '/')
			return false;
		if (!isalnum((unsigned char)c) && !strchr("-._/", c))
			return false;
	}
	return true;
}

/* key=value(&key=value)*: key [a-zA-Z0-9][A-Za-z0-9_-]*, value ([A-Za-z0-9._~-]|%XX)+. */
static bool is_query_string(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 2048)
		return false;
	const char *p = s;
	for (;;) {
		if (!isalnum((unsigned char)*p))
			return false;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
			p++;
		if (*p++ != '=')
			return false;
		const char *v = p;
		for (;;) {
			if (isalnum((unsigned char)*p) || (*p && strchr("._~-", *p)))
				p++;
			else if (*p == '%' && isxdigit((unsigned char)p[1]) &&
				 isxdigit((unsigned char)p[2]))
				p += 3;
			else
				break;
		}
		if (p == v)
			return false;
		if (!*p)
			return true;
		if (*p++ != '&')
			return false;
	}
}

/* ------------------------------------------------------------------ */
/* targets and URLs                                                     */

bool kc_sagemaker_is_target(const char *s)
{
	return s && !strncmp(s, TARGET_PREFIX, strlen(TARGET_PREFIX));
}

int kc_sagemaker_parse_target(const char *s, struct kc_sm_target *out,
			      struct kc_diag *d)
{
	KC_ASSERT(out);
	if (!kc_sagemaker_is_target(s))
		return kc_diag_set(d, KC_EINVAL, "a SageMaker target starts with "
				   "'sagemaker:' (sagemaker:ENDPOINT[/VARIANT])");
	const char *ep = s + strlen(TARGET_PREFIX);
	const char *slash = strchr(ep, '/');
	size_t en = slash ? (size_t)(slash - ep) : strlen(ep);
	const char *var = slash ? slash + 1 : "";
	struct kc_sm_target t;
	memset(&t, 0, sizeof(t));
	if (en == 0)
		return kc_diag_set(d, KC_EINVAL, "'%.100s': endpoint name is empty "
				   "(sagemaker:ENDPOINT[/VARIANT])", s);
	if (en > KC_SM_NAME_MAX)
		return kc_diag_set(d, KC_EINVAL, "'%.100s': endpoint name is longer than "
				   "%d characters", s, KC_SM_NAME_MAX);
	memcpy(t.endpoint, ep, en);
	if (!kc_sagemaker_name_fits(t.endpoint, KC_SM_NAME_MAX))
		return kc_diag_set(d, KC_EINVAL, "endpoint name '%.63s': only letters, digits "
				   "and hyphens, starting and ending with a letter or digit",
				   t.endpoint);
	if (slash) {
		if (strlen(var) > KC_SM_NAME_MAX)
			return kc_diag_set(d, KC_EINVAL, "variant name is longer than %d "
					   "characters", KC_SM_NAME_MAX);
		if (!kc_sagemaker_name_fits(var, KC_SM_NAME_MAX))
			return kc_diag_set(d, KC_EINVAL, "variant name '%.63s': only letters, "
					   "digits and hyphens, starting and ending with a letter "
					   "or digit", var);
		memcpy(t.variant, var, strlen(var) + 1);
	}
	*out = t;
	return KC_OK;
}

static const char *op_suffix(enum kc_sm_op op)
{
	switch (op) {
	case KC_SM_INVOKE: return "invocations";
	case KC_SM_RESPONSE_STREAM: return "invocations-response-stream";
	case KC_SM_BIDI: return "invocations-bidirectional-stream";
	}
	KC_ASSERT(!"unknown op");
	return "";
}

/* Splits an --endpoint-url into scheme, host, port and path prefix. */
static int parse_endpoint_url(const char *url, struct kc_sm_url *u, struct kc_diag *d)
{
	CURLU *h = curl_url();
	if (!h)
		return KC_ENOMEM;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *x = NULL;
	int rc = KC_OK;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			rc = kc_diag_set(d, KC_EINVAL, "--endpoint-url has blanks or control "
					 "characters");
			goto done;
		}
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		rc = kc_diag_set(d, KC_EINVAL, "--endpoint-url '%.200s' is not a URL "
				 "(scheme://host[:port])", url);
		goto done;
	}
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
		rc = kc_diag_set(d, KC_EINVAL, "--endpoint-url: scheme must be http or https");
		goto done;
	}
	if (curl_url_get(h, CURLUPART_QUERY, &x, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_FRAGMENT, &x, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_USER, &x, 0) == CURLUE_OK) {
		rc = kc_diag_set(d, KC_EINVAL, "--endpoint-url must not have a query, a "
				 "fragment or user info");
		goto done;
	}
	if (strlen(host) >= sizeof(u->host) || strlen(path) >= sizeof(u->path) / 2) {
		rc = kc_diag_set(d, KC_ELIMIT, "--endpoint-url is too long");
		goto done;
	}
	for (char *c = scheme; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	snprintf(u->scheme, sizeof(u->scheme), "%s", scheme);
	snprintf(u->host, sizeof(u->host), "%s", host);
	int64_t portnum;
	if (kc_parse_i64(port, 1, 65535, &portnum) < 0) {
		rc = kc_diag_set(d, KC_EINVAL, "--endpoint-url: port must be 1-65535");
		goto done;
	}
	u->port = (int)portnum;
	size_t pl = strlen(path);
	while (pl && path[pl - 1] == '/')
		path[--pl] = '\0';
	snprintf(u->path, sizeof(u->path), "%s", path);
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(x);
	curl_url_cleanup(h);
	return rc;
}

int kc_sagemaker_build_url(enum kc_sm_op op, const char *region,
			   const char *endpoint, const char *endpoint_url,
			   struct kc_sm_url *out, struct kc_diag *d)
{
	return kc_sagemaker_build_url_v(op, region, endpoint, endpoint_url, 0, out, d);
}

int kc_sagemaker_build_url_v(enum kc_sm_op op, const char *region,
			     const char *endpoint, const char *endpoint_url,
			     unsigned variants, struct kc_sm_url *out,
			     struct kc_diag *d)
{
	KC_ASSERT(out);
	if (!endpoint || !kc_sagemaker_name_fits(endpoint, KC_SM_NAME_MAX))
		return kc_diag_set(d, KC_EINVAL, "endpoint name '%.63s' is not valid",
				   endpoint ? endpoint : "");
	struct kc_sm_url u;
	memset(&u, 0, sizeof(u));
	if (endpoint_url && *endpoint_url) {
		if (variants)
			return kc_diag_set(d, KC_EINVAL, "%s and --endpoint-url do not go together "
					   "(the endpoint rules: a custom endpoint is used as given)",
					   variants & KC_SM_FIPS ? "--fips" : "--dualstack");
		int rc = parse_endpoint_url(endpoint_url, &u, d);
		if (rc < 0)
			return rc;
	} else {
		snprintf(u.scheme, sizeof(u.scheme), "https");
		int rc = kc_sagemaker_host(op, region, variants, u.host, sizeof(u.host), &u.port, d);
		if (rc < 0)
			return rc;
	}
	int defport = strcmp(u.scheme, "https") ? 80 : 443;
	if (u.port == defport)
		snprintf(u.host_header, sizeof(u.host_header), "%s", u.host);
	else
		snprintf(u.host_header, sizeof(u.host_header), "%s:%d", u.host, u.port);
	char prefix[sizeof(u.path)];
	memcpy(prefix, u.path, sizeof(prefix));
	if ((size_t)snprintf(u.path, sizeof(u.path), "%s/endpoints/%s/%s", prefix, endpoint,
			     op_suffix(op)) >= sizeof(u.path) ||
	    (size_t)snprintf(u.url, sizeof(u.url), "%s://%s%s", u.scheme, u.host_header,
			     u.path) >= sizeof(u.url))
		return kc_diag_set(d, KC_ELIMIT, "endpoint URL is too long");
	*out = u;
	return KC_OK;
}

/* ------------------------------------------------------------------ */
/* headers                                                              */

static void hdr_add(struct kc_sm_headers *h, const char *name, const char *value)
{
	KC_ASSERT(h->n < KC_SM_MAX_HEADERS);
	KC_ASSERT(strlen(name) < sizeof(h->h[0].name));
	KC_ASSERT(strlen(value) <= KC_SM_HEADER_VALUE_MAX);
	snprintf(h->h[h->n].name, sizeof(h->h[h->n].name), "%s", name);
	snprintf(h->h[h->n].value, sizeof(h->h[h->n].value), "%s", value);
	h->n++;
}

static bool set(const char *s) { return s && *s; }

static const char *op_name(enum kc_sm_op op)
{
	switch (op) {
	case KC_SM_INVOKE: return "InvokeEndpoint";
	case KC_SM_RESPONSE_STREAM: return "InvokeEndpointWithResponseStream";
	case KC_SM_BIDI: return "InvokeEndpointWithBidirectionalStream";
	}
	return "?";
}

/* One optional header: checks the operation takes it and the value's rule. */
struct hdr_rule {
	const char *setting;  /* the user's name for it */
	const char *name;     /* wire name */
	unsigned ops;         /* bit per enum kc_sm_op */
	int kind;             /* which check */
	const char *rule;     /* the rule, for messages */
};

enum { K_ASCII1024, K_NAME63, K_PRINT1024, K_PRINT64, K_SESSION, K_PATH, K_QUERY };

#define OP(x) (1u << (x))

static bool check_kind(int kind, const char *v)
{
	switch (kind) {
	case K_ASCII1024: return is_printable(v, 1, 1024);
	case K_NAME63: return kc_sagemaker_name_fits(v, 63);
	case K_PRINT1024: return is_printable_nonspace_start(v, 1024);
	case K_PRINT64: return is_printable_nonspace_start(v, 64);
	case K_SESSION: return !strcmp(v, "NEW_SESSION") || kc_sagemaker_name_fits(v, 256);
	case K_PATH: return is_invocation_path(v);
	case K_QUERY: return is_query_string(v);
	}
	return false;
}

int kc_sagemaker_build_headers(enum kc_sm_op op, const struct kc_sm_opts *o,
			       struct kc_sm_headers *out, struct kc_diag *d)
{
	KC_ASSERT(o && out);
	const unsigned ALL = OP(KC_SM_INVOKE) | OP(KC_SM_RESPONSE_STREAM) | OP(KC_SM_BIDI);
	const unsigned UNARY = OP(KC_SM_INVOKE) | OP(KC_SM_RESPONSE_STREAM);
	const struct {
		const char *value;
		struct hdr_rule r;
	} opt[] = {
		{o->target_variant, {"target variant", "x-amzn-sagemaker-target-variant", ALL,
				     K_NAME63, "1-63 letters, digits and inner hyphens"}},
		{o->target_model, {"target model", "x-amzn-sagemaker-target-model",
				   OP(KC_SM_INVOKE), K_PRINT1024,
				   "1-1024 printable ASCII characters, not starting with a blank"}},
		{o->target_container_hostname,
		 {"target container hostname", "x-amzn-sagemaker-target-container-hostname",
		  UNARY, K_NAME63, "1-63 letters, digits and inner hyphens"}},
		{o->custom_attributes, {"custom attributes", "x-amzn-sagemaker-custom-attributes",
					UNARY, K_ASCII1024, "1-1024 printable ASCII characters"}},
		{o->inference_id, {"inference id", "x-amzn-sagemaker-inference-id", UNARY,
				   K_PRINT64,
				   "1-64 printable ASCII characters, not starting with a blank"}},
		{o->inference_component, {"inference component",
					  "x-amzn-sagemaker-inference-component", UNARY, K_NAME63,
					  "1-63 letters, digits and inner hyphens"}},
		{o->session_id, {"session id", "x-amzn-sagemaker-session-id", UNARY, K_SESSION,
				 "NEW_SESSION or 1-256 letters, digits and inner hyphens"}},
		{o->enable_explanations, {"enable explanations",
					  "x-amzn-sagemaker-enable-explanations", OP(KC_SM_INVOKE),
					  K_PRINT64, "1-64 printable ASCII characters"}},
		{o->model_invocation_path, {"model invocation path",
					    "x-amzn-sagemaker-model-invocation-path", OP(KC_SM_BIDI),
					    K_PATH, "at most 100 characters of [A-Za-z0-9-._] "
					    "segments joined by '/', no leading '/'"}},
		{o->model_query_string, {"model query string",
					 "x-amzn-sagemaker-model-query-string", OP(KC_SM_BIDI),
					 K_QUERY, "at most 2048 characters of key=value pairs "
					 "joined by '&', values percent-encoded"}},
	};
	struct kc_sm_headers h;
	h.n = 0;

	if (op == KC_SM_BIDI) {
		if (set(o->content_type) && strcmp(o->content_type, KC_SM_EVENTSTREAM_TYPE))
			return kc_diag_set(d, KC_EINVAL, "%s: content type is always %s",
					   op_name(op), KC_SM_EVENTSTREAM_TYPE);
		if (set(o->accept))
			return kc_diag_set(d, KC_EINVAL, "%s takes no accept setting",
					   op_name(op));
		hdr_add(&h, "content-type", KC_SM_EVENTSTREAM_TYPE);
		hdr_add(&h, "x-amz-content-sha256", KC_SM_BIDI_PAYLOAD_HASH);
	} else {
		const char *ct = set(o->content_type) ? o->content_type : "application/octet-stream";
		if (!is_printable(ct, 1, 1024))
			return kc_diag_set(d, KC_EINVAL, "content type: 1-1024 printable ASCII "
					   "characters");
		hdr_add(&h, "content-type", ct);
		if (set(o->accept)) {
			if (!is_printable(o->accept, 1, 1024))
				return kc_diag_set(d, KC_EINVAL, "accept: 1-1024 printable ASCII "
						   "characters");
			hdr_add(&h, op == KC_SM_INVOKE ? "accept" : "x-amzn-sagemaker-accept",
				o->accept);
		}
	}
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		const char *v = opt[i].value;
		const struct hdr_rule *r = &opt[i].r;
		if (!set(v))
			continue;
		if (!(r->ops & OP(op)))
			return kc_diag_set(d, KC_EINVAL, "%s is not accepted by %s", r->setting,
					   op_name(op));
		if (!check_kind(r->kind, v))
			return kc_diag_set(d, KC_EINVAL, "%s (%s): %s", r->setting, r->name,
					   r->rule);
		if (r->kind == K_SESSION && op != KC_SM_INVOKE && !strcmp(v, "NEW_SESSION"))
			return kc_diag_set(d, KC_EINVAL, "session id NEW_SESSION is accepted by "
					   "InvokeEndpoint only; give an existing session id");
		hdr_add(&h, r->name, v);
	}
	*out = h;
	return KC_OK;
}

/* ------------------------------------------------------------------ */
/* errors                                                               */

/*
 * Normalises an error code (botocore's rule): drop from the first ':' on,
 * then everything up to and including the last '#'.  A code with anything
 * but [A-Za-z0-9_.-] left is garbage and becomes "".
 */
static void normalise_code(const char *s, size_t n, char out[KC_SM_ERR_CODE_MAX])
{
	out[0] = '\0';
	const char *colon = memchr(s, ':', n);
	if (colon)
		n = (size_t)(colon - s);
	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == '#') {
			s += i;
			n -= i;
			break;
		}
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
		     s[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= KC_SM_ERR_CODE_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return;
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * Copies a message: control characters become blanks; text from the point
 * where an AWS signature error starts quoting the canonical request (which
 * carries the session token) is dropped, looked for after the blanking so a
 * marker split by a control character is still found; truncation keeps
 * UTF-8 whole.
 */
/*
 * The length of s[0..n) before an AWS signature error starts quoting the
 * canonical request or string to sign (which carry the session token).
 */
static size_t unquoted_len(const char *s, size_t n)
{
	static const char *const cuts[] = {"The Canonical String", "The String-to-Sign",
					   "Canonical request", "canonical request:"};
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		size_t cl = strlen(cuts[c]);
		for (size_t i = 0; i + cl <= n; i++)
			if (!memcmp(s + i, cuts[c], cl)) {
				n = i;
				break;
			}
	}
	return n;
}

static void copy_message(const char *s, size_t n, char out[KC_SM_ERR_MSG_MAX])
{
	if (n >= KC_SM_ERR_MSG_MAX) {
		n = KC_SM_ERR_MSG_MAX - 1;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[w++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	w = unquoted_len(out, w); /* after blanking: "The\tCanonical String" too */
	while (w && out[w - 1] == ' ')
		w--;
	out[w] = '\0';
}

/* Raw (non-JSON) bodies: printable ASCII only, so the result is valid UTF-8.
 * A body that is not JSON (a proxy's page, or JSON with a bad escape) can
 * still quote a canonical request, so it is cut the same way. */
static void copy_raw(const unsigned char *s, size_t n, char out[KC_SM_ERR_MSG_MAX])
{
	size_t w = 0;
	for (size_t i = 0; i < n && w < 200; i++)
		out[w++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : ' ';
	w = unquoted_len(out, w);
	while (w && out[w - 1] == ' ')
		w--;
	out[w] = '\0';
}

static const struct {
	const char *code;
	enum kc_sm_errclass cls;
} code_class[] = {
	{"ModelError", KC_SM_ERR_MODEL},
	{"ModelStreamError", KC_SM_ERR_MODEL},
	{"ThrottlingException", KC_SM_ERR_THROTTLE},
	{"Throttling", KC_SM_ERR_THROTTLE},
	{"ThrottledException", KC_SM_ERR_THROTTLE},
	{"TooManyRequestsException", KC_SM_ERR_THROTTLE},
	{"RequestLimitExceeded", KC_SM_ERR_THROTTLE},
	{"ModelNotReadyException", KC_SM_ERR_THROTTLE},
	{"ServiceUnavailable", KC_SM_ERR_UNAVAILABLE},
	{"ServiceUnavailableException", KC_SM_ERR_UNAVAILABLE},
	{"ValidationError", KC_SM_ERR_VALIDATION},
	{"InputValidationError", KC_SM_ERR_VALIDATION}, /* the bidirectional stream's names */
	{"ServiceUnavailableError", KC_SM_ERR_UNAVAILABLE},
	{"ValidationException", KC_SM_ERR_VALIDATION},
	{"SerializationException", KC_SM_ERR_VALIDATION},
	{"InvalidSignatureException", KC_SM_ERR_AUTH},
	{"IncompleteSignatureException", KC_SM_ERR_AUTH},
	{"SignatureDoesNotMatch", KC_SM_ERR_AUTH},
	{"UnrecognizedClientException", KC_SM_ERR_AUTH},
	{"InvalidClientTokenId", KC_SM_ERR_AUTH},
	{"ExpiredTokenException", KC_SM_ERR_AUTH},
	{"ExpiredToken", KC_SM_ERR_AUTH},
	{"RequestExpired", KC_SM_ERR_AUTH},
	{"AccessDeniedException", KC_SM_ERR_AUTH},
	{"AccessDenied", KC_SM_ERR_AUTH},
	{"MissingAuthenticationTokenException", KC_SM_ERR_AUTH},
	{"MissingAuthenticationToken", KC_SM_ERR_AUTH},
	{"InternalFailure", KC_SM_ERR_INTERNAL},
	{"InternalDependencyException", KC_SM_ERR_INTERNAL},
	{"InternalServerError", KC_SM_ERR_INTERNAL},
	{"InternalServerException", KC_SM_ERR_INTERNAL},
	{"InternalStreamFailure", KC_SM_ERR_INTERNAL},
};

static bool known_code(const char *code)
{
	for (size_t i = 0; i < sizeof(code_class) / sizeof(code_class[0]); i++)
		if (!strcmp(code, code_class[i].code))
			return true;
	return false;
}

static enum kc_sm_errclass classify(const char *code, int status)
{
	for (size_t i = 0; code[0] && i < sizeof(code_class) / sizeof(code_class[0]); i++)
		if (!strcmp(code, code_class[i].code))
			return code_class[i].cls;
	switch (status) {
	case 424: return KC_SM_ERR_MODEL;
	case 429: return KC_SM_ERR_THROTTLE;
	case 503: return KC_SM_ERR_UNAVAILABLE;
	case 401:
	case 403: return KC_SM_ERR_AUTH;
	case 400: return KC_SM_ERR_VALIDATION;
	}
	if (status >= 500 && status <= 599)
		return KC_SM_ERR_INTERNAL;
	return KC_SM_ERR_OTHER;
}

static void parse_body(const void *body, size_t len, bool want_code, unsigned flags,
		       struct kc_sm_error *out)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(root)) {
		if (flags & KC_SM_PARSE_MESSAGE)
			copy_raw(body, len, out->message);
		json_decref(root);
		return;
	}
	if (want_code) {
		json_t *c = json_object_get(root, "__type");
		if (!json_is_string(c))
			c = json_object_get(root, "code");
		if (!json_is_string(c))
			c = json_object_get(root, "Code");
		if (json_is_string(c))
			normalise_code(json_string_value(c), json_string_length(c), out->code);
	}
	json_t *m = json_object_get(root, "message");
	if (!json_is_string(m))
		m = json_object_get(root, "Message");
	if (json_is_string(m)) {
		const char *s = json_string_value(m);
		copy_message(s, strnlen(s, json_string_length(m)), out->message);
	}
	json_t *ec = json_object_get(root, "ErrorCode");
	if (json_is_string(ec))
		normalise_code(json_string_value(ec), json_string_length(ec), out->error_code);
	json_t *os = json_object_get(root, "OriginalStatusCode");
	if (json_is_integer(os) && json_integer_value(os) >= 0 &&
	    json_integer_value(os) <= 999)
		out->original_status = (int)json_integer_value(os);
	json_decref(root);
}

void kc_sagemaker_parse_error(int status, const char *errtype, size_t errtype_len,
			      const void *body, size_t body_len, unsigned flags,
			      struct kc_sm_error *out)
{
	KC_ASSERT(out);
	memset(out, 0, sizeof(*out));
	out->status = status;
	if (status >= 200 && status <= 299) {
		out->cls = KC_SM_ERR_NONE;
		return;
	}
	if (errtype && errtype_len)
		normalise_code(errtype, errtype_len, out->code);
	bool want_code = !out->code[0];
	if ((want_code || (flags & KC_SM_PARSE_MESSAGE)) && body && body_len > 0) {
		if (body_len <= KC_SM_ERR_BODY_PARSE_MAX)
			parse_body(body, body_len, want_code, flags, out);
		else if (flags & KC_SM_PARSE_MESSAGE)
			snprintf(out->message, sizeof(out->message), "(error body of %zu bytes "
				 "not read)", body_len);
	}
	/* No type anywhere but a known ErrorCode member (the bidirectional
	 * stream's errors carry one): that names the error. */
	const char *code = out->code;
	if (!code[0] && known_code(out->error_code))
		code = out->error_code;
	out->cls = classify(code, status);
}

enum kc_sm_exception kc_sagemaker_stream_exception(const char *type, size_t len)
{
	char code[KC_SM_ERR_CODE_MAX];
	normalise_code(type ? type : "", type ? len : 0, code);
	if (!strcmp(code, "ModelStreamError"))
		return KC_SM_EXC_MODEL;
	if (!strcmp(code, "InternalStreamFailure"))
		return KC_SM_EXC_INTERNAL;
	return KC_SM_EXC_OTHER;
}

const char *kc_sagemaker_errclass_name(enum kc_sm_errclass c)
{
	switch (c) {
	case KC_SM_ERR_NONE: return "none";
	case KC_SM_ERR_MODEL: return "model";
	case KC_SM_ERR_THROTTLE: return "throttle";
	case KC_SM_ERR_UNAVAILABLE: return "unavailable";
	case KC_SM_ERR_VALIDATION: return "validation";
	case KC_SM_ERR_AUTH: return "auth";
	case KC_SM_ERR_INTERNAL: return "internal";
	case KC_SM_ERR_OTHER: return "other";
	case KC_SM_ERR_COUNT: break;
	}
	return "unknown";
}

const char *kc_sagemaker_errclass_hint(enum kc_sm_errclass c)
{
	switch (c) {
	case KC_SM_ERR_AUTH:
		return "SageMaker refused the request's signature or credentials: check the "
		       "access key and secret, whether a session token expired, --region, "
		       "and the system clock";
	case KC_SM_ERR_THROTTLE:
		return "SageMaker is throttling: an account or endpoint request limit, not "
		       "the instance, may be what this run measures";
	case KC_SM_ERR_MODEL:
		return "the model container answered with an error (ModelError): see the "
		       "endpoint's CloudWatch logs";
	case KC_SM_ERR_VALIDATION:
		return "SageMaker rejected the request: check the endpoint name, the region "
		       "and the body size (at most 6 MiB)";
	case KC_SM_ERR_UNAVAILABLE:
		return "SageMaker answered 503 Service Unavailable: the endpoint may be "
		       "overloaded or scaling";
	case KC_SM_ERR_INTERNAL:
		return "SageMaker answered with an internal error (5xx)";
	case KC_SM_ERR_NONE:
	case KC_SM_ERR_OTHER:
	case KC_SM_ERR_COUNT: break;
	}
	return NULL;
}
