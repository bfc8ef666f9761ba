/*
 * cmd_report.c - `kneecap report`: Render one result, or compare several instance types, as text and HTML.
 */
#include "cli.h"

#include <stdio.h>

static const char usage_text[] =
	"usage: kneecap report RESULT.json... [-o report.html]\n"
	"\n"
	"Render one result, or compare several instance types, as text and HTML.\n";

int kc_cmd_report(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		fputs(usage_text, stdout);
		return KC_EXIT_OK;
	}
	cli_error("report: this command is not in this build yet");
	return KC_EXIT_USAGE;
}
