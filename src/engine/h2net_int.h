/*
 * h2net_int.h - the client transport shared by the engine's two nghttp2
 * drivers (streams.c: bidirectional streams; h2unary.c: unary requests on
 * h2c): a non-blocking TCP connection, optionally TLS with ALPN h2,
 * registered in the caller's epoll set, carrying one nghttp2 client session.
 *
 * Not a public header: it is internal to src/engine.  It knows nothing about
 * slots, schedules or accounting; the drivers own those.  Nothing here
 * blocks; the caller drives it from its own epoll loop on one thread.
 */
#ifndef KNEECAP_H2NET_INT_H
#define KNEECAP_H2NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "kneecap/err.h"

#define KC_H2NET_WBUF 32768
#define KC_H2NET_ERR_MAX 160

enum kc_h2net_state { KC_H2NET_CONNECTING, KC_H2NET_TLS, KC_H2NET_READY, KC_H2NET_DEAD };

struct kc_h2net {
	int fd;
	int efd;               /* the epoll set fd is registered in */
	SSL *ssl;              /* NULL: cleartext (h2c prior knowledge) */
	nghttp2_session *s;
	enum kc_h2net_state st;
	bool was_ready;        /* reached KC_H2NET_READY once */
	bool want_out;         /* EPOLLOUT is requested */
	void *tag;             /* epoll_event.data.ptr for this connection */
	int64_t started_ns;    /* connect() issued */
	uint8_t wbuf[KC_H2NET_WBUF];
	size_t woff, wlen;
	/* A frame that did not fit after wbuf's: nghttp2's bytes, valid until
	 * the next nghttp2_session_mem_send, written straight after wbuf. */
	const uint8_t *pend;
	size_t pend_len, pend_off;
};

/*
 * Starts a non-blocking connect to addr and, when cb is non-NULL, creates
 * the nghttp2 client session with cb (user data ud), our SETTINGS queued (push off, 1 MiB
 * stream windows, 16 MiB connection window).  Registers fd in efd with
 * data.ptr = tag.  Returns 0, or -1 with the reason in err (errlen bytes);
 * n is then closed (nothing to free).
 */
int kc_h2net_open(struct kc_h2net *n, int efd, void *tag, const struct sockaddr_storage *addr,
		  socklen_t addrlen, const nghttp2_session_callbacks *cb, void *ud,
		  char *err, size_t errlen);

/*
 * Drives connect and, when ctx is non-NULL, the TLS handshake (SNI and
 * verification against host; with a session ALPN must select h2, without
 * one http/1.1 or nothing).  Returns 0 (ready or
 * still in progress: see n->st) or -1 with the reason in err.
 */
int kc_h2net_progress(struct kc_h2net *n, SSL_CTX *ctx, const char *host, char *err,
		      size_t errlen);

/*
 * Reads what the socket has (at most 32 reads of 16 KiB) into the session,
 * which calls the caller's callbacks.  Returns 0, -1 when the peer closed
 * or the socket failed, -2 when nghttp2 rejected the bytes (protocol error).
 */
int kc_h2net_read(struct kc_h2net *n);

/*
 * Writes what the session has queued, as far as the socket takes it, and
 * asks epoll for EPOLLOUT only while bytes wait.  Returns 0, or -1 when the
 * connection is done (socket failure, or the session wants neither to read
 * nor to write: after GOAWAY with nothing left).  A no-op until ready.
 */
int kc_h2net_flush(struct kc_h2net *n);

/* Asks epoll for EPOLLOUT (besides EPOLLIN) or stops asking. */
void kc_h2net_want_out(struct kc_h2net *n, bool out);

/* Deletes the session, frees TLS, leaves the epoll set and closes fd. */
void kc_h2net_close(struct kc_h2net *n);

/*
 * A client TLS context offering ALPN h2 only, TLS 1.2 or later, verifying
 * the peer against cacert (NULL: the system store) unless insecure.
 * Returns 0 with *out owned by the caller (SSL_CTX_free), or KC_ETLS.
 */
int kc_h2net_tls_ctx(SSL_CTX **out, bool insecure, const char *cacert, struct kc_diag *d);

#endif
