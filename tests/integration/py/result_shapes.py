#!/usr/bin/env python3
"""result_shapes.py FIND.json STREAMS.json - streams' result.json has find's shapes.

Issue #17: `streams` writes the same search{}, knee{}, recommendation{} and
per-step verdict{} as `find`.  Every key find writes in those blocks must be
in streams' too, with the same JSON type (numbers are one type; null matches
anything, since a figure can be unset in one run and set in another).
Streams-only keys are allowed.  Prints each difference; exits 1 if any.
"""
import json
import sys


def kind(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def compare(a, b, path, out):
    ka, kb = kind(a), kind(b)
    if ka is None or kb is None:
        return
    if ka != kb:
        out.append(f"{path}: find has {ka}, streams {kb}")
    elif ka == "dict":
        for k, v in a.items():
            if k not in b:
                out.append(f"{path}.{k}: in find, missing in streams")
            else:
                compare(v, b[k], f"{path}.{k}", out)
    elif ka == "list" and a and b:
        for i, v in enumerate(a):
            compare(v, b[i % len(b)], f"{path}[{i}]", out)


def main(fpath, spath):
    with open(fpath) as fh:
        f = json.load(fh)
    with open(spath) as fh:
        s = json.load(fh)
    out = []
    for block in ("search", "knee", "recommendation"):
        if block not in f:
            out.append(f"{block}: not in find's result (nothing to compare)")
        elif block not in s:
            out.append(f"{block}: in find, missing in streams")
        else:
            compare(f[block], s[block], block, out)
    fsteps, ssteps = f.get("steps") or [], s.get("steps") or []
    if not fsteps or not ssteps:
        out.append("steps: empty in find or streams")
    for i, st in enumerate(ssteps):
        if "verdict" not in st:
            out.append(f"steps[{i}].verdict: missing in streams")
    for i, st in enumerate(fsteps):
        if "verdict" in st and ssteps:
            compare(st["verdict"], ssteps[i % len(ssteps)].get("verdict"),
                    f"steps[{i}].verdict", out)
    for line in out:
        print(line)
    if not out:
        print("search, knee, recommendation and step verdicts have find's shapes")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
