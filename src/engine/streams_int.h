/*
 * streams_int.h - the stream driver's private state, shared by its pieces:
 * streams_conn.c (connections and nghttp2 session callbacks), streams.c
 * (the per-stream state machine and the worker loop), streams_setup.c
 * (configuration and the object's life) and streams_step.c (running a
 * step, merging the workers' counters, the probe).  Engine layer only.
 */
#ifndef KC_ENGINE_STREAMS_INT_H
#define KC_ENGINE_STREAMS_INT_H

#include "kneecap/engine.h"
#include "kneecap/streams.h"

#include "h2net_int.h"
#include "kneecap/net.h"
#include "kneecap/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "streamerr.h"
#include "streamsign.h"

#include "kneecap/clock.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/hdr.h"
#include "kneecap/log.h"
#include "kneecap/sigv4.h"

#define TICKS 20                 /* send ticks per chunk interval */
#define RING 64                  /* unanswered chunks per stream */
#define INNER_HDR_MAX 160        /* inner headers + framing of a chunk */
#define EXTRA_MAX 16
#define CLOSE_MAX 1024           /* close message bytes */
#define CONNECT_BACKOFF_NS (50 * KC_NS_PER_MS)
#define CONNS_PER_WORKER_MAX 2048
#define REPLY_MSG_MAX (256 * 1024)
/* Memory estimate of one live connection (TLS, nghttp2 session, buffers). */
#define STREAMS_CONN_BYTES (64 * 1024)
#define HDR_LOW 1
#define HDR_HIGH INT64_C(3600000000) /* 1 h in us */
#define HDR_SIG 3

enum slot_state { S_IDLE, S_OPENING, S_OPEN, S_CLOSING };

struct conn;

struct slot {
	enum slot_state st;
	struct conn *c;
	int32_t id;
	bool closing_sent;    /* the empty frame is in buf */
	bool ctrl_sent;       /* the close message is (or was) in buf */
	bool first_seen;
	bool mine;            /* we reset it: do not count its close */
	int status;
	int64_t opened_ns;    /* request submitted */
	int64_t next_send_ns; /* intended time of the next chunk */
	uint64_t chunk_no;
	/* unanswered chunks: intended and actual send times */
	int64_t t_int[RING], t_act[RING];
	uint64_t seq[RING];   /* chunk number of each unanswered chunk */
	uint32_t rhead, rcount;
	/* the frame nghttp2 is pulling */
	uint8_t *buf;
	size_t off, len;
	struct kc_evsign chain;
	struct kc_ssign *gs;  /* the signer chain borrows; NULL when idle */
	struct kc_es_decoder dec;
	/* an error response before the stream: its type header and body */
	char errtype[64];
	size_t errtype_len;
	char *ebody;          /* allocated on the error path only */
	size_t ebody_len;
	int64_t not_before_ns; /* refused: reopen no sooner (kept across resets) */
};

struct conn {
	struct kc_h2net net;  /* socket, TLS and session (h2net_int.h) */
	struct worker *w;
	bool goaway;
	uint32_t nstreams;
};

struct counters {
	uint64_t chunks, replies, unmatched, opened, reopened, goaways, conns;
	uint64_t err[KC_EC_COUNT];
	struct kc_serr_samples samp; /* what the errors said */
	double held_ns_sum;   /* integral of open streams over the window, stream*ns */
	uint32_t held_max;
	int64_t lag_ns_max;
};

struct worker {
	struct kc_streams *s;
	int idx;
	pthread_t thread;
	int efd;
	struct kc_ssigners sig;   /* per credentials generation (streamsign.h) */
	struct slot *slots;
	uint32_t nslots;     /* allocated */
	uint32_t want;       /* streams this step */
	uint32_t n_idle;     /* slots [0, want) in S_IDLE: place() has work */
	uint32_t n_open;     /* slots in S_OPEN: the streams held */
	struct conn *conns[CONNS_PER_WORKER_MAX];
	uint32_t nconns;
	uint8_t *frame_mem;
	uint8_t scratch[65536 + INNER_HDR_MAX]; /* inner message being signed */
	char sigbuf[1024 + KC_SIGV4_TOKEN_MAX];
	struct kc_hdr *lat, *svc, *ttfb, *setup, *lag;
	struct counters k;
	int64_t cpu_ns;      /* this worker's thread CPU during the step */
	char conn_err[160];  /* why the last connection failed (no secrets) */
	int64_t connect_after_ns; /* back-off after a failed connection attempt */
	/* step timing */
	int64_t t0, t_win, t_end, t_drain;
	bool draining;
};

struct kc_streams {
	char scheme_https;
	char host[256];
	char port[8];
	char authority[300];
	char path[512];
	char query[1024];
	char extra_name[EXTRA_MAX][64];
	char extra_value[EXTRA_MAX][2048];
	size_t nextra;
	char akid[KC_SIGV4_AKID_MAX + 1];
	char secret[KC_SIGV4_SECRET_MAX + 1];
	char token[KC_SIGV4_TOKEN_MAX + 1];
	char region[64];
	struct kc_creds_provider *creds; /* borrowed; NULL: the keys above */
	uint8_t *synth;        /* synthetic PCM, when no audio was given */
	const uint8_t *audio;
	size_t audio_len;
	size_t chunk_bytes;
	size_t frame_bytes;    /* one signed frame: chunk or close message */
	int64_t interval_ns;
	enum kc_streams_match match;
	double audio_rate;     /* bytes per second of audio (audio-time rule) */
	char close_msg[CLOSE_MAX + 1];
	size_t close_len;
	uint32_t threads, max_streams, per_conn;
	int64_t connect_timeout_ns, reply_timeout_ns;
	SSL_CTX *ctx;
	struct sockaddr_storage addr; /* resolved at each step's start */
	socklen_t addrlen;            /* 0: did not resolve */
	struct worker *workers;
	atomic_bool stop;
};

/* ---- helpers -------------------------------------------------------------- */

/* ---- streams_conn.c: connections and session callbacks ---- */
/* Counts an error of class c when the worker is inside the measured window. */
void kc_sx_count_err(struct worker *w, enum kc_errclass c);
/* Returns sl to S_IDLE, freeing what the stream held. */
void kc_sx_slot_reset(struct worker *w, struct slot *sl);
/* Closes c; count says whether its streams' loss counts as errors. */
void kc_sx_conn_free(struct worker *w, struct conn *c, bool count);
/* Opens a new connection for w, or NULL (reason in w->conn_err). */
struct conn *kc_sx_conn_open(struct worker *w);
/* Sends what the session has queued on c; <0 when c died. */
int kc_sx_conn_flush(struct conn *c);
/* Handles epoll events ev on c. */
void kc_sx_conn_event(struct worker *w, struct conn *c, uint32_t ev);
/* Appends a sent chunk's intended and actual times to sl's ring. */
void kc_sx_ring_push(struct slot *sl, int64_t ti, int64_t ta);
/* Records ns into h (clamped to the histogram's range). */
void kc_sx_record(struct kc_hdr *h, int64_t ns);
/* Ends sl's stream as failed with class ec (resets it on c when c is set). */
void kc_sx_fail_stream(struct worker *w, struct conn *c, struct slot *sl, enum kc_errclass ec);
/* nghttp2's data-provider pull: hands out the slot's pending frame. */
ssize_t kc_sx_chunk_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			    uint32_t *flags, nghttp2_data_source *src, void *ud);

/* ---- streams.c: the worker loop ---- */
/* A worker thread's body: runs one step (arg is its struct worker). */
void *kc_sx_worker_main(void *arg);

#endif
