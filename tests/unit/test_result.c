/* test_result.c - result.json and steps.csv rendering from step results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kneecap/hdr.h"
#include "kneecap/result.h"
#include "result_int.h"
#include "kneecap/resultdoc.h"

static void fill_step(struct kc_step_result *s, int index)
{
	memset(s, 0, sizeof(*s));
	s->index = index;
	s->offered = 100.0 * (index + 1);
	s->achieved = 99.5 * (index + 1);
	s->duration_ns = INT64_C(5000000000);
	s->scheduled = 500;
	s->sent = 500;
	s->completed = 498;
	s->ok = 495;
	s->errclass[KC_EC_HTTP5XX] = 3;
	s->errclass[KC_EC_TIMEOUT] = 2;
	s->errors = 5;
	s->codes[0].code = 503;
	s->codes[0].count = 3;
	s->ncodes = 1;
	s->latency = (struct kc_latency){.p50 = 1.5, .p90 = 2.5, .p99 = 9.25, .p999 = 20,
					 .max = 31.0006, .mean = 1.75, .count = 498};
	s->service.p99 = 4.5;
	s->inflight_max = 7;
	s->lag_p99_ms = 0.125;
	s->generator_bound = index == 1;
}

static void test_json_document(void **state)
{
	(void)state;
	struct kc_step_result steps[2];
	fill_step(&steps[0], 0);
	fill_step(&steps[1], 1);
	json_t *extra = json_pack("{s:{s:f,s:s}}", "knee", "value", 150.0, "unit", "rps");
	json_t *cfg = json_pack("{s:s}", "arrival", "uniform");
	struct kc_result r = {.mode = "rps", .target = "http://127.0.0.1:1/", .config = cfg,
			      .steps = steps, .nsteps = 2, .extra = extra};
	kc_result_env_detect(&r.env);
	r.env.kneecap_version = "0.1.0";
	assert_true(r.env.cores >= 1);
	json_t *doc = kc_result_to_json(&r);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "mode")), "rps");
	assert_non_null(json_object_get(doc, "environment"));
	assert_true(json_object_get(json_object_get(doc, "knee"), "value") != NULL);
	json_t *st = json_object_get(doc, "steps");
	assert_int_equal(json_array_size(st), 2);
	json_t *s1 = json_array_get(st, 1);
	assert_true(json_real_value(json_object_get(s1, "offered")) == 200.0);
	assert_true(json_is_null(json_object_get(s1, "stable")));
	assert_true(json_is_true(json_object_get(s1, "generator_bound")));
	json_t *lat = json_object_get(s1, "latency_ms");
	assert_true(json_real_value(json_object_get(lat, "p99")) == 9.25);
	assert_true(json_real_value(json_object_get(lat, "max")) == 31.001); /* us resolution */
	assert_int_equal(json_integer_value(json_object_get(lat, "count")), 498);
	json_t *ec = json_object_get(s1, "error_classes");
	assert_int_equal(json_integer_value(json_object_get(ec, "http5xx")), 3);
	assert_int_equal(json_integer_value(json_object_get(ec, "timeout")), 2);
	assert_int_equal(json_integer_value(json_object_get(ec, "shed")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s1, "status_codes"), "503")), 3);
	assert_int_equal(json_integer_value(json_object_get(s1, "errors")), 5);
	assert_int_equal(json_integer_value(json_object_get(s1, "unfinished")), 0);
	assert_int_equal(json_integer_value(json_object_get(ec, "unfinished")), 0);
	json_decref(doc);

	struct kc_buf b;
	kc_buf_init(&b, 1 << 20);
	assert_int_equal(kc_result_json_text(&r, &b), 0);
	assert_true(b.len > 100 && b.data[b.len - 1] == '\n');
	json_error_t jerr;
	json_t *back = json_loads(b.data, 0, &jerr);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "tool")), "kneecap");
	assert_int_equal(json_integer_value(json_object_get(back, "schema")), KC_RESULT_SCHEMA);
	json_decref(back);
	/* The report side reads what the writer wrote; unjudged steps are not unstable. */
	struct kc_resultdoc rd;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_resultdoc_parse(&rd, "r.json", b.data, b.len, &d), 0);
	assert_int_equal(rd.nsteps, 2);
	assert_true(rd.steps[1].offered == 200.0);
	assert_true(rd.steps[1].latency.p99 == 9.25);
	assert_true(rd.steps[1].errors == 5);
	assert_true(rd.steps[0].stable && rd.steps[1].stable);
	assert_true(rd.has_knee && rd.knee_value == 150.0);
	kc_resultdoc_fini(&rd);
	kc_buf_fini(&b);
	/* A tiny cap is an error, not a truncated document. */
	kc_buf_init(&b, 64);
	assert_int_equal(kc_result_json_text(&r, &b), KC_ELIMIT);
	kc_buf_fini(&b);
	json_decref(extra);
	json_decref(cfg);
}

static void test_csv_rows(void **state)
{
	(void)state;
	struct kc_step_result steps[2];
	fill_step(&steps[0], 0);
	fill_step(&steps[1], 1);
	struct kc_result r = {.mode = "rps", .steps = steps, .nsteps = 2};
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_result_csv_text(&r, &b), 0);
	char *line2 = strchr(b.data, '\n') + 1;
	assert_true(strncmp(b.data, "step,offered,achieved,scheduled,completed,ok,errors,p50_ms", 58) == 0);
	assert_true(strncmp(line2, "0,100.000,99.500,500,498,495,5,1.500,2.500,9.250,20.000,31.001,", 63) == 0);
	int lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	assert_int_equal(lines, 3);
	/* arrived (scheduled / window, as printed) and the verdict close each row. */
	assert_non_null(strstr(b.data, ",partial,unfinished,arrived,verdict\n"));
	assert_non_null(strstr(line2, ",100.000,\n"));
	kc_buf_fini(&b);
	/* unfinished follows the response-stream columns; arrived and verdict
	 * close the row. */
	steps[1].unfinished = steps[1].errclass[KC_EC_UNFINISHED] = 7;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_result_csv_text(&r, &b), 0);
	assert_non_null(strstr(b.data, ",partial,unfinished,arrived,verdict\n"));
	const char *tail = ",7,100.000,\n";
	assert_true(b.len > strlen(tail) && !strcmp(b.data + b.len - strlen(tail), tail));
	kc_buf_fini(&b);

	/* A search's verdicts (step_extra) fill the column; the achieved
	 * column carries the figure the verdict was judged on. */
	steps[0].achieved = 97.04;
	json_t *extra = json_pack("[{s:b,s:{s:s}},{s:b,s:{s:s}}]", "stable", 1, "verdict",
				  "verdict", "healthy", "stable", 0, "verdict", "verdict",
				  "throughput");
	r.step_extra = extra;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_result_csv_text(&r, &b), 0);
	line2 = strchr(b.data, '\n') + 1;
	assert_true(strncmp(line2, "0,100.000,97.000,500,", 21) == 0);
	assert_non_null(strstr(line2, ",100.000,healthy\n"));
	assert_non_null(strstr(line2, ",200.000,100.000,throughput\n") ||
			strstr(line2, ",100.000,throughput\n"));
	/* ...and result.json carries the same arrived figure. */
	json_t *doc = kc_result_to_json(&r);
	json_t *s0 = json_array_get(json_object_get(doc, "steps"), 0);
	assert_true(json_real_value(json_object_get(s0, "arrived")) == 100.0);
	assert_true(json_is_true(json_object_get(s0, "stable")));
	json_decref(doc);
	kc_buf_fini(&b);
	json_decref(extra);
}

/* Response-stream steps add their keys and columns; other steps do not. */
static void test_response_stream_fields(void **state)
{
	(void)state;
	struct kc_step_result steps[2];
	fill_step(&steps[0], 0);
	fill_step(&steps[1], 1);
	struct kc_result r = {.mode = "rps", .steps = steps, .nsteps = 1};
	json_t *doc = kc_result_to_json(&r);
	json_t *s0 = json_array_get(json_object_get(doc, "steps"), 0);
	assert_null(json_object_get(s0, "ttfp_ms"));
	assert_null(json_object_get(s0, "part_gap_ms"));
	json_t *ec = json_object_get(s0, "error_classes");
	assert_int_equal(json_integer_value(json_object_get(ec, "stream")), 0);
	assert_int_equal(json_integer_value(json_object_get(ec, "model_stream")), 0);
	json_decref(doc);
	struct kc_buf b;
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_result_csv_text(&r, &b), 0);
	assert_null(strstr(b.data, "ttfp"));
	kc_buf_fini(&b);

	for (int i = 0; i < 2; i++) {
		steps[i].response_stream = true;
		steps[i].ttfp = (struct kc_latency){.p50 = 30.5, .p90 = 31, .p99 = 32, .p999 = 33,
						    .max = 34, .mean = 30.6, .count = 60};
		steps[i].ttfp_service = steps[i].ttfp;
		steps[i].part_gap = (struct kc_latency){.p50 = 20.01, .p90 = 20.1, .p99 = 20.2,
							.p999 = 20.3, .max = 20.4, .mean = 20, .count = 240};
		steps[i].parts = 300;
		steps[i].errclass[KC_EC_STREAM] = 1;
		steps[i].errclass[KC_EC_MODEL_STREAM] = 4;
	}
	r.nsteps = 2;
	doc = kc_result_to_json(&r);
	s0 = json_array_get(json_object_get(doc, "steps"), 1);
	json_t *t = json_object_get(s0, "ttfp_ms");
	assert_true(json_real_value(json_object_get(t, "p50")) == 30.5);
	assert_true(json_real_value(json_object_get(t, "max")) == 34);
	assert_non_null(json_object_get(s0, "ttfp_service_ms"));
	json_t *g = json_object_get(s0, "part_gap_ms");
	assert_true(json_real_value(json_object_get(g, "p99")) == 20.2);
	assert_int_equal(json_integer_value(json_object_get(g, "count")), 240);
	assert_int_equal(json_integer_value(json_object_get(s0, "parts")), 300);
	ec = json_object_get(s0, "error_classes");
	assert_int_equal(json_integer_value(json_object_get(ec, "model_stream")), 4);
	assert_int_equal(json_integer_value(json_object_get(ec, "stream")), 1);
	/* The keys the contract names are still there. */
	assert_non_null(json_object_get(s0, "latency_ms"));
	assert_non_null(json_object_get(s0, "ttfb_ms"));
	json_decref(doc);
	kc_buf_init(&b, 1 << 16);
	assert_int_equal(kc_result_csv_text(&r, &b), 0);
	assert_non_null(strstr(b.data, "generator_bound,partial,ttfp_p50_ms,ttfp_p90_ms,"
				       "ttfp_p99_ms,ttfp_max_ms,part_gap_p50_ms,"));
	assert_non_null(strstr(b.data, ",0,0,30.500,31.000,32.000,34.000,20.010,20.100,20.200,"
				       "20.400,1,4,0,100.000,\n"));
	kc_buf_fini(&b);
}

/* A cut-short run says so, and why; a whole one has neither key. */
static void test_partial_marks(void **state)
{
	(void)state;
	struct kc_step_result st;
	fill_step(&st, 0);
	struct kc_result r = {.mode = "rps", .steps = &st, .nsteps = 1};
	json_t *doc = kc_result_to_json(&r);
	assert_true(json_is_false(json_object_get(doc, "partial")));
	assert_null(json_object_get(doc, "interrupted"));
	assert_null(json_object_get(doc, "incomplete"));
	json_decref(doc);
	r.interrupted = "SIGTERM";
	doc = kc_result_to_json(&r);
	assert_true(json_is_true(json_object_get(doc, "partial")));
	assert_string_equal(json_string_value(json_object_get(doc, "interrupted")), "SIGTERM");
	json_decref(doc);
	r.interrupted = NULL;
	r.incomplete = "out/latency.hlog: No space left on device";
	doc = kc_result_to_json(&r);
	assert_true(json_is_true(json_object_get(doc, "partial")));
	assert_string_equal(json_string_value(json_object_get(doc, "incomplete")),
			    "out/latency.hlog: No space left on device");
	json_decref(doc);
}

/* A write that fails names the path and the OS reason, and leaves no temp file. */
static void test_write_failure_reason(void **state)
{
	(void)state;
	struct kc_step_result st;
	fill_step(&st, 0);
	struct kc_result r = {.mode = "rps", .steps = &st, .nsteps = 1};
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_result_write_json(&r, "/nonexistent-kc-dir/result.json", &d), KC_EIO);
	assert_non_null(strstr(d.msg, "/nonexistent-kc-dir/result.json: No such file or directory"));
	kc_diag_clear(&d);
	assert_int_equal(kc_result_write_csv(&r, "/nonexistent-kc-dir/steps.csv", &d), KC_EIO);
	assert_non_null(strstr(d.msg, "/nonexistent-kc-dir/steps.csv: No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_csv_rows),
		cmocka_unit_test(test_response_stream_fields),
		cmocka_unit_test(test_partial_marks),
		cmocka_unit_test(test_write_failure_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
