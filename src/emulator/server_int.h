/*
 * server_int.h - what the emulator's two faces share: the HTTP/1.1 one
 * (server.c, libmicrohttpd) and the HTTP/2 one (h2serve.c, nghttp2).
 *
 * One struct kc_emu holds the instance model, the counters, the fault RNG,
 * the JPEG decoders and the SigV4 verifier, so both protocols feed one queue
 * and one capacity.  A struct req is one request's protocol-neutral state;
 * the kc_emu_req_* functions below carry its life (route, body, admission,
 * answer) and are the only place SageMaker's semantics live.  The faces do
 * the I/O and the waiting: neither ever sleeps for a request.
 *
 * Thread-safety: the kc_emu_req_* functions take e's locks themselves; a
 * struct req belongs to one thread at a time (the face's).
 */
#ifndef KNEECAP_EMU_SERVER_INT_H
#define KNEECAP_EMU_SERVER_INT_H

#include "decode_int.h"
#include "faults_int.h"
#include "model_int.h"

#include "kneecap/emulator.h"
#include "kneecap/sigv4.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Daemon;
struct kc_emu_h2;

/* A byte budget shared by threads (the HTTP/2 face's stored bodies). */
struct kc_emu_mem {
	atomic_size_t used;
	size_t max;
};

/* S_DRAIN: answered 413 mid-body (HTTP/1.1); the rest is read and dropped. */
enum rstate { S_FREE, S_READING, S_PARKED, S_READY, S_DONE, S_DRAIN };
/* What a request is, decided from its headers; answered once its body (if
 * any) is in, so keep-alive connections stay open. */
enum route { R_INVOKE, R_PING, R_STATS, R_NOT_FOUND, R_BAD_METHOD, R_ERROR };
enum tkind { TK_FINISH, TK_DELIVER, TK_TRICKLE };

struct req {
	struct kc_emu *e;
	struct MHD_Connection *conn;
	struct req *next_free;
	enum rstate state;
	enum route route;
	const char *url;       /* path without query; valid for the request */
	const char *etype;     /* X-Amzn-ErrorType when not implied by status */
	int64_t t_head_ns;     /* headers arrived */
	int64_t t_body_ns;     /* body complete */
	unsigned char *body;   /* kept across requests, grows to the largest */
	size_t body_len, body_cap, store_max;
	uint64_t body_total;   /* bytes seen (stored or not) */
	uint64_t hash;         /* FNV-1a 64 of the whole body */
	bool too_large;
	struct kc_emu_mem *mem; /* NULL: unbudgeted (HTTP/1.1, bounded by its
				 * connections); else body bytes come from it */
	size_t mem_held;       /* taken from mem for this request */
	bool no_mem;           /* mem ran out: answered 503 */
	struct kc_emu_admit admit;
	bool leave_pending;    /* the model still counts it */
	bool in_flight;        /* counted in e->in_flight */
	struct kc_emu_fault_plan plan;
	int status;            /* what to answer */
	enum kc_emu_err_class errc;
	int orig_status;       /* ModelError: the container's status */
	char msg[256];         /* error message (plain text, escaped on output) */
	int img_w, img_h;
	char reqid[40];
	char out[1024];
	size_t out_len;
	bool trickle_ready;
	enum tkind tkind;
	int64_t due_ns;
	/* Response stream (POST .../invocations-response-stream, HTTP/1.1). */
	bool stream;
	size_t name_len;       /* the endpoint name's length in url */
	int sparts;            /* PayloadParts encoded so far */
	bool sdone;            /* the last message is encoded */
	int64_t s0_ns;         /* when the first part left */
	uint8_t sbuf[1536];    /* the message being sent: at most 1 KiB payload + headers */
	size_t sbuf_len, sbuf_off;
};

/*
 * What the HTTP/1.1 face's slow-client guard knows of one open connection
 * (libmicrohttpd's socket context).  The deadline is written by the
 * connection's MHD thread and read by the guard thread, hence atomic.
 */
enum gphase {
	G_HEAD, /* headers due by the deadline */
	G_BODY, /* the next body bytes due by the deadline */
	G_BUSY, /* the request is with the emulator: no deadline */
	G_IDLE, /* kept alive between requests: the next request line is due */
};
struct kc_emu_conn {
	int fd;
	atomic_int phase;             /* enum gphase */
	atomic_int_least64_t deadline_ns;
	bool closing;                 /* the guard shut it down (under gmu) */
	struct kc_emu_conn *prev, *next; /* the live list, or next = free list */
};

struct kc_emu {
	struct kc_emu_profile prof;
	double capacity_rps;
	int64_t start_ns;
	struct MHD_Daemon *mhd;
	int listen_fd;
	int port;

	pthread_mutex_t mu;          /* model, rng, counters */
	struct kc_emu_model *model;
	struct kc_emu_rng rng;       /* faults: seeded, reproducible */
	struct kc_emu_rng id_rng;    /* request ids: differ from run to run */
	int64_t received, served, answered, invocations;
	int64_t errors[KC_EMU_ERRC_COUNT];
	int64_t lat_sum_ns, wait_sum_ns, svc_sum_ns;
	int64_t queue_max;
	int64_t in_flight;
	uint64_t reqid_seq;

	struct req *reqs;            /* max_connections of them */
	struct req *free_reqs;
	pthread_mutex_t pool_mu;

	struct kc_emu_decoder *dec;  /* `threads` of them */
	struct kc_emu_decoder **dec_free;
	int n_dec, n_dec_free;
	pthread_mutex_t dec_mu;
	pthread_cond_t dec_cv;

	pthread_mutex_t tmu;         /* timer heap, stopping, die */
	pthread_cond_t tcv;
	struct req **heap;
	int heap_n, heap_cap;
	bool stopping, die_pending;
	bool mhd_ready;              /* e->mhd is set: die() may use it */
	pthread_t timer;
	bool timer_started;

	atomic_bool dead;            /* fault_close_after tripped */

	struct kc_sigv4_signer *signer; /* NULL: no verification */
	pthread_mutex_t sig_mu;      /* a signer is single-threaded */

	struct kc_emu_h2 *h2;        /* the HTTP/2 face (h2serve.c); NULL: none */

	/* The HTTP/1.1 slow-client guard: one record per open connection. */
	pthread_mutex_t gmu;         /* the lists; held while shutting one down */
	pthread_cond_t gcv;
	struct kc_emu_conn *conns;   /* max_connections of them */
	struct kc_emu_conn *free_conns, *live_conns;
	bool gstop;
	pthread_t guard;
	bool guard_started;
	atomic_int_least64_t closed_header, closed_body;
};

/* The request headers SigV4 verification sees. */
struct kc_emu_headers {
	struct kc_sigv4_header h[KC_SIGV4_HEADERS_MAX];
	size_t n;
	bool overflow; /* more than KC_SIGV4_HEADERS_MAX, or too long to keep */
	bool too_large; /* overflow because their bytes did not fit */
};

/* How many body bytes a request keeps (the CPU stage and SigV4 need them). */
size_t kc_emu_store_max(const struct kc_emu *e);

/*
 * Resets r for a new request at url (path only, no query string) with
 * method, and decides its route.  url and method must outlive the request.
 */
void kc_emu_req_route(struct kc_emu *e, struct req *r, const char *url,
		      const char *method);

/* What to do with an invocation once its headers are in. */
enum kc_emu_head {
	KC_EMU_HEAD_READ,   /* read the body (the route may be R_ERROR: answer after) */
	KC_EMU_HEAD_ANSWER, /* answer now (413 from Content-Length), skip the body */
	KC_EMU_HEAD_DROP,   /* the server is dead (close_after): drop the request */
};

/*
 * For route R_INVOKE: checks the endpoint name, the declared
 * content_length (NULL when absent) and fault_close_after.
 */
enum kc_emu_head kc_emu_req_head(struct kc_emu *e, struct req *r,
				 const char *content_length);

/* Appends n body bytes (hash, size, bounded copy; sets r->too_large). */
/* Turns a routed invocation into an error answer (status, class, message)
 * that the caller answers like any R_ERROR route. */
void kc_emu_req_fail(struct kc_emu *e, struct req *r, int status,
		     enum kc_emu_err_class c, const char *msg);
void kc_emu_req_body(struct kc_emu *e, struct req *r, const char *data, size_t n);

/*
 * The body is complete (or too large): SigV4 (with hl; NULL when the
 * verifier is off), the CPU stage, faults and the model.  Returns true
 * when the answer is due at r->admit.done_ns (call kc_emu_req_leave then,
 * and answer), false to answer now.
 */
bool kc_emu_req_admit(struct kc_emu *e, struct req *r, const struct kc_emu_headers *hl);

/* The request left the model (its done_ns came). */
void kc_emu_req_leave(struct kc_emu *e, struct req *r);

/* Makes r a 503 "The emulator is stopping" answer. */
void kc_emu_req_stopping(struct req *r);

/*
 * An answer is going out now: counts it and fills r->out/out_len with the
 * JSON body.  Returns true when the answer must be dropped instead (a
 * reset fault or a dead server).  *die is set when this answer tripped
 * fault_close_after (call kc_emu_mark_dying).
 */
bool kc_emu_req_account(struct kc_emu *e, struct req *r, bool *die);

/* The X-Amzn-ErrorType of r's error answer. */
const char *kc_emu_req_error_type(const struct req *r);

/*
 * The answer of a request that is not an invocation (ping, stats, 404, 405)
 * or an invocation refused at its headers (R_ERROR: use kc_emu_req_account).
 * Sets *status, *etype (NULL: none) and *allow (NULL: none); returns the
 * body, malloc'ed into *owned when it must be freed (else *owned = NULL),
 * or NULL when out of memory.  Counts the error classes.
 */
const char *kc_emu_req_other(struct kc_emu *e, struct req *r, int *status,
			     const char **etype, const char **allow, char **owned);

/* The request ended without an answer (its stream or connection went):
 * releases what the model and the counters still hold for it. */
void kc_emu_req_abandon(struct kc_emu *e, struct req *r);

/*
 * The client went before r's admission ended (r->leave_pending): stops
 * counting it in flight but leaves it in the model, whose slot (or queue
 * place) stays booked until r->admit.done_ns whatever the client does.
 * The caller still calls kc_emu_req_leave at done_ns, as HTTP/1.1 does
 * (libmicrohttpd never notices a client leaving a suspended connection).
 */
void kc_emu_req_detach(struct kc_emu *e, struct req *r);

/* Gives back what r took from r->mem for its body (any thread; idempotent). */
void kc_emu_req_mem_release(struct req *r);

/* Counts one error of class c. */
void kc_emu_count_error(struct kc_emu *e, enum kc_emu_err_class c);

/* When now_ns falls in a stall window, the window's end (kc_clock_ns
 * time); otherwise -1. */
int64_t kc_emu_stall_until(const struct kc_emu *e, int64_t now_ns);

/* fault_close_after tripped: makes the HTTP/1.1 face stop listening. */
void kc_emu_mark_dying(struct kc_emu *e);

/* GET /emulator/stats's body (malloc'ed JSON), or NULL. */
char *kc_emu_stats_json(struct kc_emu *e);

/*
 * The HTTP/2 face (h2serve.c): starts its loop thread for e's profile
 * (h2_listen, h2_tls, ...), shares e's model.  Returns 0 and sets *out,
 * or KC_EINVAL / KC_EIO / KC_ETLS / KC_ENOMEM with d saying why.
 */
int kc_emu_h2_start(struct kc_emu *e, struct kc_emu_h2 **out, struct kc_diag *d);
/* Its port. */
int kc_emu_h2_listen_port(const struct kc_emu_h2 *h);
/* Answers pending invocations 503, closes every connection, joins the
 * thread and frees h; h may be NULL. */
void kc_emu_h2_stop(struct kc_emu_h2 *h);

#endif
