/*
 * cw_tool.c - drives kneecap's CloudWatch client for the integration tests:
 *
 *   cw_tool URL ENDPOINT VARIANT PERIOD_S T0 T1
 *
 * asks GetMetricData for the ten signals (signals.h) with the credentials in
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, region
 * us-east-1, and prints one line per series: "ID NAME N v1 v2 ...", or
 * "error CODE: message" and exit 1 (3 for KC_EAUTH).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "kneecap/cloudwatch.h"
#include "kneecap/err.h"
#include "kneecap/signals.h"

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: cw_tool URL ENDPOINT VARIANT PERIOD_S T0 T1\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct kc_cw_query q[KC_SIG_COUNT];
	kc_signals_queries(q, argv[2], argv[3], atoi(argv[4]));
	struct kc_cw_client c = {.region = "us-east-1", .endpoint_url = argv[1],
				 .akid = getenv("AWS_ACCESS_KEY_ID"),
				 .secret = getenv("AWS_SECRET_ACCESS_KEY"),
				 .token = getenv("AWS_SESSION_TOKEN")};
	struct kc_cw_series *s = calloc(KC_SIG_COUNT, sizeof(*s));
	size_t n = 0;
	struct kc_diag d;
	kc_diag_clear(&d);
	int rc = s ? kc_cw_get_metric_data(&c, q, KC_SIG_COUNT, atoll(argv[5]), atoll(argv[6]), s,
					   KC_SIG_COUNT, &n, &d)
		   : KC_ENOMEM;
	if (rc) {
		printf("error %d: %s\n", rc, d.msg);
		free(s);
		return rc == KC_EAUTH ? 3 : 1;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%s %s %d", s[i].id, s[i].status, s[i].n);
		for (int j = 0; j < s[i].n; j++)
			printf(" %lld:%.3f", (long long)s[i].ts[j], s[i].val[j]);
		printf("\n");
	}
	free(s);
	curl_global_cleanup();
	return 0;
}
