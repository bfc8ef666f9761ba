/* test_resultdoc.c - reading result.json back (tool and schema checked),
 * and the HTML/text renderings of it (escaping, no external references). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/html.h"
#include "kneecap/resultdoc.h"
#include "resultdoc_int.h"
#include "kneecap/term.h"

static void fixture(char *out, size_t n, const char *name)
{
	const char *dir = getenv("KC_TESTDATA");
	assert_non_null(dir);
	snprintf(out, n, "%s/results/%s", dir, name);
}

static void test_load_g5(void **state)
{
	(void)state;
	char path[1024];
	struct kc_resultdoc doc;
	struct kc_diag d;
	fixture(path, sizeof(path), "g5-xlarge-50rps.json");
	assert_int_equal(kc_resultdoc_load(&doc, path, &d), KC_OK);
	assert_string_equal(doc.mode, "rps");
	assert_int_equal(doc.nsteps, 8);
	assert_true(doc.steps[0].offered == 10 && doc.steps[0].latency.p99 == 47.2);
	assert_true(doc.steps[0].service.p50 == 35.9);
	assert_false(doc.steps[3].stable);
	assert_true(doc.steps[3].errors == 14);
	assert_true(doc.has_knee && doc.knee_value == 50 && doc.knee_per_instance == 50);
	assert_true(doc.has_rec && doc.target_value == 2400);
	assert_string_equal(doc.instance_type, "ml.g5.xlarge");
	assert_true(fabs(kc_resultdoc_target_rps(&doc) - 40) < 1e-9);
	assert_true(doc.scale_out_cooldown_s == 60 && doc.scale_in_cooldown_s == 300);
	assert_true(doc.slo_ms == 500);
	assert_string_equal(kc_resultdoc_config(&doc, "search.max_rps"), "400");
	assert_int_equal(kc_resultdoc_instances(&doc), 1);
	assert_true(doc.nenv >= 5);
	kc_resultdoc_fini(&doc);
}

/* What report and plan read beyond the agreed keys: verdicts, the notes the
 * terminal printed, the bound, the apply.sh resource; a run is no search. */
static void test_load_verdicts_and_run(void **state)
{
	(void)state;
	char path[1024];
	struct kc_resultdoc doc;
	struct kc_diag d;
	fixture(path, sizeof(path), "find-verdicts.json");
	assert_int_equal(kc_resultdoc_load(&doc, path, &d), KC_OK);
	assert_true(doc.searched && doc.knee_found);
	assert_int_equal(doc.nsteps, 6);
	assert_string_equal(doc.steps[3].verdict, "throughput");
	assert_false(doc.steps[3].stable);
	assert_true(doc.steps[4].ambiguous && doc.steps[4].attempt == 0);
	assert_true(!doc.steps[5].ambiguous && doc.steps[5].attempt == 1);
	assert_true(doc.steps[3].arrived == 78.3);
	assert_string_equal(doc.knee_bound, "tested");
	assert_true(doc.nnotes == 4);
	assert_non_null(strstr(doc.notes[0], "a noisy step may have ended the search early"));
	assert_non_null(strstr(doc.why, "Why 70-80%"));
	assert_string_equal(doc.endpoint_name, "product-tagger");
	assert_string_equal(doc.variant, "AllTraffic");
	assert_true(doc.rec_min_capacity == 2 && doc.rec_max_capacity == 8);
	assert_true(doc.slo_ms == 3000);
	assert_string_equal(doc.slo_stat, "p99");
	assert_int_equal(doc.search_steps, 6);
	kc_resultdoc_fini(&doc);

	fixture(path, sizeof(path), "run-fixed-rate.json");
	assert_int_equal(kc_resultdoc_load(&doc, path, &d), KC_OK);
	assert_false(doc.searched);
	assert_false(doc.has_knee);
	assert_string_equal(doc.run_load, "rate");
	assert_true(doc.run_rate == 20);
	assert_string_equal(doc.steps[0].verdict, "");
	kc_resultdoc_fini(&doc);

	/* An older result: verdict.stable (now settled) still reads; a
	 * sagemaker: target names the endpoint for plan's apply.sh. */
	const char *old = "{\"tool\":\"kneecap\",\"schema\":1,\"mode\":\"rps\","
			  "\"target\":\"sagemaker:my-ep/blue\",\"steps\":[{\"offered\":10,"
			  "\"achieved\":10,\"latency_ms\":{\"p50\":1,\"p99\":2},"
			  "\"verdict\":{\"verdict\":\"healthy\",\"stable\":false}}]}";
	assert_int_equal(kc_resultdoc_parse(&doc, "old.json", old, strlen(old), &d), KC_OK);
	assert_true(doc.steps[0].ambiguous);
	assert_string_equal(doc.endpoint_name, "my-ep");
	assert_string_equal(doc.variant, "blue");
	kc_resultdoc_fini(&doc);
}

static void expect_refused(const char *name, int rc, const char *words)
{
	char path[1024];
	struct kc_resultdoc doc;
	struct kc_diag d;
	kc_diag_clear(&d);
	fixture(path, sizeof(path), name);
	assert_int_equal(kc_resultdoc_load(&doc, path, &d), rc);
	if (!strstr(d.msg, words))
		fail_msg("'%s' lacks '%s'", d.msg, words);
}

static void test_refuse(void **state)
{
	(void)state;
	expect_refused("other-tool.json", KC_EUNSUPPORTED, "not a kneecap result (\"tool\" is \"locust\"");
	expect_refused("newer-schema.json", KC_EUNSUPPORTED, "newer kneecap (schema 2");
	expect_refused("no-such-file.json", KC_ENOTFOUND, "no such file");
	struct kc_resultdoc doc;
	struct kc_diag d;
	static const struct {
		const char *text;
		int rc;
		const char *words;
	} bad[] = {
		{"{\"tool\": \"kneecap\",", KC_EPARSE, "not valid JSON"},
		{"[1,2]", KC_EINVAL, "not a JSON object"},
		{"{\"schema\": 1, \"mode\": \"rps\", \"steps\": []}", KC_EUNSUPPORTED, "\"tool\" is missing"},
		{"{\"tool\": \"kneecap\", \"mode\": \"rps\", \"steps\": []}", KC_EUNSUPPORTED, "schema"},
		{"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"fast\", \"steps\": []}", KC_EINVAL, "mode"},
		{"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"rps\"}", KC_EINVAL, "no \"steps\""},
		{"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"rps\", \"steps\": [{\"offered\": \"ten\"}]}",
		 KC_EINVAL, "steps[0].\"offered\" is not a number"},
		{"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"rps\", \"steps\": [{\"offered\": 1, "
		 "\"achieved\": 1}]}", KC_EINVAL, "missing object \"steps[0].latency_ms\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kc_diag_clear(&d);
		int rc = kc_resultdoc_parse(&doc, "x.json", bad[i].text, strlen(bad[i].text), &d);
		if (rc != bad[i].rc || !strstr(d.msg, bad[i].words))
			fail_msg("case %zu: rc %d msg '%s'", i, rc, d.msg);
	}
}

static void test_html_escapes_and_is_self_contained(void **state)
{
	(void)state;
	char p1[1024], p2[1024], p3[1024];
	struct kc_resultdoc docs[3];
	struct kc_diag d;
	fixture(p1, sizeof(p1), "g5-xlarge-50rps.json");
	fixture(p2, sizeof(p2), "c5-xlarge-cpu.json");
	fixture(p3, sizeof(p3), "streams-g5-2xlarge.json");
	assert_int_equal(kc_resultdoc_load(&docs[0], p1, &d), KC_OK);
	assert_int_equal(kc_resultdoc_load(&docs[1], p2, &d), KC_OK);
	assert_int_equal(kc_resultdoc_load(&docs[2], p3, &d), KC_OK);
	assert_true(isnan(kc_resultdoc_target_rps(&docs[2])));
	double price[3] = {1.4084, -1, 1.515};
	struct kc_buf b;
	kc_buf_init(&b, 16 << 20);
	assert_int_equal(kc_html_report(&b, docs, 3, price), KC_OK);
	/* markup from the file arrives escaped, never live */
	assert_null(strstr(b.data, "<script"));
	assert_null(strstr(b.data, "<img"));
	assert_null(strstr(b.data, "</td><b>"));
	assert_non_null(strstr(b.data, "&lt;script&gt;alert(&#39;host&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(b.data, "&lt;img src=x onerror=alert(1)&gt;"));
	/* nothing to fetch */
	assert_null(strstr(b.data, " src=\""));
	assert_null(strstr(b.data, " href=\""));
	assert_null(strstr(b.data, "@import"));
	assert_null(strstr(b.data, "url("));
	/* the comparison and the unknown price */
	assert_non_null(strstr(b.data, "Instance types compared"));
	assert_non_null(strstr(b.data, "price unknown"));
	assert_non_null(strstr(b.data, "prefers-color-scheme:dark"));
	assert_non_null(strstr(b.data, "9.781")); /* 1.4084 / (40 * 3600) * 1e6 */
	assert_true(!strncmp(b.data, "<!DOCTYPE html>", 15));

	kc_buf_reset(&b);
	assert_int_equal(kc_term_verdict(&b, &docs[1], -1), KC_OK);
	assert_non_null(strstr(b.data, "price unknown"));
	assert_non_null(strstr(b.data, "135.0 RPS per instance"));
	kc_buf_reset(&b);
	assert_int_equal(kc_term_compare(&b, docs, 3, price), KC_OK);
	assert_non_null(strstr(b.data, "ml.c5.xlarge"));
	assert_non_null(strstr(b.data, "9.781"));
	kc_buf_fini(&b);
	for (int i = 0; i < 3; i++)
		kc_resultdoc_fini(&docs[i]);
	assert_true(fabs(kc_html_cost_per_million(0.204, 101.25) - 0.204 / (101.25 * 3600) * 1e6) < 1e-12);
	assert_true(isnan(kc_html_cost_per_million(-1, 40)));
}

/* found: false (a search cut short, or no healthy load) is no knee; partial is read. */
static void test_partial_no_knee(void **state)
{
	(void)state;
	static const char cut[] =
		"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"rps\", \"steps\": [],"
		" \"partial\": true, \"interrupted\": \"SIGINT\","
		" \"knee\": {\"found\": false, \"healthy_up_to\": 50, \"reason\": \"interrupted\"}}";
	static const char old[] =
		"{\"tool\": \"kneecap\", \"schema\": 1, \"mode\": \"rps\", \"steps\": [],"
		" \"knee\": {\"value\": 50, \"per_instance\": 25}}";
	struct kc_resultdoc doc;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_resultdoc_parse(&doc, "cut.json", cut, strlen(cut), &d), KC_OK);
	assert_true(doc.partial);
	assert_string_equal(doc.interrupted, "SIGINT");
	assert_false(doc.knee_found);
	assert_true(doc.knee_per_instance == 0); /* nothing to plan with */
	kc_resultdoc_fini(&doc);
	assert_int_equal(kc_resultdoc_parse(&doc, "old.json", old, strlen(old), &d), KC_OK);
	assert_false(doc.partial);
	assert_true(doc.has_knee && doc.knee_found);
	assert_true(doc.knee_per_instance == 25);
	kc_resultdoc_fini(&doc);
}

/* find-verdicts.json with a confirm{} object appended. */
static void load_with_confirm(struct kc_resultdoc *doc, const char *confirm)
{
	char path[1024];
	fixture(path, sizeof(path), "find-verdicts.json");
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text) - 4096, f);
	fclose(f);
	while (n && text[n - 1] != '}')
		n--;
	assert_true(n > 0);
	n--; /* the closing brace of the document */
	n += (size_t)snprintf(text + n, sizeof(text) - n, ",\"confirm\":%s}", confirm);
	struct kc_diag d;
	assert_int_equal(kc_resultdoc_parse(doc, "confirm.json", text, n, &d), KC_OK);
}

static void test_confirm_shown(void **state)
{
	(void)state;
	struct kc_resultdoc doc;
	load_with_confirm(&doc, "{\"offered\":75,\"per_instance\":37.5,\"instances\":2,"
				"\"target_value\":2250,\"arrived\":74.8,\"achieved\":74.5,"
				"\"latency_ms\":{\"p50\":41.5,\"p90\":60,\"p99\":88.25,"
				"\"p999\":90,\"max\":99,\"mean\":45},\"errors\":0,"
				"\"duration_s\":20,\"verdict\":\"healthy\",\"healthy\":true}");
	assert_true(doc.has_confirm && doc.confirm_healthy);
	assert_int_equal(doc.confirm_instances, 2);
	assert_true(doc.confirm_latency.p99 == 88.25);
	struct kc_buf b;
	kc_buf_init(&b, 16 << 20);
	double price = -1;
	assert_int_equal(kc_html_report(&b, &doc, 1, &price), KC_OK);
	assert_non_null(strstr(b.data, "id=\"kc-confirm\""));
	assert_non_null(strstr(b.data, "TargetValue 2250 (37.50 RPS/instance &times; 2 instances = 75.00 RPS)"));
	assert_non_null(strstr(b.data, "p99 88.2 ms") ? strstr(b.data, "p99 88.2 ms") : strstr(b.data, "p99 88.3 ms"));
	assert_non_null(strstr(b.data, "the target held"));
	kc_buf_reset(&b);
	assert_int_equal(kc_term_verdict(&b, &doc, -1), KC_OK);
	assert_non_null(strstr(b.data, "confirmed: at the target"));
	kc_buf_fini(&b);
	kc_resultdoc_fini(&doc);

	load_with_confirm(&doc, "{\"offered\":7.5,\"per_instance\":7.5,\"instances\":1,"
				"\"target_value\":450,\"arrived\":7.5,\"achieved\":0.5,"
				"\"latency_ms\":{\"p50\":34.7,\"p99\":34.7},\"errors\":14,"
				"\"verdict\":\"errors\",\"healthy\":false}");
	assert_false(doc.confirm_healthy);
	kc_buf_init(&b, 16 << 20);
	assert_int_equal(kc_html_report(&b, &doc, 1, &price), KC_OK);
	assert_non_null(strstr(b.data, "did not hold the recommended target"));
	assert_null(strstr(b.data, "the target held"));
	kc_buf_fini(&b);
	kc_resultdoc_fini(&doc);

	/* A result without confirm{} (--no-confirm, run, older files) has no section. */
	char path[1024];
	struct kc_diag d;
	fixture(path, sizeof(path), "find-verdicts.json");
	assert_int_equal(kc_resultdoc_load(&doc, path, &d), KC_OK);
	assert_false(doc.has_confirm);
	kc_buf_init(&b, 16 << 20);
	assert_int_equal(kc_html_report(&b, &doc, 1, &price), KC_OK);
	assert_null(strstr(b.data, "kc-confirm"));
	kc_buf_fini(&b);
	kc_resultdoc_fini(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_g5),
		cmocka_unit_test(test_load_verdicts_and_run),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_partial_no_knee),
		cmocka_unit_test(test_html_escapes_and_is_self_contained),
		cmocka_unit_test(test_confirm_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
