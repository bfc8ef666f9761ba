/*
 * request_int.h - one request's life in `kneecap serve`, whichever face
 * carries it (request.c).  A struct req is one request's protocol-neutral
 * state; the kc_emu_req_* functions below carry its life (route, body,
 * admission, answer) and are the only place SageMaker's semantics live.
 * The faces (mhd.c for HTTP/1.1, h2serve.c for HTTP/2) do the I/O and the
 * waiting: neither ever sleeps for a request.
 *
 * Thread-safety: the kc_emu_req_* functions take e's locks themselves; a
 * struct req belongs to one thread at a time (the face's).
 */
#ifndef KNEECAP_EMU_REQUEST_INT_H
#define KNEECAP_EMU_REQUEST_INT_H

#include "faults_int.h"
#include "model_int.h"

#include "kneecap/emulator.h"
#include "kneecap/sigv4.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct kc_emu;

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
	struct kc_emu_model *model; /* the model admit went to (a component's, or the endpoint's) */
	int ic;                /* the component's index, or -1 */
	int unit;              /* serverless: the unit it runs on, or -1 */
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

/* Turns a routed invocation into an error answer (status, class, message)
 * that the caller answers like any R_ERROR route. */
void kc_emu_req_fail(struct kc_emu *e, struct req *r, int status,
		     enum kc_emu_err_class c, const char *msg);

/* Appends n body bytes (hash, size, bounded copy; sets r->too_large). */
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

#endif
