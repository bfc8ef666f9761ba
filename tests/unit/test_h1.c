/*
 * test_h1.c - the native client's HTTP/1.1 codec (src/engine/h1.h): every
 * response is fed whole and split at every byte, and must come out the
 * same; protocol garbage is an error, a cut body is told from a cut header
 * block; request heads carry what libcurl's did.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1.h"

struct got {
	char body[4096];
	size_t len;
};

static void collect(void *ud, int status, const char *p, size_t n)
{
	(void)status;
	struct got *g = ud;
	if (g->len + n <= sizeof(g->body)) {
		memcpy(g->body + g->len, p, n);
		g->len += n;
	}
}

/* Feeds msg in pieces cut at `cut` (0: whole); returns the last verdict and
 * the bytes consumed in all. */
static int feed(struct kc_h1_resp *r, const char *msg, size_t len, size_t cut, size_t *consumed)
{
	size_t off = 0;
	int rc = KC_H1_MORE;
	*consumed = 0;
	while (off < len) {
		size_t n = cut && len - off > cut ? cut : len - off;
		size_t used = 0;
		rc = kc_h1_resp_feed(r, msg + off, n, &used);
		if (rc == KC_H1_MORE)
			used = n;
		*consumed += used;
		if (rc != KC_H1_MORE)
			return rc;
		off += n;
	}
	return rc;
}

/* Feeds msg whole, then split in two at every byte; each run must end with
 * want (and, for KC_H1_DONE, status, keep_alive and the body). */
static void check_all_splits(const char *msg, bool head, int want, int status, bool keep,
			     const char *body)
{
	size_t len = strlen(msg);
	for (size_t cut = 0; cut < len; cut++) {
		struct got g = {0};
		struct kc_h1_resp r;
		kc_h1_resp_init(&r, collect, &g);
		kc_h1_resp_begin(&r, head, true);
		size_t used = 0;
		size_t off = 0;
		int rc = KC_H1_MORE;
		/* two pieces: [0, cut) and [cut, len) */
		size_t pieces[2] = {cut, len - cut};
		for (int k = 0; k < 2 && rc == KC_H1_MORE; k++) {
			size_t u = 0;
			rc = kc_h1_resp_feed(&r, msg + off, pieces[k], &u);
			used += rc == KC_H1_MORE ? pieces[k] : u;
			off += pieces[k];
		}
		if (rc == KC_H1_MORE && want != KC_H1_MORE)
			rc = kc_h1_resp_eof(&r);
		if (rc != want)
			fail_msg("split at %zu: got %d, want %d (%s)", cut, rc, want,
				 r.why ? r.why : "");
		if (want == KC_H1_DONE) {
			assert_int_equal(used, len); /* nothing follows these responses */
			assert_int_equal(r.status, status);
			assert_int_equal(r.keep_alive, keep);
			assert_int_equal(g.len, strlen(body));
			assert_memory_equal(g.body, body, g.len);
		}
	}
}

static void test_content_length(void **state)
{
	(void)state;
	check_all_splits("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello", false,
			 KC_H1_DONE, 200, true, "hello");
	/* HTTP/1.0 without keep-alive: the connection ends with the response */
	check_all_splits("HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno", false, KC_H1_DONE,
			 404, false, "no");
}

static void test_chunked(void **state)
{
	(void)state;
	check_all_splits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: t\r\n\r\n",
			 false, KC_H1_DONE, 200, true, "hello, world");
}

static void test_interim_head_close(void **state)
{
	(void)state;
	/* 100 Continue and 103 Early Hints are skipped: the final status counts */
	check_all_splits("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
			 "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
			 false, KC_H1_DONE, 201, true, "ok");
	/* HEAD: Content-Length announces a body that does not follow */
	check_all_splits("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, KC_H1_DONE, 200,
			 true, "");
	check_all_splits("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false,
			 KC_H1_DONE, 200, false, "ok");
	/* a body delimited by the close: complete at EOF, never reusable */
	check_all_splits("HTTP/1.1 200 OK\r\n\r\nuntil the end", false, KC_H1_DONE, 200, false,
			 "until the end");
	check_all_splits("HTTP/1.1 204 No Content\r\n\r\n", false, KC_H1_DONE, 204, true, "");
	check_all_splits("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
			 false, KC_H1_DONE, 302, true, "");
}

static void test_garbage_is_proto(void **state)
{
	(void)state;
	/* cut inside the header block: a protocol error, not a response */
	check_all_splits("HTTP/1.1 200 OK\r\nContent-Len", false, KC_H1_BAD, 0, false, "");
	check_all_splits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
			 false, KC_H1_BAD, 0, false, "");
	check_all_splits("SMTP ready\r\n\r\n", false, KC_H1_BAD, 0, false, "");
	check_all_splits("HTTP/1.1 2000 OK\r\n\r\n", false, KC_H1_BAD, 0, false, "");
	check_all_splits("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", false, KC_H1_BAD,
			 0, false, "");
	/* cut inside the body: the peer reset it, the response is incomplete */
	check_all_splits("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", false, KC_H1_CUT, 0,
			 false, "");
	check_all_splits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", false,
			 KC_H1_CUT, 0, false, "");
	struct kc_h1_resp r;
	kc_h1_resp_init(&r, NULL, NULL);
	kc_h1_resp_begin(&r, false, false);
	assert_int_equal(kc_h1_resp_eof(&r), KC_H1_NOTHING);
}

static void test_oversized_headers(void **state)
{
	(void)state;
	size_t big = 2 * KC_H1_MAX_HEADER_BYTES;
	char *m = malloc(big + 64);
	assert_non_null(m);
	int n = snprintf(m, 64, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(m + n, 'a', big);
	memcpy(m + n + big, "\r\n\r\n", 5);
	struct kc_h1_resp r;
	kc_h1_resp_init(&r, NULL, NULL);
	kc_h1_resp_begin(&r, false, false);
	size_t used;
	assert_int_equal(feed(&r, m, strlen(m), 4096, &used), KC_H1_BAD);
	assert_string_equal(r.why, "response header block too large");
	/* many small headers add up the same way */
	size_t off = (size_t)snprintf(m, 64, "HTTP/1.1 200 OK\r\n");
	while (off + 8 < big)
		off += (size_t)snprintf(m + off, 16, "A: b\r\n");
	memcpy(m + off, "\r\n", 3);
	kc_h1_resp_begin(&r, false, false);
	assert_int_equal(feed(&r, m, strlen(m), 1000, &used), KC_H1_BAD);
	free(m);
}

static void test_errtype_and_reuse(void **state)
{
	(void)state;
	static const char two[] =
		"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException:http://x \r\n"
		"Content-Length: 4\r\n\r\n{\"a\"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	for (size_t cut = 1; cut < sizeof(two) - 1; cut++) {
		struct got g = {0};
		struct kc_h1_resp r;
		kc_h1_resp_init(&r, collect, &g);
		kc_h1_resp_begin(&r, false, true);
		size_t used;
		assert_int_equal(feed(&r, two, sizeof(two) - 1, cut, &used), KC_H1_DONE);
		assert_int_equal(r.status, 400);
		assert_string_equal(r.errtype, "ThrottlingException:http://x");
		assert_int_equal(g.len, 4);
		/* the second response starts right after the first one's body */
		size_t first = strlen(two) - strlen(strstr(two, "HTTP/1.1 200"));
		assert_int_equal(used, first);
		kc_h1_resp_begin(&r, false, true);
		assert_int_equal(feed(&r, two + used, sizeof(two) - 1 - used, 0, &used), KC_H1_DONE);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.errtype_len, 0);
	}
}

static void test_format_head(void **state)
{
	(void)state;
	char *hs[] = {"X-One: 1", "content-length: 99", "Accept:", "Transfer-Encoding: chunked"};
	size_t n;
	char *h = kc_h1_format_head("POST", "127.0.0.1:8080", "/a?b=1", hs, 4,
				    "Content-Type: image/jpeg", 1234, &n);
	assert_non_null(h);
	assert_int_equal(n, strlen(h));
	assert_string_equal(h, "POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-One: 1\r\n"
			       "Content-Type: image/jpeg\r\nContent-Length: 1234\r\n");
	free(h);
	char *hs2[] = {"Host: other", "Accept: application/json"};
	h = kc_h1_format_head("GET", "h", "/", hs2, 2, NULL, -1, &n);
	assert_string_equal(h, "GET / HTTP/1.1\r\nHost: other\r\nAccept: application/json\r\n");
	free(h);
	h = kc_h1_format_head("GET", "h", "/", NULL, 0, NULL, -1, &n);
	assert_string_equal(h, "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n");
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_interim_head_close),
		cmocka_unit_test(test_garbage_is_proto),
		cmocka_unit_test(test_oversized_headers),
		cmocka_unit_test(test_errtype_and_reuse),
		cmocka_unit_test(test_format_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
