/*
 * sigv4canon.c - the SigV4 canonical request (aws-wire.md section 4): URI
 * normalisation and encoding, the sorted and re-encoded query, the
 * lower-cased, trimmed and sorted headers, SignedHeaders.  Pure string
 * work into the signer's scratch areas; nothing here allocates.
 */
#include "sigv4_int.h"
#include "hex_int.h"
#include "kneecap/err.h"

#include <stdio.h>
#include <string.h>

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Percent-encodes every byte outside the unreserved set (and '/' when
 * keep_slash), uppercase hex, as SigV4 requires. */
static void wr_encode(struct wr *w, const char *s, size_t n, bool keep_slash)
{
	static const char hexu[] = "0123456789ABCDEF";
	size_t i = 0;
	while (i < n && !w->over) {
		size_t j = i;
		while (j < n && (is_unreserved((unsigned char)s[j]) ||
				 (keep_slash && s[j] == '/')))
			j++;
		wr_put(w, s + i, j - i);
		if (j == n)
			break;
		unsigned char c = (unsigned char)s[j];
		char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
		wr_put(w, e, 3);
		i = j + 1;
	}
}

/* Case-insensitive equality of a header name with a lowercase literal. */
bool kc_sigv4_name_is(const char *name, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)name[i]) != lit[i])
			return false;
	return true;
}

int kc_sigv4_name_cmp(const struct ent *a, const struct ent *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	for (size_t i = 0; i < n; i++) {
		int x = lower((unsigned char)a->name[i]);
		int y = lower((unsigned char)b->name[i]);
		if (x != y)
			return x - y;
	}
	return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Stable insertion sort: repeated headers keep their order, which the
 * comma-joined value depends on.  n is at most HEADERS_MAX + 3. */
static void sort_ents(struct ent *e, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct ent t = e[i];
		size_t j = i;
		while (j > 0 && kc_sigv4_name_cmp(&e[j - 1], &t) > 0) {
			e[j] = e[j - 1];
			j--;
		}
		e[j] = t;
	}
}

/* Trimall: strip the ends, collapse inner whitespace runs to one space.
 * Copies whole runs at a time: this is most of the canonical request. */
static void wr_trimmed(struct wr *w, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && is_ws(v[i]))
		i++;
	while (n > i && is_ws(v[n - 1]))
		n--;
	while (i < n) {
		size_t j = i;
		while (j < n && !is_ws(v[j]))
			j++;
		wr_put(w, v + i, j - i);
		if (j == n)
			break;
		while (is_ws(v[j]))
			j++; /* stops before n: v[n - 1] is not whitespace */
		wr_ch(w, ' ');
		i = j;
	}
}

/* Writes a header name in lowercase. */
static void wr_lower(struct wr *w, const char *name, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	for (size_t k = 0; k < n; k++)
		w->p[w->len + k] = (char)lower((unsigned char)name[k]);
	w->len += n;
}

/* Writes one stretch of the path, encoded again unless told not to. */
static void wr_path(struct wr *w, const char *p, size_t n, bool no_encode)
{
	if (no_encode)
		wr_put(w, p, n);
	else
		wr_encode(w, p, n, true);
}

/* CanonicalURI: remove dot segments and empty segments (RFC 3986 5.2.4 plus
 * AWS's duplicate-slash rule, as botocore does), keep a leading and trailing
 * '/', then encode the result once more (non-S3 double encoding: a '%' of
 * the wire path becomes %25). */
static int wr_canonical_uri(struct wr *w, const char *path, bool keep_segments,
			    bool no_encode)
{
	size_t n = path ? strlen(path) : 0;
	if (n == 0) {
		wr_ch(w, '/');
		return KC_OK;
	}
	if (keep_segments) {
		wr_path(w, path, n, no_encode);
		return KC_OK;
	}
	uint32_t off[SEGMENTS_MAX], len[SEGMENTS_MAX];
	size_t nseg = 0;
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t sl = j - i;
		if (sl == 0 || (sl == 1 && path[i] == '.')) {
			/* empty or "." segment: dropped */
		} else if (sl == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg > 0)
				nseg--;
		} else {
			if (nseg == SEGMENTS_MAX)
				return KC_ELIMIT;
			off[nseg] = (uint32_t)i;
			len[nseg] = (uint32_t)sl;
			nseg++;
		}
		i = j + 1;
	}
	if (path[0] == '/' || nseg == 0)
		wr_ch(w, '/');
	for (size_t k = 0; k < nseg; k++) {
		if (k > 0)
			wr_ch(w, '/');
		wr_path(w, path + off[k], len[k], no_encode);
	}
	if (path[n - 1] == '/' && nseg > 0)
		wr_ch(w, '/');
	return KC_OK;
}

/* Decodes %XX (a '%' not followed by two hex digits stays literal, and '+'
 * stays '+': SigV4 does not treat it as a space), then re-encodes with the
 * unreserved rule, '/' included. */
static void wr_reencode(struct wr *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !w->over; i++) {
		char c = s[i];
		if (c == '%' && n - i >= 3) {
			int hi = kc_hexval(s[i + 1]), lo = kc_hexval(s[i + 2]);
			if (hi >= 0 && lo >= 0) {
				char dec = (char)(hi << 4 | lo);
				wr_encode(w, &dec, 1, false);
				i += 2;
				continue;
			}
		}
		wr_encode(w, &c, 1, false);
	}
}

struct qp {
	uint32_t k_off, k_len, v_off, v_len;
};

static int qp_cmp(const char *base, const struct qp *a, const struct qp *b)
{
	size_t n = a->k_len < b->k_len ? a->k_len : b->k_len;
	int c = memcmp(base + a->k_off, base + b->k_off, n);
	if (c)
		return c;
	if (a->k_len != b->k_len)
		return a->k_len < b->k_len ? -1 : 1;
	n = a->v_len < b->v_len ? a->v_len : b->v_len;
	c = memcmp(base + a->v_off, base + b->v_off, n);
	if (c)
		return c;
	return (a->v_len > b->v_len) - (a->v_len < b->v_len);
}

/* CanonicalQuery: split on '&', decode, re-encode, sort by key then value. */
static int wr_canonical_query(struct kc_sigv4_signer *s, struct wr *w,
			      const char *q)
{
	if (!q || !*q)
		return KC_OK;
	struct qp qp[KC_SIGV4_QUERY_MAX];
	size_t nq = 0;
	struct wr qw = {s->qbuf, 0, sizeof(s->qbuf), false};
	for (const char *p = q; *p;) {
		const char *end = strchr(p, '&');
		if (!end)
			end = p + strlen(p);
		if (end > p) { /* empty pieces ("a=1&&b=2") carry nothing */
			if (nq == KC_SIGV4_QUERY_MAX)
				return KC_ELIMIT;
			const char *eq = memchr(p, '=', (size_t)(end - p));
			const char *kend = eq ? eq : end;
			qp[nq].k_off = (uint32_t)qw.len;
			wr_reencode(&qw, p, (size_t)(kend - p));
			qp[nq].k_len = (uint32_t)(qw.len - qp[nq].k_off);
			qp[nq].v_off = (uint32_t)qw.len;
			if (eq)
				wr_reencode(&qw, eq + 1, (size_t)(end - eq - 1));
			qp[nq].v_len = (uint32_t)(qw.len - qp[nq].v_off);
			if (qw.over)
				return KC_ELIMIT;
			nq++;
		}
		p = *end ? end + 1 : end;
	}
	for (size_t i = 1; i < nq; i++) {
		struct qp t = qp[i];
		size_t j = i;
		while (j > 0 && qp_cmp(s->qbuf, &qp[j - 1], &t) > 0) {
			qp[j] = qp[j - 1];
			j--;
		}
		qp[j] = t;
	}
	for (size_t i = 0; i < nq; i++) {
		if (i > 0)
			wr_ch(w, '&');
		wr_put(w, s->qbuf + qp[i].k_off, qp[i].k_len);
		wr_ch(w, '=');
		wr_put(w, s->qbuf + qp[i].v_off, qp[i].v_len);
	}
	return KC_OK;
}

/* Writes the canonical request for the sorted headers e[0..n) into s->creq
 * and remembers where its SignedHeaders line is. */
int kc_sigv4_build_creq(struct kc_sigv4_signer *s, const char *method,
			const char *path, const char *query, struct ent *e,
			size_t n, const char *payload_hash, struct kc_diag *d)
{
	struct wr w = {s->creq, 0, sizeof(s->creq), false};
	sort_ents(e, n);
	wr_str(&w, method);
	wr_ch(&w, '\n');
	int rc = wr_canonical_uri(&w, path, s->keep_segments, s->no_encode);
	if (rc)
		return kc_diag_set(d, rc, "sigv4: path has over %d segments",
				   SEGMENTS_MAX);
	wr_ch(&w, '\n');
	rc = wr_canonical_query(s, &w, query);
	if (rc)
		return kc_diag_set(d, rc, "sigv4: query over %d parameters or "
				   "%d bytes", KC_SIGV4_QUERY_MAX, QBUF_BYTES);
	wr_ch(&w, '\n');
	for (size_t i = 0; i < n; i++) {
		bool first = i == 0 || kc_sigv4_name_cmp(&e[i - 1], &e[i]) != 0;
		if (first) {
			if (i > 0)
				wr_ch(&w, '\n');
			wr_lower(&w, e[i].name, e[i].name_len);
			wr_ch(&w, ':');
		} else {
			wr_ch(&w, ',');
		}
		wr_trimmed(&w, e[i].value, e[i].value_len);
	}
	wr_str(&w, "\n\n");
	size_t signed_off = w.len;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && kc_sigv4_name_cmp(&e[i - 1], &e[i]) == 0)
			continue;
		if (i > 0)
			wr_ch(&w, ';');
		wr_lower(&w, e[i].name, e[i].name_len);
	}
	size_t signed_len = w.len - signed_off;
	wr_ch(&w, '\n');
	wr_str(&w, payload_hash);
	if (w.over)
		return kc_diag_set(d, KC_ELIMIT,
				   "sigv4: canonical request over %d bytes",
				   KC_SIGV4_SCRATCH_BYTES);
	s->creq_len = w.len;
	s->signed_off = signed_off;
	s->signed_len = signed_len;
	return KC_OK;
}
