/*
 * fuzz_sagemaker_error.c - the SageMaker error-response classifier over
 * arbitrary status lines, X-Amzn-ErrorType values and bodies.
 *
 * Input: a first line "STATUS[ ERRORTYPE]" (no ERRORTYPE: header absent;
 * the text after the first blank, possibly empty, is the header value),
 * then the body, any bytes.  Each input is classified with and without
 * KC_SM_PARSE_MESSAGE.  Invariants: both calls agree on the class, code and
 * status; the class is in range and has a name; code and message are
 * NUL-terminated within their arrays, carry no control characters, and the
 * message never quotes the canonical request of a signature error (it can
 * carry the session token).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/engine.h"
#include "kneecap/sagemaker.h"
#include "sagemaker_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	if (!end)
		abort(); /* not terminated inside its array */
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * KC_SM_ERR_BODY_PARSE_MAX)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - data) : size;
	int status = 0;
	size_t i = 0;
	for (; i < first && i < 4 && data[i] >= '0' && data[i] <= '9'; i++)
		status = status * 10 + (data[i] - '0');
	const char *errtype = NULL;
	size_t errtype_len = 0;
	char *hdr = NULL;
	if (i < first && data[i] == ' ') {
		/* An exact-size copy so ASan sees reads past the value. */
		errtype_len = first - i - 1;
		hdr = malloc(errtype_len ? errtype_len : 1);
		if (!hdr)
			return 0;
		memcpy(hdr, data + i + 1, errtype_len);
		errtype = hdr;
	}
	size_t body_len = nl ? size - first - 1 : 0;
	uint8_t *body = malloc(body_len ? body_len : 1);
	if (!body) {
		free(hdr);
		return 0;
	}
	memcpy(body, nl ? nl + 1 : data, body_len);

	struct kc_sm_error a, b;
	memset(&a, 0x55, sizeof(a));
	memset(&b, 0xAA, sizeof(b));
	kc_sagemaker_parse_error(status, errtype, errtype_len, body, body_len, 0, &a);
	kc_sagemaker_parse_error(status, errtype, errtype_len, body, body_len,
				 KC_SM_PARSE_MESSAGE, &b);
	if (a.cls != b.cls || a.status != status || b.status != status ||
	    strcmp(a.code, b.code) != 0)
		abort();
	if ((unsigned)a.cls >= KC_SM_ERR_COUNT || !kc_sagemaker_errclass_name(a.cls))
		abort();
	check_text(a.code, sizeof(a.code));
	check_text(a.message, sizeof(a.message));
	check_text(b.message, sizeof(b.message));
	if (strstr(b.message, "The Canonical String") ||
	    strstr(b.message, "The String-to-Sign"))
		abort();
	(void)kc_engine_sm_errclass(a.cls, status);
	(void)kc_sagemaker_errclass_hint(a.cls);
	free(body);
	free(hdr);
	return 0;
}
