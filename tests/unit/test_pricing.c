/* test_pricing.c - the instance-type table, unknown prices, the --price
 * override and cost per million inferences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/pricing.h"
#include "pricing_int.h"

/* The copy shipped in the repository (data/instance-types.csv). */
static void repo_csv(char *out, size_t n)
{
	/* KC_TESTDATA is <source>/tests/data (which need not exist): strip the
	 * suffix textually rather than resolving "..". */
	const char *td = getenv("KC_TESTDATA");
	const char *suffix = "/tests/data";
	size_t len = td ? strlen(td) : 0;
	if (td && len >= strlen(suffix) && !strcmp(td + len - strlen(suffix), suffix))
		snprintf(out, n, "%.*s/data/instance-types.csv",
			 (int)(len - strlen(suffix)), td);
	else
		snprintf(out, n, "data/instance-types.csv");
}

static void test_repo_table(void **state)
{
	(void)state;
	char path[4096];
	repo_csv(path, sizeof(path));
	struct kc_pricing *p = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = kc_pricing_load(&p, path, &d);
	if (rc)
		print_message("%s: %s\n", path, d.msg);
	assert_int_equal(rc, KC_OK);
	assert_true(kc_pricing_count(p) >= 20);
	const struct kc_instance_info *g5 = kc_pricing_find(p, "ml.g5.xlarge");
	assert_non_null(g5);
	assert_true(g5->price_known);
	assert_true(g5->usd_per_hour == 1.4084);
	assert_int_equal(g5->vcpu, 4);
	assert_string_equal(g5->accelerator, "NVIDIA A10G");
	assert_int_equal(g5->accelerator_count, 1);
	assert_true(g5->accelerator_memory_gib == 24);
	/* An empty cell stays unknown. */
	const struct kc_instance_info *g6 = kc_pricing_find(p, "ml.g6.xlarge");
	assert_non_null(g6);
	assert_false(g6->price_known);
	double usd = -1;
	assert_int_equal(kc_pricing_price(p, "ml.g6.xlarge", -1, &usd), KC_PRICE_UNKNOWN);
	assert_true(usd == 0);
	assert_int_equal(kc_pricing_price(p, "ml.g6.xlarge", 1.1, &usd), KC_PRICE_USER);
	assert_true(usd == 1.1);
	assert_int_equal(kc_pricing_price(p, "ml.c5.xlarge", -1, &usd), KC_PRICE_TABLE);
	assert_true(usd == 0.204);
	assert_int_equal(kc_pricing_price(p, "ml.nonexistent", -1, &usd), KC_PRICE_UNKNOWN);
	assert_int_equal(kc_pricing_price(NULL, "ml.c5.xlarge", 0.5, &usd), KC_PRICE_USER);
	assert_string_equal(kc_price_source_name(KC_PRICE_USER), "user");
	assert_string_equal(kc_price_source_name(KC_PRICE_UNKNOWN), "unknown");
	assert_null(kc_pricing_find(p, "ml.g5"));
	assert_null(kc_pricing_row(p, 100000));
	assert_non_null(kc_pricing_row(p, 0));
	kc_pricing_free(p);
	kc_pricing_free(NULL);
}

static void test_cost(void **state)
{
	(void)state;
	double usd = 0;
	int n = 0;
	/* ml.g5.xlarge at its 37.5 rps target (75% of a 50 rps knee), full:
	 * 1.4084 / (37.5 x 3600) x 1e6 = 10.432... USD per million. */
	assert_int_equal(kc_pricing_cost_per_million(1.4084, 37.5, 37.5, &usd, &n), KC_OK);
	assert_int_equal(n, 1);
	assert_true(fabs(usd - 1.4084 / (37.5 * 3600) * 1e6) < 1e-9);
	assert_true(fabs(usd - 10.4326) < 1e-3);
	/* 220 rps at 37.5 per instance: 6 instances (5.87 rounded up). */
	assert_int_equal(kc_pricing_cost_per_million(1.4084, 220, 37.5, &usd, &n), KC_OK);
	assert_int_equal(n, 6);
	assert_true(fabs(usd - 6 * 1.4084 / (220 * 3600) * 1e6) < 1e-9);
	/* exact multiples do not round up */
	assert_int_equal(kc_pricing_cost_per_million(1, 100, 25, &usd, &n), KC_OK);
	assert_int_equal(n, 4);
	double before = usd;
	assert_int_equal(kc_pricing_cost_per_million(1, 0, 25, &usd, NULL), KC_EINVAL);
	assert_int_equal(kc_pricing_cost_per_million(1, 10, 0, &usd, NULL), KC_EINVAL);
	assert_int_equal(kc_pricing_cost_per_million(-1, 10, 5, &usd, NULL), KC_EINVAL);
	assert_int_equal(kc_pricing_cost_per_million(NAN, 10, 5, &usd, NULL), KC_EINVAL);
	assert_true(usd == before);
}

static char tmpdir[256];

static const char *write_tmp(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(kc_write_file(path, text, strlen(text)), KC_OK);
	return path;
}

static void expect_bad(const char *text, int line, const char *words)
{
	const char *path = write_tmp("bad.csv", text);
	struct kc_pricing *p = (struct kc_pricing *)0x1;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_not_equal(kc_pricing_load(&p, path, &d), KC_OK);
	assert_true(p == (struct kc_pricing *)0x1);
	if (d.line != line || !strstr(d.msg, words))
		print_message("line %d: %s\n", d.line, d.msg);
	assert_int_equal(d.line, line);
	assert_non_null(strstr(d.msg, words));
}

static void test_parse(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kc-pricing.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	/* Quoted fields, CRLF, an escaped quote, a comma inside quotes, and a
	 * blank line. */
	const char *path = write_tmp("ok.csv",
		"instance_type,usd_per_hour_us_east_1,source\r\n"
		"ml.a,0.5,\"P1, \"\"quoted\"\"\"\r\n"
		"\r\n"
		"\"ml.b\",,unknown\r\n");
	struct kc_pricing *p = NULL;
	struct kc_diag d;
	assert_int_equal(kc_pricing_load(&p, path, &d), KC_OK);
	assert_int_equal(kc_pricing_count(p), 2);
	assert_true(kc_pricing_find(p, "ml.a")->usd_per_hour == 0.5);
	assert_false(kc_pricing_find(p, "ml.b")->price_known);
	kc_pricing_free(p);

	expect_bad("instance_type,price\nml.a,1\n", 1, "usd_per_hour_us_east_1");
	expect_bad("instance_type,usd_per_hour_us_east_1\nml.a,1,extra\n", 2, "3 fields");
	expect_bad("instance_type,usd_per_hour_us_east_1\nml.a,cheap\n", 2, "not a positive price");
	expect_bad("instance_type,usd_per_hour_us_east_1\nml.a,0\n", 2, "not a positive price");
	expect_bad("instance_type,usd_per_hour_us_east_1\nml.a,\"1\n", 2, "fields");
	expect_bad("instance_type,usd_per_hour_us_east_1\nml.a,1\nml.a,2\n", 3, "twice");
	expect_bad("", 0, "empty");
	kc_diag_clear(&d);
	assert_int_equal(kc_pricing_load(&p, "/nonexistent/x.csv", &d), KC_ENOTFOUND);
	assert_string_equal(d.file, "/nonexistent/x.csv");
	unlink(write_tmp("ok.csv", ""));
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repo_table),
		cmocka_unit_test(test_cost),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
