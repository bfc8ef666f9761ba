/* test_traffic.c - the [traffic] shape language and the rate it describes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/scenario.h"
#include "kneecap/traffic.h"

static const char seed_ini[] =
	"[traffic]\n"
	"baseline = 40\n"
	"peak = 220 ramp 90s hold 5m every 1h at :00\n"
	"trough = 5 from 04:00 to 06:00\n";

/* Loads text as a scenario and reads its [traffic]; returns the rc. */
static int load(const char *text, struct kc_traffic *t, struct kc_diag *d)
{
	struct kc_scenario *sc = NULL;
	kc_diag_clear(d);
	int rc = kc_scenario_parse(&sc, "t.ini", text, d);
	if (!rc)
		rc = kc_traffic_from_scenario(t, sc, d);
	kc_scenario_free(sc);
	return rc;
}

static void test_seed_day(void **state)
{
	(void)state;
	struct kc_traffic t;
	struct kc_diag d;
	assert_int_equal(load(seed_ini, &t, &d), KC_OK);
	assert_int_equal(t.npeaks, 1);
	assert_int_equal(t.ntroughs, 1);
	assert_true(t.peaks[0].ramp_s == 90 && t.peaks[0].hold_s == 300 &&
		    t.peaks[0].down_s == 90 && t.peaks[0].every_s == 3600 && t.peaks[0].at_s == 0);
	/* baseline between spikes */
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 1800) - 40) < 1e-9);
	/* half-way up the ramp at 12:00:45, at the top from 12:01:30 */
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 45) - 130) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 90) - 220) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 389) - 220) < 1e-9);
	/* back down by 12:08 */
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 480) - 40) < 1e-9);
	/* trough 04:00-06:00, still with its 05:00 spike from the trough level */
	assert_true(fabs(kc_traffic_rate_at(&t, 4 * 3600 + 1800) - 5) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 5 * 3600 + 200) - 220) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 6 * 3600 + 1800) - 40) < 1e-9);
	/* the day repeats */
	assert_true(kc_traffic_rate_at(&t, 86400 + 45) == kc_traffic_rate_at(&t, 45));
	assert_true(fabs(kc_traffic_peak_rps(&t) - 220) < 1e-9);
	assert_true(fabs(kc_traffic_low_rps(&t) - 5) < 1e-9);
	int64_t at = -1;
	double ramp = kc_traffic_steepest_ramp(&t, &at);
	/* the steepest climb starts in the trough: (220 - 5) / 90 s */
	assert_true(fabs(ramp - 215.0 / 90) < 1e-9);
	assert_true(at == 4 * 3600 || at == 5 * 3600);
	char buf[128];
	kc_traffic_peak_describe(&t.peaks[0], buf, sizeof(buf));
	assert_string_equal(buf, "220 RPS, ramp 90s, hold 5m, down 90s, every 1h at :00");
}

static void test_named_and_daily(void **state)
{
	(void)state;
	struct kc_traffic t;
	struct kc_diag d;
	assert_int_equal(load("[traffic]\nbaseline = 100\n"
			      "peak.lunch = 300 ramp 10m hold 1h down 20m every 1d at 12:00\n"
			      "peak.batch = 150 ramp 0 hold 2m every 2h at 01:30\n"
			      "trough.night = 10 from 23:00 to 02:00\n", &t, &d), KC_OK);
	assert_string_equal(t.peaks[0].name, "lunch");
	assert_string_equal(t.troughs[0].name, "night");
	assert_true(fabs(kc_traffic_rate_at(&t, 12 * 3600 + 300) - 200) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 13 * 3600 + 600 + 600) - 200) < 1e-9);
	/* a step (ramp 0) at 01:30 inside the night trough, every 2 h */
	assert_true(fabs(kc_traffic_rate_at(&t, 1 * 3600 + 1800) - 150) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 3 * 3600 + 1800 + 60) - 150) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 2 * 3600 + 1800 + 60) - 100) < 1e-9);
	/* wrap-around trough */
	assert_true(fabs(kc_traffic_rate_at(&t, 23 * 3600 + 1200) - 10) < 1e-9);
	assert_true(fabs(kc_traffic_rate_at(&t, 600) - 10) < 1e-9);
}

/* Each bad value: rc, and the message names file:line:key and the problem. */
static void expect_bad(const char *text, int line, const char *key, const char *words)
{
	struct kc_traffic t;
	struct kc_diag d;
	assert_int_not_equal(load(text, &t, &d), KC_OK);
	char msg[1024];
	kc_diag_format(&d, msg, sizeof(msg));
	char where[64];
	snprintf(where, sizeof(where), "t.ini:%d: %s: ", line, key);
	if (!strstr(msg, where) || !strstr(msg, words))
		fail_msg("message '%s' lacks '%s' or '%s'", msg, where, words);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 90s hold 5m every 1h\n", 3, "peak",
		   "needs 'at TIME'");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 90q at :00\n", 3, "peak",
		   "ramp '90q'");
	expect_bad("[traffic]\nbaseline = 40\npeak = -5 ramp 90s at :00\n", 3, "peak",
		   "not a rate");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 90s every 7m at :00\n", 3, "peak",
		   "does not divide a day");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 30m hold 40m every 1h at :00\n", 3,
		   "peak", "shorter than the period");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 90s every 1d at :30\n", 3, "peak",
		   "minute of the hour");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 ramp 90s every 1h at 25:00\n", 3, "peak",
		   "not a time of day");
	expect_bad("[traffic]\nbaseline = 40\npeak = 220 climb 90s at :00\n", 3, "peak",
		   "unknown word 'climb'");
	expect_bad("[traffic]\nbaseline = 40\ntrough = 5 from 04:00 until 06:00\n", 3, "trough",
		   "RATE from HH:MM to HH:MM");
	expect_bad("[traffic]\nbaseline = 40\ntrough = 5 from 04:00 to 04:00\n", 3, "trough",
		   "empty");
	expect_bad("[traffic]\nbaseline = 40\nspike = 220 ramp 90s at :00\n", 3, "spike",
		   "unknown key in [traffic]");
	expect_bad("[traffic]\nbaseline = lots\n", 2, "baseline", "not a number");
	/* no baseline / no section */
	struct kc_traffic t;
	struct kc_diag d;
	assert_int_equal(load("[traffic]\npeak = 220 ramp 90s at :00\n", &t, &d), KC_ENOTFOUND);
	assert_non_null(strstr(d.msg, "baseline"));
	assert_int_equal(load("[search]\nrate = 5\n", &t, &d), KC_ENOTFOUND);
	assert_non_null(strstr(d.msg, "no [traffic] section"));
}

static void test_too_many(void **state)
{
	(void)state;
	char text[4096] = "[traffic]\nbaseline = 1\n";
	for (int i = 0; i <= KC_TRAFFIC_MAX_PEAKS; i++) {
		size_t len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "peak.p%d = 10 ramp 1m every 1h at :%02d\n", i, i);
	}
	struct kc_traffic t;
	struct kc_diag d;
	assert_int_equal(load(text, &t, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "more than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_day),
		cmocka_unit_test(test_named_and_daily),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
