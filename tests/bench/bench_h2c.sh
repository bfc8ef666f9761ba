#!/usr/bin/env bash
# bench_h2c.sh - kneecap's h2c unary path (src/engine/h2unary.c, nghttp2)
# side by side with h2load against one nghttpd --no-tls on loopback (run by
# hand, never in CI).
#
#   tests/bench/bench_h2c.sh [KNEECAP]     (default: builds build-bench, release)
#
# Closed loop with equal shape: h2load -t1 -cC -mM and kneecap --http h2c
# --concurrency C*M --threads 1 --connections C --streams M, each pinned with
# taskset to the same core (nghttpd, one thread, on another), several
# alternating rounds; prints requests/s of each and the ratio kneecap/h2load.
# Env: BENCH_CONNS (default 4), BENCH_STREAMS (8), BENCH_SECS (5),
# BENCH_ROUNDS (3), BENCH_CLIENT_CPU (0), BENCH_SERVER_CPU (1).
set -u
cd "$(dirname "$0")/../.."
root=$PWD
KNEECAP=${1:-}
if [ -z "$KNEECAP" ]; then
	[ -f build-bench/build.ninja ] || meson setup build-bench --buildtype=release >/dev/null || exit 1
	ninja -C build-bench -j2 kneecap >/dev/null || exit 1
	KNEECAP=$root/build-bench/kneecap
fi
C=${BENCH_CONNS:-4}
M=${BENCH_STREAMS:-8}
SECS=${BENCH_SECS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3
command -v h2load >/dev/null || { echo "h2load not installed (scripts/setup: nghttp2-client)"; exit 1; }
command -v nghttpd >/dev/null || { echo "nghttpd not installed (scripts/setup: nghttp2-server)"; exit 1; }

TMP=$(mktemp -d)
ngpid=
trap '[ -n "$ngpid" ] && kill $ngpid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/docs"
printf 'ok' >"$TMP/docs/index.html"
taskset -c "$SCPU" nghttpd --no-tls -a 127.0.0.1 -d "$TMP/docs" "$port" >/dev/null 2>&1 &
ngpid=$!
sleep 0.5
URL="http://127.0.0.1:$port/index.html"
N=$((C * M))
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); client cpu $CCPU, nghttpd cpu $SCPU"
echo "# $("$KNEECAP" --version), $(h2load --version 2>&1 | head -1)"

echo "== closed loop h2c, $C connections x $M streams ($N outstanding), ${SECS}s, $ROUNDS rounds (requests/s)"
sum_k=0 sum_h=0
for r in $(seq "$ROUNDS"); do
	h=$(taskset -c "$CCPU" h2load -t1 -c"$C" -m"$M" -D"$SECS" "$URL" 2>/dev/null |
		awk '/^finished in/ {print $4}')
	k=$(taskset -c "$CCPU" "$KNEECAP" run "$URL" --http h2c --concurrency "$N" --threads 1 \
		--connections "$C" --streams "$M" --duration "${SECS}s" --json --quiet |
		$PY -c 'import json,sys; s=json.load(sys.stdin)["steps"][0]; print(s["achieved"] if s["errors"] == 0 else 0)')
	printf "round %d: h2load %10.0f   kneecap %10.0f   ratio %.3f\n" "$r" "$h" "$k" "$($PY -c "print($k/$h)")"
	sum_k=$($PY -c "print($sum_k+$k)"); sum_h=$($PY -c "print($sum_h+$h)")
done
printf "mean:    h2load %10.0f   kneecap %10.0f   ratio kneecap/h2load %.3f\n" \
	"$($PY -c "print($sum_h/$ROUNDS)")" "$($PY -c "print($sum_k/$ROUNDS)")" "$($PY -c "print($sum_k/$sum_h)")"
