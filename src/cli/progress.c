/*
 * progress.c - the live progress line of run and find (the engine's
 * kc_progress, about once a second).
 *
 * On a terminal it is one line rewritten in place.  A line wider than the
 * terminal wraps, and "\r\033[K" then clears only the last row of it, which
 * is what left stale copies on screen: so the line is cut to the terminal's
 * width (TIOCGWINSZ, else COLUMNS, else 80), counted in columns, not bytes.
 * Figures nobody has measured yet read "—", never "0.00 ms"; after the step
 * window the line says "draining" while outstanding requests finish.  Not on
 * a terminal: a plain line every 5 s, for logs.
 */
#include "runout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kneecap/clock.h"

#define DASH "\xe2\x80\x94" /* U+2014, one column wide */

/* "12s", "1m05s", "2h03m", rounded up: time left never reads 0 before it is. */
static void human_duration(int64_t ns, char *out, size_t n)
{
	if (ns < 0)
		ns = 0;
	long long s = (long long)((ns + KC_NS_PER_S - 1) / KC_NS_PER_S);
	if (s < 60)
		snprintf(out, n, "%llds", s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(out, n, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
}

/* A latency figure, or "—" when there is none to show. */
static void ms_or_dash(double ms, bool have, char *out, size_t n)
{
	if (!have || !(ms > 0))
		snprintf(out, n, DASH);
	else if (ms < 10)
		snprintf(out, n, "%.2f ms", ms);
	else if (ms < 1000)
		snprintf(out, n, "%.1f ms", ms);
	else
		snprintf(out, n, "%.2f s", ms / 1000);
}

/* Columns of the terminal on fd, else $COLUMNS, else 80. */
static int terminal_columns(int fd)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	if (c) {
		long v = strtol(c, NULL, 10);
		if (v > 0 && v < 10000)
			return (int)v;
	}
	return 80;
}

/* Cuts s to at most cols display columns (UTF-8: continuation bytes take none). */
static void cut_to_columns(char *s, int cols)
{
	int used = 0;
	for (char *p = s; *p; p++) {
		if (((unsigned char)*p & 0xC0) == 0x80)
			continue;
		if (used == cols) {
			*p = '\0';
			return;
		}
		used++;
	}
}

void runout_progress(void *ud, const struct kc_progress *p)
{
	struct runout *r = ud;
	if (r->quiet)
		return;
	/* Anything answered yet, in this interval or the window so far. */
	bool have = p->completed > 0 || p->achieved_rps > 0;
	char ach[32], p50[32], p99[32], when[48], dur[24];
	if (have)
		snprintf(ach, sizeof(ach), "%.*f/s", p->achieved_rps < 10 ? 1 : 0, p->achieved_rps);
	else
		snprintf(ach, sizeof(ach), DASH);
	ms_or_dash(p->p50_ms, have, p50, sizeof(p50));
	ms_or_dash(p->p99_ms, have, p99, sizeof(p99));
	int64_t left_ns = p->total_ns - p->elapsed_ns;
	if (left_ns <= 0) {
		snprintf(when, sizeof(when), "draining");
	} else {
		human_duration(left_ns, dur, sizeof(dur));
		snprintf(when, sizeof(when), "%s left", dur);
	}
	char name[32];
	if (r->label)
		snprintf(name, sizeof(name), "%s", r->label);
	else
		snprintf(name, sizeof(name), "step %d", p->step_index + 1);
	char line[320];
	snprintf(line, sizeof(line),
		 "%s%s  offered %.*f %s  achieved %s  p50 %s  p99 %s  in-flight %llu  errors %llu  %s",
		 name, p->warming_up ? " (warm-up)" : "", p->offered < 10 ? 1 : 0, p->offered, r->unit,
		 ach, p50, p99, (unsigned long long)p->inflight, (unsigned long long)p->errors, when);
	if (r->tty) {
		/* One column spare: a line that fills the last column wraps on some terminals. */
		int cols = terminal_columns(STDERR_FILENO) - 1;
		cut_to_columns(line, cols < 10 ? 10 : cols);
		fprintf(stderr, "\r\033[K%s", line);
		r->line_open = true;
	} else {
		/* Plain lines every 5 s keep CI logs readable. */
		int64_t now = kc_clock_ns();
		if (r->last_plain_ns && now - r->last_plain_ns < 5 * KC_NS_PER_S)
			return;
		r->last_plain_ns = now;
		fprintf(stderr, "kneecap: %s\n", line);
	}
	fflush(stderr);
}

void runout_progress_end(struct runout *r)
{
	/* Cleared, not ended with a newline: a finished step's live line is
	 * replaced by its summary, so at most one progress line is ever on screen. */
	if (r->line_open) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		r->line_open = false;
	}
}
