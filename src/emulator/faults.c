/*
 * faults.c - fault injection for the reliability tests: which requests get
 * an injected error, a reset or a trickled body, and when responses freeze.
 *
 * Decisions only: the server carries them out.  Every decision is drawn from
 * the caller's seeded RNG so a run with the same seed and request order
 * injects the same faults.  Stall windows are a pure function of time since
 * start, so every response due inside one is held to its end.
 */
#include "faults_int.h"

#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	int status;
	const char *type;
} error_types[] = {
	{400, "ThrottlingException"},
	{403, "InvalidSignatureException"},
	{424, "ModelError"},
	{429, "ModelNotReadyException"},
	{500, "InternalFailure"},
	{503, "ServiceUnavailable"},
	{530, "InternalDependencyException"},
};

const char *kc_emu_error_type(int status)
{
	for (size_t i = 0; i < sizeof(error_types) / sizeof(error_types[0]); i++)
		if (error_types[i].status == status)
			return error_types[i].type;
	return NULL;
}

void kc_emu_faults_decide(const struct kc_emu_faults *f, struct kc_rng *r,
			  struct kc_emu_fault_plan *out)
{
	KC_ASSERT(f && r && out);
	out->status = 0;
	out->reset = false;
	out->slow = false;
	out->reset_mid = false;
	if (f->n_errors > 0) {
		/* One draw against the cumulative probabilities: the statuses
		 * are exclusive and their rates add up as configured. */
		double u = kc_rng_double(r), cum = 0.0;
		for (int i = 0; i < f->n_errors; i++) {
			cum += f->errors[i].prob;
			if (u < cum) {
				out->status = f->errors[i].status;
				break;
			}
		}
	}
	if (f->reset_prob > 0.0 && kc_rng_double(r) < f->reset_prob)
		out->reset = true;
	if (f->slow_prob > 0.0 && kc_rng_double(r) < f->slow_prob)
		out->slow = true;
	/* Drawn last and only when configured, so the other faults' draws (and
	 * so every existing seed's run) stay as they were. */
	if (f->reset_mid_prob > 0.0 && kc_rng_double(r) < f->reset_mid_prob)
		out->reset_mid = true;
	out->stream_error = false;
	if (f->stream_error_prob > 0.0 && kc_rng_double(r) < f->stream_error_prob)
		out->stream_error = true;
}

int64_t kc_emu_faults_stall_end(const struct kc_emu_faults *f, int64_t t_ns)
{
	KC_ASSERT(f);
	if (f->stall_ns <= 0)
		return -1;
	int64_t first = f->stall_at_ns >= 0 ? f->stall_at_ns : f->stall_every_ns;
	if (t_ns < first)
		return -1;
	int64_t into = t_ns - first, base = first;
	if (f->stall_every_ns > 0) {
		base = first + (into / f->stall_every_ns) * f->stall_every_ns;
		into = t_ns - base;
	}
	return into < f->stall_ns ? base + f->stall_ns : -1;
}

static int parse_one(struct kc_emu_faults *f, const char *item, char *why,
		     size_t whysz)
{
	char tmp[64];
	if (strlen(item) >= sizeof(tmp)) {
		snprintf(why, whysz, "'%s' is too long", item);
		return KC_EINVAL;
	}
	snprintf(tmp, sizeof(tmp), "%s", item);
	char *colon = strchr(tmp, ':');
	if (!colon) {
		snprintf(why, whysz, "'%s' is not STATUS:PROBABILITY (e.g. 503:0.1)", item);
		return KC_EINVAL;
	}
	*colon = '\0';
	int64_t status;
	double prob;
	if (kc_parse_i64(tmp, 100, 599, &status) || !kc_emu_error_type((int)status) ||
	    status == 403) {
		snprintf(why, whysz,
			 "status '%s' is not one of 400, 424, 429, 500, 503, 530", tmp);
		return KC_EINVAL;
	}
	if (kc_parse_double(colon + 1, 0.0, 1.0, &prob)) {
		snprintf(why, whysz, "probability '%s' is not in 0..1", colon + 1);
		return KC_EINVAL;
	}
	for (int i = 0; i < f->n_errors; i++) {
		if (f->errors[i].status == (int)status) {
			f->errors[i].prob = prob;
			return KC_OK;
		}
	}
	if (f->n_errors >= KC_EMU_FAULT_ERRORS_MAX) {
		snprintf(why, whysz, "at most %d error statuses", KC_EMU_FAULT_ERRORS_MAX);
		return KC_EINVAL;
	}
	f->errors[f->n_errors].status = (int)status;
	f->errors[f->n_errors].prob = prob;
	f->n_errors++;
	return KC_OK;
}

int kc_emu_faults_parse_errors(struct kc_emu_faults *f, const char *s,
			       char *why, size_t whysz)
{
	KC_ASSERT(f && s && why);
	char list[512];
	if (strlen(s) >= sizeof(list)) {
		snprintf(why, whysz, "list is too long");
		return KC_EINVAL;
	}
	snprintf(list, sizeof(list), "%s", s);
	/* Work on a copy so a bad list leaves f as it was. */
	struct kc_emu_faults next = *f;
	int n = 0;
	for (char *tok = list, *end; tok; tok = end) {
		end = strchr(tok, ',');
		if (end)
			*end++ = '\0';
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t len = strlen(tok);
		while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = '\0';
		if (!len)
			continue;
		int rc = parse_one(&next, tok, why, whysz);
		if (rc)
			return rc;
		n++;
	}
	if (n == 0) {
		snprintf(why, whysz, "expected STATUS:PROBABILITY[,...] (e.g. 503:0.1)");
		return KC_EINVAL;
	}
	*f = next;
	return KC_OK;
}
