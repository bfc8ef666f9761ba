/*
 * runout.c - progress, interval log, out directory and step table for the
 * commands that drive load.  Printing lives here because only the CLI prints.
 */
#include "runout.h"
#include "cli.h"
#include "kc_config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "kneecap/buf.h"
#include "kneecap/clock.h"
#include "kneecap/hdr.h"
#include "kneecap/log.h"
#include "kneecap/parse.h"
#include "kneecap/pool.h"
#include "kneecap/policy.h"
#include "kneecap/recommend.h"
#include "kneecap/result.h"
#include "kneecap/verdict.h"
#include "kneecap/sagemaker.h"
#include "kneecap/search.h"

#include <stdlib.h>

static void (*volatile g_stop)(void *);
static void *volatile g_stop_ud;
static volatile sig_atomic_t g_signal;
static struct sigaction old_int, old_term;
static bool g_installed;

static void on_signal(int sig)
{
	if (!g_signal)
		g_signal = sig;
	void (*stop)(void *) = g_stop;
	if (stop)
		stop(g_stop_ud);
}

void runout_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESETHAND: `timeout` and process managers send a signal to the
	 * process and again to its group, and the second must not kill the
	 * writing of what the first asked for.  SIGKILL remains for a hard stop. */
	sigemptyset(&sa.sa_mask);
	/* A second signal must not cut a blocking write of the results short. */
	sa.sa_flags = SA_RESTART;
	g_signal = 0;
	g_stop = NULL;
	g_stop_ud = NULL;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	g_installed = true;
}

void runout_set_stop(void (*stop)(void *ud), void *ud)
{
	g_stop = NULL;
	g_stop_ud = ud;
	g_stop = stop;
	/* A signal that came before there was anything to stop still stops it. */
	if (g_signal && stop)
		stop(ud);
}

void runout_release_signals(void)
{
	if (!g_installed)
		return;
	g_stop = NULL;
	g_stop_ud = NULL;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	g_installed = false;
}

int runout_caught_signal(void)
{
	return (int)g_signal;
}

const char *runout_signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig ? "signal" : NULL;
}

void runout_stop_engine(void *engine)
{
	kc_engine_stop(engine);
}

void runout_init(struct runout *r, const char *cmd, struct outdir *out, bool quiet)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->out = out;
	r->quiet = quiet;
	r->tty = isatty(STDERR_FILENO);
	r->unit = "rps";
}

void runout_env_detect(struct kc_result_env *env)
{
	memset(env, 0, sizeof(*env));
	kc_result_env_detect(env);
	env->kneecap_version = KC_VERSION;
	env->libcurl_version = kc_engine_libcurl_version();
	env->started_wall_ms = kc_wall_ns() / KC_NS_PER_MS;
}

int runout_exit_status(const struct outdir *out, int sig, int status)
{
	if (out && outdir_failed(out))
		return KC_EXIT_WRITE;
	if (sig == SIGINT)
		return KC_EXIT_SIGINT;
	if (sig)
		return KC_EXIT_SIGTERM;
	return status;
}

/* runout_progress and runout_progress_end are in progress.c. */

void runout_interval(void *ud, int step_index, const struct kc_hdr *h)
{
	struct runout *r = ud;
	(void)step_index;
	if (!r->out)
		return;
	/* Seconds that completed nothing (warm-up, a stalled server) add nothing. */
	if (kc_hdr_total_count(h) == 0)
		return;
	/* A log with a hole is no record: the run ends with what it measured. */
	if (outdir_hlog_interval(r->out, h) != 0 && r->engine)
		kc_engine_stop(r->engine);
}

/* The lines under a step's row in both tables: stream timings, errors by class. */
static void print_step_details(FILE *f, const struct kc_step_result *r)
{
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

void runout_print_table(FILE *f, const struct kc_step_result *s, size_t n,
			const char *unit)
{
	fprintf(f, "%4s %10s %10s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s\n", "step",
		unit, "achieved", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
		"svc p99", "errors", "unfinish", "inflight", "lag p99");
	for (size_t i = 0; i < n; i++) {
		const struct kc_step_result *r = &s[i];
		fprintf(f, "%4d %10.1f %10.1f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu %8llu %8u %8.2f%s%s\n",
			r->index + 1, r->offered, r->achieved, r->latency.p50, r->latency.p90,
			r->latency.p99, r->latency.p999, r->latency.max, r->service.p99,
			(unsigned long long)r->errors, (unsigned long long)r->unfinished,
			r->inflight_max, r->lag_p99_ms,
			r->generator_bound ? "  generator-bound" : "", r->partial ? "  partial" : "");
		print_step_details(f, r);
	}
}

void runout_print_search_table(FILE *f, const struct kc_step_result *s, size_t n,
			       const struct kc_search *srch)
{
	fprintf(f, "%4s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s  %s\n", "step", "offered",
		"arrived", "achieved", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "svc p99",
		"errors", "unfinish", "inflight", "lag p99", "verdict");
	for (size_t i = 0; i < n; i++) {
		const struct kc_step_result *r = &s[i];
		const struct kc_search_step *ss = kc_search_step(srch, (int)i);
		double arrived = kc_step_arrived(r);
		char note[48] = "";
		if (ss && ss->attempt > 0)
			snprintf(note, sizeof(note), " (re-measure %d)", ss->attempt);
		if (ss && ss->v.valid && !ss->v.stable)
			snprintf(note + strlen(note), sizeof(note) - strlen(note), " (ambiguous)");
		fprintf(f, "%4d %9.1f %9.*f %9.*f %9.2f %9.2f %9.2f %9.2f %9.2f %8llu %8llu %8u %8.2f  %s%s\n",
			r->index + 1, r->offered, kc_rate_decimals(arrived), kc_rate_figure(arrived),
			kc_rate_decimals(r->achieved), kc_rate_figure(r->achieved), r->latency.p50,
			r->latency.p99, r->latency.p999, r->latency.max, r->service.p99,
			(unsigned long long)r->errors, (unsigned long long)r->unfinished,
			r->inflight_max, r->lag_p99_ms,
			ss ? kc_verdict_name(ss->v.verdict) : "-", note);
		print_step_details(f, r);
	}
	fprintf(f, "offered: the rate asked; arrived: the arrivals the schedule actually sent per "
		   "second (the count the rate asks for, but a step ended early). healthy: "
		   "achieved >= %.0f%% of arrived, no in-flight growth, errors under the limit.\n",
		   100.0 * srch->cfg.health.min_achieved_ratio);
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
	/* The probe can take seconds against a slow target: say so first. */
	if (kc_log_enabled(KC_LOG_WARN)) {
		char lim[32];
		kc_format_duration(kc_engine_probe_limit_ns(e), lim, sizeof(lim));
		fprintf(stderr, "kneecap: %s: probing %s (up to %s)\n", cmd, kc_engine_host(e), lim);
	}
	/* Ctrl-C during the probe stops it (KC_EINTR) and is the answer: the
	 * caller goes on to write partial results and exit 130/143. */
	runout_set_stop(runout_stop_engine, e);
	int rc = kc_engine_probe(e, &status, &d);
	runout_set_stop(NULL, NULL);
	if (runout_caught_signal())
		return 0;
	if (rc) {
		/* Could not connect, handshake or hear back: unreachable; else bad input. */
		cli_diag_error(cmd, &d);
		return rc == KC_ECONNECT || rc == KC_ETLS || rc == KC_ETIMEOUT ? KC_EXIT_UNREACHABLE
									: KC_EXIT_USAGE;
	}
	/* Not a warning: a model that takes seconds per request is normal. */
	if (status == 0 && d.msg[0] && kc_log_enabled(KC_LOG_WARN))
		fprintf(stderr, "kneecap: %s: %s; starting the run\n", cmd, d.msg);
	if (status >= 400)
		kc_log(KC_LOG_WARN, "the target answered %d to a first request", status);
	return 0;
}

json_t *runout_knee_json(const struct kc_knee *k, const struct kc_knee_check *chk, int instances,
			 bool cut_short)
{
	json_t *o = kc_knee_to_json(k, chk, instances);
	if (!o || !cut_short || !k->found)
		return o;
	/* A search cut short has not shown where the knee is: what it saw
	 * healthy is a lower bound, kept apart so no reader takes it for one. */
	json_t *v = json_object_get(o, "value"), *pi = json_object_get(o, "per_instance");
	if (json_object_set(o, "healthy_up_to", v) ||
	    json_object_set(o, "healthy_up_to_per_instance", pi) ||
	    json_object_set_new(o, "found", json_false()) ||
	    json_object_set_new(o, "lower_bound", json_true())) {
		json_decref(o);
		return NULL;
	}
	json_object_del(o, "value");
	json_object_del(o, "per_instance");
	return o;
}
