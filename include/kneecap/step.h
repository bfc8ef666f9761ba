/*
 * step.h - one load step's measured result: the contract between the engine
 * (which fills it), analysis (which judges it) and reports (which render it).
 *
 * Plain data, no behaviour: this header may be included by any layer above
 * stats.  Rates are per second; latencies are milliseconds as doubles; load
 * is requests per second in "rps" mode and concurrent streams in "streams"
 * mode.
 */
#ifndef KNEECAP_STEP_H
#define KNEECAP_STEP_H

#include <stdbool.h>
#include <stdint.h>

struct kc_hdr;

/* Why a request did not succeed.  Append-only: results store the names. */
enum kc_errclass {
	KC_EC_CONNECT,   /* could not connect / resolve / TLS handshake */
	KC_EC_TIMEOUT,   /* request timeout */
	KC_EC_RESET,     /* connection reset or closed mid-request */
	KC_EC_HTTP4XX,   /* other 4xx */
	KC_EC_HTTP5XX,   /* other 5xx */
	KC_EC_SHED,      /* never sent: generator in-flight cap reached */
	KC_EC_THROTTLE,  /* 429 / ThrottlingException */
	KC_EC_AUTH,      /* 401/403, signature or credential errors */
	KC_EC_MODEL,     /* SageMaker ModelError (424) or emulator model error */
	KC_EC_PROTO,     /* malformed response, bad frame, bad CRC */
	KC_EC_OTHER,
	KC_EC_STREAM,      /* response stream: not a valid event stream (bad frame,
			      cut short) or an exception other than ModelStreamError */
	KC_EC_MODEL_STREAM,/* response stream: a ModelStreamError exception event */
	KC_EC_UNFINISHED,  /* no outcome when the step ended: still on a connection or
			      waiting for one at the drain deadline or at a stop */
	KC_EC_INTERNAL_STREAM, /* an InternalStreamFailure exception event: a service
				  fault inside the stream, not the model's */
	KC_EC_COUNT
};

/* Returns the stable lower-case name of an error class ("connect", ...). */
const char *kc_errclass_name(enum kc_errclass c);

/* Latency percentiles in milliseconds. */
struct kc_latency {
	double p50, p90, p99, p999, max, mean;
	int64_t count;
};

#define KC_STEP_MAX_CODES 16
#define KC_STEP_MAX_SAMPLES 8   /* error responses kept per step, at most 2 per class */

/* One error response kept for the reader: what the endpoint said, verbatim-ish. */
struct kc_error_sample {
	enum kc_errclass cls;
	int status;                /* HTTP status */
	char code[64];             /* error type ("ThrottlingException"), "" when none */
	char message[256];         /* printable, cut; never a credential */
	char error_code[64];       /* the body's ErrorCode member (ModelStreamError:
				      "ModelInvocationTimeExceeded"), "" when none */
};

struct kc_step_result {
	int index;                 /* 0-based order in the run */
	double offered;            /* asked load: rps or streams */
	double achieved;           /* successful completions per second (streams: streams held) */
	int64_t start_wall_ms;     /* measured window start, ms since epoch */
	int64_t duration_ns;       /* measured window (warm-up excluded) */

	uint64_t scheduled;        /* arrivals the schedule produced in the window */
	uint64_t sent;             /* requests put on the wire */
	uint64_t completed;        /* responses received (any status) */
	uint64_t ok;               /* 2xx responses */
	uint64_t errors;           /* sum of errclass[], unfinished included: a request
				      with no answer is never a success */
	uint64_t unfinished;       /* == errclass[KC_EC_UNFINISHED]: measured requests
				      without an outcome when the step ended; each one's
				      time so far (a lower bound of its latency) is in
				      latency and latency_hist */
	uint64_t errclass[KC_EC_COUNT];
	struct { int code; uint64_t count; } codes[KC_STEP_MAX_CODES]; /* HTTP status counts for non-2xx */
	int ncodes;
	struct kc_error_sample samples[KC_STEP_MAX_SAMPLES]; /* the first few error bodies */
	int nsamples;

	struct kc_latency latency; /* from intended send time (coordinated-omission corrected);
				      responses and unfinished requests */
	struct kc_latency service; /* from actual send time */
	struct kc_latency ttfb;    /* time to first byte from actual send */

	/* Response streams (InvokeEndpointWithResponseStream) only: set when
	 * response_stream is true, zero otherwise.  Every PayloadPart of a
	 * measured request counts, whatever the request's outcome. */
	bool response_stream;
	struct kc_latency ttfp;         /* first PayloadPart, from the intended send time */
	struct kc_latency ttfp_service; /* first PayloadPart, from the actual send */
	struct kc_latency part_gap;     /* between consecutive PayloadParts of a response */
	uint64_t parts;                 /* PayloadParts of the ok streams */

	uint32_t inflight_max;
	double inflight_start;     /* mean in-flight over the first second of the window */
	double inflight_end;       /* ... over the last second */
	double inflight_slope;     /* least-squares slope of per-second in-flight, per second */

	double lag_p99_ms;         /* generator send lag behind schedule */
	double lag_max_ms;
	double release_slack_ms;   /* open loop: the release slack the workers used */
	double gen_cpu;            /* generator CPU used / (threads * wall), 0..1 */
	bool generator_bound;      /* the client, not the server, fell behind */
	bool partial;              /* interrupted before the window ended */

	/* Owned by the step (freed by kc_step_result_fini); may be NULL. */
	struct kc_hdr *latency_hist; /* microseconds */
	struct kc_hdr *service_hist; /* microseconds */
};

/* Frees the histograms a step owns; s may be NULL. */
void kc_step_result_fini(struct kc_step_result *s);

/* Fills a struct kc_latency (ms) from a histogram recorded in microseconds. */
void kc_latency_from_hdr(struct kc_latency *out, const struct kc_hdr *h_us);

/* The one rate ceiling (requests/s) the engine, the search and every command
 * accept: here, below both engine and analysis, so analysis need not
 * include the engine. */
#define KC_ENGINE_MAX_RATE 1e7

#endif
