/*
 * cmd_streams.c - `kneecap streams`: Find how many concurrent bidirectional streams an instance holds under a latency limit.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap streams [SCENARIO.ini] [TARGET] [options]\n"
	"\n"
	"Find how many concurrent bidirectional streams an instance holds under a latency limit.\n";

int kc_cmd_streams(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("streams: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
