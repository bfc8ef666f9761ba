/*
 * h2io.c - the server-side HTTP/2 transport shared by bidi.c and h2serve.c:
 * the non-blocking plumbing between a socket and an nghttp2 session
 * (nghttp2 does no I/O; this reads into it and writes what it produces).
 * Sockets and TLS themselves are util's net.c, shared with the engine.
 *
 * It is not a server: no accept loop, no requests, no callbacks of its own.
 */
#include "h2io_int.h"

#include "kneecap/err.h"

#include "kneecap/net.h"

#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int kc_h2io_listen(const char *addr, int *fd_out, int *port_out, struct kc_diag *d)
{
	return kc_net_listen(addr, fd_out, port_out, d);
}

int kc_h2io_tls_ctx(const char *cert_out, SSL_CTX **out, struct kc_diag *d)
{
	return kc_net_tls_server_ctx(cert_out, out, d);
}

/* ---- one connection ----------------------------------------------------------- */

int kc_h2io_open(struct kc_h2io *io, int fd, int efd, void *ep, SSL_CTX *ctx,
		 const nghttp2_session_callbacks *cb, void *ud)
{
	memset(io, 0, sizeof(*io));
	io->fd = -1;
	kc_net_nodelay(fd);
	io->hs_done = ctx == NULL;
	if (ctx && !(io->ssl = kc_net_tls_server(ctx, fd)))
		goto fail;
	if (nghttp2_session_server_new(&io->s, cb, ud))
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ep};
	if (epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	io->fd = fd;
	io->efd = efd;
	io->ep = ep;
	return 0;
fail:
	if (io->s)
		nghttp2_session_del(io->s);
	if (io->ssl)
		SSL_free(io->ssl);
	memset(io, 0, sizeof(*io));
	io->fd = -1;
	close(fd);
	return -1;
}

bool kc_h2io_readable(const struct kc_h2io *io, uint32_t ev)
{
	return (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
	       ((ev & EPOLLOUT) && io->rd_want_write);
}

/* Arms EPOLLOUT on io's socket, or disarms it. */
static void set_out(struct kc_h2io *io, bool out)
{
	kc_net_epoll_out(io->efd, io->fd, io->ep, &io->want_out, out);
}

int kc_h2io_flush(struct kc_h2io *io)
{
	if (!io->hs_done) {
		/* nghttp2's output waits for the handshake */
		set_out(io, io->rd_want_write);
		return 0;
	}
	for (;;) {
		if (io->woff < io->wlen) {
			ssize_t n = kc_net_send(io->fd, io->ssl, io->wbuf + io->woff,
						io->wlen - io->woff);
			if (n < 0)
				return -1;
			if (n == 0)
				break;
			io->woff += (size_t)n;
			continue;
		}
		io->woff = io->wlen = 0;
		const uint8_t *p;
		ssize_t n = nghttp2_session_mem_send(io->s, &p);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		KC_ASSERT((size_t)n <= sizeof(io->wbuf));
		memcpy(io->wbuf, p, (size_t)n);
		io->wlen = (size_t)n;
	}
	bool pending = io->woff < io->wlen;
	set_out(io, pending || io->rd_want_write);
	if (!pending && io->close_after_flush)
		return -1;
	if (!pending && !nghttp2_session_want_read(io->s) && !nghttp2_session_want_write(io->s))
		return -1;
	return 0;
}

/* Advances the TLS handshake: 1 just done, 0 in progress, -1 failed. */
static int handshake(struct kc_h2io *io)
{
	int r = kc_net_tls_handshake(io->ssl, &io->rd_want_write, NULL, 0);
	if (r <= 0)
		return r;
	if (!kc_net_tls_alpn_is(io->ssl, "h2"))
		return -1; /* both servers speak HTTP/2 only */
	io->hs_done = true;
	return 1;
}

int kc_h2io_read(struct kc_h2io *io)
{
	int ret = 0;
	if (!io->hs_done) {
		ret = handshake(io);
		if (ret <= 0)
			return ret;
	}
	uint8_t buf[16384];
	for (int i = 0; i < 16; i++) { /* bounded: let other connections run */
		ssize_t n = kc_net_recv(io->fd, io->ssl, buf, sizeof(buf), &io->rd_want_write);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (nghttp2_session_mem_recv(io->s, buf, (size_t)n) < 0) {
			/* Rejected: what nghttp2 queued (a GOAWAY) goes out
			 * once, best effort, before the caller closes. */
			(void)kc_h2io_flush(io);
			return -1;
		}
	}
	return ret;
}

void kc_h2io_close(struct kc_h2io *io)
{
	if (io->s)
		nghttp2_session_del(io->s);
	if (io->ssl)
		SSL_free(io->ssl);
	if (io->fd >= 0) {
		epoll_ctl(io->efd, EPOLL_CTL_DEL, io->fd, NULL);
		close(io->fd);
	}
	io->s = NULL;
	io->ssl = NULL;
	io->fd = -1;
}
