/*
 * pool.h - the payload pool: the request bodies of a run, built once.
 *
 * DESIGN.md: "Payload bytes are built once before the first step and shared
 * read-only; a request never copies its body, and SigV4 payload hashes are
 * computed once per payload, not per request."  A pool is that promise in
 * code.  It is built before the first request (synthetic JPEGs, a folder of
 * JPEGs, or one body file), never changes afterwards, and is read by every
 * worker thread at once without locks.  Each entry carries its bytes, their
 * SHA-256 in lowercase hex (the x-amz-content-sha256 / canonical-request
 * payload hash SigV4 needs) and its content type.  kc_pool_get hands out
 * entries by rotation and returns a pointer into the pool: no copy, no hash.
 *
 * The constructors live in pool.c (synthetic) and files.c (from disk).
 */
#ifndef KNEECAP_POOL_H
#define KNEECAP_POOL_H

#include "kneecap/err.h"
#include "kneecap/jpeg.h"

#include <stddef.h>
#include <stdint.h>

/* SageMaker InvokeEndpoint refuses bodies over 6 MB; so does kneecap. */
#define KC_POOL_BODY_MAX_BYTES ((size_t)6 * 1024 * 1024)
/* The most entries one pool holds (synthetic variety or files in a folder). */
#define KC_POOL_ENTRIES_MAX 4096
/* The most bytes all entries of one pool hold together. */
#define KC_POOL_TOTAL_MAX_BYTES ((size_t)1024 * 1024 * 1024)

/* One request body.  Everything points into the pool and lives as long as it. */
struct kc_payload {
	const unsigned char *bytes;
	size_t len_bytes;
	char sha256_hex[65];      /* lowercase hex of SHA-256(bytes), NUL-terminated */
	const char *content_type; /* e.g. "image/jpeg" */
	const char *name;         /* "img-0003.jpg" or the file's base name */
	int width_px;             /* 0 when the body is not a JPEG */
	int height_px;
};

/* What result.json says about the bodies of a run. */
struct kc_pool_summary {
	size_t count;
	double bytes_mean;
	size_t bytes_min;
	size_t bytes_max;
	const char *content_type; /* the entries' type, or "mixed" */
	const char *source;       /* "synthetic", "dir" or "file" */
};

/* An immutable set of payloads.  Opaque. */
struct kc_pool;

/*
 * Builds a pool of o->variety distinct synthetic JPEGs: indices
 * 0..variety-1 of a kc_jpeg factory with options o, so entry i holds the
 * same bytes `kneecap payload` writes as img-000i.jpg.  Returns 0, KC_EINVAL, KC_ERANGE, KC_ELIMIT (an image over
 * KC_POOL_BODY_MAX_BYTES), KC_ENOMEM or KC_EINTERNAL; *out is untouched on
 * failure.  Not thread-safe while building; the result is (see kc_pool_get).
 */
int kc_pool_new_jpeg(struct kc_pool **out, const struct kc_jpeg_opts *o,
		     struct kc_diag *d);

/*
 * Builds a pool from every regular file in dir, in name order; each must be
 * a complete JPEG (kc_jpeg_check) of at most KC_POOL_BODY_MAX_BYTES.
 * Subfolders are not entered.  Any other file, an unreadable one, an empty
 * folder or more than KC_POOL_ENTRIES_MAX files is an error whose message
 * names the file.  Returns 0, KC_ENOTFOUND (no such folder, or no files),
 * KC_EPARSE (not a JPEG), KC_EIO, KC_ELIMIT or KC_ENOMEM; *out untouched
 * on failure.
 */
int kc_pool_load_dir(struct kc_pool **out, const char *dir, struct kc_diag *d);

/*
 * Builds a one-entry pool from the file at path, sent as is.  content_type
 * may be NULL: it is then guessed from the extension
 * (kc_pool_content_type_guess).  The file must be a regular, non-empty file
 * of at most KC_POOL_BODY_MAX_BYTES.  Returns 0, KC_ENOTFOUND, KC_EINVAL
 * (empty, not a regular file, bad content type), KC_EIO, KC_ELIMIT or
 * KC_ENOMEM; *out untouched on failure.
 */
int kc_pool_load_body(struct kc_pool **out, const char *path,
		      const char *content_type, struct kc_diag *d);

/* Frees p and every entry; p may be NULL.  No kc_pool_get pointer survives it. */
void kc_pool_free(struct kc_pool *p);

/* Returns the number of entries (at least 1). */
size_t kc_pool_count(const struct kc_pool *p);

/*
 * Returns entry seq % count: the body for the seq-th request.  The pointer
 * is into the pool (never a copy) and valid until kc_pool_free.  Lock-free
 * and safe from any number of threads at once: nothing in the pool is
 * written after construction.  Never NULL.
 */
const struct kc_payload *kc_pool_get(const struct kc_pool *p, uint64_t seq);

/* Fills *out with the pool's count, sizes, content type and source. */
void kc_pool_summary(const struct kc_pool *p, struct kc_pool_summary *out);

/*
 * Returns the content type for a file name from its extension
 * (case-insensitive): .json application/json, .jpg/.jpeg image/jpeg,
 * .wav audio/wav, anything else application/octet-stream.  Static string.
 */
const char *kc_pool_content_type_guess(const char *path);

#endif
