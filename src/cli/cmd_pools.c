/*
 * cmd_pools.c - `kneecap pools`: a variant with mixed instance pools from
 * one result per instance type.  Writes the endpoint config's
 * InstancePools, a target-tracking policy on the capacity-weighted custom
 * metric, its apply.sh and the count publisher; with --traffic it
 * simulates a day with the plain per-instance policy and the weighted one
 * while new instances fall back to the lower-priority pools.
 *
 * It composes: resultdoc (each pool's knee), recommend (the TargetValue
 * from the first pool's knee), analysis/pools (weights, simulation),
 * report/poolspolicy and report/policy (the files).  Exit 1 when the
 * weighted policy still runs a pool above its knee or fails requests.
 */
#include "cli.h"
#include "opts.h"
#include "kneecap/buf.h"
#include "kneecap/parse.h"
#include "kneecap/plan.h"
#include "kneecap/policy.h"
#include "kneecap/pools.h"
#include "kneecap/poolspolicy.h"
#include "kneecap/recommend.h"
#include "kneecap/resultdoc.h"
#include "kneecap/sagemaker.h"
#include "kneecap/scenario.h"
#include "kneecap/search.h"
#include "kneecap/traffic.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NS_PER_S INT64_C(1000000000)

static const char usage_text[] =
	"usage: kneecap pools RESULT.json RESULT.json... [options]\n"
	"\n"
	"A variant with mixed instance pools (InstancePools, up to five instance types by\n"
	"priority): one find result per instance type, the preferred pool first.  Writes\n"
	"the endpoint config's InstancePools and a target-tracking policy on a\n"
	"capacity-weighted custom metric (invocations per minute / sum of each pool's\n"
	"instances x its knee relative to the first pool's), so one TargetValue means the\n"
	"same fraction of the knee on every pool.\n"
	"\n"
	"  --endpoint-name NAME  the endpoint (default: the first result's; required)\n"
	"  --variant NAME        the variant (default: the first result's, else AllTraffic)\n"
	"  --model-name NAME     ModelName in endpoint-config.json (default my-model)\n"
	"  --factor F            TargetValue = F x the first pool's knee (default: the\n"
	"                        first result's factor, else 0.75)\n"
	"  --min N, --max N      MinCapacity / MaxCapacity (default: the first result's,\n"
	"                        else 1 / 4; --max grows to carry --traffic's peak)\n"
	"  --traffic FILE        simulate a day of this [traffic] shape (docs/traffic.md)\n"
	"                        with the per-instance and the weighted policy\n"
	"  --available TYPE=N    at most N instances of TYPE can be had (a capacity\n"
	"                        shortage; repeatable): new ones come from the next pool\n"
	"  --provision DUR       new instance to InService (default 300s GPU, 180s CPU)\n"
	"  --region R, --profile P   passed to the aws calls in the scripts\n"
	"  --out DIR             write DIR/endpoint-config.json, DIR/scaling-policy.json,\n"
	"                        DIR/apply.sh and DIR/publish-pool-counts.sh\n"
	"\n"
	"The weighted metric divides by per-pool instance counts that\n"
	"publish-pool-counts.sh puts into CloudWatch (namespace " KC_POOLS_NAMESPACE ");\n"
	"run it every minute.  The policy uses metric math (CustomizedMetricSpecification\n"
	".Metrics): an AWS CLI older than that API (Debian 12's 2.9) rejects it.\n"
	"\n"
	"Examples:\n"
	"  kneecap pools g6/result.json g6e/result.json --out pools/\n"
	"  kneecap pools g6.json g6e.json --traffic day.ini --available ml.g6.2xlarge=2 --out pools/\n"
	"\n"
	"exit status: 0 ok, 1 the weighted policy still runs a pool above its knee or\n"
	"fails requests in the simulated day, 2 bad usage or input, 4 an output could\n"
	"not be written.\n";

struct opts {
	const char *results[KC_POOLS_MAX];
	size_t nresults;
	const char *endpoint, *variant, *model, *factor, *v_min, *v_max, *traffic;
	const char *provision, *region, *profile, *out_dir;
	const char *avail[KC_POOLS_MAX];
	size_t navail;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct cli_valued valued[] = {
		{"--endpoint-name", offsetof(struct opts, endpoint)},
		{"--variant", offsetof(struct opts, variant)},
		{"--model-name", offsetof(struct opts, model)},
		{"--factor", offsetof(struct opts, factor)},
		{"--min", offsetof(struct opts, v_min)},
		{"--max", offsetof(struct opts, v_max)},
		{"--traffic", offsetof(struct opts, traffic)},
		{"--provision", offsetof(struct opts, provision)},
		{"--region", offsetof(struct opts, region)},
		{"--profile", offsetof(struct opts, profile)},
		{"--out", offsetof(struct opts, out_dir)},
	};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--available")) {
			if (i + 1 >= argc || o->navail == KC_POOLS_MAX) {
				cli_error("pools: --available needs TYPE=N (at most %d)", KC_POOLS_MAX);
				return -1;
			}
			o->avail[o->navail++] = argv[++i];
			continue;
		}
		int took = cli_take_valued("pools", valued, sizeof(valued) / sizeof(valued[0]), o,
					   argc, argv, &i);
		if (took < 0)
			return -1;
		if (took)
			continue;
		if (a[0] == '-' && a[1]) {
			cli_error("pools: unknown option '%s' (see kneecap pools --help)", a);
			return -1;
		}
		if (o->nresults == KC_POOLS_MAX) {
			cli_error("pools: at most %d results (InstancePools holds five pools)", KC_POOLS_MAX);
			return -1;
		}
		o->results[o->nresults++] = a;
	}
	if (o->nresults < 2) {
		cli_error("pools: needs two or more RESULT.json, one per instance type, the "
			  "preferred first (see kneecap pools --help)");
		return -1;
	}
	return 0;
}

/* Lower-case letters, digits and dots: safe inside the scripts' quotes. */
static bool type_ok(const char *t)
{
	if (strncmp(t, "ml.", 3))
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* One pool from one result: its instance type and knee per instance. */
static int add_pool(struct kc_pools *p, const struct kc_resultdoc *doc)
{
	if (strcmp(doc->mode, "rps")) {
		cli_error("pools: %s is a %s run; the weighted invocations metric needs a "
			  "request-rate (rps) result per pool", doc->path, doc->mode);
		return -1;
	}
	if (!doc->has_knee || !doc->knee_found || !(doc->knee_per_instance > 0)) {
		cli_error("pools: %s has no knee, so the pool has no capacity to weigh", doc->path);
		return -1;
	}
	if (!type_ok(doc->instance_type)) {
		cli_error("pools: %s names no instance type (ml.*): run find with --instance-type",
			  doc->path);
		return -1;
	}
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_pools_add(p, doc->instance_type, doc->knee_per_instance, &d)) {
		cli_diag_error("pools", &d);
		return -1;
	}
	return 0;
}

static int parse_available(const struct opts *o, struct kc_pools *p)
{
	for (size_t i = 0; i < o->navail; i++) {
		const char *eq = strchr(o->avail[i], '=');
		char type[64];
		int64_t n;
		if (!eq || (size_t)(eq - o->avail[i]) >= sizeof(type) ||
		    kc_parse_i64(eq + 1, 0, KC_PLAN_MAX_CAPACITY, &n)) {
			cli_error("pools: --available '%s' must be TYPE=N (N 0..%d)", o->avail[i],
				  KC_PLAN_MAX_CAPACITY);
			return -1;
		}
		snprintf(type, sizeof(type), "%.*s", (int)(eq - o->avail[i]), o->avail[i]);
		int k = kc_pools_find(p, type);
		if (k < 0) {
			cli_error("pools: --available %s: no result for that instance type", type);
			return -1;
		}
		p->pool[k].available = (int)n;
	}
	return 0;
}

static int set_name(char *dst, size_t cap, const char *v, const char *what)
{
	if (!kc_sagemaker_name_valid(v) || strlen(v) >= cap) {
		cli_error("pools: %s '%s' must be 1-63 letters, digits and inner hyphens", what, v);
		return -1;
	}
	snprintf(dst, cap, "%s", v);
	return 0;
}

static int int_flag(const char *v, const char *flag, int lo, int hi, int *out)
{
	int64_t n;
	if (kc_parse_i64(v, lo, hi, &n)) {
		cli_error("pools: %s '%s' must be an integer in %d..%d", flag, v, lo, hi);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* The recommendation settings: the first result's, then the flags. */
static int configure(const struct opts *o, const struct kc_resultdoc *first,
		     struct kc_recommend_cfg *c)
{
	kc_recommend_cfg_default(c);
	c->metric_set = true;
	c->metric = KC_METRIC_INVOCATIONS;
	if (first->factor > 0 && first->factor <= 1)
		c->factor = first->factor;
	if (first->rec_min_capacity >= 1)
		c->min_capacity = first->rec_min_capacity;
	if (first->rec_max_capacity >= c->min_capacity)
		c->max_capacity = first->rec_max_capacity;
	if (isfinite(first->scale_out_cooldown_s) && first->scale_out_cooldown_s >= 0)
		c->scale_out_cooldown_s = (int)first->scale_out_cooldown_s;
	if (isfinite(first->scale_in_cooldown_s) && first->scale_in_cooldown_s >= 0)
		c->scale_in_cooldown_s = (int)first->scale_in_cooldown_s;
	c->disable_scale_in = first->disable_scale_in;
	snprintf(c->region, sizeof(c->region), "%s", o->region ? o->region : first->region);
	snprintf(c->profile, sizeof(c->profile), "%s", o->profile ? o->profile : first->profile);
	const char *ep = o->endpoint ? o->endpoint : first->endpoint_name;
	if (!ep[0]) {
		cli_error("pools: the weighted metric names the endpoint in its dimensions: give "
			  "--endpoint-name");
		return -1;
	}
	if (set_name(c->endpoint_name, sizeof(c->endpoint_name), ep, "endpoint name"))
		return -1;
	if ((o->variant || first->variant[0]) &&
	    set_name(c->variant, sizeof(c->variant), o->variant ? o->variant : first->variant, "variant"))
		return -1;
	if (o->factor && kc_parse_double(o->factor, 0.01, 1, &c->factor)) {
		cli_error("pools: --factor '%s' must be in (0, 1]", o->factor);
		return -1;
	}
	c->factor_low = fmin(c->factor_low, c->factor);
	c->factor_high = fmax(c->factor_high, c->factor);
	if ((o->v_min && int_flag(o->v_min, "--min", 1, KC_PLAN_MAX_CAPACITY, &c->min_capacity)) ||
	    (o->v_max && int_flag(o->v_max, "--max", 1, KC_PLAN_MAX_CAPACITY, &c->max_capacity)))
		return -1;
	if (c->max_capacity < c->min_capacity) {
		if (o->v_max) {
			cli_error("pools: MaxCapacity %d is below MinCapacity %d", c->max_capacity,
				  c->min_capacity);
			return -1;
		}
		c->max_capacity = c->min_capacity;
	}
	return 0;
}

/* The first pool's TargetValue, by the recommender's own rounding. */
static int first_target(const struct kc_recommend_cfg *c, const struct kc_pools *p,
			struct kc_recommendation *r)
{
	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.found = true;
	k.mode = KC_MODE_RPS;
	k.value = p->pool[0].knee_rps;
	struct kc_diag d;
	kc_diag_clear(&d);
	if (kc_recommend_compute(c, &k, 0, r, &d)) {
		cli_diag_error("pools", &d);
		return -1;
	}
	return 0;
}

static void print_pools(const struct kc_pools *p, const struct kc_recommend_cfg *c,
			const struct kc_recommendation *r)
{
	char expr[512];
	printf("pools: endpoint %s, variant %s, MinCapacity %d, MaxCapacity %d\n", c->endpoint_name,
	       c->variant, c->min_capacity, c->max_capacity);
	printf("  priority  instance type        knee/instance  weight  available\n");
	for (size_t i = 0; i < p->n; i++) {
		char av[16];
		if (p->pool[i].available < 0)
			snprintf(av, sizeof(av), "-");
		else
			snprintf(av, sizeof(av), "%d", p->pool[i].available);
		printf("  %8zu  %-20s %9.1f rps  %6.3f  %9s\n", i + 1, p->pool[i].instance_type,
		       p->pool[i].knee_rps, p->pool[i].weight, av);
	}
	printf("weighted metric: %s\n", kc_pools_expression(p, expr, sizeof(expr)));
	printf("TargetValue %g invocations/minute per %s-equivalent instance (%.0f%% of every "
	       "pool's knee)\n", r->target_value, p->pool[0].instance_type, c->factor * 100);
	for (size_t i = 1; i < p->n; i++)
		if (p->pool[i].weight > 1.0)
			/* Target tracking steps in instances, not weights: the
			 * scale-in it sizes as one instance may be a bigger one. */
			printf("note: %s is faster than %s: a scale-in that target tracking sizes "
			       "as one instance can remove %.2f %s-equivalents and overload the "
			       "rest (see --traffic)\n", p->pool[i].instance_type,
			       p->pool[0].instance_type, p->pool[i].weight, p->pool[0].instance_type);
}

/* Writes one file of DIR; prints its path.  -1 when it cannot. */
static int write_one(const char *dir, const char *name, const struct kc_buf *b, bool exec)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (kc_write_file(path, b->data ? b->data : "", b->len) || (exec && chmod(path, 0755))) {
		cli_error("pools: cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	printf("pools: %s\n", path);
	return 0;
}

static int write_files(const char *dir, const struct kc_recommend_cfg *c,
		       const struct kc_pools *p, const char *model,
		       const struct kc_recommendation *r)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		cli_error("pools: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	char cfg_name[KC_NAME_MAX];
	snprintf(cfg_name, sizeof(cfg_name), "%.56s-pools", c->endpoint_name);
	struct kc_buf b;
	kc_buf_init(&b, 1u << 20);
	struct kc_diag d;
	kc_diag_clear(&d);
	char unit[160];
	snprintf(unit, sizeof(unit), "invocations/minute per %s-equivalent instance",
		 p->pool[0].instance_type);
	int rc = 0;
	if (kc_pools_json_text(kc_pools_endpoint_config(p, cfg_name, model, c->variant,
							c->min_capacity), &b) ||
	    write_one(dir, "endpoint-config.json", &b, false))
		rc = -1;
	kc_buf_reset(&b);
	if (!rc && (kc_pools_json_text(kc_pools_policy(c, p, r->target_value), &b) ||
		    write_one(dir, "scaling-policy.json", &b, false)))
		rc = -1;
	kc_buf_reset(&b);
	if (!rc && kc_recommend_apply_sh_custom(c, r, "weighted", unit, &b, &d)) {
		cli_diag_error("pools: apply.sh", &d);
		rc = -1;
	}
	if (!rc && write_one(dir, "apply.sh", &b, true))
		rc = -1;
	kc_buf_reset(&b);
	if (!rc && (kc_pools_publish_sh(c, p, &b) ||
		    write_one(dir, "publish-pool-counts.sh", &b, true)))
		rc = -1;
	kc_buf_fini(&b);
	return rc;
}

/* One policy's day, one line per pool.  True when no pool went over its
 * knee and nothing failed. */
static bool print_sim(const char *name, const struct kc_pools *p,
		      const struct kc_pools_sim_out *s)
{
	bool ok = s->failed < 0.5;
	printf("  %s: %.0f requests failed (of %.0f), worst queue %.0f, %.1f instance-hours%s\n",
	       name, s->failed, s->arrived, s->worst_queue, s->instance_hours,
	       s->unavailable_s ? ", wanted more than the pools had" : "");
	for (size_t i = 0; i < p->n; i++) {
		if (s->over_knee_s[i])
			ok = false;
		printf("    %-20s peak %3d instances, load %5.1f%% of its knee on average, "
		       "%5.1f%% worst, %lld s above the knee\n", p->pool[i].instance_type,
		       s->peak_instances[i], s->mean_load[i] * 100, s->worst_load[i] * 100,
		       (long long)s->over_knee_s[i]);
	}
	return ok;
}

/* --traffic: both policies on the same day and the same shortage. */
static int simulate(const struct opts *o, struct kc_recommend_cfg *c, const struct kc_pools *p,
		    const struct kc_recommendation *r)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_scenario *sc = NULL;
	struct kc_traffic *tr = calloc(1, sizeof(*tr));
	int status = KC_EXIT_USAGE;
	if (!tr) {
		cli_error("pools: out of memory");
		return KC_EXIT_INTERNAL;
	}
	if (kc_scenario_load(&sc, o->traffic, &d) || kc_traffic_from_scenario(tr, sc, &d)) {
		cli_diag_error("pools", &d);
		goto out;
	}
	/* plan's defaults: ~300 s for accelerated families, ~180 s for CPU. */
	static const char *const accel[] = {"ml.g", "ml.p", "ml.inf", "ml.trn"};
	double prov = 180;
	for (size_t i = 0; i < sizeof(accel) / sizeof(accel[0]); i++)
		if (!strncmp(p->pool[0].instance_type, accel[i], strlen(accel[i])))
			prov = 300;
	int64_t ns;
	if (o->provision) {
		double bare;
		/* Units required, as in every other command and scenario file. */
		if (kc_parse_double(o->provision, -1e300, 1e300, &bare) == KC_OK && bare != 0) {
			cli_error("pools: --provision '%s': a duration needs a unit (5s, 500ms)",
				  o->provision);
			goto out;
		}
		if (kc_parse_duration_ns(o->provision, NS_PER_S, &ns) || ns > 7200 * NS_PER_S) {
			cli_error("pools: --provision '%s' must be a duration up to 2h", o->provision);
			goto out;
		}
		prov = (double)ns / 1e9;
	}
	struct kc_plan_model m;
	kc_plan_model_default(&m, KC_PLAN_STANDARD, (int64_t)prov);
	m.scale_out_cooldown_s = c->scale_out_cooldown_s;
	m.scale_in_cooldown_s = c->scale_in_cooldown_s;
	struct kc_pools_sim_in in = {.traffic = tr, .pools = p, .target_rps = r->target_value / 60.0,
				     .min_cap = c->min_capacity, .max_cap = c->max_capacity};
	if (!o->v_max) {
		/* Room for the peak at the target even on the slowest pool. */
		double wmin = 1;
		for (size_t i = 0; i < p->n; i++)
			wmin = fmin(wmin, p->pool[i].weight);
		double need = ceil(kc_traffic_peak_rps(tr) / (in.target_rps * wmin) - 1e-9);
		if (need > in.max_cap)
			in.max_cap = need > KC_PLAN_MAX_CAPACITY ? KC_PLAN_MAX_CAPACITY : (int)need;
		c->max_capacity = in.max_cap;
	}
	print_pools(p, c, r);
	struct kc_pools_sim_out u, w;
	int rc = kc_pools_simulate(&in, KC_POOLS_UNWEIGHTED, &m, &u, &d);
	if (!rc)
		rc = kc_pools_simulate(&in, KC_POOLS_WEIGHTED, &m, &w, &d);
	if (rc) {
		cli_diag_error("pools", &d);
		/* Out of memory is kneecap failing, not bad input (README's exit table). */
		if (rc == KC_ENOMEM)
			status = KC_EXIT_INTERNAL;
		goto out;
	}
	printf("simulated day (%s, MinCapacity %d, MaxCapacity %d, provisioning %.0f s, "
	       "least-outstanding-requests routing):\n", o->traffic, in.min_cap, in.max_cap, prov);
	print_sim("per-instance metric (SageMakerVariantInvocationsPerInstance)", p, &u);
	status = print_sim("capacity-weighted metric", p, &w) ? KC_EXIT_OK : KC_EXIT_THRESHOLD;
out:
	kc_scenario_free(sc);
	free(tr);
	return status;
}

int kc_cmd_pools(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	struct opts o = {0};
	if (parse_args(argc, argv, &o))
		return KC_EXIT_USAGE;
	struct kc_resultdoc *docs = calloc(o.nresults, sizeof(*docs));
	struct kc_pools p = {0};
	struct kc_recommend_cfg c;
	struct kc_recommendation r;
	size_t nloaded = 0;
	int status = KC_EXIT_USAGE;
	struct kc_diag d;
	if (!docs) {
		cli_error("pools: out of memory");
		return KC_EXIT_INTERNAL;
	}
	for (size_t i = 0; i < o.nresults; i++) {
		kc_diag_clear(&d);
		if (kc_resultdoc_load(&docs[i], o.results[i], &d)) {
			cli_diag_error("pools", &d);
			goto done;
		}
		nloaded++;
		if (add_pool(&p, &docs[i]))
			goto done;
	}
	if (parse_available(&o, &p) || configure(&o, &docs[0], &c) || first_target(&c, &p, &r))
		goto done;
	if (o.model && !kc_sagemaker_name_valid(o.model)) {
		cli_error("pools: --model-name '%s' must be 1-63 letters, digits and inner hyphens",
			  o.model);
		goto done;
	}
	if (o.traffic) {
		status = simulate(&o, &c, &p, &r);
		if (status == KC_EXIT_USAGE || status == KC_EXIT_INTERNAL)
			goto done;
	} else {
		print_pools(&p, &c, &r);
		status = KC_EXIT_OK;
	}
	if (o.out_dir && write_files(o.out_dir, &c, &p, o.model ? o.model : "my-model", &r))
		status = KC_EXIT_WRITE;
done:
	for (size_t i = 0; i < nloaded; i++)
		kc_resultdoc_fini(&docs[i]);
	free(docs);
	return status;
}
