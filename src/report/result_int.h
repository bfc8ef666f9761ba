/*
 * result_int.h - result.json and steps.csv written straight to a file
 * (json.c, csv.c): the tests' way in.  Not part of the public API.
 */
#ifndef KNEECAP_REPORT_RESULT_INT_H
#define KNEECAP_REPORT_RESULT_INT_H

#include "kneecap/result.h"

/*
 * Writes result.json to path (atomically, indented, trailing newline).
 * Returns 0, KC_ENOMEM or KC_EIO (d names the path and the OS reason).
 */
int kc_result_write_json(const struct kc_result *r, const char *path, struct kc_diag *d);

/* Writes steps.csv to path atomically. Returns 0, KC_ENOMEM, KC_ELIMIT or KC_EIO
 * (d names the path and the OS reason). */
int kc_result_write_csv(const struct kc_result *r, const char *path, struct kc_diag *d);

#endif
