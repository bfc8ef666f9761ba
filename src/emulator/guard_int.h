/*
 * guard_int.h - the HTTP/1.1 face's slow-client guard (guard.c): a deadline
 * for what each open connection owes next, and a thread that shuts down
 * the connections past theirs.
 */
#ifndef KNEECAP_EMU_GUARD_INT_H
#define KNEECAP_EMU_GUARD_INT_H

#include "server_int.h"

#include "kneecap/clock.h"

#include <microhttpd.h>

/* A kept-alive connection's next request line is due within this (MHD's
 * idle timeout, which a trickle would otherwise reset without end). */
#define KEEPALIVE_NS (INT64_C(300) * KC_NS_PER_S)

/* Sets what conn owes next and by when (its MHD thread only). */
void kc_emu_guard_set(struct MHD_Connection *conn, enum gphase ph, int64_t deadline_ns);

/* MHD_OPTION_NOTIFY_CONNECTION: gives each connection its record (cls: e). */
void kc_emu_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				enum MHD_ConnectionNotificationCode code);

/* MHD_OPTION_URI_LOG_CALLBACK: a kept-alive connection's headers are due
 * from its request line on (cls: e); returns NULL. */
void *kc_emu_guard_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);

/* Starts the guard thread; returns 0, or KC_ENOMEM with d saying why. */
int kc_emu_guard_start(struct kc_emu *e, struct kc_diag *d);

/* Stops and joins the guard thread; a no-op when it never started. */
void kc_emu_guard_stop(struct kc_emu *e);

#endif
