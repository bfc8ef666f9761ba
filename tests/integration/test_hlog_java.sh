#!/usr/bin/env bash
# test_hlog_java.sh - kneecap's .hlog against HdrHistogram's Java reference
# (Debian's libhdrhistogram-java, 2.1.11):
#  (a) a log written by kneecap's writer, read by Java's HistogramLogReader;
#  (b) a log written by Java's HistogramLogWriter, read by kneecap's reader.
# Both sides print per interval: tag start_ms end_ms count min max mean p50
# p90 p99 p99.9.  Histograms carry the same counts on both sides, so every
# figure must be equal (the mean within 1e-9 relative, for float printing).
. "$(dirname "$0")/lib.sh"

JAR=${HDR_JAR:-/usr/share/java/hdrhistogram.jar}
if ! command -v javac >/dev/null || [ ! -r "$JAR" ]; then
	echo "javac or $JAR missing: run scripts/setup" >&2
	exit 1
fi

# same FILE_A FILE_B DESC: compare two figure listings.
same() {
	if awk 'NR == FNR { a[FNR] = $0; na = FNR; next }
		{ nb = FNR; split(a[FNR], x, " "); n = split($0, y, " ");
		  if (n != 11) { print "bad line " FNR ": " $0; bad = 1; next }
		  for (i = 1; i <= 11; i++) {
			if (i == 7) { d = x[i] - y[i]; if (d < 0) d = -d;
				m = y[i] < 0 ? -y[i] : y[i];
				if (d > 1e-9 * m + 1e-6) { print "line " FNR " mean " x[i] " vs " y[i]; bad = 1 } }
			else if (x[i] != y[i]) { print "line " FNR " field " i ": " x[i] " vs " y[i]; bad = 1 }
		  } }
		END { if (na != nb || na == 0) { print "intervals: " na " vs " nb; bad = 1 } exit bad }' \
		"$1" "$2" >"$TMP/diff" 2>&1; then
		ok "$3"
	else
		fail "$3"; sed 's/^/    /' "$TMP/diff" | head -10
	fi
}

mkdir -p "$TMP/cls"
if timeout 60 javac -d "$TMP/cls" -cp "$JAR" "$KC_SRCDIR/tests/integration/java/HlogCheck.java" 2>"$TMP/javac.err"; then
	ok "HlogCheck.java compiles"
else
	fail "HlogCheck.java compiles"; head -5 "$TMP/javac.err"; done_testing; exit
fi
JAVA=(timeout 60 java -cp "$JAR:$TMP/cls" HlogCheck)

# (a) kneecap writes, Java reads.
expect_rc 0 "kneecap writes a log" "$HLOG_TOOL" write "$TMP/kc.hlog"
cp "$TMP/out" "$TMP/kc.written"
expect_grep '^#\[BaseTime: 1700000000\.000 ' "$TMP/kc.hlog" "BaseTime line"
expect_grep '^"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"$' \
	"$TMP/kc.hlog" "legend line"
expect_grep '^Tag=stall,2\.125,1\.125,100007\.935,HISTF' "$TMP/kc.hlog" "interval line with tag, times and max in ms"
expect_rc 0 "Java HistogramLogReader reads kneecap's log" "${JAVA[@]}" read "$TMP/kc.hlog"
cp "$TMP/out" "$TMP/kc.java"
same "$TMP/kc.written" "$TMP/kc.java" "Java reads kneecap's figures, tags and timestamps unchanged"
expect_rc 0 "kneecap reads its own log" "$HLOG_TOOL" read "$TMP/kc.hlog"
same "$TMP/kc.written" "$TMP/out" "kneecap round-trips its own log"

# (b) Java writes, kneecap reads.
expect_rc 0 "Java HistogramLogWriter writes a log" "${JAVA[@]}" write "$TMP/j.hlog"
cp "$TMP/out" "$TMP/j.written"
expect_rc 0 "kneecap reads Java's log" "$HLOG_TOOL" read "$TMP/j.hlog"
same "$TMP/j.written" "$TMP/out" "kneecap reads Java's figures, tags and timestamps unchanged"

# Percentile iteration (PercentileIterator, 5 ticks per half distance):
# values and counts equal, levels equal but for the last printed digit
# (Java's %f rounds ties up, C's to even).
expect_rc 0 "Java percentile distribution" "${JAVA[@]}" pct "$TMP/j.hlog"
cp "$TMP/out" "$TMP/j.pct"
expect_rc 0 "kneecap percentile distribution" "$HLOG_TOOL" pct "$TMP/j.hlog"
if awk 'NR == FNR { a[FNR] = $0; na = FNR; next }
	{ nb = FNR; split(a[FNR], x, " "); split($0, y, " ");
	  if ($1 == "#") { if (a[FNR] != $0) { print "line " FNR; bad = 1 } next }
	  d = x[2] - y[2]; if (d < 0) d = -d;
	  if (x[1] != y[1] || x[3] != y[3] || x[4] != y[4] || d > 1e-8) {
		print "line " FNR ": " a[FNR] " vs " $0; bad = 1 } }
	END { if (na != nb || na < 50) { print "lines: " na " vs " nb; bad = 1 } exit bad }' \
	"$TMP/j.pct" "$TMP/out" >"$TMP/diff" 2>&1; then
	ok "percentile iteration matches Java's PercentileIterator"
else
	fail "percentile iteration matches Java's PercentileIterator"; sed 's/^/    /' "$TMP/diff" | head -10
fi

# Same distributions on both sides (where the data are the same): same figures.
grep -E '^(uniform|stall|wide|empty) ' "$TMP/kc.written" >"$TMP/kc.det"
grep -E '^(uniform|stall|wide|empty) ' "$TMP/j.written" >"$TMP/j.det"
same "$TMP/kc.det" "$TMP/j.det" "kneecap's histogram equals Java's on identical input"
done_testing
