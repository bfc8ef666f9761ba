/*
 * h1.h - the HTTP/1.1 client codec of the native client: request heads
 * formatted once per payload, responses parsed by llhttp (Debian's
 * node-llhttp sources, compiled by meson into kc_llhttp).
 *
 * Not a public header: internal to src/engine (h1unary.c drives it on the
 * engine's own sockets) and to its unit test and fuzz target.  Nothing here
 * touches a socket, a clock or a slot; it is bytes in, verdicts out.
 */
#ifndef KNEECAP_H1_H
#define KNEECAP_H1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

/* A response header block past this many bytes is a protocol error (curl's
 * own limit is 100 KiB too). */
#define KC_H1_MAX_HEADER_BYTES (100 * 1024)

/* Called with each piece of the final response's body (de-chunked). */
typedef void (*kc_h1_body_cb)(void *ud, int status, const char *p, size_t n);

enum kc_h1_rc {
	KC_H1_MORE = 0,      /* the response is not complete yet */
	KC_H1_DONE = 1,      /* a whole final response was read */
	KC_H1_BAD = -1,      /* protocol error: the bytes are not HTTP/1.1 */
	KC_H1_CUT = -2,      /* kc_h1_resp_eof: the body was cut short */
	KC_H1_NOTHING = -3,  /* kc_h1_resp_eof: not one byte of a response arrived */
};

/* One connection's response reader; reset for each request. */
struct kc_h1_resp {
	llhttp_t p;
	kc_h1_body_cb on_body;
	void *ud;
	bool head;            /* the request was HEAD: no body follows */
	bool want_errtype;    /* keep X-Amzn-ErrorType's value */
	bool got_bytes;       /* a byte of the response arrived */
	bool final_headers;   /* the final (non-1xx) header block ended */
	bool complete;
	bool keep_alive;      /* the connection may carry the next request */
	bool in_errtype;      /* the header being read is X-Amzn-ErrorType */
	int status;           /* the final response's status; 0 before */
	size_t hbytes;        /* header block bytes so far (status line included) */
	size_t name_len;      /* bytes of the current header name seen */
	char name[24];        /* its first bytes, lower-cased */
	size_t errtype_len;
	char errtype[128];    /* X-Amzn-ErrorType, NUL-terminated (want_errtype) */
	const char *why;      /* KC_H1_BAD: a static reason */
};

/* Prepares r for a connection's first response; on_body may be NULL. */
void kc_h1_resp_init(struct kc_h1_resp *r, kc_h1_body_cb on_body, void *ud);

/* Forgets the last response: the next bytes start a new one.  head: the
 * request is HEAD. */
void kc_h1_resp_begin(struct kc_h1_resp *r, bool head, bool want_errtype);

/*
 * Feeds n bytes.  Returns KC_H1_MORE (all consumed), KC_H1_DONE (the final
 * response ended after *used bytes; bytes after it are not read), or
 * KC_H1_BAD (r->why says why).  1xx responses are skipped.
 */
int kc_h1_resp_feed(struct kc_h1_resp *r, const char *p, size_t n, size_t *used);

/*
 * The peer closed the connection.  KC_H1_DONE when that ended the response
 * (a body delimited by the close), KC_H1_NOTHING when no byte came,
 * KC_H1_BAD when the header block was cut, KC_H1_CUT when the body was.
 */
int kc_h1_resp_eof(struct kc_h1_resp *r);

/*
 * Formats a request head without its final CRLF: request line, Host (unless
 * a user header names one), Accept: * / * (likewise), the user's header lines
 * (Content-Length and Transfer-Encoding dropped: the body's length is
 * ours), then ctype_line and Content-Length when body_len >= 0.  Returns a
 * malloc'd string and its length in *len, or NULL when out of memory.
 */
char *kc_h1_format_head(const char *method, const char *host, const char *path,
			char *const *headers, size_t nheaders, const char *ctype_line,
			int64_t body_len, size_t *len);

#endif
