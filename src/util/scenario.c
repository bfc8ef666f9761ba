/*
 * scenario.c - INI scenario files as a line-numbered entry table.
 *
 * inih does the lexing.  Debian's inih is built without line numbers in the
 * handler, so we feed it through ini_parse_stream with our own reader that
 * counts lines: inih calls the handler for a line right after reading it, so
 * the reader's count is the handler's line.  The table is small (tens of
 * entries), so lookups are linear.
 */
#include "kneecap/scenario.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/buf.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 1024
#define MAX_FILE_BYTES (1u << 20)

struct kc_scenario {
	char *name;
	size_t n;
	struct kc_scenario_entry e[MAX_ENTRIES];
	bool from_flag[MAX_ENTRIES]; /* set by kc_scenario_set, not the file */
	char *store[MAX_ENTRIES]; /* one block per entry: section\0key\0value\0 */
	/* section names seen, including empty ones */
	size_t nsec;
	char *sections[64];
};

struct parse_ctx {
	struct kc_scenario *sc;
	const char *text;
	size_t pos;
	int line;
	int err;
	struct kc_diag *d;
};

static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	if (!c->text[c->pos] || num <= 1)
		return NULL;
	size_t i = 0;
	while (c->text[c->pos] && i + 1 < (size_t)num) {
		char ch = c->text[c->pos++];
		str[i++] = ch;
		if (ch == '\n')
			break;
	}
	str[i] = '\0';
	c->line++;
	/* inih's line buffer is fixed (INI_MAX_LINE); a longer line would be
	 * split and misread, so refuse it instead. */
	if (str[i - 1] != '\n' && c->text[c->pos]) {
		if (!c->err)
			c->err = kc_diag_set_at(c->d, KC_EPARSE, c->sc->name, c->line,
						NULL, "line longer than %d characters", num - 3);
		return NULL;
	}
	return str;
}

static int add_section(struct kc_scenario *sc, const char *section)
{
	for (size_t i = 0; i < sc->nsec; i++)
		if (!strcmp(sc->sections[i], section))
			return KC_OK;
	if (sc->nsec == sizeof(sc->sections) / sizeof(sc->sections[0]))
		return KC_ELIMIT;
	sc->sections[sc->nsec] = strdup(section);
	if (!sc->sections[sc->nsec])
		return KC_ENOMEM;
	sc->nsec++;
	return KC_OK;
}

static int store_entry(struct kc_scenario *sc, size_t i, const char *section,
		       const char *name, const char *value, int line)
{
	size_t ls = strlen(section) + 1, lk = strlen(name) + 1, lv = strlen(value) + 1;
	char *p = malloc(ls + lk + lv);
	if (!p)
		return KC_ENOMEM;
	memcpy(p, section, ls);
	memcpy(p + ls, name, lk);
	memcpy(p + ls + lk, value, lv);
	free(sc->store[i]);
	sc->store[i] = p;
	struct kc_scenario_entry *e = &sc->e[i];
	e->section = p;
	e->key = p + ls;
	e->value = p + ls + lk;
	e->line = line;
	e->used = false;
	return KC_OK;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *c = user;
	struct kc_scenario *sc = c->sc;
	if (c->err) /* report the first problem only */
		return 1;
	if (!name) /* a new, possibly empty, section (INI_CALL_HANDLER_ON_NEW_SECTION) */
		return add_section(sc, section) == KC_OK;
	if (!*section) {
		c->err = kc_diag_set_at(c->d, KC_EPARSE, sc->name, c->line, name,
					"key outside any [section]");
		return 0;
	}
	for (size_t i = 0; i < sc->n; i++) {
		if (!strcmp(sc->e[i].section, section) && !strcmp(sc->e[i].key, name)) {
			c->err = kc_diag_set_at(c->d, KC_EPARSE, sc->name, c->line, name,
						"duplicate key in [%s] (first set on line %d)",
						section, sc->e[i].line);
			return 0;
		}
	}
	if (sc->n == MAX_ENTRIES) {
		c->err = kc_diag_set_at(c->d, KC_ELIMIT, sc->name, c->line, name,
					"more than %d keys", MAX_ENTRIES);
		return 0;
	}
	if (add_section(sc, section) != KC_OK) {
		c->err = kc_diag_set_at(c->d, KC_ELIMIT, sc->name, c->line, name,
					"too many sections");
		return 0;
	}
	if (store_entry(sc, sc->n, section, name, value, c->line)) {
		c->err = KC_ENOMEM;
		return 0;
	}
	sc->n++;
	return 1;
}

int kc_scenario_parse(struct kc_scenario **out, const char *name,
		      const char *text, struct kc_diag *d)
{
	struct kc_scenario *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return KC_ENOMEM;
	sc->name = strdup(name ? name : "<scenario>");
	if (!sc->name) {
		free(sc);
		return KC_ENOMEM;
	}
	struct parse_ctx c = {.sc = sc, .text = text, .d = d};
	int rc = ini_parse_stream(reader, &c, handler, &c);
	if (rc != 0 || c.err) {
		if (!c.err)
			c.err = kc_diag_set_at(d, KC_EPARSE, sc->name, rc > 0 ? rc : 0,
					       NULL, "syntax error (expected [section] or key = value)");
		kc_scenario_free(sc);
		return c.err;
	}
	*out = sc;
	return KC_OK;
}

int kc_scenario_load(struct kc_scenario **out, const char *path,
		     struct kc_diag *d)
{
	struct kc_buf b;
	kc_buf_init(&b, MAX_FILE_BYTES);
	int rc = kc_buf_read_text(&b, path, "INI text", d);
	if (rc) {
		kc_buf_fini(&b);
		return rc;
	}
	rc = kc_scenario_parse(out, path, b.data, d);
	kc_buf_fini(&b);
	return rc;
}

int kc_scenario_new_empty(struct kc_scenario **out, const char *name)
{
	return kc_scenario_parse(out, name, "", NULL);
}

int kc_scenario_set(struct kc_scenario *sc, const char *section,
		    const char *key, const char *value)
{
	size_t i;
	for (i = 0; i < sc->n; i++)
		if (!strcmp(sc->e[i].section, section) && !strcmp(sc->e[i].key, key))
			break;
	if (i == sc->n && sc->n == MAX_ENTRIES)
		return KC_ELIMIT;
	if (add_section(sc, section))
		return KC_ELIMIT;
	int rc = store_entry(sc, i, section, key, value, 0);
	if (rc)
		return rc;
	sc->from_flag[i] = true;
	if (i == sc->n)
		sc->n++;
	return KC_OK;
}

void kc_scenario_free(struct kc_scenario *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->n; i++)
		free(sc->store[i]);
	for (size_t i = 0; i < sc->nsec; i++)
		free(sc->sections[i]);
	free(sc->name);
	free(sc);
}

const char *kc_scenario_name(const struct kc_scenario *sc)
{
	return sc ? sc->name : "";
}

size_t kc_scenario_count(const struct kc_scenario *sc)
{
	return sc ? sc->n : 0;
}

struct kc_scenario_entry *kc_scenario_entry(struct kc_scenario *sc, size_t i)
{
	return sc && i < sc->n ? &sc->e[i] : NULL;
}

bool kc_scenario_has_section(const struct kc_scenario *sc, const char *section)
{
	if (!sc)
		return false;
	for (size_t i = 0; i < sc->nsec; i++)
		if (!strcmp(sc->sections[i], section))
			return true;
	return false;
}

struct kc_scenario_entry *kc_scenario_find(struct kc_scenario *sc,
					   const char *section, const char *key)
{
	if (!sc)
		return NULL;
	for (size_t i = 0; i < sc->n; i++) {
		struct kc_scenario_entry *e = &sc->e[i];
		if (!strcmp(e->section, section) && !strcmp(e->key, key)) {
			e->used = true;
			return e;
		}
	}
	return NULL;
}

/* Where an entry came from, for messages: the file, or the flag that set it. */
static const char *origin(const struct kc_scenario *sc, const struct kc_scenario_entry *e)
{
	return sc->from_flag[e - sc->e] ? "command line" : sc->name;
}

static int bad(struct kc_scenario *sc, const struct kc_scenario_entry *e,
	       struct kc_diag *d, int prc, const char *what)
{
	if (prc == KC_ERANGE)
		return kc_diag_set_at(d, KC_EINVAL, origin(sc, e), e->line, e->key,
				      "'%s' is out of range (%s)", e->value, what);
	return kc_diag_set_at(d, KC_EINVAL, origin(sc, e), e->line, e->key,
			      "'%s' is not %s", e->value, what);
}

int kc_scenario_get_str(struct kc_scenario *sc, const char *section,
			const char *key, const char **out, struct kc_diag *d)
{
	(void)d;
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	*out = e->value;
	return KC_OK;
}

int kc_scenario_get_i64(struct kc_scenario *sc, const char *section,
			const char *key, int64_t lo, int64_t hi, int64_t *out,
			struct kc_diag *d)
{
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	int64_t v;
	int rc = kc_parse_i64(e->value, lo, hi, &v);
	if (rc) {
		char what[96];
		snprintf(what, sizeof(what), "an integer in %lld..%lld",
			 (long long)lo, (long long)hi);
		return bad(sc, e, d, rc, what);
	}
	*out = v;
	return KC_OK;
}

int kc_scenario_get_double(struct kc_scenario *sc, const char *section,
			   const char *key, double lo, double hi, double *out,
			   struct kc_diag *d)
{
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	double v;
	int rc = kc_parse_double(e->value, lo, hi, &v);
	if (rc) {
		char what[96];
		snprintf(what, sizeof(what), "a number in %g..%g", lo, hi);
		return bad(sc, e, d, rc, what);
	}
	*out = v;
	return KC_OK;
}

int kc_scenario_get_duration_ns(struct kc_scenario *sc, const char *section,
				const char *key, int64_t unit_ns, int64_t lo,
				int64_t hi, int64_t *out, struct kc_diag *d)
{
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	int64_t v;
	double bare;
	/* Units are required everywhere (the flags' rule): a bare "5" in one
	 * key meaning seconds and in the next milliseconds misled users.  A
	 * bare 0 is the same in every unit. */
	if (kc_parse_double(e->value, -1e300, 1e300, &bare) == KC_OK && bare != 0) {
		(void)unit_ns;
		return kc_diag_set_at(d, KC_EINVAL, origin(sc, e), e->line, e->key,
				      "'%s': a duration needs a unit (5s, 500ms)", e->value);
	}
	int rc = kc_parse_duration_ns(e->value, unit_ns, &v);
	if (!rc && (v < lo || v > hi))
		rc = KC_ERANGE;
	if (rc) {
		char what[128], a[32], b[32];
		snprintf(what, sizeof(what), "a duration in %s..%s (e.g. 250ms, 30s, 2m)",
			 kc_format_duration(lo, a, sizeof(a)),
			 kc_format_duration(hi, b, sizeof(b)));
		return bad(sc, e, d, rc, what);
	}
	*out = v;
	return KC_OK;
}

int kc_scenario_get_bool(struct kc_scenario *sc, const char *section,
			 const char *key, bool *out, struct kc_diag *d)
{
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	bool v;
	if (kc_parse_bool(e->value, &v))
		return bad(sc, e, d, KC_EPARSE, "true or false");
	*out = v;
	return KC_OK;
}

int kc_scenario_get_enum(struct kc_scenario *sc, const char *section,
			 const char *key, const char *const *choices, int *out,
			 struct kc_diag *d)
{
	struct kc_scenario_entry *e = kc_scenario_find(sc, section, key);
	if (!e)
		return KC_ENOTFOUND;
	struct kc_buf list;
	kc_buf_init(&list, 512);
	for (int i = 0; choices[i]; i++) {
		if (!strcmp(e->value, choices[i])) {
			kc_buf_fini(&list);
			*out = i;
			return KC_OK;
		}
		kc_buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
	}
	int rc = kc_diag_set_at(d, KC_EINVAL, origin(sc, e), e->line, e->key,
				"'%s' is not one of: %s", e->value,
				list.data ? list.data : "");
	kc_buf_fini(&list);
	return rc;
}

int kc_scenario_check_unused(const struct kc_scenario *sc, struct kc_diag *d)
{
	if (!sc)
		return KC_OK;
	for (size_t i = 0; i < sc->n; i++) {
		const struct kc_scenario_entry *e = &sc->e[i];
		if (!e->used)
			return kc_diag_set_at(d, KC_EINVAL, origin(sc, e), e->line, e->key,
					      "unknown key in [%s]", e->section);
	}
	return KC_OK;
}
