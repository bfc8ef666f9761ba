/*
 * net.c - sockets and TLS shared by the engine's clients and the
 * emulator's servers (net.h).  Stateless helpers: the callers own their
 * connections, epoll sets and buffers.
 */
#include "kneecap/net.h"

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
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "kneecap/clock.h"
#include "kneecap/err.h"
#include "kneecap/url.h"

/* ---- sockets ---- */

void kc_net_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int kc_net_connect(const struct sockaddr_storage *addr, socklen_t addrlen, char *err,
		   size_t errlen)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	kc_net_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)addr, addrlen) && errno != EINPROGRESS) {
		snprintf(err, errlen, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int kc_net_connect_result(int fd, char *err, size_t errlen)
{
	int e = 0;
	socklen_t l = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) || e) {
		snprintf(err, errlen, "connect: %s", strerror(e ? e : errno));
		return -1;
	}
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

int kc_net_resolve(const char *host, const char *port, struct sockaddr_storage *addr,
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

int kc_net_listen(const char *addr, int *fd_out, int *port_out, struct kc_diag *d)
{
	char host[128], port[8];
	int rc = kc_url_listen_addr(addr, host, sizeof(host), port, sizeof(port), d);
	if (rc)
		return rc;
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

/* ---- I/O ---- */

ssize_t kc_net_send(int fd, SSL *ssl, const uint8_t *p, size_t len)
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

ssize_t kc_net_recv(int fd, SSL *ssl, uint8_t *p, size_t len, bool *want_write)
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
	int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
	/* WANT_WRITE: the caller waits for the socket to take data and reads
	 * again then, instead of waiting on input that may never come. */
	if (want_write)
		*want_write = e == SSL_ERROR_WANT_WRITE;
	if (r > 0)
		return r;
	return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : -1;
}

/* ---- TLS ---- */

int kc_net_tls_client_ctx(SSL_CTX **out, const unsigned char *alpn, unsigned alpn_len,
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

static int alpn_select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
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

/* A self-signed certificate for key, for the loopback names, a day long. */
static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
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
	bool ok = san && X509_add_ext(x, san, -1) && X509_sign(x, key, EVP_sha256());
	X509_EXTENSION_free(san);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int kc_net_tls_server_ctx(const char *cert_out, SSL_CTX **out, struct kc_diag *d)
{
	int rc = KC_ETLS;
	SSL_CTX *ctx = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? self_signed(key) : NULL;
	if (!x)
		goto out;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		goto out;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_h2, NULL);
	if (cert_out) {
		FILE *f = fopen(cert_out, "w");
		bool ok = f && PEM_write_X509(f, x);
		/* fclose once, whatever the write did: its failure is a write failure too. */
		if (f && fclose(f) != 0)
			ok = false;
		if (!ok) {
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

SSL *kc_net_tls_client(SSL_CTX *ctx, int fd, const char *host)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	SSL_set_fd(ssl, fd);
	struct in6_addr ip;
	if (inet_pton(AF_INET, host, &ip) == 1 || inet_pton(AF_INET6, host, &ip) == 1) {
		/* an address: match the certificate's IP SANs, send no SNI */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		/* the macro casts the name to void *: hand it a non-const one */
		SSL_set_tlsext_host_name(ssl, (char *)(uintptr_t)host);
		SSL_set1_host(ssl, host);
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

SSL *kc_net_tls_server(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	SSL_set_fd(ssl, fd);
	SSL_set_accept_state(ssl);
	return ssl;
}

int kc_net_tls_handshake(SSL *ssl, bool *want_write, char *err, size_t errlen)
{
	ERR_clear_error();
	int r = SSL_do_handshake(ssl);
	*want_write = false;
	if (r == 1)
		return 1;
	int e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_write = e == SSL_ERROR_WANT_WRITE;
		return 0;
	}
	if (err) {
		unsigned long oe = ERR_peek_last_error();
		char es[120];
		ERR_error_string_n(oe, es, sizeof(es));
		long vr = SSL_get_verify_result(ssl);
		snprintf(err, errlen, "TLS: %s%s%s",
			 oe ? es : e == SSL_ERROR_SYSCALL ? "connection closed" : "handshake failed",
			 vr != X509_V_OK ? ": " : "",
			 vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
	}
	return -1;
}

void kc_net_tls_alpn(const SSL *ssl, const unsigned char **p, unsigned *len)
{
	*p = NULL;
	*len = 0;
	SSL_get0_alpn_selected(ssl, p, len);
}

bool kc_net_tls_alpn_is(const SSL *ssl, const char *proto)
{
	const unsigned char *p;
	unsigned len;
	kc_net_tls_alpn(ssl, &p, &len);
	return len == strlen(proto) && memcmp(p, proto, len) == 0;
}
