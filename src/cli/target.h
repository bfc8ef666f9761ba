/*
 * target.h - turns a TARGET argument into what the engine needs: a URL,
 * extra headers and, for `sagemaker:ENDPOINT[/VARIANT]`, a SigV4 request
 * decorator fed by the AWS credential chain.  Shared by run and find.
 */
#ifndef KNEECAP_CLI_TARGET_H
#define KNEECAP_CLI_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "kneecap/engine.h"
#include "kneecap/sagemaker.h"

struct kc_diag;
struct kc_scenario;
struct sm_signing;

/* The AWS CLI-like options a sagemaker: target takes (flags or [target] keys). */
struct cli_target_opts {
	const char *region;        /* --region */
	const char *endpoint_url;  /* --endpoint-url */
	const char *profile;       /* --profile */
	struct kc_sm_opts sm;      /* --content-type, --accept, --target-model, ...; the
				    * component is sm.inference_component */
	bool response_stream;      /* --response-stream: InvokeEndpointWithResponseStream */
	bool fips, dualstack;      /* --fips, --dualstack: the endpoint variants */
	/* The endpoint's own metrics (signals_cli.h); strings as given. */
	const char *cloudwatch_endpoint_url; /* --cloudwatch-endpoint-url */
	const char *cloudwatch_period;       /* --cloudwatch-period (60s) */
	const char *cloudwatch_wait;         /* --cloudwatch-wait (two periods) */
	const char *current_policy;          /* --current-policy METRIC=TARGET */
	const char *alarm_topic;             /* --alarm-topic ARN */
};

struct cli_target {
	bool sagemaker;
	bool response_stream;      /* requests go to .../invocations-response-stream */
	char url[1024];
	char display[1100];        /* for messages and result.json; never a secret */
	struct kc_sm_target sm;
	char region[64];
	struct kc_sm_headers smh;  /* content-type and x-amzn-sagemaker-* headers */
	char lines[KC_SM_MAX_HEADERS][KC_SM_HEADER_VALUE_MAX + 64];
	const char *headers[KC_SM_MAX_HEADERS];
	int nheaders;              /* extra header lines for the engine (without content-type) */
	const char *content_type;  /* the user's content type for every body, or NULL */
	char creds_desc[512];      /* where the credentials came from (redacted) */
	struct sm_signing *signing;
};

/*
 * Resolves target.  For http(s) URLs it only checks the scheme; for
 * sagemaker: it parses the name, resolves region and credentials (the AWS
 * CLI's chain), builds the URL and headers and prepares the signer.  With
 * o->response_stream the operation is InvokeEndpointWithResponseStream (its
 * path, X-Amzn-SageMaker-Accept); an http(s) TARGET refuses it (KC_EINVAL).
 * Returns 0, KC_EINVAL / KC_ENOTFOUND / KC_EPARSE / KC_EAUTH ... with d
 * saying why.
 */
int cli_target_open(struct cli_target *t, const char *target,
		    const struct cli_target_opts *o, uint32_t threads,
		    struct kc_diag *d);

/* Releases what cli_target_open built; t may be zeroed. */
void cli_target_close(struct cli_target *t);

struct kc_creds;
/* Calls fn(ud, creds) with the sagemaker: target's current credentials
 * (held for the call); returns fn's result, or KC_EAUTH without any. */
int cli_target_with_creds(struct cli_target *t,
			  int (*fn)(void *ud, const struct kc_creds *c), void *ud);
/* Fills the engine config's url, decorator and response_stream from t. */
void cli_target_apply(struct cli_target *t, struct kc_engine_config *cfg);

/* Reads the [target] section keys (region, endpoint_url, profile, content_type,
 * accept, target_variant, target_model, target_container_hostname,
 * custom_attributes, inference_id, inference_component, session_id,
 * enable_explanations, response_stream, fips, dualstack) over o.  Strings point into sc.
 * Returns 0 or KC_EINVAL (a bad boolean value; d names it). */
int cli_target_opts_from_scenario(struct cli_target_opts *o, struct kc_scenario *sc,
				  const char **target, struct kc_diag *d);

#endif
