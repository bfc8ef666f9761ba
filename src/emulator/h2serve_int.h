/*
 * h2serve_int.h - the emulator's HTTP/2 face's private state, shared by
 * h2serve.c (loop threads, connections, start/stop) and h2dispatch.c (the
 * streams: deadline heap, request headers and body, answers).
 */
#ifndef KC_EMULATOR_H2SERVE_INT_H
#define KC_EMULATOR_H2SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "h2io_int.h"
#include "server_int.h"

/* Header names and values kept per stream: SigV4 with a session token, a
 * long user agent and the authorization passes 4 KiB.  Per stream slot, so
 * h2_max_streams x this (64 MiB at the default 4096, touched as used). */
#define HDR_BYTES (16 * 1024)
#define HDR_LIST_MAX (64 * 1024) /* a bigger header block resets the stream */
#define STREAM_WINDOW (1 << 20)  /* per-stream receive window: bodies are MBs */
#define CONN_WINDOW (1 << 24)
/* Body bytes dropped after an early answer before the stream is reset. */
#define DISCARD_BYTES_MAX (UINT64_C(64) * 1024 * 1024)
#define INBOX_MAX 256            /* sockets waiting for their loop */
/* A body buffer bigger than this is freed when its stream closes: the
 * slots keep at most this each between requests. */
#define BODY_KEEP_BYTES (1024 * 1024)
/* Out of descriptors: how long the listener rests before accept4 again. */
#define ACCEPT_REST_NS (100 * KC_NS_PER_MS)

enum sstate {
	ST_HEAD,   /* headers arriving */
	ST_BODY,   /* an invocation's body arriving */
	ST_WAIT,   /* in the heap: the model, a stall or a trickle */
	ST_ANSWER, /* answer submitted (or stream reset); later data is ignored */
};
/* W_GHOST: the client went while the model held the request; the slot is
 * kept, off its connection, until the model's done_ns (stream_release). */
enum wkind { W_FINISH, W_DELIVER, W_TRICKLE, W_GHOST };

struct h2conn;

struct stream {
	struct req r;           /* the protocol-neutral request (server_int.h) */
	struct h2conn *c;
	struct stream *cprev, *cnext; /* the connection's open streams */
	int32_t id;
	bool in_use;
	enum sstate st;
	enum wkind wk;
	int64_t due_ns;
	int64_t born_ns;        /* its HEADERS began */
	int heap_idx;           /* -1: not in the heap */
	/* request headers */
	char hbuf[HDR_BYTES];
	size_t hlen;
	size_t hdr_total;
	struct kc_emu_headers hl;
	const char *method, *path, *authority, *clen;
	bool has_host;
	bool client_done;       /* END_STREAM from the client (or we reset it) */
	uint64_t discarded;     /* body bytes dropped after the answer */
	/* the answer being sent */
	const char *obody;
	char *owned;            /* obody when malloc'ed (stats) */
	size_t olen, ooff, olimit; /* olimit < olen: reset after olimit bytes */
	bool trickle, trickle_ready;
};

struct h2conn {
	struct kc_h2io io;
	struct h2loop *h;       /* the loop that owns it */
	struct stream *streams;
	bool dead;              /* close without writing more */
	bool ready;             /* a frame came: the preface (and TLS) is done */
	int64_t born_ns, last_ns; /* accepted; last read event */
	bool dirty;
	struct h2conn *next_dirty;
	struct h2conn *prev, *next;
};

/* One loop thread: its connections, their streams and its deadlines. */
struct h2loop {
	struct kc_emu_h2 *srv;
	struct kc_emu *e;       /* = srv->e, and the two below: shared, read-only */
	SSL_CTX *ctx;           /* NULL: h2c */
	nghttp2_session_callbacks *cbs;
	int efd, tfd;
	bool accepts;           /* loop 0: owns the listening socket */
	pthread_t thread;
	bool started;
	struct stream *pool;
	int npool;
	struct stream **freel;
	int nfree;
	struct stream **heap;   /* ordered by due_ns */
	int nheap;
	int64_t armed_ns;
	int64_t swept_ns;       /* last timeout sweep (sweep) */
	struct h2conn *conns;
	struct h2conn *dirty;
	/* Accepted sockets handed over by loop 0 (inbox_fd wakes this loop). */
	pthread_mutex_t inbox_mu;
	int inbox[INBOX_MAX];
	int inbox_n;
	int inbox_fd;
};

struct kc_emu_h2 {
	struct kc_emu *e;
	int lfd, stopfd;        /* stopfd: an eventfd every loop watches */
	int port;
	bool listening;         /* loop 0's */
	int64_t accept_rest_ns; /* loop 0's: >0: out of descriptors, listener
				 * out of epoll until then */
	SSL_CTX *ctx;
	nghttp2_session_callbacks *cbs;
	struct h2loop *loops;   /* `threads` of them */
	int nloops;
	unsigned next_loop;     /* round-robin for accepted sockets (loop 0's) */
	atomic_int nconns;      /* over all loops */
	struct kc_emu_mem mem;  /* the streams' stored bodies, all loops */
	int conns_max;
};

/* Takes s out of its loop's deadline heap; no-op when not in it. */
void h2s_heap_remove(struct h2loop *h, struct stream *s);
/* Queues c for the loop's next write pass. */
void h2s_mark_dirty(struct h2conn *c);
/* Returns s's slot to its loop's free list. */
void h2s_stream_free(struct h2loop *h, struct stream *s);
/* The stream closed or its connection went: frees s or makes it a ghost. */
void h2s_stream_release(struct stream *s);
/* Resets s with code and ignores what it sends after. */
void h2s_stream_reset(struct stream *s, uint32_t code);
/* Submits the answer the request logic chose for an invocation. */
void h2s_answer_invocation(struct stream *s);
/* The model's service ended: answers s (or starts its trickle). */
void h2s_deliver(struct stream *s);
/* Sets the stream-side nghttp2 callbacks (h2dispatch.c) on cbs. */
void h2s_callbacks_init(nghttp2_session_callbacks *cbs);

#endif
