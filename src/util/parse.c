/*
 * parse.c - strict value parsers.  strtod/strtoll are used with full-string
 * and errno checks: "12abc", "", " 5" and "nan" are all errors, because a
 * typo in a load test silently becoming 0 or 12 is how wrong numbers ship.
 */
#include "kneecap/parse.h"
#include "kneecap/clock.h"
#include "kneecap/err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kc_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return KC_EPARSE;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return KC_EPARSE;
	if (errno == ERANGE || v < lo || v > hi)
		return KC_ERANGE;
	*out = v;
	return KC_OK;
}

static int parse_number_prefix(const char *s, double *v, const char **rest)
{
	if (!s || !*s || isspace((unsigned char)*s))
		return KC_EPARSE;
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s)
		return KC_EPARSE;
	/* strtod accepts "inf", "nan" and hex floats; users mean none of them. */
	for (const char *p = s; p < end; p++)
		if (!(isdigit((unsigned char)*p) || *p == '.' || *p == '-' ||
		      *p == '+' || *p == 'e' || *p == 'E'))
			return KC_EPARSE;
	if (errno == ERANGE || !isfinite(*v))
		return KC_ERANGE;
	*rest = end;
	return KC_OK;
}

int kc_parse_double(const char *s, double lo, double hi, double *out)
{
	double v;
	const char *rest;
	int rc = parse_number_prefix(s, &v, &rest);
	if (rc)
		return rc;
	if (*rest)
		return KC_EPARSE;
	if (v < lo || v > hi)
		return KC_ERANGE;
	*out = v;
	return KC_OK;
}

int kc_parse_duration_ns(const char *s, int64_t unit_ns, int64_t *out)
{
	double v;
	const char *u;
	int rc = parse_number_prefix(s, &v, &u);
	if (rc)
		return rc;
	double mul;
	if (!*u) mul = (double)unit_ns;
	else if (!strcmp(u, "ns")) mul = 1;
	else if (!strcmp(u, "us")) mul = 1e3;
	else if (!strcmp(u, "ms")) mul = 1e6;
	else if (!strcmp(u, "s")) mul = 1e9;
	else if (!strcmp(u, "m") || !strcmp(u, "min")) mul = 60e9;
	else if (!strcmp(u, "h")) mul = 3600e9;
	else return KC_EPARSE;
	double ns = v * mul;
	if (ns < 0 || ns > 9.2e18)
		return KC_ERANGE;
	*out = (int64_t)llround(ns);
	return KC_OK;
}

int kc_parse_size(const char *s, uint64_t *out)
{
	double v;
	const char *u;
	int rc = parse_number_prefix(s, &v, &u);
	if (rc)
		return rc;
	double mul = 1;
	if (!*u) mul = 1;
	else if (!strcasecmp(u, "k") || !strcasecmp(u, "kb") || !strcasecmp(u, "kib")) mul = 1024.0;
	else if (!strcasecmp(u, "m") || !strcasecmp(u, "mb") || !strcasecmp(u, "mib")) mul = 1048576.0;
	else if (!strcasecmp(u, "g") || !strcasecmp(u, "gb") || !strcasecmp(u, "gib")) mul = 1073741824.0;
	else return KC_EPARSE;
	double b = v * mul;
	if (b < 0 || b > 1.8e19)
		return KC_ERANGE;
	*out = (uint64_t)llround(b);
	return KC_OK;
}

int kc_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"true", "yes", "on", "1"};
	static const char *no[] = {"false", "no", "off", "0"};
	if (!s)
		return KC_EPARSE;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) { *out = true; return KC_OK; }
		if (!strcasecmp(s, no[i])) { *out = false; return KC_OK; }
	}
	return KC_EPARSE;
}

char *kc_format_duration(int64_t ns, char *out, size_t outsz)
{
	double a = (double)(ns < 0 ? -ns : ns);
	if (a >= 60e9)
		snprintf(out, outsz, "%.1fmin", (double)ns / 60e9);
	else if (a >= 1e9)
		snprintf(out, outsz, "%.3gs", (double)ns / 1e9);
	else if (a >= 1e6)
		snprintf(out, outsz, "%.3gms", (double)ns / 1e6);
	else if (a >= 1e3)
		snprintf(out, outsz, "%.3gus", (double)ns / 1e3);
	else
		snprintf(out, outsz, "%lldns", (long long)ns);
	return out;
}

bool kc_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		if (!alnum && ch != '-')
			return false;
	}
	return true;
}
