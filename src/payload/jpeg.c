/*
 * jpeg.c - the synthetic JPEG factory and the JPEG checker.
 *
 * The factory draws a picture that looks to an image model's front end like
 * a product photo: a lit background gradient, a handful of shaded objects
 * with hard edges and a fabric, stripe or wood-grain texture, a printed
 * label with glyph-like marks, and sensor noise over everything.  The scene
 * (where things are, their colours and textures) comes from the seed and
 * the index only; the "detail" dial scales texture contrast and noise.
 * JPEG size grows steadily with detail, which is what makes a target size
 * reachable by a short search over detail (and quality, when the caller
 * leaves quality automatic).
 *
 * It is not an image library: all per-pixel work is integer adds, shifts
 * and table lookups on one row at a time, and encoding is libjpeg-turbo's.
 * Nothing here depends on rand() or on global state, so the same options,
 * seed and index give the same bytes on every machine.
 */
#include "kneecap/jpeg.h"
#include "kneecap/parse.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static_assert(KC_JPEG_PIXELS_MAX <= KC_JPEG_DIM_MAX * KC_JPEG_DIM_MAX,
	      "pixel cap is below the side caps");
static_assert((uint64_t)KC_JPEG_PIXELS_MAX * 3 < INT32_MAX,
	      "an RGB picture must fit TurboJPEG's int sizes");

/* ---- PRNG: splitmix64 (Steele, Lea, Flood 2014), our own few lines. ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(r->s);
}

/* Uniform integer in [lo, hi] (Lemire's multiply-shift; bias < 2^-32). */
static int rng_range(struct rng *r, int lo, int hi)
{
	KC_ASSERT(hi >= lo);
	uint64_t span = (uint64_t)(hi - lo) + 1;
	return lo + (int)(((rng_next(r) >> 32) * span) >> 32);
}

/* ---- the scene: what is where, independent of detail ---- */

#define SHAPES_MAX 10
#define LABELS_MAX 2

enum shape_kind { SH_ELLIPSE, SH_RECT, SH_TRIANGLE };
enum tex_kind { TEX_NONE, TEX_STRIPES, TEX_WEAVE, TEX_GRAIN };

struct rgb {
	int r, g, b;
};

struct shape {
	enum shape_kind kind;
	int x0, y0, x1, y1;   /* bounding box, x1/y1 exclusive */
	struct rgb base;
	int shade_x, shade_y; /* lightness change per pixel, 16.16 */
	enum tex_kind tex;
	int tex_fx, tex_fy;   /* texture phase per pixel, 8.8 of a 256-step period */
	int tex_amp;          /* texture contrast at full detail, 0..127 */
};

struct label {
	int x0, y0, x1, y1;
	struct rgb paper, ink;
	int cell_px;          /* glyph dot size in pixels */
	uint64_t glyph_seed;
};

struct scene {
	struct rgb bg0, bg1;
	int bg_gx, bg_gy;     /* gradient parameter per pixel, 16.16 of [0, 1] */
	int nshapes;
	struct shape shapes[SHAPES_MAX];
	int nlabels;
	struct label labels[LABELS_MAX];
	uint64_t noise_seed;
};

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

static struct rgb random_color(struct rng *r, int lo, int hi)
{
	return (struct rgb){rng_range(r, lo, hi), rng_range(r, lo, hi),
			    rng_range(r, lo, hi)};
}

static void scene_draw(struct scene *sc, uint64_t seed, uint64_t index, int w,
		       int h)
{
	struct rng r = {mix64(seed) ^ mix64(index * UINT64_C(0x2545f4914f6cdd1d) + 1)};
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
		l->glyph_seed = rng_next(&r);
	}
	sc->noise_seed = rng_next(&r);
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
static void background_init(const struct scene *sc, int32_t *acc, int32_t *dy,
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
	struct rng r = {mix64(seed ^ UINT64_C(0x6e6f697365))};
	for (size_t i = 0; i < NOISE_LEN; i += 2) {
		uint64_t v = rng_next(&r);
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

/* Scratch rows for render: the output row and the backdrop's accumulators. */
struct rows {
	int16_t *row;
	int32_t *acc;
	int32_t *dy;
};

static void render(const struct scene *sc, struct tables *tb,
		   const struct rows *rw, unsigned char *rgb, int w, int h,
		   int detail)
{
	int amp = detail_noise(detail), gain = detail_tex_gain(detail);
	noise_scale(tb, amp);
	background_init(sc, rw->acc, rw->dy, w);
	for (int y = 0; y < h; y++) {
		row_background(rw->acc, rw->dy, rw->row, 3 * w);
		for (int i = 0; i < sc->nshapes; i++)
			row_shape(&sc->shapes[i], tb, rw->row, w, y, gain);
		for (int i = 0; i < sc->nlabels; i++)
			row_label(&sc->labels[i], rw->row, w, y);
		row_noise_out(tb, sc->noise_seed, rw->row,
			      rgb + (size_t)y * w * 3, w, y, amp > 0);
	}
}

/* ---- the factory ---- */

#define DEFAULT_QUALITY 85
#define DEFAULT_DETAIL 250
/* Aim inside this (percent) so pictures unlike the calibration one still land within tolerance. */
#define AIM_PCT 5
#define TRIALS_MAX 16
/* After this many encodes, settle for anything within SETTLE_PCT. */
#define TRIALS_SETTLE 6
#define SETTLE_PCT 10
/*
 * With automatic quality, detail stays below this while a higher quality is
 * left: a big target is met by a finer encode of a natural-looking picture
 * rather than by a lower-quality encode of a very noisy one.
 */
#define DETAIL_SOFT_MAX 500

static const int quality_ladder[] = {20, 35, 50, 65, 75, 85, 90, 95, 98, 100};
#define LADDER_N ((int)(sizeof(quality_ladder) / sizeof(quality_ladder[0])))
#define LADDER_DEFAULT 5

struct kc_jpeg_gen {
	struct kc_jpeg_opts o;
	tjhandle tj;
	struct tables *tb;
	struct rows rw;
	unsigned char *rgb;
	unsigned char *jbuf;     /* TurboJPEG output, tjBufSize bytes, never reallocated */
	unsigned char *best;     /* the closest encode so far during a search */
	unsigned long jcap;
	/* Where the search starts for every picture (set by calibration). */
	int start_qi;            /* index in quality_ladder, or -1 for a fixed quality */
	int start_detail;
	double slope_bytes;      /* bytes per detail step, a first guess for the search */
};

static int tj_subsamp(enum kc_jpeg_subsamp s)
{
	switch (s) {
	case KC_JPEG_444: return TJSAMP_444;
	case KC_JPEG_422: return TJSAMP_422;
	case KC_JPEG_GRAY: return TJSAMP_GRAY;
	default: return TJSAMP_420;
	}
}

void kc_jpeg_opts_default(struct kc_jpeg_opts *o)
{
	KC_ASSERT(o);
	memset(o, 0, sizeof(*o));
	o->width_px = 1024;
	o->height_px = 1024;
	o->quality = 0;
	o->subsamp = KC_JPEG_420;
	o->progressive = false;
	o->seed = 1;
	o->detail = -1;
	o->size_kb = 0;
	o->variety = 32;
}

int kc_jpeg_opts_check(const struct kc_jpeg_opts *o, struct kc_diag *d)
{
	KC_ASSERT(o);
	if (o->width_px < KC_JPEG_DIM_MIN || o->width_px > KC_JPEG_DIM_MAX ||
	    o->height_px < KC_JPEG_DIM_MIN || o->height_px > KC_JPEG_DIM_MAX)
		return kc_diag_set(d, KC_EINVAL,
				   "image size %dx%d: each side must be %d..%d pixels",
				   o->width_px, o->height_px, KC_JPEG_DIM_MIN,
				   KC_JPEG_DIM_MAX);
	if ((int64_t)o->width_px * o->height_px > KC_JPEG_PIXELS_MAX)
		return kc_diag_set(d, KC_EINVAL,
				   "image size %dx%d: more than %d pixels (4096x4096)",
				   o->width_px, o->height_px, KC_JPEG_PIXELS_MAX);
	if (o->quality < 0 || o->quality > 100)
		return kc_diag_set(d, KC_EINVAL, "quality %d: must be 1..100",
				   o->quality);
	if (o->detail < -1 || o->detail > KC_JPEG_DETAIL_MAX)
		return kc_diag_set(d, KC_EINVAL, "detail %d: must be 0..%d",
				   o->detail, KC_JPEG_DETAIL_MAX);
	if ((unsigned)o->subsamp > KC_JPEG_GRAY)
		return kc_diag_set(d, KC_EINVAL, "unknown chroma subsampling %d",
				   (int)o->subsamp);
	if (o->size_kb > 6 * 1024)
		return kc_diag_set(d, KC_EINVAL,
				   "size %u KB: must be at most 6144 KB (the body cap)",
				   (unsigned)o->size_kb);
	if (o->variety < 1 || o->variety > KC_JPEG_VARIETY_MAX)
		return kc_diag_set(d, KC_EINVAL, "variety %d: must be 1..%d images",
				   o->variety, KC_JPEG_VARIETY_MAX);
	if (o->size_kb > 0 && o->detail >= 0)
		return kc_diag_set(d, KC_EINVAL,
				   "a target size and a fixed detail exclude each other");
	return KC_OK;
}

int kc_jpeg_subsamp_parse(const char *s, enum kc_jpeg_subsamp *out)
{
	static const struct {
		const char *name;
		enum kc_jpeg_subsamp v;
	} t[] = {{"444", KC_JPEG_444}, {"422", KC_JPEG_422},
		 {"420", KC_JPEG_420}, {"gray", KC_JPEG_GRAY}};
	for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name)) {
			*out = t[i].v;
			return KC_OK;
		}
	return KC_EPARSE;
}

int kc_jpeg_opts_set(struct kc_jpeg_opts *o, const char *key, const char *value,
		     struct kc_diag *d)
{
	KC_ASSERT(o && key && value);
	char k[32];
	size_t n = strlen(key);
	if (n >= sizeof(k))
		return kc_diag_set(d, KC_ENOTFOUND, "unknown payload option '%.40s'", key);
	for (size_t i = 0; i <= n; i++)
		k[i] = key[i] == '_' ? '-' : key[i];
	static const struct {
		const char *name;
		int64_t lo, hi;
	} ints[] = {
		{"width", KC_JPEG_DIM_MIN, KC_JPEG_DIM_MAX},
		{"height", KC_JPEG_DIM_MIN, KC_JPEG_DIM_MAX},
		{"quality", 1, 100},
		{"detail", 0, KC_JPEG_DETAIL_MAX},
		{"size-kb", 1, 6 * 1024},
		{"seed", 0, INT64_MAX},
		{"variety", 1, KC_JPEG_VARIETY_MAX},
	};
	if (!strcmp(k, "subsampling")) {
		if (kc_jpeg_subsamp_parse(value, &o->subsamp) != KC_OK)
			return kc_diag_set_at(d, KC_EPARSE, "", 0, key,
					      "'%.40s' is not 444, 422, 420 or gray", value);
		return KC_OK;
	}
	if (!strcmp(k, "progressive")) {
		if (kc_parse_bool(value, &o->progressive) != KC_OK)
			return kc_diag_set_at(d, KC_EPARSE, "", 0, key,
					      "'%.40s' is not true or false", value);
		return KC_OK;
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (strcmp(k, ints[i].name) != 0)
			continue;
		int64_t v;
		int rc = kc_parse_i64(value, ints[i].lo, ints[i].hi, &v);
		if (rc)
			return kc_diag_set_at(d, rc, "", 0, key, "'%.40s' %s %lld..%lld",
					      value,
					      rc == KC_ERANGE ? "is out of range"
							      : "is not a whole number in",
					      (long long)ints[i].lo,
					      (long long)ints[i].hi);
		switch (i) {
		case 0: o->width_px = (int)v; break;
		case 1: o->height_px = (int)v; break;
		case 2: o->quality = (int)v; break;
		case 3: o->detail = (int)v; break;
		case 4: o->size_kb = (uint32_t)v; break;
		case 5: o->seed = (uint64_t)v; break;
		default: o->variety = (int)v; break;
		}
		return KC_OK;
	}
	return kc_diag_set(d, KC_ENOTFOUND, "unknown payload option '%.40s'", key);
}

const char *kc_jpeg_subsamp_name(enum kc_jpeg_subsamp s)
{
	switch (s) {
	case KC_JPEG_444: return "444";
	case KC_JPEG_422: return "422";
	case KC_JPEG_GRAY: return "gray";
	default: return "420";
	}
}

/* Encodes the RGB scratch picture into g->jbuf; *len gets its size. */
static int encode(struct kc_jpeg_gen *g, int quality, unsigned long *len,
		  struct kc_diag *d)
{
	unsigned char *buf = g->jbuf;
	*len = g->jcap;
	int flags = TJFLAG_NOREALLOC | (g->o.progressive ? TJFLAG_PROGRESSIVE : 0);
	if (tjCompress2(g->tj, g->rgb, g->o.width_px, 0, g->o.height_px, TJPF_RGB,
			&buf, len, tj_subsamp(g->o.subsamp), quality, flags) != 0)
		return kc_diag_set(d, KC_EINTERNAL, "JPEG encoder: %s",
				   tjGetErrorStr2(g->tj));
	KC_ASSERT(buf == g->jbuf && *len <= g->jcap);
	return KC_OK;
}

struct trial {
	int qi;        /* ladder index, or -1 with a fixed quality */
	int quality;
	int detail;
	unsigned long len;
	int trials;    /* encodes spent on the picture (set at the end) */
};

/* |log(len / target)|: how far a size is from the target, symmetric. */
static double miss(unsigned long len, double target)
{
	return fabs(log((double)len / target));
}

/* What a search knows at one quality: the details either side of the target. */
struct bracket {
	int lo, hi;                     /* -1 until known */
	unsigned long lo_len, hi_len;   /* their sizes: lo_len < target < hi_len */
};

/*
 * The next detail to try at this quality, given the last one and its size;
 * -1 when detail steps cannot get any closer.  Inside a bracket it
 * interpolates (regula falsi) and falls back to bisection; with one side
 * known it steps by the size gap over the slope (bytes per detail step),
 * which it refines from the bracket.
 */
static int next_detail(const struct bracket *b, int detail, unsigned long len,
		       double target, int dmax, double *slope)
{
	if (b->lo >= 0 && b->hi >= 0) {
		if (b->hi - b->lo <= 1)
			return -1;
		*slope = (double)(b->hi_len - b->lo_len) / (b->hi - b->lo);
		double f = (target - (double)b->lo_len) / (double)(b->hi_len - b->lo_len);
		int next = b->lo + (int)lround(f * (b->hi - b->lo));
		/* Keep strictly inside, and bisect when stuck near an end. */
		if (next <= b->lo || next >= b->hi)
			next = b->lo + (b->hi - b->lo) / 2;
		return next;
	}
	double step = (target - (double)len) / (*slope > 1 ? *slope : 1);
	if (step > 0 && step < 1)
		step = 1;
	if (step < 0 && step > -1)
		step = -1;
	double nd = detail + step;
	return nd < 0 ? 0 : nd > dmax ? dmax : (int)lround(nd);
}

/*
 * The size search for one picture.  Within one quality, size grows with
 * detail, so it brackets the target and closes in (next_detail); when
 * detail runs out at one end, it moves one rung up or down the quality
 * ladder (only when quality is automatic).  The closest encode is kept in
 * g->best.  With settle, a picture that has taken TRIALS_SETTLE encodes
 * accepts anything within SETTLE_PCT; the calibration does not settle,
 * since every picture starts where it ends.  Bounded by TRIALS_MAX encodes.
 * Returns 0 with *best filled, or a negative kc_err.
 */
static int search(struct kc_jpeg_gen *g, const struct scene *sc, bool settle,
		  struct trial *best, struct kc_diag *d)
{
	const double target = (double)g->o.size_kb * 1024.0;
	int qi = g->start_qi;
	int quality = qi >= 0 ? quality_ladder[qi] : g->o.quality;
	int detail = g->start_detail, last_detail = -1, trials = 0;
	double slope = g->slope_bytes;
	struct bracket b = {-1, -1, 0, 0};
	best->len = 0;
	while (trials < TRIALS_MAX) {
		if (detail != last_detail)
			render(sc, g->tb, &g->rw, g->rgb, g->o.width_px,
			       g->o.height_px, detail);
		last_detail = detail;
		unsigned long len;
		int rc = encode(g, quality, &len, d);
		if (rc)
			return rc;
		trials++;
		if (!best->len || miss(len, target) < miss(best->len, target)) {
			*best = (struct trial){qi, quality, detail, len, 0};
			memcpy(g->best, g->jbuf, len);
		}
		double off = fabs((double)len / target - 1.0);
		if (off <= AIM_PCT / 100.0 ||
		    (settle && trials >= TRIALS_SETTLE && off <= SETTLE_PCT / 100.0))
			break;
		bool small = (double)len < target;
		if (small) {
			b.lo = detail;
			b.lo_len = len;
		} else {
			b.hi = detail;
			b.hi_len = len;
		}
		int dmax = qi >= 0 && qi + 1 < LADDER_N ? DETAIL_SOFT_MAX : KC_JPEG_DETAIL_MAX;
		/* Out of detail at this quality: change quality, keep detail. */
		if ((small && detail >= dmax) || (!small && detail == 0)) {
			int nqi = qi + (small ? 1 : -1);
			if (qi < 0 || nqi < 0 || nqi >= LADDER_N)
				break;
			qi = nqi;
			quality = quality_ladder[qi];
			b = (struct bracket){-1, -1, 0, 0};
			continue;
		}
		detail = next_detail(&b, detail, len, target, dmax, &slope);
		if (detail < 0)
			break; /* as close as detail steps allow */
	}
	best->trials = trials;
	return KC_OK;
}

/*
 * Finds where the search should start for every picture: a full search on
 * picture 0 from the defaults, with a slope measured on it.  Deterministic,
 * so a picture's bytes never depend on which pictures came before it.
 */
static int calibrate(struct kc_jpeg_gen *g, struct kc_diag *d)
{
	struct scene sc;
	scene_draw(&sc, g->o.seed, 0, g->o.width_px, g->o.height_px);
	/* Measure bytes per detail step between two points. */
	unsigned long a, b;
	int q = g->start_qi >= 0 ? quality_ladder[g->start_qi] : g->o.quality;
	render(&sc, g->tb, &g->rw, g->rgb, g->o.width_px, g->o.height_px, 100);
	int rc = encode(g, q, &a, d);
	if (rc)
		return rc;
	render(&sc, g->tb, &g->rw, g->rgb, g->o.width_px, g->o.height_px, 600);
	rc = encode(g, q, &b, d);
	if (rc)
		return rc;
	g->slope_bytes = b > a ? (double)(b - a) / 500.0 : 1.0;
	struct trial t;
	rc = search(g, &sc, false, &t, d);
	if (rc)
		return rc;
	double target = (double)g->o.size_kb * 1024.0;
	if (fabs((double)t.len / target - 1.0) > KC_JPEG_SIZE_TOL_PCT / 100.0)
		return kc_diag_set(d, KC_ERANGE,
				   "size %u KB is out of reach at %dx%d %s%s: the closest is %lu KB (quality %d)",
				   (unsigned)g->o.size_kb, g->o.width_px,
				   g->o.height_px, kc_jpeg_subsamp_name(g->o.subsamp),
				   g->o.quality ? " with a fixed quality" : "",
				   t.len / 1024, t.quality);
	g->start_qi = t.qi;
	g->start_detail = t.detail;
	return KC_OK;
}

int kc_jpeg_gen_new(struct kc_jpeg_gen **out, const struct kc_jpeg_opts *o,
		    struct kc_diag *d)
{
	KC_ASSERT(out && o);
	int rc = kc_jpeg_opts_check(o, d);
	if (rc)
		return rc;
	struct kc_jpeg_gen *g = calloc(1, sizeof(*g));
	if (!g)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	g->o = *o;
	g->tb = malloc(sizeof(*g->tb));
	if (!g->tb) {
		free(g);
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	}
	noise_fill(g->tb, o->seed);
	for (int i = 0; i < 256; i++)
		g->tb->sin256[i] = (int8_t)lround(127.0 * sin(i * (2.0 * M_PI / 256.0)));
	size_t w = (size_t)o->width_px, h = (size_t)o->height_px;
	g->jcap = tjBufSize(o->width_px, o->height_px, tj_subsamp(o->subsamp));
	g->rw.row = malloc(w * 3 * sizeof(*g->rw.row));
	g->rw.acc = malloc(w * 3 * sizeof(*g->rw.acc));
	g->rw.dy = malloc(w * 3 * sizeof(*g->rw.dy));
	g->rgb = malloc(w * h * 3);
	g->jbuf = malloc(g->jcap);
	g->best = o->size_kb ? malloc(g->jcap) : NULL;
	g->tj = tjInitCompress();
	if (!g->rw.row || !g->rw.acc || !g->rw.dy || !g->rgb || !g->jbuf || (o->size_kb && !g->best) ||
	    g->jcap == (unsigned long)-1) {
		rc = kc_diag_set(d, KC_ENOMEM, "out of memory for a %dx%d image",
				 o->width_px, o->height_px);
		goto fail;
	}
	if (!g->tj) {
		rc = kc_diag_set(d, KC_EINTERNAL, "JPEG encoder: %s",
				 tjGetErrorStr2(NULL));
		goto fail;
	}
	KC_ASSERT(quality_ladder[LADDER_DEFAULT] == DEFAULT_QUALITY);
	g->start_qi = o->quality ? -1 : LADDER_DEFAULT;
	g->start_detail = o->detail >= 0 ? o->detail : DEFAULT_DETAIL;
	g->slope_bytes = 1.0;
	if (o->size_kb) {
		rc = calibrate(g, d);
		if (rc)
			goto fail;
	}
	*out = g;
	return KC_OK;
fail:
	kc_jpeg_gen_free(g);
	return rc;
}

void kc_jpeg_gen_free(struct kc_jpeg_gen *g)
{
	if (!g)
		return;
	if (g->tj)
		tjDestroy(g->tj);
	free(g->rw.row);
	free(g->rw.acc);
	free(g->rw.dy);
	free(g->rgb);
	free(g->jbuf);
	free(g->best);
	free(g->tb);
	free(g);
}

int kc_jpeg_gen_make(struct kc_jpeg_gen *g, uint64_t index,
		     struct kc_jpeg_image *out, struct kc_diag *d)
{
	KC_ASSERT(g && out);
	struct scene sc;
	scene_draw(&sc, g->o.seed, index, g->o.width_px, g->o.height_px);
	struct trial t;
	const unsigned char *src;
	if (g->o.size_kb) {
		int rc = search(g, &sc, true, &t, d);
		if (rc)
			return rc;
		double target = (double)g->o.size_kb * 1024.0;
		if (fabs((double)t.len / target - 1.0) > KC_JPEG_SIZE_TOL_PCT / 100.0)
			return kc_diag_set(d, KC_ERANGE,
					   "image %llu: size %u KB is out of reach, the closest is %lu KB",
					   (unsigned long long)index,
					   (unsigned)g->o.size_kb, t.len / 1024);
		src = g->best;
	} else {
		t.quality = g->o.quality ? g->o.quality : DEFAULT_QUALITY;
		t.detail = g->start_detail;
		render(&sc, g->tb, &g->rw, g->rgb, g->o.width_px, g->o.height_px,
		       t.detail);
		int rc = encode(g, t.quality, &t.len, d);
		if (rc)
			return rc;
		src = g->jbuf;
		t.trials = 1;
	}
	unsigned char *bytes = malloc(t.len);
	if (!bytes)
		return kc_diag_set(d, KC_ENOMEM, "out of memory");
	memcpy(bytes, src, t.len);
	*out = (struct kc_jpeg_image){
		.bytes = bytes,
		.len_bytes = t.len,
		.width_px = g->o.width_px,
		.height_px = g->o.height_px,
		.quality = t.quality,
		.detail = t.detail,
		.trials = t.trials,
	};
	return KC_OK;
}

void kc_jpeg_image_fini(struct kc_jpeg_image *img)
{
	if (!img)
		return;
	free(img->bytes);
	memset(img, 0, sizeof(*img));
}

/* ---- the checker ---- */

int kc_jpeg_check(const unsigned char *buf, size_t len, const char *name,
		  struct kc_jpeg_info *info, struct kc_diag *d)
{
	if (!name)
		name = "(buffer)";
	if (!buf || len < 4 || buf[0] != 0xFF || buf[1] != 0xD8)
		return kc_diag_set(d, KC_EPARSE,
				   "%s: not a JPEG (no start-of-image marker)", name);
	if (len > (size_t)UINT32_MAX)
		return kc_diag_set(d, KC_EPARSE, "%s: too large to be a payload", name);
	tjhandle tj = tjInitDecompress();
	if (!tj)
		return kc_diag_set(d, KC_ENOMEM, "JPEG decoder: %s",
				   tjGetErrorStr2(NULL));
	int rc = KC_OK, w = 0, h = 0, ss = -1, cs = -1;
	unsigned char *px = NULL;
	if (tjDecompressHeader3(tj, buf, (unsigned long)len, &w, &h, &ss, &cs) != 0) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: not a valid JPEG: %s", name,
				 tjGetErrorStr2(tj));
		goto out;
	}
	if (w <= 0 || h <= 0 || w > 65535 || h > 65535) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: bad JPEG dimensions %dx%d", name, w, h);
		goto out;
	}
	/*
	 * Decode everything, at 1/8 scale: every entropy-coded byte is still
	 * read (so truncation and corruption show up as a warning), but the
	 * output is 64 times smaller, which keeps memory bounded for any size.
	 */
	int sw = (w + 7) / 8, sh = (h + 7) / 8;
	/* libjpeg cannot turn CMYK into grey: decode those as they are. */
	int pf = cs == TJCS_CMYK || cs == TJCS_YCCK ? TJPF_CMYK : TJPF_GRAY;
	px = malloc((size_t)sw * (size_t)sh * (size_t)tjPixelSize[pf]);
	if (!px) {
		rc = kc_diag_set(d, KC_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	if (tjDecompress2(tj, buf, (unsigned long)len, px, sw, 0, sh, pf,
			  TJFLAG_STOPONWARNING) != 0) {
		rc = kc_diag_set(d, KC_EPARSE, "%s: corrupt or truncated JPEG: %s",
				 name, tjGetErrorStr2(tj));
		goto out;
	}
	if (info)
		*info = (struct kc_jpeg_info){w, h, ss};
out:
	free(px);
	tjDestroy(tj);
	return rc;
}
