/*
 * svg.h - kneecap's small SVG chart writer: line, step and bar charts with
 * axes, "nice number" ticks, units, log scales, legends and marker lines
 * (the knee, the target).  Output is an <svg> element appended to a
 * struct kc_buf, meant to be inlined in the HTML report.
 *
 * Colours: series carry a palette index; the writer emits class="kc-sN"
 * plus a light-theme colour attribute, so the page's CSS can recolour for
 * dark mode and print.  Axes and text use currentColor.  Every string is
 * escaped.  No I/O, no allocation beyond the buffer.
 */
#ifndef KNEECAP_SVG_H
#define KNEECAP_SVG_H

#include <stdbool.h>
#include <stddef.h>

struct kc_buf;

#define KC_SVG_PALETTE 8
#define KC_SVG_BAD 8      /* palette index for "bad" (red) */
#define KC_SVG_MAX_TICKS 32

enum kc_svg_scale { KC_SVG_LINEAR, KC_SVG_LOG10 };

struct kc_svg_axis {
	const char *label;        /* "offered load" */
	const char *unit;         /* "RPS", "ms" (shown as "label (unit)") */
	enum kc_svg_scale scale;
	double min, max;          /* NAN = from the data */
	bool include_zero;        /* linear auto range starts at 0 */
	/* Custom ticks (e.g. percentile names on a tail axis); nticks 0 = auto. */
	size_t nticks;
	const double *ticks;
	const char *const *tick_labels;
	/* Time axis: tick labels as HH:MM of seconds since midnight. */
	bool clock;
};

struct kc_svg_series {
	const char *name;         /* legend text; NULL = not in the legend */
	const double *x, *y;      /* n points; NAN y breaks a line */
	size_t n;
	int color;                /* 0..KC_SVG_PALETTE-1, or KC_SVG_BAD */
	bool dashed;
	bool markers;             /* dots at the points */
	bool step;                /* hold each value until the next x */
	bool no_line;             /* markers only (separate measurements, not a curve) */
};

struct kc_svg_mark {
	double at;                /* x for vertical marks, y for horizontal */
	const char *label;
	int color;
	bool dashed;
};

struct kc_svg_chart {
	const char *title;
	const char *desc;         /* <desc> for screen readers */
	int width, height;        /* px; 0 = 640 x 320 */
	struct kc_svg_axis x, y;
	const struct kc_svg_series *series;
	size_t nseries;
	const struct kc_svg_mark *xmarks;   /* vertical lines */
	size_t nxmarks;
	const struct kc_svg_mark *ymarks;   /* horizontal lines */
	size_t nymarks;
	/* Bar charts: category names along x; series[i].y[j] is category j. */
	const char *const *categories;
	size_t ncategories;
};

/*
 * Appends a line (or step) chart.  Returns 0, KC_EINVAL (no series, or a
 * log axis with no positive value), KC_ELIMIT/KC_ENOMEM from the buffer.
 */
int kc_svg_line_chart(struct kc_buf *out, const struct kc_svg_chart *c);

/*
 * Appends a grouped bar chart: one group per category, one bar per series.
 * A NAN value draws no bar and writes "n/a" in its place.  Same returns.
 */
int kc_svg_bar_chart(struct kc_buf *out, const struct kc_svg_chart *c);

/*
 * "Nice numbers" (Heckbert, Graphics Gems, 1990): the 1, 2, 5 x 10^k value
 * near x; round picks the nearest, otherwise the smallest not below x.
 * x must be > 0.
 */
double kc_svg_nice(double x, bool round);

/*
 * Linear ticks covering [lo, hi] with about want ticks at a nice step:
 * ticks[0] <= lo and ticks[n-1] >= hi.  Returns the count (<= cap); 0 when
 * lo/hi are not finite or hi < lo.
 */
size_t kc_svg_ticks(double lo, double hi, int want, double *ticks, size_t cap);

/*
 * Log ticks at 1, 2, 5 x 10^k (or 10^k only when the range spans more
 * than three decades) covering [lo, hi], lo > 0.  Returns the count.
 */
size_t kc_svg_log_ticks(double lo, double hi, double *ticks, size_t cap);

/* Appends s with &, <, >, " and ' escaped (for XML text and attributes). */
int kc_svg_escape(struct kc_buf *out, const char *s);

/* Formats a tick value for its step: "2,400", "0.25", "1.5k" style. */
char *kc_svg_format_num(double v, double step, char *out, size_t outsz);

#endif
