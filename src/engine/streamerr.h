/*
 * streamerr.h - how the stream driver (streams.c) reads a bidirectional
 * stream's errors: the JSON error response before the stream (classified by
 * the unary path's SageMaker rules, sagemaker.h) and the exception events
 * inside it, with the first few kept as samples for result.json.
 * Engine-internal; single-threaded (one per worker).
 */
#ifndef KNEECAP_ENGINE_STREAMERR_H
#define KNEECAP_ENGINE_STREAMERR_H

#include <stdbool.h>
#include <stddef.h>

#include "kneecap/eventstream.h"
#include "kneecap/step.h"

/* Pre-stream error bodies beyond this are cut (classification needs far less). */
#define KC_SERR_BODY_MAX 4096

/* A worker's error samples for one step: at most 2 per class. */
struct kc_serr_samples {
	struct kc_error_sample s[KC_STEP_MAX_SAMPLES];
	int n;
};

/*
 * The class of a non-200 response to a stream's request: status, its
 * x-amzn-errortype (errtype, may be NULL) and body ({"Message","ErrorCode"}
 * or anything), as InvokeEndpoint's errors are classified.  With keep, a
 * sample (code, ErrorCode, scrubbed message) is added when its class has
 * fewer than 2.  Never fails.
 */
enum kc_errclass kc_serr_prestream(struct kc_serr_samples *k, bool keep, int status,
				   const char *errtype, size_t errtype_len,
				   const void *body, size_t body_len);

/*
 * The class of a message inside the stream whose :message-type is not
 * "event": an exception (ModelStreamError → model_stream with its ErrorCode
 * kept, InternalStreamFailure → internal_stream, others → stream) or an
 * unmodelled error (:error-code, :error-message → stream).  With keep, a
 * sample as above (status 200).  Never fails.
 */
enum kc_errclass kc_serr_event(struct kc_serr_samples *k, bool keep,
			       const struct kc_es_message *m);

/* Adds src's samples to dst while dst has room, at most 2 per class. */
void kc_serr_merge(struct kc_error_sample *dst, int *ndst, const struct kc_serr_samples *src);

#endif
