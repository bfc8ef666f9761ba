/*
 * pool.c - the immutable payload pool and its synthetic-JPEG builder.
 *
 * A pool is written only while it is built (kc_pool_alloc, kc_pool_set),
 * then handed to the engine, whose worker threads read it concurrently and
 * without locks.  The invariant the request path relies on: kc_pool_get is
 * an index computation and a pointer return, nothing else; every byte and
 * every SHA-256 were made before the first request.  The hash counter is
 * how tests and the benchmark check that no hash is made after building.
 *
 * The builders from disk are in files.c.
 */
#include "pool_int.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 256
#define CTYPE_MAX_BYTES 128

struct slot {
	struct kc_payload pub;   /* what kc_pool_get hands out; points into this slot */
	unsigned char *mem;      /* the owned bytes behind pub.bytes */
	char name[NAME_MAX_BYTES];
	char ctype[CTYPE_MAX_BYTES];
};

struct kc_pool {
	size_t n;
	struct slot *slots;
	size_t total_bytes;
	uint64_t hashes;         /* SHA-256 digests computed, ever */
	const char *source;
};

struct kc_pool *kc_pool_alloc(size_t n, const char *source)
{
	KC_ASSERT(n >= 1 && n <= KC_POOL_ENTRIES_MAX && source);
	struct kc_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->slots = calloc(n, sizeof(*p->slots));
	if (!p->slots) {
		free(p);
		return NULL;
	}
	p->n = n;
	p->source = source;
	return p;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int kc_pool_set(struct kc_pool *p, size_t i, unsigned char *bytes,
		size_t len_bytes, const char *name, const char *content_type,
		int width_px, int height_px, struct kc_diag *d)
{
	KC_ASSERT(p && i < p->n && bytes && name && content_type);
	struct slot *s = &p->slots[i];
	KC_ASSERT(!s->mem);
	s->mem = bytes; /* owned from here on, whatever happens below */
	if (len_bytes > KC_POOL_BODY_MAX_BYTES)
		return kc_diag_set(d, KC_ELIMIT,
				   "%s: %zu bytes is over the 6 MiB body limit (SageMaker's)",
				   name, len_bytes);
	if (len_bytes > KC_POOL_TOTAL_MAX_BYTES - p->total_bytes)
		return kc_diag_set(d, KC_ELIMIT,
				   "%s: the payloads together exceed %zu MiB",
				   name, KC_POOL_TOTAL_MAX_BYTES >> 20);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (!EVP_Digest(bytes, len_bytes, md, &md_len, EVP_sha256(), NULL) ||
	    md_len != 32)
		return kc_diag_set(d, KC_EINTERNAL, "%s: SHA-256 failed", name);
	p->hashes++;
	p->total_bytes += len_bytes;
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->ctype, sizeof(s->ctype), "%s", content_type);
	s->pub.bytes = bytes;
	s->pub.len_bytes = len_bytes;
	hex_encode(md, 32, s->pub.sha256_hex);
	s->pub.content_type = s->ctype;
	s->pub.name = s->name;
	s->pub.width_px = width_px;
	s->pub.height_px = height_px;
	return KC_OK;
}

int kc_pool_new_jpeg(struct kc_pool **out, const struct kc_jpeg_opts *o,
		     struct kc_diag *d)
{
	KC_ASSERT(out && o);
	static_assert(KC_JPEG_VARIETY_MAX <= KC_POOL_ENTRIES_MAX,
		      "a synthetic set fits a pool");
	struct kc_jpeg_gen *g = NULL;
	int rc = kc_jpeg_gen_new(&g, o, d); /* checks o, variety included */
	if (rc)
		return rc;
	size_t count = (size_t)o->variety;
	struct kc_pool *p = kc_pool_alloc(count, "synthetic");
	if (!p) {
		kc_jpeg_gen_free(g);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < count; i++) {
		struct kc_jpeg_image img;
		rc = kc_jpeg_gen_make(g, i, &img, d);
		if (rc)
			goto fail;
		char name[32];
		snprintf(name, sizeof(name), "img-%04zu.jpg", i);
		rc = kc_pool_set(p, i, img.bytes, img.len_bytes, name, "image/jpeg",
				 img.width_px, img.height_px, d);
		if (rc)
			goto fail;
	}
	kc_jpeg_gen_free(g);
	*out = p;
	return KC_OK;
fail:
	kc_jpeg_gen_free(g);
	kc_pool_free(p);
	return rc;
}

void kc_pool_free(struct kc_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->slots[i].mem);
	free(p->slots);
	free(p);
}

size_t kc_pool_count(const struct kc_pool *p)
{
	KC_ASSERT(p);
	return p->n;
}

const struct kc_payload *kc_pool_get(const struct kc_pool *p, uint64_t seq)
{
	/*
	 * A 32-bit division is several times cheaper than a 64-bit one on
	 * common x86 cores, and a run's sequence numbers stay below 2^32.
	 */
	static_assert(KC_POOL_ENTRIES_MAX <= UINT32_MAX, "count fits 32 bits");
	size_t i = seq <= UINT32_MAX ? (uint32_t)seq % (uint32_t)p->n : seq % p->n;
	return &p->slots[i].pub;
}

void kc_pool_summary(const struct kc_pool *p, struct kc_pool_summary *out)
{
	KC_ASSERT(p && out && p->n >= 1);
	size_t lo = SIZE_MAX, hi = 0;
	double sum = 0;
	const char *ct = p->slots[0].pub.content_type;
	for (size_t i = 0; i < p->n; i++) {
		const struct kc_payload *e = &p->slots[i].pub;
		lo = e->len_bytes < lo ? e->len_bytes : lo;
		hi = e->len_bytes > hi ? e->len_bytes : hi;
		sum += (double)e->len_bytes;
		if (strcmp(e->content_type, ct) != 0)
			ct = "mixed";
	}
	*out = (struct kc_pool_summary){
		.count = p->n,
		.bytes_mean = sum / (double)p->n,
		.bytes_min = lo,
		.bytes_max = hi,
		.content_type = ct,
		.source = p->source,
	};
}

uint64_t kc_pool_hash_count(const struct kc_pool *p)
{
	KC_ASSERT(p);
	return p->hashes;
}
