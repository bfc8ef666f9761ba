/*
 * h2io.c - the server-side HTTP/2 transport shared by bidi.c and h2serve.c:
 * listening socket (serve's HTTP/1.1 face listens with it too), self-signed
 * TLS with ALPN h2, and the non-blocking plumbing between a socket and an
 * nghttp2 session (nghttp2 does no I/O; this reads into it and writes what
 * it produces).
 *
 * It is not a server: no accept loop, no requests, no callbacks of its own.
 */
#include "h2io_int.h"

#include "kneecap/clock.h"
#include "kneecap/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* ---- listening ------------------------------------------------------------ */

int kc_h2io_listen(const char *addr, int *fd_out, int *port_out, struct kc_diag *d)
{
	char host[128];
	const char *port;
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');
		if (!close_br || close_br[1] != ':' || (size_t)(close_br - addr - 1) >= sizeof(host))
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not [IPV6]:PORT", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(close_br - addr - 1), addr + 1);
		port = close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host))
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not HOST:PORT", addr);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		port = colon + 1;
	}
	char *end = NULL;
	long pv = strtol(port, &end, 10);
	if (!*port || *end || pv < 0 || pv > 65535)
		return kc_diag_set(d, KC_EINVAL, "listen address '%s': bad port", addr);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (gr != 0)
		return kc_diag_set(d, KC_EINVAL, "listen address '%s': %s (use a numeric address)",
				   addr, gai_strerror(gr));
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0) {
		freeaddrinfo(ai);
		return kc_diag_set(d, KC_EIO, "socket: %s", strerror(errno));
	}
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		int err = errno;
		freeaddrinfo(ai);
		close(fd);
		return kc_diag_set(d, KC_EIO, "cannot listen on %s: %s", addr, strerror(err));
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		int err = errno;
		close(fd);
		return kc_diag_set(d, KC_EIO, "getsockname: %s", strerror(err));
	}
	*port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
					     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return 0;
}

/* ---- TLS ------------------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	static const unsigned char h2[] = {2, 'h', '2'};
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, h2, sizeof(h2), in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* no h2: refuse */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

int kc_h2io_tls_ctx(const char *cert_out, SSL_CTX **out, struct kc_diag *d)
{
	int rc = KC_ETLS;
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!key || !x)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(kc_wall_ns() / KC_NS_PER_S));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"kneecap emulator", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
						  "DNS:localhost,IP:127.0.0.1,IP:::1");
	if (!san || !X509_add_ext(x, san, -1)) {
		X509_EXTENSION_free(san);
		goto out;
	}
	X509_EXTENSION_free(san);
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (cert_out) {
		FILE *f = fopen(cert_out, "w");
		if (!f || !PEM_write_X509(f, x) || fclose(f) != 0) {
			if (f)
				fclose(f);
			SSL_CTX_free(ctx);
			X509_free(x);
			EVP_PKEY_free(key);
			return kc_diag_set(d, KC_EIO, "%s: cannot write the certificate", cert_out);
		}
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	if (rc) {
		SSL_CTX_free(ctx);
		return kc_diag_set(d, KC_ETLS, "cannot make the emulator's TLS certificate");
	}
	*out = ctx;
	return 0;
}

/* ---- one connection ----------------------------------------------------------- */

int kc_h2io_open(struct kc_h2io *io, int fd, int efd, void *ep, SSL_CTX *ctx,
		 const nghttp2_session_callbacks *cb, void *ud)
{
	memset(io, 0, sizeof(*io));
	io->fd = -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	io->hs_done = ctx == NULL;
	if (ctx) {
		io->ssl = SSL_new(ctx);
		if (!io->ssl)
			goto fail;
		SSL_set_fd(io->ssl, fd);
		SSL_set_accept_state(io->ssl);
	}
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

/* >0 bytes written, 0 would block, -1 failed. */
static ssize_t t_send(struct kc_h2io *io, const uint8_t *p, size_t n)
{
	if (!io->ssl) {
		ssize_t r = send(io->fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return r;
	}
	ERR_clear_error();
	int r = SSL_write(io->ssl, p, (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(io->ssl, r);
	return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
}

/* >0 bytes read, 0 would block, -1 closed or failed. */
static ssize_t t_recv(struct kc_h2io *io, uint8_t *p, size_t n)
{
	if (!io->ssl) {
		ssize_t r = recv(io->fd, p, n, 0);
		if (r == 0)
			return -1;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return r;
	}
	ERR_clear_error();
	int r = SSL_read(io->ssl, p, (int)n);
	io->rd_want_write = false;
	if (r > 0)
		return r;
	int e = SSL_get_error(io->ssl, r);
	/* WANT_WRITE: kc_h2io_flush arms EPOLLOUT so the read is retried when
	 * the socket takes data, instead of waiting on input that may never
	 * come (or spinning on input that stays readable). */
	io->rd_want_write = e == SSL_ERROR_WANT_WRITE;
	return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
}

bool kc_h2io_readable(const struct kc_h2io *io, uint32_t ev)
{
	return (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
	       ((ev & EPOLLOUT) && io->rd_want_write);
}

/* Arms EPOLLOUT on io's socket, or disarms it. */
static void set_out(struct kc_h2io *io, bool out)
{
	if (out == io->want_out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = io->ep};
	epoll_ctl(io->efd, EPOLL_CTL_MOD, io->fd, &ev);
	io->want_out = out;
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
			ssize_t n = t_send(io, io->wbuf + io->woff, io->wlen - io->woff);
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
	ERR_clear_error();
	int r = SSL_do_handshake(io->ssl);
	io->rd_want_write = false;
	if (r != 1) {
		int e = SSL_get_error(io->ssl, r);
		io->rd_want_write = e == SSL_ERROR_WANT_WRITE;
		return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? 0 : -1;
	}
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	SSL_get0_alpn_selected(io->ssl, &alpn, &alen);
	if (alen != 2 || memcmp(alpn, "h2", 2) != 0)
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
		ssize_t n = t_recv(io, buf, sizeof(buf));
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
