/*
 * find_args.c - `kneecap find`'s command line: its usage text and argv
 * turned into a scenario.  Every flag is a scenario key (the shared option
 * table's, an alias, or --set SECTION.KEY=VALUE), applied over the file
 * given as SCENARIO, so a flag and a scenario line mean the same thing.
 */
#include "cli.h"
#include "find_args.h"
#include "opts.h"
#include "shard.h"

#include <stdio.h>
#include <string.h>

#include "kneecap/emulator.h"
#include "kneecap/engine.h"
#include "kneecap/err.h"
#include "kneecap/parse.h"
#include "kneecap/scenario.h"
#include "kneecap/url.h"

static const char usage_head[] =
	"usage: kneecap find [SCENARIO.ini] [TARGET] [options]\n"
	"\n"
	"Search for the load at which the endpoint stops keeping up (the knee), then\n"
	"recommend the autoscaling TargetValue (70-80% of the knee per instance).\n"
	"With no TARGET, kneecap starts its built-in SageMaker emulator on 127.0.0.1\n"
	"with the scenario's [emulator] profile (default: the ml.g5.xlarge image\n"
	"tagger, about 50 RPS).  TARGET is http(s)://... or sagemaker:ENDPOINT[/VARIANT];\n"
	"http(s) targets are fetched with GET unless a body is given, sagemaker: and\n"
	"the emulator get the synthetic 1024x1024 JPEGs by default.\n"
	"\n"
	"Every scenario key is also a flag (--step-duration 10s is [search]\n"
	"step_duration = 10s); --set SECTION.KEY=VALUE sets any key.  Beyond the\n"
	"options below:\n"
	"search:     --growth G --precision P --max-steps N --max-lag D\n"
	"            --no-confirm (skip the confirmation step: by default, after the\n"
	"            search, one step runs at the recommended target and the policy is\n"
	"            written only if it holds; [search] confirm = true|false)\n"
	"recommend:  --instances N --factor F --min-capacity N --max-capacity N\n"
	"            --endpoint-name NAME --variant NAME --price USD/h (default: none)\n"
	"payload:    --size-kb N --variety N --seed N --quality Q (synthetic JPEGs)\n"
	"target:     --accept T --target-variant V --custom-attributes A ...\n"
	"emulator:   any [emulator] key, e.g. --service-time 20ms --slots 4\n"
	"\n";

static const char usage_tail[] =
	"--out DIR is created with its parents; those names in it are removed first,\n"
	"and the policy and apply.sh are written only when the search completed with\n"
	"a recommendation.\n"
	"\n"
	"Examples:\n"
	"  kneecap find scenarios/g5-xlarge-image-tagger.ini --out results/\n"
	"  kneecap find http://127.0.0.1:8080/predict -X PUT -H 'Authorization: Bearer T' \\\n"
	"      --body req.json --start 20 --max 500 --step-duration 10s --slo 250ms\n"
	"\n"
	"exit status:\n"
	"  0    a knee was found and its recommendation written\n"
	"  1    the run completed without a knee or a recommendation (every step\n"
	"       unhealthy, or all requests failed), or the confirmation step at the\n"
	"       recommended target was unhealthy (no policy or apply.sh written)\n"
	"  2    bad usage or input\n"
	"  3    the target could not be reached at all\n"
	"  4    results could not be written, stdout included (the reason is\n"
	"       printed; no policy)\n"
	"  5    kneecap itself failed during the search (cannot start threads, out\n"
	"       of memory): what was measured is written, marked \"partial\"\n"
	"  130  interrupted by SIGINT, 143 by SIGTERM: what was measured is written,\n"
	"       marked \"partial\", knee.found false; never a recommendation, policy\n"
	"       or apply.sh\n";

/* --help: find's words, then the shared table with defaults and scenario keys. */
static void print_usage(FILE *f)
{
	fputs(usage_head, f);
	cli_opts_help(f, CLI_FIND);
	fputs(usage_tail, f);
}

/* Keys each scenario section owns (flags map onto the first section that has the key). */
static const char *const search_keys[] = {
	"start", "max", "growth", "precision", "max_steps", "max_remeasure",
	"step_duration", "warmup", "threads", "slo", "slo_percentile",
	"max_error_rate", "min_achieved_ratio", "max_lag", "arrival", "confirm", NULL};
static const char *const recommend_keys[] = {
	"factor", "factor_low", "factor_high", "metric", "instances", "instance_type",
	"min_capacity", "max_capacity", "scale_out_cooldown", "scale_in_cooldown",
	"disable_scale_in", "endpoint_name", "variant", "policy_name", "usd_per_hour",
	"endpoint_kind", "copies", "max_concurrency", NULL};
static const char *const payload_keys[] = {
	"source", "dir", "body", "body_content_type", "width", "height", "quality",
	"subsampling", "progressive", "seed", "detail", "size_kb", "variety", NULL};
static const char *const target_keys[] = {
	"url", "region", "endpoint_url", "profile", "content_type", "accept",
	"target_variant", "target_model", "custom_attributes", "inference_id",
	"inference_component", "connections", "http", "timeout", "connect_timeout",
	"insecure", "cacert", "max_inflight", "response_stream", "client", "method", "streams",
	"proxy", "cert", "key", "target_container_hostname", "session_id", "enable_explanations",
	"fips", "dualstack", "cloudwatch_endpoint_url", "cloudwatch_period", "cloudwatch_wait",
	"current_policy", "alarm_topic", NULL};

static bool in_list(const char *const *list, const char *key)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], key))
			return true;
	return false;
}

/* Which section a flag's key belongs to, or NULL. */
static const char *section_of(const char *key)
{
	if (in_list(search_keys, key))
		return "search";
	if (in_list(recommend_keys, key))
		return "recommend";
	if (in_list(payload_keys, key))
		return "payload";
	if (in_list(target_keys, key))
		return "target";
	if (kc_emu_profile_has_key(key))
		return "emulator";
	return NULL;
}



/* Short aliases users expect, mapped onto scenario keys. */
static const struct {
	const char *flag, *section, *key, *value; /* value NULL: the flag's argument */
} aliases[] = {
	{"price", "recommend", "usd_per_hour", NULL},
	{"payload", "payload", "source", NULL},
	{"payload-dir", "payload", "dir", NULL},
	{"body", "payload", "body", NULL},
};

static bool looks_like_target(const char *s)
{
	return kc_url_is_http(s) || !strncmp(s, "sagemaker:", 10);
}

/* The shard options (no scenario keys: they differ per process).  -2: not one of them. */
static int find_shard_opt(struct find_opts *o, const struct cli_opt *t, const char *value,
			  const struct cli_val *v)
{
	struct kc_diag d;
	switch (t->id) {
	case CLI_O_SHARD:
		return cli_shard_parse(&o->shard, value) ? KC_EXIT_USAGE : -1;
	case CLI_O_SHARDS:
		return cli_shard_parse_count(&o->shard, v->i) ? KC_EXIT_USAGE : -1;
	case CLI_O_START_AT:
		o->start_at_text = value;
		return cli_shard_parse_start_at(&o->shard, value) ? KC_EXIT_USAGE : -1;
	case CLI_O_RUN_ID:
		if (!*value || strlen(value) >= sizeof(o->shard.run_id)) {
			cli_error("find: --run-id '%s': must be 1..127 characters", value);
			return KC_EXIT_USAGE;
		}
		o->run_id = value;
		return -1;
	case CLI_O_RAMP:
		kc_diag_clear(&d);
		if (kc_ramp_parse(value, &o->ramp, &d)) {
			cli_error("find: --%s", d.msg);
			return KC_EXIT_USAGE;
		}
		o->ramp_text = value;
		return -1;
	default:
		return -2;
	}
}

/*
 * A table option find takes: checked by the shared parser (so a bare
 * "--warmup 5" fails as in run and streams), then -H kept aside and every
 * other one set as its scenario key.  Returns -1 to go on, or an exit status.
 */
static int find_table_opt(struct find_opts *o, struct kc_scenario *sc, const struct cli_opt *t,
			  const char *value)
{
	struct cli_val v;
	if (cli_opt_value(CLI_FIND, t, value, &v))
		return KC_EXIT_USAGE;
	if (t->id == CLI_O_HEADER) {
		if (o->nheaders >= KC_ENGINE_MAX_HEADERS) {
			cli_error("find: -H '%s': too many headers (at most %d)", value,
				  KC_ENGINE_MAX_HEADERS);
			return KC_EXIT_USAGE;
		}
		if (!strchr(value, ':')) {
			cli_error("find: -H '%s': expected 'Name: value'", value);
			return KC_EXIT_USAGE;
		}
		o->headers[o->nheaders++] = value;
		return -1;
	}
	int shrc = find_shard_opt(o, t, value, &v);
	if (shrc != -2)
		return shrc;
	if (!t->section) {
		cli_error("find: --%s has no scenario key", t->name);
		return KC_EXIT_USAGE;
	}
	char frac[64];
	size_t vl = strlen(value);
	if (t->id == CLI_O_MAX_ERROR_RATE && vl > 1 && vl < 32 && value[vl - 1] == '%') {
		/* "1%" as run takes it: [search] max_error_rate holds the fraction */
		char num[32];
		double pct;
		memcpy(num, value, vl - 1);
		num[vl - 1] = '\0';
		if (kc_parse_double(num, 0, 100, &pct)) {
			cli_error("find: --max-error-rate '%s': expected a fraction in 0..1 or a "
				  "percentage in 0%%..100%%", value);
			return KC_EXIT_USAGE;
		}
		snprintf(frac, sizeof(frac), "%.17g", pct / 100);
		value = frac;
	}
	if (!strcmp(t->section, "payload") && (!strcmp(t->key, "dir") || !strcmp(t->key, "body")))
		kc_scenario_set(sc, "payload", "source", t->key);
	if (kc_scenario_set(sc, t->section, t->key, value)) {
		cli_error("find: too many settings");
		return KC_EXIT_USAGE;
	}
	return -1;
}

/* Flags that take no value: the positional scan must not skip an argument after them. */
static bool takes_no_value(const char *a)
{
	const struct cli_opt *t = cli_opt_lookup(a[1] == '-' ? a + 2 : NULL,
						 a[1] != '-' && !a[2] ? a[1] : 0);
	if (t && t->kind == CLI_K_FLAG)
		return true;
	return !strcmp(a, "--json") || !strcmp(a, "-q") || !strcmp(a, "--quiet") ||
	       !strcmp(a, "-v") || !strcmp(a, "-vv") || !strcmp(a, "--verbose") ||
	       !strcmp(a, "--insecure") || !strcmp(a, "--progressive") ||
	       !strcmp(a, "--response-stream") || !strcmp(a, "--no-confirm") ||
	       !strcmp(a, "--confirm") ||
	       !strcmp(a, "--disable-scale-in") || strchr(a, '=');
}

/*
 * The positional arguments (TARGET, SCENARIO), wherever they are, so the file
 * loads before flags apply; --help too.  Returns -1 to go on, or an exit status.
 */
static int scan_positionals(int argc, char **argv, struct find_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-') {
			if (cli_is_help(a)) {
				print_usage(stdout);
				return KC_EXIT_OK;
			}
			if (!takes_no_value(a))
				i++;
			continue;
		}
		if (looks_like_target(a)) {
			if (o->target) {
				cli_error("find: two TARGETs ('%s' and '%s')", o->target, a);
				return KC_EXIT_USAGE;
			}
			o->target = a;
		} else if (!o->scenario_path) {
			o->scenario_path = a;
		} else {
			cli_error("find: unexpected argument '%s' (TARGET is http(s)://... or "
				  "sagemaker:ENDPOINT[/VARIANT])", a);
			return KC_EXIT_USAGE;
		}
	}
	return -1;
}

/* --set SECTION.KEY=VALUE.  Returns -1 to go on, or an exit status. */
static int set_override(struct kc_scenario *sc, const char *value)
{
	const char *dot = strchr(value, '.'), *veq = strchr(value, '=');
	if (!dot || !veq || dot > veq) {
		cli_error("find: --set '%s': expected SECTION.KEY=VALUE", value);
		return KC_EXIT_USAGE;
	}
	char sec[32], key[64];
	size_t sl = (size_t)(dot - value), kl = (size_t)(veq - dot - 1);
	if (!sl || sl >= sizeof(sec) || !kl || kl >= sizeof(key)) {
		cli_error("find: --set '%s': expected SECTION.KEY=VALUE", value);
		return KC_EXIT_USAGE;
	}
	memcpy(sec, value, sl);
	sec[sl] = '\0';
	memcpy(key, dot + 1, kl);
	key[kl] = '\0';
	if (kc_scenario_set(sc, sec, key, veq + 1))
		return KC_EXIT_USAGE;
	return -1;
}

/*
 * One long option a (--flag, its name in flag) with its value: --out, --set,
 * a table option, an alias, or a scenario key by name.  Returns -1 to go on,
 * or an exit status.
 */
static int long_option(struct find_opts *o, struct kc_scenario *sc, const char *a,
		       const char *flag, const char *value)
{
	if (!strcmp(flag, "out")) {
		o->out_dir = value;
		return -1;
	}
	if (!strcmp(flag, "set"))
		return set_override(sc, value);
	const struct cli_opt *t = cli_opt_lookup(flag, 0);
	if (t && (t->cmds & CLI_FIND) && t->kind != CLI_K_FLAG)
		return find_table_opt(o, sc, t, value);
	const char *section = NULL, *key = NULL;
	char keybuf[64];
	for (size_t k = 0; k < sizeof(aliases) / sizeof(aliases[0]); k++)
		if (!strcmp(flag, aliases[k].flag)) {
			section = aliases[k].section;
			key = aliases[k].key;
		}
	if (!section) {
		size_t nl = strlen(flag);
		for (size_t k = 0; k <= nl; k++)
			keybuf[k] = flag[k] == '-' ? '_' : flag[k];
		key = keybuf;
		section = section_of(key);
	}
	if (!section && t)
		return cli_opt_refuse(CLI_FIND, t);
	if (!section) {
		cli_error("find: unknown option '%s' (see kneecap find --help)", a);
		return KC_EXIT_USAGE;
	}
	if (!strcmp(key, "dir") || !strcmp(key, "body"))
		kc_scenario_set(sc, "payload", "source", key);
	if (kc_scenario_set(sc, section, key, value)) {
		cli_error("find: too many settings");
		return KC_EXIT_USAGE;
	}
	return -1;
}

int find_parse_args(int argc, char **argv, struct find_opts *o, struct kc_scenario **scp)
{
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = scan_positionals(argc, argv, o);
	if (rc >= 0)
		return rc;
	rc = o->scenario_path ? kc_scenario_load(scp, o->scenario_path, &d)
			      : kc_scenario_new_empty(scp, "command line");
	if (rc) {
		cli_diag_error("find", &d);
		return KC_EXIT_USAGE;
	}
	struct kc_scenario *sc = *scp;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-')
			continue;
		if (!strcmp(a, "--json")) { o->json = true; continue; }
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { o->quiet = true; continue; }
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { o->verbose++; continue; }
		if (!strcmp(a, "-vv")) { o->verbose += 2; continue; }
		if (!strcmp(a, "--no-confirm")) {
			if (kc_scenario_set(sc, "search", "confirm", "false"))
				return KC_EXIT_USAGE;
			continue;
		}
		if (a[1] && a[1] != '-' && !a[2]) {
			/* -H 'N: v', -X M: the table's one-letter aliases */
			const struct cli_opt *t = cli_opt_lookup(NULL, a[1]);
			if (!t || !(t->cmds & CLI_FIND) || t->kind == CLI_K_FLAG) {
				cli_error("find: unknown option '%s' (see kneecap find --help)", a);
				return KC_EXIT_USAGE;
			}
			if (i + 1 >= argc) {
				cli_error("find: missing value for '%s'", a);
				return KC_EXIT_USAGE;
			}
			int trc = find_table_opt(o, sc, t, argv[++i]);
			if (trc >= 0)
				return trc;
			continue;
		}
		if (strncmp(a, "--", 2) || !a[2]) {
			cli_error("find: unknown option '%s' (see kneecap find --help)", a);
			return KC_EXIT_USAGE;
		}
		const char *name = a + 2;
		char flag[64];
		const char *eq = strchr(name, '=');
		const char *value = NULL;
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		if (nl >= sizeof(flag)) {
			cli_error("find: unknown option '%s'", a);
			return KC_EXIT_USAGE;
		}
		memcpy(flag, name, nl);
		flag[nl] = '\0';
		bool boolean = !strcmp(flag, "insecure") || !strcmp(flag, "progressive") ||
			       !strcmp(flag, "response-stream") || !strcmp(flag, "confirm") ||
			       !strcmp(flag, "disable-scale-in");
		const struct cli_opt *ft = cli_opt_lookup(flag, 0);
		if (ft && ft->kind == CLI_K_FLAG && (ft->cmds & CLI_FIND))
			boolean = true; /* --fips, --dualstack: [target] keys set to true */
		if (eq)
			value = eq + 1;
		else if (boolean)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			cli_error("find: missing value for '%s'", a);
			return KC_EXIT_USAGE;
		}
		int lrc = long_option(o, sc, a, flag, value);
		if (lrc >= 0)
			return lrc;
	}
	return -1;
}
