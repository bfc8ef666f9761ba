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
 * This file holds the options, that search and the checker; the picture
 * itself (scene and rendering) is jpeg_scene.c's, encoding libjpeg-turbo's.
 * Nothing here depends on rand() or on global state, so the same options,
 * seed and index give the same bytes on every machine.
 */
#include "kneecap/jpeg.h"
#include "kneecap/parse.h"

#include "jpeg_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

static_assert(KC_JPEG_PIXELS_MAX <= KC_JPEG_DIM_MAX * KC_JPEG_DIM_MAX,
	      "pixel cap is below the side caps");
static_assert((uint64_t)KC_JPEG_PIXELS_MAX * 3 < INT32_MAX,
	      "an RGB picture must fit TurboJPEG's int sizes");

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
	struct kc_jpeg_canvas *cv;
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
static int search(struct kc_jpeg_gen *g, const struct kc_jpeg_scene *sc, bool settle,
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
			kc_jpeg_render(sc, g->cv, g->rgb, g->o.width_px,
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

/* Whether an encode of len bytes meets --size-kb within the promised tolerance. */
static bool within_tolerance(const struct kc_jpeg_gen *g, unsigned long len)
{
	double target = (double)g->o.size_kb * 1024.0;
	return fabs((double)len / target - 1.0) <= KC_JPEG_SIZE_TOL_PCT / 100.0;
}

/*
 * Finds where the search should start for every picture: a full search on
 * picture 0 from the defaults, with a slope measured on it.  Deterministic,
 * so a picture's bytes never depend on which pictures came before it.
 */
static int calibrate(struct kc_jpeg_gen *g, struct kc_diag *d)
{
	struct kc_jpeg_scene sc;
	kc_jpeg_scene_draw(&sc, g->o.seed, 0, g->o.width_px, g->o.height_px);
	/* Measure bytes per detail step between two points. */
	unsigned long a, b;
	int q = g->start_qi >= 0 ? quality_ladder[g->start_qi] : g->o.quality;
	kc_jpeg_render(&sc, g->cv, g->rgb, g->o.width_px, g->o.height_px, 100);
	int rc = encode(g, q, &a, d);
	if (rc)
		return rc;
	kc_jpeg_render(&sc, g->cv, g->rgb, g->o.width_px, g->o.height_px, 600);
	rc = encode(g, q, &b, d);
	if (rc)
		return rc;
	g->slope_bytes = b > a ? (double)(b - a) / 500.0 : 1.0;
	struct trial t;
	rc = search(g, &sc, false, &t, d);
	if (rc)
		return rc;
	if (!within_tolerance(g, t.len))
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
	size_t w = (size_t)o->width_px, h = (size_t)o->height_px;
	g->jcap = tjBufSize(o->width_px, o->height_px, tj_subsamp(o->subsamp));
	g->cv = kc_jpeg_canvas_new(o->width_px, o->seed);
	g->rgb = malloc(w * h * 3);
	g->jbuf = malloc(g->jcap);
	g->best = o->size_kb ? malloc(g->jcap) : NULL;
	g->tj = tjInitCompress();
	if (!g->cv || !g->rgb || !g->jbuf || (o->size_kb && !g->best) ||
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
	kc_jpeg_canvas_free(g->cv);
	free(g->rgb);
	free(g->jbuf);
	free(g->best);
	free(g);
}

int kc_jpeg_gen_make(struct kc_jpeg_gen *g, uint64_t index,
		     struct kc_jpeg_image *out, struct kc_diag *d)
{
	KC_ASSERT(g && out);
	struct kc_jpeg_scene sc;
	kc_jpeg_scene_draw(&sc, g->o.seed, index, g->o.width_px, g->o.height_px);
	struct trial t;
	const unsigned char *src;
	if (g->o.size_kb) {
		int rc = search(g, &sc, true, &t, d);
		if (rc)
			return rc;
		if (!within_tolerance(g, t.len))
			return kc_diag_set(d, KC_ERANGE,
					   "image %llu: size %u KB is out of reach, the closest is %lu KB",
					   (unsigned long long)index,
					   (unsigned)g->o.size_kb, t.len / 1024);
		src = g->best;
	} else {
		t.quality = g->o.quality ? g->o.quality : DEFAULT_QUALITY;
		t.detail = g->start_detail;
		kc_jpeg_render(&sc, g->cv, g->rgb, g->o.width_px, g->o.height_px,
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
