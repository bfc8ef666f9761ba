/*
 * creds.h - AWS credentials and region, resolved the way the AWS CLI does.
 *
 * Order (botocore's, trimmed to what a load tool needs; see
 * shared/spec/aws-wire.md section 6):
 *   1. environment keys (skipped when a profile was given explicitly),
 *   2. the profile's static keys in the shared credentials file,
 *   3. the profile's credential_process,
 *   4. the profile's static keys in the config file,
 *   5. container credentials (ECS / EKS Pod Identity),
 *   6. EC2 instance metadata (IMDSv2).
 * Sources 5 and 6 use short timeouts and are tried only when nothing
 * earlier matched.  Role assumption (role_arn, web identity, SSO) is not
 * done: kneecap names the profile keys it found and fails clearly.
 *
 * Resolution is a function of (environment, files, HOME, clock): every
 * environment lookup goes through struct kc_creds_opts, so tests pass a
 * table instead of mutating the process environment.
 *
 * Secrets (secret access key, session token) never appear in a diagnostic,
 * a log message or a description produced here.
 */
#ifndef KNEECAP_CREDS_H
#define KNEECAP_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;

/* Returns the value of environment variable name, or NULL when unset. */
typedef const char *(*kc_getenv_cb)(const char *name, void *ud);

/* Returns wall-clock nanoseconds since the Unix epoch (UTC). */
typedef int64_t (*kc_wall_cb)(void *ud);

/* Where a set of credentials came from. Append-only: results store the names. */
enum kc_creds_source {
	KC_CREDS_ENV,          /* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY */
	KC_CREDS_SHARED_FILE,  /* ~/.aws/credentials */
	KC_CREDS_PROCESS,      /* credential_process in a profile */
	KC_CREDS_CONFIG_FILE,  /* static keys in ~/.aws/config */
	KC_CREDS_CONTAINER,    /* AWS_CONTAINER_CREDENTIALS_{RELATIVE,FULL}_URI */
	KC_CREDS_IMDS,         /* EC2 instance metadata, IMDSv2 */
};

/* Where the region came from. */
enum kc_region_source {
	KC_REGION_EXPLICIT,    /* --region */
	KC_REGION_ENV,         /* AWS_REGION */
	KC_REGION_ENV_DEFAULT, /* AWS_DEFAULT_REGION */
	KC_REGION_PROFILE,     /* region = in the active profile */
};

/*
 * What resolution depends on.  Zero-initialise, then set what you need:
 * a zeroed struct means "the process environment, the real clock, default
 * timeouts, profile from the environment".  Strings and callbacks are
 * borrowed and must outlive any provider built from the options.
 */
struct kc_creds_opts {
	const char *profile;        /* --profile; NULL: AWS_DEFAULT_PROFILE, AWS_PROFILE (botocore's order), "default" */
	const char *region;         /* --region; NULL: environment, then profile */
	kc_getenv_cb getenv_fn;     /* NULL: getenv(3) */
	void *getenv_ud;
	kc_wall_cb wall_fn;         /* NULL: kc_wall_ns() */
	void *wall_ud;
	int64_t process_timeout_ns; /* credential_process limit; 0: 60 s */
	int64_t container_timeout_ns; /* per attempt; 0: 2 s (botocore) */
	int64_t imds_timeout_ns;    /* per request; 0: AWS_METADATA_SERVICE_TIMEOUT or 1 s */
};

#define KC_CREDS_AKID_MAX 128
#define KC_CREDS_SECRET_MAX 256
#define KC_CREDS_TOKEN_MAX 16384

/*
 * One resolved set of credentials.  The three strings are heap copies owned
 * by the struct (kc_creds_fini wipes and frees them); session_token is NULL
 * for long-term keys.  profile and origin say where they came from and are
 * safe to print: origin is a file path or a URL without its query, never a
 * credential_process command line (which may carry arguments users
 * consider sensitive).
 */
struct kc_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;          /* NULL when none */
	int64_t expiration_wall_ns;   /* 0: does not expire */
	enum kc_creds_source source;
	char profile[128];            /* "" for env, container and IMDS */
	char origin[512];             /* file path or URL; "" for env */
};

/*
 * Runs the chain above.  On success fills *out (caller calls kc_creds_fini)
 * and returns 0.  Errors (out untouched, d says what and where):
 *   KC_ENOTFOUND  the chosen profile exists in neither file (d names it and
 *                 both files), or no source had credentials (d lists the
 *                 sources tried);
 *   KC_EPARSE     a credentials/config file is malformed (d has file:line),
 *                 or a credential_process / container / IMDS answer is;
 *   KC_EINVAL     partial keys, bad characters, an expired env credential,
 *                 a disallowed container URL;
 *   KC_EUNSUPPORTED the profile needs role assumption or SSO;
 *   KC_ETIMEOUT / KC_ECONNECT / KC_EAUTH / KC_EIO / KC_EPROTO / KC_ELIMIT
 *                 a source that was configured (credential_process,
 *                 container, an answering IMDS) failed, was refused, timed
 *                 out or said too much;
 *   KC_ENOMEM.
 * A source that is not configured, or an IMDS that does not answer or has
 * no role attached, counts as "nothing here" and the chain goes on; a
 * source that is configured and fails (or IMDS answering garbage) stops
 * the chain with its error, as botocore does.  Blocking: may run a
 * process or make HTTP requests (bounded by the timeouts in opts).
 * credential_process inherits the real process environment (environ),
 * not the getenv callback.  Thread-safe as long as the getenv callback is;
 * libcurl must have been initialised (curl_global_init) before threads
 * start, as for any libcurl use.
 */
int kc_creds_resolve(const struct kc_creds_opts *opts, struct kc_creds *out,
		     struct kc_diag *d);

/* Wipes and frees the strings of c; c may be NULL or zeroed. */
void kc_creds_fini(struct kc_creds *c);

/*
 * Resolves the region: opts->region, AWS_REGION, AWS_DEFAULT_REGION, then
 * region= in the active profile (config file, credentials file winning).
 * Writes it NUL-terminated into out and its source into *src (may be NULL).
 * Returns 0, KC_ENOTFOUND (no region anywhere; d says where to put one, or
 * the chosen profile does not exist), KC_EINVAL (not a region name: only
 * [a-z0-9-], 1-63 characters), KC_EPARSE (malformed file, d has file:line),
 * KC_ELIMIT (outsz too small).
 */
int kc_creds_region(const struct kc_creds_opts *opts, char *out, size_t outsz,
		    enum kc_region_source *src, struct kc_diag *d);

/* True when s looks like a region name: 1-63 of [a-z0-9-]. */
bool kc_creds_region_valid(const char *s);

/* Stable lower-case names: "env", "shared-credentials-file", "credential-process", ... */
const char *kc_creds_source_name(enum kc_creds_source s);
const char *kc_region_source_name(enum kc_region_source s);

/*
 * A redacted access key id for logs: the first four and last four
 * characters around "****" ("AKIA****WXYZ"); ids shorter than 12 characters
 * become "****".  Writes into out (always NUL-terminated) and returns out.
 */
char *kc_creds_redact_akid(const char *akid, char *out, size_t outsz);

/*
 * One line for logs and result.json saying where c came from, e.g.
 * "shared-credentials-file, profile 'prod', /home/u/.aws/credentials,
 * key AKIA****WXYZ, session token, expires 2026-11-22T18:00:00Z".
 * Never contains the secret or the token.  Returns out.
 */
char *kc_creds_describe(const struct kc_creds *c, char *out, size_t outsz);

/*
 * A refreshing provider for long runs.  It holds one immutable snapshot of
 * credentials at a time; workers take a reference with acquire (a mutex
 * held for a pointer copy and a counter increment, no allocation), use the
 * consistent (key id, secret, token) triple, and drop it with release.  A
 * refresh builds a new snapshot and swaps the pointer; the old one is freed
 * when its last reader releases it.
 *
 * Refresh policy (botocore's): credentials with an expiration are
 * re-resolved when less than 15 minutes remain (advisory: a failure keeps
 * the old ones and retries after 60 s) and must be when less than 10
 * minutes remain (mandatory: a failure is logged as an error and retried
 * after 10 s).  Credentials without an expiration are never refreshed.
 */
struct kc_creds_provider;

/* Advisory and mandatory refresh windows, in nanoseconds before expiry. */
#define KC_CREDS_ADVISORY_NS (INT64_C(15) * 60 * 1000000000)
#define KC_CREDS_MANDATORY_NS (INT64_C(10) * 60 * 1000000000)

/*
 * Resolves credentials now (as kc_creds_resolve, same errors) and wraps
 * them in a provider.  opts is copied, but its strings, callbacks and
 * callback data must outlive the provider.  *out untouched on failure.
 */
int kc_creds_provider_new(struct kc_creds_provider **out,
			  const struct kc_creds_opts *opts, struct kc_diag *d);

/* Stops the refresh thread if running, frees p; p may be NULL.  Every
 * acquired snapshot must have been released first. */
void kc_creds_provider_free(struct kc_creds_provider *p);

/*
 * Returns the current snapshot with a reference held; never NULL.  The
 * snapshot stays valid and unchanged until kc_creds_provider_release.
 * Thread-safe, cheap, no allocation.
 */
const struct kc_creds *kc_creds_provider_acquire(struct kc_creds_provider *p);

/* Drops a reference taken by acquire. Thread-safe. */
void kc_creds_provider_release(struct kc_creds_provider *p,
			       const struct kc_creds *c);

/*
 * Counts swaps: 0 for the first snapshot, +1 per refresh.  A signer that
 * caches derived keys compares it to know when to rederive.  Thread-safe.
 */
uint64_t kc_creds_provider_generation(struct kc_creds_provider *p);

/*
 * Starts a background thread that applies the refresh policy above every
 * period_ns (0: 1 s; kc_creds_provider_tick in provider_int.h) and
 * logs failures (warning in the advisory window, error in the mandatory
 * one; each distinct failure once).  Returns 0, KC_EINVAL when already
 * started, KC_ENOMEM/KC_EIO when the thread cannot be created.
 */
int kc_creds_provider_start(struct kc_creds_provider *p, int64_t period_ns);

/* Stops and joins the background thread; no-op when not running. */
void kc_creds_provider_stop(struct kc_creds_provider *p);

#endif
