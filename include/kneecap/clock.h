/*
 * clock.h - time in kneecap: int64_t nanoseconds.
 *
 * Intervals and schedules use CLOCK_MONOTONIC; wall time is only for
 * report timestamps and SigV4 dates.
 */
#ifndef KNEECAP_CLOCK_H
#define KNEECAP_CLOCK_H

#include <stdint.h>

#define KC_NS_PER_US INT64_C(1000)
#define KC_NS_PER_MS INT64_C(1000000)
#define KC_NS_PER_S INT64_C(1000000000)

/* Monotonic nanoseconds since an arbitrary origin; never goes back. */
int64_t kc_clock_ns(void);

/* Wall-clock nanoseconds since the Unix epoch (UTC). */
int64_t kc_wall_ns(void);

/* Thread CPU time used so far by the calling thread, in nanoseconds. */
int64_t kc_thread_cpu_ns(void);

/* Sleeps until the monotonic clock reads deadline_ns (returns early on a signal). */
void kc_sleep_until_ns(int64_t deadline_ns);

/* Sleeps for ns nanoseconds (returns early on a signal). */
void kc_sleep_ns(int64_t ns);

#endif
