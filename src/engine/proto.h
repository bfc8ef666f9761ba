/*
 * proto.h - the table of functions a request driver provides, chosen once
 * per engine (kc_proto_choose) so the worker loop (worker.c) has no
 * per-request protocol branches.
 *
 * Drivers: libcurl (unary.c, `--client curl`), the native HTTP/1.1 client
 * on the engine's own sockets (h1unary.c, the default), h2c on nghttp2
 * (h2unary.c).  Each starts requests with kc_acct_prepare and finishes them
 * with kc_acct_account + kc_acct_release (acct.c), so all count alike.
 * Not a public header: internal to src/engine.
 */
#ifndef KNEECAP_PROTO_H
#define KNEECAP_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "kneecap/engine.h"
#include "kneecap/err.h"

struct worker;
struct slot;

struct kc_proto {
	const char *name; /* "curl", "http/1.1", "h2c": for logs */
	/* Per-worker state, after the common part (slots, timerfd) exists. */
	int (*init)(struct worker *w, struct kc_diag *d);
	/* Frees what init made; safe after a failed or partial init. */
	void (*fini)(struct worker *w);
	/* At a step's start: notices what happened while no step ran. */
	void (*step_begin)(struct worker *w);
	/* Starts a request on a busy-to-be free slot; false: the decorator
	 * refused it (the slot is untouched and goes back to the free stack). */
	bool (*start)(struct worker *w, struct slot *s, int64_t intended_ns, bool measured,
		      int64_t now_ns);
	/* Moves bytes without sleeping; fails requests past their timeouts. */
	void (*perform)(struct worker *w);
	/* Accounts and releases one finished request; NULL when none is left. */
	struct slot *(*reap)(struct worker *w, int64_t now_ns);
	/* Sleeps until deadline_ns (monotonic, nanosecond-precise) or until a
	 * socket has something. */
	void (*wait)(struct worker *w, int64_t deadline_ns);
	/* Drops an unfinished request without counting it (stop, drain end). */
	void (*abandon)(struct worker *w, struct slot *s);
};

extern const struct kc_proto kc_proto_curl;
extern const struct kc_proto kc_proto_h1;
extern const struct kc_proto kc_proto_h2c; /* h2c, and HTTP/2 over TLS */

/* The driver for a configuration: h2c always runs on nghttp2; HTTP/1.1 and
 * HTTP/2 over TLS on the native client (llhttp, nghttp2) unless --client
 * curl, a proxy or a client certificate asks for libcurl. */
const struct kc_proto *kc_proto_choose(const struct kc_engine_config *c);

/* How long a driver's wait sleeps: until deadline_ns, but at most 1 ms
 * while ndone requests that failed as they started wait to be reaped
 * (which also paces a loop against a server that refuses every connection). */
int64_t kc_proto_wait_until(uint32_t ndone, int64_t deadline_ns);

#endif
