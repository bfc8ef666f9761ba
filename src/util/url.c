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

int kc_url_split_hostport(const char *hostport, const char *defport, char *host,
			  size_t hostsz, char *port, size_t portsz)
{
	const char *colon = strrchr(hostport, ':');
	const char *rb = strrchr(hostport, ']');
	size_t hl = strlen(hostport);
	const char *p = defport;
	if (colon && (!rb || colon > rb)) { /* a colon inside [V6] is not the port's */
		hl = (size_t)(colon - hostport);
		p = colon + 1;
	}
	const char *h = hostport;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostsz || strlen(p) >= portsz)
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
	const char *slash = strchr(p, '/');
	size_t hl = slash ? (size_t)(slash - p) : strlen(p);
	if (hl == 0 || hl >= sizeof(u->hostport))
		return kc_diag_set(d, KC_EINVAL, "target '%s': bad host", url);
	memcpy(u->hostport, p, hl);
	u->hostport[hl] = '\0';
	if (kc_url_split_hostport(u->hostport, u->https ? "443" : "80", u->host, sizeof(u->host),
				  u->port, sizeof(u->port)))
		return kc_diag_set(d, KC_EINVAL, "target '%s': bad host or port", url);
	const char *path = slash ? slash : "/";
	const char *q = strchr(path, '?');
	size_t pl = q ? (size_t)(q - path) : strlen(path);
	if (pl >= sizeof(u->path) || (q && strlen(q + 1) >= sizeof(u->query)))
		return kc_diag_set(d, KC_EINVAL, "target '%s': path too long", url);
	memcpy(u->path, path, pl);
	u->path[pl] = '\0';
	snprintf(u->query, sizeof(u->query), "%s", q ? q + 1 : "");
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
