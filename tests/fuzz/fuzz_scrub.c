/*
 * fuzz_scrub.c - the secret scrubber over arbitrary text with a registered
 * secret planted in it.
 *
 * Input: byte 0 picks how the secret is planted (raw, percent-encoded in
 * upper or lower hex, base64 after 0-2 bytes, or not at all), byte 1 where
 * (as a fraction of the rest), the rest is the surrounding text, any bytes.
 * Invariants: the scrubber returns and its output is NUL-terminated inside
 * the buffer, whatever the capacity; the planted secret leaves no run of
 * KC_SCRUB_MIN_RUN characters in its raw form; text scrubbed twice is
 * unchanged by the second pass (the marker itself is never matched).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SECRET[] = "kcFuzz/Secret+Key0123456789abcdefGHIJKLMN";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t plant(int how, char *out)
{
	const unsigned char *s = (const unsigned char *)SECRET;
	size_t n = strlen(SECRET), w = 0;
	if (how == 0) {
		memcpy(out, SECRET, n);
		return n;
	}
	if (how == 1 || how == 2) {
		for (size_t i = 0; i < n; i++) {
			unsigned char c = s[i];
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
				out[w++] = (char)c;
			} else {
				const char *hex = how == 1 ? "0123456789ABCDEF" : "0123456789abcdef";
				out[w++] = '%';
				out[w++] = hex[c >> 4];
				out[w++] = hex[c & 15];
			}
		}
		return w;
	}
	/* base64 of (align filler bytes, the secret) */
	unsigned char in[64] = {'<', '!'};
	size_t align = (size_t)(how - 3), m = align + n;
	memcpy(in + align, s, n);
	for (size_t i = 0; i < m; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < m ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < m ? in[i + 2] : 0);
		out[w++] = B64[v >> 18 & 63];
		out[w++] = B64[v >> 12 & 63];
		out[w++] = i + 1 < m ? B64[v >> 6 & 63] : '=';
		out[w++] = i + 2 < m ? B64[v & 63] : '=';
	}
	return w;
}

static bool has_run(const char *text)
{
	char w[KC_SCRUB_MIN_RUN + 1];
	for (size_t i = 0; i + KC_SCRUB_MIN_RUN <= strlen(SECRET); i++) {
		memcpy(w, SECRET + i, KC_SCRUB_MIN_RUN);
		w[KC_SCRUB_MIN_RUN] = '\0';
		if (strstr(text, w))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	if (!registered) {
		if (kc_scrub_register(SECRET) != 0)
			abort();
		registered = true;
	}
	if (size < 2 || size > 16384)
		return 0;
	int how = data[0] % 7; /* 6: not planted */
	size_t rest = size - 2, at = rest * data[1] / 256;
	char *text = malloc(rest + 128);
	if (!text)
		return 0;
	memcpy(text, data + 2, at);
	size_t n = at;
	if (how < 6)
		n += plant(how, text + n);
	memcpy(text + n, data + 2 + at, rest - at);
	n += rest - at;
	size_t outsz = 2 * n + 64;
	char *out = malloc(outsz), *again = malloc(outsz);
	if (!out || !again)
		abort();
	int k = kc_scrub_copy(text, n, out, outsz, data[0] & 0x80 ? KC_SCRUB_OPAQUE : 0);
	if (k < 0 || !memchr(out, '\0', outsz))
		abort();
	/* Only when nothing before the secret ends the C string early. */
	if (how == 0 && !memchr(text, '\0', at + strlen(SECRET)) && has_run(out))
		abort();
	if (kc_scrub_copy(out, strlen(out), again, outsz, data[0] & 0x80 ? KC_SCRUB_OPAQUE : 0) < 0 ||
	    strcmp(out, again))
		abort();
	/* a small buffer: cut, terminated */
	char small[7];
	if (kc_scrub_copy(text, n, small, sizeof(small), 0) < 0 || !memchr(small, '\0', sizeof(small)))
		abort();
	free(text);
	free(out);
	free(again);
	return 0;
}
