/*
 * traffic.h - a day of request traffic described in a scenario's [traffic]
 * section: a baseline rate, periodic peaks with a ramp and a hold, and
 * troughs by time of day.  The capacity planner (plan.h) samples it with
 * kc_traffic_rate_at().  The language is documented in docs/traffic.md;
 * in short:
 *
 *   [traffic]
 *   baseline = 40                                   ; RPS outside peaks/troughs
 *   peak     = 220 ramp 90s hold 5m every 1h at :00 ; hourly spike
 *   peak.lunch = 120 ramp 10m hold 1h down 15m every 1d at 12:00
 *   trough   = 5 from 04:00 to 06:00                ; replaces the baseline
 *
 * Times are seconds since midnight of one day (UTC unless the user means
 * otherwise); the day repeats.  Pure data and arithmetic: no I/O.
 */
#ifndef KNEECAP_TRAFFIC_H
#define KNEECAP_TRAFFIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;
struct kc_scenario;

#define KC_TRAFFIC_DAY_S 86400
#define KC_TRAFFIC_MAX_PEAKS 16
#define KC_TRAFFIC_MAX_TROUGHS 16
/* The highest rate a shape may name: far above any single endpoint. */
#define KC_TRAFFIC_MAX_RPS 1e7

/*
 * A periodic peak.  Each period (every_s, which divides a day) the rate
 * climbs linearly from the level beneath it to rate_rps over ramp_s
 * starting at at_s into the period, holds for hold_s, then falls back over
 * down_s.
 */
struct kc_traffic_peak {
	char name[32];      /* "" for the key `peak`, "lunch" for `peak.lunch` */
	double rate_rps;
	int64_t ramp_s;
	int64_t hold_s;
	int64_t down_s;
	int64_t every_s;    /* period; divides 86400 */
	int64_t at_s;       /* offset of the ramp start within the period */
	int line;           /* scenario line, for messages */
};

/* A time-of-day window [from_s, to_s) in which rate_rps replaces the
 * baseline; to_s < from_s wraps past midnight. */
struct kc_traffic_trough {
	char name[32];
	double rate_rps;
	int64_t from_s;
	int64_t to_s;
	int line;
};

struct kc_traffic {
	double baseline_rps;
	size_t npeaks;
	struct kc_traffic_peak peaks[KC_TRAFFIC_MAX_PEAKS];
	size_t ntroughs;
	struct kc_traffic_trough troughs[KC_TRAFFIC_MAX_TROUGHS];
};

/*
 * Reads the [traffic] section of sc into *out: `baseline` (required),
 * `peak`/`peak.NAME` and `trough`/`trough.NAME` (any number up to the
 * limits above).  Marks the keys it reads as used.  Returns 0; KC_ENOTFOUND
 * when there is no [traffic] section or no baseline (d says so); KC_EINVAL
 * with d = "file:line: key: problem" for a bad value or an unknown key in
 * [traffic].  *out is untouched on failure.
 */
int kc_traffic_from_scenario(struct kc_traffic *out, struct kc_scenario *sc,
			     struct kc_diag *d);

/*
 * Parses one peak value ("220 ramp 90s hold 5m every 1h at :00").
 * Returns 0 or KC_EINVAL with d->msg saying what is wrong (no file/line:
 * the caller adds them).  *out untouched on failure.
 */
int kc_traffic_parse_peak(const char *text, struct kc_traffic_peak *out,
			  struct kc_diag *d);

/* Parses one trough value ("5 from 04:00 to 06:00"); as kc_traffic_parse_peak. */
int kc_traffic_parse_trough(const char *text, struct kc_traffic_trough *out,
			    struct kc_diag *d);

/*
 * The offered rate in requests per second at t_s seconds since midnight
 * (any t_s; the day repeats).  The level beneath peaks is the trough rate
 * inside a trough window, else the baseline; overlapping peaks take the
 * highest.  Never negative.
 */
double kc_traffic_rate_at(const struct kc_traffic *t, double t_s);

/* The highest rate over the day (sampled every second), requests/second. */
double kc_traffic_peak_rps(const struct kc_traffic *t);

/* The lowest rate over the day, requests/second. */
double kc_traffic_low_rps(const struct kc_traffic *t);

/*
 * The steepest rise over the day in requests/second per second (the
 * fastest peak ramp, measured over the shape itself), and when it starts
 * (*at_s, may be NULL).
 */
double kc_traffic_steepest_ramp(const struct kc_traffic *t, int64_t *at_s);

/*
 * Writes "220 RPS, ramp 90s, hold 5m, every 1h at :00" style text for a
 * peak into out (always NUL-terminated).  Returns out.
 */
char *kc_traffic_peak_describe(const struct kc_traffic_peak *p, char *out,
			       size_t outsz);

#endif
