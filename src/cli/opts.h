/*
 * opts.h - the one option set of run, find and streams: a table of the
 * target, request, AWS, search and output options (name, kind, range,
 * default per command, find's scenario key) and the one parser for
 * durations, sizes, rates and counts.  Each command composes its flags
 * from this table, so a flag means the same thing, takes the same units
 * and fails with the same words in every command.
 */
#ifndef KNEECAP_CLI_OPTS_H
#define KNEECAP_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct kc_scenario;

/* The commands that compose their flags from the table (a bit set). */
enum {
	CLI_RUN = 1,
	CLI_FIND = 2,
	CLI_STREAMS = 4,
	CLI_ALL = 7,
};

/* What a value is; the kind picks the parser and its error wording. */
enum cli_kind {
	CLI_K_FLAG,  /* no value */
	CLI_K_STR,   /* any text */
	CLI_K_INT,   /* whole number in lo..hi */
	CLI_K_NUM,   /* number in lo..hi */
	CLI_K_DUR,   /* duration with a unit, lo..hi nanoseconds */
	CLI_K_RATE,  /* requests per second in (0, KC_ENGINE_MAX_RATE] */
	CLI_K_SIZE,  /* bytes, with an optional k/m/g suffix, lo..hi */
};

/* Help sections, in the order --help prints them. */
enum cli_group {
	CLI_G_LOAD,
	CLI_G_SEARCH,
	CLI_G_TARGET,
	CLI_G_REQUEST,
	CLI_G_AWS,
	CLI_G_STREAMS,
	CLI_G_OUTPUT,
	CLI_G_COUNT,
};

/* Option ids: getopt_long's val for the long options (> 255). */
enum cli_opt_id {
	CLI_O_RATE = 256, CLI_O_CONCURRENCY, CLI_O_RAMP, CLI_O_LINEAR, CLI_O_DURATION,
	CLI_O_STEP_DURATION, CLI_O_WARMUP, CLI_O_ARRIVAL, CLI_O_SEED, CLI_O_START, CLI_O_MAX,
	CLI_O_SLO, CLI_O_STATISTIC, CLI_O_MAX_ERROR_RATE, CLI_O_MAX_P50, CLI_O_MAX_P90,
	CLI_O_MAX_P99, CLI_O_THREADS, CLI_O_CONNECTIONS, CLI_O_STREAMS, CLI_O_MAX_INFLIGHT,
	CLI_O_HTTP, CLI_O_TIMEOUT, CLI_O_CONNECT_TIMEOUT, CLI_O_INSECURE, CLI_O_CACERT,
	CLI_O_METHOD, CLI_O_HEADER, CLI_O_BODY, CLI_O_CONTENT_TYPE, CLI_O_PAYLOAD,
	CLI_O_PAYLOAD_DIR, CLI_O_REGION, CLI_O_PROFILE, CLI_O_ENDPOINT_URL,
	CLI_O_RESPONSE_STREAM, CLI_O_INSTANCE_TYPE, CLI_O_CHUNK_BYTES, CLI_O_CHUNK_INTERVAL,
	CLI_O_AUDIO, CLI_O_REPLY_MATCH, CLI_O_AUDIO_RATE, CLI_O_CLOSE_MESSAGE,
	CLI_O_STREAMS_PER_CONN, CLI_O_INVOCATION_PATH, CLI_O_QUERY_STRING, CLI_O_EMULATOR_TLS,
	CLI_O_EMULATOR_CAPTURE, CLI_O_OUT, CLI_O_JSON, CLI_O_QUIET, CLI_O_VERBOSE, CLI_O_HELP,
	CLI_O_CLIENT, CLI_O_PROXY, CLI_O_CERT, CLI_O_KEY, CLI_O_RELEASE_SLACK,
	CLI_O_CW_ENDPOINT_URL, CLI_O_CW_PERIOD, CLI_O_CW_WAIT, CLI_O_CURRENT_POLICY,
	CLI_O_ALARM_TOPIC,
	CLI_O_SHARD, CLI_O_SHARDS, CLI_O_START_AT, CLI_O_RUN_ID,
	/* InvokeEndpoint's request options and the endpoint variants */
	CLI_O_ACCEPT, CLI_O_TARGET_MODEL, CLI_O_TARGET_CONTAINER, CLI_O_CUSTOM_ATTRIBUTES,
	CLI_O_INFERENCE_ID, CLI_O_INFERENCE_COMPONENT, CLI_O_SESSION_ID,
	CLI_O_ENABLE_EXPLANATIONS, CLI_O_FIPS, CLI_O_DUALSTACK,
	CLI_O_COPIES, CLI_O_MIN_CAPACITY, CLI_O_MAX_CAPACITY, CLI_O_ENDPOINT_KIND,
};

/* Defaults differ per command; index with cli_cmd_index(). */
struct cli_opt {
	int id;
	const char *name;     /* long name without "--" */
	char shortc;          /* one-letter alias or 0 */
	enum cli_kind kind;
	enum cli_group group;
	unsigned cmds;        /* CLI_RUN | CLI_FIND | CLI_STREAMS: who takes it */
	const char *section;  /* find's scenario section, or NULL (not a scenario key) */
	const char *key;      /* its key there */
	double lo, hi;        /* range: units for INT/NUM/SIZE, nanoseconds for DUR */
	const char *meta;     /* value name in --help */
	const char *help;
	const char *def[3];   /* default shown by run, find, streams --help (NULL: none) */
	const char *why_not;  /* why the commands outside cmds do not take it */
};

/* A parsed value. */
struct cli_val {
	const char *s;        /* the text as given */
	int64_t i;            /* INT, DUR (ns), SIZE (bytes) */
	double f;             /* NUM, RATE */
};

/* 0, 1 or 2 for CLI_RUN, CLI_FIND, CLI_STREAMS. */
int cli_cmd_index(unsigned cmd);

/* The command's name ("run", "find", "streams"). */
const char *cli_cmd_name(unsigned cmd);

/* The whole table, terminated by an entry with name NULL. */
const struct cli_opt *cli_opts_table(void);

/* The entry with long name (without "--") or one-letter alias, whoever takes it; NULL if none. */
const struct cli_opt *cli_opt_lookup(const char *name, char shortc);

/* The entry with getopt id, or NULL. */
const struct cli_opt *cli_opt_by_id(int id);

/*
 * Fills longopts (room for n entries, NULL-terminated) and shortopts (room
 * for ns bytes, starting with ':') with the options cmd takes plus every
 * other table option, so one it does not take is recognised and refused by
 * cli_opt_refuse with its reason.  Returns 0, or -1 when n or ns is short.
 */
int cli_opts_getopt(unsigned cmd, struct option *longopts, size_t n, char *shortopts, size_t ns);

/*
 * Parses arg as o's kind and range into v; on failure prints one line
 * "CMD: --NAME 'ARG': why" and returns KC_EXIT_USAGE, else 0.
 */
int cli_opt_value(unsigned cmd, const struct cli_opt *o, const char *arg, struct cli_val *v);

/* The recommendation's options streams keeps as scenario keys:
 * --inference-component, --copies, --min-capacity, --max-capacity, --endpoint-kind. */
#define CLI_REC_FLAGS 5

/* &vals[k] for option id, the k-th of those (vals has CLI_REC_FLAGS), or NULL. */
const char **cli_rec_flag_slot(const char **vals, int id);

/*
 * Loads the scenario at path (NULL: none) into *sc and sets each given
 * rec[k] (CLI_REC_FLAGS of them) as its option's scenario key, *sc made
 * empty ("command line") when needed, so one reader checks flags and file
 * alike and the flag wins.  Returns 0, or -1 after printing why.
 */
int cli_scenario_load_flags(unsigned cmd, const char *path, struct kc_scenario **sc,
			    const char *const *rec);

/* Prints why cmd does not take o (from the table) and returns KC_EXIT_USAGE. */
int cli_opt_refuse(unsigned cmd, const struct cli_opt *o);

/*
 * The one duration parser: a number with a unit (ns, us, ms, s, m, h); a
 * bare number other than 0 is an error.  Checks lo..hi; prints
 * "CMD: FLAG 'V': why" and returns KC_EXIT_USAGE on failure, else 0.
 */
int cli_parse_duration(unsigned cmd, const char *flag, const char *v, int64_t lo, int64_t hi,
		       int64_t *out);
/* cli_parse_duration for a command outside the shared table (merge): the
 * same checks and the same words, prefixed with cmd_name. */
int cli_parse_duration_in(const char *cmd_name, const char *flag, const char *v, int64_t lo,
			  int64_t hi, int64_t *out);

/* A whole number in lo..hi, with the same printing contract. */
int cli_parse_int(unsigned cmd, const char *flag, const char *v, int64_t lo, int64_t hi,
		  int64_t *out);

/* A rate in requests/s: > 0 and at most KC_ENGINE_MAX_RATE, same contract. */
int cli_parse_rate(unsigned cmd, const char *flag, const char *v, double *out);

/*
 * Prints the option sections cmd takes from the table, each with its
 * default, then the table options it does not take and why.
 */
void cli_opts_help(FILE *f, unsigned cmd);

/* A flag of a command outside the option table (plan, pools) whose value is
 * a string stored at `off` in the command's options struct. */
struct cli_valued {
	const char *flag;
	size_t off;
};

/*
 * If argv[*i] is one of the n flags in t, stores the next argument at its
 * offset in o, advances *i and returns 1; 0 when it is none of them; -1
 * (said on stderr, prefixed by cmd) when its value is missing.
 */
int cli_take_valued(const char *cmd, const struct cli_valued *t, size_t n, void *o,
		    int argc, char **argv, int *i);

#endif
