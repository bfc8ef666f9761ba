# emu_lib.sh - starting and stopping `kneecap serve` in the integration
# tests (sourced after lib.sh).  Every emulator listens on 127.0.0.1 port 0
# and is killed by the EXIT trap, whatever happens.
PY=/usr/bin/python3
LOAD="$(dirname "$0")/emu_load.py"
EMU_PIDS=""
trap 'for p in $EMU_PIDS; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

# start_emu NAME ARGS...: starts `kneecap serve ARGS` and sets PORT and PID;
# its stdout/stderr go to $TMP/NAME.out / .err.  Fails the test on no port.
start_emu() {
	local name=$1; shift
	# Emptied here, not only by the child's redirection: the loop below
	# could otherwise read the port of an earlier emulator of this name
	# and signal the new one before it blocks SIGTERM (exit 143).
	: >"$TMP/$name.out"
	"$KNEECAP" serve --listen 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PID=$!
	EMU_PIDS="$EMU_PIDS $PID"
	PORT=""
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.out" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "$name: emulator did not start"; sed 's/^/    /' "$TMP/$name.err" | head -5
	return 1
}

# stop_emu: SIGTERM the last started emulator; checks it exits 0 in time.
stop_emu() {
	kill -TERM "$PID" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PID" 2>/dev/null; then
		fail "emulator $PID did not stop on SIGTERM"; kill -9 "$PID"
	fi
	wait "$PID" 2>/dev/null
	local rc=$?
	[ "$rc" = 0 ] || fail "emulator exited $rc after SIGTERM"
}

# stat_field FIELD: one numeric field of GET /emulator/stats.
stat_field() {
	$PY "$LOAD" stats "$PORT" | $PY -c "import json,sys; print(json.load(sys.stdin)$1)"
}

# within VALUE WANT PCT: true when |VALUE - WANT| <= PCT% of WANT.
within() {
	$PY -c "import sys; v,w,p=map(float,sys.argv[1:]); sys.exit(0 if abs(v-w)<=w*p/100 else 1)" "$@"
}

# make_jpeg PATH W H: a deterministic test JPEG (PIL).
make_jpeg() {
	$PY - "$@" <<'PYEOF'
import sys
from PIL import Image
w, h = int(sys.argv[2]), int(sys.argv[3])
im = Image.new("RGB", (w, h))
im.putdata([((x * 7) % 256, (y * 3) % 256, (x * y) % 256) for y in range(h) for x in range(w)])
im.save(sys.argv[1], quality=85)
PYEOF
}

# h2_port NAME: sets H2PORT from the "HTTP/2 (...) on URL" line of an
# emulator started with --h2-listen (start_emu waited for its output).
h2_port() {
	H2PORT=$(sed -n 's/^HTTP\/2 .* on https\{0,1\}:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/$1.out")
	[ -n "$H2PORT" ] || { fail "$1: no HTTP/2 port printed"; return 1; }
}
