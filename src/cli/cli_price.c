/*
 * cli_price.c - price lookup in data/instance-types.csv for `report` and
 * `plan`.  The table is small and simple (no quoted fields), so it is read
 * line by line with a strict split: a row with the wrong number of columns
 * is an error naming its line rather than a misread price.
 */
#include "cli_price.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COLS 16

const char *cli_price_path(const char *flag)
{
	if (flag && *flag)
		return flag;
	const char *env = getenv("KNEECAP_PRICES");
	if (env && *env)
		return env;
	if (access("data/instance-types.csv", R_OK) == 0)
		return "data/instance-types.csv";
	return NULL;
}

static size_t split(char *line, char **cols)
{
	size_t n = 0;
	for (char *p = line;; ) {
		if (n == MAX_COLS)
			return MAX_COLS + 1;
		cols[n++] = p;
		char *c = strchr(p, ',');
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

int cli_price_lookup(const char *path, const char *instance_type,
		     double *usd_per_hour, struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, 1u << 20);
	int rc = kc_buf_read_file(&b, path);
	if (rc) {
		kc_buf_fini(&b);
		return kc_diag_set(d, rc == KC_ENOTFOUND ? rc : KC_EIO, "%s: cannot read", path);
	}
	int price_col = -1, line = 0;
	size_t ncols = 0;
	rc = KC_ENOTFOUND;
	for (char *ln = b.data, *next; ln && *ln; ln = next) {
		next = strchr(ln, '\n');
		if (next)
			*next++ = '\0';
		line++;
		size_t len = strlen(ln);
		if (len && ln[len - 1] == '\r')
			ln[len - 1] = '\0';
		char *cols[MAX_COLS + 1];
		size_t n = split(ln, cols);
		if (line == 1) {
			for (size_t i = 0; i < n && i < MAX_COLS; i++)
				if (!strcmp(cols[i], "usd_per_hour_us_east_1"))
					price_col = (int)i;
			if (price_col < 0 || strcmp(cols[0], "instance_type")) {
				rc = kc_diag_set(d, KC_EPARSE, "%s:1: expected a header with "
						 "instance_type and usd_per_hour_us_east_1", path);
				break;
			}
			ncols = n;
			continue;
		}
		if (n != ncols) {
			rc = kc_diag_set(d, KC_EPARSE, "%s:%d: %zu columns, expected %zu", path,
					 line, n, ncols);
			break;
		}
		if (strcmp(cols[0], instance_type))
			continue;
		double v = -1;
		if (*cols[price_col] && kc_parse_double(cols[price_col], 0, 1e6, &v)) {
			rc = kc_diag_set(d, KC_EPARSE, "%s:%d: price '%s' is not a number", path,
					 line, cols[price_col]);
			break;
		}
		*usd_per_hour = v;
		rc = KC_OK;
		break;
	}
	kc_buf_fini(&b);
	return rc;
}

double cli_price_or_unknown(const char *path, const char *instance_type)
{
	double v = -1;
	if (!path || !instance_type || !*instance_type ||
	    cli_price_lookup(path, instance_type, &v, NULL))
		return -1;
	return v;
}
