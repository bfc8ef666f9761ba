/*
 * engine.h - the load engine: worker threads driving unary HTTP requests
 * with libcurl (HTTP/1.1, HTTP/2 over TLS) or nghttp2 (h2c), one load step
 * at a time.
 *
 * An engine is made once for a target (URL, method, headers, bodies, HTTP
 * version, TLS, connection pool) and then runs steps: each step is an offered
 * rate (open loop) or a concurrency (closed loop) held for a duration, and
 * yields one struct kc_step_result (kneecap/step.h).  Connections persist
 * between steps, so a search can run many short steps without reconnecting.
 *
 * Open loop: every request has an intended send time from the arrival
 * schedule.  Latency is completion - intended (coordinated-omission correct);
 * service time is completion - actual send; both are kept.  A request whose
 * time has come while every connection is busy waits in the generator (its
 * wait counts in its latency); past max_inflight it is counted as shed.
 *
 * Threads: the engine object is used by one thread (the coordinator).
 * kc_engine_stop() alone may be called from any thread or a signal handler.
 * Workers share nothing on the hot path; the coordinator reads their
 * counters (relaxed atomics) and swaps their interval histograms.
 */
#ifndef KNEECAP_ENGINE_H
#define KNEECAP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kneecap/err.h"
#include "kneecap/sagemaker.h"
#include "kneecap/schedule.h"
#include "kneecap/step.h"

struct kc_hdr;
struct kc_engine; /* opaque */

/* Shape of every histogram the engine records: microseconds, 1 us .. 1 h, 3 digits. */
#define KC_ENGINE_HDR_LOWEST 1
#define KC_ENGINE_HDR_HIGHEST INT64_C(3600000000)
#define KC_ENGINE_HDR_SIGFIGS 3

enum kc_http_version {
	KC_HTTP_1_1,        /* HTTP/1.1 keep-alive */
	KC_HTTP_2,          /* HTTP/2 over TLS (ALPN), HTTP/1.1 over cleartext */
	KC_HTTP_2_PRIOR,    /* h2c with prior knowledge (cleartext HTTP/2) on nghttp2:
			       libcurl before 8.0.0 fails reused h2c connections */
};

/* Parses "1.1", "2" or "h2c". Returns 0 or KC_EPARSE. */
int kc_http_version_parse(const char *s, enum kc_http_version *out);
/* Returns "1.1", "2" or "h2c". */
const char *kc_http_version_name(enum kc_http_version v);

/* Who speaks HTTP/1.1 for the engine (h2c always runs on nghttp2). */
enum kc_client {
	KC_CLIENT_DEFAULT,  /* the native client */
	KC_CLIENT_NATIVE,   /* the engine's own sockets, TLS and llhttp */
	KC_CLIENT_CURL,     /* libcurl for HTTP/1.1 and HTTP/2 over TLS */
};

/* Parses "native" or "curl"; KC_EINVAL otherwise. */
int kc_client_parse(const char *s, enum kc_client *out);

/*
 * One request body, borrowed: data must stay valid and unchanged for the
 * engine's life.  Requests rotate through the bodies without copying.
 * content_type may be NULL (no Content-Type header); sha256_hex (64 hex
 * chars) may be NULL and is passed to the decorator for SigV4.
 */
struct kc_body {
	const void *data;
	size_t len;
	const char *content_type;
	const char *sha256_hex;
};

/* What the decorator learns about the request it may add headers to. */
struct kc_request_info {
	const char *method;        /* "GET", "POST", ... */
	const char *url;           /* the full target URL */
	const char *host;          /* host[:port] as sent in Host/:authority */
	const char *path;          /* path and query, e.g. "/endpoints/x/invocations" */
	size_t body_index;         /* index into the engine's bodies; 0 when none */
	const struct kc_body *body;/* NULL for requests without a body */
	int64_t send_wall_ns;      /* wall-clock time of the send (for X-Amz-Date) */
	uint32_t worker;           /* worker thread index */
	uint32_t slot;             /* connection slot in that worker */
};

/* Bounds of what a decorator may add to one request. */
#define KC_DECOR_MAX_HEADERS 6
/* Room for a 16 KiB session-token line and the other SigV4 lines. */
#define KC_DECOR_BUF_MAX 20480

/*
 * Fixed storage owned by the engine, one per connection slot: the decorator
 * sets line[0..n-1] to complete, NUL-terminated header lines ("Authorization:
 * AWS4-HMAC-SHA256 ...").  The lines may live in buf (what a signer writing
 * into a caller's buffer wants) or anywhere else that stays valid and
 * unchanged until the next decorator call for the same slot.  The engine's
 * curl header list points at the lines, so decorating allocates nothing.
 */
struct kc_decor_out {
	char buf[KC_DECOR_BUF_MAX];
	const char *line[KC_DECOR_MAX_HEADERS];
	int n;
};

/*
 * Called on a worker thread right before each request is sent.  Must be
 * thread-safe (several workers call it concurrently with the same ud),
 * must not block, and should not allocate.  Returns 0 to send, or a
 * negative kc_err to fail this request (counted as KC_EC_AUTH).
 */
typedef int (*kc_engine_decorate_cb)(void *ud, const struct kc_request_info *req,
				     struct kc_decor_out *out);

#define KC_ENGINE_MAX_HEADERS 64

/* Defaults when kc_engine_config leaves connections / streams at 0: the one
 * place they are written down (the commands' --help quote these). */
#define KC_ENGINE_DEFAULT_CONNECTIONS_H1 16 /* per worker, HTTP/1.1 */
#define KC_ENGINE_DEFAULT_CONNECTIONS_H2 2  /* per worker, HTTP/2 and h2c */
#define KC_ENGINE_DEFAULT_STREAMS 32        /* per HTTP/2 connection */

struct kc_engine_config {
	const char *url;                 /* http:// or https:// (required) */
	const char *method;              /* NULL: GET without bodies, POST with */
	const char *const *headers;      /* "Name: value" lines, borrowed */
	size_t nheaders;                 /* <= KC_ENGINE_MAX_HEADERS */
	const struct kc_body *bodies;    /* borrowed, must outlive the engine */
	size_t nbodies;                  /* 0: no body */
	uint32_t threads;                /* worker threads; 0: one per core */
	uint32_t connections;            /* connections per worker; 0: 16 for HTTP/1.1,
					    2 for HTTP/2 (KC_ENGINE_DEFAULT_CONNECTIONS_*);
					    threads and connections both 0: fewer, to
					    fit the open-file limit */
	uint32_t streams_per_connection; /* HTTP/2 concurrent streams per connection;
					    0: 32 (KC_ENGINE_DEFAULT_STREAMS) */
	enum kc_http_version http;
	enum kc_client client;           /* HTTP/1.1 driver; default: native */
	bool insecure;                   /* skip TLS verification (explicit opt-in) */
	const char *cacert;              /* CA bundle path, NULL: system default */
	const char *proxy;               /* libcurl only: proxy URL, NULL: none (never the
					    environment's http_proxy) */
	const char *client_cert;         /* libcurl only: TLS client certificate (PEM) */
	const char *client_key;          /* libcurl only: its private key (PEM) */
	int64_t connect_timeout_ns;      /* 0: 5 s */
	int64_t request_timeout_ns;      /* whole request; 0: 30 s */
	uint32_t max_inflight;           /* sent + waiting, all workers; 0: 10000 */
	int64_t release_slack_ns;        /* open loop: no arrival leaves until the oldest
					    due one has waited this long, then all due
					    leave together (fewer wake-ups, less CPU per
					    request); the wait counts in send lag and
					    corrected latency.  0: each at its time
					    (<= 10 ms); KC_RELEASE_SLACK_AUTO:
					    kc_engine_step_slack_ns */
	double gen_lag_p99_ms;           /* generator_bound above this send lag p99;
					    0: KC_GEN_LAG_P99_MS */
	bool sagemaker_errors;           /* classify error responses by SageMaker's error
					    type (400 ThrottlingException is throttling,
					    424 ModelError a model error) and keep samples */
	kc_engine_decorate_cb decorate;  /* optional */
	void *decorate_ud;
	bool decorate_per_second;        /* the decorator's lines depend only on the body
					    and the wall-clock second (SigV4): a worker
					    calls it once per body and second and reuses
					    the lines for the other requests */
	uint64_t (*decorate_generation)(void *ud); /* optional, with decorate_per_second:
					    changes when the decorator's inputs do (new
					    credentials), so reused lines are re-made */
	bool response_stream;            /* read 2xx bodies as InvokeEndpointWithResponseStream
					    event streams: time to first PayloadPart and the
					    gaps between parts of the ok streams go into the
					    step result; a body that is not a valid event
					    stream, holds no PayloadPart, or carries an
					    exception event, is an error (KC_EC_STREAM,
					    KC_EC_MODEL_STREAM) and not a success */
};

/* Largest event-stream message a response stream may carry: a whole
 * SageMaker response (6 MiB) in one PayloadPart, plus headers. */
#define KC_ENGINE_STREAM_MESSAGE_MAX ((size_t)7 << 20)

enum kc_step_mode {
	KC_STEP_RATE,        /* open loop: rate_rps arrivals per second */
	KC_STEP_CONCURRENCY, /* closed loop: concurrency requests outstanding */
};

struct kc_step_spec {
	int index;               /* copied into the result */
	enum kc_step_mode mode;
	double rate_rps;         /* KC_STEP_RATE: > 0 */
	double rate_end_rps;     /* KC_STEP_RATE: > 0 makes the rate rise (or fall)
				    linearly from rate_rps at the step's start to this at
				    the end of its window (warm-up included); 0: constant.
				    The result's offered is then the window's mean rate. */
	uint32_t concurrency;    /* KC_STEP_CONCURRENCY: >= 1, <= threads * slots */
	int64_t duration_ns;     /* measured window, > 0 */
	int64_t warmup_ns;       /* load before the window, excluded from stats */
	enum kc_arrival arrival;
	uint64_t seed;
};

/* Live figures for progress output, from the last second unless noted. */
struct kc_progress {
	int step_index;
	double offered;           /* rps (or concurrency) */
	int64_t elapsed_ns;       /* since the step started (warm-up included) */
	int64_t total_ns;         /* warm-up + duration */
	bool warming_up;
	double achieved_rps;      /* 2xx completions per second, last interval */
	double p50_ms, p99_ms;    /* corrected latency, last interval */
	uint64_t inflight;        /* now: sent + waiting in the generator */
	uint64_t completed;       /* measured window so far */
	uint64_t errors;          /* measured window so far */
};

typedef void (*kc_engine_progress_cb)(void *ud, const struct kc_progress *p);

/*
 * Called from the coordinator thread with one finished interval (about one
 * second) of corrected latency in microseconds, for the interval log.  The
 * intervals of a step add up exactly to its latency_hist.  The histogram is
 * borrowed for the call only.
 */
typedef void (*kc_engine_interval_cb)(void *ud, int step_index,
				      const struct kc_hdr *latency_us);

struct kc_engine_hooks {
	kc_engine_progress_cb progress; /* about once a second; may be NULL */
	kc_engine_interval_cb interval; /* about once a second; may be NULL */
	void *ud;
};

/*
 * Creates an engine: validates cfg (bad URL, bad header line, absurd values
 * -> KC_EINVAL with a one-line reason in d), copies what it needs from cfg
 * (the bodies stay borrowed), and builds every worker's curl handles.
 * No connection is opened yet.  Returns 0, KC_EINVAL, KC_EUNSUPPORTED or
 * KC_ENOMEM; *out untouched on failure.
 */
int kc_engine_new(struct kc_engine **out, const struct kc_engine_config *cfg,
		  struct kc_diag *d);

/* Frees the engine and closes its connections; e may be NULL. */
void kc_engine_free(struct kc_engine *e);

/*
 * Sends one request synchronously (decorated, first body) to check the
 * target is reachable, within kc_engine_probe_limit_ns(e).  Returns 0 when
 * an HTTP status line arrived (any status; *status_out gets it when
 * non-NULL; the body is not awaited), KC_ECONNECT (refused, unresolvable,
 * connect timeout), KC_ETLS (handshake or verification) or KC_ETIMEOUT (the
 * connection itself timed out), with curl's reason in d.  Uses its own
 * handle and connection (closed on return).  An exchange that connected but
 * then failed (reset, bad reply) counts as reachable: 0 with status 0; so
 * does a request left unanswered for 250 ms on its connection, and then d
 * says so (d->msg is empty after other successes).  kc_engine_stop ends
 * it within 20 ms: KC_EINTR.
 */
int kc_engine_probe(struct kc_engine *e, int *status_out, struct kc_diag *d);

/* The longest kc_engine_probe takes: 5 s, or the request timeout if shorter. */
int64_t kc_engine_probe_limit_ns(const struct kc_engine *e);

/* host[:port] of the target, as sent in Host. */
const char *kc_engine_host(const struct kc_engine *e);

/*
 * Runs one step and fills *out (which the caller later releases with
 * kc_step_result_fini; out->latency_hist and out->service_hist are owned
 * by it).  Blocks for warmup + duration plus the drain of requests still in
 * flight or waiting (at most the request timeout + 250 ms).  Arrivals
 * intended inside the window are the step's: their latencies, errors and
 * counts, wherever they complete.  A measured request with no outcome when
 * the step ends (drain over, or stopped) counts as KC_EC_UNFINISHED (in
 * errors and out->unfinished) and its time since its intended send goes
 * into the latency histogram as a lower bound.
 * out->achieved is 2xx completions that landed inside the window / window.
 * Hooks may be NULL; they are called on the calling thread.
 * When kc_engine_stop() is called the step ends within about 100 ms, the
 * requests outstanding are counted unfinished (as above) and out->partial
 * is set; the return is still 0.  Returns KC_EINVAL for a bad spec (d says why), KC_ENOMEM, or
 * KC_EINTERNAL when a thread could not be started; *out is untouched then.
 */
int kc_engine_run_step(struct kc_engine *e, const struct kc_step_spec *spec,
		       const struct kc_engine_hooks *hooks,
		       struct kc_step_result *out, struct kc_diag *d);

/*
 * Ends the running step's measured window early, about 150 ms from now (or
 * from the window's start, when still warming up); no effect when the
 * window would end sooner or no step runs.  The step then ends as if its
 * duration were that long: no arrivals after the new end, the requests in
 * flight drain as usual, and the result is whole (not partial) with
 * duration_ns the shortened window.  Thread-safe (an atomic flag); meant
 * for a hook that judged the step settled.
 */
void kc_engine_end_window(struct kc_engine *e);

/*
 * Asks the running step (and any later one) to stop.  Async-signal-safe:
 * it only stores to an atomic flag.  kc_engine_reset_stop() clears it.
 */
void kc_engine_stop(struct kc_engine *e);
void kc_engine_reset_stop(struct kc_engine *e);
bool kc_engine_stopped(const struct kc_engine *e);

/* What the process may hold: kc_sys_limits_get fills it from getrlimit,
 * sysconf and the cgroup; 0 means no limit known. */
struct kc_sys_limits {
	uint64_t nofile;          /* RLIMIT_NOFILE, soft */
	uint64_t memory;          /* bytes: the smallest of the limits below */
	const char *memory_name;  /* "physical memory", "the cgroup's memory.max",
				     "ulimit -v" or "ulimit -d" */
};

/* Reads the process's limits (never fails; unknown ones stay 0), first
 * raising the soft open-file limit to the hard one where it is lower. */
void kc_sys_limits_get(struct kc_sys_limits *out);

/* What a load generator is about to open and allocate. */
struct kc_load_size {
	uint32_t threads;
	uint64_t connections_per_thread; /* sockets each thread may hold at once */
	const char *unit;                /* how the message names them; NULL: "connections" */
	uint64_t bytes;                  /* memory estimate, all threads */
};

/*
 * Checks z against lim before anything is allocated: KC_EINVAL with a
 * message naming the limit ("10 threads x 100000 connections = 1000000
 * connections exceed the open-file limit 1024 (ulimit -n ...)", or the
 * memory estimate against its limit), else 0.  Pure: same inputs, same
 * answer.  kc_engine_new and kc_streams_new call it.
 */
int kc_load_size_check(const struct kc_load_size *z, const struct kc_sys_limits *lim,
		       struct kc_diag *d);

/*
 * For defaults nobody asked for: lowers *threads, then
 * *connections_per_thread (never below 1), until they and the descriptors
 * kept for files and threads fit lim's open-file limit.  Leaves them as
 * they are when they fit or when no limit is known.
 */
void kc_load_size_fit(uint32_t *threads, uint64_t *connections_per_thread,
		      const struct kc_sys_limits *lim);

/* The effective settings after defaults, for the result's config section. */
uint32_t kc_engine_threads(const struct kc_engine *e);
uint32_t kc_engine_connections(const struct kc_engine *e);   /* per worker */
uint32_t kc_engine_slots(const struct kc_engine *e);         /* per worker */
/* The release slack each worker uses in step spec (the config's, or its automatic value). */
int64_t kc_engine_step_slack_ns(const struct kc_engine *e, const struct kc_step_spec *spec);
uint32_t kc_engine_max_inflight(const struct kc_engine *e);
/* Who sends the requests: "native" (the engine's own HTTP/1.1 or HTTP/2)
 * or "curl". */
const char *kc_engine_client(const struct kc_engine *e);

/* libcurl's version string, e.g. "libcurl/7.88.1 OpenSSL/3.0 ...". */
const char *kc_engine_libcurl_version(void);

/*
 * The generator_bound rule, public so reports can quote it: the client fell
 * behind its own schedule when the p99 of send lag (the time from an
 * arrival's intended send to the moment its worker handled it: sent it, or
 * queued it because every connection was busy) exceeds KC_GEN_LAG_P99_MS
 * (or the config's gen_lag_p99_ms: on a shared or busy machine a few ms of
 * scheduling jitter is normal and does not bias a knee), or
 * when the workers' CPU time exceeds KC_GEN_CPU_BUSY of their wall time.
 * Waiting for a busy connection is the server's doing and does not count
 * as lag (it counts in latency); shed requests are reported as such.
 */
#define KC_GEN_LAG_P99_MS 5.0

/*
 * release_slack_ns's automatic value: a step whose rate (its lower end, for
 * a linear step) gives each worker KC_AUTO_SLACK_MIN_RPS arrivals a second
 * or more uses KC_AUTO_SLACK_NS, any other step 0.  At 10,000/s a worker's
 * arrivals are 100 us apart, and released one by one each brings its own
 * wake-ups (0.5 to 0.75 context switches per request at 10,000-20,000/s);
 * in batches of 10 or more they cost half the CPU.  1 ms is the timer
 * granularity of wrk2's event loop too; it shows in send lag and corrected
 * latency (never hidden).
 */
#define KC_RELEASE_SLACK_AUTO (-1)
#define KC_AUTO_SLACK_MIN_RPS 10000.0
#define KC_AUTO_SLACK_NS (1000 * INT64_C(1000))
#define KC_GEN_CPU_BUSY 0.90

/*
 * The step error class a SageMaker error counts as: model → KC_EC_MODEL,
 * throttle → KC_EC_THROTTLE, auth → KC_EC_AUTH, validation → KC_EC_HTTP4XX,
 * unavailable and internal → KC_EC_HTTP5XX, other → by status (4xx, 5xx,
 * else KC_EC_OTHER).  KC_SM_ERR_NONE maps to KC_EC_OTHER (callers should
 * not count a success).
 */
enum kc_errclass kc_engine_sm_errclass(enum kc_sm_errclass c, int status);

/*
 * The step error class of an exception event inside a response or
 * bidirectional stream, by its :exception-type: ModelStreamError →
 * KC_EC_MODEL_STREAM, InternalStreamFailure → KC_EC_INTERNAL_STREAM,
 * anything else → KC_EC_STREAM.
 */
enum kc_errclass kc_engine_stream_exception_class(const char *type, size_t len);

#endif
