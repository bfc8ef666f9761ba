/*
 * clock.c - thin wrappers over clock_gettime so every module reads time the
 * same way and tests can reason in integers.
 */
#include "kneecap/clock.h"

#include <errno.h>
#include <time.h>

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * KC_NS_PER_S + ts.tv_nsec;
}

int64_t kc_clock_ns(void) { return read_clock(CLOCK_MONOTONIC); }
int64_t kc_wall_ns(void) { return read_clock(CLOCK_REALTIME); }
int64_t kc_thread_cpu_ns(void) { return read_clock(CLOCK_THREAD_CPUTIME_ID); }

void kc_sleep_until_ns(int64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / KC_NS_PER_S),
		.tv_nsec = (long)(deadline_ns % KC_NS_PER_S),
	};
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void kc_sleep_ns(int64_t ns)
{
	if (ns <= 0)
		return;
	kc_sleep_until_ns(kc_clock_ns() + ns);
}
