/*
 * cli.h - what the subcommand files share: exit codes, error printing and
 * the log handler.  The CLI is the only layer that prints or exits.
 */
#ifndef KNEECAP_CLI_H
#define KNEECAP_CLI_H

#include "kneecap/err.h"

/* Exit status contract (DESIGN.md "Commands"). */
enum {
	KC_EXIT_OK = 0,          /* ok */
	KC_EXIT_THRESHOLD = 1,   /* the run completed but a threshold failed */
	KC_EXIT_USAGE = 2,       /* bad usage or input */
	KC_EXIT_UNREACHABLE = 3, /* the target could not be reached at all */
	KC_EXIT_WRITE = 4,       /* results could not be written */
	KC_EXIT_INTERNAL = 5,    /* the generator itself failed (threads, memory) */
	KC_EXIT_SIGINT = 130,    /* interrupted by SIGINT (128 + 2): partial results */
	KC_EXIT_SIGTERM = 143,   /* interrupted by SIGTERM (128 + 15): partial results */
};

/* Prints "kneecap: <msg>" on one line to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a diagnostic as "kneecap: [prefix: ]file:line: key: msg". */
void cli_diag_error(const char *prefix, const struct kc_diag *d);

/* Installs the stderr log handler; verbosity 0 = warnings, 1 = info, 2+ = debug. */
void cli_log_init(int verbosity, int quiet);

/* True when s is "-h" or "--help". */
int cli_is_help(const char *s);

/* The errno of the last failed write to stdout (EIO when none was seen). */
int cli_stdout_errno(void);

/* The subcommands: each returns an exit status. */
int kc_cmd_find(int argc, char **argv);
int kc_cmd_run(int argc, char **argv);
int kc_cmd_streams(int argc, char **argv);
int kc_cmd_plan(int argc, char **argv);
int kc_cmd_report(int argc, char **argv);
int kc_cmd_serve(int argc, char **argv);
int kc_cmd_payload(int argc, char **argv);
int kc_cmd_merge(int argc, char **argv);
int kc_cmd_pools(int argc, char **argv);

#endif
