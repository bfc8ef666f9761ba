/*
 * decode.c - the emulator's CPU stage: what a model server does to a JPEG
 * before the accelerator sees it, done for real with TurboJPEG so the
 * emulator burns CPU like the seed's ~8 ms of decode and tensor work.
 *
 * It is not the payload factory (src/payload/ makes JPEGs); it only reads
 * them.  A decoder is owned by one thread at a time; request.c pools them.
 */
#include "decode_int.h"

#include "kneecap/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

int kc_emu_decoder_init(struct kc_emu_decoder *dd)
{
	KC_ASSERT(dd);
	dd->out = NULL;
	dd->out_cap = 0;
	dd->tj = tjInitDecompress();
	return dd->tj ? KC_OK : KC_ENOMEM;
}

void kc_emu_decoder_fini(struct kc_emu_decoder *dd)
{
	if (!dd)
		return;
	if (dd->tj)
		tjDestroy(dd->tj);
	free(dd->out);
	dd->tj = NULL;
	dd->out = NULL;
	dd->out_cap = 0;
}

/* The 1/8 factor TurboJPEG offers (it always does: DCT scaling). */
static tjscalingfactor eighth(void)
{
	int n = 0;
	tjscalingfactor *sf = tjGetScalingFactors(&n);
	for (int i = 0; sf && i < n; i++)
		if (sf[i].num == 1 && sf[i].denom == 8)
			return sf[i];
	return (tjscalingfactor){1, 1};
}

int kc_emu_decode(struct kc_emu_decoder *dd, enum kc_emu_decode mode,
		  const unsigned char *buf, size_t len, int *width, int *height,
		  char *why, size_t whysz)
{
	KC_ASSERT(dd && dd->tj && width && height && why);
	*width = *height = 0;
	/* Every JPEG starts with SOI (FF D8) followed by a marker (FF). */
	if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8 || buf[2] != 0xFF) {
		snprintf(why, whysz, "unable to decode the input: not a JPEG image");
		return KC_EPARSE;
	}
	if (mode == KC_EMU_DECODE_OFF)
		return KC_OK;
	if (len > (size_t)0xFFFFFFFFu) {
		snprintf(why, whysz, "image larger than 4 GiB");
		return KC_ELIMIT;
	}
	int w = 0, h = 0, subsamp = 0, colorspace = 0;
	if (tjDecompressHeader3(dd->tj, buf, (unsigned long)len, &w, &h, &subsamp,
				&colorspace) != 0 || w <= 0 || h <= 0) {
		snprintf(why, whysz, "unable to decode the input: %s", tjGetErrorStr2(dd->tj));
		return KC_EPARSE;
	}
	*width = w;
	*height = h;
	if ((int64_t)w * h > KC_EMU_DECODE_PIXELS_MAX) {
		snprintf(why, whysz, "image %dx%d is larger than the model accepts", w, h);
		return KC_ELIMIT;
	}
	if (mode == KC_EMU_DECODE_HEADER)
		return KC_OK;
	int dw = w, dh = h;
	if (mode == KC_EMU_DECODE_SCALED) {
		tjscalingfactor sf = eighth();
		dw = TJSCALED(w, sf);
		dh = TJSCALED(h, sf);
	}
	size_t need = (size_t)dw * (size_t)dh * tjPixelSize[TJPF_RGB];
	if (need > dd->out_cap) {
		unsigned char *nb = realloc(dd->out, need);
		if (!nb) {
			snprintf(why, whysz, "out of memory for a %dx%d image", dw, dh);
			return KC_ENOMEM;
		}
		dd->out = nb;
		dd->out_cap = need;
	}
	if (tjDecompress2(dd->tj, buf, (unsigned long)len, dd->out, dw, 0, dh,
			  TJPF_RGB, TJFLAG_FASTDCT) != 0 &&
	    tjGetErrorCode(dd->tj) == TJERR_FATAL) {
		snprintf(why, whysz, "unable to decode the input: %s", tjGetErrorStr2(dd->tj));
		return KC_EPARSE;
	}
	return KC_OK;
}
