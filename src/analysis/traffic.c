/*
 * traffic.c - the traffic shape language of a scenario's [traffic] section
 * (docs/traffic.md), and the rate it describes at any second of the day.
 *
 * This module is only a description of demand: it knows nothing about
 * instances, scaling or queues (that is plan.c).  Values are parsed strictly,
 * word by word, so a typo is an error naming file:line:key rather than a
 * silently different day.  Invariant: every accepted shape has finite,
 * non-negative rates and periods that divide a day, so kc_traffic_rate_at()
 * is defined everywhere and the day repeats seamlessly.
 */
#include "kneecap/traffic.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S INT64_C(1000000000)
#define MAX_WORDS 16

/* Splits s (copied into store) into at most MAX_WORDS whitespace-separated words. */
static int split_words(const char *s, char *store, size_t storesz,
		       char *words[MAX_WORDS], size_t *nwords)
{
	size_t n = strlen(s);
	if (n + 1 > storesz)
		return KC_ELIMIT;
	memcpy(store, s, n + 1);
	size_t k = 0;
	char *p = store;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (k == MAX_WORDS)
			return KC_ELIMIT;
		words[k++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	*nwords = k;
	return KC_OK;
}

/* A duration in whole seconds (bare numbers are seconds), 0..1 day. */
static int parse_secs(const char *w, const char *what, int64_t *out,
		      struct kc_diag *d)
{
	int64_t ns;
	size_t len = strlen(w);
	int rc;
	if (len > 1 && len < 16 && w[len - 1] == 'd') {
		/* days: the parser stops at hours, and "every 1d" reads naturally */
		char hours[24];
		int64_t days;
		memcpy(hours, w, len - 1);
		hours[len - 1] = '\0';
		rc = kc_parse_i64(hours, 0, 1, &days);
		ns = days * KC_TRAFFIC_DAY_S * NS_PER_S;
	} else {
		rc = kc_parse_duration_ns(w, NS_PER_S, &ns);
	}
	if (rc != KC_OK || ns % NS_PER_S ||
	    ns > KC_TRAFFIC_DAY_S * NS_PER_S)
		return kc_diag_set(d, KC_EINVAL,
				   "%s '%s' is not a duration of whole seconds up to 1 day "
				   "(e.g. 90s, 5m, 1h)", what, w);
	*out = ns / NS_PER_S;
	return KC_OK;
}

/*
 * A clock time: "HH:MM", "HH:MM:SS" or ":MM" / ":MM:SS" (minute of the
 * hour).  *hourly says which form it was.
 */
static int parse_clock(const char *w, int64_t *out, bool *hourly,
		       struct kc_diag *d)
{
	int h = 0, m = 0, s = 0, used = 0;
	bool hr = w[0] == ':';
	int n;
	if (hr)
		n = sscanf(w, ":%2d%n:%2d%n", &m, &used, &s, &used);
	else
		n = sscanf(w, "%2d:%2d%n:%2d%n", &h, &m, &used, &s, &used);
	int want = hr ? 1 : 2;
	if (n < want || (size_t)used != strlen(w) || h < 0 || h > 23 || m < 0 ||
	    m > 59 || s < 0 || s > 59)
		return kc_diag_set(d, KC_EINVAL,
				   "'%s' is not a time of day (HH:MM, or :MM for a minute of the hour)",
				   w);
	*out = (int64_t)h * 3600 + m * 60 + s;
	*hourly = hr;
	return KC_OK;
}

static int parse_rate(const char *w, double *out, struct kc_diag *d)
{
	if (!w || kc_parse_double(w, 0, KC_TRAFFIC_MAX_RPS, out) != KC_OK)
		return kc_diag_set(d, KC_EINVAL,
				   "'%s' is not a rate in requests/second (0..1e7)",
				   w ? w : "");
	return KC_OK;
}

int kc_traffic_parse_peak(const char *text, struct kc_traffic_peak *out,
			  struct kc_diag *d)
{
	char store[256];
	char *w[MAX_WORDS];
	size_t n;
	if (split_words(text, store, sizeof(store), w, &n) || n == 0)
		return kc_diag_set(d, KC_EINVAL,
				   "expected 'RATE ramp DUR hold DUR [down DUR] every DUR at TIME'");
	struct kc_traffic_peak p = {.every_s = KC_TRAFFIC_DAY_S, .down_s = -1};
	int rc = parse_rate(w[0], &p.rate_rps, d);
	if (rc)
		return rc;
	bool have_at = false, hourly = false, have_every = false;
	for (size_t i = 1; i < n; i += 2) {
		if (i + 1 >= n)
			return kc_diag_set(d, KC_EINVAL, "'%s' needs a value after it", w[i]);
		const char *k = w[i], *v = w[i + 1];
		if (!strcmp(k, "ramp"))
			rc = parse_secs(v, "ramp", &p.ramp_s, d);
		else if (!strcmp(k, "hold"))
			rc = parse_secs(v, "hold", &p.hold_s, d);
		else if (!strcmp(k, "down"))
			rc = parse_secs(v, "down", &p.down_s, d);
		else if (!strcmp(k, "every")) {
			rc = parse_secs(v, "every", &p.every_s, d);
			have_every = true;
		} else if (!strcmp(k, "at")) {
			rc = parse_clock(v, &p.at_s, &hourly, d);
			have_at = true;
		} else
			return kc_diag_set(d, KC_EINVAL,
					   "unknown word '%s' (expected ramp, hold, down, every or at)", k);
		if (rc)
			return rc;
	}
	(void)have_every;
	if (!have_at)
		return kc_diag_set(d, KC_EINVAL, "a peak needs 'at TIME' (e.g. at :00 or at 12:00)");
	if (p.down_s < 0)
		p.down_s = p.ramp_s; /* symmetric by default: a spike falls as it rose */
	if (p.every_s < 60 || KC_TRAFFIC_DAY_S % p.every_s)
		return kc_diag_set(d, KC_EINVAL,
				   "every %llds does not divide a day evenly (use e.g. 15m, 1h, 2h, 1d)",
				   (long long)p.every_s);
	if (hourly && p.every_s > 3600)
		return kc_diag_set(d, KC_EINVAL,
				   "'at :MM' is a minute of the hour, but the peak repeats every %llds; use at HH:MM",
				   (long long)p.every_s);
	if (p.at_s >= p.every_s)
		return kc_diag_set(d, KC_EINVAL,
				   "at %llds into a period of %llds: the start must fall inside the period",
				   (long long)p.at_s, (long long)p.every_s);
	if (p.ramp_s + p.hold_s + p.down_s >= p.every_s)
		return kc_diag_set(d, KC_EINVAL,
				   "ramp + hold + down (%llds) must be shorter than the period (%llds)",
				   (long long)(p.ramp_s + p.hold_s + p.down_s), (long long)p.every_s);
	*out = p;
	return KC_OK;
}

int kc_traffic_parse_trough(const char *text, struct kc_traffic_trough *out,
			    struct kc_diag *d)
{
	char store[256];
	char *w[MAX_WORDS];
	size_t n;
	if (split_words(text, store, sizeof(store), w, &n) || n != 5 ||
	    strcmp(w[1], "from") || strcmp(w[3], "to"))
		return kc_diag_set(d, KC_EINVAL, "expected 'RATE from HH:MM to HH:MM'");
	struct kc_traffic_trough t = {0};
	bool hourly;
	int rc = parse_rate(w[0], &t.rate_rps, d);
	if (!rc)
		rc = parse_clock(w[2], &t.from_s, &hourly, d);
	if (!rc && hourly)
		rc = kc_diag_set(d, KC_EINVAL, "'%s': a trough needs a time of day HH:MM", w[2]);
	if (!rc)
		rc = parse_clock(w[4], &t.to_s, &hourly, d);
	if (!rc && hourly)
		rc = kc_diag_set(d, KC_EINVAL, "'%s': a trough needs a time of day HH:MM", w[4]);
	if (!rc && t.from_s == t.to_s)
		rc = kc_diag_set(d, KC_EINVAL, "a trough from %s to %s is empty", w[2], w[4]);
	if (rc)
		return rc;
	*out = t;
	return KC_OK;
}

/* "peak", "peak.NAME" -> 1 with *name set; other keys -> 0. */
static int match_key(const char *key, const char *kind, const char **name)
{
	size_t k = strlen(kind);
	if (strncmp(key, kind, k))
		return 0;
	if (!key[k]) {
		*name = "";
		return 1;
	}
	if (key[k] == '.' && key[k + 1]) {
		*name = key + k + 1;
		return 1;
	}
	return 0;
}

static int entry_error(struct kc_diag *d, const struct kc_scenario *sc,
		       const struct kc_scenario_entry *e)
{
	/* The parser left its message in d->msg; put the place in front. */
	char msg[sizeof(d->msg)];
	snprintf(msg, sizeof(msg), "%s", d->msg);
	return kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e->line, e->key,
			      "%s", msg);
}

int kc_traffic_from_scenario(struct kc_traffic *out, struct kc_scenario *sc,
			     struct kc_diag *d)
{
	if (!kc_scenario_has_section(sc, "traffic"))
		return kc_diag_set_at(d, KC_ENOTFOUND, kc_scenario_name(sc), 0, NULL,
				      "no [traffic] section");
	struct kc_traffic *t = calloc(1, sizeof(*t));
	if (!t)
		return KC_ENOMEM;
	int rc = kc_scenario_get_double(sc, "traffic", "baseline", 0,
					KC_TRAFFIC_MAX_RPS, &t->baseline_rps, d);
	if (rc == KC_ENOTFOUND)
		rc = kc_diag_set_at(d, KC_ENOTFOUND, kc_scenario_name(sc), 0, "baseline",
				    "[traffic] needs a baseline rate (baseline = 40)");
	for (size_t i = 0; !rc && i < kc_scenario_count(sc); i++) {
		struct kc_scenario_entry *e = kc_scenario_entry(sc, i);
		const char *name;
		if (strcmp(e->section, "traffic") || !strcmp(e->key, "baseline"))
			continue;
		if (match_key(e->key, "peak", &name)) {
			if (t->npeaks == KC_TRAFFIC_MAX_PEAKS) {
				rc = kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e->line,
						    e->key, "more than %d peaks", KC_TRAFFIC_MAX_PEAKS);
				break;
			}
			struct kc_traffic_peak *p = &t->peaks[t->npeaks];
			if (kc_traffic_parse_peak(e->value, p, d)) {
				rc = entry_error(d, sc, e);
				break;
			}
			snprintf(p->name, sizeof(p->name), "%s", name);
			p->line = e->line;
			t->npeaks++;
		} else if (match_key(e->key, "trough", &name)) {
			if (t->ntroughs == KC_TRAFFIC_MAX_TROUGHS) {
				rc = kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e->line,
						    e->key, "more than %d troughs", KC_TRAFFIC_MAX_TROUGHS);
				break;
			}
			struct kc_traffic_trough *tr = &t->troughs[t->ntroughs];
			if (kc_traffic_parse_trough(e->value, tr, d)) {
				rc = entry_error(d, sc, e);
				break;
			}
			snprintf(tr->name, sizeof(tr->name), "%s", name);
			tr->line = e->line;
			t->ntroughs++;
		} else {
			rc = kc_diag_set_at(d, KC_EINVAL, kc_scenario_name(sc), e->line, e->key,
					    "unknown key in [traffic] (expected baseline, peak[.NAME], trough[.NAME])");
			break;
		}
		e->used = true;
	}
	if (!rc)
		*out = *t;
	free(t);
	return rc;
}

static bool in_window(int64_t s, int64_t from, int64_t to)
{
	return from < to ? (s >= from && s < to) : (s >= from || s < to);
}

double kc_traffic_rate_at(const struct kc_traffic *t, double t_s)
{
	double day = fmod(t_s, KC_TRAFFIC_DAY_S);
	if (day < 0)
		day += KC_TRAFFIC_DAY_S;
	int64_t whole = (int64_t)day;
	double level = t->baseline_rps;
	for (size_t i = 0; i < t->ntroughs; i++)
		if (in_window(whole, t->troughs[i].from_s, t->troughs[i].to_s)) {
			level = t->troughs[i].rate_rps;
			break;
		}
	double rate = level;
	for (size_t i = 0; i < t->npeaks; i++) {
		const struct kc_traffic_peak *p = &t->peaks[i];
		double into = fmod(day - (double)p->at_s, (double)p->every_s);
		if (into < 0)
			into += (double)p->every_s;
		double frac;
		if (into < (double)p->ramp_s)
			frac = into / (double)p->ramp_s;
		else if (into < (double)(p->ramp_s + p->hold_s))
			frac = 1;
		else if (into < (double)(p->ramp_s + p->hold_s + p->down_s))
			frac = 1 - (into - (double)(p->ramp_s + p->hold_s)) / (double)p->down_s;
		else
			frac = 0;
		/* A peak lifts the level beneath it towards its rate; a "peak"
		 * below the level (inside a trough, say) never lowers it. */
		double r = level + (p->rate_rps - level) * frac;
		if (r > rate)
			rate = r;
	}
	return rate < 0 ? 0 : rate;
}

double kc_traffic_peak_rps(const struct kc_traffic *t)
{
	double hi = 0;
	for (int s = 0; s < KC_TRAFFIC_DAY_S; s++) {
		double r = kc_traffic_rate_at(t, s);
		if (r > hi)
			hi = r;
	}
	return hi;
}

double kc_traffic_low_rps(const struct kc_traffic *t)
{
	double lo = INFINITY;
	for (int s = 0; s < KC_TRAFFIC_DAY_S; s++) {
		double r = kc_traffic_rate_at(t, s);
		if (r < lo)
			lo = r;
	}
	return lo;
}

double kc_traffic_steepest_ramp(const struct kc_traffic *t, int64_t *at_s)
{
	/* Measured on the shape, not read off the peak definitions, so a ramp
	 * that starts from a trough is judged by how far it really climbs. */
	double best = 0;
	int64_t when = 0;
	for (size_t i = 0; i < t->npeaks; i++) {
		const struct kc_traffic_peak *p = &t->peaks[i];
		for (int64_t start = p->at_s; start < KC_TRAFFIC_DAY_S; start += p->every_s) {
			double r0 = kc_traffic_rate_at(t, (double)start);
			double r1 = kc_traffic_rate_at(t, (double)(start + (p->ramp_s ? p->ramp_s : 1)));
			double slope = (r1 - r0) / (double)(p->ramp_s ? p->ramp_s : 1);
			if (slope > best) {
				best = slope;
				when = start;
			}
		}
	}
	if (at_s)
		*at_s = when;
	return best;
}

static char *fmt_secs(int64_t s, char *out, size_t n)
{
	if (s == 0)
		snprintf(out, n, "0s");
	else if (s % 3600 == 0)
		snprintf(out, n, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(out, n, "%lldm", (long long)(s / 60));
	else
		snprintf(out, n, "%llds", (long long)s);
	return out;
}

char *kc_traffic_peak_describe(const struct kc_traffic_peak *p, char *out,
			       size_t outsz)
{
	char r[24], h[24], dn[24], e[24], at[48];
	if (p->every_s <= 3600)
		snprintf(at, sizeof(at), ":%02lld", (long long)(p->at_s / 60));
	else
		snprintf(at, sizeof(at), "%02lld:%02lld", (long long)(p->at_s / 3600),
			 (long long)(p->at_s % 3600 / 60));
	snprintf(out, outsz, "%g RPS, ramp %s, hold %s, down %s, every %s at %s",
		 p->rate_rps, fmt_secs(p->ramp_s, r, sizeof(r)),
		 fmt_secs(p->hold_s, h, sizeof(h)), fmt_secs(p->down_s, dn, sizeof(dn)),
		 fmt_secs(p->every_s, e, sizeof(e)), at);
	return out;
}
