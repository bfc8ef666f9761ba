/*
 * scenario.h - scenario files (INI, read with inih) as a table of
 * section/key/value entries that remember their line.
 *
 * Each layer pulls the keys it owns with the typed getters, which validate
 * and report "file:line: key: problem" on failure.  When every owner has
 * pulled its keys, kc_scenario_check_unused() turns anything left over (a
 * typo'd key, an unknown section) into an error naming its file and line.
 */
#ifndef KNEECAP_SCENARIO_H
#define KNEECAP_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc_diag;
struct kc_scenario;

struct kc_scenario_entry {
	const char *section;
	const char *key;
	const char *value;
	int line;
	bool used;
};

/*
 * Reads and parses path.  Returns 0, KC_ENOTFOUND / KC_EIO (file), KC_EPARSE
 * (syntax, duplicate key; d names the line).  *out untouched on failure.
 */
int kc_scenario_load(struct kc_scenario **out, const char *path,
		     struct kc_diag *d);

/* As kc_scenario_load, from text in memory; name stands for the file in messages. */
int kc_scenario_parse(struct kc_scenario **out, const char *name,
		      const char *text, struct kc_diag *d);

/* An empty scenario (no file), to hold command-line settings. */
int kc_scenario_new_empty(struct kc_scenario **out, const char *name);

/*
 * Sets section.key to value, replacing a value from the file: how a flag
 * overrides a scenario key.  The entry then reports line 0 and origin
 * "command line" in messages.  Returns 0, KC_ELIMIT or KC_ENOMEM.
 */
int kc_scenario_set(struct kc_scenario *sc, const char *section,
		    const char *key, const char *value);

/* Frees sc; sc may be NULL. */
void kc_scenario_free(struct kc_scenario *sc);

/* The file name messages use. */
const char *kc_scenario_name(const struct kc_scenario *sc);

/* Number of entries, and entry i in file order (for sections with free-form keys). */
size_t kc_scenario_count(const struct kc_scenario *sc);
struct kc_scenario_entry *kc_scenario_entry(struct kc_scenario *sc, size_t i);

/* True when the file has a section of that name (even if empty). */
bool kc_scenario_has_section(const struct kc_scenario *sc, const char *section);

/* Finds an entry and marks it used; NULL when absent. */
struct kc_scenario_entry *kc_scenario_find(struct kc_scenario *sc,
					   const char *section, const char *key);

/*
 * Typed getters.  All return KC_ENOTFOUND (no diagnostic, *out untouched)
 * when the key is absent, 0 when found and valid, and KC_EINVAL with d set to
 * "file:line: key: ..." when the value is malformed or outside [lo, hi].
 * sc may be NULL (then every key is absent).
 */
int kc_scenario_get_str(struct kc_scenario *sc, const char *section,
			const char *key, const char **out, struct kc_diag *d);
int kc_scenario_get_i64(struct kc_scenario *sc, const char *section,
			const char *key, int64_t lo, int64_t hi, int64_t *out,
			struct kc_diag *d);
int kc_scenario_get_double(struct kc_scenario *sc, const char *section,
			   const char *key, double lo, double hi, double *out,
			   struct kc_diag *d);
/* Durations need a unit ("35ms", "2s"; a bare 0 is allowed): a bare number is
 * an error naming file, line and key.  unit_ns is kept for callers but unused. */
int kc_scenario_get_duration_ns(struct kc_scenario *sc, const char *section,
				const char *key, int64_t unit_ns, int64_t lo,
				int64_t hi, int64_t *out, struct kc_diag *d);
int kc_scenario_get_bool(struct kc_scenario *sc, const char *section,
			 const char *key, bool *out, struct kc_diag *d);
/* One of the NULL-terminated choices; *out is its index. */
int kc_scenario_get_enum(struct kc_scenario *sc, const char *section,
			 const char *key, const char *const *choices, int *out,
			 struct kc_diag *d);

/*
 * Fails with KC_EINVAL naming the first entry nobody asked for ("unknown key
 * 'rtae' in [search]").  Returns 0 when every entry was used.
 */
int kc_scenario_check_unused(const struct kc_scenario *sc, struct kc_diag *d);

#endif
