/*
 * runout.c - progress, interval log, out directory and step table for the
 * commands that drive load.  Printing lives here because only the CLI prints.
 */
#include "runout.h"
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/hdr.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/pool.h"
#include "kneecap/sagemaker.h"
#include "kneecap/search.h"

#include <stdlib.h>

static struct kc_engine *volatile g_engine;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
	(void)sig;
	struct kc_engine *e = g_engine;
	if (e)
		kc_engine_stop(e);
}

void runout_catch_signals(struct kc_engine *e)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	g_engine = e;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
}

void runout_release_signals(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	g_engine = NULL;
}

void runout_init(struct runout *r, const char *cmd, const char *out_dir, bool quiet)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->out_dir = out_dir;
	r->quiet = quiet;
	r->tty = isatty(STDERR_FILENO);
	r->unit = "rps";
}

int runout_make_dir(const char *cmd, const char *dir)
{
	if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
	}
	cli_error("%s: --out '%s': cannot create the directory (%s)", cmd, dir,
		  strerror(errno));
	return -1;
}

int runout_open_hlog(struct runout *r, int64_t start_ms)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/latency.hlog", r->out_dir);
	r->hlog_fp = fopen(path, "w");
	if (!r->hlog_fp) {
		cli_error("%s: %s: cannot write (%s)", r->cmd, path, strerror(errno));
		return -1;
	}
	/* Values are microseconds; the max column in milliseconds. */
	if (kc_hlog_writer_init(&r->hlog, NULL, r->hlog_fp, 1000.0) ||
	    kc_hlog_write_header(&r->hlog, start_ms, start_ms)) {
		cli_error("%s: %s: cannot write the header", r->cmd, path);
		fclose(r->hlog_fp);
		r->hlog_fp = NULL;
		return -1;
	}
	fflush(r->hlog_fp); /* a run killed before its first interval keeps a valid log */
	r->hlog_ok = true;
	return 0;
}

int runout_close_hlog(struct runout *r)
{
	int rc = 0;
	if (r->hlog_ok)
		kc_hlog_writer_fini(&r->hlog);
	if (r->hlog_fp && fclose(r->hlog_fp) != 0)
		rc = -1;
	r->hlog_fp = NULL;
	r->hlog_ok = false;
	if (r->hlog_err)
		rc = -1;
	if (rc)
		cli_error("%s: %s/latency.hlog: write failed", r->cmd, r->out_dir);
	return rc;
}

void runout_progress(void *ud, const struct kc_progress *p)
{
	struct runout *r = ud;
	if (r->quiet)
		return;
	int64_t left_ns = p->total_ns - p->elapsed_ns;
	if (left_ns < 0)
		left_ns = 0;
	char eta[32];
	kc_format_duration(left_ns / KC_NS_PER_S * KC_NS_PER_S, eta, sizeof(eta));
	char line[256];
	snprintf(line, sizeof(line),
		 "step %d%s  offered %.0f %s  achieved %.0f/s  p50 %.2f ms  p99 %.2f ms  "
		 "in-flight %llu  errors %llu  step left %s",
		 p->step_index + 1, p->warming_up ? " (warm-up)" : "", p->offered, r->unit,
		 p->achieved_rps, p->p50_ms, p->p99_ms, (unsigned long long)p->inflight,
		 (unsigned long long)p->errors, eta);
	if (r->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		r->line_open = true;
	} else {
		/* Plain lines every 5 s keep CI logs readable. */
		int64_t now = kc_clock_ns();
		if (now - r->last_plain_ns < 5 * KC_NS_PER_S)
			return;
		r->last_plain_ns = now;
		fprintf(stderr, "kneecap: %s\n", line);
	}
	fflush(stderr);
}

void runout_interval(void *ud, int step_index, const struct kc_hdr *h)
{
	struct runout *r = ud;
	(void)step_index;
	if (!r->hlog_ok || r->hlog_err)
		return;
	/* Seconds that completed nothing (warm-up, a stalled server) add nothing. */
	if (kc_hdr_total_count(h) == 0)
		return;
	r->hlog_err = kc_hlog_write_interval(&r->hlog, h);
	/* Flushed every interval, so even SIGKILL loses at most about a second. */
	if (!r->hlog_err && r->hlog_fp)
		fflush(r->hlog_fp);
}

void runout_progress_end(struct runout *r)
{
	if (r->line_open) {
		fputc('\n', stderr);
		r->line_open = false;
	}
}

void runout_print_table(FILE *f, const struct kc_step_result *s, size_t n,
			const char *unit)
{
	fprintf(f, "%4s %10s %10s %9s %9s %9s %9s %9s %9s %8s %8s %8s\n", "step",
		unit, "achieved", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
		"svc p99", "errors", "inflight", "lag p99");
	for (size_t i = 0; i < n; i++) {
		const struct kc_step_result *r = &s[i];
		fprintf(f, "%4d %10.1f %10.1f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu %8u %8.2f%s%s\n",
			r->index + 1, r->offered, r->achieved, r->latency.p50, r->latency.p90,
			r->latency.p99, r->latency.p999, r->latency.max, r->service.p99,
			(unsigned long long)r->errors, r->inflight_max, r->lag_p99_ms,
			r->generator_bound ? "  generator-bound" : "", r->partial ? "  partial" : "");
		if (r->response_stream)
			fprintf(f, "     stream: first part p50 %.2f p90 %.2f p99 %.2f max %.2f ms;"
				   " part gap p50 %.2f p90 %.2f p99 %.2f max %.2f ms; %llu parts\n",
				r->ttfp.p50, r->ttfp.p90, r->ttfp.p99, r->ttfp.max, r->part_gap.p50,
				r->part_gap.p90, r->part_gap.p99, r->part_gap.max,
				(unsigned long long)r->parts);
		if (r->errors) {
			fprintf(f, "     errors:");
			for (int k = 0; k < KC_EC_COUNT; k++)
				if (r->errclass[k])
					fprintf(f, " %s=%llu", kc_errclass_name((enum kc_errclass)k),
						(unsigned long long)r->errclass[k]);
			for (int k = 0; k < r->ncodes; k++)
				fprintf(f, " http%d=%llu", r->codes[k].code,
					(unsigned long long)r->codes[k].count);
			fputc('\n', f);
		}
	}
}

void runout_print_search_table(FILE *f, const struct kc_step_result *s, size_t n,
			       const struct kc_search *srch)
{
	fprintf(f, "%4s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s %8s  %s\n", "step", "offered",
		"arrived", "achieved", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "svc p99",
		"errors", "inflight", "lag p99", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct kc_step_result *r = &s[i];
		const struct kc_search_step *ss = kc_search_step(srch, (int)i);
		double arrived = kc_step_arrived(r);
		char note[48] = "";
		if (ss && ss->attempt > 0)
			snprintf(note, sizeof(note), " (re-measure %d)", ss->attempt);
		if (ss && ss->v.valid && !ss->v.stable)
			snprintf(note + strlen(note), sizeof(note) - strlen(note), " (ambiguous)");
		fprintf(f, "%4d %9.1f %9.*f %9.*f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu %8u %8.2f  %s%s\n",
			r->index + 1, r->offered, kc_rate_decimals(arrived), kc_rate_figure(arrived),
			kc_rate_decimals(r->achieved), kc_rate_figure(r->achieved), r->latency.p50,
			r->latency.p99, r->latency.p999, r->latency.max, r->service.p99,
			(unsigned long long)r->errors, r->inflight_max, r->lag_p99_ms,
			ss ? kc_verdict_name(ss->v.verdict) : "-", note);
		if (r->response_stream)
			fprintf(f, "     stream: first part p50 %.2f p90 %.2f p99 %.2f max %.2f ms;"
				   " part gap p50 %.2f p90 %.2f p99 %.2f max %.2f ms; %llu parts\n",
				r->ttfp.p50, r->ttfp.p90, r->ttfp.p99, r->ttfp.max, r->part_gap.p50,
				r->part_gap.p90, r->part_gap.p99, r->part_gap.max,
				(unsigned long long)r->parts);
		if (r->errors) {
			fprintf(f, "     errors:");
			for (int k = 0; k < KC_EC_COUNT; k++)
				if (r->errclass[k])
					fprintf(f, " %s=%llu", kc_errclass_name((enum kc_errclass)k),
						(unsigned long long)r->errclass[k]);
			for (int k = 0; k < r->ncodes; k++)
				fprintf(f, " http%d=%llu", r->codes[k].code,
					(unsigned long long)r->codes[k].count);
			fputc('\n', f);
		}
	}
	fprintf(f, "offered: the rate asked; arrived: the arrivals the schedule actually sent per "
		   "second (Poisson counts vary). healthy: achieved >= %.0f%% of arrived, no in-flight "
		   "growth, errors under the limit.\n", 100.0 * srch->cfg.health.min_achieved_ratio);
}

int runout_write(const struct runout *r, const char *name, const void *p, size_t n,
		 bool executable)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", r->out_dir, name);
	if (kc_write_file(path, p, n)) {
		cli_error("%s: %s: cannot write (%s)", r->cmd, path, strerror(errno));
		return -1;
	}
	if (executable && chmod(path, 0755) != 0) {
		cli_error("%s: %s: cannot make it executable", r->cmd, path);
		return -1;
	}
	return 0;
}

bool runout_all_connect_errors(const struct kc_step_result *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].completed > 0 || s[i].errclass[KC_EC_CONNECT] < s[i].errors)
			return false;
	return n > 0;
}

int runout_pool_bodies(const struct kc_pool *pool, const char *content_type,
		       struct kc_body **bodies, size_t *n)
{
	size_t count = pool ? kc_pool_count(pool) : 0;
	*bodies = NULL;
	*n = 0;
	if (!count)
		return KC_OK;
	struct kc_body *b = calloc(count, sizeof(*b));
	if (!b)
		return KC_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const struct kc_payload *p = kc_pool_get(pool, i);
		b[i] = (struct kc_body){.data = p->bytes, .len = p->len_bytes,
					.content_type = content_type ? content_type : p->content_type,
					.sha256_hex = p->sha256_hex};
	}
	*bodies = b;
	*n = count;
	return KC_OK;
}

void runout_sagemaker_hints(const char *cmd, const struct kc_step_result *s, size_t n)
{
	static const struct {
		enum kc_errclass step;
		enum kc_sm_errclass sm;
	} kinds[] = {
		{KC_EC_AUTH, KC_SM_ERR_AUTH},
		{KC_EC_THROTTLE, KC_SM_ERR_THROTTLE},
		{KC_EC_MODEL, KC_SM_ERR_MODEL},
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint64_t count = 0;
		for (size_t i = 0; i < n; i++)
			count += s[i].errclass[kinds[k].step];
		const char *hint = kc_sagemaker_errclass_hint(kinds[k].sm);
		if (count && hint)
			fprintf(stderr, "kneecap: %s: %llu %s errors: %s\n", cmd,
				(unsigned long long)count, kc_errclass_name(kinds[k].step), hint);
	}
}

int runout_probe(struct kc_engine *e, const char *cmd)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	int status = 0;
	int rc = kc_engine_probe(e, &status, &d);
	if (rc) {
		/* Could not connect, handshake or hear back: unreachable; else bad input. */
		cli_diag_error(cmd, &d);
		return rc == KC_ECONNECT || rc == KC_ETLS || rc == KC_ETIMEOUT ? KC_EXIT_UNREACHABLE
									: KC_EXIT_USAGE;
	}
	if (status >= 400)
		kc_log(KC_LOG_WARN, "the target answered %d to a first request", status);
	return 0;
}
