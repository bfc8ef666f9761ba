/* test_util.c - strict parsers, bounded buffers and diagnostics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scenario.h"

static void test_parse_i64(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(kc_parse_i64("42", 0, 100, &v), KC_OK);
	assert_int_equal(v, 42);
	assert_int_equal(kc_parse_i64("-3", -10, 10, &v), KC_OK);
	assert_int_equal(v, -3);
	assert_int_equal(kc_parse_i64("101", 0, 100, &v), KC_ERANGE);
	assert_int_equal(kc_parse_i64("12abc", 0, 100, &v), KC_EPARSE);
	assert_int_equal(kc_parse_i64("", 0, 100, &v), KC_EPARSE);
	assert_int_equal(kc_parse_i64(" 5", 0, 100, &v), KC_EPARSE);
	assert_int_equal(kc_parse_i64("99999999999999999999", 0, INT64_MAX, &v), KC_ERANGE);
}

static void test_parse_double(void **state)
{
	(void)state;
	double d = 0;
	assert_int_equal(kc_parse_double("0.75", 0, 1, &d), KC_OK);
	assert_true(d == 0.75);
	assert_int_equal(kc_parse_double("nan", 0, 1, &d), KC_EPARSE);
	assert_int_equal(kc_parse_double("inf", 0, 1e300, &d), KC_EPARSE);
	assert_int_equal(kc_parse_double("0x10", 0, 100, &d), KC_EPARSE);
	assert_int_equal(kc_parse_double("1.5", 0, 1, &d), KC_ERANGE);
	assert_int_equal(kc_parse_double("1e3", 0, 1e4, &d), KC_OK);
	assert_true(d == 1000);
}

static void test_parse_duration(void **state)
{
	(void)state;
	int64_t ns = 0;
	assert_int_equal(kc_parse_duration_ns("30s", 1000000000, &ns), KC_OK);
	assert_true(ns == INT64_C(30000000000));
	assert_int_equal(kc_parse_duration_ns("250ms", 1000000000, &ns), KC_OK);
	assert_true(ns == INT64_C(250000000));
	assert_int_equal(kc_parse_duration_ns("2m", 1000000000, &ns), KC_OK);
	assert_true(ns == INT64_C(120000000000));
	assert_int_equal(kc_parse_duration_ns("1.5", 1000000000, &ns), KC_OK);
	assert_true(ns == INT64_C(1500000000));
	assert_int_equal(kc_parse_duration_ns("10 s", 1000000000, &ns), KC_EPARSE);
	assert_int_equal(kc_parse_duration_ns("-1s", 1000000000, &ns), KC_ERANGE);
	assert_int_equal(kc_parse_duration_ns("5parsecs", 1000000000, &ns), KC_EPARSE);
}

static void test_parse_size_bool(void **state)
{
	(void)state;
	uint64_t sz = 0;
	assert_int_equal(kc_parse_size("200k", &sz), KC_OK);
	assert_true(sz == 204800);
	assert_int_equal(kc_parse_size("6MiB", &sz), KC_OK);
	assert_true(sz == 6291456);
	assert_int_equal(kc_parse_size("6x", &sz), KC_EPARSE);
	bool b = false;
	assert_int_equal(kc_parse_bool("yes", &b), KC_OK);
	assert_true(b);
	assert_int_equal(kc_parse_bool("Off", &b), KC_OK);
	assert_false(b);
	assert_int_equal(kc_parse_bool("maybe", &b), KC_EPARSE);
}

static void test_buf_bounds(void **state)
{
	(void)state;
	struct kc_buf b;
	kc_buf_init(&b, 8);
	assert_int_equal(kc_buf_puts(&b, "abcd"), KC_OK);
	assert_int_equal(kc_buf_printf(&b, "%d", 1234), KC_OK);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abcd1234");
	/* Past the cap: refused, content unchanged. */
	assert_int_equal(kc_buf_puts(&b, "x"), KC_ELIMIT);
	assert_string_equal(b.data, "abcd1234");
	kc_buf_reset(&b);
	assert_int_equal(b.len, 0);
	kc_buf_fini(&b);
	kc_buf_fini(NULL);

	kc_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kc_buf_printf(&b, "%04d,", i), KC_OK);
	assert_int_equal(b.len, 5000);
	size_t n = 0;
	char *p = kc_buf_steal(&b, &n);
	assert_int_equal(n, 5000);
	assert_memory_equal(p, "0000,0001,", 10);
	free(p);
	kc_buf_fini(&b);

	/* Longer than the formatter's stack buffer: the va_list is replayed. */
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_buf_printf(&b, "<%0600d|%s>", 7, "tail"), KC_OK);
	assert_int_equal(b.len, 1 + 600 + 1 + 4 + 1);
	assert_memory_equal(b.data + 600, "7|tail>", 8);
	kc_buf_fini(&b);
	kc_buf_init(&b, 100);
	assert_int_equal(kc_buf_printf(&b, "%0600d", 7), KC_ELIMIT);
	kc_buf_fini(&b);
}

static void test_buf_read_text(void **state)
{
	(void)state;
	char path[] = "/tmp/kc_test_util_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "ab\0c", 4), 4);
	close(fd);
	struct kc_buf b;
	struct kc_diag d = {0};
	kc_buf_init(&b, 3);
	assert_int_equal(kc_buf_read_text(&b, path, "INI", &d), KC_ELIMIT);
	assert_non_null(strstr(d.msg, "larger than 3 bytes"));
	kc_buf_fini(&b);
	kc_buf_init(&b, 100);
	assert_int_equal(kc_buf_read_text(&b, path, "INI", &d), KC_EPARSE);
	assert_non_null(strstr(d.msg, "binary file, not INI"));
	assert_int_equal(kc_buf_read_text(&b, "/nonexistent/x.ini", "INI", &d), KC_ENOTFOUND);
	assert_non_null(strstr(d.msg, "no such file"));
	kc_buf_fini(&b);
	unlink(path);
}

static void test_diag_format(void **state)
{
	(void)state;
	struct kc_diag d;
	char out[256];
	kc_diag_clear(&d);
	assert_int_equal(kc_diag_set_at(&d, KC_EINVAL, "scenarios/x.ini", 12, "rate",
					"must be > 0"), KC_EINVAL);
	assert_string_equal(kc_diag_format(&d, out, sizeof(out)),
			    "scenarios/x.ini:12: rate: must be > 0");
	kc_diag_clear(&d);
	kc_diag_set(&d, KC_ENOTFOUND, "no such profile");
	assert_string_equal(kc_diag_format(&d, out, sizeof(out)), "no such profile");
	assert_string_equal(kc_strerror(KC_ECRC), "checksum mismatch");
}


static const char scen_text[] =
	"# image tagger\n"
	"[search]\n"
	"start = 10      ; rps\n"
	"max = 400\n"
	"slo = 250ms\n"
	"\n"
	"[emulator]\n"
	"slots = 4\n"
	"arrival = poisson\n"
	"verify = yes\n"
	"rtae = 3\n";

static void test_scenario_getters(void **state)
{
	(void)state;
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	char msg[512];
	kc_diag_clear(&d);
	assert_int_equal(kc_scenario_parse(&sc, "x.ini", scen_text, &d), KC_OK);
	double start = 0;
	assert_int_equal(kc_scenario_get_double(sc, "search", "start", 0, 1e6, &start, &d), KC_OK);
	assert_true(start == 10);
	int64_t v = 0;
	assert_int_equal(kc_scenario_get_i64(sc, "search", "max", 0, 100, &v, &d), KC_EINVAL);
	assert_string_equal(kc_diag_format(&d, msg, sizeof(msg)),
			    "x.ini:4: max: '400' is out of range (an integer in 0..100)");
	int64_t slo = 0;
	assert_int_equal(kc_scenario_get_duration_ns(sc, "search", "slo", 1000000, 1, INT64_MAX, &slo, &d), KC_OK);
	assert_true(slo == 250000000);
	assert_int_equal(kc_scenario_get_i64(sc, "search", "absent", 0, 9, &v, &d), KC_ENOTFOUND);
	static const char *const arrivals[] = {"uniform", "poisson", NULL};
	int a = -1;
	assert_int_equal(kc_scenario_get_enum(sc, "emulator", "arrival", arrivals, &a, &d), KC_OK);
	assert_int_equal(a, 1);
	bool verify = false;
	assert_int_equal(kc_scenario_get_bool(sc, "emulator", "verify", &verify, &d), KC_OK);
	assert_true(verify);
	assert_int_equal(kc_scenario_get_i64(sc, "emulator", "slots", 1, 64, &v, &d), KC_OK);
	assert_true(kc_scenario_has_section(sc, "emulator"));
	/* The typo is the one key nobody asked for. */
	assert_int_equal(kc_scenario_check_unused(sc, &d), KC_EINVAL);
	assert_string_equal(kc_diag_format(&d, msg, sizeof(msg)),
			    "x.ini:11: rtae: unknown key in [emulator]");
	kc_scenario_free(sc);
}

static void test_scenario_errors(void **state)
{
	(void)state;
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	char msg[512];
	assert_int_equal(kc_scenario_parse(&sc, "a.ini", "[s]\nk = 1\nk = 2\n", &d), KC_EPARSE);
	assert_null(sc);
	assert_string_equal(kc_diag_format(&d, msg, sizeof(msg)),
			    "a.ini:3: k: duplicate key in [s] (first set on line 2)");
	assert_int_equal(kc_scenario_parse(&sc, "b.ini", "[s]\njust words\n", &d), KC_EPARSE);
	assert_string_equal(kc_diag_format(&d, msg, sizeof(msg)),
			    "b.ini:2: syntax error (expected [section] or key = value)");
	assert_int_equal(kc_scenario_parse(&sc, "c.ini", "k = 1\n", &d), KC_EPARSE);
	char longline[400];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[s]\nk = ", 8);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(kc_scenario_parse(&sc, "d.ini", longline, &d), KC_EPARSE);
	assert_non_null(strstr(kc_diag_format(&d, msg, sizeof(msg)), "d.ini:2: line longer"));
	assert_int_equal(kc_scenario_load(&sc, "/nonexistent/x.ini", &d), KC_ENOTFOUND);
	assert_string_equal(kc_diag_format(&d, msg, sizeof(msg)), "/nonexistent/x.ini: no such file");
	kc_scenario_free(NULL);
}

/* A symlink planted under the temp name is replaced, never followed. */
static void test_write_file_no_follow(void **state)
{
	(void)state;
	char dir[] = "/tmp/kc_test_wf_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char victim[128], path[128], tmp[160];
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(path, sizeof(path), "%s/out.json", dir);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	/* kc_write_file's temp name is PATH.tmp.PID */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(kc_write_file(path, "new", 3), KC_OK);
	struct kc_buf b;
	kc_buf_init(&b, 100);
	assert_int_equal(kc_buf_read_file(&b, victim), KC_OK);
	assert_string_equal(b.data, "precious");
	assert_int_equal(kc_buf_read_file(&b, path), KC_OK);
	assert_string_equal(b.data, "new");
	assert_int_equal(access(tmp, F_OK), -1);
	/* an executable mode survives the umask; a failed write says why */
	char sh[160];
	snprintf(sh, sizeof(sh), "%s/a.sh", dir);
	mode_t old = umask(077);
	assert_int_equal(kc_write_file_via(sh, tmp, "x", 1, 0755), KC_OK);
	umask(old);
	struct stat st;
	assert_int_equal(stat(sh, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(kc_write_file("/nonexistent-dir/x", "x", 1), KC_EIO);
	assert_int_equal(errno, ENOENT);
	/* a streamed file: written piecewise, committed by rename; a failed
	 * rename removes the temp file and says why */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kc_write_all(fd, "ab", 2), 0);
	assert_int_equal(kc_write_all(fd, "c", 1), 0);
	assert_int_equal(kc_file_commit(fd, tmp, path), KC_OK);
	assert_int_equal(kc_buf_read_file(&b, path), KC_OK);
	assert_string_equal(b.data, "abc");
	assert_int_equal(access(tmp, F_OK), -1);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kc_file_commit(fd, tmp, "/nonexistent-dir/x"), KC_EIO);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(tmp, F_OK), -1);
	kc_buf_fini(&b);
	unlink(sh);
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_buf_read_text),
		cmocka_unit_test(test_write_file_no_follow),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size_bool),
		cmocka_unit_test(test_buf_bounds),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_scenario_getters),
		cmocka_unit_test(test_scenario_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
