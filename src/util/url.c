/*
 * url.c - http(s) URL and host:port splitting (url.h).  Byte-exact: no
 * percent-decoding, no case folding; what the user wrote is what is sent.
 */
#include "kneecap/url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/err.h"

bool kc_url_is_http(const char *s)
{
	return s && (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8));
}

/* A port as written: 1-5 digits, 1..65535. */
static bool port_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
		return false;
	long v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

int kc_url_split_hostport(const char *hostport, const char *defport, char *host,
			  size_t hostsz, char *port, size_t portsz)
{
	const char *h = hostport, *p = defport;
	size_t hl;
	if (h[0] == '[') {
		/* [V6] or [V6]:PORT: the bracket must close right before ':' or the end. */
		const char *rb = strchr(h, ']');
		if (!rb || (rb[1] && rb[1] != ':') || strchr(rb + 1, ']'))
			return -1;
		h++;
		hl = (size_t)(rb - h);
		if (rb[1] == ':')
			p = rb + 2;
	} else {
		/* An unbracketed host has no colon but the port's (a bare V6 address
		 * would read as host and port). */
		const char *colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':'))
			return -1;
		hl = colon ? (size_t)(colon - h) : strlen(h);
		if (colon)
			p = colon + 1;
		if (memchr(h, '[', hl) || memchr(h, ']', hl))
			return -1;
	}
	if (hl == 0 || hl >= hostsz || !port_ok(p) || strlen(p) >= portsz)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portsz, "%s", p);
	return 0;
}

int kc_url_parse(const char *url, struct kc_url *u, struct kc_diag *d)
{
	if (!url)
		return kc_diag_set(d, KC_EINVAL, "no target URL");
	if (!kc_url_is_http(url))
		return kc_diag_set(d, KC_EINVAL, "target '%s': want http:// or https://", url);
	memset(u, 0, sizeof(*u));
	u->https = url[4] == 's';
	const char *p = url + (u->https ? 8 : 7);
	/* The authority ends at the first '/', '?' or '#' (RFC 3986 §3.2). */
	size_t hl = strcspn(p, "/?#");
	/* User info would be sent as a host name (and may be a password: never
	 * echoed back, so refused before any message quotes the URL). */
	if (memchr(p, '@', hl))
		return kc_diag_set(d, KC_EINVAL, "target: user info (user@host) is not supported; "
				   "credentials go in headers");
	if (hl == 0 || hl >= sizeof(u->hostport))
		return kc_diag_set(d, KC_EINVAL, "target '%s': bad host", url);
	memcpy(u->hostport, p, hl);
	u->hostport[hl] = '\0';
	if (kc_url_split_hostport(u->hostport, u->https ? "443" : "80", u->host, sizeof(u->host),
				  u->port, sizeof(u->port)))
		return kc_diag_set(d, KC_EINVAL, "target '%s': bad host or port (HOST[:PORT], "
				   "[IPV6][:PORT], port 1..65535)", url);
	const char *rest = p + hl;
	/* A fragment never goes on the wire. */
	size_t rl = strcspn(rest, "#");
	const char *q = memchr(rest, '?', rl);
	size_t pl = q ? (size_t)(q - rest) : rl;
	size_t ql = q ? rl - pl - 1 : 0;
	if (pl >= sizeof(u->path) || ql >= sizeof(u->query))
		return kc_diag_set(d, KC_EINVAL, "target '%s': path too long", url);
	if (pl)
		memcpy(u->path, rest, pl);
	else
		u->path[pl++] = '/';
	u->path[pl] = '\0';
	if (ql)
		memcpy(u->query, q + 1, ql);
	u->query[ql] = '\0';
	return 0;
}

int kc_url_listen_addr(const char *addr, char *host, size_t hostsz, char *port,
		       size_t portsz, struct kc_diag *d)
{
	const char *pp;
	if (addr[0] == '[') {
		const char *close_br = strchr(addr, ']');
		if (!close_br || close_br[1] != ':' || (size_t)(close_br - addr - 1) >= hostsz)
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not [IPV6]:PORT", addr);
		snprintf(host, hostsz, "%.*s", (int)(close_br - addr - 1), addr + 1);
		pp = close_br + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= hostsz)
			return kc_diag_set(d, KC_EINVAL, "listen address '%s' is not HOST:PORT", addr);
		snprintf(host, hostsz, "%.*s", (int)(colon - addr), addr);
		pp = colon + 1;
	}
	char *end = NULL;
	long pv = strtol(pp, &end, 10);
	if (!*pp || *end || pv < 0 || pv > 65535 || strlen(pp) >= portsz)
		return kc_diag_set(d, KC_EINVAL, "listen address '%s': bad port", addr);
	snprintf(port, portsz, "%s", pp);
	return 0;
}
