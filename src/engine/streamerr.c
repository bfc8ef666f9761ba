/*
 * streamerr.c - the stream driver's error reading: one classification for
 * errors before and inside a bidirectional stream, sharing the unary path's
 * SageMaker rules (kc_sagemaker_parse_error) so "throttle", "model" and the
 * rest mean the same in run, find and streams.  Runs only on the error path:
 * jansson allocates here, the driver's hot path never comes here.
 */
#include "streamerr.h"

#include <stdio.h>
#include <string.h>

#include "kneecap/engine.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scrub.h"

static struct kc_error_sample *room(struct kc_serr_samples *k, enum kc_errclass ec)
{
	int same = 0;
	for (int i = 0; i < k->n; i++)
		same += k->s[i].cls == ec;
	if (same >= 2 || k->n >= KC_STEP_MAX_SAMPLES)
		return NULL;
	struct kc_error_sample *x = &k->s[k->n++];
	memset(x, 0, sizeof(*x));
	x->cls = ec;
	return x;
}

/* Fills x from a parsed error; what a peer says may echo our credentials. */
static void fill(struct kc_error_sample *x, int status, const char *code,
		 const struct kc_sm_error *e)
{
	x->status = status;
	kc_scrub_copy(code, strlen(code), x->code, sizeof(x->code), 0);
	kc_scrub_copy(e->error_code, strlen(e->error_code), x->error_code,
		      sizeof(x->error_code), 0);
	kc_scrub_copy(e->message, strlen(e->message), x->message, sizeof(x->message), 0);
}

enum kc_errclass kc_serr_prestream(struct kc_serr_samples *k, bool keep, int status,
				   const char *errtype, size_t errtype_len,
				   const void *body, size_t body_len)
{
	struct kc_sm_error e;
	kc_sagemaker_parse_error(status, errtype_len ? errtype : NULL, errtype_len, body,
				 body_len, KC_SM_PARSE_MESSAGE, &e);
	enum kc_errclass ec = kc_engine_sm_errclass(e.cls, status);
	struct kc_error_sample *x = keep ? room(k, ec) : NULL;
	if (x)
		fill(x, status, e.code, &e);
	return ec;
}

/* A string header's value, "" when absent or not a string. */
static void header(const struct kc_es_message *m, const char *name, char *out, size_t outsz)
{
	const struct kc_es_header *h = kc_es_find(m, name);
	out[0] = '\0';
	if (!h || h->type != KC_ES_STRING)
		return;
	size_t n = h->len < outsz - 1 ? h->len : outsz - 1;
	memcpy(out, h->bytes, n);
	out[n] = '\0';
}

enum kc_errclass kc_serr_event(struct kc_serr_samples *k, bool keep,
			       const struct kc_es_message *m)
{
	char mt[16], type[KC_SM_ERR_CODE_MAX];
	header(m, ":message-type", mt, sizeof(mt));
	bool exception = !strcmp(mt, "exception");
	header(m, exception ? ":exception-type" : ":error-code", type, sizeof(type));
	enum kc_errclass ec = exception ? kc_engine_stream_exception_class(type, strlen(type))
					: KC_EC_STREAM;
	struct kc_error_sample *x = keep ? room(k, ec) : NULL;
	if (!x)
		return ec;
	struct kc_sm_error e;
	if (exception) {
		/* payload {"Message": ..., "ErrorCode": ...} */
		kc_sagemaker_parse_error(0, type, strlen(type), m->payload, m->payload_len,
					 KC_SM_PARSE_MESSAGE, &e);
	} else {
		memset(&e, 0, sizeof(e));
		char msg[KC_SM_ERR_MSG_MAX];
		header(m, ":error-message", msg, sizeof(msg));
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		snprintf(e.message, sizeof(e.message), "%s", msg);
	}
	fill(x, 200, type[0] ? type : (exception ? "exception" : "error"), &e);
	return ec;
}

void kc_serr_merge(struct kc_error_sample *dst, int *ndst, const struct kc_serr_samples *src)
{
	for (int i = 0; i < src->n && *ndst < KC_STEP_MAX_SAMPLES; i++) {
		int same = 0;
		for (int j = 0; j < *ndst; j++)
			same += dst[j].cls == src->s[i].cls;
		if (same < 2)
			dst[(*ndst)++] = src->s[i];
	}
}
