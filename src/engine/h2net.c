/*
 * h2net.c - one nghttp2 client connection's transport (h2net_int.h):
 * non-blocking connect, optional TLS with ALPN h2, session bytes in and
 * out through a fixed write buffer, epoll interest kept to what is needed.
 *
 * Shared by streams.c, h2unary.c and h1unary.c; the socket and TLS calls
 * themselves are util's net.h, which the emulator's servers use too.  Not
 * here: streams, slots, timeouts, accounting.  Invariant: EPOLLOUT is requested exactly while written bytes
 * wait in wbuf (or while connect/TLS needs to write).
 */
#include "h2net_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "kneecap/clock.h"
#include "kneecap/net.h"

void kc_h2net_want_out(struct kc_h2net *n, bool out)
{
	kc_net_epoll_out(n->efd, n->fd, n->tag, &n->want_out, out);
}

int kc_h2net_open(struct kc_h2net *n, int efd, void *tag, const struct sockaddr_storage *addr,
		  socklen_t addrlen, const nghttp2_session_callbacks *cb, void *ud,
		  char *err, size_t errlen)
{
	int fd = kc_net_connect(addr, addrlen, err, errlen);
	if (fd < 0)
		return -1;
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
		if (kc_net_connect_result(n->fd, err, errlen))
			return -1;
		if (!ctx) {
			n->st = KC_H2NET_READY;
			n->was_ready = true;
			return 0;
		}
		n->ssl = kc_net_tls_client(ctx, n->fd, host);
		if (!n->ssl) {
			snprintf(err, errlen, "TLS: out of memory");
			return -1;
		}
		n->st = KC_H2NET_TLS;
	}
	if (n->st == KC_H2NET_TLS) {
		bool ww;
		int r = kc_net_tls_handshake(n->ssl, &ww, err, errlen);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* wait for what OpenSSL needs, not a writable socket in a
			 * busy loop */
			kc_h2net_want_out(n, ww);
			return 0;
		}
		const unsigned char *alpn;
		unsigned alen;
		kc_net_tls_alpn(n->ssl, &alpn, &alen);
		if (n->s && !kc_net_tls_alpn_is(n->ssl, "h2")) {
			snprintf(err, errlen, "TLS: the server did not select ALPN h2");
			return -1;
		}
		/* HTTP/1.1: a server without ALPN speaks it too */
		if (!n->s && alen && !kc_net_tls_alpn_is(n->ssl, "http/1.1")) {
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
		ssize_t r = kc_net_recv(n->fd, n->ssl, buf, sizeof(buf), NULL);
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
			ssize_t r = kc_net_send(n->fd, n->ssl, out + *off, len - *off);
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
	return kc_net_tls_client_ctx(out, alpn, sizeof(alpn), insecure, cacert, d);
}
