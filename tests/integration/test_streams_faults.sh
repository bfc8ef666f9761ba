#!/usr/bin/env bash
# test_streams_faults.sh - a stream reset, a corrupt reply (bad CRC) and a
# GOAWAY that drops the connection, all injected by the emulator during one
# `kneecap streams` step: the run completes, each fault is counted in its
# class, the streams are reopened, and nothing crashes.
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
json_get() { "$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

out="$TMP/f"
timeout 120 "$KNEECAP" streams "$KC_SRCDIR/tests/integration/data/streams-faults.ini" \
	--start 4 --max 4 --step-duration 2s --warmup 0 --out "$out" -q >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then ok "the run completes (exit $rc)"; else
	fail "exit $rc"; sed 's/^/    /' "$TMP/err" | head; fi
[ -s "$out/result.json" ] && ok "result.json written" || { fail "no result.json"; done_testing; exit; }
first='d["steps"][0]'
reset=$(json_get "$out/result.json" "$first[\"error_classes\"].get(\"reset\", 0)")
proto=$(json_get "$out/result.json" "$first[\"error_classes\"].get(\"proto\", 0)")
goaway=$(json_get "$out/result.json" 'd["streams"]["steps"][0]["goaways"]')
reopen=$(json_get "$out/result.json" 'd["streams"]["steps"][0]["reopened"]')
conns=$(json_get "$out/result.json" 'd["streams"]["steps"][0]["connections"]')
inj=$(json_get "$out/result.json" '[d["streams"]["emulator"][k] for k in ("resets_injected","corrupted_injected","goaways_injected")]')
ok_replies=$(json_get "$out/result.json" "$first[\"ok\"]")
[ "$inj" = "[1, 1, 1]" ] && ok "the emulator injected each fault once" || fail "injected $inj"
[ "${reset:-0}" -ge 2 ] && ok "resets counted ($reset: the reset stream and the dropped connection)" || fail "reset count '$reset'"
[ "${proto:-0}" -ge 1 ] && ok "the corrupt frame is counted as proto ($proto)" || fail "proto count '$proto'"
[ "${goaway:-0}" -ge 1 ] && ok "GOAWAY seen ($goaway)" || fail "goaways '$goaway'"
[ "${conns:-0}" -ge 2 ] && ok "reconnected after GOAWAY ($conns connections)" || fail "connections '$conns'"
[ "${reopen:-0}" -ge 3 ] && ok "streams reopened ($reopen)" || fail "reopened '$reopen'"
[ "${ok_replies:-0}" -ge 40 ] && ok "replies kept flowing ($ok_replies)" || fail "only '$ok_replies' replies"
done_testing
