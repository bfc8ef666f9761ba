/*
 * profile.c - what the emulator emulates: defaults, the [emulator] section
 * of a scenario file, and `kneecap serve` flags.
 *
 * One table lists every key with its type, range and unit; the scenario
 * reader (through scenario.h's typed getters) and the flag setter (through
 * parse.h) both walk it, so a key can never be settable one way and not the
 * other, and both report the same ranges.  This file does not start
 * anything; server.c does.
 */
#include "component_int.h"
#include "faults_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scenario.h"

#include <stdio.h>
#include <string.h>

static const char section[] = "emulator";

enum ktype { T_STR, T_INT, T_I64, T_DOUBLE, T_DUR, T_SIZE, T_ENUM, T_SPECIAL };

struct keydef {
	const char *key;
	enum ktype type;
	size_t off;             /* offset of the field in the profile */
	size_t size;            /* T_STR: the array size */
	double lo, hi;          /* numeric range (T_DUR: ns) */
	int64_t unit_ns;        /* T_DUR: unit of a bare number */
	const char *const *choices; /* T_ENUM */
};

static const char *const dist_names[] = {"fixed", "lognormal", NULL};
static const char *const decode_names[] = {"full", "scaled", "header", "off", NULL};
static const char *const input_names[] = {"jpeg", "any", NULL};
static const char *const h2_mode_names[] = {"h2c", "tls", NULL};
static const char *const overload_names[] = {"ServiceUnavailable",
	"ThrottlingException", "ModelNotReadyException", NULL};

#define OFF(f) offsetof(struct kc_emu_profile, f)
#define FOFF(f) (offsetof(struct kc_emu_profile, faults) + offsetof(struct kc_emu_faults, f))
#define MS KC_NS_PER_MS
#define S KC_NS_PER_S

static const struct keydef keys[] = {
	{"endpoint_name", T_STR, OFF(endpoint_name), sizeof(((struct kc_emu_profile *)0)->endpoint_name), 0, 0, 0, NULL},
	{"variant", T_STR, OFF(variant), sizeof(((struct kc_emu_profile *)0)->variant), 0, 0, 0, NULL},
	{"instances", T_INT, OFF(instances), 0, 1, 1024, 0, NULL},
	{"slots", T_INT, OFF(slots), 0, 1, 65536, 0, NULL},
	{"service_time", T_DUR, OFF(service_ns_mean), 0, 1e3, 60e9, MS, NULL},
	{"service_dist", T_ENUM, OFF(service_dist), 0, 0, 0, 0, dist_names},
	{"service_cv", T_DOUBLE, OFF(service_cv), 0, 0, 4, 0, NULL},
	{"timeout", T_DUR, OFF(timeout_ns), 0, 1e6, 3600e9, S, NULL},
	{"queue_limit", T_I64, OFF(queue_limit), 0, 0, 1e6, 0, NULL},
	{"queue_full_error", T_ENUM, OFF(queue_full_error), 0, 0, 0, 0, overload_names},
	{"input", T_ENUM, OFF(input), 0, 0, 0, 0, input_names},
	{"cpu_decode", T_ENUM, OFF(cpu_decode), 0, 0, 0, 0, decode_names},
	{"threads", T_INT, OFF(threads), 0, 1, 256, 0, NULL},
	{"max_connections", T_INT, OFF(max_connections), 0, 16, 65536, 0, NULL},
	{"max_connections_per_client", T_INT, OFF(max_connections_per_client), 0, 0, 65536, 0, NULL},
	{"header_timeout", T_DUR, OFF(header_timeout_ns), 0, 1e9, 3600e9, S, NULL},
	{"keepalive_timeout", T_DUR, OFF(keepalive_timeout_ns), 0, 1e9, 3600e9, S, NULL},
	{"body_timeout", T_DUR, OFF(body_timeout_ns), 0, 1e9, 3600e9, S, NULL},
	{"max_body", T_SIZE, OFF(body_bytes_max), 0, 1, 64.0 * 1024 * 1024, 0, NULL},
	{"seed", T_I64, OFF(seed), 0, 0, 9.0e18, 0, NULL},
	{"fault_error", T_SPECIAL, 0, 0, 0, 0, 0, NULL},
	{"fault_reset", T_DOUBLE, FOFF(reset_prob), 0, 0, 1, 0, NULL},
	{"fault_stall", T_DUR, FOFF(stall_ns), 0, 0, 3600e9, MS, NULL},
	{"fault_stall_every", T_DUR, FOFF(stall_every_ns), 0, 0, 86400e9, S, NULL},
	{"fault_stall_at", T_DUR, FOFF(stall_at_ns), 0, 0, 86400e9, S, NULL},
	{"fault_slow", T_DOUBLE, FOFF(slow_prob), 0, 0, 1, 0, NULL},
	{"fault_slow_chunk", T_I64, FOFF(slow_chunk_bytes), 0, 1, 65536, 0, NULL},
	{"fault_slow_interval", T_DUR, FOFF(slow_interval_ns), 0, 1e6, 10e9, MS, NULL},
	{"fault_reset_mid", T_DOUBLE, FOFF(reset_mid_prob), 0, 0, 1, 0, NULL},
	{"fault_close_after", T_I64, FOFF(close_after), 0, 0, 9.0e18, 0, NULL},
	{"fault_stream_error", T_DOUBLE, FOFF(stream_error_prob), 0, 0, 1, 0, NULL},
	{"components", T_SPECIAL, 0, 0, 0, 0, 0, NULL},
	{"serverless_max_concurrency", T_INT, OFF(serverless_max_concurrency), 0, 0, 200, 0, NULL},
	{"serverless_memory", T_INT, OFF(serverless_memory_mb), 0, 1024, 6144, 0, NULL},
	{"serverless_cold_start", T_DUR, OFF(serverless_cold_start_ns), 0, 0, 600e9, MS, NULL},
	{"serverless_idle", T_DUR, OFF(serverless_idle_ns), 0, 0, 86400e9, S, NULL},
	{"serverless_provisioned", T_INT, OFF(serverless_provisioned), 0, 0, 200, 0, NULL},
	{"stream_parts", T_INT, OFF(stream_parts), 0, 1, 100, 0, NULL},
	{"stream_part_gap", T_DUR, OFF(stream_part_gap_ns), 0, 0, 60e9, MS, NULL},
	{"verify_sigv4", T_SPECIAL, 0, 0, 0, 0, 0, NULL},
	{"sigv4_region", T_STR, OFF(sigv4_region), sizeof(((struct kc_emu_profile *)0)->sigv4_region), 0, 0, 0, NULL},
	{"metrics_listen", T_STR, OFF(metrics_listen), sizeof(((struct kc_emu_profile *)0)->metrics_listen), 0, 0, 0, NULL},
	{"metric_period", T_DUR, OFF(metric_period_ns), 0, 1e9, 3600e9, S, NULL},
	{"cpu_ms_per_request", T_DOUBLE, OFF(cpu_ms_per_request), 0, 0, 60000, 0, NULL},
	{"vcpus", T_INT, OFF(vcpus), 0, 1, 1024, 0, NULL},
	{"instance_type", T_STR, OFF(instance_type), sizeof(((struct kc_emu_profile *)0)->instance_type), 0, 0, 0, NULL},
	{"gpu_memory_util", T_DOUBLE, OFF(gpu_memory_util), 0, 0, 100, 0, NULL},
	{"cloudwatch_deny", T_INT, OFF(cloudwatch_deny), 0, 0, 1, 0, NULL},
	{"scaling_policy", T_STR, OFF(scaling_policy), sizeof(((struct kc_emu_profile *)0)->scaling_policy), 0, 0, 0, NULL},
	{"h2_listen", T_STR, OFF(h2_listen), sizeof(((struct kc_emu_profile *)0)->h2_listen), 0, 0, 0, NULL},
	{"h2_mode", T_ENUM, OFF(h2_mode), 0, 0, 0, 0, h2_mode_names},
	{"h2_cert_out", T_STR, OFF(h2_cert_out), sizeof(((struct kc_emu_profile *)0)->h2_cert_out), 0, 0, 0, NULL},
	{"h2_max_concurrent", T_INT, OFF(h2_max_concurrent), 0, 1, 65536, 0, NULL},
	{"h2_max_streams", T_INT, OFF(h2_max_streams), 0, 16, 1048576, 0, NULL},
	{"h2_idle_timeout", T_DUR, OFF(h2_idle_timeout_ns), 0, 1e9, 86400e9, S, NULL},
	{"h2_handshake_timeout", T_DUR, OFF(h2_handshake_timeout_ns), 0, 1e9, 3600e9, S, NULL},
	{"h2_body_memory", T_SIZE, OFF(h2_body_bytes_max), 0, 65536, 1024.0 * 1024 * 1024 * 1024, 0, NULL},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void kc_emu_profile_defaults(struct kc_emu_profile *p)
{
	KC_ASSERT(p);
	memset(p, 0, sizeof(*p));
	/* The seed case: one ml.g5.xlarge at ~50 RPS (see
	 * scenarios/g5-xlarge-image-tagger.ini for the reasoning). */
	snprintf(p->variant, sizeof(p->variant), "AllTraffic");
	p->instances = 1;
	p->slots = 2;
	p->service_dist = KC_EMU_DIST_FIXED;
	p->service_ns_mean = 40 * KC_NS_PER_MS;
	p->service_cv = 0.0;
	p->timeout_ns = 60 * KC_NS_PER_S; /* SageMaker's invocation timeout */
	p->queue_limit = 0;
	p->queue_full_error = KC_EMU_OVERLOAD_UNAVAILABLE;
	p->input = KC_EMU_INPUT_JPEG;
	p->cpu_decode = KC_EMU_DECODE_FULL;
	p->threads = 4; /* ml.g5.xlarge has 4 vCPUs */
	p->max_connections = 1024;
	/* A load generator writes its headers in one go and its body as fast
	 * as the socket takes it: these only ever close a stalled or
	 * trickling client (slowloris), as Apache's mod_reqtimeout and
	 * nginx's client_header_timeout do. */
	p->header_timeout_ns = 10 * KC_NS_PER_S;
	p->body_timeout_ns = 30 * KC_NS_PER_S;
	/* A load generator at a low rate leaves each connection idle for
	 * connections / rate seconds (16 s at 1 RPS over 16): only a
	 * connection that sends nothing for a minute is let go (an ALB's
	 * default idle timeout), and curl reconnects for it. */
	p->keepalive_timeout_ns = 60 * KC_NS_PER_S;
	p->body_bytes_max = KC_EMU_BODY_MAX_DEFAULT;
	p->seed = 1;
	p->faults.stall_at_ns = -1;
	p->faults.slow_chunk_bytes = 16;
	p->faults.slow_interval_ns = 100 * KC_NS_PER_MS;
	snprintf(p->sigv4_region, sizeof(p->sigv4_region), "us-east-1");
	p->h2_mode = KC_EMU_H2_H2C;
	p->h2_max_concurrent = 256;
	p->h2_max_streams = 4096;
	/* The HTTP/1.1 face's libmicrohttpd connection timeout. */
	p->h2_idle_timeout_ns = 300 * KC_NS_PER_S;
	p->h2_handshake_timeout_ns = 10 * KC_NS_PER_S;
	/* Every stream slot could otherwise hold max_body (h2_max_streams x
	 * 6 MiB = 24 GiB at the defaults). */
	p->h2_body_bytes_max = UINT64_C(1) << 30;
	/* A short token stream: four parts 10 ms apart. */
	p->stream_parts = 4;
	/* The seed's instance: about 8 ms of CPU per request on 4 vCPUs. */
	p->metric_period_ns = 60 * KC_NS_PER_S;
	p->cpu_ms_per_request = 8;
	p->vcpus = 4;
	p->gpu_memory_util = 40;
	p->stream_part_gap_ns = 10 * KC_NS_PER_MS;
	/* Serverless (off until serverless_max_concurrency is set): AWS
	 * publishes no cold-start figure (it depends on the image and model:
	 * ModelSetupTime), nor how long an idle unit stays warm; these are
	 * model assumptions to override. */
	p->serverless_memory_mb = 2048;
	p->serverless_cold_start_ns = 2 * KC_NS_PER_S;
	p->serverless_idle_ns = 300 * KC_NS_PER_S;
}

static const struct keydef *find_key(const char *key)
{
	char norm[64];
	size_t n = strlen(key);
	if (n >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		norm[i] = key[i] == '-' ? '_' : key[i];
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].key, norm))
			return &keys[i];
	return NULL;
}

bool kc_emu_profile_has_key(const char *key)
{
	return key && find_key(key) != NULL;
}

static void set_enum(struct kc_emu_profile *p, const struct keydef *k, int v)
{
	/* Enums go through their own types, never through an int pointer. */
	if (k->choices == dist_names)
		p->service_dist = (enum kc_emu_dist)v;
	else if (k->choices == decode_names)
		p->cpu_decode = (enum kc_emu_decode)v;
	else if (k->choices == input_names)
		p->input = (enum kc_emu_input)v;
	else if (k->choices == overload_names)
		p->queue_full_error = (enum kc_emu_overload)v;
	else if (k->choices == h2_mode_names)
		p->h2_mode = (enum kc_emu_h2_mode)v;
	else
		KC_ASSERT(!"enum key without a setter");
}

/* Parses and stores a T_STR or T_SPECIAL value; fills why on failure. */
static int set_text(struct kc_emu_profile *p, const struct keydef *k,
		    const char *v, char *why, size_t whysz)
{
	if (k->type == T_STR) {
		if (strlen(v) >= k->size) {
			snprintf(why, whysz, "longer than %zu characters", k->size - 1);
			return KC_EINVAL;
		}
		snprintf((char *)p + k->off, k->size, "%s", v);
		return KC_OK;
	}
	if (!strcmp(k->key, "fault_error"))
		return kc_emu_faults_parse_errors(&p->faults, v, why, whysz);
	if (!strcmp(k->key, "components"))
		return kc_emu_components_parse(p, v, why, whysz);
	/* verify_sigv4 = AKID:SECRET.  The secret never goes into a message. */
	const char *colon = strchr(v, ':');
	size_t akid_len = colon ? (size_t)(colon - v) : 0;
	if (!colon || akid_len == 0 || colon[1] == '\0') {
		snprintf(why, whysz, "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY");
		return KC_EINVAL;
	}
	if (akid_len >= sizeof(p->sigv4_akid) || strlen(colon + 1) >= sizeof(p->sigv4_secret)) {
		snprintf(why, whysz, "key id or secret too long");
		return KC_EINVAL;
	}
	snprintf(p->sigv4_akid, sizeof(p->sigv4_akid), "%.*s", (int)akid_len, v);
	snprintf(p->sigv4_secret, sizeof(p->sigv4_secret), "%s", colon + 1);
	return KC_OK;
}

static void store_num(struct kc_emu_profile *p, const struct keydef *k,
		      int64_t i, double dbl)
{
	char *f = (char *)p + k->off;
	switch (k->type) {
	case T_INT: {
		int v = (int)i;
		memcpy(f, &v, sizeof(v));
		break;
	}
	case T_I64:
	case T_DUR:
		memcpy(f, &i, sizeof(i));
		break;
	case T_SIZE: {
		uint64_t v = (uint64_t)i;
		memcpy(f, &v, sizeof(v));
		break;
	}
	case T_DOUBLE:
		memcpy(f, &dbl, sizeof(dbl));
		break;
	default:
		KC_ASSERT(!"not a numeric key");
	}
}

int kc_emu_profile_set(struct kc_emu_profile *p, const char *key,
		       const char *value, struct kc_diag *d)
{
	KC_ASSERT(p && key && value);
	const struct keydef *k = find_key(key);
	if (!k)
		return KC_ENOTFOUND;
	char why[256] = "";
	int64_t i = 0;
	double dbl = 0;
	int rc = KC_OK;
	switch (k->type) {
	case T_STR:
	case T_SPECIAL:
		rc = set_text(p, k, value, why, sizeof(why));
		break;
	case T_INT:
	case T_I64:
		rc = kc_parse_i64(value, (int64_t)k->lo, (int64_t)k->hi, &i);
		if (rc)
			snprintf(why, sizeof(why), "'%s' is not an integer in %.0f..%.0f",
				 value, k->lo, k->hi);
		break;
	case T_DOUBLE:
		rc = kc_parse_double(value, k->lo, k->hi, &dbl);
		if (rc)
			snprintf(why, sizeof(why), "'%s' is not a number in %g..%g",
				 value, k->lo, k->hi);
		break;
	case T_DUR:
		/* Units required, as everywhere (a bare 0 is the same in any unit). */
		if (kc_parse_double(value, -1e300, 1e300, &dbl) == KC_OK && dbl != 0) {
			snprintf(why, sizeof(why), "'%s': a duration needs a unit (5s, 500ms)",
				 value);
			rc = KC_EPARSE;
			break;
		}
		rc = kc_parse_duration_ns(value, k->unit_ns, &i);
		if (!rc && (i < (int64_t)k->lo || i > (int64_t)k->hi))
			rc = KC_ERANGE;
		if (rc) {
			char a[32], b[32];
			snprintf(why, sizeof(why), "'%s' is not a duration in %s..%s", value,
				 kc_format_duration((int64_t)k->lo, a, sizeof(a)),
				 kc_format_duration((int64_t)k->hi, b, sizeof(b)));
		}
		break;
	case T_SIZE: {
		uint64_t sz;
		rc = kc_parse_size(value, &sz);
		if (!rc && (sz < (uint64_t)k->lo || sz > (uint64_t)k->hi))
			rc = KC_ERANGE;
		if (rc)
			snprintf(why, sizeof(why), "'%s' is not a size in %.0f..%.0f bytes",
				 value, k->lo, k->hi);
		i = (int64_t)sz;
		break;
	}
	case T_ENUM:
		rc = KC_EINVAL;
		for (int c = 0; k->choices[c]; c++) {
			if (!strcmp(value, k->choices[c])) {
				set_enum(p, k, c);
				return KC_OK;
			}
		}
		snprintf(why, sizeof(why), "'%s' is not one of:", value);
		for (int c = 0; k->choices[c]; c++) {
			size_t n = strlen(why);
			snprintf(why + n, sizeof(why) - n, "%s %s", c ? "," : "", k->choices[c]);
		}
		break;
	}
	if (rc)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, k->key, "%s", why);
	if (k->type != T_STR && k->type != T_SPECIAL)
		store_num(p, k, i, dbl);
	return KC_OK;
}

static int from_entry(struct kc_scenario *sc, struct kc_emu_profile *p,
		      const struct keydef *k, struct kc_diag *d)
{
	int64_t i = 0;
	double dbl = 0;
	int rc, v;
	switch (k->type) {
	case T_STR:
	case T_SPECIAL:
	case T_SIZE: {
		/* Free-form values: the flag parser, then the entry's line. */
		struct kc_scenario_entry *e = kc_scenario_find(sc, section, k->key);
		if (!e)
			return KC_ENOTFOUND;
		struct kc_diag tmp;
		kc_diag_clear(&tmp);
		rc = kc_emu_profile_set(p, k->key, e->value, &tmp);
		if (rc)
			return kc_diag_set_at(d, rc, kc_scenario_name(sc), e->line,
					      k->key, "%s", tmp.msg);
		return KC_OK;
	}
	case T_INT:
	case T_I64:
		rc = kc_scenario_get_i64(sc, section, k->key, (int64_t)k->lo,
					 (int64_t)k->hi, &i, d);
		break;
	case T_DOUBLE:
		rc = kc_scenario_get_double(sc, section, k->key, k->lo, k->hi, &dbl, d);
		break;
	case T_DUR:
		rc = kc_scenario_get_duration_ns(sc, section, k->key, k->unit_ns,
						 (int64_t)k->lo, (int64_t)k->hi, &i, d);
		break;
	case T_ENUM:
		rc = kc_scenario_get_enum(sc, section, k->key, k->choices, &v, d);
		if (!rc)
			set_enum(p, k, v);
		return rc;
	default:
		KC_ASSERT(!"unknown key type");
	}
	if (!rc)
		store_num(p, k, i, dbl);
	return rc;
}

int kc_emu_profile_from_scenario(struct kc_scenario *sc,
				 struct kc_emu_profile *p, struct kc_diag *d)
{
	KC_ASSERT(p);
	if (!sc)
		return KC_OK;
	for (size_t k = 0; k < NKEYS; k++) {
		int rc = from_entry(sc, p, &keys[k], d);
		if (rc && rc != KC_ENOTFOUND)
			return rc;
	}
	return KC_OK;
}

int kc_emu_profile_check(const struct kc_emu_profile *p, struct kc_diag *d)
{
	KC_ASSERT(p);
	/* Profiles built in code skip the per-key ranges: check the table's. */
	for (size_t k = 0; k < NKEYS; k++) {
		const struct keydef *kd = &keys[k];
		const char *f = (const char *)p + kd->off;
		double v;
		if (kd->type == T_INT) {
			int x;
			memcpy(&x, f, sizeof(x));
			v = x;
		} else if (kd->type == T_I64 || kd->type == T_DUR) {
			int64_t x;
			memcpy(&x, f, sizeof(x));
			if (!strcmp(kd->key, "fault_stall_at") && x == -1)
				continue; /* "one period" */
			v = (double)x;
		} else if (kd->type == T_DOUBLE) {
			memcpy(&v, f, sizeof(v));
		} else if (kd->type == T_SIZE) {
			uint64_t x;
			memcpy(&x, f, sizeof(x));
			v = (double)x;
		} else {
			continue;
		}
		if (!(v >= kd->lo && v <= kd->hi))
			return kc_diag_set_at(d, KC_EINVAL, "", 0, kd->key,
					      "%g is out of range (%g..%g)", v, kd->lo, kd->hi);
	}
	double sum = 0;
	for (int i = 0; i < p->faults.n_errors; i++)
		sum += p->faults.errors[i].prob;
	if (sum > 1.0 + 1e-9)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "fault_error",
				      "probabilities add up to %g, more than 1", sum);
	if (p->service_dist == KC_EMU_DIST_FIXED && p->service_cv != 0.0)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "service_cv",
				      "only means something with service_dist = lognormal");
	if (p->faults.stall_ns > 0 && p->faults.stall_every_ns > 0 &&
	    p->faults.stall_ns >= p->faults.stall_every_ns)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "fault_stall",
				      "must be shorter than fault_stall_every");
	if (p->faults.stall_ns > 0 && p->faults.stall_every_ns == 0 &&
	    p->faults.stall_at_ns < 0)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "fault_stall",
				      "needs fault_stall_every or fault_stall_at");
	if (p->endpoint_name[0]) {
		/* SageMaker's EndpointName pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$ */
		const char *s = p->endpoint_name;
		size_t n = strlen(s);
		bool ok = n <= 63 && s[0] != '-' && s[n - 1] != '-';
		for (size_t i = 0; ok && i < n; i++)
			ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			     (s[i] >= '0' && s[i] <= '9') || s[i] == '-';
		if (!ok)
			return kc_diag_set_at(d, KC_EINVAL, "", 0, "endpoint_name",
					      "'%s' is not a SageMaker endpoint name "
					      "(letters, digits, inner hyphens, <= 63)", s);
	}
	if (!p->variant[0])
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "variant", "must not be empty");
	int crc = kc_emu_components_check(p, d);
	if (crc)
		return crc;
	if (p->max_connections_per_client > p->max_connections)
		return kc_diag_set_at(d, KC_EINVAL, "", 0, "max_connections_per_client",
				      "%d is more than max_connections (%d)",
				      p->max_connections_per_client, p->max_connections);
	return KC_OK;
}

int kc_emu_profile_client_cap(const struct kc_emu_profile *p)
{
	KC_ASSERT(p);
	if (p->max_connections_per_client > 0)
		return p->max_connections_per_client;
	/* A quarter (64 at least, or all of a smaller max_connections): one
	 * load generator still gets 256 of the default 1024, more than the
	 * tests and typical runs open, and with kc_emu_profile_conn_limit's
	 * room four addresses at their cap leave the reserve free. */
	int cap = p->max_connections / 4;
	int floor = p->max_connections < 64 ? p->max_connections : 64;
	return cap > floor ? cap : floor;
}

int kc_emu_profile_conn_limit(const struct kc_emu_profile *p)
{
	KC_ASSERT(p);
	/* Added, not taken from max_connections: a load test that fitted
	 * before still fits, and an address opening connections without end
	 * stops at its cap with the reserve still free for GET /ping. */
	int reserve = p->max_connections / 8;
	if (reserve < 16)
		reserve = 16;
	int n = p->max_connections;
	/* With the default cap, room for four addresses at it (more than
	 * max_connections only below 256, where the cap's floor of 64 makes
	 * a quarter too few), so a handful of attacking addresses cannot
	 * reach the reserve.  An explicit cap is the user's trade. */
	if (p->max_connections_per_client == 0 && 4 * kc_emu_profile_client_cap(p) > n)
		n = 4 * kc_emu_profile_client_cap(p);
	return n + reserve;
}

double kc_emu_profile_capacity_rps(const struct kc_emu_profile *p)
{
	KC_ASSERT(p && p->service_ns_mean > 0);
	if (p->n_components > 0 || p->serverless_max_concurrency > 0)
		return kc_emu_components_capacity_rps(p);
	return (double)p->instances * (double)p->slots * 1e9 /
	       (double)p->service_ns_mean;
}

char *kc_emu_profile_describe(const struct kc_emu_profile *p, char *out,
			      size_t outsz)
{
	KC_ASSERT(p && out);
	char svc[32];
	kc_format_duration(p->service_ns_mean, svc, sizeof(svc));
	char dist[48];
	if (p->service_dist == KC_EMU_DIST_LOGNORMAL)
		snprintf(dist, sizeof(dist), "lognormal (cv %.2g) mean", p->service_cv);
	else
		snprintf(dist, sizeof(dist), "fixed");
	if (p->n_components > 0 || p->serverless_max_concurrency > 0)
		return kc_emu_components_describe(p, dist, out, outsz);
	snprintf(out, outsz, "%d instance%s x %d slot%s, %s %s service -> %.1f RPS nominal",
		 p->instances, p->instances == 1 ? "" : "s", p->slots,
		 p->slots == 1 ? "" : "s", dist, svc, kc_emu_profile_capacity_rps(p));
	return out;
}
