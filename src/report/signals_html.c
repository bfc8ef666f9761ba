/*
 * signals_html.c - the report's signal table: what the endpoint's own
 * CloudWatch metrics read at the knee, which of them move with load, and
 * which target-tracking targets would fire before saturation (the seed's
 * point: a CPU target on a GPU-bound model never does).
 */
#include "kneecap/html.h"
#include "kneecap/buf.h"
#include "kneecap/svg.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static void copy_str(char *out, size_t n, const json_t *v)
{
	snprintf(out, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

void kc_rd_signals_parse(const struct json_t *sig, struct kc_rd_signals *out)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(sig))
		return;
	out->asked = true;
	out->available = json_is_true(json_object_get(sig, "available"));
	copy_str(out->reason, sizeof(out->reason), json_object_get(sig, "reason"));
	out->period_s = (int)json_integer_value(json_object_get(sig, "period_s"));
	out->short_steps = (int)json_integer_value(json_object_get(sig, "short_steps"));
	size_t i;
	json_t *row;
	json_array_foreach(json_object_get(sig, "table"), i, row) {
		if (out->nrows == KC_RD_SIGNALS)
			break;
		struct kc_rd_signal_row *r = &out->rows[out->nrows++];
		copy_str(r->metric, sizeof(r->metric), json_object_get(row, "metric"));
		copy_str(r->unit, sizeof(r->unit), json_object_get(row, "unit"));
		json_t *v = json_object_get(row, "at_knee");
		r->have = json_is_number(v);
		r->at_knee = json_number_value(v);
		r->r = json_number_value(json_object_get(row, "r"));
		r->points = (int)json_integer_value(json_object_get(row, "points"));
		r->proportional = json_is_true(json_object_get(row, "proportional"));
	}
	json_array_foreach(json_object_get(sig, "verdict"), i, row) {
		if (out->nverdict == KC_RD_SIGNALS)
			break;
		copy_str(out->verdict[out->nverdict++], sizeof(out->verdict[0]), row);
	}
	json_t *p = json_object_get(sig, "current_policy");
	if (json_is_object(p))
		snprintf(out->policy, sizeof(out->policy), "%s = %g (%s)",
			 json_string_value(json_object_get(p, "metric")) ?
				 json_string_value(json_object_get(p, "metric")) : "?",
			 json_number_value(json_object_get(p, "target")),
			 json_string_value(json_object_get(p, "source")) ?
				 json_string_value(json_object_get(p, "source")) : "?");
}

static int row_html(struct kc_buf *b, const struct kc_rd_signals *s, size_t i)
{
	char v[32] = "&mdash;";
	if (s->rows[i].have)
		snprintf(v, sizeof(v), "%.1f", s->rows[i].at_knee);
	int rc = kc_buf_puts(b, "<tr><td>");
	rc = rc ? rc : kc_svg_escape(b, s->rows[i].metric);
	rc = rc ? rc : kc_buf_printf(b, "</td><td class=\"kc-num\">%s</td><td>", v);
	rc = rc ? rc : kc_svg_escape(b, s->rows[i].unit);
	rc = rc ? rc : kc_buf_printf(b, "</td><td>%s</td><td class=\"kc-num\">%.2f</td></tr>\n",
				     s->rows[i].points < 3 ? "too few steps"
				     : s->rows[i].proportional ? "yes" : "no",
				     s->rows[i].r);
	return rc;
}

int kc_html_signals(struct kc_buf *b, const struct kc_rd_signals *s)
{
	if (!s->asked)
		return 0;
	int rc = kc_buf_puts(b, "<h3>Which signal to scale on (the endpoint's CloudWatch "
				"metrics)</h3>\n");
	if (!s->available) {
		rc = rc ? rc : kc_buf_puts(b, "<p>Signals unavailable: ");
		rc = rc ? rc : kc_svg_escape(b, s->reason);
		return rc ? rc : kc_buf_puts(b, "</p>\n");
	}
	rc = rc ? rc : kc_buf_printf(b, "<p class=\"kc-muted\">GetMetricData with Period %d s; "
				     "each step gets the whole periods inside its window%s. "
				     "SageMaker publishes these metrics at one-minute resolution "
				     "(ConcurrentRequestsPerModel also at 10 s)."
				     "</p>\n", s->period_s,
				     s->short_steps ? " (some steps were shorter than one period "
						      "and have none)" : "");
	rc = rc ? rc : kc_buf_puts(b, "<table><tr><th>metric</th><th>at the knee</th><th>unit"
				      "</th><th>moves in proportion to load</th><th>r</th></tr>\n");
	for (size_t i = 0; i < s->nrows && !rc; i++)
		rc = row_html(b, s, i);
	rc = rc ? rc : kc_buf_puts(b, "</table>\n<ul>\n");
	if (s->policy[0]) {
		rc = rc ? rc : kc_buf_puts(b, "<li>Current policy: ");
		rc = rc ? rc : kc_svg_escape(b, s->policy);
		rc = rc ? rc : kc_buf_puts(b, "</li>\n");
	}
	for (size_t i = 0; i < s->nverdict && !rc; i++) {
		rc = kc_buf_puts(b, "<li>");
		rc = rc ? rc : kc_svg_escape(b, s->verdict[i]);
		rc = rc ? rc : kc_buf_puts(b, "</li>\n");
	}
	return rc ? rc : kc_buf_puts(b, "</ul>\n");
}
