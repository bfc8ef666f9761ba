"""k8s_check.py - an offline check of deploy/k8s/*.yaml (no cluster needed).

Every document is checked against the Kubernetes API models of Debian's
python3-kubernetes: each key must be a field of its model (recursively, so
a misspelt key fails, which a plain deserialisation would silently drop),
and the models' own client-side validation must accept the values (required
fields, enums).  Then the shard contract: an Indexed Job with completions =
parallelism = the ConfigMap's SHARDS, restartPolicy Never, no retries, every
$VAR its command uses defined in the ConfigMap, --shards, --start-at and an
output path per JOB_COMPLETION_INDEX on the shared claim.

usage: k8s_check.py FILE...   (exit 0 ok, 1 with one line per problem)
"""
import re
import sys

import yaml
from kubernetes import client

problems = []
api = client.ApiClient()


def strict(obj, typ, path):
    """Checks every key of obj against the model named typ."""
    if typ.startswith("list["):
        if not isinstance(obj, list):
            problems.append("%s: expected a list" % path)
            return
        for i, x in enumerate(obj):
            strict(x, typ[5:-1], "%s[%d]" % (path, i))
        return
    if typ.startswith("dict("):
        if not isinstance(obj, dict):
            problems.append("%s: expected a map" % path)
            return
        inner = typ[5:-1].split(", ", 1)[1]
        for k, x in obj.items():
            strict(x, inner, "%s.%s" % (path, k))
        return
    cls = getattr(client.models, typ, None)
    if cls is None:
        return  # str, int, bool, object, datetime
    if not isinstance(obj, dict):
        problems.append("%s: expected a %s object" % (path, typ))
        return
    keys = {v: k for k, v in cls.attribute_map.items()}
    for k, x in obj.items():
        if k not in keys:
            problems.append("%s: unknown field '%s' in %s" % (path, k, typ))
            continue
        strict(x, cls.openapi_types[keys[k]], "%s.%s" % (path, k))


docs = []
for f in sys.argv[1:]:
    with open(f) as fh:
        for d in yaml.safe_load_all(fh):
            if d:
                docs.append((f, d))
by_kind = {}
for f, d in docs:
    kind = d.get("kind", "?")
    typ = "V1" + kind
    where = "%s: %s/%s" % (f, kind, d.get("metadata", {}).get("name", "?"))
    if not hasattr(client.models, typ):
        problems.append("%s: no model for kind %s" % (where, kind))
        continue
    strict(d, typ, where)
    try:
        api._ApiClient__deserialize(d, typ)
    except (ValueError, TypeError) as e:
        problems.append("%s: %s" % (where, e))
    by_kind.setdefault(kind, []).append((where, d))

cms = {d["metadata"]["name"]: d.get("data", {}) for _, d in by_kind.get("ConfigMap", [])}
pvcs = {d["metadata"]["name"] for _, d in by_kind.get("PersistentVolumeClaim", [])}
for where, job in by_kind.get("Job", []):
    spec = job["spec"]
    pod = spec["template"]["spec"]
    if pod.get("restartPolicy") != "Never":
        problems.append("%s: restartPolicy must be Never (a restarted shard starts late)" % where)
    if spec.get("backoffLimit") != 0:
        problems.append("%s: backoffLimit must be 0" % where)
    env = {}
    for c in pod["containers"]:
        for ef in c.get("envFrom", []):
            name = ef.get("configMapRef", {}).get("name")
            if name not in cms:
                problems.append("%s: ConfigMap %s is not in these files" % (where, name))
            else:
                env.update(cms[name])
        cmd = " ".join(c.get("command", []) + c.get("args", []))
        for var in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", cmd):
            if var not in env and var != "JOB_COMPLETION_INDEX":
                problems.append("%s: $%s is not in the ConfigMap" % (where, var))
        if re.search(r'kneecap (run|find|streams|"\$COMMAND") ', cmd):
            if spec.get("completionMode") != "Indexed":
                problems.append("%s: completionMode must be Indexed" % where)
            n = env.get("SHARDS")
            if not n or spec.get("completions") != int(n) or spec.get("parallelism") != int(n):
                problems.append("%s: completions %s and parallelism %s must both be SHARDS %s"
                                % (where, spec.get("completions"), spec.get("parallelism"), n))
            for need in ('--shards "$SHARDS"', '--start-at "$START_AT"', "$JOB_COMPLETION_INDEX",
                         '--run-id "$RUN_ID"'):
                if need not in cmd:
                    problems.append("%s: the shard command lacks %s" % (where, need))
    for v in pod.get("volumes", []):
        claim = v.get("persistentVolumeClaim", {}).get("claimName")
        if claim and claim not in pvcs:
            problems.append("%s: claim %s is not in these files" % (where, claim))

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
