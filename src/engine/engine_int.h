/*
 * engine_int.h - the engine's internal structures, shared by runner.c (the
 * engine object), probe.c, coord.c (the step coordinator), worker.c (the
 * per-thread loop), acct.c (slots and accounting) and the drivers of
 * proto.h.
 * Not a public header: tests reach the engine through kneecap/engine.h.
 */
#ifndef KNEECAP_ENGINE_INT_H
#define KNEECAP_ENGINE_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>

#include "kneecap/engine.h"
#include "kneecap/hdr.h"
#include "kneecap/respstream.h"
#include "kneecap/schedule.h"

/* Header nodes per slot: Expect, user headers, Content-Type, decorator lines. */
#define KC_SLOT_NODES (2 + KC_ENGINE_MAX_HEADERS + KC_DECOR_MAX_HEADERS)

struct worker;
struct kc_h2u;
struct kc_h1u;
struct kc_proto;

/* response_stream: PayloadPart gaps a slot holds until its request's verdict
 * (later ones are recorded as they arrive); 2 KiB per slot. */
#define KC_SLOT_GAPS_MAX 512

/* One connection slot: an easy handle and what its current request carries. */
struct slot {
	CURL *easy;
	struct worker *w;
	uint32_t index;
	bool busy;
	bool measured;        /* intended inside the measured window */
	int64_t intended_ns;
	int64_t sent_ns;
	size_t body_index;
	struct curl_slist nodes[KC_SLOT_NODES]; /* point at engine strings or decor */
	int nbase;            /* nodes[0..nbase-1]: Expect + user headers */
	struct kc_decor_out decor;
	char errbuf[CURL_ERROR_SIZE];
	/* Where the response's header block is (libcurl's header callback):
	 * a transfer can end "OK" with the block cut short by a close. */
	enum { HDR_NONE, HDR_OPEN, HDR_DONE } hdr;
	/* Error responses (sagemaker_errors): the X-Amzn-ErrorType value and the
	 * first bytes of the body, in fixed buffers reset for every request. */
	char errtype[128];
	size_t errtype_len;
	unsigned char ebody[2048];
	size_t ebody_len;
	/* response_stream: the body's event-stream reader, reused per request. */
	struct kc_rs rs;
	/* Its samples, held until the request is known ok (kc_acct_account):
	 * a stream that fails later contributes none.  first_part_ns 0: none. */
	int64_t first_part_ns;
	uint32_t ngaps;
	int32_t gap_us[KC_SLOT_GAPS_MAX];
};

/* A request that is due but waits for a free slot. */
struct pending {
	int64_t intended_ns;
	bool measured;
};

/* What a worker counts for the measured window (merged by the coordinator). */
struct wcounts {
	uint64_t scheduled, sent, completed, ok, ok_in_window;
	uint64_t errclass[KC_EC_COUNT];
	struct { int code; uint64_t count; } codes[KC_STEP_MAX_CODES];
	int ncodes;
	uint64_t codes_other;  /* non-2xx responses whose code did not fit codes[] */
	/* The first transport error of each class, for one log line per step. */
	char first_err[KC_EC_COUNT][CURL_ERROR_SIZE];
	/* The first error responses, at most 2 per class (sagemaker_errors). */
	struct kc_error_sample samples[KC_STEP_MAX_SAMPLES];
	int nsamples;
	uint64_t parts;        /* response_stream: PayloadParts of measured ok requests */
};

struct worker {
	struct kc_engine *e;
	uint32_t index;
	pthread_t thread;
	CURLM *multi;
	struct slot *slots;
	uint32_t nslots;
	uint32_t *free_stack;  /* indices of idle slots */
	uint32_t nfree;
	int timerfd;
	int64_t slack_ns;      /* this step's release slack (kc_engine_step_slack_ns) */
	int64_t armed_ns;      /* absolute time the timerfd is armed at, 0: disarmed */

	struct pending *queue; /* ring of due requests waiting for a slot */
	uint32_t qcap, qhead, qlen;
	uint32_t cap_inflight; /* this worker's share of max_inflight */

	/* Step parameters, written by the coordinator before the thread starts. */
	const struct kc_step_spec *spec;
	struct kc_schedule sched;
	uint32_t concurrency;  /* closed loop: this worker's share */
	int64_t start_ns, win_start_ns, win_end_ns, drain_end_ns;
	uint64_t body_seq;     /* rotates bodies */

	/* Results: recorders are read by the coordinator while running. */
	struct kc_hdr_recorder latency_rec; /* us from intended send */
	struct kc_hdr_recorder service_rec; /* us from actual send */
	struct kc_hdr *ttfb;   /* us; read only after join */
	struct kc_hdr *lag;    /* us; read only after join */
	/* response_stream only (NULL otherwise), us, read only after join:
	 * first PayloadPart from intended and from actual send, part gaps. */
	struct kc_hdr *ttfp, *ttfp_svc, *gap;
	struct wcounts c;
	int64_t cpu_ns;

	/* Live figures for the coordinator (single writer, relaxed). */
	_Alignas(64) atomic_uint_fast64_t a_inflight;
	atomic_uint_fast64_t a_ok_in_window;
	atomic_uint_fast64_t a_completed;
	atomic_uint_fast64_t a_errors;
	atomic_bool a_done;
	bool partial;
	struct kc_h2u *h2;     /* --http h2c: nghttp2 connections (h2unary.c) */
	struct kc_h1u *h1;     /* native HTTP/1.1 connections (h1unary.c) */
	const struct kc_proto *proto; /* the engine's driver (proto.h) */
	/* decorate_per_second: the lines of the last decoration per body and
	 * wall-clock second, direct-mapped by body index (acct.c) */
	struct kc_decor_cache *dcache;
	uint32_t ndcache;
};

struct kc_engine {
	struct kc_engine_config cfg;   /* strings below are the engine's copies */
	char *url;
	char *method;
	char *host;
	char *path;
	char *cacert;
	char *proxy, *client_cert, *client_key; /* --client curl only */
	char **headers;                /* user header lines */
	size_t nheaders;
	bool user_content_type;
	char **ctype_lines;            /* per body: "Content-Type: x" or NULL */
	uint32_t threads, connections, streams, slots, max_inflight;
	struct worker *workers;
	const struct kc_proto *proto;  /* chosen once (kc_proto_choose) */
	atomic_bool stop;
	/* kc_engine_end_window: asked (any thread), and the window end the
	 * coordinator set from it (0: none), which workers adopt. */
	atomic_bool end_asked;
	_Atomic int64_t cut_ns;
};

/* What one finished request came to, whichever driver carried it. */
struct kc_outcome {
	bool responded;          /* a whole HTTP response arrived */
	long status;             /* responded: the HTTP status */
	int64_t ttfb_us;         /* responded: time to the first response byte; < 0 unknown */
	enum kc_errclass ec;     /* !responded: the transport failure's class */
	const char *why;         /* !responded: its reason, for the step's first-error line */
};

/*
 * acct.c: the driver-independent half of a worker.  kc_worker_init makes
 * slots, queue, timerfd and histograms, then runs the engine's driver init;
 * kc_worker_fini undoes both (safe on a partial init).
 */
int kc_worker_init(struct worker *w, struct kc_diag *d);
void kc_worker_fini(struct worker *w);
/*
 * The driver-independent start of a request on a free slot: rotates the
 * body (s->body_index), runs the decorator into s->decor, marks the slot
 * busy and counts it sent.  False (slot untouched, KC_EC_AUTH counted) when
 * the decorator refused.  Every driver starts here.
 */
bool kc_acct_prepare(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		     int64_t now_ns);
/*
 * Accounts one finished request of slot s (latency, service time, TTFB,
 * status codes, error classes, SageMaker error samples) exactly once.  Does
 * not release the slot.  Every driver finishes through here.
 */
void kc_acct_account(struct worker *w, struct slot *s, const struct kc_outcome *o,
		     int64_t now_ns);
/* Marks s idle and puts it back on the worker's free stack. */
void kc_acct_release(struct worker *w, struct slot *s);
/*
 * Arms the worker's timerfd at at_ns (absolute monotonic; 0 disarms), or
 * leaves it when it is already armed there and not yet fired.
 */
void kc_worker_arm_timer(struct worker *w, int64_t at_ns, int64_t now_ns);
/*
 * epoll_wait on efd until deadline_ns with nanosecond precision: through
 * epoll_pwait2 where the kernel has it (5.11+; no timer syscall per wait),
 * else through the worker's timerfd, which the driver keeps in efd.
 * Returns what epoll returns.
 */
int kc_worker_epoll(struct worker *w, int efd, struct epoll_event *evs, int max,
		    int64_t deadline_ns);
/* response_stream: the kc_rs part callback; ud is the slot. */
void kc_acct_on_part(void *ud, uint32_t index, int64_t at_ns, int64_t gap_ns, size_t len);
enum kc_errclass kc_acct_classify_status(long status);

/* unary.c: libcurl per slot and per request (kc_proto_curl); the probe. */
int kc_unary_setup_easy(struct kc_engine *e, CURL *easy, struct kc_diag *d);
/*
 * The class of a failed transfer: rc, refined by libcurl's message (errbuf,
 * may be "") and whether the header block had started and not ended
 * (hdr_open): libcurl reports bad chunked framing and too large headers as
 * receive errors and a 100 KB header line as out of memory, all of which
 * are the response's fault (KC_EC_PROTO), not the connection's.
 */
enum kc_errclass kc_unary_classify_curl(CURLcode rc, const char *errbuf, bool hdr_open);

/* worker.c: the thread body. */
void *kc_worker_main(void *arg);

#endif
