/*
 * parse.h - strict parsers for the values users type: numbers, durations,
 * sizes, rates.  Each consumes the whole string or fails; none prints.
 */
#ifndef KNEECAP_PARSE_H
#define KNEECAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a decimal integer in [lo, hi]. Returns 0, KC_EPARSE or KC_ERANGE. */
int kc_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Parses a finite double in [lo, hi]. Returns 0, KC_EPARSE or KC_ERANGE. */
int kc_parse_double(const char *s, double lo, double hi, double *out);

/*
 * Parses a duration into nanoseconds: a number with a unit ns, us, ms, s, m
 * or h ("250ms", "1.5s", "2m"); a bare number means unit_ns units.
 * Returns 0, KC_EPARSE or KC_ERANGE (negative or beyond ~292 years).
 */
int kc_parse_duration_ns(const char *s, int64_t unit_ns, int64_t *out);

/* Parses a byte size: a number with optional k/K, m/M, g/G (powers of 1024). */
int kc_parse_size(const char *s, uint64_t *out);

/* Parses true/false, yes/no, on/off, 1/0. Returns 0 or KC_EPARSE. */
int kc_parse_bool(const char *s, bool *out);

/*
 * True when s is a name as AWS spells resource names (endpoints, variants,
 * inference components, profiles of the emulator): ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$
 * in 1..max characters, ASCII only whatever the locale.  The one copy of
 * the rule: sagemaker.h, the emulator and analysis use it.
 */
bool kc_name_ok(const char *s, size_t max);

/* Formats a duration in the most readable unit ("35ms", "2.5s"). */
char *kc_format_duration(int64_t ns, char *out, size_t outsz);

#endif
