/*
 * poolspolicy.h - the files of a mixed-instance-pool variant: the
 * CreateEndpointConfig input with InstancePools, the target-tracking
 * configuration on the capacity-weighted custom metric (metric math), and
 * the script that publishes the per-pool instance counts that metric reads.
 *
 * The weighted metric is invocations per minute divided by the fleet
 * counted in first-pool equivalents (pools.h): AWS/SageMaker Invocations
 * (Sum) over sum(InstanceCount_i x weight_i), the counts being a custom
 * metric (namespace KC_POOLS_NAMESPACE, dimensions EndpointName,
 * VariantName, InstanceType) that publish-pool-counts.sh writes once a
 * minute from DescribeEndpoint's InstancePools[].CurrentInstanceCount.
 *
 * Pure: jansson objects and text out.  Thread-safe.
 */
#ifndef KNEECAP_POOLSPOLICY_H
#define KNEECAP_POOLSPOLICY_H

#include <jansson.h>

#include "kneecap/pools.h"
#include "kneecap/recommend.h"

struct kc_buf;

#define KC_POOLS_NAMESPACE "Kneecap/InstancePools"
#define KC_POOLS_COUNT_METRIC "InstanceCount"

/*
 * CreateEndpointConfig's input (usable with `aws sagemaker
 * create-endpoint-config --cli-input-json file://...`): one production
 * variant with InstancePools by priority, InitialInstanceCount and
 * RoutingConfig LEAST_OUTSTANDING_REQUESTS (the weighting assumes requests
 * go where capacity is).  NULL when out of memory.
 */
json_t *kc_pools_endpoint_config(const struct kc_pools *p, const char *config_name,
				 const char *model_name, const char *variant, int initial_count);

/*
 * The TargetTrackingScalingPolicyConfiguration (new reference): TargetValue
 * (invocations per minute per first-pool instance), the weighted metric as
 * CustomizedMetricSpecification.Metrics (Id/MetricStat/Expression/ReturnData),
 * c's cooldowns and DisableScaleIn.  c->endpoint_name must be set (the
 * metric's dimensions name it).  NULL when out of memory.
 */
json_t *kc_pools_policy(const struct kc_recommend_cfg *c, const struct kc_pools *p,
			double target_value);

/* The metric math expression ("invocations / (n1 + 0.6 * n2)") into out. */
char *kc_pools_expression(const struct kc_pools *p, char *out, size_t outsz);

/*
 * publish-pool-counts.sh: a POSIX shell script that reads the variant's
 * InstancePools from `aws sagemaker describe-endpoint` and puts one
 * InstanceCount datapoint per pool (0 for an empty pool) with `aws
 * cloudwatch put-metric-data`; run it every minute.  Every value
 * single-quoted.  Returns 0, KC_ENOMEM or KC_ELIMIT.
 */
int kc_pools_publish_sh(const struct kc_recommend_cfg *c, const struct kc_pools *p,
			struct kc_buf *out);

/* j as text (2-space indent, key order kept, trailing newline) appended to
 * out; takes j's reference.  Returns 0, KC_ENOMEM or KC_ELIMIT. */
int kc_pools_json_text(json_t *j, struct kc_buf *out);

#endif
