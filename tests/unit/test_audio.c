/* test_audio.c - the synthetic stream audio: one second of 16 kHz 16-bit LE
 * mono, the same bytes on every call, a 440 Hz tone well above its noise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kneecap/audio.h"

static int16_t sample(const uint8_t *p, size_t i)
{
	return (int16_t)(uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
}

static void test_synth_pcm(void **state)
{
	(void)state;
	size_t n1 = 0, n2 = 0;
	uint8_t *a = kc_audio_synth_pcm(&n1);
	uint8_t *b = kc_audio_synth_pcm(&n2);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(n1, KC_AUDIO_SYNTH_RATE * KC_AUDIO_SYNTH_BYTES_PER_SAMPLE);
	assert_int_equal(n1, 32000);
	assert_int_equal(n2, n1);
	assert_memory_equal(a, b, n1); /* deterministic: a fixed seed */
	/* t = 0: the sine is 0, only the noise (|noise| <= 256) */
	assert_true(abs(sample(a, 0)) <= 256);
	/* a quarter period of 440 Hz at 16 kHz is ~9.09 samples: near the peak */
	int peak = 0;
	for (size_t i = 0; i < 37; i++) /* one period */
		if (abs(sample(a, i)) > peak)
			peak = abs(sample(a, i));
	assert_true(peak > 7500 && peak <= 8256);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synth_pcm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
