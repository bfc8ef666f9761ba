/*
 * creds_int.h - what the credential sources share (creds.c): the ISO
 * 8601 reader, which tests reach directly, and the helpers that validate
 * and build a struct kc_creds.  Not part of the public API.  The AWS INI
 * reader is in awsini_int.h, the shell-style splitter in procrun_int.h,
 * the container URL rule in imds_int.h.
 */
#ifndef KNEECAP_AWS_CREDS_INT_H
#define KNEECAP_AWS_CREDS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/creds.h"

struct kc_diag;

/*
 * Parses an ISO 8601 / RFC 3339 timestamp "YYYY-MM-DDTHH:MM:SS[.frac]"
 * followed by "Z", "+HH:MM" or "+HHMM" into wall nanoseconds since the
 * epoch; an instant past what int64_t nanoseconds hold (April 2262) gives
 * INT64_MAX.  Returns 0 or KC_EPARSE.
 */
int kc_creds_parse_iso8601(const char *s, int64_t *wall_ns);

/*
 * Replaces every occurrence of c's secret key and session token inside
 * text (NUL-terminated, edited in place) with "****".  For text that came
 * from elsewhere and may echo a credential back (an InvalidSignature
 * message quotes the canonical request, which holds the token).  Returns
 * the number of replacements.  Whole values only: kc_scrub_str (scrub.h)
 * also catches truncated, URL-encoded and base64 echoes of every secret
 * loaded, and is what output paths use; only tests call this one.
 */
int kc_creds_scrub(const struct kc_creds *c, char *text);

/* ------------------------------------------------------------------ */
/* shared by the credential sources (creds.c)                           */

/* An environment value through opts, NULL when unset or empty (botocore
 * ignores empty). */
const char *kc_creds_env_set(const struct kc_creds_opts *o, const char *name);

/* The wall clock through opts, in nanoseconds since the epoch. */
int64_t kc_creds_wall_now(const struct kc_creds_opts *o);

/* True for printable ASCII without blanks, 1..max bytes: what keys and tokens are. */
bool kc_creds_is_text(const char *s, size_t max);

/* True when s holds a control character (below 0x20, or 0x7f). */
bool kc_creds_has_ctl(const char *s);

/* Wipes and frees a NUL-terminated secret; s may be NULL. */
void kc_creds_wipe_free(char *s);

/* Appends "; item" to the list of sources tried (bounded, truncates). */
void kc_creds_tried_add(char *tried, size_t sz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Validates and copies a triple into out, registering the secrets with the
 * scrubber.  what names the source in messages ("AWS_SECRET_ACCESS_KEY",
 * "file:line"...), never a value.  Returns 0, KC_EINVAL, KC_EAUTH
 * (expired) or KC_ENOMEM.
 */
int kc_creds_fill(struct kc_creds *out, const struct kc_creds_opts *o,
		  enum kc_creds_source src, const char *profile,
		  const char *origin, const char *akid, const char *secret,
		  const char *token, int64_t exp_ns, const char *what,
		  struct kc_diag *d);

/* The member names of a JSON credential document. */
struct kc_creds_json_names {
	const char *akid, *secret, *token;
	bool version1; /* credential_process: "Version": 1 required */
};

/*
 * Reads a JSON credential document (credential_process, container, IMDS)
 * of len bytes into out as kc_creds_fill does; a malformed one is
 * KC_EPARSE, a "Code" other than "Success" KC_EAUTH.  Never quotes a value
 * it did not scrub.
 */
int kc_creds_from_json(struct kc_creds *out, const struct kc_creds_opts *o,
		       enum kc_creds_source src, const char *profile,
		       const char *origin, const char *buf, size_t len,
		       const struct kc_creds_json_names *nm, const char *what,
		       struct kc_diag *d);

#endif
