/*
 * find_args.h - `kneecap find`'s command line (find_args.c).
 */
#ifndef KNEECAP_CLI_FIND_ARGS_H
#define KNEECAP_CLI_FIND_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "kneecap/engine.h"
#include "kneecap/schedule.h"
#include "shard.h"

struct kc_scenario;

/* What find's flags set outside the scenario. */
struct find_opts {
	const char *headers[KC_ENGINE_MAX_HEADERS]; /* -H: flag only, never a scenario key */
	size_t nheaders;
	const char *scenario_path;
	const char *target;
	const char *out_dir;
	bool json, quiet;
	int verbose;
	/* --shard: a fixed ladder instead of the search (shards cannot search together) */
	struct cli_shard shard;
	const char *ramp_text, *run_id, *start_at_text;
	struct kc_ramp ramp;
};

/*
 * Parses argv into o and *scp, the scenario (loaded from the positional file,
 * then overridden by flags; the caller frees it).  Returns -1 to go on, or
 * an exit status (KC_EXIT_OK after --help).
 */
int find_parse_args(int argc, char **argv, struct find_opts *o, struct kc_scenario **scp);

#endif
