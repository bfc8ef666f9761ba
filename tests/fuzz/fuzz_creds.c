/*
 * fuzz_creds.c - the readers of the credential chain's untrusted text: the
 * AWS shared-file (INI) parser, the credential_process command splitter, the
 * ISO 8601 expiration reader and the container-URL rule.
 *
 * The whole input is parsed as a credentials/config file.  Its first line
 * is also split as a credential_process command, every one of its first 16
 * lines read as a timestamp, and lines 2 and 3 given to the container-URL
 * rule as the RELATIVE and FULL variables.  Invariants: a parsed file's
 * entries can all be found again by section and key, with lines in range;
 * a refused file's diagnostic never quotes a value (the sentinel "kcSECRET"
 * written only after an '=' never reaches it); split words lie inside the
 * caller's store; an accepted timestamp is a sane instant (INT64_MAX for
 * one past what nanoseconds hold).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awsini_int.h"
#include "creds_int.h"
#include "imds_int.h"
#include "procrun_int.h"
#include "kneecap/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SENTINEL "kcSECRET"
#define FZ_LINES 16

/* True when the sentinel occurs anywhere but after a line's first '=' or
 * ':' (then a diagnostic may legitimately name it as a key or section). */
static bool sentinel_outside_values(const char *t)
{
	size_t k = strlen(FZ_SENTINEL);
	for (const char *line = t; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		size_t head = strcspn(line, "=:\n");
		if (head > n)
			head = n;
		/* In a key or a section header (which may hold '=' or ':'). */
		if (memmem(line, head, FZ_SENTINEL, k) ||
		    (memchr(line, '[', n) && memmem(line, n, FZ_SENTINEL, k)))
			return true;
		line = nl ? nl + 1 : line + n;
	}
	return false;
}

static void check_ini(const char *text, size_t len, int nlines)
{
	struct kc_awsini ini;
	memset(&ini, 0, sizeof(ini));
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = kc_awsini_parse(&ini, "fuzz/credentials", text, len, &d);
	if (rc == 0) {
		for (size_t i = 0; i < ini.n; i++) {
			const struct kc_awsini_entry *e = &ini.e[i];
			if (e->line < 1 || e->line > nlines || !e->key[0])
				abort();
			const struct kc_awsini_entry *g = kc_awsini_get(&ini, e->section, e->key);
			if (!g || strcmp(g->value, e->value) != 0)
				abort(); /* an entry that cannot be looked up again */
			if (kc_awsini_section_line(&ini, e->section) < 1)
				abort();
		}
	} else if (rc > 0) {
		abort();
	} else if (!sentinel_outside_values(text) &&
		   (strstr(d.msg, FZ_SENTINEL) || strstr(d.key, FZ_SENTINEL))) {
		abort(); /* a value (maybe a secret key) quoted in an error */
	}
	kc_awsini_fini(&ini);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > KC_AWSINI_MAX_BYTES / 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int nlines = 1;
	for (size_t i = 0; i < size; i++)
		nlines += data[i] == '\n';
	check_ini(text, strlen(text), nlines);

	/* Lines, NUL-terminated in a copy. */
	char *copy = strdup(text);
	if (!copy) {
		free(text);
		return 0;
	}
	char *line[FZ_LINES] = {0};
	int n = 0;
	for (char *p = copy; p && n < FZ_LINES; n++) {
		line[n] = p;
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : NULL;
	}

	char store[1024];
	char *argv[17];
	int argc = kc_creds_shell_split(line[0] ? line[0] : "", argv, 17, store, sizeof(store));
	if (argc > 0) {
		if (argc > 16 || argv[argc] != NULL)
			abort();
		for (int i = 0; i < argc; i++)
			if (argv[i] < store || argv[i] >= store + sizeof(store) ||
			    !memchr(argv[i], '\0', (size_t)(store + sizeof(store) - argv[i])))
				abort(); /* a word outside the caller's store */
	}
	for (int i = 0; i < n; i++) {
		int64_t ns = 0;
		if (kc_creds_parse_iso8601(line[i], &ns) == 0 &&
		    (ns < -INT64_C(86400000000000) ||
		     (ns > INT64_C(9223372036000000000) && ns != INT64_MAX)))
			abort(); /* before 1970 (less a day of offset), or wrapped */
	}
	char url[512];
	struct kc_diag d;
	(void)kc_creds_container_url(n > 1 && line[1][0] ? line[1] : NULL,
				     n > 2 && line[2][0] ? line[2] : NULL, url, sizeof(url), &d);
	free(copy);
	free(text);
	return 0;
}
