#!/usr/bin/env bash
# The lint checks fail when they should: each plants one offence in a scratch
# copy of src/ and include/ and expects check_layers.py or check_sizes.py to
# exit non-zero naming it (and the unplanted copy of the layers to pass).
set -u
src=${KC_SRCDIR:?}
here=$src/tests/lint
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fresh() { # a clean copy of the tree in $tmp/t
	rm -rf "$tmp/t" && mkdir -p "$tmp/t" && cp -r "$src/src" "$src/include" "$tmp/t/"
}
expect() { # rc-wanted pattern checker: run checker on $tmp/t, check rc and output
	local want=$1 pat=$2 checker=$3 out rc
	out=$(python3 "$here/$checker" "$tmp/t" 2>&1); rc=$?
	if { [ "$want" = fail ] && [ $rc -eq 0 ]; } || { [ "$want" = pass ] && [ $rc -ne 0 ]; } ||
	   ! grep -qF -- "$pat" <<<"$out"; then
		echo "FAIL: $checker should $want with '$pat' (rc $rc):"; echo "$out" | sed 's/^/  /'
		fails=$((fails + 1))
	else
		echo "ok: $checker: $want: $pat"
	fi
}
plant() { # file line: append an include line to a file of the copy
	printf '%s\n' "$2" >>"$tmp/t/$1"
}

fresh
expect pass "public headers" check_layers.py
# One planted #include per line: the file it goes into, the line, what the
# checker must say.  Upward (util, a public header); sideways (the emulator
# wing to the engine, aws to its sibling payload); another layer's private
# header by relative path, by src/ path and by the source root.
while IFS='|' read -r file line want; do
	fresh; plant "$file" "$line"
	expect fail "$want" check_layers.py
done <<'EOF'
src/util/buf.c|#include "kneecap/engine.h"|src/util/buf.c:
include/kneecap/hdr.h|#include "kneecap/result.h"|include/kneecap/hdr.h:
src/emulator/model.c|#include "kneecap/engine.h"|src/emulator/model.c:
src/aws/sigv4.c|#include "kneecap/pool.h"|src/aws/sigv4.c:
src/analysis/knee.c|#include "../engine/engine_int.h"|a private header of engine
src/cli/main.c|#include "aws/creds_int.h"|a private header of aws
src/report/json.c|#include "src/stats/hdr_int.h"|a private header of stats
EOF
# A new public header with no layer.
fresh; : >"$tmp/t/include/kneecap/nowhere.h"
expect fail "include/kneecap/nowhere.h: no layer" check_layers.py

# Sizes: a file of 901 lines, a function of 101 lines.
fresh; for i in $(seq 901); do echo "/* $i */"; done >"$tmp/t/src/util/planted.c"
expect fail "file src/util/planted.c is over 900 lines" check_sizes.py
plant_function() { # N: append a function of N lines, signature to closing brace, to buf.c
	{ echo "int planted(int x);"; echo "int planted(int x)"; echo "{"
	  for i in $(seq $(($1 - 4))); do echo "	x += $i;"; done; echo "	return x;"; echo "}"; } \
		>>"$tmp/t/src/util/buf.c"
}
fresh; plant_function 101
expect fail "function src/util/buf.c:planted is over 100 lines" check_sizes.py
# ... and 100 lines is within the limit.
fresh; plant_function 100
if python3 "$here/check_sizes.py" "$tmp/t" | grep FAIL | grep -q planted; then
	echo "FAIL: a 100-line function counted as over"; fails=$((fails + 1))
else
	echo "ok: a 100-line function is within the limit"
fi

[ $fails -eq 0 ] || { echo "$fails self-check(s) failed"; exit 1; }
echo "all self-checks passed"
