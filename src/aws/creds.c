/*
 * creds.c - one set of AWS credentials (struct kc_creds): validating and
 * building it from a source's strings or JSON document, its names,
 * redaction, description and scrubbing, plus the small helpers every
 * source shares (creds_int.h).  The chain and the region are chain.c, the
 * sources procrun.c and imds.c, the refreshing provider provider.c.
 *
 * Invariant: no secret access key or session token is ever formatted into
 * a diagnostic, a log message or a description.  Values are validated by
 * length and character class and reported by name only.  Every secret
 * loaded (and every refreshed one) is registered with the scrubber
 * (scrub.h), so a server or helper that echoes it back is caught wherever
 * its words are stored or printed; what a credential helper says on
 * stderr is scrubbed (procrun.c), opaque-looking words included.
 */
#include "kneecap/creds.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/scrub.h"
#include "creds_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* environment, clock, small string helpers                            */

static const char *env_get(const struct kc_creds_opts *o, const char *name)
{
	return o->getenv_fn ? o->getenv_fn(name, o->getenv_ud) : getenv(name);
}

/* An environment value, NULL when unset or empty (botocore ignores empty). */
const char *kc_creds_env_set(const struct kc_creds_opts *o, const char *name)
{
	const char *v = env_get(o, name);
	return v && *v ? v : NULL;
}

int64_t kc_creds_wall_now(const struct kc_creds_opts *o)
{
	return o->wall_fn ? o->wall_fn(o->wall_ud) : kc_wall_ns();
}

/* Printable ASCII without blanks, 1..max bytes: what keys and tokens are. */
bool kc_creds_is_text(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n >= max)
			return false;
	return n > 0;
}

bool kc_creds_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

void kc_creds_wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Appends "; item" to the list of sources tried (bounded, truncates). */
void kc_creds_tried_add(char *tried, size_t sz, const char *fmt, ...)
{
	size_t n = strlen(tried);
	if (n + 3 >= sz)
		return;
	if (n) {
		memcpy(tried + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tried + n, sz - n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* ISO 8601                                                             */

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int kc_creds_parse_iso8601(const char *s, int64_t *wall_ns)
{
	int Y, M, D, h, m, sec;
	if (!s || strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' ||
	    !digits(s + 5, 2, &M) || s[7] != '-' || !digits(s + 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return KC_EPARSE;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] ||
	    h > 23 || m > 59 || sec > 60)
		return KC_EPARSE;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		return KC_EPARSE;
	const char *p = s + 19;
	int64_t frac_ns = 0;
	if (*p == '.') {
		p++;
		int64_t scale = 100000000;
		if (*p < '0' || *p > '9')
			return KC_EPARSE;
		for (int i = 0; *p >= '0' && *p <= '9'; p++, i++) {
			if (i >= 18)
				return KC_EPARSE;
			frac_ns += (*p - '0') * scale;
			scale /= 10;
		}
	}
	int off_s = 0;
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		off_s = 0;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		int sign = *p == '-' ? -1 : 1;
		p++;
		if (!digits(p, 2, &oh))
			return KC_EPARSE;
		p += 2;
		if (*p == ':')
			p++;
		if (!digits(p, 2, &om) || p[2] || oh > 23 || om > 59)
			return KC_EPARSE;
		off_s = sign * (oh * 3600 + om * 60);
	} else {
		return KC_EPARSE;
	}
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
			.tm_hour = h, .tm_min = m, .tm_sec = sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return KC_EPARSE;
	/* Nanoseconds in an int64_t end in April 2262; a later expiration
	 * (some tools write 9999-12-31 for "never") is kept as "never" rather
	 * than overflowing. */
	int64_t secs = (int64_t)t - off_s;
	if (secs >= INT64_MAX / KC_NS_PER_S - 1) {
		*wall_ns = INT64_MAX;
		return KC_OK;
	}
	*wall_ns = secs * KC_NS_PER_S + frac_ns;
	return KC_OK;
}

static void format_iso8601(int64_t wall_ns, char *out, size_t outsz)
{
	time_t t = (time_t)(wall_ns / KC_NS_PER_S);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outsz, "?");
}

/* ------------------------------------------------------------------ */
/* names, redaction, description                                        */

const char *kc_creds_source_name(enum kc_creds_source s)
{
	switch (s) {
	case KC_CREDS_ENV: return "env";
	case KC_CREDS_SHARED_FILE: return "shared-credentials-file";
	case KC_CREDS_PROCESS: return "credential-process";
	case KC_CREDS_CONFIG_FILE: return "config-file";
	case KC_CREDS_CONTAINER: return "container";
	case KC_CREDS_IMDS: return "imds";
	}
	return "unknown";
}

const char *kc_region_source_name(enum kc_region_source s)
{
	switch (s) {
	case KC_REGION_EXPLICIT: return "explicit";
	case KC_REGION_ENV: return "AWS_REGION";
	case KC_REGION_ENV_DEFAULT: return "AWS_DEFAULT_REGION";
	case KC_REGION_PROFILE: return "profile";
	}
	return "unknown";
}

char *kc_creds_redact_akid(const char *akid, char *out, size_t outsz)
{
	KC_ASSERT(out && outsz > 0);
	size_t n = akid ? strlen(akid) : 0;
	if (n >= 12)
		snprintf(out, outsz, "%.4s****%s", akid, akid + n - 4);
	else
		snprintf(out, outsz, "****");
	return out;
}

char *kc_creds_describe(const struct kc_creds *c, char *out, size_t outsz)
{
	KC_ASSERT(c && out && outsz > 0);
	char akid[32], exp[32] = "";
	kc_creds_redact_akid(c->access_key_id, akid, sizeof(akid));
	if (c->expiration_wall_ns)
		format_iso8601(c->expiration_wall_ns, exp, sizeof(exp));
	char prof[160] = "";
	if (c->profile[0])
		snprintf(prof, sizeof(prof), ", profile '%s'", c->profile);
	snprintf(out, outsz, "%s%s%s%s, key %s%s%s%s", kc_creds_source_name(c->source),
		 prof, c->origin[0] ? ", " : "", c->origin, akid,
		 c->session_token ? ", session token" : "",
		 exp[0] ? ", expires " : "", exp);
	return out;
}

static int scrub_one(char *text, const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return 0;
	int n = 0;
	size_t sl = strlen(secret);
	char *hit;
	while ((hit = strstr(text, secret)) != NULL) {
		memcpy(hit, "****", 4);
		memmove(hit + 4, hit + sl, strlen(hit + sl) + 1);
		n++;
	}
	return n;
}

int kc_creds_scrub(const struct kc_creds *c, char *text)
{
	if (!c || !text)
		return 0;
	return scrub_one(text, c->secret_access_key) + scrub_one(text, c->session_token);
}

void kc_creds_fini(struct kc_creds *c)
{
	if (!c)
		return;
	kc_creds_wipe_free(c->access_key_id);
	kc_creds_wipe_free(c->secret_access_key);
	kc_creds_wipe_free(c->session_token);
	c->access_key_id = c->secret_access_key = c->session_token = NULL;
}

/*
 * Validates and copies a triple into out.  what names the source in
 * messages ("AWS_SECRET_ACCESS_KEY", "file:line"...), never a value.
 */
int kc_creds_fill(struct kc_creds *out, const struct kc_creds_opts *o,
		  enum kc_creds_source src, const char *profile,
		  const char *origin, const char *akid, const char *secret,
		  const char *token, int64_t exp_ns, const char *what,
		  struct kc_diag *d)
{
	if (!kc_creds_is_text(akid, KC_CREDS_AKID_MAX))
		return kc_diag_set(d, KC_EINVAL, "%s: access key id is empty, too long "
				   "or has blanks/control characters", what);
	if (!kc_creds_is_text(secret, KC_CREDS_SECRET_MAX))
		return kc_diag_set(d, KC_EINVAL, "%s: secret access key is empty, too long "
				   "or has blanks/control characters", what);
	if (token && *token && !kc_creds_is_text(token, KC_CREDS_TOKEN_MAX))
		return kc_diag_set(d, KC_EINVAL, "%s: session token is too long "
				   "or has blanks/control characters", what);
	if (exp_ns && exp_ns <= kc_creds_wall_now(o)) {
		char t[32];
		format_iso8601(exp_ns, t, sizeof(t));
		return kc_diag_set(d, KC_EAUTH, "%s: credentials expired at %s", what, t);
	}
	struct kc_creds c = {.source = src, .expiration_wall_ns = exp_ns};
	c.access_key_id = strdup(akid);
	c.secret_access_key = strdup(secret);
	c.session_token = token && *token ? strdup(token) : NULL;
	if (!c.access_key_id || !c.secret_access_key || (token && *token && !c.session_token)) {
		kc_creds_fini(&c);
		return KC_ENOMEM;
	}
	/* Registered before anything can echo them back; a failure to
	 * register is a failure to load (never run with an unscrubbable key). */
	int rc = kc_scrub_register(c.secret_access_key);
	if (rc == KC_OK && c.session_token)
		rc = kc_scrub_register(c.session_token);
	if (rc == KC_ENOMEM) {
		kc_creds_fini(&c);
		return KC_ENOMEM;
	}
	snprintf(c.profile, sizeof(c.profile), "%s", profile ? profile : "");
	snprintf(c.origin, sizeof(c.origin), "%s", origin ? origin : "");
	*out = c;
	return KC_OK;
}

/* ------------------------------------------------------------------ */
/* JSON credential documents (credential_process, container, IMDS)      */

int kc_creds_from_json(struct kc_creds *out, const struct kc_creds_opts *o,
		       enum kc_creds_source src, const char *profile,
		       const char *origin, const char *buf, size_t len,
		       const struct kc_creds_json_names *nm, const char *what,
		       struct kc_diag *d)
{
	json_error_t jerr;
	/* jansson's error text quotes the token near the error, which could
	 * be part of a secret: report only the position. */
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return kc_diag_set(d, KC_EPARSE, "%s: answer is not valid JSON "
				   "(line %d, column %d)", what, jerr.line, jerr.column);
	int rc = KC_OK;
	if (!json_is_object(root)) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: answer is not a JSON object", what);
		goto done;
	}
	if (nm->version1) {
		json_t *v = json_object_get(root, "Version");
		if (!json_is_integer(v) || json_integer_value(v) != 1) {
			rc = kc_diag_set(d, KC_EPARSE, "%s: \"Version\" must be 1", what);
			goto done;
		}
	}
	json_t *code = json_object_get(root, "Code");
	if (json_is_string(code) && strcmp(json_string_value(code), "Success")) {
		char said[65];
		kc_scrub_copy(json_string_value(code), json_string_length(code), said,
			      sizeof(said), KC_SCRUB_OPAQUE);
		rc = kc_diag_set(d, KC_EAUTH, "%s: \"Code\" is \"%s\", not \"Success\"",
				 what, said);
		goto done;
	}
	json_t *ja = json_object_get(root, nm->akid);
	json_t *js = json_object_get(root, nm->secret);
	json_t *jt = json_object_get(root, nm->token);
	json_t *je = json_object_get(root, "Expiration");
	if (!json_is_string(ja) || !json_is_string(js)) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: \"%s\" and \"%s\" must be strings",
				 what, nm->akid, nm->secret);
		goto done;
	}
	if (jt && !json_is_string(jt) && !json_is_null(jt)) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: \"%s\" must be a string", what, nm->token);
		goto done;
	}
	int64_t exp_ns = 0;
	if (je && !json_is_null(je)) {
		if (!json_is_string(je) ||
		    kc_creds_parse_iso8601(json_string_value(je), &exp_ns) < 0) {
			rc = kc_diag_set(d, KC_EPARSE, "%s: \"Expiration\" is not an ISO 8601 "
					 "time", what);
			goto done;
		}
	}
	rc = kc_creds_fill(out, o, src, profile, origin, json_string_value(ja),
			   json_string_value(js), json_is_string(jt) ? json_string_value(jt) : NULL,
			   exp_ns, what, d);
done:
	json_decref(root);
	return rc;
}

