/*
 * html_int.h - the page pieces html.c (results) shares with html_plan.c
 * (the plan): the head with its inline CSS, escaping, charts, numbers.
 */
#ifndef KNEECAP_HTML_INT_H
#define KNEECAP_HTML_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "out_int.h"

#define CHART_W 620
#define CHART_H 300

struct kc_svg_chart;

/* Writes <!DOCTYPE html> up to <body>: the escaped title and the inline CSS. */
void kc_html_head(struct kc_out *o, const char *title);

/* Writes s escaped for HTML text and attributes (kc_svg_escape). */
void kc_html_esc(struct kc_out *o, const char *s);

/* Writes c as an inline SVG figure (bars or lines), or a note when it has no data. */
void kc_html_chart(struct kc_out *o, const struct kc_svg_chart *c, bool bars);

/* v with dec decimals into buf, "-" when not finite; returns buf. */
const char *kc_html_num(double v, int dec, char *buf, size_t n);

#endif
