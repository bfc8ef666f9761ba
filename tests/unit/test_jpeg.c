/* test_jpeg.c - the synthetic JPEG factory and the JPEG checker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "kneecap/jpeg.h"

/* Makes image index with options o; fails the test on error. */
static void make(const struct kc_jpeg_opts *o, uint64_t index, struct kc_jpeg_image *img)
{
	struct kc_jpeg_gen *g = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = kc_jpeg_gen_new(&g, o, &d);
	if (rc)
		fail_msg("gen_new: %s", d.msg);
	rc = kc_jpeg_gen_make(g, index, img, &d);
	if (rc)
		fail_msg("make: %s", d.msg);
	kc_jpeg_gen_free(g);
}

/*
 * Decodes img fully with TurboJPEG at its own size and checks the size, the
 * subsampling and that the picture is not flat (a constant buffer would
 * make no work for the endpoint's decoder).
 */
static void assert_decodes(const struct kc_jpeg_image *img, int w, int h, int want_ss)
{
	tjhandle tj = tjInitDecompress();
	assert_non_null(tj);
	int jw, jh, ss, cs;
	assert_int_equal(tjDecompressHeader3(tj, img->bytes, img->len_bytes, &jw, &jh, &ss, &cs), 0);
	assert_int_equal(jw, w);
	assert_int_equal(jh, h);
	assert_int_equal(ss, want_ss);
	unsigned char *px = malloc((size_t)w * h * 3);
	assert_non_null(px);
	assert_int_equal(tjDecompress2(tj, img->bytes, img->len_bytes, px, w, 0, h, TJPF_RGB,
				       TJFLAG_STOPONWARNING), 0);
	/* Distinct grey levels in the green channel: a photo has many. */
	int seen[256] = {0}, distinct = 0;
	for (size_t i = 1; i < (size_t)w * h * 3; i += 3)
		if (!seen[px[i]]++)
			distinct++;
	assert_true(distinct > 64);
	free(px);
	tjDestroy(tj);
	struct kc_jpeg_info info;
	struct kc_diag d;
	assert_int_equal(kc_jpeg_check(img->bytes, img->len_bytes, "img", &info, &d), KC_OK);
	assert_int_equal(info.width_px, w);
	assert_int_equal(info.height_px, h);
}

static void test_opts_check(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	struct kc_diag d;
	kc_jpeg_opts_default(&o);
	assert_int_equal(o.width_px, 1024);
	assert_int_equal(o.height_px, 1024);
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_OK);

	const int bad[][2] = {{0, 0}, {100000, 100000}, {16385, 64}, {64, 16385},
			      {7, 1024}, {-1, 1024}, {4097, 4097}, {16384, 16384}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.width_px = bad[i][0];
		o.height_px = bad[i][1];
		kc_diag_clear(&d);
		assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_EINVAL);
		assert_non_null(strstr(d.msg, "image size"));
		struct kc_jpeg_gen *g = (struct kc_jpeg_gen *)&o; /* must stay untouched */
		assert_int_equal(kc_jpeg_gen_new(&g, &o, &d), KC_EINVAL);
		assert_ptr_equal(g, (struct kc_jpeg_gen *)&o);
	}
	o.width_px = 16384; /* a long strip is fine: under the pixel cap */
	o.height_px = 1024;
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_OK);

	kc_jpeg_opts_default(&o);
	o.quality = 101;
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_EINVAL);
	o.quality = 0;
	o.detail = 1001;
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_EINVAL);
	o.detail = 300;
	o.size_kb = 100;
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_EINVAL); /* both: ambiguous */
	o.detail = -1;
	o.size_kb = 7000;
	assert_int_equal(kc_jpeg_opts_check(&o, &d), KC_EINVAL); /* over the body cap */
}

static void test_opts_set(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	struct kc_diag d;
	kc_jpeg_opts_default(&o);
	assert_int_equal(kc_jpeg_opts_set(&o, "width", "640", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "height", "480", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "quality", "90", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "size_kb", "120", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "subsampling", "gray", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "progressive", "yes", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "seed", "77", &d), KC_OK);
	assert_int_equal(kc_jpeg_opts_set(&o, "variety", "9", &d), KC_OK);
	assert_int_equal(o.variety, 9);
	assert_int_equal(kc_jpeg_opts_set(&o, "variety", "0", &d), KC_ERANGE);
	assert_int_equal(o.width_px, 640);
	assert_int_equal(o.height_px, 480);
	assert_int_equal(o.quality, 90);
	assert_int_equal(o.size_kb, 120);
	assert_int_equal(o.subsamp, KC_JPEG_GRAY);
	assert_true(o.progressive);
	assert_int_equal(o.seed, 77);

	assert_int_equal(kc_jpeg_opts_set(&o, "width", "0", &d), KC_ERANGE);
	assert_string_equal(d.key, "width");
	assert_int_equal(kc_jpeg_opts_set(&o, "width", "100000", &d), KC_ERANGE);
	assert_int_equal(kc_jpeg_opts_set(&o, "width", "12px", &d), KC_EPARSE);
	assert_int_equal(o.width_px, 640); /* untouched on failure */
	assert_int_equal(kc_jpeg_opts_set(&o, "subsampling", "411", &d), KC_EPARSE);
	assert_int_equal(kc_jpeg_opts_set(&o, "quality", "0", &d), KC_ERANGE);
	assert_int_equal(kc_jpeg_opts_set(&o, "colour", "red", &d), KC_ENOTFOUND);
	assert_non_null(strstr(d.msg, "colour"));
}

static void test_decodes_all_variants(void **state)
{
	(void)state;
	static const struct {
		int w, h;
		enum kc_jpeg_subsamp ss;
		int tj_ss;
		bool progressive;
	} cases[] = {
		{1024, 1024, KC_JPEG_420, TJSAMP_420, false},
		{1024, 1024, KC_JPEG_444, TJSAMP_444, true},
		{640, 480, KC_JPEG_422, TJSAMP_422, false},
		{333, 257, KC_JPEG_GRAY, TJSAMP_GRAY, true},
		{8, 8, KC_JPEG_420, TJSAMP_420, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kc_jpeg_opts o;
		kc_jpeg_opts_default(&o);
		o.width_px = cases[i].w;
		o.height_px = cases[i].h;
		o.subsamp = cases[i].ss;
		o.progressive = cases[i].progressive;
		struct kc_jpeg_image img;
		make(&o, i, &img);
		assert_int_equal(img.width_px, cases[i].w);
		assert_int_equal(img.trials, 1);
		if (cases[i].w >= 64)
			assert_decodes(&img, cases[i].w, cases[i].h, cases[i].tj_ss);
		else
			assert_int_equal(kc_jpeg_check(img.bytes, img.len_bytes, "tiny", NULL, NULL), KC_OK);
		/* A progressive file says so: an SOF2 marker. */
		bool sof2 = false;
		for (size_t k = 0; k + 1 < img.len_bytes; k++)
			if (img.bytes[k] == 0xFF && img.bytes[k + 1] == 0xC2)
				sof2 = true;
		assert_int_equal(sof2, cases[i].progressive);
		kc_jpeg_image_fini(&img);
	}
}

static void test_deterministic(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = 512;
	o.height_px = 384;
	o.seed = 42;
	struct kc_jpeg_gen *g = NULL;
	struct kc_diag d;
	assert_int_equal(kc_jpeg_gen_new(&g, &o, &d), KC_OK);
	struct kc_jpeg_image a[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(kc_jpeg_gen_make(g, (uint64_t)i, &a[i], &d), KC_OK);
	kc_jpeg_gen_free(g);

	/* A fresh factory, asked in another order, gives the same bytes. */
	assert_int_equal(kc_jpeg_gen_new(&g, &o, &d), KC_OK);
	for (int i = 2; i >= 0; i--) {
		struct kc_jpeg_image b;
		assert_int_equal(kc_jpeg_gen_make(g, (uint64_t)i, &b, &d), KC_OK);
		assert_int_equal(b.len_bytes, a[i].len_bytes);
		assert_memory_equal(b.bytes, a[i].bytes, b.len_bytes);
		kc_jpeg_image_fini(&b);
	}
	kc_jpeg_gen_free(g);

	/* Different indices, different bytes; a different seed, different bytes. */
	assert_true(a[0].len_bytes != a[1].len_bytes ||
		    memcmp(a[0].bytes, a[1].bytes, a[0].len_bytes) != 0);
	assert_true(a[1].len_bytes != a[2].len_bytes ||
		    memcmp(a[1].bytes, a[2].bytes, a[1].len_bytes) != 0);
	o.seed = 43;
	struct kc_jpeg_image c;
	make(&o, 0, &c);
	assert_true(c.len_bytes != a[0].len_bytes ||
		    memcmp(c.bytes, a[0].bytes, c.len_bytes) != 0);
	kc_jpeg_image_fini(&c);
	for (int i = 0; i < 3; i++)
		kc_jpeg_image_fini(&a[i]);
}

/* Each image of a set within 15% of the target, and each decodes. */
static void check_size_target(uint32_t kb, enum kc_jpeg_subsamp ss, int n)
{
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.size_kb = kb;
	o.subsamp = ss;
	struct kc_jpeg_gen *g = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_jpeg_gen_new(&g, &o, &d) != KC_OK)
		fail_msg("size %u KB: %s", (unsigned)kb, d.msg);
	const double target = kb * 1024.0;
	for (int i = 0; i < n; i++) {
		struct kc_jpeg_image img;
		if (kc_jpeg_gen_make(g, (uint64_t)i, &img, &d) != KC_OK)
			fail_msg("size %u KB image %d: %s", (unsigned)kb, i, d.msg);
		double r = (double)img.len_bytes / target;
		print_message("size %u KB image %d: %zu bytes (%.1f%%), quality %d detail %d, %d encodes\n",
			      (unsigned)kb, i, img.len_bytes, (r - 1) * 100, img.quality, img.detail,
			      img.trials);
		assert_true(r >= 0.85 && r <= 1.15);
		assert_int_equal(kc_jpeg_check(img.bytes, img.len_bytes, "sized", NULL, &d), KC_OK);
		kc_jpeg_image_fini(&img);
	}
	kc_jpeg_gen_free(g);
}

static void test_size_80(void **state)
{
	(void)state;
	check_size_target(80, KC_JPEG_420, 4);
}

static void test_size_200(void **state)
{
	(void)state;
	check_size_target(200, KC_JPEG_420, 4);
}

static void test_size_600(void **state)
{
	(void)state;
	check_size_target(600, KC_JPEG_420, 4);
	check_size_target(600, KC_JPEG_444, 2);
}

static void test_size_out_of_reach(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = 64;
	o.height_px = 64;
	o.size_kb = 2000; /* a 64x64 JPEG cannot weigh 2 MB */
	struct kc_jpeg_gen *g = NULL;
	struct kc_diag d;
	assert_int_equal(kc_jpeg_gen_new(&g, &o, &d), KC_ERANGE);
	assert_null(g);
	assert_non_null(strstr(d.msg, "out of reach"));
	/* A fixed quality that cannot make it is refused too, not ignored. */
	kc_jpeg_opts_default(&o);
	o.quality = 30;
	o.size_kb = 900;
	assert_int_equal(kc_jpeg_gen_new(&g, &o, &d), KC_ERANGE);
	assert_null(g);
}

static void test_check_rejects(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = 256;
	o.height_px = 256;
	struct kc_jpeg_image img;
	make(&o, 0, &img);
	struct kc_diag d;
	struct kc_jpeg_info info = {-7, -7, -7};
	assert_int_equal(kc_jpeg_check(img.bytes, img.len_bytes, "good.jpg", &info, &d), KC_OK);
	assert_int_equal(info.width_px, 256);

	/* Truncated: half, and all but the end-of-image marker's neighbourhood. */
	struct kc_jpeg_info untouched = {-7, -7, -7};
	kc_diag_clear(&d);
	assert_int_equal(kc_jpeg_check(img.bytes, img.len_bytes / 2, "half.jpg", &untouched, &d),
			 KC_EPARSE);
	assert_non_null(strstr(d.msg, "half.jpg"));
	assert_int_equal(untouched.width_px, -7);
	assert_int_equal(kc_jpeg_check(img.bytes, img.len_bytes - 64, "short.jpg", NULL, &d),
			 KC_EPARSE);
	assert_int_equal(kc_jpeg_check(img.bytes, 300, "head.jpg", NULL, &d), KC_EPARSE);

	/* A PNG, empty, NULL, garbage after an SOI marker. */
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
					    0, 0, 0, 13, 'I', 'H', 'D', 'R'};
	kc_diag_clear(&d);
	assert_int_equal(kc_jpeg_check(png, sizeof(png), "photo.jpg", NULL, &d), KC_EPARSE);
	assert_non_null(strstr(d.msg, "photo.jpg"));
	assert_int_equal(kc_jpeg_check(png, 0, "empty.jpg", NULL, &d), KC_EPARSE);
	assert_int_equal(kc_jpeg_check(NULL, 0, NULL, NULL, &d), KC_EPARSE);
	unsigned char junk[512];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	junk[0] = 0xFF;
	junk[1] = 0xD8;
	assert_int_equal(kc_jpeg_check(junk, sizeof(junk), "junk.jpg", NULL, &d), KC_EPARSE);

	/* A corrupted middle (one scan byte flipped into a marker) is caught. */
	unsigned char *bad = malloc(img.len_bytes);
	assert_non_null(bad);
	memcpy(bad, img.bytes, img.len_bytes);
	memset(bad + img.len_bytes / 2, 0xFF, 4);
	bad[img.len_bytes / 2 + 4] = 0xD9; /* a premature end-of-image marker */
	assert_int_equal(kc_jpeg_check(bad, img.len_bytes, "cut.jpg", NULL, &d), KC_EPARSE);
	free(bad);
	kc_jpeg_image_fini(&img);
}

/* Valid JPEGs kneecap did not make: CMYK (as print workflows write) and grey. */
static void test_check_accepts_foreign(void **state)
{
	(void)state;
	const int w = 96, h = 80;
	unsigned char *px = malloc((size_t)w * h * 4);
	assert_non_null(px);
	for (int i = 0; i < w * h * 4; i++)
		px[i] = (unsigned char)((i * 7) ^ (i >> 5));
	tjhandle tj = tjInitCompress();
	assert_non_null(tj);
	static const struct {
		int pf, ss, cs;
	} cases[] = {{TJPF_CMYK, TJSAMP_444, TJCS_YCCK}, {TJPF_GRAY, TJSAMP_GRAY, TJCS_GRAY}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned char *jpg = NULL;
		unsigned long len = 0;
		assert_int_equal(tjCompress2(tj, px, w, 0, h, cases[i].pf, &jpg, &len,
					     cases[i].ss, 90, 0), 0);
		/* Make sure the test makes what it means to test. */
		tjhandle dj = tjInitDecompress();
		int jw, jh, ss, cs;
		assert_int_equal(tjDecompressHeader3(dj, jpg, len, &jw, &jh, &ss, &cs), 0);
		assert_int_equal(cs, cases[i].cs);
		tjDestroy(dj);
		struct kc_jpeg_info info;
		struct kc_diag d;
		kc_diag_clear(&d);
		if (kc_jpeg_check(jpg, len, "foreign.jpg", &info, &d) != KC_OK)
			fail_msg("case %zu: %s", i, d.msg);
		assert_int_equal(info.width_px, w);
		assert_int_equal(info.height_px, h);
		assert_int_equal(kc_jpeg_check(jpg, len / 2, "foreign.jpg", NULL, &d), KC_EPARSE);
		tjFree(jpg);
	}
	tjDestroy(tj);
	free(px);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts_check),
		cmocka_unit_test(test_opts_set),
		cmocka_unit_test(test_decodes_all_variants),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_size_80),
		cmocka_unit_test(test_size_200),
		cmocka_unit_test(test_size_600),
		cmocka_unit_test(test_size_out_of_reach),
		cmocka_unit_test(test_check_rejects),
		cmocka_unit_test(test_check_accepts_foreign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
