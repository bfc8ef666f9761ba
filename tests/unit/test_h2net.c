/*
 * test_h2net.c - the nghttp2 client transport's write path: frames gathered
 * into the write buffer plus a frame that no longer fits must all reach the
 * socket, whatever the sizes (a full DATA frame arriving when the buffer
 * holds 16,376..16,383 bytes once failed the connection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2net_int.h"

static uint8_t body[65536];

struct src {
	size_t left;
};

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *source, void *ud)
{
	(void)s, (void)id, (void)ud;
	struct src *b = source->ptr;
	size_t n = len < b->left ? len : b->left;
	memcpy(buf, body, n);
	b->left -= n;
	if (!b->left)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void submit(nghttp2_session *s, struct src *b)
{
	static const nghttp2_nv nv[] = {
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
		NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "127.0.0.1"),
		NV(":path", "/endpoints/x/invocations"), NV("content-type", "image/jpeg"),
#undef NV
	};
	nghttp2_data_provider dp = {.source.ptr = b, .read_callback = read_body};
	assert_true(nghttp2_submit_request(s, NULL, nv, sizeof(nv) / sizeof(nv[0]), &dp, NULL) > 0);
}

/* Sends a first body of `first` bytes and a second of 40,000; returns the
 * bytes the peer received (all of them, or the test fails). */
static size_t send_two(int lfd, const struct sockaddr_storage *addr, socklen_t alen,
		       size_t first)
{
	int efd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(efd >= 0);
	nghttp2_session_callbacks *cb;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	struct kc_h2net n;
	char err[160];
	assert_int_equal(kc_h2net_open(&n, efd, &n, addr, alen, cb, NULL, err, sizeof(err)), 0);
	int peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	for (int i = 0; i < 100 && n.st != KC_H2NET_READY; i++) {
		assert_int_equal(kc_h2net_progress(&n, NULL, "127.0.0.1", err, sizeof(err)), 0);
		if (n.st != KC_H2NET_READY)
			usleep(1000);
	}
	assert_int_equal(n.st, KC_H2NET_READY);
	struct src a = {first}, b = {40000};
	submit(n.s, &a);
	submit(n.s, &b);
	size_t got = 0;
	uint8_t sink[65536];
	for (int i = 0; i < 200; i++) {
		assert_int_equal(kc_h2net_flush(&n), 0);
		ssize_t r = recv(peer, sink, sizeof(sink), MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		else if (n.woff == n.wlen && n.pend_off == n.pend_len &&
			 !nghttp2_session_want_write(n.s))
			break;
	}
	assert_int_equal(a.left, 0);
	assert_int_equal(b.left, 0);
	kc_h2net_close(&n);
	nghttp2_session_callbacks_del(cb);
	close(peer);
	close(efd);
	return got;
}

static void test_flush_any_size(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	struct sockaddr_storage addr;
	socklen_t alen = sizeof(addr);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
	/* Around one DATA frame's payload, byte by byte: one of these lands a
	 * 16,393-byte frame on a buffer that is 8 bytes short of it. */
	for (size_t first = 16200; first <= 16420; first++) {
		size_t got = send_two(lfd, &addr, alen, first);
		/* preface + SETTINGS + two HEADERS + DATA frames: more than the bodies */
		assert_true(got > first + 40000);
	}
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_any_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
