/* test_plan.c - the autoscaling simulator and the plan's advice, on the
 * seed's day (gpu-image-classifier-scaling-signal) and on edge shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/plan.h"
#include "kneecap/scenario.h"
#include "kneecap/traffic.h"

static struct kc_traffic seed_traffic;

static void traffic_from(const char *text, struct kc_traffic *t)
{
	struct kc_scenario *sc = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_scenario_parse(&sc, "t.ini", text, &d), KC_OK);
	assert_int_equal(kc_traffic_from_scenario(t, sc, &d), KC_OK);
	kc_scenario_free(sc);
}

/* The seed: ceiling 50 RPS per instance, target 2400/min = 40 RPS, Min 2, Max 8. */
static void seed_input(struct kc_plan_input *in)
{
	memset(in, 0, sizeof(*in));
	in->traffic = &seed_traffic;
	in->ceiling_rps = 50;
	in->target_rps = 2400 / 60.0;
	in->service_s = 0.037;
	in->min_cap = 2;
	in->max_cap = 8;
	in->price_usd_per_hour = 1.4084;
	in->slo_ms = 500;
	in->ncurve = 3;
	in->curve_rps[0] = 10, in->curve_p99_ms[0] = 47;
	in->curve_rps[1] = 40, in->curve_p99_ms[1] = 59;
	in->curve_rps[2] = 50, in->curve_p99_ms[2] = 88;
}

static void seed_sched(struct kc_plan_sched s[2])
{
	struct kc_diag d;
	assert_int_equal(kc_plan_sched_parse("cron(58 * * * ? *) min 4 max 8", &s[0], &d), KC_OK);
	assert_int_equal(kc_plan_sched_parse("cron(10 * * * ? *) min 2 max 8", &s[1], &d), KC_OK);
}

static int setup(void **state)
{
	(void)state;
	traffic_from("[traffic]\nbaseline = 40\n"
		     "peak = 220 ramp 90s hold 5m every 1h at :00\n"
		     "trough = 5 from 04:00 to 06:00\n", &seed_traffic);
	return 0;
}

/* Longest run of queued seconds within [from, to) of a timeline. */
static int64_t window_s(const struct kc_plan_run *r, int64_t from, int64_t to)
{
	int64_t best = 0, run = 0;
	for (int64_t t = from; t < to; t++) {
		run = r->tl[t].queue >= 1 ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

static void test_seed_reactive_queues_every_spike(void **state)
{
	(void)state;
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_run r;
	struct kc_diag d;
	seed_input(&in);
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 180);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &r, &d), KC_OK);
	/* 220 / 40 = 5.5 -> 6 instances wanted at the spike, and reached */
	assert_int_equal(r.max_desired, 6);
	assert_int_equal(r.max_instances, 6);
	/* a multi-minute window of queueing at each of the 24 spikes */
	for (int h = 0; h < 24; h++) {
		int64_t w = window_s(&r, h * 3600, h * 3600 + 1800);
		if (w < 180)
			fail_msg("spike at %02d:00 queued only %llds", h, (long long)w);
	}
	assert_true(r.worst_queue > 5000);
	/* the scale-out lag is detection (3 x 60 s + lag) plus 180 s provisioning */
	assert_true(r.scale_out_lag_s >= 180 + 180 && r.scale_out_lag_s <= 180 + 360);
	/* scale-in back to Min well before the next spike */
	assert_int_equal(r.tl[12 * 3600 + 45 * 60].in_service, 2);
	assert_int_equal(r.tl[12 * 3600 - 60].in_service, 2);
	/* arrivals equal the shape's integral; cost = instance-hours x price */
	double want = 0;
	for (int t = 0; t < KC_TRAFFIC_DAY_S; t++)
		want += kc_traffic_rate_at(&seed_traffic, t);
	assert_true(fabs(r.arrived - want) < 1e-6 * want);
	assert_true(fabs(r.cost_usd_per_day - r.instance_hours * 1.4084) < 1e-9);
	assert_true(r.instance_hours > 2 * 24 && r.instance_hours < 6 * 24);
	kc_plan_run_fini(&r);
}

static void test_seed_prewarm_removes_most(void **state)
{
	(void)state;
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_run re, pw;
	struct kc_plan_sched s[2];
	struct kc_diag d;
	seed_input(&in);
	seed_sched(s);
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 180);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &re, &d), KC_OK);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, s, 2, &pw, &d), KC_OK);
	/* MinCapacity 4 from :58, back to 2 from :10 */
	assert_int_equal(pw.tl[12 * 3600 - 90].min_cap, 4);
	assert_int_equal(pw.tl[12 * 3600 + 11 * 60].min_cap, 2);
	assert_int_equal(pw.tl[12 * 3600 - 150].min_cap, 2);
	/* the pre-warmed pair lands 3 minutes after :58 */
	assert_true(pw.tl[12 * 3600 + 61].in_service >= 4);
	/* most of the queueing is gone: no request times out, total queueing
	 * delay falls by more than half, the worst queue halves */
	assert_true(re.failed > 1000);
	assert_true(pw.failed < 1);
	assert_true(pw.wait_request_s < 0.5 * re.wait_request_s);
	assert_true(pw.worst_queue < 0.6 * re.worst_queue);
	assert_true(pw.worst_wait_s < 0.6 * re.worst_wait_s);
	fprintf(stderr, "# seed: reactive worstQ %.0f wait %.0f failed %.0f; pre-warm 4 worstQ %.0f "
		"wait %.0f failed %.0f\n", re.worst_queue, re.wait_request_s, re.failed,
		pw.worst_queue, pw.wait_request_s, pw.failed);
	kc_plan_run_fini(&re);
	kc_plan_run_fini(&pw);
}

static void test_seed_advice(void **state)
{
	(void)state;
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_advice a;
	struct kc_plan_run r;
	struct kc_diag d;
	seed_input(&in);
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 180);
	kc_plan_advise(&in, &m, 448, &a);
	assert_int_equal(a.needed_at_peak, 6);
	assert_int_equal(a.needed_at_ceiling, 5);
	assert_false(a.exceeds_max);
	assert_int_equal(a.min_cap, 2);
	assert_int_equal(a.max_cap, 7);
	assert_int_equal(a.lead_s, 240);
	assert_int_equal(a.nsched, 2);
	char cron[48];
	assert_string_equal(kc_plan_sched_cron(&a.sched[0], cron, sizeof(cron)), "cron(56 * * * ? *)");
	assert_int_equal(a.sched[0].min_cap, 6);
	assert_string_equal(kc_plan_sched_cron(&a.sched[1], cron, sizeof(cron)), "cron(9 * * * ? *)");
	assert_int_equal(a.sched[1].min_cap, 2);
	/* a 90 s ramp outruns any reactive lag: no factor helps, pre-warm does */
	assert_true(a.factor_derived == 0);
	assert_non_null(strstr(a.reason, "pre-warm"));
	assert_true(fabs(a.steepest_ramp_rps_per_s - 215.0 / 90) < 1e-9);
	/* the recommended pre-warm leaves no queue at all */
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, a.sched, a.nsched, &r, &d), KC_OK);
	assert_true(r.worst_queue < 1);
	assert_int_equal(r.over_slo_s, 0);
	kc_plan_run_fini(&r);
}

static void test_gentle_ramp_factor(void **state)
{
	(void)state;
	struct kc_traffic t;
	traffic_from("[traffic]\nbaseline = 100\npeak = 130 ramp 30m hold 1h every 1d at 12:00\n", &t);
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_advice a;
	seed_input(&in);
	in.traffic = &t;
	in.min_cap = 1;
	in.max_cap = 20;
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 300);
	kc_plan_advise(&in, &m, kc_plan_nominal_lag_s(&m), &a);
	assert_true(a.factor_derived >= 0.8);
	assert_non_null(strstr(a.reason, "default is safe"));
	/* steep ramp, same fleet: only a low factor fits */
	traffic_from("[traffic]\nbaseline = 100\npeak = 300 ramp 5m hold 1h every 1d at 12:00\n", &t);
	kc_plan_advise(&in, &m, kc_plan_nominal_lag_s(&m), &a);
	assert_true(a.factor_derived > 0 && a.factor_derived < 0.5);
	assert_true(a.factor_instances * in.ceiling_rps >= 300 - 1e-9);
}

static void test_subhourly_peaks_raise_min(void **state)
{
	(void)state;
	struct kc_traffic t;
	traffic_from("[traffic]\nbaseline = 30\npeak = 120 ramp 1m hold 2m every 15m at :05\n", &t);
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_advice a;
	seed_input(&in);
	in.traffic = &t;
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 300);
	kc_plan_advise(&in, &m, kc_plan_nominal_lag_s(&m), &a);
	/* no cron pair for peaks every 15 minutes: Min carries them */
	assert_int_equal(a.nsched, 0);
	assert_true(a.min_for_peaks);
	assert_int_equal(a.min_cap, 3);
	assert_true(a.max_cap >= a.min_cap);
	assert_non_null(strstr(a.reason, "MinCapacity at 3"));
}

static void test_peak_beyond_max(void **state)
{
	(void)state;
	struct kc_traffic t;
	traffic_from("[traffic]\nbaseline = 40\npeak = 600 ramp 2m hold 10m every 1d at 12:00\n", &t);
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_advice a;
	struct kc_plan_run r;
	struct kc_diag d;
	seed_input(&in);
	in.traffic = &t;
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 180);
	kc_plan_advise(&in, &m, 448, &a);
	assert_true(a.exceeds_max);
	assert_int_equal(a.needed_at_ceiling, 12);
	assert_int_equal(a.needed_at_peak, 15);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &r, &d), KC_OK);
	assert_int_equal(r.max_instances, 8); /* clamped at Max */
	assert_true(r.failed > 0);
	kc_plan_run_fini(&r);
}

static void test_highres_detects_sooner(void **state)
{
	(void)state;
	struct kc_plan_input in;
	struct kc_plan_model ms, mh;
	struct kc_plan_run rs, rh;
	struct kc_diag d;
	seed_input(&in);
	kc_plan_model_default(&ms, KC_PLAN_STANDARD, 180);
	kc_plan_model_default(&mh, KC_PLAN_HIGHRES, 180);
	assert_int_equal(mh.period_s, 10);
	assert_int_equal(mh.high_datapoints, 6);
	assert_int_equal(mh.low_datapoints, 90);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &ms, NULL, 0, &rs, &d), KC_OK);
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_HIGHRES, &mh, NULL, 0, &rh, &d), KC_OK);
	assert_true(rh.scale_out_lag_s < rs.scale_out_lag_s);
	assert_true(rh.longest_queue_window_s < rs.longest_queue_window_s);
	kc_plan_run_fini(&rs);
	kc_plan_run_fini(&rh);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct kc_plan_input in;
	struct kc_plan_model m;
	struct kc_plan_run r = {0};
	struct kc_diag d;
	kc_plan_model_default(&m, KC_PLAN_STANDARD, 180);
	seed_input(&in);
	in.min_cap = 9;
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &r, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "MinCapacity"));
	seed_input(&in);
	in.ceiling_rps = 0;
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &r, &d), KC_EINVAL);
	seed_input(&in);
	m.period_s = 7; /* does not divide a day */
	assert_int_equal(kc_plan_simulate(&in, KC_PLAN_STANDARD, &m, NULL, 0, &r, &d), KC_EINVAL);
	assert_null(r.tl);
}

static void test_sched_parse(void **state)
{
	(void)state;
	struct kc_plan_sched s;
	struct kc_diag d;
	char cron[48];
	assert_int_equal(kc_plan_sched_parse("cron(58 * * * ? *) min 4 max 8", &s, &d), KC_OK);
	assert_true(s.minute == 58 && s.hour == -1 && s.min_cap == 4 && s.max_cap == 8);
	assert_int_equal(kc_plan_sched_parse("cron(30 11 ? * * *) min 6", &s, &d), KC_OK);
	assert_string_equal(kc_plan_sched_cron(&s, cron, sizeof(cron)), "cron(30 11 * * ? *)");
	assert_int_equal(kc_plan_sched_parse("cron(0 1/2 * * ? *) min 3", &s, &d), KC_OK);
	assert_true(s.hour == 1 && s.hour_step == 2);
	assert_string_equal(kc_plan_sched_cron(&s, cron, sizeof(cron)), "cron(0 1/2 * * ? *)");
	static const char *const bad[] = {
		"cron(61 * * * ? *) min 4", "cron(58 * * * ?) min 4", "cron(58 * * * MON *) min 4",
		"cron(58 * * * ? *)", "cron(58 * * * ? *) min 0", "cron(58 * * * ? *) min 5 max 4",
		"rate(1 hour) min 4", "cron(58 * * * ? *) min 4 size 3", "cron(58 25 * * ? *) min 4",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kc_diag_clear(&d);
		if (kc_plan_sched_parse(bad[i], &s, &d) != KC_EINVAL || !d.msg[0])
			fail_msg("accepted '%s'", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_reactive_queues_every_spike),
		cmocka_unit_test(test_seed_prewarm_removes_most),
		cmocka_unit_test(test_seed_advice),
		cmocka_unit_test(test_gentle_ramp_factor),
		cmocka_unit_test(test_subhourly_peaks_raise_min),
		cmocka_unit_test(test_peak_beyond_max),
		cmocka_unit_test(test_highres_detects_sooner),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_sched_parse),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
