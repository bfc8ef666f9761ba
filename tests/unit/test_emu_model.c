/*
 * test_emu_model.c - the emulator's pure parts: the instance model driven by
 * a simulated clock, fault decisions, profiles (flags and scenario files)
 * and the JPEG CPU stage.  No sockets, no sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode_int.h"
#include "faults_int.h"
#include "model_int.h"
#include "server_int.h"
#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#define MS KC_NS_PER_MS

static struct kc_emu_profile prof(int instances, int slots, int64_t svc_ns)
{
	struct kc_emu_profile p;
	kc_emu_profile_defaults(&p);
	p.instances = instances;
	p.slots = slots;
	p.service_ns_mean = svc_ns;
	return p;
}

static void test_rng_deterministic(void **st)
{
	(void)st;
	struct kc_rng a, b, c;
	kc_rng_seed(&a, 42);
	kc_rng_seed(&b, 42);
	kc_rng_seed(&c, 43);
	int same_c = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = kc_rng_next(&a);
		assert_int_equal(x, kc_rng_next(&b));
		same_c += x == kc_rng_next(&c);
		double u = kc_rng_double(&a);
		(void)kc_rng_double(&b);
		assert_true(u >= 0.0 && u < 1.0);
	}
	assert_int_equal(same_c, 0);
	/* The normal draw: mean ~0, variance ~1 over many samples. */
	double s = 0, s2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double z = kc_emu_rng_normal(&a);
		s += z;
		s2 += z * z;
	}
	assert_true(fabs(s / n) < 0.01);
	assert_true(fabs(s2 / n - 1.0) < 0.02);
}

static void test_capacity(void **st)
{
	(void)st;
	struct kc_emu_profile p;
	kc_emu_profile_defaults(&p);
	/* Defaults are the seed case: 2 slots x 1/40 ms = 50 RPS. */
	assert_true(fabs(kc_emu_profile_capacity_rps(&p) - 50.0) < 1e-9);
	p = prof(3, 4, 8 * MS);
	assert_true(fabs(kc_emu_profile_capacity_rps(&p) - 1500.0) < 1e-9);
	char buf[256];
	kc_emu_profile_describe(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "3 instances x 4 slots"));
	assert_non_null(strstr(buf, "1500.0 RPS"));
}

static void test_fifo_slots(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 2, 40 * MS);
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	struct kc_emu_admit a[5];
	for (int i = 0; i < 5; i++)
		kc_emu_model_admit(m, 0, 60 * KC_NS_PER_S, &a[i]);
	int64_t want_start[] = {0, 0, 40 * MS, 40 * MS, 80 * MS};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(a[i].kind, KC_EMU_ADMIT_SERVE);
		assert_int_equal(a[i].start_ns, want_start[i]);
		assert_int_equal(a[i].done_ns, want_start[i] + 40 * MS);
	}
	struct kc_emu_model_counts c;
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.in_system, 5);
	assert_int_equal(c.in_service, 2);
	assert_int_equal(c.queue_depth, 3);
	kc_emu_model_leave(m, &a[0]);
	kc_emu_model_leave(m, &a[1]);
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.in_service, 2);
	assert_int_equal(c.queue_depth, 1);
	/* A late arrival on an idle slot starts at once. */
	for (int i = 2; i < 5; i++)
		kc_emu_model_leave(m, &a[i]);
	struct kc_emu_admit late;
	kc_emu_model_admit(m, 500 * MS, 60 * KC_NS_PER_S, &late);
	assert_int_equal(late.start_ns, 500 * MS);
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.in_system, 1);
	assert_int_equal(c.queue_depth, 0);
	kc_emu_model_leave(m, &late);
	kc_emu_model_free(m);
}

static void test_round_robin(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(3, 1, 10 * MS);
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	struct kc_emu_admit a[6];
	for (int i = 0; i < 6; i++) {
		kc_emu_model_admit(m, 0, KC_NS_PER_S, &a[i]);
		assert_int_equal(a[i].instance, i % 3);
		/* Second round waits for the first on each instance. */
		assert_int_equal(a[i].start_ns, i < 3 ? 0 : 10 * MS);
	}
	struct kc_emu_model_counts c;
	kc_emu_model_instance_counts(m, 1, &c);
	assert_int_equal(c.in_service, 1);
	assert_int_equal(c.queue_depth, 1);
	for (int i = 0; i < 6; i++)
		kc_emu_model_leave(m, &a[i]);
	kc_emu_model_free(m);
}

static void test_queue_limit(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 2, 40 * MS);
	p.queue_limit = 3;
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	struct kc_emu_admit a[7];
	for (int i = 0; i < 7; i++)
		kc_emu_model_admit(m, 0, 60 * KC_NS_PER_S, &a[i]);
	/* 2 in service + 3 queued are admitted; the rest overflow. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(a[i].kind, KC_EMU_ADMIT_SERVE);
	assert_int_equal(a[5].kind, KC_EMU_ADMIT_OVERLOAD);
	assert_int_equal(a[6].kind, KC_EMU_ADMIT_OVERLOAD);
	struct kc_emu_model_counts c;
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.queue_depth, 3);
	/* One leaves at 40 ms: room for one more. */
	kc_emu_model_leave(m, &a[0]);
	struct kc_emu_admit b;
	kc_emu_model_admit(m, 40 * MS, 60 * KC_NS_PER_S, &b);
	assert_int_equal(b.kind, KC_EMU_ADMIT_SERVE);
	kc_emu_model_leave(m, &b);
	for (int i = 1; i < 5; i++)
		kc_emu_model_leave(m, &a[i]);
	kc_emu_model_free(m);
}

static void test_timeout(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 1, 30 * MS);
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	/* Deadline 100 ms: starts at 0, 30, 60 fit (done 90); the 4th would
	 * finish at 120 > 100, so it times out and takes no slot. */
	struct kc_emu_admit a[5];
	for (int i = 0; i < 4; i++)
		kc_emu_model_admit(m, 0, 100 * MS, &a[i]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(a[i].kind, KC_EMU_ADMIT_SERVE);
	assert_int_equal(a[3].kind, KC_EMU_ADMIT_TIMEOUT);
	assert_int_equal(a[3].done_ns, 100 * MS);
	struct kc_emu_model_counts c;
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.queue_depth, 3); /* two waiting + the doomed one */
	/* The doomed one did not reserve a slot: the next with a longer
	 * deadline starts at 90 ms. */
	kc_emu_model_admit(m, 0, 200 * MS, &a[4]);
	assert_int_equal(a[4].kind, KC_EMU_ADMIT_SERVE);
	assert_int_equal(a[4].start_ns, 90 * MS);
	for (int i = 0; i < 5; i++)
		kc_emu_model_leave(m, &a[i]);
	kc_emu_model_counts(m, &c);
	assert_int_equal(c.in_system, 0);
	kc_emu_model_free(m);
}

static void test_lognormal(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 1, 35 * MS);
	p.service_dist = KC_EMU_DIST_LOGNORMAL;
	p.service_cv = 0.5;
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	double s = 0, s2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double v = (double)kc_emu_model_draw_service_ns(m);
		assert_true(v > 0);
		s += v;
		s2 += v * v;
	}
	double mean = s / n, sd = sqrt(s2 / n - mean * mean);
	assert_true(fabs(mean / (35.0 * MS) - 1.0) < 0.01);
	assert_true(fabs(sd / mean - 0.5) < 0.02);
	kc_emu_model_free(m);
	/* Fixed is exact. */
	p.service_dist = KC_EMU_DIST_FIXED;
	assert_int_equal(kc_emu_model_new(&m, &p), 0);
	assert_int_equal(kc_emu_model_draw_service_ns(m), 35 * MS);
	kc_emu_model_free(m);
}

/*
 * Open-loop simulation: uniform arrivals at `load` x capacity for dur_ns,
 * leaving each request at its done time.  Returns the mean wait in ns and
 * the queue depth at the end.
 */
static void simulate(const struct kc_emu_profile *p, double load, int64_t dur_ns,
		     double *wait_ns_mean, int64_t *queue_end, int64_t *served)
{
	struct kc_emu_model *m;
	assert_int_equal(kc_emu_model_new(&m, p), 0);
	double rate = load * kc_emu_profile_capacity_rps(p);
	int64_t gap = (int64_t)(1e9 / rate);
	size_t cap = (size_t)(dur_ns / gap) + 2, n = 0, head = 0;
	struct kc_emu_admit *pend = calloc(cap, sizeof(*pend));
	assert_non_null(pend);
	double wsum = 0;
	*served = 0;
	for (int64_t t = 0; t < dur_ns; t += gap) {
		/* Leave everything done by t (done times are FIFO per the
		 * model for equal service; a scan keeps it general). */
		for (size_t i = head; i < n; i++) {
			if (pend[i].kind == KC_EMU_ADMIT_SERVE && pend[i].done_ns <= t) {
				kc_emu_model_leave(m, &pend[i]);
				pend[i].kind = KC_EMU_ADMIT_OVERLOAD; /* mark left */
				(*served)++;
			}
		}
		while (head < n && pend[head].kind == KC_EMU_ADMIT_OVERLOAD)
			head++;
		kc_emu_model_admit(m, t, t + 3600 * KC_NS_PER_S, &pend[n]);
		wsum += (double)(pend[n].start_ns - t);
		n++;
	}
	struct kc_emu_model_counts c;
	kc_emu_model_counts(m, &c);
	*queue_end = c.queue_depth;
	*wait_ns_mean = wsum / (double)n;
	for (size_t i = head; i < n; i++)
		if (pend[i].kind == KC_EMU_ADMIT_SERVE)
			kc_emu_model_leave(m, &pend[i]);
	free(pend);
	kc_emu_model_free(m);
}

static void test_queue_grows_exactly_past_capacity(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 2, 40 * MS); /* 50 RPS */
	double w;
	int64_t q, served;
	/* 70%: nobody waits, latency = service time. */
	simulate(&p, 0.7, 20 * KC_NS_PER_S, &w, &q, &served);
	assert_true(w == 0.0);
	assert_true(q == 0);
	/* 100%: still no wait with uniform arrivals and fixed service. */
	simulate(&p, 1.0, 20 * KC_NS_PER_S, &w, &q, &served);
	assert_true(q <= 1);
	/* 150% for 20 s: the queue grows by 25 RPS x 20 s = 500. */
	simulate(&p, 1.5, 20 * KC_NS_PER_S, &w, &q, &served);
	assert_true(q >= 490 && q <= 510);
	/* ... and throughput stays at capacity: 50 RPS x 20 s. */
	assert_true(served >= 990 && served <= 1001);
}

static void test_faults_decide(void **st)
{
	(void)st;
	struct kc_emu_faults f = {0};
	char why[128];
	assert_int_equal(kc_emu_faults_parse_errors(&f, "503:0.1, 424:0.05", why, sizeof(why)), 0);
	assert_int_equal(f.n_errors, 2);
	f.reset_prob = 0.02;
	struct kc_rng r;
	kc_rng_seed(&r, 7);
	int n = 100000, c503 = 0, c424 = 0, resets = 0;
	for (int i = 0; i < n; i++) {
		struct kc_emu_fault_plan pl;
		kc_emu_faults_decide(&f, &r, &pl);
		c503 += pl.status == 503;
		c424 += pl.status == 424;
		resets += pl.reset;
		assert_false(pl.slow);
		assert_false(pl.reset_mid);
	}
	assert_true(abs(c503 - 10000) < 400);
	assert_true(abs(c424 - 5000) < 300);
	assert_true(abs(resets - 2000) < 200);
	/* A mid-body reset is drawn only when configured, at its rate. */
	f.reset_mid_prob = 0.05;
	int mids = 0;
	for (int i = 0; i < n; i++) {
		struct kc_emu_fault_plan pl;
		kc_emu_faults_decide(&f, &r, &pl);
		mids += pl.reset_mid;
	}
	assert_true(abs(mids - 5000) < 300);
	f.reset_mid_prob = 0;
	/* The mid-stream ModelStreamError likewise. */
	f.stream_error_prob = 0.25;
	int serrs = 0;
	for (int i = 0; i < n; i++) {
		struct kc_emu_fault_plan pl;
		kc_emu_faults_decide(&f, &r, &pl);
		serrs += pl.stream_error;
	}
	assert_true(abs(serrs - 25000) < 700);
	f.stream_error_prob = 0;
	{
		struct kc_emu_fault_plan pl;
		kc_emu_faults_decide(&f, &r, &pl);
		assert_false(pl.stream_error);
	}
	/* Replacing a status, bad input leaves f unchanged. */
	assert_int_equal(kc_emu_faults_parse_errors(&f, "503:0.2", why, sizeof(why)), 0);
	assert_int_equal(f.n_errors, 2);
	assert_true(f.errors[0].prob == 0.2);
	assert_int_equal(kc_emu_faults_parse_errors(&f, "404:0.1", why, sizeof(why)), KC_EINVAL);
	assert_non_null(strstr(why, "404"));
	assert_int_equal(kc_emu_faults_parse_errors(&f, "503:1.5", why, sizeof(why)), KC_EINVAL);
	assert_int_equal(kc_emu_faults_parse_errors(&f, "503", why, sizeof(why)), KC_EINVAL);
	assert_int_equal(kc_emu_faults_parse_errors(&f, "500:0.1,junk", why, sizeof(why)), KC_EINVAL);
	assert_int_equal(f.n_errors, 2);
	assert_string_equal(kc_emu_error_type(424), "ModelError");
	assert_string_equal(kc_emu_error_type(400), "ThrottlingException");
	assert_null(kc_emu_error_type(404));
}

static void test_faults_stall(void **st)
{
	(void)st;
	struct kc_emu_faults f = {0};
	f.stall_at_ns = -1;
	assert_true(kc_emu_faults_stall_end(&f, 5 * KC_NS_PER_S) < 0);
	/* 500 ms every 5 s, first at one period. */
	f.stall_ns = 500 * MS;
	f.stall_every_ns = 5 * KC_NS_PER_S;
	assert_true(kc_emu_faults_stall_end(&f, 1 * KC_NS_PER_S) < 0);
	assert_int_equal(kc_emu_faults_stall_end(&f, 5 * KC_NS_PER_S + 100 * MS),
			 5 * KC_NS_PER_S + 500 * MS);
	assert_true(kc_emu_faults_stall_end(&f, 5 * KC_NS_PER_S + 500 * MS) < 0);
	assert_int_equal(kc_emu_faults_stall_end(&f, 10 * KC_NS_PER_S),
			 10 * KC_NS_PER_S + 500 * MS);
	/* Once, at 2 s. */
	f.stall_every_ns = 0;
	f.stall_at_ns = 2 * KC_NS_PER_S;
	assert_int_equal(kc_emu_faults_stall_end(&f, 2 * KC_NS_PER_S + 1),
			 2 * KC_NS_PER_S + 500 * MS);
	assert_true(kc_emu_faults_stall_end(&f, 7 * KC_NS_PER_S + 1) < 0);
}

static void test_profile_flags(void **st)
{
	(void)st;
	struct kc_emu_profile p;
	struct kc_diag d;
	kc_diag_clear(&d);
	kc_emu_profile_defaults(&p);
	assert_int_equal(kc_emu_profile_set(&p, "service-time", "35ms", &d), 0);
	assert_int_equal(p.service_ns_mean, 35 * MS);
	assert_int_equal(kc_emu_profile_set(&p, "slots", "8", &d), 0);
	assert_int_equal(p.slots, 8);
	assert_int_equal(kc_emu_profile_set(&p, "service_dist", "lognormal", &d), 0);
	assert_int_equal(p.service_dist, KC_EMU_DIST_LOGNORMAL);
	assert_int_equal(kc_emu_profile_set(&p, "cpu-decode", "scaled", &d), 0);
	assert_int_equal(p.cpu_decode, KC_EMU_DECODE_SCALED);
	assert_int_equal(kc_emu_profile_set(&p, "max-body", "1M", &d), 0);
	assert_int_equal(p.body_bytes_max, 1024 * 1024);
	assert_int_equal(kc_emu_profile_set(&p, "timeout", "2s", &d), 0);
	assert_int_equal(p.timeout_ns, 2 * KC_NS_PER_S);
	/* Units are required: a bare number is refused, saying so. */
	assert_int_not_equal(kc_emu_profile_set(&p, "timeout", "2", &d), 0);
	assert_non_null(strstr(d.msg, "needs a unit"));
	assert_int_equal(kc_emu_profile_set(&p, "fault-error", "503:0.1", &d), 0);
	assert_int_equal(kc_emu_profile_set(&p, "fault-error", "500:0.2", &d), 0);
	assert_int_equal(p.faults.n_errors, 2);
	assert_int_equal(kc_emu_profile_set(&p, "verify-sigv4", "AKIDEXAMPLE:s3cr3t", &d), 0);
	assert_string_equal(p.sigv4_akid, "AKIDEXAMPLE");
	char desc[256];
	kc_emu_profile_describe(&p, desc, sizeof(desc));
	assert_null(strstr(desc, "s3cr3t"));
	/* Errors name the key and never touch the field. */
	assert_int_equal(kc_emu_profile_set(&p, "slots", "0", &d), KC_EINVAL);
	assert_string_equal(d.key, "slots");
	assert_int_equal(p.slots, 8);
	assert_int_equal(kc_emu_profile_set(&p, "service-dist", "gamma", &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "lognormal"));
	assert_int_equal(kc_emu_profile_set(&p, "service-time", "fast", &d), KC_EINVAL);
	assert_int_equal(kc_emu_profile_set(&p, "verify-sigv4", "nocolon", &d), KC_EINVAL);
	assert_null(strstr(d.msg, "nocolon"));
	assert_int_equal(kc_emu_profile_set(&p, "no-such-key", "1", &d), KC_ENOTFOUND);
	assert_true(kc_emu_profile_has_key("fault-stall-every"));
	/* The HTTP/2 face's keys. */
	assert_int_equal(p.h2_listen[0], '\0'); /* off by default */
	assert_int_equal(p.h2_mode, KC_EMU_H2_H2C);
	assert_int_equal(kc_emu_profile_set(&p, "h2-listen", "127.0.0.1:0", &d), 0);
	assert_string_equal(p.h2_listen, "127.0.0.1:0");
	assert_int_equal(kc_emu_profile_set(&p, "h2_mode", "tls", &d), 0);
	assert_int_equal(p.h2_mode, KC_EMU_H2_TLS);
	assert_int_equal(kc_emu_profile_set(&p, "h2-mode", "h3", &d), KC_EINVAL);
	assert_int_equal(p.h2_mode, KC_EMU_H2_TLS);
	assert_int_equal(kc_emu_profile_set(&p, "h2-max-concurrent", "0", &d), KC_EINVAL);
	assert_int_equal(kc_emu_profile_set(&p, "h2-max-streams", "64", &d), 0);
	assert_int_equal(p.h2_max_streams, 64);
	/* Response-stream knobs: defaults, flags, ranges. */
	assert_int_equal(p.stream_parts, 4);
	assert_int_equal(p.stream_part_gap_ns, 10 * MS);
	assert_int_equal(kc_emu_profile_set(&p, "stream-parts", "5", &d), 0);
	assert_int_equal(p.stream_parts, 5);
	assert_int_equal(kc_emu_profile_set(&p, "stream_part_gap", "20ms", &d), 0);
	assert_int_equal(p.stream_part_gap_ns, 20 * MS);
	assert_int_equal(kc_emu_profile_set(&p, "stream-part-gap", "0", &d), 0);
	assert_int_equal(p.stream_part_gap_ns, 0);
	assert_int_equal(kc_emu_profile_set(&p, "stream-parts", "101", &d), KC_EINVAL);
	assert_string_equal(d.key, "stream_parts");
	assert_int_equal(kc_emu_profile_set(&p, "stream-parts", "0", &d), KC_EINVAL);
	assert_int_equal(p.stream_parts, 5);
	assert_int_equal(kc_emu_profile_set(&p, "fault-stream-error", "0.5", &d), 0);
	assert_true(p.faults.stream_error_prob == 0.5);
	assert_int_equal(kc_emu_profile_set(&p, "fault-stream-error", "2", &d), KC_EINVAL);
	/* Cross-key rules. */
	assert_int_equal(kc_emu_profile_check(&p, &d), 0);
	assert_int_equal(kc_emu_profile_set(&p, "fault-error", "429:0.8", &d), 0);
	assert_int_equal(kc_emu_profile_check(&p, &d), KC_EINVAL);
	assert_string_equal(d.key, "fault_error");
	kc_emu_profile_defaults(&p);
	snprintf(p.endpoint_name, sizeof(p.endpoint_name), "bad_name");
	assert_int_equal(kc_emu_profile_check(&p, &d), KC_EINVAL);

	/* Slow clients: timeouts and the per-client connection cap. */
	kc_emu_profile_defaults(&p);
	assert_int_equal(p.header_timeout_ns, 10 * KC_NS_PER_S);
	assert_int_equal(p.body_timeout_ns, 30 * KC_NS_PER_S);
	assert_int_equal(p.keepalive_timeout_ns, 60 * KC_NS_PER_S);
	/* A quarter per address by default: four attackers leave the reserve. */
	assert_int_equal(kc_emu_profile_client_cap(&p), 256);
	assert_int_equal(kc_emu_profile_conn_limit(&p), 1024 + 128);
	assert_int_equal(kc_emu_profile_set(&p, "header-timeout", "3s", &d), 0);
	assert_int_equal(p.header_timeout_ns, 3 * KC_NS_PER_S);
	assert_int_equal(kc_emu_profile_set(&p, "body_timeout", "500ms", &d), KC_EINVAL);
	assert_string_equal(d.key, "body_timeout");
	assert_int_equal(kc_emu_profile_set(&p, "max-connections", "16", &d), 0);
	assert_int_equal(kc_emu_profile_client_cap(&p), 16);
	assert_int_equal(kc_emu_profile_conn_limit(&p), 4 * 16 + 16);
	assert_int_equal(kc_emu_profile_set(&p, "max-connections-per-client", "8", &d), 0);
	assert_int_equal(kc_emu_profile_client_cap(&p), 8);
	/* An explicit cap is the user's trade: no room added for it. */
	assert_int_equal(kc_emu_profile_conn_limit(&p), 32);
	assert_int_equal(kc_emu_profile_set(&p, "max-connections-per-client", "16", &d), 0);
	assert_int_equal(kc_emu_profile_check(&p, &d), 0);
	assert_int_equal(kc_emu_profile_set(&p, "max-connections-per-client", "17", &d), 0);
	assert_int_equal(kc_emu_profile_check(&p, &d), KC_EINVAL);
	assert_string_equal(d.key, "max_connections_per_client");

	/* Kept-alive connections; below 256 the cap's floor and room for four. */
	kc_emu_profile_defaults(&p);
	assert_int_equal(kc_emu_profile_set(&p, "keepalive-timeout", "15s", &d), 0);
	assert_int_equal(p.keepalive_timeout_ns, 15 * KC_NS_PER_S);
	assert_int_equal(kc_emu_profile_set(&p, "keepalive_timeout", "0.5s", &d), KC_EINVAL);
	assert_string_equal(d.key, "keepalive_timeout");
	assert_int_equal(kc_emu_profile_set(&p, "max-connections", "200", &d), 0);
	assert_int_equal(kc_emu_profile_client_cap(&p), 64);
	assert_int_equal(kc_emu_profile_conn_limit(&p), 4 * 64 + 25);
}

static void test_profile_scenario(void **st)
{
	(void)st;
	static const char text[] =
		"; a comment\n"
		"[search]\n"
		"rate = 10\n"
		"[emulator]\n"
		"instances = 2\n"
		"slots = 4\n"
		"service_time = 20ms\n"
		"service_dist = lognormal\n"
		"service_cv = 0.3\n"
		"fault_error = 503:0.01, 424:0.02\n"
		"fault_stall = 200ms\n"
		"fault_stall_every = 10s\n"
		"endpoint_name = image-tagger\n";
	struct kc_scenario *sc;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_scenario_parse(&sc, "t.ini", text, &d), 0);
	struct kc_emu_profile p;
	kc_emu_profile_defaults(&p);
	assert_int_equal(kc_emu_profile_from_scenario(sc, &p, &d), 0);
	assert_int_equal(p.instances, 2);
	assert_int_equal(p.slots, 4);
	assert_int_equal(p.service_ns_mean, 20 * MS);
	assert_int_equal(p.service_dist, KC_EMU_DIST_LOGNORMAL);
	assert_true(fabs(p.service_cv - 0.3) < 1e-12);
	assert_int_equal(p.faults.n_errors, 2);
	assert_int_equal(p.faults.stall_every_ns, 10 * KC_NS_PER_S);
	assert_string_equal(p.endpoint_name, "image-tagger");
	assert_int_equal(kc_emu_profile_check(&p, &d), 0);
	assert_true(fabs(kc_emu_profile_capacity_rps(&p) - 400.0) < 1e-9);
	/* [search] is someone else's: only it is left unused. */
	assert_int_equal(kc_scenario_check_unused(sc, &d), KC_EINVAL);
	assert_string_equal(d.key, "rate");
	kc_scenario_free(sc);

	/* A bad value names the file, line and key. */
	assert_int_equal(kc_scenario_parse(&sc, "bad.ini",
		"[emulator]\nslots = 2\nservice_time = soon\n", &d), 0);
	kc_emu_profile_defaults(&p);
	assert_int_equal(kc_emu_profile_from_scenario(sc, &p, &d), KC_EINVAL);
	assert_string_equal(d.file, "bad.ini");
	assert_int_equal(d.line, 3);
	assert_string_equal(d.key, "service_time");
	kc_scenario_free(sc);
	assert_int_equal(kc_scenario_parse(&sc, "bad2.ini",
		"[emulator]\n\nfault_error = 503:2\n", &d), 0);
	assert_int_equal(kc_emu_profile_from_scenario(sc, &p, &d), KC_EINVAL);
	assert_int_equal(d.line, 3);
	assert_string_equal(d.key, "fault_error");
	kc_scenario_free(sc);
}

static unsigned char *make_jpeg(int w, int h, unsigned long *len)
{
	unsigned char *rgb = malloc((size_t)w * (size_t)h * 3);
	assert_non_null(rgb);
	for (int i = 0; i < w * h * 3; i++)
		rgb[i] = (unsigned char)(i * 31 % 251);
	tjhandle tj = tjInitCompress();
	unsigned char *jpg = NULL;
	*len = 0;
	assert_int_equal(tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, len, TJSAMP_420, 85, 0), 0);
	tjDestroy(tj);
	free(rgb);
	return jpg;
}

static void test_decode(void **st)
{
	(void)st;
	unsigned long len;
	unsigned char *jpg = make_jpeg(320, 240, &len);
	struct kc_emu_decoder dd;
	assert_int_equal(kc_emu_decoder_init(&dd), 0);
	char why[200];
	int w, h;
	static const enum kc_emu_decode modes[] = {KC_EMU_DECODE_FULL, KC_EMU_DECODE_SCALED,
						   KC_EMU_DECODE_HEADER};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(kc_emu_decode(&dd, modes[i], jpg, len, &w, &h, why, sizeof(why)), 0);
		assert_int_equal(w, 320);
		assert_int_equal(h, 240);
	}
	assert_int_equal(kc_emu_decode(&dd, KC_EMU_DECODE_OFF, jpg, len, &w, &h, why, sizeof(why)), 0);
	/* Not a JPEG: every mode refuses. */
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	for (int m = KC_EMU_DECODE_FULL; m <= KC_EMU_DECODE_OFF; m++)
		assert_int_equal(kc_emu_decode(&dd, (enum kc_emu_decode)m, png, sizeof(png),
					       &w, &h, why, sizeof(why)), KC_EPARSE);
	assert_non_null(strstr(why, "not a JPEG"));
	/* SOI and garbage: the header read fails. */
	unsigned char junk[64] = {0xFF, 0xD8, 0xFF, 0x01};
	assert_int_equal(kc_emu_decode(&dd, KC_EMU_DECODE_HEADER, junk, sizeof(junk),
				       &w, &h, why, sizeof(why)), KC_EPARSE);
	kc_emu_decoder_fini(&dd);
	tjFree(jpg);
}

/* One HTTP/1.1 exchange on 127.0.0.1:port; returns the status or -1. */
static int http_post(int port, const char *path, const unsigned char *body, size_t n)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			  "Content-Length: %zu\r\n\r\n", path, n);
	assert_true(write(fd, head, (size_t)hl) == hl);
	assert_true(write(fd, body, n) == (ssize_t)n);
	char buf[4096];
	ssize_t got = 0, r;
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += r;
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	int status = -1;
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	return status;
}

static void test_inprocess(void **st)
{
	(void)st;
	struct kc_emu_profile p = prof(1, 2, 2 * MS);
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_emu *e = NULL;
	assert_int_equal(kc_emu_start(&p, "127.0.0.1:0", &e, &d), 0);
	int port = kc_emu_port(e);
	assert_true(port > 0 && port < 65536);
	unsigned long len;
	unsigned char *jpg = make_jpeg(64, 64, &len);
	assert_int_equal(http_post(port, "/endpoints/a/invocations", jpg, len), 200);
	assert_int_equal(http_post(port, "/endpoints/a/invocations",
				   (const unsigned char *)"nope", 4), 424);
	struct kc_emu_stats s;
	kc_emu_stats(e, &s);
	assert_int_equal(s.received, 2);
	assert_int_equal(s.served, 1);
	assert_int_equal(s.errors[KC_EMU_ERRC_MODEL], 1);
	assert_true(fabs(s.capacity_rps - 1000.0) < 1e-9);
	assert_true(s.service_ms_mean > 1.99 && s.service_ms_mean < 2.01);
	assert_int_equal(s.in_flight, 0);
	assert_string_equal(kc_emu_err_class_name(KC_EMU_ERRC_MODEL), "model_error");
	assert_int_equal(kc_emu_h2_port(e), -1); /* no h2_listen: no HTTP/2 face */
	kc_emu_stop(e);

	/* With h2_listen the HTTP/2 face starts and stops with it; a bad
	 * HTTP/2 address fails the whole start cleanly. */
	snprintf(p.h2_listen, sizeof(p.h2_listen), "127.0.0.1:0");
	assert_int_equal(kc_emu_start(&p, "127.0.0.1:0", &e, &d), 0);
	assert_true(kc_emu_h2_port(e) > 0 && kc_emu_h2_port(e) != kc_emu_port(e));
	kc_emu_stop(e);
	e = NULL;
	snprintf(p.h2_listen, sizeof(p.h2_listen), "127.0.0.1:99999");
	assert_int_equal(kc_emu_start(&p, "127.0.0.1:0", &e, &d), KC_EINVAL);
	assert_null(e);
	p.h2_listen[0] = '\0';
	tjFree(jpg);
	kc_emu_stop(NULL);

	/* Bad addresses fail cleanly, out untouched. */
	e = NULL;
	assert_int_equal(kc_emu_start(&p, "localhost", &e, &d), KC_EINVAL);
	assert_null(e);
	assert_int_equal(kc_emu_start(&p, "127.0.0.1:99999", &e, &d), KC_EINVAL);
	assert_int_equal(kc_emu_start(&p, "not-an-ip:80", &e, &d), KC_EINVAL);
	assert_null(e);
	p.slots = 0;
	assert_int_equal(kc_emu_start(&p, "127.0.0.1:0", &e, &d), KC_EINVAL);
	assert_null(e);
	assert_string_equal(d.key, "slots");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_deterministic),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_fifo_slots),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_lognormal),
		cmocka_unit_test(test_queue_grows_exactly_past_capacity),
		cmocka_unit_test(test_faults_decide),
		cmocka_unit_test(test_faults_stall),
		cmocka_unit_test(test_profile_flags),
		cmocka_unit_test(test_profile_scenario),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_inprocess),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
