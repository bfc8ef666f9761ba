/*
 * sagemaker.h - SageMaker runtime request shapes and error responses.
 *
 * Pure functions over strings and bytes: no I/O, no clock, no signing.
 * They turn `sagemaker:ENDPOINT[/VARIANT]`, a region, an optional
 * --endpoint-url and the optional SageMaker header values into the URL,
 * the SigV4 `host` value and the header list the engine sends and signs;
 * and turn an error response into a code, a message and a class.
 * Wire facts: shared/spec/aws-wire.md sections 1-3 and 7.
 */
#ifndef KNEECAP_SAGEMAKER_H
#define KNEECAP_SAGEMAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kneecap/parse.h"

struct kc_diag;

/* The SigV4 signing name (credential scope service) for all three operations. */
#define KC_SM_SIGNING_NAME "sagemaker"
/* Model limit on request and response bodies (BodyBlob). */
#define KC_SM_BODY_MAX_BYTES 6291456
/* x-amz-content-sha256 value for the bidirectional stream's seed request. */
#define KC_SM_BIDI_PAYLOAD_HASH "STREAMING-AWS4-HMAC-SHA256-EVENTS"
#define KC_SM_EVENTSTREAM_TYPE "application/vnd.amazon.eventstream"

#define KC_SM_NAME_MAX 63

/* True when s is a SageMaker name of 1..max characters (kc_name_ok). */
static inline bool kc_sagemaker_name_fits(const char *s, size_t max)
{
	return kc_name_ok(s, max);
}

/* True when name is a valid endpoint or variant name (1-63 characters); NULL is not. */
static inline bool kc_sagemaker_name_valid(const char *name)
{
	return name && kc_sagemaker_name_fits(name, KC_SM_NAME_MAX);
}

/* A parsed `sagemaker:ENDPOINT[/VARIANT]` target. */
struct kc_sm_target {
	char endpoint[KC_SM_NAME_MAX + 1];
	char variant[KC_SM_NAME_MAX + 1]; /* "" when not given */
};

/*
 * True when s is a SageMaker target ("sagemaker:" prefix); the rest is not
 * checked.  Lets the CLI route a TARGET without parsing it twice.
 */
bool kc_sagemaker_is_target(const char *s);

/*
 * Parses "sagemaker:ENDPOINT" or "sagemaker:ENDPOINT/VARIANT".  Names are
 * 1-63 characters of letters, digits and inner hyphens
 * (^[a-zA-Z0-9](-*[a-zA-Z0-9])*$).  Returns 0, or KC_EINVAL with d saying
 * which part is wrong and why.  *out untouched on failure.
 */
int kc_sagemaker_parse_target(const char *s, struct kc_sm_target *out,
			      struct kc_diag *d);

/* The three runtime operations kneecap drives. */
enum kc_sm_op {
	KC_SM_INVOKE,          /* POST .../invocations, port 443 */
	KC_SM_RESPONSE_STREAM, /* POST .../invocations-response-stream, port 443 */
	KC_SM_BIDI,            /* POST .../invocations-bidirectional-stream, HTTP/2, port 8443 */
};

/* Where a request goes.  All fields NUL-terminated. */
struct kc_sm_url {
	char url[1024];       /* full URL, e.g. https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/x/invocations */
	char scheme[8];       /* "https" or "http" */
	char host[256];       /* host name or IP literal (IPv6 in brackets) */
	int port;             /* actual TCP port */
	char host_header[272]; /* SigV4 host and HTTP/2 :authority: host, plus ":port" when not the scheme default */
	char path[512];       /* absolute path, never with a query */
};

/* Endpoint variants, as botocore's UseFIPS and UseDualStack settings. */
#define KC_SM_FIPS 1u
#define KC_SM_DUALSTACK 2u

/* The partitions kneecap knows (botocore partitions.json), by region prefix. */
enum kc_sm_partition {
	KC_SM_PART_AWS,     /* amazonaws.com, dual-stack api.aws */
	KC_SM_PART_CN,      /* cn-*: amazonaws.com.cn, api.amazonwebservices.com.cn */
	KC_SM_PART_US_GOV,  /* us-gov-*: amazonaws.com, api.aws */
	KC_SM_PART_ISO,     /* us-iso-*: c2s.ic.gov, no dual-stack */
	KC_SM_PART_ISO_B,   /* us-isob-*: sc2s.sgov.gov, no dual-stack */
};

/*
 * The one host table: the host name and port of op in region with the
 * variants (KC_SM_FIPS | KC_SM_DUALSTACK), as the endpoint rule set of
 * sagemaker-runtime 2017-05-13 resolves them (InvokeEndpoint and the
 * response stream, port 443) and as aws-wire.md 3.1 gives them for the
 * bidirectional stream (port 8443; in aws, FIPS is runtime-fips.sagemaker
 * also with dual-stack).  Returns 0, KC_EINVAL (bad region; dual-stack in
 * a partition without it) or KC_ELIMIT (host does not fit hostsz).
 */
int kc_sagemaker_host(enum kc_sm_op op, const char *region, unsigned variants,
		      char *host, size_t hostsz, int *port, struct kc_diag *d);

/*
 * Builds the URL of op for endpoint in region, with the endpoint variants
 * (0, or KC_SM_FIPS | KC_SM_DUALSTACK: the host comes from kc_sagemaker_host).
 * endpoint_url (NULL or "" for none) overrides scheme, host and port as the
 * AWS CLI's --endpoint-url does: used verbatim (no :8443 added for bidi) and
 * any path it has is kept as a prefix.  The default host is
 * runtime.sagemaker.REGION.amazonaws.com (.com.cn for cn-* regions), port
 * 443, or 8443 for KC_SM_BIDI.  Variants with an endpoint_url are
 * KC_EINVAL, as the rule set says ("FIPS and custom endpoint are not
 * supported").  Returns 0, or KC_EINVAL (bad region, endpoint name or
 * endpoint URL: not http/https, has a query, fragment or user info),
 * KC_ELIMIT (too long).  *out untouched on failure.
 */
int kc_sagemaker_build_url_v(enum kc_sm_op op, const char *region,
			     const char *endpoint, const char *endpoint_url,
			     unsigned variants, struct kc_sm_url *out,
			     struct kc_diag *d);

/*
 * The optional request settings (flags or scenario keys).  NULL or "" means
 * not sent.  Constraints from the model are checked by
 * kc_sagemaker_build_headers, per operation.
 */
struct kc_sm_opts {
	const char *content_type;        /* default "application/octet-stream" for invoke */
	const char *accept;              /* Accept (X-Amzn-SageMaker-Accept for response stream) */
	const char *target_variant;      /* also set from the TARGET's /VARIANT */
	const char *target_model;        /* multi-model endpoints; invoke only */
	const char *target_container_hostname;
	const char *custom_attributes;
	const char *inference_id;
	const char *inference_component;
	const char *session_id;          /* NEW_SESSION allowed for invoke only */
	const char *enable_explanations; /* invoke only */
	const char *model_invocation_path; /* bidi only */
	const char *model_query_string;    /* bidi only */
};

#define KC_SM_MAX_HEADERS 16
#define KC_SM_HEADER_VALUE_MAX 2048

/* One header: lower-case name (as HTTP/2 and SigV4 want it) and value. */
struct kc_sm_header {
	char name[48];
	char value[KC_SM_HEADER_VALUE_MAX + 1];
};

struct kc_sm_headers {
	int n;
	struct kc_sm_header h[KC_SM_MAX_HEADERS];
};

/*
 * Validates o for op and writes the headers to send and sign (besides
 * host, x-amz-date, authorization and x-amz-security-token, which the
 * signer adds).  content-type is always present (for bidi it is the
 * event-stream type, plus x-amz-content-sha256 STREAMING-...).  A
 * setting the operation does not accept is KC_EINVAL naming it; a value
 * breaking its constraint is KC_EINVAL naming the header and the rule.
 * Returns 0 or KC_EINVAL; *out untouched on failure.
 */
int kc_sagemaker_build_headers(enum kc_sm_op op, const struct kc_sm_opts *o,
			       struct kc_sm_headers *out, struct kc_diag *d);

/* What kind of failure a SageMaker error response is. */
enum kc_sm_errclass {
	KC_SM_ERR_NONE,        /* 2xx: not an error */
	KC_SM_ERR_MODEL,       /* ModelError / 424: the container failed */
	KC_SM_ERR_THROTTLE,    /* ThrottlingException (even on 400), 429 */
	KC_SM_ERR_UNAVAILABLE, /* ServiceUnavailable / 503 */
	KC_SM_ERR_VALIDATION,  /* ValidationError, other 400s */
	KC_SM_ERR_AUTH,        /* signature, credential, permission: 401/403 */
	KC_SM_ERR_INTERNAL,    /* InternalFailure, InternalDependencyException, other 5xx */
	KC_SM_ERR_OTHER,
	KC_SM_ERR_COUNT
};

#define KC_SM_ERR_CODE_MAX 64
#define KC_SM_ERR_MSG_MAX 512
/* Bodies beyond this are classified from status and header only. */
#define KC_SM_ERR_BODY_PARSE_MAX (64 * 1024)

struct kc_sm_error {
	enum kc_sm_errclass cls;
	int status;                       /* the HTTP status given */
	char code[KC_SM_ERR_CODE_MAX];    /* normalised ("ModelError"); "" when none */
	char message[KC_SM_ERR_MSG_MAX];  /* printable, control characters as blanks; "" when none */
	int original_status;              /* ModelError's OriginalStatusCode; 0 when absent */
	char error_code[KC_SM_ERR_CODE_MAX]; /* the body's ErrorCode member (bidirectional
					      * stream errors, ModelStreamError:
					      * "ModelInvocationTimeExceeded"); "" when none
					      * or the body was not read */
};

/* Flags for kc_sagemaker_parse_error. */
#define KC_SM_PARSE_MESSAGE 1 /* also read the body for the message (allocates) */

/*
 * Classifies an error response.  errtype is the X-Amzn-ErrorType header
 * value (errtype_len bytes, NULL when absent); body is the response body
 * (any bytes: empty, huge, not JSON).  The code comes from the header,
 * else the body's "__type" or "code"; it is normalised by dropping
 * everything from the first ':' and up to the last '#'.  The body is
 * parsed (jansson, which allocates) only when the header has no code or
 * KC_SM_PARSE_MESSAGE is given, and only when it is at most
 * KC_SM_ERR_BODY_PARSE_MAX bytes; so with a header and no flag this call
 * does not allocate.  Signature-error messages are cut before the
 * canonical request they quote (it may contain the session token).
 * Surrounding blanks and CR/LF in errtype are ignored (a raw header line
 * value is fine).  For an exception inside a response event stream, pass
 * status 0, the :exception-type (or :error-code) as errtype and the
 * event payload as body: ModelStreamError classifies as model,
 * InternalStreamFailure as internal.  A 2xx status is KC_SM_ERR_NONE.
 * Never fails, never reads outside the given bytes; *out is always set.
 * Thread-safe.
 */
void kc_sagemaker_parse_error(int status, const char *errtype, size_t errtype_len,
			      const void *body, size_t body_len, unsigned flags,
			      struct kc_sm_error *out);

/* What an exception event inside a response or bidirectional stream is. */
enum kc_sm_exception {
	KC_SM_EXC_MODEL,    /* ModelStreamError: the container failed */
	KC_SM_EXC_INTERNAL, /* InternalStreamFailure: a service fault */
	KC_SM_EXC_OTHER,
};

/* The kind of stream exception event named by :exception-type (type, len). */
enum kc_sm_exception kc_sagemaker_stream_exception(const char *type, size_t len);

/*
 * A one-line hint for the user for a class, printed once per run by the
 * CLI ("check the secret key, the region and the clock"), or NULL.
 */
const char *kc_sagemaker_errclass_hint(enum kc_sm_errclass c);

#endif
