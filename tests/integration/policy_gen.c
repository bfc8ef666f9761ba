/*
 * policy_gen.c - test helper for test_policy_botocore.sh: turns a knee and a
 * scenario's [recommend] section into scaling-policy.json and apply.sh with
 * the same library calls `kneecap find` uses, so the script can check the
 * files with botocore and a fake `aws`.
 *
 *   policy_gen SCENARIO.ini rps|streams KNEE OUTDIR [REGION [PROFILE]]
 *
 * A component scaled to zero also gets step-scaling-policy.json (the
 * StepScaling configuration apply.sh carries inline).
 * Prints the TargetValue on stdout; exits 2 on bad input with the library's
 * "file:line: key: message" on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/verdict.h"
#include "kneecap/scenario.h"

static int fail(const struct kc_diag *d)
{
	char msg[1024];
	fprintf(stderr, "policy_gen: %s\n", kc_diag_format(d, msg, sizeof(msg)));
	return 2;
}

static int write_out(const char *dir, const char *name, const struct kc_buf *b)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (kc_write_file(path, b->data, b->len)) {
		fprintf(stderr, "policy_gen: cannot write %s\n", path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: policy_gen SCENARIO.ini rps|streams KNEE OUTDIR [REGION [PROFILE]]\n");
		return 2;
	}
	struct kc_diag d;
	kc_diag_clear(&d);
	struct kc_scenario *sc = NULL;
	if (kc_scenario_load(&sc, argv[1], &d))
		return fail(&d);
	struct kc_recommend_cfg c;
	kc_recommend_cfg_default(&c);
	int rc = kc_recommend_cfg_from_scenario(&c, sc, &d);
	if (!rc)
		rc = kc_scenario_check_unused(sc, &d);
	kc_scenario_free(sc);
	if (rc)
		return fail(&d);
	if (argc > 5)
		snprintf(c.region, sizeof(c.region), "%s", argv[5]);
	if (argc > 6 && strlen(argv[6]) < sizeof(c.profile))
		memcpy(c.profile, argv[6], strlen(argv[6]) + 1);

	struct kc_knee k;
	memset(&k, 0, sizeof(k));
	k.mode = strcmp(argv[2], "streams") ? KC_MODE_RPS : KC_MODE_STREAMS;
	if (kc_parse_double(argv[3], 0, 1e9, &k.value)) {
		fprintf(stderr, "policy_gen: bad knee '%s'\n", argv[3]);
		return 2;
	}
	k.found = true;
	k.end = KC_END_CONVERGED;
	k.ended_by = KC_VERDICT_INFLIGHT_GROWTH;
	struct kc_recommendation r;
	if (kc_recommend_compute(&c, &k, 0, &r, &d))
		return fail(&d);

	struct kc_buf policy, sh;
	kc_buf_init(&policy, 1 << 16);
	kc_buf_init(&sh, 1 << 16);
	rc = kc_recommend_policy_text(&c, &r, &policy);
	if (!rc && kc_recommend_apply_sh(&c, &r, &sh, &d))
		rc = fail(&d);
	if (!rc)
		rc = write_out(argv[4], "scaling-policy.json", &policy);
	if (!rc)
		rc = write_out(argv[4], "apply.sh", &sh);
	if (!rc && c.kind == KC_RES_COMPONENT && c.min_capacity == 0) {
		/* The StepScaling configuration apply.sh carries inline, for botocore. */
		json_t *step = kc_recommend_step_from_zero(&c);
		if (!step)
			return 1;
		char path[4096];
		snprintf(path, sizeof(path), "%s/step-scaling-policy.json", argv[4]);
		rc = json_dump_file(step, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ? 1 : 0;
		json_decref(step);
	}
	if (!rc)
		printf("%g\n", r.target_value);
	kc_buf_fini(&policy);
	kc_buf_fini(&sh);
	return rc;
}
