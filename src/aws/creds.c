/*
 * creds.c - the AWS credential chain and region resolution (see creds.h
 * for the order); the refreshing provider for long runs is provider.c.
 *
 * What this is: a faithful, bounded subset of botocore's resolver: env,
 * shared credentials file, credential_process, config file, container
 * credentials, IMDSv2.  What it is not: an STS client (no role
 * assumption, web identity or SSO; such profiles fail with a clear hint)
 * and not a signer (sigv4.c consumes struct kc_creds).
 *
 * The AWS shared files are read by awsini.c.
 *
 * Invariant: no secret access key or session token is ever formatted into
 * a diagnostic, a log message or a description.  Values are validated by
 * length and character class and reported by name only.  Every secret
 * loaded (and every refreshed one) is registered with the scrubber
 * (scrub.h), so a server or helper that echoes it back is caught wherever
 * its words are stored or printed; what a credential helper says on
 * stderr is scrubbed here, opaque-looking words included.
 */
#include "kneecap/creds.h"
#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/scrub.h"
#include "aws/awsini_int.h"
#include "aws/creds_int.h"
#include "aws/imds_int.h"
#include "aws/procrun_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------ */
/* profiles                                                             */

/* The active profile and both files, loaded once per resolution. */
struct profiles {
	char name[128];
	bool chosen;       /* --profile, AWS_PROFILE or AWS_DEFAULT_PROFILE */
	bool explicit_opt; /* --profile: environment keys are skipped */
	char cred_path[512], conf_path[512];
	struct kc_awsini cred, conf;
	const char *cred_sec; /* section in cred, NULL when absent */
	char conf_sec[160];   /* section in conf, "" when absent */
};

/* Expands a leading "~/" with HOME; returns false when HOME is needed but unset. */
static bool expand_path(const struct kc_creds_opts *o, const char *p, char *out,
			size_t outsz)
{
	if (p[0] == '~' && (p[1] == '/' || !p[1])) {
		const char *home = kc_creds_env_set(o, "HOME");
		if (!home)
			return false;
		snprintf(out, outsz, "%s%s", home, p + 1);
	} else {
		snprintf(out, outsz, "%s", p);
	}
	return true;
}

static void profiles_fini(struct profiles *pr)
{
	kc_awsini_fini(&pr->cred);
	kc_awsini_fini(&pr->conf);
}

/*
 * Picks the profile and loads both files.  Fails on a malformed file, or
 * when a chosen profile is in neither file.
 */
static int profiles_load(struct profiles *pr, const struct kc_creds_opts *o,
			 struct kc_diag *d)
{
	memset(pr, 0, sizeof(*pr));
	const char *name = o->profile;
	pr->explicit_opt = name && *name;
	/* botocore's order (configprovider.py): AWS_DEFAULT_PROFILE, then
	 * AWS_PROFILE. */
	if (!pr->explicit_opt)
		name = kc_creds_env_set(o, "AWS_DEFAULT_PROFILE");
	if (!name || !*name)
		name = kc_creds_env_set(o, "AWS_PROFILE");
	pr->chosen = name && *name;
	if (!pr->chosen)
		name = "default";
	if (strlen(name) >= sizeof(pr->name) || kc_creds_has_ctl(name))
		return kc_diag_set(d, KC_EINVAL, "profile name is too long or has control "
				   "characters");
	snprintf(pr->name, sizeof(pr->name), "%s", name);

	const char *cp = kc_creds_env_set(o, "AWS_SHARED_CREDENTIALS_FILE");
	const char *fp = kc_creds_env_set(o, "AWS_CONFIG_FILE");
	bool have_cred = expand_path(o, cp ? cp : "~/.aws/credentials", pr->cred_path,
				     sizeof(pr->cred_path));
	bool have_conf = expand_path(o, fp ? fp : "~/.aws/config", pr->conf_path,
				     sizeof(pr->conf_path));
	if (!have_cred)
		snprintf(pr->cred_path, sizeof(pr->cred_path), "~/.aws/credentials (HOME unset)");
	if (!have_conf)
		snprintf(pr->conf_path, sizeof(pr->conf_path), "~/.aws/config (HOME unset)");
	int rc;
	if (have_cred && (rc = kc_awsini_load(&pr->cred, pr->cred_path, d)) < 0 &&
	    rc != KC_ENOTFOUND)
		goto fail;
	if (have_conf && (rc = kc_awsini_load(&pr->conf, pr->conf_path, d)) < 0 &&
	    rc != KC_ENOTFOUND)
		goto fail;

	if (kc_awsini_section_line(&pr->cred, pr->name))
		pr->cred_sec = pr->name;
	char sec[160];
	snprintf(sec, sizeof(sec), "profile %s", pr->name);
	if (kc_awsini_section_line(&pr->conf, sec))
		snprintf(pr->conf_sec, sizeof(pr->conf_sec), "%s", sec);
	else if (!strcmp(pr->name, "default") && kc_awsini_section_line(&pr->conf, "default"))
		snprintf(pr->conf_sec, sizeof(pr->conf_sec), "default");

	if (pr->chosen && !pr->cred_sec && !pr->conf_sec[0]) {
		int bare = strcmp(pr->name, "default") ? kc_awsini_section_line(&pr->conf, pr->name)
						       : 0;
		if (bare)
			rc = kc_diag_set_at(d, KC_ENOTFOUND, pr->conf_path, bare, NULL,
					    "the config file names profiles [profile %s], "
					    "not [%s]", pr->name, pr->name);
		else
			rc = kc_diag_set(d, KC_ENOTFOUND, "AWS profile '%s' not found in %s "
					 "or %s", pr->name, pr->cred_path, pr->conf_path);
		goto fail;
	}
	return KC_OK;
fail:
	profiles_fini(pr);
	return rc;
}

/* A key of the merged profile: the credentials file wins over the config file. */
static const struct kc_awsini_entry *profile_get(const struct profiles *pr,
						 const char *key, const char **file)
{
	const struct kc_awsini_entry *e = kc_awsini_get(&pr->cred, pr->cred_sec, key);
	if (e) {
		*file = pr->cred_path;
		return e;
	}
	e = kc_awsini_get(&pr->conf, pr->conf_sec[0] ? pr->conf_sec : NULL, key);
	if (e)
		*file = pr->conf_path;
	return e;
}

/* Static keys of one file's section; KC_ENOTFOUND when it has none. */
static int from_static(struct kc_creds *out, const struct kc_creds_opts *o,
		       const struct profiles *pr, const struct kc_awsini *ini,
		       const char *sec, enum kc_creds_source src, struct kc_diag *d)
{
	if (!sec || !*sec)
		return KC_ENOTFOUND;
	const struct kc_awsini_entry *a = kc_awsini_get(ini, sec, "aws_access_key_id");
	const struct kc_awsini_entry *s = kc_awsini_get(ini, sec, "aws_secret_access_key");
	const struct kc_awsini_entry *t = kc_awsini_get(ini, sec, "aws_session_token");
	if (!t)
		t = kc_awsini_get(ini, sec, "aws_security_token");
	if (!a && !s)
		return KC_ENOTFOUND;
	if (!a || !s) {
		const struct kc_awsini_entry *have = a ? a : s;
		return kc_diag_set_at(d, KC_EINVAL, ini->path, have->line, have->key,
				      "profile '%s' has %s but no %s", pr->name, have->key,
				      a ? "aws_secret_access_key" : "aws_access_key_id");
	}
	char what[720];
	snprintf(what, sizeof(what), "%s:%d: profile '%s'", ini->path, a->line, pr->name);
	return kc_creds_fill(out, o, src, pr->name, ini->path, a->value, s->value,
			     t ? t->value : NULL, 0, what, d);
}

static int from_env(struct kc_creds *out, const struct kc_creds_opts *o,
		    char *tried, size_t triedsz, struct kc_diag *d)
{
	const char *a = kc_creds_env_set(o, "AWS_ACCESS_KEY_ID");
	const char *s = kc_creds_env_set(o, "AWS_SECRET_ACCESS_KEY");
	if (!a && !s) {
		kc_creds_tried_add(tried, triedsz, "env (AWS_ACCESS_KEY_ID unset)");
		return KC_ENOTFOUND;
	}
	if (!a || !s)
		return kc_diag_set(d, KC_EINVAL, "%s is set but %s is not",
				   a ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				   a ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	const char *t = kc_creds_env_set(o, "AWS_SESSION_TOKEN");
	if (!t)
		t = kc_creds_env_set(o, "AWS_SECURITY_TOKEN");
	int64_t exp = 0;
	const char *e = kc_creds_env_set(o, "AWS_CREDENTIAL_EXPIRATION");
	if (e && kc_creds_parse_iso8601(e, &exp) < 0)
		return kc_diag_set(d, KC_EINVAL, "AWS_CREDENTIAL_EXPIRATION: not an ISO 8601 "
				   "time");
	return kc_creds_fill(out, o, KC_CREDS_ENV, NULL, NULL, a, s, t, exp, "environment", d);
}

/* Profile keys that mean "assume a role / SSO", which kneecap does not do. */
static int unsupported_profile(const struct profiles *pr, struct kc_diag *d)
{
	static const char *const keys[] = {"role_arn", "sso_session", "sso_start_url",
					   "web_identity_token_file", "login_session"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *file = NULL;
		const struct kc_awsini_entry *e = profile_get(pr, keys[i], &file);
		if (e)
			return kc_diag_set_at(d, KC_EUNSUPPORTED, file, e->line, e->key,
					      "profile '%s' needs role assumption or SSO, which "
					      "kneecap does not do; export credentials instead "
					      "(aws configure export-credentials --profile %s "
					      "--format env) or use credential_process",
					      pr->name, pr->name);
	}
	return KC_OK;
}

int kc_creds_resolve(const struct kc_creds_opts *opts, struct kc_creds *out,
		     struct kc_diag *d)
{
	KC_ASSERT(opts && out);
	struct profiles pr;
	int rc = profiles_load(&pr, opts, d);
	if (rc < 0)
		return rc;
	char tried[1024] = "";
	struct kc_creds c;
	memset(&c, 0, sizeof(c));

	/* The environment's secrets are the process's even when a profile
	 * wins over them: a credential_process inherits them and may echo
	 * them, so they are scrubbed all the same. */
	kc_scrub_register(kc_creds_env_set(opts, "AWS_SECRET_ACCESS_KEY"));
	kc_scrub_register(kc_creds_env_set(opts, "AWS_SESSION_TOKEN"));
	if (pr.explicit_opt) {
		kc_creds_tried_add(tried, sizeof(tried), "env (skipped: --profile given)");
		rc = KC_ENOTFOUND;
	} else {
		rc = from_env(&c, opts, tried, sizeof(tried), d);
	}
	if (rc != KC_ENOTFOUND)
		goto done;

	if ((rc = unsupported_profile(&pr, d)) < 0)
		goto done;
	rc = from_static(&c, opts, &pr, &pr.cred, pr.cred_sec, KC_CREDS_SHARED_FILE, d);
	if (rc != KC_ENOTFOUND)
		goto done;
	kc_creds_tried_add(tried, sizeof(tried), "%s [%s]", pr.cred_path, pr.name);

	const char *cpfile = NULL;
	const struct kc_awsini_entry *cp = profile_get(&pr, "credential_process", &cpfile);
	if (cp) {
		rc = kc_creds_from_process(&c, opts, pr.name, cp, cpfile, d);
		goto done;
	}
	rc = from_static(&c, opts, &pr, &pr.conf, pr.conf_sec, KC_CREDS_CONFIG_FILE, d);
	if (rc != KC_ENOTFOUND)
		goto done;
	kc_creds_tried_add(tried, sizeof(tried), "%s [%s%s]", pr.conf_path,
			   strcmp(pr.name, "default") ? "profile " : "", pr.name);

	rc = kc_creds_from_container(&c, opts, tried, sizeof(tried), d);
	if (rc != KC_ENOTFOUND)
		goto done;
	rc = kc_creds_from_imds(&c, opts, tried, sizeof(tried), d);
	if (rc == KC_ENOTFOUND)
		rc = kc_diag_set(d, KC_ENOTFOUND, "no AWS credentials found; tried: %s", tried);
done:
	profiles_fini(&pr);
	if (rc == KC_OK) {
		if (kc_log_enabled(KC_LOG_INFO)) {
			char desc[900];
			kc_log(KC_LOG_INFO, "aws credentials: %s",
			       kc_creds_describe(&c, desc, sizeof(desc)));
		}
		*out = c;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* region                                                               */

bool kc_creds_region_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= 63 || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
				 s[n] == '-'))
			return false;
	return n > 0;
}

int kc_creds_region(const struct kc_creds_opts *opts, char *out, size_t outsz,
		    enum kc_region_source *src, struct kc_diag *d)
{
	KC_ASSERT(opts && out);
	const char *r = NULL;
	const char *what = NULL;
	enum kc_region_source s = KC_REGION_EXPLICIT;
	struct profiles pr;
	bool loaded = false;
	int rc = KC_OK;
	int line = 0;
	const char *file = NULL;
	if (opts->region && *opts->region) {
		r = opts->region;
		what = "--region";
	} else if ((r = kc_creds_env_set(opts, "AWS_REGION"))) {
		s = KC_REGION_ENV;
		what = "AWS_REGION";
	} else if ((r = kc_creds_env_set(opts, "AWS_DEFAULT_REGION"))) {
		s = KC_REGION_ENV_DEFAULT;
		what = "AWS_DEFAULT_REGION";
	} else {
		if ((rc = profiles_load(&pr, opts, d)) < 0)
			return rc;
		loaded = true;
		const struct kc_awsini_entry *e = profile_get(&pr, "region", &file);
		if (!e) {
			rc = kc_diag_set(d, KC_ENOTFOUND, "no AWS region: use --region, "
					 "AWS_REGION, AWS_DEFAULT_REGION or region= in profile "
					 "'%s' of %s", pr.name, pr.conf_path);
			goto done;
		}
		r = e->value;
		line = e->line;
		s = KC_REGION_PROFILE;
	}
	if (!kc_creds_region_valid(r)) {
		if (line)
			rc = kc_diag_set_at(d, KC_EINVAL, file, line, "region",
					    "not a region name (letters a-z, digits, '-')");
		else
			rc = kc_diag_set(d, KC_EINVAL, "%s: not a region name (letters a-z, "
					 "digits, '-')", what);
		goto done;
	}
	if (strlen(r) >= outsz) {
		rc = KC_ELIMIT;
		goto done;
	}
	memcpy(out, r, strlen(r) + 1);
	if (src)
		*src = s;
done:
	if (loaded)
		profiles_fini(&pr);
	return rc;
}

