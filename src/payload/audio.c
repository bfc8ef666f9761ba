/*
 * audio.c - synthetic PCM for stream payloads (audio.h).  A tone rather than
 * silence so a real model sees non-trivial input; the noise comes from a
 * fixed-seed xorshift so the bytes never change between runs.
 */
#include "kneecap/audio.h"

#include <math.h>
#include <stdlib.h>

uint8_t *kc_audio_synth_pcm(size_t *len)
{
	size_t n = KC_AUDIO_SYNTH_RATE;
	uint8_t *p = malloc(n * KC_AUDIO_SYNTH_BYTES_PER_SAMPLE);
	if (!p)
		return NULL;
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		double v = 8000.0 * sin(2.0 * 3.14159265358979 * 440.0 * (double)i / 16000.0) +
			   (double)(x % 512) - 256.0;
		int16_t sv = (int16_t)v;
		p[2 * i] = (uint8_t)((uint16_t)sv & 0xff);
		p[2 * i + 1] = (uint8_t)((uint16_t)sv >> 8);
	}
	*len = n * KC_AUDIO_SYNTH_BYTES_PER_SAMPLE;
	return p;
}
