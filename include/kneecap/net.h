/*
 * net.h - sockets and TLS for both sides of the wire: the load engine's
 * clients (h1unary.c, h2net.c) and the emulator's HTTP/2 servers (h2io.c).
 *
 * One copy of what both do the same way: non-blocking connect and listen,
 * TCP_NODELAY, OpenSSL contexts and sessions (client: SNI, ALPN,
 * verification; server: a self-signed certificate with ALPN h2), the
 * handshake step, and non-blocking send/recv that map OpenSSL's
 * WANT_READ/WANT_WRITE to "would block".  It holds no state of its own and
 * allocates nothing per call: the per-request path is one send or recv.
 *
 * In the util layer but its own library (kc_net, src/util/meson.build) so
 * util's other users do not link OpenSSL.  Nothing here blocks except
 * kc_net_resolve (run at set-up, never during a step).
 */
#ifndef KNEECAP_NET_H
#define KNEECAP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct kc_diag;

/* ---- sockets ---- */

/* Opens a non-blocking TCP socket with TCP_NODELAY and starts connecting
 * to addr; returns the fd, or -1 with "socket: ..." / "connect: ..." in err. */
int kc_net_connect(const struct sockaddr_storage *addr, socklen_t addrlen, char *err,
		   size_t errlen);

/* Whether the connect started by kc_net_connect succeeded (call once the
 * socket is writable): 0, or -1 with "connect: REASON" in err. */
int kc_net_connect_result(int fd, char *err, size_t errlen);

/* Sets TCP_NODELAY on fd (best effort: a failure changes timing only). */
void kc_net_nodelay(int fd);

/* Resolves host:port (blocking getaddrinfo) to the first of its addresses
 * that accepts a TCP connection (1 s each, at most 4 tried; the first
 * address when none does); 0, or -1 with *addrlen 0. */
int kc_net_resolve(const char *host, const char *port, struct sockaddr_storage *addr,
		   socklen_t *addrlen);

/*
 * Listens on addr ("HOST:PORT", "[V6]:PORT"; numeric; port 0 picks one)
 * with a non-blocking socket.  Returns 0 and sets *fd_out and *port_out,
 * or KC_EINVAL (bad address) / KC_EIO with d saying why.
 */
int kc_net_listen(const char *addr, int *fd_out, int *port_out, struct kc_diag *d);

/* Asks the epoll set efd for EPOLLOUT on fd (besides EPOLLIN) or stops
 * asking; *armed is what is asked now (no syscall when it does not change).
 * Inline: every flush of every connection calls it. */
static inline void kc_net_epoll_out(int efd, int fd, void *tag, bool *armed, bool out)
{
	if (out == *armed)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = tag};
	epoll_ctl(efd, EPOLL_CTL_MOD, fd, &ev);
	*armed = out;
}

/* ---- I/O ---- */

/* Non-blocking send through TLS when ssl is set (fd and ssl borrowed):
 * >0 bytes, 0 would block (EAGAIN, or TLS wants to read or write), -1 failed. */
ssize_t kc_net_send(int fd, SSL *ssl, const uint8_t *p, size_t len);

/* Non-blocking recv through TLS when ssl is set: >0 bytes, 0 would block,
 * -1 closed or failed.  With TLS, *want_write (when not NULL) says whether
 * the read waits for the socket to take a write (SSL_ERROR_WANT_WRITE). */
ssize_t kc_net_recv(int fd, SSL *ssl, uint8_t *p, size_t len, bool *want_write);

/* ---- TLS ---- */

/*
 * A client TLS context offering the ALPN list alpn (wire format, alpn_len
 * bytes), TLS 1.2 or later, verifying the peer against cacert (NULL: the
 * system store) unless insecure.  Returns 0 with *out owned by the caller
 * (SSL_CTX_free), or KC_ETLS.
 */
int kc_net_tls_client_ctx(SSL_CTX **out, const unsigned char *alpn, unsigned alpn_len,
			  bool insecure, const char *cacert, struct kc_diag *d);

/*
 * A TLS server context with a fresh self-signed P-256 certificate for
 * localhost, 127.0.0.1 and ::1, valid for a day, that only agrees to ALPN
 * h2.  The certificate's PEM is written to cert_out when not NULL.  Returns
 * 0 and sets *out (caller frees with SSL_CTX_free), or KC_ETLS / KC_EIO.
 */
int kc_net_tls_server_ctx(const char *cert_out, SSL_CTX **out, struct kc_diag *d);

/* A client session on fd for host: SNI and name verification for a name,
 * IP-SAN verification and no SNI for an address.  NULL when out of memory. */
SSL *kc_net_tls_client(SSL_CTX *ctx, int fd, const char *host);

/* A server session on the accepted fd.  NULL when out of memory. */
SSL *kc_net_tls_server(SSL_CTX *ctx, int fd);

/*
 * Advances the handshake: 1 done, 0 in progress (*want_write says whether
 * it waits for the socket to take a write rather than for input), -1
 * failed, with "TLS: REASON" (OpenSSL's error, the verification result) in
 * err when err is not NULL.
 */
int kc_net_tls_handshake(SSL *ssl, bool *want_write, char *err, size_t errlen);

/* The ALPN protocol the handshake selected (*len 0: none; *p is OpenSSL's). */
void kc_net_tls_alpn(const SSL *ssl, const unsigned char **p, unsigned *len);

/* Whether the handshake selected ALPN proto (a NUL-terminated name). */
bool kc_net_tls_alpn_is(const SSL *ssl, const char *proto);

#endif
