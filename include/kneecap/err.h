/*
 * err.h - kneecap's error codes and the caller-owned diagnostic.
 *
 * Every action in libkneecap returns 0 (KC_OK) or a negative enum kc_err.
 * The codes sit in bands so a caller can tell input problems from peer
 * problems from resource problems without a table.  The enum is append-only:
 * never renumber or remove a code, results and logs may carry the numbers.
 *
 * Details meant for a human ("scenarios/x.ini:12: rate: must be > 0") travel
 * in a struct kc_diag the caller owns; the library never prints.
 */
#ifndef KNEECAP_ERR_H
#define KNEECAP_ERR_H

#include <stddef.h>

enum kc_err {
	KC_OK = 0,

	/* [-1, -99]: usage, configuration and input. */
	KC_EINVAL = -1,       /* a value is wrong (range, type, combination) */
	KC_EPARSE = -2,       /* bytes or text do not follow their format */
	KC_ENOTFOUND = -3,    /* a named thing (file, profile, key) is absent */
	KC_EUNSUPPORTED = -4, /* valid, but not something kneecap does */
	KC_ERANGE = -5,       /* a value lies outside what can be represented */

	/* [-100, -199]: the peer or the network. */
	KC_ECONNECT = -100,   /* could not connect or resolve */
	KC_ETIMEOUT = -101,   /* a deadline passed */
	KC_EPROTO = -102,     /* the peer broke its protocol */
	KC_EAUTH = -103,      /* credentials missing, refused or expired */
	KC_ETLS = -104,       /* TLS handshake or verification failed */
	KC_ECRC = -105,       /* a checksum did not match */

	/* [-200, -299]: resources. */
	KC_ENOMEM = -200,     /* allocation failed */
	KC_EIO = -201,        /* a read, write or system call failed */
	KC_ELIMIT = -202,     /* a configured bound would be exceeded */
	KC_EINTR = -203,      /* stopped by a signal or a stop request */

	/* [-900, -999]: the object may only be freed. */
	KC_EINTERNAL = -900,  /* a bug in kneecap */
};

/* Returns a short static English description of err; never NULL. */
const char *kc_strerror(int err);

/*
 * What went wrong, where: filled by a failing call, read by the CLI.
 * file and key are empty and line is 0 when they do not apply.
 */
struct kc_diag {
	char file[256];
	int line;
	char key[64];
	char msg[512];
};

/* Clears d (d may be NULL). */
void kc_diag_clear(struct kc_diag *d);

/*
 * Records a message in d (d may be NULL) and returns err, so a failing path
 * can `return kc_diag_set(d, KC_EINVAL, "rate must be > 0");`.
 */
int kc_diag_set(struct kc_diag *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As kc_diag_set, with the file, line and key the message is about. */
int kc_diag_set_at(struct kc_diag *d, int err, const char *file, int line,
		   const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * Writes "file:line: key: msg" (parts that are empty left out) into out,
 * always NUL-terminated; returns out.
 */
char *kc_diag_format(const struct kc_diag *d, char *out, size_t outsz);

/* Assertion for programmer errors only; on in every build. */
#define KC_ASSERT(cond)                                                      \
	((cond) ? (void)0 : kc_assert_fail(#cond, __FILE__, __LINE__))
_Noreturn void kc_assert_fail(const char *expr, const char *file, int line);

#endif
