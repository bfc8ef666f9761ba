/*
 * creds_probe.c - resolves AWS credentials and region from the real process
 * environment and prints where they came from (never the secret or token),
 * for tests/integration/test_creds.sh.  Debug logs go to stderr so the
 * script can scan them too.
 *
 * usage: creds_probe [--profile P] [--region R]
 * exit: 0 resolved, 1 credentials failed (diagnostic on stderr), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "kneecap/creds.h"
#include "kneecap/err.h"
#include "kneecap/log.h"

static void log_cb(enum kc_log_level level, const char *msg, void *ud)
{
	(void)ud;
	fprintf(stderr, "%s: %s\n", kc_log_level_name(level), msg);
}

int main(int argc, char **argv)
{
	struct kc_creds_opts o = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--profile") && i + 1 < argc)
			o.profile = argv[++i];
		else if (!strcmp(argv[i], "--region") && i + 1 < argc)
			o.region = argv[++i];
		else {
			fprintf(stderr, "usage: creds_probe [--profile P] [--region R]\n");
			return 2;
		}
	}
	kc_log_set_handler(log_cb, NULL, KC_LOG_DEBUG);
	struct kc_diag d;
	kc_diag_clear(&d);
	char line[1024];
	struct kc_creds c;
	int rc = kc_creds_resolve(&o, &c, &d);
	if (rc < 0) {
		fprintf(stderr, "error: %s (%s)\n", kc_diag_format(&d, line, sizeof(line)),
			kc_strerror(rc));
		return 1;
	}
	char akid[32];
	printf("source=%s\nprofile=%s\norigin=%s\nakid=%s\ntoken=%s\nexpires=%s\n",
	       kc_creds_source_name(c.source), c.profile, c.origin,
	       kc_creds_redact_akid(c.access_key_id, akid, sizeof(akid)),
	       c.session_token ? "yes" : "no", c.expiration_wall_ns ? "yes" : "no");
	printf("describe=%s\n", kc_creds_describe(&c, line, sizeof(line)));
	kc_creds_fini(&c);
	char region[64];
	enum kc_region_source rs;
	kc_diag_clear(&d);
	if (kc_creds_region(&o, region, sizeof(region), &rs, &d) == 0)
		printf("region=%s\nregion_source=%s\n", region, kc_region_source_name(rs));
	else
		printf("region_error=%s\n", kc_diag_format(&d, line, sizeof(line)));
	return 0;
}
