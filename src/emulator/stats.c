/*
 * stats.c - what `kneecap serve` tells about itself: the counters and the
 * model's occupancy as struct kc_emu_stats (kneecap/emulator.h), and the
 * same as the JSON body of GET /emulator/stats, which both faces answer.
 */
#include "model_int.h"
#include "server_int.h"

#include "kneecap/clock.h"
#include "kneecap/emulator.h"
#include "kneecap/err.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static const char *const errc_names[KC_EMU_ERRC_COUNT] = {
	"model_error", "timeout", "overload", "injected", "validation",
	"too_large", "signature", "not_found", "method", "reset", "dead",
	"internal", "stream_error",
};

const char *kc_emu_err_class_name(enum kc_emu_err_class c)
{
	return (unsigned)c < KC_EMU_ERRC_COUNT ? errc_names[c] : "unknown";
}

void kc_emu_stats(struct kc_emu *e, struct kc_emu_stats *out)
{
	KC_ASSERT(e && out);
	memset(out, 0, sizeof(*out));
	struct kc_emu_model_counts c;
	pthread_mutex_lock(&e->mu);
	kc_emu_model_counts(e->model, &c);
	out->received = e->received;
	out->served = e->served;
	memcpy(out->errors, e->errors, sizeof(out->errors));
	out->queue_depth_max = e->queue_max;
	out->in_flight = e->in_flight;
	if (e->served > 0) {
		out->latency_ms_mean = (double)e->lat_sum_ns / (double)e->served / 1e6;
		out->wait_ms_mean = (double)e->wait_sum_ns / (double)e->served / 1e6;
		out->service_ms_mean = (double)e->svc_sum_ns / (double)e->served / 1e6;
	}
	pthread_mutex_unlock(&e->mu);
	out->queue_depth = c.queue_depth;
	out->in_service = c.in_service;
	out->capacity_rps = e->capacity_rps;
	out->instances = e->prof.instances;
	out->slots = e->prof.slots;
	out->uptime_ns = kc_clock_ns() - e->start_ns;
	out->dead = atomic_load(&e->dead);
	out->closed_header_timeout = atomic_load(&e->closed_header);
	out->closed_keepalive_timeout = atomic_load(&e->closed_idle);
	out->closed_body_timeout = atomic_load(&e->closed_body);
}

char *kc_emu_stats_json(struct kc_emu *e)
{
	struct kc_emu_stats s;
	kc_emu_stats(e, &s);
	json_t *errs = json_object();
	json_t *inst = json_array();
	json_t *root = json_object();
	if (!errs || !inst || !root)
		goto fail;
	int64_t total = 0;
	for (int i = 0; i < KC_EMU_ERRC_COUNT; i++) {
		json_object_set_new(errs, errc_names[i], json_integer(s.errors[i]));
		total += s.errors[i];
	}
	pthread_mutex_lock(&e->mu);
	for (int i = 0; i < e->prof.instances; i++) {
		struct kc_emu_model_counts c;
		kc_emu_model_instance_counts(e->model, i, &c);
		json_array_append_new(inst, json_pack("{sIsIsI}", "queue_depth",
			(json_int_t)c.queue_depth, "in_service", (json_int_t)c.in_service,
			"in_system", (json_int_t)c.in_system));
	}
	json_t *hosting = kc_emu_hosting_json(&e->host, &e->prof);
	pthread_mutex_unlock(&e->mu);
	if (hosting)
		json_object_update_new(root, hosting);
	json_object_set_new(root, "nominal_capacity_rps", json_real(s.capacity_rps));
	json_object_set_new(root, "instances", json_integer(s.instances));
	json_object_set_new(root, "slots", json_integer(s.slots));
	json_object_set_new(root, "service_ms_mean_configured",
			    json_real((double)e->prof.service_ns_mean / 1e6));
	json_object_set_new(root, "service_dist",
			    json_string(e->prof.service_dist == KC_EMU_DIST_FIXED ? "fixed" : "lognormal"));
	json_object_set_new(root, "uptime_s", json_real((double)s.uptime_ns / 1e9));
	json_object_set_new(root, "received", json_integer(s.received));
	json_object_set_new(root, "served", json_integer(s.served));
	json_object_set_new(root, "errors_total", json_integer(total));
	json_object_set_new(root, "errors", errs);
	json_object_set_new(root, "queue_depth", json_integer(s.queue_depth));
	json_object_set_new(root, "queue_depth_max", json_integer(s.queue_depth_max));
	json_object_set_new(root, "in_service", json_integer(s.in_service));
	json_object_set_new(root, "in_flight", json_integer(s.in_flight));
	json_object_set_new(root, "latency_ms_mean", json_real(s.latency_ms_mean));
	json_object_set_new(root, "wait_ms_mean", json_real(s.wait_ms_mean));
	json_object_set_new(root, "service_ms_mean", json_real(s.service_ms_mean));
	json_object_set_new(root, "per_instance", inst);
	json_object_set_new(root, "dead", json_boolean(s.dead));
	json_object_set_new(root, "closed_slow_clients",
			    json_pack("{sIsI}", "header_timeout", (json_int_t)s.closed_header_timeout,
				      "body_timeout", (json_int_t)s.closed_body_timeout));
	json_object_set_new(root, "closed_idle_keepalive",
			    json_integer((json_int_t)s.closed_keepalive_timeout));
	char *txt = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return txt;
fail:
	json_decref(errs);
	json_decref(inst);
	json_decref(root);
	return NULL;
}
