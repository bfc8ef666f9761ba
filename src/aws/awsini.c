/*
 * awsini.c - the reader of the AWS shared files (~/.aws/config and
 * ~/.aws/credentials), see awsini_int.h.
 *
 * A small line reader rather than inih: Debian's inih caps lines at 200
 * bytes, which session tokens exceed, and the AWS dialect differs from
 * inih's on inline comments (none), ':' as a delimiter and indented nested
 * sub-sections (skipped).
 *
 * The text may hold secrets: it is wiped before it is freed, and no
 * diagnostic quotes a value.
 */
#include "awsini_int.h"
#include "kneecap/buf.h"
#include "kneecap/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

void kc_awsini_fini(struct kc_awsini *ini)
{
	if (!ini)
		return;
	if (ini->text) {
		explicit_bzero(ini->text, strlen(ini->text));
		free(ini->text);
	}
	free(ini->e);
	free(ini->sec);
	memset(ini, 0, sizeof(*ini));
}

/* Joins the blank-separated words of s with single spaces, in place. */
static void normalise_words(char *s)
{
	char *w = s;
	const char *r = s;
	while (*r) {
		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		if (w != s)
			*w++ = ' ';
		while (*r && *r != ' ' && *r != '\t')
			*w++ = *r++;
	}
	*w = '\0';
}

/* Adds the section header s ("[name]", trimmed) on line lineno. */
static int add_section(struct kc_awsini *ini, const char *name, int lineno,
		       char *s, struct kc_diag *d)
{
	char *close = strchr(s, ']');
	if (!close)
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
				      "section header without ']'");
	char *rest = trim(close + 1);
	if (*rest && *rest != '#' && *rest != ';')
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
				      "unexpected text after ']'");
	*close = '\0';
	char *sname = trim(s + 1);
	normalise_words(sname);
	if (!*sname)
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
				      "empty section name");
	for (size_t i = 0; i < ini->nsec; i++)
		if (!strcmp(ini->sec[i].name, sname))
			return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
					      "duplicate section [%.64s] (first at line %d)",
					      sname, ini->sec[i].line);
	if (ini->nsec == KC_AWSINI_MAX_SECTIONS)
		return kc_diag_set_at(d, KC_ELIMIT, name, lineno, NULL,
				      "more than %d sections", KC_AWSINI_MAX_SECTIONS);
	ini->sec[ini->nsec].name = sname;
	ini->sec[ini->nsec].line = lineno;
	ini->nsec++;
	return KC_OK;
}

/* Adds the key line s (trimmed) on line lineno to section, whose first
 * entry is section_first. */
static int add_entry(struct kc_awsini *ini, const char *name, int lineno,
		     char *s, const char *section, size_t section_first,
		     struct kc_diag *d)
{
	/* configparser's rule: the earliest '=' or ':' delimits. */
	char *delim = strpbrk(s, "=:");
	if (!delim)
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
				      "expected 'key = value' or '[section]'");
	*delim = '\0';
	char *key = trim(s);
	char *value = trim(delim + 1);
	if (!*key)
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, NULL,
				      "missing key before '%c'", '=');
	for (char *k = key; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	if (!section)
		return kc_diag_set_at(d, KC_EPARSE, name, lineno, key,
				      "key outside any [section]");
	for (size_t i = section_first; i < ini->n; i++)
		if (!strcmp(ini->e[i].key, key))
			return kc_diag_set_at(d, KC_EPARSE, name, lineno, key,
					      "duplicate key in [%.64s] (first at line %d)",
					      section, ini->e[i].line);
	if (ini->n == KC_AWSINI_MAX_ENTRIES)
		return kc_diag_set_at(d, KC_ELIMIT, name, lineno, NULL,
				      "more than %d keys", KC_AWSINI_MAX_ENTRIES);
	ini->e[ini->n++] = (struct kc_awsini_entry){
		.section = section, .key = key, .value = value, .line = lineno};
	return KC_OK;
}

int kc_awsini_parse(struct kc_awsini *ini, const char *name, const char *text,
		    size_t len, struct kc_diag *d)
{
	memset(ini, 0, sizeof(*ini));
	snprintf(ini->path, sizeof(ini->path), "%s", name);
	if (len > KC_AWSINI_MAX_BYTES)
		return kc_diag_set_at(d, KC_ELIMIT, name, 0, NULL,
				      "file larger than %u bytes", KC_AWSINI_MAX_BYTES);
	ini->text = malloc(len + 1);
	ini->e = calloc(KC_AWSINI_MAX_ENTRIES, sizeof(*ini->e));
	ini->sec = calloc(KC_AWSINI_MAX_SECTIONS, sizeof(*ini->sec));
	if (!ini->text || !ini->e || !ini->sec) {
		kc_awsini_fini(ini);
		return KC_ENOMEM;
	}
	memcpy(ini->text, text, len);
	ini->text[len] = '\0';
	if (memchr(ini->text, '\0', len)) {
		kc_awsini_fini(ini);
		return kc_diag_set_at(d, KC_EPARSE, name, 0, NULL, "file contains a NUL byte");
	}

	char *p = ini->text;
	if (!strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	const char *section = NULL;
	size_t section_first = 0; /* first entry of the current section */
	bool prev_key = false;    /* a key line was seen in this section */
	int lineno = 0;
	int err = KC_OK;
	while (*p) {
		char *line = p;
		char *nl = strchr(p, '\n');
		if (nl) {
			*nl = '\0';
			p = nl + 1;
		} else {
			p += strlen(p);
		}
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		/* An indented line under a key continues it: a nested
		 * sub-section ("s3 =" + indented keys) or a multi-line value.
		 * Neither holds anything kneecap reads, so skip it. */
		if (s != line && prev_key)
			continue;
		if (*s == '[') {
			err = add_section(ini, name, lineno, s, d);
			if (err < 0)
				goto fail;
			section = ini->sec[ini->nsec - 1].name;
			section_first = ini->n;
			prev_key = false;
			continue;
		}
		err = add_entry(ini, name, lineno, s, section, section_first, d);
		if (err < 0)
			goto fail;
		prev_key = true;
	}
	return KC_OK;
fail:
	kc_awsini_fini(ini);
	snprintf(ini->path, sizeof(ini->path), "%s", name);
	return err;
}

int kc_awsini_load(struct kc_awsini *ini, const char *path, struct kc_diag *d)
{
	memset(ini, 0, sizeof(*ini));
	snprintf(ini->path, sizeof(ini->path), "%s", path);
	struct kc_buf b;
	kc_buf_init(&b, KC_AWSINI_MAX_BYTES);
	int rc = kc_buf_read_file(&b, path);
	if (rc == KC_ENOTFOUND) {
		kc_buf_fini(&b);
		return KC_ENOTFOUND;
	}
	if (rc == KC_ELIMIT)
		rc = kc_diag_set_at(d, KC_ELIMIT, path, 0, NULL,
				    "file larger than %u bytes", KC_AWSINI_MAX_BYTES);
	else if (rc < 0)
		rc = kc_diag_set_at(d, rc, path, 0, NULL, "cannot read: %s", strerror(errno));
	else
		rc = kc_awsini_parse(ini, path, b.data ? b.data : "", b.len, d);
	if (b.data)
		explicit_bzero(b.data, b.len);
	kc_buf_fini(&b);
	return rc;
}

const struct kc_awsini_entry *kc_awsini_get(const struct kc_awsini *ini,
					    const char *section, const char *key)
{
	for (size_t i = 0; ini && section && i < ini->n; i++)
		if (!strcmp(ini->e[i].section, section) && !strcmp(ini->e[i].key, key))
			return &ini->e[i];
	return NULL;
}

int kc_awsini_section_line(const struct kc_awsini *ini, const char *section)
{
	for (size_t i = 0; ini && section && i < ini->nsec; i++)
		if (!strcmp(ini->sec[i].name, section))
			return ini->sec[i].line;
	return 0;
}
