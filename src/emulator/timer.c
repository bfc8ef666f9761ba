/*
 * timer.c - the HTTP/1.1 face's service clock.  A request whose answer is
 * not due yet (the model's done_ns, a stall window's end, a trickled
 * chunk's interval) has its connection suspended and parked in a min-heap
 * of deadlines; one timer thread sleeps on CLOCK_MONOTONIC absolute
 * deadlines, tells the model the request left, and resumes the
 * connection, whose handler then queues the answer.  No thread ever sleeps
 * for a request, so the queue grows exactly when the offered load passes
 * the model's capacity, not when a thread pool runs out.
 *
 * Locks: `tmu` guards the heap, the stopping flag and die_pending.  Order:
 * tmu, then MHD's own (MHD_suspend_connection takes it); e->mu (taken by
 * the kc_emu_req_* calls) is never held with it.
 */
#include "server_int.h"
#include "timer_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Timer entries fired per lock hold. */
#define FIRE_BATCH 64

/* ---- timer heap (under tmu) ---------------------------------------- */

static bool before(const struct req *a, const struct req *b)
{
	return a->due_ns < b->due_ns;
}

static void heap_push(struct kc_emu *e, struct req *r)
{
	KC_ASSERT(e->heap_n < e->heap_cap);
	int i = e->heap_n++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!before(r, e->heap[p]))
			break;
		e->heap[i] = e->heap[p];
		i = p;
	}
	e->heap[i] = r;
}

static struct req *heap_pop(struct kc_emu *e)
{
	KC_ASSERT(e->heap_n > 0);
	struct req *top = e->heap[0];
	struct req *last = e->heap[--e->heap_n];
	int i = 0, n = e->heap_n;
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct req *mv = last;
		if (l < n && before(e->heap[l], mv)) {
			m = l;
			mv = e->heap[l];
		}
		if (r < n && before(e->heap[r], mv))
			m = r;
		if (m == i)
			break;
		e->heap[i] = e->heap[m];
		i = m;
	}
	if (n > 0)
		e->heap[i] = last;
	return top;
}

/* Suspends r's connection until due_ns (timer_int.h). */
bool kc_emu_park(struct kc_emu *e, struct req *r, int64_t due_ns, enum tkind kind)
{
	pthread_mutex_lock(&e->tmu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->tmu);
		return false;
	}
	/* Suspend before the timer can see r: resuming a connection that is
	 * not suspended is undefined in MHD. */
	MHD_suspend_connection(r->conn);
	r->state = S_PARKED;
	r->due_ns = due_ns;
	r->tkind = kind;
	bool wake = e->heap_n == 0 || due_ns < e->heap[0]->due_ns;
	heap_push(e, r);
	if (wake)
		pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	return true;
}

/* Puts an already suspended r back in the heap (a stall deferred it). */
static bool repark(struct kc_emu *e, struct req *r, int64_t due_ns)
{
	pthread_mutex_lock(&e->tmu);
	bool ok = !e->stopping;
	if (ok) {
		r->due_ns = due_ns;
		r->tkind = TK_DELIVER;
		heap_push(e, r);
	}
	pthread_mutex_unlock(&e->tmu);
	return ok;
}

void kc_emu_mark_dying(struct kc_emu *e)
{
	pthread_mutex_lock(&e->tmu);
	e->die_pending = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
}

/* ---- the timer thread ---------------------------------------------- */

static void fire(struct kc_emu *e, struct req *r, bool stopping)
{
	if (r->tkind == TK_FINISH)
		kc_emu_req_leave(e, r);
	if (r->tkind == TK_TRICKLE) {
		/* Mid-response: the reader callback sends the next chunk. */
		r->trickle_ready = true;
		r->state = S_DONE;
	} else if (stopping) {
		kc_emu_req_stopping(r);
		r->state = S_READY;
	} else {
		int64_t end = kc_emu_stall_until(e, kc_clock_ns());
		if (end >= 0 && repark(e, r, end))
			return;
		r->state = S_READY;
	}
	MHD_resume_connection(r->conn);
}

/* fault_close_after tripped: stop accepting (connects are refused) and let
 * every later request on an open connection be dropped. */
static void die(struct kc_emu *e)
{
	atomic_store(&e->dead, true);
	/* e->listen_fd is already -1: the socket belongs to MHD, which hands
	 * it back here. */
	MHD_socket fd = MHD_quiesce_daemon(e->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	kc_log(KC_LOG_WARN, "emulator: fault_close_after=%" PRId64 " reached, "
	       "the server is now dead", e->prof.faults.close_after);
}

static void *timer_main(void *arg)
{
	struct kc_emu *e = arg;
	/* Default timer slack is 50 us; service deadlines want better. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct req *batch[FIRE_BATCH];
	pthread_mutex_lock(&e->tmu);
	for (;;) {
		/* A request may trip close_after before kc_emu_mhd_start has stored
		 * e->mhd: die() waits until it is published (under tmu). */
		if (e->die_pending && e->mhd_ready) {
			e->die_pending = false;
			pthread_mutex_unlock(&e->tmu);
			die(e);
			pthread_mutex_lock(&e->tmu);
			continue;
		}
		if (e->stopping)
			break;
		if (e->heap_n == 0) {
			pthread_cond_wait(&e->tcv, &e->tmu);
			continue;
		}
		int64_t now = kc_clock_ns();
		if (e->heap[0]->due_ns > now) {
			int64_t due = e->heap[0]->due_ns;
			struct timespec ts = {.tv_sec = (time_t)(due / KC_NS_PER_S),
					      .tv_nsec = (long)(due % KC_NS_PER_S)};
			pthread_cond_timedwait(&e->tcv, &e->tmu, &ts);
			continue;
		}
		int n = 0;
		while (n < FIRE_BATCH && e->heap_n > 0 && e->heap[0]->due_ns <= now)
			batch[n++] = heap_pop(e);
		pthread_mutex_unlock(&e->tmu);
		for (int i = 0; i < n; i++)
			fire(e, batch[i], false);
		pthread_mutex_lock(&e->tmu);
	}
	/* Stopping: every parked connection must be resumed before
	 * MHD_stop_daemon, or MHD panics. */
	while (e->heap_n > 0) {
		struct req *r = heap_pop(e);
		pthread_mutex_unlock(&e->tmu);
		fire(e, r, true);
		pthread_mutex_lock(&e->tmu);
	}
	pthread_mutex_unlock(&e->tmu);
	return NULL;
}

int kc_emu_timer_start(struct kc_emu *e, struct kc_diag *d)
{
	if (pthread_create(&e->timer, NULL, timer_main, e) != 0)
		return kc_diag_set(d, KC_ENOMEM, "cannot start the timer thread");
	e->timer_started = true;
	return KC_OK;
}

void kc_emu_timer_stop(struct kc_emu *e)
{
	if (!e->timer_started)
		return;
	pthread_mutex_lock(&e->tmu);
	e->stopping = true;
	pthread_cond_signal(&e->tcv);
	pthread_mutex_unlock(&e->tmu);
	pthread_join(e->timer, NULL);
	e->timer_started = false;
}
