/*
 * test_scrub.c - the secret scrubber (src/aws/scrub.c): registered secrets
 * whole, as 12+ character runs at the start, middle and end, percent-
 * encoded (both cases of hex, doubly), JSON-escaped, in base64 at each byte
 * alignment (standard and URL-safe, cut short too); the credential fields
 * (Authorization, X-Amz-Security-Token, signatures); text with nothing to
 * find and short benign words left alone; the capacity cut; and scrubbing
 * on many threads while another registers (run under TSan in CI).
 * The base64 forms are built with OpenSSL's encoder, not the scrubber's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/scrub.h"
#include "scrub_int.h"

static const char SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY";
static const char TOKEN[] = "IQoJb3JpZ2luX2VjEKv//////////wEaCXVzLWVhc3QtMSJHMEUCIQDkq3nT8e+YzW"
			    "/abcXyz9F7LmQpR2Vt0sH1uNkc4Ga5bwIgQ1xR8pLm+2Vd7K3nYtWsQz9aJcE4fPbHg6iUo0lrTxsq";

static int setup(void **state)
{
	(void)state;
	kc_scrub_clear();
	assert_int_equal(kc_scrub_register(SECRET), 0);
	assert_int_equal(kc_scrub_register(TOKEN), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kc_scrub_clear();
	return 0;
}

/* Scrubs text into a fresh buffer; returns it (static, one at a time). */
static const char *scrubbed(const char *text, int *count)
{
	static char out[8192];
	int n = kc_scrub_copy(text, strlen(text), out, sizeof(out), 0);
	assert_true(n >= 0);
	if (count)
		*count = n;
	return out;
}

/* True when any KC_SCRUB_MIN_RUN-character run of s is in text. */
static bool has_run(const char *text, const char *s)
{
	size_t n = strlen(s);
	char w[KC_SCRUB_MIN_RUN + 1];
	for (size_t i = 0; i + KC_SCRUB_MIN_RUN <= n; i++) {
		memcpy(w, s + i, KC_SCRUB_MIN_RUN);
		w[KC_SCRUB_MIN_RUN] = '\0';
		if (strstr(text, w))
			return true;
	}
	return false;
}

static void test_register(void **state)
{
	(void)state;
	assert_int_equal(kc_scrub_count(), 2);
	assert_int_equal(kc_scrub_register(SECRET), 0); /* again: no-op */
	assert_int_equal(kc_scrub_count(), 2);
	assert_int_equal(kc_scrub_register("short"), KC_EINVAL);
	assert_int_equal(kc_scrub_register(NULL), KC_EINVAL);
	assert_int_equal(kc_scrub_count(), 2);
}

static void test_nothing_to_find(void **state)
{
	(void)state;
	static const char *const benign[] = {
		"",
		"ok",
		"Internal Server Error",
		"InvalidSignatureException",
		"The request signature we calculated does not match the signature you provided.",
		"Missing Authentication Token",
		"authorization failed for endpoint ep",
		"Received server error (500) from primary with message \"model crashed\"",
		"wJalrXUtnFE",           /* 11 characters of the secret: below a run */
		"EXAMPLE KEY IQoJb3 b64", /* shorter pieces */
		"0123456789abcdef0123456789abcdef",
		"aGVsbG8gd29ybGQsIHRoaXMgaXMgYmFzZTY0IG9mIG5vdGhpbmc=",
		"path /endpoints/ep/invocations?x=1&y=%2F",
	};
	for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
		int n = -1;
		assert_string_equal(scrubbed(benign[i], &n), benign[i]);
		assert_int_equal(n, 0);
	}
	/* and with nothing registered, the fields still go */
	kc_scrub_clear();
	assert_string_equal(scrubbed("plain text 12345678901234", NULL), "plain text 12345678901234");
	assert_string_equal(scrubbed("X-Amz-Security-Token: abc", NULL),
			    "X-Amz-Security-Token: " KC_SCRUB_MARK);
}

static void test_raw(void **state)
{
	(void)state;
	char text[1024];
	int n;
	snprintf(text, sizeof(text), "echo: %s and %s.", SECRET, TOKEN);
	assert_string_equal(scrubbed(text, &n), "echo: " KC_SCRUB_MARK " and " KC_SCRUB_MARK ".");
	assert_int_equal(n, 2);
	/* the secret alone, whole text */
	assert_string_equal(scrubbed(SECRET, NULL), KC_SCRUB_MARK);
	/* two copies glued together */
	snprintf(text, sizeof(text), "%s%s", TOKEN, TOKEN);
	assert_string_equal(scrubbed(text, NULL), KC_SCRUB_MARK);
}

static void test_truncated_runs(void **state)
{
	(void)state;
	const char *vals[] = {SECRET, TOKEN};
	char text[512], piece[64];
	for (int v = 0; v < 2; v++) {
		size_t n = strlen(vals[v]);
		size_t starts[] = {0, n / 2 - 6, n - 12, 0, n - 20, 7};
		size_t lens[] = {12, 12, 12, 20, 20, 13};
		for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
			snprintf(piece, sizeof(piece), "%.*s", (int)lens[k], vals[v] + starts[k]);
			snprintf(text, sizeof(text), "before %s after", piece);
			const char *out = scrubbed(text, NULL);
			assert_string_equal(out, "before " KC_SCRUB_MARK " after");
			/* at the very start and end of the text */
			assert_string_equal(scrubbed(piece, NULL), KC_SCRUB_MARK);
		}
		/* 11 characters is not a run */
		snprintf(text, sizeof(text), "x %.11s y", vals[v] + 3);
		assert_string_equal(scrubbed(text, NULL), text);
	}
}

/* Percent-encodes s: every non-alphanumeric byte, hex in the case asked. */
static void pct(const char *s, bool upper, const char *prefix, char *out)
{
	size_t w = 0;
	for (; *s; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))
			out[w++] = *s;
		else
			w += (size_t)sprintf(out + w, upper ? "%s%02X" : "%s%02x", prefix,
					     (unsigned char)*s);
	}
	out[w] = '\0';
}

static void test_url_encoded(void **state)
{
	(void)state;
	char enc[2048], text[2600];
	const char *vals[] = {SECRET, TOKEN};
	for (int v = 0; v < 2; v++) {
		for (int upper = 0; upper < 2; upper++) {
			pct(vals[v], upper, "%", enc);
			snprintf(text, sizeof(text), "GET /x?X-Amz-Foo=%s&y=1", enc);
			assert_string_equal(scrubbed(text, NULL), "GET /x?X-Amz-Foo=" KC_SCRUB_MARK "&y=1");
			/* doubly encoded (%252F) */
			pct(vals[v], upper, "%25", enc);
			snprintf(text, sizeof(text), "u=%s;", enc);
			assert_string_equal(scrubbed(text, NULL), "u=" KC_SCRUB_MARK ";");
			/* cut short: the first 30 bytes of the encoding */
			pct(vals[v], upper, "%", enc);
			snprintf(text, sizeof(text), "u=%.30s", enc);
			const char *out = scrubbed(text, NULL);
			/* at most a dangling "%2" of an escape cut in two stays */
			assert_true(!strncmp(out, "u=" KC_SCRUB_MARK, 12) && strlen(out) <= 14);
		}
	}
	/* a raw secret right after something that looks like an escape */
	snprintf(text, sizeof(text), "%%2%s|%%25%s", SECRET, TOKEN);
	const char *out = scrubbed(text, NULL);
	assert_false(has_run(out, SECRET));
	assert_false(has_run(out, TOKEN));
	/* JSON escapes: \/ and \u002b */
	snprintf(text, sizeof(text), "{\"m\": \"wJalrXUtnFEMI\\/K7MDENG\\u002bbPxRfiCYzEXAMPLEKEY\"}");
	assert_string_equal(scrubbed(text, NULL), "{\"m\": \"" KC_SCRUB_MARK "\"}");
}

static void b64(const unsigned char *in, size_t n, bool urlsafe, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	if (urlsafe)
		for (char *p = out; *p; p++)
			*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

static void test_base64(void **state)
{
	(void)state;
	const char *vals[] = {SECRET, TOKEN};
	unsigned char blob[1024];
	char enc[2048], text[2100];
	for (int v = 0; v < 2; v++) {
		size_t n = strlen(vals[v]);
		for (int align = 0; align < 3; align++)
			for (int urlsafe = 0; urlsafe < 2; urlsafe++) {
				/* the value inside a larger blob: 3k + align bytes before */
				size_t w = 0, w0;
				const char *pre = "{\"Authorisation-ish\": \"x\", \"k\":\"";
				memcpy(blob, pre, strlen(pre));
				w = strlen(pre);
				while (w % 3 != (size_t)align)
					blob[w++] = '!';
				w0 = w;
				memcpy(blob + w, vals[v], n);
				w += n;
				memcpy(blob + w, "\"}", 2);
				w += 2;
				b64(blob, w, urlsafe, enc);
				snprintf(text, sizeof(text), "data %s end", enc);
				const char *out = scrubbed(text, NULL);
				assert_non_null(strstr(out, KC_SCRUB_MARK));
				/* what survives is the blob's head and tail, not the value:
				 * no 12-run of any alignment's encoding of it is left */
				for (int a = 0; a < 3; a++) {
					unsigned char one[512];
					char e1[1024];
					memset(one, 0, 3);
					memcpy(one + a, vals[v], n);
					b64(one, n + (size_t)a, urlsafe, e1);
					size_t skip = ((size_t)a * 4 + 2) / 3 + 1;
					e1[strlen(e1) - 4] = '\0'; /* tail depends on what follows */
					assert_false(has_run(out, e1 + skip));
				}
				assert_true(strncmp(out, "data ", 5) == 0);
				assert_non_null(strstr(out, " end"));
				/* cut short: 20 characters of the value's encoding */
				snprintf(text, sizeof(text), "(%.20s)", enc + (w0 * 4 + 2) / 3 + 1);
				out = scrubbed(text, NULL);
				assert_string_equal(out, "(" KC_SCRUB_MARK ")");
			}
	}
}

static void test_fields(void **state)
{
	(void)state;
	kc_scrub_clear(); /* these need no registered secret */
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261207/us-east-1/sagemaker/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7\n"
		 "Host: x",
		 "Authorization: " KC_SCRUB_MARK "\nHost: x"},
		{"authorization=AWS4-HMAC-SHA256 Credential=A/B, SignedHeaders=host, Signature=abcdef012345 X-Amz-Date: 1",
		 "authorization=" KC_SCRUB_MARK " X-Amz-Date: 1"},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x tail", "Authorization: " KC_SCRUB_MARK " tail"},
		{"{\"Authorization\": \"Basic dXNlcjpwYXNz\"}", "{\"Authorization\": \"" KC_SCRUB_MARK "\"}"},
		{"X-Amz-Security-Token: FwoGZXIvYXdzEJr//////////wEaDM+abc\r\nX-Amz-Date: 1",
		 "X-Amz-Security-Token: " KC_SCRUB_MARK "\r\nX-Amz-Date: 1"},
		{"/p?X-Amz-Security-Token=Fwo%2Fabc%2B&X-Amz-Signature=deadbeef00&a=b",
		 "/p?X-Amz-Security-Token=" KC_SCRUB_MARK "&X-Amz-Signature=" KC_SCRUB_MARK "&a=b"},
		{"url=x%3Fx-amz-security-token%3Dabc%252F%26y", "url=x%3Fx-amz-security-token%3D" KC_SCRUB_MARK},
		{"Signature=0123abcd, next", "Signature=" KC_SCRUB_MARK ", next"},
		{"{\"SecretAccessKey\": \"abcdEFGH/1234\", \"SessionToken\":\"zzz\"}",
		 "{\"SecretAccessKey\": \"" KC_SCRUB_MARK "\", \"SessionToken\":\"" KC_SCRUB_MARK "\"}"},
		{"aws_secret_access_key = abc123\naws_session_token=def", "aws_secret_access_key = " KC_SCRUB_MARK
		 "\naws_session_token=" KC_SCRUB_MARK},
		{"{\\\"SessionToken\\\": \\\"abc\\\"}", "{\\\"SessionToken\\\": \\\"" KC_SCRUB_MARK "\\\"}"},
		/* headers quoted inside a JSON string: the escapes end values */
		{"{\"m\": \"X-Amz-Security-Token: abc/d+e=\\nAuthorization: AWS4-HMAC-SHA256 "
		 "Credential=A/B\\nHost: h\"}",
		 "{\"m\": \"X-Amz-Security-Token: " KC_SCRUB_MARK "\\nAuthorization: " KC_SCRUB_MARK
		 "\\nHost: h\"}"},
		/* names without a value are words, not fields */
		{"InvalidSignatureException: Signature expired", "InvalidSignatureException: Signature expired"},
		{"the authorization header is malformed", "the authorization header is malformed"},
		{"Authorization:", "Authorization:"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(scrubbed(cases[i].in, NULL), cases[i].want);
}

static void test_opaque_and_cap(void **state)
{
	(void)state;
	char out[64];
	const char *helper = "error: token ASIAxY7kq2Mz9PLw0RtVbNc4+/= rejected; see /var/log/x";
	assert_int_equal(kc_scrub_copy(helper, strlen(helper), out, sizeof(out), KC_SCRUB_OPAQUE), 1);
	assert_string_equal(out, "error: token " KC_SCRUB_MARK " rejected; see /var/log/x");
	assert_int_equal(kc_scrub_copy(helper, strlen(helper), out, sizeof(out), 0), 0);
	/* the marker makes text longer than the buffer: cut, terminated */
	char s[16] = "Signature=ab";
	assert_int_equal(kc_scrub_str(s, 13, 0), 1);
	assert_string_equal(s, "Signature=[r");
	/* never inside a UTF-8 sequence */
	char u[32] = "\xc3\xa9\xc3\xa9\xc3\xa9";
	assert_int_equal(kc_scrub_copy(u, strlen(u), out, 4, 0), 0);
	assert_string_equal(out, "\xc3\xa9");
	/* in place, long text (past the on-stack copy) */
	char *big = malloc(5000);
	assert_non_null(big);
	memset(big, 'z', 4999);
	memcpy(big + 4000, TOKEN, strlen(TOKEN));
	big[4999] = '\0';
	assert_int_equal(kc_scrub_str(big, 5000, 0), 1);
	assert_null(strstr(big, "IQoJb3JpZ2lu"));
	assert_non_null(strstr(big, "zzz" KC_SCRUB_MARK "zzz"));
	free(big);
}

/* ---- threads: scrubbing while secrets are registered ---- */

#define NTHREADS 4
static atomic_bool stop_flag;
static atomic_int thread_failures;

static void *scrub_loop(void *arg)
{
	(void)arg;
	char text[1024], out[1024];
	snprintf(text, sizeof(text), "403: %s / %.40s / Authorization: AWS4-HMAC-SHA256 x", TOKEN, SECRET);
	long rounds = 0;
	while (!atomic_load(&stop_flag) || rounds < 50) {
		/* cmocka's asserts may not run off the main thread: count */
		int n = kc_scrub_copy(text, strlen(text), out, sizeof(out), 0);
		if (n < 2 || has_run(out, TOKEN) || has_run(out, SECRET))
			atomic_fetch_add(&thread_failures, 1);
		if (++rounds > 200000)
			break;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	atomic_store(&stop_flag, false);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, scrub_loop, NULL), 0);
	/* a refresh thread's worth of new credentials, then more */
	char s[64];
	for (int i = 0; i < 200; i++) {
		snprintf(s, sizeof(s), "refreshedSecret%04dQx7/abcdefghijKLMNOP", i);
		assert_int_equal(kc_scrub_register(s), 0);
	}
	atomic_store(&stop_flag, true);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&thread_failures), 0);
	assert_int_equal(kc_scrub_count(), 202);
	/* every one of them is scrubbed now */
	char text[128];
	snprintf(text, sizeof(text), "x refreshedSecret0123Qx7/abcdefghijKLMNOP y");
	assert_string_equal(scrubbed(text, NULL), "x " KC_SCRUB_MARK " y");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_encoded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque_and_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
