/*
 * emulator.h - `kneecap serve`: a stand-in for one SageMaker real-time
 * endpoint whose capacity is known exactly.
 *
 * The emulator answers SageMaker's runtime path over HTTP/1.1
 * (POST /endpoints/NAME/invocations), GET /ping and GET /emulator/stats.
 * Behind the endpoint sit `instances` model instances (round-robin), each
 * with `slots` accelerator slots and a FIFO queue; service is driven by
 * timers, so the queue grows exactly when the offered load exceeds
 *
 *     nominal capacity = instances * slots / mean service time.
 *
 * A profile (struct kc_emu_profile) says what to emulate; it comes from the
 * [emulator] section of a scenario file and from `kneecap serve` flags.
 * Every scenario key is also a flag: key `service_time` is `--service-time`.
 *
 * What it answers (X-Amzn-ErrorType header and a JSON {"message": ...} body
 * on every error, as aws-wire.md section 1.8 lists):
 *   200  tag probabilities (a pure function of the body's bytes), with
 *        x-Amzn-Invoked-Production-Variant and x-amzn-RequestId
 *   400  ValidationError: endpoint name not the configured one, or not a
 *        valid SageMaker name
 *   413  ValidationError: body over body_bytes_max (6 MiB).  The issue asks
 *        for 413; AWS's exact answer is uncertain (aws-wire.md 1.8 guesses
 *        400).  A Content-Length over the limit is answered before the body
 *        is read and the connection is closed; a chunked body is drained
 *        (dropped past 64 MiB) and then answered.
 *   424  ModelError with OriginalStatusCode/OriginalMessage/LogStreamArn:
 *        a non-JPEG body for input = jpeg (original status 400), or the
 *        invocation timeout (original status 0, see below)
 *   403  InvalidSignatureException / UnrecognizedClientException /
 *        MissingAuthenticationTokenException when SigV4 verification is on
 *   queue_full_error (503 ServiceUnavailable by default) when an instance's
 *        queue holds queue_limit waiting requests
 *   injected errors (fault_error); 404 and 405 for other paths and methods.
 *
 * Timeout: a request whose queue wait plus service would end more than
 * timeout_ns after its headers arrived is answered 424 at exactly that
 * moment and never occupies a slot (the model server drops expired work),
 * so a long overload fails requests at SageMaker's 60 s instead of serving
 * them late.
 *
 * Faults: 400/429/503/530 are raised by the front end at once; 424/500 come
 * back after the request's service time.  A reset closes the socket with
 * RST where the answer would have gone.  A stall holds every invocation
 * answer due inside the window until it ends (the model keeps working;
 * /ping and /emulator/stats stay live so tests can watch).  Slow answers
 * send slow_chunk_bytes every slow_interval_ns.  After close_after answers
 * the server stops listening (connects are refused) and drops every later
 * request on open connections, like a dead process, until stopped.
 *
 * HTTP/2 (h2_listen): a second listener, h2c with prior knowledge or TLS
 * with ALPN h2 (h2_mode), answers the same paths with the same semantics
 * from the same model, so both protocols share one queue and one capacity.
 * There a reset fault is an RST_STREAM (INTERNAL_ERROR), fault_reset_mid
 * sends the headers and half the body and then RST_STREAM, and a dead
 * server closes every HTTP/2 connection and its listener.
 *
 * Response streams (InvokeEndpointWithResponseStream, aws-wire.md 2):
 * POST /endpoints/NAME/invocations-response-stream goes through the same
 * checks, model and faults; its 200 is Content-Type
 * application/vnd.amazon.eventstream, sent chunked: stream_parts PayloadPart
 * messages whose payloads, concatenated, are the JSON /invocations would
 * answer; the first leaves when the model is done, then one every
 * stream_part_gap (the slot is free by then: streaming does not change the
 * nominal capacity).  fault_stream_error replaces the rest of the stream,
 * after half the parts, with a ModelStreamError exception event
 * (ErrorCode StreamBroken); fault_reset_mid resets the connection after half
 * the parts; fault_slow does not apply.  Errors before the stream are the
 * usual JSON answers.
 *
 * Not here: the bidirectional stream path (bidi.h), TLS on HTTP/1.1,
 * response streams over HTTP/2 (answered 400 ValidationError there).
 */
#ifndef KNEECAP_EMULATOR_H
#define KNEECAP_EMULATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;
struct kc_scenario;

/* SageMaker's request body limit (BodyBlob max in the service model). */
#define KC_EMU_BODY_MAX_DEFAULT ((uint64_t)6 * 1024 * 1024)
/* How many distinct injected error statuses a profile may list. */
#define KC_EMU_FAULT_ERRORS_MAX 8

enum kc_emu_dist {
	KC_EMU_DIST_FIXED,     /* every request takes service_ns_mean */
	KC_EMU_DIST_LOGNORMAL, /* lognormal with that mean and service_cv */
};

/* What the real CPU stage does with the request's JPEG (input = jpeg). */
enum kc_emu_decode {
	KC_EMU_DECODE_FULL,   /* tjDecompress2 at full size */
	KC_EMU_DECODE_SCALED, /* tjDecompress2 at 1/8 scale: cheap at high rates */
	KC_EMU_DECODE_HEADER, /* tjDecompressHeader3 only */
	KC_EMU_DECODE_OFF,    /* only the JPEG SOI marker is checked */
};

/* What the model expects as a request body. */
enum kc_emu_input {
	KC_EMU_INPUT_JPEG, /* an image: a non-JPEG body is a ModelError (424) */
	KC_EMU_INPUT_ANY,  /* any bytes: no CPU stage */
};

/* The error a full queue answers with (queue_limit reached). */
enum kc_emu_overload {
	KC_EMU_OVERLOAD_UNAVAILABLE, /* 503 ServiceUnavailable */
	KC_EMU_OVERLOAD_THROTTLING,  /* 400 ThrottlingException */
	KC_EMU_OVERLOAD_NOT_READY,   /* 429 ModelNotReadyException */
};

/* The HTTP/2 face's transport. */
enum kc_emu_h2_mode {
	KC_EMU_H2_H2C, /* cleartext, prior knowledge */
	KC_EMU_H2_TLS, /* TLS with ALPN h2, self-signed certificate made at start */
};

/* Inference components hosted on the endpoint (SageMaker's newer hosting):
 * each its own copies x slots behind one FIFO per copy, like instances. */
#define KC_EMU_COMPONENTS_MAX 8
struct kc_emu_component {
	char name[64];        /* InferenceComponentName, SageMaker's name pattern */
	int copies;           /* 1..1024, round-robin */
	int slots;            /* concurrent requests per copy */
	int64_t service_ns;   /* mean service time; 0 = the profile's service_time */
};

/* One injected error: answer `status` with probability `prob` per request. */
struct kc_emu_fault_error {
	int status; /* 400, 424, 429, 500, 503 or 530 */
	double prob;
};

struct kc_emu_faults {
	struct kc_emu_fault_error errors[KC_EMU_FAULT_ERRORS_MAX];
	int n_errors;
	double reset_prob;        /* drop the connection (RST) instead of answering */
	int64_t stall_ns;         /* freeze every response for this long ... */
	int64_t stall_every_ns;   /* ... every this often (0: once) ... */
	int64_t stall_at_ns;      /* ... first at this offset from start (-1: one period) */
	double slow_prob;         /* trickle the response body ... */
	int64_t slow_chunk_bytes; /* ... this many bytes ... */
	int64_t slow_interval_ns; /* ... every this often */
	int64_t close_after;      /* after this many invocations the server dies (0: never) */
	double reset_mid_prob;    /* send the headers and half the body, then RST */
	double stream_error_prob; /* response stream: a ModelStreamError after half the parts */
};

struct kc_emu_profile {
	char endpoint_name[64]; /* "" accepts any name; else others get ValidationError */
	char variant[64];       /* x-Amzn-Invoked-Production-Variant */
	int instances;          /* behind the endpoint, round-robin */
	int slots;              /* concurrent accelerator slots per instance */
	enum kc_emu_dist service_dist;
	int64_t service_ns_mean; /* accelerator time per request */
	double service_cv;       /* coefficient of variation (lognormal) */
	int64_t timeout_ns;      /* SageMaker's invocation timeout (60 s) */
	int64_t queue_limit;     /* waiting requests per instance (0: no limit) */
	enum kc_emu_overload queue_full_error;
	enum kc_emu_input input;
	enum kc_emu_decode cpu_decode;
	int threads;             /* HTTP worker threads (the instance's vCPUs), per face */
	int max_connections;     /* HTTP/1.1: what one client may open at once;
				  * the face takes a reserve more (see
				  * kc_emu_profile_conn_limit) for the others */
	int max_connections_per_client; /* HTTP/1.1 connections one client address
					 * may hold; 0 = max(64, max_connections / 4),
					 * at most max_connections */
	int64_t header_timeout_ns; /* HTTP/1.1: a request's headers must be in
				    * within this of the connection (or, on a
				    * kept-alive one, of the next request's first
				    * byte) */
	int64_t keepalive_timeout_ns; /* HTTP/1.1: a kept-alive connection that
				       * sends nothing this long after an answer
				       * is closed */
	int64_t body_timeout_ns;   /* HTTP/1.1: a request body that sends nothing
				    * for this long closes the connection */
	uint64_t body_bytes_max; /* larger bodies get 413 */
	uint64_t seed;           /* RNG seed: service times and faults */
	struct kc_emu_faults faults;
	char sigv4_akid[128];    /* verification on when non-empty */
	char sigv4_secret[128];  /* never printed or logged */
	char sigv4_region[32];
	char h2_listen[64];       /* HTTP/2 listener HOST:PORT; "" = none */
	enum kc_emu_h2_mode h2_mode;
	char h2_cert_out[256];    /* tls: the certificate's PEM is written here ("" = not) */
	int h2_max_concurrent;    /* SETTINGS_MAX_CONCURRENT_STREAMS per connection */
	int h2_max_streams;       /* open streams over all HTTP/2 connections */
	int64_t h2_idle_timeout_ns;      /* a connection silent this long closes; a
					  * stream still sending its request after it
					  * is reset (libmicrohttpd's 300 s) */
	int64_t h2_handshake_timeout_ns; /* preface (and TLS handshake) due within */
	uint64_t h2_body_bytes_max; /* request bodies the HTTP/2 face stores at
				     * once; past it 503 */
	/* components = NAME:COPIESxSLOTS[@SERVICE], ... (key `components`):
	 * then every invocation must name one of them in
	 * X-Amzn-SageMaker-Inference-Component (400 ValidationError otherwise)
	 * and `instances`/`slots` do not apply. */
	struct kc_emu_component components[KC_EMU_COMPONENTS_MAX];
	int n_components;
	/* Serverless (serverless_max_concurrency > 0): one pool of
	 * MaxConcurrency units, each serving one request at a time; an
	 * invocation beyond it is throttled (400 ThrottlingException); one that
	 * finds no warm unit free waits serverless_cold_start first.  A unit
	 * stays warm serverless_idle after its last answer; the first
	 * serverless_provisioned units are always warm (provisioned
	 * concurrency).  `instances`/`slots` do not apply. */
	int serverless_max_concurrency; /* 1..200; 0 = not serverless */
	int serverless_memory_mb;       /* 1024..6144 in 1024 steps (reported) */
	int64_t serverless_cold_start_ns;
	int64_t serverless_idle_ns;
	int serverless_provisioned;     /* 0..max_concurrency */
	int stream_parts;            /* response stream: PayloadParts per answer (1..100) */
	int64_t stream_part_gap_ns;  /* ... the first when the model is done, then one per gap */
	/* The CloudWatch face (cwface.c): a listener answering GetMetricData
	 * (query protocol) and DescribeScalingPolicies (JSON 1.1) from the
	 * model's own per-period counters. */
	char metrics_listen[64];     /* HOST:PORT; "" = no face */
	int64_t metric_period_ns;    /* publication period (CloudWatch: 60 s) */
	double cpu_ms_per_request;   /* CPU time one request costs the instance */
	int vcpus;                   /* the instance type's vCPUs (CPUUtilization's 100% each) */
	char instance_type[64];      /* serve: vcpus from data/instance-types.csv ("" = vcpus) */
	double gpu_memory_util;      /* GPUMemoryUtilization: the model's footprint, % */
	int cloudwatch_deny;         /* 1: every metrics call answers AccessDenied */
	char scaling_policy[128];    /* "METRIC=TARGET" DescribeScalingPolicies reports */
};

/* The per-client connection cap the HTTP/1.1 face applies (resolves 0:
 * max(64, max_connections / 4), at most max_connections). */
int kc_emu_profile_client_cap(const struct kc_emu_profile *p);

/*
 * The HTTP/1.1 face's connection limit: max_connections (with the default
 * per-client cap, at least four times that cap) plus a reserve of
 * max(16, max_connections / 8), so a few addresses at their cap can never
 * take the last connections (GET /ping, other clients).
 */
int kc_emu_profile_conn_limit(const struct kc_emu_profile *p);

/* Fills p with the defaults: the seed case (1 instance x 2 slots x 40 ms). */
void kc_emu_profile_defaults(struct kc_emu_profile *p);

/*
 * Applies the [emulator] section of sc onto p: keys present replace p's
 * values, absent keys leave them.  Marks the keys it read as used.  Returns
 * 0, or KC_EINVAL with d naming file, line and key.  sc may be NULL.
 * On failure p may be partly updated (the caller discards it).
 */
int kc_emu_profile_from_scenario(struct kc_scenario *sc,
				 struct kc_emu_profile *p, struct kc_diag *d);

/*
 * Sets one key from text, as a `kneecap serve --KEY VALUE` flag does.  key
 * uses the scenario spelling (service_time) or the flag one (service-time).
 * `fault_error` appends one or more STATUS:PROB items.  Returns 0,
 * KC_ENOTFOUND (no such key) or KC_EINVAL (d says why).
 */
int kc_emu_profile_set(struct kc_emu_profile *p, const char *key,
		       const char *value, struct kc_diag *d);

/* True when key (either spelling) is a profile key. */
bool kc_emu_profile_has_key(const char *key);

/* Checks cross-key rules (fault probabilities sum to <= 1, ...). Returns 0 or KC_EINVAL. */
int kc_emu_profile_check(const struct kc_emu_profile *p, struct kc_diag *d);

/* instances * slots / mean service time, in requests per second. */
double kc_emu_profile_capacity_rps(const struct kc_emu_profile *p);

/*
 * One line for humans: "1 instance x 2 slots, fixed 40ms service -> 50.0
 * RPS nominal".  Never contains the SigV4 secret.  Returns out.
 */
char *kc_emu_profile_describe(const struct kc_emu_profile *p, char *out,
			      size_t outsz);

struct kc_emu;

/* Error classes counted by the emulator (index into kc_emu_stats.errors). */
enum kc_emu_err_class {
	KC_EMU_ERRC_MODEL,      /* 424: the model rejected the input (not a JPEG) */
	KC_EMU_ERRC_TIMEOUT,    /* 424: queue wait + service would pass the timeout */
	KC_EMU_ERRC_OVERLOAD,   /* queue_limit reached */
	KC_EMU_ERRC_INJECTED,   /* fault_error */
	KC_EMU_ERRC_VALIDATION, /* 400: unknown endpoint name */
	KC_EMU_ERRC_TOO_LARGE,  /* 413: body over body_bytes_max */
	KC_EMU_ERRC_SIGNATURE,  /* 403: SigV4 verification failed */
	KC_EMU_ERRC_NOT_FOUND,  /* 404: unknown path */
	KC_EMU_ERRC_METHOD,     /* 405: wrong method on a known path */
	KC_EMU_ERRC_RESET,      /* fault_reset: connection dropped */
	KC_EMU_ERRC_DEAD,       /* dropped after fault_close_after */
	KC_EMU_ERRC_INTERNAL,   /* 500/503 from the emulator itself (pool full, stopping) */
	KC_EMU_ERRC_STREAM,     /* fault_stream_error: a response stream ended by an exception */
	KC_EMU_ERRC_COUNT
};

struct kc_emu_stats {
	double capacity_rps;   /* nominal */
	int instances, slots;
	int64_t uptime_ns;
	int64_t received;      /* invocations whose body arrived */
	int64_t served;        /* 200 responses queued */
	int64_t errors[KC_EMU_ERRC_COUNT];
	int64_t queue_depth;   /* waiting, all instances, now */
	int64_t queue_depth_max;
	int64_t in_service;    /* occupying a slot now */
	int64_t in_flight;     /* admitted, response not yet sent */
	double latency_ms_mean; /* served: body received -> response ready */
	double wait_ms_mean;    /* served: time queued before a slot */
	double service_ms_mean; /* served: drawn service times */
	bool dead;              /* fault_close_after tripped */
	int64_t closed_header_timeout; /* HTTP/1.1 connections closed for slow headers */
	int64_t closed_body_timeout;   /* ... for a request body that stopped */
	int64_t closed_keepalive_timeout; /* kept-alive HTTP/1.1 connections closed
					   * after keepalive_timeout of silence */
};

/*
 * Starts an emulator for profile p (copied) listening on listen_addr
 * ("127.0.0.1:0", "[::1]:8080", "0.0.0.0:8080"; port 0 picks a free port).
 * Runs its own threads until kc_emu_stop.  Returns 0 and sets *out, or
 * KC_EINVAL (bad profile or address), KC_EIO (bind/listen failed), KC_ENOMEM;
 * d says why and *out is untouched on failure.
 */
int kc_emu_start(const struct kc_emu_profile *p, const char *listen_addr,
		 struct kc_emu **out, struct kc_diag *d);

/* The CloudWatch face's port (profile metrics_listen), or -1 when none. */
int kc_emu_metrics_port(const struct kc_emu *e);
/* The TCP port it listens on (the real one when 0 was asked). */
int kc_emu_port(const struct kc_emu *e);

/* The HTTP/2 listener's port (profile h2_listen), or -1 when there is none. */
int kc_emu_h2_port(const struct kc_emu *e);

/* Copies a consistent snapshot of the counters into *out; thread-safe. */
void kc_emu_stats(struct kc_emu *e, struct kc_emu_stats *out);

/*
 * Answers what is still pending with 503, stops the threads, closes the
 * socket and frees e.  e may be NULL.  Not to be called from a handler.
 */
void kc_emu_stop(struct kc_emu *e);

#endif
