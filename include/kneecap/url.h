/*
 * url.h - the one parser of http(s) URLs and host:port strings that the
 * native clients, the stream driver and the emulator's listeners share (the
 * libcurl paths keep libcurl's parser so they agree with what it sends).
 * I/O-free; nothing here prints.
 */
#ifndef KNEECAP_URL_H
#define KNEECAP_URL_H

#include <stdbool.h>
#include <stddef.h>

struct kc_diag;

/* An http:// or https:// URL taken apart. */
struct kc_url {
	bool https;
	char hostport[300]; /* the authority as written: HOST[:PORT], [V6][:PORT] */
	char host[256];     /* without brackets: what getaddrinfo and SNI take */
	char port[8];       /* as written, else "80" / "443" */
	char path[512];     /* from the first '/' to '?' ("/" when none) */
	char query[1024];   /* after '?' ("" when none) */
};

/* Whether s starts with "http://" or "https://" (the TARGET scheme test). */
bool kc_url_is_http(const char *s);

/* Splits url (http:// or https:// only) into u: the authority ends at the
 * first '/', '?' or '#', a fragment is dropped, user info is refused.
 * Returns 0, or KC_EINVAL with d saying which part ("target 'URL': bad host",
 * ...). */
int kc_url_parse(const char *url, struct kc_url *u, struct kc_diag *d);

/*
 * Splits "HOST[:PORT]" or "[V6][:PORT]" into host (no brackets) and port
 * (defport when none is written).  Returns 0, or -1 when the host is empty,
 * an IPv6 address is not bracketed, the port is not 1..65535 in digits, or
 * either part does not fit its buffer.
 */
int kc_url_split_hostport(const char *hostport, const char *defport, char *host,
			  size_t hostsz, char *port, size_t portsz);

/*
 * Splits a listen address "HOST:PORT" or "[V6]:PORT" (the port is
 * required, 0-65535; the host may be empty: every address).  Returns 0, or
 * KC_EINVAL with d saying why.
 */
int kc_url_listen_addr(const char *addr, char *host, size_t hostsz, char *port,
		       size_t portsz, struct kc_diag *d);

#endif
