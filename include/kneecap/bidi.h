/*
 * bidi.h - the emulator's streaming half: SageMaker's
 * InvokeEndpointWithBidirectionalStream (aws-wire.md 3) over HTTP/2 with a
 * stream-count latency model whose stream limit is known exactly.
 *
 * An HTTP/2 server (h2c with prior knowledge on a plain TCP socket, or TLS
 * with ALPN h2 and a self-signed certificate made at start) run by its own
 * thread.  It serves POST /endpoints/NAME/invocations-bidirectional-
 * stream: it answers the 200 headers at once, decodes the request DATA as
 * signed outer event messages, optionally verifies the SigV4 seed and the
 * event chain, and answers every inner PayloadPart with one response
 * PayloadPart after the model's service time.  The client's final empty
 * signed frame + END_STREAM is answered, once every pending reply is out,
 * with END_STREAM.
 *
 * The model (per instance; streams are placed on instances round-robin):
 *
 *     L(n) = L0            when n <= S
 *     L(n) = L0 * n / S    when n >  S   (processor sharing)
 *
 * where n is the number of streams open on the instance when the chunk
 * arrives, L0 = stream_base_latency and S = stream_limit.  A reply is due
 * at arrival + L(n) (never before the stream's previous reply), so under
 * a steady K streams per instance every reply takes exactly L(K) and the
 * largest K whose latency stays under a bound B is floor(B * S / L0)
 * (0 when L0 > B): kc_bidi_model_limit().
 *
 * With verification on, a session token of the form kneecap-expires-SECONDS
 * (Unix time) is refused with 403 ExpiredTokenException once that time has
 * passed: how tests see whether a long run refreshes its credentials.
 *
 * Not here: WebSocket to a container, HTTP/1.1.
 */
#ifndef KNEECAP_BIDI_H
#define KNEECAP_BIDI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;
struct kc_scenario;

#define KC_BIDI_PATH_SUFFIX "/invocations-bidirectional-stream"

#define KC_BIDI_FAULT_ERRORS_MAX 8

/*
 * One injected stream error (stream_fault_error).  Before the stream
 * (status != 0): the Nth stream's request is answered with status,
 * x-amzn-errortype TYPE and a JSON body {"Message","ErrorCode"}.  Inside it
 * (status 0, TYPE ModelStreamError or InternalStreamFailure): at its first
 * chunk the stream gets that exception event, then END_STREAM.
 */
struct kc_bidi_fault_error {
	uint64_t stream;      /* 1-based, numbered as the other one-shot faults */
	char type[32];
	int status;
	char error_code[48];  /* the ErrorCode member; "" = none */
};

struct kc_bidi_profile {
	int instances;              /* stream_instances: 1 */
	int stream_limit;           /* S: streams at base latency; 8 */
	int64_t base_latency_ns;    /* L0: stream_base_latency; 300 ms */
	uint32_t max_concurrent;    /* SETTINGS_MAX_CONCURRENT_STREAMS per connection; 100 */
	uint32_t max_streams;       /* stream slots of the whole server; 16384 */
	bool verify;                /* stream_verify: check SigV4 + event chain
				     * when credentials are set; true */
	char variant[64];           /* x-amzn-invoked-production-variant */
	char akid[128];             /* credentials the emulator verifies with; "" = none */
	char secret[128];           /* never printed or logged */
	char region[32];
	/* One-shot faults (0 = off), counted from the server's start. */
	uint64_t fault_goaway_after;  /* after the Nth stream opens: GOAWAY + close its connection */
	uint64_t fault_reset_stream;  /* RST_STREAM the Nth stream at its first chunk */
	uint64_t fault_corrupt_reply; /* flip a CRC byte of the Nth reply overall */
	struct kc_bidi_fault_error fault_errors[KC_BIDI_FAULT_ERRORS_MAX];
	int n_fault_errors;           /* stream_fault_error items */
	bool tls;                     /* stream_tls: TLS + ALPN h2 instead of h2c */
	const char *tls_cert_out;     /* with tls: the self-signed certificate (PEM)
				       * is written here for clients (borrowed) */
	const char *capture_path;     /* test hook: raw request DATA of stream
				       * number capture_stream is written here
				       * (borrowed) */
	uint64_t capture_stream;      /* 1-based; 0 means 1 */
};

/* Fills the defaults named above (the g5.2xlarge-like profile: 10 streams
 * under 400 ms mean). */
void kc_bidi_profile_defaults(struct kc_bidi_profile *p);

/*
 * Applies the streaming keys of sc's [emulator] section onto p:
 * stream_instances, stream_limit, stream_base_latency (duration; bare = ms),
 * stream_max_concurrent, stream_max_streams, stream_verify, stream_tls,
 * stream_fault_goaway_after, stream_fault_reset, stream_fault_corrupt,
 * stream_fault_error (kc_bidi_fault_errors_parse).
 * Marks what it read as used.  The variant and the SigV4 credentials belong
 * to the unary half's profile (kc_emu_profile); the caller copies them.
 * Returns 0 or KC_EINVAL with d naming file, line and key.  sc may be NULL.
 */
int kc_bidi_profile_from_scenario(struct kc_scenario *sc,
				  struct kc_bidi_profile *p, struct kc_diag *d);

/*
 * Parses stream_fault_error: comma-separated N:TYPE[@STATUS][/ERRORCODE]
 * items appended to p.  TYPE is InputValidationError (400), ModelError
 * (424), InternalServerError (500), ServiceUnavailableError (503),
 * ThrottlingException (400, as SageMaker's unary API sends it;
 * @429 for the other shape), ModelStreamError (ErrorCode
 * ModelInvocationTimeExceeded unless given) or InternalStreamFailure.
 * Returns 0, or KC_EINVAL with why (whysz bytes) saying what is wrong.
 */
int kc_bidi_fault_errors_parse(struct kc_bidi_profile *p, const char *spec, char *why,
			       size_t whysz);

/* The item of p's stream_fault_error for stream n, before or inside the stream; or NULL. */
const struct kc_bidi_fault_error *kc_bidi_fault_error_for(const struct kc_bidi_profile *p,
							  uint64_t n, bool before);

/* Writes f's JSON body {"Message","ErrorCode"} into buf; its length (0: did not fit). */
size_t kc_bidi_fault_error_json(const struct kc_bidi_fault_error *f, char *buf, size_t bufsz);

/* Checks ranges.  Returns 0 or KC_EINVAL (d says which key). */
int kc_bidi_profile_check(const struct kc_bidi_profile *p, struct kc_diag *d);

/* The model's reply latency in ns with n streams on one instance (n >= 1). */
int64_t kc_bidi_model_latency_ns(const struct kc_bidi_profile *p, int64_t n);

/*
 * The exact stream limit of the whole server under bound_ns: instances x
 * (largest n per instance with L(n) <= bound_ns).  0 when L0 > bound.
 */
int64_t kc_bidi_model_limit(const struct kc_bidi_profile *p, int64_t bound_ns);

/*
 * The Smithy patterns of aws-wire.md 3.2, checked by the emulator (400 when
 * broken) and by the CLI before a run.  Invocation path: <= 100 bytes,
 * segments of [A-Za-z0-9._-] joined by '/', no leading slash.  Query
 * string: <= 2048 bytes, key=value pairs joined by '&'; key
 * [a-zA-Z0-9][A-Za-z0-9_-]*, value one or more of [A-Za-z0-9._~-] or %XX.
 */
bool kc_bidi_invocation_path_valid(const char *s);
bool kc_bidi_query_string_valid(const char *s);

/* Counters, for tests and the bench. */
struct kc_bidi_stats {
	uint64_t connections;     /* accepted */
	uint64_t streams_opened;
	uint64_t streams_open;    /* now */
	uint64_t streams_open_max;
	uint64_t chunks;          /* request PayloadParts received */
	uint64_t replies;         /* response PayloadParts sent */
	uint64_t finished;        /* streams ended by the client's empty frame */
	uint64_t bad_frames;      /* undecodable request data (stream reset) */
	uint64_t bad_signatures;  /* failed seed or event verification */
	uint64_t overflows;       /* reply queue full (stream reset) */
	uint64_t goaways, resets, corrupted; /* injected faults */
	uint64_t errors_injected; /* stream_fault_error items carried out */
	uint64_t expired_tokens;  /* seeds refused: a kneecap-expires- token past its time */
	uint64_t tls_handshakes;  /* completed, ALPN h2 */
	uint64_t invocation_paths; /* streams that named a model invocation path */
	uint64_t query_strings;    /* streams that carried a model query string */
};

struct kc_bidi;

/*
 * Starts the server for profile p (copied) on listen_addr ("127.0.0.1:0",
 * "[::1]:0"; port 0 picks a free port) with its own thread.  Allocates its
 * stream slots now.  Returns 0 and sets *out, or KC_EINVAL (bad profile or
 * address), KC_EIO (socket/bind/listen), KC_ENOMEM, KC_EINTERNAL (thread);
 * d says why and *out is untouched on failure.
 */
int kc_bidi_start(const struct kc_bidi_profile *p, const char *listen_addr,
		  struct kc_bidi **out, struct kc_diag *d);

/* The TCP port it listens on. */
int kc_bidi_port(const struct kc_bidi *b);

/* A snapshot of the counters; thread-safe. */
void kc_bidi_stats(struct kc_bidi *b, struct kc_bidi_stats *out);

/* Stops the thread, closes every connection and frees b; b may be NULL. */
void kc_bidi_stop(struct kc_bidi *b);

#endif
