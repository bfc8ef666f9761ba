/*
 * fuzz_cloudwatch.c - CloudWatch's answers (aws/cloudwatch.c) over arbitrary
 * bytes: kc_cw_parse_response and kc_cw_parse_error.
 *
 * Invariants: no crash; the series count stays within the array; each
 * series' point count is within KC_CW_MAX_POINTS; ids, status, NextToken,
 * code and message are NUL-terminated within their arrays.  Parsing the
 * same bytes twice appends (pages merge by id), never past the bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/cloudwatch.h"
#include "kneecap/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	static struct kc_cw_series s[3];
	size_t n = 0;
	char next[64];
	struct kc_diag d;
	for (int round = 0; round < 2; round++) {
		kc_cw_parse_response((const char *)data, size, s, 3, &n, next, sizeof(next), &d);
		if (n > 3)
			abort();
		terminated(next, sizeof(next));
		for (size_t i = 0; i < n; i++) {
			if (s[i].n < 0 || s[i].n > KC_CW_MAX_POINTS)
				abort();
			terminated(s[i].id, sizeof(s[i].id));
			terminated(s[i].status, sizeof(s[i].status));
		}
	}
	char code[32], msg[64];
	kc_cw_parse_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg));
	terminated(code, sizeof(code));
	terminated(msg, sizeof(msg));
	return 0;
}
