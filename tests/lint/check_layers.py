#!/usr/bin/env python3
"""check_layers.py [ROOT] - fail on an #include that breaks the layers.

The layers (DESIGN.md "Layers"), lowest first:
    util -> stats, aws, payload -> engine -> analysis -> report -> cli
and the emulator wing, which may use util, stats, aws and payload only.
A file in src/<layer>/ or a public header include/kneecap/<module>.h may include
  - a public header of its own layer or of a layer below (never above, never
    sideways: stats, aws and payload are siblings that do not include each
    other, and nothing but cli includes the emulator);
  - a private header (any .h under src/) of its own layer only.
Tests are not checked: a unit test may reach into the layer it tests (its
meson target names that layer's directory explicitly).
Exit 0 when clean, 1 with one line per offending include.
"""
import os
import re
import sys

# Which layers each layer may include (its own layer is always allowed).
BELOW = {
    "util": set(),
    "stats": {"util"},
    "aws": {"util"},
    "payload": {"util"},
    "engine": {"util", "stats", "aws", "payload"},
    # DESIGN.md: analysis is pure and never includes the engine.
    "analysis": {"util", "stats", "aws", "payload"},
    "report": {"util", "stats", "aws", "payload", "engine", "analysis"},
    "cli": {"util", "stats", "aws", "payload", "engine", "analysis", "report", "emulator"},
    "emulator": {"util", "stats", "aws", "payload"},
}

# Public headers without a source file of the same name in src/<layer>/;
# every other include/kneecap/X.h belongs to the layer that holds X.c.
HEADER_LAYER = {
    "engine.h": "engine",    # runner.c, worker.c, ...
    "emulator.h": "emulator",  # server.c, profile.c, ...
    "result.h": "report",    # json.c, csv.c
    "rng.h": "util",         # header only
}

# Known exceptions (header, included header), printed on every run; none
# today (sagemaker.h no longer includes step.h: the step classes of SageMaker
# errors are the engine's, errmap.c).
ALLOWED = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def header_layers(root):
    """Map each public header (relative path) to its layer; list the unmapped."""
    layers, errors = {}, []
    src = os.path.join(root, "src")
    for name in sorted(os.listdir(os.path.join(root, "include/kneecap"))):
        if not name.endswith(".h"):
            continue
        owners = [d for d in sorted(os.listdir(src))
                  if os.path.isfile(os.path.join(src, d, name[:-2] + ".c"))]
        layer = HEADER_LAYER.get(name)
        if layer is None and len(owners) == 1:
            layer = owners[0]
        if layer not in BELOW:
            errors.append(f"include/kneecap/{name}: no layer (sources: {owners or 'none'});"
                          " add it to HEADER_LAYER in tests/lint/check_layers.py")
            continue
        layers["include/kneecap/" + name] = layer
    return layers, errors


def resolve(root, path, quoted, target):
    """The included file as a path relative to root, or None (a system header)."""
    here = os.path.dirname(path)
    layer_dir = here if path.startswith("src/") else None
    # As the compiler looks: the file's own directory for "", then the
    # include directories (cfg_inc puts the source root there too); src/
    # last, to catch "engine/engine_int.h" spellings.
    for d in ([here] if quoted else []) + ["include", layer_dir, ".", "src"]:
        if d is not None:
            p = os.path.normpath(os.path.join(d, target))
            if os.path.isfile(os.path.join(root, p)):
                return p
    return None


def layer_of(path, public):
    if path in public:
        return public[path]
    parts = path.split("/")
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    return None


def main(root):
    public, errors = header_layers(root)
    files = sorted(public)
    for d in sorted(os.listdir(os.path.join(root, "src"))):
        if d not in BELOW:
            errors.append(f"src/{d}/: not a layer; add it to BELOW in tests/lint/check_layers.py")
            continue
        for f in sorted(os.listdir(os.path.join(root, "src", d))):
            if f.endswith((".c", ".h")):
                files.append(f"src/{d}/{f}")
    used = set()
    for path in files:
        me = layer_of(path, public)
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for m in INCLUDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            target = resolve(root, path, m.group(1) == '"', m.group(2))
            if target is None:
                if m.group(2).startswith("kneecap/"):
                    errors.append(f"{path}:{line}: {m.group(2)} does not exist")
                continue
            them = layer_of(target, public)
            if them is None or them == me and (target in public or target.startswith(f"src/{me}/")):
                continue
            if (path, target) in ALLOWED:
                used.add((path, target))
                continue
            if target not in public:
                errors.append(f"{path}:{line}: includes {target}, a private header of {them}")
            elif them not in BELOW[me]:
                errors.append(f"{path}:{line}: {me} includes {target} of {them}"
                              f" (a layer not below {me})")
    for a, b in sorted(ALLOWED):
        state = "allowed until removed" if (a, b) in used else "STALE: remove from ALLOWED"
        print(f"check_layers: known exception, {state}: {a} includes {b}")
        if (a, b) not in used:
            errors.append(f"ALLOWED lists {a} -> {b}, which is no longer there")
    print(f"check_layers: {len(files)} files, {len(public)} public headers")
    for e in errors:
        print("check_layers: " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
