/*
 * h1.c - the HTTP/1.1 client codec (h1.h): llhttp reads responses, we keep
 * only what the engine accounts (status, keep-alive, X-Amzn-ErrorType, the
 * body handed to a callback) and bound the header block.
 *
 * The parser is paused at the end of each final response, so bytes after it
 * are left unread: the engine never pipelines, so such bytes mean the
 * connection cannot be trusted for the next request.
 */
#include "h1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct kc_h1_resp *of(llhttp_t *p)
{
	return p->data;
}

/* Counts header block bytes; false (and a reason) past the limit. */
static bool count(struct kc_h1_resp *r, size_t n)
{
	r->hbytes += n;
	if (r->hbytes <= KC_H1_MAX_HEADER_BYTES)
		return true;
	r->why = "response header block too large";
	return false;
}

static int on_message_begin(llhttp_t *p)
{
	struct kc_h1_resp *r = of(p);
	r->hbytes = 0;
	r->name_len = 0;
	r->in_errtype = false;
	return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t n)
{
	(void)at;
	return count(of(p), n) ? 0 : -1;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct kc_h1_resp *r = of(p);
	/* ": " and CRLF around every line, so many empty headers add up too */
	if (!count(r, n + (r->name_len ? 0 : 4)))
		return -1;
	for (size_t i = 0; i < n && r->name_len + i < sizeof(r->name); i++) {
		char c = at[i];
		r->name[r->name_len + i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	r->name_len += n;
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	static const char et[] = "x-amzn-errortype";
	struct kc_h1_resp *r = of(p);
	r->in_errtype = r->want_errtype && r->name_len == sizeof(et) - 1 &&
			!memcmp(r->name, et, sizeof(et) - 1);
	if (r->in_errtype) {
		/* a repeated header: its last value counts */
		r->errtype_len = 0;
		r->errtype[0] = '\0';
	}
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct kc_h1_resp *r = of(p);
	if (!count(r, n))
		return -1;
	if (r->in_errtype) {
		size_t room = sizeof(r->errtype) - 1 - r->errtype_len;
		size_t k = n < room ? n : room;
		memcpy(r->errtype + r->errtype_len, at, k);
		r->errtype_len += k;
		r->errtype[r->errtype_len] = '\0';
	}
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct kc_h1_resp *r = of(p);
	if (r->in_errtype) {
		/* llhttp keeps trailing blanks in the value */
		while (r->errtype_len && (r->errtype[r->errtype_len - 1] == ' ' ||
					  r->errtype[r->errtype_len - 1] == '\t'))
			r->errtype[--r->errtype_len] = '\0';
	}
	r->in_errtype = false;
	r->name_len = 0;
	return 0;
}

/* 0: a body may follow; 1: none does (1xx, HEAD); -1: refused. */
static int on_headers_complete(llhttp_t *p)
{
	struct kc_h1_resp *r = of(p);
	int status = llhttp_get_status_code(p);
	if (status < 100 || status > 999) {
		r->why = "bad status code";
		return -1;
	}
	if (status < 200) {
		if (status == 101) {
			r->why = "unexpected 101 Switching Protocols";
			return -1;
		}
		/* an interim response: its headers do not count toward the next */
		r->errtype_len = 0;
		r->errtype[0] = '\0';
		return 1;
	}
	r->status = status;
	r->final_headers = true;
	r->keep_alive = llhttp_should_keep_alive(p);
	return r->head ? 1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct kc_h1_resp *r = of(p);
	if (r->on_body && r->final_headers)
		r->on_body(r->ud, r->status, at, n);
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct kc_h1_resp *r = of(p);
	if (!r->final_headers)
		return 0; /* the end of a 1xx: the final response follows */
	r->complete = true;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_status = on_status,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = on_header_value,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void kc_h1_resp_init(struct kc_h1_resp *r, kc_h1_body_cb cb, void *ud)
{
	memset(r, 0, sizeof(*r));
	llhttp_init(&r->p, HTTP_RESPONSE, &settings);
	r->p.data = r;
	r->on_body = cb;
	r->ud = ud;
}

void kc_h1_resp_begin(struct kc_h1_resp *r, bool head, bool want_errtype)
{
	llhttp_reset(&r->p);
	r->head = head;
	r->want_errtype = want_errtype;
	r->got_bytes = r->final_headers = r->complete = r->keep_alive = false;
	r->in_errtype = false;
	r->status = 0;
	r->hbytes = r->name_len = r->errtype_len = 0;
	r->errtype[0] = '\0';
	r->why = NULL;
}

int kc_h1_resp_feed(struct kc_h1_resp *r, const char *p, size_t n, size_t *used)
{
	*used = 0;
	if (r->complete)
		return KC_H1_DONE;
	if (n == 0)
		return KC_H1_MORE;
	r->got_bytes = true;
	llhttp_errno_t e = llhttp_execute(&r->p, p, n);
	if (e == HPE_OK) {
		*used = n;
		return KC_H1_MORE;
	}
	if (e == HPE_PAUSED && r->complete) {
		*used = (size_t)(llhttp_get_error_pos(&r->p) - p);
		llhttp_resume(&r->p);
		return KC_H1_DONE;
	}
	if (!r->why)
		r->why = e == HPE_PAUSED_UPGRADE ? "unexpected protocol upgrade"
						 : llhttp_get_error_reason(&r->p);
	if (!r->why)
		r->why = llhttp_errno_name(e);
	return KC_H1_BAD;
}

int kc_h1_resp_eof(struct kc_h1_resp *r)
{
	if (r->complete)
		return KC_H1_DONE;
	if (!r->got_bytes)
		return KC_H1_NOTHING;
	if (llhttp_get_errno(&r->p) != HPE_OK)
		return KC_H1_BAD;
	if (!r->final_headers) {
		r->why = "connection closed inside the response header block";
		return KC_H1_BAD;
	}
	/* a body delimited by the close ends here (on_message_complete pauses) */
	llhttp_finish(&r->p);
	if (r->complete)
		return KC_H1_DONE;
	r->why = "connection closed before the response body ended";
	return KC_H1_CUT;
}

/* Whether the user header line names `name` (len bytes, lower case). */
static bool names(const char *line, const char *name, size_t len)
{
	return !strncasecmp(line, name, len) && line[len] == ':';
}

/* A user line with nothing after its colon removes the header (curl's rule). */
static bool empty_value(const char *line)
{
	const char *v = strchr(line, ':') + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0';
}

char *kc_h1_format_head(const char *method, const char *host, const char *path,
			char *const *headers, size_t nheaders, const char *ctype_line,
			int64_t body_len, size_t *len)
{
	bool user_host = false, user_accept = false;
	size_t cap = strlen(method) + strlen(path) + strlen(host) + 96 +
		     (ctype_line ? strlen(ctype_line) + 2 : 0);
	for (size_t i = 0; i < nheaders; i++) {
		user_host |= names(headers[i], "host", 4);
		user_accept |= names(headers[i], "accept", 6);
		cap += strlen(headers[i]) + 2;
	}
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, cap, "%s %s HTTP/1.1\r\n", method, path);
	if (!user_host)
		n += (size_t)snprintf(s + n, cap - n, "Host: %s\r\n", host);
	if (!user_accept)
		n += (size_t)snprintf(s + n, cap - n, "Accept: */*\r\n");
	for (size_t i = 0; i < nheaders; i++) {
		const char *h = headers[i];
		if (names(h, "content-length", 14) || names(h, "transfer-encoding", 17) ||
		    empty_value(h))
			continue;
		n += (size_t)snprintf(s + n, cap - n, "%s\r\n", h);
	}
	if (ctype_line)
		n += (size_t)snprintf(s + n, cap - n, "%s\r\n", ctype_line);
	if (body_len >= 0)
		n += (size_t)snprintf(s + n, cap - n, "Content-Length: %lld\r\n",
				      (long long)body_len);
	*len = n;
	return s;
}
