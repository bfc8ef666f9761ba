/*
 * test_engine.c - the engine against an in-process libmicrohttpd server on
 * 127.0.0.1: bodies rotate without copying, the decorator's headers reach
 * the wire on every request, headers and method are sent, status codes are
 * classified, closed loop keeps its concurrency, the interval callback's
 * intervals add up to the step, and the stop flag ends a step early.
 * Against a socket that never answers: what is outstanding when a step is
 * stopped or its drain ends is counted unfinished with its wait so far in
 * the latency histogram, and the probe gives up on the answer in about 1 s.
 * The socket and memory budget check is pure and tested with made-up limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/engine.h"
#include "kneecap/hdr.h"

struct srv {
	struct MHD_Daemon *d;
	uint16_t port;
	atomic_int requests, decorated, small, large, custom_hdr, posts;
	atomic_int status; /* what to answer */
};

struct upload {
	size_t bytes;
};

/* The client the tests run on (main runs them once per client). */
static enum kc_client client;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *data_size, void **con_cls)
{
	(void)url;
	(void)version;
	struct srv *s = cls;
	struct upload *u = *con_cls;
	if (!u) {
		u = calloc(1, sizeof(*u));
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size) {
		u->bytes += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&s->requests, 1);
	if (!strcmp(method, "POST"))
		atomic_fetch_add(&s->posts, 1);
	if (u->bytes == 10)
		atomic_fetch_add(&s->small, 1);
	if (u->bytes == 3000)
		atomic_fetch_add(&s->large, 1);
	const char *dv = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Decor");
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	/* The decorator signs with the body's hash: the header must match the body. */
	if (dv && ct && ((u->bytes == 10 && !strcmp(dv, "sha=aaaa")) ||
			 (u->bytes == 3000 && !strcmp(dv, "sha=bbbb"))))
		atomic_fetch_add(&s->decorated, 1);
	const char *ch = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Custom");
	if (ch && !strcmp(ch, "yes"))
		atomic_fetch_add(&s->custom_hdr, 1);
	free(u);
	*con_cls = NULL;
	struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)(uintptr_t)"ok",
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)atomic_load(&s->status), r);
	MHD_destroy_response(r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static int setup(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	atomic_store(&s->status, 200);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
				handler, s, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!s->d)
		return -1;
	s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct srv *s = *state;
	MHD_stop_daemon(s->d);
	free(s);
	return 0;
}

static int decorate(void *ud, const struct kc_request_info *req, struct kc_decor_out *out)
{
	atomic_int *calls = ud;
	atomic_fetch_add(calls, 1);
	if (!req->body || !req->body->sha256_hex || strcmp(req->method, "POST") ||
	    strcmp(req->path, "/x?y=1") || req->send_wall_ns <= 0)
		return KC_EINVAL;
	snprintf(out->buf, sizeof(out->buf), "X-Decor: sha=%s", req->body->sha256_hex);
	out->line[0] = out->buf;
	out->n = 1;
	return 0;
}

struct intervals {
	int64_t total;
	int calls;
};

static void on_interval(void *ud, int step, const struct kc_hdr *h)
{
	struct intervals *iv = ud;
	(void)step;
	iv->total += kc_hdr_total_count(h);
	iv->calls++;
}

/* A generation that changes at every look: credentials refreshed all the time. */
static uint64_t always_new_generation(void *ud)
{
	(void)ud;
	static atomic_ullong gen;
	return atomic_fetch_add(&gen, 1);
}

/* Runs 1.5 s of decorated POSTs; per_second: the decorator's lines may be
 * reused within a wall-clock second (kc_engine_config.decorate_per_second);
 * new_gen: but the decorator's generation changes before every request, so
 * nothing may be reused. */
static void run_bodies_decorator_intervals(void **state, bool per_second, bool new_gen)
{
	struct srv *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x?y=1", s->port);
	static char small[10], large[3000];
	memset(small, 's', sizeof(small));
	memset(large, 'L', sizeof(large));
	struct kc_body bodies[2] = {
		{.data = small, .len = sizeof(small), .content_type = "image/jpeg", .sha256_hex = "aaaa"},
		{.data = large, .len = sizeof(large), .content_type = "image/jpeg", .sha256_hex = "bbbb"},
	};
	const char *hdrs[] = {"X-Custom: yes"};
	atomic_int calls = 0;
	struct kc_engine_config cfg = {
		.url = url, .headers = hdrs, .nheaders = 1, .bodies = bodies, .nbodies = 2,
		.threads = 2, .connections = 4, .decorate = decorate, .decorate_ud = &calls,
		.client = client, .decorate_per_second = per_second,
		.decorate_generation = new_gen ? always_new_generation : NULL,
	};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	int status = 0;
	assert_int_equal(kc_engine_probe(e, &status, &d), KC_OK);
	assert_int_equal(status, 200);
	atomic_store(&s->requests, 0);
	atomic_store(&s->decorated, 0);
	atomic_store(&s->small, 0);
	atomic_store(&s->large, 0);
	atomic_store(&s->custom_hdr, 0);
	atomic_store(&s->posts, 0);
	struct intervals iv = {0};
	struct kc_engine_hooks hooks = {.interval = on_interval, .ud = &iv};
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 400,
				    .duration_ns = 1500 * KC_NS_PER_MS, .arrival = KC_ARRIVAL_POISSON,
				    .seed = 3};
	struct kc_step_result r;
	assert_int_equal(kc_engine_run_step(e, &spec, &hooks, &r, &d), KC_OK);
	int n = atomic_load(&s->requests);
	/* Poisson timing, the window's count fixed: 400/s x 1.5 s, over the
	 * workers' slices together (kc_schedule_fix_counts). */
	assert_int_equal(r.scheduled, 600);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.ok, r.scheduled);
	assert_int_equal((int)r.ok, n);
	assert_int_equal(atomic_load(&s->decorated), n);
	/* the probe's call, then one per request, or per worker, body and second */
	if (per_second && !new_gen)
		assert_true(atomic_load(&calls) >= 1 + 2 && atomic_load(&calls) <= 1 + 2 * 2 * 3);
	else
		assert_int_equal(atomic_load(&calls), 1 + n);
	assert_int_equal(atomic_load(&s->custom_hdr), n);
	assert_int_equal(atomic_load(&s->posts), n);
	/* Each worker alternates its bodies: both sizes are sent, about half each. */
	assert_int_equal(atomic_load(&s->small) + atomic_load(&s->large), n);
	assert_true(atomic_load(&s->small) >= n / 2 - 2 && atomic_load(&s->large) >= n / 2 - 2);
	/* The per-second intervals add up exactly to the step's histogram. */
	assert_true(iv.calls >= 2);
	assert_int_equal(iv.total, kc_hdr_total_count(r.latency_hist));
	assert_int_equal(iv.total, (int64_t)r.completed);
	assert_int_equal(r.latency.count, (int64_t)r.completed);
	assert_true(r.latency.p50 >= r.service.p50 - 0.01);
	kc_step_result_fini(&r);
	kc_engine_free(e);
}

static void test_bodies_decorator_intervals(void **state)
{
	run_bodies_decorator_intervals(state, false, false);
}

static void test_decorator_per_second(void **state)
{
	run_bodies_decorator_intervals(state, true, false);
}

static void test_decorator_new_credentials(void **state)
{
	run_bodies_decorator_intervals(state, true, true);
}

static void test_status_classes_and_closed_loop(void **state)
{
	struct srv *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s->port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 3, .method = "put",
				       .client = client};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	struct kc_step_result r;
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 100,
				    .duration_ns = 300 * KC_NS_PER_MS};
	const int codes[] = {429, 403, 503, 404};
	const enum kc_errclass want[] = {KC_EC_THROTTLE, KC_EC_AUTH, KC_EC_HTTP5XX, KC_EC_HTTP4XX};
	for (int i = 0; i < 4; i++) {
		atomic_store(&s->status, codes[i]);
		assert_int_equal(kc_engine_run_step(e, &spec, NULL, &r, &d), KC_OK);
		assert_int_equal(r.scheduled, 30);
		assert_int_equal(r.errclass[want[i]], 30);
		assert_int_equal(r.errors, 30);
		assert_int_equal(r.completed, 30);
		assert_int_equal(r.ok, 0);
		assert_int_equal(r.ncodes, 1);
		assert_int_equal(r.codes[0].code, codes[i]);
		kc_step_result_fini(&r);
	}
	atomic_store(&s->status, 200);
	struct kc_step_spec closed = {.mode = KC_STEP_CONCURRENCY, .concurrency = 3,
				      .duration_ns = 500 * KC_NS_PER_MS};
	assert_int_equal(kc_engine_run_step(e, &closed, NULL, &r, &d), KC_OK);
	assert_true(r.ok > 30);
	assert_int_equal(r.errors, 0);
	assert_true(r.inflight_max <= 3);
	assert_true(r.offered == 3);
	kc_step_result_fini(&r);
	kc_engine_free(e);
}

static void *stop_later(void *arg)
{
	kc_sleep_ns(300 * KC_NS_PER_MS);
	kc_engine_stop(arg);
	return NULL;
}

static void test_stop_marks_partial(void **state)
{
	struct srv *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s->port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 2, .client = client};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	pthread_t t;
	pthread_create(&t, NULL, stop_later, e);
	int64_t t0 = kc_clock_ns();
	struct kc_step_result r;
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 100, .duration_ns = 20 * KC_NS_PER_S};
	assert_int_equal(kc_engine_run_step(e, &spec, NULL, &r, &d), KC_OK);
	int64_t took = kc_clock_ns() - t0;
	pthread_join(t, NULL);
	assert_true(r.partial);
	assert_true(took < 2 * KC_NS_PER_S);
	assert_true(r.duration_ns > 200 * KC_NS_PER_MS && r.duration_ns < KC_NS_PER_S);
	assert_true(r.ok >= 15 && r.ok <= 50);
	assert_true(kc_engine_stopped(e));
	kc_engine_reset_stop(e);
	kc_step_result_fini(&r);
	kc_engine_free(e);
}

/* Asked from the progress hook (as find's stability watch does) once the
 * window has run a second. */
static void end_after_1s(void *ud, const struct kc_progress *p)
{
	if (!p->warming_up && p->elapsed_ns >= 1300 * KC_NS_PER_MS)
		kc_engine_end_window(ud);
}

/* kc_engine_end_window: the step ends early but whole (not partial): no
 * request unfinished, the window shortened, achieved over that window. */
static void test_end_window_early(void **state)
{
	struct srv *s = *state;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", s->port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 4, .client = client};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	struct kc_engine_hooks hooks = {.progress = end_after_1s, .ud = e};
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 200,
				    .duration_ns = 20 * KC_NS_PER_S, .warmup_ns = 200 * KC_NS_PER_MS,
				    .arrival = KC_ARRIVAL_UNIFORM};
	int64_t t0 = kc_clock_ns();
	struct kc_step_result r;
	assert_int_equal(kc_engine_run_step(e, &spec, &hooks, &r, &d), KC_OK);
	int64_t took = kc_clock_ns() - t0;
	assert_false(r.partial);
	assert_false(kc_engine_stopped(e));
	assert_true(took < 4 * KC_NS_PER_S);
	/* Asked at ~2 s of step (1.8 s of window), cut 150 ms later. */
	assert_true(r.duration_ns > KC_NS_PER_S && r.duration_ns < 3 * KC_NS_PER_S);
	assert_int_equal(r.unfinished, 0);
	assert_int_equal(r.errors, 0);
	/* Every arrival of the shortened window was sent and answered. */
	double window_s = (double)r.duration_ns / 1e9;
	assert_true(fabs((double)r.scheduled - 200 * window_s) <= 3);
	assert_true(r.achieved > 190 && r.achieved < 210);
	kc_step_result_fini(&r);
	/* The next step runs whole again. */
	struct kc_step_spec whole = {.mode = KC_STEP_RATE, .rate_rps = 100,
				     .duration_ns = 600 * KC_NS_PER_MS};
	assert_int_equal(kc_engine_run_step(e, &whole, NULL, &r, &d), KC_OK);
	assert_true(r.duration_ns == 600 * KC_NS_PER_MS);
	kc_step_result_fini(&r);
	kc_engine_free(e);
}

/* A listening socket on 127.0.0.1 that nobody accepts: the kernel completes
 * connections into its backlog, requests are sent, nothing ever answers. */
static int silent_listener(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Stopped against a stall: every arrival of the window is unfinished, none
 * vanishes, and the latency histogram holds their waits (up to the stop). */
static void test_stop_counts_unfinished(void **state)
{
	(void)state;
	uint16_t port;
	int fd = silent_listener(&port);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 4};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	pthread_t t;
	pthread_create(&t, NULL, stop_later, e);
	struct kc_step_result r;
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 100,
				    .duration_ns = 20 * KC_NS_PER_S};
	assert_int_equal(kc_engine_run_step(e, &spec, NULL, &r, &d), KC_OK);
	pthread_join(t, NULL);
	assert_true(r.partial);
	assert_true(r.scheduled >= 15);
	assert_int_equal(r.completed, 0);
	assert_int_equal(r.sent, 4);
	assert_int_equal(r.unfinished, r.scheduled);
	assert_int_equal(r.errclass[KC_EC_UNFINISHED], r.scheduled);
	assert_int_equal(r.errors, r.scheduled);
	assert_int_equal(r.latency.count, (int64_t)r.scheduled);
	assert_non_null(r.latency_hist);
	assert_int_equal(kc_hdr_total_count(r.latency_hist), (int64_t)r.scheduled);
	/* The first arrival waited from the step's start to the stop (300 ms). */
	assert_true(r.latency.max >= 250 && r.latency.max < 2000);
	kc_engine_reset_stop(e);
	kc_step_result_fini(&r);
	kc_engine_free(e);
	close(fd);
}

/* A drain that ends with requests left: those timed out count as timeouts,
 * the rest (never sent, or sent late) unfinished; the step ends by
 * window + timeout + 250 ms, and every arrival is an error. */
static void test_drain_counts_unfinished(void **state)
{
	(void)state;
	uint16_t port;
	int fd = silent_listener(&port);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 2,
				       .request_timeout_ns = 300 * KC_NS_PER_MS};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	struct kc_step_result r;
	struct kc_step_spec spec = {.mode = KC_STEP_RATE, .rate_rps = 40,
				    .duration_ns = 500 * KC_NS_PER_MS};
	int64_t t0 = kc_clock_ns();
	assert_int_equal(kc_engine_run_step(e, &spec, NULL, &r, &d), KC_OK);
	int64_t took = kc_clock_ns() - t0;
	assert_false(r.partial);
	/* About 1055 ms nominal (500 + 300 timeout + 250 drain); the bound only
	 * has to tell an end from a hang, on a loaded CI machine under TSan. */
	assert_true(took < 3 * KC_NS_PER_S);
	assert_true(r.scheduled >= 18 && r.scheduled <= 22);
	assert_true(r.errclass[KC_EC_TIMEOUT] >= 2);
	assert_true(r.unfinished >= 10);
	assert_int_equal(r.errclass[KC_EC_TIMEOUT] + r.unfinished, r.scheduled);
	assert_int_equal(r.errors, r.scheduled);
	assert_int_equal(r.latency.count, (int64_t)r.unfinished);
	/* Unfinished at window + 550 ms: each waited at least 550 ms. */
	assert_true(r.latency.p50 >= 500);
	kc_step_result_fini(&r);
	kc_engine_free(e);
	close(fd);
}

/* The probe calls a silent server reachable after about 250 ms, never
 * waits past the request timeout when that is shorter, and a stop ends it. */
static void test_probe_bounded(void **state)
{
	(void)state;
	uint16_t port;
	int fd = silent_listener(&port);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct kc_engine_config cfg = {.url = url, .threads = 1, .connections = 1};
	struct kc_engine *e = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	assert_int_equal(kc_engine_probe_limit_ns(e), 5 * KC_NS_PER_S);
	int status = -1;
	int64_t t0 = kc_clock_ns();
	assert_int_equal(kc_engine_probe(e, &status, &d), KC_OK);
	int64_t took = kc_clock_ns() - t0;
	assert_int_equal(status, 0);
	assert_non_null(strstr(d.msg, "had not answered"));
	assert_true(took >= 200 * KC_NS_PER_MS && took < 900 * KC_NS_PER_MS);

	/* Stopped (Ctrl-C before or during the probe): KC_EINTR at once. */
	kc_engine_stop(e);
	t0 = kc_clock_ns();
	assert_int_equal(kc_engine_probe(e, &status, &d), KC_EINTR);
	took = kc_clock_ns() - t0;
	assert_true(took < 150 * KC_NS_PER_MS);
	kc_engine_free(e);

	cfg.request_timeout_ns = 300 * KC_NS_PER_MS;
	assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_OK);
	assert_int_equal(kc_engine_probe_limit_ns(e), 300 * KC_NS_PER_MS);
	t0 = kc_clock_ns();
	assert_int_equal(kc_engine_probe(e, &status, &d), KC_OK);
	took = kc_clock_ns() - t0;
	assert_true(took < 800 * KC_NS_PER_MS);
	kc_engine_free(e);
	close(fd);
}

static void test_load_size_check(void **state)
{
	(void)state;
	struct kc_sys_limits lim = {.nofile = 1024, .memory = UINT64_C(8) << 30,
				    .memory_name = "physical memory"};
	struct kc_load_size z = {.threads = 10, .connections_per_thread = 100000,
				 .bytes = UINT64_C(1) << 30};
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_load_size_check(&z, &lim, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "10 threads x 100000 connections = 1000000 connections"));
	assert_non_null(strstr(d.msg, "open-file limit 1024 (ulimit -n"));
	/* Room for the sockets and the reserve: fine. */
	z.connections_per_thread = 90;
	assert_int_equal(kc_load_size_check(&z, &lim, &d), KC_OK);
	/* ... but not without the reserve for files and threads. */
	z.connections_per_thread = 100;
	assert_int_equal(kc_load_size_check(&z, &lim, &d), KC_EINVAL);
	/* Memory: the estimate against the named limit. */
	z.connections_per_thread = 10;
	z.bytes = UINT64_C(40) << 30;
	kc_diag_clear(&d);
	assert_int_equal(kc_load_size_check(&z, &lim, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "need about 40.0 GiB of memory, more than 8.0 GiB "
				      "(physical memory)"));
	/* Unknown limits (0) check nothing. */
	struct kc_sys_limits none = {0};
	z.connections_per_thread = 1000000;
	assert_int_equal(kc_load_size_check(&z, &none, &d), KC_OK);
	/* This process's own limits are read. */
	struct kc_sys_limits mine;
	kc_sys_limits_get(&mine);
	assert_true(mine.memory > 0 && mine.memory_name);
	/* kc_engine_new refuses before it builds a handle. */
	struct kc_engine_config cfg = {.url = "http://127.0.0.1:1/", .threads = 10,
				       .connections = 100000};
	struct kc_engine *e = NULL;
	if (mine.nofile && mine.nofile < 1000000) {
		assert_int_equal(kc_engine_new(&e, &cfg, &d), KC_EINVAL);
		assert_null(e);
		assert_non_null(strstr(d.msg, "ulimit -n"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_counts_unfinished),
		cmocka_unit_test(test_drain_counts_unfinished),
		cmocka_unit_test(test_probe_bounded),
		cmocka_unit_test(test_load_size_check),
		cmocka_unit_test(test_bodies_decorator_intervals),
		cmocka_unit_test(test_decorator_per_second),
		cmocka_unit_test(test_decorator_new_credentials),
		cmocka_unit_test(test_status_classes_and_closed_loop),
		cmocka_unit_test(test_stop_marks_partial),
		cmocka_unit_test(test_end_window_early),
	};
	/* every test once per HTTP/1.1 client: they must count alike */
	client = KC_CLIENT_NATIVE;
	int rc = cmocka_run_group_tests_name("native", tests, setup, teardown);
	client = KC_CLIENT_CURL;
	return rc | cmocka_run_group_tests_name("curl", tests, setup, teardown);
}
