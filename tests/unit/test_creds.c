/*
 * test_creds.c - the AWS credential chain with a temporary HOME and an
 * injected environment (the process environment is never read or
 * changed), credential_process runs, region resolution, the refreshing
 * provider under an injected clock, and a scan of everything the module
 * said (diagnostics, descriptions, debug logs) for the fake secrets.
 *
 * No test here reaches the network: every environment sets
 * AWS_EC2_METADATA_DISABLED=true and no container variables; the container
 * and IMDS flows are tested against a loopback server in
 * tests/integration/test_creds.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"
#include "awsini_int.h"
#include "creds_int.h"
#include "imds_int.h"
#include "procrun_int.h"
#include "provider_int.h"

/* Every fake secret contains SECRET_MARK, every fake token TOKEN_MARK. */
#define SECRET_MARK "SeCrEt"
#define TOKEN_MARK "ToKeN"
#define T0_NS (INT64_C(1900000000) * KC_NS_PER_S) /* 2030-03-17 */

/* ------------------------------------------------------------------ */
/* fixture: fake environment, temporary HOME, captured logs             */

struct fx {
	char home[256];
	const char *k[32];
	char *v[32];
	int n;
	struct kc_creds_opts o;
	_Atomic int64_t now_ns;
	struct kc_diag d;
};

static struct kc_buf logs;
static pthread_mutex_t logs_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_cb(enum kc_log_level level, const char *msg, void *ud)
{
	(void)ud;
	pthread_mutex_lock(&logs_mu);
	kc_buf_printf(&logs, "%s: %s\n", kc_log_level_name(level), msg);
	pthread_mutex_unlock(&logs_mu);
}

static bool logs_contain(const char *s)
{
	pthread_mutex_lock(&logs_mu);
	bool r = logs.data && strstr(logs.data, s);
	pthread_mutex_unlock(&logs_mu);
	return r;
}

static const char *fx_getenv(const char *name, void *ud)
{
	struct fx *f = ud;
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->k[i], name))
			return f->v[i];
	return NULL;
}

static int64_t fx_wall(void *ud)
{
	struct fx *f = ud;
	return atomic_load(&f->now_ns);
}

static void fx_set(struct fx *f, const char *k, const char *v)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->k[i], k)) {
			free(f->v[i]);
			f->v[i] = strdup(v);
			return;
		}
	assert_true(f->n < 32);
	f->k[f->n] = k;
	f->v[f->n++] = strdup(v);
}

static void fx_unset(struct fx *f, const char *k)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->k[i], k)) {
			free(f->v[i]);
			f->k[i] = f->k[f->n - 1];
			f->v[i] = f->v[f->n - 1];
			f->n--;
			return;
		}
}

/* Writes HOME-relative file rel with content. */
static void fx_write(struct fx *f, const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->home, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->home, sizeof(f->home), "%s/kc-creds.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->home));
	fx_set(f, "HOME", f->home);
	fx_set(f, "AWS_EC2_METADATA_DISABLED", "true");
	f->o.getenv_fn = fx_getenv;
	f->o.getenv_ud = f;
	f->o.wall_fn = fx_wall;
	f->o.wall_ud = f;
	f->o.process_timeout_ns = 5 * KC_NS_PER_S;
	atomic_store(&f->now_ns, T0_NS);
	kc_diag_clear(&f->d);
	kc_buf_reset(&logs);
	*state = f;
	return 0;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Fails when text carries a fake secret or token. */
static void assert_no_secret(const char *text, const char *where)
{
	if (text && (strstr(text, SECRET_MARK) || strstr(text, TOKEN_MARK)))
		fail_msg("a secret leaked into %s: %s", where, text);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	/* Never fail while holding the lock or the fixture: cmocka longjmps out. */
	bool leaked = logs_contain(SECRET_MARK) || logs_contain(TOKEN_MARK) ||
		      strstr(f->d.msg, SECRET_MARK) || strstr(f->d.msg, TOKEN_MARK);
	nftw(f->home, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f);
	if (leaked)
		fail_msg("a secret leaked into the log or a diagnostic:\n%s", logs.data);
	return 0;
}

/* Resolves and expects success from source; returns the creds (fini them). */
static struct kc_creds resolve_ok(struct fx *f, enum kc_creds_source src)
{
	struct kc_creds c;
	memset(&c, 0, sizeof(c));
	int rc = kc_creds_resolve(&f->o, &c, &f->d);
	if (rc)
		fail_msg("resolve: %s: %s", kc_strerror(rc), f->d.msg);
	assert_int_equal(c.source, src);
	char desc[1024];
	assert_no_secret(kc_creds_describe(&c, desc, sizeof(desc)), "describe");
	return c;
}

/* Resolves and expects err with msg containing want. */
static void resolve_err(struct fx *f, int err, const char *want)
{
	struct kc_creds c;
	memset(&c, 0x5a, sizeof(c));
	kc_diag_clear(&f->d);
	int rc = kc_creds_resolve(&f->o, &c, &f->d);
	if (rc != err)
		fail_msg("resolve returned %d (%s: %s), wanted %d", rc, kc_strerror(rc),
			 f->d.msg, err);
	char line[1024];
	kc_diag_format(&f->d, line, sizeof(line));
	if (want && !strstr(line, want))
		fail_msg("diagnostic '%s' lacks '%s'", line, want);
	assert_no_secret(line, "a diagnostic");
	/* out untouched on failure */
	assert_true(((unsigned char *)&c)[0] == 0x5a);
}

#define ENV_SECRET "envSeCrEtKey0123456789abcdefghijklmnopqr"
#define ENV_TOKEN "envToKeN0123456789"
#define FILE_SECRET "fileSeCrEt0123456789"
#define CONF_SECRET "confSeCrEt0123456789"

/* ------------------------------------------------------------------ */
/* environment                                                          */

static void test_env(void **state)
{
	struct fx *f = *state;
	fx_set(f, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE0001");
	fx_set(f, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	struct kc_creds c = resolve_ok(f, KC_CREDS_ENV);
	assert_string_equal(c.access_key_id, "AKIAENVEXAMPLE0001");
	assert_string_equal(c.secret_access_key, ENV_SECRET);
	assert_null(c.session_token);
	assert_true(c.expiration_wall_ns == 0);
	kc_creds_fini(&c);

	/* the legacy token name, then the current one winning */
	fx_set(f, "AWS_SECURITY_TOKEN", "legacy" ENV_TOKEN);
	c = resolve_ok(f, KC_CREDS_ENV);
	assert_string_equal(c.session_token, "legacy" ENV_TOKEN);
	kc_creds_fini(&c);
	fx_set(f, "AWS_SESSION_TOKEN", ENV_TOKEN);
	fx_set(f, "AWS_CREDENTIAL_EXPIRATION", "2030-03-17T18:00:00Z");
	c = resolve_ok(f, KC_CREDS_ENV);
	assert_string_equal(c.session_token, ENV_TOKEN);
	int64_t want = 0;
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T18:00:00Z", &want), 0);
	assert_true(c.expiration_wall_ns == want);
	kc_creds_fini(&c);

	/* expired, malformed expiration, partial keys, control characters */
	fx_set(f, "AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z");
	resolve_err(f, KC_EAUTH, "expired");
	fx_set(f, "AWS_CREDENTIAL_EXPIRATION", "tomorrow");
	resolve_err(f, KC_EINVAL, "AWS_CREDENTIAL_EXPIRATION");
	fx_unset(f, "AWS_CREDENTIAL_EXPIRATION");
	fx_set(f, "AWS_SESSION_TOKEN", "bad\r\n" ENV_TOKEN);
	resolve_err(f, KC_EINVAL, "session token");
	fx_unset(f, "AWS_SESSION_TOKEN");
	fx_unset(f, "AWS_SECURITY_TOKEN");
	fx_unset(f, "AWS_SECRET_ACCESS_KEY");
	resolve_err(f, KC_EINVAL, "AWS_SECRET_ACCESS_KEY is not");
	/* empty means unset, as in botocore */
	fx_set(f, "AWS_ACCESS_KEY_ID", "");
	resolve_err(f, KC_ENOTFOUND, "no AWS credentials found");
}

static const char cred_file[] =
	"# a comment\n"
	"[default]\n"
	"aws_access_key_id = AKIAFILEDEFAULT001\n"
	"aws_secret_access_key = " FILE_SECRET "\n"
	"\n"
	"[prod]\n"
	"aws_access_key_id=AKIAFILEPROD000001\n"
	"AWS_Secret_Access_Key =  " FILE_SECRET "prod\n"
	"aws_session_token = file" TOKEN_MARK "123\n";

static void test_env_beats_files_unless_profile_given(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/credentials", cred_file);
	fx_set(f, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE0001");
	fx_set(f, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	struct kc_creds c = resolve_ok(f, KC_CREDS_ENV);
	kc_creds_fini(&c);

	/* AWS_PROFILE picks the profile but does not skip env keys */
	fx_set(f, "AWS_PROFILE", "prod");
	c = resolve_ok(f, KC_CREDS_ENV);
	kc_creds_fini(&c);

	/* --profile skips env keys, as botocore does for an explicit profile */
	f->o.profile = "prod";
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEPROD000001");
	assert_string_equal(c.secret_access_key, FILE_SECRET "prod");
	assert_string_equal(c.session_token, "file" TOKEN_MARK "123");
	assert_string_equal(c.profile, "prod");
	assert_non_null(strstr(c.origin, ".aws/credentials"));
	kc_creds_fini(&c);
}

static void test_profile_from_env(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/credentials", cred_file);
	struct kc_creds c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEDEFAULT001");
	assert_string_equal(c.profile, "default");
	kc_creds_fini(&c);
	fx_set(f, "AWS_DEFAULT_PROFILE", "prod");
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEPROD000001");
	kc_creds_fini(&c);
	/* AWS_DEFAULT_PROFILE wins over AWS_PROFILE (botocore 1.29 configprovider.py) */
	fx_set(f, "AWS_PROFILE", "default");
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEPROD000001");
	kc_creds_fini(&c);
	fx_unset(f, "AWS_DEFAULT_PROFILE");
	fx_set(f, "AWS_PROFILE", "prod");
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEPROD000001");
	kc_creds_fini(&c);
}

static void test_config_profile_naming(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/config",
		 "[default]\n"
		 "region = us-west-2\n"
		 "[profile dev]\n"
		 "aws_access_key_id = AKIACONFIGDEV00001\n"
		 "aws_secret_access_key = " CONF_SECRET "\n"
		 "s3 =\n"
		 "    max_concurrent_requests = 20\n"
		 "    addressing_style = path\n"
		 "region: eu-central-1\n"
		 "[ops]\n"
		 "aws_access_key_id = AKIABAREOPS0000001\n"
		 "aws_secret_access_key = " CONF_SECRET "ops\n"
		 "[sso-session corp]\n"
		 "sso_region = us-east-1\n");
	f->o.profile = "dev";
	struct kc_creds c = resolve_ok(f, KC_CREDS_CONFIG_FILE);
	assert_string_equal(c.access_key_id, "AKIACONFIGDEV00001");
	assert_string_equal(c.secret_access_key, CONF_SECRET);
	assert_non_null(strstr(c.origin, ".aws/config"));
	kc_creds_fini(&c);

	char region[64];
	enum kc_region_source rs;
	assert_int_equal(kc_creds_region(&f->o, region, sizeof(region), &rs, &f->d), 0);
	assert_string_equal(region, "eu-central-1");
	assert_int_equal(rs, KC_REGION_PROFILE);

	/* a bare [ops] in the config file is not a profile: say so, with its line */
	f->o.profile = "ops";
	resolve_err(f, KC_ENOTFOUND, "config:10: the config file names profiles [profile ops]");
	/* default has no keys anywhere: nothing found, sources listed */
	f->o.profile = NULL;
	resolve_err(f, KC_ENOTFOUND, "no AWS credentials found; tried: env");
	assert_int_equal(kc_creds_region(&f->o, region, sizeof(region), &rs, &f->d), 0);
	assert_string_equal(region, "us-west-2");
}

static void test_profile_default_in_config(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/config",
		 "[profile default]\n"
		 "aws_access_key_id = AKIACONFIGDEF00001\n"
		 "aws_secret_access_key = " CONF_SECRET "\n");
	struct kc_creds c = resolve_ok(f, KC_CREDS_CONFIG_FILE);
	assert_string_equal(c.access_key_id, "AKIACONFIGDEF00001");
	kc_creds_fini(&c);
}

static void test_credentials_file_wins_over_config(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/credentials", cred_file);
	fx_write(f, ".aws/config",
		 "[profile prod]\n"
		 "aws_access_key_id = AKIACONFIGPROD0001\n"
		 "aws_secret_access_key = " CONF_SECRET "\n"
		 "region = ap-south-1\n");
	f->o.profile = "prod";
	struct kc_creds c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.access_key_id, "AKIAFILEPROD000001");
	kc_creds_fini(&c);
	/* the region still comes from the config profile */
	char region[64];
	assert_int_equal(kc_creds_region(&f->o, region, sizeof(region), NULL, &f->d), 0);
	assert_string_equal(region, "ap-south-1");
}

static void test_file_locations_from_env(void **state)
{
	struct fx *f = *state;
	fx_write(f, "elsewhere/creds", "[x]\naws_access_key_id = AKIAELSEWHERE00001\n"
		 "aws_secret_access_key = " FILE_SECRET "\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/elsewhere/creds", f->home);
	fx_set(f, "AWS_SHARED_CREDENTIALS_FILE", path);
	fx_set(f, "AWS_PROFILE", "x");
	struct kc_creds c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.origin, path);
	kc_creds_fini(&c);
	/* "~/" expands with HOME */
	fx_set(f, "AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds");
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	assert_string_equal(c.origin, path);
	kc_creds_fini(&c);
	/* no HOME, no files: the profile cannot exist */
	fx_unset(f, "AWS_SHARED_CREDENTIALS_FILE");
	fx_unset(f, "HOME");
	resolve_err(f, KC_ENOTFOUND, "HOME unset");
}

static void test_missing_profile(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/credentials", cred_file);
	f->o.profile = "staging";
	char cred[600], conf[600];
	snprintf(cred, sizeof(cred), "AWS profile 'staging' not found in %s/.aws/credentials",
		 f->home);
	snprintf(conf, sizeof(conf), "%s/.aws/config", f->home);
	resolve_err(f, KC_ENOTFOUND, cred);
	resolve_err(f, KC_ENOTFOUND, conf);
	/* the same through AWS_PROFILE, and for the region */
	f->o.profile = NULL;
	fx_set(f, "AWS_PROFILE", "staging");
	resolve_err(f, KC_ENOTFOUND, "'staging' not found");
	char region[64];
	assert_int_equal(kc_creds_region(&f->o, region, sizeof(region), NULL, &f->d),
			 KC_ENOTFOUND);
	assert_non_null(strstr(f->d.msg, "staging"));
}

static void test_malformed_files(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} cases[] = {
		{"aws_access_key_id = AKIA\n", 1, "outside any [section]"},
		{"# c\n\n[default]\naws_access_key_id AKIA\n", 4, "expected 'key = value'"},
		{"[default\n", 1, "without ']'"},
		{"[default]\nx = 1\n[]\n", 3, "empty section"},
		{"[default]\nx = 1\nX = 2\n", 3, "duplicate key"},
		{"[a]\n[b]\n[a]\n", 3, "duplicate section"},
		{"[a] trailing\n", 1, "after ']'"},
		{"[a]\n = v\n", 2, "missing key"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_write(f, ".aws/credentials", cases[i].text);
		char want[600];
		snprintf(want, sizeof(want), "%s/.aws/credentials:%d: ", f->home, cases[i].line);
		resolve_err(f, KC_EPARSE, want);
		resolve_err(f, KC_EPARSE, cases[i].msg);
		assert_int_equal(f->d.line, cases[i].line);
	}
	/* the config file is checked the same way, also for the region */
	fx_write(f, ".aws/credentials", "");
	fx_write(f, ".aws/config", "[default]\nregion = us-east-1\ngarbage\n");
	char want[600];
	snprintf(want, sizeof(want), "%s/.aws/config:3: ", f->home);
	resolve_err(f, KC_EPARSE, want);
	char region[64];
	assert_int_equal(kc_creds_region(&f->o, region, sizeof(region), NULL, &f->d),
			 KC_EPARSE);
	assert_int_equal(f->d.line, 3);
	/* half a key pair names the line and the missing key, never a value */
	fx_write(f, ".aws/config", "");
	fx_write(f, ".aws/credentials", "[default]\n\naws_secret_access_key = " FILE_SECRET "\n");
	resolve_err(f, KC_EINVAL, "credentials:3: aws_secret_access_key: profile 'default' "
		    "has aws_secret_access_key but no aws_access_key_id");
}

static void test_awsini_details(void **state)
{
	(void)state;
	struct kc_awsini ini;
	struct kc_diag d;
	kc_diag_clear(&d);
	/* long lines (session tokens), comments, CRLF, ':' delimiter, BOM */
	char text[4096];
	char tok[2001];
	memset(tok, 'T', 2000);
	tok[2000] = '\0';
	snprintf(text, sizeof(text), "\xEF\xBB\xBF; top comment\r\n[ profile   spaced ]\r\n"
		 "Key1 : v1 ; not a comment\r\n  # indented comment\r\ntoken = %s\r\n"
		 "empty =\r\n", tok);
	assert_int_equal(kc_awsini_parse(&ini, "mem", text, strlen(text), &d), 0);
	const struct kc_awsini_entry *e = kc_awsini_get(&ini, "profile spaced", "key1");
	assert_non_null(e);
	assert_string_equal(e->value, "v1 ; not a comment");
	assert_int_equal(e->line, 3);
	e = kc_awsini_get(&ini, "profile spaced", "token");
	assert_non_null(e);
	assert_int_equal(strlen(e->value), 2000);
	e = kc_awsini_get(&ini, "profile spaced", "empty");
	assert_non_null(e);
	assert_string_equal(e->value, "");
	assert_int_equal(kc_awsini_section_line(&ini, "profile spaced"), 2);
	kc_awsini_fini(&ini);
	/* a NUL byte is refused */
	assert_int_equal(kc_awsini_parse(&ini, "mem", "[a]\nx=\0y\n", 9, &d), KC_EPARSE);
	kc_awsini_fini(&ini);
}

/* ------------------------------------------------------------------ */
/* credential_process                                                   */

/* Writes a config with credential_process = cmd for profile default. */
static void write_process_config(struct fx *f, const char *cmd)
{
	char text[2048];
	snprintf(text, sizeof(text), "[default]\ncredential_process = %s\n", cmd);
	fx_write(f, ".aws/config", text);
}

static void test_process(void **state)
{
	struct fx *f = *state;
	fx_write(f, "out.json",
		 "{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS0000001\",\n"
		 " \"SecretAccessKey\": \"proc" SECRET_MARK "1\", \"SessionToken\": \"proc"
		 TOKEN_MARK "1\",\n \"Expiration\": \"2030-03-17T19:00:00Z\"}\n");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "/bin/cat '%s/out.json'", f->home);
	write_process_config(f, cmd);
	struct kc_creds c = resolve_ok(f, KC_CREDS_PROCESS);
	assert_string_equal(c.access_key_id, "AKIAPROCESS0000001");
	assert_string_equal(c.secret_access_key, "proc" SECRET_MARK "1");
	assert_string_equal(c.session_token, "proc" TOKEN_MARK "1");
	int64_t exp;
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T19:00:00Z", &exp), 0);
	assert_true(c.expiration_wall_ns == exp);
	assert_string_equal(c.profile, "default");
	kc_creds_fini(&c);

	/* shell-style quoting reaches the program as one argument, no shell */
	write_process_config(f, "/bin/sh -c 'printf \"%s\" \"{\\\"Version\\\": 1, "
			     "\\\"AccessKeyId\\\": \\\"AKIAQUOTED00000001\\\", "
			     "\\\"SecretAccessKey\\\": \\\"q" SECRET_MARK "\\\"}\"'");
	c = resolve_ok(f, KC_CREDS_PROCESS);
	assert_string_equal(c.access_key_id, "AKIAQUOTED00000001");
	assert_null(c.session_token);
	assert_true(c.expiration_wall_ns == 0);
	kc_creds_fini(&c);
}

static void test_process_failures(void **state)
{
	struct fx *f = *state;
	/* non-zero exit: status and the first line of stderr */
	write_process_config(f, "/bin/sh -c 'echo \"sso session expired\" >&2; exit 3'");
	resolve_err(f, KC_EAUTH, "exited with status 3: sso session expired");
	resolve_err(f, KC_EAUTH, "config:2: credential_process of profile 'default'");
	/* not JSON: position only, never the text near the error */
	write_process_config(f, "/bin/echo '{\"SecretAccessKey\": \"leak" SECRET_MARK "'");
	resolve_err(f, KC_EPARSE, "not valid JSON (line 1");
	/* wrong version, missing members, bad expiration, expired */
	write_process_config(f, "/bin/echo '{\"Version\":2,\"AccessKeyId\":\"AKIAX0000000001\","
			     "\"SecretAccessKey\":\"s" SECRET_MARK "\"}'");
	resolve_err(f, KC_EPARSE, "\"Version\" must be 1");
	write_process_config(f, "/bin/echo '{\"Version\":1,\"AccessKeyId\":\"AKIAX0000000001\"}'");
	resolve_err(f, KC_EPARSE, "must be strings");
	write_process_config(f, "/bin/echo '{\"Version\":1,\"AccessKeyId\":\"AKIAX0000000001\","
			     "\"SecretAccessKey\":\"s" SECRET_MARK "\",\"Expiration\":\"soon\"}'");
	resolve_err(f, KC_EPARSE, "Expiration");
	write_process_config(f, "/bin/echo '{\"Version\":1,\"AccessKeyId\":\"AKIAX0000000001\","
			     "\"SecretAccessKey\":\"s" SECRET_MARK "\",\"Expiration\":"
			     "\"2001-01-01T00:00:00Z\"}'");
	resolve_err(f, KC_EAUTH, "expired at 2001-01-01T00:00:00Z");
	/* no such program, unterminated quote */
	write_process_config(f, "/nonexistent/kc-helper --x");
	resolve_err(f, KC_EIO, "cannot run '/nonexistent/kc-helper'");
	write_process_config(f, "/bin/echo 'open");
	resolve_err(f, KC_EPARSE, "config:2: credential_process: empty command or unterminated");
	/* too much output: killed at the cap */
	write_process_config(f, "/usr/bin/head -c 200000 /dev/zero");
	resolve_err(f, KC_ELIMIT, "more than 65536 bytes");
	/* too slow: killed at the deadline, promptly */
	f->o.process_timeout_ns = 300 * KC_NS_PER_MS;
	write_process_config(f, "/bin/sleep 5");
	int64_t t = kc_clock_ns();
	resolve_err(f, KC_ETIMEOUT, "no answer within 300 ms");
	assert_true(kc_clock_ns() - t < 3 * KC_NS_PER_S);
	/* closes stdout but keeps running: the exit wait is bounded too */
	write_process_config(f, "/bin/sh -c 'exec >&- 2>&-; sleep 5'");
	t = kc_clock_ns();
	resolve_err(f, KC_ETIMEOUT, "did not exit within 300 ms");
	assert_true(kc_clock_ns() - t < 3 * KC_NS_PER_S);
}

static void test_process_precedence(void **state)
{
	struct fx *f = *state;
	fx_write(f, "out.json", "{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS0000001\", "
		 "\"SecretAccessKey\": \"p" SECRET_MARK "\"}");
	char text[2048];
	snprintf(text, sizeof(text),
		 "[default]\ncredential_process = /bin/cat %s/out.json\n"
		 "aws_access_key_id = AKIACONFIGDEF00001\n"
		 "aws_secret_access_key = " CONF_SECRET "\n", f->home);
	fx_write(f, ".aws/config", text);
	/* credential_process before the config file's static keys (botocore) */
	struct kc_creds c = resolve_ok(f, KC_CREDS_PROCESS);
	kc_creds_fini(&c);
	/* the credentials file's static keys before credential_process */
	fx_write(f, ".aws/credentials", cred_file);
	c = resolve_ok(f, KC_CREDS_SHARED_FILE);
	kc_creds_fini(&c);
}

static void test_unsupported_profiles(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/config", "[profile admin]\nrole_arn = arn:aws:iam::1:role/x\n"
		 "source_profile = default\n");
	f->o.profile = "admin";
	resolve_err(f, KC_EUNSUPPORTED, "config:2: role_arn: profile 'admin' needs role");
}

static void test_nothing_found(void **state)
{
	struct fx *f = *state;
	resolve_err(f, KC_ENOTFOUND, "no AWS credentials found; tried: env (AWS_ACCESS_KEY_ID "
		    "unset)");
	/* each link says why it gave nothing */
	resolve_err(f, KC_ENOTFOUND, ".aws/credentials [default] (no such file)");
	resolve_err(f, KC_ENOTFOUND, ".aws/config [default] (no such file)");
	fx_write(f, ".aws/credentials", "[other]\naws_access_key_id = AKIAOTHER0000001\n"
		 "aws_secret_access_key = x\n");
	fx_write(f, ".aws/config", "[default]\nregion = us-east-1\n");
	resolve_err(f, KC_ENOTFOUND, ".aws/credentials [default] (no such profile section)");
	resolve_err(f, KC_ENOTFOUND, ".aws/config [default] (no aws_access_key_id / "
		    "aws_secret_access_key)");
	resolve_err(f, KC_ENOTFOUND, "container (AWS_CONTAINER_CREDENTIALS_* unset)");
	resolve_err(f, KC_ENOTFOUND, "IMDS (AWS_EC2_METADATA_DISABLED=true)");
	/* a disallowed container URL is an error, not a silent skip */
	fx_set(f, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
	resolve_err(f, KC_EINVAL, "'example.com' is not allowed");
}

/* IMDS settings are checked before any request; a closed loopback port
 * (never the real metadata address) is "no answer". */
static void test_imds_settings(void **state)
{
	struct fx *f = *state;
	fx_unset(f, "AWS_EC2_METADATA_DISABLED");
	fx_set(f, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1/");
	fx_set(f, "AWS_METADATA_SERVICE_TIMEOUT", "soon");
	resolve_err(f, KC_EINVAL, "AWS_METADATA_SERVICE_TIMEOUT");
	fx_set(f, "AWS_METADATA_SERVICE_TIMEOUT", "0.5");
	fx_set(f, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0");
	resolve_err(f, KC_EINVAL, "AWS_METADATA_SERVICE_NUM_ATTEMPTS");
	fx_set(f, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2");
	resolve_err(f, KC_ENOTFOUND, "IMDS (no answer from http://127.0.0.1:1 within 500 ms)");
	fx_set(f, "AWS_EC2_METADATA_DISABLED", "TRUE");
	resolve_err(f, KC_ENOTFOUND, "IMDS (AWS_EC2_METADATA_DISABLED=true)");
}

/* ------------------------------------------------------------------ */
/* region                                                               */

static void test_region(void **state)
{
	struct fx *f = *state;
	fx_write(f, ".aws/config", "[default]\nregion = eu-west-1\n");
	char r[64];
	enum kc_region_source s;
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), 0);
	assert_string_equal(r, "eu-west-1");
	assert_int_equal(s, KC_REGION_PROFILE);
	fx_set(f, "AWS_DEFAULT_REGION", "us-east-2");
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), 0);
	assert_string_equal(r, "us-east-2");
	assert_int_equal(s, KC_REGION_ENV_DEFAULT);
	fx_set(f, "AWS_REGION", "ca-central-1");
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), 0);
	assert_string_equal(r, "ca-central-1");
	assert_int_equal(s, KC_REGION_ENV);
	f->o.region = "ap-northeast-1";
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), 0);
	assert_string_equal(r, "ap-northeast-1");
	assert_int_equal(s, KC_REGION_EXPLICIT);
	assert_string_equal(kc_region_source_name(s), "explicit");
	/* not a region: hosts must not be injectable through it */
	f->o.region = "evil.com/x";
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), KC_EINVAL);
	assert_non_null(strstr(f->d.msg, "--region"));
	f->o.region = NULL;
	fx_unset(f, "AWS_REGION");
	fx_unset(f, "AWS_DEFAULT_REGION");
	fx_write(f, ".aws/config", "[default]\noutput = json\n");
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), KC_ENOTFOUND);
	assert_non_null(strstr(f->d.msg, "no AWS region: use --region"));
	fx_write(f, ".aws/config", "[default]\nregion = US East\n");
	assert_int_equal(kc_creds_region(&f->o, r, sizeof(r), &s, &f->d), KC_EINVAL);
	assert_int_equal(f->d.line, 2);
	/* too small an output buffer */
	fx_set(f, "AWS_REGION", "us-east-1");
	assert_int_equal(kc_creds_region(&f->o, r, 4, &s, &f->d), KC_ELIMIT);
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */

static void test_shell_split(void **state)
{
	(void)state;
	char *argv[8];
	char store[256];
	assert_int_equal(kc_creds_shell_split("  a  b\tc ", argv, 8, store, sizeof(store)), 3);
	assert_string_equal(argv[0], "a");
	assert_string_equal(argv[2], "c");
	assert_null(argv[3]);
	assert_int_equal(kc_creds_shell_split("x 'a b' \"c \\\"d\\\" \\n\" e\\ f 'g'\"h\"",
					      argv, 8, store, sizeof(store)), 5);
	assert_string_equal(argv[1], "a b");
	assert_string_equal(argv[2], "c \"d\" \\n");
	assert_string_equal(argv[3], "e f");
	assert_string_equal(argv[4], "gh");
	assert_int_equal(kc_creds_shell_split("''", argv, 8, store, sizeof(store)), 1);
	assert_string_equal(argv[0], "");
	assert_int_equal(kc_creds_shell_split("$HOME `x`", argv, 8, store, sizeof(store)), 2);
	assert_string_equal(argv[0], "$HOME");
	assert_int_equal(kc_creds_shell_split("   ", argv, 8, store, sizeof(store)), KC_EPARSE);
	assert_int_equal(kc_creds_shell_split("a 'b", argv, 8, store, sizeof(store)), KC_EPARSE);
	assert_int_equal(kc_creds_shell_split("a \"b", argv, 8, store, sizeof(store)), KC_EPARSE);
	assert_int_equal(kc_creds_shell_split("a\\", argv, 8, store, sizeof(store)), KC_EPARSE);
	assert_int_equal(kc_creds_shell_split("1 2 3 4 5 6 7 8", argv, 8, store, sizeof(store)),
			 KC_ELIMIT);
	assert_int_equal(kc_creds_shell_split("abcdefgh", argv, 8, store, 4), KC_ELIMIT);
}

static void test_iso8601(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(kc_creds_parse_iso8601("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0);
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T17:46:40Z", &t), 0);
	assert_true(t == T0_NS);
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T17:46:40.5Z", &t), 0);
	assert_true(t == T0_NS + 500 * KC_NS_PER_MS);
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T19:46:40+02:00", &t), 0);
	assert_true(t == T0_NS);
	assert_int_equal(kc_creds_parse_iso8601("2030-03-17T16:46:40-0100", &t), 0);
	assert_true(t == T0_NS);
	assert_int_equal(kc_creds_parse_iso8601("2024-02-29T00:00:00Z", &t), 0);
	/* Past April 2262 int64_t nanoseconds overflow: "never" (found by
	 * fuzz_creds under UBSan). */
	assert_int_equal(kc_creds_parse_iso8601("9999-12-31T23:59:59Z", &t), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(kc_creds_parse_iso8601("2262-04-11T23:47:14Z", &t), 0);
	assert_true(t > INT64_C(9223372030000000000) && t < INT64_MAX);
	static const char *const bad[] = {
		"", "2030-03-17", "2030-03-17T17:46:40", "2030-13-01T00:00:00Z",
		"2023-02-29T00:00:00Z", "2030-03-17T24:00:00Z", "2030-03-17T17:46:40ZZ",
		"2030-03-17T17:46:40.Z", "2030-03-17T17:46:40+2", "2030/03/17T17:46:40Z",
		"1969-12-31T23:59:59Z", "2030-03-17T17:46:40 UTC",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kc_creds_parse_iso8601(bad[i], &t) != KC_EPARSE)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_container_url(void **state)
{
	(void)state;
	char url[256];
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_creds_container_url("/v2/credentials/abc", NULL, url, sizeof(url),
						&d), 0);
	assert_string_equal(url, "http://169.254.170.2/v2/credentials/abc");
	/* relative wins over full */
	assert_int_equal(kc_creds_container_url("/r", "http://127.0.0.1/f", url, sizeof(url),
						&d), 0);
	assert_string_equal(url, "http://169.254.170.2/r");
	assert_int_equal(kc_creds_container_url(NULL, NULL, url, sizeof(url), &d), KC_ENOTFOUND);
	static const char *const ok[] = {
		"http://127.0.0.1:8080/creds", "http://127.1.2.3/x", "http://localhost/x",
		"http://[::1]:9/x", "http://169.254.170.2/v1", "http://169.254.170.23/v1/credentials",
		"http://[fd00:ec2::23]/v1/credentials", "https://creds.example.com/x",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (kc_creds_container_url(NULL, ok[i], url, sizeof(url), &d) != 0)
			fail_msg("refused %s: %s", ok[i], d.msg);
	static const char *const bad[] = {
		"http://example.com/x", "http://169.254.169.254/latest", "http://10.0.0.1/x",
		"ftp://127.0.0.1/x", "not a url", "http://[fd00:ec2::254]/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (kc_creds_container_url(NULL, bad[i], url, sizeof(url), &d) != KC_EINVAL)
			fail_msg("allowed %s", bad[i]);
	assert_int_equal(kc_creds_container_url("/a b", NULL, url, sizeof(url), &d), KC_EINVAL);
}

static void test_redact_describe_scrub(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(kc_creds_redact_akid("AKIAIOSFODNN7EXAMPLE", out, sizeof(out)),
			    "AKIA****MPLE");
	assert_string_equal(kc_creds_redact_akid("AKIA1234", out, sizeof(out)), "****");
	assert_string_equal(kc_creds_redact_akid(NULL, out, sizeof(out)), "****");
	struct kc_creds c = {.access_key_id = "ASIAIOSFODNN7EXAMPLE",
			     .secret_access_key = "wJal" SECRET_MARK "KEY",
			     .session_token = "FwoG" TOKEN_MARK "xyz",
			     .expiration_wall_ns = T0_NS,
			     .source = KC_CREDS_PROCESS};
	snprintf(c.profile, sizeof(c.profile), "prod");
	snprintf(c.origin, sizeof(c.origin), "/home/u/.aws/config");
	char desc[512];
	kc_creds_describe(&c, desc, sizeof(desc));
	assert_string_equal(desc, "credential-process, profile 'prod', /home/u/.aws/config, "
			    "key ASIA****MPLE, session token, expires 2030-03-17T17:46:40Z");
	char text[256];
	snprintf(text, sizeof(text), "x-amz-security-token:FwoG" TOKEN_MARK "xyz\nsecret=wJal"
		 SECRET_MARK "KEY!");
	assert_int_equal(kc_creds_scrub(&c, text), 2);
	assert_string_equal(text, "x-amz-security-token:****\nsecret=****!");
	assert_int_equal(kc_creds_scrub(NULL, text), 0);
	assert_string_equal(kc_creds_source_name(KC_CREDS_IMDS), "imds");
	assert_string_equal(kc_creds_source_name(KC_CREDS_SHARED_FILE), "shared-credentials-file");
}

/* ------------------------------------------------------------------ */
/* refreshing provider                                                  */

/* Writes out.json for credential_process: id n, expiring at exp_ns. */
static void write_process_creds(struct fx *f, int n, int64_t exp_ns)
{
	char exp[64];
	time_t t = (time_t)(exp_ns / KC_NS_PER_S);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	char text[512];
	snprintf(text, sizeof(text), "{\"Version\": 1, \"AccessKeyId\": \"AKIAREFRESH%07d\", "
		 "\"SecretAccessKey\": \"r" SECRET_MARK "%07d\", \"SessionToken\": \"r" TOKEN_MARK
		 "%07d\", \"Expiration\": \"%s\"}", n, n, n, exp);
	char tmp[600], path[600];
	snprintf(tmp, sizeof(tmp), "%s/out.json.tmp", f->home);
	snprintf(path, sizeof(path), "%s/out.json", f->home);
	FILE *fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(rename(tmp, path), 0);
}

static struct kc_creds_provider *new_process_provider(struct fx *f)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "/bin/cat %s/out.json", f->home);
	write_process_config(f, cmd);
	struct kc_creds_provider *p = NULL;
	int rc = kc_creds_provider_new(&p, &f->o, &f->d);
	if (rc)
		fail_msg("provider_new: %s", f->d.msg);
	return p;
}

static const char *akid_now(struct kc_creds_provider *p, char *buf, size_t n)
{
	const struct kc_creds *c = kc_creds_provider_acquire(p);
	snprintf(buf, n, "%s", c->access_key_id);
	kc_creds_provider_release(p, c);
	return buf;
}

static void test_provider_refresh_policy(void **state)
{
	struct fx *f = *state;
	const int64_t MIN = 60 * KC_NS_PER_S;
	int64_t e1 = T0_NS + 60 * MIN;
	write_process_creds(f, 1, e1);
	struct kc_creds_provider *p = new_process_provider(f);
	char id[64];
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000001");
	assert_true(kc_creds_provider_generation(p) == 0);

	/* 20 minutes left: nothing due */
	atomic_store(&f->now_ns, e1 - 20 * MIN);
	write_process_creds(f, 2, e1 + 60 * MIN);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 0);

	/* 14 minutes left: advisory refresh swaps in the new set */
	atomic_store(&f->now_ns, e1 - 14 * MIN);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 1);
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000002");
	/* the refreshed secret and token are known to the scrubber at once */
	char echo[200] = "403: r" SECRET_MARK "0000002 / tok r" TOKEN_MARK "0000002.";
	assert_int_equal(kc_scrub_str(echo, sizeof(echo), 0), 2);
	assert_string_equal(echo, "403: " KC_SCRUB_MARK " / tok " KC_SCRUB_MARK ".");

	/* an advisory failure keeps the old set and waits 60 s to retry */
	int64_t e2 = e1 + 60 * MIN;
	atomic_store(&f->now_ns, e2 - 14 * MIN);
	fx_write(f, "out.json", "not json");
	assert_int_equal(kc_creds_provider_tick(p, &f->d), KC_EPARSE);
	assert_true(kc_creds_provider_generation(p) == 1);
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000002");
	write_process_creds(f, 3, e2 + 60 * MIN);
	atomic_store(&f->now_ns, e2 - 14 * MIN + 30 * KC_NS_PER_S);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0); /* retry not due yet */
	assert_true(kc_creds_provider_generation(p) == 1);
	atomic_store(&f->now_ns, e2 - 14 * MIN + 61 * KC_NS_PER_S);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 2);
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000003");

	/* mandatory window: failure retried after 10 s */
	int64_t e3 = e2 + 60 * MIN;
	atomic_store(&f->now_ns, e3 - 9 * MIN);
	fx_write(f, "out.json", "{}");
	assert_int_equal(kc_creds_provider_tick(p, &f->d), KC_EPARSE);
	write_process_creds(f, 4, e3 + 60 * MIN);
	atomic_store(&f->now_ns, e3 - 9 * MIN + 5 * KC_NS_PER_S);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 2);
	atomic_store(&f->now_ns, e3 - 9 * MIN + 11 * KC_NS_PER_S);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 3);

	/* a source that keeps handing back soon-expiring credentials is asked
	 * at most once a minute */
	int64_t e4 = e3 + 60 * MIN;
	atomic_store(&f->now_ns, e4 - 12 * MIN);
	write_process_creds(f, 5, e4 - MIN);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 4);
	write_process_creds(f, 6, e4 - MIN);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 4);
	atomic_store(&f->now_ns, e4 - 10 * MIN);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 5);
	kc_creds_provider_free(p);
}

static void test_provider_static_never_refreshes(void **state)
{
	struct fx *f = *state;
	fx_set(f, "AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE0001");
	fx_set(f, "AWS_SECRET_ACCESS_KEY", ENV_SECRET);
	struct kc_creds_provider *p = NULL;
	assert_int_equal(kc_creds_provider_new(&p, &f->o, &f->d), 0);
	atomic_store(&f->now_ns, T0_NS + INT64_C(1000) * 24 * 3600 * KC_NS_PER_S);
	assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
	assert_true(kc_creds_provider_generation(p) == 0);
	/* start/stop with nothing to do; double start refused */
	assert_int_equal(kc_creds_provider_start(p, 5 * KC_NS_PER_MS), 0);
	assert_int_equal(kc_creds_provider_start(p, 5 * KC_NS_PER_MS), KC_EINVAL);
	kc_creds_provider_stop(p);
	kc_creds_provider_stop(p);
	kc_creds_provider_free(p);
	kc_creds_provider_free(NULL);
	/* a provider that cannot resolve leaves *out alone */
	fx_unset(f, "AWS_ACCESS_KEY_ID");
	fx_unset(f, "AWS_SECRET_ACCESS_KEY");
	p = (struct kc_creds_provider *)(uintptr_t)1;
	assert_int_equal(kc_creds_provider_new(&p, &f->o, &f->d), KC_ENOTFOUND);
	assert_true(p == (struct kc_creds_provider *)(uintptr_t)1);
}

struct reader_arg {
	struct kc_creds_provider *p;
	atomic_bool stop;
	atomic_long reads, torn;
};

/* Checks that the three strings of every snapshot belong together. */
static void *reader_main(void *arg)
{
	struct reader_arg *a = arg;
	while (!atomic_load(&a->stop)) {
		const struct kc_creds *c = kc_creds_provider_acquire(a->p);
		const char *n1 = c->access_key_id + strlen(c->access_key_id) - 7;
		const char *n2 = c->secret_access_key + strlen(c->secret_access_key) - 7;
		const char *n3 = c->session_token + strlen(c->session_token) - 7;
		if (strcmp(n1, n2) || strcmp(n1, n3))
			atomic_fetch_add(&a->torn, 1);
		kc_creds_provider_release(a->p, c);
		atomic_fetch_add(&a->reads, 1);
	}
	return NULL;
}

/* Credentials that live 20 s are asked again at half their life, not after 60 s. */
static void test_provider_short_lived(void **state)
{
	struct fx *f = *state;
	write_process_creds(f, 1, T0_NS + 20 * KC_NS_PER_S);
	struct kc_creds_provider *p = new_process_provider(f);
	int64_t now = T0_NS;
	for (int i = 1; i <= 6; i++) {
		/* 9 s on: not due yet (the last set was fetched 9 s ago with 20 s to live) */
		write_process_creds(f, i + 1, now + 29 * KC_NS_PER_S);
		if (i > 1) {
			atomic_store(&f->now_ns, now + 9 * KC_NS_PER_S);
			assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
			assert_true(kc_creds_provider_generation(p) == (uint64_t)(i - 1));
		}
		/* 10 s on: refreshed, before the 20 s run out */
		now += 10 * KC_NS_PER_S;
		atomic_store(&f->now_ns, now);
		assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
		assert_true(kc_creds_provider_generation(p) == (uint64_t)i);
	}
	kc_creds_provider_free(p);
}

static void test_provider_concurrent_swaps(void **state)
{
	struct fx *f = *state;
	const int64_t MIN = 60 * KC_NS_PER_S;
	write_process_creds(f, 0, T0_NS + 5 * MIN);
	struct kc_creds_provider *p = new_process_provider(f);
	struct reader_arg a = {.p = p};
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &a), 0);
	int64_t now = T0_NS;
	for (int i = 1; i <= 20; i++) {
		now += 61 * KC_NS_PER_S;
		write_process_creds(f, i, now + 5 * MIN);
		atomic_store(&f->now_ns, now);
		assert_int_equal(kc_creds_provider_tick(p, &f->d), 0);
		assert_true(kc_creds_provider_generation(p) == (uint64_t)i);
	}
	atomic_store(&a.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&a.reads) > 0);
	assert_int_equal(atomic_load(&a.torn), 0);
	char id[64];
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000020");
	kc_creds_provider_free(p);
}

static void test_provider_background_thread(void **state)
{
	struct fx *f = *state;
	const int64_t MIN = 60 * KC_NS_PER_S;
	write_process_creds(f, 1, T0_NS + 60 * MIN);
	struct kc_creds_provider *p = new_process_provider(f);
	assert_int_equal(kc_creds_provider_start(p, 10 * KC_NS_PER_MS), 0);
	/* the thread fails once (logged), then picks up the fixed answer */
	fx_write(f, "out.json", "garbage");
	atomic_store(&f->now_ns, T0_NS + 48 * MIN); /* 12 min left */
	int64_t deadline = kc_clock_ns() + 3 * KC_NS_PER_S;
	while (!logs_contain("advisory refresh failed") && kc_clock_ns() < deadline)
		kc_sleep_ns(5 * KC_NS_PER_MS);
	write_process_creds(f, 2, T0_NS + 120 * MIN);
	atomic_store(&f->now_ns, T0_NS + 52 * MIN); /* past the 60 s retry */
	while (kc_creds_provider_generation(p) == 0 && kc_clock_ns() < deadline)
		kc_sleep_ns(5 * KC_NS_PER_MS);
	kc_creds_provider_stop(p);
	assert_true(kc_creds_provider_generation(p) == 1);
	char id[64];
	assert_string_equal(akid_now(p, id, sizeof(id)), "AKIAREFRESH0000002");
	assert_true(logs_contain("warning: aws credentials: advisory refresh failed"));
	assert_true(logs_contain("info: aws credentials refreshed: credential-process"));
	kc_creds_provider_free(p);
}

int main(void)
{
	kc_buf_init(&logs, 1u << 20);
	kc_log_set_handler(log_cb, NULL, KC_LOG_DEBUG);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_beats_files_unless_profile_given, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_profile_from_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_profile_naming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_default_in_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials_file_wins_over_config, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_file_locations_from_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_files, setup, teardown),
		cmocka_unit_test(test_awsini_details),
		cmocka_unit_test_setup_teardown(test_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_profiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imds_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region, setup, teardown),
		cmocka_unit_test(test_shell_split),
		cmocka_unit_test(test_iso8601),
		cmocka_unit_test(test_container_url),
		cmocka_unit_test(test_redact_describe_scrub),
		cmocka_unit_test_setup_teardown(test_provider_refresh_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_static_never_refreshes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_provider_concurrent_swaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_short_lived, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_background_thread, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kc_log_set_handler(NULL, NULL, KC_LOG_ERROR);
	kc_buf_fini(&logs);
	return rc;
}
