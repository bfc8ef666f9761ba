/*
 * jpeg_scene.c - the synthetic picture behind jpeg.c's factory.
 *
 * A scene (backdrop gradient, shaded and textured shapes, printed labels,
 * a noise seed) is drawn from the seed and the index only; rendering turns
 * it into RGB one row at a time, with the "detail" dial scaling texture
 * contrast and noise.  All per-pixel work is integer adds, shifts and table
 * lookups, and nothing depends on rand() or global state, so the same
 * options, seed and index give the same pixels on every machine.
 */
#include "kneecap/rng.h"

#include "jpeg_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- randomness: splitmix64 (util's rng.h) and its finalizer as a hash ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform integer in [lo, hi] (Lemire's multiply-shift; bias < 2^-32). */
static int rng_range(uint64_t *r, int lo, int hi)
{
	KC_ASSERT(hi >= lo);
	uint64_t span = (uint64_t)(hi - lo) + 1;
	return lo + (int)(((kc_rng_splitmix64(r) >> 32) * span) >> 32);
}

/* ---- the scene: what is where, independent of detail ---- */

/* Rows start at a random offset below this in the noise table (a power of two). */
#define NOISE_PERIOD 65536
#define NOISE_LEN (NOISE_PERIOD + KC_JPEG_DIM_MAX)

/* Tables filled once per factory; noise is rescaled when the detail changes. */
struct tables {
	int8_t sin256[256];          /* sin() at 256 points, in [-127, 127] */
	int8_t nl_base[NOISE_LEN];   /* luma noise, triangular in [-127, 127] */
	int8_t nc_base[NOISE_LEN];   /* chroma noise, same shape */
	int16_t nz[3 * NOISE_LEN];   /* both, scaled and mixed per channel, interleaved RGB */
	int amp;                     /* the amplitude nz holds, -1 for none */
};

static struct rgb random_color(uint64_t *r, int lo, int hi)
{
	return (struct rgb){rng_range(r, lo, hi), rng_range(r, lo, hi),
			    rng_range(r, lo, hi)};
}

void kc_jpeg_scene_draw(struct kc_jpeg_scene *sc, uint64_t seed, uint64_t index, int w,
			int h)
{
	uint64_t r = mix64(seed) ^ mix64(index * UINT64_C(0x2545f4914f6cdd1d) + 1);
	memset(sc, 0, sizeof(*sc));

	/* A studio backdrop: light at one corner, darker at the other. */
	sc->bg0 = random_color(&r, 150, 250);
	sc->bg1 = random_color(&r, 60, 200);
	/* The gradient runs at a random angle: 0 at the top-left, 1 at the far corner. */
	int wx = rng_range(&r, 0, 256);
	sc->bg_gx = wx * 256 / w;
	sc->bg_gy = (256 - wx) * 256 / h;

	int minside = w < h ? w : h;
	sc->nshapes = rng_range(&r, 4, SHAPES_MAX);
	for (int i = 0; i < sc->nshapes; i++) {
		struct shape *s = &sc->shapes[i];
		s->kind = (enum shape_kind)rng_range(&r, 0, 2);
		/* Early shapes are big (the product), later ones smaller props. */
		int lo = minside / (4 + i), hi = minside / (2 + i / 2);
		if (lo < 2)
			lo = 2;
		if (hi < lo)
			hi = lo;
		int sw = rng_range(&r, lo, hi), sh = rng_range(&r, lo, hi);
		int cx = rng_range(&r, 0, w - 1), cy = rng_range(&r, 0, h - 1);
		s->x0 = cx - sw / 2;
		s->y0 = cy - sh / 2;
		s->x1 = s->x0 + sw;
		s->y1 = s->y0 + sh;
		s->base = random_color(&r, 20, 235);
		/* Up to ~70 levels of lightness change across the object. */
		s->shade_x = rng_range(&r, -70, 70) * 65536 / sw;
		s->shade_y = rng_range(&r, -70, 70) * 65536 / sh;
		s->tex = (enum tex_kind)rng_range(&r, 0, 3);
		s->tex_fx = rng_range(&r, -2048, 2048);
		s->tex_fy = rng_range(&r, -2048, 2048);
		s->tex_amp = rng_range(&r, 10, 60);
	}

	sc->nlabels = rng_range(&r, 1, LABELS_MAX);
	for (int i = 0; i < sc->nlabels; i++) {
		struct label *l = &sc->labels[i];
		int lw = rng_range(&r, w / 8 + 1, w / 3 + 1);
		int lh = rng_range(&r, h / 16 + 1, h / 6 + 1);
		l->x0 = rng_range(&r, 0, w - lw);
		l->y0 = rng_range(&r, 0, h - lh);
		l->x1 = l->x0 + lw;
		l->y1 = l->y0 + lh;
		l->paper = random_color(&r, 200, 255);
		l->ink = random_color(&r, 0, 80);
		l->cell_px = rng_range(&r, 1, 1 + minside / 400);
		l->glyph_seed = kc_rng_splitmix64(&r);
	}
	sc->noise_seed = kc_rng_splitmix64(&r);
}

/* ---- rendering: one row at a time into int16 samples, then clamp ---- */

static inline int clamp8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

/*
 * The backdrop is linear in x and y, so each row is the previous one plus a
 * per-channel constant: acc holds 16.16 samples for the current row and dy
 * the step to the next.  Both are interleaved RGB, so the loops vectorize.
 */
static void background_init(const struct kc_jpeg_scene *sc, int32_t *acc, int32_t *dy,
			    int w)
{
	const int c0[3] = {sc->bg0.r, sc->bg0.g, sc->bg0.b};
	const int dc[3] = {sc->bg1.r - sc->bg0.r, sc->bg1.g - sc->bg0.g,
			   sc->bg1.b - sc->bg0.b};
	for (int x = 0; x < w; x++)
		for (int c = 0; c < 3; c++) {
			acc[3 * x + c] = c0[c] * 65536 + dc[c] * sc->bg_gx * x;
			dy[3 * x + c] = dc[c] * sc->bg_gy;
		}
}

/*
 * Loops over samples run in blocks of VEC with restrict pointers: that is
 * what lets the compiler vectorize them at -O2, and these two loops are most
 * of the per-pixel cost.
 */
#define VEC 16

static void row_background(int32_t *restrict acc, const int32_t *restrict dy,
			   int16_t *restrict row, int n)
{
	int i = 0;
	for (; i + VEC <= n; i += VEC)
		for (int k = 0; k < VEC; k++) {
			row[i + k] = (int16_t)(acc[i + k] >> 16);
			acc[i + k] += dy[i + k];
		}
	for (; i < n; i++) {
		row[i] = (int16_t)(acc[i] >> 16);
		acc[i] += dy[i];
	}
}

/* The x span [*xa, *xb) that shape s covers on row y; false when none. */
static bool shape_span(const struct shape *s, int y, int w, int *xa, int *xb)
{
	if (y < s->y0 || y >= s->y1)
		return false;
	int a, b;
	int cx2 = s->x0 + s->x1; /* twice the centre, to stay in integers */
	int sw = s->x1 - s->x0, sh = s->y1 - s->y0;
	switch (s->kind) {
	case SH_RECT:
		a = s->x0;
		b = s->x1;
		break;
	case SH_TRIANGLE: {
		int half = (int)((int64_t)sw * (y - s->y0 + 1) / (2 * sh));
		a = cx2 / 2 - half;
		b = cx2 / 2 + half + 1;
		break;
	}
	default: { /* ellipse: one square root per row, not per pixel */
		double dy = (2.0 * y + 1 - (s->y0 + s->y1)) / sh;
		double q = 1.0 - dy * dy;
		if (q <= 0)
			return false;
		int half = (int)(sw * 0.5 * sqrt(q));
		a = cx2 / 2 - half;
		b = cx2 / 2 + half;
		break;
	}
	}
	*xa = a < 0 ? 0 : a;
	*xb = b > w ? w : b;
	return *xa < *xb;
}

static void row_shape(const struct shape *s, const struct tables *tb,
		      int16_t *row, int w, int y, int tex_gain)
{
	int xa, xb;
	if (!shape_span(s, y, w, &xa, &xb))
		return;
	int32_t shade = s->shade_x * (xa - s->x0) + s->shade_y * (y - s->y0);
	int amp = s->tex_amp * tex_gain >> 8;
	int32_t ph = s->tex_fx * xa + s->tex_fy * y;
	int32_t ph2 = 0, dph2 = 0;
	if (s->tex == TEX_WEAVE) {
		/* A second, crossing wave makes a woven look. */
		ph2 = s->tex_fy * xa - s->tex_fx * y;
		dph2 = s->tex_fy;
	} else if (s->tex == TEX_GRAIN) {
		/* Wood grain: stripes whose phase wobbles slowly down the rows. */
		ph += tb->sin256[(y >> 2) & 255] * 96;
	}
	for (int x = xa; x < xb; x++) {
		int v = shade >> 16, t = 0;
		switch (s->tex) {
		case TEX_STRIPES:
		case TEX_GRAIN:
			t = tb->sin256[(ph >> 8) & 255] * amp >> 7;
			break;
		case TEX_WEAVE:
			t = (tb->sin256[(ph >> 8) & 255] *
			     tb->sin256[(ph2 >> 8) & 255] * amp) >> 14;
			break;
		default:
			break;
		}
		v += t;
		row[3 * x + 0] = (int16_t)(s->base.r + v);
		row[3 * x + 1] = (int16_t)(s->base.g + v);
		row[3 * x + 2] = (int16_t)(s->base.b + v);
		shade += s->shade_x;
		ph += s->tex_fx;
		ph2 += dph2;
	}
}

/*
 * A label: paper with lines of 5x7-dot glyphs.  Each glyph is 35 random bits
 * drawn from the label's seed, the line and the column; fine ink-on-paper
 * edges are the hardest thing in a product photo for JPEG to compress.
 */
static void row_label(const struct label *l, int16_t *row, int w, int y)
{
	if (y < l->y0 || y >= l->y1)
		return;
	int c = l->cell_px;
	int line_h = 9 * c;
	int ly = y - l->y0, line = ly / line_h, gy = (ly % line_h) / c;
	int x1 = l->x1 > w ? w : l->x1;
	bool ink_row = gy >= 1 && gy <= 7 && ly >= c && ly < (l->y1 - l->y0) - line_h;
	int col = 0;
	for (int x = l->x0; x < x1; col++) {
		uint64_t mask = mix64(l->glyph_seed ^ ((uint64_t)line << 32) ^ (uint64_t)col);
		unsigned bits = ink_row ? (unsigned)(mask >> ((gy - 1) * 5)) & 31u : 0;
		/* Columns 0 and 1 of each line are margin. */
		if (col < 2)
			bits = 0;
		for (int gx = 0; gx < 6 && x < x1; gx++) {
			bool on = gx < 5 && ((bits >> gx) & 1u);
			const struct rgb *p = on ? &l->ink : &l->paper;
			for (int k = 0; k < c && x < x1; k++, x++) {
				row[3 * x + 0] = (int16_t)p->r;
				row[3 * x + 1] = (int16_t)p->g;
				row[3 * x + 2] = (int16_t)p->b;
			}
		}
	}
}

/*
 * Sensor noise and the final clamp to 8 bits.  The noise comes from a table
 * of NOISE_PERIOD + KC_JPEG_DIM_MAX pixels made once per factory (so the
 * per-sample cost is one load, one add and a clamp, which vectorizes); each
 * row starts at its own pseudo-random offset, so rows do not repeat.
 */
/* Clamps in 16 bits: the compiler turns it into packed min/max. */
static inline unsigned char clamp16(int16_t v)
{
	v = v < 0 ? 0 : v;
	v = v > 255 ? 255 : v;
	return (unsigned char)v;
}

static void add_clamp(const int16_t *restrict row, const int16_t *restrict nz,
		      unsigned char *restrict out, int n)
{
	int i = 0;
	/* Samples and noise both stay within +-1024, so the 16-bit sum cannot wrap. */
	for (; i + VEC <= n; i += VEC)
		for (int k = 0; k < VEC; k++)
			out[i + k] = clamp16((int16_t)(row[i + k] + nz[i + k]));
	for (; i < n; i++)
		out[i] = (unsigned char)clamp8(row[i] + nz[i]);
}

static void row_noise_out(const struct tables *tb, uint64_t noise_seed,
			  const int16_t *row, unsigned char *out, int w, int y,
			  bool noisy)
{
	size_t off = 0; /* the zero-amplitude table is all zeros */
	if (noisy)
		off = (size_t)(mix64(noise_seed + (uint64_t)y) & (NOISE_PERIOD - 1));
	add_clamp(row, tb->nz + 3 * off, out, 3 * w);
}

/* Fills the unscaled noise table from seed (once per factory). */
static void noise_fill(struct tables *tb, uint64_t seed)
{
	uint64_t r = mix64(seed ^ UINT64_C(0x6e6f697365));
	for (size_t i = 0; i < NOISE_LEN; i += 2) {
		uint64_t v = kc_rng_splitmix64(&r);
		for (size_t k = 0; k < 2 && i + k < NOISE_LEN; k++, v >>= 32) {
			tb->nl_base[i + k] = (int8_t)(((int)(v & 255) + (int)((v >> 8) & 255) - 255) / 2);
			tb->nc_base[i + k] = (int8_t)(((int)((v >> 16) & 255) + (int)((v >> 24) & 255) - 255) / 2);
		}
	}
	tb->amp = -1;
}

/*
 * Scales the noise table to amplitude amp (in 1/256 of a level), unless it
 * already is.  The fine unit matters: with whole levels, size would jump
 * in steps of several percent between neighbouring detail values, and the
 * size search could not land between them.
 * The luma part is triangular (sum of two bytes); the chroma part is a third
 * as strong and opposite on red and blue, as a camera's is.
 */
static void noise_scale(struct tables *tb, int amp)
{
	if (tb->amp == amp)
		return;
	int camp = amp / 3;
	for (size_t i = 0; i < NOISE_LEN; i++) {
		int l = tb->nl_base[i] * amp / (127 * 256);
		int c = tb->nc_base[i] * camp / (127 * 256);
		tb->nz[3 * i + 0] = (int16_t)(l + c);
		tb->nz[3 * i + 1] = (int16_t)l;
		tb->nz[3 * i + 2] = (int16_t)(l - c);
	}
	tb->amp = amp;
}

/* Detail 0..1000 to noise amplitude (0..72 levels, in 1/256) and texture gain (/256). */
static int detail_noise(int detail)
{
	return detail * 72 * 256 / KC_JPEG_DETAIL_MAX;
}

static int detail_tex_gain(int detail)
{
	return 32 + detail * 224 / KC_JPEG_DETAIL_MAX;
}

/* The tables (filled once) and the scratch rows render draws through. */
struct kc_jpeg_canvas {
	struct tables tb;
	int16_t *row;            /* the output row */
	int32_t *acc, *dy;       /* the backdrop's accumulators */
};

struct kc_jpeg_canvas *kc_jpeg_canvas_new(int w, uint64_t seed)
{
	struct kc_jpeg_canvas *cv = malloc(sizeof(*cv));
	if (!cv)
		return NULL;
	noise_fill(&cv->tb, seed);
	for (int i = 0; i < 256; i++)
		cv->tb.sin256[i] = (int8_t)lround(127.0 * sin(i * (2.0 * M_PI / 256.0)));
	cv->row = malloc((size_t)w * 3 * sizeof(*cv->row));
	cv->acc = malloc((size_t)w * 3 * sizeof(*cv->acc));
	cv->dy = malloc((size_t)w * 3 * sizeof(*cv->dy));
	if (!cv->row || !cv->acc || !cv->dy) {
		kc_jpeg_canvas_free(cv);
		return NULL;
	}
	return cv;
}

void kc_jpeg_canvas_free(struct kc_jpeg_canvas *cv)
{
	if (!cv)
		return;
	free(cv->row);
	free(cv->acc);
	free(cv->dy);
	free(cv);
}

void kc_jpeg_render(const struct kc_jpeg_scene *sc, struct kc_jpeg_canvas *cv,
		    unsigned char *rgb, int w, int h, int detail)
{
	struct tables *tb = &cv->tb;
	int amp = detail_noise(detail), gain = detail_tex_gain(detail);
	noise_scale(tb, amp);
	background_init(sc, cv->acc, cv->dy, w);
	for (int y = 0; y < h; y++) {
		row_background(cv->acc, cv->dy, cv->row, 3 * w);
		for (int i = 0; i < sc->nshapes; i++)
			row_shape(&sc->shapes[i], tb, cv->row, w, y, gain);
		for (int i = 0; i < sc->nlabels; i++)
			row_label(&sc->labels[i], cv->row, w, y);
		row_noise_out(tb, sc->noise_seed, cv->row,
			      rgb + (size_t)y * w * 3, w, y, amp > 0);
	}
}
