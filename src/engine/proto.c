/*
 * proto.c - which request driver an engine runs (proto.h), and the names
 * of the --client choices.
 */
#include <string.h>
#include <strings.h>

#include "engine_int.h"
#include "proto.h"

#include "kneecap/clock.h"

int kc_client_parse(const char *s, enum kc_client *out)
{
	if (s && !strcmp(s, "native")) {
		*out = KC_CLIENT_NATIVE;
		return KC_OK;
	}
	if (s && !strcmp(s, "curl")) {
		*out = KC_CLIENT_CURL;
		return KC_OK;
	}
	return KC_EPARSE;
}

const struct kc_proto *kc_proto_choose(const struct kc_engine_config *c)
{
	if (c->http == KC_HTTP_2_PRIOR)
		return &kc_proto_h2c;
	/* proxies and client certificates are libcurl's (kc_engine_new refuses
	 * them with an explicit --client native) */
	if (c->client == KC_CLIENT_CURL || c->proxy || c->client_cert || c->client_key)
		return &kc_proto_curl;
	/* --http 2 to https:// is HTTP/2 over TLS on nghttp2, but for response
	 * streams (h2unary.c does not read them yet); to http:// it is HTTP/1.1,
	 * as libcurl does it */
	if (c->http == KC_HTTP_2 && !strncasecmp(c->url, "https://", 8))
		return c->response_stream ? &kc_proto_curl : &kc_proto_h2c;
	return &kc_proto_h1;
}

const char *kc_engine_client(const struct kc_engine *e)
{
	return e->proto == &kc_proto_curl ? "curl" : "native";
}

int64_t kc_proto_wait_until(uint32_t ndone, int64_t deadline_ns)
{
	if (!ndone)
		return deadline_ns;
	int64_t soon = kc_clock_ns() + KC_NS_PER_MS;
	return soon < deadline_ns ? soon : deadline_ns;
}
