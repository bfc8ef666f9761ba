/*
 * bidifault.c - the streaming emulator's injected stream errors: the
 * stream_fault_error list and the shapes SageMaker's bidirectional stream
 * answers with (aws-wire.md 3.3): restJson1 errors before the stream and
 * exception events inside it.
 */
#include "kneecap/bidi.h"

#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *type;
	int status;            /* 0: an exception event inside the stream */
	const char *error_code;
} kinds[] = {
	{"InputValidationError", 400, "InputValidationError"},
	{"ModelError", 424, "ModelError"},
	{"InternalServerError", 500, "InternalServerError"},
	{"ServiceUnavailableError", 503, "ServiceUnavailableError"},
	{"ThrottlingException", 400, ""},
	{"ModelStreamError", 0, "ModelInvocationTimeExceeded"},
	{"InternalStreamFailure", 0, ""},
};

static int parse_item(struct kc_bidi_fault_error *f, char *item, char *why, size_t whysz)
{
	char *colon = strchr(item, ':');
	if (!colon) {
		snprintf(why, whysz, "'%s' is not N:TYPE (e.g. 3:ModelStreamError)", item);
		return KC_EINVAL;
	}
	*colon = '\0';
	int64_t n;
	if (kc_parse_i64(item, 1, INT64_MAX, &n)) {
		snprintf(why, whysz, "stream number '%s' is not a whole number >= 1", item);
		return KC_EINVAL;
	}
	char *type = colon + 1, *code = strchr(type, '/'), *at = strchr(type, '@');
	if (code)
		*code++ = '\0';
	if (at)
		*at++ = '\0';
	size_t k = 0, nk = sizeof(kinds) / sizeof(kinds[0]);
	while (k < nk && strcmp(kinds[k].type, type))
		k++;
	if (k == nk) {
		snprintf(why, whysz, "'%s' is not one of InputValidationError, ModelError, "
			 "InternalServerError, ServiceUnavailableError, ThrottlingException, "
			 "ModelStreamError, InternalStreamFailure", type);
		return KC_EINVAL;
	}
	memset(f, 0, sizeof(*f));
	f->stream = (uint64_t)n;
	snprintf(f->type, sizeof(f->type), "%s", kinds[k].type);
	f->status = kinds[k].status;
	if (at) {
		int64_t st;
		if (!kinds[k].status || kc_parse_i64(at, 400, 599, &st)) {
			snprintf(why, whysz, "@%s: a status (400-599) goes with an error before the "
				 "stream only", at);
			return KC_EINVAL;
		}
		f->status = (int)st;
	}
	const char *ec = code ? code : kinds[k].error_code;
	if (strlen(ec) >= sizeof(f->error_code) || strpbrk(ec, "\"\\")) {
		snprintf(why, whysz, "ErrorCode '%s': at most %zu characters, no quotes", ec,
			 sizeof(f->error_code) - 1);
		return KC_EINVAL;
	}
	snprintf(f->error_code, sizeof(f->error_code), "%s", ec);
	return KC_OK;
}

int kc_bidi_fault_errors_parse(struct kc_bidi_profile *p, const char *spec, char *why,
			       size_t whysz)
{
	char buf[1024];
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(why, whysz, "too long");
		return KC_EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	char *save = NULL;
	for (char *it = strtok_r(buf, ", ", &save); it; it = strtok_r(NULL, ", ", &save)) {
		if (p->n_fault_errors >= KC_BIDI_FAULT_ERRORS_MAX) {
			snprintf(why, whysz, "at most %d items", KC_BIDI_FAULT_ERRORS_MAX);
			return KC_EINVAL;
		}
		int rc = parse_item(&p->fault_errors[p->n_fault_errors], it, why, whysz);
		if (rc)
			return rc;
		p->n_fault_errors++;
	}
	return KC_OK;
}

const struct kc_bidi_fault_error *kc_bidi_fault_error_for(const struct kc_bidi_profile *p,
							  uint64_t n, bool before)
{
	for (int i = 0; i < p->n_fault_errors; i++)
		if (p->fault_errors[i].stream == n && (p->fault_errors[i].status != 0) == before)
			return &p->fault_errors[i];
	return NULL;
}

size_t kc_bidi_fault_error_json(const struct kc_bidi_fault_error *f, char *buf, size_t bufsz)
{
	bool code = f->error_code[0] != '\0';
	int n = snprintf(buf, bufsz, "{\"Message\":\"kneecap emulator: injected %s\"%s%s%s%s}",
			 f->type, code ? ",\"ErrorCode\":\"" : "", f->error_code, code ? "\"" : "",
			 !strcmp(f->type, "ModelError") ? ",\"OriginalStatusCode\":500" : "");
	return n > 0 && (size_t)n < bufsz ? (size_t)n : 0;
}
