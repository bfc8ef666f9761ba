/*
 * cmd_serve.c - `kneecap serve`: Run the SageMaker endpoint emulator with a known capacity.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap serve [SCENARIO.ini] [--listen ADDR] [options]\n"
	"\n"
	"Run the SageMaker endpoint emulator with a known capacity.\n";

int kc_cmd_serve(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("serve: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
