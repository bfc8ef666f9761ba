/*
 * chain.c - the AWS credential chain and region resolution (see creds.h
 * for the order).
 *
 * What this is: a faithful, bounded subset of botocore's resolver: env,
 * shared credentials file, credential_process (procrun.c), config file,
 * container credentials and IMDSv2 (imds.c).  What it is not: an STS
 * client (no role assumption, web identity or SSO; such profiles fail
 * with a clear hint) and not a signer (sigv4.c consumes struct kc_creds).
 *
 * Profiles are read from the AWS shared files by awsini.c; every source
 * builds its struct kc_creds through kc_creds_fill (creds.c), which
 * validates it and registers its secrets with the scrubber.
 */
#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"
#include "awsini_int.h"
#include "creds_int.h"
#include "imds_int.h"
#include "procrun_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

/* Appends one shared file of the chain to tried, with why it gave nothing. */
static void tried_file(char *tried, size_t sz, const char *path, const char *section,
		       bool has_section)
{
	struct stat st;
	const char *why = stat(path, &st) != 0 ? (errno == ENOENT ? "no such file" : strerror(errno))
			  : !has_section ? "no such profile section"
					 : "no aws_access_key_id / aws_secret_access_key";
	kc_creds_tried_add(tried, sz, "%s [%s] (%s)", path, section, why);
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
	tried_file(tried, sizeof(tried), pr.cred_path, pr.name, pr.cred_sec != NULL);

	const char *cpfile = NULL;
	const struct kc_awsini_entry *cp = profile_get(&pr, "credential_process", &cpfile);
	if (cp) {
		rc = kc_creds_from_process(&c, opts, pr.name, cp, cpfile, d);
		goto done;
	}
	rc = from_static(&c, opts, &pr, &pr.conf, pr.conf_sec, KC_CREDS_CONFIG_FILE, d);
	if (rc != KC_ENOTFOUND)
		goto done;
	{
		char sec[160];
		snprintf(sec, sizeof(sec), "%s%s", strcmp(pr.name, "default") ? "profile " : "",
			 pr.name);
		tried_file(tried, sizeof(tried), pr.conf_path, sec, pr.conf_sec[0] != '\0');
	}

	rc = kc_creds_from_container(&c, opts, tried, sizeof(tried), d);
	if (rc == KC_ENOTFOUND)
		rc = kc_creds_from_imds(&c, opts, tried, sizeof(tried), d);
	if (rc == KC_ENOTFOUND) {
		rc = kc_diag_set(d, KC_ENOTFOUND, "no AWS credentials found; tried: %s", tried);
	} else if (rc < 0 && d) {
		/* The last links failed outright: say what was tried before them
		 * too, so the message names the whole chain, not only its end. */
		char last[sizeof(d->msg)];
		snprintf(last, sizeof(last), "%s", d->msg);
		kc_diag_set(d, rc, "no AWS credentials: tried %s; then %s", tried, last);
	}
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
		what = "region";
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
