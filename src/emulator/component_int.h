/*
 * component_int.h - the endpoint's hosting beyond one variant of
 * instances: inference components (several per endpoint, each its own
 * copies x slots, chosen per request by X-Amzn-SageMaker-Inference-Component)
 * and serverless (MaxConcurrency units, cold starts, throttling).
 * component.c holds the profile's parsing and checks and the runtime
 * choices; request.c calls them under the emulator's lock `mu`.
 */
#ifndef KNEECAP_EMU_COMPONENT_INT_H
#define KNEECAP_EMU_COMPONENT_INT_H

#include "model_int.h"

#include "kneecap/emulator.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;
struct kc_emu_headers;

#define KC_EMU_SERVERLESS_MAX 200

/* Runtime state: one model per component; serverless units. */
struct kc_emu_hosting {
	struct kc_emu_model *ic[KC_EMU_COMPONENTS_MAX];
	int64_t busy_until[KC_EMU_SERVERLESS_MAX]; /* a unit serves one request at a time */
	int64_t last_done[KC_EMU_SERVERLESS_MAX];  /* warm until last_done + idle */
	int64_t cold_starts, throttled;
	int64_t ic_served[KC_EMU_COMPONENTS_MAX];
};

/* Parses `components` (NAME:COPIESxSLOTS[@SERVICE], comma-separated) into p.
 * 0, or KC_EINVAL with why filled. */
int kc_emu_components_parse(struct kc_emu_profile *p, const char *v, char *why, size_t whysz);

/* Cross-key rules of components and serverless.  0 or KC_EINVAL (d names the key). */
int kc_emu_components_check(const struct kc_emu_profile *p, struct kc_diag *d);

/* Nominal capacity: the sum over components; serverless MaxConcurrency / service time. */
double kc_emu_components_capacity_rps(const struct kc_emu_profile *p);

/* kc_emu_profile_describe's line for components or serverless. */
char *kc_emu_components_describe(const struct kc_emu_profile *p, const char *dist, char *out,
				 size_t outsz);

/* The profile the endpoint's own model is built from (serverless: one
 * instance of MaxConcurrency slots; otherwise p itself). */
void kc_emu_hosting_main_profile(const struct kc_emu_profile *p, struct kc_emu_profile *out);

/* Builds the component models.  0, KC_EINVAL or KC_ENOMEM. */
int kc_emu_hosting_init(struct kc_emu_hosting *h, const struct kc_emu_profile *p);

/* Frees what kc_emu_hosting_init built; h may be zeroed. */
void kc_emu_hosting_fini(struct kc_emu_hosting *h);

/*
 * The model an invocation with headers hl goes to: main, or the named
 * component's.  NULL when the request is refused (a component required,
 * unknown or not hosted): why holds SageMaker's ValidationError message.
 * *ic is the component's index or -1.
 */
struct kc_emu_model *kc_emu_hosting_pick(struct kc_emu_hosting *h, const struct kc_emu_profile *p,
					 struct kc_emu_model *main_model,
					 const struct kc_emu_headers *hl, int *ic,
					 char *why, size_t whysz);

/*
 * Serverless admission at now with in_system requests already in: -1 when
 * throttled (MaxConcurrency reached), else the unit it runs on, with
 * *extra_ns the cold start it waits first (0 on a warm unit).
 */
int kc_emu_serverless_unit(struct kc_emu_hosting *h, const struct kc_emu_profile *p,
			   int64_t in_system, int64_t now_ns, int64_t *extra_ns);

/* The unit's request is done at done_ns (warm from then on for idle). */
void kc_emu_serverless_busy(struct kc_emu_hosting *h, int unit, int64_t done_ns);

/* GET /emulator/stats's "components" (name, copies, slots, served,
 * in_system each) and "serverless" (cold_starts, throttled) members, as
 * one object to merge; NULL when neither applies.  Call under mu. */
json_t *kc_emu_hosting_json(const struct kc_emu_hosting *h, const struct kc_emu_profile *p);

#endif
