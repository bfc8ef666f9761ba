/*
 * log.c - routes library messages to the handler the CLI installed.
 * The handler and level are set once before threads start, so reads need
 * no lock; the handler itself must be thread-safe.
 */
#include "kneecap/log.h"

#include <stdarg.h>
#include <stdio.h>

static kc_log_cb handler;
static void *handler_ud;
static enum kc_log_level max_enabled = KC_LOG_WARN;

void kc_log_set_handler(kc_log_cb cb, void *ud, enum kc_log_level max_level)
{
	handler = cb;
	handler_ud = ud;
	max_enabled = max_level;
}

int kc_log_enabled(enum kc_log_level level)
{
	return handler && level <= max_enabled;
}

void kc_log(enum kc_log_level level, const char *fmt, ...)
{
	if (!kc_log_enabled(level))
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	handler(level, msg, handler_ud);
}

const char *kc_log_level_name(enum kc_log_level level)
{
	switch (level) {
	case KC_LOG_ERROR: return "error";
	case KC_LOG_WARN: return "warning";
	case KC_LOG_INFO: return "info";
	case KC_LOG_DEBUG: return "debug";
	}
	return "?";
}
