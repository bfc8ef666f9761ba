/*
 * server_int.h - the one emulator instance every part of `kneecap serve`
 * shares: struct kc_emu holds the instance model, the counters, the fault
 * RNG, the JPEG decoders and the SigV4 verifier, so both faces (mhd.c for
 * HTTP/1.1, h2serve.c for HTTP/2) feed one queue and one capacity.
 *
 * Who owns what: server.c starts and stops the instance and its parts;
 * request.c is the request logic both faces call (request_int.h); timer.c
 * the HTTP/1.1 face's timer heap and thread (timer_int.h); guard.c its
 * slow-client guard (guard_int.h); stats.c the counters' JSON; h2serve.c
 * the HTTP/2 face.  Neither face calls the other: the HTTP/2 face reaches
 * the HTTP/1.1 listener only through kc_emu_mark_dying (fault_close_after),
 * which the timer thread carries out.  No part calls back into server.c.
 */
#ifndef KNEECAP_EMU_SERVER_INT_H
#define KNEECAP_EMU_SERVER_INT_H

#include "component_int.h"
#include "cw_int.h"
#include "decode_int.h"
#include "faults_int.h"
#include "model_int.h"
#include "request_int.h"
#include "timer_int.h"

#include "kneecap/emulator.h"
#include "kneecap/sigv4.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Daemon;
struct kc_emu_h2;

/*
 * What the HTTP/1.1 face's slow-client guard knows of one open connection
 * (libmicrohttpd's socket context).  The deadline is written by the
 * connection's MHD thread and read by the guard thread, hence atomic.
 */
enum gphase {
	G_HEAD, /* headers due by the deadline */
	G_BODY, /* the next body bytes due by the deadline */
	G_BUSY, /* the request is with the emulator: no deadline */
	G_IDLE, /* kept alive between requests: the deadline is keepalive_timeout's;
		 * once a byte of the next request is in, head_due_ns is */
};
struct kc_emu_conn {
	int fd;
	atomic_int phase;             /* enum gphase */
	atomic_int_least64_t deadline_ns;
	bool closing;                 /* the guard shut it down (under gmu) */
	/* The socket's received-byte count when its last request was all read
	 * (-1: unknown), and, idle, when the next request's headers are due
	 * once it grew (INT64_MAX: nothing arrived yet). */
	atomic_int_least64_t idle_bytes;
	atomic_int_least64_t head_due_ns;
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
	struct kc_emu_hosting host;  /* components, serverless units (under mu) */
	struct kc_rng rng;       /* faults: seeded, reproducible */
	struct kc_rng id_rng;    /* request ids: differ from run to run */
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
	struct kc_emu_cw *cw;        /* the CloudWatch face (cwface.c); NULL: none */

	/* The HTTP/1.1 slow-client guard: one record per open connection. */
	pthread_mutex_t gmu;         /* the lists; held while shutting one down */
	pthread_cond_t gcv;
	struct kc_emu_conn *conns;   /* max_connections of them */
	struct kc_emu_conn *free_conns, *live_conns;
	bool gstop;
	pthread_t guard;
	bool guard_started;
	atomic_int_least64_t closed_header, closed_body, closed_idle;
};

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

/* Returns the stable snake_case name of an error class ("model_error", ...). */
const char *kc_emu_err_class_name(enum kc_emu_err_class c);

#endif
