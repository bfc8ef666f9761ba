/*
 * scrub.h - the one secret scrubber: every string that came from the
 * network or from a child process passes here before it is stored, logged
 * or printed.
 *
 * Two kinds of things are removed, each replaced by KC_SCRUB_MARK:
 *  - the registered secrets (every secret access key and session token
 *    the process loaded; creds.c registers them as it loads and refreshes
 *    them): whole, or any run of KC_SCRUB_MIN_RUN or more consecutive
 *    characters of one (an echo cut short), also when percent-encoded
 *    (either case of hex, doubly encoded too), JSON-escaped, or inside a
 *    larger standard or URL-safe base64 blob at any of the 3 byte
 *    alignments;
 *  - credential-bearing fields whatever their value: the value of an
 *    Authorization header, of X-Amz-Security-Token (header or query), of
 *    Signature= / X-Amz-Signature=, and of SecretAccessKey / SessionToken /
 *    aws_secret_access_key / aws_session_token fields.
 *
 * The registry is process-wide and lives here (the aws layer) rather than
 * in util/: util never calls aws, so the CLI's log handler, which sits
 * above both, calls the scrubber before it prints.  All functions are
 * thread-safe: workers scrub error samples while the credential refresh
 * thread registers new secrets.
 */
#ifndef KNEECAP_SCRUB_H
#define KNEECAP_SCRUB_H

#include <stddef.h>

#define KC_SCRUB_MARK "[redacted]"
/* A run of this many consecutive characters of a secret is a secret. */
#define KC_SCRUB_MIN_RUN 12
/* Secrets shorter than this are refused: matching them would redact words. */
#define KC_SCRUB_MIN_SECRET 8

/* Flags for kc_scrub_str / kc_scrub_copy. */
#define KC_SCRUB_OPAQUE 1u /* also redact any long opaque credential-looking
			      word (24+ characters of [A-Za-z0-9+/=_-] mixing
			      upper, lower and digits): for what a credential
			      helper prints, which may be a secret never loaded */

/*
 * Registers a secret (copied): from now on every scrub removes it in all
 * the forms above.  Registering the same value again is a no-op.  Returns
 * 0, KC_EINVAL (NULL, or shorter than KC_SCRUB_MIN_SECRET) or KC_ENOMEM.
 */
int kc_scrub_register(const char *secret);

/*
 * Scrubs s (NUL-terminated, in a buffer of cap bytes) in place.  A
 * replacement longer than what it replaces may push the end of the text
 * out: the result is cut at cap - 1 bytes, never inside a UTF-8 sequence.
 * Returns the number of redactions (0: s untouched), or KC_ENOMEM when the
 * text could not be scanned, in which case s is emptied rather than
 * passed on unchecked.
 */
int kc_scrub_str(char *s, size_t cap, unsigned flags);

/*
 * Scrubs in[0..n) into out (outsz > 0 bytes, always NUL-terminated, cut as
 * kc_scrub_str cuts).  in may hold NUL bytes; they are copied as they are
 * except that out ends at the first.  Same returns as kc_scrub_str.
 */
int kc_scrub_copy(const char *in, size_t n, char *out, size_t outsz, unsigned flags);

#endif
