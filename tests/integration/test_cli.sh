#!/usr/bin/env bash
# test_cli.sh - the command-line contract: help, version, dispatch, exit codes.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "--help exits 0" "$KNEECAP" --help
expect_grep '^usage: kneecap COMMAND' "$TMP/out" "--help prints usage on stdout"
expect_rc 0 "--version exits 0" "$KNEECAP" --version
expect_grep '^kneecap [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out" "--version prints the version"
expect_rc 2 "no command is a usage error" "$KNEECAP"
expect_rc 2 "unknown command is a usage error" "$KNEECAP" frobnicate
expect_grep "unknown command 'frobnicate'" "$TMP/err" "unknown command is named"
for c in find run streams plan report serve payload pools; do
	expect_rc 0 "$c --help exits 0" "$KNEECAP" "$c" --help
	expect_grep "^usage: kneecap $c" "$TMP/out" "$c --help prints its usage"
done

# One option set (#15, #17): `help CMD` is `CMD --help`; each shows defaults and examples.
for c in run find streams plan report serve payload pools; do
	"$KNEECAP" "$c" --help >"$TMP/h1" 2>&1
	"$KNEECAP" help "$c" >"$TMP/h2" 2>&1
	cmp -s "$TMP/h1" "$TMP/h2" && ok "kneecap help $c equals kneecap $c --help" ||
		fail "kneecap help $c differs from kneecap $c --help"
	expect_grep 'default' "$TMP/h1" "$c --help shows defaults"
	expect_grep '^Examples:' "$TMP/h1" "$c --help has Examples"
	n=$(grep -c '^  kneecap '"$c"' ' "$TMP/h1")
	[ "$n" -ge 2 ] && ok "$c --help has two examples" || fail "$c --help has $n examples"
done
expect_rc 2 "help of an unknown command is a usage error" "$KNEECAP" help frobnicate

# A bare duration is one error, in the same words, in every command.
U=http://127.0.0.1:9/
expect_rc 2 "run --warmup 5 is a usage error" "$KNEECAP" run "$U" --rate 10 --warmup 5
sed 's/^kneecap: run: //' "$TMP/err" >"$TMP/e_run"
expect_rc 2 "find --warmup 5 is a usage error" "$KNEECAP" find "$U" --warmup 5
sed 's/^kneecap: find: //' "$TMP/err" >"$TMP/e_find"
expect_rc 2 "streams --warmup 5 is a usage error" "$KNEECAP" streams "$U" --warmup 5
sed 's/^kneecap: streams: //' "$TMP/err" >"$TMP/e_streams"
expect_grep "^--warmup '5': a duration needs a unit \(5s, 500ms\)$" "$TMP/e_run" \
	"run: bare --warmup names the missing unit"
cmp -s "$TMP/e_run" "$TMP/e_find" && cmp -s "$TMP/e_run" "$TMP/e_streams" &&
	ok "bare --warmup: the same error in run, find and streams" ||
	fail "bare --warmup errors differ: $(cat "$TMP/e_run" "$TMP/e_find" "$TMP/e_streams")"
# merge takes no --warmup (a usage error); its one duration flag, --slo,
# refuses a bare number in find's words.
expect_rc 2 "merge --warmup 5 is a usage error" "$KNEECAP" merge "$TMP" --out "$TMP/m" --warmup 5
expect_rc 2 "find --slo 5 is a usage error" "$KNEECAP" find "$U" --slo 5
sed 's/^kneecap: find: //' "$TMP/err" >"$TMP/e_find_slo"
expect_rc 2 "merge --slo 5 is a usage error" "$KNEECAP" merge "$TMP" --out "$TMP/m" --slo 5
sed 's/^kneecap: merge: //' "$TMP/err" >"$TMP/e_merge_slo"
cmp -s "$TMP/e_find_slo" "$TMP/e_merge_slo" &&
	ok "bare --slo: the same error in find and merge" ||
	fail "bare --slo errors differ: $(cat "$TMP/e_find_slo" "$TMP/e_merge_slo")"
# ... and in a scenario file: file, line and key.
printf '[search]\nstart = 10\nwarmup = 5\n' >"$TMP/bare.ini"
expect_rc 2 "find: a bare duration in a scenario is a usage error" "$KNEECAP" find "$TMP/bare.ini" "$U"
expect_grep "bare.ini:3: warmup: '5': a duration needs a unit" "$TMP/err" \
	"find: a bare scenario duration names file:line:key"
printf '[streams]\nchunk_bytes = 1600\nchunk_interval = 50\n' >"$TMP/bare-streams.ini"
expect_rc 2 "streams: a bare duration in a scenario is a usage error" "$KNEECAP" streams "$TMP/bare-streams.ini"
expect_grep "bare-streams.ini:3: chunk_interval: '50': a duration needs a unit" "$TMP/err" \
	"streams: a bare scenario duration names file:line:key"
# Options a command does not take are refused with the reason.
expect_rc 2 "streams --method is refused" "$KNEECAP" streams "$U" --method PUT
expect_grep "streams: --method does not apply: .*POST" "$TMP/err" "streams --method says why"
expect_rc 2 "run --rate above the one rate ceiling" "$KNEECAP" run "$U" --rate 20000000
expect_grep "at most 10000000 requests per second" "$TMP/err" "run names the rate ceiling"

# find takes run's request options, and they reach the wire.
SERVER="$KC_SRCDIR/tests/integration/helpers/loop_server.py"
/usr/bin/python3 "$SERVER" "$TMP/pf" ok --record "$TMP/rec" --max-s 60 >/dev/null 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/pf" ] && break; sleep 0.05; done
port=$(cat "$TMP/pf")
expect_rc 0 "find -H 'X-A: b' --method PUT is accepted" timeout 60 "$KNEECAP" find \
	"http://127.0.0.1:$port/x" -H 'X-A: b' --method PUT --start 5 --max 10 \
	--step-duration 1s --warmup 0s --max-steps 2 --threads 1 -q
expect_grep '^PUT /x$' "$TMP/rec" "find --method PUT reaches the wire"
expect_grep '^X-A: b$' "$TMP/rec" "find -H 'X-A: b' reaches the wire"
kill $spid 2>/dev/null; wait $spid 2>/dev/null

# streams takes -H too: the emulator counts streams that carry the invocation-path header.
expect_rc 0 "streams -H is accepted" timeout 60 "$KNEECAP" streams --start 1 --max 1 \
	--step-duration 1s --warmup 300ms -H 'X-Amzn-SageMaker-Model-Invocation-Path: v1/listen' \
	--json -q
/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["streams"]["emulator"]
sys.exit(0 if e["invocation_paths"] >= 1 and e["bad_signatures"] == 0 else 1)' "$TMP/out" &&
	ok "streams -H reaches the wire (signed)" || fail "streams -H did not reach the emulator"
done_testing
