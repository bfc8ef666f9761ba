#!/usr/bin/env bash
# test_find_accuracy.sh - `find` against emulator profiles whose capacity is
# known exactly: 50, 200 and 1,000 RPS on one instance, 200 per instance on
# two (the router's split; the other rates on two instances ran here until
# CI time called for fewer runs: nothing of theirs differs from one instance
# but the rate).  The knee per instance must land within -8%..+2% of nominal
# every time, and three repeated runs of one profile must spread by at most
# 5%.  Short steps keep it bounded (about 2 minutes, two searches at a time);
# loopback only.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

# knee INSTANCES SLOTS SERVICE START [EMULATOR-SEED]: prints the knee per
# instance and the reason.  With a seed, service times are lognormal (cv 0.2)
# drawn from it, so repeated runs see different service times.
knee() {
	local dist=(--service-dist fixed)
	[ -n "${5:-}" ] && dist=(--service-dist lognormal --service-cv 0.2 --set emulator.seed="$5")
	timeout 240 "$KNEECAP" find --set emulator.instances="$1" --instances "$1" \
		--slots "$2" --service-time "$3" "${dist[@]}" --cpu-decode off \
		--width 64 --height 64 --variety 4 --step-duration 3s --warmup 1s \
		--start "$4" --max 100000 --json -q 2>"$TMP/$name.err" |
		"$PY" -c 'import json,sys; d=json.load(sys.stdin); k=d["knee"]; print(k["per_instance"], k["reason"], len(d["steps"]))' 2>/dev/null
}
# The nine searches run two at a time (one per core; each is mostly waiting
# on its emulator's timers), then are judged in order.
measure() { # NAME INSTANCES SLOTS SERVICE START [EMULATOR-SEED]
	local name=$1; shift
	knee "$@" >"$TMP/$name.res" 2>/dev/null
}
check() { # NAME NOMINAL
	local name=$1 nom=$2 v reason n
	read -r v reason n <"$TMP/$name.res"
	if [ -z "${v:-}" ]; then fail "$name: no knee"; sed 's/^/    /' "$TMP/$name.err" | tail -3; return; fi
	if "$PY" -c "import sys; v,n=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if 0.92*n<=v<=1.02*n else 1)" "$v" "$nom"; then
		ok "$name: knee $v per instance (nominal $nom; $reason, $n steps)"
	else
		fail "$name: knee $v per instance outside -8%..+2% of $nom ($reason, $n steps)"
	fi
	case $name in 200rps-x1-random*) echo "$v" >>"$TMP/200rps-x1-random.knees" ;; esac
}
(
	measure "50rps-x1" 1 2 40ms 10
	measure "1000rps-x1" 1 10 10ms 200
	measure "200rps-x1-random1" 1 2 10ms 40 1
	measure "200rps-x1-random3" 1 2 10ms 40 3
) &
lane=$!
measure "200rps-x1" 1 2 10ms 40
measure "200rps-x2" 2 2 10ms 80
measure "200rps-x1-random2" 1 2 10ms 40 2
wait "$lane"
check "50rps-x1" 50
check "200rps-x1" 200
check "1000rps-x1" 1000
check "200rps-x2" 200
# Repeatability: three runs of the 200 RPS profile with random service times.
for seed in 1 2 3; do check "200rps-x1-random$seed" 200; done
if [ "$(wc -l <"$TMP/200rps-x1-random.knees")" = 3 ]; then
	spread=$("$PY" -c "import sys; v=[float(x) for x in open(sys.argv[1])]; print(round((max(v)-min(v))/min(v)*100, 2))" "$TMP/200rps-x1-random.knees")
	"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 5 else 1)" "$spread" &&
		ok "three runs of the 200 RPS profile (random service times) spread ${spread}%" ||
		fail "three runs spread ${spread}% (> 5%)"
fi
done_testing
