package lstmlm.model;

/**
 * Where a training step's time goes, by kind of work. Off unless the JVM runs with
 * {@code -Dlstm.profile=true} (the bench command turns it on): then the JIT keeps the timers;
 * otherwise {@link #ENABLED} is a false constant and they compile away.
 * Only the thread that drives the passes records; its time includes waiting for helpers.
 */
public final class StepProfile {
    public static final boolean ENABLED = Boolean.getBoolean("lstm.profile");

    public enum Part {
        /** whole-window GEMMs: input projections, logits, every weight gradient */
        GEMM_WINDOW,
        /** the per-step recurrent products, forward and backward */
        GEMM_STEP,
        /** LSTM cell forward and backward */
        CELL,
        /** softmax + cross-entropy (with the bias gradient) */
        SOFTMAX,
        /** embedding gather/scatter, dropout, state copies */
        OTHER_KERNELS,
        /** global norm, clipping and SGD */
        UPDATE
    }

    private static final long[] NANOS = new long[Part.values().length];

    private StepProfile() {}

    public static long start() {
        return ENABLED ? System.nanoTime() : 0;
    }

    /** Adds the time since {@code start} to {@code part}; returns now, to chain the next part. */
    public static long stop(Part part, long start) {
        if (!ENABLED) return 0;
        long now = System.nanoTime();
        NANOS[part.ordinal()] += now - start;
        return now;
    }

    public static void reset() {
        java.util.Arrays.fill(NANOS, 0);
    }

    public static long nanos(Part part) {
        return NANOS[part.ordinal()];
    }
}
