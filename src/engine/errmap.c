/*
 * errmap.c - which step error class a SageMaker error counts as: the one
 * mapping from the aws layer's SageMaker classes (kneecap/sagemaker.h) to
 * the engine's step classes (kneecap/step.h), shared by the unary drivers'
 * accounting (acct.c) and the stream driver (streamerr.c).
 */
#include "kneecap/engine.h"

enum kc_errclass kc_engine_sm_errclass(enum kc_sm_errclass c, int status)
{
	switch (c) {
	case KC_SM_ERR_MODEL: return KC_EC_MODEL;
	case KC_SM_ERR_THROTTLE: return KC_EC_THROTTLE;
	case KC_SM_ERR_AUTH: return KC_EC_AUTH;
	case KC_SM_ERR_VALIDATION: return KC_EC_HTTP4XX;
	case KC_SM_ERR_UNAVAILABLE:
	case KC_SM_ERR_INTERNAL: return KC_EC_HTTP5XX;
	case KC_SM_ERR_NONE:
	case KC_SM_ERR_OTHER:
	case KC_SM_ERR_COUNT: break;
	}
	if (c == KC_SM_ERR_OTHER && status >= 400 && status <= 499)
		return KC_EC_HTTP4XX;
	if (c == KC_SM_ERR_OTHER && status >= 500 && status <= 599)
		return KC_EC_HTTP5XX;
	return KC_EC_OTHER;
}

enum kc_errclass kc_engine_stream_exception_class(const char *type, size_t len)
{
	switch (kc_sagemaker_stream_exception(type, len)) {
	case KC_SM_EXC_MODEL: return KC_EC_MODEL_STREAM;
	case KC_SM_EXC_INTERNAL: return KC_EC_INTERNAL_STREAM;
	case KC_SM_EXC_OTHER: break;
	}
	return KC_EC_STREAM;
}
