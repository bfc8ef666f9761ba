/*
 * guard.c - the HTTP/1.1 face's slow-client guard.
 *
 * libmicrohttpd's connection timeout is an idle timeout: one byte now and
 * then resets it, so a client that trickles its headers (slowloris) or its
 * body holds a connection for ever, and a few thousand of them hold all of
 * them.  The guard gives each connection a deadline for what it owes next
 * (headers: header_timeout from the connection, or on a kept-alive one
 * from the next request's first byte; body: body_timeout since the last
 * body bytes; an idle kept-alive one: keepalive_timeout from the answer)
 * and a thread shuts down, every GUARD_PERIOD_NS, the sockets past theirs;
 * MHD then sees the end of the stream and closes the connection itself.  The
 * records live from MHD's STARTED to its CLOSED notification, and MHD
 * closes the descriptor only after CLOSED: the shutdown under gmu can never
 * hit a descriptor number reused by a newer connection.
 *
 * The first byte of a kept-alive connection's next request: MHD reads it
 * into its buffer at once and says nothing until the request line is
 * complete, so a trickled request line would sit on the idle clock.  The
 * kernel counts what the socket received (TCP_INFO tcpi_bytes_received):
 * the count when a request is all read is kept, and the guard, finding it
 * grown on an idle connection, starts the header clock then (within
 * GUARD_PERIOD_NS of the byte).  An idle connection, where it did not grow,
 * keeps keepalive_timeout, so a load generator's connections that wait
 * between requests at a low rate are not cut at header_timeout.
 */
#include "guard_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>

#define GUARD_PERIOD_NS (INT64_C(250) * KC_NS_PER_MS)

static struct kc_emu_conn *conn_rec(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Bytes the socket has received so far, or -1 if the kernel does not say
 * (not TCP, or older than Linux 4.1). */
static int64_t bytes_received(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return -1;
	return (int64_t)ti.tcpi_bytes_received;
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

/* The request is all read: what the socket has received so far is its;
 * more, before the next request line, is the next request (guard_int.h).
 * Taken now, not at the answer's end: a client may have its answer and
 * send again before MHD reports the request completed. */
void kc_emu_guard_busy(struct MHD_Connection *conn)
{
	struct kc_emu_conn *c = conn_rec(conn);
	if (!c)
		return;
	atomic_store(&c->idle_bytes, bytes_received(c->fd));
	kc_emu_guard_set(conn, G_BUSY, 0);
}

/* An answer is done: conn idles until its next request (guard_int.h). */
void kc_emu_guard_idle(struct kc_emu *e, struct MHD_Connection *conn)
{
	struct kc_emu_conn *c = conn_rec(conn);
	if (!c)
		return;
	atomic_store(&c->head_due_ns, INT64_MAX);
	kc_emu_guard_set(conn, G_IDLE, kc_clock_ns() + e->prof.keepalive_timeout_ns);
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
			atomic_store(&c->idle_bytes, -1);
			atomic_store(&c->head_due_ns, INT64_MAX);
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

/* The request line is in: on a kept-alive connection the headers are due
 * header_timeout from its first byte (when the guard saw it; now if it did
 * not yet); on a new one the clock started at the connection. */
void *kc_emu_guard_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct kc_emu *e = cls;
	(void)uri;
	struct kc_emu_conn *c = conn_rec(conn);
	if (c && atomic_load(&c->phase) == (int)G_IDLE) {
		int64_t due = kc_clock_ns() + e->prof.header_timeout_ns;
		int64_t first = atomic_load(&c->head_due_ns);
		kc_emu_guard_set(conn, G_HEAD, first < due ? first : due);
	}
	return NULL; /* the request's con_cls: on_request sets it */
}

/* An idle connection's deadline (guard thread, under gmu): keepalive's, or
 * header_timeout from when the guard first saw bytes of a next request. */
static int64_t idle_due(struct kc_emu *e, struct kc_emu_conn *c, int64_t now)
{
	int64_t ka = atomic_load(&c->deadline_ns); /* this idle period's */
	int64_t hd = atomic_load(&c->head_due_ns);
	if (hd == INT64_MAX) {
		int64_t base = atomic_load(&c->idle_bytes);
		int64_t got = bytes_received(c->fd);
		if (base >= 0 && got > base) {
			int64_t want = now + e->prof.header_timeout_ns;
			if (atomic_compare_exchange_strong(&c->head_due_ns, &hd, want)) {
				hd = want;
				/* The connection answered a request and went idle again
				 * meanwhile: what was seen belongs to the old period. */
				if (atomic_load(&c->deadline_ns) != ka) {
					atomic_compare_exchange_strong(&c->head_due_ns, &hd, INT64_MAX);
					return INT64_MAX;
				}
			}
		}
	}
	return hd < ka ? hd : ka;
}

static void *guard_main(void *arg)
{
	struct kc_emu *e = arg;
	pthread_mutex_lock(&e->gmu);
	while (!e->gstop) {
		int64_t now = kc_clock_ns();
		for (struct kc_emu_conn *c = e->live_conns; c; c = c->next) {
			int ph = atomic_load(&c->phase);
			if (c->closing || ph == (int)G_BUSY)
				continue;
			int64_t due = ph == (int)G_IDLE ? idle_due(e, c, now)
							: atomic_load(&c->deadline_ns);
			if (due > now)
				continue;
			if (ph == (int)G_IDLE && atomic_load(&c->head_due_ns) == INT64_MAX) {
				/* Idle past keepalive_timeout: an ordinary close. */
				c->closing = true;
				(void)shutdown(c->fd, SHUT_RDWR);
				atomic_fetch_add(&e->closed_idle, 1);
				continue;
			}
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
