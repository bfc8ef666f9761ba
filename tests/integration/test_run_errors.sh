#!/usr/bin/env bash
# test_run_errors.sh - `kneecap run` on bad input and unreachable or hostile
# targets: each a one-line error and exit 2 (usage/input) or 3 (unreachable);
# a server that closes every connection is a completed run with its errors
# counted.  Loopback only; every run is bounded by `timeout`.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SERVER="$KC_SRCDIR/tests/integration/helpers/loop_server.py"
spid=
trap '[ -n "$spid" ] && { kill $spid 2>/dev/null; wait $spid 2>/dev/null; }; rm -rf "$TMP"' EXIT

# A port nothing listens on: bind one, note it, let it go.
closed=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
one_line() { [ "$(err_lines)" = 1 ] && ok "$1: one line" || { fail "$1: one line"; cat "$TMP/err"; }; }

expect_rc 3 "refused connection exits 3" timeout 20 "$KNEECAP" run "http://127.0.0.1:$closed/" --rate 10 --duration 1s
expect_grep "cannot connect to 127.0.0.1:$closed" "$TMP/err" "refused connection is named"
one_line "refused connection"

U="http://127.0.0.1:$closed/"
bad() { # description, args...
	local desc=$1; shift
	expect_rc 2 "$desc exits 2" timeout 20 "$KNEECAP" run "$@"
	one_line "$desc"
}
bad "--rate 0" "$U" --rate 0
expect_grep "rate '0': must be > 0" "$TMP/err" "--rate 0 says why"
bad "negative rate" "$U" --rate -5
bad "non-numeric rate" "$U" --rate fast
bad "absurd rate" "$U" --rate 1e12
bad "negative duration" "$U" --rate 10 --duration -1s
bad "zero threads" "$U" --rate 10 --threads 0
bad "absurd connections" "$U" --rate 10 --connections 99999999
bad "zero timeout" "$U" --rate 10 --timeout 0
bad "bad ramp" "$U" --ramp 10:5:1
bad "two load modes" "$U" --rate 10 --concurrency 2
bad "bad linear" "$U" --linear 0:100
bad "rate with linear" "$U" --rate 5 --linear 1:100
bad "no load mode" "$U"
bad "no target" --rate 10
bad "bad URL" "http://" --rate 10
bad "not a URL" "notaurl" --rate 10
bad "bad scheme" "ftp://127.0.0.1/" --rate 10
bad "bad arrival" "$U" --rate 10 --arrival gaussian
bad "missing body file" "$U" --rate 10 --body "$TMP/nope"
bad "bad header" "$U" --rate 10 -H "NoColon"
bad "unknown payload" "$U" --rate 10 --payload png
bad "missing payload dir" "$U" --rate 10 --payload-dir "$TMP/nope"
bad "two body sources" "$U" --rate 10 --payload jpeg --body "$TMP/nope"
bad "unknown option" "$U" --rate 10 --frobnicate
bad "missing option value" "$U" --rate
bad "bad --http" "$U" --rate 10 --http 3

# A server that accepts and closes every connection: the run completes.
$PY "$SERVER" "$TMP/pf" close --max-s 60 >/dev/null 2>&1 &
spid=$!
for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
port=$(cat "$TMP/pf")
expect_rc 1 "closing server: run completes (exit 1: error rate)" timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/" \
	--rate 100 --duration 1s --threads 1 --json --quiet
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
print(s["errors"], s["error_classes"]["reset"], s["ok"])
sys.exit(0 if s["errors"] == 100 and s["error_classes"]["reset"] == 100 and s["ok"] == 0 else 1)' \
	"$TMP/out" && ok "closing server: every request counted as a reset" || fail "closing server accounting"

# A server that never answers: every request times out, the run still ends.
$PY "$SERVER" "$TMP/pf2" hang --max-s 60 >/dev/null 2>&1 &
hpid=$!
for _ in $(seq 100); do [ -s "$TMP/pf2" ] && break; sleep 0.05; done
port=$(cat "$TMP/pf2")
t0=$(date +%s)
timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/" --rate 20 --duration 1s --threads 1 \
	--timeout 500ms --json --quiet >"$TMP/out" 2>"$TMP/err"
rc=$?
kill $hpid 2>/dev/null; wait $hpid 2>/dev/null
[ $rc = 1 ] && ok "silent server: run completes (exit 1: error rate)" || { fail "silent server: exit $rc"; cat "$TMP/err"; }
[ $(( $(date +%s) - t0 )) -le 6 ] && ok "silent server: bounded by the timeout" || fail "silent server took too long"
$PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]
sys.exit(0 if s["errors"] == 20 and s["error_classes"]["timeout"] == 20 and s["ok"] == 0 else 1)' \
	"$TMP/out" && ok "silent server: every request a timeout" || fail "silent server accounting"

done_testing
