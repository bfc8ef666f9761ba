/* test_net.c - util's shared pieces below the engine and the emulator:
 * the URL and host:port parser, the name rule, and sockets and TLS (net.h)
 * over loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kneecap/err.h"
#include "kneecap/net.h"
#include "kneecap/parse.h"
#include "kneecap/url.h"

static void test_url_parse(void **state)
{
	(void)state;
	struct kc_url u;
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_url_parse("http://127.0.0.1:8080/a/b?x=1&y", &u, &d), 0);
	assert_false(u.https);
	assert_string_equal(u.hostport, "127.0.0.1:8080");
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.path, "/a/b");
	assert_string_equal(u.query, "x=1&y");
	assert_int_equal(kc_url_parse("https://[::1]/p", &u, &d), 0);
	assert_true(u.https);
	assert_string_equal(u.hostport, "[::1]");
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "443");
	assert_string_equal(u.path, "/p");
	assert_string_equal(u.query, "");
	assert_int_equal(kc_url_parse("https://[::1]:8443", &u, &d), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.path, "/");
	assert_int_equal(kc_url_parse("http://example.com", &u, &d), 0);
	assert_string_equal(u.port, "80");
	assert_int_equal(kc_url_parse("ftp://x/", &u, &d), KC_EINVAL);
	assert_non_null(strstr(d.msg, "want http:// or https://"));
	assert_int_equal(kc_url_parse("HTTP://x/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http:///p", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://:80/p", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://h:123456789/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse(NULL, &u, &d), KC_EINVAL);
	/* Malformed authorities are refused, not sent somewhere else. */
	assert_int_equal(kc_url_parse("http://::1/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://[::1/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://[::1]x/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://h:/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://h:abc/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://h:0/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://h:65536/", &u, &d), KC_EINVAL);
	assert_int_equal(kc_url_parse("http://u:pw@h/", &u, &d), KC_EINVAL);
	assert_null(strstr(d.msg, "pw"));
	/* ... also when the host is too long to be one (that message quotes the URL). */
	char longa[400] = "http://u:pw@";
	memset(longa + 12, 'h', 300);
	longa[312] = '\0';
	assert_int_equal(kc_url_parse(longa, &u, &d), KC_EINVAL);
	assert_null(strstr(d.msg, "pw"));
	/* A query with no path, and a fragment, are where RFC 3986 puts them. */
	assert_int_equal(kc_url_parse("http://h:8080?x=1#frag", &u, &d), 0);
	assert_string_equal(u.host, "h");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.path, "/");
	assert_string_equal(u.query, "x=1");
	assert_int_equal(kc_url_parse("http://h/p#f?notquery", &u, &d), 0);
	assert_string_equal(u.path, "/p");
	assert_string_equal(u.query, "");
	assert_int_equal(kc_url_parse("http://h:65535/", &u, &d), 0);
	char longp[700] = "http://h/";
	memset(longp + 9, 'a', 600);
	longp[609] = '\0';
	assert_int_equal(kc_url_parse(longp, &u, &d), KC_EINVAL);
	assert_true(kc_url_is_http("https://x"));
	assert_false(kc_url_is_http("sagemaker:ep"));
	assert_false(kc_url_is_http(NULL));
}

static void test_hostport(void **state)
{
	(void)state;
	char h[16], p[8];
	assert_int_equal(kc_url_split_hostport("a.b:81", "80", h, sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "a.b");
	assert_string_equal(p, "81");
	assert_int_equal(kc_url_split_hostport("[fe80::1]", "443", h, sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "fe80::1");
	assert_string_equal(p, "443");
	assert_int_equal(kc_url_split_hostport("", "80", h, sizeof(h), p, sizeof(p)), -1);
	assert_int_equal(kc_url_split_hostport("a-very-long-host-name", "80", h, sizeof(h), p,
					       sizeof(p)), -1);
	struct kc_diag d;
	kc_diag_clear(&d);
	assert_int_equal(kc_url_listen_addr("[::]:0", h, sizeof(h), p, sizeof(p), &d), 0);
	assert_string_equal(h, "::");
	assert_string_equal(p, "0");
	assert_int_equal(kc_url_listen_addr(":9000", h, sizeof(h), p, sizeof(p), &d), 0);
	assert_string_equal(h, "");
	assert_int_equal(kc_url_listen_addr("127.0.0.1", h, sizeof(h), p, sizeof(p), &d),
			 KC_EINVAL);
	assert_int_equal(kc_url_listen_addr("127.0.0.1:70000", h, sizeof(h), p, sizeof(p), &d),
			 KC_EINVAL);
	assert_int_equal(kc_url_listen_addr("[::1]9", h, sizeof(h), p, sizeof(p), &d), KC_EINVAL);
}

static void test_name(void **state)
{
	(void)state;
	assert_true(kc_name_ok("my-endpoint-1", 63));
	assert_true(kc_name_ok("a--b", 63));
	assert_false(kc_name_ok("", 63));
	assert_false(kc_name_ok("-a", 63));
	assert_false(kc_name_ok("a-", 63));
	assert_false(kc_name_ok("a_b", 63));
	assert_false(kc_name_ok("a\xc3\xa9", 63));
	assert_true(kc_name_ok("abcd", 4));
	assert_false(kc_name_ok("abcde", 4));
}

/* A listener on loopback and a connected, accepted pair of non-blocking
 * sockets. */
static void pair(int *lfd, int *cfd, int *sfd)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	int port;
	assert_int_equal(kc_net_listen("127.0.0.1:0", lfd, &port, &d), 0);
	char ps[8];
	snprintf(ps, sizeof(ps), "%d", port);
	struct sockaddr_storage a;
	socklen_t al;
	assert_int_equal(kc_net_resolve("127.0.0.1", ps, &a, &al), 0);
	char err[160];
	*cfd = kc_net_connect(&a, al, err, sizeof(err));
	assert_true(*cfd >= 0);
	struct pollfd p = {.fd = *lfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	*sfd = accept4(*lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(*sfd >= 0);
	p = (struct pollfd){.fd = *cfd, .events = POLLOUT};
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(kc_net_connect_result(*cfd, err, sizeof(err)), 0);
}

static void test_plain_io(void **state)
{
	(void)state;
	int lfd, cfd, sfd;
	pair(&lfd, &cfd, &sfd);
	uint8_t buf[16];
	assert_int_equal(kc_net_recv(sfd, NULL, buf, sizeof(buf), NULL), 0); /* would block */
	assert_int_equal(kc_net_send(cfd, NULL, (const uint8_t *)"ping", 4), 4);
	struct pollfd p = {.fd = sfd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(kc_net_recv(sfd, NULL, buf, sizeof(buf), NULL), 4);
	assert_memory_equal(buf, "ping", 4);
	close(cfd);
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(kc_net_recv(sfd, NULL, buf, sizeof(buf), NULL), -1); /* closed */
	close(sfd);
	close(lfd);
	/* nothing listens there now: the connect fails, now or once writable */
	struct sockaddr_storage a;
	socklen_t al;
	assert_int_equal(kc_net_resolve("127.0.0.1", "1", &a, &al), 0);
	char err[160] = "";
	int fd = kc_net_connect(&a, al, err, sizeof(err));
	if (fd >= 0) {
		p = (struct pollfd){.fd = fd, .events = POLLOUT};
		assert_int_equal(poll(&p, 1, 2000), 1);
		assert_int_equal(kc_net_connect_result(fd, err, sizeof(err)), -1);
		close(fd);
	}
	assert_non_null(strstr(err, "connect: "));
}

/* Runs both handshakes until each is done or failed (bounded). */
static void handshake(SSL *c, SSL *s, int *rc, int *rs, char *err, size_t errlen)
{
	*rc = *rs = 0;
	bool ww;
	for (int i = 0; i < 2000 && (*rc == 0 || *rs == 0); i++) {
		if (*rc == 0)
			*rc = kc_net_tls_handshake(c, &ww, err, errlen);
		if (*rs == 0)
			*rs = kc_net_tls_handshake(s, &ww, NULL, 0);
		if (*rc < 0 || *rs < 0)
			break;
		usleep(500);
	}
}

static void test_tls(void **state)
{
	(void)state;
	struct kc_diag d;
	kc_diag_clear(&d);
	SSL_CTX *sctx, *cctx, *vctx;
	assert_int_equal(kc_net_tls_server_ctx(NULL, &sctx, &d), 0);
	static const unsigned char h2[] = {2, 'h', '2'};
	assert_int_equal(kc_net_tls_client_ctx(&cctx, h2, sizeof(h2), true, NULL, &d), 0);
	assert_int_equal(kc_net_tls_client_ctx(&vctx, h2, sizeof(h2), false, NULL, &d), 0);
	assert_int_equal(kc_net_tls_client_ctx(&vctx, h2, sizeof(h2), false, "/nonexistent", &d),
			 KC_ETLS);

	/* insecure client: ALPN h2 agreed, bytes flow both ways */
	int lfd, cfd, sfd;
	pair(&lfd, &cfd, &sfd);
	SSL *c = kc_net_tls_client(cctx, cfd, "localhost");
	SSL *s = kc_net_tls_server(sctx, sfd);
	assert_non_null(c);
	assert_non_null(s);
	int rc, rs;
	char err[200] = "";
	handshake(c, s, &rc, &rs, err, sizeof(err));
	assert_int_equal(rc, 1);
	assert_int_equal(rs, 1);
	assert_true(kc_net_tls_alpn_is(c, "h2"));
	assert_false(kc_net_tls_alpn_is(c, "http/1.1"));
	uint8_t buf[32];
	bool ww = true;
	assert_int_equal(kc_net_recv(sfd, s, buf, sizeof(buf), &ww), 0);
	assert_false(ww);
	assert_int_equal(kc_net_send(cfd, c, (const uint8_t *)"hello", 5), 5);
	ssize_t n = 0;
	for (int i = 0; i < 200 && n == 0; i++, usleep(1000))
		n = kc_net_recv(sfd, s, buf, sizeof(buf), &ww);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	SSL_free(c);
	SSL_free(s);
	close(cfd);
	close(sfd);
	close(lfd);

	/* verifying client against a self-signed server: a TLS error that says why */
	pair(&lfd, &cfd, &sfd);
	c = kc_net_tls_client(vctx, cfd, "127.0.0.1");
	s = kc_net_tls_server(sctx, sfd);
	handshake(c, s, &rc, &rs, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "TLS: "));
	assert_non_null(strstr(err, "certificate"));
	SSL_free(c);
	SSL_free(s);
	close(cfd);
	close(sfd);
	close(lfd);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(vctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_plain_io),
		cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
