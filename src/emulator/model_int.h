/*
 * model_int.h - the emulator's instance model and RNG, for request.c and the
 * unit tests.  Pure logic: time is a parameter, no clocks, no threads, no
 * sockets.  Not thread-safe: the server holds its lock around every call.
 */
#ifndef KNEECAP_EMU_MODEL_INT_H
#define KNEECAP_EMU_MODEL_INT_H

#include "kneecap/emulator.h"
#include "kneecap/rng.h"

#include <stdint.h>

/* Standard normal (Box-Muller over kneecap/rng.h), |z| < 8.6. */
double kc_emu_rng_normal(struct kc_rng *r);

/* Hard bound on waiting requests per instance when queue_limit is 0. */
#define KC_EMU_QUEUE_HARD_MAX INT64_C(1000000)

enum kc_emu_admit_kind {
	KC_EMU_ADMIT_SERVE,    /* gets a slot at start_ns, done at done_ns */
	KC_EMU_ADMIT_TIMEOUT,  /* would finish after its deadline: fail at deadline */
	KC_EMU_ADMIT_OVERLOAD, /* the instance's queue is full: fail now */
};

/* What the model decided for one request. */
struct kc_emu_admit {
	enum kc_emu_admit_kind kind;
	int instance;
	int64_t arrival_ns; /* when it was admitted */
	int64_t start_ns;   /* SERVE: a slot is its from here ... */
	int64_t done_ns;    /* ... to here; TIMEOUT: the deadline */
	int64_t service_ns; /* the drawn service time */
};

struct kc_emu_model;

/*
 * Builds the model of p's instances, slots and service distribution.
 * Returns 0, KC_EINVAL (p out of range) or KC_ENOMEM; *out untouched on
 * failure.
 */
int kc_emu_model_new(struct kc_emu_model **out,
		     const struct kc_emu_profile *p);

/* Frees m; m may be NULL. */
void kc_emu_model_free(struct kc_emu_model *m);

/*
 * Admits one request at now_ns that must be answered by deadline_ns.
 * Dispatch is round-robin over instances; within an instance it is FIFO over
 * `slots` servers: the request starts when the earliest slot frees (or now)
 * and holds it for a drawn service time.  Because service times are drawn at
 * admission and starts are FIFO, the whole schedule is fixed here, so the
 * server needs one timer per request.  A request whose service would end
 * after deadline_ns never takes a slot (the model server drops expired
 * work) and is failed at the deadline.  Fills *a; always succeeds.
 */
void kc_emu_model_admit(struct kc_emu_model *m, int64_t now_ns,
			int64_t deadline_ns, struct kc_emu_admit *a);

/* The same, the request holding its slot extra_ns longer first (a cold
 * start before its service). */
void kc_emu_model_admit_extra(struct kc_emu_model *m, int64_t now_ns,
			      int64_t deadline_ns, int64_t extra_ns, struct kc_emu_admit *a);

/*
 * Tells the model a request admitted as SERVE or TIMEOUT has left (call at
 * or after a->done_ns).  OVERLOAD admissions need no call.
 */
void kc_emu_model_leave(struct kc_emu_model *m, const struct kc_emu_admit *a);

/* Counts right now (as of the last admit/leave calls). */
struct kc_emu_model_counts {
	int64_t in_system;   /* admitted, not left (SERVE and TIMEOUT) */
	int64_t in_service;  /* holding a slot */
	int64_t queue_depth; /* waiting for a slot, or for their timeout */
};
void kc_emu_model_counts(const struct kc_emu_model *m,
			 struct kc_emu_model_counts *c);
/* The same for one instance (0 <= i < instances). */
void kc_emu_model_instance_counts(const struct kc_emu_model *m, int i,
				  struct kc_emu_model_counts *c);

/* Draws one service time in ns from p's distribution (exposed for tests). */
int64_t kc_emu_model_draw_service_ns(struct kc_emu_model *m);

#endif
