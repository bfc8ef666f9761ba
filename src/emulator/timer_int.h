/*
 * timer_int.h - the HTTP/1.1 face's service clock (timer.c): a min-heap of
 * parked requests' deadlines and the one thread that acts on them, which
 * also carries out fault_close_after (it quiesces libmicrohttpd).
 */
#ifndef KNEECAP_EMU_TIMER_INT_H
#define KNEECAP_EMU_TIMER_INT_H

#include "request_int.h"

#include <stdbool.h>
#include <stdint.h>

struct kc_diag;
struct kc_emu;

/*
 * Suspends r's connection until due_ns, when the timer thread acts on kind.
 * Returns false (nothing suspended) once the emulator is stopping: the
 * caller answers at once.  Called from MHD handler or reader callbacks only.
 */
bool kc_emu_park(struct kc_emu *e, struct req *r, int64_t due_ns, enum tkind kind);

/* fault_close_after tripped: makes the HTTP/1.1 face stop listening. */
void kc_emu_mark_dying(struct kc_emu *e);

/* Starts the timer thread; returns 0, or KC_ENOMEM with d saying why. */
int kc_emu_timer_start(struct kc_emu *e, struct kc_diag *d);

/* Stops the timer thread (resuming every parked connection first, as
 * MHD_stop_daemon requires) and joins it; a no-op when it never started. */
void kc_emu_timer_stop(struct kc_emu *e);

#endif
