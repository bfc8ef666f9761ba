/*
 * cmd_serve.c - `kneecap serve`: run the SageMaker endpoint emulator with a
 * known capacity until SIGINT or SIGTERM.
 *
 * Profile = defaults, then the scenario's [emulator] section, then flags
 * (every [emulator] key is a flag: service_time -> --service-time).  The
 * file is checked exactly as `kneecap find` checks it (scenario_find.c):
 * serve is find's default target and takes the same files, so a section or
 * key find rejects (a misspelled [emulatr]) is rejected here too, with the
 * same message, instead of being silently ignored.
 */
#include "cli.h"
#include "cli_price.h"
#include "scenario_find.h"

#include "kneecap/emulator.h"
#include "kneecap/err.h"
#include "kneecap/scenario.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

static const char usage_text[] =
	"usage: kneecap serve [SCENARIO.ini] [--listen ADDR] [options]\n"
	"\n"
	"Run the SageMaker endpoint emulator with a known capacity:\n"
	"  POST /endpoints/NAME/invocations, POST /endpoints/NAME/invocations-response-stream,\n"
	"  GET /ping, GET /emulator/stats.\n"
	"Nominal capacity = instances x slots / service time; the queue grows\n"
	"exactly when the offered load passes it.  Runs until SIGINT/SIGTERM.\n"
	"\n"
	"options:\n"
	"  --listen ADDR              HOST:PORT or [V6]:PORT (default 127.0.0.1:8080;\n"
	"                             port 0 picks a free one)\n"
	"  -v, --verbose              more log output;  -q, --quiet  errors only\n"
	"\n"
	"profile (each is also an [emulator] key, with _ for -):\n"
	"  --endpoint-name NAME       accept only this endpoint name (default: any)\n"
	"  --variant NAME             x-Amzn-Invoked-Production-Variant (AllTraffic)\n"
	"  --instances N              instances behind the endpoint, round-robin (1)\n"
	"  --slots N                  concurrent accelerator slots per instance (2)\n"
	"  --service-time DUR         mean accelerator time per request (40ms)\n"
	"  --service-dist D           fixed | lognormal (fixed)\n"
	"  --service-cv X             coefficient of variation, lognormal (0)\n"
	"  --timeout DUR              invocation timeout -> 424 ModelError (60s)\n"
	"  --queue-limit N            waiting requests per instance, 0 = none (0)\n"
	"  --queue-full-error E       ServiceUnavailable | ThrottlingException |\n"
	"                             ModelNotReadyException (ServiceUnavailable)\n"
	"  --input I                  jpeg | any (jpeg: non-JPEG bodies -> 424)\n"
	"  --cpu-decode M             full | scaled | header | off (full)\n"
	"  --threads N                HTTP worker threads, the instance's vCPUs (4);\n"
	"                             as many HTTP/2 loop threads\n"
	"  --max-connections N        HTTP/1.1 connections (1024); max(16, N/8) more\n"
	"                             are kept for other client addresses and\n"
	"                             GET /ping\n"
	"  --max-connections-per-client N  cap per client address, at most\n"
	"                             max_connections; more are closed at accept\n"
	"                             (0: max(64, max_connections/4), so 256)\n"
	"  --header-timeout DUR       HTTP/1.1: close a connection whose request\n"
	"                             headers are not all in by then, from the\n"
	"                             connection or, kept alive, from the next\n"
	"                             request's first byte (10s)\n"
	"  --keepalive-timeout DUR    HTTP/1.1: close a kept-alive connection that\n"
	"                             sends nothing this long after an answer (60s)\n"
	"  --body-timeout DUR         HTTP/1.1: close a connection whose request body\n"
	"                             sends nothing this long (30s)\n"
	"  --max-body SIZE            larger bodies -> 413 (6M, SageMaker's limit), a\n"
	"                             chunked one as soon as it passes SIZE\n"
	"  --seed N                   RNG seed for service times and faults (1)\n"
	"  --stream-parts N           response stream: PayloadParts per answer, 1-100 (4)\n"
	"  --stream-part-gap DUR      ... the first when the model is done, then one\n"
	"                             every DUR (10ms)\n"
	"hosting (instead of --instances/--slots):\n"
	"  --components LIST          inference components NAME:COPIESxSLOTS[@DUR],...;\n"
	"                             requests name one in X-Amzn-SageMaker-Inference-\n"
	"                             Component (else 400 ValidationError)\n"
	"  --serverless-max-concurrency N  serverless: N units of one request each;\n"
	"                             the N+1st concurrent request -> 400 Throttling\n"
	"  --serverless-memory MB     1024..6144 in 1024 steps (2048; reported)\n"
	"  --serverless-cold-start DUR  a request finding no warm unit waits this (2s)\n"
	"  --serverless-idle DUR      a unit idle this long goes cold (300s)\n"
	"  --serverless-provisioned N  units always warm (provisioned concurrency, 0)\n"
	"faults:\n"
	"  --fault-error S:P[,S:P]    answer status S with probability P\n"
	"                             (400 429 503 530 at once; 424 500 after service)\n"
	"  --fault-reset P            drop the connection with an RST\n"
	"  --fault-reset-mid P        send the headers and half the body, then RST\n"
	"  --fault-stall DUR          freeze invocation answers this long ...\n"
	"  --fault-stall-every DUR    ... every this often ...\n"
	"  --fault-stall-at DUR       ... first at this offset from start\n"
	"  --fault-slow P             trickle the answer body, ...\n"
	"  --fault-slow-chunk N       ... N bytes (16) ...\n"
	"  --fault-slow-interval DUR  ... every DUR (100ms)\n"
	"  --fault-close-after N      after N invocations the server dies\n"
	"  --fault-stream-error P     response stream: a ModelStreamError event after\n"
	"                             half the parts ends the stream\n"
	"  --verify-sigv4 AKID:SECRET verify SigV4 (service sagemaker); bad -> 403\n"
	"  --sigv4-region R           the region requests must be signed for (us-east-1)\n"
	"HTTP/2 (same paths, same model and queue as HTTP/1.1):\n"
	"  --h2-listen ADDR           also answer HTTP/2 on HOST:PORT (default: off)\n"
	"  --h2-mode M                h2c (prior knowledge) | tls (ALPN h2, self-signed\n"
	"                             certificate made at start) (h2c)\n"
	"  --h2-cert-out PATH         tls: write the certificate's PEM here for clients\n"
	"  --h2-max-concurrent N      SETTINGS_MAX_CONCURRENT_STREAMS per connection,\n"
	"                             at most h2_max_streams / threads (256)\n"
	"  --h2-max-streams N         open streams over all connections; more are\n"
	"                             refused with RST_STREAM (4096)\n"
	"  --h2-idle-timeout D        close a connection silent this long; reset a\n"
	"                             stream whose request takes longer (300s)\n"
	"  --h2-handshake-timeout D   close a connection without its preface by then\n"
	"                             (10s)\n"
	"  --h2-body-memory SIZE      request bodies stored at once over HTTP/2; past\n"
	"                             it 503 ServiceUnavailable (1G)\n"
	"Defaults are in parentheses.  Durations need a unit (40ms, 60s).\n"
	"\n"
	"Examples:\n"
	"  kneecap serve scenarios/g5-xlarge-image-tagger.ini --listen 127.0.0.1:8080\n"
	"  kneecap serve --service-time 20ms --slots 4 --h2-listen 127.0.0.1:8443\n";

static void print_summary(struct kc_emu *e)
{
	struct kc_emu_stats s;
	kc_emu_stats(e, &s);
	int64_t errs = 0;
	for (int i = 0; i < KC_EMU_ERRC_COUNT; i++)
		errs += s.errors[i];
	fprintf(stderr,
		"kneecap: serve: %lld received, %lld served, %lld errors, "
		"mean latency %.2f ms (wait %.2f ms, service %.2f ms), max queue %lld\n",
		(long long)s.received, (long long)s.served, (long long)errs,
		s.latency_ms_mean, s.wait_ms_mean, s.service_ms_mean,
		(long long)s.queue_depth_max);
}

/* The host a client on this machine connects to for listen address addr. */
static void connect_host(const char *addr, char *host, size_t hostsz)
{
	const char *colon = strrchr(addr, ':');
	snprintf(host, hostsz, "%.*s", colon ? (int)(colon - addr) : 0, addr);
	if (!strcmp(host, "0.0.0.0") || !host[0])
		snprintf(host, hostsz, "127.0.0.1");
	else if (!strcmp(host, "[::]"))
		snprintf(host, hostsz, "[::1]");
}

struct serve_opts {
	struct kc_emu_profile prof;
	const char *listen;
	int verbose, quiet;
};

/* The scenario (first pass, so flags override it).  Returns an exit status
 * or -1 to go on. */
static int load_scenario(int argc, char **argv, struct serve_opts *o)
{
	const char *scenario = NULL;
	struct kc_diag d;
	kc_diag_clear(&d);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(usage_text, stdout);
			return KC_EXIT_OK;
		}
		if (a[0] == '-' && a[1] == '-' && !strchr(a, '=') && strcmp(a, "--verbose") &&
		    strcmp(a, "--quiet")) {
			i++; /* skip the value */
			continue;
		}
		if (a[0] == '-')
			continue;
		if (scenario) {
			cli_error("serve: one scenario file at most ('%s' and '%s')", scenario, a);
			return KC_EXIT_USAGE;
		}
		scenario = a;
	}
	if (!scenario)
		return -1;
	struct kc_scenario *sc = NULL;
	if (kc_scenario_load(&sc, scenario, &d)) {
		cli_diag_error("serve", &d);
		return KC_EXIT_USAGE;
	}
	int rc = cli_scenario_check_as_find(sc, &d);
	if (!rc)
		rc = kc_emu_profile_from_scenario(sc, &o->prof, &d);
	kc_scenario_free(sc);
	if (rc) {
		cli_diag_error("serve", &d);
		return KC_EXIT_USAGE;
	}
	return -1;
}

/* The flags (second pass).  Returns an exit status or -1 to go on. */
static int parse_flags(int argc, char **argv, struct serve_opts *o)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose++;
			continue;
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			o->quiet = 1;
			continue;
		}
		if (a[0] != '-')
			continue; /* the scenario */
		if (strncmp(a, "--", 2) != 0) {
			cli_error("serve: unknown option '%s' (see kneecap serve --help)", a);
			return KC_EXIT_USAGE;
		}
		char key[64];
		const char *val;
		const char *eq = strchr(a, '=');
		if (eq) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a - 2), a + 2);
			val = eq + 1;
		} else {
			snprintf(key, sizeof(key), "%s", a + 2);
			if (i + 1 >= argc) {
				cli_error("serve: %s needs a value", a);
				return KC_EXIT_USAGE;
			}
			val = argv[++i];
		}
		if (!strcmp(key, "listen")) {
			o->listen = val;
			continue;
		}
		int rc = kc_emu_profile_set(&o->prof, key, val, &d);
		if (rc == KC_ENOTFOUND) {
			cli_error("serve: unknown option '--%s' (see kneecap serve --help)", key);
			return KC_EXIT_USAGE;
		}
		if (rc) {
			cli_error("serve: --%s: %s", key, d.msg);
			return KC_EXIT_USAGE;
		}
	}
	/* The metrics face's CPUUtilization is per vCPU of this instance type. */
	if (o->prof.instance_type[0] &&
	    cli_price_vcpus(cli_price_path(NULL), o->prof.instance_type, &o->prof.vcpus, &d)) {
		cli_diag_error("serve: instance_type", &d);
		return KC_EXIT_USAGE;
	}
	if (kc_emu_profile_check(&o->prof, &d)) {
		cli_diag_error("serve", &d);
		return KC_EXIT_USAGE;
	}
	return -1;
}

int kc_cmd_serve(int argc, char **argv)
{
	struct serve_opts o = {.listen = "127.0.0.1:8080", .verbose = 0, .quiet = 0};
	struct kc_diag d;
	kc_diag_clear(&d);
	kc_emu_profile_defaults(&o.prof);
	int rc = load_scenario(argc, argv, &o);
	if (rc < 0)
		rc = parse_flags(argc, argv, &o);
	if (rc >= 0)
		return rc;
	cli_log_init(o.verbose, o.quiet);

	/* Block the stop signals in every thread (the emulator's inherit the
	 * mask) and wait for them here. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct kc_emu *emu = NULL;
	if (kc_emu_start(&o.prof, o.listen, &emu, &d)) {
		cli_diag_error("serve", &d);
		return KC_EXIT_USAGE;
	}
	char desc[256];
	kc_emu_profile_describe(&o.prof, desc, sizeof(desc));
	char host[160];
	connect_host(o.listen, host, sizeof(host));
	printf("nominal capacity: %.1f RPS (%s)\n", kc_emu_profile_capacity_rps(&o.prof), desc);
	printf("listening on http://%s:%d (POST /endpoints/%s/invocations, GET /emulator/stats)\n",
	       host, kc_emu_port(emu), o.prof.endpoint_name[0] ? o.prof.endpoint_name : "NAME");
	if (kc_emu_h2_port(emu) >= 0) {
		bool tls = o.prof.h2_mode == KC_EMU_H2_TLS;
		connect_host(o.prof.h2_listen, host, sizeof(host));
		printf("HTTP/2 (%s) on %s://%s:%d\n", tls ? "TLS, ALPN h2" : "h2c, prior knowledge",
		       tls ? "https" : "http", host, kc_emu_h2_port(emu));
	}
	if (kc_emu_metrics_port(emu) >= 0) {
		connect_host(o.prof.metrics_listen, host, sizeof(host));
		printf("metrics on http://%s:%d (CloudWatch GetMetricData, Application Auto "
		       "Scaling DescribeScalingPolicies; period %.0f s; CPUUtilization summed "
		       "over %d vCPUs)\n", host, kc_emu_metrics_port(emu),
		       (double)o.prof.metric_period_ns / 1e9, o.prof.vcpus);
	}
	fflush(stdout);

	int sig = 0;
	sigwait(&set, &sig);
	print_summary(emu);
	kc_emu_stop(emu);
	return KC_EXIT_OK;
}
