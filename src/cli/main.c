/*
 * main.c - kneecap's entry point: dispatches to one file per subcommand.
 */
#include "cli.h"
#include "kc_config.h"
#include "kneecap/log.h"
#include "kneecap/scrub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} cmds[] = {
	{"find", kc_cmd_find, "search for the saturation knee and recommend the TargetValue"},
	{"run", kc_cmd_run, "fixed or ramped load against a target, with a report"},
	{"streams", kc_cmd_streams, "bidirectional-stream concurrency search"},
	{"plan", kc_cmd_plan, "pre-launch capacity plan from a result and a traffic shape"},
	{"report", kc_cmd_report, "render or combine results (several instance types)"},
	{"pools", kc_cmd_pools, "mixed instance pools: InstancePools and a capacity-weighted policy"},
	{"serve", kc_cmd_serve, "run the endpoint emulator"},
	{"payload", kc_cmd_payload, "write the synthetic JPEG payloads to disk"},
	{"merge", kc_cmd_merge, "merge the shards of one run exactly and find the knee"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kneecap COMMAND [ARGS]\n"
		"\n"
		"kneecap load-tests one inference endpoint until it saturates, finds the\n"
		"knee, and turns it into an autoscaling TargetValue.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
		"\n"
		"options:\n"
		"  -h, --help     this text (kneecap COMMAND --help, or kneecap help COMMAND,\n"
		"                 for a command)\n"
		"  -V, --version  print the version\n"
		"\n"
		"exit status: 0 ok, 1 a threshold failed, 2 bad usage or input,\n"
		"3 the target could not be reached, 4 results could not be written,\n"
		"5 kneecap itself failed (cannot start threads, out of memory),\n"
		"130/143 interrupted by SIGINT/SIGTERM (partial results, no policy).\n");
}

void cli_error(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Diagnostics quote what servers and helpers said. */
	kc_scrub_str(msg, sizeof(msg), 0);
	fprintf(stderr, "kneecap: %s\n", msg);
}

void cli_diag_error(const char *prefix, const struct kc_diag *d)
{
	char msg[1024];
	kc_diag_format(d, msg, sizeof(msg));
	kc_scrub_str(msg, sizeof(msg), 0);
	if (prefix && *prefix)
		fprintf(stderr, "kneecap: %s: %s\n", prefix, msg);
	else
		fprintf(stderr, "kneecap: %s\n", msg);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* Every library message passes the scrubber here: util/ (which formats
 * them) sits below aws/ (which holds the secrets) and cannot call it. */
static void log_to_stderr(enum kc_log_level level, const char *msg, void *ud)
{
	(void)ud;
	char clean[1280];
	kc_scrub_copy(msg, strlen(msg), clean, sizeof(clean), 0);
	pthread_mutex_lock(&log_mu);
	/* On a terminal, clear a live progress line first (progress.c rewrites
	 * it at its next tick) so the message does not land in its middle. */
	static int tty = -1;
	if (tty < 0)
		tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%skneecap: %s: %s\n", tty ? "\r\033[K" : "", kc_log_level_name(level), clean);
	pthread_mutex_unlock(&log_mu);
}

void cli_log_init(int verbosity, int quiet)
{
	enum kc_log_level lvl = KC_LOG_WARN;
	if (quiet)
		lvl = KC_LOG_ERROR;
	else if (verbosity == 1)
		lvl = KC_LOG_INFO;
	else if (verbosity >= 2)
		lvl = KC_LOG_DEBUG;
	kc_log_set_handler(log_to_stderr, NULL, lvl);
}

int cli_is_help(const char *s)
{
	return s && (!strcmp(s, "-h") || !strcmp(s, "--help"));
}

/*
 * stdout goes through this cookie because stdio forgets why a write failed
 * (a later fflush succeeds with nothing left to write), and the exit
 * status must come with the OS reason (ENOSPC, EPIPE).
 */
static volatile int g_stdout_errno;

static ssize_t stdout_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(STDOUT_FILENO, buf + done, n - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			g_stdout_errno = errno;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)n;
}

int cli_stdout_errno(void)
{
	return g_stdout_errno ? g_stdout_errno : EIO;
}

static void stdout_wrap(void)
{
	cookie_io_functions_t fns = {.write = stdout_write};
	FILE *f = fopencookie(NULL, "w", fns);
	if (!f)
		return; /* plain stdout: failures still end in exit 4, reason EIO */
	/* A terminal still sees each line as it is printed. */
	setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, 1 << 16);
	stdout = f;
}

/* Every command's last word: output that never reached stdout is a failed run. */
static int finish(const char *cmd, int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	if (cmd[0] == '-')
		cli_error("cannot write to stdout: %s", strerror(cli_stdout_errno()));
	else
		cli_error("%s: cannot write to stdout: %s", cmd, strerror(cli_stdout_errno()));
	return KC_EXIT_WRITE;
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return KC_EXIT_USAGE;
	}
	const char *c = argv[1];
	if (!strcmp(c, "help") && argc > 2) {
		/* `kneecap help CMD` is `kneecap CMD --help`: one text, not two. */
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[2], cmds[i].name)) {
				char *hargv[] = {argv[2], (char *)"--help", NULL};
				return cmds[i].fn(2, hargv);
			}
		cli_error("help: unknown command '%s' (see kneecap --help)", argv[2]);
		return KC_EXIT_USAGE;
	}
	if (cli_is_help(c) || !strcmp(c, "help")) {
		usage(stdout);
		return KC_EXIT_OK;
	}
	if (!strcmp(c, "-V") || !strcmp(c, "--version")) {
		printf("kneecap %s\n", KC_VERSION);
		return KC_EXIT_OK;
	}
	cli_log_init(0, 0);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(c, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	cli_error("unknown command '%s' (see kneecap --help)", c);
	return KC_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* A closed reader (| head) makes writes fail with EPIPE, which is
	 * reported, instead of killing the run before its files are written. */
	signal(SIGPIPE, SIG_IGN);
	stdout_wrap();
	return finish(argc > 1 ? argv[1] : "kneecap", dispatch(argc, argv));
}
