/*
 * scrub.c - the secret scrubber (see scrub.h for what it removes).
 *
 * How a registered secret is found in all its forms with one pass:
 *  1. The text is read through a decoding view: %XX (and %25XX) become the
 *     byte they encode, JSON's \/ and \u00XX too, and the URL-safe base64
 *     letters '-' '_' read as '+' '/'.  Each view byte remembers where in
 *     the text it started, so a hit maps back to the bytes to replace.
 *  2. Every window of KC_SCRUB_MIN_RUN view bytes is hashed (a rolling
 *     hash, one multiply-add per byte) and looked up in a table holding the
 *     hash of every window of every "needle": each secret as it is, and the
 *     stable middle of its base64 encoding at byte alignments 0, 1 and 2
 *     (the characters that depend on the secret's bytes only, whatever
 *     surrounds it in the blob).  The union of the hit windows is what is
 *     replaced, so a whole secret, or any run of 12+ characters of it (a
 *     truncated echo), in any of those forms, goes.
 * The table holds 64-bit hashes, not text: a collision could only redact
 * too much, never too little.  Secrets of 8-11 characters, too short for a
 * window, are searched for whole, raw or percent-encoded (not in base64).
 *
 * Field patterns (Authorization, X-Amz-Security-Token, Signature=, ...)
 * need no registry and are matched on the text as it is.
 *
 * Locking: a rwlock; scrubbing takes it shared, registering exclusive.
 * Registration happens a handful of times per run (start, each refresh).
 */
#include "kneecap/scrub.h"
#include "scrub_int.h"
#include "kneecap/err.h"
#include "hex_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define K KC_SCRUB_MIN_RUN
#define HASH_B UINT64_C(0x100000001b3)
#define OPAQUE_MIN 24
#define MARK_LEN (sizeof(KC_SCRUB_MARK) - 1)

struct needle {
	unsigned char *b;
	size_t n;
};

static pthread_rwlock_t mu = PTHREAD_RWLOCK_INITIALIZER;
static char **secrets;           /* registered values, for dedupe and wiping */
static int nsecrets, capsecrets;
static uint64_t *tab;            /* open addressing; 0 = empty */
static size_t tabsz, tabn;       /* slots (power of two), used */
static struct needle *shorts;    /* secrets too short for a window */
static int nshorts;

static uint64_t pow_bk(void)
{
	uint64_t p = 1;
	for (int i = 0; i < K; i++)
		p *= HASH_B;
	return p;
}

static unsigned char canon(unsigned char c)
{
	return c == '-' ? '+' : c == '_' ? '/' : c;
}

static size_t slot_of(uint64_t h, size_t sz)
{
	return (size_t)((h * UINT64_C(0x9E3779B97F4A7C15)) >> 7) & (sz - 1);
}

static bool tab_has(uint64_t h)
{
	if (!tabsz)
		return false;
	h = h ? h : 1;
	for (size_t i = slot_of(h, tabsz);; i = (i + 1) & (tabsz - 1)) {
		if (tab[i] == h)
			return true;
		if (!tab[i])
			return false;
	}
}

static void tab_put(uint64_t *t, size_t sz, uint64_t h)
{
	h = h ? h : 1;
	for (size_t i = slot_of(h, sz);; i = (i + 1) & (sz - 1)) {
		if (t[i] == h)
			return;
		if (!t[i]) {
			t[i] = h;
			return;
		}
	}
}

/* Makes room for add more hashes (load under one half). */
static int tab_reserve(size_t add)
{
	if ((tabn + add) * 2 <= tabsz)
		return KC_OK;
	size_t sz = tabsz ? tabsz : 1024;
	while ((tabn + add) * 2 > sz)
		sz *= 2;
	uint64_t *t = calloc(sz, sizeof(*t));
	if (!t)
		return KC_ENOMEM;
	for (size_t i = 0; i < tabsz; i++)
		if (tab[i])
			tab_put(t, sz, tab[i]);
	if (tab)
		explicit_bzero(tab, tabsz * sizeof(*tab));
	free(tab);
	tab = t;
	tabsz = sz;
	return KC_OK;
}

/* Adds the hash of every K-window of b[0..n) (already canonical). */
static void add_windows(const unsigned char *b, size_t n)
{
	uint64_t bk = pow_bk(), h = 0;
	for (size_t i = 0; i < n; i++) {
		h = h * HASH_B + b[i] + 1;
		if (i >= K)
			h -= (uint64_t)(b[i - K] + 1) * bk;
		if (i + 1 >= K)
			tab_put(tab, tabsz, h);
	}
	/* tabn counts insert attempts: an upper bound, which is all reserve needs. */
	tabn += n >= K ? n - K + 1 : 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * The base64 characters of s that depend only on s's bytes when s sits
 * after align other bytes (mod 3) in a larger blob: character j covers
 * bits [6j, 6j + 6) of (align bytes, s), kept when all of them are s's.
 * Writes them canonical into out (room for 4 * (n + 2) / 3 + 4) and
 * returns how many.
 */
static size_t b64_middle(const unsigned char *s, size_t n, int align, unsigned char *out)
{
	size_t bits = 8 * ((size_t)align + n), w = 0;
	for (size_t j = 0; 6 * j + 6 <= bits; j++) {
		if (6 * j < 8 * (size_t)align)
			continue;
		unsigned v = 0;
		for (size_t k = 0; k < 6; k++) {
			size_t bit = 6 * j + k - 8 * (size_t)align; /* bit index inside s */
			unsigned byte = s[bit / 8];
			v = (v << 1) | ((byte >> (7 - bit % 8)) & 1u);
		}
		out[w++] = canon((unsigned char)b64[v]);
	}
	return w;
}

int kc_scrub_register(const char *secret)
{
	if (!secret)
		return KC_EINVAL;
	size_t n = strlen(secret);
	if (n < KC_SCRUB_MIN_SECRET)
		return KC_EINVAL;
	pthread_rwlock_wrlock(&mu);
	int rc = KC_OK;
	for (int i = 0; i < nsecrets; i++)
		if (!strcmp(secrets[i], secret))
			goto out;
	if (nsecrets == capsecrets) {
		int c = capsecrets ? 2 * capsecrets : 8;
		char **p = realloc(secrets, (size_t)c * sizeof(*p));
		if (!p) {
			rc = KC_ENOMEM;
			goto out;
		}
		secrets = p;
		capsecrets = c;
	}
	unsigned char *raw = malloc(n), *mid = malloc(4 * (n + 2) / 3 + 4);
	char *copy = strdup(secret);
	if (!raw || !mid || !copy) {
		free(raw);
		free(mid);
		free(copy);
		rc = KC_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		raw[i] = canon((unsigned char)secret[i]);
	if (n < K) {
		struct needle *p = realloc(shorts, (size_t)(nshorts + 1) * sizeof(*p));
		if (!p) {
			rc = KC_ENOMEM;
		} else {
			shorts = p;
			shorts[nshorts++] = (struct needle){raw, n};
			raw = NULL;
		}
	} else if ((rc = tab_reserve(6 * (n + 4))) == KC_OK) {
		add_windows(raw, n);
		for (int a = 0; a < 3; a++)
			add_windows(mid, b64_middle((const unsigned char *)secret, n, a, mid));
	}
	if (raw) {
		explicit_bzero(raw, n);
		free(raw);
	}
	explicit_bzero(mid, 4 * (n + 2) / 3 + 4);
	free(mid);
	if (rc == KC_OK)
		secrets[nsecrets++] = copy;
	else
		free(copy);
out:
	pthread_rwlock_unlock(&mu);
	return rc;
}

void kc_scrub_clear(void)
{
	pthread_rwlock_wrlock(&mu);
	for (int i = 0; i < nsecrets; i++) {
		explicit_bzero(secrets[i], strlen(secrets[i]));
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	nsecrets = capsecrets = 0;
	if (tab)
		explicit_bzero(tab, tabsz * sizeof(*tab));
	free(tab);
	tab = NULL;
	tabsz = tabn = 0;
	for (int i = 0; i < nshorts; i++) {
		explicit_bzero(shorts[i].b, shorts[i].n);
		free(shorts[i].b);
	}
	free(shorts);
	shorts = NULL;
	nshorts = 0;
	pthread_rwlock_unlock(&mu);
}

int kc_scrub_count(void)
{
	pthread_rwlock_rdlock(&mu);
	int n = nsecrets;
	pthread_rwlock_unlock(&mu);
	return n;
}

/* ------------------------------------------------------------------ */
/* ranges of the text to replace                                        */

struct ranges {
	size_t (*r)[2];
	size_t n, cap;
	bool nomem;
};

static void range_add(struct ranges *rs, size_t a, size_t b)
{
	if (a >= b)
		return;
	if (rs->n && a <= rs->r[rs->n - 1][1] && a >= rs->r[rs->n - 1][0]) {
		if (b > rs->r[rs->n - 1][1])
			rs->r[rs->n - 1][1] = b;
		return;
	}
	if (rs->n == rs->cap) {
		size_t c = rs->cap ? 2 * rs->cap : 16;
		void *p = realloc(rs->r, c * sizeof(*rs->r));
		if (!p) {
			rs->nomem = true;
			return;
		}
		rs->r = p;
		rs->cap = c;
	}
	rs->r[rs->n][0] = a;
	rs->r[rs->n][1] = b;
	rs->n++;
}

static int range_cmp(const void *x, const void *y)
{
	const size_t *a = x, *b = y;
	return a[0] < b[0] ? -1 : a[0] > b[0];
}

/* Sorts and merges overlapping or touching ranges. */
static void range_norm(struct ranges *rs)
{
	if (rs->n < 2)
		return;
	qsort(rs->r, rs->n, sizeof(*rs->r), range_cmp);
	size_t w = 0;
	for (size_t i = 1; i < rs->n; i++) {
		if (rs->r[i][0] <= rs->r[w][1]) {
			if (rs->r[i][1] > rs->r[w][1])
				rs->r[w][1] = rs->r[i][1];
		} else {
			w++;
			rs->r[w][0] = rs->r[i][0];
			rs->r[w][1] = rs->r[i][1];
		}
	}
	rs->n = w + 1;
}

/* ------------------------------------------------------------------ */
/* registered secrets, through the decoding view                        */

/* Decodes one view byte at s[i] (i < n) into *out; returns bytes used. */
static size_t decode_at(const char *s, size_t n, size_t i, unsigned char *out)
{
	if (s[i] == '%' && i + 2 < n && kc_hexval(s[i + 1]) >= 0 && kc_hexval(s[i + 2]) >= 0) {
		int v = kc_hexval(s[i + 1]) * 16 + kc_hexval(s[i + 2]);
		if (v == '%' && i + 4 < n && kc_hexval(s[i + 3]) >= 0 && kc_hexval(s[i + 4]) >= 0) {
			*out = canon((unsigned char)(kc_hexval(s[i + 3]) * 16 + kc_hexval(s[i + 4])));
			return 5;
		}
		*out = canon((unsigned char)v);
		return 3;
	}
	if (s[i] == '\\' && i + 1 < n) {
		if (s[i + 1] == '/') {
			*out = '/';
			return 2;
		}
		if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' && s[i + 3] == '0' &&
		    kc_hexval(s[i + 4]) >= 0 && kc_hexval(s[i + 5]) >= 0) {
			*out = canon((unsigned char)(kc_hexval(s[i + 4]) * 16 + kc_hexval(s[i + 5])));
			return 6;
		}
	}
	*out = canon((unsigned char)s[i]);
	return 1;
}

/* Hash-matches every window of the view v[0..vn) (off maps back). */
static void scan_view(const unsigned char *v, const size_t *off, size_t vn, struct ranges *rs)
{
	if (tabsz) {
		uint64_t bk = pow_bk(), h = 0;
		for (size_t i = 0; i < vn; i++) {
			h = h * HASH_B + v[i] + 1;
			if (i >= K)
				h -= (uint64_t)(v[i - K] + 1) * bk;
			if (i + 1 >= K && tab_has(h))
				range_add(rs, off[i + 1 - K], off[i + 1]);
		}
	}
	for (int k = 0; k < nshorts; k++) {
		const struct needle *nd = &shorts[k];
		for (size_t i = 0; i + nd->n <= vn; i++)
			if (v[i] == nd->b[0] && !memcmp(v + i, nd->b, nd->n))
				range_add(rs, off[i], off[i + nd->n]);
	}
}

/*
 * Looks for the registered secrets in the decoded view and, when decoding
 * changed anything, in the text as it is too: "%2c" + a raw secret must
 * not hide the secret's first character inside a bogus escape.
 */
static void find_registered(const char *s, size_t n, struct ranges *rs)
{
	unsigned char *v = malloc(n + 1);
	size_t *off = malloc((n + 1) * sizeof(*off));
	if (!v || !off) {
		free(v);
		free(off);
		rs->nomem = true;
		return;
	}
	size_t vn = 0;
	for (size_t i = 0; i < n;) {
		off[vn] = i;
		i += decode_at(s, n, i, &v[vn]);
		vn++;
	}
	off[vn] = n;
	scan_view(v, off, vn, rs);
	if (vn != n) {
		for (size_t i = 0; i < n; i++) {
			v[i] = canon((unsigned char)s[i]);
			off[i] = i;
		}
		off[n] = n;
		scan_view(v, off, n, rs);
		vn = n;
	}
	explicit_bzero(v, vn);
	free(v);
	free(off);
}

/* ------------------------------------------------------------------ */
/* credential-bearing fields                                            */

enum kw_kind { KW_AUTH, KW_VALUE, KW_EQ };

static const struct {
	const char *name;
	enum kw_kind kind;
} kws[] = {
	{"authorization", KW_AUTH},
	{"x-amz-security-token", KW_VALUE},
	{"signature", KW_EQ}, /* X-Amz-Signature= too */
	{"secretaccesskey", KW_VALUE},
	{"secret_access_key", KW_VALUE},
	{"sessiontoken", KW_VALUE},
	{"session_token", KW_VALUE},
};

static bool is_delim(const char *s, size_t n, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	if (c <= ' ' || c == 0x7f || strchr("\"'`,;&<>(){}[]|", c))
		return true;
	/* a backslash ends a value unless it escapes part of one (\/, \u002b):
	 * \n, \" ... mean the text is JSON or C quoted */
	return c == '\\' && !(i + 1 < n && (s[i + 1] == '/' || s[i + 1] == 'u'));
}

/* Skips an optional (escaped) quote at s[*i]. */
static void skip_quote(const char *s, size_t n, size_t *i)
{
	if (*i + 1 < n && s[*i] == '\\' && (s[*i + 1] == '"' || s[*i + 1] == '\''))
		*i += 2;
	else if (*i < n && (s[*i] == '"' || s[*i] == '\''))
		*i += 1;
}

static void skip_blanks(const char *s, size_t n, size_t *i)
{
	while (*i < n && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

/*
 * After a field name ending at j: the separator (':' unless eq_only, '=',
 * or a percent-encoded '='), quotes and blanks around it.  Returns where
 * the value starts, or 0 when this is no field.
 */
static size_t after_separator(const char *s, size_t n, size_t j, bool eq_only)
{
	skip_quote(s, n, &j);
	skip_blanks(s, n, &j);
	if (j < n && (s[j] == '=' || (!eq_only && s[j] == ':')))
		j++;
	else if (j + 2 < n && s[j] == '%' && s[j + 1] == '3' && (s[j + 2] == 'D' || s[j + 2] == 'd'))
		j += 3;
	else
		return 0;
	skip_blanks(s, n, &j);
	skip_quote(s, n, &j);
	return j;
}

static size_t token_end(const char *s, size_t n, size_t i)
{
	while (i < n && !is_delim(s, n, i))
		i++;
	return i;
}

/* Where an Authorization value starting at v ends. */
static size_t auth_end(const char *s, size_t n, size_t v)
{
	size_t eol = v;
	while (eol < n && s[eol] != '\r' && s[eol] != '\n' && s[eol] != '"' && eol - v < 2048 &&
	       !(s[eol] == '\\' && eol + 1 < n && strchr("nr", s[eol + 1]) && s[eol + 1]))
		eol++;
	if (eol - v >= 16 && !strncasecmp(s + v, "AWS4-HMAC-SHA256", 16)) {
		/* Credential=..., SignedHeaders=..., Signature=hex: through the
		 * signature; with none in sight, the rest of the line. */
		for (size_t i = v; i + 10 <= eol; i++)
			if (!strncasecmp(s + i, "signature=", 10))
				return token_end(s, n, i + 10);
		return eol;
	}
	size_t e = token_end(s, n, v);
	bool scheme = e - v <= 16;
	for (size_t i = v; i < e && scheme; i++)
		scheme = isalpha((unsigned char)s[i]);
	if (scheme && e < n && s[e] == ' ' && e + 1 < n && !is_delim(s, n, e + 1))
		e = token_end(s, n, e + 1);
	return e;
}

static void find_fields(const char *s, size_t n, struct ranges *rs)
{
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)s[i]);
		if (c != 'a' && c != 'x' && c != 's')
			continue;
		for (size_t k = 0; k < sizeof(kws) / sizeof(kws[0]); k++) {
			size_t kl = strlen(kws[k].name);
			if (kws[k].name[0] != c || i + kl > n || strncasecmp(s + i, kws[k].name, kl))
				continue;
			size_t v = after_separator(s, n, i + kl, kws[k].kind == KW_EQ);
			if (!v)
				continue;
			size_t e = kws[k].kind == KW_AUTH ? auth_end(s, n, v) : token_end(s, n, v);
			range_add(rs, v, e);
			break;
		}
	}
}

static bool opaque_char(unsigned char c)
{
	return isalnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-';
}

static void find_opaque(const char *s, size_t n, struct ranges *rs)
{
	for (size_t i = 0; i < n;) {
		if (!opaque_char((unsigned char)s[i])) {
			i++;
			continue;
		}
		if (i > 0 && s[i - 1] == '\\' && strchr("nrt", s[i]) && s[i]) {
			i++; /* the letter of an escape (\n), not the word's */
			continue;
		}
		size_t j = i;
		bool up = false, lo = false, dig = false;
		for (; j < n && opaque_char((unsigned char)s[j]); j++) {
			unsigned char c = (unsigned char)s[j];
			up |= isupper(c) != 0;
			lo |= islower(c) != 0;
			dig |= isdigit(c) != 0;
		}
		if (j - i >= OPAQUE_MIN && up && lo && dig)
			range_add(rs, i, j);
		i = j;
	}
}

/* ------------------------------------------------------------------ */
/* output                                                               */

/* Appends b[0..k) to out within outsz - 1; false once full. */
static bool put(char *out, size_t outsz, size_t *w, const char *b, size_t k)
{
	size_t room = outsz - 1 - *w;
	if (k > room) {
		/* never end inside a UTF-8 sequence */
		size_t m = room;
		while (m > 0 && ((unsigned char)b[m] & 0xC0) == 0x80)
			m--;
		memcpy(out + *w, b, m);
		*w += m;
		return false;
	}
	memcpy(out + *w, b, k);
	*w += k;
	return true;
}

int kc_scrub_copy(const char *in, size_t n, char *out, size_t outsz, unsigned flags)
{
	if (!out || !outsz)
		return KC_EINVAL;
	if (!in) {
		out[0] = '\0';
		return 0;
	}
	n = strnlen(in, n);
	struct ranges rs = {0};
	pthread_rwlock_rdlock(&mu);
	if (nsecrets)
		find_registered(in, n, &rs);
	pthread_rwlock_unlock(&mu);
	find_fields(in, n, &rs);
	if (flags & KC_SCRUB_OPAQUE)
		find_opaque(in, n, &rs);
	if (rs.nomem) {
		free(rs.r);
		out[0] = '\0';
		return KC_ENOMEM;
	}
	range_norm(&rs);
	size_t w = 0, at = 0;
	bool room = true;
	for (size_t k = 0; k < rs.n && room; k++) {
		room = put(out, outsz, &w, in + at, rs.r[k][0] - at) &&
		       put(out, outsz, &w, KC_SCRUB_MARK, MARK_LEN);
		at = rs.r[k][1];
	}
	if (room)
		put(out, outsz, &w, in + at, n - at);
	out[w] = '\0';
	int count = (int)rs.n;
	free(rs.r);
	return count;
}

int kc_scrub_str(char *s, size_t cap, unsigned flags)
{
	if (!s || !cap)
		return KC_EINVAL;
	size_t n = strnlen(s, cap - 1);
	char stackbuf[1024];
	char *copy = n < sizeof(stackbuf) ? stackbuf : malloc(n + 1);
	if (!copy) {
		s[0] = '\0';
		return KC_ENOMEM;
	}
	memcpy(copy, s, n);
	copy[n] = '\0';
	int rc = kc_scrub_copy(copy, n, s, cap, flags);
	explicit_bzero(copy, n);
	if (copy != stackbuf)
		free(copy);
	return rc;
}
