/*
 * HlogCheck - the reference side of test_hlog_java.sh, run against Debian's
 * libhdrhistogram-java (HdrHistogram 2.1.11).
 *
 *   java HlogCheck read FILE    reads FILE with HistogramLogReader and prints
 *                               one line of figures per interval
 *   java HlogCheck write FILE   writes FILE with HistogramLogWriter from known
 *                               distributions and prints the same figures
 *   java HlogCheck pct FILE     reads FILE and prints each interval's
 *                               percentile distribution (5 ticks per half)
 *
 * Figures: tag start_ms end_ms count min max mean p50 p90 p99 p99.9, the
 * format tests/integration/hlog_tool.c prints, so the script can diff them.
 */
import java.io.PrintStream;
import java.util.Locale;
import java.util.Random;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;
import org.HdrHistogram.HistogramIterationValue;
import org.HdrHistogram.HistogramLogWriter;

public class HlogCheck {
    static final long BASE_MS = 1700000000000L;

    static void figures(Histogram h) {
        String tag = h.getTag() == null ? "-" : h.getTag();
        System.out.printf(Locale.US, "%s %d %d %d %d %d %.6f %d %d %d %d%n", tag,
                h.getStartTimeStamp(), h.getEndTimeStamp(), h.getTotalCount(),
                h.getMinValue(), h.getMaxValue(),
                h.getTotalCount() == 0 ? 0.0 : h.getMean(),
                h.getValueAtPercentile(50.0), h.getValueAtPercentile(90.0),
                h.getValueAtPercentile(99.0), h.getValueAtPercentile(99.9));
    }

    static void read(String path) throws Exception {
        HistogramLogReader r = new HistogramLogReader(path);
        EncodableHistogram e;
        int n = 0;
        while ((e = r.nextIntervalHistogram()) != null && n++ < 10000)
            figures((Histogram) e);
    }

    static void pct(String path) throws Exception {
        HistogramLogReader r = new HistogramLogReader(path);
        EncodableHistogram e;
        int n = 0;
        while ((e = r.nextIntervalHistogram()) != null && n++ < 10000) {
            Histogram h = (Histogram) e;
            System.out.println("# " + (h.getTag() == null ? "-" : h.getTag()));
            for (HistogramIterationValue v : h.percentiles(5))
                System.out.printf(Locale.US, "%d %.9f %d %d%n", v.getValueIteratedTo(),
                        v.getPercentileLevelIteratedTo(), v.getTotalCountToThisValue(),
                        v.getCountAtValueIteratedTo());
        }
    }

    static void emit(HistogramLogWriter w, Histogram h, String tag, long startMs, long endMs) {
        h.setTag(tag);
        h.setStartTimeStamp(startMs);
        h.setEndTimeStamp(endMs);
        w.outputIntervalHistogram(h);
        figures(h);
    }

    static void write(String path) throws Exception {
        PrintStream ps = new PrintStream(path, "US-ASCII");
        HistogramLogWriter w = new HistogramLogWriter(ps);
        w.outputComment("[written by kneecap's tests/integration/java/HlogCheck.java]");
        w.outputLogFormatVersion();
        w.outputStartTime(BASE_MS);
        w.setBaseTime(BASE_MS);
        w.outputBaseTime(BASE_MS);
        w.outputLegend();
        long hourUs = 3600L * 1000 * 1000;

        Histogram u = new Histogram(1, hourUs, 3);
        for (long v = 1; v <= 100000; v++)
            u.recordValue(v);
        emit(w, u, "uniform", BASE_MS, BASE_MS + 1000);

        Random rnd = new Random(7);
        Histogram x = new Histogram(1, hourUs, 3);
        for (int i = 0; i < 50000; i++)
            x.recordValue((long) (-Math.log(1.0 - rnd.nextDouble()) * 20000.0));
        emit(w, x, null, BASE_MS + 1000, BASE_MS + 2125);

        Histogram s = new Histogram(1, hourUs, 3);
        for (int i = 0; i < 100; i++)
            s.recordValueWithExpectedInterval(1000, 1000);
        s.recordValueWithExpectedInterval(100000000, 1000);
        emit(w, s, "stall", BASE_MS + 2125, BASE_MS + 3250);

        Histogram wide = new Histogram(1000, 1000000000000L, 2);
        for (long v = 1000; v < 1000000000000L; v = v * 3 + 7)
            wide.recordValueWithCount(v, 1 + (v % 5));
        emit(w, wide, "wide", BASE_MS + 3250, BASE_MS + 60000);

        emit(w, new Histogram(1, hourUs, 3), "empty", BASE_MS + 60000, BASE_MS + 61000);
        ps.close();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: HlogCheck read|write|pct FILE");
            System.exit(2);
        }
        if (args[0].equals("read"))
            read(args[1]);
        else if (args[0].equals("write"))
            write(args[1]);
        else if (args[0].equals("pct"))
            pct(args[1]);
        else
            System.exit(2);
    }
}
