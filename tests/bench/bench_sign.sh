#!/usr/bin/env bash
# bench_sign.sh - what SigV4 signing adds per request (run by hand, never in
# CI): `kneecap run sagemaker:bench --endpoint-url EMULATOR` (signed) beside
# the same POSTs of the same JPEG pool to the emulator's invocation URL
# unsigned, open loop at BENCH_RATE (default 2000), native client.
#
#   tests/bench/bench_sign.sh [KNEECAP]     (default: builds build-bench, release)
#
# Prints CPU us/request of each (a BENCH_SECS run minus a 1 s run, pinned to
# BENCH_CLIENT_CPU, the emulator on BENCH_SERVER_CPU) and, under callgrind
# (BENCH_CALLGRIND=1, at BENCH_CG_RATE, default 300), instructions/request:
# the difference is the signing cost, which is paid once per body and
# second per worker (kc_engine_config.decorate_per_second).
. "$(dirname "$0")/lib.sh" "${1:-}"
RATE=${BENCH_RATE:-2000}
SECS=${BENCH_SECS:-5}
CCPU=${BENCH_CLIENT_CPU:-0}
SCPU=${BENCH_SERVER_CPU:-1}
PY=/usr/bin/python3
TMP=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
export AWS_ACCESS_KEY_ID=AKIDBENCHBENCHBENCH AWS_SECRET_ACCESS_KEY=benchSecretNotReal0123456789
export AWS_CONFIG_FILE="$TMP/none" AWS_SHARED_CREDENTIALS_FILE="$TMP/none"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
taskset -c "$SCPU" "$KNEECAP" serve --listen 127.0.0.1:0 --service-time 1ms --slots 64 \
	--cpu-decode off >"$TMP/serve.out" 2>"$TMP/serve.err" &
spid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/serve.out" 2>/dev/null)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "emulator did not start"; cat "$TMP/serve.err"; exit 1; }
EP="http://127.0.0.1:$port"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$KNEECAP" --version)"

# run NAME SECS RATE [prefix...]: prints "completed cpu_s"
run() {
	local name=$1 secs=$2 rate=$3; shift 3
	local target=(sagemaker:bench --endpoint-url "$EP")
	[ "$name" = unsigned ] && target=("$EP/endpoints/bench/invocations" --payload jpeg)
	/usr/bin/time -f "%U %S" -o "$TMP/t" "$@" "$KNEECAP" run "${target[@]}" --rate "$rate" \
		--threads 1 --connections 16 --duration "${secs}s" --json --quiet >"$TMP/k.json" 2>"$TMP/k.err" \
		|| { cat "$TMP/k.err" >&2; return 1; }
	echo "$($PY -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][0]; print(s["completed"], s["ok"])' "$TMP/k.json") $(awk '{print $1+$2}' "$TMP/t")"
}
echo "== open loop $RATE rps, 16 connections: CPU us/request (${SECS}s run minus 1s run)"
for name in unsigned signed; do
	read -r n1 o1 c1 < <(run "$name" 1 "$RATE" taskset -c "$CCPU")
	read -r n5 o5 c5 < <(run "$name" "$SECS" "$RATE" taskset -c "$CCPU")
	$PY -c "print('%-8s %6.2f us/request (ok %d of %d)' % ('$name', ($c5-$c1)*1e6/max($n5-$n1,1), $o5, $n5))"
done
if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
	CG=${BENCH_CG_RATE:-300}
	echo "== callgrind at $CG rps: instructions/request (3s run minus 1s run)"
	for name in unsigned signed; do
		for d in 1 3; do
			read -r n o c < <(run "$name" "$d" "$CG" valgrind --tool=callgrind \
				--callgrind-out-file="$TMP/cg.$name.$d")
			echo "$n" >"$TMP/n.$name.$d"
		done
		$PY - "$TMP" "$name" <<'PYEOF'
import re, sys
d, name = sys.argv[1:]
def ir(x):
    for line in open("%s/cg.%s.%s" % (d, name, x)):
        m = re.match(r"^(summary|totals): (\d+)", line)
        if m:
            return int(m.group(2))
n1, n3 = (int(open("%s/n.%s.%s" % (d, name, x)).read()) for x in (1, 3))
print("%-8s %7.0f instructions/request (%d and %d requests)" % (name, (ir(3) - ir(1)) / max(n3 - n1, 1), n1, n3))
PYEOF
	done
fi
