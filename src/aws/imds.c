/*
 * imds.c - the metadata credential clients: container credentials (ECS,
 * EKS Pod Identity) and EC2 instance metadata (IMDSv2, with botocore's
 * IMDSv1 fallback), over libcurl with short timeouts.
 *
 * No proxy, no redirects, http/https only; answers are bounded and wiped
 * before they are freed; messages and origins show a URL without its
 * query or userinfo, and never a token.
 */
#include "imds_int.h"
#include "creds_int.h"
#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_BODY_MAX (64u * 1024)
#define TOKEN_FILE_MAX (16u * 1024)
#define CONTAINER_ATTEMPTS 3
#define IMDS_ATTEMPTS_MAX 5
#define IMDS_TIMEOUT_MAX_NS (INT64_C(10) * KC_NS_PER_S)

static bool env_true(const struct kc_creds_opts *o, const char *name)
{
	const char *v = kc_creds_env_set(o, name);
	return v && !strcasecmp(v, "true");
}

static size_t http_write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct kc_buf *b = ud;
	return kc_buf_append(b, p, size * n) == KC_OK ? size * n : 0;
}

/*
 * One request.  Returns 0 when a response arrived (*status set; body in b),
 * KC_ETIMEOUT, KC_ECONNECT, KC_ELIMIT (body over b->max), KC_EIO.
 * No proxy (link-local and loopback services are never behind one), no
 * redirects, http/https only.
 */
static int http_do(const char *method, const char *url, struct curl_slist *hdrs,
		   int64_t timeout_ns, struct kc_buf *b, long *status)
{
	CURL *h = curl_easy_init();
	if (!h)
		return KC_ENOMEM;
	long tmo_ms = (long)(timeout_ns / KC_NS_PER_MS);
	if (tmo_ms < 1)
		tmo_ms = 1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tmo_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, tmo_ms);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (!strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	}
	CURLcode cc = curl_easy_perform(h);
	int rc = KC_OK;
	switch (cc) {
	case CURLE_OK:
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
		break;
	case CURLE_OPERATION_TIMEDOUT: rc = KC_ETIMEOUT; break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST: rc = KC_ECONNECT; break;
	case CURLE_WRITE_ERROR: rc = KC_ELIMIT; break;
	default: rc = KC_EIO; break;
	}
	if (rc)
		kc_log(KC_LOG_DEBUG, "aws credentials: %s %s: %s", method, url,
		       curl_easy_strerror(cc));
	curl_easy_cleanup(h);
	return rc;
}

static bool ip_is(const char *host, int af, const char *want)
{
	unsigned char a[16], b[16];
	return inet_pton(af, host, a) == 1 && inet_pton(af, want, b) == 1 &&
	       !memcmp(a, b, af == AF_INET ? 4 : 16);
}

/* botocore's rule for plain-http full URIs: loopback or the ECS/EKS hosts. */
static bool container_host_allowed(const char *host)
{
	unsigned char a[16];
	char h6[64];
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 || ip_is(host, AF_INET, "169.254.170.2") ||
		       ip_is(host, AF_INET, "169.254.170.23");
	size_t n = strlen(host);
	if (n > 2 && n < sizeof(h6) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h6, host + 1, n - 2);
		h6[n - 2] = '\0';
		char *pct = strchr(h6, '%'); /* zone id */
		if (pct)
			*pct = '\0';
		if (inet_pton(AF_INET6, h6, a) == 1)
			return ip_is(h6, AF_INET6, "::1") || ip_is(h6, AF_INET6, "fd00:ec2::23");
	}
	return false;
}

int kc_creds_container_url(const char *rel, const char *full, char *out,
			   size_t outsz, struct kc_diag *d)
{
	if (rel && *rel) {
		if (kc_creds_has_ctl(rel) || strchr(rel, ' '))
			return kc_diag_set(d, KC_EINVAL, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
					   "has blanks or control characters");
		if ((size_t)snprintf(out, outsz, "http://169.254.170.2%s%s",
				     rel[0] == '/' ? "" : "/", rel) >= outsz)
			return kc_diag_set(d, KC_ELIMIT, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
					   "is too long");
		return KC_OK;
	}
	if (!full || !*full)
		return KC_ENOTFOUND;
	CURLU *u = curl_url();
	if (!u)
		return KC_ENOMEM;
	char *scheme = NULL, *host = NULL;
	int rc = KC_OK;
	if (kc_creds_has_ctl(full) || curl_url_set(u, CURLUPART_URL, full, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = kc_diag_set(d, KC_EINVAL, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not "
				 "a valid URL");
		goto done;
	}
	if (strcasecmp(scheme, "https") &&
	    (strcasecmp(scheme, "http") || !container_host_allowed(host))) {
		rc = kc_diag_set(d, KC_EINVAL, "AWS_CONTAINER_CREDENTIALS_FULL_URI: host "
				 "'%.100s' is not allowed over %s (https, loopback, "
				 "169.254.170.2, 169.254.170.23 or fd00:ec2::23 only)", host, scheme);
		goto done;
	}
	if ((size_t)snprintf(out, outsz, "%s", full) >= outsz)
		rc = kc_diag_set(d, KC_ELIMIT, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
done:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* A URL for messages and result.json: no query, no fragment, no userinfo. */
static void url_for_humans(const char *url, char *out, size_t outsz)
{
	const char *s = strstr(url, "://");
	const char *at = s ? strchr(s + 3, '@') : NULL;
	const char *slash = s ? strchr(s + 3, '/') : NULL;
	if (at && (!slash || at < slash))
		snprintf(out, outsz, "%.*s%s", (int)(s + 3 - url), url, at + 1);
	else
		snprintf(out, outsz, "%s", url);
	out[strcspn(out, "?#")] = '\0';
}

/* Reads the container authorization token into *token_out (heap; NULL when
 * none is set).  The token file is re-read on every fetch: EKS rotates it. */
static int container_token(const struct kc_creds_opts *o, char **token_out,
			   struct kc_diag *d)
{
	int rc;
	char *token = NULL;
	const char *tfile = kc_creds_env_set(o, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (tfile) {
		struct kc_buf tb;
		kc_buf_init(&tb, TOKEN_FILE_MAX);
		rc = kc_buf_read_file(&tb, tfile);
		if (rc < 0) {
			kc_buf_fini(&tb);
			return kc_diag_set(d, rc == KC_ENOTFOUND ? KC_ENOTFOUND : rc,
					   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %.300s: %s",
					   tfile, kc_strerror(rc));
		}
		token = kc_buf_steal(&tb, NULL);
		kc_buf_fini(&tb);
		if (!token)
			return KC_ENOMEM;
		/* A trailing newline is an editor's, not the token's. */
		size_t n = strlen(token);
		while (n && (token[n - 1] == '\n' || token[n - 1] == '\r'))
			token[--n] = '\0';
	} else if (kc_creds_env_set(o, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		token = strdup(kc_creds_env_set(o, "AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		if (!token)
			return KC_ENOMEM;
	}
	if (token && (strchr(token, '\r') || strchr(token, '\n') || kc_creds_has_ctl(token))) {
		kc_creds_wipe_free(token);
		return kc_diag_set(d, KC_EINVAL, "container authorization token contains "
				   "CR, LF or control characters");
	}
	*token_out = token;
	return KC_OK;
}

int kc_creds_from_container(struct kc_creds *out, const struct kc_creds_opts *o,
			    char *tried, size_t triedsz, struct kc_diag *d)
{
	char url[2048], shown[2048];
	int rc = kc_creds_container_url(kc_creds_env_set(o, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
					kc_creds_env_set(o, "AWS_CONTAINER_CREDENTIALS_FULL_URI"), url,
					sizeof(url), d);
	if (rc == KC_ENOTFOUND) {
		kc_creds_tried_add(tried, triedsz, "container (AWS_CONTAINER_CREDENTIALS_* unset)");
		return KC_ENOTFOUND;
	}
	if (rc < 0)
		return rc;
	url_for_humans(url, shown, sizeof(shown));

	char *token = NULL;
	rc = container_token(o, &token, d);
	if (rc < 0)
		return rc;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
	char *auth = NULL;
	if (token) {
		size_t n = strlen(token) + 32;
		auth = malloc(n);
		if (auth) {
			snprintf(auth, n, "Authorization: %s", token);
			struct curl_slist *t = curl_slist_append(hdrs, auth);
			if (t)
				hdrs = t;
			else
				rc = KC_ENOMEM;
		} else {
			rc = KC_ENOMEM;
		}
		kc_creds_wipe_free(token);
	}
	if (!hdrs || rc == KC_ENOMEM) {
		kc_creds_wipe_free(auth);
		curl_slist_free_all(hdrs);
		return KC_ENOMEM;
	}
	int64_t tmo = o->container_timeout_ns > 0 ? o->container_timeout_ns : 2 * KC_NS_PER_S;
	struct kc_buf b;
	kc_buf_init(&b, HTTP_BODY_MAX);
	long status = 0;
	for (int attempt = 0; attempt < CONTAINER_ATTEMPTS; attempt++) {
		kc_buf_reset(&b);
		kc_log(KC_LOG_DEBUG, "aws credentials: GET %s (attempt %d)", shown, attempt + 1);
		rc = http_do("GET", url, hdrs, tmo, &b, &status);
		if (rc == KC_OK && status < 500)
			break;
	}
	char what[2100];
	snprintf(what, sizeof(what), "container credentials %s", shown);
	if (rc == KC_OK && status != 200)
		rc = kc_diag_set(d, status == 401 || status == 403 ? KC_EAUTH : KC_EPROTO,
				 "%s: HTTP status %ld", what, status);
	else if (rc < 0)
		rc = kc_diag_set(d, rc, "%s: %s", what, kc_strerror(rc));
	else {
		static const struct kc_creds_json_names nm = {"AccessKeyId", "SecretAccessKey",
							      "Token", false};
		rc = kc_creds_from_json(out, o, KC_CREDS_CONTAINER, NULL, shown,
					b.data ? b.data : "", b.len, &nm, what, d);
	}
	if (b.data)
		explicit_bzero(b.data, b.len);
	kc_buf_fini(&b);
	kc_creds_wipe_free(auth);
	curl_slist_free_all(hdrs);
	return rc;
}

/* IAM role names: [\w+=,.@-]{1,128}. */
static bool is_role_name(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= 128 || !(isalnum((unsigned char)s[n]) || strchr("_+=,.@-", s[n])))
			return false;
	return n > 0;
}

/* IMDS settings from the environment, checked before any request. */
struct imds_cfg {
	char base[512];    /* endpoint without trailing '/' */
	int64_t timeout_ns;
	int attempts;
};

static int imds_config(const struct kc_creds_opts *o, struct imds_cfg *c, struct kc_diag *d)
{
	const char *ep = kc_creds_env_set(o, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = kc_creds_env_set(o, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!ep)
		ep = mode && !strcasecmp(mode, "IPv6") ? "http://[fd00:ec2::254]"
						       : "http://169.254.169.254";
	if (kc_creds_has_ctl(ep) || snprintf(c->base, sizeof(c->base), "%s", ep) >= (int)sizeof(c->base))
		return kc_diag_set(d, KC_EINVAL, "AWS_EC2_METADATA_SERVICE_ENDPOINT is "
				   "too long or has control characters");
	size_t bl = strlen(c->base);
	while (bl && c->base[bl - 1] == '/')
		c->base[--bl] = '\0';

	c->timeout_ns = o->imds_timeout_ns;
	const char *ts = kc_creds_env_set(o, "AWS_METADATA_SERVICE_TIMEOUT");
	if (c->timeout_ns <= 0 && ts) {
		double v;
		if (kc_parse_double(ts, 0.001, 3600, &v) < 0)
			return kc_diag_set(d, KC_EINVAL, "AWS_METADATA_SERVICE_TIMEOUT: not a "
					   "number of seconds in [0.001, 3600]");
		c->timeout_ns = (int64_t)(v * KC_NS_PER_S);
	}
	if (c->timeout_ns <= 0)
		c->timeout_ns = KC_NS_PER_S;
	if (c->timeout_ns > IMDS_TIMEOUT_MAX_NS)
		c->timeout_ns = IMDS_TIMEOUT_MAX_NS;
	c->attempts = 1;
	const char *as = kc_creds_env_set(o, "AWS_METADATA_SERVICE_NUM_ATTEMPTS");
	if (as) {
		int64_t v;
		if (kc_parse_i64(as, 1, 1000, &v) < 0)
			return kc_diag_set(d, KC_EINVAL, "AWS_METADATA_SERVICE_NUM_ATTEMPTS: not "
					   "a whole number >= 1");
		c->attempts = v > IMDS_ATTEMPTS_MAX ? IMDS_ATTEMPTS_MAX : (int)v;
	}
	return KC_OK;
}

/*
 * Step 1, the IMDSv2 session token.  Returns 0 with token filled (or ""
 * for the IMDSv1 fallback), KC_ENOTFOUND (no IMDS here; tried says why) or
 * an error.
 */
static int imds_token(const struct kc_creds_opts *o, const struct imds_cfg *c,
		      struct kc_buf *b, char *token, size_t tokensz, char *tried,
		      size_t triedsz, struct kc_diag *d)
{
	char url[600];
	snprintf(url, sizeof(url), "%s/latest/api/token", c->base);
	struct curl_slist *h1 = curl_slist_append(NULL,
						  "X-aws-ec2-metadata-token-ttl-seconds: 21600");
	struct curl_slist *hdrs = h1 ? curl_slist_append(h1, "Content-Type:") : NULL;
	if (!hdrs) {
		curl_slist_free_all(h1);
		return KC_ENOMEM;
	}
	long status = 0;
	int rc = KC_EIO;
	for (int i = 0; i < c->attempts && rc != KC_OK; i++) {
		kc_buf_reset(b);
		kc_log(KC_LOG_DEBUG, "aws credentials: PUT %s", url);
		rc = http_do("PUT", url, hdrs, c->timeout_ns, b, &status);
	}
	curl_slist_free_all(hdrs);
	token[0] = '\0';
	if (rc < 0) {
		/* Often a container whose hop limit stops the answer: not IMDS. */
		kc_creds_tried_add(tried, triedsz, "IMDS (no answer from %s within %lld ms)", c->base,
				   (long long)(c->timeout_ns / KC_NS_PER_MS));
		return KC_ENOTFOUND;
	}
	if (status == 200) {
		if (!b->data || !kc_creds_is_text(b->data, tokensz - 1))
			return kc_diag_set(d, KC_EPROTO, "IMDS %s: malformed session token",
					   c->base);
		snprintf(token, tokensz, "%s", b->data);
		return KC_OK;
	}
	if (status == 403 || status == 404 || status == 405) {
		if (env_true(o, "AWS_EC2_METADATA_V1_DISABLED")) {
			kc_creds_tried_add(tried, triedsz, "IMDS (token request got HTTP %ld and "
					   "AWS_EC2_METADATA_V1_DISABLED=true)", status);
			return KC_ENOTFOUND;
		}
		kc_log(KC_LOG_DEBUG, "aws credentials: IMDS token HTTP %ld, using IMDSv1",
		       status);
		return KC_OK;
	}
	kc_creds_tried_add(tried, triedsz, "IMDS (token request got HTTP %ld)", status);
	return KC_ENOTFOUND;
}

/* Steps 2 and 3: the role name, then its credentials. */
int kc_creds_from_imds(struct kc_creds *out, const struct kc_creds_opts *o,
		       char *tried, size_t triedsz, struct kc_diag *d)
{
	if (env_true(o, "AWS_EC2_METADATA_DISABLED")) {
		kc_creds_tried_add(tried, triedsz, "IMDS (AWS_EC2_METADATA_DISABLED=true)");
		return KC_ENOTFOUND;
	}
	struct imds_cfg cfg;
	int rc = imds_config(o, &cfg, d);
	if (rc < 0)
		return rc;
	const char *base = cfg.base;
	char url[1024], hdr[4200], token[4096];
	struct kc_buf b;
	kc_buf_init(&b, HTTP_BODY_MAX);
	struct curl_slist *hdrs = NULL;
	long status = 0;
	rc = imds_token(o, &cfg, &b, token, sizeof(token), tried, triedsz, d);
	if (rc < 0)
		goto done;
	if (token[0]) {
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
		hdrs = curl_slist_append(NULL, hdr);
		explicit_bzero(hdr, sizeof(hdr));
		if (!hdrs) {
			rc = KC_ENOMEM;
			goto done;
		}
	}

	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	kc_buf_reset(&b);
	kc_log(KC_LOG_DEBUG, "aws credentials: GET %s", url);
	rc = http_do("GET", url, hdrs, cfg.timeout_ns, &b, &status);
	if (rc == KC_OK && status == 404) {
		kc_creds_tried_add(tried, triedsz, "IMDS (%s: no IAM role attached)", base);
		rc = KC_ENOTFOUND;
		goto done;
	}
	if (rc == KC_OK && (status == 401 || status == 403)) {
		/* The metadata service answered but will not name a role to this
		 * caller (a hop limit, a firewall, a proxy in front of it): no
		 * credentials here, as botocore treats it; the chain's end says so. */
		kc_creds_tried_add(tried, triedsz, "IMDS (%s: the role name request got HTTP %ld: no "
				   "instance role this process may use)", base, status);
		rc = KC_ENOTFOUND;
		goto done;
	}
	if (rc < 0 || status != 200) {
		rc = rc < 0 ? kc_diag_set(d, rc, "IMDS %s: role name: %s", base, kc_strerror(rc))
			    : kc_diag_set(d, KC_EPROTO, "IMDS %s: role name: HTTP status %ld",
					  base, status);
		goto done;
	}
	char role[160];
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(b.data ? b.data : "", "\r\n"),
		 b.data ? b.data : "");
	if (!is_role_name(role)) {
		rc = kc_diag_set(d, KC_EPROTO, "IMDS %s: malformed role name", base);
		goto done;
	}

	/* 3. the role's credentials */
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
		 role);
	kc_buf_reset(&b);
	kc_log(KC_LOG_DEBUG, "aws credentials: GET %s", url);
	rc = http_do("GET", url, hdrs, cfg.timeout_ns, &b, &status);
	char what[1200];
	snprintf(what, sizeof(what), "IMDS %s role '%s'", base, role);
	if (rc < 0 || status != 200) {
		rc = rc < 0 ? kc_diag_set(d, rc, "%s: %s", what, kc_strerror(rc))
			    : kc_diag_set(d, KC_EPROTO, "%s: HTTP status %ld", what, status);
		goto done;
	}
	static const struct kc_creds_json_names nm = {"AccessKeyId", "SecretAccessKey", "Token", false};
	char origin[800];
	snprintf(origin, sizeof(origin), "%s role %s", base, role);
	rc = kc_creds_from_json(out, o, KC_CREDS_IMDS, NULL, origin, b.data ? b.data : "", b.len,
				&nm, what, d);
done:
	explicit_bzero(token, sizeof(token));
	if (b.data)
		explicit_bzero(b.data, b.len);
	kc_buf_fini(&b);
	curl_slist_free_all(hdrs);
	return rc;
}
