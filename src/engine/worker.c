/*
 * worker.c - one worker thread's loop for one step: release requests on
 * the schedule (open loop) or keep N outstanding (closed loop), drive the
 * engine's request driver (proto.h: native HTTP/1.1, h2c or libcurl,
 * chosen once per engine), and account completions.
 *
 * A worker touches only its own struct worker.  It sleeps in the driver's
 * wait (epoll over its connections, or curl_multi_poll) until the next
 * intended send time (plus the release slack, when there is one), with
 * nanosecond (not millisecond) precision and
 * without spinning: epoll_pwait2's timeout where the kernel has it, else a
 * timerfd armed at that time.  Requests
 * whose time has come while all slots are busy wait in a bounded FIFO; when
 * the FIFO plus busy slots reach the worker's in-flight cap, new arrivals
 * are counted as shed.  The loop never allocates.
 */
#include "engine_int.h"
#include "proto.h"

#include "kneecap/clock.h"

/* How long the loop may sleep without looking at the stop flag. */
#define POLL_CAP_NS (50 * KC_NS_PER_MS)

static void publish(struct worker *w)
{
	uint64_t busy = w->nslots - w->nfree;
	atomic_store_explicit(&w->a_inflight, busy + w->qlen, memory_order_relaxed);
	atomic_store_explicit(&w->a_ok_in_window, w->c.ok_in_window, memory_order_relaxed);
	atomic_store_explicit(&w->a_completed, w->c.completed, memory_order_relaxed);
	uint64_t errs = 0;
	for (int i = 0; i < KC_EC_COUNT; i++)
		errs += w->c.errclass[i];
	atomic_store_explicit(&w->a_errors, errs, memory_order_relaxed);
}

/* Starts a request on a free slot; a refused (decorator) request frees it again. */
static void start_on_free_slot(struct worker *w, int64_t intended_ns, bool measured,
			       int64_t now_ns)
{
	KC_ASSERT(w->nfree > 0);
	struct slot *s = &w->slots[w->free_stack[--w->nfree]];
	if (!w->proto->start(w, s, intended_ns, measured, now_ns))
		w->free_stack[w->nfree++] = s->index;
}

/* Handles one arrival the schedule produced (open loop). */
static void arrive(struct worker *w, int64_t intended_ns, int64_t now_ns)
{
	bool measured = intended_ns >= w->win_start_ns;
	if (measured) {
		w->c.scheduled++;
		kc_hdr_record(w->lag, (now_ns - intended_ns) / KC_NS_PER_US);
	}
	if (w->nfree > 0 && w->qlen == 0) {
		start_on_free_slot(w, intended_ns, measured, now_ns);
		return;
	}
	uint64_t inflight = (uint64_t)(w->nslots - w->nfree) + w->qlen;
	if (inflight >= w->cap_inflight || w->qlen >= w->qcap) {
		if (measured)
			w->c.errclass[KC_EC_SHED]++;
		return;
	}
	uint32_t tail = (w->qhead + w->qlen) % w->qcap;
	w->queue[tail].intended_ns = intended_ns;
	w->queue[tail].measured = measured;
	w->qlen++;
}

/* Moves waiting requests onto slots that completions freed. */
static void dequeue_waiting(struct worker *w, int64_t now_ns)
{
	while (w->qlen > 0 && w->nfree > 0) {
		struct pending p = w->queue[w->qhead];
		w->qhead = (w->qhead + 1) % w->qcap;
		w->qlen--;
		start_on_free_slot(w, p.intended_ns, p.measured, now_ns);
	}
}

/* Reads finished transfers; returns how many finished. */
static int reap(struct worker *w, bool closed_loop, bool issuing)
{
	int n = 0;
	int64_t now = kc_clock_ns();
	while (w->proto->reap(w, now)) {
		n++;
		if (closed_loop && issuing && now < w->win_end_ns) {
			/* Closed loop: the next request leaves as this one returns. */
			start_on_free_slot(w, now, now >= w->win_start_ns, now);
		}
	}
	return n;
}

static void abandon_all(struct worker *w)
{
	for (uint32_t i = 0; i < w->nslots; i++)
		w->proto->abandon(w, &w->slots[i]);
	w->qlen = 0;
	w->qhead = 0;
}

/*
 * The step ended (drain deadline or stop) with requests that have no
 * outcome: on a connection or waiting for one.  Each measured one is
 * counted unfinished (an error: nothing came back) and its time so far,
 * now - intended send, goes into the corrected histogram as a lower bound
 * of its latency, so a stalled server reads as a stall, never as silence.
 * The service histogram keeps responses only.
 */
static void count_unfinished(struct worker *w, int64_t now)
{
	for (uint32_t i = 0; i < w->nslots; i++) {
		const struct slot *s = &w->slots[i];
		if (!s->busy || !s->measured)
			continue;
		w->c.errclass[KC_EC_UNFINISHED]++;
		kc_hdr_recorder_record(&w->latency_rec, (now - s->intended_ns) / KC_NS_PER_US);
	}
	for (uint32_t i = 0; i < w->qlen; i++) {
		const struct pending *p = &w->queue[(w->qhead + i) % w->qcap];
		if (!p->measured)
			continue;
		w->c.errclass[KC_EC_UNFINISHED]++;
		kc_hdr_recorder_record(&w->latency_rec, (now - p->intended_ns) / KC_NS_PER_US);
	}
}

/*
 * Ends the step with what is still outstanding: first reads what already
 * finished (a transfer done but not yet reaped, a request that failed
 * while being started and waits on its driver's done stack) so it counts
 * as what it is, then counts the rest unfinished and drops it.
 */
static void give_up(struct worker *w)
{
	w->proto->wait(w, 0);
	w->proto->perform(w);
	reap(w, false, false);
	count_unfinished(w, kc_clock_ns());
	abandon_all(w);
}

static void run_loop(struct worker *w)
{
	struct kc_engine *e = w->e;
	const bool closed = w->spec->mode == KC_STEP_CONCURRENCY;
	bool issuing = true;
	int64_t next = closed ? 0 : kc_schedule_peek(&w->sched);

	w->proto->step_begin(w);
	kc_sleep_until_ns(w->start_ns);
	if (closed) {
		int64_t now = kc_clock_ns();
		for (uint32_t i = 0; i < w->concurrency && w->nfree > 0; i++)
			start_on_free_slot(w, now, now >= w->win_start_ns, now);
	}
	for (;;) {
		if (atomic_load_explicit(&e->stop, memory_order_relaxed)) {
			w->partial = true;
			break;
		}
		int64_t now = kc_clock_ns();
		int64_t cut = atomic_load_explicit(&e->cut_ns, memory_order_relaxed);
		if (cut > 0 && cut < w->win_end_ns) {
			/* kc_engine_end_window: the window ends at cut, and the
			 * drain keeps its length after it. */
			w->drain_end_ns -= w->win_end_ns - cut;
			w->win_end_ns = cut;
		}
		/* With release slack the arrivals leave in batches: none until
		 * the oldest due one has waited its slack, then all that are
		 * due.  Released one by one whenever a response woke the loop,
		 * each request would bring its own response's wake-up: at 20,000
		 * RPS 0.75 context switches per request, whatever the slack. */
		if (issuing && !closed) {
			if (now >= next + w->slack_ns) {
				while (next <= now && next < w->win_end_ns) {
					arrive(w, next, now);
					kc_schedule_next(&w->sched);
					next = kc_schedule_peek(&w->sched);
				}
			}
			if (next <= now && next >= w->win_end_ns)
				issuing = false;
		} else if (issuing && now >= w->win_end_ns) {
			issuing = false;
		}
		/*
		 * Perform until no transfer finishes: a perform that sends the
		 * requests just added may also finish others, and a finished
		 * transfer left unread would sleep through the poll below.
		 * Bounded: each round needs a completion, at most nslots of them.
		 */
		for (uint32_t round = 0; round <= w->nslots; round++) {
			w->proto->perform(w);
			if (reap(w, closed, issuing) == 0)
				break;
			dequeue_waiting(w, kc_clock_ns());
		}
		publish(w);
		now = kc_clock_ns();
		bool idle = w->nfree == w->nslots && w->qlen == 0;
		if (!issuing && idle)
			break;
		if (!issuing && now >= w->drain_end_ns) {
			give_up(w);
			break;
		}
		int64_t deadline = now + POLL_CAP_NS;
		if (issuing && !closed && next + w->slack_ns < deadline)
			deadline = next + w->slack_ns;
		w->proto->wait(w, deadline);
	}
	if (w->partial)
		give_up(w);
	kc_worker_arm_timer(w, 0, 0);
	publish(w);
}

void *kc_worker_main(void *arg)
{
	struct worker *w = arg;
	int64_t cpu0 = kc_thread_cpu_ns();
	run_loop(w);
	w->cpu_ns = kc_thread_cpu_ns() - cpu0;
	atomic_store_explicit(&w->a_done, true, memory_order_release);
	return NULL;
}
