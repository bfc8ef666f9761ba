/*
 * jpeg.h - the synthetic JPEG factory and the JPEG checker.
 *
 * The seed workload is an image tagger: every request carries one JPEG.  Its
 * size and content drive both the network cost and the server's decode work,
 * so the factory draws product-photo-like pictures (a lit background, shaded
 * objects with hard edges, fabric-like texture, a printed label and sensor
 * noise) and encodes them with libjpeg-turbo.  Everything is drawn from a
 * seeded PRNG of our own: the same options, seed and index give the same
 * bytes on every machine; a different index gives a different picture.
 *
 * kc_jpeg_check is the other direction: it proves that bytes from disk are
 * a complete JPEG (header and a full decode), so a payload folder with a
 * truncated file or a renamed PNG fails before any load is sent.
 */
#ifndef KNEECAP_JPEG_H
#define KNEECAP_JPEG_H

#include "kneecap/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what the factory draws: each side, and the whole picture. */
#define KC_JPEG_DIM_MIN 8
#define KC_JPEG_DIM_MAX 16384
#define KC_JPEG_PIXELS_MAX (4096 * 4096)
/* Detail is a dial from a flat picture (0) to a busy, noisy one (1000). */
#define KC_JPEG_DETAIL_MAX 1000
/* The most distinct pictures one set (a pool's variety) holds. */
#define KC_JPEG_VARIETY_MAX 4096
/* The search for a target size accepts sizes this close (percent). */
#define KC_JPEG_SIZE_TOL_PCT 15

/* Chroma subsampling, as in TurboJPEG's TJSAMP_*; GRAY makes a 1-channel JPEG. */
enum kc_jpeg_subsamp {
	KC_JPEG_444,
	KC_JPEG_422,
	KC_JPEG_420,
	KC_JPEG_GRAY,
};

/* What a factory makes.  Fill with kc_jpeg_opts_default, then change fields. */
struct kc_jpeg_opts {
	int width_px;                 /* default 1024 */
	int height_px;                /* default 1024 */
	int quality;                  /* 1..100; 0 = automatic (85, or searched with size_kb) */
	enum kc_jpeg_subsamp subsamp; /* default 420 */
	bool progressive;             /* progressive JPEG instead of baseline */
	uint64_t seed;                /* default 1 */
	int detail;                   /* 0..1000, -1 = automatic (250, or searched with size_kb) */
	uint32_t size_kb;             /* target compressed size in KiB; 0 = none */
	int variety;                  /* distinct pictures in a set (pool), 1..4096, default 32;
					 the factory itself makes any index asked */
};

/* One encoded picture; bytes is malloc'd and owned by the struct. */
struct kc_jpeg_image {
	unsigned char *bytes;
	size_t len_bytes;
	int width_px;
	int height_px;
	int quality;  /* the quality it was encoded at */
	int detail;   /* the detail it was drawn with */
	int trials;   /* encodes spent on it (1 without a size target) */
};

/* What kc_jpeg_check found in a JPEG. */
struct kc_jpeg_info {
	int width_px;
	int height_px;
	int subsamp;  /* TurboJPEG's TJSAMP_* value, -1 when unknown */
};

/*
 * Fills o with the defaults: 1024x1024, automatic quality and detail, 420,
 * baseline, seed 1, variety 32.
 */
void kc_jpeg_opts_default(struct kc_jpeg_opts *o);

/*
 * Checks o for values the factory refuses: a side outside
 * [KC_JPEG_DIM_MIN, KC_JPEG_DIM_MAX], more than KC_JPEG_PIXELS_MAX pixels,
 * quality outside 0..100, detail outside -1..1000, an unknown subsampling,
 * size_kb beyond 6 MiB, variety outside 1..KC_JPEG_VARIETY_MAX.  Returns 0 or KC_EINVAL with the reason in d.
 */
int kc_jpeg_opts_check(const struct kc_jpeg_opts *o, struct kc_diag *d);

/*
 * Sets one option from text, as a flag or a scenario [payload] key gives it
 * ('-' and '_' are the same in key): width, height, quality, subsampling,
 * progressive, seed, detail, size-kb, variety.  Values are checked for range here;
 * combinations by kc_jpeg_opts_check.  Returns 0, KC_ENOTFOUND (unknown
 * key, o untouched), KC_EPARSE or KC_ERANGE (bad value, o untouched), with
 * a message naming the key and value in d.
 */
int kc_jpeg_opts_set(struct kc_jpeg_opts *o, const char *key, const char *value,
		     struct kc_diag *d);

/* Parses "444", "422", "420" or "gray". Returns 0 or KC_EPARSE (out untouched). */
int kc_jpeg_subsamp_parse(const char *s, enum kc_jpeg_subsamp *out);

/* Returns "444", "422", "420" or "gray". */
const char *kc_jpeg_subsamp_name(enum kc_jpeg_subsamp s);

/* A factory: options, a TurboJPEG handle and scratch buffers.  Opaque. */
struct kc_jpeg_gen;

/*
 * Makes a factory for o (copied).  With o->size_kb set it calibrates once
 * here (a bounded search on one picture) so that each later picture needs
 * only a few encodes.  Returns 0, KC_EINVAL (bad options), KC_ERANGE (the
 * target size cannot be reached at these dimensions), KC_ENOMEM or
 * KC_EINTERNAL (TurboJPEG failed); *out is untouched on failure.
 * One factory is for one thread at a time; separate factories are independent.
 */
int kc_jpeg_gen_new(struct kc_jpeg_gen **out, const struct kc_jpeg_opts *o,
		    struct kc_diag *d);

/* Frees g; g may be NULL. */
void kc_jpeg_gen_free(struct kc_jpeg_gen *g);

/*
 * Draws and encodes picture number index into out (caller frees with
 * kc_jpeg_image_fini).  The bytes depend only on the options and index:
 * not on which pictures were made before.  With a size target, the result
 * lies within KC_JPEG_SIZE_TOL_PCT percent of it or the call fails with
 * KC_ERANGE.  Returns 0, KC_ERANGE, KC_ENOMEM or KC_EINTERNAL; out is
 * untouched on failure.
 */
int kc_jpeg_gen_make(struct kc_jpeg_gen *g, uint64_t index,
		     struct kc_jpeg_image *out, struct kc_diag *d);

/* Frees the bytes and clears img; img may be NULL. */
void kc_jpeg_image_fini(struct kc_jpeg_image *img);

/*
 * Proves buf is one complete JPEG: the header parses and the whole image
 * decodes without a warning (a truncated file decodes with one).  name is
 * used only in the message.  Returns 0 and fills *info (may be NULL),
 * KC_EPARSE (not a JPEG, or corrupt or truncated) or KC_ENOMEM.
 * Thread-safe (uses its own TurboJPEG handle).
 */
int kc_jpeg_check(const unsigned char *buf, size_t len, const char *name,
		  struct kc_jpeg_info *info, struct kc_diag *d);

#endif
