/*
 * resultdoc.h - reading a result.json back: the document `kneecap find`,
 * `run` and `streams` write (DESIGN.md "What a run writes"), as the report
 * and plan commands need it.
 *
 * The reader insists on `"tool": "kneecap"` and `"schema": 1`: a file from
 * another tool, or from a newer kneecap whose layout this build cannot
 * know, is refused with a clear message rather than misread.  Keys beyond
 * the agreed ones are ignored, except the `config` and `environment`
 * objects, which are kept flattened ("search.slo_ms" = "500") for display.
 */
#ifndef KNEECAP_RESULTDOC_H
#define KNEECAP_RESULTDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "kneecap/step.h"

struct kc_diag;

#define KC_RESULTDOC_SCHEMA 1
#define KC_RESULTDOC_MAX_STEPS 1024
#define KC_RESULTDOC_MAX_KV 160
#define KC_RESULTDOC_MAX_BYTES (64u << 20)

struct kc_rd_step {
	double offered;            /* rps, or streams */
	double achieved;
	struct kc_latency latency; /* ms; fields absent in the file are NAN */
	struct kc_latency service; /* ms; NAN when absent */
	double errors;
	double inflight_max;
	bool stable;
	double arrived;            /* arrivals actually sent per second; NAN when absent */
	char verdict[24];          /* "healthy", "throughput", ...; "" when not judged */
	int attempt;               /* 0 first measurement of its load, 1.. re-measures */
	bool ambiguous;            /* verdict.settled (formerly verdict.stable) was false */
};

#define KC_RESULTDOC_MAX_NOTES 8

struct kc_rd_kv {
	char key[96];
	char value[160];
};

/* find's CloudWatch signals (result.json "signals"): the table at the knee. */
#define KC_RD_SIGNALS 16
struct kc_rd_signal_row {
	char metric[40], unit[12];
	bool have, proportional;
	double at_knee, r;
	int points;
};
struct kc_rd_signals {
	bool asked, available;
	char reason[320];            /* why unavailable */
	int period_s, short_steps;
	size_t nrows, nverdict;
	struct kc_rd_signal_row rows[KC_RD_SIGNALS];
	char verdict[KC_RD_SIGNALS][200];
	char policy[160];            /* "CPUUtilization = 70 (--current-policy)"; "" none */
};

struct kc_resultdoc {
	char path[256];
	char mode[16];               /* "rps" or "streams" */
	size_t nsteps;
	struct kc_rd_step *steps;    /* owned */
	bool partial;                /* "partial": true (interrupted, failed or cut short) */
	char interrupted[16];        /* "SIGINT", "SIGTERM", "" */
	bool has_knee;               /* a knee object (knee_found says whether it is one) */
	double knee_value, knee_per_instance;
	char knee_unit[24];
	char knee_reason[256];
	bool searched;               /* a knee search (find, streams, merge), not a plain run */
	bool knee_found;             /* knee.found (true when the key is absent but a value is) */
	char knee_bound[24];         /* knee.bound: "tested", "saturated_max", ...; "" absent */
	char knee_bound_note[200];   /* knee.bound_note */
	char diagnosis[320];         /* knee.diagnosis, else search.diagnosis */
	size_t nnotes;               /* knee.notes: what the terminal printed under the knee */
	char notes[KC_RESULTDOC_MAX_NOTES][400];
	char why[600];               /* recommendation.why; "" when absent */
	/* knee.steps, .remeasures, .measured_s, .precision (a fraction in rps
	 * mode, streams otherwise); -1 / NAN when absent. */
	int search_steps, search_remeasures;
	double measured_s, precision;
	char run_load[16];           /* a plain run: config.load ("rate", "concurrency", ...) */
	double run_rate;             /* config.rate; NAN when absent */
	double run_concurrency;      /* config.concurrency; NAN when absent */
	char slo_stat[8];            /* config.search.slo_percentile; "" when absent */
	bool has_rec;
	char instance_type[64];
	char metric[96];
	double factor, target_value, target_low, target_high;
	double scale_out_cooldown_s, scale_in_cooldown_s; /* NAN when absent */
	bool disable_scale_in;       /* the policy's DisableScaleIn */
	int rec_min_capacity, rec_max_capacity; /* what find's apply.sh registered; 0 absent */
	/* The endpoint and variant apply.sh registered: recommendation.endpoint_name
	 * and .variant, else from a sagemaker:ENDPOINT[/VARIANT] target; "" unknown. */
	char endpoint_name[64];
	char variant[64];
	/* recommendation.endpoint_kind ("instance" when absent: older results),
	 * .inference_component and .copies (a component's knee is per copy). */
	char endpoint_kind[16];
	char inference_component[64];
	int copies;
	char region[64], profile[128]; /* recommendation.region/.profile; "" absent */
	double slo_ms;               /* config SLO if the file names one; NAN otherwise */
	/* confirm{}: find's confirmation step at the recommended target (not a
	 * search step).  Figures NAN when absent. */
	bool has_confirm, confirm_healthy;
	double confirm_offered, confirm_per_instance, confirm_target_value;
	double confirm_arrived, confirm_achieved, confirm_errors, confirm_duration_s;
	int confirm_instances;
	struct kc_latency confirm_latency; /* ms */
	char confirm_verdict[24];
	size_t nconfig, nenv;
	struct kc_rd_kv config[KC_RESULTDOC_MAX_KV];
	struct kc_rd_kv env[KC_RESULTDOC_MAX_KV];
	struct kc_rd_signals signals;
};

/*
 * Parses a result document from text (name is used in messages).  Returns
 * 0; KC_EPARSE (not JSON); KC_EUNSUPPORTED (another tool, or a newer
 * schema); KC_EINVAL (a required key missing or of the wrong type); d says
 * "name: ...".  On success *out owns its steps: free with
 * kc_resultdoc_fini().  *out untouched on failure.
 */
int kc_resultdoc_parse(struct kc_resultdoc *out, const char *name,
		       const char *text, size_t len, struct kc_diag *d);

/* As kc_resultdoc_parse, reading path (at most KC_RESULTDOC_MAX_BYTES). */
int kc_resultdoc_load(struct kc_resultdoc *out, const char *path,
		      struct kc_diag *d);

/* Fills out from result.json's "signals" object (sig may be NULL: not
 * asked); the rows and verdicts past KC_RD_SIGNALS are dropped. */
struct json_t;
void kc_rd_signals_parse(const struct json_t *sig, struct kc_rd_signals *out);

/* Frees what the document owns; doc may be NULL. */
void kc_resultdoc_fini(struct kc_resultdoc *doc);

/*
 * The number of instances behind the endpoint in the run: knee.value /
 * knee.per_instance rounded, else 1.
 */
int kc_resultdoc_instances(const struct kc_resultdoc *doc);

/*
 * The recommended target per instance in requests/second (rps mode):
 * target_value / 60 for SageMakerVariantInvocationsPerInstance, else factor
 * x knee per instance.  NAN when the document has no recommendation or is
 * a streams run.
 */
double kc_resultdoc_target_rps(const struct kc_resultdoc *doc);

#endif
