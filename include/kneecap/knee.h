/*
 * knee.h - judging load steps: is this step healthy, and if not, which
 * criterion ended it; plus the cross-checks that explain a knee.
 *
 * Pure functions over struct kc_step_result (step.h): no clocks, sockets,
 * threads or output.  All functions are thread-safe (they touch only their
 * arguments).  Latencies are milliseconds, rates per second, loads are rps
 * ("rps" mode) or concurrent streams ("streams" mode).
 */
#ifndef KNEECAP_KNEE_H
#define KNEECAP_KNEE_H

#include <stdbool.h>
#include <stddef.h>

#include "kneecap/step.h"

struct kc_diag;

/* What a load means. */
enum kc_load_mode {
	KC_MODE_RPS,     /* offered = requests per second (open loop) */
	KC_MODE_STREAMS, /* offered = concurrent bidirectional streams */
};

/* "rps" or "streams" (the result.json `mode` and knee `unit`). */
const char *kc_load_mode_name(enum kc_load_mode m);

/*
 * A step's verdict: "healthy", or the criterion that made it unhealthy.
 * Append-only; results store the names (kc_verdict_name), never the numbers.
 */
enum kc_verdict {
	KC_VERDICT_HEALTHY,
	KC_VERDICT_THROUGHPUT,       /* achieved < min_achieved_ratio x offered */
	KC_VERDICT_INFLIGHT_GROWTH,  /* in-flight requests trended upward */
	KC_VERDICT_ERRORS,           /* error rate above max_error_rate, or any request
					unfinished (no outcome when the step ended) */
	KC_VERDICT_LATENCY_SLO,      /* chosen latency statistic above the SLO */
	KC_VERDICT_GENERATOR_BOUND,  /* the load generator fell behind: invalid */
	KC_VERDICT_UNSTABLE,         /* repeated measurements disagreed, or partial */
	KC_VERDICT_COUNT
};

/* Stable lower-case name ("healthy", "throughput", "inflight_growth", ...). */
const char *kc_verdict_name(enum kc_verdict v);

/*
 * A rate as every report prints it (terminal table, steps.csv, result.json,
 * report.html): rounded to 2 decimals below 10, to 1 decimal from 10 up.
 * The verdict is judged on these figures, so a row a reader checks by hand
 * agrees with its verdict.  kc_rate_decimals gives the decimals for printf.
 */
double kc_rate_figure(double v);
int kc_rate_decimals(double v);
/* As kc_rate_figure, rounding down (a knee printed must not exceed the
 * rate it was bounded by). */
double kc_rate_figure_down(double v);

/*
 * The arrivals a step's schedule actually produced, per second of its
 * measured window (Poisson counts vary around the nominal offered rate);
 * the nominal offered load when unknown (streams, or no count).  Not
 * rounded.
 */
double kc_step_arrived(const struct kc_step_result *s);

/* Which latency number a limit applies to. */
enum kc_lat_stat { KC_STAT_P50, KC_STAT_P90, KC_STAT_P99, KC_STAT_P999, KC_STAT_MEAN, KC_STAT_COUNT };

/* "p50", "p90", "p99", "p999" or "mean". */
const char *kc_lat_stat_name(enum kc_lat_stat s);

/* Parses one of the names above. Returns 0 or KC_EINVAL (*out untouched). */
int kc_lat_stat_parse(const char *name, enum kc_lat_stat *out);

/* The statistic s of l, in milliseconds. */
double kc_lat_stat_value(const struct kc_latency *l, enum kc_lat_stat s);

/*
 * Health thresholds.  kc_health_cfg_default() fills the defaults named in
 * each comment; the search and the CLI may then override fields.
 */
struct kc_health_cfg {
	enum kc_load_mode mode;
	double min_achieved_ratio;  /* 0.97: achieved >= this x offered */
	double max_error_rate;      /* 0.01: errors / (ok + errors) */
	bool slo_set;               /* rps: false (no latency objective); streams: true */
	double slo_ms;              /* > 0 when slo_set; streams default 400 */
	enum kc_lat_stat slo_stat;  /* rps: p99; streams: mean */
	/*
	 * In-flight trend (rps mode).  The step's projected growth is
	 * inflight_slope x window seconds; it counts as "trending upward" only
	 * when BOTH that projection and the measured inflight_end -
	 * inflight_start exceed the tolerance
	 *     max(inflight_growth_abs, inflight_growth_rel x level,
	 *         inflight_growth_z x sqrt(arrivals in the window)).
	 * Requiring both signals to agree keeps one noisy second from failing a
	 * step.  The absolute floor keeps a level of 1-2 requests from tripping
	 * on +-1.  The relative part scales with the level (the lower of start
	 * and end, so a growing queue cannot widen its own tolerance).  The
	 * last part is the counting noise of the arrivals themselves: with
	 * Poisson arrivals the number in a window of n expected varies by
	 * sqrt(n), and near capacity the in-flight count random-walks by that
	 * much even when the server keeps up on average.
	 */
	double inflight_growth_abs; /* 4 requests */
	double inflight_growth_rel; /* 0.5 (50% of the level) */
	double inflight_growth_z;   /* 1.0 (one Poisson standard deviation) */
	/* Generator gate: schedule lag p99 above this (ms) is a generator problem. */
	double max_lag_ms;          /* 100 */
	/*
	 * A criterion within this relative distance of its threshold makes the
	 * verdict ambiguous (stable = false), which asks the search to
	 * re-measure the step.
	 */
	double ambiguity;           /* 0.02 */
};

/* Fills the defaults for mode. */
void kc_health_cfg_default(struct kc_health_cfg *c, enum kc_load_mode mode);

/*
 * Checks a health configuration: ratios in (0,1], slo > 0 when set, ...
 * Returns 0 or KC_EINVAL with d saying which field is wrong.
 */
int kc_health_cfg_validate(const struct kc_health_cfg *c, struct kc_diag *d);

/* One step's verdict and the signals it was read from. */
struct kc_step_verdict {
	enum kc_verdict verdict;
	bool valid;            /* false: generator-bound or partial, never a knee */
	bool stable;           /* false: a signal sat within `ambiguity` of its threshold */
	bool generator_note;   /* shed/lag seen, but the server was already behind */
	double achieved_ratio; /* rps: kc_rate_figure(achieved) / kc_rate_figure(arrived);
				  streams: achieved / offered */
	double error_rate;     /* server errors (shed left out) / (ok + errors); 0 when none finished */
	double latency_ms;     /* the configured statistic (slo_stat) */
	double inflight_growth;/* projected growth across the window, requests */
	double inflight_tol;   /* the tolerance it was compared with */
};

/*
 * Judges one step against c.  Criteria are checked in a fixed order so the
 * verdict names the most fundamental failure: generator gate, partial,
 * errors, throughput, in-flight growth, latency SLO.
 *
 * The generator gate: a step is GENERATOR_BOUND (valid = false) when the
 * engine set generator_bound, or when it shed requests or its send lag p99
 * exceeded max_lag_ms while the server still answered what it was sent
 * (completed close to sent).  When the server itself had fallen behind, shed
 * and lag are consequences of the server's saturation: the step is judged by
 * the server criteria and generator_note is set.
 */
void kc_knee_judge(const struct kc_health_cfg *c, const struct kc_step_result *s,
		   struct kc_step_verdict *out);

/*
 * Cross-checks that explain a knee (carried in result.json so a reader sees
 * why this number).
 */
struct kc_knee_check {
	/* Kneedle (Satopaa, Albrecht, Irwin, Raghavan 2011) on achieved-vs-offered. */
	bool kneedle_found;
	double kneedle_offered;     /* offered load at the Kneedle knee */
	double kneedle_achieved;
	/* Mean latency at the knee step / at the lowest-load step. */
	bool inflation_set;
	double latency_mean_low_ms;
	double latency_mean_knee_ms;
	double latency_inflation;
	/* Little's law at the knee: in-flight ~= throughput x latency. */
	bool little_set;
	double little_observed;     /* mean of inflight_start and inflight_end */
	double little_predicted;    /* achieved x service mean (s) */
	double little_ratio;        /* observed / predicted */
	bool little_consistent;     /* ratio within [0.5, 2] */
};

/*
 * Kneedle, offline, on points (x[i], y[i]) for a concave increasing curve:
 * both axes normalised to [0,1] over the data, the difference curve
 * d = y_n - x_n, knee = the point where d is largest.  Points need not be
 * sorted; duplicates in x keep the one seen first.  Returns the index of the
 * knee, or -1 when there are fewer than 3 distinct x values or the curve
 * never bends (max d < 0.02, i.e. a straight line).
 */
int kc_kneedle(const double *x, const double *y, size_t n);

/*
 * Fills out from the steps (any order) and the index of the knee step in
 * steps (-1 when there is none: then only Kneedle is filled).  Invalid
 * (generator-bound) steps are left out of Kneedle.
 */
void kc_knee_check(const struct kc_step_result *steps, size_t n, int knee_idx,
		   struct kc_knee_check *out);

#endif
