/* test_pool.c - the payload pool: synthetic, from a folder, from one file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kneecap/jpeg.h"
#include "kneecap/pool.h"
#include "pool_int.h"

/* ---- a scratch folder per test, removed afterwards ---- */

struct scratch {
	char dir[64];
	char names[16][64]; /* what was put in it, to remove */
	int n;
};

static void scratch_init(struct scratch *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/kc-pool-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
}

static const char *scratch_path(struct scratch *s, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", s->dir, name);
	return out;
}

static void scratch_note(struct scratch *s, const char *name)
{
	assert_true(s->n < 16);
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
}

static void scratch_write(struct scratch *s, const char *name, const void *p, size_t n)
{
	char path[256];
	FILE *f = fopen(scratch_path(s, name, path, sizeof(path)), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	scratch_note(s, name);
}

static void scratch_fini(struct scratch *s)
{
	char path[256];
	for (int i = s->n - 1; i >= 0; i--) {
		scratch_path(s, s->names[i], path, sizeof(path));
		if (unlink(path) != 0)
			rmdir(path);
	}
	assert_int_equal(rmdir(s->dir), 0);
}

static void make_jpeg(int w, int h, uint64_t index, struct kc_jpeg_image *img)
{
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = w;
	o.height_px = h;
	struct kc_jpeg_gen *g = NULL;
	assert_int_equal(kc_jpeg_gen_new(&g, &o, NULL), KC_OK);
	assert_int_equal(kc_jpeg_gen_make(g, index, img, NULL), KC_OK);
	kc_jpeg_gen_free(g);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- synthetic ---- */

static void test_synthetic_pool(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = 256;
	o.height_px = 192;
	o.variety = 6;
	struct kc_pool *p = NULL;
	struct kc_diag d;
	assert_int_equal(kc_pool_new_jpeg(&p, &o, &d), KC_OK);
	assert_int_equal(kc_pool_count(p), 6);
	assert_int_equal(kc_pool_hash_count(p), 6);

	for (uint64_t seq = 0; seq < 6; seq++) {
		const struct kc_payload *e = kc_pool_get(p, seq);
		assert_string_equal(e->content_type, "image/jpeg");
		assert_int_equal(e->width_px, 256);
		assert_int_equal(e->height_px, 192);
		assert_int_equal(strlen(e->sha256_hex), 64);
		char want[65];
		sha256_hex(e->bytes, e->len_bytes, want);
		assert_string_equal(e->sha256_hex, want);
		assert_int_equal(kc_jpeg_check(e->bytes, e->len_bytes, e->name, NULL, &d), KC_OK);
		/* The entry is index seq of the factory: same bytes as made alone. */
		struct kc_jpeg_image img;
		make_jpeg(256, 192, seq, &img);
		assert_int_equal(img.len_bytes, e->len_bytes);
		assert_memory_equal(img.bytes, e->bytes, img.len_bytes);
		kc_jpeg_image_fini(&img);
	}
	assert_string_equal(kc_pool_get(p, 3)->name, "img-0003.jpg");

	/* Rotation hands out the same entry, not a copy, and hashes nothing. */
	for (uint64_t seq = 0; seq < 6000; seq++) {
		const struct kc_payload *e = kc_pool_get(p, seq);
		assert_ptr_equal(e, kc_pool_get(p, seq % 6));
		assert_ptr_equal(e->bytes, kc_pool_get(p, seq + 6)->bytes);
	}
	assert_ptr_equal(kc_pool_get(p, UINT64_MAX), kc_pool_get(p, UINT64_MAX % 6));
	assert_int_equal(kc_pool_hash_count(p), 6);

	struct kc_pool_summary s;
	kc_pool_summary(p, &s);
	assert_int_equal(s.count, 6);
	assert_string_equal(s.content_type, "image/jpeg");
	assert_string_equal(s.source, "synthetic");
	size_t lo = SIZE_MAX, hi = 0;
	double sum = 0;
	for (uint64_t i = 0; i < 6; i++) {
		size_t n = kc_pool_get(p, i)->len_bytes;
		lo = n < lo ? n : lo;
		hi = n > hi ? n : hi;
		sum += (double)n;
	}
	assert_int_equal(s.bytes_min, lo);
	assert_int_equal(s.bytes_max, hi);
	assert_true(s.bytes_mean > sum / 6 - 0.5 && s.bytes_mean < sum / 6 + 0.5);
	assert_true(lo < hi); /* distinct pictures, distinct sizes */
	kc_pool_free(p);
	kc_pool_free(NULL);
}

/* Many readers at once: each checks every get against the pool's own slots. */
struct reader {
	const struct kc_pool *pool;
	const struct kc_payload *want[8];
	uint64_t start;
	uint64_t wrong;
	uint64_t gets;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	for (uint64_t seq = r->start; seq < r->start + 200000; seq++) {
		const struct kc_payload *e = kc_pool_get(r->pool, seq);
		r->wrong += e != r->want[seq % 5] || e->len_bytes == 0 ||
			    e->sha256_hex[64] != '\0';
		r->gets++;
	}
	return NULL;
}

static void test_shared_readers(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	o.width_px = 64;
	o.height_px = 64;
	o.variety = 5;
	struct kc_pool *p = NULL;
	assert_int_equal(kc_pool_new_jpeg(&p, &o, NULL), KC_OK);
	struct reader r[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].pool = p;
		r[i].start = (uint64_t)(i + 1) * UINT64_C(0x100000000) - 100000; /* crosses a 2^32 multiple */
		for (int k = 0; k < 5; k++)
			r[i].want[k] = kc_pool_get(p, (uint64_t)k);
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	uint64_t got = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].wrong, 0);
		got += r[i].gets;
	}
	assert_int_equal(got, 4 * 200000);
	assert_int_equal(kc_pool_hash_count(p), 5);
	kc_pool_free(p);
}

static void test_synthetic_bad(void **state)
{
	(void)state;
	struct kc_jpeg_opts o;
	kc_jpeg_opts_default(&o);
	struct kc_pool *p = NULL;
	struct kc_diag d;
	o.variety = 0;
	assert_int_equal(kc_pool_new_jpeg(&p, &o, &d), KC_EINVAL);
	o.variety = KC_JPEG_VARIETY_MAX + 1;
	assert_int_equal(kc_pool_new_jpeg(&p, &o, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "variety"));
	o.variety = 4;
	o.width_px = 100000;
	o.height_px = 100000;
	assert_int_equal(kc_pool_new_jpeg(&p, &o, &d), KC_EINVAL);
	assert_null(p);
}

/* ---- one body file ---- */

static void test_body_file(void **state)
{
	(void)state;
	struct scratch s;
	scratch_init(&s);
	char path[256];
	scratch_write(&s, "req.json", "abc", 3);
	struct kc_pool *p = NULL;
	struct kc_diag d;
	assert_int_equal(kc_pool_load_body(&p, scratch_path(&s, "req.json", path, sizeof(path)),
					   NULL, &d), KC_OK);
	const struct kc_payload *e = kc_pool_get(p, 12345);
	/* FIPS 180-2 appendix B.1: SHA-256("abc"). */
	assert_string_equal(e->sha256_hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(e->content_type, "application/json");
	assert_string_equal(e->name, "req.json");
	assert_int_equal(e->len_bytes, 3);
	assert_memory_equal(e->bytes, "abc", 3);
	assert_int_equal(kc_pool_count(p), 1);
	assert_int_equal(kc_pool_hash_count(p), 1);
	struct kc_pool_summary sum;
	kc_pool_summary(p, &sum);
	assert_string_equal(sum.source, "file");
	assert_int_equal(sum.bytes_max, 3);
	kc_pool_free(p);

	/* The caller's content type wins; a bad one is refused. */
	assert_int_equal(kc_pool_load_body(&p, path, "text/plain; charset=utf-8", &d), KC_OK);
	assert_string_equal(kc_pool_get(p, 0)->content_type, "text/plain; charset=utf-8");
	kc_pool_free(p);
	p = NULL;
	assert_int_equal(kc_pool_load_body(&p, path, "text/plain\r\nX-Evil: 1", &d), KC_EINVAL);
	assert_int_equal(kc_pool_load_body(&p, path, "plain", &d), KC_EINVAL);
	assert_null(p);

	/* Empty, missing, a folder, over the 6 MiB cap; exactly the cap is fine. */
	scratch_write(&s, "empty.bin", "", 0);
	kc_diag_clear(&d);
	assert_int_equal(kc_pool_load_body(&p, scratch_path(&s, "empty.bin", path, sizeof(path)),
					   NULL, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "empty.bin"));
	assert_int_equal(kc_pool_load_body(&p, scratch_path(&s, "nope.wav", path, sizeof(path)),
					   NULL, &d), KC_ENOTFOUND);
	assert_non_null(strstr(d.msg, "nope.wav"));
	assert_int_equal(kc_pool_load_body(&p, s.dir, NULL, &d), KC_EINVAL);
	unsigned char *big = calloc(1, KC_POOL_BODY_MAX_BYTES + 1);
	assert_non_null(big);
	scratch_write(&s, "big.bin", big, KC_POOL_BODY_MAX_BYTES + 1);
	kc_diag_clear(&d);
	assert_int_equal(kc_pool_load_body(&p, scratch_path(&s, "big.bin", path, sizeof(path)),
					   NULL, &d), KC_ELIMIT);
	assert_non_null(strstr(d.msg, "6 MiB"));
	assert_null(p);
	scratch_write(&s, "max.bin", big, KC_POOL_BODY_MAX_BYTES);
	assert_int_equal(kc_pool_load_body(&p, scratch_path(&s, "max.bin", path, sizeof(path)),
					   NULL, &d), KC_OK);
	assert_int_equal(kc_pool_get(p, 0)->len_bytes, KC_POOL_BODY_MAX_BYTES);
	assert_string_equal(kc_pool_get(p, 0)->content_type, "application/octet-stream");
	kc_pool_free(p);
	free(big);
	scratch_fini(&s);
}

static void test_content_type_guess(void **state)
{
	(void)state;
	assert_string_equal(kc_pool_content_type_guess("a/b/req.json"), "application/json");
	assert_string_equal(kc_pool_content_type_guess("x.JSON"), "application/json");
	assert_string_equal(kc_pool_content_type_guess("cat.jpg"), "image/jpeg");
	assert_string_equal(kc_pool_content_type_guess("cat.JPEG"), "image/jpeg");
	assert_string_equal(kc_pool_content_type_guess("speech.wav"), "audio/wav");
	assert_string_equal(kc_pool_content_type_guess("t.bin"), "application/octet-stream");
	assert_string_equal(kc_pool_content_type_guess("noext"), "application/octet-stream");
	assert_string_equal(kc_pool_content_type_guess("dir.json/file"), "application/octet-stream");
	assert_string_equal(kc_pool_content_type_guess("x.jpg.txt"), "application/octet-stream");
}

/* ---- a folder of JPEGs ---- */

static void test_dir_good(void **state)
{
	(void)state;
	struct scratch s;
	scratch_init(&s);
	const char *names[] = {"b.jpg", "a.jpeg", "c.JPG"};
	const int dims[][2] = {{320, 200}, {128, 96}, {64, 64}};
	struct kc_jpeg_image img[3];
	for (int i = 0; i < 3; i++) {
		make_jpeg(dims[i][0], dims[i][1], (uint64_t)i, &img[i]);
		scratch_write(&s, names[i], img[i].bytes, img[i].len_bytes);
	}
	/* A subfolder is not entered and not an error. */
	char path[256];
	assert_int_equal(mkdir(scratch_path(&s, "sub", path, sizeof(path)), 0700), 0);
	scratch_note(&s, "sub");

	struct kc_pool *p = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_pool_load_dir(&p, s.dir, &d) != KC_OK)
		fail_msg("%s", d.msg);
	assert_int_equal(kc_pool_count(p), 3);
	assert_int_equal(kc_pool_hash_count(p), 3);
	/* Name order: a.jpeg, b.jpg, c.JPG. */
	const struct kc_payload *a = kc_pool_get(p, 0), *b = kc_pool_get(p, 1), *c = kc_pool_get(p, 2);
	assert_string_equal(a->name, "a.jpeg");
	assert_int_equal(a->width_px, 128);
	assert_int_equal(a->height_px, 96);
	assert_memory_equal(a->bytes, img[1].bytes, img[1].len_bytes);
	assert_string_equal(b->name, "b.jpg");
	assert_int_equal(b->width_px, 320);
	assert_string_equal(c->name, "c.JPG");
	assert_int_equal(c->len_bytes, img[2].len_bytes);
	char want[65];
	sha256_hex(img[0].bytes, img[0].len_bytes, want);
	assert_string_equal(b->sha256_hex, want);
	struct kc_pool_summary sum;
	kc_pool_summary(p, &sum);
	assert_string_equal(sum.source, "dir");
	assert_string_equal(sum.content_type, "image/jpeg");
	assert_int_equal(sum.count, 3);
	kc_pool_free(p);
	for (int i = 0; i < 3; i++)
		kc_jpeg_image_fini(&img[i]);
	scratch_fini(&s);
}

/* Loads dir expecting err, with a message that mentions name. */
static void expect_dir_error(const char *dir, int err, const char *name)
{
	struct kc_pool *p = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_pool_load_dir(&p, dir, &d), err);
	assert_null(p);
	if (!strstr(d.msg, name))
		fail_msg("message '%s' does not name '%s'", d.msg, name);
}

static void test_dir_bad(void **state)
{
	(void)state;
	struct scratch s;
	scratch_init(&s);
	char path[256];

	expect_dir_error(s.dir, KC_ENOTFOUND, "no files");
	expect_dir_error("/nonexistent/kneecap-payloads", KC_ENOTFOUND, "kneecap-payloads");

	struct kc_jpeg_image img;
	make_jpeg(200, 150, 0, &img);
	scratch_write(&s, "good.jpg", img.bytes, img.len_bytes);

	/* A truncated JPEG: the header parses, the data runs out. */
	scratch_write(&s, "cut.jpg", img.bytes, img.len_bytes * 2 / 3);
	expect_dir_error(s.dir, KC_EPARSE, "cut.jpg");
	unlink(scratch_path(&s, "cut.jpg", path, sizeof(path)));

	/* A PNG renamed .jpg. */
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a,
					    0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 1, 0};
	scratch_write(&s, "photo.jpg", png, sizeof(png));
	expect_dir_error(s.dir, KC_EPARSE, "photo.jpg");
	unlink(scratch_path(&s, "photo.jpg", path, sizeof(path)));

	/* An empty file. */
	scratch_write(&s, "zero.jpg", "", 0);
	expect_dir_error(s.dir, KC_EINVAL, "zero.jpg");
	unlink(scratch_path(&s, "zero.jpg", path, sizeof(path)));

	/* An unreadable entry: a dangling link (root reads any mode bits). */
	assert_int_equal(symlink("/nonexistent/kc-target.jpg",
				 scratch_path(&s, "link.jpg", path, sizeof(path))), 0);
	scratch_note(&s, "link.jpg");
	expect_dir_error(s.dir, KC_EIO, "link.jpg");
	unlink(path);

	/* An unreadable file by permission, where permissions bind. */
	if (geteuid() != 0) {
		scratch_write(&s, "locked.jpg", img.bytes, img.len_bytes);
		chmod(scratch_path(&s, "locked.jpg", path, sizeof(path)), 0);
		expect_dir_error(s.dir, KC_EIO, "locked.jpg");
		unlink(path);
	}

	/* A FIFO is refused without being opened (opening would block). */
	assert_int_equal(mkfifo(scratch_path(&s, "pipe.jpg", path, sizeof(path)), 0600), 0);
	scratch_note(&s, "pipe.jpg");
	expect_dir_error(s.dir, KC_EINVAL, "pipe.jpg");
	unlink(path);

	/* With the bad files gone, the folder loads. */
	struct kc_pool *p = NULL;
	assert_int_equal(kc_pool_load_dir(&p, s.dir, NULL), KC_OK);
	assert_int_equal(kc_pool_count(p), 1);
	kc_pool_free(p);

	/* A file is not a folder. */
	expect_dir_error(scratch_path(&s, "good.jpg", path, sizeof(path)), KC_EINVAL, "good.jpg");
	kc_jpeg_image_fini(&img);
	scratch_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_synthetic_pool),
		cmocka_unit_test(test_shared_readers),
		cmocka_unit_test(test_synthetic_bad),
		cmocka_unit_test(test_body_file),
		cmocka_unit_test(test_content_type_guess),
		cmocka_unit_test(test_dir_good),
		cmocka_unit_test(test_dir_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
