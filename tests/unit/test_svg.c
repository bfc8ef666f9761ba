/* test_svg.c - the SVG chart writer: nice-number ticks, log ticks, number
 * formatting, escaping, and the charts it writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/svg.h"

static void test_nice(void **state)
{
	(void)state;
	assert_true(kc_svg_nice(0.7, false) == 1);
	assert_true(kc_svg_nice(12, false) == 20);
	assert_true(kc_svg_nice(51, false) == 100);
	assert_true(kc_svg_nice(1.4, true) == 1);
	assert_true(kc_svg_nice(3.2, true) == 5);
	assert_true(kc_svg_nice(8, true) == 10);
	assert_true(fabs(kc_svg_nice(0.023, true) - 0.02) < 1e-12);
}

static void test_ticks(void **state)
{
	(void)state;
	double t[KC_SVG_MAX_TICKS];
	size_t n = kc_svg_ticks(0, 87, 6, t, KC_SVG_MAX_TICKS);
	assert_int_equal(n, 6);
	assert_true(t[0] == 0 && t[5] == 100 && t[1] == 20);
	n = kc_svg_ticks(13, 47, 5, t, KC_SVG_MAX_TICKS);
	assert_true(t[0] <= 13 && t[n - 1] >= 47);
	assert_true(fabs(t[1] - t[0] - 10) < 1e-9);
	n = kc_svg_ticks(0.12, 0.31, 5, t, KC_SVG_MAX_TICKS);
	assert_true(t[0] <= 0.12 && t[n - 1] >= 0.31 && n <= 6);
	/* a flat series still gets an axis */
	n = kc_svg_ticks(5, 5, 5, t, KC_SVG_MAX_TICKS);
	assert_true(n >= 2 && t[0] < 5 && t[n - 1] > 5);
	assert_int_equal(kc_svg_ticks(NAN, 5, 5, t, KC_SVG_MAX_TICKS), 0);
	assert_int_equal(kc_svg_ticks(5, 1, 5, t, KC_SVG_MAX_TICKS), 0);
	/* never more than cap */
	assert_int_equal(kc_svg_ticks(0, 1e6, 6, t, 3), 3);
}

static void test_log_ticks(void **state)
{
	(void)state;
	double t[KC_SVG_MAX_TICKS];
	size_t n = kc_svg_log_ticks(20, 5000, t, KC_SVG_MAX_TICKS);
	assert_int_equal(n, 8);
	assert_true(t[0] == 20 && t[1] == 50 && t[2] == 100 && t[n - 1] == 5000);
	n = kc_svg_log_ticks(0.5, 1e5, t, KC_SVG_MAX_TICKS);
	assert_true(t[0] <= 0.5 && t[n - 1] >= 1e5);
	for (size_t i = 1; i < n; i++) /* sparse: decades only */
		assert_true(fabs(t[i] / t[i - 1] - 10) < 1e-9);
	assert_int_equal(kc_svg_log_ticks(0, 10, t, KC_SVG_MAX_TICKS), 0);
}

static void test_format(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(kc_svg_format_num(2400, 400, b, sizeof(b)), "2400");
	assert_string_equal(kc_svg_format_num(12000, 2000, b, sizeof(b)), "12k");
	assert_string_equal(kc_svg_format_num(2500000, 500000, b, sizeof(b)), "2.5M");
	assert_string_equal(kc_svg_format_num(0.25, 0.05, b, sizeof(b)), "0.25");
	assert_string_equal(kc_svg_format_num(0, 20, b, sizeof(b)), "0");
}

static void test_escape(void **state)
{
	(void)state;
	struct kc_buf b;
	kc_buf_init(&b, 1024);
	assert_int_equal(kc_svg_escape(&b, "<a href=\"x\">&'\x01"), KC_OK);
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;?");
	kc_buf_fini(&b);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_line_chart(void **state)
{
	(void)state;
	double x[4] = {10, 20, 40, 50}, y1[4] = {36, 37, 39, 44}, y2[4] = {47, 50, NAN, 88};
	struct kc_svg_series s[2] = {
		{.name = "p50 <b>", .x = x, .y = y1, .n = 4, .color = 0, .markers = true},
		{.name = "p99", .x = x, .y = y2, .n = 4, .color = 1},
	};
	struct kc_svg_mark knee = {.at = 50, .label = "knee 50 RPS", .color = KC_SVG_BAD};
	struct kc_svg_chart c = {
		.title = "Latency <script>alert(1)</script>",
		.x = {.label = "offered", .unit = "RPS", .min = NAN, .max = NAN, .include_zero = true},
		.y = {.label = "latency", .unit = "ms", .scale = KC_SVG_LOG10, .min = NAN, .max = NAN},
		.series = s, .nseries = 2, .xmarks = &knee, .nxmarks = 1,
	};
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_svg_line_chart(&b, &c), KC_OK);
	assert_true(!strncmp(b.data, "<svg ", 5));
	assert_non_null(strstr(b.data, "</svg>\n"));
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "<b>"));
	assert_non_null(strstr(b.data, "&lt;script&gt;"));
	assert_non_null(strstr(b.data, "latency (ms)"));
	assert_non_null(strstr(b.data, "offered (RPS)"));
	assert_non_null(strstr(b.data, "knee 50 RPS"));
	assert_int_equal(count(b.data, "<path "), 2);
	assert_int_equal(count(b.data, "<circle "), 4);
	/* the NAN breaks the p99 line into two pieces */
	const char *p99 = strstr(b.data, "class=\"kc-s1\" fill=\"none\"");
	assert_non_null(p99);
	const char *end = strstr(p99, "/>");
	size_t moves = 0;
	for (const char *q = p99; q < end; q++)
		moves += *q == 'M';
	assert_int_equal(moves, 2);
	/* tags balance */
	assert_int_equal(count(b.data, "<text"), count(b.data, "</text>"));
	assert_int_equal(count(b.data, "<svg"), 1);

	/* a log axis with nothing positive cannot be drawn */
	double z[4] = {0, -1, 0, 0};
	s[0].y = z;
	s[1].y = z;
	kc_buf_reset(&b);
	assert_int_equal(kc_svg_line_chart(&b, &c), KC_EINVAL);
	/* a small cap is an error, not a truncated file */
	s[0].y = y1;
	struct kc_buf small;
	kc_buf_init(&small, 100);
	assert_int_equal(kc_svg_line_chart(&small, &c), KC_ELIMIT);
	kc_buf_fini(&small);
	kc_buf_fini(&b);
}

static void test_bar_chart(void **state)
{
	(void)state;
	double y[3] = {9.78, 0.56, NAN};
	const char *cats[3] = {"ml.g5.xlarge", "ml.c5.xlarge", "ml.g6.xlarge"};
	struct kc_svg_series s = {.name = "USD per million", .y = y, .n = 3, .color = 0};
	struct kc_svg_chart c = {
		.title = "Cost", .y = {.label = "cost", .unit = "USD", .min = NAN, .max = NAN},
		.series = &s, .nseries = 1, .categories = cats, .ncategories = 3,
	};
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_svg_bar_chart(&b, &c), KC_OK);
	assert_int_equal(count(b.data, "<rect "), 2);
	assert_non_null(strstr(b.data, ">n/a<"));
	assert_non_null(strstr(b.data, ">ml.g6.xlarge<"));
	assert_non_null(strstr(b.data, ">9.78<"));
	c.ncategories = 0;
	assert_int_equal(kc_svg_bar_chart(&b, &c), KC_EINVAL);
	kc_buf_fini(&b);
}

static void test_clock_axis(void **state)
{
	(void)state;
	double x[3] = {-600, 0, 1200}, y[3] = {1, 2, 3};
	struct kc_svg_series s = {.name = "rate", .x = x, .y = y, .n = 3, .step = true};
	struct kc_svg_chart c = {
		.title = "t",
		.x = {.label = "time", .min = -600, .max = 1200, .clock = true},
		.y = {.label = "r", .min = NAN, .max = NAN, .include_zero = true},
		.series = &s, .nseries = 1,
	};
	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_svg_line_chart(&b, &c), KC_OK);
	/* times before midnight wrap to the previous day; nothing negative */
	assert_non_null(strstr(b.data, ">23:50<"));
	assert_non_null(strstr(b.data, ">00:20<"));
	assert_null(strstr(b.data, ":-"));
	kc_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nice),
		cmocka_unit_test(test_ticks),
		cmocka_unit_test(test_log_ticks),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_line_chart),
		cmocka_unit_test(test_bar_chart),
		cmocka_unit_test(test_clock_axis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
