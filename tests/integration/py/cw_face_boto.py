#!/usr/bin/python3
"""cw_face_boto.py - botocore's own CloudWatch and Application Auto Scaling
clients against the emulator's metrics face.

  cw_face_boto.py METRICS_PORT ENDPOINT VARIANT T0 T1 [deny]

Asks every metric the face publishes (one GetMetricData per statistic, one
query per metric, Period 1) over [T0, T1) epoch seconds and prints one JSON
line per metric with its values; then DescribeScalingPolicies.  With
"deny", prints the error code botocore parsed from each call.  botocore
parsing the answers at all is the point: a face that does not speak the
query protocol (XML) or JSON 1.1 fails here.
"""
import datetime
import json
import os
import sys

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

METRICS = [("AWS/SageMaker", m, "Sum") for m in (
    "Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors")]
METRICS += [("AWS/SageMaker", m, "Average") for m in (
    "ModelLatency", "OverheadLatency", "ConcurrentRequestsPerModel")]
METRICS += [("/aws/sagemaker/Endpoints", m, "Average") for m in (
    "CPUUtilization", "GPUUtilization", "GPUMemoryUtilization")]


def client(svc, port):
    s = botocore.session.get_session()
    return s.create_client(svc, region_name="us-east-1",
                           endpoint_url="http://127.0.0.1:%d" % port,
                           aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                           config=Config(retries={"max_attempts": 1}))


def main():
    port, ep, var = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    t0 = datetime.datetime.fromtimestamp(int(sys.argv[4]), datetime.timezone.utc)
    t1 = datetime.datetime.fromtimestamp(int(sys.argv[5]), datetime.timezone.utc)
    deny = len(sys.argv) > 6 and sys.argv[6] == "deny"
    cw = client("cloudwatch", port)
    dims = [{"Name": "EndpointName", "Value": ep}, {"Name": "VariantName", "Value": var}]
    qs = [{"Id": "m%d" % i, "MetricStat": {"Metric": {"Namespace": ns, "MetricName": m,
                                                      "Dimensions": dims},
                                           "Period": 1, "Stat": st}}
          for i, (ns, m, st) in enumerate(METRICS)]
    try:
        r = cw.get_metric_data(MetricDataQueries=qs, StartTime=t0, EndTime=t1)
        for i, (ns, m, st) in enumerate(METRICS):
            res = [x for x in r["MetricDataResults"] if x["Id"] == "m%d" % i][0]
            print(json.dumps({"metric": m, "stat": st, "status": res["StatusCode"],
                              "values": res["Values"],
                              "ts": [t.timestamp() for t in res["Timestamps"]]}))
    except ClientError as e:
        print(json.dumps({"cloudwatch_error": e.response["Error"]["Code"]}))
    aas = client("application-autoscaling", port)
    try:
        r = aas.describe_scaling_policies(
            ServiceNamespace="sagemaker",
            ResourceId="endpoint/%s/variant/%s" % (ep, var))
        for p in r["ScalingPolicies"]:
            c = p["TargetTrackingScalingPolicyConfiguration"]
            name = (c.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
                    or c["CustomizedMetricSpecification"]["MetricName"])
            print(json.dumps({"policy": name, "target": c["TargetValue"]}))
    except ClientError as e:
        print(json.dumps({"aas_error": e.response["Error"]["Code"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
