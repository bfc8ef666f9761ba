/*
 * pricing.c - reads data/instance-types.csv and prices inferences.
 *
 * It is a small CSV reader for one known table, not a general CSV library:
 * fields may be double-quoted (RFC 4180, "" for a quote), rows end in LF or
 * CRLF, and a quoted field may not span lines (the table never needs it).
 * Invariant: a price is "known" only when its cell held a positive number;
 * an empty cell stays unknown and nothing here ever fills it in.
 */
#include "kneecap/pricing.h"
#include "pricing_int.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (1u << 20)
#define MAX_FIELDS 16
#define FIELD_MAX 256

struct kc_pricing {
	size_t n;
	struct kc_instance_info rows[KC_PRICING_MAX_ROWS];
};

/*
 * Splits one line into fields (copied, unquoted, into f[i]).  Returns the
 * field count, or -1 on a malformed quote / too many or too long fields.
 */
static int split(const char *line, size_t len, char f[MAX_FIELDS][FIELD_MAX])
{
	int nf = 0;
	size_t i = 0;
	for (;;) {
		if (nf == MAX_FIELDS)
			return -1;
		size_t o = 0;
		char *dst = f[nf];
		if (i < len && line[i] == '"') {
			i++;
			for (;;) {
				if (i >= len)
					return -1; /* unterminated quote */
				if (line[i] == '"') {
					if (i + 1 < len && line[i + 1] == '"') {
						i++;
					} else {
						i++;
						break;
					}
				}
				if (o + 1 >= FIELD_MAX)
					return -1;
				dst[o++] = line[i++];
			}
			if (i < len && line[i] != ',')
				return -1; /* text after a closing quote */
		} else {
			while (i < len && line[i] != ',') {
				if (line[i] == '"' || o + 1 >= FIELD_MAX)
					return -1;
				dst[o++] = line[i++];
			}
		}
		dst[o] = '\0';
		nf++;
		if (i >= len)
			return nf;
		i++; /* the comma */
	}
}

static int col(char h[MAX_FIELDS][FIELD_MAX], int nh, const char *name)
{
	for (int i = 0; i < nh; i++)
		if (!strcmp(h[i], name))
			return i;
	return -1;
}

/* Field buffers: 8 KiB a row, so they live on the heap, not the stack. */
struct scratch {
	char h[MAX_FIELDS][FIELD_MAX];
	char f[MAX_FIELDS][FIELD_MAX];
};

/* Copies src into dst[cap]; false (dst untouched) when it does not fit. */
static bool copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static int num(const char *s, double *out)
{
	return kc_parse_double(s, 0, 1e9, out);
}

static int parse_table(struct kc_pricing *p, const char *path, const char *text,
		       struct scratch *w, struct kc_diag *d)
{
	int line = 0, nh = 0;
	int c_type = -1, c_price = -1, c_vcpu, c_mem, c_acc, c_accn, c_accmem;
	const char *pos = text;
	while (*pos) {
		const char *eol = strchr(pos, '\n');
		size_t len = eol ? (size_t)(eol - pos) : strlen(pos);
		const char *next = eol ? eol + 1 : pos + len;
		line++;
		if (len > 0 && pos[len - 1] == '\r')
			len--;
		if (len == 0) {
			pos = next;
			continue;
		}
		if (nh == 0) {
			nh = split(pos, len, w->h);
			if (nh < 0)
				return kc_diag_set_at(d, KC_EPARSE, path, line, NULL,
						      "malformed header row");
			c_type = col(w->h, nh, "instance_type");
			c_price = col(w->h, nh, "usd_per_hour_us_east_1");
			if (c_type < 0 || c_price < 0)
				return kc_diag_set_at(d, KC_EPARSE, path, line, NULL,
						      "header must name instance_type and usd_per_hour_us_east_1");
			pos = next;
			continue;
		}
		int nf = split(pos, len, w->f);
		if (nf != nh)
			return kc_diag_set_at(d, KC_EPARSE, path, line, NULL,
					      "%d fields where the header has %d", nf, nh);
		if (p->n == KC_PRICING_MAX_ROWS)
			return kc_diag_set_at(d, KC_ELIMIT, path, line, NULL,
					      "more than %d rows", KC_PRICING_MAX_ROWS);
		struct kc_instance_info *r = &p->rows[p->n];
		memset(r, 0, sizeof(*r));
		if (!w->f[c_type][0] || !copy(r->instance_type, sizeof(r->instance_type), w->f[c_type]))
			return kc_diag_set_at(d, KC_EPARSE, path, line, "instance_type",
					      "empty or longer than %zu characters",
					      sizeof(r->instance_type) - 1);
		const char *price = w->f[c_price];
		if (price[0]) {
			if (num(price, &r->usd_per_hour) || !(r->usd_per_hour > 0))
				return kc_diag_set_at(d, KC_EPARSE, path, line, "usd_per_hour_us_east_1",
						      "'%s' is not a positive price (leave it empty when unknown)",
						      price);
			r->price_known = true;
		}
		/* Spec columns are informative: read them when present and numeric. */
		double v;
		c_vcpu = col(w->h, nh, "vcpu");
		c_mem = col(w->h, nh, "memory_gib");
		c_acc = col(w->h, nh, "accelerator");
		c_accn = col(w->h, nh, "accelerator_count");
		c_accmem = col(w->h, nh, "accelerator_memory_gib");
		if (c_vcpu >= 0 && !num(w->f[c_vcpu], &v))
			r->vcpu = (int)v;
		if (c_mem >= 0 && !num(w->f[c_mem], &v))
			r->memory_gib = v;
		if (c_acc >= 0 && !copy(r->accelerator, sizeof(r->accelerator), w->f[c_acc]))
			return kc_diag_set_at(d, KC_EPARSE, path, line, "accelerator",
					      "longer than %zu characters", sizeof(r->accelerator) - 1);
		if (c_accn >= 0 && !num(w->f[c_accn], &v))
			r->accelerator_count = (int)v;
		if (c_accmem >= 0 && !num(w->f[c_accmem], &v))
			r->accelerator_memory_gib = v;
		for (size_t i = 0; i < p->n; i++)
			if (!strcmp(p->rows[i].instance_type, r->instance_type))
				return kc_diag_set_at(d, KC_EPARSE, path, line, "instance_type",
						      "'%s' listed twice", r->instance_type);
		p->n++;
		pos = next;
	}
	if (nh == 0)
		return kc_diag_set_at(d, KC_EPARSE, path, 0, NULL, "empty file (no header row)");
	return KC_OK;
}

int kc_pricing_load(struct kc_pricing **out, const char *path, struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, MAX_FILE_BYTES);
	int rc = kc_buf_read_text(&b, path, "CSV", d);
	if (rc) {
		kc_buf_fini(&b);
		return rc;
	}
	struct kc_pricing *p = calloc(1, sizeof(*p));
	struct scratch *w = calloc(1, sizeof(*w));
	if (!p || !w) {
		rc = KC_ENOMEM;
		goto out;
	}
	rc = parse_table(p, path, b.data, w, d);
	if (rc == KC_OK) {
		*out = p;
		p = NULL;
	}
out:
	free(w);
	free(p);
	kc_buf_fini(&b);
	return rc;
}

void kc_pricing_free(struct kc_pricing *p)
{
	free(p);
}

size_t kc_pricing_count(const struct kc_pricing *p)
{
	return p ? p->n : 0;
}

const struct kc_instance_info *kc_pricing_row(const struct kc_pricing *p, size_t i)
{
	return p && i < p->n ? &p->rows[i] : NULL;
}

const struct kc_instance_info *kc_pricing_find(const struct kc_pricing *p,
					       const char *instance_type)
{
	if (!p || !instance_type)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->rows[i].instance_type, instance_type))
			return &p->rows[i];
	return NULL;
}

const char *kc_price_source_name(enum kc_price_source s)
{
	switch (s) {
	case KC_PRICE_TABLE: return "table";
	case KC_PRICE_USER: return "user";
	case KC_PRICE_UNKNOWN: break;
	}
	return "unknown";
}

enum kc_price_source kc_pricing_price(const struct kc_pricing *p, const char *instance_type,
				      double override_usd_per_hour, double *usd_per_hour)
{
	if (override_usd_per_hour >= 0 && isfinite(override_usd_per_hour)) {
		*usd_per_hour = override_usd_per_hour;
		return KC_PRICE_USER;
	}
	const struct kc_instance_info *r = kc_pricing_find(p, instance_type);
	if (r && r->price_known) {
		*usd_per_hour = r->usd_per_hour;
		return KC_PRICE_TABLE;
	}
	*usd_per_hour = 0;
	return KC_PRICE_UNKNOWN;
}

int kc_pricing_cost_per_million(double usd_per_hour, double rate_rps,
				double target_rps_per_instance, double *usd_out,
				int *instances_out)
{
	if (!(usd_per_hour >= 0 && isfinite(usd_per_hour)) ||
	    !(rate_rps > 0 && isfinite(rate_rps)) ||
	    !(target_rps_per_instance > 0 && isfinite(target_rps_per_instance)))
		return KC_EINVAL;
	/* The small epsilon keeps 100/25 from becoming 5 instances through
	 * rounding noise. */
	double n = ceil(rate_rps / target_rps_per_instance - 1e-9);
	if (n < 1)
		n = 1;
	if (n > 1e6)
		return KC_EINVAL;
	*usd_out = n * usd_per_hour / (rate_rps * 3600.0) * 1e6;
	if (instances_out)
		*instances_out = (int)n;
	return KC_OK;
}
