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

/* libmicrohttpd's own idle timeout, a backstop under the guard's deadlines
 * (keepalive_timeout is the one that closes idle connections). */
#define MHD_IDLE_NS (INT64_C(300) * KC_NS_PER_S)

/* Sets what conn owes next and by when (its MHD thread only). */
void kc_emu_guard_set(struct MHD_Connection *conn, enum gphase ph, int64_t deadline_ns);

/* conn's request is all read and with the emulator (its MHD thread): no
 * deadline; what its socket received so far is this request's. */
void kc_emu_guard_busy(struct MHD_Connection *conn);

/* An answer is done (its MHD thread): conn is kept alive, closed after
 * keepalive_timeout of silence, or after header_timeout from the first byte
 * of its next request. */
void kc_emu_guard_idle(struct kc_emu *e, struct MHD_Connection *conn);

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
