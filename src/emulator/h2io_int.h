/*
 * h2io_int.h - the server-side HTTP/2 transport shared by the emulator's
 * two nghttp2 servers: the bidirectional stream server (bidi.c) and the
 * InvokeEndpoint face of `kneecap serve` (h2serve.c).
 *
 * It owns one connection's non-blocking plumbing between a socket (plain or
 * OpenSSL, through util's net.h) and an nghttp2 server session registered
 * in an epoll set.  It knows nothing about requests: the
 * session's callbacks belong to the caller.  Single-threaded: a kc_h2io is
 * used by the thread that runs its epoll loop only.
 */
#ifndef KNEECAP_EMU_H2IO_INT_H
#define KNEECAP_EMU_H2IO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

struct kc_diag;

/* nghttp2 hands at most one frame (<= 16 KiB + 9) at a time; a bigger
 * buffer batches a few of them into one write. */
#define KC_H2IO_WBUF 65536

/* One server-side connection's transport. */
struct kc_h2io {
	int fd;
	int efd;                /* the epoll set fd is registered in */
	void *ep;               /* epoll data.ptr the caller identifies it by */
	SSL *ssl;               /* NULL for h2c */
	bool hs_done;           /* TLS handshake finished (always true for h2c) */
	bool want_out;          /* EPOLLOUT armed */
	bool rd_want_write;     /* TLS: reading waits for the socket to take
				 * a write (SSL_ERROR_WANT_WRITE) */
	bool close_after_flush; /* close once everything queued is written */
	nghttp2_session *s;
	uint8_t wbuf[KC_H2IO_WBUF];
	size_t woff, wlen;
};

/* kc_net_listen and kc_net_tls_server_ctx (net.h) under the names
 * h2serve.c and bidi.c call them by; the sockets and TLS live in net.c. */
int kc_h2io_listen(const char *addr, int *fd_out, int *port_out, struct kc_diag *d);
int kc_h2io_tls_ctx(const char *cert_out, SSL_CTX **out, struct kc_diag *d);

/*
 * Takes the accepted non-blocking socket fd: sets TCP_NODELAY, starts TLS
 * when ctx is not NULL, makes an nghttp2 server session with callbacks cb
 * and user data ud, and registers fd in efd for input with data.ptr = ep.
 * Returns 0, or -1 with fd closed and io left empty (nothing to close).
 */
int kc_h2io_open(struct kc_h2io *io, int fd, int efd, void *ep, SSL_CTX *ctx,
		 const nghttp2_session_callbacks *cb, void *ud);

/*
 * Reads what the socket has (a bounded number of reads, so one connection
 * cannot starve the others) into the session, advancing the TLS handshake
 * first.  Returns 1 when the TLS handshake completed with ALPN h2 in this
 * call, 0 when all is well, -1 when the connection must close (peer gone,
 * TLS failure or no h2, or nghttp2 rejected the bytes: it has then queued
 * a GOAWAY when it could).
 */
int kc_h2io_read(struct kc_h2io *io);

/*
 * Writes what the session has to send, arming EPOLLOUT while the socket is
 * full.  Returns 0, or -1 when the connection must close (write failed,
 * close_after_flush and all written, or the session wants nothing more).
 */
int kc_h2io_flush(struct kc_h2io *io);

/*
 * Whether the epoll events ev of io call for kc_h2io_read: input, hang-up
 * or error, or writable while TLS reading waited for a write.
 */
bool kc_h2io_readable(const struct kc_h2io *io, uint32_t ev);

/* Deletes the session, frees TLS, removes fd from the epoll set and closes
 * it.  nghttp2 calls no stream-close callbacks here. */
void kc_h2io_close(struct kc_h2io *io);

#endif
