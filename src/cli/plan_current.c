/*
 * plan_current.c - the team's current policy in `plan` (plan_current.h).
 */
#include "plan_current.h"
#include "signals_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "kneecap/err.h"
#include "kneecap/html.h"

/* The signal table row of metric in result.json: its value at the knee. */
static int at_knee(const char *path, const char *metric, double *v, bool *prop,
		   struct kc_diag *d)
{
	json_t *root = json_load_file(path, 0, NULL);
	json_t *sig = json_object_get(root, "signals");
	json_t *table = json_object_get(sig, "table");
	int rc = kc_diag_set(d, KC_ENOTFOUND,
			     "--current-policy %s: %s has no CloudWatch signal table (find on a "
			     "sagemaker: target reads one); only InvocationsPerInstance can be "
			     "judged without it", metric, path);
	size_t i;
	json_t *row;
	json_array_foreach(table, i, row) {
		const char *m = json_string_value(json_object_get(row, "metric"));
		json_t *x = json_object_get(row, "at_knee");
		if (!m || strcmp(m, metric))
			continue;
		if (!json_is_number(x) || !(json_number_value(x) > 0)) {
			rc = kc_diag_set(d, KC_ENOTFOUND, "--current-policy: %s had no value at the "
					 "knee in %s", metric, path);
			break;
		}
		*v = json_number_value(x);
		*prop = json_is_true(json_object_get(row, "proportional"));
		kc_diag_clear(d);
		rc = 0;
		break;
	}
	json_decref(root);
	return rc;
}

int plan_current_simulate(const char *spec, const char *result_path,
			  const struct kc_resultdoc *doc, const struct kc_plan_input *in,
			  const struct kc_plan_model *std, struct kc_plan_run *run, char *name,
			  size_t namesz, struct kc_diag *d)
{
	enum kc_sig sig;
	double target;
	if (cli_signals_parse_policy(spec, &sig, &target) || !(target > 0))
		return kc_diag_set(d, KC_EINVAL, "--current-policy %s: METRIC=TARGET with METRIC "
				   "one of InvocationsPerInstance, CPUUtilization, GPUUtilization, "
				   "GPUMemoryUtilization, ConcurrentRequestsPerModel", spec);
	struct kc_plan_input cur = *in;
	const char *mname = kc_sig_defs[sig].name;
	if (sig == KC_SIG_IPI) {
		cur.target_rps = target / 60.0;
		cur.metric_served = false;
		snprintf(name, namesz, "current policy %s %g", mname, target);
	} else {
		double v = 0;
		bool prop = false;
		int rc = at_knee(result_path, mname, &v, &prop, d);
		if (rc)
			return rc;
		/* Per instance: the metric grows with the load served, v at the knee. */
		cur.target_rps = target / (v / doc->knee_per_instance);
		cur.metric_served = true;
		snprintf(name, namesz, "current policy %s %g%s", mname, target,
			 kc_sig_defs[sig].unit[0] == '%' ? "%" : "");
		if (v < target)
			fprintf(stderr, "plan: %s reads %.0f at the knee: a %g target never fires "
				"before saturation%s\n", mname, v, target,
				prop ? "" : " (and it does not move in proportion to load)");
	}
	return kc_plan_simulate(&cur, KC_PLAN_STANDARD, std, NULL, 0, run, d);
}

static void cost(char *out, size_t n, double usd)
{
	if (usd < 0)
		snprintf(out, n, "cost unknown");
	else
		snprintf(out, n, "$%.2f/day", usd);
}

void plan_current_compare(FILE *f, const struct kc_plan_view *v)
{
	if (v->nruns < 2)
		return;
	const struct kc_plan_view_run *cur = &v->runs[v->nruns - 1], *rec = NULL;
	for (size_t i = 0; i + 1 < v->nruns && !rec; i++)
		if (!strncmp(v->runs[i].name, "reactive + recommended pre-warm, standard", 41))
			rec = &v->runs[i];
	if (!rec)
		rec = &v->runs[0];
	char c1[32], c2[32];
	cost(c1, sizeof(c1), cur->run->cost_usd_per_day);
	cost(c2, sizeof(c2), rec->run->cost_usd_per_day);
	fprintf(f, "plan: %s: %.0f failed requests/day, %lld s with a queue (worst %.0f "
		"requests), at most %d instances, %s; the recommended policy (%s): %.0f "
		"failed, %lld s with a queue, at most %d instances, %s\n",
		cur->name, cur->run->failed, (long long)cur->run->queue_s, cur->run->worst_queue,
		cur->run->max_instances, c1, rec->name, rec->run->failed,
		(long long)rec->run->queue_s, rec->run->max_instances, c2);
}
