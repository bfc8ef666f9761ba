/*
 * awsini_int.h - the reader of the AWS shared files (awsini.c): the
 * credential chain and the region lookup read profiles with it, and tests
 * and the fuzzer reach it directly.  Not part of the public API.
 */
#ifndef KNEECAP_AWS_AWSINI_INT_H
#define KNEECAP_AWS_AWSINI_INT_H

#include <stddef.h>

struct kc_diag;

/* Bounds of an AWS shared file: size, entries and sections. */
#define KC_AWSINI_MAX_BYTES (1u << 20)
#define KC_AWSINI_MAX_ENTRIES 4096
#define KC_AWSINI_MAX_SECTIONS 1024

struct kc_awsini_entry {
	const char *section; /* normalised: words joined by one space */
	const char *key;     /* lower-case */
	const char *value;   /* trimmed; may be "" */
	int line;
};

struct kc_awsini_section {
	const char *name;
	int line;
};

/* One parsed credentials or config file; everything points into text. */
struct kc_awsini {
	char path[512];
	char *text;
	size_t n, nsec;
	struct kc_awsini_entry *e;
	struct kc_awsini_section *sec;
};

/*
 * Parses text (len bytes, need not be NUL-terminated) read from a file
 * called name.  Returns 0, KC_EPARSE (d: name:line: what), KC_ELIMIT or
 * KC_ENOMEM.  On failure ini is left empty (safe to fini).
 */
int kc_awsini_parse(struct kc_awsini *ini, const char *name, const char *text,
		    size_t len, struct kc_diag *d);

/* Reads and parses path: as parse, plus KC_ENOTFOUND (no such file, d not set) and KC_EIO. */
int kc_awsini_load(struct kc_awsini *ini, const char *path, struct kc_diag *d);

/* Frees what parse/load allocated; ini may be zeroed. */
void kc_awsini_fini(struct kc_awsini *ini);

/* The entry for key in section, or NULL. */
const struct kc_awsini_entry *kc_awsini_get(const struct kc_awsini *ini,
					    const char *section, const char *key);

/* The line of section's header, or 0 when absent. */
int kc_awsini_section_line(const struct kc_awsini *ini, const char *section);

#endif
