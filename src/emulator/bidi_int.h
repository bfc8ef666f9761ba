/*
 * bidi_int.h - the streaming emulator's private state, shared by bidi.c (the
 * server: slots, reply heap, connections, the loop) and bidireq.c (the
 * request side of a stream: headers, SigV4 and event-signature checks,
 * event-stream frames, injected exception events).
 */
#ifndef KC_EMULATOR_BIDI_INT_H
#define KC_EMULATOR_BIDI_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "h2io_int.h"

#include "kneecap/bidi.h"
#include "kneecap/eventstream.h"
#include "kneecap/evsign.h"
#include "kneecap/sigv4.h"

#define RING 64            /* pending replies per stream */
#define OUT_CAP 4096       /* encoded replies waiting for nghttp2 per stream */
#define HDR_BYTES 2048     /* initial request headers kept for verification */
#define HDR_MAX 24
#define CONN_WBUF 65536
#define CONNS_MAX 8192
#define INSTANCES_MAX 1024
#define MSG_MAX (64 * 1024)  /* largest request event accepted */
#define SKEW_MS (5 * 60 * 1000)

/* ---- server state ------------------------------------------------------ */

struct conn;

struct slot {
	struct conn *c;
	int32_t id;            /* HTTP/2 stream id */
	bool in_use;
	bool counted;          /* counted as open on its instance */
	bool bad;              /* header storage overflowed */
	bool client_done;      /* END_STREAM from the client */
	bool final_seen;       /* the empty signed frame arrived */
	bool eof;              /* no more reply bytes: send END_STREAM */
	bool chunk_seen;
	bool verifying;
	bool stream_failed;    /* an injected exception event ended its replies */
	int inst;
	uint64_t ordinal;      /* 1-based stream number since start */
	int heap_idx;          /* -1 when not in the heap */
	/* pending replies */
	int64_t due[RING];
	uint32_t plen[RING];   /* payload bytes of the chunk each reply answers */
	uint64_t audio_done;   /* payload bytes answered so far */
	uint32_t rhead, rcount;
	int64_t last_due;
	uint64_t seq_out;
	/* reply bytes nghttp2 has not taken yet */
	uint8_t out[OUT_CAP];
	size_t out_off, out_len;
	struct kc_es_decoder dec;
	struct kc_evsign chain;
	/* initial request headers (verification) */
	char hbuf[HDR_BYTES];
	size_t hlen;
	struct kc_sigv4_header hdrs[HDR_MAX];
	int nh;
	const char *method, *path, *authority;
	size_t path_len;
};

struct conn {
	struct kc_h2io io;     /* socket, TLS and nghttp2 session (h2io.c) */
	struct kc_bidi *b;
	bool dead;             /* the peer is gone: close without writing */
	bool dirty;
	struct conn *next_dirty;
	struct conn *prev, *next; /* all connections */
};

#define STAT_FIELDS(X) X(connections) X(streams_opened) X(streams_open) \
	X(streams_open_max) X(chunks) X(replies) X(finished) X(bad_frames) \
	X(bad_signatures) X(overflows) X(goaways) X(resets) X(corrupted) \
	X(tls_handshakes) X(invocation_paths) X(query_strings) X(errors_injected) \
	X(expired_tokens)

struct kc_bidi {
	struct kc_bidi_profile p;
	int lfd, efd, tfd, stopfd;
	int port;
	pthread_t thread;
	struct slot *slots;
	uint32_t nslots;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *heap;        /* slot indexes ordered by due[rhead] */
	uint32_t nheap;
	int64_t armed_ns;
	int64_t inst_n[INSTANCES_MAX];
	uint64_t rr;
	struct conn *conns;
	int nconns;
	struct conn *dirty;
	struct kc_sigv4_signer *verifier;
	SSL_CTX *ctx;          /* TLS: NULL for h2c */
	nghttp2_session_callbacks *cbs; /* every connection's, made at start */
	FILE *capture;
	uint64_t replies_total;
#define DECL(f) _Atomic uint64_t f;
	STAT_FIELDS(DECL)
#undef DECL
};

#define INC(b, f) atomic_fetch_add_explicit(&(b)->f, 1, memory_order_relaxed)

/* Puts slot si in the reply heap (its reply ring just became non-empty). */
void bidi_heap_push(struct kc_bidi *b, uint32_t si);
/* Queues c for the loop's next write pass. */
void bidi_mark_dirty(struct conn *c);
/* Frees s (out of the heap, off its instance's count); no-op when free. */
void bidi_slot_release(struct kc_bidi *b, struct slot *s);
/* nghttp2 data source of a stream's replies: the slot's out buffer. */
ssize_t bidi_reply_read_cb(nghttp2_session *ses, int32_t id, uint8_t *buf, size_t len,
			   uint32_t *flags, nghttp2_data_source *src, void *ud);
/* Ends s's reply stream once the client is done and no reply is pending. */
void bidi_maybe_finish(struct slot *s);
/* Sets the request-side nghttp2 callbacks (bidireq.c) on cbs. */
void bidi_callbacks_init(nghttp2_session_callbacks *cbs);

#endif
