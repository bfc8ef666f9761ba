/*
 * cmd_payload.c - `kneecap payload`: Write the synthetic JPEG payloads to disk.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap payload --count N --out DIR [options]\n"
	"\n"
	"Write the synthetic JPEG payloads to disk.\n";

int kc_cmd_payload(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("payload: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
