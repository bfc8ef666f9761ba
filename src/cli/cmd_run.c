/*
 * cmd_run.c - `kneecap run`: Drive fixed or ramped load against a target and report latency per step.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap run TARGET --rate R | --concurrency N | --ramp A:B:STEP [options]\n"
	"\n"
	"Drive fixed or ramped load against a target and report latency per step.\n";

int kc_cmd_run(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("run: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
