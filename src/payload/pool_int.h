/*
 * pool_int.h - what pool.c shares with files.c (not public): making an
 * empty pool and filling its entries.  Only the builders call these, before
 * the pool is handed out; after that nothing writes to it.
 */
#ifndef KNEECAP_POOL_INT_H
#define KNEECAP_POOL_INT_H

#include "kneecap/pool.h"

/*
 * Allocates a pool of n empty entries (1..KC_POOL_ENTRIES_MAX) from the
 * named source ("synthetic", "dir", "file"; a static string).  Returns NULL
 * when out of memory.
 */
struct kc_pool *kc_pool_alloc(size_t n, const char *source);

/*
 * Fills entry i: takes ownership of bytes (malloc'd, len_bytes of them,
 * freed by kc_pool_free even when this call fails), copies name and
 * content_type, and computes the SHA-256 once.  Returns 0, KC_ELIMIT
 * (over the body cap or the pool's total cap) or KC_EINTERNAL (the digest
 * failed); the message names the entry.
 */
int kc_pool_set(struct kc_pool *p, size_t i, unsigned char *bytes,
		size_t len_bytes, const char *name, const char *content_type,
		int width_px, int height_px, struct kc_diag *d);

/*
 * Returns how many SHA-256 digests this pool ever computed.  It equals
 * kc_pool_count: hashes are made once while building, never on kc_pool_get
 * (the benchmark and tests hold the pool to that).
 */
uint64_t kc_pool_hash_count(const struct kc_pool *p);

#endif
