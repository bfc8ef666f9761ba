/*
 * jpeg_int.h - what jpeg.c's factory shares with jpeg_scene.c (not public):
 * the scene a picture is drawn from and the canvas that renders it.  The
 * factory searches detail and quality; the scene code owns every pixel.
 */
#ifndef KNEECAP_JPEG_INT_H
#define KNEECAP_JPEG_INT_H

#include <stdint.h>

#include "kneecap/jpeg.h"

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

struct kc_jpeg_scene {
	struct rgb bg0, bg1;
	int bg_gx, bg_gy;     /* gradient parameter per pixel, 16.16 of [0, 1] */
	int nshapes;
	struct shape shapes[SHAPES_MAX];
	int nlabels;
	struct label labels[LABELS_MAX];
	uint64_t noise_seed;
};

/* The noise and sine tables and the scratch rows, for pictures w pixels wide. */
struct kc_jpeg_canvas;

/* A canvas for pictures up to w pixels wide, its noise drawn from seed; NULL when out of memory. */
struct kc_jpeg_canvas *kc_jpeg_canvas_new(int w, uint64_t seed);

/* Frees cv (NULL is fine). */
void kc_jpeg_canvas_free(struct kc_jpeg_canvas *cv);

/* Fills sc with picture index of seed for a w x h image; same inputs, same scene. */
void kc_jpeg_scene_draw(struct kc_jpeg_scene *sc, uint64_t seed, uint64_t index, int w, int h);

/* Renders sc at detail (0..KC_JPEG_DETAIL_MAX) into rgb (w * h * 3 bytes, packed RGB). */
void kc_jpeg_render(const struct kc_jpeg_scene *sc, struct kc_jpeg_canvas *cv,
		    unsigned char *rgb, int w, int h, int detail);

#endif
