/*
 * cmd_find.c - `kneecap find`: Search for the saturation knee and recommend the autoscaling TargetValue.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap find [SCENARIO.ini] [TARGET] [options]\n"
	"\n"
	"Search for the saturation knee and recommend the autoscaling TargetValue.\n";

int kc_cmd_find(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("find: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
