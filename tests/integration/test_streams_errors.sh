#!/usr/bin/env bash
# test_streams_errors.sh - every bidirectional-stream error shape the
# emulator injects (stream_fault_error: the restJson1 errors before the
# stream and the exception events inside it) lands in its class in one
# `kneecap streams` step, with the error type, ErrorCode and message kept
# in result.json's error_samples.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

out="$TMP/e"
timeout 60 "$KNEECAP" streams "$KC_SRCDIR/tests/integration/data/streams-errors.ini" \
	--start 4 --max 4 --step-duration 1s --warmup 0 --out "$out" -q >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then ok "the run completes (exit $rc)"; else
	fail "exit $rc"; sed 's/^/    /' "$TMP/err" | head; fi
[ -s "$out/result.json" ] || { fail "no result.json"; done_testing; exit; }

# class of each injected shape, and what its sample must say
"$py" - "$out/result.json" >"$TMP/check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["steps"][0]
ec = s["error_classes"]
samples = s.get("error_samples", [])
want = [  # (class, status, code, ErrorCode or None)
    ("http4xx", 400, "InputValidationError", "InputValidationError"),
    ("model", 424, "ModelError", "ModelError"),
    ("http5xx", 500, "InternalServerError", None),
    ("http5xx", 503, "ServiceUnavailableError", None),
    ("throttle", 400, "ThrottlingException", None),
    ("throttle", 429, "ThrottlingException", None),
    ("model_stream", 200, "ModelStreamError", "ModelInvocationTimeExceeded"),
    ("internal_stream", 200, "InternalStreamFailure", None),
]
bad = 0
for cls, status, code, errcode in want:
    hit = [x for x in samples if x["class"] == cls and x["status"] == status and x["code"] == code]
    if not hit:
        print("not ok: no %s sample with status %d and code %s" % (cls, status, code)); bad += 1
    elif errcode and hit[0].get("error_code") != errcode:
        print("not ok: %s sample ErrorCode %r, want %r" % (code, hit[0].get("error_code"), errcode)); bad += 1
    elif "injected" not in hit[0]["message"]:
        print("not ok: %s sample message %r" % (code, hit[0]["message"])); bad += 1
    else:
        print("ok: %s -> %s%s" % (code, cls, " (ErrorCode %s)" % errcode if errcode else ""))
counts = {"http4xx": 1, "model": 1, "http5xx": 2, "throttle": 2, "model_stream": 1, "internal_stream": 1}
for k, n in counts.items():
    if ec.get(k, 0) != n:
        print("not ok: %s count %s, want %d" % (k, ec.get(k), n)); bad += 1
if ec.get("stream", 0) or ec.get("proto", 0) or ec.get("auth", 0):
    print("not ok: misclassified: %r" % ec); bad += 1
inj = d["streams"]["emulator"]["errors_injected"]
if inj != 8:
    print("not ok: emulator injected %s, want 8" % inj); bad += 1
sys.exit(1 if bad else 0)
PY
if [ $? = 0 ]; then ok "each error shape in its class, samples carry code and ErrorCode"; else
	fail "error classes or samples"; fi
sed 's/^/    /' "$TMP/check"
done_testing
