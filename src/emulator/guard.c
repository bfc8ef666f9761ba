/*
 * guard.c - the HTTP/1.1 face's slow-client guard.
 *
 * libmicrohttpd's connection timeout is an idle timeout: one byte now and
 * then resets it, so a client that trickles its headers (slowloris) or its
 * body holds a connection for ever, and a few thousand of them hold all of
 * them.  The guard gives each connection a deadline for what it owes next
 * (headers: header_timeout from the connection, or from the request line on
 * a kept-alive one; body: body_timeout since the last body bytes) and a
 * thread shuts down, every GUARD_PERIOD_NS, the sockets past theirs; MHD
 * then sees the end of the stream and closes the connection itself.  The
 * records live from MHD's STARTED to its CLOSED notification, and MHD
 * closes the descriptor only after CLOSED: the shutdown under gmu can never
 * hit a descriptor number reused by a newer connection.
 */
#include "guard_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#define GUARD_PERIOD_NS (INT64_C(250) * KC_NS_PER_MS)

static struct kc_emu_conn *conn_rec(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Sets what conn owes next and by when (guard_int.h). */
void kc_emu_guard_set(struct MHD_Connection *conn, enum gphase ph, int64_t deadline_ns)
{
	struct kc_emu_conn *c = conn_rec(conn);
	if (!c)
		return;
	/* Deadline first: the guard reads the phase, then the deadline. */
	atomic_store(&c->deadline_ns, deadline_ns);
	atomic_store(&c->phase, (int)ph);
}

/* A connection opened or closed: its record joins or leaves the live list. */
void kc_emu_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				enum MHD_ConnectionNotificationCode code)
{
	struct kc_emu *e = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		pthread_mutex_lock(&e->gmu);
		struct kc_emu_conn *c = e->free_conns;
		if (c && ci) {
			e->free_conns = c->next;
			c->fd = ci->connect_fd;
			c->closing = false;
			atomic_store(&c->deadline_ns, kc_clock_ns() + e->prof.header_timeout_ns);
			atomic_store(&c->phase, (int)G_HEAD);
			c->prev = NULL;
			c->next = e->live_conns;
			if (e->live_conns)
				e->live_conns->prev = c;
			e->live_conns = c;
			*socket_context = c;
		}
		pthread_mutex_unlock(&e->gmu);
		return;
	}
	struct kc_emu_conn *c = *socket_context;
	if (!c)
		return;
	*socket_context = NULL;
	pthread_mutex_lock(&e->gmu);
	if (c->prev)
		c->prev->next = c->next;
	else
		e->live_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->fd = -1;
	c->next = e->free_conns;
	e->free_conns = c;
	pthread_mutex_unlock(&e->gmu);
}

/* The request line is in: on a kept-alive connection the headers' clock
 * starts now; on a new one it started at the connection. */
void *kc_emu_guard_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct kc_emu *e = cls;
	(void)uri;
	struct kc_emu_conn *c = conn_rec(conn);
	if (c && atomic_load(&c->phase) == (int)G_IDLE)
		kc_emu_guard_set(conn, G_HEAD, kc_clock_ns() + e->prof.header_timeout_ns);
	return NULL; /* the request's con_cls: on_request sets it */
}

static void *guard_main(void *arg)
{
	struct kc_emu *e = arg;
	pthread_mutex_lock(&e->gmu);
	while (!e->gstop) {
		int64_t now = kc_clock_ns();
		for (struct kc_emu_conn *c = e->live_conns; c; c = c->next) {
			int ph = atomic_load(&c->phase);
			if (c->closing || ph == (int)G_BUSY || atomic_load(&c->deadline_ns) > now)
				continue;
			c->closing = true;
			(void)shutdown(c->fd, SHUT_RDWR);
			atomic_fetch_add(ph == (int)G_BODY ? &e->closed_body : &e->closed_header, 1);
			kc_log(KC_LOG_DEBUG, "emulator: closed a connection whose %s did not "
			       "arrive in time", ph == (int)G_BODY ? "request body" : "request headers");
		}
		int64_t due = kc_clock_ns() + GUARD_PERIOD_NS;
		struct timespec ts = {.tv_sec = (time_t)(due / KC_NS_PER_S),
				      .tv_nsec = (long)(due % KC_NS_PER_S)};
		pthread_cond_timedwait(&e->gcv, &e->gmu, &ts);
	}
	pthread_mutex_unlock(&e->gmu);
	return NULL;
}

int kc_emu_guard_start(struct kc_emu *e, struct kc_diag *d)
{
	if (pthread_create(&e->guard, NULL, guard_main, e) != 0)
		return kc_diag_set(d, KC_ENOMEM, "cannot start the slow-client guard thread");
	e->guard_started = true;
	return KC_OK;
}

void kc_emu_guard_stop(struct kc_emu *e)
{
	if (!e->guard_started)
		return;
	pthread_mutex_lock(&e->gmu);
	e->gstop = true;
	pthread_cond_signal(&e->gcv);
	pthread_mutex_unlock(&e->gmu);
	pthread_join(e->guard, NULL);
	e->guard_started = false;
}
