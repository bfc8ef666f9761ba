#!/usr/bin/env bash
# test_serve_h2_capacity.sh - the emulator's capacity is real over HTTP/2
# too: h2load (closed loop, enough concurrent streams to keep every slot
# busy), POSTing a JPEG from `kneecap payload`, measures throughput within
# +-5% of nominal for 200 and 1,000 RPS profiles over h2c and 200 RPS over
# TLS, without errors; and
# HTTP/1.1 and HTTP/2 load together share the one capacity.  The sibling of
# test_serve_capacity.sh (wrk, HTTP/1.1).  About 25 s.  Loopback only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu_lib.sh"

"$KNEECAP" payload --count 1 --out "$TMP/pl" --width 256 --height 192 >/dev/null \
	|| { fail "kneecap payload"; done_testing; exit 1; }
IMG="$TMP/pl/img-0000.jpg"

# h2rps OUTFILE: the req/s figure of an h2load run.
h2rps() { sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' "$1"; }

# capacity SCHEME NOMINAL STREAMS ARGS...: h2load for 4 s (after 1 s of
# warm-up) with 4 connections x STREAMS concurrent streams; SCHEME http is
# h2c, https is TLS with ALPN h2 (h2load does not check the certificate).
capacity() {
	local scheme=$1 want=$2 streams=$3; shift 3
	local tag="$scheme$want"
	start_emu "h2cap$tag" --h2-listen 127.0.0.1:0 "$@" || return
	h2_port "h2cap$tag" || return
	expect_grep "^nominal capacity: $want\.0 RPS" "$TMP/h2cap$tag.out" "$want RPS profile"
	h2load --warm-up-time=1 -D 4 -c 4 -m "$streams" -t 1 -d "$IMG" \
		-H 'content-type: image/jpeg' \
		"$scheme://127.0.0.1:$H2PORT/endpoints/tagger/invocations" >"$TMP/h2load$want" 2>&1
	local got
	got=$(h2rps "$TMP/h2load$want")
	if [ -n "$got" ] && within "$got" "$want" 5; then
		ok "h2load measures $got RPS over $scheme (HTTP/2) for a $want RPS profile (+-5%)"
	else
		fail "h2load measured '${got}' RPS for a $want RPS profile"; sed 's/^/    /' "$TMP/h2load$want"
	fi
	grep -qE '^status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx' "$TMP/h2load$want" \
		&& grep -qE ' 0 failed, 0 errored' "$TMP/h2load$want" \
		&& ok "no errors at capacity over HTTP/2" || fail "errors under HTTP/2 load: $(grep -E '^(requests|status)' "$TMP/h2load$want")"
	stop_emu
}
# Streams: a few times the slots, so the queue never runs dry.
capacity http 200 10 --slots 4 --service-time 20ms --cpu-decode scaled
capacity http 1000 40 --slots 10 --service-time 10ms --cpu-decode header
capacity https 200 10 --slots 4 --service-time 20ms --cpu-decode scaled --h2-mode tls

# Both faces at once against one 200 RPS model: their sum is the capacity.
start_emu both --h2-listen 127.0.0.1:0 --slots 4 --service-time 20ms --cpu-decode header || { done_testing; exit 1; }
h2_port both
cat >"$TMP/post.lua" <<LUA
local f = io.open("$IMG", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
LUA
wrk -t1 -c20 -d4s -s "$TMP/post.lua" "http://127.0.0.1:$PORT/endpoints/tagger/invocations" >"$TMP/wrkboth" 2>&1 &
WP=$!
h2load -D 4 -c 2 -m 10 -t 1 -d "$IMG" "http://127.0.0.1:$H2PORT/endpoints/tagger/invocations" >"$TMP/h2both" 2>&1
wait $WP
h1=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wrkboth")
h2=$(h2rps "$TMP/h2both")
sum=$($PY -c "print(float('${h1:-0}') + float('${h2:-0}'))")
$PY -c "import sys; sys.exit(0 if float('${h1:-0}') > 20 and float('${h2:-0}') > 20 else 1)" \
	&& within "$sum" 200 7 && ok "HTTP/1.1 ($h1) + HTTP/2 ($h2) = $sum RPS: one shared 200 RPS capacity" \
	|| fail "HTTP/1.1 $h1 + HTTP/2 $h2 = $sum RPS, wanted 200 shared"
stop_emu

done_testing
