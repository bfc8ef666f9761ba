/*
 * audio.h - synthetic audio for the stream driver's request payloads.
 *
 * A streaming transcription endpoint wants speech-like PCM; when no audio
 * file is given, `streams` sends this tone instead.  It is deterministic
 * (a fixed seed for the noise), so runs on any machine send the same bytes.
 */
#ifndef KNEECAP_AUDIO_H
#define KNEECAP_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* Sample rate and sample size of kc_audio_synth_pcm's output. */
#define KC_AUDIO_SYNTH_RATE 16000
#define KC_AUDIO_SYNTH_BYTES_PER_SAMPLE 2

/* Returns a malloc'd second of a 440 Hz tone with a little noise (16 kHz
 * 16-bit LE mono) and stores its byte length in *len; NULL when out of
 * memory.  The caller frees it. */
uint8_t *kc_audio_synth_pcm(size_t *len);

#endif
