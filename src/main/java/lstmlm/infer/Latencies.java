package lstmlm.infer;

import java.util.Arrays;

/** Latency samples in nanoseconds, sorted once and read as percentiles in microseconds (the benchmarks' one way). */
public final class Latencies {
    private final long[] sorted;

    /** The first {@code n} samples of {@code nanos}. */
    public Latencies(long[] nanos, int n) {
        this.sorted = Arrays.copyOf(nanos, n);
        Arrays.sort(sorted);
    }

    /** The samples several threads recorded: thread t's first {@code counts[t]} of {@code perThread[t]}. */
    public static Latencies merge(long[][] perThread, int[] counts) {
        long[] all = new long[Arrays.stream(counts).sum()];
        int at = 0;
        for (int t = 0; t < perThread.length; t++) {
            System.arraycopy(perThread[t], 0, all, at, counts[t]);
            at += counts[t];
        }
        return new Latencies(all, all.length);
    }

    /** The p-quantile (0..1, nearest rank) in microseconds; NaN without samples. */
    public double micros(double p) {
        if (sorted.length == 0) return Double.NaN;
        return sorted[(int) Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))] / 1e3;
    }
}
