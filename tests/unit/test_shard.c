/* test_shard.c - the shard helpers of the CLI layer (src/cli/shard.c):
 * --start-at's strict RFC 3339 and Unix-seconds parsing, and the slices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "shard.h" /* src/cli */

/* shard.c prints through the CLI's error line; main.c is not linked here. */
void cli_error(const char *fmt, ...);
void cli_error(const char *fmt, ...)
{
	(void)fmt;
}

static void ok_ms(const char *s, int64_t want)
{
	int64_t got = -7;
	int rc = cli_shard_time_ms(s, &got);
	if (rc || got != want)
		fail_msg("'%s': rc %d, %lld ms, want %lld", s, rc, (long long)got, (long long)want);
}

static void refused(const char *s)
{
	int64_t got = -7;
	if (cli_shard_time_ms(s, &got) == 0)
		fail_msg("'%s' accepted as %lld ms", s, (long long)got);
	assert_int_equal(got, -7);
}

static void test_valid(void **state)
{
	(void)state;
	ok_ms("2026-12-07T04:00:00Z", INT64_C(1796616000000));
	ok_ms("2026-12-07t04:00:00z", INT64_C(1796616000000));
	ok_ms("2026-12-07 04:00:00Z", INT64_C(1796616000000));
	ok_ms("2026-12-07T06:00:00+02:00", INT64_C(1796616000000));
	ok_ms("2026-12-07T04:00:00-05:30", INT64_C(1796635800000));
	ok_ms("2026-12-07T04:00:00+00:00", INT64_C(1796616000000));
	ok_ms("2026-12-07T04:00:00-00:00", INT64_C(1796616000000));
	ok_ms("2024-02-29T12:30:45.5+02:00", INT64_C(1709202645500));
	ok_ms("2026-12-07T04:00:00.123456789123Z", INT64_C(1796616000123));
	ok_ms("2026-12-07T04:00:00.0005Z", INT64_C(1796616000001)); /* rounded to the ms */
	ok_ms("2000-02-29T23:59:59.9995Z", INT64_C(951868800000));
	ok_ms("1999-12-31T23:59:60Z", INT64_C(946684800000)); /* a leap second */
	ok_ms("1970-01-01T00:00:00Z", 0);
	ok_ms("9999-12-31T23:59:59Z", INT64_C(253402300799000));
	ok_ms("2026-12-31T23:59:59Z", INT64_C(1798761599000));
	/* Unix seconds */
	ok_ms("1796616000", INT64_C(1796616000000));
	ok_ms("1796616000.25", INT64_C(1796616000250));
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"2020-02-31T00:00:00Z", /* timegm would make it 2020-03-02 */
		"2023-02-29T00:00:00Z", /* not a leap year */
		"1900-02-29T00:00:00Z", /* a century, not a leap year */
		"2026-04-31T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-12-00T00:00:00Z",
		"2026-12-32T00:00:00Z",
		"0000-01-01T00:00:00Z",
		"2020-1-5T1:2:3Z",
		"2020-01-05T1:02:03Z",
		"2020-01-05T-1:00:00Z",
		"2020-01-05T+1:00:00Z",
		"2020-01-05T24:00:00Z",
		"2020-01-05T23:60:00Z",
		"2020-01-05T23:59:61Z",
		"2020-01-05T00:00:00.5e3Z",
		"2020-01-05T00:00:00.Z",
		"2020-01-05T00:00:00.-5Z",
		"2020-01-05T00:00:00. 5Z",
		"2020-01-05T00:00:00+-1:00",
		"2020-01-05T00:00:00+1:00",
		"2020-01-05T00:00:00+01:0",
		"2020-01-05T00:00:00+0100",
		"2020-01-05T00:00:00+24:00",
		"2020-01-05T00:00:00+01:60",
		"2020-01-05T00:00:00+01:00 ",
		"2020-01-05T00:00:00",
		"2020-01-05T00:00:00ZZ",
		"2020-01-05T00:00:00 Z",
		" 2020-01-05T00:00:00Z",
		"+2020-01-05T00:00:00Z",
		"2020-01-05X00:00:00Z",
		"2020-01-05",
		"20200105T000000Z",
		"2020-01-05T00:00Z",
		"",
		"now",
		" 1796616000",
		"+1796616000",
		"1.796616e9",
		"1796616000s",
		"999999999", /* Unix seconds before 2001: a typo more likely than a time */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i]);
}

static void test_slices(void **state)
{
	(void)state;
	struct cli_shard s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cli_shard_parse(&s, "2/4"), 0);
	assert_int_equal(s.index, 2);
	assert_int_equal(s.count, 4);
	assert_true(cli_shard_rate(&s, 100) == 25);
	/* 10 over 4 shards: 3, 3, 2, 2 */
	assert_int_equal(cli_shard_part(&s, 10), 2);
	s.index = 1;
	assert_int_equal(cli_shard_part(&s, 10), 3);
	assert_int_not_equal(cli_shard_parse(&s, "4/4"), 0);
	assert_int_not_equal(cli_shard_parse(&s, "-1/4"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_slices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
