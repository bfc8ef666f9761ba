/*
 * cmd_plan.c - `kneecap plan`: Simulate target-tracking autoscaling on a traffic shape and write a capacity plan.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap plan RESULT.json --traffic SCENARIO [options]\n"
	"\n"
	"Simulate target-tracking autoscaling on a traffic shape and write a capacity plan.\n";

int kc_cmd_plan(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("plan: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
