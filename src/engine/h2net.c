/*
 * h2net.c - one nghttp2 client connection's transport (h2net_int.h):
 * non-blocking connect, optional TLS with ALPN h2, session bytes in and
 * out through a fixed write buffer, epoll interest kept to what is needed.
 *
 * Shared by streams.c and h2unary.c so the two HTTP/2 drivers have one
 * copy of the socket and TLS code.  Not here: streams, slots, timeouts,
 * accounting.  Invariant: EPOLLOUT is requested exactly while written bytes
 * wait in wbuf (or while connect/TLS needs to write).
 */
#include "h2net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "kneecap/clock.h"

ssize_t kc_h2net_send(int fd, SSL *ssl, const uint8_t *p, size_t len)
{
	if (!ssl) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return r;
	}
	ERR_clear_error();
	int r = SSL_write(ssl, p, (int)len);
	if (r > 0)
		return r;
	int e = SSL_get_error(ssl, r);
	return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
}

ssize_t kc_h2net_recv(int fd, SSL *ssl, uint8_t *p, size_t len)
{
	if (!ssl) {
		ssize_t r = recv(fd, p, len, 0);
		if (r == 0)
			return -1;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return r;
	}
	ERR_clear_error();
	int r = SSL_read(ssl, p, (int)len);
	if (r > 0)
		return r;
	int e = SSL_get_error(ssl, r);
	return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
}

void kc_h2net_want_out(struct kc_h2net *n, bool out)
{
	if (out == n->want_out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = n->tag};
	epoll_ctl(n->efd, EPOLL_CTL_MOD, n->fd, &ev);
	n->want_out = out;
}

int kc_h2net_open(struct kc_h2net *n, int efd, void *tag, const struct sockaddr_storage *addr,
		  socklen_t addrlen, const nghttp2_session_callbacks *cb, void *ud,
		  char *err, size_t errlen)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)addr, addrlen) && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	nghttp2_session *s = NULL;
	if (cb && nghttp2_session_client_new(&s, cb, ud)) {
		snprintf(err, errlen, "nghttp2: out of memory");
		close(fd);
		return -1;
	}
	if (s) {
		nghttp2_settings_entry iv[] = {
			{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
			{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
		};
		nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 2);
		nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, 1 << 24);
	}
	n->fd = fd;
	n->efd = efd;
	n->ssl = NULL;
	n->s = s;
	n->st = KC_H2NET_CONNECTING;
	n->was_ready = false;
	n->tag = tag;
	n->started_ns = kc_clock_ns();
	n->woff = n->wlen = 0;
	n->pend = NULL;
	n->pend_len = n->pend_off = 0;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = tag};
	epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
	n->want_out = true;
	return 0;
}

int kc_h2net_progress(struct kc_h2net *n, SSL_CTX *ctx, const char *host, char *err,
		      size_t errlen)
{
	if (n->st == KC_H2NET_CONNECTING) {
		int e = 0;
		socklen_t l = sizeof(e);
		if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &e, &l) || e) {
			snprintf(err, errlen, "connect: %s", strerror(e ? e : errno));
			return -1;
		}
		if (!ctx) {
			n->st = KC_H2NET_READY;
			n->was_ready = true;
			return 0;
		}
		n->ssl = SSL_new(ctx);
		if (!n->ssl) {
			snprintf(err, errlen, "TLS: out of memory");
			return -1;
		}
		SSL_set_fd(n->ssl, n->fd);
		struct in6_addr ip;
		if (inet_pton(AF_INET, host, &ip) == 1 || inet_pton(AF_INET6, host, &ip) == 1) {
			/* an address: match the certificate's IP SANs, send no SNI */
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(n->ssl), host);
		} else {
			/* the macro casts the name to void *: hand it a non-const one */
			SSL_set_tlsext_host_name(n->ssl, (char *)(uintptr_t)host);
			SSL_set1_host(n->ssl, host);
		}
		SSL_set_connect_state(n->ssl);
		n->st = KC_H2NET_TLS;
	}
	if (n->st == KC_H2NET_TLS) {
		ERR_clear_error();
		int r = SSL_do_handshake(n->ssl);
		if (r != 1) {
			int e = SSL_get_error(n->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				unsigned long oe = ERR_peek_last_error();
				char es[120];
				ERR_error_string_n(oe, es, sizeof(es));
				long vr = SSL_get_verify_result(n->ssl);
				snprintf(err, errlen, "TLS: %s%s%s",
					 oe ? es : e == SSL_ERROR_SYSCALL ? "connection closed"
									  : "handshake failed",
					 vr != X509_V_OK ? ": " : "",
					 vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
				return -1;
			}
			/* wait for what OpenSSL needs, not a writable socket in a
			 * busy loop */
			kc_h2net_want_out(n, e == SSL_ERROR_WANT_WRITE);
			return 0;
		}
		const unsigned char *alpn = NULL;
		unsigned alen = 0;
		SSL_get0_alpn_selected(n->ssl, &alpn, &alen);
		if (n->s && (alen != 2 || memcmp(alpn, "h2", 2) != 0)) {
			snprintf(err, errlen, "TLS: the server did not select ALPN h2");
			return -1;
		}
		/* HTTP/1.1: a server without ALPN speaks it too */
		if (!n->s && alen && (alen != 8 || memcmp(alpn, "http/1.1", 8) != 0)) {
			snprintf(err, errlen, "TLS: the server selected ALPN %.*s, not http/1.1",
				 (int)alen, (const char *)alpn);
			return -1;
		}
		n->st = KC_H2NET_READY;
		n->was_ready = true;
	}
	return 0;
}

int kc_h2net_read(struct kc_h2net *n)
{
	uint8_t buf[16384];
	for (int i = 0; i < 32; i++) {
		ssize_t r = kc_h2net_recv(n->fd, n->ssl, buf, sizeof(buf));
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		if (nghttp2_session_mem_recv(n->s, buf, (size_t)r) < 0)
			return -2;
	}
	return 0;
}

int kc_h2net_flush(struct kc_h2net *n)
{
	if (n->st != KC_H2NET_READY)
		return 0;
	for (;;) {
		const uint8_t *out = NULL;
		size_t *off = NULL, len = 0;
		if (n->woff < n->wlen)
			out = n->wbuf, off = &n->woff, len = n->wlen;
		else if (n->pend_off < n->pend_len)
			out = n->pend, off = &n->pend_off, len = n->pend_len;
		if (out) {
			ssize_t r = kc_h2net_send(n->fd, n->ssl, out + *off, len - *off);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
			*off += (size_t)r;
			continue;
		}
		n->woff = n->wlen = 0;
		n->pend = NULL;
		n->pend_len = n->pend_off = 0;
		/* Gather several frames into one write.  A frame that does not fit
		 * (a full DATA frame is 16 KiB + 9; a header block can be larger)
		 * goes out from nghttp2's own buffer right after these. */
		while (n->wlen < KC_H2NET_WBUF / 2) {
			const uint8_t *p;
			ssize_t r = nghttp2_session_mem_send(n->s, &p);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
			if ((size_t)r > KC_H2NET_WBUF - n->wlen) {
				n->pend = p;
				n->pend_len = (size_t)r;
				break;
			}
			memcpy(n->wbuf + n->wlen, p, (size_t)r);
			n->wlen += (size_t)r;
		}
		if (n->wlen == 0 && n->pend_len == 0)
			break;
	}
	bool pending = n->woff < n->wlen || n->pend_off < n->pend_len;
	kc_h2net_want_out(n, pending);
	if (!pending && !nghttp2_session_want_read(n->s) && !nghttp2_session_want_write(n->s))
		return -1;
	return 0;
}

void kc_h2net_close(struct kc_h2net *n)
{
	if (n->s)
		nghttp2_session_del(n->s);
	n->s = NULL;
	if (n->ssl)
		SSL_free(n->ssl);
	n->ssl = NULL;
	if (n->fd >= 0) {
		epoll_ctl(n->efd, EPOLL_CTL_DEL, n->fd, NULL);
		close(n->fd);
	}
	n->fd = -1;
	n->pend = NULL;
	n->pend_len = n->pend_off = 0;
	n->st = KC_H2NET_DEAD;
}

int kc_h2net_tls_ctx(SSL_CTX **out, bool insecure, const char *cacert, struct kc_diag *d)
{
	static const unsigned char alpn[] = {2, 'h', '2'};
	return kc_h2net_tls_ctx_alpn(out, alpn, sizeof(alpn), insecure, cacert, d);
}

int kc_h2net_tls_ctx_alpn(SSL_CTX **out, const unsigned char *alpn, unsigned alpn_len,
			  bool insecure, const char *cacert, struct kc_diag *d)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return kc_diag_set(d, KC_ETLS, "cannot create a TLS context");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_protos(ctx, alpn, alpn_len);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		*out = ctx;
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	int ok = cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL)
			: SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		SSL_CTX_free(ctx);
		return kc_diag_set(d, KC_ETLS, "cannot load CA certificates%s%s",
				   cacert ? " from " : "", cacert ? cacert : "");
	}
	*out = ctx;
	return 0;
}

/* Whether a TCP connect to a succeeds within timeout_ms (blocking poll). */
static bool accepts(const struct addrinfo *a, int timeout_ms)
{
	int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
	if (!ok && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof(err);
		ok = poll(&p, 1, timeout_ms) == 1 &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
	}
	close(fd);
	return ok;
}

int kc_h2net_resolve(const char *host, const char *port, struct sockaddr_storage *addr,
		     socklen_t *addrlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	*addrlen = 0;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	/*
	 * "localhost" is often ::1 first while the server listens on 127.0.0.1
	 * only: take the first address that accepts a connection now (a few
	 * tries, bounded), else the first one, whose failures are then counted.
	 */
	const struct addrinfo *pick = ai;
	int tries = 0;
	for (const struct addrinfo *a = ai; ai->ai_next && a && tries < 4; a = a->ai_next, tries++)
		if (accepts(a, 1000)) {
			pick = a;
			break;
		}
	memcpy(addr, pick->ai_addr, pick->ai_addrlen);
	*addrlen = pick->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}
