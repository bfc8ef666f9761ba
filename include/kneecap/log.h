/*
 * log.h - the library's only way to say something.
 *
 * libkneecap never writes to stdout or stderr; it calls the handler the CLI
 * installs.  With no handler, messages are dropped.  Nothing logged may
 * contain a secret (keys, tokens): log names and lengths, never values.
 * The CLI's handler also passes every message through the secret scrubber
 * (scrub.h), for what servers and helpers said that a message quotes.
 */
#ifndef KNEECAP_LOG_H
#define KNEECAP_LOG_H

enum kc_log_level { KC_LOG_ERROR, KC_LOG_WARN, KC_LOG_INFO, KC_LOG_DEBUG };

typedef void (*kc_log_cb)(enum kc_log_level level, const char *msg, void *ud);

/* Installs the process-wide handler and the most verbose level it gets. */
void kc_log_set_handler(kc_log_cb cb, void *ud, enum kc_log_level max_level);

/* True when a message at level would reach the handler. */
int kc_log_enabled(enum kc_log_level level);

/* Formats and passes one message to the handler; thread-safe. */
void kc_log(enum kc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Returns "error", "warning", "info" or "debug". */
const char *kc_log_level_name(enum kc_log_level level);

#endif
