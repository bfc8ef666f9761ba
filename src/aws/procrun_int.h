/*
 * procrun_int.h - the credential_process source (procrun.c): the chain
 * calls it, and tests and the fuzzer reach its splitter directly.  Not
 * part of the public API.
 */
#ifndef KNEECAP_AWS_PROCRUN_INT_H
#define KNEECAP_AWS_PROCRUN_INT_H

#include <stddef.h>

struct kc_awsini_entry;
struct kc_creds;
struct kc_creds_opts;
struct kc_diag;

/*
 * Splits cmd like a POSIX shell without running one: blanks separate
 * words, '...' is literal, "..." honours \\ \" \$ \` and \newline, a bare
 * backslash quotes the next character.  No expansion of any kind.
 * Words are written NUL-separated into store; argv[0..argc-1] point into it
 * and argv[argc] is NULL.  Returns argc (>= 1), KC_EPARSE (unterminated
 * quote, empty command) or KC_ELIMIT (more than maxargs-1 words or store
 * too small).
 */
int kc_creds_shell_split(const char *cmd, char **argv, int maxargs,
			 char *store, size_t storesz);

/*
 * Runs the credential_process entry cp (found in file, profile profile)
 * within opts' process timeout and reads its JSON answer into out.
 * Returns 0, KC_EPARSE (bad command line or answer), KC_ELIMIT, KC_EAUTH
 * (non-zero exit, killed, or a "Code" other than "Success"), KC_ETIMEOUT,
 * KC_EIO, KC_EINVAL, KC_ENOMEM; d says which.
 */
int kc_creds_from_process(struct kc_creds *out, const struct kc_creds_opts *o,
			  const char *profile, const struct kc_awsini_entry *cp,
			  const char *file, struct kc_diag *d);

#endif
