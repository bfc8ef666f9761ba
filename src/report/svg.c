/*
 * svg.c - a small SVG chart writer for the HTML report.
 *
 * It draws what kneecap's reports need and nothing more: line/step charts
 * on linear or log axes and grouped bar charts, with nice-number ticks,
 * axis labels with units, a legend row, and labelled marker lines.  It is
 * not a plotting library: no layout engine, no text measurement beyond a
 * character-width estimate, no interactivity (the report has no scripts).
 * Invariant: every value placed in the document is either a number printed
 * with %.1f or a string passed through kc_svg_escape().
 */
#include "kneecap/svg.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Light-theme colours (Okabe-Ito, colour-blind safe); CSS may override. */
static const char *const palette[KC_SVG_PALETTE + 1] = {
	"#0072B2", "#E69F00", "#009E73", "#CC79A7",
	"#56B4E9", "#D55E00", "#7F7F7F", "#8C6D1F", "#C62828",
};

#define ML 70.0   /* left margin: y tick labels + axis label */
#define MR 20.0
#define MT 48.0   /* title + legend row */
#define MB 46.0   /* x tick labels + axis label */
#define FONT 12.0

int kc_svg_escape(struct kc_buf *out, const char *s)
{
	int rc = KC_OK;
	for (const char *p = s ? s : ""; *p && !rc; p++) {
		switch (*p) {
		case '&': rc = kc_buf_puts(out, "&amp;"); break;
		case '<': rc = kc_buf_puts(out, "&lt;"); break;
		case '>': rc = kc_buf_puts(out, "&gt;"); break;
		case '"': rc = kc_buf_puts(out, "&quot;"); break;
		case '\'': rc = kc_buf_puts(out, "&#39;"); break;
		default:
			/* Control characters are not allowed in XML 1.0 text. */
			if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
				rc = kc_buf_puts(out, "?");
			else
				rc = kc_buf_append(out, p, 1);
		}
	}
	return rc;
}

double kc_svg_nice(double x, bool round)
{
	KC_ASSERT(x > 0);
	double e = floor(log10(x));
	double f = x / pow(10, e);
	double nf;
	if (round)
		nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
	else
		nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
	return nf * pow(10, e);
}

size_t kc_svg_ticks(double lo, double hi, int want, double *ticks, size_t cap)
{
	if (!isfinite(lo) || !isfinite(hi) || hi < lo || cap == 0 || want < 2)
		return 0;
	if (hi == lo) {
		double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
		lo -= pad;
		hi += pad;
	}
	double range = kc_svg_nice(hi - lo, false);
	double step = kc_svg_nice(range / (want - 1), true);
	double first = floor(lo / step) * step, last = ceil(hi / step) * step;
	size_t n = 0;
	for (double v = first; v <= last + step * 0.5 && n < cap; v += step)
		ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
	return n;
}

size_t kc_svg_log_ticks(double lo, double hi, double *ticks, size_t cap)
{
	if (!(lo > 0) || !isfinite(hi) || hi < lo || cap == 0)
		return 0;
	double e0 = floor(log10(lo)), e1 = ceil(log10(hi));
	if (e1 == e0)
		e1 = e0 + 1;
	bool sparse = e1 - e0 > 3;
	static const double mant[] = {1, 2, 5};
	size_t n = 0;
	for (double e = e0; e <= e1 && n < cap; e++)
		for (size_t i = 0; i < (sparse ? 1u : 3u) && n < cap; i++) {
			double v = mant[i] * pow(10, e);
			/* keep one tick at or below lo and one at or above hi */
			if (v <= lo && n > 0 && ticks[n - 1] <= lo)
				ticks[n - 1] = v;
			else if (n > 0 && ticks[n - 1] >= hi)
				return n;
			else
				ticks[n++] = v;
		}
	return n;
}

char *kc_svg_format_num(double v, double step, char *out, size_t outsz)
{
	double a = fabs(v);
	if (a >= 1e6 && fmod(a, 1e5) == 0)
		snprintf(out, outsz, "%gM", v / 1e6);
	else if (a >= 1e4 && fmod(a, 100) == 0)
		snprintf(out, outsz, "%gk", v / 1e3);
	else {
		int dec = 0;
		if (step > 0 && step < 1)
			dec = (int)ceil(-log10(step) - 1e-9);
		if (dec > 6)
			dec = 6;
		snprintf(out, outsz, "%.*f", dec, v);
	}
	return out;
}

/* ---- geometry ----------------------------------------------------------- */

struct frame {
	double w, h;             /* whole chart */
	double px, py, pw, ph;   /* plot area */
	double x0, x1, y0, y1;   /* axis ranges (log10 of values on log axes) */
	bool xlog, ylog;
};

static double tx(const struct frame *f, double v)
{
	double u = f->xlog ? log10(v) : v;
	return f->px + (u - f->x0) / (f->x1 - f->x0) * f->pw;
}

static double ty(const struct frame *f, double v)
{
	double u = f->ylog ? log10(v) : v;
	double y = f->py + f->ph - (u - f->y0) / (f->y1 - f->y0) * f->ph;
	/* Clamp: a point beyond the axis sits on its edge, never outside the frame. */
	if (y < f->py)
		y = f->py;
	if (y > f->py + f->ph)
		y = f->py + f->ph;
	return y;
}

static bool usable(double v, bool logscale)
{
	return isfinite(v) && (!logscale || v > 0);
}

static void data_range(const struct kc_svg_chart *c, bool xaxis, double *lo, double *hi)
{
	bool logscale = (xaxis ? c->x.scale : c->y.scale) == KC_SVG_LOG10;
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t s = 0; s < c->nseries; s++)
		for (size_t i = 0; i < c->series[s].n; i++) {
			double v = xaxis ? c->series[s].x[i] : c->series[s].y[i];
			if (usable(v, logscale)) {
				if (v < *lo) *lo = v;
				if (v > *hi) *hi = v;
			}
		}
	const struct kc_svg_mark *mk = xaxis ? c->xmarks : c->ymarks;
	size_t nm = xaxis ? c->nxmarks : c->nymarks;
	for (size_t i = 0; i < nm; i++)
		if (usable(mk[i].at, logscale)) {
			if (mk[i].at < *lo) *lo = mk[i].at;
			if (mk[i].at > *hi) *hi = mk[i].at;
		}
}

/* Works out one axis's ticks and range.  Returns the tick count, 0 if none. */
static size_t axis_ticks(const struct kc_svg_axis *a, double lo, double hi,
			 double *ticks, double *r0, double *r1)
{
	if (!isnan(a->min))
		lo = a->min;
	if (!isnan(a->max))
		hi = a->max;
	if (a->scale == KC_SVG_LINEAR && a->include_zero && lo > 0)
		lo = 0;
	size_t n;
	if (a->nticks) {
		n = a->nticks < KC_SVG_MAX_TICKS ? a->nticks : KC_SVG_MAX_TICKS;
		memcpy(ticks, a->ticks, n * sizeof(*ticks));
		if (lo > ticks[0]) lo = ticks[0];
		if (hi < ticks[n - 1]) hi = ticks[n - 1];
	} else if (a->scale == KC_SVG_LOG10) {
		n = kc_svg_log_ticks(lo, hi, ticks, KC_SVG_MAX_TICKS);
	} else if (a->clock) {
		/* Time of day: steps of 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6 h. */
		static const double steps_s[] = {60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600};
		double step = steps_s[sizeof(steps_s) / sizeof(steps_s[0]) - 1];
		for (size_t i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++)
			if ((hi - lo) / steps_s[i] <= 8) {
				step = steps_s[i];
				break;
			}
		n = 0;
		for (double v = ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 && n < KC_SVG_MAX_TICKS; v += step)
			ticks[n++] = v;
	} else {
		n = kc_svg_ticks(lo, hi, 6, ticks, KC_SVG_MAX_TICKS);
	}
	if (n == 0)
		return 0;
	double a0 = a->nticks || a->clock ? lo : ticks[0], a1 = a->nticks || a->clock ? hi : ticks[n - 1];
	if (a->scale == KC_SVG_LOG10) {
		a0 = log10(ticks[0]);
		a1 = log10(ticks[n - 1]);
	}
	if (a1 <= a0)
		a1 = a0 + 1;
	*r0 = a0;
	*r1 = a1;
	return n;
}

static int text(struct kc_buf *b, double x, double y, const char *anchor,
		const char *cls, const char *s)
{
	int rc = kc_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s%s>",
			       x, y, anchor, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	if (!rc) rc = kc_svg_escape(b, s);
	if (!rc) rc = kc_buf_puts(b, "</text>\n");
	return rc;
}

static void axis_title(char *out, size_t n, const struct kc_svg_axis *a)
{
	if (a->unit && *a->unit)
		snprintf(out, n, "%s (%s)", a->label ? a->label : "", a->unit);
	else
		snprintf(out, n, "%s", a->label ? a->label : "");
}

static void tick_label(char *out, size_t n, const struct kc_svg_axis *a,
		       const double *ticks, size_t i, size_t nt)
{
	if (a->nticks && a->tick_labels) {
		snprintf(out, n, "%s", a->tick_labels[i]);
	} else if (a->clock) {
		long s = (lround(ticks[i]) % 86400 + 86400) % 86400;
		snprintf(out, n, "%02ld:%02ld", s / 3600, s % 3600 / 60);
	} else {
		double step = nt > 1 ? ticks[1] - ticks[0] : 1;
		if (a->scale == KC_SVG_LOG10)
			step = ticks[i] / 10;
		kc_svg_format_num(ticks[i], step, out, n);
	}
}

static int open_svg(struct kc_buf *b, const struct kc_svg_chart *c, struct frame *f)
{
	f->w = c->width ? c->width : 640;
	f->h = c->height ? c->height : 320;
	f->px = ML;
	f->py = MT;
	f->pw = f->w - ML - MR;
	f->ph = f->h - MT - MB;
	int rc = kc_buf_printf(b,
			       "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"kc-chart\" "
			       "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
			       "font-family=\"system-ui, sans-serif\" font-size=\"%.0f\" "
			       "fill=\"currentColor\">\n<title>",
			       f->w, f->h, f->w, f->h, FONT);
	if (!rc) rc = kc_svg_escape(b, c->title);
	if (!rc) rc = kc_buf_puts(b, "</title>\n<desc>");
	if (!rc) rc = kc_svg_escape(b, c->desc ? c->desc : c->title);
	if (!rc) rc = kc_buf_puts(b, "</desc>\n");
	if (!rc) rc = text(b, f->px, 18, "start", "kc-title", c->title ? c->title : "");
	return rc;
}

static int legend(struct kc_buf *b, const struct kc_svg_chart *c, const struct frame *f)
{
	double x = f->px, y = 36;
	int rc = KC_OK;
	for (size_t s = 0; s < c->nseries && !rc; s++) {
		const struct kc_svg_series *sr = &c->series[s];
		if (!sr->name)
			continue;
		int col = sr->color >= 0 && sr->color <= KC_SVG_PALETTE ? sr->color : 0;
		double wtext = (double)strlen(sr->name) * FONT * 0.58;
		if (x + 26 + wtext > f->w - MR && x > f->px)
			break; /* one row only; the title and desc carry the rest */
		rc = kc_buf_printf(b,
				   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"kc-s%d\" "
				   "stroke=\"%s\" stroke-width=\"3\"%s/>\n",
				   x, y - 4, x + 18, y - 4, col, palette[col],
				   sr->dashed ? " stroke-dasharray=\"5 3\"" : "");
		if (!rc) rc = text(b, x + 22, y, "start", NULL, sr->name);
		x += 22 + wtext + 14;
	}
	return rc;
}

static int axes(struct kc_buf *b, const struct kc_svg_chart *c, const struct frame *f,
		const double *xt, size_t nxt, const double *yt, size_t nyt, bool xcat)
{
	int rc = kc_buf_printf(b,
			       "<g class=\"kc-axes\" stroke=\"currentColor\" stroke-width=\"1\">\n"
			       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n"
			       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</g>\n",
			       f->px, f->py, f->px, f->py + f->ph,
			       f->px, f->py + f->ph, f->px + f->pw, f->py + f->ph);
	char lab[64];
	for (size_t i = 0; i < nyt && !rc; i++) {
		double y = ty(f, yt[i]);
		rc = kc_buf_printf(b,
				   "<line class=\"kc-grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				   "stroke=\"currentColor\" stroke-opacity=\"0.15\"/>\n",
				   f->px, y, f->px + f->pw, y);
		tick_label(lab, sizeof(lab), &c->y, yt, i, nyt);
		if (!rc) rc = text(b, f->px - 6, y + 4, "end", NULL, lab);
	}
	for (size_t i = 0; i < nxt && !rc && !xcat; i++) {
		double x = tx(f, xt[i]);
		rc = kc_buf_printf(b,
				   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				   "stroke=\"currentColor\"/>\n",
				   x, f->py + f->ph, x, f->py + f->ph + 5);
		tick_label(lab, sizeof(lab), &c->x, xt, i, nxt);
		if (!rc) rc = text(b, x, f->py + f->ph + 18, "middle", NULL, lab);
	}
	char title[160];
	axis_title(title, sizeof(title), &c->x);
	if (!rc) rc = text(b, f->px + f->pw / 2, f->h - 8, "middle", "kc-axis", title);
	axis_title(title, sizeof(title), &c->y);
	if (!rc) rc = kc_buf_printf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" "
				       "text-anchor=\"middle\" class=\"kc-axis\">",
				       f->py + f->ph / 2);
	if (!rc) rc = kc_svg_escape(b, title);
	if (!rc) rc = kc_buf_puts(b, "</text>\n");
	return rc;
}

static int marks(struct kc_buf *b, const struct kc_svg_chart *c, const struct frame *f)
{
	int rc = KC_OK;
	for (size_t i = 0; i < c->nxmarks && !rc; i++) {
		const struct kc_svg_mark *m = &c->xmarks[i];
		if (!usable(m->at, f->xlog))
			continue;
		double x = tx(f, m->at);
		int col = m->color >= 0 && m->color <= KC_SVG_PALETTE ? m->color : 0;
		rc = kc_buf_printf(b,
				   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"kc-s%d\" "
				   "stroke=\"%s\" stroke-width=\"1.5\"%s/>\n",
				   x, f->py, x, f->py + f->ph, col, palette[col],
				   m->dashed ? " stroke-dasharray=\"6 4\"" : "");
		/* Alternate label heights so two close marks stay readable. */
		bool right = x < f->px + f->pw * 0.8;
		if (!rc && m->label)
			rc = text(b, right ? x + 4 : x - 4, f->py + 12 + 14.0 * (double)(i % 2),
				  right ? "start" : "end", "kc-mark", m->label);
	}
	for (size_t i = 0; i < c->nymarks && !rc; i++) {
		const struct kc_svg_mark *m = &c->ymarks[i];
		if (!usable(m->at, f->ylog))
			continue;
		double y = ty(f, m->at);
		int col = m->color >= 0 && m->color <= KC_SVG_PALETTE ? m->color : 0;
		rc = kc_buf_printf(b,
				   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"kc-s%d\" "
				   "stroke=\"%s\" stroke-width=\"1.5\"%s/>\n",
				   f->px, y, f->px + f->pw, y, col, palette[col],
				   m->dashed ? " stroke-dasharray=\"6 4\"" : "");
		if (!rc && m->label)
			rc = text(b, f->px + f->pw - 4, y - 4, "end", "kc-mark", m->label);
	}
	return rc;
}

static int series_path(struct kc_buf *b, const struct kc_svg_series *s, const struct frame *f)
{
	int col = s->color >= 0 && s->color <= KC_SVG_PALETTE ? s->color : 0;
	int rc = s->no_line ? 0 :
		 kc_buf_printf(b, "<path class=\"kc-s%d\" fill=\"none\" stroke=\"%s\" "
				  "stroke-width=\"2\" stroke-linejoin=\"round\"%s d=\"",
			       col, palette[col], s->dashed ? " stroke-dasharray=\"6 4\"" : "");
	bool pen = false;
	for (size_t i = 0; i < s->n && !rc && !s->no_line; i++) {
		if (!usable(s->x[i], f->xlog) || !usable(s->y[i], f->ylog)) {
			pen = false;
			continue;
		}
		double x = tx(f, s->x[i]), y = ty(f, s->y[i]);
		if (!pen)
			rc = kc_buf_printf(b, "M%.1f %.1f", x, y);
		else if (s->step)
			rc = kc_buf_printf(b, "H%.1fV%.1f", x, y);
		else
			rc = kc_buf_printf(b, "L%.1f %.1f", x, y);
		pen = true;
	}
	if (!rc && !s->no_line) rc = kc_buf_puts(b, "\"/>\n");
	for (size_t i = 0; i < s->n && !rc && s->markers; i++)
		if (usable(s->x[i], f->xlog) && usable(s->y[i], f->ylog))
			rc = kc_buf_printf(b, "<circle class=\"kc-f%d\" fill=\"%s\" cx=\"%.1f\" "
					      "cy=\"%.1f\" r=\"3\"/>\n",
					   col, palette[col], tx(f, s->x[i]), ty(f, s->y[i]));
	return rc;
}

int kc_svg_line_chart(struct kc_buf *out, const struct kc_svg_chart *c)
{
	KC_ASSERT(out && c);
	if (c->nseries == 0)
		return KC_EINVAL;
	struct frame f = {.xlog = c->x.scale == KC_SVG_LOG10, .ylog = c->y.scale == KC_SVG_LOG10};
	double xlo, xhi, ylo, yhi, xt[KC_SVG_MAX_TICKS], yt[KC_SVG_MAX_TICKS];
	data_range(c, true, &xlo, &xhi);
	data_range(c, false, &ylo, &yhi);
	if (!isfinite(xlo) && (isnan(c->x.min) || isnan(c->x.max)))
		return KC_EINVAL;
	if (!isfinite(ylo) && (isnan(c->y.min) || isnan(c->y.max)))
		return KC_EINVAL;
	size_t nxt = axis_ticks(&c->x, xlo, xhi, xt, &f.x0, &f.x1);
	size_t nyt = axis_ticks(&c->y, ylo, yhi, yt, &f.y0, &f.y1);
	if (!nxt || !nyt)
		return KC_EINVAL;
	int rc = open_svg(out, c, &f);
	if (!rc) rc = legend(out, c, &f);
	if (!rc) rc = axes(out, c, &f, xt, nxt, yt, nyt, false);
	if (!rc) rc = marks(out, c, &f);
	for (size_t s = 0; s < c->nseries && !rc; s++)
		rc = series_path(out, &c->series[s], &f);
	if (!rc) rc = kc_buf_puts(out, "</svg>\n");
	return rc;
}

int kc_svg_bar_chart(struct kc_buf *out, const struct kc_svg_chart *c)
{
	KC_ASSERT(out && c);
	if (c->nseries == 0 || c->ncategories == 0)
		return KC_EINVAL;
	struct frame f = {.ylog = false};
	double ylo = 0, yhi = 0, yt[KC_SVG_MAX_TICKS];
	for (size_t s = 0; s < c->nseries; s++)
		for (size_t i = 0; i < c->series[s].n && i < c->ncategories; i++)
			if (isfinite(c->series[s].y[i]) && c->series[s].y[i] > yhi)
				yhi = c->series[s].y[i];
	if (yhi <= 0)
		yhi = 1;
	struct kc_svg_axis ya = c->y;
	ya.scale = KC_SVG_LINEAR;
	ya.include_zero = true;
	size_t nyt = axis_ticks(&ya, ylo, yhi, yt, &f.y0, &f.y1);
	if (!nyt)
		return KC_EINVAL;
	f.x0 = 0;
	f.x1 = (double)c->ncategories;
	int rc = open_svg(out, c, &f);
	if (!rc) rc = legend(out, c, &f);
	if (!rc) rc = axes(out, c, &f, NULL, 0, yt, nyt, true);
	double group = f.pw / (double)c->ncategories;
	double bar = group * 0.7 / (double)c->nseries;
	char lab[64];
	for (size_t j = 0; j < c->ncategories && !rc; j++) {
		double gx = f.px + group * (double)j + group * 0.15;
		rc = text(out, f.px + group * ((double)j + 0.5), f.py + f.ph + 18, "middle", NULL,
			  c->categories[j]);
		for (size_t s = 0; s < c->nseries && !rc; s++) {
			const struct kc_svg_series *sr = &c->series[s];
			int col = sr->color >= 0 && sr->color <= KC_SVG_PALETTE ? sr->color : 0;
			double x = gx + bar * (double)s;
			double v = j < sr->n ? sr->y[j] : NAN;
			if (!isfinite(v)) {
				rc = text(out, x + bar / 2, f.py + f.ph - 6, "middle", "kc-na", "n/a");
				continue;
			}
			double y = ty(&f, v);
			rc = kc_buf_printf(out, "<rect class=\"kc-f%d\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" "
						"width=\"%.1f\" height=\"%.1f\"/>\n",
					   col, palette[col], x + 1, y, bar - 2, f.py + f.ph - y);
			kc_svg_format_num(v, v == floor(v) || v >= 100 ? 1 : v >= 1 ? 0.01 : 0.001,
					  lab, sizeof(lab));
			if (!rc) rc = text(out, x + bar / 2, y - 4, "middle", NULL, lab);
		}
	}
	if (!rc) rc = kc_buf_puts(out, "</svg>\n");
	return rc;
}
