#!/usr/bin/python3
"""check_policy.py - botocore's own parameter validation for the files
kneecap writes (test helper for test_policy_botocore.sh).

  check_policy.py policy FILE [POLICY_NAME [RESOURCE_ID DIMENSION]]
      validate a PutScalingPolicy call whose
      TargetTrackingScalingPolicyConfiguration is FILE's JSON
  check_policy.py step FILE RESOURCE_ID DIMENSION
      the same for a StepScaling policy (StepScalingPolicyConfiguration)
  check_policy.py argv ARGV_LOG DIR
      rebuild the register-scalable-target and put-scaling-policy calls from
      the argv a fake `aws` recorded (NUL-separated words, one call per
      record), load file://... relative to DIR, and validate both

  check_policy.py model MODEL_FILE OPERATION FILE
      validate FILE's JSON as OPERATION's input under the service model
      MODEL_FILE (service-2.json, or .gz; e.g. a newer botocore's, for API
      members Debian's predates); OPERATION PutScalingPolicy takes FILE as
      the TargetTrackingScalingPolicyConfiguration, and then also checks
      what the model cannot say about metric math: Ids start with a
      lower-case letter, exactly one query returns data

Exit 0 when botocore finds no errors, 1 with its report otherwise.
Uses Debian's botocore (run with /usr/bin/python3).
"""
import json
import os
import sys

import botocore.session
import botocore.validate

MODEL = botocore.session.get_session().get_service_model("application-autoscaling")

# Names the AAS API gained after older botocore models (Debian's 1.29 among
# them) were cut.  Missing from this model's enum they are accepted with a
# note; KC_STRICT_ENUM=1 (a botocore that knows them) refuses them instead.
LATER = {
    "SageMakerVariantProvisionedConcurrencyUtilization",
    "SageMakerInferenceComponentInvocationsPerCopy",
    "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution",
    "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    "sagemaker:variant:DesiredProvisionedConcurrency",
    "sagemaker:inference-component:DesiredCopyCount",
}
STRICT = os.environ.get("KC_STRICT_ENUM") == "1"


def enum_ok(what, value, enum):
    if value in enum:
        return True
    if value in LATER and not STRICT:
        print(f"# note: botocore {botocore.__version__} predates {value}; enum not checked")
        return True
    print(f"{what} {value!r} not in {enum}")
    return False


def validate(op_name, params):
    op = MODEL.operation_model(op_name)
    report = botocore.validate.ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        print(f"{op_name}: {report.generate_report()}")
        return False
    # ParamValidator checks types, required members and lengths, not enums:
    # check the metric type against the model's enum where the model knows it.
    if "ScalableDimension" in params:
        dim = op.input_shape.members["ScalableDimension"].enum
        if not enum_ok(f"{op_name}: ScalableDimension", params["ScalableDimension"], dim):
            return False
    cfg = params.get("TargetTrackingScalingPolicyConfiguration")
    if cfg and "PredefinedMetricSpecification" in cfg:
        shape = op.input_shape.members["TargetTrackingScalingPolicyConfiguration"]
        enum = shape.members["PredefinedMetricSpecification"].members["PredefinedMetricType"].enum
        mtype = cfg["PredefinedMetricSpecification"]["PredefinedMetricType"]
        if not enum_ok(f"{op_name}: PredefinedMetricType", mtype, enum):
            return False
    step = params.get("StepScalingPolicyConfiguration")
    if step:
        shape = op.input_shape.members["StepScalingPolicyConfiguration"]
        for key in ("AdjustmentType", "MetricAggregationType"):
            if key in step and not enum_ok(f"{op_name}: {key}", step[key],
                                           shape.members[key].enum):
                return False
    return True


def policy_params(cfg, name="kneecap-test",
                  resource="endpoint/product-tagger/variant/AllTraffic",
                  dimension="sagemaker:variant:DesiredInstanceCount", step=False):
    return {
        "PolicyName": name,
        "ServiceNamespace": "sagemaker",
        "ResourceId": resource,
        "ScalableDimension": dimension,
        "PolicyType": "StepScaling" if step else "TargetTrackingScaling",
        ("StepScalingPolicyConfiguration" if step
         else "TargetTrackingScalingPolicyConfiguration"): cfg,
    }


def options(words):
    """--flag value pairs to a dict; the AWS CLI's global options removed."""
    out = {}
    it = iter(words)
    for w in it:
        if not w.startswith("--"):
            raise SystemExit(f"unexpected word {w!r}")
        out[w[2:]] = next(it)
    return out


def check_model(path, op_name, file):
    import gzip
    import re
    import botocore.model
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        model = botocore.model.ServiceModel(json.load(f))
    with open(file) as f:
        params = json.load(f)
    if op_name == "PutScalingPolicy":
        params = policy_params(params)
    op = model.operation_model(op_name)
    report = botocore.validate.ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        print(f"{op_name}: {report.generate_report()}")
        return 1
    cfg = params.get("TargetTrackingScalingPolicyConfiguration", {})
    queries = cfg.get("CustomizedMetricSpecification", {}).get("Metrics")
    if queries is not None:
        bad = [q["Id"] for q in queries if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", q["Id"])]
        returning = [q["Id"] for q in queries if q.get("ReturnData", True)]
        if bad or len(returning) != 1:
            print(f"metric math: bad Ids {bad}, returning data {returning}")
            return 1
    return 0


def main():
    mode = sys.argv[1]
    if mode == "model":
        return check_model(sys.argv[2], sys.argv[3], sys.argv[4])
    if mode == "policy":
        with open(sys.argv[2]) as f:
            cfg = json.load(f)
        name = sys.argv[3] if len(sys.argv) > 3 else "kneecap-test"
        where = sys.argv[4:6]
        return 0 if validate("PutScalingPolicy", policy_params(cfg, name, *where)) else 1
    if mode == "step":
        with open(sys.argv[2]) as f:
            cfg = json.load(f)
        params = policy_params(cfg, "kneecap-scale-from-zero", sys.argv[3], sys.argv[4], True)
        return 0 if validate("PutScalingPolicy", params) else 1
    if mode != "argv":
        raise SystemExit("usage: check_policy.py policy FILE | argv LOG DIR")
    with open(sys.argv[2], "rb") as f:
        records = [r for r in f.read().split(b"\x1e") if r]
    calls = [[w.decode() for w in r.split(b"\0")[:-1]] for r in records]
    ok = True
    seen = []
    for call in calls:
        if call[:1] != ["application-autoscaling"]:
            print(f"not an application-autoscaling call: {call[:2]}")
            return 1
        sub = call[1]
        o = options(call[2:])
        o.pop("region", None)
        o.pop("profile", None)
        seen.append(sub)
        if sub == "register-scalable-target":
            params = {
                "ServiceNamespace": o.pop("service-namespace"),
                "ResourceId": o.pop("resource-id"),
                "ScalableDimension": o.pop("scalable-dimension"),
                "MinCapacity": int(o.pop("min-capacity")),
                "MaxCapacity": int(o.pop("max-capacity")),
            }
            ok &= validate("RegisterScalableTarget", params)
        elif sub == "put-scaling-policy":
            src = o.pop("target-tracking-scaling-policy-configuration")
            if not src.startswith("file://"):
                print(f"policy not given as file://: {src!r}")
                return 1
            with open(os.path.join(sys.argv[3], src[len("file://"):])) as f:
                cfg = json.load(f)
            params = {
                "PolicyName": o.pop("policy-name"),
                "ServiceNamespace": o.pop("service-namespace"),
                "ResourceId": o.pop("resource-id"),
                "ScalableDimension": o.pop("scalable-dimension"),
                "PolicyType": o.pop("policy-type"),
                "TargetTrackingScalingPolicyConfiguration": cfg,
            }
            ok &= validate("PutScalingPolicy", params)
        else:
            print(f"unexpected subcommand {sub}")
            return 1
        if o:
            print(f"{sub}: options botocore would not accept: {sorted(o)}")
            ok = False
    if seen != ["register-scalable-target", "put-scaling-policy"]:
        print(f"calls made: {seen}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
