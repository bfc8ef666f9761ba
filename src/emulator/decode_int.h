/*
 * decode_int.h - the emulator's real CPU stage: decoding the request's JPEG
 * with libjpeg-turbo, as a model server's pre-processing would.
 */
#ifndef KNEECAP_EMU_DECODE_INT_H
#define KNEECAP_EMU_DECODE_INT_H

#include "kneecap/emulator.h"

#include <stddef.h>
#include <stdint.h>

/* Largest image the CPU stage decodes (36 Mpx, 6000 x 6000). */
#define KC_EMU_DECODE_PIXELS_MAX (INT64_C(36) * 1000 * 1000)

/* One decoder per concurrent user: a TurboJPEG handle and its output buffer. */
struct kc_emu_decoder {
	void *tj;          /* tjhandle */
	unsigned char *out;
	size_t out_cap;
};

/* Returns 0 or KC_ENOMEM. */
int kc_emu_decoder_init(struct kc_emu_decoder *dd);
/* Frees dd's resources; dd may be NULL or zeroed. */
void kc_emu_decoder_fini(struct kc_emu_decoder *dd);

/*
 * Runs the CPU stage in `mode` on buf: checks the JPEG SOI marker (OFF),
 * reads the header (HEADER), or decodes to RGB at full or 1/8 scale.  Sets
 * the width and height out-params (0 when mode is OFF).  Returns 0, or KC_EPARSE with why
 * set when the bytes are not a JPEG it can decode, KC_ELIMIT when the image
 * exceeds KC_EMU_DECODE_PIXELS_MAX, KC_ENOMEM.  The output buffer grows to
 * the largest image seen and is reused (no allocation once warm).
 */
int kc_emu_decode(struct kc_emu_decoder *dd, enum kc_emu_decode mode,
		  const unsigned char *buf, size_t len, int *width, int *height,
		  char *why, size_t whysz);

#endif
