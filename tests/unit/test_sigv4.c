/* test_sigv4.c - SigV4: the 38-case v4 suite at every stage, the SageMaker
 * worked examples, the key cache, the fast path's bounds, the verifier's
 * verdicts, and that no output ever carries the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/sigv4.h"
#include "sigv4_int.h"

#define MAX_CASES 64
#define T_SUITE INT64_C(1440938160) /* 2015-08-30T12:36:00Z */
#define T_SM INT64_C(1736942400)    /* 2025-01-15T12:00:00Z */

static const char *testdata(void)
{
	const char *d = getenv("KC_TESTDATA");
	return d ? d : "tests/data";
}

/* Reads dir/name into b (cap 1 MiB); fails the test if absent. */
static void slurp(struct kc_buf *b, const char *dir, const char *name)
{
	char path[2048];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		fail_msg("path too long: %s/%s", dir, name);
	kc_buf_init(b, 1 << 20);
	int rc = kc_buf_read_file(b, path);
	if (rc)
		fail_msg("cannot read %s", path);
	if (!b->data)
		kc_buf_puts(b, "");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A request.txt parsed in place. */
struct parsed {
	struct kc_buf raw;
	char method[16];
	char path[512];
	char query[512];
	struct kc_sigv4_header h[KC_SIGV4_HEADERS_MAX];
	size_t nh;
	const char *head_text; /* header lines as in the file */
	size_t head_len;
	const char *body;
	size_t body_len;
	char request_line[1024];
};

static void parse_request(struct parsed *p, const char *dir)
{
	memset(p->h, 0, sizeof(p->h));
	p->nh = 0;
	slurp(&p->raw, dir, "request.txt");
	char *s = p->raw.data, *end = s + p->raw.len;
	char *nl = s ? memchr(s, '\n', (size_t)(end - s)) : NULL;
	if (!nl) {
		fail_msg("%s/request.txt: no request line", dir);
		return;
	}
	snprintf(p->request_line, sizeof(p->request_line), "%.*s", (int)(nl - s), s);
	/* METHOD SP URI SP HTTP/1.1 — the URI may contain raw spaces. */
	char *sp = memchr(s, ' ', (size_t)(nl - s));
	char *last = nl;
	while (last > sp && *last != ' ')
		last--;
	assert_true(sp && last > sp);
	snprintf(p->method, sizeof(p->method), "%.*s", (int)(sp - s), s);
	char *uri = sp + 1;
	size_t ulen = (size_t)(last - uri);
	char *q = memchr(uri, '?', ulen);
	size_t plen = q ? (size_t)(q - uri) : ulen;
	snprintf(p->path, sizeof(p->path), "%.*s", (int)plen, uri);
	p->query[0] = '\0';
	if (q)
		snprintf(p->query, sizeof(p->query), "%.*s",
			 (int)(ulen - plen - 1), q + 1);
	char *line = nl + 1;
	p->head_text = line;
	p->body = end;
	p->body_len = 0;
	while (line < end) {
		char *e = memchr(line, '\n', (size_t)(end - line));
		char *le = e ? e : end;
		if (le == line) { /* blank line: body follows */
			p->head_len = (size_t)(line - p->head_text);
			p->body = le + 1 <= end ? le + 1 : end;
			p->body_len = (size_t)(end - p->body);
			return;
		}
		if (*line == ' ' || *line == '\t') {
			/* continuation: extend the previous value over it */
			assert_true(p->nh > 0);
			struct kc_sigv4_header *h = &p->h[p->nh - 1];
			h->value_len = (size_t)(le - h->value);
		} else {
			char *colon = memchr(line, ':', (size_t)(le - line));
			assert_non_null(colon);
			assert_true(p->nh < KC_SIGV4_HEADERS_MAX);
			p->h[p->nh++] = (struct kc_sigv4_header){
				line, (size_t)(colon - line), colon + 1,
				(size_t)(le - colon - 1)};
		}
		line = e ? e + 1 : end;
	}
	p->head_len = (size_t)(end - p->head_text);
}

/* Returns the value of a "Name: value" line. */
static const char *line_value(const char *line)
{
	const char *v = strstr(line, ": ");
	assert_non_null(v);
	return v + 2;
}

static int run_case(const char *dir, const char *name)
{
	char cdir[1024];
	if (snprintf(cdir, sizeof(cdir), "%s/%s", dir, name) >= (int)sizeof(cdir))
		fail_msg("path too long: %s/%s", dir, name);
	struct kc_buf ctxb, want_creq, want_sts, want_sig, want_req;
	slurp(&ctxb, cdir, "context.json");
	json_error_t jerr;
	json_t *ctx = json_loads(ctxb.data, 0, &jerr);
	assert_non_null(ctx);
	json_t *cr = json_object_get(ctx, "credentials");
	const char *tok = json_string_value(json_object_get(cr, "token"));
	struct kc_sigv4_config cfg = {
		.access_key_id = json_string_value(json_object_get(cr, "access_key_id")),
		.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key")),
		.session_token = tok,
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.keep_path_segments = json_is_false(json_object_get(ctx, "normalize")),
		.sign_content_sha256 = json_is_true(json_object_get(ctx, "sign_body")),
		.omit_session_token = json_is_true(json_object_get(ctx, "omit_session_token")),
	};
	assert_string_equal(json_string_value(json_object_get(ctx, "timestamp")),
			    "2015-08-30T12:36:00Z");
	struct kc_sigv4_signer *s = NULL;
	struct kc_diag d;
	assert_int_equal(kc_sigv4_signer_new(&s, &cfg, &d), KC_OK);

	struct parsed *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	parse_request(p, cdir);
	char hash[KC_SIGV4_HEX_LEN + 1] = KC_SIGV4_EMPTY_SHA256;
	if (cfg.sign_content_sha256) {
		uint8_t h[32];
		assert_int_equal(kc_sigv4_sha256(s, p->body, p->body_len, h), 0);
		kc_sigv4_hex(h, 32, hash);
	}
	struct kc_sigv4_request req = {
		.method = p->method, .path = p->path, .query = p->query,
		.headers = p->h, .n_headers = p->nh, .payload_hash = hash,
		.time_s = T_SUITE,
	};
	static char out[KC_SIGV4_SCRATCH_BYTES];
	size_t len = 0;
	int fails = 0;

	slurp(&want_creq, cdir, "header-canonical-request.txt");
	assert_int_equal(kc_sigv4_canonical_request(s, &req, out, sizeof(out), &len, &d), 0);
	if (len != want_creq.len || memcmp(out, want_creq.data, len) != 0) {
		print_message("%s: canonical request\n got: %s\nwant: %s\n", name, out,
			      want_creq.data);
		fails++;
	}
	slurp(&want_sts, cdir, "header-string-to-sign.txt");
	assert_int_equal(kc_sigv4_string_to_sign(s, &req, out, sizeof(out), &len, &d), 0);
	if (strcmp(out, want_sts.data) != 0) {
		print_message("%s: string to sign\n got: %s\nwant: %s\n", name, out,
			      want_sts.data);
		fails++;
	}
	static char hb[KC_SIGV4_TOKEN_MAX + 1024];
	struct kc_sigv4_signed sg;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), 0);
	slurp(&want_sig, cdir, "header-signature.txt");
	if (strcmp(sg.signature, want_sig.data) != 0) {
		print_message("%s: signature %s want %s\n", name, sg.signature,
			      want_sig.data);
		fails++;
	}
	/* The signed request, laid out as the suite's harness writes it. */
	struct kc_buf got;
	kc_buf_init(&got, 1 << 20);
	kc_buf_printf(&got, "%s\n", p->request_line);
	kc_buf_append(&got, p->head_text, p->head_len);
	if (p->head_len && p->head_text[p->head_len - 1] != '\n')
		kc_buf_puts(&got, "\n");
	if (sg.token)
		kc_buf_printf(&got, "X-Amz-Security-Token:%s\n", line_value(sg.token));
	kc_buf_printf(&got, "X-Amz-Date:%s\n", line_value(sg.date));
	if (sg.content_sha256)
		kc_buf_printf(&got, "x-amz-content-sha256:%s\n",
			      line_value(sg.content_sha256));
	kc_buf_printf(&got, "Authorization:%s\n\n", line_value(sg.authorization));
	kc_buf_append(&got, p->body, p->body_len);
	slurp(&want_req, cdir, "header-signed-request.txt");
	if (got.len != want_req.len || memcmp(got.data, want_req.data, got.len)) {
		print_message("%s: signed request\n got: %s\nwant: %s\n", name,
			      got.data, want_req.data);
		fails++;
	}
	kc_buf_fini(&got);
	kc_buf_fini(&want_req);
	kc_buf_fini(&want_sig);
	kc_buf_fini(&want_sts);
	kc_buf_fini(&want_creq);
	kc_buf_fini(&p->raw);
	free(p);
	kc_sigv4_signer_free(s);
	json_decref(ctx);
	kc_buf_fini(&ctxb);
	return fails;
}

static void test_v4_suite(void **state)
{
	(void)state;
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/sigv4/v4", testdata());
	DIR *dh = opendir(dir);
	assert_non_null(dh);
	char *names[MAX_CASES];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(dh)) && n < MAX_CASES) {
		if (de->d_name[0] == '.')
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(dh);
	qsort(names, n, sizeof(names[0]), cmp_str);
	assert_int_equal(n, 38);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		int f = run_case(dir, names[i]);
		if (f)
			failed++;
		free(names[i]);
	}
	print_message("v4 suite: %zu cases, %d failed (4 stages each)\n", n, failed);
	assert_int_equal(failed, 0);
}

/* Loads sagemaker-derived/examples.json. */
static json_t *examples(void)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/sigv4/sagemaker-derived/examples.json",
		 testdata());
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	assert_non_null(j);
	return j;
}

/* Signs one examples.json request (headers minus the ones the signer adds)
 * and checks all stages. */
static void check_example(json_t *ex, const char *path, const char *hash)
{
	json_t *cr = json_object_get(ex, "credentials");
	struct kc_sigv4_config cfg = {
		.access_key_id = json_string_value(json_object_get(cr, "access_key_id")),
		.secret_access_key = json_string_value(json_object_get(cr, "secret_access_key")),
		.session_token = json_string_value(json_object_get(cr, "session_token")),
		.region = json_string_value(json_object_get(ex, "region")),
		.service = json_string_value(json_object_get(ex, "service")),
	};
	struct kc_sigv4_signer *s;
	assert_int_equal(kc_sigv4_signer_new(&s, &cfg, NULL), 0);
	json_t *rq = json_object_get(ex, "request");
	json_t *hs = json_object_get(rq, "headers");
	struct kc_sigv4_header h[16];
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(hs); i++) {
		const char *k = json_string_value(json_array_get(json_array_get(hs, i), 0));
		const char *v = json_string_value(json_array_get(json_array_get(hs, i), 1));
		/* x-amz-date / token in the example are ours to add */
		h[n++] = (struct kc_sigv4_header){k, strlen(k), v, strlen(v)};
	}
	struct kc_sigv4_request req = {
		.method = json_string_value(json_object_get(rq, "method")),
		.path = path, .headers = h, .n_headers = n, .payload_hash = hash,
		.time_s = T_SM,
	};
	char out[4096], hb[1024];
	size_t len;
	assert_int_equal(kc_sigv4_canonical_request(s, &req, out, sizeof(out), &len, NULL), 0);
	assert_string_equal(out, json_string_value(json_object_get(ex, "canonical_request")));
	assert_int_equal(kc_sigv4_string_to_sign(s, &req, out, sizeof(out), &len, NULL), 0);
	assert_string_equal(out, json_string_value(json_object_get(ex, "string_to_sign")));
	struct kc_sigv4_signed sg;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, NULL), 0);
	assert_string_equal(line_value(sg.authorization),
			    json_string_value(json_object_get(ex, "authorization")));
	assert_string_equal(sg.date, "X-Amz-Date: 20250115T120000Z");
	assert_string_equal(sg.token, "X-Amz-Security-Token: EXAMPLESESSIONTOKEN");
	assert_null(sg.content_sha256);
	kc_sigv4_signer_free(s);
}

static void test_sagemaker_examples(void **state)
{
	(void)state;
	json_t *j = examples();
	json_t *ie = json_object_get(j, "invoke_endpoint");
	check_example(ie, "/endpoints/my-endpoint/invocations",
		      json_string_value(json_object_get(ie, "payload_sha256")));
	json_t *bi = json_object_get(j, "bidirectional_stream");
	check_example(bi, json_string_value(json_object_get(json_object_get(bi, "request"), "path")),
		      KC_SIGV4_STREAMING_EVENTS);
	json_decref(j);
}

static struct kc_sigv4_signer *demo_signer(const char *token)
{
	struct kc_sigv4_config cfg = {
		.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = token, .region = "us-east-1",
		.service = "sagemaker",
	};
	struct kc_sigv4_signer *s = NULL;
	assert_int_equal(kc_sigv4_signer_new(&s, &cfg, NULL), 0);
	return s;
}

#define H(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static void test_canonical_uri_and_query(void **state)
{
	(void)state;
	struct kc_sigv4_signer *s = demo_signer(NULL);
	struct kc_sigv4_header h[] = {H("Host", "h.example"),
				      H("X-A", "  a \t b  "), H("x-a", "c")};
	struct kc_sigv4_request req = {
		.method = "GET", .path = "/a%20b//c/./d/../e f/",
		.query = "b=2&a=%2f x&a=1&c&=e&%41=%7e",
		.headers = h, .n_headers = 3,
		.payload_hash = KC_SIGV4_EMPTY_SHA256, .time_s = T_SM,
	};
	char out[2048];
	size_t len;
	assert_int_equal(kc_sigv4_canonical_request(s, &req, out, sizeof(out), &len, NULL), 0);
	/* wire %20 is encoded again; '//' and dot segments removed; the query
	 * decoded and re-encoded (%2f -> %2F, space -> %20, %41 -> A, %7e -> ~);
	 * repeated headers joined with ',' after trimall. */
	assert_string_equal(out,
		"GET\n/a%2520b/c/e%20f/\n=e&A=~&a=%2F%20x&a=1&b=2&c=\n"
		"host:h.example\nx-a:a b,c\nx-amz-date:20250115T120000Z\n\n"
		"host;x-a;x-amz-date\n" KC_SIGV4_EMPTY_SHA256);
	/* An empty path is "/" and a missing query an empty line. */
	req.path = "";
	req.query = NULL;
	req.n_headers = 1;
	assert_int_equal(kc_sigv4_canonical_request(s, &req, out, sizeof(out), &len, NULL), 0);
	assert_string_equal(out, "GET\n/\n\nhost:h.example\nx-amz-date:20250115T120000Z\n\n"
			    "host;x-amz-date\n" KC_SIGV4_EMPTY_SHA256);
	kc_sigv4_signer_free(s);
}

static void test_bounds_and_errors(void **state)
{
	(void)state;
	struct kc_sigv4_signer *s = demo_signer("TOKEN");
	struct kc_sigv4_header h[] = {H("Host", "h.example")};
	struct kc_sigv4_request req = {
		.method = "POST", .path = "/", .headers = h, .n_headers = 1,
		.payload_hash = KC_SIGV4_EMPTY_SHA256, .time_s = T_SM,
	};
	char small[64], hb[1024];
	struct kc_sigv4_signed sg;
	struct kc_diag d;
	assert_int_equal(kc_sigv4_sign(s, &req, small, sizeof(small), &sg, &d), KC_ELIMIT);
	req.n_headers = 0;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "Host"));
	req.n_headers = 1;
	req.payload_hash = NULL;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_EINVAL);
	req.payload_hash = KC_SIGV4_EMPTY_SHA256;
	req.time_s = -1;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_EINVAL);
	req.time_s = T_SM;
	/* Too many query parameters is a bounded error, not an overflow. */
	static char q[8192];
	size_t o = 0;
	for (int i = 0; i < KC_SIGV4_QUERY_MAX + 1; i++)
		o += (size_t)snprintf(q + o, sizeof(q) - o, "k%d=v&", i);
	req.query = q;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_ELIMIT);
	req.query = NULL;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), 0);
	/* Header names must be HTTP tokens: a blank, ';' or an empty name would
	 * make SignedHeaders unreadable for the verifier (found by fuzz_sigv4). */
	static const char *const bad_names[] = {"X-A ", "", "a;b", "x\x88y", "a:b"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct kc_sigv4_header hh[] = {H("Host", "h.example"),
					       {bad_names[i], strlen(bad_names[i]), "v", 1}};
		req.headers = hh;
		req.n_headers = 2;
		assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_EINVAL);
		assert_non_null(strstr(d.msg, "header 2"));
	}
	req.headers = h;
	req.n_headers = 1;
	kc_sigv4_signer_free(s);

	/* Configuration errors name the field. */
	struct kc_sigv4_config cfg = {.access_key_id = "AK", .secret_access_key = "",
				      .region = "us-east-1", .service = "x"};
	struct kc_sigv4_signer *bad = NULL;
	assert_int_equal(kc_sigv4_signer_new(&bad, &cfg, &d), KC_EINVAL);
	assert_null(bad);
	cfg.secret_access_key = "s";
	cfg.region = "us east";
	assert_int_equal(kc_sigv4_signer_new(&bad, &cfg, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "region"));
}

static void test_payload_hash(void **state)
{
	(void)state;
	char hex[65];
	assert_int_equal(kc_sigv4_payload_hash(NULL, 0, hex), 0);
	assert_string_equal(hex, KC_SIGV4_EMPTY_SHA256);
	assert_int_equal(kc_sigv4_payload_hash("{\"inputs\":\"hello\"}", 18, hex), 0);
	/* examples.json invoke_endpoint payload_sha256 */
	assert_string_equal(hex, "f501139a249d6c50826fb24ea29220a9e1c84e491842c0301984046984fb6155");
}

static void test_key_cache_across_days(void **state)
{
	(void)state;
	struct kc_sigv4_signer *a = demo_signer(NULL);
	struct kc_sigv4_header h[] = {H("Host", "h.example")};
	struct kc_sigv4_request req = {
		.method = "GET", .path = "/", .headers = h, .n_headers = 1,
		.payload_hash = KC_SIGV4_EMPTY_SHA256, .time_s = T_SM,
	};
	char hb[1024], hb2[1024];
	struct kc_sigv4_signed s1, s2;
	assert_int_equal(kc_sigv4_sign(a, &req, hb, sizeof(hb), &s1, NULL), 0);
	req.time_s = T_SM + 86400; /* next UTC day: the cached key must change */
	assert_int_equal(kc_sigv4_sign(a, &req, hb, sizeof(hb), &s1, NULL), 0);
	assert_non_null(strstr(s1.authorization, "/20250116/us-east-1/sagemaker/"));
	struct kc_sigv4_signer *b = demo_signer(NULL); /* fresh cache */
	assert_int_equal(kc_sigv4_sign(b, &req, hb2, sizeof(hb2), &s2, NULL), 0);
	assert_string_equal(s1.signature, s2.signature);
	/* New credentials drop the cached key. */
	assert_int_equal(kc_sigv4_signer_set_creds(a, "AKIDEXAMPLE", "other", NULL, NULL), 0);
	assert_int_equal(kc_sigv4_sign(a, &req, hb, sizeof(hb), &s1, NULL), 0);
	assert_string_not_equal(s1.signature, s2.signature);
	kc_sigv4_signer_free(a);
	kc_sigv4_signer_free(b);
}

/* Builds the received header list: the request's plus the signer's lines. */
static size_t received(struct kc_sigv4_header *out, const struct kc_sigv4_header *in,
		       size_t n, const struct kc_sigv4_signed *sg)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		out[k++] = in[i];
	const char *lines[] = {sg->date, sg->token, sg->content_sha256, sg->authorization};
	for (size_t i = 0; i < 4; i++) {
		if (!lines[i])
			continue;
		const char *c = strstr(lines[i], ": ");
		out[k++] = (struct kc_sigv4_header){lines[i], (size_t)(c - lines[i]),
						    c + 2, strlen(c + 2)};
	}
	return k;
}

static void test_verify(void **state)
{
	(void)state;
	struct kc_sigv4_signer *cli = demo_signer("TOKEN");
	struct kc_sigv4_signer *srv = demo_signer("TOKEN");
	struct kc_sigv4_header h[] = {H("Host", "127.0.0.1:8080"),
				      H("Content-Type", "image/jpeg"),
				      H("User-Agent", "kneecap")};
	struct kc_sigv4_request req = {
		.method = "POST", .path = "/endpoints/ep/invocations",
		.query = "a=1", .headers = h, .n_headers = 3,
		.payload_hash = KC_SIGV4_EMPTY_SHA256, .time_s = T_SM,
	};
	char hb[1024];
	struct kc_sigv4_signed sg;
	assert_int_equal(kc_sigv4_sign(cli, &req, hb, sizeof(hb), &sg, NULL), 0);
	struct kc_sigv4_header rh[8];
	struct kc_sigv4_request got = req;
	got.headers = rh;
	got.n_headers = received(rh, h, 3, &sg);
	enum kc_sigv4_verdict v;
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM + 10, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_OK);
	/* the User-Agent was not signed, so a proxy may rewrite it */
	rh[2] = (struct kc_sigv4_header)H("User-Agent", "curl");
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_OK);
	/* the body hash the server computed differs */
	got.payload_hash = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_BAD_SIGNATURE);
	got.payload_hash = req.payload_hash;
	/* skew */
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM + 301, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_SKEWED);
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM - 301, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_SKEWED);
	/* a signed header changed */
	rh[1] = (struct kc_sigv4_header)H("Content-Type", "image/png");
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_BAD_SIGNATURE);
	/* a signed header missing */
	rh[1] = (struct kc_sigv4_header)H("X-Other", "image/jpeg");
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_MISSING_HEADER);
	rh[1] = h[1];
	/* query tampered */
	got.query = "a=2";
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_BAD_SIGNATURE);
	got.query = req.query;
	/* no Authorization at all */
	size_t n = got.n_headers;
	got.n_headers = n - 1;
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_MISSING_AUTH);
	got.n_headers = n;

	/* wrong secret on the client */
	struct kc_sigv4_signer *wrong = demo_signer("TOKEN");
	assert_int_equal(kc_sigv4_signer_set_creds(wrong, "AKIDEXAMPLE", "nope", "TOKEN", NULL), 0);
	assert_int_equal(kc_sigv4_sign(wrong, &req, hb, sizeof(hb), &sg, NULL), 0);
	got.n_headers = received(rh, h, 3, &sg);
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_BAD_SIGNATURE);
	/* wrong key id */
	assert_int_equal(kc_sigv4_signer_set_creds(wrong, "AKIDOTHER", "x", "TOKEN", NULL), 0);
	assert_int_equal(kc_sigv4_sign(wrong, &req, hb, sizeof(hb), &sg, NULL), 0);
	got.n_headers = received(rh, h, 3, &sg);
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_WRONG_KEY_ID);
	/* right keys, different token */
	assert_int_equal(kc_sigv4_signer_set_creds(wrong, "AKIDEXAMPLE",
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN2", NULL), 0);
	assert_int_equal(kc_sigv4_sign(wrong, &req, hb, sizeof(hb), &sg, NULL), 0);
	got.n_headers = received(rh, h, 3, &sg);
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_BAD_TOKEN);
	kc_sigv4_signer_free(wrong);

	/* wrong region in the scope */
	struct kc_sigv4_config cfg = {.access_key_id = "AKIDEXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		.session_token = "TOKEN", .region = "eu-west-1", .service = "sagemaker"};
	struct kc_sigv4_signer *eu = NULL;
	assert_int_equal(kc_sigv4_signer_new(&eu, &cfg, NULL), 0);
	assert_int_equal(kc_sigv4_sign(eu, &req, hb, sizeof(hb), &sg, NULL), 0);
	got.n_headers = received(rh, h, 3, &sg);
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_WRONG_SCOPE);
	kc_sigv4_signer_free(eu);

	/* garbage Authorization */
	struct kc_sigv4_header g[] = {H("Host", "x"), H("X-Amz-Date", "20250115T120000Z"),
				      H("Authorization", "AWS4-HMAC-SHA256 nonsense")};
	got.headers = g;
	got.n_headers = 3;
	assert_int_equal(kc_sigv4_verify(srv, &got, T_SM, 300, &v), 0);
	assert_int_equal(v, KC_SIGV4_MALFORMED_AUTH);
	assert_non_null(kc_sigv4_verdict_str(v));
	kc_sigv4_signer_free(cli);
	kc_sigv4_signer_free(srv);
}

/* Random Authorization headers assembled from plausible pieces: the
 * verifier answers with a verdict, never crashes, never says OK. */
static void test_verify_garbage(void **state)
{
	(void)state;
	static const char *pieces[] = {
		"AWS4-HMAC-SHA256 ", "Credential=", "AKIDEXAMPLE", "/", "20250115",
		"us-east-1", "sagemaker", "aws4_request", ", ", ",", " ", "=",
		"SignedHeaders=", "host", ";", "x-amz-date", "Signature=",
		"4ba7d46fabfdc5148bc12a5bd373011b870be6cfe6aff45f40a8bb8c2819c880", "",
	};
	struct kc_sigv4_signer *srv = demo_signer(NULL);
	uint32_t rng = 7;
	char auth[512];
	for (int it = 0; it < 5000; it++) {
		size_t o = 0;
		int n = 1 + it % 14;
		for (int k = 0; k < n; k++) {
			rng = rng * 1103515245u + 12345u;
			const char *p = pieces[(rng >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			if (k == 0 && it % 3)
				p = pieces[0];
			size_t l = strlen(p);
			if (o + l >= sizeof(auth))
				break;
			memcpy(auth + o, p, l);
			o += l;
		}
		struct kc_sigv4_header h[] = {
			H("Host", "h"), H("X-Amz-Date", "20250115T120000Z"),
			{"Authorization", 13, auth, o},
		};
		struct kc_sigv4_request req = {
			.method = "GET", .path = "/", .headers = h, .n_headers = 3,
			.payload_hash = KC_SIGV4_EMPTY_SHA256,
		};
		enum kc_sigv4_verdict v = KC_SIGV4_OK;
		assert_int_equal(kc_sigv4_verify(srv, &req, T_SM, 300, &v), 0);
		assert_int_not_equal(v, KC_SIGV4_OK);
	}
	kc_sigv4_signer_free(srv);
}

/* No stage's output, and no diagnostic, may contain the secret key. */
static void test_secret_never_output(void **state)
{
	(void)state;
	static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	struct kc_sigv4_signer *s = demo_signer("SESSIONTOKEN");
	/* A header value equal to a fragment of the secret would be a false
	 * alarm; these are ordinary. */
	struct kc_sigv4_header h[] = {H("Host", "h.example"), H("Content-Type", "x/y")};
	struct kc_sigv4_request req = {
		.method = "POST", .path = "/p", .query = "q=1", .headers = h,
		.n_headers = 2, .payload_hash = KC_SIGV4_EMPTY_SHA256, .time_s = T_SM,
	};
	char out[4096], hb[1024];
	size_t len;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_sigv4_canonical_request(s, &req, out, sizeof(out), &len, &d), 0);
	assert_null(strstr(out, secret));
	assert_null(strstr(out, "EXAMPLEKEY"));
	assert_int_equal(kc_sigv4_string_to_sign(s, &req, out, sizeof(out), &len, &d), 0);
	assert_null(strstr(out, "EXAMPLEKEY"));
	struct kc_sigv4_signed sg;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), 0);
	/* scan the whole buffer, not only up to the first NUL */
	for (size_t i = 0; i + 10 <= sizeof(hb); i++)
		assert_false(memcmp(hb + i, "EXAMPLEKEY", 10) == 0);
	assert_null(strstr(d.msg, "EXAMPLEKEY"));
	/* errors don't quote secrets either */
	req.n_headers = 0;
	assert_int_equal(kc_sigv4_sign(s, &req, hb, sizeof(hb), &sg, &d), KC_EINVAL);
	assert_null(strstr(d.msg, "EXAMPLEKEY"));
	assert_null(strstr(d.msg, "SESSIONTOKEN"));
	struct kc_sigv4_config cfg = {.access_key_id = "AK", .secret_access_key = secret,
				      .session_token = "bad\ntoken", .region = "r",
				      .service = "s"};
	struct kc_sigv4_signer *bad = NULL;
	assert_int_equal(kc_sigv4_signer_new(&bad, &cfg, &d), KC_EINVAL);
	assert_null(strstr(d.msg, "EXAMPLEKEY"));
	assert_null(strstr(d.msg, "token\n"));
	kc_sigv4_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_suite),
		cmocka_unit_test(test_sagemaker_examples),
		cmocka_unit_test(test_canonical_uri_and_query),
		cmocka_unit_test(test_bounds_and_errors),
		cmocka_unit_test(test_payload_hash),
		cmocka_unit_test(test_key_cache_across_days),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_verify_garbage),
		cmocka_unit_test(test_secret_never_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
