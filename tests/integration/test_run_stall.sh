#!/usr/bin/env bash
# test_run_stall.sh - a server that stalls or answers malformed HTTP, and a
# generator asked for more than the machine allows (issue #14):
#   - stalled (accepts, reads, never answers): the run ends within duration +
#     timeout + 2 s and every arrival is an error (timeout or unfinished);
#   - SIGINT against the stall: what is outstanding is counted unfinished,
#     with its wait in the latency percentiles (HTTP/1.1 and h2c);
#   - the probe says it is probing and gives up on a silent server in <= 5 s;
#   - --threads 10 --connections 1000000 exits 2 naming ulimit -n, before
#     allocating (peak RSS < 50 MB);
#   - a header block cut by close, a bad chunk size, a 1 MiB header: proto.
# Loopback only; every server exits by itself and every run is bounded.
. "$(dirname "$0")/lib.sh"
export AWS_EC2_METADATA_DISABLED=true
PY=/usr/bin/python3
RAW="$KC_SRCDIR/tests/integration/helpers/raw_server.py"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# start_raw MODE: starts a raw server, sets $port.
start_raw() {
	rm -f "$TMP/pf"
	$PY "$RAW" "$TMP/pf" "$1" --max-s 90 >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
	port=$(cat "$TMP/pf")
}
now() { date +%s.%N; }
# keep FILE...: stderr kept for the sanitizer check at the end.
keep() { cat "$@" >>"$TMP/all.err" 2>/dev/null; }
elapsed() { $PY -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
# pycheck DESC FILE PYTHON: runs PYTHON with s = steps[0] of the result in FILE.
pycheck() {
	local desc=$1 file=$2 code=$3
	if $PY - "$file" <<EOF2 >"$TMP/py" 2>&1
import json, sys
d = json.load(open(sys.argv[1])); s = d["steps"][0]
$code
EOF2
	then ok "$desc"; else fail "$desc"; sed 's/^/    /' "$TMP/py"; fi
}

start_raw stall
U="http://127.0.0.1:$port/"

# --- the probe: announced, and bounded on a server that never answers ---
t0=$(now)
"$KNEECAP" run "$U" --rate 1 --duration 1s >"$TMP/probe.out" 2>"$TMP/probe.err" &
kp=$!
for _ in $(seq 160); do grep -q "starting the run" "$TMP/probe.err" && break; sleep 0.05; done
t1=$(now)
kill -TERM $kp 2>/dev/null; wait $kp 2>/dev/null
keep "$TMP/probe.err"
expect_grep "run: probing 127.0.0.1:$port \(up to 5s\)" "$TMP/probe.err" "probe: says it is probing, and for how long"
expect_grep "took the request but had not answered after 250ms" "$TMP/probe.err" \
	"probe: says the target did not answer (after 250 ms: the grace every run against it pays)"
took=$(elapsed "$t0" "$t1")
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 5.0 else 1)" "$took" \
	&& ok "probe: a silent server costs ${took}s (<= 5 s)" || fail "probe took ${took}s"
closed=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KNEECAP" run "http://127.0.0.1:$closed/" --rate 1 --duration 1s --quiet >/dev/null 2>"$TMP/err"
keep "$TMP/err"
! grep -q probing "$TMP/err" && ok "probe: --quiet does not announce it" || fail "--quiet still announces the probe"

# --- a stalled run ends within duration + timeout + 2 s, all of it errors ---
t0=$(now)
timeout 60 "$KNEECAP" run "$U" --rate 50 --duration 5s --timeout 3s --json --quiet \
	>"$TMP/stall.json" 2>"$TMP/err"
rc=$?
took=$(elapsed "$t0" "$(now)")
keep "$TMP/err"
[ $rc = 1 ] && ok "stall: the run completes (exit 1: every arrival an error)" || { fail "stall: exit $rc"; cat "$TMP/err"; }
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 10.0 else 1)" "$took" \
	&& ok "stall: ended in ${took}s (<= 5 s + 3 s + 2 s)" || fail "stall: took ${took}s"
pycheck "stall: every arrival an error, the unanswered ones unfinished" "$TMP/stall.json" '
ec = s["error_classes"]
print(s["scheduled"], s["ok"], s["errors"], ec["timeout"], s["unfinished"], ec["unfinished"])
assert s["scheduled"] >= 240 and s["ok"] == 0 and s["completed"] == 0
assert s["errors"] == s["scheduled"] == ec["timeout"] + s["unfinished"]
assert s["unfinished"] == ec["unfinished"] > 0
'
pycheck "stall: the unfinished waits are in the latency percentiles" "$TMP/stall.json" '
l = s["latency_ms"]; print(l)
assert l["count"] == s["unfinished"] and l["p99"] > 3000 and l["max"] < 9000
'

# --- SIGINT against the stall: outstanding requests counted, not dropped ---
sigint_run() { # desc, extra args...
	local desc=$1; shift
	local out="$TMP/out-$desc"
	"$KNEECAP" run "$U" --rate 50 --duration 30s --timeout 20s --out "$out" "$@" \
		>"$TMP/sig.out" 2>"$TMP/sig.err" &
	local kp=$!
	for _ in $(seq 160); do grep -q "starting the run" "$TMP/sig.err" && break; sleep 0.05; done
	sleep 3
	kill -INT $kp
	local t0
	t0=$(now)
	for _ in $(seq 100); do kill -0 $kp 2>/dev/null || break; sleep 0.05; done
	wait $kp
	local rc=$?
	keep "$TMP/sig.err"
	local took
	took=$(elapsed "$t0" "$(now)")
	$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$took" \
		&& ok "$desc SIGINT: stopped in ${took}s" || fail "$desc SIGINT: stopping took ${took}s"
	[ $rc = 130 ] && ok "$desc SIGINT: exit 130" || fail "$desc SIGINT: exit $rc, wanted 130"
	pycheck "$desc SIGINT: outstanding requests are unfinished errors" "$out/result.json" '
print(s["scheduled"], s["sent"], s["errors"], s["unfinished"], s["partial"], s["duration_s"])
assert d["partial"] and s["partial"] and s["ok"] == 0
assert s["scheduled"] >= 100 and s["unfinished"] == s["errors"] == s["scheduled"]
'
	pycheck "$desc SIGINT: p99 at least the stall's length" "$out/result.json" '
l = s["latency_ms"]; print(l, s["duration_s"])
assert l["count"] == s["unfinished"] and l["p99"] >= 0.95 * 1000 * s["duration_s"]
'
	$PY - "$out/steps.csv" "$out/result.json" <<'EOF2' && ok "$desc SIGINT: steps.csv has the unfinished column" || fail "$desc SIGINT: steps.csv unfinished"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
s = json.load(open(sys.argv[2]))["steps"][0]
sys.exit(0 if len(rows) == 1 and int(rows[0]["unfinished"]) == s["unfinished"] > 0 else 1)
EOF2
}
sigint_run http1
sigint_run h2c --http h2c

# --- more connections than the open-file limit: refused before allocating ---
# (a regression would build a million handles: cap it where sanitizers allow)
vcap=
ldd "$KNEECAP" 2>/dev/null | grep -q 'libasan\|libtsan' || vcap="ulimit -v 4000000;"
( eval "$vcap" ulimit -n 1024; exec /usr/bin/time -f %M -o "$TMP/rss" timeout 30 "$KNEECAP" run "$U" \
	--rate 10 --duration 1s --threads 10 --connections 1000000 ) >"$TMP/out" 2>"$TMP/err"
rc=$?
keep "$TMP/err"
[ $rc = 2 ] && ok "--connections 1000000: exit 2" || { fail "--connections 1000000: exit $rc"; head -3 "$TMP/err"; }
expect_grep "10 threads x 100000 connections = 1000000 connections, plus 72 kept for files and threads: 1000072 descriptors exceed the open-file limit 1024 \(ulimit -n\)" \
	"$TMP/err" "--connections 1000000: the message names the limit and the total with the reserve"
rss=$(tail -1 "$TMP/rss")
[ -n "$rss" ] && [ "$rss" -lt 50000 ] && ok "--connections 1000000: peak RSS ${rss} KB (< 50 MB)" \
	|| fail "--connections 1000000: peak RSS ${rss} KB"

# --- a low soft open-file limit under a higher hard one: raised, not refused ---
( ulimit -Sn 1024; ulimit -Hn 4096 2>/dev/null; exec timeout 30 "$KNEECAP" run "$U" --rate 10 \
	--duration 1s --timeout 1s --threads 50 --quiet ) >"$TMP/out" 2>"$TMP/err"
rc=$?
keep "$TMP/err"
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 4096 ]; then
	echo "# SKIP soft limit: the hard open-file limit is $(ulimit -Hn)"
else
	[ $rc = 1 ] && ! grep -q "open-file limit" "$TMP/err" &&
		ok "ulimit -Sn 1024 (hard 4096), --threads 50 (850+ descriptors): runs (soft limit raised)" ||
		{ fail "ulimit -Sn 1024, --threads 50: exit $rc"; head -3 "$TMP/err"; }
fi
# Neither --threads nor --connections: the defaults shrink to fit instead of refusing.
( ulimit -n 60; exec timeout 30 "$KNEECAP" run "$U" --rate 10 --duration 1s --timeout 1s \
	--json --quiet ) >"$TMP/fit.json" 2>"$TMP/err"
rc=$?
keep "$TMP/err"
[ $rc = 1 ] && ok "ulimit -n 60, default threads and connections: runs (exit 1, the stall)" ||
	{ fail "ulimit -n 60, defaults: exit $rc"; head -3 "$TMP/err"; }
pycheck "ulimit -n 60: the defaults shrank to fit" "$TMP/fit.json" '
c = d["config"]; print(c.get("threads"), c.get("connections_per_thread"), c.get("connections"))
t = c["threads"]; n = c.get("connections_per_thread", c.get("connections"))
assert 32 + t * 4 + t * n <= 60 and s["scheduled"] >= 9
'

# --- SIGINT while the probe waits on a black-holed connect: 130 at once ---
cat >"$TMP/bh.py" <<'EOF2'
import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = []  # a full accept queue: further SYNs are dropped, connects hang
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
open(sys.argv[1] + ".t", "w").write(str(s.getsockname()[1])); os.rename(sys.argv[1] + ".t", sys.argv[1])
time.sleep(30)
EOF2
$PY "$TMP/bh.py" "$TMP/bhport" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMP/bhport" ] && break; sleep 0.05; done
timeout 30 "$KNEECAP" run "http://127.0.0.1:$(cat "$TMP/bhport")/" --rate 10 --duration 2s \
	--threads 1 --out "$TMP/bh" >"$TMP/bh.out" 2>"$TMP/bh.err" &
kp=$!
for _ in $(seq 100); do grep -q "probing" "$TMP/bh.err" && break; sleep 0.05; done
sleep 0.5
kill -INT $kp
t0=$(now)
wait $kp
rc=$?
took=$(elapsed "$t0" "$(now)")
keep "$TMP/bh.err"
[ $rc = 130 ] && ok "SIGINT during a black-holed probe: exit 130" || { fail "SIGINT during the probe: exit $rc"; head -3 "$TMP/bh.err"; }
$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 1.5 else 1)" "$took" \
	&& ok "SIGINT during the probe: ended ${took}s after the signal (the connect timeout is 5 s)" \
	|| fail "SIGINT during the probe: ended ${took}s after the signal"
[ -s "$TMP/bh/result.json" ] &&
	$PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['partial'] and d['interrupted'] == 'SIGINT' else 1)" "$TMP/bh/result.json" &&
	ok "SIGINT during the probe: result.json partial, interrupted SIGINT" || fail "SIGINT during the probe: no partial result.json"

# --- malformed answers are protocol errors ---
for mode in cuthdr badchunk bighdr; do
	start_raw $mode
	timeout 30 "$KNEECAP" run "http://127.0.0.1:$port/" --rate 20 --duration 1s --threads 1 \
		--json --quiet >"$TMP/$mode.json" 2>"$TMP/err"
	keep "$TMP/err"
	pycheck "$mode: every request counted proto" "$TMP/$mode.json" '
print(s["ok"], s["errors"], s["error_classes"])
assert s["ok"] == 0 and s["errors"] == 20 and s["error_classes"]["proto"] == 20
'
done

# Under ASan/UBSan (CI), any report in any run's stderr fails the script.
! grep -q 'Sanitizer\|runtime error:' "$TMP/all.err" && ok "no sanitizer report" \
	|| { fail "sanitizer report"; grep -m5 'Sanitizer\|runtime error:' "$TMP/all.err"; }

done_testing
