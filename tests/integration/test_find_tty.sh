#!/usr/bin/env bash
# test_find_tty.sh - find's live progress line on a real terminal (a tmux
# pane of 100x30): at most one progress line on screen at any time, none left
# behind when steps end, never "0.00 ms", "—" until the first completion and
# "draining" after the window.  Loopback only; bounded (60 s of polling).
#
# The emulator answers after 2.5 s (64 slots, so 10 rps is well under its
# capacity): every step shows "—" for its first two seconds and drains for
# the last two, long enough for a 0.25 s capture loop to see both.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { fail "tmux is not installed (scripts/setup)"; done_testing; exit; }
SC="$KC_SRCDIR/scenarios/g5-xlarge-image-tagger.ini"
SOCK="kc-tty-$$"
tm() { tmux -L "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$TMP"' EXIT

{
	printf 'cd %q\n' "$TMP"
	printf 'AWS_EC2_METADATA_DISABLED=true %q find %q --service-time 2500ms --slots 64 ' "$KNEECAP" "$SC"
	printf -- '--start 10 --max 10 --arrival uniform --step-duration 3s --warmup 3s --out %q\n' "$TMP/out"
	printf 'echo "KC-DONE rc=$?"\nsleep 120\n'
} >"$TMP/run.sh"
tm -f /dev/null new-session -d -x 100 -y 30 "bash $TMP/run.sh" || { fail "tmux new-session"; done_testing; exit; }

# A progress line: its name, an optional warm-up mark, then "  offered ".
prog='(step [0-9]+|confirm)( \(warm-up\))?  offered '
max_on_screen=0 captures=0 zero_ms=0 dash_first=0 draining=0 done=0
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
	tm capture-pane -p >"$TMP/screen" 2>/dev/null || break
	captures=$((captures + 1))
	n=$(grep -cE "$prog" "$TMP/screen")
	[ "$n" -gt "$max_on_screen" ] && { max_on_screen=$n; cp "$TMP/screen" "$TMP/worst"; }
	grep -q '0\.00 ms' "$TMP/screen" && { zero_ms=1; cp "$TMP/screen" "$TMP/zero"; }
	grep -qE "$prog.*achieved —  p50 —  p99 —" "$TMP/screen" && dash_first=1
	grep -qE "$prog.*draining" "$TMP/screen" && draining=1
	# Joined (-J): a wrapped line comes back whole, longer than the pane.
	tm capture-pane -p -J 2>/dev/null | grep -E "$prog" >>"$TMP/progress_lines"
	if grep -q 'KC-DONE' "$TMP/screen"; then done=1; break; fi
	sleep 0.25
done
tm capture-pane -p -S - -J >"$TMP/final" 2>/dev/null
[ $done = 1 ] && ok "find finished in the pane ($captures captures)" || fail "find did not finish within 60 s"
grep -q 'KC-DONE rc=0' "$TMP/final" && ok "find exits 0" || { fail "find exit status"; tail -5 "$TMP/final" | sed 's/^/    /'; }
[ "$max_on_screen" -le 1 ] && ok "at most one progress line on screen at any time (max $max_on_screen)" ||
	{ fail "$max_on_screen progress lines on screen at once"; sed 's/^/    /' "$TMP/worst"; }
left=$(grep -cE "$prog" "$TMP/final")
[ "$left" = 0 ] && ok "no progress line left behind after the run" ||
	{ fail "$left stale progress lines left on screen"; grep -E "$prog" "$TMP/final" | sed 's/^/    /'; }
[ $zero_ms = 0 ] && ok "never \"0.00 ms\"" || { fail "\"0.00 ms\" on screen"; sed 's/^/    /' "$TMP/zero"; }
[ $dash_first = 1 ] && ok "\"—\" before the first completion" || fail "no \"—\" before the first completion"
[ $draining = 1 ] && ok "\"draining\" shown after the step window" || fail "\"draining\" never shown"
widest=$(/usr/bin/python3 -c 'import sys; print(max([len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")] or [0]))' "$TMP/progress_lines")
[ "$widest" -gt 0 ] && [ "$widest" -lt 100 ] && ok "the progress line fits the pane (widest $widest columns)" ||
	fail "a progress line of $widest columns (pane 100)"
grep -qE '^confirmation: at TargetValue' "$TMP/final" && ok "the confirmation line is on screen" ||
	fail "no confirmation line"
done_testing
